//! The firewall in the host-network tests: a drop rule named by `doctor`, opened for the run
//! and closed after a crash, and a rule on a port made again left with its command.

use super::*;

fn nft(lab: &Lab, script: &str) -> String {
    support::netns::nft_in(&lab.ns, script)
}

#[test]
fn a_firewall_dropping_tftp_is_named_opened_for_the_session_and_closed_after_a_crash() {
    if !can_run() {
        return;
    }
    if !support::root_and_tools(&[("nft", "nftables")]) {
        return;
    }
    let lab = Lab::new();
    // The technician's own firewall: drops TFTP requests.
    nft(&lab, "add table inet own");
    nft(
        &lab,
        "add chain inet own input { type filter hook input priority 0 ; policy accept ; }",
    );
    nft(&lab, "add rule inet own input udp dport 69 drop");
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(1));
    assert!(text.contains("[FAIL] firewall (nftables)"), "{text}");
    // Opened for the session, with consent.
    let image = lab.state.path().join("fw.bin");
    std::fs::write(&image, vec![1u8; 100]).unwrap();
    let server = lab.serve_with(&image, &["--allow-firewall"]);
    let ruleset = nft(&lab, "list ruleset");
    assert!(ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(lab.has(RESCUE));
    let said = server.said("firewall rule accepting UDP from 192.168.0.0/24 on port0");
    assert!(said.starts_with("changed:"), "{said}");
    // Killed: the next start takes the rule and the address away, and nothing of ours stays.
    let (output, _) = server.signal(Signal::SIGKILL);
    assert_eq!(output.status.code(), None);
    assert!(nft(&lab, "list ruleset").contains("rescue-wizard"));
    let (code, text) = doctor(&lab);
    assert_eq!(
        code,
        Some(1),
        "the technician's drop rule is still there: {text}"
    );
    assert!(
        text.contains("undone: firewall rule accepting UDP from 192.168.0.0/24 on port0"),
        "{text}"
    );
    let ruleset = nft(&lab, "list ruleset");
    assert!(!ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(
        ruleset.contains("udp dport 69 drop"),
        "the technician's rule is untouched: {ruleset}"
    );
    assert!(!lab.has(RESCUE));
    assert!(lab.has(OWN));
    assert!(!lab.journal());
}

/// Whether `nft` is here (a skip by hand, a failure under CI when it is not).
fn has_nft() -> bool {
    if Command::new("nft").arg("--version").output().is_ok() {
        return true;
    }
    support::skip_or_fail("nft (nftables) is missing");
    false
}

/// `serve --allow-firewall` on `port0` behind the technician's own drop rule, killed once its
/// rule is in: the ruleset then holds the run's rule and the state folder its journal.
fn killed_with_its_firewall_rule_open(lab: &Lab) {
    nft(lab, "add table inet own");
    nft(
        lab,
        "add chain inet own input { type filter hook input priority 0 ; policy accept ; }",
    );
    nft(lab, "add rule inet own input udp dport 69 drop");
    let image = lab.state.path().join("fw.bin");
    std::fs::write(&image, vec![1u8; 100]).unwrap();
    let server = lab.serve_with(&image, &["--allow-firewall"]);
    server.said("firewall rule accepting UDP from 192.168.0.0/24 on port0");
    let (output, _) = server.signal(Signal::SIGKILL);
    assert_eq!(output.status.code(), None, "killed");
    assert!(nft(lab, "list ruleset").contains("rescue-wizard"));
    assert!(lab.journal());
}

#[test]
fn a_firewall_rule_on_a_port_made_again_with_another_mac_is_left_with_its_command() {
    if !can_run() || !has_nft() {
        return;
    }
    let lab = Lab::new();
    let (_, old_mac) = link_of(&lab.ns, "port0");
    killed_with_its_firewall_rule_open(&lab);
    // The veth made again under the same name: another interface, another MAC.
    lab.make_port0_again();
    let (new_index, new_mac) = link_of(&lab.ns, "port0");
    assert_ne!(new_mac, old_mac);

    let text = next_start(&lab);
    let ruleset = nft(&lab, "list ruleset");
    assert!(
        ruleset.contains("rescue-wizard"),
        "the rule on another interface was removed: {text}"
    );
    let note = text
        .lines()
        .find(|l| {
            l.contains("not undone: firewall rule accepting UDP from 192.168.0.0/24 on port0")
        })
        .unwrap_or_else(|| panic!("no note names the rule: {text}"));
    assert!(
        note.contains(&format!("port0 is now index {new_index} (MAC {new_mac})")),
        "{text}"
    );
    assert!(!lab.journal(), "dealt with, not named again at every start");
    // The command the note gives removes exactly that rule, and the technician's stays.
    let command = text
        .split("`sudo ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no command in {text}"));
    assert!(
        command.starts_with("nft delete rule inet own input handle "),
        "{command}"
    );
    nft(&lab, command.trim_start_matches("nft "));
    let ruleset = nft(&lab, "list ruleset");
    assert!(!ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(ruleset.contains("udp dport 69 drop"), "{ruleset}");
}

#[test]
fn a_firewall_rule_on_the_same_port_is_removed_at_the_next_start() {
    if !can_run() || !has_nft() {
        return;
    }
    let lab = Lab::new();
    killed_with_its_firewall_rule_open(&lab);
    let text = next_start(&lab);
    assert!(
        text.contains("undone: firewall rule accepting UDP from 192.168.0.0/24 on port0"),
        "{text}"
    );
    let ruleset = nft(&lab, "list ruleset");
    assert!(!ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(ruleset.contains("udp dport 69 drop"), "{ruleset}");
    assert!(!lab.journal());
}
