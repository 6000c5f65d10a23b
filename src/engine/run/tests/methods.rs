//! The method's own start: the push client once the run waits, the simulated
//! router powered on without a preflight.

use super::*;

#[test]
fn the_push_method_starts_its_client_once_the_run_waits() {
    let mut rig = Rig::new(
        "asus-rt-ac68u",
        Setting::Host {
            consent: NetworkConsent::Given,
            server_address: ServerAddress::Suggest,
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
            consent: NetworkConsent::Given,
            server_address: ServerAddress::Suggest,
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
