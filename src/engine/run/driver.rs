//! Carries the run machine's effects out: the host checks, the network changes through
//! [`HostSetup`], the capture thread, the TFTP server and client, the ARP prober, the
//! simulated router and the clock. Each result comes back to the machine as an [`Input`];
//! nothing here decides what the run does next.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::machine::{Effect, Input, Machine, PushFailure, Pushed, SelfTested, Setting};
use super::method;
use super::snapshot::Snapshot;
use super::{Environment, Summary};
use crate::engine::event::{Command, Event};
use crate::engine::plan::{Plan, Transfer};
use crate::engine::simulate::SimulatedRouter;
use crate::net::addr::{HostEvent, HostSetup};
use crate::net::check::{self, HostFacts, HostNeeds};
use crate::net::iface::Ipv4Cidr;
use crate::net::io_failure::IoFailure;
use crate::net::watch::WatchError;
use crate::net::wire::Seen;
use crate::tftp::client::{self, ClientConfig, ClientError, Transferred};
use crate::tftp::event::TransferEvent;
use crate::tftp::server::Server;

/// What woke the driver's loop.
enum Woke {
    Command(Option<Command>),
    Host(HostEvent),
    Wire(Seen),
    Tftp(TransferEvent),
    Pushed(Result<Result<Transferred, ClientError>, tokio::task::JoinError>),
    SelfTested(Result<Result<SelfTested, String>, tokio::task::JoinError>),
    Probed(Ipv4Addr),
    Tick,
    Input(Input),
}

