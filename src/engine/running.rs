//! A recovery run started in the background, the one way every front-end starts one: its
//! events to show, its commands to send, and its end, with the report already written.
//!
//! The non-interactive run (`rescue-wizard --device ID IMAGE`, `demo`) and the wizard both
//! start here, so the run and its report are carried out the same way whoever shows them.

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::{Command, Event};
use super::plan::Plan;
use super::report;
use super::run::{self, Environment, Summary};

/// A run in progress.
#[derive(Debug)]
pub struct Running {
    /// Everything the run does, in order; closed when the run has ended.
    pub events: mpsc::UnboundedReceiver<Event>,
    /// Steers the run (approve, refuse, cancel, adopt).
    pub commands: mpsc::UnboundedSender<Command>,
    /// The run's end; an error means the run's task panicked.
    pub ended: JoinHandle<Ended>,
}

/// How a run ended, once the network is restored and the report written.
#[derive(Debug)]
pub struct Ended {
    /// The run's summary, as the report tells it.
    pub summary: Summary,
    /// Where the report went, or why it could not be written; none when none was asked for.
    pub report: Option<Result<PathBuf, ReportNotWritten>>,
}

/// The report could not be written where it was asked for.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct ReportNotWritten {
    /// Where it was to go.
    pub path: PathBuf,
    /// Why it did not.
    #[source]
    pub source: std::io::Error,
}

/// Starts `plan` in `environment` on the current runtime; the report goes to `report` when
/// the run has ended (none: no report).
pub fn start(plan: Plan, environment: Environment, report: Option<PathBuf>) -> Running {
    let (events_tx, events) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let ended = tokio::spawn(async move {
        let kept = plan.clone();
        let summary = run::run(plan, environment, events_tx, commands_rx).await;
        let report = report.map(|path| write_report(&kept, &summary, path));
        Ended { summary, report }
    });
    Running {
        events,
        commands,
        ended,
    }
}

fn write_report(
    plan: &Plan,
    summary: &Summary,
    path: PathBuf,
) -> Result<PathBuf, ReportNotWritten> {
    report::write(&path, &report::render(plan, summary))
        .map_err(|source| ReportNotWritten { path, source })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;
    use crate::engine::RunOutcome;
    use crate::engine::plan::{ImageFacts, Settings, build};
    use crate::engine::simulate::SimulatedRouter;
    use crate::profile::Catalogue;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_run_ends_with_its_report_written_where_it_was_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let (catalogue, _) = Catalogue::load_default().unwrap();
        let profile = catalogue.lookup("tl-wr841n-v9").unwrap().profile.clone();
        let image = dir.path().join("wr841nv9-factory.bin");
        std::fs::write(
            &image,
            crate::image::sample::tp_link_firmware(0x0841_0009, 256 * 1024),
        )
        .unwrap();
        let inspection = crate::image::inspect(&image, Some(&profile)).unwrap();
        let settings = Settings {
            timeout: Some(Duration::from_secs(30)),
            port: Some(0),
            loopback: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            flash: Some(Duration::from_millis(200)),
            ..Settings::default()
        };
        let plan = build(&profile, ImageFacts::from(&inspection), &[], &settings).unwrap();
        let asked = dir.path().join("report.md");
        let mut run = start(
            plan,
            Environment::Simulated(SimulatedRouter::default()),
            Some(asked.clone()),
        );
        let mut events = 0;
        let ended = loop {
            tokio::select! {
                Some(_) = run.events.recv() => events += 1,
                ended = &mut run.ended => break ended.unwrap(),
            }
        };
        assert!(events > 0);
        assert_eq!(ended.summary.outcome, RunOutcome::Flashed);
        let written = ended.report.unwrap().unwrap();
        assert_eq!(written, asked);
        let text = std::fs::read_to_string(&written).unwrap();
        assert!(
            text.starts_with("# rescue-wizard report: tl-wr841n-v9"),
            "{text}"
        );
    }

    #[test]
    fn a_report_not_written_says_where_and_why() {
        let failed = ReportNotWritten {
            path: PathBuf::from("/nowhere/report.md"),
            source: std::io::Error::other("read-only file system"),
        };
        assert_eq!(
            failed.to_string(),
            "/nowhere/report.md: read-only file system"
        );
        assert!(std::error::Error::source(&failed).is_some());
    }
}
