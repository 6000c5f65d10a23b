//! Giving the laptop the address the bootloader expects, and always taking it back.
//!
//! Only additions: the technician's own addresses are never removed or replaced. Every change
//! goes through the [`Journal`] before it is made, the address carries finite lifetimes that a
//! keeper thread refreshes (a crash cannot leave it for more than two minutes), and the same
//! thread watches the system and puts the address back within a second when something removes
//! it (`NetworkManager`, dhclient, a script) or the link is taken down.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::iface::{Interface, Ipv4Cidr};
use super::journal::{Change, Journal};
use super::platform;

/// How long the rescue address lives without a refresh.
pub const ADDRESS_LIFETIME: Duration = Duration::from_mins(2);
/// How often the keeper refreshes it.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// What happened to the host's network, for the front-ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// A change was made (and journaled).
    Changed(Change),
    /// A change was undone.
    Undone(Change),
    /// A change could not be undone: the technician must do it by hand.
    UndoFailed {
        /// The change.
        change: Change,
        /// Why.
        error: String,
    },
    /// Something removed the rescue address and it was put back.
    AddressRestored {
        /// The interface.
        ifname: String,
        /// The address.
        cidr: Ipv4Cidr,
    },
    /// The link was taken down and was brought up again.
    LinkRestored {
        /// The interface.
        ifname: String,
    },
    /// The cable's link came or went (the router rebooting, a cable pulled).
    Carrier {
        /// The interface.
        ifname: String,
        /// Whether a link is seen now.
        present: bool,
    },
    /// Changes a previous run left behind (it was killed or crashed) were undone at start.
    LeftoversCleaned(Vec<Change>),
}

/// Why a change could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Not allowed to change the network.
    #[error("not allowed to change the network ({what}): {source}.\n  fix: {remedy}")]
    NotPermitted {
        /// What was being done.
        what: String,
        /// The system's error.
        source: io::Error,
        /// Sudo or setcap.
        remedy: String,
    },
    /// The change failed for another reason.
    #[error("could not {what}: {source}")]
    Failed {
        /// What was being done.
        what: String,
        /// The system's error.
        source: io::Error,
    },
    /// The undo journal cannot be written: no change is made without it.
    #[error(
        "cannot write the undo journal in {dir}: {source}.\n  fix: make the folder writable, or set RESCUE_WIZARD_STATE_DIR to one that is"
    )]
    Journal {
        /// The folder.
        dir: PathBuf,
        /// The system's error.
        source: io::Error,
    },
}

/// The changes rescue-wizard would make, for the technician to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The interface.
    pub ifindex: u32,
    /// Its name.
    pub ifname: String,
    /// The rescue address to add, unless it is there already.
    pub add: Option<Ipv4Cidr>,
    /// Bring the link up (it is down).
    pub link_up: bool,
    /// Take the port from NetworkManager for the session (it manages it, and would remove
    /// the address when the link drops as the router reboots).
    pub unmanage: bool,
    /// A permanent ARP entry for the router: its address and hardware address.
    pub static_arp: Option<(std::net::Ipv4Addr, [u8; 6])>,
}

impl Plan {
    /// What is needed so that `iface` carries `host`.
    pub fn for_interface(iface: &Interface, host: Ipv4Cidr) -> Self {
        Self {
            ifindex: iface.index,
            ifname: iface.name.clone(),
            add: (!iface.has_address(host.addr)).then_some(host),
            link_up: !iface.up,
            unmanage: iface.managed_by_network_manager == Some(true),
            static_arp: None,
        }
    }

    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.add.is_none() && !self.link_up && !self.unmanage && self.static_arp.is_none()
    }

    /// The plan in words, one line per change.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.unmanage {
            lines.push(format!(
                "take {} from NetworkManager for the session (given back afterwards), so it does not remove the address when the router reboots",
                self.ifname
            ));
        }
        if self.link_up {
            lines.push(format!("bring {} up", self.ifname));
        }
        if let Some(cidr) = self.add {
            lines.push(format!(
                "add {cidr} to {} (in addition to its own addresses, removed again when rescue-wizard ends)",
                self.ifname
            ));
        }
        if let Some((ip, mac)) = self.static_arp {
            lines.push(format!(
                "add a static ARP entry {ip} -> {} on {}",
                format_mac(mac),
                self.ifname
            ));
        }
        lines
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The label our addresses carry, when it fits the kernel's 15 bytes (`eth0:rw`). Not `:0`,
/// which Debian's dhclient-script flushes.
pub fn label_for(ifname: &str) -> Option<String> {
    let label = format!("{ifname}:rw");
    (label.len() <= 15).then_some(label)
}