/// Receives from `rx`, or never resolves when there is none.
async fn recv_or_pend<T>(rx: Option<&mut mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Awaits `task`, or never resolves when there is none.
async fn join_or_pend<T>(
    task: Option<&mut tokio::task::JoinHandle<T>>,
) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

/// The run's I/O: everything the machine asks for, and what it hears back.
pub(super) struct Driver {
    machine: Machine,
    plan: Plan,
    events: mpsc::UnboundedSender<Event>,
    commands: mpsc::UnboundedReceiver<Command>,
    started: Instant,
    started_at: SystemTime,
    timeline: Vec<(Duration, Event)>,
    pending: VecDeque<Input>,
    /// The image as checked; everything the router gets comes from it.
    snapshot: Option<Arc<Snapshot>>,
    state_dir: Option<PathBuf>,
    setup: Option<HostSetup>,
    adopted: Vec<HostSetup>,
    simulated: Option<SimulatedRouter>,
    host_tx: mpsc::UnboundedSender<HostEvent>,
    host_rx: mpsc::UnboundedReceiver<HostEvent>,
    tftp_tx: mpsc::UnboundedSender<TransferEvent>,
    tftp_rx: mpsc::UnboundedReceiver<TransferEvent>,
    wire: Option<mpsc::UnboundedReceiver<Seen>>,
    server_stop: Option<watch::Sender<bool>>,
    server_task: Option<tokio::task::JoinHandle<io::Result<()>>>,
    capture_stop: Arc<AtomicBool>,
    capture: Option<std::thread::JoinHandle<io::Result<()>>>,
    self_test: Option<tokio::task::JoinHandle<Result<SelfTested, String>>>,
    push: Option<tokio::task::JoinHandle<Result<Transferred, ClientError>>>,
    push_stop: Arc<AtomicBool>,
    prober: Option<mpsc::UnboundedReceiver<Ipv4Addr>>,
    prober_stop: Arc<AtomicBool>,
    nmrp: Option<method::nmrp::Running>,
    http: Option<method::http::Running>,
    /// [`HOLD_SELF_TEST`]: the self-test asked for, held until the router's first request.
    held_self_test: Option<(SocketAddr, String)>,
    hold_self_test: bool,
    dhcp: Option<method::dhcp::Running>,
    console: Option<method::console::Running>,
    /// The technician's answer to the console's write question goes to its thread here.
    console_answers: Option<method::console::Answers>,
}

/// A test hook: when this environment variable is set, the self-test starts only once the
/// router's first request was seen (on the wire or by the server), so that a test can make a
/// real bootloader ask during the self-test every time, without sleeping.
pub const HOLD_SELF_TEST: &str = "RESCUE_WIZARD_TEST_HOLD_SELF_TEST";

impl Driver {
    pub(super) fn new(
        plan: Plan,
        environment: Environment,
        events: mpsc::UnboundedSender<Event>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        let started = Instant::now();
        let started_at = SystemTime::now();
        let (setting, state_dir, simulated) = match environment {
            Environment::Host {
                state_dir,
                consent,
                server_address,
            } => (
                Setting::Host {
                    consent,
                    server_address,
                },
                Some(state_dir),
                None,
            ),
            Environment::Simulated(router) => (Setting::Simulated, None, Some(router)),
        };
        let (host_tx, host_rx) = mpsc::unbounded_channel();
        let (tftp_tx, tftp_rx) = mpsc::unbounded_channel();
        Self {
            machine: Machine::new(plan.clone(), setting, started, started_at),
            plan,
            events,
            commands,
            started,
            started_at,
            timeline: Vec::new(),
            pending: VecDeque::new(),
            snapshot: None,
            state_dir,
            setup: None,
            adopted: Vec::new(),
            simulated,
            host_tx,
            host_rx,
            tftp_tx,
            tftp_rx,
            wire: None,
            server_stop: None,
            server_task: None,
            capture_stop: Arc::new(AtomicBool::new(false)),
            capture: None,
            self_test: None,
            push: None,
            push_stop: Arc::new(AtomicBool::new(false)),
            prober: None,
            prober_stop: Arc::new(AtomicBool::new(false)),
            nmrp: None,
            http: None,
            held_self_test: None,
            hold_self_test: std::env::var_os(HOLD_SELF_TEST).is_some(),
            dhcp: None,
            console: None,
            console_answers: None,
        }
    }

    /// Runs the machine to its end and sums up.
    pub(super) async fn run(mut self) -> Summary {
        let effects = self.machine.start(Instant::now());
        let mut finish = self.carry(effects);
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while finish.is_none() {
            let input = match self.pending.pop_front() {
                Some(input) => input,
                None => self.next(&mut ticks).await,
            };
            let asked = is_request(&input);
            let effects = self.machine.handle(input, Instant::now());
            finish = self.carry(effects);
            if asked && let Some((target, name)) = self.held_self_test.take() {
                self.start_self_test(target, name);
            }
        }
        let outcome = finish.unwrap_or(crate::engine::RunOutcome::Failed);
        self.finish(outcome).await
    }

    async fn next(&mut self, ticks: &mut tokio::time::Interval) -> Input {
        let woke = {
            let Self {
                commands,
                host_rx,
                wire,
                simulated,
                tftp_rx,
                push,
                self_test,
                prober,
                nmrp,
                dhcp,
                console,
                http,
                ..
            } = self;
            tokio::select! {
                command = commands.recv() => Woke::Command(command),
                Some(event) = host_rx.recv() => Woke::Host(event),
                Some(seen) = recv_or_pend(wire.as_mut()) => Woke::Wire(seen),
                Some(seen) = async {
                    match simulated.as_mut() {
                        Some(router) => router.wire().await,
                        None => std::future::pending().await,
                    }
                } => Woke::Wire(seen),
                Some(event) = tftp_rx.recv() => Woke::Tftp(event),
                result = join_or_pend(push.as_mut()) => Woke::Pushed(result),
                result = join_or_pend(self_test.as_mut()) => Woke::SelfTested(result),
                Some(ip) = recv_or_pend(prober.as_mut()) => Woke::Probed(ip),
                Some(input) = method::nmrp::recv(nmrp.as_mut()) => Woke::Input(input),
                Some(input) = method::dhcp::recv(dhcp.as_mut()) => Woke::Input(input),
                Some(input) = method::console::recv(console.as_mut()) => Woke::Input(input),
                Some(input) = method::http::recv(http.as_mut()) => Woke::Input(input),
                _ = ticks.tick() => Woke::Tick,
            }
        };
        match woke {
            Woke::Command(command) => {
                // The answer belongs to the console thread, which owns the dialogue; the
                // machine hears the command too, for the run's timeline.
                match command {
                    Some(Command::ConfirmWrite(write)) => {
                        method::console::answer(self.console_answers.as_ref(), write);
                    }
                    Some(Command::BootFromRam) => {
                        method::console::boot_from_ram(self.console_answers.as_ref());
                    }
                    _ => {}
                }
                Input::Command(command)
            }
            Woke::Host(event) => Input::Host(event),
            Woke::Wire(seen) => Input::Wire(seen),
            Woke::Tftp(event) => Input::Transfer(event),
            Woke::Pushed(result) => {
                self.push = None;
                Input::Pushed(match result {
                    Ok(Ok(done)) => Ok(Pushed {
                        peer: done.peer,
                        bytes: done.bytes,
                        took: done.elapsed,
                        sha256: done.sha256,
                        confirmed: done.confirmed,
                    }),
                    Ok(Err(ClientError::NoAnswer { .. })) => Err(PushFailure::NoAnswer),
                    Ok(Err(err)) => Err(PushFailure::Other(err.to_string())),
                    Err(err) => Err(PushFailure::Other(format!(
                        "the push stopped unexpectedly: {err}"
                    ))),
                })
            }
            Woke::SelfTested(result) => {
                self.self_test = None;
                Input::SelfTested(
                    result.unwrap_or_else(|err| Err(format!("the self-test stopped: {err}"))),
                )
            }
            Woke::Probed(ip) => Input::Probed(ip),
            Woke::Input(input) => input,
            Woke::Tick => {
                self.poll_carrier();
                Input::Tick
            }
        }
    }

    fn emit(&mut self, event: Event) {
        self.timeline.push((self.started.elapsed(), event.clone()));
        let _ = self.events.send(event);
    }

    /// Carries out `effects`; returns the outcome once the machine asks to finish.
    fn carry(&mut self, effects: Vec<Effect>) -> Option<crate::engine::RunOutcome> {
        let mut finish = None;
        for effect in effects {
            match effect {
                Effect::Emit(event) => self.emit(event),
                Effect::TakeSnapshot => {
                    let taken = Snapshot::take(&self.plan.image.path, &self.plan.image.sha256);
                    let result = taken.map(|snapshot| self.snapshot = Some(Arc::new(snapshot)));
                    self.pending.push_back(Input::Snapshotted(result));
                }
                Effect::Preflight => self.preflight(),
                Effect::StartCapture => self.start_capture(),
                Effect::ApplyNetwork => self.apply_network(),
                Effect::OpenFirewall => {
                    let result = self.open_firewall();
                    self.drain_host_events();
                    self.pending.push_back(Input::FirewallOpened(result));
                }
                Effect::StartServer => self.start_server(),
                Effect::SelfTest { target, name } if self.hold_self_test => {
                    self.held_self_test = Some((target, name));
                }
                Effect::SelfTest { target, name } => self.start_self_test(target, name),
                Effect::PowerOnSimulated { server } => {
                    if let Some(router) = self.simulated.as_mut() {
                        router.power_on(server, self.plan.clone());
                    }
                }
                Effect::StartPush => self.start_push(),
                Effect::Probe(target) => self.start_prober(target),
                Effect::Adopt(addr) => self.adopt(addr),
                Effect::Finish(outcome) => finish = Some(outcome),
                Effect::StartNmrp => self.start_nmrp(),
                Effect::StartDhcp => self.dhcp = Some(method::dhcp::start(&self.plan)),
                Effect::StartConsole => self.start_console(),
                Effect::StartHttp => self.start_http(),
            }
        }
        finish
    }

    fn preflight(&mut self) {
        let Some(port) = self.plan.port.clone() else {
            return;
        };
        let facts = HostFacts::gather();
        let checks = facts
            .interfaces
            .iter()
            .find(|i| i.name == port.name)
            .map(|iface| {
                let expect = HostNeeds {
                    host: self.plan.host,
                    router: self.plan.router,
                    listens: self.plan.serves(),
                };
                check::run_with_firewall(&facts, iface, &expect)
            });
        self.pending.push_back(Input::Preflighted(checks));
    }

    fn start_capture(&mut self) {
        let Some(port) = self.plan.port.clone() else {
            return;
        };
        let ours = crate::net::iface::list()
            .into_iter()
            .find(|i| i.name == port.name)
            .map(|iface| iface.ipv4.iter().map(|a| a.addr).collect())
            .unwrap_or_default();
        let (wire_tx, wire_rx) = mpsc::unbounded_channel();
        match crate::net::watch::start(&port.name, wire_tx, Arc::clone(&self.capture_stop)) {
            Ok(thread) => {
                self.capture = Some(thread);
                self.wire = Some(wire_rx);
                self.pending.push_back(Input::CaptureStarted { ours });
            }
            Err(err) => self
                .pending
                .push_back(Input::CaptureFailed(capture_failure(&err))),
        }
    }

    fn apply_network(&mut self) {
        let (Some(network), Some(state_dir)) = (self.plan.network.clone(), self.state_dir.clone())
        else {
            self.pending.push_back(Input::NetworkApplied(Ok(())));
            return;
        };
        let result = match HostSetup::apply(&network, &state_dir, self.host_tx.clone()) {
            Ok(setup) => {
                self.setup = Some(setup);
                Ok(())
            }
            Err(err) => Err(err.to_string()),
        };
        self.drain_host_events();
        // The plan saw the port before the network step brought it up: its link as it is
        // now, so that a flap right after is told against the truth.
        self.poll_carrier();
        self.pending.push_back(Input::NetworkApplied(result));
    }

    /// Lets UDP from the router's subnet in on the port, through the run's [`HostSetup`] so
    /// that the rule is journaled and undone with the rest (a setup that changes nothing else
    /// when the port needed no other change).
    fn open_firewall(&mut self) -> Result<Vec<String>, String> {
        let (Some(port), Some(host), Some(state_dir)) =
            (&self.plan.port, self.plan.host, &self.state_dir)
        else {
            return Ok(Vec::new());
        };
        let subnet = crate::net::firewall::Subnet::new(host.network(), host.prefix)
            .map_err(|e| e.to_string())?;
        if self.setup.is_none() {
            let iface = crate::net::iface::list()
                .into_iter()
                .find(|i| i.name == port.name)
                .ok_or_else(|| format!("the port {} is gone", port.name))?;
            let nothing_else = crate::net::addr::NetworkChanges {
                ifindex: iface.index,
                ifname: iface.name,
                add: None,
                link_up: false,
                unmanage: false,
                static_arp: None,
                held_by: None,
            };
            let setup = HostSetup::apply(&nothing_else, state_dir, self.host_tx.clone())
                .map_err(|e| e.to_string())?;
            self.setup = Some(setup);
        }
        match self.setup.as_mut() {
            Some(setup) => setup
                .open_firewall(subnet, &port.name)
                .map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    }

    /// Host events come before the result that caused them.
    fn drain_host_events(&mut self) {
        while let Ok(event) = self.host_rx.try_recv() {
            self.pending.push_back(Input::Host(event));
        }
    }

    fn start_server(&mut self) {
        let (Transfer::Serve { bind, .. } | Transfer::Dhcp { bind, .. }) = self.plan.transfer
        else {
            return;
        };
        let Some(snapshot) = &self.snapshot else {
            self.pending.push_back(Input::ServerStarted(Err(
                "the image was not read: nothing to serve".into(),
            )));
            return;
        };
        let Some(mut config) = self
            .plan
            .transfer
            .server_config(snapshot.path().to_path_buf())
        else {
            return;
        };
        // The bytes checked are served from memory: no file read per block, no hash per
        // transfer (docs/performance-history.md, "A run serves its snapshot from memory").
        config.held = Some(snapshot.held());
        let result = match Server::bind(bind, config) {
            Ok(server) => {
                let addr = server.local_addr();
                let (stop_tx, stop_rx) = watch::channel(false);
                self.server_task = Some(tokio::spawn(server.run(self.tftp_tx.clone(), stop_rx)));
                self.server_stop = Some(stop_tx);
                Ok(addr)
            }
            Err(err) => Err(err.to_string()),
        };
        self.pending.push_back(Input::ServerStarted(result));
    }

    /// Proves our server through the address the router will use, in a few blocks; the
    /// loop goes on meanwhile (the router may ask at any time).
    fn start_self_test(&mut self, target: SocketAddr, name: String) {
        let Some(snapshot) = self.snapshot.clone() else {
            self.pending.push_back(Input::SelfTested(Err(
                "the image was not read: nothing to test".into(),
            )));
            return;
        };
        let options = matches!(
            self.plan.transfer,
            Transfer::Serve { options, .. } | Transfer::Dhcp { options, .. } if options.enabled
        );
        self.self_test = Some(tokio::task::spawn_blocking(move || {
            super::self_test::probe(target, &name, &snapshot, options)
        }));
    }

    fn start_push(&mut self) {
        let Transfer::Push { to, remote_name } = self.plan.transfer.clone() else {
            return;
        };
        let stop = Arc::clone(&self.push_stop);
        let Some(snapshot) = &self.snapshot else {
            self.push = Some(tokio::spawn(async {
                Err(ClientError::Output(
                    "the image was not read: nothing to push".into(),
                ))
            }));
            return;
        };
        let data = Arc::clone(snapshot.bytes());
        let config = ClientConfig {
            wait: self.plan.timeout,
            ..ClientConfig::default()
        };
        self.push = Some(tokio::spawn(client::push(
            to,
            remote_name,
            data,
            config,
            self.tftp_tx.clone(),
            stop,
        )));
    }

    fn start_nmrp(&mut self) {
        let (Some(leg), Some(snapshot)) = (
            method::nmrp::Leg::of(&self.plan, self.state_dir.as_deref()),
            &self.snapshot,
        ) else {
            let lacks = "the run has no port or no image to work with";
            let event = method::nmrp::NmrpEvent::PortFailed(method::LegFailure::Unplanned(lacks));
            self.pending.push_back(Input::Nmrp(event));
            return;
        };
        self.nmrp = Some(method::nmrp::start(
            leg,
            Arc::clone(snapshot.bytes()),
            self.tftp_tx.clone(),
            self.host_tx.clone(),
            Arc::clone(&self.push_stop),
        ));
    }

    fn start_console(&mut self) {
        let (Some(console), Some(snapshot), Some(router), Some(host)) = (
            &self.plan.console,
            &self.snapshot,
            self.plan.router,
            self.plan.host,
        ) else {
            let lacks = "the run has no console, image, router or rescue address";
            let news =
                method::console::ConsoleNews::PortFailed(method::LegFailure::Unplanned(lacks));
            self.pending.push_back(Input::Console(news));
            return;
        };
        let job = method::console::job(&self.plan, console, router, host.addr, snapshot.bytes());
        let (running, answers) = method::console::start(console, job, Arc::clone(&self.push_stop));
        self.console = Some(running);
        self.console_answers = Some(answers);
    }

    fn start_http(&mut self) {
        let (Transfer::Http { page, file_name }, Some(snapshot)) =
            (&self.plan.transfer, &self.snapshot)
        else {
            return;
        };
        self.http = Some(method::http::start(
            page.clone(),
            Arc::clone(snapshot.bytes()),
            file_name.clone(),
            self.plan.image.sha256.clone(),
            Arc::clone(&self.push_stop),
        ));
    }

    fn start_prober(&mut self, target: Ipv4Addr) {
        let Some(port) = &self.plan.port else {
            return;
        };
        self.prober = Some(start_prober(
            port.name.clone(),
            target,
            Arc::clone(&self.prober_stop),
        ));
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

    /// Looks at the port's link once a tick, whether or not a keeper of our changes watches
    /// it too: without changes there is no keeper, and the keeper takes the first link
    /// message it sees as its baseline, so a first flap could go untold. The machine tells
    /// each change once, whoever reports it.
    fn poll_carrier(&mut self) {
        if self.simulated.is_some() {
            return;
        }
        let Some(port) = &self.plan.port else {
            return;
        };
        let ifname = port.name.clone();
        let Some(present) = crate::net::iface::carrier(&ifname) else {
            return;
        };
        if self.machine.carrier() != Some(present) {
            self.pending
                .push_back(Input::Host(HostEvent::Carrier { ifname, present }));
        }
    }

    /// Stops everything, restores the network, and sums up.
    async fn finish(mut self, outcome: crate::engine::RunOutcome) -> Summary {
        self.push_stop.store(true, Ordering::Relaxed);
        self.prober_stop.store(true, Ordering::Relaxed);
        if let Some(router) = self.simulated.as_mut() {
            router.stop();
        }
        if let Some(stop) = self.server_stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.server_task.take() {
            let _ = task.await;
        }
        if let Some(task) = self.self_test.take() {
            let _ = task.await;
        }
        if let Some(nmrp) = self.nmrp.take() {
            nmrp.join().await;
        }
        if let Some(dhcp) = self.dhcp.take() {
            dhcp.stop().await;
        }
        if let Some(console) = self.console.take() {
            console.join().await;
        }
        if let Some(http) = self.http.take() {
            http.join().await;
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
        self.pending.clear();
        self.drain_host_events();
        while let Some(input) = self.pending.pop_front() {
            let effects = self.machine.handle(input, Instant::now());
            self.carry(effects);
        }
        let (effects, conclusion) = self.machine.conclude(outcome);
        self.carry(effects);
        // The private copy of the image goes with the run.
        self.snapshot = None;
        Summary {
            outcome: conclusion.outcome,
            timeline: self.timeline,
            started: self.started_at,
            checklist: conclusion.checklist,
            tally: conclusion.tally,
            changes_made: conclusion.changes_made,
            changes_undone: conclusion.changes_undone,
            undo_failures: conclusion.undo_failures,
            refused: conclusion.refused,
        }
    }
}

/// Whether `input` is the router asking for the image (its request on the wire, or our
/// server taking one that is not the self-test's).
fn is_request(input: &Input) -> bool {
    match input {
        Input::Wire(seen) => matches!(seen.event, crate::net::wire::WireEvent::Tftp { .. }),
        Input::Transfer(TransferEvent::RequestReceived { name, .. }) => {
            *name != super::machine::self_test_name()
        }
        _ => false,
    }
}

/// Asks every two seconds who has `target` on `interface`; sends its address once it answers.
fn start_prober(
    interface: String,
    target: Ipv4Addr,
    stop: Arc<AtomicBool>,
) -> mpsc::UnboundedReceiver<Ipv4Addr> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name(format!("probe-{interface}"))
        .spawn(move || {
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
    drop(spawned);
    rx
}

/// The watch's refusal as the machine's input: the words the technician reads, with the kind
/// of the system's refusal beneath them (net/watch.rs turns `EPERM` on the packet socket into
/// `NotPermitted`, and a name the system does not list into `NoSuchInterface`).
fn capture_failure(err: &WatchError) -> IoFailure {
    let kind = match err {
        WatchError::NotPermitted { .. } => io::ErrorKind::PermissionDenied,
        WatchError::NoSuchInterface { .. } => io::ErrorKind::NotFound,
        WatchError::Io { source, .. } => source.kind(),
        WatchError::Unsupported => io::ErrorKind::Unsupported,
    };
    IoFailure::new(kind, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_refused_keeps_the_kind_of_the_refusal_and_its_words() {
        let refusals = [
            (
                WatchError::NotPermitted {
                    interface: "enp3s0".into(),
                    remedy: "run with sudo".into(),
                },
                io::ErrorKind::PermissionDenied,
            ),
            (
                WatchError::NoSuchInterface {
                    interface: "enp9s0".into(),
                    known: "lo, enp3s0".into(),
                },
                io::ErrorKind::NotFound,
            ),
            (
                WatchError::Io {
                    interface: "enp3s0".into(),
                    source: io::Error::from(io::ErrorKind::AddrNotAvailable),
                },
                io::ErrorKind::AddrNotAvailable,
            ),
            (WatchError::Unsupported, io::ErrorKind::Unsupported),
        ];
        for (err, kind) in refusals {
            let failure = capture_failure(&err);
            assert_eq!(failure.kind, kind, "{err}");
            assert_eq!(failure.to_string(), err.to_string());
        }
    }
}
