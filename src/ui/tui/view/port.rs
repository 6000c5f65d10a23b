//! Screen 3, the port: this computer's ports with their link as it is now (read again every
//! second), the recommended one marked and why.
//!
//! ```text
//! ┌ Ports (link state is live) ──────────────────────────────────────────────┐
//! │> ★ enp3s0          wired      link up    10.0.0.5/24                     │
//! │    wlp2s0          Wi-Fi      link up    192.168.178.20/24               │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ┌ enp3s0 ──────────────────────────────────────────────────────────────────┐
//! │ recommended: enp3s0 is the only wired port with a cable in               │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! With `--serial auto`, the USB serial adapters between the two (read again every second);
//! with several, Enter on a port moves the question to them:
//!
//! ```text
//! ┌ Which serial adapter is wired to the router's console? ──────────────────┐
//! │> /dev/ttyUSB0   0403:6001 FTDI FT232R USB UART, serial A50285BI          │
//! │  /dev/ttyUSB1   1a86:7523 QinHeng CH340 serial converter                 │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ```

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::{Theme, panel};
use crate::net::iface::{Interface, InterfaceKind};
use crate::ui::tui::model::{Model, RunKind};

/// The port in a word.
pub fn kind(iface: &Interface) -> &'static str {
    match iface.kind {
        InterfaceKind::Wired => "wired",
        InterfaceKind::Wireless => "Wi-Fi",
        InterfaceKind::Virtual => "virtual",
        InterfaceKind::Loopback => "loopback",
    }
}

/// The port's link in words.
pub fn link(iface: &Interface) -> &'static str {
    match (iface.up, iface.carrier) {
        (false, _) => "switched off",
        (true, true) => "link up",
        (true, false) => "no link",
    }
}

/// The port's addresses, or "none".
pub fn addresses(iface: &Interface) -> String {
    if iface.ipv4.is_empty() {
        "no address".to_owned()
    } else {
        iface
            .ipv4
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    if model.mode == RunKind::Demo {
        draw_demo(frame, area, theme);
        return;
    }
    let port = &model.port;
    let rows = u16::try_from(port.interfaces.len()).unwrap_or(u16::MAX);
    let list_height = rows
        .saturating_add(2)
        .clamp(3, area.height.saturating_sub(7).max(3));
    // The adapters' list, for a run that finds its own: as many rows as adapters, 1 to 4.
    let adapters_height = if model.serial_auto() {
        let rows = u16::try_from(port.adapters.adapters.len()).unwrap_or(u16::MAX);
        rows.clamp(1, 4) + 2
    } else {
        0
    };
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(list_height),
        Constraint::Length(adapters_height),
        Constraint::Min(0),
    ])
    .areas(area);
    if model.serial_auto() {
        draw_adapters(frame, middle, model, theme);
    }
    if port.adapters.asking {
        draw_adapter_details(frame, bottom, model, theme);
    }
    let items: Vec<ListItem> = port
        .interfaces
        .iter()
        .map(|iface| {
            let star = if port.recommended.as_ref() == Some(&iface.name) {
                "★ "
            } else {
                "  "
            };
            let link_style = if iface.carrier && iface.up {
                theme.good
            } else {
                theme.warn
            };
            ListItem::new(Line::from(vec![
                Span::styled(star, theme.accent),
                Span::raw(format!("{:<16}", iface.name)),
                Span::styled(format!("{:<9}", kind(iface)), theme.dim),
                Span::styled(format!("{:<13}", link(iface)), link_style),
                Span::raw(addresses(iface)),
            ]))
        })
        .collect();
    let title = if port.listed {
        " Ports (link state is live) "
    } else {
        " Ports: reading… "
    };
    let list = List::new(items)
        .block(panel(title))
        .highlight_style(theme.selected)
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(port.selected));
    frame.render_stateful_widget(list, top, &mut state);
    if port.adapters.asking {
        return;
    }

    draw_port_details(frame, bottom, model, theme);
}

