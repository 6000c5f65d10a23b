//! Whether and how a recorded change is undone: the interface it was made on compared with what
//! the kernel reports now (name, index and MAC), the changes left alone and why, and the clean-up
//! of the journals that dead runs left behind.

use std::io;
use std::path::Path;

use crate::net::journal::{self, Change, PortIdentity, StateDir};
use crate::net::platform;

use super::ADDRESS_LIFETIME;

/// What undoing a change came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Reverted (or found already gone).
    Reverted,
    /// Left alone: not ours (any more), with why.
    Kept(String),
}

/// What became of the interface a change was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortNow {
    /// The same interface: index, name and MAC all as recorded.
    Same,
    /// No interface answers to it any more.
    Gone(String),
    /// Another interface holds its index or its name now (a journal from before a reboot, an
    /// adapter replaced, a veth made again): why, naming both.
    Replaced(String),
}

/// Compares the interface as recorded with what the kernel reports now: `now` is the link
/// found under the recorded name when `by_name` (firewall rules and `NetworkManager` act on
/// names), else under the recorded index (addresses, links and ARP entries live on indexes).
pub fn port_now(
    recorded: &PortIdentity,
    now: Option<&platform::LinkInfo>,
    by_name: bool,
) -> PortNow {
    let mac = |m: &Option<String>| m.clone().unwrap_or_else(|| "none".into());
    match now {
        None if by_name => PortNow::Gone(format!(
            "{} (index {}) is gone",
            recorded.name, recorded.index
        )),
        None => PortNow::Gone(format!(
            "{} (index {}) is gone, and what was added to it went with it",
            recorded.name, recorded.index
        )),
        Some(now)
            if now.index == recorded.index
                && now.name == recorded.name
                && now.mac == recorded.mac =>
        {
            PortNow::Same
        }
        Some(now) if by_name => PortNow::Replaced(format!(
            "{} is now index {} (MAC {}), not index {} (MAC {}) as when the change was made: another interface, left alone",
            recorded.name,
            now.index,
            mac(&now.mac),
            recorded.index,
            mac(&recorded.mac)
        )),
        Some(now) => PortNow::Replaced(format!(
            "index {} is now {} (MAC {}), not {} (MAC {}) as when the change was made: another interface, left alone",
            recorded.index,
            now.name,
            mac(&now.mac),
            recorded.name,
            mac(&recorded.mac)
        )),
    }
}

/// Whether `change` is left alone, given what its interface is now (see [`port_now`]), and
/// why, with the command that undoes it by hand where one is needed. `None`: undo it.
///
/// A firewall rule stays in the ruleset when its interface goes, so a rule whose interface is
/// gone is removed (it lets nothing in, and nobody else's interface is named by it); one whose
/// interface name now belongs to another interface is left, since it may be that interface's
/// (another run, the technician). `NetworkManager` forgets a device's runtime setting with the
/// device.
pub fn left_alone(change: &Change, recorded: &PortIdentity, now: &PortNow) -> Option<String> {
    let why = match now {
        PortNow::Same => return None,
        PortNow::Gone(_) if matches!(change, Change::FirewallRule { .. }) => return None,
        PortNow::Gone(why) | PortNow::Replaced(why) => why,
    };
    Some(match (change, now) {
        (Change::FirewallRule { rule, .. }, _) => format!(
            "{why}; the rule is left in place.\n  fix: if {} is not in use by another rescue-wizard, remove it by hand: {}",
            recorded.name,
            rule.removal_commands()
                .iter()
                .map(|c| format!("`sudo {c}`"))
                .collect::<Vec<_>>()
                .join(", then ")
        ),
        (Change::NetworkManagerUnmanaged { ifname, .. }, PortNow::Replaced(_)) => format!(
            "{why}.\n  fix: if NetworkManager should manage {ifname} and does not: `sudo nmcli device set {ifname} managed yes`"
        ),
        (Change::NetworkManagerUnmanaged { .. }, _) => {
            format!("{why}, and NetworkManager forgot its setting for it")
        }
        _ => why.clone(),
    })
}

/// What the kernel reports now for a change's recorded interface, and whether that leaves the
/// change alone (see [`left_alone`]).
fn check_port(change: &Change, recorded: &PortIdentity) -> io::Result<Option<String>> {
    let by_name = change.keyed_by_name();
    let now = if by_name {
        platform::link_named(&recorded.name)?
    } else {
        platform::link(recorded.index)?
    };
    Ok(left_alone(
        change,
        recorded,
        &port_now(recorded, now.as_ref(), by_name),
    ))
}

/// Whether an address found on the port is the one rescue-wizard added: it carries our
/// address protocol; on a kernel that keeps none (before Linux 6.3), it expires within our
/// lifetime (an address added by hand never expires) and carries our label where one fit.
pub(super) fn is_ours(found: &platform::AddressInfo, label: Option<&str>) -> bool {
    match found.protocol {
        Some(protocol) => protocol == platform::RESCUE_ADDRESS_PROTOCOL,
        None => {
            found
                .valid_for
                .is_some_and(|secs| u64::from(secs) <= ADDRESS_LIFETIME.as_secs())
                && (label.is_none() || found.label.as_deref() == label)
        }
    }
}

