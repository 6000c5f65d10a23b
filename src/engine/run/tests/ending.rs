//! How a run ends: a transfer cut at block k, a timeout after a partial transfer,
//! Ctrl-C at each phase, a refused consent, and inputs that arrive after the end.

use super::*;

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