fn io_error(what: String, source: io::Error) -> SetupError {
    if source.kind() == io::ErrorKind::PermissionDenied || source.raw_os_error() == Some(1) {
        SetupError::NotPermitted {
            what,
            source,
            remedy: super::privilege::Privileges::detect().remedy(),
        }
    } else {
        SetupError::Failed { what, source }
    }
}

/// Undoes one change. The address is removed only while it is still the one we added.
pub fn undo(change: &Change) -> io::Result<()> {
    match change {
        Change::Address {
            ifindex,
            cidr,
            label,
            ..
        } => {
            let present = platform::addresses(*ifindex)?;
            let Some(ours) = present.iter().find(|a| a.cidr == *cidr) else {
                return Ok(());
            };
            if label.is_some() && ours.label != *label {
                // Someone else's address now (re-added by hand under another label): keep it.
                return Ok(());
            }
            platform::remove_address(*ifindex, *cidr)
        }
        Change::LinkUp { ifindex, .. } => platform::set_link_up(*ifindex, false),
        Change::Neighbour { ifindex, ip, .. } => platform::remove_neighbour(*ifindex, *ip),
        Change::NetworkManagerUnmanaged { ifname } => {
            let status = std::process::Command::new("nmcli")
                .args(["device", "set", ifname, "managed", "yes"])
                .status()?;
            if status.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "nmcli device set {ifname} managed yes failed"
                )))
            }
        }
        Change::FirewallRule { rule } => {
            let rule: super::firewall::AllowRule = serde_json::from_value(rule.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            super::firewall::remove(&rule).map_err(io::Error::other)
        }
    }
}

/// Undoes what a dead run left in `dir`, newest first, and says what was cleaned.
pub fn clean_leftovers(dir: &Path) -> io::Result<Vec<Change>> {
    // No journal, or a live run's: nothing of ours to touch, and the file stays.
    let Some(left) = Journal::leftovers(dir)? else {
        return Ok(Vec::new());
    };
    let mut cleaned = Vec::new();
    let mut failed = None;
    for change in left.iter().rev() {
        match undo(change) {
            Ok(()) => cleaned.push(change.clone()),
            Err(err) => failed = Some(io::Error::other(format!("could not undo {change}: {err}"))),
        }
    }
    if let Some(err) = failed {
        return Err(err);
    }
    Journal::clear(dir)?;
    Ok(cleaned)
}

/// Writes a change to the journal before it is made; no journal, no change.
fn record(journal: &mut Journal, change: &Change) -> Result<(), SetupError> {
    journal
        .record(change)
        .map_err(|source| SetupError::Journal {
            dir: journal
                .path()
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            source,
        })
}

struct Shared {
    journal: Mutex<Journal>,
    events: UnboundedSender<HostEvent>,
}

/// Changes made to the host for one run; undone by [`HostSetup::undo`] or, failing that,
/// when dropped.
pub struct HostSetup {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    keeper: Option<JoinHandle<()>>,
    done: bool,
}

