//! The run machine in virtual time: every ordering of request, link, self-test, consent and
//! capture start; a transfer cut at block k; Ctrl-C at each phase and what it says. No root,
//! no sockets, no sleeping: inputs and instants only.
//!
//! This file holds the rig every concern shares; each concern has a file of its own.

mod console;
mod ending;
mod evidence;
mod methods;
mod order;
mod preflight;
mod steps;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::machine::{Effect, Input, Machine, PushFailure, Pushed, SelfTested, Setting};
use crate::engine::event::{Command, Event, Phase, RunOutcome};
use crate::engine::plan::{
    self, FirewallPolicy, ImageFacts, NetworkConsent, ServerAddress, Settings,
};
use crate::net::addr::HostEvent;
use crate::net::check::{Check, CheckKind, CheckOutcome};
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
    let settings = Settings {
        interface: Some("enp3s0".into()),
        ..Settings::default()
    };
    plan_with(device, SIZE, &settings)
}

/// The plan for `device` with an image of `size` bytes on the wired port `enp3s0`.
fn plan_with(device: &str, size: u64, settings: &Settings) -> crate::engine::Plan {
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
        size,
        sha256: "9f2c".into(),
    };
    plan::build(&profile, image, &interfaces, settings).unwrap()
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
                consent: NetworkConsent::Ask,
                server_address: ServerAddress::Suggest,
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

    /// The size of the plan's image: what a whole transfer moves.
    fn image_size(&self) -> u64 {
        self.machine.plan().image.size
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
        let total = self.image_size();
        self.feed(Input::Transfer(TransferEvent::Progress {
            id: TransferId(id),
            bytes,
            total: Some(total),
            timeouts: 0,
        }));
        self
    }

    fn finished_transfer(&mut self, id: u64) -> &mut Self {
        let bytes = self.image_size();
        self.feed(Input::Transfer(TransferEvent::Finished {
            id: TransferId(id),
            peer: router_peer(),
            name: FILE.into(),
            bytes,
            elapsed: Duration::from_secs(9),
            sha256: "9f2c".into(),
            confirmed: true,
            stats: crate::tftp::session::Stats::default(),
            kept: false,
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

/// A gratuitous ARP from `ip` at `at`: the router announcing itself.
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
