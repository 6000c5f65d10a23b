//! Carries out a [`Plan`]: preflight, network setup, self-test, the wait for the router, the
//! transfer, the flashing watch, and the restore. Everything it does becomes one [`Event`]
//! stream; front-ends steer it with [`Command`]s.
//!
//! The host's network is restored on every way out: the end of the run, a failure, a
//! [`Command::Cancel`], and (through [`HostSetup`]'s own drop and journal) a panic or a kill.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::checklist::{self, Evidence, Item};
use super::event::{Command, Event, Phase, RunOutcome};
use super::plan::{Plan, Transfer};
use super::simulate::SimulatedRouter;
use crate::net::addr::{HostEvent, HostSetup};
use crate::net::check::{self, Expectation as HostExpectation, HostFacts, Verdict};
use crate::net::iface::Ipv4Cidr;
use crate::net::observe::{DEFAULT_AWAY_AFTER, Expectation, Finding, Observer, PowerOnTiming};
use crate::net::wire::{ArpKind, EchoKind, Seen, WireEvent};
use crate::tftp::client::{self, ClientConfig, ClientError, Transferred};
use crate::tftp::event::{RequestKind, TransferEvent, TransferId};
use crate::tftp::options::OptionPolicy;
use crate::tftp::server::{Server, ServerConfig, Source};
use crate::tftp::session::Rollover;

/// After the expected flashing time, how much longer to watch for the router coming back.
const FLASH_GRACE: Duration = Duration::from_mins(1);

/// Where the run gets its view of the wire and its router from.
pub enum Environment {
    /// A real port: changes to the host, a capture on the port, ARP probes.
    Host {
        /// Where the undo journal lives.
        state_dir: PathBuf,
        /// The technician approved the network changes already (`--yes`, or the wizard's
        /// confirmation); otherwise the run asks with [`Event::ConsentNeeded`] and waits
        /// for [`Command::Approve`] or [`Command::Refuse`].
        approved: bool,
        /// When the router asks for another server address, take it without asking.
        adopt: bool,
    },
    /// Loopback with a simulated bootloader: nothing on the host changes.
    Simulated(SimulatedRouter),
}

/// How a run ended, with what the report needs.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The outcome.
    pub outcome: RunOutcome,
    /// Every event with its time since the start.
    pub timeline: Vec<(Duration, Event)>,
    /// When the run started.
    pub started: SystemTime,
    /// The checklist at the end.
    pub checklist: Vec<Item>,
    /// Network changes made, in words.
    pub changes_made: Vec<String>,
    /// Network changes undone, in words.
    pub changes_undone: Vec<String>,
    /// Changes that could not be undone.
    pub undo_failures: Vec<String>,
    /// The approval was refused: nothing was changed (bad input rather than a failure).
    pub refused: Option<String>,
}

