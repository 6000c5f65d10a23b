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
use super::io_failure::IoFailure;
use super::journal::{self, Change, Journal, PortIdentity};
use super::platform;

mod undo;

use self::undo::is_ours;
pub use self::undo::{Cleanup, PortNow, Undo, cleanup, left_alone, port_now, undo};

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
        error: UndoRefusal,
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

/// Why a change was not undone, for [`HostEvent::UndoFailed`]; its text is what the
/// technician reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoRefusal {
    /// Left on a port that is another interface now (a firewall rule, a NetworkManager
    /// setting): why, with the command to run by hand.
    #[error("{0}")]
    Kept(String),
    /// The system refused the undo: its kind and its words.
    #[error("{0}")]
    Io(IoFailure),
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
    /// Another run has changes on the port.
    #[error(
        "{ifname} is in use by another rescue-wizard (pid {pid}): it added what it needs there and takes it away when it ends, so a second run would lose its address under it.\n  fix: finish or stop that run first (kill {pid}), or use another port"
    )]
    PortInUse {
        /// The interface.
        ifname: String,
        /// The other run's process id.
        pid: u32,
    },
    /// The interface is not the one planned any more (unplugged, renamed, replaced).
    #[error(
        "the port {ifname} (index {ifindex}) is gone or is another interface now.\n  fix: check the cable or adapter and start again"
    )]
    PortChanged {
        /// The interface's name in the plan.
        ifname: String,
        /// Its index in the plan.
        ifindex: u32,
    },
    /// The undo journal cannot be written: no change is made without it.
    #[error(
        "cannot write the undo journal in {dir}: {source}.\n  fix: make the folder writable by this user only, or set RESCUE_WIZARD_STATE_DIR to one that is"
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
pub struct NetworkChanges {
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
    /// Another rescue-wizard (this pid) has changes on the port: applying these is refused
    /// rather than sharing its address, which it takes away when it ends.
    pub held_by: Option<u32>,
}

impl NetworkChanges {
    /// What is needed so that `iface` carries `host`.
    pub fn for_interface(iface: &Interface, host: Ipv4Cidr) -> Self {
        Self {
            ifindex: iface.index,
            ifname: iface.name.clone(),
            add: (!iface.has_address(host.addr)).then_some(host),
            link_up: !iface.up,
            unmanage: iface.managed_by_network_manager == Some(true),
            static_arp: None,
            held_by: journal::holder(&journal::state_dir(), &iface.name),
        }
    }

    /// Whether nothing needs to change (and no other run holds the port: that is for
    /// [`HostSetup::apply`] to refuse).
    pub fn is_empty(&self) -> bool {
        self.add.is_none()
            && !self.link_up
            && !self.unmanage
            && self.static_arp.is_none()
            && self.held_by.is_none()
    }

    /// The changes in words, one line each.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(pid) = self.held_by {
            lines.push(format!(
                "nothing, while another rescue-wizard (pid {pid}) holds {}",
                self.ifname
            ));
        }
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

