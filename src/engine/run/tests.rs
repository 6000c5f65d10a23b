//! The run machine in virtual time: every ordering of request, link, self-test, consent and
//! capture start; a transfer cut at block k; Ctrl-C at each phase and what it says. No root,
//! no sockets, no sleeping: inputs and instants only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::machine::{Effect, Input, Machine, PushFailure, Pushed, SelfTested, Setting};
use crate::engine::event::{Command, Event, Phase, RunOutcome};
use crate::engine::plan::{self, ImageFacts, Settings};
use crate::net::addr::HostEvent;
use crate::net::check::{Check, CheckKind, Verdict};
use crate::net::iface::InterfaceKind;
use crate::net::wire::{ArpKind, Mac, Seen, TftpKind, WireEvent};
use crate::profile::Catalogue;
use crate::tftp::event::{RequestKind, TransferEvent, TransferId};

const SIZE: u64 = 4 * 1024 * 1024 + 123;
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 86);
const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 66);
const ROUTER_MAC: Mac = Mac([0xba, 0xbe, 0xfa, 0xce, 0x08, 0x41]);
const FILE: &str = "wr841nv9_tp_recovery.bin";

fn plan_for(device: &str) -> crate::engine::Plan {
    let (catalogue, _) = Catalogue::load(None).unwrap();
    let profile = catalogue.get(device).unwrap().profile.clone();
    let interfaces = vec![
        crate::net::iface::sample::loopback(),
        crate::net::iface::sample::port(
            2,
            "enp3s0",
            InterfaceKind::Wired,
            "00:e0:4c:68:00:01",
            &[],
            Some(false),
        ),
    ];
    let image = ImageFacts {
        path: PathBuf::from("/home/tech/wr841nv9-factory.bin"),
        size: SIZE,
        sha256: "9f2c".into(),
    };
    let settings = Settings {
        interface: Some("enp3s0".into()),
        ..Settings::default()
    };
    plan::build(&profile, image, &interfaces, &settings).unwrap()
}

/// A machine, the virtual clock, and everything it asked for so far.
struct Rig {
    machine: Machine,
    t0: Instant,
    now: Instant,
    effects: Vec<Effect>,
}

impl Rig {
    fn new(device: &str, setting: Setting) -> Self {
        Self::with_plan(plan_for(device), setting)
    }

    fn with_plan(plan: crate::engine::Plan, setting: Setting) -> Self {
        let t0 = Instant::now();
        let mut machine = Machine::new(plan, setting, t0, SystemTime::UNIX_EPOCH);
        let effects = machine.start(t0);
        Self {
            machine,
            t0,
            now: t0,
            effects,
        }
    }

    /// The TL-WR841N v9 (the router pulls) on a real port, consent not given yet.
    fn pull() -> Self {
        Self::new(
            "tl-wr841n-v9",
            Setting::Host {
                approved: false,
                adopt: false,
            },
        )
    }

    fn at(&mut self, secs: f64) -> &mut Self {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self
    }

    fn feed(&mut self, input: Input) -> Vec<Effect> {
        let effects = self.machine.handle(input, self.now);
        self.effects.extend(effects.clone());
        effects
    }

