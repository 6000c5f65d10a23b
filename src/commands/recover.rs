//! `rescue-wizard --device ID IMAGE` and `rescue-wizard demo`: the whole recovery run with
//! the progress (or JSON) front-end. The engine does the work; this wires the command line,
//! the image preflight, consent, Ctrl-C and the report around it.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{StopSignals, ask, find_profile};
use crate::cli::{DemoArgs, RecoverArgs};
use crate::engine::plan::{
    self, AfterProof, AfterTransfer, FirewallPolicy, ImageFacts, NetworkConsent, OtherDhcp, Serial,
    ServerAddress, Settings,
};
use crate::engine::running::{self, Ended};
use crate::engine::simulate::SimulatedRouter;
use crate::engine::{Command, Environment, Event, RunOutcome, report};
use crate::image::{self, Inspection, Severity};
use crate::net::journal::state_dir;
use crate::profile::Profile;
use crate::settings::{self, DEMO_FLASH, DEMO_TIMEOUT};
use crate::ui::json::JsonLines;
use crate::ui::run::RunView;
use crate::{Outcome, UsageError};

/// Where events are shown.
enum Front {
    Json(JsonLines),
    View {
        view: RunView,
        /// The preflight's checks, held until it ends: when it fails, its reason (each
        /// blocking check with its fix) is said once, not after every check that led to it.
        held: Vec<Event>,
        /// The run ended before anything was set up, its reason already said (a failed
        /// preflight, consent refused): the closing checklist would only blame what never
        /// ran (port 69, an address that was never added).
        said: bool,
    },
}

impl Front {
    fn new(json: bool) -> Self {
        if json {
            Front::Json(JsonLines::new())
        } else {
            Front::View {
                view: RunView::new(),
                held: Vec::new(),
                said: false,
            }
        }
    }

    fn show(&mut self, event: &Event) {
        match self {
            // JSON keeps every event: a program reads it, not a person.
            Front::Json(lines) => lines.show(event),
            Front::View { view, held, said } => match event {
                Event::Checked { .. } => held.push(event.clone()),
                Event::PreflightFailed { .. } => {
                    held.clear();
                    *said = true;
                    view.show(event);
                }
                Event::Finished { .. } if *said => {}
                _ => {
                    for check in held.drain(..) {
                        view.show(&check);
                    }
                    view.show(event);
                }
            },
        }
    }

    /// The run was refused: the refusal is the run's last word (see [`conclude`]).
    fn refused(&mut self) {
        if let Front::View { said, .. } = self {
            *said = true;
        }
    }

    /// A note that is not an engine event (the image check, the plan), on standard error
    /// so that JSON output stays clean.
    fn note(&self, text: &str) {
        match self {
            Front::Json(_) => {}
            Front::View { view, .. } => view.suspend(|| eprintln!("{text}")),
        }
    }
}

/// `rescue-wizard --device ID IMAGE`.
pub async fn recover(args: RecoverArgs) -> anyhow::Result<Outcome> {
    let Some(image_path) = args.image.clone() else {
        return Err(UsageError::new(
            "give the device and the image: rescue-wizard --device ID IMAGE\n  fix: `rescue-wizard devices` lists the device ids; `rescue-wizard demo` shows a whole run without a router; `rescue-wizard --help` lists the other commands",
        )
        .into());
    };
    if args.device.is_none() && args.profile.is_none() {
        return Err(UsageError::new(format!(
            "which device is it? give --device ID before {}\n  fix: `rescue-wizard devices QUERY` finds the id (e.g. `rescue-wizard devices wr841n`)",
            image_path.display()
        ))
        .into());
    }
    let profile = find_profile(args.device.as_deref(), args.profile.as_deref())?
        .ok_or_else(|| UsageError::new("no profile was loaded"))?;
    // The full path, so that the plan and the report say exactly which file was flashed. The
    // look-up has a deadline: on a hung network mount even this would wait for good.
    let image_path = match image::timed::look_up(&image_path, "the image file", Path::canonicalize)
    {
        Ok(full) => full,
        Err(err) if image::timed::is_late(&err) => {
            return Err(UsageError::new(format!(
                "cannot read {}: {err}\n  fix: copy the image to a local disk and give that copy",
                image_path.display()
            ))
            .into());
        }
        Err(_) => image_path,
    };
    let mut front = Front::new(args.json);
    let inspection = check_image(&image_path, &profile, args.yes, &mut front)?;
    if args.ram_boot {
        check_bootable(&inspection)?;
    }
    let settings = settings(&args);
    let interfaces = crate::net::iface::list();
    let plan = plan::build(
        &profile,
        ImageFacts::from(&inspection),
        &interfaces,
        &settings,
    )
    .map_err(UsageError::from_source)?;
    front.note(&format!("{plan}"));
    let environment = Environment::Host {
        state_dir: state_dir(),
        consent: NetworkConsent::from_flag(args.yes),
        server_address: ServerAddress::from_flag(args.adopt),
    };
    let report_path = args.report.clone().unwrap_or_else(|| {
        report::default_path(&state_dir(), &plan.device, std::time::SystemTime::now())
    });
    drive(plan, environment, front, Some(report_path)).await
}

