//! The boxes over a screen: the help (the keys of this screen, from the key table), the
//! question before quitting while the image moves or the router flashes, and a manual-only
//! device's steps, one at a time, after what to set up first.
//!
//! ```text
//!          ┌ Help: 2/7 Image ─────────────────────────────────┐
//!          │ Enter   open the folder; check the file; ...     │
//!          │ S       write the stripped copy ...              │
//!          │ any key closes this help                         │
//!          └──────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{Theme, centred, panel, step_lines};
use crate::engine::Phase;
use crate::ui::tui::keys;
use crate::ui::tui::model::Model;

pub fn draw_help(frame: &mut Frame, model: &Model, theme: &Theme) {
    let mut lines: Vec<Line> = keys::shown(model)
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<10}", b.label), theme.key),
                Span::raw(b.what),
            ])
        })
        .collect();
    if model.screen == crate::ui::tui::model::Screen::Device {
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<10}", "letters"), theme.key),
            Span::raw("search (q quits only while the search is empty)"),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " The second line of every screen says what to do next.",
        theme.dim,
    ));
    lines.push(Line::styled(" Any key closes this help.", theme.dim));
    let area = frame.area();
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let popup = centred(
        area,
        area.width.saturating_sub(4).min(76),
        height.saturating_add(2),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(format!(
                " Help: {}/{} {} ",
                model.screen.number(),
                crate::ui::tui::model::Screen::COUNT,
                model.screen.title()
            )))
            .wrap(Wrap { trim: false }),
        popup,
    );
}

pub fn draw_confirm(frame: &mut Frame, model: &Model, theme: &Theme) {
    let run = model.run.as_ref();
    let phase = run.and_then(|r| r.phase);
    let risk = match phase {
        Some(Phase::Flashing) => {
            let left = run
                .and_then(|r| r.flashing)
                .map_or_else(String::new, |f| format!(" for another {} s", f.remaining.as_secs()));
            format!(
                "The router is writing its flash now. Quitting only stops the watch, but DO NOT switch the router off{left}: cutting its power while it writes can brick it for good."
            )
        }
        _ => "The image is still moving. Quitting cuts the transfer short: bootloaders write only a whole image, so the router keeps its old flash; switch it off and start again.".to_owned(),
    };
    let lines = vec![
        Line::styled("Quit now?", theme.bad),
        Line::raw(""),
        Line::raw(risk),
        Line::raw(""),
        Line::styled(
            "The network is restored and the report written either way.",
            theme.dim,
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled("Y", theme.key),
            Span::raw(": quit      "),
            Span::styled("N", theme.key),
            Span::raw(" or "),
            Span::styled("Esc", theme.key),
            Span::raw(": keep going"),
        ]),
    ];
    let area = frame.area();
    let popup = centred(area, area.width.saturating_sub(8).min(64), 13);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(" Quit? "))
            .wrap(Wrap { trim: false }),
        popup,
    );
}

/// A device the run does not automate: what to set up by hand (the checklist), then the
/// current step, its time and LED cue, and which step of how many.
///
/// ```text
///   ┌ Netgear R6220 by hand: step 2 of 4 ─────────────────────────────┐
///   │ rescue-wizard cannot do this recovery; do it by hand:          │
///   │ • a cable from this computer to the router's LAN port           │
///   │ • this computer at 192.168.1.2/24 (the router is 192.168.1.1)   │
///   │                                                                 │
///   │ 2. Hold the reset button and switch the router on   (10 s)      │
///   │    LED: the power LED blinks                                    │
///   │ Enter next   ← back   Esc close                                 │
///   └─────────────────────────────────────────────────────────────────┘
/// ```
pub fn draw_manual(frame: &mut Frame, model: &Model, step: usize, theme: &Theme) {
    let Some(profile) = crate::ui::tui::update::highlighted(model) else {
        return;
    };
    let mut lines = vec![
        Line::styled(
            format!(
                "rescue-wizard cannot do this recovery ({}); do it by hand:",
                profile.method.describe()
            ),
            theme.warn,
        ),
        Line::from(vec![
            Span::styled("• ", theme.accent),
            Span::raw("a cable from this computer to the router's LAN port"),
        ]),
    ];
    if let Some(host) = profile.host {
        let router = profile
            .router
            .map_or_else(String::new, |r| format!(" (the router is {r})"));
        lines.push(Line::from(vec![
            Span::styled("• ", theme.accent),
            Span::raw(format!(
                "this computer at {}/{}{router}",
                host.address, host.prefix
            )),
        ]));
    }
    if let Some(file) = &profile.filename {
        lines.push(Line::from(vec![
            Span::styled("• ", theme.accent),
            Span::raw(format!("the image named {file}")),
        ]));
    }
    lines.push(Line::raw(""));
    let count = profile.steps.len();
    match profile.steps.get(step) {
        Some(now) => lines.extend(step_lines(step + 1, now, theme)),
        None => lines.push(Line::raw(
            "The profile gives no steps: put the router into recovery mode as its maker says.",
        )),
    }
    lines.push(Line::raw(""));
    let next = if step + 1 < count {
        "Enter next step   ← back   Esc close"
    } else {
        "Enter close   ← back"
    };
    lines.push(Line::styled(next, theme.key));
    let area = frame.area();
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let popup = centred(
        area,
        area.width.saturating_sub(4).min(76),
        height.saturating_add(2),
    );
    let title = if count == 0 {
        format!(" {} {} by hand ", profile.vendor, profile.model)
    } else {
        format!(
            " {} {} by hand: step {} of {count} ",
            profile.vendor,
            profile.model,
            step + 1
        )
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title))
            .wrap(Wrap { trim: false }),
        popup,
    );
}
