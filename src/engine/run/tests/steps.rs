//! The router's steps: each shown when the wire says the one before is done, or
//! after a while, with the fix named when the run stalls.

use super::*;

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
    let patience = super::super::machine::STEP_PATIENCE.as_secs_f64();
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