/// Runs `plan` in `environment` until it ends, sending every event to `events`.
pub async fn run(
    plan: Plan,
    environment: Environment,
    events: mpsc::UnboundedSender<Event>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> Summary {
    let mut run = Run::new(plan, events, commands);
    let outcome = run.go(environment).await;
    run.finish(outcome).await
}

/// What woke the run's loop.
enum Woke {
    Command(Option<Command>),
    Host(HostEvent),
    Wire(Seen),
    Tftp(TransferEvent),
    Pushed(Result<Result<Transferred, ClientError>, tokio::task::JoinError>),
    Probed(Ipv4Addr),
    Tick,
}

/// Receives from `rx`, or never resolves when there is none.
async fn recv_or_pend<T>(rx: Option<&mut mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What a phase's end means for the run.
enum Next {
    Continue,
    End(RunOutcome),
}

struct Run {
    plan: Plan,
    events: mpsc::UnboundedSender<Event>,
    commands: mpsc::UnboundedReceiver<Command>,
    started: Instant,
    started_at: SystemTime,
    timeline: Vec<(Duration, Event)>,
    phase: Phase,
    evidence: Evidence,
    setup: Option<HostSetup>,
    adopted: Vec<HostSetup>,
    /// Where the undo journal lives (none in a simulated run, which changes nothing).
    state_dir: Option<PathBuf>,
    host_tx: mpsc::UnboundedSender<HostEvent>,
    host_rx: mpsc::UnboundedReceiver<HostEvent>,
    changes_made: Vec<String>,
    changes_undone: Vec<String>,
    undo_failures: Vec<String>,
    refused: Option<String>,
    server_stop: Option<watch::Sender<bool>>,
    server_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    capture_stop: Arc<AtomicBool>,
    capture: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// The live state of the wait, transfer and flashing phases.
struct Live {
    observer: Observer,
    wire: Option<mpsc::UnboundedReceiver<Seen>>,
    tftp: mpsc::UnboundedReceiver<TransferEvent>,
    ours: Vec<Ipv4Addr>,
    /// Transfers the router started: id to (peer, name).
    transfers: HashMap<TransferId, (SocketAddr, String)>,
    /// Transfers of the self-test, whose events are not the router's.
    own: BTreeSet<TransferId>,
    started: HashMap<TransferId, Instant>,
    waiting_since: Instant,
    last_activity: Instant,
    stall_reported: bool,
    /// Steps shown so far.
    steps_shown: usize,
    /// When the next step is due (the last shown step's seconds have passed).
    next_step_at: Option<Instant>,
    /// The checklist as last sent.
    checklist: Vec<Item>,
    flashing_since: Option<Instant>,
    router_left: bool,
    adopt: bool,
    push: Option<tokio::task::JoinHandle<Result<Transferred, ClientError>>>,
    push_stop: Arc<AtomicBool>,
    prober: Option<mpsc::UnboundedReceiver<Ipv4Addr>>,
    prober_stop: Arc<AtomicBool>,
    simulated: Option<SimulatedRouter>,
}

impl Run {
    fn new(
        plan: Plan,
        events: mpsc::UnboundedSender<Event>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        let (host_tx, host_rx) = mpsc::unbounded_channel();
        let evidence = Evidence {
            push: !plan.serves(),
            image: Some((plan.image.path.clone(), plan.image.size)),
            interface: plan.port.as_ref().map(|p| p.name.clone()),
            carrier: plan.port.as_ref().map(|p| p.carrier),
            host: plan.host.map(|h| h.addr),
            router: plan.router,
            ..Evidence::default()
        };
        Self {
            plan,
            events,
            commands,
            started: Instant::now(),
            started_at: SystemTime::now(),
            timeline: Vec::new(),
            phase: Phase::Preflight,
            evidence,
            setup: None,
            adopted: Vec::new(),
            state_dir: None,
            host_tx,
            host_rx,
            changes_made: Vec::new(),
            changes_undone: Vec::new(),
            undo_failures: Vec::new(),
            refused: None,
            server_stop: None,
            server_task: None,
            capture_stop: Arc::new(AtomicBool::new(false)),
            capture: None,
        }
    }

    fn emit(&mut self, event: Event) {
        self.timeline.push((self.started.elapsed(), event.clone()));
        let _ = self.events.send(event);
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.emit(Event::PhaseStarted { phase });
    }

    async fn go(&mut self, environment: Environment) -> RunOutcome {
        let plan = &self.plan;
        let planned = Event::Planned {
            device: plan.device.clone(),
            model: plan.model.clone(),
            method: plan.method.to_string(),
            interface: plan.port.as_ref().map(|p| p.name.clone()),
            host: plan.host.map(|h| h.to_string()),
            router: plan.router,
            file: plan.file().map(str::to_owned),
            image: plan.image.path.clone(),
            size: plan.image.size,
            sha256: plan.image.sha256.clone(),
        };
        self.emit(planned);
        self.enter(Phase::Preflight);
        let (simulated, adopt) = match environment {
            Environment::Host {
                state_dir,
                approved,
                adopt,
            } => {
                if let Next::End(outcome) = self.preflight() {
                    return outcome;
                }
                self.state_dir = Some(state_dir.clone());
                if let Next::End(outcome) = self.network(&state_dir, approved).await {
                    return outcome;
                }
                (None, adopt)
            }
            Environment::Simulated(router) => {
                self.emit(Event::Checked {
                    check: check::Check {
                        item: "simulated run".into(),
                        verdict: Verdict::Pass,
                        detail: "loopback only: nothing on this computer changes".into(),
                        fix: None,
                    },
                });
                (Some(router), false)
            }
        };
        let (tftp_tx, tftp_rx) = mpsc::unbounded_channel();
        let mut own = BTreeSet::new();
        let mut server_addr = None;
        if self.plan.serves() {
            match self.start_server(tftp_tx.clone()) {
                Ok(addr) => server_addr = Some(addr),
                Err(outcome) => return outcome,
            }
        }
        let mut tftp_rx = tftp_rx;
        if let Some(addr) = server_addr {
            self.enter(Phase::SelfTest);
            if let Next::End(outcome) = self.self_test(addr, &mut tftp_rx, &mut own).await {
                return outcome;
            }
        }
        let mut live = self.start_watch(simulated, adopt, tftp_rx, own);
        self.wait_transfer_flash(&mut live, server_addr, tftp_tx)
            .await
    }

    /// Reports the host checks; stops only on what the run cannot work around.
    fn preflight(&mut self) -> Next {
        let Some(port) = self.plan.port.clone() else {
            return Next::Continue;
        };
        let facts = HostFacts::gather();
        let Some(iface) = facts.interfaces.iter().find(|i| i.name == port.name) else {
            return self.fail_preflight(&format!("the port {} is gone", port.name));
        };
        let expect = HostExpectation {
            host: self.plan.host,
            router: self.plan.router,
            listens: self.plan.serves(),
        };
        let checks = check::run_with_firewall(&facts, iface, &expect);
        let mut blocking = Vec::new();
        let fixes_address = self.plan.network.as_ref().is_some_and(|n| n.add.is_some());
        let fixes_link = self.plan.network.as_ref().is_some_and(|n| n.link_up);
        for mut check in checks {
            // What the network step is about to set up is not a failure of the technician's.
            let set_up_next = (fixes_address && check.item.starts_with("address "))
                || (fixes_link
                    && check.item.starts_with("link ")
                    && check.detail.contains("switched off"));
            if set_up_next && check.verdict == Verdict::Fail {
                check.verdict = Verdict::Warn;
                check.detail.push_str("; the next step sets this up");
                check.fix = None;
            }
            // The address and the link are what the network step sets up; a missing link
            // is normal while the router is off.
            let fatal = check.verdict == Verdict::Fail
                && (check.item == "privileges"
                    || check.item == "UDP port 69"
                    || check.item.starts_with("firewall"));
            if fatal {
                blocking.push(format!(
                    "{}: {}{}",
                    check.item,
                    check.detail,
                    check
                        .fix
                        .as_ref()
                        .map(|f| format!("\n  fix: {f}"))
                        .unwrap_or_default()
                ));
            }
            self.emit(Event::Checked { check });
        }
        if blocking.is_empty() {
            Next::Continue
        } else {
            self.fail_preflight(&blocking.join("\n"))
        }
    }

    fn fail_preflight(&mut self, reason: &str) -> Next {
        self.emit(Event::TransferFailed {
            peer: None,
            reason: format!("preflight: {reason}"),
        });
        Next::End(RunOutcome::Failed)
    }

    async fn network(&mut self, state_dir: &std::path::Path, approved: bool) -> Next {
        self.enter(Phase::Network);
        let Some(network) = self.plan.network.clone() else {
            self.emit(Event::NetworkNoticed {
                what: "the port already has the rescue address: nothing to change".into(),
            });
            return Next::Continue;
        };
        if !approved {
            self.emit(Event::ConsentNeeded {
                changes: network.describe(),
            });
            loop {
                match self.commands.recv().await {
                    Some(Command::Approve) => break,
                    Some(Command::Refuse { why }) => {
                        self.refused = Some(why);
                        return Next::End(RunOutcome::Failed);
                    }
                    Some(Command::Cancel) | None => return self.interrupted(),
                    Some(_) => {}
                }
            }
        }
        match HostSetup::apply(&network, state_dir, self.host_tx.clone()) {
            Ok(setup) => {
                self.setup = Some(setup);
                self.drain_host_events();
                Next::Continue
            }
            Err(err) => {
                self.drain_host_events();
                self.emit(Event::TransferFailed {
                    peer: None,
                    reason: format!("the network could not be set up: {err}"),
                });
                Next::End(RunOutcome::Failed)
            }
        }
    }

    fn drain_host_events(&mut self) {
        while let Ok(event) = self.host_rx.try_recv() {
            self.host_event(event);
        }
    }

    fn host_event(&mut self, event: HostEvent) {
        let event = match event {
            HostEvent::Changed(change) => {
                self.changes_made.push(change.to_string());
                Event::NetworkChanged {
                    change: change.to_string(),
                }
            }
            HostEvent::Undone(change) => {
                self.changes_undone.push(change.to_string());
                Event::NetworkRestored {
                    change: change.to_string(),
                }
            }
            HostEvent::UndoFailed { change, error } => {
                self.undo_failures.push(format!("{change}: {error}"));
                Event::NetworkRestoreFailed {
                    change: change.to_string(),
                    error,
                }
            }
            HostEvent::AddressRestored { ifname, cidr } => Event::NetworkNoticed {
                what: format!("something removed {cidr} from {ifname}; it was put back"),
            },
            HostEvent::LinkRestored { ifname } => Event::NetworkNoticed {
                what: format!("something took {ifname} down; it was brought up again"),
            },
            HostEvent::Carrier { ifname, present } => {
                self.evidence.carrier = Some(present);
                Event::NetworkNoticed {
                    what: if present {
                        format!("{ifname}: link up (cable in, router powered)")
                    } else {
                        format!("{ifname}: link lost (router off or rebooting, or cable out)")
                    },
                }
            }
            HostEvent::LeftoversCleaned(changes) => Event::NetworkNoticed {
                what: format!(
                    "undone what a previous run left: {}",
                    changes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        };
        self.emit(event);
    }

    fn start_server(
        &mut self,
        tftp_tx: mpsc::UnboundedSender<TransferEvent>,
    ) -> Result<SocketAddr, RunOutcome> {
        let Transfer::Serve {
            bind,
            options,
            max_blksize,
            max_windowsize,
            rollover_to_one,
            next_block,
            ..
        } = self.plan.transfer.clone()
        else {
            return Err(RunOutcome::Failed);
        };
        let mut config = ServerConfig::new(Source::Image {
            path: self.plan.image.path.clone(),
            any_name: true,
        });
        config.options = OptionPolicy {
            enabled: options,
            max_blksize,
            max_windowsize,
            strict: false,
        };
        if rollover_to_one {
            config.rollover = Rollover::One;
        }
        config.timing.resend_next_block = next_block;
        let server = match Server::bind(bind, config) {
            Ok(server) => server,
            Err(err) => {
                self.emit(Event::TransferFailed {
                    peer: None,
                    reason: format!("the TFTP server could not start: {err}"),
                });
                return Err(RunOutcome::Failed);
            }
        };
        let addr = server.local_addr();
        let (stop_tx, stop_rx) = watch::channel(false);
        self.server_task = Some(tokio::spawn(server.run(tftp_tx, stop_rx)));
        self.server_stop = Some(stop_tx);
        self.evidence.listening = Some(addr);
        self.emit(Event::Listening { addr });
        Ok(addr)
    }

    /// Fetches the image from our own server through the address the router will use, and
    /// compares it byte for byte (by sha256).
    async fn self_test(
        &mut self,
        addr: SocketAddr,
        tftp_rx: &mut mpsc::UnboundedReceiver<TransferEvent>,
        own: &mut BTreeSet<TransferId>,
    ) -> Next {
        let target = if addr.ip().is_unspecified() {
            match self.plan.host {
                Some(host) => SocketAddr::new(IpAddr::V4(host.addr), addr.port()),
                None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
            }
        } else {
            addr
        };
        let dir =
            std::env::temp_dir().join(format!("rescue-wizard-self-test-{}", std::process::id()));
        let output = dir.join("image");
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(err) = std::fs::create_dir_all(&dir) {
            return self.self_test_failed(format!(
                "cannot create {} for the fetched copy: {err}",
                dir.display()
            ));
        }
        let name = self.plan.file().unwrap_or("self-test").to_owned();
        let (client_tx, _client_rx) = mpsc::unbounded_channel();
        let config = ClientConfig {
            wait: Duration::from_secs(5),
            ..ClientConfig::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let fetched = client::get(target, name, output, config, client_tx, stop).await;
        let _ = std::fs::remove_dir_all(&dir);
        // Every request the server has seen so far is ours (the self-test's).
        while let Ok(event) = tftp_rx.try_recv() {
            if let TransferEvent::RequestReceived { id, .. } = event {
                own.insert(id);
            }
        }
        match fetched {
            Ok(done) if done.sha256 == self.plan.image.sha256 => {
                self.evidence.self_test = Some(Ok(()));
                self.emit(Event::SelfTestPassed {
                    bytes: done.bytes,
                    took: done.elapsed,
                });
                Next::Continue
            }
            Ok(done) => self.self_test_failed(format!(
                "the server handed out {} bytes with sha256 {}, not the image's {}: the file changed while being read",
                done.bytes, done.sha256, self.plan.image.sha256
            )),
            Err(err) => self.self_test_failed(err.to_string()),
        }
    }

    fn self_test_failed(&mut self, reason: String) -> Next {
        self.evidence.self_test = Some(Err(reason.clone()));
        self.emit(Event::SelfTestFailed { reason });
        Next::End(RunOutcome::Failed)
    }

    fn start_watch(
        &mut self,
        simulated: Option<SimulatedRouter>,
        adopt: bool,
        tftp: mpsc::UnboundedReceiver<TransferEvent>,
        own: BTreeSet<TransferId>,
    ) -> Live {
        let host = self.plan.host.map(|h| h.addr);
        let mut ours: Vec<Ipv4Addr> = host.into_iter().collect();
        let wire = match (&simulated, &self.plan.port) {
            (None, Some(port)) => {
                if let Some(iface) = crate::net::iface::list()
                    .into_iter()
                    .find(|i| i.name == port.name)
                {
                    ours.extend(iface.ipv4.iter().map(|a| a.addr));
                }
                let (wire_tx, wire_rx) = mpsc::unbounded_channel();
                match crate::net::watch::start(&port.name, wire_tx, Arc::clone(&self.capture_stop))
                {
                    Ok(thread) => {
                        self.capture = Some(thread);
                        Some(wire_rx)
                    }
                    Err(err) => {
                        self.emit(Event::Checked {
                            check: check::Check {
                                item: "wire watch".into(),
                                verdict: Verdict::Warn,
                                detail: format!("the port cannot be watched: {err}"),
                                fix: Some("run with sudo to see ARP, ping and requests as they happen; the transfer works without it".into()),
                            },
                        });
                        None
                    }
                }
            }
            _ => None,
        };
        let expect = Expectation {
            ours: ours.clone(),
            host,
            router: self.plan.router,
            files: match &self.plan.transfer {
                Transfer::Serve { expected, .. } => expected.clone(),
                Transfer::Push { .. } => Vec::new(),
            },
        };
        let observer = Observer::new(expect, DEFAULT_AWAY_AFTER)
            .with_power_on(PowerOnTiming::from_steps(&self.plan.steps));
        let now = Instant::now();
        Live {
            observer,
            wire,
            tftp,
            ours,
            transfers: HashMap::new(),
            own,
            started: HashMap::new(),
            waiting_since: now,
            last_activity: now,
            stall_reported: false,
            steps_shown: 0,
            next_step_at: None,
            checklist: Vec::new(),
            flashing_since: None,
            router_left: false,
            adopt,
            push: None,
            push_stop: Arc::new(AtomicBool::new(false)),
            prober: None,
            prober_stop: Arc::new(AtomicBool::new(false)),
            simulated,
        }
    }

    async fn wait_transfer_flash(
        &mut self,
        live: &mut Live,
        server: Option<SocketAddr>,
        tftp_tx: mpsc::UnboundedSender<TransferEvent>,
    ) -> RunOutcome {
        self.enter(Phase::Waiting);
        self.show_due_steps(live);
        let what = match &self.plan.transfer {
            Transfer::Serve { expected, .. } => format!(
                "the router's request for {}",
                expected.first().map_or("the image", String::as_str)
            ),
            Transfer::Push { to, .. } => format!("the router's TFTP server at {to}"),
        };
        self.emit(Event::WaitingForRouter {
            what,
            timeout: self.plan.timeout,
        });
        live.waiting_since = Instant::now();
        live.last_activity = live.waiting_since;
        live.observer.router_powered(SystemTime::now());
        if let Some(router) = live.simulated.as_mut() {
            router.power_on(server, self.plan.clone());
        }
        if let Transfer::Push { to, remote_name } = self.plan.transfer.clone() {
            live.push = Some(self.start_push(to, remote_name, tftp_tx, &live.push_stop));
        }
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let woke = {
                let Live {
                    wire,
                    simulated,
                    push,
                    prober,
                    tftp,
                    ..
                } = &mut *live;
                tokio::select! {
                    command = self.commands.recv() => Woke::Command(command),
                    Some(event) = self.host_rx.recv() => Woke::Host(event),
                    Some(seen) = recv_or_pend(wire.as_mut()) => Woke::Wire(seen),
                    Some(seen) = async {
                        match simulated.as_mut() {
                            Some(router) => router.wire().await,
                            None => std::future::pending().await,
                        }
                    } => Woke::Wire(seen),
                    Some(event) = tftp.recv() => Woke::Tftp(event),
                    result = async {
                        match push.as_mut() {
                            Some(task) => task.await,
                            None => std::future::pending().await,
                        }
                    } => Woke::Pushed(result),
                    Some(ip) = recv_or_pend(prober.as_mut()) => Woke::Probed(ip),
                    _ = ticks.tick() => Woke::Tick,
                }
            };
            let next = match woke {
                // Every front-end is gone: stop as if asked to.
                Woke::Command(None) => self.interrupted(),
                Woke::Command(Some(command)) => self.command(live, &command),
                Woke::Host(event) => self.host_event_live(live, event),
                Woke::Wire(seen) => self.wire(live, &seen),
                Woke::Tftp(event) => self.tftp(live, event),
                Woke::Pushed(result) => {
                    live.push = None;
                    self.pushed(live, result)
                }
                Woke::Probed(ip) => self.router_back(live, ip),
                Woke::Tick => self.tick(live),
            };
            // New evidence shows in the checklist at once, not at the next tick.
            if !matches!(next, Next::End(_)) {
                self.refresh_checklist(live);
            }
            if let Next::End(outcome) = next {
                live.push_stop.store(true, Ordering::Relaxed);
                live.prober_stop.store(true, Ordering::Relaxed);
                if let Some(router) = live.simulated.as_mut() {
                    router.stop();
                }
                return outcome;
            }
        }
    }

    /// Shows the device's steps as they become due: each at once, except that a step the
    /// profile times ("hold the button for 10 s") is followed by the next only once its
    /// seconds have passed.
    fn show_due_steps(&mut self, live: &mut Live) {
        while live.steps_shown < self.plan.steps.len()
            && live.next_step_at.is_none_or(|at| Instant::now() >= at)
        {
            let step = self.plan.steps[live.steps_shown].clone();
            live.steps_shown += 1;
            live.next_step_at = step
                .seconds
                .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
            self.emit(Event::Step {
                number: live.steps_shown,
                action: step.action,
                seconds: step.seconds,
                led: step.led,
            });
        }
    }

    /// A host event while the router is awaited: losing the link while it flashes means it
    /// reboots.
    fn host_event_live(&mut self, live: &mut Live, event: HostEvent) -> Next {
        let lost = matches!(event, HostEvent::Carrier { present: false, .. });
        self.host_event(event);
        if lost && self.phase == Phase::Flashing && !live.router_left {
            live.router_left = true;
            if let Some(ip) = self.plan.router {
                self.emit(Event::RouterLeft { ip });
            }
        }
        Next::Continue
    }

    /// Without changes of ours on the port there is no keeper watching its link: look at it
    /// once a tick instead, so that link changes are reported all the same.
    fn poll_carrier(&mut self, live: &mut Live) {
        if self.setup.is_some() || live.simulated.is_some() {
            return;
        }
        let Some(port) = &self.plan.port else {
            return;
        };
        let ifname = port.name.clone();
        let Some(present) = crate::net::iface::carrier(&ifname) else {
            return;
        };
        if self.evidence.carrier != Some(present) {
            self.host_event_live(live, HostEvent::Carrier { ifname, present });
        }
    }

    fn start_push(
        &mut self,
        to: SocketAddr,
        remote_name: String,
        tftp_tx: mpsc::UnboundedSender<TransferEvent>,
        stop: &Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<Result<Transferred, ClientError>> {
        let data: Arc<[u8]> = match std::fs::read(&self.plan.image.path) {
            Ok(bytes) => bytes.into(),
            Err(err) => {
                let path = self.plan.image.path.clone();
                return tokio::spawn(async move {
                    Err(ClientError::Output(format!(
                        "cannot read the image {}: {err}",
                        path.display()
                    )))
                });
            }
        };
        let config = ClientConfig {
            wait: self.plan.timeout,
            ..ClientConfig::default()
        };
        tokio::spawn(client::push(
            to,
            remote_name,
            data,
            config,
            tftp_tx,
            Arc::clone(stop),
        ))
    }

    fn command(&mut self, live: &mut Live, command: &Command) -> Next {
        match *command {
            Command::Cancel => self.interrupted(),
            // Only meaningful while the run asks for consent.
            Command::Approve | Command::Refuse { .. } => Next::Continue,
            Command::PoweredOn => {
                live.observer.router_powered(SystemTime::now());
                Next::Continue
            }
            Command::AdoptAddress { addr } => {
                self.adopt(addr);
                live.ours.push(addr);
                Next::Continue
            }
        }
    }

    fn interrupted(&mut self) -> Next {
        let advice = match self.phase {
            Phase::Preflight | Phase::Network | Phase::SelfTest | Phase::Waiting => {
                "nothing was sent to the router: it is as it was. Switch it off before the next attempt.".to_owned()
            }
            Phase::Transfer => "the transfer was cut short. Bootloaders write their flash only once the whole image has arrived, so the router still has its old flash: switch it off, then start the recovery again.".to_owned(),
            Phase::Flashing => format!(
                "the router received the whole image and may be writing its flash now: do not switch it off for another {} s, until its lights settle{}",
                self.plan.flash.as_secs(),
                self.plan
                    .after
                    .map(|a| format!("; then look for it at {a}"))
                    .unwrap_or_default()
            ),
            Phase::Done => "the run had finished.".to_owned(),
        };
        self.emit(Event::Interrupted {
            phase: self.phase,
            advice,
        });
        Next::End(RunOutcome::Interrupted)
    }

    fn adopt(&mut self, addr: Ipv4Addr) {
        let (Some(port), Some(state_dir)) = (&self.plan.port, &self.state_dir) else {
            return;
        };
        let prefix = self.plan.host.map_or(24, |h| h.prefix);
        let cidr = Ipv4Cidr::new(addr, prefix);
        match HostSetup::adopt(&port.name, cidr, state_dir, self.host_tx.clone()) {
            Ok(setup) => self.adopted.extend(setup),
            Err(err) => self.emit(Event::NetworkNoticed {
                what: format!("could not adopt {addr}: {err}"),
            }),
        }
        self.drain_host_events();
    }

    fn wire(&mut self, live: &mut Live, seen: &Seen) -> Next {
        let from = wire_source(&seen.event);
        if from.is_some_and(|ip| live.ours.contains(&ip) || ip.is_unspecified()) {
            // Our own frames: not evidence of the router.
            return Next::Continue;
        }
        self.emit(Event::Wire {
            wire: seen.event.clone(),
        });
        if let Some(ip) = from {
            self.evidence.router_seen = Some(ip);
            live.last_activity = Instant::now();
            live.stall_reported = false;
        }
        match &seen.event {
            WireEvent::Arp {
                op: ArpKind::Request,
                target_ip,
                sender_ip,
                ..
            } if sender_ip != target_ip
                && !self.evidence.router_wants.contains(target_ip)
                && Some(*sender_ip) != self.plan.after =>
            {
                self.evidence.router_wants.push(*target_ip);
            }
            WireEvent::Echo {
                op: EchoKind::Reply,
                ..
            } => self.evidence.router_answered = true,
            WireEvent::Tftp { .. } => self.evidence.requests_on_wire += 1,
            _ => {}
        }
        for finding in live.observer.observe(seen) {
            self.finding(live, finding);
        }
        if self.phase == Phase::Flashing
            && let (Some(after), Some(ip)) = (self.plan.after, from)
            && ip == after
        {
            return self.router_back(live, ip);
        }
        Next::Continue
    }

    fn finding(&mut self, live: &mut Live, finding: Finding) {
        if let (true, Some(crate::net::observe::Remedy::AdoptAddress { addr })) =
            (live.adopt, finding.remedy())
            && !live.ours.contains(&addr)
        {
            self.emit(Event::Noticed { finding });
            self.adopt(addr);
            live.ours.push(addr);
            return;
        }
        // The router at its post-flash address is reported as its return, not as a stranger.
        if let Finding::RouterSeen { ip, .. } = &finding
            && Some(*ip) == self.plan.after
        {
            return;
        }
        if self.phase == Phase::Flashing
            && let Finding::RouterAway { ip, .. } = &finding
            && Some(*ip) == self.plan.router
            && !live.router_left
        {
            live.router_left = true;
            let ip = *ip;
            self.emit(Event::Noticed { finding });
            self.emit(Event::RouterLeft { ip });
            return;
        }
        self.emit(Event::Noticed { finding });
    }

    fn tftp(&mut self, live: &mut Live, event: TransferEvent) -> Next {
        match event {
            TransferEvent::RequestReceived {
                id,
                peer,
                name,
                kind: RequestKind::Read,
                ..
            } => {
                live.transfers.insert(id, (peer, name.clone()));
                live.started.insert(id, Instant::now());
                live.last_activity = Instant::now();
                live.stall_reported = false;
                self.evidence.requests_served += 1;
                if let IpAddr::V4(ip) = peer.ip()
                    && !live.ours.contains(&ip)
                {
                    self.evidence.router_seen = Some(ip);
                }
                self.emit(Event::RequestReceived { peer, file: name });
                if self.phase == Phase::Waiting {
                    self.enter(Phase::Transfer);
                }
            }
            TransferEvent::RequestRefused {
                peer, name, reason, ..
            } => {
                self.emit(Event::TransferFailed {
                    peer: Some(peer),
                    reason: format!("refused \"{name}\": {reason}"),
                });
            }
            TransferEvent::OptionsAgreed {
                id,
                blksize,
                windowsize,
                ..
            } => {
                if live.own.contains(&id) {
                    return Next::Continue;
                }
                self.evidence.options_used = blksize != 512 || windowsize > 1;
                let (peer, file) = self.peer_of(live, id);
                if self.phase == Phase::Waiting {
                    self.enter(Phase::Transfer);
                }
                live.started.insert(id, Instant::now());
                self.emit(Event::TransferStarted {
                    peer,
                    file,
                    blksize,
                    windowsize,
                    total: self.plan.image.size,
                });
            }
            TransferEvent::Progress {
                id,
                bytes,
                timeouts,
                ..
            } => {
                if live.own.contains(&id) {
                    return Next::Continue;
                }
                if self.phase == Phase::Waiting {
                    self.enter(Phase::Transfer);
                }
                live.last_activity = Instant::now();
                live.stall_reported = false;
                self.evidence.bytes_moved = self.evidence.bytes_moved.max(bytes);
                let took = live
                    .started
                    .entry(id)
                    .or_insert_with(Instant::now)
                    .elapsed()
                    .as_secs_f64();
                let rate = if took > 0.0 {
                    (bytes as f64 / took) as u64
                } else {
                    0
                };
                self.emit(Event::TransferProgressed {
                    bytes,
                    total: self.plan.image.size,
                    rate,
                    timeouts,
                });
            }
            TransferEvent::Finished {
                id,
                peer,
                bytes,
                elapsed,
                sha256,
                confirmed,
                ..
            } => {
                if live.own.contains(&id) {
                    return Next::Continue;
                }
                // A push reports through its task's result, which carries the same facts.
                if !self.plan.serves() {
                    return Next::Continue;
                }
                self.evidence.bytes_moved = self.evidence.bytes_moved.max(bytes);
                self.emit(Event::TransferFinished {
                    peer,
                    bytes,
                    took: elapsed,
                    sha256,
                    confirmed,
                });
                return self.transferred(live);
            }
            TransferEvent::Failed {
                id, peer, reason, ..
            } => {
                if live.own.contains(&id) {
                    return Next::Continue;
                }
                self.evidence.failures.push(reason.clone());
                self.emit(Event::TransferFailed {
                    peer: Some(peer),
                    reason: format!("{reason}; waiting for the router to ask again"),
                });
                if self.phase == Phase::Transfer {
                    self.enter(Phase::Waiting);
                }
            }
            _ => {}
        }
        Next::Continue
    }

    fn peer_of(&self, live: &Live, id: TransferId) -> (SocketAddr, String) {
        live.transfers.get(&id).cloned().unwrap_or_else(|| {
            let peer = match &self.plan.transfer {
                Transfer::Push { to, .. } => *to,
                Transfer::Serve { bind, .. } => *bind,
            };
            (peer, self.plan.file().unwrap_or_default().to_owned())
        })
    }

    fn pushed(
        &mut self,
        live: &mut Live,
        result: Result<Result<Transferred, ClientError>, tokio::task::JoinError>,
    ) -> Next {
        match result {
            Ok(Ok(done)) => {
                self.evidence.bytes_moved = done.bytes;
                self.evidence.requests_served += 1;
                self.emit(Event::TransferFinished {
                    peer: done.peer,
                    bytes: done.bytes,
                    took: done.elapsed,
                    sha256: done.sha256,
                    confirmed: done.confirmed,
                });
                self.transferred(live)
            }
            Ok(Err(ClientError::NoAnswer { .. })) => {
                self.emit(Event::TransferFailed {
                    peer: None,
                    reason: format!(
                        "the router's TFTP server did not answer within {} s",
                        self.plan.timeout.as_secs()
                    ),
                });
                Next::End(if self.evidence.router_seen.is_some() {
                    RunOutcome::Failed
                } else {
                    RunOutcome::TimedOut
                })
            }
            Ok(Err(err)) => {
                self.evidence.failures.push(err.to_string());
                self.emit(Event::TransferFailed {
                    peer: None,
                    reason: err.to_string(),
                });
                Next::End(RunOutcome::Failed)
            }
            Err(err) => {
                self.emit(Event::TransferFailed {
                    peer: None,
                    reason: format!("the push stopped unexpectedly: {err}"),
                });
                Next::End(RunOutcome::Failed)
            }
        }
    }

    /// The router has the whole image: end here, or watch it write and come back.
    fn transferred(&mut self, live: &mut Live) -> Next {
        if self.plan.exit_after_transfer {
            return Next::End(RunOutcome::Flashed);
        }
        self.enter(Phase::Flashing);
        self.emit(Event::FlashingStarted {
            expected: self.plan.flash,
            after: self.plan.after,
        });
        live.flashing_since = Some(Instant::now());
        if let (Some(after), Some(port), None) = (self.plan.after, &self.plan.port, &live.simulated)
        {
            live.prober = Some(start_prober(
                port.name.clone(),
                after,
                Arc::clone(&live.prober_stop),
            ));
        }
        Next::Continue
    }

    fn router_back(&mut self, live: &Live, ip: Ipv4Addr) -> Next {
        if self.phase != Phase::Flashing {
            return Next::Continue;
        }
        let after = live.flashing_since.map(|t| t.elapsed()).unwrap_or_default();
        self.emit(Event::RouterBack { ip, after });
        Next::End(RunOutcome::Flashed)
    }

    /// Sends the checklist when an item's status changed; details (such as seconds waited)
    /// alone do not count.
    fn refresh_checklist(&mut self, live: &mut Live) {
        let checklist = checklist::evaluate(&self.evidence);
        let changed = checklist.len() != live.checklist.len()
            || checklist
                .iter()
                .zip(&live.checklist)
                .any(|(now, before)| now.status != before.status);
        if changed {
            live.checklist.clone_from(&checklist);
            self.emit(Event::ChecklistUpdated { checklist });
        }
    }

    fn tick(&mut self, live: &mut Live) -> Next {
        for finding in live.observer.tick(SystemTime::now()) {
            self.finding(live, finding);
        }
        self.evidence.waited = live.waiting_since.elapsed();
        self.poll_carrier(live);
        if matches!(self.phase, Phase::Waiting | Phase::Transfer) {
            self.show_due_steps(live);
        }
        self.refresh_checklist(live);
        match self.phase {
            Phase::Waiting | Phase::Transfer => {
                let quiet = live.last_activity.elapsed();
                let nothing_yet = self.evidence.requests_served == 0
                    && self.evidence.requests_on_wire == 0
                    && self.evidence.bytes_moved == 0;
                if self.phase == Phase::Waiting && live.waiting_since.elapsed() >= self.plan.timeout
                {
                    let outcome = if nothing_yet && self.evidence.router_seen.is_none() {
                        RunOutcome::TimedOut
                    } else {
                        RunOutcome::Failed
                    };
                    self.emit(Event::TransferFailed {
                        peer: None,
                        reason: format!(
                            "gave up after {} s without a transfer (--timeout)",
                            self.plan.timeout.as_secs()
                        ),
                    });
                    return Next::End(outcome);
                }
                if quiet >= self.plan.stall_after && !live.stall_reported {
                    live.stall_reported = true;
                    let what = if self.phase == Phase::Transfer {
                        format!("the transfer has not moved for {} s", quiet.as_secs())
                    } else {
                        format!("no sign of the router for {} s", quiet.as_secs())
                    };
                    let checklist = checklist::evaluate(&self.evidence);
                    self.emit(Event::Stalled { what, checklist });
                }
            }
            Phase::Flashing => {
                let since = live.flashing_since.map(|t| t.elapsed()).unwrap_or_default();
                let remaining = self.plan.flash.saturating_sub(since);
                self.emit(Event::FlashingCountdown {
                    remaining: Duration::from_secs(remaining.as_secs()),
                });
                let patience = if self.plan.after.is_some() {
                    self.plan.flash + FLASH_GRACE
                } else {
                    self.plan.flash
                };
                if since >= patience {
                    return Next::End(if self.plan.after.is_some() {
                        RunOutcome::Transferred
                    } else {
                        RunOutcome::Flashed
                    });
                }
            }
            _ => {}
        }
        Next::Continue
    }

    /// Stops everything, restores the network, and sums up.
    async fn finish(mut self, outcome: RunOutcome) -> Summary {
        self.enter(Phase::Done);
        if let Some(stop) = self.server_stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.server_task.take() {
            let _ = task.await;
        }
        self.capture_stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.capture.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        for setup in std::mem::take(&mut self.adopted) {
            setup.undo();
        }
        if let Some(setup) = self.setup.take() {
            setup.undo();
        }
        self.drain_host_events();
        let checklist = if matches!(outcome, RunOutcome::Flashed | RunOutcome::Transferred) {
            Vec::new()
        } else {
            checklist::evaluate(&self.evidence)
        };
        let summary = summary_line(outcome, &self.plan, self.refused.as_deref());
        self.emit(Event::Finished {
            outcome,
            summary,
            checklist: checklist.clone(),
        });
        Summary {
            outcome,
            timeline: self.timeline,
            started: self.started_at,
            checklist,
            changes_made: self.changes_made,
            changes_undone: self.changes_undone,
            undo_failures: self.undo_failures,
            refused: self.refused,
        }
    }
}

fn summary_line(outcome: RunOutcome, plan: &Plan, refused: Option<&str>) -> String {
    if let Some(why) = refused {
        return format!("nothing was changed and nothing was sent: {why}");
    }
    match outcome {
        RunOutcome::Flashed if plan.exit_after_transfer => {
            "the router has the whole image; it writes its flash now: do not switch it off".into()
        }
        RunOutcome::Flashed => match plan.after {
            Some(after) => format!("the router is back at {after}: the recovery worked"),
            None => "the router took the image and the expected flashing time has passed".into(),
        },
        RunOutcome::Transferred => format!(
            "the router took the image but did not answer at {} afterwards; give it a few more minutes, then look for it there (OpenWrt answers on 192.168.1.1, stock firmware often on 192.168.0.1)",
            plan.after.map_or_else(|| "its usual address".to_owned(), |a| a.to_string())
        ),
        RunOutcome::Failed => "the recovery failed: see the checklist for what to fix, then run again".into(),
        RunOutcome::TimedOut => "the router never asked: it is not in recovery mode. See the checklist (timing, link), then run again".into(),
        RunOutcome::Interrupted => "stopped; the network is restored".into(),
    }
}

/// The IPv4 address a frame came from, when it says.
fn wire_source(event: &WireEvent) -> Option<Ipv4Addr> {
    match event {
        // An ICMP error carries no hardware address, so `sender` leaves it out; its source
        // address still tells who spoke.
        WireEvent::Unreachable { from, .. } => Some(*from),
        _ => event.sender().map(|(ip, _)| ip),
    }
}

/// Asks every two seconds who has `target` on `interface`; sends its address once it answers.
fn start_prober(
    interface: String,
    target: Ipv4Addr,
    stop: Arc<AtomicBool>,
) -> mpsc::UnboundedReceiver<Ipv4Addr> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let Ok(mut prober) = crate::net::probe::ArpProber::open(&interface) else {
            return;
        };
        while !stop.load(Ordering::Relaxed) {
            let asked = Instant::now();
            if let Ok(Some(_)) = prober.probe(target, Duration::from_secs(1)) {
                let _ = tx.send(target);
                return;
            }
            // One question every two seconds at most: the router is busy writing flash.
            std::thread::sleep(Duration::from_secs(2).saturating_sub(asked.elapsed()));
        }
    });
    rx
}
