//! The boxes over a screen: the help (the keys of this screen, from the key table) and the
//! question before quitting while the image moves or the router flashes.
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

use super::{Theme, centred, panel};
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
