//! Every ordering of request, link, self-test and consent: the router is served
//! whichever comes first, and a link flap restarts nothing.

use super::*;

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
