//! DHCP or BOOTP, then a pull (Xiaomi's recovery, `MikroTik` etherboot, U-Boot's `dhcp` and
//! `bootp`): our responder on the port gives the router its address, our address as `siaddr`
//! and the boot file, and its bootloader pulls the boot file from our TFTP server, which serves
//! the image under any name asked (docs/dhcp.md).
//!
//! Every rule of who gets what is [`crate::dhcp::lease`] (sans-I/O); here are the strategy in
//! the run ([`Dhcp`]), what the run makes of the responder's events ([`on_event`], pure), and
//! the thin driver ([`start`]): the responder's task on the run's runtime.

use std::collections::VecDeque;
use std::io;

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{LegFailure, Method};
use crate::dhcp::lease::{LeaseConfig, LeaseEvent, Protocol};
use crate::dhcp::probe::Answered;
use crate::dhcp::server::{BindError, DhcpServer};
use crate::engine::event::{Event, RunOutcome};
use crate::engine::plan::{OtherDhcp, Plan, Transfer};
pub use crate::engine::run::exchange::DhcpEvent;
use crate::engine::run::exchange::{Effect, Input};
use crate::net::io_failure::IoFailure;

/// The DHCP/BOOTP strategy: the responder comes up first and probes the port for another DHCP
/// server; once none answered (or `--allow-other-dhcp` says to go on), our TFTP server comes
/// up and the router is switched on; it asks for its address, then pulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp {
    /// The boot file the router is given.
    pub boot_file: String,
    /// What it asks by: BOOTP or DHCP.
    pub protocol: Protocol,
}

impl Method for Dhcp {
    fn awaits(&self) -> String {
        format!(
            "the router's {} request, then its request for {}",
            self.protocol.name(),
            self.boot_file
        )
    }

    fn serves(&self) -> bool {
        true
    }

    // The bootloader asks for its address within a second of power-on and gives up after a
    // few tries (U-Boot's `net/bootp.c` retries for about 28 s): both servers are up before
    // the technician is told to switch it on. The TFTP server (and with it the self-test and
    // the wait) follows the end of the responder's probe: a router switched on while another
    // DHCP server answers may take that server's lease and never ask us ([`on_event`]).
    fn prepare(&self) -> Vec<Effect> {
        vec![Effect::StartDhcp]
    }

    fn on_waiting(&self) -> Vec<Effect> {
        Vec::new()
    }
}

/// What the run makes of one responder event: what to do (events to show; once the probe is
/// over, the TFTP server to start), and how the run ends when this ends it. Pure: the machine
/// calls it from its one DHCP arm.
pub fn on_event(event: DhcpEvent, plan: &Plan) -> (Vec<Effect>, Option<RunOutcome>) {
    if let DhcpEvent::Lease(LeaseEvent::Probed { listened, answered }) = &event {
        let allow = matches!(&plan.transfer, Transfer::Dhcp { lease, .. } if lease.other_servers == OtherDhcp::Warn);
        return probed(*listened, answered, allow);
    }
    let (events, end) = news(event);
    (events.into_iter().map(Effect::Emit).collect(), end)
}

/// The probe's end: each server that answered named, then the run stops (before the router is
/// switched on) unless `allow` says to go on; going on starts our TFTP server.
fn probed(listened: bool, answered: &[Answered], allow: bool) -> (Vec<Effect>, Option<RunOutcome>) {
    let mut out: Vec<Effect> = answered
        .iter()
        .map(|server| {
            let mac = server.mac.map(|m| format!(" ({m})")).unwrap_or_default();
            Effect::Emit(Event::DhcpOtherServer {
                address: server.server,
                mac: server.mac.map(|m| m.to_string()),
                said: format!(
                    "another DHCP server answers on this port: {}{mac}, it offered {} to rescue-wizard's probe",
                    server.server, server.offered
                ),
            })
        })
        .collect();
    let found = LeaseEvent::Probed {
        listened,
        answered: answered.to_vec(),
    }
    .to_string();
    let stop = !answered.is_empty() && !allow;
    let said = if answered.is_empty() {
        found
    } else if stop {
        format!(
            "{found}.\n  The run stops here, before the router is switched on. To go on anyway (the router may still take the other server's lease), run again with --allow-other-dhcp"
        )
    } else {
        format!("{found}.\n  Going on, as --allow-other-dhcp asks")
    };
    out.push(Effect::Emit(Event::DhcpProbed {
        answered: answered.iter().map(|a| a.server).collect(),
        stopped: stop,
        said,
    }));
    if stop {
        return (out, Some(RunOutcome::Failed));
    }
    out.push(Effect::StartServer);
    (out, None)
}