    fn events(&self) -> Vec<&Event> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Emit(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    fn text(&self) -> String {
        self.events()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn asked(&self, want: impl Fn(&Effect) -> bool) -> usize {
        self.effects.iter().filter(|e| want(e)).count()
    }

    fn finished(&self) -> Option<RunOutcome> {
        self.effects.iter().find_map(|e| match e {
            Effect::Finish(outcome) => Some(*outcome),
            _ => None,
        })
    }

    fn interrupted_advice(&self) -> String {
        self.events()
            .iter()
            .find_map(|e| match e {
                Event::Interrupted { advice, .. } => Some(advice.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no interrupted event:\n{}", self.text()))
    }

    /// Through the preflight and the capture start, up to the consent question.
    fn through_consent(&mut self) -> &mut Self {
        self.feed(Input::Preflighted(Some(Vec::new())));
        self.feed(Input::CaptureStarted { ours: Vec::new() });
        self
    }

    /// Consent given and the network in place: the server is asked for.
    fn through_network(&mut self) -> &mut Self {
        self.through_consent();
        self.feed(Input::Command(Some(Command::Approve)));
        self.feed(Input::NetworkApplied(Ok(())));
        self
    }

    /// The server listens: the self-test runs.
    fn up_to_self_test(&mut self) -> &mut Self {
        self.through_network();
        self.feed(Input::ServerStarted(Ok(server())));
        self
    }

    /// The self-test passed: the run waits.
    fn through_self_test(&mut self) -> &mut Self {
        self.up_to_self_test();
        self.feed(self_test_passed());
        self
    }

    fn request(&mut self, id: u64) -> &mut Self {
        self.feed(Input::Transfer(TransferEvent::RequestReceived {
            id: TransferId(id),
            peer: router_peer(),
            local: IpAddr::V4(HOST),
            name: FILE.into(),
            kind: RequestKind::Read,
            options: Vec::new(),
        }));
        self
    }

    fn acked(&mut self, id: u64, bytes: u64) -> &mut Self {
        self.feed(Input::Transfer(TransferEvent::Progress {
            id: TransferId(id),
            bytes,
            total: Some(SIZE),
            timeouts: 0,
        }));
        self
    }

    fn finished_transfer(&mut self, id: u64) -> &mut Self {
        self.feed(Input::Transfer(TransferEvent::Finished {
            id: TransferId(id),
            peer: router_peer(),
            name: FILE.into(),
            bytes: SIZE,
            elapsed: Duration::from_secs(9),
            sha256: "9f2c".into(),
            confirmed: true,
            stats: crate::tftp::session::Stats::default(),
        }));
        self
    }

    fn link(&mut self, present: bool) -> &mut Self {
        self.feed(Input::Host(HostEvent::Carrier {
            ifname: "enp3s0".into(),
            present,
        }));
        self
    }

    fn cancel(&mut self) -> &mut Self {
        self.feed(Input::Command(Some(Command::Cancel)));
        self
    }
}

fn server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(HOST), 69)
}

fn router_peer() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ROUTER), 1024)
}

fn self_test_passed() -> Input {
    Input::SelfTested(Ok(SelfTested {
        bytes: SIZE,
        took: Duration::from_millis(20),
    }))
}

fn tftp_on_wire() -> Input {
    Input::Wire(Seen {
        at: SystemTime::UNIX_EPOCH,
        event: WireEvent::Tftp {
            op: TftpKind::Read,
            file: FILE.into(),
            from: SocketAddrV4::new(ROUTER, 1024),
            mac: ROUTER_MAC,
            to: HOST,
            ttl: 64,
        },
    })
}

/// Once a block went out, nothing the run says may tell the technician to cut the power,
/// nor that nothing was sent.
fn assert_no_power_off_advice(rig: &Rig) {
    for event in rig.events() {
        let text = event.to_string().to_lowercase();
        let json = serde_json::to_string(event).unwrap().to_lowercase();
        for said in [&text, &json] {
            assert!(
                !said
                    .replace("do not switch it off", "")
                    .contains("switch it off"),
                "told to switch the router off after a block went out: {said}"
            );
            assert!(
                !said.contains("nothing was sent"),
                "said nothing was sent after a block went out: {said}"
            );
        }
    }
}

