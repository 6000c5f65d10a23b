//! Screen 6, live: what the run is doing, the transfer gauge (or the flashing countdown), a
//! hint with its one-key fix when something is wrong, the activity feed, and the checklist
//! ticking itself from what the run sees. A console run has the console pane
//! (`view::console`) above the feed, with six tenths of the height.
//!
//! ```text
//!  waiting for the router's request for x.bin · 0:12 of 10:00
//!  [=============>                  ] 45%  0.9 MiB of 2.0 MiB  410.0 KiB/s  ETA 3 s
//!  ! the router asks for 192.168.1.10: press A to adopt it
//! ┌ Activity ─────────────────────────────┐┌ Checklist ─────────────────────┐
//! │ 0:02 wire: ARP who has 192.168.0.66?  ││ ok server running and listening│
//! │ 0:03 the router at ... asks for "x"   ││ ?? cable and link              │
//! └───────────────────────────────────────┘└────────────────────────────────┘
//! ```

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::nmrp;
use super::{Theme, bytes, clock, hanging, inner_width, panel, wrap};
use crate::engine::Phase;
use crate::engine::checklist::{Item, ItemStatus};
use crate::ui::tui::model::{FeedKind, Hint, Model, RunState};

/// Width of the feed's time column: `12:34 `.
const STAMP: usize = 6;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(run) = &model.run else {
        return;
    };
    let width = usize::from(area.width);
    let hint = hint_lines(run, width.saturating_sub(1), theme);
    let hint_height = u16::try_from(hint.len().min(4)).unwrap_or(4);
    // An NMRP run tells its own phases in place of the status and the gauge.
    let top = match &run.nmrp {
        Some(nmrp) if !model.leaving => {
            let wait = run.waiting.as_ref().map(|(_, timeout, since)| nmrp::Wait {
                elapsed: model.clock.saturating_sub(*since),
                timeout: *timeout,
            });
            let gauge = gauge_line(run, width, theme);
            nmrp::lines(nmrp, wait.as_ref(), gauge, width.saturating_sub(1), theme)
        }
        _ => vec![
            Line::raw(format!(" {}", status_text(model, run))),
            gauge_line(run, width, theme),
        ],
    };
    let top_height = u16::try_from(top.len().min(8)).unwrap_or(8);
    let [top_area, hint_area, rest] = Layout::vertical([
        Constraint::Length(top_height),
        Constraint::Length(hint_height),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(top), top_area);
    frame.render_widget(Paragraph::new(hint), hint_area);
    let checklist_width = if rest.width >= 100 { 44 } else { 32 };
    let [left, checklist] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(checklist_width)]).areas(rest);
    // A console run: the bootloader's own pane above the feed, with the larger share.
    let feed = if let Some(pane) = &run.console {
        let [console, feed] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Min(3)]).areas(left);
        super::console::draw(frame, console, pane, theme);
        feed
    } else {
        left
    };
    draw_feed(frame, feed, run, theme);
    draw_checklist(frame, checklist, &run.checklist, theme);
}

fn status_text(model: &Model, run: &RunState) -> String {
    if model.leaving {
        return "stopping: restoring the network, writing the report".into();
    }
    match run.phase {
        Some(Phase::Waiting) => match &run.waiting {
            Some((what, timeout, since)) => format!(
                "watching the wire for {what} · {} of {}",
                clock(model.clock.saturating_sub(*since)),
                clock(*timeout)
            ),
            None => "watching the wire".into(),
        },
        // At the console's question the image is no longer moving: it sits in the router's
        // RAM, proven, and the run waits for the technician, not for the router.
        Some(Phase::Transfer) if run.write_asked.is_some() => {
            "the image is in the router's RAM, proven by CRC-32: waiting for your answer".into()
        }
        Some(Phase::Transfer) => "the image is moving".into(),
        Some(Phase::Flashing) => match run.flashing {
            Some(f) => format!(
                "the router writes its flash: about {} s left{}",
                f.remaining.as_secs(),
                f.after
                    .map(|a| format!("; then watching {a}"))
                    .unwrap_or_default()
            ),
            None => "the router is writing its flash".into(),
        },
        Some(phase) => phase.describe().to_owned(),
        None => "starting".into(),
    }
}

fn bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio * width as f64).round() as usize).min(width);
    let mut text = "=".repeat(filled);
    if filled < width {
        text.push('>');
        text.push_str(&" ".repeat(width - filled - 1));
    }
    format!("[{text}]")
}

fn gauge_line<'a>(run: &RunState, width: usize, theme: &Theme) -> Line<'a> {
    let (ratio, label, style) =
        if let (Some(f), Some(Phase::Flashing | Phase::Done)) = (run.flashing, run.phase) {
            let expected = f.expected.as_secs_f64().max(1.0);
            let done = 1.0 - f.remaining.as_secs_f64() / expected;
            (
                done,
                format!(
                    "flashing, {} s left: do not switch it off",
                    f.remaining.as_secs()
                ),
                theme.warn,
            )
        } else if let Some(g) = run.gauge {
            let mut label = format!(
                "{:>3}%  {} of {}",
                (g.ratio() * 100.0).round() as u64,
                bytes(g.bytes),
                bytes(g.total)
            );
            if g.rate > 0 {
                let _ = write!(label, "  {}/s", bytes(g.rate));
            }
            if let Some(eta) = g.eta() {
                let _ = write!(label, "  ETA {eta} s");
            }
            if g.timeouts > 0 {
                let _ = write!(label, "  {} resends", g.timeouts);
            }
            (g.ratio(), label, theme.good)
        } else {
            (0.0, "no transfer yet".to_owned(), theme.dim)
        };
    let room = width
        .saturating_sub(label.chars().count() + 4)
        .clamp(10, 40);
    Line::from(vec![
        Span::raw(" "),
        Span::styled(bar(ratio, room), style),
        Span::raw(" "),
        Span::raw(label),
    ])
}