/// What the run shows of any other responder event, and how the run ends when it ends it.
fn news(event: DhcpEvent) -> (Vec<Event>, Option<RunOutcome>) {
    let notice = |what: String| Event::NetworkNoticed { what };
    match event {
        DhcpEvent::BindFailed(reason) => (
            vec![Event::TransferFailed {
                peer: None,
                reason: format!("the DHCP/BOOTP responder cannot start: {reason}"),
            }],
            Some(RunOutcome::Failed),
        ),
        DhcpEvent::Unwatched(reason) => (vec![notice(reason)], None),
        DhcpEvent::Stopped(reason) => (
            vec![notice(format!(
                "the DHCP/BOOTP responder stopped ({reason}): a router that asks for an address again gets no answer"
            ))],
            None,
        ),
        DhcpEvent::Lease(LeaseEvent::Gave {
            client,
            address,
            vendor_class,
            boot_file,
            protocol,
        }) => (
            vec![Event::DhcpLeased {
                client: client.to_string(),
                address,
                vendor_class,
                boot_file,
                bootp: protocol == Protocol::Bootp,
            }],
            None,
        ),
        DhcpEvent::Lease(other @ LeaseEvent::OtherServer { address, mac, .. }) => (
            vec![Event::DhcpOtherServer {
                address,
                mac: mac.map(|m| m.to_string()),
                said: other.to_string(),
            }],
            None,
        ),
        DhcpEvent::Lease(other) => (vec![notice(format!("DHCP: {other}"))], None),
    }
}

/// The responder's configuration for `plan`, if it is a DHCP plan on a port with an address.
pub fn config(plan: &Plan) -> Result<(String, LeaseConfig), LegFailure> {
    let Transfer::Dhcp { lease, .. } = &plan.transfer else {
        return Err(LegFailure::Unplanned("the run is not a DHCP/BOOTP run"));
    };
    let port = plan
        .port
        .as_ref()
        .ok_or(LegFailure::Unplanned("the run has no port to answer on"))?;
    let host = plan.host.ok_or(LegFailure::Unplanned(
        "the run has no address to answer from",
    ))?;
    let config = lease.config(host)?;
    Ok((port.name.clone(), config))
}

/// The responder, running: its news for the run, and the task to stop at the end.
#[derive(Debug)]
pub struct Running {
    early: VecDeque<DhcpEvent>,
    leases: Option<UnboundedReceiver<LeaseEvent>>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// The next input for the run; `None` once the responder ended and said why.
    pub async fn recv(&mut self) -> Option<Input> {
        if let Some(event) = self.early.pop_front() {
            return Some(Input::Dhcp(event));
        }
        let leases = self.leases.as_mut()?;
        if let Some(event) = leases.recv().await {
            return Some(Input::Dhcp(DhcpEvent::Lease(event)));
        }
        self.leases = None;
        let task = self.task.take()?;
        let reason = match task.await {
            Ok(Ok(())) => return None,
            Ok(Err(err)) => IoFailure::from(&err),
            // The task panicked or was cancelled: tokio's JoinError is no system error, but
            // it converts into one of kind `Other` with the same words (tokio's From impl).
            Err(err) => IoFailure::from(io::Error::from(err)),
        };
        Some(Input::Dhcp(DhcpEvent::Stopped(reason)))
    }