#[test]
fn the_happy_order_serves_after_the_self_test() {
    let mut rig = Rig::pull();
    rig.through_self_test();
    assert_eq!(rig.machine.phase(), Phase::Waiting);
    // The capture comes before the consent question, the server right after the network.
    let order: Vec<usize> = [
        |e: &Effect| matches!(e, Effect::StartCapture),
        |e: &Effect| matches!(e, Effect::Emit(Event::ConsentNeeded { .. })),
        |e: &Effect| matches!(e, Effect::ApplyNetwork),
        |e: &Effect| matches!(e, Effect::StartServer),
        |e: &Effect| matches!(e, Effect::SelfTest { .. }),
        |e: &Effect| matches!(e, Effect::Emit(Event::WaitingForRouter { .. })),
    ]
    .iter()
    .map(|want| rig.effects.iter().position(want).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    rig.at(30.0)
        .request(7)
        .acked(7, SIZE / 2)
        .finished_transfer(7);
    assert_eq!(rig.machine.phase(), Phase::Flashing);
    assert!(rig.machine.tally().complete());
}

#[test]
fn a_request_during_the_self_test_is_served_and_the_run_moves_to_the_transfer() {
    let mut rig = Rig::pull();
    rig.up_to_self_test();
    // The self-test's own request is ours, whatever address it comes from.
    let own = rig.machine.self_test_name().to_owned();
    rig.feed(Input::Transfer(TransferEvent::RequestReceived {
        id: TransferId(1),
        peer: SocketAddr::new(IpAddr::V4(HOST), 40000),
        local: IpAddr::V4(HOST),
        name: own,
        kind: RequestKind::Read,
        options: Vec::new(),
    }));
    assert_eq!(rig.machine.phase(), Phase::SelfTest);
    assert!(!rig.machine.tally().anything_sent());
    rig.at(0.5).request(2);
    assert_eq!(rig.machine.phase(), Phase::Transfer);
    rig.acked(1, SIZE).acked(2, 512);
    assert_eq!(rig.machine.tally().acknowledged_bytes(), 512);
    rig.feed(self_test_passed());
    // Still in the transfer: the self-test's end does not send the run back to waiting.
    assert_eq!(rig.machine.phase(), Phase::Transfer);
    assert_eq!(
        rig.asked(|e| matches!(e, Effect::Emit(Event::WaitingForRouter { .. }))),
        0
    );
    rig.at(9.0).finished_transfer(2);
    assert_eq!(rig.machine.phase(), Phase::Flashing);
    rig.at(10.0).cancel();
    assert!(
        rig.interrupted_advice()
            .contains("do not switch it off for another")
    );
    assert_no_power_off_advice(&rig);
}

#[test]
fn a_failed_self_test_does_not_end_a_transfer_to_the_router() {
    let mut rig = Rig::pull();
    rig.up_to_self_test().request(2);
    rig.feed(Input::SelfTested(Err("timed out".into())));
    assert_eq!(rig.finished(), None);
    assert_eq!(rig.machine.phase(), Phase::Transfer);
}

#[test]
fn a_request_seen_before_consent_is_reported_and_served_once_the_network_is_in_place() {
    let mut rig = Rig::pull();
    rig.through_consent();
    // U-Boot already retrying: its requests show on the wire before the address exists.
    rig.at(0.2).feed(tftp_on_wire());
    assert_eq!(rig.machine.phase(), Phase::Network);
    assert_eq!(rig.asked(|e| matches!(e, Effect::ApplyNetwork)), 0);
    assert!(
        rig.events().iter().any(|e| matches!(e, Event::Wire { .. })),
        "{}",
        rig.text()
    );
    rig.at(3.0).feed(Input::Command(Some(Command::Approve)));
    rig.feed(Input::NetworkApplied(Ok(())));
    rig.feed(Input::ServerStarted(Ok(server())));
    // The next retry reaches the server while the self-test runs.
    rig.at(4.0).request(3);
    assert_eq!(rig.machine.phase(), Phase::Transfer);
    rig.feed(self_test_passed());
    rig.at(12.0).finished_transfer(3);
    assert_eq!(rig.machine.phase(), Phase::Flashing);
}

#[test]
fn a_request_before_the_technician_says_powered_on_is_served() {
    let mut rig = Rig::pull();
    rig.through_self_test().at(1.0).request(4);
    assert_eq!(rig.machine.phase(), Phase::Transfer);
    rig.feed(Input::Command(Some(Command::PoweredOn)));
    assert_eq!(rig.machine.phase(), Phase::Transfer);
    assert!(
        rig.events()
            .iter()
            .any(|e| matches!(e, Event::RequestReceived { .. }))
    );
}

#[test]
fn a_link_flap_in_any_phase_is_noted_and_restarts_nothing() {
    for phase in [
        Phase::Network,
        Phase::SelfTest,
        Phase::Waiting,
        Phase::Transfer,
    ] {
        let mut rig = Rig::pull();
        match phase {
            Phase::Network => {
                rig.through_consent();
            }
            Phase::SelfTest => {
                rig.up_to_self_test();
            }
            Phase::Waiting => {
                rig.through_self_test();
            }
            _ => {
                rig.through_self_test().request(5).acked(5, 2048);
            }
        }
        let servers = rig.asked(|e| matches!(e, Effect::StartServer));
        let tests = rig.asked(|e| matches!(e, Effect::SelfTest { .. }));
        // The sample port starts without a link: the router comes up, goes, comes back.
        rig.link(true).link(false).link(true);
        assert_eq!(rig.machine.phase(), phase);
        assert_eq!(rig.asked(|e| matches!(e, Effect::StartServer)), servers);
        assert_eq!(rig.asked(|e| matches!(e, Effect::SelfTest { .. })), tests);
        let noticed: Vec<String> = rig
            .events()
            .iter()
            .filter_map(|e| match e {
                Event::NetworkNoticed { what } => Some(what.clone()),
                _ => None,
            })
            .collect();
        assert!(
            noticed.iter().any(|w| w.contains("link lost")),
            "{noticed:?}"
        );
        assert!(noticed.iter().any(|w| w.contains("link up")), "{noticed:?}");
        // The keeper and the driver's look at the port may both report it: told once.
        rig.link(true);
        let again = rig
            .events()
            .iter()
            .filter(|e| matches!(e, Event::NetworkNoticed { .. }))
            .count();
        assert_eq!(
            again,
            noticed.len(),
            "a repeated link report was told twice"
        );
        assert_eq!(rig.finished(), None);
    }
    // The carrier toggled right before the request: the request is served all the same.
    let mut rig = Rig::pull();
    rig.through_self_test()
        .link(true)
        .link(false)
        .link(true)
        .request(6);
    assert_eq!(rig.machine.phase(), Phase::Transfer);
    assert_eq!(rig.machine.tally().acknowledged_bytes(), 0);
    rig.acked(6, 4096);
    assert_eq!(rig.machine.tally().acknowledged_bytes(), 4096);
}

#[test]
fn a_transfer_cut_at_block_k_says_how_far_it_got_and_never_switch_it_off() {
    for k in [0_u64, 1, 7, 4000] {
        let mut rig = Rig::pull();
        rig.through_self_test().request(9);
        if k > 0 {
            rig.acked(9, k * 512);
        }
        rig.feed(Input::Transfer(TransferEvent::Failed {
            id: TransferId(9),
            peer: router_peer(),
            name: FILE.into(),
            reason: "the router stopped answering".into(),
        }));
        assert_eq!(rig.machine.phase(), Phase::Waiting);
        let how_far = format!("{} of {SIZE} bytes acknowledged", k * 512);
        assert!(rig.text().contains(&how_far), "k={k}:\n{}", rig.text());
        rig.cancel();
        let advice = rig.interrupted_advice();
        assert!(advice.contains(&how_far), "{advice}");
        assert!(advice.contains("partial image"), "{advice}");
        assert_no_power_off_advice(&rig);
        let (effects, conclusion) = rig.machine.conclude(RunOutcome::Interrupted);
        assert_eq!(conclusion.tally.acknowledged_bytes(), k * 512);
        assert!(conclusion.tally.sent_bytes() >= k * 512 + 512);
        let summary = effects
            .iter()
            .find_map(|e| match e {
                Effect::Emit(Event::Finished { summary, .. }) => Some(summary.clone()),
                _ => None,
            })
            .unwrap();
        assert!(summary.contains(&how_far), "{summary}");
    }
}

#[test]
fn a_timeout_after_a_partial_transfer_is_a_failure_that_says_so() {
    let mut rig = Rig::pull();
    rig.through_self_test()
        .at(5.0)
        .request(9)
        .acked(9, 10 * 512);
    rig.feed(Input::Transfer(TransferEvent::Failed {
        id: TransferId(9),
        peer: router_peer(),
        name: FILE.into(),
        reason: "the router stopped answering".into(),
    }));
    let timeout = rig.machine.plan().timeout.as_secs_f64();
    rig.at(5.0 + timeout + 1.0).feed(Input::Tick);
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    assert!(rig.text().contains("5120 of"), "{}", rig.text());
    assert_no_power_off_advice(&rig);
}

/// How a case reaches its phase.
type Reach = fn(&mut Rig);

#[test]
fn ctrl_c_at_each_phase_says_what_state_the_router_is_in() {
    let nothing = "nothing was sent to the router";
    let cases: Vec<(&str, Reach, Phase, &str)> = vec![
        ("preflight", |_| {}, Phase::Preflight, nothing),
        (
            "consent",
            |r| {
                r.through_consent();
            },
            Phase::Network,
            nothing,
        ),
        (
            "self-test",
            |r| {
                r.up_to_self_test();
            },
            Phase::SelfTest,
            nothing,
        ),
        (
            "waiting",
            |r| {
                r.through_self_test();
            },
            Phase::Waiting,
            nothing,
        ),
        (
            "transfer, request answered",
            |r| {
                r.through_self_test().request(1);
            },
            Phase::Transfer,
            "0 of 4194427 bytes acknowledged by the router (at most 512 sent)",
        ),
        (
            "transfer, half way",
            |r| {
                r.through_self_test().request(1).acked(1, 2_097_152);
            },
            Phase::Transfer,
            "2097152 of 4194427 bytes acknowledged",
        ),
        (
            "flashing",
            |r| {
                r.through_self_test().request(1).finished_transfer(1);
            },
            Phase::Flashing,
            "do not switch it off for another 180 s",
        ),
    ];
    for (name, reach, phase, says) in cases {
        let mut rig = Rig::pull();
        reach(&mut rig);
        assert_eq!(rig.machine.phase(), phase, "{name}");
        rig.cancel();
        assert_eq!(rig.finished(), Some(RunOutcome::Interrupted), "{name}");
        let advice = rig.interrupted_advice();
        assert!(advice.contains(says), "{name}: {advice}");
        if rig.machine.tally().anything_sent() {
            assert_no_power_off_advice(&rig);
        } else {
            assert!(advice.contains("Switch it off"), "{name}: {advice}");
        }
    }
}

#[test]
fn refusing_consent_changes_nothing_and_sends_nothing() {
    let mut rig = Rig::pull();
    rig.through_consent();
    rig.feed(Input::Command(Some(Command::Refuse {
        why: "declined".into(),
    })));
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    assert_eq!(rig.asked(|e| matches!(e, Effect::ApplyNetwork)), 0);
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartServer)), 0);
    let (_, conclusion) = rig.machine.conclude(RunOutcome::Failed);
    assert_eq!(conclusion.refused.as_deref(), Some("declined"));
}

