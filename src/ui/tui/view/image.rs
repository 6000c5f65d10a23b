//! Screen 2, the image: the file picker on the left, the preflight of the checked file on the
//! right (size, sha256, format, each finding with its fix, and the stripped-copy offer).
//!
//! ```text
//! ┌ /home/tech/Downloads ───────┐┌ Check ──────────────────────────────────────┐
//! │  openwrt/                   ││ wr841nv9-factory.bin, 3.8 MiB               │
//! │> wr841nv9-factory.bin 3.8MiB││ sha256 9f2c...                              │
//! │                             ││ READY: the bootloader will take it          │
//! │                             ││ [ok] TP-Link header for the TL-WR841N v9    │
//! └─────────────────────────────┘└─────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::{Theme, bytes, hanging, inner_width, panel};
use crate::image::{ImageVerdict, Inspection, Severity};
use crate::ui::tui::model::Model;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let image = &model.image;
    let left_width = (area.width * 9 / 20).clamp(30, 50);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(0)]).areas(area);
    let inner = usize::from(left_width.saturating_sub(6));
    let sizes: Vec<String> = image.entries.iter().map(|e| bytes(e.size)).collect();
    // One room for every file name, so that names cut alike are cut at the same place and
    // are told apart (the widest size column decides it).
    let room = inner.saturating_sub(sizes.iter().map(String::len).max().unwrap_or(0) + 1);
    let all: Vec<&str> = image.entries.iter().map(|e| e.name.as_str()).collect();
    let files = fit_names(&all, room);
    let folders = fit_names(&all, inner.saturating_sub(1));
    let items: Vec<ListItem> = image
        .entries
        .iter()
        .enumerate()
        .map(|(n, entry)| {
            if entry.dir {
                ListItem::new(Line::styled(format!("{}/", folders[n]), theme.accent))
            } else {
                let size = &sizes[n];
                let name = &files[n];
                let room = inner.saturating_sub(size.len() + 1);
                let pad = room.saturating_sub(name.chars().count());
                ListItem::new(Line::from(vec![
                    Span::raw(name.clone()),
                    Span::raw(" ".repeat(pad + 1)),
                    Span::styled(size.clone(), theme.dim),
                ]))
            }
        })
        .collect();
    let empty = items.is_empty();
    let title = shorten(&image.dir.display().to_string(), inner);
    let list = List::new(items)
        .block(panel(format!(" {title} ")))
        .highlight_style(theme.selected)
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(image.selected));
    frame.render_stateful_widget(list, left, &mut state);
    if empty {
        let [_, note] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(left);
        frame.render_widget(
            Paragraph::new(Line::styled("  (no files here: ← goes up)", theme.dim)),
            note,
        );
    }

    let width = inner_width(right);
    let mut lines = Vec::new();
    if let Some(busy) = &image.busy {
        lines.push(Line::styled(format!("{busy}…"), theme.warn));
        lines.push(Line::raw(""));
    }
    if let Some(problem) = &image.problem {
        lines.extend(hanging("", theme.bad, problem, theme.bad, width));
        lines.push(Line::raw(""));
    }
    let selected = image.selected_file();
    match &image.inspection {
        Some(inspection) if Some(&inspection.path) == selected.as_ref() => {
            lines.extend(check(inspection, theme, width));
        }
        Some(inspection) => {
            lines.push(Line::styled(
                format!(
                    "Checked before: {} ({}). Enter checks the highlighted file.",
                    name(inspection),
                    verdict_word(inspection.verdict())
                ),
                theme.dim,
            ));
        }
        None if selected.is_some() && image.busy.is_none() => lines.push(Line::raw(
            "Enter checks the highlighted file against the device: its size, its sha256, its header.",
        )),
        None => {}
    }
    if let Some(profile) = &model.device.chosen
        && let Some(file) = &profile.filename
        && image.inspection.is_none()
    {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                "The bootloader asks for \"{file}\"; any file name works, rescue-wizard serves it under that name."
            ),
            theme.dim,
        ));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(" Check "))
            .wrap(Wrap { trim: false }),
        right,
    );
}

