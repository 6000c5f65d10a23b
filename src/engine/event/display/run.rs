//! The run's own events: the plan, the phases, the preflight, the steps, the checklist and the
//! end.

use std::fmt::{self, Formatter};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use crate::engine::checklist::{Item, tally};
use crate::engine::{Phase, RunOutcome};
use crate::net::check::{Check, CheckOutcome};

/// What [`crate::engine::Event::Planned`] says about the run.
pub(super) struct Planned<'a> {
    pub(super) device: &'a str,
    pub(super) model: &'a str,
    pub(super) interface: Option<&'a str>,
    pub(super) host: Option<&'a str>,
    pub(super) router: Option<Ipv4Addr>,
    pub(super) file: Option<&'a str>,
    pub(super) image: &'a Path,
    pub(super) size: u64,
    pub(super) sha256: &'a str,
}

pub(super) fn planned(f: &mut Formatter<'_>, plan: &Planned<'_>) -> fmt::Result {
    write!(
        f,
        "{} ({}): image {} ({} bytes, sha256 {})",
        plan.device,
        plan.model,
        plan.image.display(),
        plan.size,
        plan.sha256
    )?;
    if let Some(interface) = plan.interface {
        write!(f, ", port {interface}")?;
    }
    if let Some(host) = plan.host {
        write!(f, ", this computer {host}")?;
    }
    if let Some(router) = plan.router {
        write!(f, ", router {router}")?;
    }
    if let Some(file) = plan.file {
        write!(f, ", file \"{file}\"")?;
    }
    Ok(())
}

pub(super) fn phase_started(f: &mut Formatter<'_>, phase: Phase) -> fmt::Result {
    write!(f, "-- {}", phase.describe())
}

pub(super) fn checked(f: &mut Formatter<'_>, check: &Check) -> fmt::Result {
    let mark = match check.verdict {
        CheckOutcome::Pass => "ok",
        CheckOutcome::Warn => "warn",
        CheckOutcome::Fail => "FAIL",
    };
    write!(f, "[{mark}] {}: {}", check.item, check.detail)?;
    if let Some(fix) = &check.fix
        && check.verdict != CheckOutcome::Pass
    {
        write!(f, " (fix: {fix})")?;
    }
    Ok(())
}

pub(super) fn preflight_failed(
    f: &mut Formatter<'_>,
    reason: &str,
    blocking: &[Check],
) -> fmt::Result {
    write!(f, "cannot start: {reason}")?;
    for check in blocking {
        if let Some(fix) = &check.fix {
            write!(f, "\n  fix ({}): {fix}", check.item)?;
        }
    }
    Ok(())
}

pub(super) fn step(
    f: &mut Formatter<'_>,
    number: usize,
    action: &str,
    seconds: Option<u32>,
    led: Option<&str>,
) -> fmt::Result {
    write!(f, "step {number}: {action}")?;
    if let Some(seconds) = seconds {
        write!(f, " ({seconds} s)")?;
    }
    if let Some(led) = led {
        write!(f, " [LED: {led}]")?;
    }
    Ok(())
}

pub(super) fn waiting(f: &mut Formatter<'_>, what: &str, timeout: Duration) -> fmt::Result {
    write!(
        f,
        "waiting for {what} (giving up after {} s)",
        timeout.as_secs()
    )
}

pub(super) fn checklist_updated(f: &mut Formatter<'_>, checklist: &[Item]) -> fmt::Result {
    let (fails, unknown) = tally(checklist);
    write!(
        f,
        "checklist: {} ok, {unknown} unknown, {fails} failing",
        checklist.len() - fails - unknown
    )
}

pub(super) fn stalled(
    f: &mut Formatter<'_>,
    what: &str,
    fix: Option<&str>,
    checklist: &[Item],
) -> fmt::Result {
    write!(f, "stalled: {what}.")?;
    if let Some(fix) = fix {
        write!(f, " Try now: {fix}.")?;
    }
    write!(f, " Checklist:")?;
    items(f, checklist)
}

pub(super) fn interrupted(f: &mut Formatter<'_>, advice: &str) -> fmt::Result {
    write!(f, "stopped: {advice}")
}

pub(super) fn finished(
    f: &mut Formatter<'_>,
    outcome: RunOutcome,
    summary: &str,
    checklist: &[Item],
) -> fmt::Result {
    write!(f, "{}: {summary}", outcome.describe())?;
    items(f, checklist)
}

/// The checklist's items, one an indented line.
fn items(f: &mut Formatter<'_>, checklist: &[Item]) -> fmt::Result {
    for item in checklist {
        write!(f, "\n  {item}")?;
    }
    Ok(())
}

pub(super) fn report_written(f: &mut Formatter<'_>, path: &Path) -> fmt::Result {
    write!(f, "report written to {}", path.display())
}