#[test]
fn inputs_after_the_end_change_nothing_but_the_restore_is_reported() {
    let mut rig = Rig::pull();
    rig.through_self_test().cancel();
    let before = rig.effects.len();
    rig.request(3);
    rig.feed(Input::Tick);
    assert_eq!(rig.effects.len(), before);
    assert!(!rig.machine.tally().anything_sent());
}

#[test]
fn the_push_method_starts_its_client_once_the_run_waits() {
    let mut rig = Rig::new(
        "asus-rt-ac68u",
        Setting::Host {
            approved: true,
            adopt: false,
        },
    );
    rig.feed(Input::Preflighted(Some(Vec::new())));
    rig.feed(Input::CaptureStarted { ours: Vec::new() });
    rig.feed(Input::NetworkApplied(Ok(())));
    assert_eq!(rig.machine.phase(), Phase::Waiting);
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartServer)), 0);
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartPush)), 1);
    rig.feed(Input::Pushed(Err(PushFailure::NoAnswer)));
    assert_eq!(rig.finished(), Some(RunOutcome::TimedOut));

    let mut rig = Rig::new(
        "asus-rt-ac68u",
        Setting::Host {
            approved: true,
            adopt: false,
        },
    );
    rig.feed(Input::Preflighted(Some(Vec::new())));
    rig.feed(Input::NetworkApplied(Ok(())));
    rig.feed(Input::Pushed(Ok(Pushed {
        peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)), 69),
        bytes: SIZE,
        took: Duration::from_secs(3),
        sha256: "9f2c".into(),
        confirmed: true,
    })));
    assert!(rig.machine.tally().complete());
}