/// Writes a change to the journal before it is made; no journal, no change.
fn record(journal: &mut Journal, change: &Change) -> Result<(), SetupError> {
    journal
        .record(change)
        .map_err(|source| SetupError::Journal {
            dir: journal.dir().path().to_path_buf(),
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
        let mut changes = NetworkChanges::for_interface(iface, cidr);
        changes.held_by = journal::holder(state_dir, interface);
        if changes.add.is_none() && changes.held_by.is_none() {
            return Ok(None);
        }
        Self::apply(&changes, state_dir, events).map(Some)
    }

    /// Makes the planned changes, journaling each first, and starts the keeper. Refused when
    /// another run holds the port, or the port is not the interface planned any more.
    pub fn apply(
        changes: &NetworkChanges,
        state_dir: &Path,
        events: UnboundedSender<HostEvent>,
    ) -> Result<Self, SetupError> {
        let journal_error = |source| SetupError::Journal {
            dir: state_dir.to_path_buf(),
            source,
        };
        let journal = Journal::create(state_dir).map_err(journal_error)?;
        // Checked and changed under the folder's port lock: two runs starting at once cannot
        // both find the port free.
        let _ports = journal.dir().lock_ports().map_err(journal_error)?;
        if let Some(pid) = journal::holder(state_dir, &changes.ifname) {
            let _ = journal.close();
            return Err(SetupError::PortInUse {
                ifname: changes.ifname.clone(),
                pid,
            });
        }
        let port = match platform::link(changes.ifindex) {
            Ok(Some(link)) if link.name == changes.ifname => PortIdentity {
                index: link.index,
                name: link.name,
                mac: link.mac,
            },
            Ok(_) => {
                let _ = journal.close();
                return Err(SetupError::PortChanged {
                    ifname: changes.ifname.clone(),
                    ifindex: changes.ifindex,
                });
            }
            Err(source) => {
                let _ = journal.close();
                return Err(io_error(format!("look up {}", changes.ifname), source));
            }
        };
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
        if changes.unmanage {
            let change = Change::NetworkManagerUnmanaged {
                ifname: changes.ifname.clone(),
                ifindex: Some(port.index),
                mac: port.mac.clone(),
            };
            setup.make(
                &change,
                || {
                    super::iface::nmcli(&["device", "set", &changes.ifname, "managed", "no"])
                        .run_ok()
                        .map(drop)
                        .map_err(io::Error::other)
                },
                &format!("take {} from NetworkManager", changes.ifname),
            )?;
        }
        if changes.link_up {
            setup.make(
                &link_up_change(&port),
                || platform::set_link_up(port.index, true),
                &format!("bring {} up", changes.ifname),
            )?;
        }
        let mut kept = None;
        if let Some(cidr) = changes.add {
            let label = label_for(&changes.ifname);
            let added = setup.make(
                &address_change(&port, cidr, label.clone()),
                || add_rescue_address(port.index, cidr, label.as_deref()),
                &format!("add {cidr} to {}", changes.ifname),
            );
            match added {
                Ok(()) => kept = Some((cidr, label)),
                // Someone's address already: use it, never remove it.
                Err(SetupError::Failed { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        if let Some((ip, mac)) = changes.static_arp {
            let change = Change::Neighbour {
                ifindex: port.index,
                ifname: port.name.clone(),
                if_mac: port.mac.clone(),
                ip,
                mac: format_mac(mac),
            };
            setup.make(
                &change,
                || platform::add_neighbour(port.index, ip, mac),
                &format!("add a static ARP entry for {ip}"),
            )?;
        }
        if let Some((cidr, label)) = kept {
            setup.start_keeper(port, cidr, label, changes.static_arp);
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
        port: PortIdentity,
        cidr: Ipv4Cidr,
        label: Option<String>,
        static_arp: Option<(std::net::Ipv4Addr, [u8; 6])>,
    ) {
        let stop = Arc::clone(&self.stop);
        let shared = Arc::clone(&self.shared);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("keep-{}", port.name))
            .spawn(move || {
                let kept = Kept {
                    shared: &shared,
                    port,
                    present: true,
                    cidr,
                    label: label.as_deref(),
                    static_arp,
                };
                keeper(kept, &stop, &ready_tx);
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
        // The interface the rule names, as it is now: undo removes the rule only while that
        // name still belongs to this interface (or to none).
        let port = match platform::link_named(ifname) {
            Ok(Some(link)) => link,
            Ok(None) => {
                return Err(SetupError::Failed {
                    what: format!("open the firewall on {ifname}"),
                    source: io::Error::new(io::ErrorKind::NotFound, "no interface of that name"),
                });
            }
            Err(source) => return Err(io_error(format!("look up {ifname}"), source)),
        };
        let firewall_change = |rule: super::firewall::AllowRule| Change::FirewallRule {
            rule,
            ifindex: Some(port.index),
            mac: port.mac.clone(),
        };
        let journaled = firewall_change(plan.clone());
        let mut journal = self
            .shared
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        record(&mut journal, &journaled)?;
        match super::firewall::apply(&plan) {
            Ok(applied) => {
                let change = firewall_change(applied);
                if change != journaled {
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
                Ok(Undo::Reverted) => {
                    let _ = journal.forget(change);
                    let _ = self.shared.events.send(HostEvent::Undone(change.clone()));
                }
                // A firewall rule or NetworkManager setting left on a port that is another
                // interface now: the technician hears of it, with the command.
                Ok(Undo::Kept(why))
                    if change.keyed_by_name() && change.recorded_port().is_some() =>
                {
                    let _ = journal.forget(change);
                    let _ = self.shared.events.send(HostEvent::UndoFailed {
                        change: change.clone(),
                        error: UndoRefusal::Kept(why),
                    });
                }
                // Not ours to touch (the port was replaced, the address is someone's now):
                // nothing to undo, and nothing to warn about at every start.
                Ok(Undo::Kept(_)) => {
                    let _ = journal.forget(change);
                }
                Err(err) => {
                    let _ = self.shared.events.send(HostEvent::UndoFailed {
                        change: change.clone(),
                        error: UndoRefusal::Io(IoFailure::from(&err)),
                    });
                    failures.push((change.clone(), err.to_string()));
                }
            }
        }
        let _ = journal.close();
        failures
    }
}

impl Drop for HostSetup {
    fn drop(&mut self) {
        self.undo_all();
    }
}

fn address_change(port: &PortIdentity, cidr: Ipv4Cidr, label: Option<String>) -> Change {
    Change::Address {
        ifindex: port.index,
        ifname: port.name.clone(),
        mac: port.mac.clone(),
        cidr,
        label,
        was_absent: true,
    }
}

fn link_up_change(port: &PortIdentity) -> Change {
    Change::LinkUp {
        ifindex: port.index,
        ifname: port.name.clone(),
        mac: port.mac.clone(),
    }
}

/// Adds the rescue address, create-only: an address already there is someone's.
fn add_rescue_address(ifindex: u32, cidr: Ipv4Cidr, label: Option<&str>) -> io::Result<()> {
    platform::add_address(ifindex, cidr, label, Some(ADDRESS_LIFETIME), true)
}

/// The keeper's view of the port: the interface it keeps the address on, and whether that
/// interface is there now.
struct Kept<'a> {
    shared: &'a Shared,
    port: PortIdentity,
    present: bool,
    cidr: Ipv4Cidr,
    label: Option<&'a str>,
    /// The static ARP entry the run set for the router, put back on a replugged adapter.
    static_arp: Option<(std::net::Ipv4Addr, [u8; 6])>,
}

impl Kept<'_> {
    fn event(&self, event: HostEvent) {
        let _ = self.shared.events.send(event);
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.shared
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts the address back after something removed it; create-only, so an address someone
    /// added by hand meanwhile is used, never replaced.
    fn restore_address(&self) {
        if add_rescue_address(self.port.index, self.cidr, self.label).is_ok() {
            self.event(HostEvent::AddressRestored {
                ifname: self.port.name.clone(),
                cidr: self.cidr,
            });
        }
    }

    /// Refreshes the lifetimes of our own address, or puts it back when a removal slipped
    /// past the watch; an identical address that is not ours is left as it is.
    fn refresh(&self) {
        if !self.present {
            return;
        }
        let Ok(list) = platform::addresses(self.port.index) else {
            return;
        };
        match list.iter().find(|a| a.cidr == self.cidr) {
            Some(found) if is_ours(found, self.label) => {
                let _ = platform::add_address(
                    self.port.index,
                    self.cidr,
                    self.label,
                    Some(ADDRESS_LIFETIME),
                    false,
                );
            }
            Some(_) => {}
            None => self.restore_address(),
        }
    }

    /// The port went away (unplugged): what was on it went with it, so the journal forgets
    /// it; the keeper waits for an interface of the same name.
    fn gone(&mut self) {
        self.present = false;
        let mut journal = self.journal();
        for change in journal.changes().to_vec() {
            if change.port().is_some_and(|p| p == self.port) {
                let _ = journal.forget(&change);
            }
        }
        drop(journal);
        self.event(HostEvent::Carrier {
            ifname: self.port.name.clone(),
            present: false,
        });
    }

    /// An interface of the port's name appeared (the adapter plugged back in): the journal
    /// notes its new index and MAC, and it gets the address (and its link) again.
    fn came_back(&mut self, ifindex: u32) {
        let Ok(Some(link)) = platform::link(ifindex) else {
            return;
        };
        if link.name != self.port.name {
            return;
        }
        let old = std::mem::replace(
            &mut self.port,
            PortIdentity {
                index: link.index,
                name: link.name,
                mac: link.mac,
            },
        );
        self.present = true;
        let mut journal = self.journal();
        // The run's firewall rule names the port, and lets the replugged adapter in as it did
        // the old one: it is this run's still, so the journal records the port it is on now.
        for change in journal.changes().to_vec() {
            if let Change::FirewallRule { rule, .. } = &change
                && change.recorded_port().is_some_and(|p| p == old)
            {
                let moved = Change::FirewallRule {
                    rule: rule.clone(),
                    ifindex: Some(self.port.index),
                    mac: self.port.mac.clone(),
                };
                if journal.record(&moved).is_ok() {
                    let _ = journal.forget(&change);
                }
            }
        }
        if !link.up {
            let change = link_up_change(&self.port);
            if journal.record(&change).is_ok() {
                if platform::set_link_up(self.port.index, true).is_ok() {
                    self.event(HostEvent::LinkRestored {
                        ifname: self.port.name.clone(),
                    });
                } else {
                    let _ = journal.forget(&change);
                }
            }
        }
        drop(journal);
        self.address_back();
        self.neighbour_back();
    }

    /// The rescue address on the replugged adapter, unless an identical one is there.
    fn address_back(&self) {
        let already = platform::addresses(self.port.index)
            .is_ok_and(|list| list.iter().any(|a| a.cidr.addr == self.cidr.addr));
        if already {
            return;
        }
        let change = address_change(&self.port, self.cidr, self.label.map(str::to_owned));
        if self.journal().record(&change).is_err() {
            return;
        }
        if add_rescue_address(self.port.index, self.cidr, self.label).is_ok() {
            self.event(HostEvent::AddressRestored {
                ifname: self.port.name.clone(),
                cidr: self.cidr,
            });
        } else {
            let _ = self.journal().forget(&change);
        }
    }

    /// The run's static ARP entry for the router on the replugged adapter: the kernel dropped
    /// it with the old interface, and a bootloader that does not answer ARP is unreachable
    /// without it. Journaled first (the new index and MAC), like any change.
    fn neighbour_back(&self) {
        let Some((ip, mac)) = self.static_arp else {
            return;
        };
        let change = Change::Neighbour {
            ifindex: self.port.index,
            ifname: self.port.name.clone(),
            if_mac: self.port.mac.clone(),
            ip,
            mac: format_mac(mac),
        };
        if self.journal().record(&change).is_err() {
            return;
        }
        if platform::add_neighbour(self.port.index, ip, mac).is_ok() {
            self.event(HostEvent::Changed(change));
        } else {
            let _ = self.journal().forget(&change);
        }
    }
}

fn keeper(mut kept: Kept<'_>, stop: &AtomicBool, ready: &std::sync::mpsc::Sender<()>) {
    let shared = kept.shared;
    let cidr = kept.cidr;
    let watcher = platform::Watcher::open();
    // The link as it is once the watch is subscribed: the first change after is a change,
    // not the baseline (a carrier toggled right after the network step went untold when
    // the first message was taken as the baseline).
    let mut carrier: Option<bool> = super::iface::carrier(&kept.port.name);
    let _ = ready.send(());
    let mut watcher = watcher.ok();
    let mut next_refresh = Instant::now() + REFRESH_EVERY;
    while !stop.load(Ordering::Relaxed) {
        let wait = next_refresh
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(250));
        let changes = if let Some(w) = watcher.as_mut() {
            w.wait(wait).unwrap_or_default()
        } else {
            // No notifications on this system: look every quarter of a second.
            std::thread::park_timeout(wait);
            let present = platform::addresses(kept.port.index)
                .is_ok_and(|list| list.iter().any(|a| a.cidr == cidr));
            if present {
                Vec::new()
            } else {
                vec![platform::NetChange::AddressRemoved(platform::AddressInfo {
                    ifindex: kept.port.index,
                    cidr,
                    secondary: false,
                    label: None,
                    protocol: None,
                    valid_for: None,
                })]
            }
        };
        if stop.load(Ordering::Relaxed) {
            break;
        }
        for change in changes {
            match change {
                platform::NetChange::AddressRemoved(info)
                    if kept.present
                        && info.ifindex == kept.port.index
                        && info.cidr.addr == cidr.addr =>
                {
                    kept.restore_address();
                }
                platform::NetChange::LinkRemoved { ifindex }
                    if kept.present && ifindex == kept.port.index =>
                {
                    kept.gone();
                    carrier = None;
                }
                platform::NetChange::Link {
                    ifindex, ifname, ..
                } if !kept.present && ifname == kept.port.name => {
                    kept.came_back(ifindex);
                    carrier = super::iface::carrier(&kept.port.name);
                    if carrier == Some(true) {
                        kept.event(HostEvent::Carrier {
                            ifname: kept.port.name.clone(),
                            present: true,
                        });
                    }
                }
                platform::NetChange::Link {
                    ifindex,
                    up,
                    carrier: c,
                    ..
                } if kept.present && ifindex == kept.port.index => {
                    if !up && platform::set_link_up(ifindex, true).is_ok() {
                        kept.event(HostEvent::LinkRestored {
                            ifname: kept.port.name.clone(),
                        });
                    }
                    if carrier != Some(c) {
                        if carrier.is_some() {
                            kept.event(HostEvent::Carrier {
                                ifname: kept.port.name.clone(),
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
            kept.refresh();
        }
    }
    drop(shared.journal.lock());
}

#[cfg(test)]
mod tests;
