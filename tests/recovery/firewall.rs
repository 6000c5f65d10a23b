//! A host firewall that drops the router's requests: the run refuses to start without
//! `--allow-firewall`, and with it lets the router past for the run only, the technician's own
//! rule kept.

use super::*;

use crate::support::netns::nft_in;

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: refused without the flag, served with it, the technician's rule kept"
)]
fn allow_firewall_lets_the_router_past_a_drop_rule_for_the_run_only() {
    if !need_root() {
        return;
    }
    let (Some(_), Some(busybox)) = (require("nft"), require("busybox")) else {
        return;
    };
    let lab = PortLab::new("rw-fw");
    let pair = &lab.pair;
    // The technician's own firewall drops TFTP requests arriving on the port.
    nft_in(&pair.ns, "add table inet own");
    nft_in(
        &pair.ns,
        "add chain inet own input { type filter hook input priority 0 ; policy accept ; }",
    );
    nft_in(
        &pair.ns,
        "add rule inet own input iifname \"port0\" udp dport 69 drop",
    );
    ip(&[
        "-n",
        &pair.peer,
        "addr",
        "add",
        "192.168.0.86/24",
        "dev",
        "router0",
    ]);
    let image = wr841n_v9_image(64 * 1024);
    let path = lab.image("factory.bin", &image);
    let args = |cmd: &mut Command| {
        cmd.args(["--device", "tl-wr841n-v9"]).arg(&path).args([
            "--interface",
            "port0",
            "--yes",
            "--json",
            "--timeout",
            "60",
            "--exit-after-transfer",
        ]);
    };

    // Without --allow-firewall the preflight stops the run, naming the rule, changing nothing.
    let mut cmd = lab.rescue_wizard();
    args(&mut cmd);
    let output = support::run(&mut cmd, Duration::from_mins(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let refused = events(&stdout);
    let failed: Vec<_> = refused
        .iter()
        .filter_map(|e| match e {
            RunEvent::PreflightFailed { blocking } => Some(blocking),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert_eq!(failed[0][0].kind, CheckKind::Firewall, "{stdout}");
    assert!(changes(&refused, false).is_empty(), "{stdout}");
    assert_eq!(
        count(&refused, |e| matches!(e, RunEvent::TransferFailed { .. })),
        0,
        "{stdout}"
    );

    // With it, the rule goes in after the network step, the router gets the image through
    // it, and it is gone at the end with the address; the technician's rule stays.
    let mut cmd = lab.rescue_wizard();
    args(&mut cmd);
    cmd.arg("--allow-firewall");
    let mut run = Proc::spawn(&mut cmd);
    wait_for_router(&run, READY);
    assert!(nft_in(&pair.ns, "list ruleset").contains("rescue-wizard"));
    let got = lab.dir.path().join("got.bin");
    let fetched = support::run(
        Command::new("ip")
            .args(["netns", "exec", &pair.peer])
            .arg(&busybox)
            .args(["tftp", "-g", "-r", "wr841nv9_tp_recovery.bin", "-l"])
            .arg(&got)
            .arg("192.168.0.66"),
        Duration::from_secs(30),
    );
    assert!(
        fetched.status.success(),
        "the router's fetch failed: {}\n{}",
        String::from_utf8_lossy(&fetched.stderr),
        run.diagnostics()
    );
    assert!(
        std::fs::read(&got).unwrap() == image,
        "the router got other bytes"
    );
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
    let stdout = run.stdout_text();
    let events = events(&stdout);
    let firewall: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Checked { check } if check.kind == CheckKind::Firewall => Some(check),
            _ => None,
        })
        .collect();
    assert_eq!(firewall.len(), 1, "{stdout}");
    assert_eq!(firewall[0].verdict, CheckVerdict::Warn, "{stdout}");
    assert!(
        changes(&events, false)
            .iter()
            .any(|c| c.contains("firewall rule")),
        "{stdout}"
    );
    assert!(
        changes(&events, true)
            .iter()
            .any(|c| c.contains("firewall rule")),
        "{stdout}"
    );
    assert_eq!(outcome(&events), RunOutcome::Flashed);
    let ruleset = nft_in(&pair.ns, "list ruleset");
    assert!(!ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(ruleset.contains("udp dport 69 drop"), "{ruleset}");
    assert!(!addresses(&pair.ns, "port0").contains("192.168.0.66"));
}