#[test]
fn a_simulated_run_needs_no_preflight_and_powers_the_router_on_when_it_waits() {
    let mut rig = Rig::new("tl-wr841n-v9", Setting::Simulated);
    assert_eq!(rig.asked(|e| matches!(e, Effect::Preflight)), 0);
    rig.feed(Input::ServerStarted(Ok(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        40069,
    ))));
    rig.feed(self_test_passed());
    assert_eq!(
        rig.asked(|e| matches!(e, Effect::PowerOnSimulated { server: Some(_) })),
        1
    );
}

#[test]
fn the_router_arp_for_the_rescue_address_is_evidence_not_our_own_frames() {
    let mut rig = Rig::pull();
    rig.through_self_test();
    rig.feed(Input::Wire(Seen {
        at: SystemTime::UNIX_EPOCH,
        event: WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: HOST,
            sender_mac: Mac([0, 0xe0, 0x4c, 0x68, 0, 1]),
            target_ip: ROUTER,
        },
    }));
    assert!(
        !rig.events().iter().any(|e| matches!(e, Event::Wire { .. })),
        "our own ARP was taken for the router's"
    );
}

fn arp_from(ip: Ipv4Addr, at: SystemTime) -> Input {
    Input::Wire(Seen {
        at,
        event: WireEvent::Arp {
            op: ArpKind::Gratuitous,
            sender_ip: ip,
            sender_mac: Mac([0x14, 0xcc, 0x20, 0x0d, 0x8a, 0x41]),
            target_ip: ip,
        },
    })
}

