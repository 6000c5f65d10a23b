//! Screen 7, done or troubleshoot: the outcome, the transfer (bytes, time, rate, resends),
//! what was changed and restored, where the report is; after a failure the checklist, each item that did not pass with its fix, and
//! the retry.
//!
//! ```text
//! ┌ FLASHED ─────────────────────────────────────────────────────────────────┐
//! │ the router answers at 192.168.1.1: open http://192.168.1.1               │
//! │ transfer 3.8 MiB in 13.0 s, 295.4 KiB/s, 2 resends                       │
//! │ network  nothing on this computer was changed                            │
//! │ report   /home/tech/.local/state/rescue-wizard/reports/...md             │
//! │ Checklist (after a failure)                                              │
//! │ !! cable and link: no link seen on enp3s0                                │
//! │    fix: ...                                                              │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::live::mark;
use super::{Theme, hanging, inner_width, panel};
use crate::engine::RunOutcome;
use crate::engine::checklist::ItemStatus;
use crate::ui::tui::model::{Model, RunState};

/// Draws the outcome, the facts of the run and, after a failure, the checklist and the retry.
pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let Some(run) = &model.run else {
        return;
    };
    let outcome = run.finished.as_ref().map(|f| f.0);
    let (title, style) = title(outcome, theme);
    let width = inner_width(area);
    let mut lines = verdict(run, style, width, theme);
    lines.push(Line::raw(""));
    lines.extend(facts(model, run, width, theme));
    let failed = !matches!(
        outcome,
        Some(RunOutcome::Flashed | RunOutcome::Transferred) | None
    );
    if failed && !run.final_checklist.is_empty() {
        lines.extend(checklist(run, width, theme));
    }
    let scroll = u16::try_from(run.scroll).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(Line::styled(title, style)))
            .scroll((scroll, 0)),
        area,
    );
}

/// The panel's title, the outcome in capitals, and its colour.
fn title(outcome: Option<RunOutcome>, theme: &Theme) -> (&'static str, Style) {
    match outcome {
        Some(RunOutcome::Flashed) => (" FLASHED ", theme.good),
        Some(RunOutcome::Transferred) => (" TRANSFERRED ", theme.warn),
        Some(RunOutcome::TimedOut) => (" NOTHING HAPPENED ", theme.bad),
        Some(RunOutcome::Interrupted) => (" STOPPED ", theme.warn),
        Some(RunOutcome::Failed) => (" FAILED ", theme.bad),
        None => (" FINISHING ", theme.dim),
    }
}

/// The outcome in words, the NMRP verdict, why the run stopped and why the network changes
/// were refused: whichever of them the run has.
fn verdict(run: &RunState, style: Style, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let plain = Style::default();
    let mut lines = Vec::new();
    if let Some((outcome, summary)) = &run.finished {
        lines.extend(hanging(
            "",
            plain,
            &format!("{}: {summary}", outcome.describe()),
            style,
            width,
        ));
    }
    if let Some(nmrp) = &run.nmrp {
        lines.extend(super::nmrp::verdict(nmrp, width, theme));
    }
    if let Some(advice) = &run.interrupted {
        lines.extend(hanging("stopped: ", theme.warn, advice, theme.warn, width));
    }
    if let Some(end) = &run.end
        && let Some(why) = &end.refused
    {
        lines.extend(hanging(
            "",
            plain,
            &format!("the network changes were refused: {why}"),
            theme.bad,
            width,
        ));
    }
    lines
}

/// One fact of the run: its name in a dim column, then its value.
fn fact(
    name: &str,
    value: &str,
    value_style: Style,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    hanging(&format!("{name:<9}"), theme.dim, value, value_style, width)
}

/// The facts: the image and its checksum, the transfer, each network change and whether it
/// was restored, what could not be undone, and where the report is.
fn facts(model: &Model, run: &RunState, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let plain = Style::default();
    let mut lines = Vec::new();
    if let Some(plan) = &model.plan {
        lines.extend(fact(
            "image",
            &plan.image.path.display().to_string(),
            plain,
            width,
            theme,
        ));
        lines.extend(fact("sha256", &plan.image.sha256, plain, width, theme));
    }
    if let Some(gauge) = &run.gauge {
        lines.extend(fact(
            "transfer",
            &super::transfer(gauge),
            plain,
            width,
            theme,
        ));
    }
    if run.changed.is_empty() {
        lines.extend(fact(
            "network",
            "nothing on this computer was changed",
            plain,
            width,
            theme,
        ));
    }
    for change in &run.changed {
        let (state, state_style) = restored(run, change, theme);
        lines.extend(fact(
            "network",
            &format!("{change}: {state}"),
            state_style,
            width,
            theme,
        ));
    }
    if let Some(end) = &run.end {
        for failure in &end.undo_failures {
            lines.extend(fact(
                "undo",
                &format!("could not undo {failure}"),
                theme.bad,
                width,
                theme,
            ));
        }
    }
    lines.extend(match &run.report {
        Some(Ok(path)) => fact(
            "report",
            &path.display().to_string(),
            theme.accent,
            width,
            theme,
        ),
        Some(Err(why)) => fact(
            "report",
            &format!("could not be written: {why}"),
            theme.bad,
            width,
            theme,
        ),
        None => fact("report", "being written…", plain, width, theme),
    });
    lines
}

/// Whether a network change was restored, is being restored, or was left for the technician.
fn restored(run: &RunState, change: &str, theme: &Theme) -> (&'static str, Style) {
    if run.restored.iter().any(|r| r == change) {
        ("restored", theme.good)
    } else if run.active() {
        ("being restored", Style::default())
    } else {
        (
            "NOT restored: undo it by hand (the next start retries)",
            theme.bad,
        )
    }
}

/// After a failure: the checklist, what failed first, each item that did not pass with its
/// fix, then the retry key.
fn checklist(run: &RunState, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let plain = Style::default();
    let mut lines = vec![Line::raw("")];
    lines.extend(hanging(
        "",
        plain,
        "Checklist: what the run saw, and the fix for each item that did not pass",
        theme.accent,
        width,
    ));
    let mut items: Vec<_> = run.final_checklist.iter().collect();
    // What failed first, then what is unknown, then what passed.
    items.sort_by_key(|i| std::cmp::Reverse(i.status));
    for item in items {
        let mark = mark(item.status, theme);
        lines.extend(hanging(
            &mark.content,
            mark.style,
            &format!("{}: {}", item.item, item.detail),
            plain,
            width,
        ));
        if item.status != ItemStatus::Pass
            && let Some(fix) = &item.fix
        {
            lines.extend(hanging("   fix: ", theme.warn, fix, theme.warn, width));
        }
    }
    lines.push(Line::raw(""));
    lines.extend(hanging(
        "R: ",
        theme.key,
        "try again from the router's steps, with the same device, image and port",
        plain,
        width,
    ));
    lines
}