/// Undoes one change, only while the interface is the same one (index, name and MAC) and,
/// for an address, only one that was absent before and is still ours.
pub fn undo(change: &Change) -> io::Result<Undo> {
    if let Some(recorded) = change.recorded_port()
        && let Some(why) = check_port(change, &recorded)?
    {
        return Ok(Undo::Kept(why));
    }
    match change {
        Change::Address {
            ifindex,
            ifname,
            cidr,
            label,
            was_absent,
            ..
        } => {
            if !was_absent {
                return Ok(Undo::Kept(format!(
                    "{cidr} on {ifname} is not recorded as added by rescue-wizard (it may have been there before)"
                )));
            }
            let present = platform::addresses(*ifindex)?;
            let Some(found) = present.iter().find(|a| a.cidr == *cidr) else {
                return Ok(Undo::Reverted);
            };
            if !is_ours(found, label.as_deref()) {
                return Ok(Undo::Kept(format!(
                    "{cidr} on {ifname} is someone else's now (added again by hand or by another program): kept"
                )));
            }
            platform::remove_address(*ifindex, *cidr).map(|()| Undo::Reverted)
        }
        Change::LinkUp { ifindex, .. } => {
            platform::set_link_up(*ifindex, false).map(|()| Undo::Reverted)
        }
        Change::Neighbour { ifindex, ip, .. } => {
            platform::remove_neighbour(*ifindex, *ip).map(|()| Undo::Reverted)
        }
        Change::NetworkManagerUnmanaged { ifname, .. } => {
            crate::net::iface::nmcli(&["device", "set", ifname, "managed", "yes"])
                .run_ok()
                .map(|_| Undo::Reverted)
                .map_err(io::Error::other)
        }
        Change::FirewallRule { rule, .. } => crate::net::firewall::remove(rule)
            .map(|()| Undo::Reverted)
            .map_err(io::Error::other),
    }
}

/// What cleaning up after dead runs came to.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// Changes undone, newest first.
    pub undone: Vec<Change>,
    /// Things a person should know: changes left alone and why, journals set aside or not
    /// trusted, each naming the file and what (if anything) to do.
    pub notes: Vec<String>,
    /// Changes that could not be undone (their journal is kept, to be retried).
    pub failed: Vec<(Change, String)>,
}

/// Undoes what dead runs left in `dir`, newest first, each journal on its own; live runs'
/// journals are not touched. A damaged journal is undone as far as it can be read, then moved
/// aside; a journal that is not ours alone (another user could have written it) is not
/// replayed.
pub fn cleanup(dir: &Path) -> io::Result<Cleanup> {
    let mut report = Cleanup::default();
    if !dir.exists() {
        return Ok(report);
    }
    let state = StateDir::open(dir)?;
    let (found, untrusted) = journal::survey(&state)?;
    for file in untrusted {
        report.notes.push(format!(
            "not replayed: {}: {}",
            file.path.display(),
            file.why
        ));
    }
    match journal::legacy(&state) {
        Ok(Some(legacy)) => report.notes.push(format!(
            "an earlier version of rescue-wizard left the journal {} listing {}; it is not undone automatically, because that format named interfaces by index alone and the index may now belong to another interface.\n  fix: compare `ip addr` and `ip link` with what it lists, remove by hand only what rescue-wizard added, then delete the file (`rm {}`, with sudo if it is root's)",
            legacy.path.display(),
            legacy.lists.join(", "),
            legacy.path.display()
        )),
        Ok(None) => {}
        Err(err) => report.notes.push(format!(
            "not replayed: {}: {err}",
            state.path().join(journal::LEGACY_JOURNAL).display()
        )),
    }
    for left in found.into_iter().filter(|f| !f.alive) {
        let mut failed = false;
        for change in left.decoded.changes.iter().rev() {
            match undo(change) {
                Ok(Undo::Reverted) => report.undone.push(change.clone()),
                Ok(Undo::Kept(why)) => report.notes.push(format!("not undone: {change}: {why}")),
                Err(err) => {
                    failed = true;
                    report.failed.push((change.clone(), err.to_string()));
                }
            }
        }
        if failed {
            continue;
        }
        let path = left.path.clone();
        let damage = left.decoded.damage.clone();
        let recovered = left.decoded.changes.len();
        if let Some(aside) = left.retire(&state)?
            && let Some(damage) = damage
        {
            report.notes.push(format!(
                "the journal {} was damaged ({damage}); moved aside to {}. {} change(s) could be read and were dealt with above.\n  fix: nothing to do if your network works; otherwise compare `ip addr` and `ip link` with what it lists, and remove by hand only what rescue-wizard added (its addresses carry address protocol 114, which iproute2 6.3 and later show as `proto 114`, and expire within two minutes)",
                path.display(),
                aside.display(),
                recovered
            ));
        }
    }
    Ok(report)
}
