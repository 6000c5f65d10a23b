//! The undo journal: every change rescue-wizard makes to the host is written here before it
//! is made, and struck off once undone. A journal found at start belongs to a run that died
//! (SIGKILL, a crash, power loss) and is replayed backwards before anything else.

use std::fs;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::iface::Ipv4Cidr;

/// One change to the host, with what is needed to undo exactly it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// An address added to an interface.
    Address {
        /// Kernel index of the interface.
        ifindex: u32,
        /// Its name, for people.
        ifname: String,
        /// The address added.
        cidr: Ipv4Cidr,
        /// The label it carries, when one fit.
        label: Option<String>,
    },
    /// An interface brought up that was down.
    LinkUp {
        /// Kernel index of the interface.
        ifindex: u32,
        /// Its name.
        ifname: String,
    },
    /// A static ARP entry for the router.
    Neighbour {
        /// Kernel index of the interface.
        ifindex: u32,
        /// Its name.
        ifname: String,
        /// The router's address.
        ip: Ipv4Addr,
        /// Its hardware address.
        mac: String,
    },
    /// An interface taken from `NetworkManager` for the session.
    NetworkManagerUnmanaged {
        /// The interface's name.
        ifname: String,
    },
    /// A temporary firewall rule (its description, as the firewall module wrote it).
    FirewallRule {
        /// What was added, for the firewall module to remove.
        rule: serde_json::Value,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Address { ifname, cidr, .. } => write!(f, "address {cidr} on {ifname}"),
            Change::LinkUp { ifname, .. } => write!(f, "{ifname} brought up"),
            Change::Neighbour {
                ifname, ip, mac, ..
            } => write!(f, "static ARP entry {ip} -> {mac} on {ifname}"),
            Change::NetworkManagerUnmanaged { ifname } => {
                write!(f, "{ifname} taken from NetworkManager")
            }
            Change::FirewallRule { rule } => write!(
                f,
                "firewall rule accepting UDP from {} on {}",
                rule.get("subnet")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("the router's subnet"),
                rule.get("iface")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("the port")
            ),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    /// The process that wrote it.
    pid: u32,
    /// Changes in the order they were made.
    changes: Vec<Change>,
}

/// The journal file of one run.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    contents: Contents,
}

/// The folder where the journal lives: `$RESCUE_WIZARD_STATE_DIR`, else the platform's state
/// folder (`~/.local/state/rescue-wizard` on Linux), else the temporary folder.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RESCUE_WIZARD_STATE_DIR") {
        return PathBuf::from(dir);
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("rescue-wizard")
}

impl Journal {
    /// The journal path in `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join("undo-journal.json")
    }

    /// Starts a journal for this run. A journal left by a live process is not taken over.
    pub fn create(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = Self::path_in(dir);
        if let Some(left) = Self::read(&path)?
            && left.pid != std::process::id()
            && process_alive(left.pid)
            && !left.changes.is_empty()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "another rescue-wizard (pid {}) has changes on this computer; finish or stop it first",
                    left.pid
                ),
            ));
        }
        let journal = Self {
            path,
            contents: Contents {
                pid: std::process::id(),
                changes: Vec::new(),
            },
        };
        journal.save()?;
        Ok(journal)
    }

    fn read(path: &Path) -> io::Result<Option<Contents>> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The changes a dead run left behind in `dir`, oldest first, and removes nothing yet.
    /// `None` when there is no journal, or it belongs to a run that is still alive (its
    /// changes are its own to undo).
    pub fn leftovers(dir: &Path) -> io::Result<Option<Vec<Change>>> {
        let Some(left) = Self::read(&Self::path_in(dir))? else {
            return Ok(None);
        };
        if left.pid != std::process::id() && process_alive(left.pid) {
            return Ok(None);
        }
        Ok(Some(left.changes))
    }

    /// Forgets the journal of a dead run once its changes are undone.
    pub fn clear(dir: &Path) -> io::Result<()> {
        match fs::remove_file(Self::path_in(dir)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Records a change before it is made (written and synced to disk).
    pub fn record(&mut self, change: &Change) -> io::Result<()> {
        self.contents.changes.push(change.clone());
        self.save()
    }

    /// Strikes a change off once it is undone (or turned out not to be ours).
    pub fn forget(&mut self, change: &Change) -> io::Result<()> {
        if let Some(at) = self.contents.changes.iter().rposition(|c| c == change) {
            self.contents.changes.remove(at);
        }
        self.save()
    }

    /// The changes recorded, oldest first.
    pub fn changes(&self) -> &[Change] {
        &self.contents.changes
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file (nothing is left to undo).
    pub fn close(self) -> io::Result<()> {
        if self.contents.changes.is_empty() {
            fs::remove_file(&self.path)
        } else {
            Ok(())
        }
    }

    fn save(&self) -> io::Result<()> {
        // Written beside and renamed over, so a crash mid-write leaves the old journal whole.
        let tmp = self.path.with_extension("json.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(&self.contents).map_err(io::Error::other)?)?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)
    }
}

/// Whether `pid` is a running rescue-wizard: it exists, is not a zombie waiting to be reaped
/// (a killed run is dead even before its parent collects it), and carries our name.
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let state = field("State:");
    !state.starts_with('Z')
        && !state.starts_with('X')
        && field("Name:").starts_with("rescue-wizard")
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_and_are_struck_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path()).unwrap();
        let change = Change::Address {
            ifindex: 7,
            ifname: "eth0".into(),
            cidr: Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24),
            label: Some("eth0:rw".into()),
        };
        journal.record(&change).unwrap();
        journal
            .record(&Change::LinkUp {
                ifindex: 7,
                ifname: "eth0".into(),
            })
            .unwrap();
        let text = fs::read_to_string(journal.path()).unwrap();
        assert!(
            text.contains("\"change\": \"address\"") && text.contains("192.168.0.66"),
            "{text}"
        );
        // Written by this process: not a leftover of a dead run, but readable as one by a
        // new process (simulated by rewriting the pid).
        let mut raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        raw["pid"] = serde_json::json!(999_999_999u32);
        fs::write(journal.path(), raw.to_string()).unwrap();
        let left = Journal::leftovers(dir.path()).unwrap().unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(left[0], change);
        journal.forget(&change).unwrap();
        assert_eq!(journal.changes().len(), 1);
        Journal::clear(dir.path()).unwrap();
        assert!(Journal::leftovers(dir.path()).unwrap().is_none());
    }
}