/// Below the lists: the recommended port and why, the highlighted port, and why Enter did not
/// go on.
fn draw_port_details(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let port = &model.port;
    let mut lines = Vec::new();
    if let Some(recommended) = &port.recommended {
        lines.push(Line::from(vec![
            Span::styled("★ recommended: ", theme.accent),
            Span::raw(format!("{recommended}. ")),
            Span::raw(port.reason.clone()),
        ]));
    } else if port.listed {
        lines.push(Line::styled(port.reason.clone(), theme.warn));
    }
    if let Some(iface) = port.interfaces.get(port.selected) {
        lines.push(Line::raw(""));
        let mut about = format!("{}: {} port, {}", iface.name, kind(iface), link(iface));
        if let Some(mac) = &iface.mac {
            let _ = write!(about, ", hardware address {mac}");
        }
        if iface.managed_by_network_manager == Some(true) {
            about.push_str(", managed by NetworkManager");
        }
        lines.push(Line::raw(about));
        if iface.kind == InterfaceKind::Wireless {
            lines.push(Line::styled(
                "A bootloader in recovery mode speaks only over a cable: Wi-Fi will not reach it.",
                theme.warn,
            ));
        } else if !iface.carrier {
            lines.push(Line::styled(
                "No link yet: normal while the router is off; check the cable is in the router's LAN port.",
                theme.dim,
            ));
        }
    }
    if let Some(problem) = &port.problem {
        lines.push(Line::raw(""));
        lines.push(Line::styled(problem.clone(), theme.bad));
    }
    let title = port
        .interfaces
        .get(port.selected)
        .map_or_else(|| " Port ".to_owned(), |i| format!(" {} ", i.name));
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title))
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn draw_demo(frame: &mut Frame, area: Rect, theme: &Theme) {
    let [top, bottom] = Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(area);
    let row = Line::from(vec![
        Span::styled("> ★ ", theme.accent),
        Span::styled(format!("{:<24}", "loopback (simulated)"), theme.selected),
        Span::styled("link: simulated  127.0.0.1", theme.dim),
    ]);
    frame.render_widget(Paragraph::new(row).block(panel(" Ports ")), top);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled("★ recommended: ", theme.accent),
                Span::raw("loopback. The demo's router is simulated inside rescue-wizard and fetches the image over this computer's loopback: no cable, no router, no changes."),
            ]),
        ])
        .block(panel(" loopback "))
        .wrap(Wrap { trim: false }),
        bottom,
    );
}

/// The USB serial adapters present; highlighted while the screen asks which one.
fn draw_adapters(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let pick = &model.port.adapters;
    let title = if pick.asking {
        " Which serial adapter is wired to the router's console? "
    } else if pick.listed {
        " Serial adapters (read every second) "
    } else {
        " Serial adapters: reading… "
    };
    if pick.adapters.is_empty() {
        let text = if pick.listed {
            Line::styled(
                "no USB serial adapter found: plug the one wired to the router's console in",
                theme.warn,
            )
        } else {
            Line::raw("")
        };
        frame.render_widget(Paragraph::new(text).block(panel(title)), area);
        return;
    }
    let items: Vec<ListItem> = pick
        .adapters
        .iter()
        .map(|adapter| {
            let taken = if pick.chosen.as_ref() == Some(&adapter.path) {
                "✓ "
            } else {
                "  "
            };
            ListItem::new(Line::from(vec![
                Span::styled(taken, theme.good),
                Span::raw(format!("{:<16}", adapter.path.display())),
                Span::styled(adapter.about(), theme.dim),
            ]))
        })
        .collect();
    let mut list = List::new(items).block(panel(title));
    let mut state = ListState::default();
    if pick.asking {
        list = list.highlight_style(theme.selected).highlight_symbol("> ");
        state.select(Some(pick.selected));
    }
    frame.render_stateful_widget(list, area, &mut state);
}

/// Below the lists while the screen asks which adapter: why it asks, and the one highlighted.
fn draw_adapter_details(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let pick = &model.port.adapters;
    let mut lines = vec![Line::raw(
        "rescue-wizard types the bootloader's commands through this adapter: take the one whose TX, RX and GND are wired to the router's console. Enter takes it, Esc goes back to the ports.",
    )];
    lines.push(Line::raw(""));
    if let Some(adapter) = pick.adapters.get(pick.selected) {
        lines.push(Line::raw(format!(
            "{}: {}",
            adapter.path.display(),
            adapter.about()
        )));
    } else {
        lines.push(Line::styled(
            "Waiting for an adapter: the list is read again every second. Or leave, and give its path with --serial PATH.",
            theme.warn,
        ));
    }
    let title = pick.adapters.get(pick.selected).map_or_else(
        || " Serial adapter ".to_owned(),
        |a| format!(" {} ", a.path.display()),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title))
            .wrap(Wrap { trim: false }),
        area,
    );
}
