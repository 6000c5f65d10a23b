//! The recovery run as a sans-I/O machine: [`Machine::handle`] takes one [`Input`] (a wire
//! frame, a transfer event, a link change, a tick, a front-end command, the result of a host
//! change) and the time, and returns the [`Effect`]s to carry out (emit an event, start the
//! server, apply the network, start the capture, probe, finish). Every rule of the run's
//! timeline lives here; [`super::driver`] owns the threads, sockets and clock.
//!
//! The rules (issue 11):
//! - the router may speak at any instant: a request during the self-test, a link flap, or
//!   before the technician says "powered on" is served and reported, and the run moves on to
//!   the transfer; a link flap is noted and never restarts anything;
//! - every block accounted for ([`Tally`]): "nothing was sent" only when nothing was, and never
//!   "switch it off" once a block went out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

mod console;
mod ending;
mod host;
mod steps;
mod transfer;
mod wire;

pub use ending::Conclusion;

use super::after::{self, Countdown, Gap, Quiet};
pub use super::exchange::{Effect, Input, PushFailure, Pushed, SelfTested};
use super::method::{self, Method};
use super::tally::Tally;
use crate::engine::checklist::{self, Evidence, Item};
use crate::engine::event::{Command, Event, Phase, RunOutcome};
use crate::engine::plan::{
    AfterTransfer, FirewallPolicy, NetworkConsent, Plan, ServerAddress, Transfer,
};
use crate::net::addr::HostEvent;
use crate::net::check::{Check, CheckKind, CheckOutcome};
use crate::net::observe::{DEFAULT_AWAY_AFTER, Observer, PowerOnTiming, WireExpectation, WireSign};
use crate::net::wire::{ArpKind, EchoKind, Seen, WireEvent};
use crate::tftp::event::{RequestKind, TransferEvent, TransferId};

pub use crate::engine::plan::FLASH_GRACE;

/// An untimed step the wire cannot confirm is followed by the next after this long on
/// screen, so that a step whose effect the wire never shows (a router powered off gives no
/// link) does not hold the rest back.
pub const STEP_PATIENCE: Duration = Duration::from_secs(15);

/// How far the router has come, as far as the wire can tell: each step of a profile is done
/// when the next of these shows (the cable is in: link; the router is on: it speaks; it is in
/// recovery mode: it asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Progress {
    /// Nothing seen yet.
    Nothing,
    /// The port has a link.
    LinkUp,
    /// The router spoke (ARP, ping, DHCP).
    RouterSeen,
    /// The router asked for the image (or its server answered).
    Request,
}

/// Where the run happens, as far as the machine is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// A real port: preflight, consent, network changes, a capture.
    Host {
        /// Whether the network changes still need the technician's yes.
        consent: NetworkConsent,
        /// What happens when the router asks for another server address.
        server_address: ServerAddress,
    },
    /// Loopback with a simulated bootloader: nothing on the host changes.
    Simulated,
}

/// The name the self-test asks for: no bootloader asks for it, so its transfer is never
/// taken for the router's.
pub fn self_test_name() -> String {
    format!("rescue-wizard-self-test-{}", std::process::id())
}

/// What waits on the network step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct NetworkStep {
    /// The consent question is out, unanswered.
    consent_asked: bool,
    /// The port is switched off: the capture starts once the network step brought it up.
    capture_after: bool,
    /// The host firewall drops the router's traffic and `--allow-firewall` lets it in: a
    /// rule goes in right after the network changes.
    open_firewall: bool,
}