/// The hint above the feed, with its one-key fix or the fix the checklist gives.
fn hint_lines(run: &RunState, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    // The console's question comes before any hint: nothing is written until it is answered.
    if let Some(what) = &run.write_asked {
        return hanging(
            " ? ",
            theme.selected,
            &format!(
                "{what}: y to write, n to leave the flash as it is{}",
                if run.ram_boot_offered.is_some() {
                    ", b to boot it from RAM instead (nothing written)"
                } else {
                    ""
                }
            ),
            theme.selected,
            width,
        );
    }
    match &run.hint {
        Some(Hint::Adopt { addr, router }) => hanging(
            " ! ",
            theme.selected,
            &format!(
                "the router ({router}) asks for {addr}, which this computer does not have: press A to adopt it"
            ),
            theme.selected,
            width,
        ),
        Some(Hint::Stalled { what, fix }) => {
            let mut lines = hanging(
                " ! ",
                theme.bad,
                &format!("stalled: {what}"),
                theme.bad,
                width,
            );
            if let Some(fix) = fix {
                lines.extend(hanging("   fix: ", theme.warn, fix, theme.warn, width));
            }
            lines
        }
        None => Vec::new(),
    }
}

fn feed_style(kind: FeedKind, theme: &Theme) -> Style {
    match kind {
        FeedKind::Info => Style::default(),
        FeedKind::Step => theme.accent,
        FeedKind::Wire => theme.dim,
        FeedKind::Notice => theme.warn,
        FeedKind::Good => theme.good,
        FeedKind::Problem => theme.bad,
    }
}

fn draw_feed(frame: &mut Frame, area: Rect, run: &RunState, theme: &Theme) {
    let inner = panel("").inner(area);
    let height = usize::from(inner.height);
    let width = usize::from(inner.width).saturating_sub(STAMP).max(10);
    let (lines, below) = feed_window(run, height, width, theme);
    // The count is of entries the pane does not show, so it is true however far back the
    // keys asked for: at the top the pane stays full and fewer are below.
    let title = if below > 0 {
        format!(" Activity: {below} newer below (End follows) ")
    } else {
        " Activity ".to_owned()
    };
    frame.render_widget(panel(title), area);
    if lines.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(" starting the run…", theme.dim)),
            inner,
        );
    } else {
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// The feed's lines that fill a pane `height` lines high, and how many entries are newer
/// than the last one shown. The pane ends `run.scroll` entries before the newest; when that
/// leaves it short (scrolled to the top), it is filled with the entries after, so Home and
/// ↑ never show a pane of one or two lines.
fn feed_window(
    run: &RunState,
    height: usize,
    width: usize,
    theme: &Theme,
) -> (Vec<Line<'static>>, usize) {
    let entry_lines = |n: usize| -> Vec<Line<'static>> {
        let entry = &run.feed[n];
        let style = feed_style(entry.kind, theme);
        wrap(&entry.text, width)
            .into_iter()
            .enumerate()
            .map(|(k, text)| {
                let stamp = if k == 0 {
                    format!("{:>5} ", clock(entry.at))
                } else {
                    " ".repeat(STAMP)
                };
                Line::from(vec![
                    Span::styled(stamp, theme.dim),
                    Span::styled(text, style),
                ])
            })
            .collect()
    };
    let len = run.feed.len();
    let mut end = len.saturating_sub(run.scroll);
    // Newest at the bottom: wrap entries from the end until the pane is full.
    let mut lines: Vec<Line> = Vec::new();
    let mut first = end;
    while first > 0 && lines.len() < height {
        first -= 1;
        let mut block = entry_lines(first);
        block.extend(lines);
        lines = block;
    }
    // At the top with room left: the entries after the end fill it.
    while lines.len() < height && end < len {
        lines.extend(entry_lines(end));
        end += 1;
    }
    if lines.len() > height {
        if first == 0 && end > len.saturating_sub(run.scroll) {
            // Filled from the top: the oldest line stays, the cut falls at the bottom.
            lines.truncate(height);
        } else {
            let skip = lines.len() - height;
            lines.drain(..skip);
        }
    }
    (lines, len - end)
}

/// The mark of an item.
pub fn mark(status: ItemStatus, theme: &Theme) -> Span<'static> {
    match status {
        ItemStatus::Pass => Span::styled("ok ", theme.good),
        ItemStatus::Unknown => Span::styled("?? ", theme.dim),
        ItemStatus::Fail => Span::styled("!! ", theme.bad),
    }
}

fn draw_checklist(frame: &mut Frame, area: Rect, items: &[Item], theme: &Theme) {
    let width = inner_width(area);
    let lines: Vec<Line> = if items.is_empty() {
        hanging(
            "",
            theme.dim,
            "fills in as the run sees evidence",
            theme.dim,
            width,
        )
    } else {
        items
            .iter()
            .flat_map(|item| {
                let mark = mark(item.status, theme);
                hanging(
                    &mark.content,
                    mark.style,
                    item.item,
                    Style::default(),
                    width,
                )
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(panel(" Checklist ")), area);
}