/// Ticks every second from `from` to `to` (seconds since the start), with an ARP from `ip` at
/// each second `speaks` says.
fn live(rig: &mut Rig, from: u64, to: u64, ip: Ipv4Addr, speaks: impl Fn(u64) -> bool) {
    for second in from..to {
        rig.at(second as f64);
        if speaks(second) {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(second);
            rig.feed(arp_from(ip, at));
        }
        rig.feed(Input::Tick);
    }
}

#[test]
fn periodic_arp_after_the_transfer_is_one_living_router_and_the_countdown_ends_once() {
    let mut rig = Rig::pull();
    rig.through_self_test()
        .at(1.0)
        .request(1)
        .at(10.0)
        .finished_transfer(1);
    // The bootloader keeps announcing itself every 20 s while it writes: no boot loop.
    let flash = rig.machine.plan().flash.as_secs();
    live(&mut rig, 10, 10 + flash + 30, ROUTER, |s| s % 20 == 0);
    let left = rig
        .events()
        .iter()
        .filter(|e| matches!(e, Event::RouterLeft { .. }))
        .count();
    let gaps = rig
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Noticed {
                    finding: crate::net::observe::Finding::RouterAway { .. }
                        | crate::net::observe::Finding::RouterBack { .. }
                }
            )
        })
        .count();
    assert_eq!((left, gaps), (0, 0), "{}", rig.text());
    let zeros = rig
        .events()
        .iter()
        .filter(|e| matches!(e, Event::FlashingCountdown { remaining } if remaining.is_zero()))
        .count();
    assert_eq!(zeros, 1, "{}", rig.text());
    let counts = rig
        .events()
        .iter()
        .filter(|e| matches!(e, Event::FlashingCountdown { .. }))
        .count();
    assert!(counts as u64 <= flash + 1, "{counts} countdown events");
}

#[test]
fn a_real_reboot_gap_is_told_once_and_the_router_counts_back_at_an_alternate_address() {
    let stock = Ipv4Addr::new(192, 168, 0, 1);
    let mut plan = plan_for("tl-wr841n-v9");
    plan.after_alternates = vec![stock];
    let mut rig = Rig::with_plan(
        plan,
        Setting::Host {
            approved: false,
            adopt: false,
        },
    );
    rig.through_self_test()
        .at(1.0)
        .request(1)
        .at(10.0)
        .finished_transfer(1);
    assert_eq!(
        rig.asked(|e| matches!(e, Effect::Probe(ip) if *ip == stock)),
        1,
        "the alternate address is probed too"
    );
    // Speaks, then writes its flash in silence for 90 s, then comes back at stock's address.
    live(&mut rig, 10, 100, ROUTER, |s| s < 15);
    let left = rig
        .events()
        .iter()
        .filter(|e| matches!(e, Event::RouterLeft { .. }))
        .count();
    assert_eq!(left, 1, "{}", rig.text());
    rig.at(100.0).feed(arp_from(stock, SystemTime::UNIX_EPOCH));
    assert_eq!(rig.finished(), Some(RunOutcome::Flashed));
    let (effects, _) = rig.machine.conclude(RunOutcome::Flashed);
    let summary = effects
        .iter()
        .find_map(|e| match e {
            Effect::Emit(Event::Finished { summary, .. }) => Some(summary.clone()),
            _ => None,
        })
        .unwrap();
    assert!(summary.contains("back at 192.168.0.1"), "{summary}");
}

#[test]
fn a_switched_off_port_is_watched_as_soon_as_the_network_step_brings_it_up() {
    let mut plan = plan_for("tl-wr841n-v9");
    if let Some(network) = plan.network.as_mut() {
        network.link_up = true;
    }
    let mut rig = Rig::with_plan(
        plan,
        Setting::Host {
            approved: true,
            adopt: false,
        },
    );
    rig.feed(Input::Preflighted(Some(Vec::new())));
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartCapture)), 0);
    let effects = rig.feed(Input::NetworkApplied(Ok(())));
    let capture = effects
        .iter()
        .position(|e| matches!(e, Effect::StartCapture))
        .expect("the capture starts once the port is up");
    let server = effects
        .iter()
        .position(|e| matches!(e, Effect::StartServer))
        .unwrap();
    assert!(capture < server, "{effects:?}");
}