/// The run's state.
#[derive(Debug)]
pub struct Machine {
    plan: Plan,
    method: Box<dyn Method>,
    setting: Setting,
    started: Instant,
    epoch: SystemTime,
    phase: Phase,
    evidence: Evidence,
    observer: Observer,
    ours: Vec<Ipv4Addr>,
    self_test_name: String,
    /// Transfers of the self-test, whose events are not the router's.
    own: Vec<TransferId>,
    /// Transfers the router started: id to (peer, name).
    transfers: HashMap<TransferId, (SocketAddr, String)>,
    began: HashMap<TransferId, Instant>,
    tally: Tally,
    listening: Option<SocketAddr>,
    /// What waits on the network step.
    network_step: NetworkStep,
    waiting_since: Option<Instant>,
    last_activity: Instant,
    stall_reported: bool,
    /// Since when the console's write question waits for the technician.
    question_since: Option<Instant>,
    steps_shown: usize,
    /// A timed step ("hold the button for 10 s") is followed by the next only at this instant.
    next_step_at: Option<Instant>,
    /// When the last step shown came up, for [`STEP_PATIENCE`].
    step_shown_at: Option<Instant>,
    checklist: Vec<Item>,
    /// The flashing countdown, once the router has the whole image.
    countdown: Option<Countdown>,
    /// Every address the router may come back at.
    known: Vec<Ipv4Addr>,
    /// The router's silences, told apart from the pause between its announcements.
    quiet: Quiet,
    /// The router's last address heard, for its gaps.
    speaker: Option<Ipv4Addr>,
    /// Where it came back.
    back_at: Option<Ipv4Addr>,
    router_left: bool,
    ended: Option<RunOutcome>,
    changes_made: Vec<String>,
    changes_undone: Vec<String>,
    undo_failures: Vec<String>,
    refused: Option<String>,
    /// The console leg took the boot from RAM: a run that then ends well booted the image.
    ram_boot: bool,
}

impl Machine {
    /// A machine for `plan` in `setting`, started at `now` (the wall clock then: `epoch`).
    pub fn new(plan: Plan, setting: Setting, now: Instant, epoch: SystemTime) -> Self {
        let method = method::for_plan(&plan);
        let evidence = Evidence {
            push: !method.serves(),
            image: Some((plan.image.path.clone(), plan.image.size)),
            interface: plan.port.as_ref().map(|p| p.name.clone()),
            carrier: plan.port.as_ref().map(|p| p.carrier),
            host: plan.host.map(|h| h.addr),
            router: plan.router,
            ..Evidence::default()
        };
        let host = plan.host.map(|h| h.addr);
        let ours: Vec<Ipv4Addr> = host.into_iter().collect();
        let observer = Observer::new(
            WireExpectation {
                ours: ours.clone(),
                host,
                router: plan.router,
                files: match &plan.transfer {
                    Transfer::Serve { expected, .. } | Transfer::Dhcp { expected, .. } => {
                        expected.clone()
                    }
                    Transfer::Push { .. } | Transfer::Nmrp { .. } | Transfer::Http { .. } => {
                        Vec::new()
                    }
                },
            },
            DEFAULT_AWAY_AFTER,
        )
        .with_power_on(PowerOnTiming::from_steps(&plan.steps));
        let tally = Tally::new(plan.image.size);
        let known = after::known_addresses(plan.after, &plan.after_alternates);
        Self {
            plan,
            method,
            setting,
            started: now,
            epoch,
            phase: Phase::Preflight,
            evidence,
            observer,
            ours,
            self_test_name: self_test_name(),
            own: Vec::new(),
            transfers: HashMap::new(),
            began: HashMap::new(),
            tally,
            listening: None,
            network_step: NetworkStep::default(),
            waiting_since: None,
            last_activity: now,
            stall_reported: false,
            question_since: None,
            steps_shown: 0,
            next_step_at: None,
            step_shown_at: None,
            checklist: Vec::new(),
            countdown: None,
            known,
            quiet: Quiet::default(),
            speaker: None,
            back_at: None,
            router_left: false,
            ended: None,
            changes_made: Vec::new(),
            changes_undone: Vec::new(),
            undo_failures: Vec::new(),
            refused: None,
            ram_boot: false,
        }
    }

    /// The phase the run is in.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What went out to the router so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// The plan being carried out.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The name the self-test asks for.
    pub fn self_test_name(&self) -> &str {
        &self.self_test_name
    }

