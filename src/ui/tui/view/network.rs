//! Screen 4, the network: what the router expects against what this computer has now, and
//! exactly what will change (all undone when rescue-wizard ends).
//!
//! ```text
//! ┌ enp3s0: expected and now ────────────────────────────────────────────────┐
//! │                the router expects        this computer has now          │
//! │ address        192.168.0.66/24           10.0.0.5/24                    │
//! │ link           up                        link up                        │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ┌ What will change ────────────────────────────────────────────────────────┐
//! │ • add 192.168.0.66/24 to enp3s0 (...)                                    │
//! │ Enter: make these changes      S: skip them                              │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::port::{addresses, link};
use super::{Theme, hanging, inner_width, panel};
use crate::engine::plan::{Plan, Transfer};
use crate::net::iface::Interface;
use crate::ui::tui::model::{Model, RunKind};

fn row<'a>(name: &str, expected: &str, now: String, theme: &Theme, ok: bool) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{name:<15}"), theme.dim),
        Span::raw(format!("{expected:<30}")),
        Span::styled(now, if ok { theme.good } else { theme.warn }),
    ])
}

/// Draws the two panels: expected and now (top), what will change (bottom).
pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(plan) = &model.plan else {
        return;
    };
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(area);
    let (title, lines) = expected_and_now(model, plan, theme);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title))
            .wrap(Wrap { trim: false }),
        top,
    );
    frame.render_widget(
        Paragraph::new(what_will_change(model, plan, inner_width(bottom), theme))
            .block(panel(" What will change "))
            .wrap(Wrap { trim: false }),
        bottom,
    );
}

/// The top panel: its title and the rows "the router expects" against "this computer has now".
fn expected_and_now<'a>(model: &Model, plan: &Plan, theme: &Theme) -> (String, Vec<Line<'a>>) {
    let host = plan
        .host
        .map_or_else(|| "none".to_owned(), |h| h.to_string());
    let router = plan.router.map_or_else(
        || "not given".to_owned(),
        |r| format!("{r} (recovery mode)"),
    );
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("{:<15}", "")),
        Span::styled(format!("{:<30}", "the router expects"), theme.accent),
        Span::styled("this computer has now", theme.accent),
    ])];
    let title = if model.mode == RunKind::Demo {
        lines.extend(loopback_rows(plan, &host, &router, theme));
        " loopback (simulated): expected and now ".to_owned()
    } else {
        let name = plan.port.as_ref().map_or("", |p| p.name.as_str());
        let iface = model.port.interfaces.iter().find(|i| i.name == name);
        lines.extend(port_rows(plan, iface, &host, &router, theme));
        format!(" {name}: expected and now ")
    };
    (title, lines)
}

/// The demo's rows: the server and the router, both simulated on loopback.
fn loopback_rows<'a>(plan: &Plan, host: &str, router: &str, theme: &Theme) -> Vec<Line<'a>> {
    let server = match &plan.transfer {
        Transfer::Serve { bind, .. } | Transfer::Dhcp { bind, .. } => bind.ip().to_string(),
        Transfer::Push { to, .. } => to.ip().to_string(),
        Transfer::Nmrp { router, .. } => router.to_string(),
        Transfer::Http { page, .. } => page.addr.ip().to_string(),
    };
    vec![
        row(
            "server address",
            host,
            format!("{server} (simulated)"),
            theme,
            true,
        ),
        row("router", router, "simulated".into(), theme, true),
    ]
}

/// A real port's rows: its address, link and NetworkManager now (or "gone" when the port
/// left), and the router, not seen yet.
fn port_rows<'a>(
    plan: &Plan,
    iface: Option<&Interface>,
    host: &str,
    router: &str,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let (now_addr, now_link, nm) = match iface {
        Some(i) => (
            addresses(i),
            link(i).to_owned(),
            match i.managed_by_network_manager {
                Some(true) => "manages it",
                Some(false) => "leaves it alone",
                None => "not running",
            },
        ),
        None => ("gone".into(), "gone".into(), "?"),
    };
    let has = iface.is_some_and(|i| plan.host.is_some_and(|h| i.has_address(h.addr)));
    let up = iface.is_some_and(|i| i.up);
    let mut lines = vec![
        row("address", host, now_addr, theme, has),
        row(
            "link",
            "up, cable in",
            now_link,
            theme,
            iface.is_some_and(|i| i.up && i.carrier),
        ),
        row(
            "NetworkManager",
            "leaves it alone",
            nm.into(),
            theme,
            nm != "manages it",
        ),
        row("router", router, "not seen yet".into(), theme, true),
    ];
    if !up && iface.is_some() {
        lines.push(Line::styled(
            "The port is switched off: rescue-wizard brings it up.",
            theme.dim,
        ));
    }
    lines
}

/// The bottom panel: each change the plan makes (none in the demo), then the keys.
fn what_will_change<'a>(model: &Model, plan: &Plan, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let changes = plan.changes();
    let mut lines = Vec::new();
    if model.mode == RunKind::Demo {
        lines.push(Line::raw(
            "Nothing: the demo runs on loopback. No address is added, no setting touched.",
        ));
    } else if changes.is_empty() {
        lines.push(Line::raw(
            "Nothing: the port already has the address the router expects.",
        ));
    } else {
        for change in &changes {
            lines.extend(hanging("• ", theme.accent, change, Style::default(), width));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "Every change is journaled and undone when rescue-wizard ends, also after Ctrl-C or a crash (the next start undoes it).",
            theme.dim,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(keys(changes.is_empty(), theme));
    lines
}

/// Enter goes on (making the changes, when there are any); S skips them.
fn keys<'a>(no_changes: bool, theme: &Theme) -> Line<'a> {
    let mut keys = vec![
        Span::styled("Enter", theme.key),
        Span::raw(if no_changes {
            ": go on"
        } else {
            ": make these changes"
        }),
    ];
    if !no_changes {
        keys.push(Span::raw("      "));
        keys.push(Span::styled("S", theme.key));
        keys.push(Span::raw(": skip them (you set up the port yourself)"));
    }
    Line::from(keys)
}