fn check(kind: CheckKind, item: &str, verdict: Verdict) -> Check {
    Check::new(
        kind,
        item,
        verdict,
        "as seen",
        Some(format!("fix for {item}")),
    )
}

#[test]
fn a_blocking_check_is_a_preflight_failure_of_its_own_keyed_on_its_kind() {
    // The item's words are not what counts: a check named like the address is still a
    // UDP port 69 failure when its kind says so.
    let mut rig = Rig::pull();
    rig.feed(Input::Preflighted(Some(vec![
        check(CheckKind::Privileges, "privileges", Verdict::Pass),
        check(CheckKind::Port69, "address of the port", Verdict::Fail),
    ])));
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    let blocking = rig
        .events()
        .iter()
        .find_map(|e| match e {
            Event::PreflightFailed { blocking, .. } => Some(blocking.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no preflight failure:\n{}", rig.text()));
    assert_eq!(blocking.len(), 1);
    assert_eq!(blocking[0].kind, CheckKind::Port69);
    assert!(
        rig.text()
            .contains("fix (address of the port): fix for address of the port"),
        "{}",
        rig.text()
    );
    assert!(
        !rig.events()
            .iter()
            .any(|e| matches!(e, Event::TransferFailed { .. })),
        "{}",
        rig.text()
    );
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartCapture)), 0);
    assert_eq!(rig.asked(|e| matches!(e, Effect::ApplyNetwork)), 0);
}

#[test]
fn what_the_network_step_sets_up_is_not_a_failure_whatever_its_words() {
    let mut rig = Rig::pull();
    // The plan adds the rescue address; the link's carrier is the router's business.
    rig.feed(Input::Preflighted(Some(vec![
        check(CheckKind::Address, "rescue address", Verdict::Fail),
        check(CheckKind::Link, "cable", Verdict::Fail),
    ])));
    assert_eq!(rig.finished(), None, "{}", rig.text());
    let verdicts: Vec<(CheckKind, Verdict)> = rig
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Checked { check } => Some((check.kind, check.verdict)),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (CheckKind::Address, Verdict::Warn),
            (CheckKind::Link, Verdict::Fail)
        ]
    );
    assert_eq!(
        rig.asked(|e| matches!(e, Effect::Emit(Event::ConsentNeeded { .. }))),
        1
    );
}

#[test]
fn network_and_server_failures_are_events_of_their_own() {
    let mut rig = Rig::pull();
    rig.through_consent();
    rig.feed(Input::Command(Some(Command::Approve)));
    rig.feed(Input::NetworkApplied(Err("not allowed".into())));
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    assert!(
        rig.events().iter().any(|e| matches!(
            e,
            Event::NetworkSetupFailed { error } if error == "not allowed"
        )),
        "{}",
        rig.text()
    );
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartServer)), 0);

    let mut rig = Rig::pull();
    rig.through_network();
    rig.feed(Input::ServerStarted(Err("port 69 taken".into())));
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    assert!(
        rig.text()
            .contains("the TFTP server could not start: port 69 taken"),
        "{}",
        rig.text()
    );
    assert!(
        !rig.events()
            .iter()
            .any(|e| matches!(e, Event::TransferFailed { .. })),
        "{}",
        rig.text()
    );
}

fn firewall_drops() -> Check {
    check(CheckKind::Firewall, "firewall (nftables)", Verdict::Fail)
}

#[test]
fn a_firewall_that_drops_the_router_stops_the_run_unless_allowed() {
    let mut rig = Rig::pull();
    rig.feed(Input::Preflighted(Some(vec![firewall_drops()])));
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    assert!(
        rig.events()
            .iter()
            .any(|e| matches!(e, Event::PreflightFailed { .. })),
        "{}",
        rig.text()
    );
    assert_eq!(rig.asked(|e| matches!(e, Effect::OpenFirewall)), 0);
}