    /// Whether the run has decided how it ends.
    pub fn ended(&self) -> Option<RunOutcome> {
        self.ended
    }

    fn wall(&self, now: Instant) -> SystemTime {
        self.epoch + now.saturating_duration_since(self.started)
    }

    fn enter(&mut self, phase: Phase, out: &mut Vec<Effect>) {
        self.phase = phase;
        out.push(Effect::Emit(Event::PhaseStarted { phase }));
    }

    fn end(&mut self, outcome: RunOutcome, out: &mut Vec<Effect>) {
        if self.ended.is_none() {
            self.ended = Some(outcome);
            out.push(Effect::Finish(outcome));
        }
    }

    /// The run begins: the plan in words, then the preflight.
    pub fn start(&mut self, now: Instant) -> Vec<Effect> {
        let plan = &self.plan;
        let mut out = vec![Effect::Emit(Event::Planned {
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
        })];
        self.enter(Phase::Preflight, &mut out);
        out.push(Effect::TakeSnapshot);
        match self.setting {
            Setting::Host { .. } => {
                if self.plan.port.is_some() {
                    out.push(Effect::Preflight);
                } else {
                    self.network(now, &mut out);
                }
            }
            Setting::Simulated => {
                out.push(Effect::Emit(Event::Checked {
                    check: Check::new(
                        CheckKind::Simulated,
                        "simulated run",
                        CheckOutcome::Pass,
                        "loopback only: nothing on this computer changes",
                        None,
                    ),
                }));
                self.bring_up(now, &mut out);
            }
        }
        out
    }

