//! The wire's evidence: the router's ARP for the rescue address, the router
//! living after the transfer, a real reboot gap, a port switched on by the network step.

use super::*;

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
                    finding: crate::net::observe::WireSign::RouterAway { .. }
                        | crate::net::observe::WireSign::RouterBack { .. }
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
            consent: NetworkConsent::Ask,
            server_address: ServerAddress::Suggest,
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
            consent: NetworkConsent::Given,
            server_address: ServerAddress::Suggest,
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
