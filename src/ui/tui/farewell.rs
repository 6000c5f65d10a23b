//! What the wizard leaves on the normal screen once the full screen closes: how the run ended,
//! the transfer, what stopping means for the router (with any "do not switch it off for
//! another N s"), and where the report is. The full screen's text is gone with it, so this is
//! what the technician can still read, copy and act on.

use super::model::Model;
use super::view;

/// The lines to print after the full screen closes (none when no run was started).
pub fn farewell(model: &Model) -> Vec<String> {
    let Some(run) = &model.run else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if let Some((outcome, summary)) = &run.finished {
        lines.push(format!("rescue-wizard: {}: {summary}", outcome.describe()));
    }
    if let Some(advice) = &run.interrupted {
        lines.push(format!("stopped: {advice}"));
    }
    if let Some(gauge) = &run.gauge {
        lines.push(format!("transfer: {}", view::transfer(gauge)));
    }
    if let Some(end) = &run.end {
        for failure in &end.undo_failures {
            lines.push(format!(
                "NOT restored: {failure}: undo it by hand (the next start of rescue-wizard retries)"
            ));
        }
    }
    match &run.report {
        // The demo's folder goes as the wizard ends: its path would name nothing.
        Some(Ok(path))
            if model
                .scratch
                .as_ref()
                .is_some_and(|dir| path.starts_with(dir)) =>
        {
            lines.push(
                "report: none kept (the demo's went with its folder; `rescue-wizard demo --report FILE` keeps one)"
                    .to_owned(),
            );
        }
        Some(Ok(path)) => lines.push(format!("report: {}", path.display())),
        Some(Err(why)) => lines.push(format!("the report could not be written: {why}")),
        None => {}
    }
    lines
}