    /// Takes one input at `now`; returns what to do.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.ended.is_some() {
            // Only the host's own reports matter once the end is decided: the undo.
            if let Input::Host(event) = input {
                self.host_event(event, &mut out);
            }
            return out;
        }
        match input {
            Input::Snapshotted(Ok(())) => {}
            Input::Snapshotted(Err(reason)) => self.fail_preflight(reason, Vec::new(), &mut out),
            Input::Preflighted(checks) => self.preflighted(checks, now, &mut out),
            Input::CaptureStarted { ours } => {
                for ip in ours {
                    if !self.ours.contains(&ip) {
                        self.ours.push(ip);
                    }
                }
            }
            Input::CaptureFailed(err) => out.push(Effect::Emit(Event::Checked {
                check: Check::new(
                    CheckKind::WireWatch,
                    "wire watch",
                    CheckOutcome::Warn,
                    format!("the port cannot be watched: {err}"),
                    Some("run with sudo to see ARP, ping and requests as they happen; the transfer works without it".into()),
                ),
            })),
            Input::NetworkApplied(result) => self.network_applied(result, now, &mut out),
            Input::FirewallOpened(Ok(manual)) => {
                for step in manual {
                    out.push(Effect::Emit(Event::NetworkNoticed {
                        what: format!(
                            "this firewall is not changed by rescue-wizard; to let the router in, run: {step}"
                        ),
                    }));
                }
                self.bring_up(now, &mut out);
            }
            Input::FirewallOpened(Err(error)) => {
                out.push(Effect::Emit(Event::NetworkSetupFailed { error }));
                self.end(RunOutcome::Failed, &mut out);
            }
            Input::ServerStarted(result) => self.server_started(result, &mut out),
            Input::SelfTested(result) => self.self_tested(result, now, &mut out),
            Input::Command(command) => self.command(command, now, &mut out),
            Input::Host(event) => {
                let lost = matches!(event, HostEvent::Carrier { present: false, .. });
                self.host_event(event, &mut out);
                if lost && self.phase == Phase::Flashing && !self.router_left {
                    self.router_left = true;
                    if let Some(ip) = self.plan.router {
                        out.push(Effect::Emit(Event::RouterLeft { ip }));
                    }
                }
            }
            Input::Wire(seen) => self.wire(&seen, now, &mut out),
            Input::Transfer(event) => self.transfer(event, now, &mut out),
            Input::Pushed(result) => self.pushed(result, now, &mut out),
            Input::Probed(ip) => self.router_back(ip, now, &mut out),
            Input::Tick => self.tick(now, &mut out),
            Input::Http(event) => {
                let (events, progress) = method::http::on_event(event, self.plan.image.size);
                if let Some(bytes) = progress {
                    // Bytes the router acknowledged are the transfer moving: the phase is the
                    // transfer's, and neither the stall notice nor --timeout's wait applies.
                    self.evidence.bytes_moved = self.evidence.bytes_moved.max(bytes);
                    self.last_activity = now;
                    self.stall_reported = false;
                    self.enter_transfer(&mut out);
                }
                out.extend(events.into_iter().map(Effect::Emit));
            }
            Input::Nmrp(event) => {
                let news = method::nmrp::on_event(event, &self.plan);
                self.method_news(news, &mut out);
            }
            Input::Dhcp(event) => {
                let (effects, end) = method::dhcp::on_event(event, &self.plan);
                out.extend(effects);
                self.method_news((Vec::new(), end), &mut out);
            }
            Input::Console(news) => {
                self.console_heard(&news, now, &mut out);
                self.method_news(method::console::on_news(news), &mut out);
            }
        }
        // New evidence shows in the checklist at once, not at the next tick, and the step
        // it completes is followed by the next one at once.
        if self.ended.is_none() && self.phase >= Phase::Waiting {
            if self.waiting_since.is_some()
                && matches!(self.phase, Phase::Waiting | Phase::Transfer)
            {
                self.show_due_steps(now, &mut out);
            }
            self.refresh_checklist(&mut out);
        }
        out
    }

    /// What a method's strategy made of its own news: events to show, and maybe the end.
    fn method_news(
        &mut self,
        (events, end): (Vec<Event>, Option<RunOutcome>),
        out: &mut Vec<Effect>,
    ) {
        self.ram_boot |= events
            .iter()
            .any(|e| matches!(e, Event::ConsoleRamBoot { chosen: true, .. }));
        out.extend(events.into_iter().map(Effect::Emit));
        if let Some(outcome) = end {
            self.end(outcome, out);
        }
    }

    fn network_applied(&mut self, result: Result<(), String>, now: Instant, out: &mut Vec<Effect>) {
        match result {
            Ok(()) => {
                if std::mem::take(&mut self.network_step.capture_after) {
                    out.push(Effect::StartCapture);
                }
                if self.network_step.open_firewall {
                    out.push(Effect::OpenFirewall);
                } else {
                    self.bring_up(now, out);
                }
            }
            Err(error) => {
                out.push(Effect::Emit(Event::NetworkSetupFailed { error }));
                self.end(RunOutcome::Failed, out);
            }
        }
    }

    fn preflighted(&mut self, checks: Option<Vec<Check>>, now: Instant, out: &mut Vec<Effect>) {
        let Some(checks) = checks else {
            let port = self.plan.port.as_ref().map_or("", |p| p.name.as_str());
            self.fail_preflight(
                format!("the port {port} is gone.\n  fix: plug the adapter in again, or choose the port with --interface"),
                Vec::new(),
                out,
            );
            return;
        };
        let mut blocking = Vec::new();
        for mut check in checks {
            if check.kind == CheckKind::Firewall
                && check.verdict != CheckOutcome::Pass
                && self.plan.firewall == FirewallPolicy::OpenForRun
            {
                self.network_step.open_firewall = true;
            }
            // What the network step is about to set up is not a failure of the technician's.
            if check.verdict == CheckOutcome::Fail && self.sets_up(check.kind) {
                check.verdict = CheckOutcome::Warn;
                check.detail.push_str("; the next step sets this up");
                check.fix = None;
            }
            // The address and the link are what the network step sets up; a missing link
            // is normal while the router is off.
            let fatal = check.verdict == CheckOutcome::Fail
                && matches!(
                    check.kind,
                    CheckKind::Privileges | CheckKind::Port69 | CheckKind::Firewall
                );
            if fatal {
                blocking.push(check.clone());
            }
            out.push(Effect::Emit(Event::Checked { check }));
        }
        if !blocking.is_empty() {
            let reason = blocking
                .iter()
                .map(|c| format!("{}: {}", c.item, c.detail))
                .collect::<Vec<_>>()
                .join("; ");
            self.fail_preflight(reason, blocking, out);
            return;
        }
        // The capture is up before anything the router could need: its first ARP and
        // requests are seen even while the technician reads the consent question. A port
        // that is switched off hears nothing (and a packet socket on it fails, packet(7):
        // ENETDOWN) until the network step brings it up: then the capture starts right
        // after, still before the server.
        if self.port_down() {
            self.network_step.capture_after = true;
        } else {
            out.push(Effect::StartCapture);
        }
        self.network(now, out);
    }

    /// Whether the port is switched off (administratively down) and the network step
    /// brings it up.
    fn port_down(&self) -> bool {
        self.plan.network.as_ref().is_some_and(|n| n.link_up)
    }

    /// Whether the network step puts this kind of check right itself: the rescue address
    /// when it adds one, the port when it brings it up.
    fn sets_up(&self, kind: CheckKind) -> bool {
        let network = self.plan.network.as_ref();
        match kind {
            CheckKind::Address => network.is_some_and(|n| n.add.is_some()),
            CheckKind::PortSwitchedOff => network.is_some_and(|n| n.link_up),
            CheckKind::Firewall => self.plan.firewall == FirewallPolicy::OpenForRun,
            _ => false,
        }
    }

    fn fail_preflight(&mut self, reason: String, blocking: Vec<Check>, out: &mut Vec<Effect>) {
        out.push(Effect::Emit(Event::PreflightFailed { reason, blocking }));
        self.end(RunOutcome::Failed, out);
    }

    fn network(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.enter(Phase::Network, out);
        let mut changes = self
            .plan
            .network
            .as_ref()
            .map(crate::net::addr::NetworkChanges::describe)
            .unwrap_or_default();
        if self.network_step.open_firewall
            && let (Some(port), Some(host)) = (&self.plan.port, self.plan.host)
        {
            changes.push(format!(
                "let UDP from {}/{} in on {} through the firewall (removed again when rescue-wizard ends)",
                host.network(),
                host.prefix,
                port.name
            ));
        }
        if changes.is_empty() {
            out.push(Effect::Emit(Event::NetworkNoticed {
                what: "the port already has the rescue address: nothing to change".into(),
            }));
            self.bring_up(now, out);
            return;
        }
        if let Setting::Host {
            consent: NetworkConsent::Given,
            ..
        } = self.setting
        {
            out.push(Effect::ApplyNetwork);
        } else {
            self.network_step.consent_asked = true;
            out.push(Effect::Emit(Event::ConsentNeeded { changes }));
        }
    }

    /// The network is in place: the method's server comes up at once (a request that came
    /// before the address was there is answered when the bootloader retries).
    fn bring_up(&mut self, now: Instant, out: &mut Vec<Effect>) {
        let effects = self.method.prepare();
        if effects.is_empty() {
            self.wait(now, out);
        } else {
            out.extend(effects);
        }
    }

    fn server_started(&mut self, result: Result<SocketAddr, String>, out: &mut Vec<Effect>) {
        match result {
            Ok(addr) => {
                self.listening = Some(addr);
                self.evidence.listening = Some(addr);
                out.push(Effect::Emit(Event::Listening { addr }));
                if self.phase < Phase::SelfTest {
                    self.enter(Phase::SelfTest, out);
                }
                let target = if addr.ip().is_unspecified() {
                    let ip = self.plan.host.map_or(Ipv4Addr::LOCALHOST, |h| h.addr);
                    SocketAddr::new(IpAddr::V4(ip), addr.port())
                } else {
                    addr
                };
                out.push(Effect::SelfTest {
                    target,
                    name: self.self_test_name.clone(),
                });
            }
            Err(error) => {
                out.push(Effect::Emit(Event::ServerStartFailed { error }));
                self.end(RunOutcome::Failed, out);
            }
        }
    }

    fn self_tested(
        &mut self,
        result: Result<SelfTested, String>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        match result {
            Ok(done) => {
                self.evidence.self_test = Some(Ok(()));
                out.push(Effect::Emit(Event::SelfTestPassed {
                    bytes: done.bytes,
                    took: done.took,
                }));
                // The router may have asked while the self-test ran: the run is past the
                // wait already.
                if self.phase == Phase::SelfTest {
                    self.wait(now, out);
                }
            }
            Err(reason) => {
                self.evidence.self_test = Some(Err(reason.clone()));
                out.push(Effect::Emit(Event::SelfTestFailed { reason }));
                // A transfer to the router under way is worth more than our own fetch.
                if self.phase == Phase::SelfTest {
                    self.end(RunOutcome::Failed, out);
                }
            }
        }
    }

    /// The technician follows the device's steps; the wire is watched.
    fn wait(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.enter(Phase::Waiting, out);
        self.show_due_steps(now, out);
        out.push(Effect::Emit(Event::WaitingForRouter {
            what: self.method.awaits(),
            timeout: self.plan.timeout,
        }));
        self.waiting_since = Some(now);
        self.last_activity = now;
        self.observer.router_powered(self.wall(now));
        if self.setting == Setting::Simulated {
            out.push(Effect::PowerOnSimulated {
                server: self.listening,
            });
        }
        out.extend(self.method.on_waiting());
        self.refresh_checklist(out);
    }

    /// The router spoke to our server or took data: the run is in the transfer, whatever
    /// phase it was in (the router may speak at any instant).
    fn enter_transfer(&mut self, out: &mut Vec<Effect>) {
        if self.phase < Phase::Transfer {
            self.enter(Phase::Transfer, out);
        }
    }

    fn command(&mut self, command: Option<Command>, now: Instant, out: &mut Vec<Effect>) {
        match command {
            // Every front-end is gone: stop as if asked to.
            None | Some(Command::Cancel) => self.interrupted(now, out),
            Some(Command::Approve) => {
                if self.network_step.consent_asked {
                    self.network_step.consent_asked = false;
                    out.push(Effect::ApplyNetwork);
                }
            }
            Some(Command::Refuse { why }) => {
                if self.network_step.consent_asked {
                    self.network_step.consent_asked = false;
                    self.refused = Some(why);
                    self.end(RunOutcome::Failed, out);
                }
            }
            Some(Command::PoweredOn) => self.observer.router_powered(self.wall(now)),
            Some(Command::AdoptAddress { addr }) => self.adopt(addr, out),
            // The driver hands the answer to the console leg, whose dialogue takes it only
            // while it asks; here the technician's wait ends, whichever the answer.
            Some(Command::ConfirmWrite(_) | Command::BootFromRam) => self.question_answered(now),
        }
    }

    fn adopt(&mut self, addr: Ipv4Addr, out: &mut Vec<Effect>) {
        if matches!(self.setting, Setting::Host { .. }) && !self.ours.contains(&addr) {
            out.push(Effect::Adopt(addr));
            self.ours.push(addr);
        }
    }

    /// What the technician should know about the router when the run stops now: decided by
    /// what went out, never by the phase alone.
    fn advice(&self, now: Instant) -> String {
        if self.tally.complete() {
            let left = self
                .countdown
                .as_ref()
                .map_or(self.plan.flash, |c| c.left(now))
                .as_secs()
                .max(1);
            return format!(
                "the router received the whole image and may be writing its flash now: do not switch it off for another {left} s, until its lights settle{}",
                self.plan
                    .after
                    .map(|a| format!("; then look for it at {a}"))
                    .unwrap_or_default()
            );
        }
        if self.tally.anything_sent() {
            return format!(
                "the transfer was cut short: {}. A partial image: the bootloader checks the whole image before it writes its flash, and rejects this one, so its flash is as it was. Leave it on: it asks again, and the next run serves it",
                self.tally.describe()
            );
        }
        "nothing was sent to the router: it is as it was. Switch it off before the next attempt."
            .to_owned()
    }

    fn interrupted(&mut self, now: Instant, out: &mut Vec<Effect>) {
        out.push(Effect::Emit(Event::Interrupted {
            phase: self.phase,
            advice: self.advice(now),
        }));
        self.end(RunOutcome::Interrupted, out);
    }

    fn router_back(&mut self, ip: Ipv4Addr, now: Instant, out: &mut Vec<Effect>) {
        if self.phase != Phase::Flashing {
            return;
        }
        let after = self
            .countdown
            .as_ref()
            .map_or(Duration::ZERO, |c| c.elapsed(now));
        self.back_at = Some(ip);
        out.push(Effect::Emit(Event::RouterBack { ip, after }));
        self.end(RunOutcome::Flashed, out);
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<Effect>) {
        // At the write question the wait is the technician's: no alarm (machine/console.rs).
        if self.question_since.is_some() {
            return;
        }
        for finding in self.observer.tick(self.wall(now)) {
            self.finding(finding, out);
        }
        if let (Some(Gap::WentQuiet(silent_for)), Some(ip)) = (self.quiet.tick(now), self.speaker) {
            out.push(Effect::Emit(Event::Noticed {
                finding: WireSign::RouterAway { ip, silent_for },
            }));
            if self.phase == Phase::Flashing && !self.router_left {
                self.router_left = true;
                out.push(Effect::Emit(Event::RouterLeft { ip }));
            }
        }
        let Some(waiting_since) = self.waiting_since else {
            return;
        };
        self.evidence.waited = now.saturating_duration_since(waiting_since);
        if matches!(self.phase, Phase::Waiting | Phase::Transfer) {
            self.show_due_steps(now, out);
        }
        match self.phase {
            Phase::Waiting | Phase::Transfer => {
                let quiet = now.saturating_duration_since(self.last_activity);
                if self.phase == Phase::Waiting
                    && now.saturating_duration_since(waiting_since) >= self.plan.timeout
                {
                    let heard = self.tally.anything_sent()
                        || self.evidence.requests_on_wire > 0
                        || self.evidence.router_seen.is_some();
                    out.push(Effect::Emit(Event::TransferFailed {
                        peer: None,
                        reason: format!(
                            "gave up after {} s without a transfer (--timeout); {}",
                            self.plan.timeout.as_secs(),
                            self.tally.describe()
                        ),
                    }));
                    let outcome = if heard {
                        RunOutcome::Failed
                    } else {
                        RunOutcome::TimedOut
                    };
                    self.end(outcome, out);
                    return;
                }
                if quiet >= self.plan.stall_after && !self.stall_reported {
                    self.stall_reported = true;
                    let what = if self.phase == Phase::Transfer {
                        format!("the transfer has not moved for {} s", quiet.as_secs())
                    } else {
                        format!("no sign of the router for {} s", quiet.as_secs())
                    };
                    let checklist = checklist::evaluate(&self.evidence);
                    let fix = checklist::current_fix(&checklist);
                    out.push(Effect::Emit(Event::Stalled {
                        what,
                        fix,
                        checklist,
                    }));
                }
            }
            Phase::Flashing => {
                let Some(countdown) = self.countdown.as_mut() else {
                    return;
                };
                let since = countdown.elapsed(now);
                if let Some(remaining) = countdown.tell(now) {
                    out.push(Effect::Emit(Event::FlashingCountdown { remaining }));
                }
                let patience = if self.known.is_empty() {
                    self.plan.flash
                } else {
                    self.plan.flash + FLASH_GRACE
                };
                if since >= patience {
                    let outcome = if self.known.is_empty() {
                        RunOutcome::Flashed
                    } else {
                        RunOutcome::Transferred
                    };
                    self.end(outcome, out);
                }
            }
            _ => {}
        }
    }
}