/// `rescue-wizard demo`: the whole run against a simulated bootloader on loopback.
pub async fn demo(args: DemoArgs) -> anyhow::Result<Outcome> {
    let profile = find_profile(Some(DEMO_DEVICE), None)?
        .ok_or_else(|| UsageError::new("the demo's device profile is missing"))?;
    let image = DemoImage::write()?;
    let mut front = Front::new(args.json);
    front.note("rescue-wizard demo: a simulated TL-WR841N v9 bootloader fetches an image over loopback; nothing on this computer changes");
    let inspection = check_image(&image.path, &profile, true, &mut front)?;
    let settings = demo_settings(args.flash_seconds);
    let plan = plan::build(&profile, ImageFacts::from(&inspection), &[], &settings)
        .map_err(UsageError::from_source)?;
    front.note(&format!("{plan}"));
    let environment = Environment::Simulated(SimulatedRouter::default());
    drive(plan, environment, front, args.report).await
}

/// The device the demo simulates.
pub(crate) const DEMO_DEVICE: &str = "tl-wr841n-v9";

/// The run's settings from the command line.
pub(crate) fn settings(args: &RecoverArgs) -> Settings {
    Settings {
        interface: args.interface.clone(),
        timeout: args.timeout.map(Duration::from_secs),
        after_transfer: AfterTransfer::from_flag(args.exit_after_transfer),
        port: args.port,
        loopback: None,
        flash: None,
        router_mac: args.router_mac,
        stall_after: args.stall_after.map(Duration::from_secs),
        region: args.region.clone(),
        firewall: FirewallPolicy::from_flag(args.allow_firewall),
        other_dhcp: OtherDhcp::from_flag(args.allow_other_dhcp),
        serial: args.serial.clone().map(|port| Serial {
            port,
            baud: args.baud,
            after_proof: AfterProof::from_flags(args.ram_boot, args.yes),
        }),
    }
}

/// The demo's settings: loopback, a free port, and a short flashing time.
pub(crate) fn demo_settings(flash_seconds: Option<u64>) -> Settings {
    Settings {
        timeout: Some(DEMO_TIMEOUT),
        // 0: any free port on loopback, not the well-known one (no root needed).
        port: Some(0),
        loopback: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        flash: Some(settings::seconds(flash_seconds, DEMO_FLASH)),
        ..Settings::default()
    }
}

/// The demo's image, in a folder of its own in the temporary folder; the folder goes when
/// this is dropped.
pub(crate) struct DemoImage {
    /// The folder.
    pub(crate) dir: PathBuf,
    /// The image in it.
    pub(crate) path: PathBuf,
}

impl DemoImage {
    /// Writes the image.
    pub(crate) fn write() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("rescue-wizard-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let image = Self {
            path: dir.join("wr841nv9-demo-factory.bin"),
            dir,
        };
        std::fs::write(
            &image.path,
            image::sample::tp_link_firmware(0x0841_0009, 2 * 1024 * 1024),
        )?;
        Ok(image)
    }
}

impl Drop for DemoImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `--ram-boot`: an image `bootm` cannot start is refused before the run, with the fix.
fn check_bootable(inspection: &Inspection) -> Result<(), UsageError> {
    let mut head = [0u8; 4];
    let file = image::open_image_timed(&inspection.path).map_err(UsageError::from_source)?;
    let read = file.read_at(0, &mut head).unwrap_or(0);
    let head = &head[..read];
    crate::console::ram_boot::bootable(&inspection.format, head).map_err(|why| {
        UsageError::new(format!(
            "{}: {why}\n  fix: give the device's initramfs image (OpenWrt's `...-initramfs-kernel.bin`), or leave --ram-boot out to write this image with the profile's recipe",
            inspection.path.display()
        ))
    })
}

/// The image preflight: refuses what will not work, with the fix; offers (and with consent
/// writes) the stripped copy of a stock image that carries a bootloader.
fn check_image(
    path: &Path,
    profile: &Profile,
    yes: bool,
    front: &mut Front,
) -> Result<Inspection, UsageError> {
    let inspection = image::inspect(path, Some(profile)).map_err(UsageError::from_source)?;
    let mut lines = vec![format!(
        "image {}: {} bytes, sha256 {}, {}",
        inspection.path.display(),
        inspection.size,
        inspection.sha256,
        inspection.format
    )];
    for finding in &inspection.findings {
        let mark = match finding.severity {
            Severity::Ok => "ok",
            Severity::Warning => "warn",
            Severity::Fail => "FAIL",
        };
        let mut line = format!("  [{mark}] {}", finding.what);
        if let Some(fix) = &finding.fix {
            let _ = write!(line, "\n         fix: {fix}");
        }
        lines.push(line);
    }
    front.note(&lines.join("\n"));
    if let Some(offer) = &inspection.strip {
        let take = yes
            || ask(&format!(
                "{}\nwrite a copy without it to {} and flash that? (the original is not touched) [y/N] ",
                offer.reason,
                offer.copy.display()
            ));
        if !take {
            return Err(UsageError::new(format!(
                "{} must not be flashed as it is: {}\n  fix: answer yes (or add --yes) to flash a stripped copy written beside it",
                path.display(),
                offer.reason
            )));
        }
        let copy = image::write_stripped(&inspection).map_err(UsageError::from_source)?;
        front.note(&format!("wrote the stripped copy {}", copy.display()));
        return check_image(&copy, profile, yes, front);
    }
    let fails: Vec<String> = inspection
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| match &f.fix {
            Some(fix) => format!("{}\n  fix: {fix}", f.what),
            None => f.what.clone(),
        })
        .collect();
    if fails.is_empty() {
        Ok(inspection)
    } else {
        Err(UsageError::new(format!(
            "{} cannot be flashed to {}:\n{}",
            path.display(),
            profile.id,
            fails.join("\n")
        )))
    }
}