impl std::fmt::Debug for HostSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSetup")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl HostSetup {
    /// Gives the port `interface` the address `cidr` the router asks for (the "adopt"
    /// remedy), journaled and undone like any other change. `Ok(None)`: the port is gone, or
    /// has the address already, so there is nothing to undo.
    pub fn adopt(
        interface: &str,
        cidr: Ipv4Cidr,
        state_dir: &Path,
        events: UnboundedSender<HostEvent>,
    ) -> Result<Option<Self>, SetupError> {
        let interfaces = super::iface::list();
        let Some(iface) = interfaces.iter().find(|i| i.name == interface) else {
            return Ok(None);
        };
        let plan = Plan::for_interface(iface, cidr);
        if plan.add.is_none() {
            return Ok(None);
        }
        Self::apply(&plan, state_dir, events).map(Some)
    }

    /// Makes the planned changes, journaling each first, and starts the keeper.
    pub fn apply(
        plan: &Plan,
        state_dir: &Path,
        events: UnboundedSender<HostEvent>,
    ) -> Result<Self, SetupError> {
        let journal = Journal::create(state_dir).map_err(|source| SetupError::Journal {
            dir: state_dir.to_path_buf(),
            source,
        })?;
        let shared = Arc::new(Shared {
            journal: Mutex::new(journal),
            events,
        });
        let mut setup = Self {
            shared,
            stop: Arc::new(AtomicBool::new(false)),
            keeper: None,
            done: false,
        };
        if plan.unmanage {
            let change = Change::NetworkManagerUnmanaged {
                ifname: plan.ifname.clone(),
            };
            setup.make(
                &change,
                || {
                    let status = std::process::Command::new("nmcli")
                        .args(["device", "set", &plan.ifname, "managed", "no"])
                        .status()?;
                    if status.success() {
                        Ok(())
                    } else {
                        Err(io::Error::other(format!(
                            "nmcli device set {} managed no failed",
                            plan.ifname
                        )))
                    }
                },
                &format!("take {} from NetworkManager", plan.ifname),
            )?;
        }
        if plan.link_up {
            let change = Change::LinkUp {
                ifindex: plan.ifindex,
                ifname: plan.ifname.clone(),
            };
            setup.make(
                &change,
                || platform::set_link_up(plan.ifindex, true),
                &format!("bring {} up", plan.ifname),
            )?;
        }
        let mut watched = None;
        if let Some(cidr) = plan.add {
            let label = label_for(&plan.ifname);
            let change = Change::Address {
                ifindex: plan.ifindex,
                ifname: plan.ifname.clone(),
                cidr,
                label: label.clone(),
            };
            let added = setup.make(
                &change,
                || {
                    platform::add_address(
                        plan.ifindex,
                        cidr,
                        label.as_deref(),
                        Some(ADDRESS_LIFETIME),
                        true,
                    )
                },
                &format!("add {cidr} to {}", plan.ifname),
            );
            match added {
                Ok(()) => watched = Some(change),
                // Someone's address already: use it, never remove it.
                Err(SetupError::Failed { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        if let Some((ip, mac)) = plan.static_arp {
            let change = Change::Neighbour {
                ifindex: plan.ifindex,
                ifname: plan.ifname.clone(),
                ip,
                mac: format_mac(mac),
            };
            setup.make(
                &change,
                || platform::add_neighbour(plan.ifindex, ip, mac),
                &format!("add a static ARP entry for {ip}"),
            )?;
        }
        if let Some(Change::Address {
            ifindex,
            ifname,
            cidr,
            label,
        }) = watched
        {
            setup.start_keeper(ifindex, ifname, cidr, label);
        }
        Ok(setup)
    }

    fn make(
        &mut self,
        change: &Change,
        action: impl FnOnce() -> io::Result<()>,
        what: &str,
    ) -> Result<(), SetupError> {
        let mut journal = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        record(&mut journal, change)?;
        if let Err(source) = action() {
            let _ = journal.forget(change);
            return Err(io_error(what.to_owned(), source));
        }
        let _ = self.shared.events.send(HostEvent::Changed(change.clone()));
        Ok(())
    }

    fn start_keeper(
        &mut self,
        ifindex: u32,
        ifname: String,
        cidr: Ipv4Cidr,
        label: Option<String>,
    ) {
        let stop = Arc::clone(&self.stop);
        let shared = Arc::clone(&self.shared);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("keep-{ifname}"))
            .spawn(move || {
                keeper(
                    &shared,
                    &stop,
                    ifindex,
                    &ifname,
                    cidr,
                    label.as_deref(),
                    &ready_tx,
                );
            });
        if let Ok(handle) = spawned {
            // The watch is subscribed before apply returns, so nothing that happens after
            // goes unseen.
            let _ = ready_rx.recv_timeout(Duration::from_secs(5));
            self.keeper = Some(handle);
        }
    }

    /// Opens the host firewall for UDP from the router's subnet on the port, for the session:
    /// the plan is journaled before the rule goes in, and replaced by the rule as added (with
    /// the handles needed to remove exactly it). Returns the steps the technician must take by
    /// hand where the firewall is not ours to change (ufw, firewalld).
    pub fn open_firewall(
        &mut self,
        subnet: super::firewall::Subnet,
        ifname: &str,
    ) -> Result<Vec<String>, SetupError> {
        let failed = |e: super::firewall::FirewallError| {
            io_error("open the firewall".into(), io::Error::other(e.to_string()))
        };
        let plan = super::firewall::plan_allow(subnet, ifname).map_err(failed)?;
        let manual: Vec<String> = plan.manual.iter().map(|m| m.add.clone()).collect();
        if plan.rules.is_empty() {
            return Ok(manual);
        }
        let journaled = Change::FirewallRule {
            rule: serde_json::to_value(&plan)
                .map_err(|e| io_error("journal the firewall rule".into(), io::Error::other(e)))?,
        };
        let mut journal = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        record(&mut journal, &journaled)?;
        match super::firewall::apply(&plan) {
            Ok(applied) => {
                let change = Change::FirewallRule {
                    rule: serde_json::to_value(&applied).unwrap_or(serde_json::Value::Null),
                };
                if change != journaled
                    && !matches!(&change, Change::FirewallRule { rule } if rule.is_null())
                {
                    let _ = journal.record(&change);
                    let _ = journal.forget(&journaled);
                }
                let _ = self.shared.events.send(HostEvent::Changed(change));
                Ok(manual)
            }
            Err(err) => {
                let _ = journal.forget(&journaled);
                Err(failed(err))
            }
        }
    }

    /// The changes in force, oldest first.
    pub fn changes(&self) -> Vec<Change> {
        self.shared
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .changes()
            .to_vec()
    }

    /// Undoes every change, newest first; returns what could not be undone.
    pub fn undo(mut self) -> Vec<(Change, String)> {
        self.undo_all()
    }

    fn undo_all(&mut self) -> Vec<(Change, String)> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        self.stop.store(true, Ordering::Relaxed);
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        let mut journal = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut failures = Vec::new();
        for change in journal.changes().to_vec().iter().rev() {
            match undo(change) {
                Ok(()) => {
                    let _ = journal.forget(change);
                    let _ = self.shared.events.send(HostEvent::Undone(change.clone()));
                }
                Err(err) => {
                    let _ = self.shared.events.send(HostEvent::UndoFailed {
                        change: change.clone(),
                        error: err.to_string(),
                    });
                    failures.push((change.clone(), err.to_string()));
                }
            }
        }
        if failures.is_empty() {
            let _ = std::fs::remove_file(journal.path());
        }
        failures
    }
}

impl Drop for HostSetup {
    fn drop(&mut self) {
        self.undo_all();
    }
}

fn keeper(
    shared: &Shared,
    stop: &AtomicBool,
    ifindex: u32,
    ifname: &str,
    cidr: Ipv4Cidr,
    label: Option<&str>,
    ready: &std::sync::mpsc::Sender<()>,
) {
    let watcher = platform::Watcher::open();
    let _ = ready.send(());
    let mut watcher = watcher.ok();
    let mut next_refresh = Instant::now() + REFRESH_EVERY;
    let restore = |why_link: bool| {
        if why_link {
            if platform::set_link_up(ifindex, true).is_ok() {
                let _ = shared.events.send(HostEvent::LinkRestored {
                    ifname: ifname.to_owned(),
                });
            }
        } else if platform::add_address(ifindex, cidr, label, Some(ADDRESS_LIFETIME), true).is_ok()
        {
            let _ = shared.events.send(HostEvent::AddressRestored {
                ifname: ifname.to_owned(),
                cidr,
            });
        }
    };
    let mut carrier: Option<bool> = None;
    while !stop.load(Ordering::Relaxed) {
        let wait = next_refresh
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(250));
        let changes = if let Some(w) = watcher.as_mut() {
            w.wait(wait).unwrap_or_default()
        } else {
            // No notifications on this system: look every quarter of a second.
            std::thread::park_timeout(wait);
            let present =
                platform::addresses(ifindex).is_ok_and(|list| list.iter().any(|a| a.cidr == cidr));
            if present {
                Vec::new()
            } else {
                vec![platform::NetChange::AddressRemoved(platform::AddressInfo {
                    ifindex,
                    cidr,
                    secondary: false,
                    label: None,
                })]
            }
        };
        if stop.load(Ordering::Relaxed) {
            break;
        }
        for change in changes {
            match change {
                platform::NetChange::AddressRemoved(info)
                    if info.ifindex == ifindex && info.cidr.addr == cidr.addr =>
                {
                    restore(false);
                }
                platform::NetChange::Link {
                    ifindex: i,
                    up,
                    carrier: c,
                } if i == ifindex => {
                    if !up {
                        restore(true);
                    }
                    if carrier != Some(c) {
                        if carrier.is_some() {
                            let _ = shared.events.send(HostEvent::Carrier {
                                ifname: ifname.to_owned(),
                                present: c,
                            });
                        }
                        carrier = Some(c);
                    }
                }
                _ => {}
            }
        }
        if Instant::now() >= next_refresh {
            next_refresh = Instant::now() + REFRESH_EVERY;
            // Replace (not create): refreshes the lifetimes of our own address, or puts it
            // back if a removal slipped past the watch.
            let _ = platform::add_address(ifindex, cidr, label, Some(ADDRESS_LIFETIME), false);
        }
    }
    drop(shared.journal.lock());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::iface::InterfaceKind;
    use std::net::Ipv4Addr;

    #[test]
    fn plan_adds_only_what_is_missing() {
        let mut iface = Interface {
            index: 3,
            name: "eth0".into(),
            kind: InterfaceKind::Wired,
            mac: None,
            up: false,
            carrier: false,
            ipv4: vec![Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 5), 24)],
            mtu: Some(1500),
            managed_by_network_manager: None,
        };
        let host = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24);
        let plan = Plan::for_interface(&iface, host);
        assert_eq!(plan.add, Some(host));
        assert!(plan.link_up);
        assert_eq!(plan.describe().len(), 2);
        iface.up = true;
        iface.ipv4.push(host);
        assert!(Plan::for_interface(&iface, host).is_empty());
    }

    #[test]
    fn labels_fit_the_kernel_limit() {
        assert_eq!(label_for("eth0").as_deref(), Some("eth0:rw"));
        assert_eq!(label_for("enx00e04c680001"), None);
    }
}
