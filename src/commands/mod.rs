//! What each sub-command does: turn parsed arguments into library calls and a front-end. One
//! file per command; `prompt` asks the technician yes or no, `signals` hears Ctrl-C, SIGTERM
//! and SIGHUP; what several commands share (the profile lookup, the clean-up after a dead run)
//! is here.

use std::path::Path;

use crate::cli::{Cli, Command};
use crate::net::addr::{Cleanup, cleanup};
use crate::net::journal::state_dir;
use crate::profile::{Catalogue, Profile};
use crate::{Outcome, UsageError};

mod client;
pub mod devices;
mod doctor;
mod get;
mod probe;
mod prompt;
mod push;
mod recover;
mod serve;
mod signals;
mod version;
mod watch;
mod wizard;

pub(crate) use prompt::ask;
pub(crate) use signals::StopSignals;

/// Runs the chosen sub-command, after undoing what a previous run that was killed left on
/// the host.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    clean_up_after_a_dead_run();
    let Some(command) = cli.command else {
        let args = cli.recover;
        let nothing = args.image.is_none() && args.device.is_none() && args.profile.is_none();
        // Only some of device and image, on a terminal: the wizard asks for the rest rather
        // than the run refusing. A profile file is the run's alone (the wizard reads the
        // catalogue), so it still goes to the run, which says what is missing.
        let some = args.profile.is_none() && (args.image.is_none() || args.device.is_none());
        if nothing || (some && !args.json && wizard::on_a_terminal()) {
            return wizard::start(args).await;
        }
        return recover::recover(args).await;
    };
    match command {
        Command::Demo(args) if !args.json && !args.plain && wizard::on_a_terminal() => {
            wizard::demo(args).await
        }
        Command::Demo(args) => recover::demo(args).await,
        Command::Doctor(args) => doctor::doctor(&args),
        Command::Serve(args) => serve::serve(args).await,
        Command::Push(args) => push::push(args).await,
        Command::Get(args) => get::get(args).await,
        Command::Devices(args) => devices::run(&args),
        Command::Watch(args) => watch::watch_wire(args).await,
        Command::Probe(args) => probe::probe(args).await,
        Command::Version => Ok(version::version()),
        Command::Completions { shell } => version::completions(shell),
        Command::Man => version::man(),
    }
}

/// A run that was killed (SIGKILL, a crash, power loss) left changes in its journal: undo
/// them before anything else, and say so. The network module only reports; what a person
/// should read is printed here.
fn clean_up_after_a_dead_run() {
    // Runs of the other kind (root, or the user who ran sudo) keep their journals elsewhere.
    for note in crate::net::journal::across::look() {
        eprintln!("note: {note}");
    }
    let dir = state_dir();
    let report = match cleanup(&dir) {
        Ok(report) => report,
        // A folder that is not ours alone is not read at all; running again with more
        // privileges is not the fix, the message says what is.
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("note: journals not replayed: {err}");
            return;
        }
        Err(err) => {
            eprintln!(
                "warning: a previous run left changes that could not all be undone: {err}\n  fix: run again with sudo, or undo them by hand (journal: {})",
                crate::net::journal::Journal::path_in(&dir).display()
            );
            return;
        }
    };
    for line in cleanup_lines(&report, &dir) {
        eprintln!("{line}");
    }
}

/// What the cleanup at start tells the user, line by line: what was undone, what was left and
/// why, and what could not be undone with its fix.
fn cleanup_lines(report: &Cleanup, dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    if !report.undone.is_empty() {
        lines.push("cleaned up after a previous run that did not finish:".to_owned());
        lines.extend(
            report
                .undone
                .iter()
                .map(|change| format!("  undone: {change}")),
        );
    }
    lines.extend(report.notes.iter().map(|note| format!("note: {note}")));
    if let Some((change, err)) = report.failed.first() {
        lines.push(format!(
            "warning: a previous run left changes that could not all be undone: could not undo {change}: {err}\n  fix: run again with sudo, or undo them by hand (journal: {})",
            crate::net::journal::Journal::path_in(dir).display()
        ));
    }
    lines
}

/// The profile a run works with: `--device ID` from the catalogue (built in, the user's
/// folder, and `--profile FILE` for this run), or the device `--profile FILE` describes.
/// `ID` may be an id, an alias or a model name in any case ([`Catalogue::lookup`]); unknown
/// names get the nearest ids suggested.
pub(crate) fn find_profile(
    id: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<Profile>, UsageError> {
    if id.is_none() && file.is_none() {
        return Ok(None);
    }
    let (mut catalogue, _problems) = Catalogue::load_default().map_err(UsageError::from_source)?;
    let from_file = match file {
        Some(path) => Some(
            catalogue
                .add_profile_file(path)
                .map_err(UsageError::from_source)?
                .profile
                .clone(),
        ),
        None => None,
    };
    match id {
        Some(id) => catalogue
            .lookup(id)
            .map(|entry| Some(entry.profile.clone()))
            .map_err(UsageError::from_source),
        None => Ok(from_file),
    }
}