/// The question a plain run waits on the terminal for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// The network changes.
    Consent,
    /// The console's write of a proven image to the flash.
    Write,
}

/// Runs the engine, shows its events, forwards Ctrl-C, answers the consent question and the
/// console's write question (no terminal: no), says
/// where the report went, and maps the outcome to the exit status.
async fn drive(
    plan: crate::engine::Plan,
    environment: Environment,
    mut front: Front,
    report_path: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let mut signals = StopSignals::install()?;
    let mut run = running::start(plan, environment, report_path);
    let commands = &run.commands;
    let mut asking: Option<(Asked, tokio::task::JoinHandle<bool>)> = None;
    let ended = loop {
        tokio::select! {
            () = signals.requested() => {
                let _ = commands.send(Command::Cancel);
            }
            Some(event) = run.events.recv() => {
                front.show(&event);
                let on_terminal = std::io::stdin().is_terminal();
                match &event {
                    Event::ConsentNeeded { .. } if on_terminal => {
                        asking = Some((Asked::Consent, tokio::task::spawn_blocking(|| ask("Go ahead? [y/N] "))));
                    }
                    Event::ConsentNeeded { .. } => {
                        front.refused();
                        let _ = commands.send(Command::Refuse {
                            why: "there is no terminal to ask on.\n  fix: add --yes (or run on a terminal) to allow the changes (everything is undone when rescue-wizard ends)".into(),
                        });
                    }
                    Event::ConsoleWriteAsked { what, .. } if on_terminal => {
                        let question = format!("{what}? y to write, n to leave the flash as it is [y/N] ");
                        asking = Some((Asked::Write, tokio::task::spawn_blocking(move || ask(&question))));
                    }
                    Event::ConsoleWriteAsked { .. } => {
                        // Nobody to ask: the flash stays as it is, the image proven in RAM.
                        front.note("there is no terminal to ask on, so nothing is written to flash\n  fix: add --yes to write a proven image without asking");
                        let _ = commands.send(Command::ConfirmWrite(false));
                    }
                    _ => {}
                }
            }
            answer = async { match asking.as_mut() { Some((_, task)) => task.await, None => std::future::pending().await } } => {
                let yes = answer.unwrap_or(false);
                let command = match asking.take().map(|(asked, _)| asked) {
                    Some(Asked::Write) => Command::ConfirmWrite(yes),
                    _ if yes => Command::Approve,
                    _ => {
                        front.refused();
                        Command::Refuse { why: "the changes were declined".into() }
                    }
                };
                let _ = commands.send(command);
            }
            ended = &mut run.ended => break ended?,
        }
    };
    while let Ok(event) = run.events.try_recv() {
        front.show(&event);
    }
    let Ended { summary, report } = ended;
    match report {
        Some(Ok(path)) => front.show(&Event::ReportWritten { path }),
        Some(Err(err)) => eprintln!(
            "warning: the report could not be written to {}: {}\n  fix: give --report with a writable path",
            err.path.display(),
            err.source
        ),
        None => {}
    }
    conclude(
        summary.outcome,
        summary.refused.as_deref(),
        &summary.undo_failures,
    )
}

/// The exit status of a run that ended with `outcome`: a refusal is bad input, changes left
/// on the host are an error that says where the journal is.
pub(crate) fn conclude(
    outcome: RunOutcome,
    refused: Option<&str>,
    undo_failures: &[String],
) -> anyhow::Result<Outcome> {
    if let Some(why) = refused {
        return Err(UsageError::new(format!(
            "rescue-wizard needs to change the network and did not: {why}"
        ))
        .into());
    }
    if !undo_failures.is_empty() {
        anyhow::bail!(
            "some network changes could not be undone: {}; the next start of rescue-wizard retries (journal in {})",
            undo_failures.join("; "),
            state_dir().display()
        );
    }
    Ok(match outcome {
        RunOutcome::Flashed | RunOutcome::Transferred => Outcome::Done,
        RunOutcome::TimedOut => Outcome::NothingHappened,
        RunOutcome::Failed => Outcome::TransferFailed,
        RunOutcome::Interrupted => Outcome::Interrupted,
    })
}