fn name(inspection: &Inspection) -> String {
    inspection.path.file_name().map_or_else(
        || inspection.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn verdict_word(verdict: ImageVerdict) -> &'static str {
    match verdict {
        ImageVerdict::Ready => "ready",
        ImageVerdict::Doubtful => "read the warnings",
        ImageVerdict::Refused => "refused",
    }
}

/// The preflight of one image: the verdict and the stripped-copy offer first, so that they
/// stay in sight on a small terminal; then each finding with its fix.
fn check(inspection: &Inspection, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let plain = Style::default();
    let mut lines = hanging(
        "",
        plain,
        &format!(
            "{}, {} ({} bytes)",
            name(inspection),
            bytes(inspection.size),
            inspection.size
        ),
        theme.accent,
        width,
    );
    lines.extend(hanging(
        "sha256 ",
        theme.dim,
        &inspection.sha256,
        plain,
        width,
    ));
    let (word, style) = match inspection.verdict() {
        ImageVerdict::Ready => ("READY: the bootloader will take it", theme.good),
        ImageVerdict::Doubtful => ("CHECK: read the warnings below", theme.warn),
        ImageVerdict::Refused => ("REFUSED: this image will not work", theme.bad),
    };
    lines.push(Line::styled(word, style));
    if let Some(offer) = &inspection.strip {
        let copy = offer
            .copy
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        lines.extend(hanging(
            "S: ",
            theme.key,
            &format!(
                "write {copy} without the first {} bytes and flash that (the original stays as it is)",
                offer.offset
            ),
            theme.warn,
            width,
        ));
    }
    lines.extend(hanging(
        "",
        plain,
        &inspection.format.to_string(),
        theme.dim,
        width,
    ));
    for finding in &inspection.findings {
        let (mark, style) = match finding.severity {
            Severity::Ok => ("[ok] ", theme.good),
            Severity::Warning => ("[warn] ", theme.warn),
            Severity::Fail => ("[FAIL] ", theme.bad),
        };
        lines.extend(hanging(mark, style, &finding.what, plain, width));
        if let Some(fix) = &finding.fix {
            lines.extend(hanging("   fix: ", theme.dim, fix, theme.dim, width));
        }
    }
    lines
}

/// Each name cut to `room` characters in its middle (`openwrt-ath…-factory.bin`): the start
/// says what it is, the end which copy. Where two names would read the same, the cut moves
/// until they differ (an image and its `-stripped` copy, two releases of one build).
fn fit_names(names: &[&str], room: usize) -> Vec<String> {
    let preferred = room.saturating_sub(1) / 2;
    names
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let alike = |head: usize, mine: &str| {
                names
                    .iter()
                    .enumerate()
                    .any(|(m, other)| m != n && middle_cut(other, room, head) == mine)
            };
            // The preferred cut first, then further from it either way.
            (0..room)
                .flat_map(|d| [preferred.checked_add(d), preferred.checked_sub(d)])
                .flatten()
                .filter(|head| *head < room)
                .map(|head| (head, middle_cut(name, room, head)))
                .find(|(head, mine)| !alike(*head, mine))
                .map_or_else(|| middle_cut(name, room, preferred), |(_, mine)| mine)
        })
        .collect()
}

/// `name` in `room` characters: its first `head`, an ellipsis, and its end.
fn middle_cut(name: &str, room: usize, head: usize) -> String {
    let count = name.chars().count();
    if count <= room {
        return name.to_owned();
    }
    let tail = room.saturating_sub(head + 1);
    let start: String = name.chars().take(head).collect();
    let end: String = name.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

/// `text`, its start cut to fit `width` (the end of a path is what tells).
fn shorten(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    let keep = width.saturating_sub(1);
    let tail: String = text.chars().skip(count - keep).collect();
    format!("…{tail}")
}
