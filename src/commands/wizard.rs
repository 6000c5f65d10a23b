//! `rescue-wizard` alone and `rescue-wizard demo` on a terminal: the full-screen wizard. This
//! wires the catalogue, the folders, the port list, the signals and the exit status around
//! [`crate::ui::tui`]; without a terminal it says how to run the non-interactive form.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::StopSignals;
use super::recover::{self, DEMO_DEVICE, DemoImage};
use crate::cli::{DemoArgs, RecoverArgs};
use crate::engine::plan::ServerAddress;
use crate::net::journal::state_dir;
use crate::profile::Catalogue;
use crate::ui::tui::{self, RunKind, Setup, Wizard};
use crate::{Outcome, UsageError};

/// Whether the wizard can be drawn and typed into: standard input and output are terminals.
pub(crate) fn on_a_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// What to run instead when there is no terminal for the wizard.
fn not_a_terminal() -> anyhow::Error {
    UsageError::new(
        "the wizard needs a terminal, and standard input or output is not one.\n  fix: run the recovery without it: rescue-wizard --device ID IMAGE (`rescue-wizard devices QUERY` finds the id), or watch a whole simulated run with rescue-wizard demo --json",
    )
    .into()
}

/// Colours unless `NO_COLOR` is set to something (<https://no-color.org>).
fn colours() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// The Downloads folder: the desktop's own setting, else `~/Downloads` when there is one
/// (Linux without xdg-user-dirs names none).
fn downloads() -> Option<PathBuf> {
    dirs::download_dir().or_else(|| {
        dirs::home_dir()
            .map(|home| home.join("Downloads"))
            .filter(|dir| dir.is_dir())
    })
}

/// `rescue-wizard` with neither a device nor an image.
pub async fn start(args: RecoverArgs) -> anyhow::Result<Outcome> {
    if args.json || !on_a_terminal() {
        return Err(not_a_terminal());
    }
    let (catalogue, _problems) = Catalogue::load_default().map_err(UsageError::from_source)?;
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    // What was given on the command line is filled in: the device as the search, the image
    // highlighted in its folder (or, when it is not there, its folder as where the picker
    // starts).
    let image = args
        .image
        .as_deref()
        .map(|image| here.join(image))
        // With a deadline: an image on a hung mount is not a reason to hang the wizard.
        .and_then(|image| {
            crate::image::timed::look_up(&image, "the image file", |p| {
                if p.is_file() {
                    p.canonicalize()
                } else {
                    Err(std::io::ErrorKind::NotFound.into())
                }
            })
            .ok()
        });
    let start_dir = image
        .as_deref()
        .or(args.image.as_deref())
        .and_then(Path::parent)
        .map(|folder| here.join(folder))
        .filter(|folder| folder.is_dir())
        .unwrap_or(here);
    let setup = Setup {
        mode: RunKind::Real,
        catalogue,
        settings: recover::settings(&args),
        start_dir,
        downloads: downloads(),
        colours: colours(),
        search: args.device.clone().unwrap_or_default(),
        image,
        scratch: None,
    };
    run(
        setup,
        state_dir(),
        ServerAddress::from_flag(args.adopt),
        args.report,
    )
    .await
}

/// `rescue-wizard demo` on a terminal. Its report goes into the demo's own folder (gone
/// with it when the wizard ends) unless `--report FILE` says where to keep one: a simulated
/// run is not a recovery, and the reports folder is for recoveries.
pub async fn demo(args: DemoArgs) -> anyhow::Result<Outcome> {
    let (catalogue, _problems) = Catalogue::load_default().map_err(UsageError::from_source)?;
    let image = DemoImage::write()?;
    let setup = Setup {
        mode: RunKind::Demo,
        catalogue,
        settings: recover::demo_settings(args.flash_seconds),
        start_dir: image.dir.clone(),
        downloads: downloads(),
        colours: colours(),
        search: DEMO_DEVICE.to_owned(),
        image: None,
        scratch: Some(image.dir.clone()),
    };
    let result = run(
        setup,
        image.dir.clone(),
        ServerAddress::Suggest,
        args.report,
    )
    .await;
    drop(image);
    result
}

/// Runs the wizard; `state_dir` holds the journal and, without `report`, the report.
async fn run(
    setup: Setup,
    state_dir: PathBuf,
    adopt: ServerAddress,
    report: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let (stop_tx, stop) = mpsc::unbounded_channel();
    let mut signals = StopSignals::install()?;
    let forward = tokio::spawn(async move {
        loop {
            signals.requested().await;
            if stop_tx.send(()).is_err() {
                break;
            }
        }
    });
    let wizard = Wizard {
        setup,
        ports: crate::net::iface::list,
        adapters: crate::console::port::adapter_list,
        state_dir,
        report,
        adopt,
        stop,
    };
    let ended = tui::run(wizard).await;
    forward.abort();
    match ended? {
        Some(end) => recover::conclude(end.outcome, end.refused.as_deref(), &end.undo_failures),
        None => Ok(Outcome::Done),
    }
}
