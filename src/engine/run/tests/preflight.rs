//! The preflight and the network step: blocking checks, what the network step
//! sets up, network and server failures, and the firewall.

use super::*;
use crate::net::addr::UndoRefusal;
use crate::net::io_failure::IoFailure;

fn check(kind: CheckKind, item: &str, verdict: CheckOutcome) -> Check {
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
        check(CheckKind::Privileges, "privileges", CheckOutcome::Pass),
        check(CheckKind::Port69, "address of the port", CheckOutcome::Fail),
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
        check(CheckKind::Address, "rescue address", CheckOutcome::Fail),
        check(CheckKind::Link, "cable", CheckOutcome::Fail),
    ])));
    assert_eq!(rig.finished(), None, "{}", rig.text());
    let verdicts: Vec<(CheckKind, CheckOutcome)> = rig
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
            (CheckKind::Address, CheckOutcome::Warn),
            (CheckKind::Link, CheckOutcome::Fail)
        ]
    );
    assert_eq!(
        rig.asked(|e| matches!(e, Effect::Emit(Event::ConsentNeeded { .. }))),
        1
    );
}

#[test]
fn a_port_that_cannot_be_watched_is_a_warning_in_the_systems_words_and_the_run_goes_on() {
    let mut rig = Rig::pull();
    rig.through_consent();
    let refused = IoFailure::new(
        std::io::ErrorKind::PermissionDenied,
        "cannot watch enp3s0: capturing frames needs cap_net_raw",
    );
    rig.feed(Input::CaptureFailed(refused));
    assert!(
        rig.events().iter().any(|e| matches!(
            e,
            Event::Checked { check } if check.kind == CheckKind::WireWatch
                && check.verdict == CheckOutcome::Warn
                && check.detail == "the port cannot be watched: cannot watch enp3s0: capturing frames needs cap_net_raw"
        )),
        "{}",
        rig.text()
    );
    assert_eq!(rig.finished(), None);
}

#[test]
fn a_change_not_undone_is_told_in_the_systems_words() {
    let mut rig = Rig::pull();
    rig.through_network();
    let change = crate::net::journal::Change::LinkUp {
        ifindex: 2,
        ifname: "enp3s0".into(),
        mac: None,
    };
    let refused = UndoRefusal::Io(IoFailure::from(std::io::Error::from(
        std::io::ErrorKind::PermissionDenied,
    )));
    rig.feed(Input::Host(HostEvent::UndoFailed {
        change: change.clone(),
        error: refused,
    }));
    assert!(
        rig.events().iter().any(|e| matches!(
            e,
            Event::NetworkRestoreFailed { change: c, error: words }
                if c == &change.to_string() && words == "permission denied"
        )),
        "{}",
        rig.text()
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
    check(
        CheckKind::Firewall,
        "firewall (nftables)",
        CheckOutcome::Fail,
    )
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
    plan.firewall = FirewallPolicy::OpenForRun;
    let mut rig = Rig::with_plan(
        plan,
        Setting::Host {
            consent: NetworkConsent::Ask,
            server_address: ServerAddress::Suggest,
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
    plan.firewall = FirewallPolicy::OpenForRun;
    let mut rig = Rig::with_plan(
        plan,
        Setting::Host {
            consent: NetworkConsent::Given,
            server_address: ServerAddress::Suggest,
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
