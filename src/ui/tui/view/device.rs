//! Screen 1, the device: the search, its hits, and the highlighted device's facts.
//!
//! ```text
//! ┌ Search ──────────────────────────────────────────────────────────────────┐
//! │ wr841 v9_                                                                │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ┌ 1 device ───────────────────┐┌ TP-Link TL-WR841N/ND ─────────────────────┐
//! │> tl-wr841n-v9  TL-WR841N/ND ││ how     the router pulls the image; ...    │
//! │                             ││ laptop  192.168.0.66/24                    │
//! └─────────────────────────────┘└────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::{Theme, hanging, inner_width, panel};
use crate::engine::plan::DEFAULT_FLASH;
use crate::profile::Profile;
use crate::ui::tui::model::Model;

/// The id column is at least this wide: most ids fit it.
const MIN_ID_WIDTH: usize = 14;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let [search, lists] = Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(area);
    let cursor = Span::styled("_", theme.key);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(model.device.query.clone()),
            cursor,
        ]))
        .block(panel(" Search: id, model or alias ")),
        search,
    );
    let left_width = (area.width * 2 / 5).clamp(24, 44);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(lists);
    let hits = &model.device.hits;
    // One id column as wide as the longest id shown (the highlight symbol and the borders
    // take 4), so the models line up however long the ids; an id wider than three fifths of
    // the list is cut, leaving the model room.
    let room = usize::from(left_width.saturating_sub(4)).max(8);
    let id_width = hits
        .iter()
        .map(|id| id.chars().count())
        .max()
        .unwrap_or(0)
        .max(MIN_ID_WIDTH)
        .min(room * 3 / 5);
    let items: Vec<ListItem> = hits
        .iter()
        .filter_map(|id| model.catalogue.get(id).ok())
        .map(|entry| {
            let p = &entry.profile;
            let id = if p.id.chars().count() > id_width {
                let cut: String = p.id.chars().take(id_width.saturating_sub(1)).collect();
                format!("{cut}…")
            } else {
                p.id.clone()
            };
            let mut spans = vec![Span::raw(format!("{id:<id_width$} "))];
            spans.push(Span::styled(p.model.clone(), theme.dim));
            if !p.is_automated() {
                spans.push(Span::styled(" (by hand)", theme.dim));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let title = match hits.len() {
        1 => " 1 device ".to_owned(),
        n => format!(" {n} devices "),
    };
    let list = List::new(items)
        .block(panel(title))
        .highlight_style(theme.selected)
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(model.device.selected));
    frame.render_stateful_widget(list, left, &mut state);

    let selected = hits
        .get(model.device.selected)
        .and_then(|id| model.catalogue.get(id).ok());
    let width = inner_width(right);
    let mut lines = match selected {
        Some(entry) => facts(&entry.profile, theme, width),
        None => hanging(
            "",
            theme.dim,
            &format!(
                "No device matches \"{}\". Try fewer letters, or the model name printed on the router's label (e.g. \"wr841\").",
                model.device.query
            ),
            theme.warn,
            width,
        ),
    };
    if let Some(problem) = &model.device.problem {
        lines.push(Line::raw(""));
        lines.extend(hanging("", theme.bad, problem, theme.bad, width));
    }
    let title = selected.map_or_else(
        || " Facts ".to_owned(),
        |e| format!(" {} {} ", e.profile.vendor, e.profile.model),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title))
            .wrap(Wrap { trim: false }),
        right,
    );
}

/// The facts that decide a recovery, one each, the name in a column of its own.
fn facts(p: &Profile, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut facts: Vec<(&str, String)> = Vec::new();
    if !p.revisions.is_empty() {
        facts.push(("revision", p.revisions.join(", ")));
    }
    facts.push(("how", p.method.describe().to_owned()));
    if let Some(host) = p.host {
        facts.push(("laptop", format!("{host} (this computer takes it)")));
    }
    if let Some(router) = p.router {
        facts.push(("router", format!("{router} in recovery mode")));
    }
    if let Some(file) = &p.filename {
        facts.push(("file", file.clone()));
    }
    let flash = match p.flash_seconds {
        Some(s) => format!("about {s} s"),
        None => format!("not known ({} s is typical)", DEFAULT_FLASH.as_secs()),
    };
    facts.push(("steps", format!("{}; flashing {flash}", p.steps.len())));
    if let Some(after) = p.after {
        facts.push(("after", format!("answers at {after}")));
    }
    facts.push(("facts", p.confidence.as_str().to_owned()));
    if let Some(notes) = &p.notes {
        facts.push(("notes", notes.trim().replace('\n', " ")));
    }
    facts
        .into_iter()
        .flat_map(|(name, value)| {
            hanging(
                &format!("{name:<9}"),
                theme.dim,
                &value,
                ratatui::style::Style::default(),
                width,
            )
        })
        .collect()
}
