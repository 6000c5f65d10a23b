//! `rescue-wizard watch`: what the router says on the wire, and what that tells the
//! technician, until Ctrl-C or `--seconds`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::{StopSignals, find_profile};
use crate::cli::WatchArgs;
use crate::net::addr::{HostEvent, HostSetup};
use crate::net::iface::Ipv4Cidr;
use crate::net::journal::state_dir;
use crate::net::observe::{DEFAULT_AWAY_AFTER, Observer, PowerOnTiming, WireExpectation};
use crate::profile::Profile;
use crate::ui::checklist;
use crate::ui::watch::WatchLines;
use crate::{Outcome, UsageError};

/// `rescue-wizard watch`: one line per wire event and per finding, until Ctrl-C or
/// `--seconds` have passed.
pub(super) async fn watch_wire(args: WatchArgs) -> anyhow::Result<Outcome> {
    use crate::net::observe::Remedy;
    use crate::net::watch::{self, WatchError};

    let profile = find_profile(args.device.as_deref(), None)?;
    let mut observer = observer_for(&args.interface, profile.as_ref());
    let mut signals = StopSignals::install()?;
    let capture = match &args.capture {
        Some(path) => {
            Some(crate::net::pcap::PcapWriter::create(path).map_err(UsageError::from_source)?)
        }
        None => None,
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let started = watch::start_capturing(&args.interface, events_tx, Arc::clone(&stop), capture);
    if started.is_err()
        && let Some(path) = &args.capture
    {
        // Nothing was captured: leave no empty file behind.
        let _ = std::fs::remove_file(path);
    }
    let thread = match started {
        Ok(thread) => thread,
        Err(err @ (WatchError::NoSuchInterface { .. } | WatchError::NotPermitted { .. })) => {
            return Err(UsageError::from_source(err).into());
        }
        Err(err) => return Err(err.into()),
    };
    println!("watching {}", args.interface);
    let start = SystemTime::now();
    if args.powered_on {
        observer.router_powered(start);
    }
    let lines = WatchLines::new(args.json, start);
    let deadline = args
        .seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let until_deadline = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let (host_tx, mut host_events) = mpsc::unbounded_channel();
    // One adoption per watch: held until the watch ends, undone on every way out.
    let mut adopted: Option<HostSetup> = None;
    let adopt_prefix = crate::settings::layer(
        None,
        profile.as_ref().and_then(|p| p.host).map(|h| h.prefix),
        crate::settings::HOST_PREFIX,
    );
    loop {
        tokio::select! {
            () = signals.requested() => break,
            () = &mut until_deadline => break,
            Some(event) = host_events.recv() => checklist::show_host_event(&event),
            _ = ticks.tick() => {
                let now = SystemTime::now();
                for finding in observer.tick(now) {
                    lines.finding(now, &finding);
                }
            }
            seen = events.recv() => {
                let Some(seen) = seen else { break };
                lines.wire(&seen);
                for finding in observer.observe(&seen) {
                    lines.finding(seen.at, &finding);
                    if let (true, None, Some(Remedy::AdoptAddress { addr })) = (args.adopt, &adopted, finding.remedy()) {
                        adopted = adopt(&args.interface, Ipv4Cidr::new(addr, adopt_prefix), host_tx.clone());
                    }
                }
            }
        }
    }
    if let Some(setup) = adopted {
        setup.undo();
        while let Ok(event) = host_events.try_recv() {
            checklist::show_host_event(&event);
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(events);
    let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
    if let Some(path) = &args.capture {
        println!("capture written to {}", path.display());
    }
    match joined {
        Ok(Ok(())) => Ok(Outcome::Done),
        Ok(Err(err)) => Err(anyhow::anyhow!("reading {} failed: {err}", args.interface)),
        Err(_) => Err(anyhow::anyhow!("the capture thread panicked")),
    }
}

/// Carries out the "adopt the address the router asks for" remedy on `interface`; a failure
/// is reported and the watch goes on.
fn adopt(
    interface: &str,
    cidr: Ipv4Cidr,
    events: mpsc::UnboundedSender<HostEvent>,
) -> Option<HostSetup> {
    HostSetup::adopt(interface, cidr, &state_dir(), events).unwrap_or_else(|err| {
        eprintln!("could not adopt {cidr}: {err}");
        None
    })
}

/// What the watch expects of the router: this port's addresses, and the device's addresses,
/// file names and power-on timing when one was named.
fn observer_for(interface: &str, profile: Option<&Profile>) -> Observer {
    let ours = crate::net::iface::list()
        .into_iter()
        .find(|i| i.name == interface)
        .map(|i| i.ipv4.iter().map(|a| a.addr).collect())
        .unwrap_or_default();
    let expect = WireExpectation {
        ours,
        host: profile.and_then(|p| p.host.map(|h| h.address)),
        router: profile.and_then(|p| p.router),
        files: profile
            .map(|p| {
                p.filename
                    .iter()
                    .chain(&p.alternate_filenames)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    };
    let timing = profile.map_or_else(PowerOnTiming::default, |p| {
        PowerOnTiming::from_steps(&p.steps)
    });
    Observer::new(expect, DEFAULT_AWAY_AFTER).with_power_on(timing)
}