#[test]
fn allowed_the_firewall_is_opened_with_consent_after_the_network_and_before_the_server() {
    let mut plan = plan_for("tl-wr841n-v9");
    plan.allow_firewall = true;
    let mut rig = Rig::with_plan(
        plan,
        Setting::Host {
            approved: false,
            adopt: false,
        },
    );
    rig.feed(Input::Preflighted(Some(vec![firewall_drops()])));
    assert_eq!(rig.finished(), None, "{}", rig.text());
    let changes = rig
        .events()
        .iter()
        .find_map(|e| match e {
            Event::ConsentNeeded { changes } => Some(changes.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no consent asked:\n{}", rig.text()));
    assert!(
        changes.last().is_some_and(|c| c
            == "let UDP from 192.168.0.0/24 in on enp3s0 through the firewall (removed again when rescue-wizard ends)"),
        "{changes:?}"
    );
    rig.feed(Input::Command(Some(Command::Approve)));
    let after_network = rig.feed(Input::NetworkApplied(Ok(())));
    assert!(
        after_network.contains(&Effect::OpenFirewall),
        "{after_network:?}"
    );
    assert!(!after_network.contains(&Effect::StartServer));
    let opened = rig.feed(Input::FirewallOpened(Ok(vec![
        "ufw allow in on enp3s0".into(),
    ])));
    assert!(opened.contains(&Effect::StartServer), "{opened:?}");
    assert!(
        rig.text().contains(
            "this firewall is not changed by rescue-wizard; to let the router in, run: ufw allow in on enp3s0"
        ),
        "{}",
        rig.text()
    );

    // A firewall that cannot be opened is a failure of the network step.
    let mut plan = plan_for("tl-wr841n-v9");
    plan.allow_firewall = true;
    let mut rig = Rig::with_plan(
        plan,
        Setting::Host {
            approved: true,
            adopt: false,
        },
    );
    rig.feed(Input::Preflighted(Some(vec![firewall_drops()])));
    rig.feed(Input::NetworkApplied(Ok(())));
    rig.feed(Input::FirewallOpened(Err("nft failed".into())));
    assert_eq!(rig.finished(), Some(RunOutcome::Failed));
    assert!(
        rig.text()
            .contains("the network could not be set up: nft failed")
    );
    assert_eq!(rig.asked(|e| matches!(e, Effect::StartServer)), 0);
}

fn steps_shown(rig: &Rig) -> Vec<usize> {
    rig.events()
        .iter()
        .filter_map(|e| match e {
            Event::Step { number, .. } => Some(*number),
            _ => None,
        })
        .collect()
}

#[test]
fn each_step_shows_when_the_wire_says_the_one_before_is_done() {
    let mut rig = Rig::pull();
    rig.through_self_test();
    // The cable's link was up when the plan was made: step 1 (connect) is done already.
    assert_eq!(steps_shown(&rig), vec![1, 2], "{}", rig.text());
    // Step 2 (power on in recovery mode) is done once the router speaks, not before.
    rig.at(5.0).feed(Input::Tick);
    assert_eq!(steps_shown(&rig), vec![1, 2]);
    rig.at(6.0).feed(arp_from(ROUTER, SystemTime::UNIX_EPOCH));
    assert_eq!(steps_shown(&rig), vec![1, 2, 3], "{}", rig.text());

    // The router off at first (no link): one step at a time, each on its evidence.
    let mut rig = Rig::pull();
    rig.link(false).through_self_test();
    assert_eq!(steps_shown(&rig), vec![1], "{}", rig.text());
    rig.at(2.0).link(true);
    assert_eq!(steps_shown(&rig), vec![1, 2], "{}", rig.text());
    // A request means every step before the transfer is done.
    rig.at(4.0).request(1);
    assert_eq!(steps_shown(&rig), vec![1, 2, 3], "{}", rig.text());
}

#[test]
fn a_step_the_wire_cannot_confirm_is_followed_after_a_while_and_a_stall_names_the_fix() {
    let mut rig = Rig::pull();
    rig.link(false).through_self_test();
    assert_eq!(steps_shown(&rig), vec![1]);
    let patience = super::machine::STEP_PATIENCE.as_secs_f64();
    rig.at(patience - 1.0).feed(Input::Tick);
    assert_eq!(steps_shown(&rig), vec![1]);
    rig.at(patience).feed(Input::Tick);
    assert_eq!(steps_shown(&rig), vec![1, 2]);
    // Still silent at the stall: the fix to try now is in the event and its line.
    rig.at(61.0).feed(Input::Tick);
    let fix = rig
        .events()
        .iter()
        .find_map(|e| match e {
            Event::Stalled { fix, .. } => Some(fix.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no stall:\n{}", rig.text()))
        .unwrap_or_else(|| panic!("a stall without a fix:\n{}", rig.text()));
    assert!(
        rig.text().contains(&format!("Try now: {fix}.")),
        "{}",
        rig.text()
    );
}
