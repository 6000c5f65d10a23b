//! Screen 5, prepare: what must be true before the watch starts, the device's steps with
//! their timings and LED cues, and what rescue-wizard will do.
//!
//! ```text
//! ┌ Before you press Enter ──────────────────────────────────────────────────┐
//! │ ✓ the router is switched off                                             │
//! │ ✓ the cable goes from enp3s0 to the router's LAN port                    │
//! │ ✓ the serial adapter /dev/ttyUSB0 is wired to the router's console        │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ┌ The router's steps (shown again one at a time once watching) ────────────┐
//! │ 1. Hold the reset button and switch the router on            10 s        │
//! │    LED: the lock LED lights up                                           │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Theme, panel, step_lines};
use crate::engine::plan::{AfterProof, ConsolePlan, Plan, Transfer};
use crate::ui::tui::model::{Model, RunKind};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(plan) = &model.plan else {
        return;
    };
    // A console run has one more thing to be true (the adapter) and more to say.
    let console = plan
        .console
        .as_ref()
        .filter(|_| model.mode == RunKind::Real);
    let extra = u16::from(console.is_some());
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(4 + 2 * extra),
        Constraint::Min(4),
        Constraint::Length(5 + 3 * extra),
    ])
    .areas(area);
    let before = before_lines(plan, model, console, theme);
    frame.render_widget(
        Paragraph::new(before)
            .block(panel(" Before you press Enter "))
            .wrap(Wrap { trim: false }),
        top,
    );

    let mut lines = Vec::new();
    for (n, step) in plan.steps.iter().enumerate() {
        lines.extend(step_lines(n + 1, step, theme));
    }
    if plan.steps.is_empty() {
        lines.push(Line::raw(
            "The profile gives no steps: put the router into recovery mode as its maker says.",
        ));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(
                " The router's steps (shown again, one at a time, once watching) ",
            ))
            .wrap(Wrap { trim: false }),
        middle,
    );

    let moves = match &plan.transfer {
        Transfer::Serve { bind, .. } => {
            // Port 0: the demo's server takes a free port when it starts.
            let at = if bind.port() == 0 {
                format!("{} (a free port)", bind.ip())
            } else {
                bind.to_string()
            };
            format!(
                "serves the image at {at} under any name asked for ({})",
                plan.file().unwrap_or("any")
            )
        }
        Transfer::Push { to, remote_name } => {
            format!("pushes the image to {to} as \"{remote_name}\" once its server answers")
        }
        Transfer::Nmrp { router, .. } => format!(
            "advertises by NMRP until the router answers, gives it {router}, and pushes the image to the name it asks for"
        ),
        Transfer::Dhcp { bind, lease, .. } => format!(
            "answers the router's {} request with {} and boot file {}, and serves the image at {bind} under any name asked for",
            lease.protocol.name(),
            lease.router,
            lease.boot_file
        ),
        Transfer::Http { page, .. } => format!(
            "tries the upload page at http://{} until it answers, uploads the image and reads what the page says",
            page.addr
        ),
    };
    let end = if model.mode == RunKind::Demo {
        "writes the report"
    } else {
        "restores the network and writes the report"
    };
    // A console run proves and writes the flash itself: no flashing to count down.
    let text = match console {
        Some(console) => format!(
            "Then rescue-wizard {moves}; on the serial console {} it stops autoboot, has the bootloader fetch the image with tftpboot and compares its CRC-32 with ours; {}. Then it {end}.",
            console.port.display(),
            console_write(console),
        ),
        None => format!(
            "Then rescue-wizard {moves}, counts down the flashing (about {} s) and {end}.",
            plan.flash.as_secs(),
        ),
    };
    frame.render_widget(
        Paragraph::new(Line::styled(text, theme.dim))
            .block(panel(" What happens "))
            .wrap(Wrap { trim: false }),
        bottom,
    );
}

/// What must be true before the watch starts: the router off, the cable in, and for a console
/// run the serial adapter wired.
fn before_lines(
    plan: &Plan,
    model: &Model,
    console: Option<&ConsolePlan>,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let cable = match (&plan.port, model.mode) {
        (_, RunKind::Demo) => "the cable: none needed, the demo's router is simulated".to_owned(),
        (Some(port), RunKind::Real) => {
            format!("the cable goes from {} to the router's LAN port", port.name)
        }
        (None, RunKind::Real) => "the cable goes to the router's LAN port".to_owned(),
    };
    let mut before = vec![
        Line::from(vec![
            Span::styled("• ", theme.accent),
            Span::raw("the router is switched off"),
        ]),
        Line::from(vec![Span::styled("• ", theme.accent), Span::raw(cable)]),
    ];
    if let Some(console) = console {
        before.push(Line::from(vec![
            Span::styled("• ", theme.accent),
            Span::raw(format!(
                "the serial adapter {} is wired to the router's console (TX to its RX, RX to its TX, GND to GND)",
                console.port.display()
            )),
        ]));
    }
    before
}

/// What the console leg does with the flash, in a few words.
fn console_write(console: &ConsolePlan) -> String {
    match (&console.recipe, console.after_proof == AfterProof::Write) {
        (None, _) => "nothing is written to flash (the profile has no recipe)".to_owned(),
        (Some(recipe), true) => format!(
            "then writes the {} flash at {} (--yes) and reads it back",
            recipe.kind.name(),
            crate::console::script::hex(recipe.offset)
        ),
        (Some(recipe), false) => format!(
            "then asks you before it writes the {} flash at {}, and reads it back",
            recipe.kind.name(),
            crate::console::script::hex(recipe.offset)
        ),
    }
}
