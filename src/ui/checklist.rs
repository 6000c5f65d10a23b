//! Plain-text checklists and host-network events, for `doctor` and the non-interactive run.

use std::fmt::Write as _;

use crate::net::addr::HostEvent;
use crate::net::check::{Check, CheckItem, CheckOutcome, Fixer, tally};

/// The checklist as printed: one line per item, the fix indented under what is wrong, and a
/// count at the end.
///
/// ```text
///   [pass] link eth0: cable in, link up
///   [FAIL] address 192.168.0.66/24 on eth0: missing
///          fix: rescue-wizard adds it for the session (with --yes) ...
/// ```
pub fn render(title: &str, checks: &[Check]) -> String {
    let mut out = format!("rescue-wizard doctor: {title}\n\n");
    for check in checks {
        let mark = match check.verdict {
            CheckOutcome::Pass => "[pass]",
            CheckOutcome::Warn => "[warn]",
            CheckOutcome::Fail => "[FAIL]",
        };
        let _ = writeln!(out, "  {mark} {}: {}", check.item, check.detail);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "         fix: {fix}");
        }
    }
    let (fails, warns, passes) = tally(checks);
    let _ = writeln!(out, "\n{fails} failed, {warns} warnings, {passes} passed");
    out
}

/// `doctor`'s checklist: the ports seen, what passed, then what the recovery run fixes by
/// itself apart from what the technician must fix, and a count at the end.
///
/// ```text
/// rescue-wizard doctor: interface eth0
/// ports seen: eth0 (wired, link); wlan0 (Wi-Fi, link, 192.168.1.23/24)
///
///   [pass] link eth0: cable in, link up
///
/// The recovery run fixes these itself (after asking; undone at the end):
///   [auto] address 192.168.0.66/24 on eth0: missing
///
/// You must fix these:
///   [FAIL] UDP port 69: taken by in.tftpd (pid 7)
///          fix: sudo systemctl stop tftpd-hpa
///
/// 1 to fix by you, 1 fixed by the run, 0 warnings, 1 passed
/// ```
pub fn render_doctor(title: &str, ports: &str, items: &[CheckItem]) -> String {
    let mut out = format!("rescue-wizard doctor: {title}\nports seen: {ports}\n\n");
    let line = |out: &mut String, mark: &str, check: &Check| {
        let _ = writeln!(out, "  {mark} {}: {}", check.item, check.detail);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "         fix: {fix}");
        }
    };
    for item in items
        .iter()
        .filter(|i| i.check.verdict == CheckOutcome::Pass)
    {
        line(&mut out, "[pass]", &item.check);
    }
    let by = |fixer: Fixer| {
        items
            .iter()
            .filter(move |i| i.check.verdict != CheckOutcome::Pass && i.fixer == fixer)
    };
    if by(Fixer::Run).next().is_some() {
        out.push_str("\nThe recovery run fixes these itself (after asking; undone at the end):\n");
        for item in by(Fixer::Run) {
            line(&mut out, "[auto]", &item.check);
        }
    }
    if by(Fixer::You).next().is_some() {
        out.push_str("\nYou must fix these:\n");
        for item in by(Fixer::You) {
            let mark = if item.check.verdict == CheckOutcome::Fail {
                "[FAIL]"
            } else {
                "[warn]"
            };
            line(&mut out, mark, &item.check);
        }
    }
    let yours = by(Fixer::You)
        .filter(|i| i.check.verdict == CheckOutcome::Fail)
        .count();
    let warns = by(Fixer::You)
        .filter(|i| i.check.verdict == CheckOutcome::Warn)
        .count();
    let runs = by(Fixer::Run).count();
    let passes = items.len() - yours - warns - runs;
    let _ = writeln!(
        out,
        "\n{yours} to fix by you, {runs} fixed by the run, {warns} warnings, {passes} passed"
    );
    out
}

/// Prints one host-network event as a line on standard error.
pub fn show_host_event(event: &HostEvent) {
    match event {
        HostEvent::Changed(change) => eprintln!("changed: {change}"),
        HostEvent::Undone(change) => eprintln!("undone: {change}"),
        HostEvent::UndoFailed { change, error } => {
            eprintln!("could not undo {change}: {error} (the next start of rescue-wizard retries)");
        }
        HostEvent::AddressRestored { ifname, cidr } => {
            eprintln!("something removed {cidr} from {ifname}; put it back");
        }
        HostEvent::LinkRestored { ifname } => {
            eprintln!("{ifname} was taken down; brought it up again");
        }
        HostEvent::Carrier { ifname, present } => {
            if *present {
                eprintln!("link on {ifname} is back");
            } else {
                eprintln!("link on {ifname} lost (the router rebooting, or the cable)");
            }
        }
        HostEvent::LeftoversCleaned(changes) => {
            for change in changes {
                eprintln!("cleaned up after a previous run: {change}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::check::CheckKind;

    #[test]
    fn failures_carry_their_fix() {
        let checks = vec![
            Check {
                kind: CheckKind::Link,
                item: "link eth0".into(),
                verdict: CheckOutcome::Pass,
                detail: "cable in, link up".into(),
                fix: None,
            },
            Check {
                kind: CheckKind::Port69,
                item: "UDP port 69".into(),
                verdict: CheckOutcome::Fail,
                detail: "taken by in.tftpd (pid 7)".into(),
                fix: Some("sudo systemctl stop tftpd-hpa".into()),
            },
        ];
        let text = render("interface eth0", &checks);
        assert_eq!(
            text,
            "rescue-wizard doctor: interface eth0\n\n  [pass] link eth0: cable in, link up\n  [FAIL] UDP port 69: taken by in.tftpd (pid 7)\n         fix: sudo systemctl stop tftpd-hpa\n\n1 failed, 0 warnings, 1 passed\n"
        );
    }
}
