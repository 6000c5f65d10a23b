//! The run's report, in Markdown: the device, the image and its hash, the port, the changes
//! made and undone, the timeline, and the outcome (with the checklist when it failed). It is
//! what a technician attaches to a ticket or a forum post.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::event::Event;
use super::plan::Plan;
use super::run::Summary;

/// The report's text.
pub fn render(plan: &Plan, summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# rescue-wizard report: {}\n", plan.device);
    let _ = writeln!(out, "- **Outcome:** {}", summary.outcome.describe());
    if let Some((_, Event::Finished { summary: line, .. })) = summary
        .timeline
        .iter()
        .rev()
        .find(|(_, e)| matches!(e, Event::Finished { .. }))
    {
        let _ = writeln!(out, "- **What next:** {line}");
    }
    let _ = writeln!(out, "- **Started:** {}", utc(summary.started));
    let _ = writeln!(out, "- **Device:** {} ({})", plan.device, plan.model);
    let _ = writeln!(out, "- **Method:** {}", plan.method.describe());
    let _ = writeln!(
        out,
        "- **Image:** `{}`, {} bytes, sha256 `{}`",
        plan.image.path.display(),
        plan.image.size,
        plan.image.sha256
    );
    match &plan.port {
        Some(port) => {
            let _ = writeln!(out, "- **Port:** {} ({})", port.name, port.reason);
        }
        None => {
            let _ = writeln!(out, "- **Port:** loopback (simulated run)");
        }
    }
    if let Some(host) = plan.host {
        let _ = writeln!(out, "- **This computer:** {host}");
    }
    if let Some(router) = plan.router {
        let _ = writeln!(out, "- **Router:** {router}");
    }
    let _ = writeln!(out, "\n## Network changes\n");
    if summary.changes_made.is_empty() {
        let _ = writeln!(out, "None.");
    } else {
        for change in &summary.changes_made {
            let undone = summary.changes_undone.contains(change);
            let _ = writeln!(
                out,
                "- {change}: {}",
                if undone {
                    "made, undone"
                } else {
                    "made, NOT undone"
                }
            );
        }
    }
    for failure in &summary.undo_failures {
        let _ = writeln!(out, "- could not undo {failure}: undo it by hand");
    }
    if !summary.checklist.is_empty() {
        let _ = writeln!(out, "\n## Checklist\n");
        let _ = writeln!(out, "| item | status | seen | fix |\n|---|---|---|---|");
        for item in &summary.checklist {
            let _ = writeln!(
                out,
                "| {} | {:?} | {} | {} |",
                item.item,
                item.status,
                cell(&item.detail),
                cell(item.fix.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = writeln!(out, "\n## Timeline\n");
    let _ = writeln!(out, "| time (s) | event |\n|---:|---|");
    let mut last_progress: Option<Duration> = None;
    for (at, event) in &summary.timeline {
        // Progress every second is enough on paper.
        if let Event::TransferProgressed { .. } | Event::FlashingCountdown { .. } = event {
            if last_progress.is_some_and(|t| at.saturating_sub(t) < Duration::from_secs(1)) {
                continue;
            }
            last_progress = Some(*at);
        }
        let text = event.to_string();
        let first = text.lines().next().unwrap_or_default();
        let _ = writeln!(out, "| {:.3} | {} |", at.as_secs_f64(), cell(first));
    }
    // The serial console's whole transcript, as the bootloader printed it (docs/console.md).
    for (_, event) in &summary.timeline {
        if let Event::ConsoleTranscript { text } = event {
            let _ = writeln!(out, "\n## Serial console transcript\n");
            let _ = writeln!(
                out,
                "```text\n{}\n```",
                text.replace(['\0', '\r'], "").trim_end()
            );
        }
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Writes the report to `path` (a new file; an existing one is never overwritten: a number
/// is added to the name instead) and returns where it went.
pub fn write(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let mut candidate = path.to_path_buf();
    for n in 1..1000 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut file) => {
                file.write_all(text.as_bytes())?;
                file.sync_all()?;
                return Ok(candidate);
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let ext = path
                    .extension()
                    .map(|e| format!(".{}", e.to_string_lossy()))
                    .unwrap_or_default();
                candidate = path.with_file_name(format!("{stem}-{n}{ext}"));
            }
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::other("too many reports with this name"))
}

/// The default report path: the state folder, named after the device and the time.
pub fn default_path(state_dir: &Path, device: &str, started: SystemTime) -> PathBuf {
    let stamp = utc(started).replace([':', ' '], "-").replace("-UTC", "");
    state_dir
        .join("reports")
        .join(format!("{device}-{stamp}.md"))
}

/// `2026-11-24 16:05:09 UTC`, without a calendar crate: the civil-from-days conversion is
/// a dozen lines (Howard Hinnant's algorithm).
pub fn utc(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let leap = UNIX_EPOCH + Duration::from_hours(264_384); // 2000-02-29
        assert_eq!(utc(leap), "2000-02-29 00:00:00 UTC");
        let late = UNIX_EPOCH + Duration::from_secs(1_795_536_309);
        assert_eq!(utc(late), "2026-11-24 16:05:09 UTC");
    }

    #[test]
    fn an_existing_report_is_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("rw-report-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("r.md");
        let first = write(&path, "one").unwrap();
        let second = write(&path, "two").unwrap();
        assert_eq!(first, path);
        assert_eq!(second, dir.join("r-1.md"));
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "two");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