    /// Stops the responder and waits for it: nothing answers on the port afterwards.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Receives from `running`, or never resolves when there is none.
pub async fn recv(running: Option<&mut Running>) -> Option<Input> {
    match running {
        Some(running) => running.recv().await,
        None => std::future::pending().await,
    }
}

/// Starts the responder for `plan` on its port: every event comes back as an [`Input::Dhcp`],
/// a failure to start first of all. Call from inside the run's tokio runtime.
pub fn start(plan: &Plan) -> Running {
    let mut running = Running {
        early: VecDeque::new(),
        leases: None,
        stop: None,
        task: None,
    };
    let bound = config(plan).and_then(|(port, config)| {
        DhcpServer::bind(&port, config).map_err(|err| bind_failure(&err))
    });
    match bound {
        Ok(server) => {
            if let Some(why) = server.watch_error() {
                running
                    .early
                    .push_back(DhcpEvent::Unwatched(why.to_owned()));
            }
            let (events, leases) = unbounded_channel();
            let (stop, stopped) = watch::channel(false);
            running.task = Some(tokio::spawn(server.run(events, stopped)));
            running.leases = Some(leases);
            running.stop = Some(stop);
        }
        Err(reason) => running.early.push_back(DhcpEvent::BindFailed(reason)),
    }
    running
}

/// The responder's refusal as its news: the words the technician reads (with their fix), and
/// the kind of the system's refusal beneath them (dhcp/server.rs files `EADDRINUSE` under
/// `PortTaken` and `EACCES` under `NotPermitted`).
fn bind_failure(err: &BindError) -> LegFailure {
    let kind = match err {
        BindError::PortTaken { source, .. }
        | BindError::NotPermitted { source, .. }
        | BindError::Io { source, .. } => source.kind(),
        BindError::Unsupported => io::ErrorKind::Unsupported,
    };
    LegFailure::Io(IoFailure::new(kind, err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::lease::{Ignored, OtherServerSeen};
    use crate::net::wire::Mac;
    use std::net::Ipv4Addr;

    const MAC: Mac = Mac([0x8c, 0xde, 0xf9, 0x01, 0x02, 0x03]);

    #[test]
    fn a_lease_is_shown_as_who_got_what() {
        let (events, end) = news(DhcpEvent::Lease(LeaseEvent::Gave {
            client: MAC,
            address: Ipv4Addr::new(192, 168, 31, 100),
            vendor_class: Some("Mips_boot".into()),
            boot_file: "test.bin".into(),
            protocol: Protocol::Dhcp,
        }));
        assert_eq!(end, None);
        assert_eq!(
            events[0].to_string(),
            "gave 192.168.31.100 to 8c:de:f9:01:02:03, a Mips_boot loader, boot file test.bin"
        );
    }

    #[test]
    fn another_server_is_named_as_a_warning() {
        let (events, end) = news(DhcpEvent::Lease(LeaseEvent::OtherServer {
            address: Ipv4Addr::new(192, 168, 31, 254),
            mac: Some(Mac([2, 0, 0, 0, 0, 9])),
            seen: OtherServerSeen::Reply {
                kind: Some("DHCPOFFER".into()),
                client: Some(MAC),
                gave: Ipv4Addr::new(192, 168, 31, 50),
            },
        }));
        assert_eq!(end, None);
        let Event::DhcpOtherServer { address, mac, said } = &events[0] else {
            panic!("{events:?}");
        };
        assert_eq!(*address, Ipv4Addr::new(192, 168, 31, 254));
        assert_eq!(mac.as_deref(), Some("02:00:00:00:00:09"));
        assert!(said.contains("unplug it or stop it"), "{said}");
    }

    fn rival() -> Answered {
        Answered {
            server: Ipv4Addr::new(192, 168, 31, 254),
            mac: Some(Mac([2, 0, 0, 0, 0, 9])),
            offered: Ipv4Addr::new(192, 168, 31, 50),
        }
    }

    fn emitted(effects: &[Effect]) -> Vec<&Event> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Emit(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_clear_probe_starts_the_tftp_server() {
        let (effects, end) = probed(true, &[], false);
        assert_eq!(end, None);
        assert_eq!(effects.last(), Some(&Effect::StartServer));
        let Event::DhcpProbed {
            answered,
            stopped,
            said,
        } = emitted(&effects)[0]
        else {
            panic!("{effects:?}");
        };
        assert!(answered.is_empty() && !stopped);
        assert_eq!(
            said,
            "no other DHCP server answered a probe on this port within 5 s"
        );
        // A probe that could not listen does not stop the run either (it was said why).
        let (effects, end) = probed(false, &[], false);
        assert_eq!((effects.last(), end), (Some(&Effect::StartServer), None));
    }

    #[test]
    fn another_server_answering_the_probe_stops_the_run_before_the_router_is_on() {
        let (effects, end) = probed(true, &[rival()], false);
        assert_eq!(end, Some(RunOutcome::Failed));
        assert!(!effects.contains(&Effect::StartServer), "{effects:?}");
        let events = emitted(&effects);
        let Event::DhcpOtherServer { address, mac, said } = events[0] else {
            panic!("{events:?}");
        };
        assert_eq!(*address, Ipv4Addr::new(192, 168, 31, 254));
        assert_eq!(mac.as_deref(), Some("02:00:00:00:00:09"));
        assert!(
            said.contains("offered 192.168.31.50 to rescue-wizard's probe"),
            "{said}"
        );
        let Event::DhcpProbed { stopped, said, .. } = events[1] else {
            panic!("{events:?}");
        };
        assert!(stopped);
        assert!(
            said.starts_with("another DHCP server answered rescue-wizard's probe on this port: 192.168.31.254 (02:00:00:00:00:09) offered 192.168.31.50. Switch off the other DHCP server on this segment, or unplug this computer from the LAN: the router may take its lease and never ask us"),
            "{said}"
        );
        assert!(said.contains("run again with --allow-other-dhcp"), "{said}");
    }

    #[test]
    fn allowed_another_server_is_named_and_the_run_goes_on() {
        let (effects, end) = probed(true, &[rival()], true);
        assert_eq!(end, None);
        assert_eq!(effects.last(), Some(&Effect::StartServer));
        let events = emitted(&effects);
        assert!(matches!(events[0], Event::DhcpOtherServer { .. }));
        let Event::DhcpProbed { stopped, said, .. } = events[1] else {
            panic!("{events:?}");
        };
        assert!(!stopped);
        assert!(
            said.ends_with("Going on, as --allow-other-dhcp asks"),
            "{said}"
        );
    }

    #[test]
    fn the_responders_refusal_and_its_stop_keep_their_kind_and_their_words() {
        let taken = BindError::PortTaken {
            interface: "enp3s0".into(),
            port: 67,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let failure = bind_failure(&taken);
        assert_eq!(failure.io_kind(), Some(io::ErrorKind::AddrInUse));
        let (events, _) = news(DhcpEvent::BindFailed(failure));
        let [Event::TransferFailed { reason, .. }] = &events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(
            reason,
            &format!("the DHCP/BOOTP responder cannot start: {taken}")
        );
        let down = io::Error::from(io::ErrorKind::NetworkDown);
        let (events, end) = news(DhcpEvent::Stopped(IoFailure::from(&down)));
        assert_eq!(end, None);
        let [Event::NetworkNoticed { what }] = &events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(
            what,
            &format!(
                "the DHCP/BOOTP responder stopped ({down}): a router that asks for an address again gets no answer"
            )
        );
    }

    #[test]
    fn the_responder_comes_up_first_and_the_tftp_server_after_its_probe() {
        let method = Dhcp {
            boot_file: "test.bin".into(),
            protocol: Protocol::Dhcp,
        };
        assert_eq!(method.prepare(), vec![Effect::StartDhcp]);
    }

    #[test]
    fn a_responder_that_cannot_start_fails_the_run_with_its_reason() {
        let taken = BindError::PortTaken {
            interface: "enp3s0".into(),
            port: 67,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let (events, end) = news(DhcpEvent::BindFailed(bind_failure(&taken)));
        assert_eq!(end, Some(RunOutcome::Failed));
        assert!(events[0].to_string().contains("port 67 is taken"));
        let (events, end) = news(DhcpEvent::Lease(LeaseEvent::Ignored {
            client: Some(MAC),
            vendor_class: None,
            why: Ignored::NotEthernet,
        }));
        assert_eq!(end, None);
        assert!(matches!(events[0], Event::NetworkNoticed { .. }));
    }
}
