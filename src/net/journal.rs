//! The undo journal: every change rescue-wizard makes to the host is written here before it
//! is made, and struck off once undone.
//!
//! One journal per run (`journal-PID-START.json`, START being the process's start time), held
//! with `flock` on its `.lock` beside it for as long as the run lives. A journal whose lock is
//! free and whose owner (pid plus start time, in this boot) is gone belongs to a run that died
//! (SIGKILL, a crash, power loss): the next start replays it backwards before anything else.
//! Two runs at once each have their own file, so neither can undo, or overwrite, the other's.
//!
//! Each change names the interface by index, name and MAC, so that undo touches it only while
//! it is still the same one. The folder is checked before use (ours, not writable by anyone
//! else) and every file in it is opened without following links, so a user cannot make a root
//! run write through a planted symlink, nor feed it a journal to replay.
//!
//! The file is JSON lines: a header naming the run, then one change per line, so that what a
//! damaged file still holds can be read line by line.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::firewall::AllowRule;
use super::iface::Ipv4Cidr;

/// One change to the host, with what is needed to undo exactly it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// An address added to an interface.
    Address {
        /// Kernel index of the interface.
        ifindex: u32,
        /// Its name.
        ifname: String,
        /// Its hardware address when the change was made (`None`: it had none).
        #[serde(default)]
        mac: Option<String>,
        /// The address added.
        cidr: Ipv4Cidr,
        /// The label it carries, when one fit.
        label: Option<String>,
        /// The address was not on the interface before: the only case in which it is ours to
        /// remove (an older journal without this field is never replayed on it).
        #[serde(default)]
        was_absent: bool,
    },
    /// An interface brought up that was down.
    LinkUp {
        /// Kernel index of the interface.
        ifindex: u32,
        /// Its name.
        ifname: String,
        /// Its hardware address when the change was made.
        #[serde(default)]
        mac: Option<String>,
    },
    /// A static ARP entry for the router.
    Neighbour {
        /// Kernel index of the interface.
        ifindex: u32,
        /// Its name.
        ifname: String,
        /// The interface's hardware address when the change was made.
        #[serde(default, rename = "ifmac")]
        if_mac: Option<String>,
        /// The router's address.
        ip: Ipv4Addr,
        /// Its hardware address.
        mac: String,
    },
    /// An interface taken from `NetworkManager` for the session.
    NetworkManagerUnmanaged {
        /// The interface's name.
        ifname: String,
        /// Its kernel index when the change was made (`None`: a journal of an earlier version,
        /// which recorded the name alone; undone by name, as that version did).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ifindex: Option<u32>,
        /// Its hardware address when the change was made.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mac: Option<String>,
    },
    /// A temporary firewall rule, as the firewall module added it.
    FirewallRule {
        /// What was added, for the firewall module to remove. Earlier versions wrote the same
        /// fields through an untyped JSON value: their journals read as this.
        rule: AllowRule,
        /// The index of the interface the rule is limited to, when it was added (`None`: a
        /// journal of an earlier version; undone as that version did, by comment, interface
        /// name and subnet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ifindex: Option<u32>,
        /// Its hardware address when the rule was added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mac: Option<String>,
    },
}

/// The interface a change was made on: index, name and hardware address, all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortIdentity {
    /// Kernel index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Hardware address (`None`: it had none).
    pub mac: Option<String>,
}

impl Change {
    /// The interface the change lives on, when it lives on one interface's kernel state
    /// (addresses, links and ARP entries go with the interface when it goes, and so does
    /// `NetworkManager`'s runtime setting for the device).
    pub fn port(&self) -> Option<PortIdentity> {
        match self {
            Change::FirewallRule { .. } => None,
            _ => self.recorded_port(),
        }
    }

    /// The interface as recorded when the change was made (index, name and MAC), for every
    /// change that recorded all three; `None` for the name-only entries of earlier versions.
    pub fn recorded_port(&self) -> Option<PortIdentity> {
        let (index, name, mac) = match self {
            Change::Address {
                ifindex,
                ifname,
                mac,
                ..
            }
            | Change::LinkUp {
                ifindex,
                ifname,
                mac,
            }
            | Change::Neighbour {
                ifindex,
                ifname,
                if_mac: mac,
                ..
            } => (Some(*ifindex), ifname, mac),
            Change::NetworkManagerUnmanaged {
                ifname,
                ifindex,
                mac,
            } => (*ifindex, ifname, mac),
            Change::FirewallRule { rule, ifindex, mac } => (*ifindex, &rule.iface, mac),
        };
        Some(PortIdentity {
            index: index?,
            name: name.clone(),
            mac: mac.clone(),
        })
    }

    /// Whether undo looks the interface up by its name rather than its index: a firewall rule
    /// matches the interface's name (`iifname`, `-i`) and `nmcli` takes a device name, while
    /// an address, a link state and an ARP entry live on the index.
    pub fn keyed_by_name(&self) -> bool {
        matches!(
            self,
            Change::NetworkManagerUnmanaged { .. } | Change::FirewallRule { .. }
        )
    }

    /// The name of the interface the change concerns, if one.
    pub fn ifname(&self) -> Option<&str> {
        match self {
            Change::Address { ifname, .. }
            | Change::LinkUp { ifname, .. }
            | Change::Neighbour { ifname, .. }
            | Change::NetworkManagerUnmanaged { ifname, .. } => Some(ifname),
            Change::FirewallRule { rule, .. } => Some(&rule.iface),
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Address { ifname, cidr, .. } => write!(f, "address {cidr} on {ifname}"),
            Change::LinkUp { ifname, .. } => write!(f, "{ifname} brought up"),
            Change::Neighbour {
                ifname, ip, mac, ..
            } => write!(f, "static ARP entry {ip} -> {mac} on {ifname}"),
            Change::NetworkManagerUnmanaged { ifname, .. } => {
                write!(f, "{ifname} taken from NetworkManager")
            }
            Change::FirewallRule { rule, .. } => write!(
                f,
                "firewall rule accepting UDP from {} on {}",
                rule.subnet, rule.iface
            ),
        }
    }
}

/// Who wrote a journal: a process is the same one only if its pid, its start time (field 22
/// of `/proc/PID/stat`, in clock ticks since boot) and the boot all match. A pid alone is
/// reused; a process name is whatever the binary was renamed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
}

impl RunId {
    /// This process.
    pub fn this() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start_time: start_time(pid).unwrap_or(0),
            boot_id: boot_id(),
        }
    }

    /// Whether the process that wrote the journal is still running: same boot, the pid
    /// exists and is not a zombie (a killed run is dead before its parent reaps it), and it
    /// started at the same moment.
    pub fn alive(&self) -> bool {
        if self.boot_id != boot_id() {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        let (state, started) = parse_stat(&stat);
        !matches!(state, Some('Z' | 'X')) && started == Some(self.start_time)
    }

    /// What this process's journals' names start with.
    fn prefix(&self) -> String {
        format!("{JOURNAL_PREFIX}{}-{}-", self.pid, self.start_time)
    }
}

/// The state and start time from `/proc/PID/stat`. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself, so fields are counted after the
/// last `)` (proc(5)): field 3 is the state, field 22 the start time.
fn parse_stat(stat: &str) -> (Option<char>, Option<u64>) {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return (None, None);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().and_then(|s| s.chars().next());
    let started = fields.get(19).and_then(|s| s.parse().ok());
    (state, started)
}

fn start_time(pid: u32) -> Option<u64> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?).1
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

const JOURNAL_PREFIX: &str = "journal-";
const JOURNAL_SUFFIX: &str = ".json";
/// Held while a run applies its changes, so two runs starting at once cannot both decide a
/// port is free.
const PORTS_LOCK: &str = "ports.lock";

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    /// The journal format.
    #[serde(rename = "rescue-wizard-journal")]
    version: u32,
    #[serde(flatten)]
    run: RunId,
}

const VERSION: u32 = 2;

/// The state folder, as an open directory checked to be safe to write in and replay from.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

/// The folder where journals (and reports) live: `$RESCUE_WIZARD_STATE_DIR`; else, as root,
/// `/var/lib/rescue-wizard` (never a user's HOME, which `sudo -E` keeps); else the user's
/// state folder (`~/.local/state/rescue-wizard` on Linux), else the temporary folder.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RESCUE_WIZARD_STATE_DIR") {
        return PathBuf::from(dir);
    }
    #[cfg(unix)]
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(ROOT_STATE_DIR);
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("rescue-wizard")
}

/// The state folder of runs as root.
pub const ROOT_STATE_DIR: &str = "/var/lib/rescue-wizard";

pub mod across;

/// The folder in root's state folder holding one marker per root run (see [`across`]).
pub const MARKERS: &str = "runs";

#[cfg(unix)]
mod fsx;

impl StateDir {
    /// Opens (making it, mode 0700, when missing) and checks the folder: a real folder, not a
    /// link, owned by this user and writable by no one else.
    pub fn open(path: &Path) -> io::Result<Self> {
        #[cfg(unix)]
        {
            let fd = fsx::open_dir(path)?;
            Ok(Self {
                path: path.to_path_buf(),
                fd,
            })
        }
        #[cfg(not(unix))]
        {
            std::fs::create_dir_all(path)?;
            Ok(Self {
                path: path.to_path_buf(),
            })
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_file(&self, name: &str, create: bool, write: bool) -> io::Result<File> {
        #[cfg(unix)]
        {
            fsx::open(&self.fd, name, create, write)
        }
        #[cfg(not(unix))]
        {
            std::fs::OpenOptions::new()
                .read(true)
                .write(write)
                .create(create)
                .open(self.path.join(name))
        }
    }

    fn write_file(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        #[cfg(unix)]
        let mut file = fsx::create_truncated(&self.fd, name)?;
        #[cfg(not(unix))]
        let mut file = File::create(self.path.join(name))?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            fsx::rename(&self.fd, from, to)
        }
        #[cfg(not(unix))]
        {
            std::fs::rename(self.path.join(from), self.path.join(to))
        }
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            fsx::remove(&self.fd, name)
        }
        #[cfg(not(unix))]
        match std::fs::remove_file(self.path.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn names(&self) -> io::Result<Vec<String>> {
        #[cfg(unix)]
        {
            fsx::names(&self.fd, &self.path)
        }
        #[cfg(not(unix))]
        Ok(std::fs::read_dir(&self.path)?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect())
    }

    /// Opens a file's lock and takes it without waiting: `None` when another process holds it.
    fn try_lock(&self, name: &str) -> io::Result<Option<File>> {
        let file = self.open_file(name, true, true)?;
        #[cfg(unix)]
        {
            Ok(fsx::try_lock(&file)?.then_some(file))
        }
        #[cfg(not(unix))]
        Ok(Some(file))
    }

    /// Writes the marker of the journal `stem` when this folder keeps them (root's own).
    fn mark(&self, stem: &str, run: &RunId) -> io::Result<()> {
        #[cfg(unix)]
        if across::marks(&self.path) {
            fsx::open_to_markers(&self.fd)?;
            fsx::write_marker(&self.fd, stem, &across::marker_text(run))?;
        }
        #[cfg(not(unix))]
        let _ = (stem, run);
        Ok(())
    }

    /// Removes the marker of the journal `stem`, if there is one.
    fn unmark(&self, stem: &str) -> io::Result<()> {
        #[cfg(unix)]
        if across::marks(&self.path) {
            fsx::remove_marker(&self.fd, stem)?;
        }
        #[cfg(not(unix))]
        let _ = stem;
        Ok(())
    }

    /// Holds the folder's port lock until the returned file is dropped: while a run checks
    /// that its port is free and makes its changes.
    pub fn lock_ports(&self) -> io::Result<File> {
        let file = self.open_file(PORTS_LOCK, true, true)?;
        #[cfg(unix)]
        fsx::lock(&file)?;
        Ok(file)
    }

    /// Reads a file that is to be trusted: a regular file, ours, writable by no one else.
    fn read_trusted(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut file = self.open_file(name, false, false)?;
        #[cfg(unix)]
        {
            let (uid, mode) = fsx::owner_and_mode(&file)?;
            fsx::check_owner(&self.path.join(name), "file", uid, mode)?;
        }
        let mut bytes = Vec::new();
        // A journal is a few kilobytes; a huge file is not one of ours.
        Read::take(&mut file, MAX_JOURNAL).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// The largest journal read back (a run records a handful of changes).
const MAX_JOURNAL: u64 = 1 << 20;

/// The journal file of one run, locked for as long as the run holds it.
#[derive(Debug)]
pub struct Journal {
    dir: StateDir,
    run: RunId,
    /// The file's name without `.json`: the run, and which of its journals (one process can
    /// hold a setup and an adopted address, each with its own).
    stem: String,
    changes: Vec<Change>,
    /// The run's lock, held until the journal is closed or the process ends.
    _lock: File,
}

impl Journal {
    /// What the journals in `dir` are called (each run's own, `journal-PID-START.json`).
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(format!("{JOURNAL_PREFIX}*{JOURNAL_SUFFIX}"))
    }

    /// Starts this run's journal in `dir`, checked and locked.
    pub fn create(dir: &Path) -> io::Result<Self> {
        static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let run = RunId::this();
        let stem = format!(
            "{}{}",
            run.prefix(),
            SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        Self::create_as(dir, run, stem)
    }

    fn create_as(dir: &Path, run: RunId, stem: String) -> io::Result<Self> {
        let dir = StateDir::open(dir)?;
        let lock = dir.try_lock(&format!("{stem}.lock"))?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "this run's journal is already open",
            )
        })?;
        let journal = Self {
            dir,
            run,
            stem,
            changes: Vec::new(),
            _lock: lock,
        };
        if let Err(err) = journal
            .save()
            .and_then(|()| journal.dir.mark(&journal.stem, &journal.run))
        {
            // Nothing recorded: leave no lock behind either.
            let _ = journal.remove_files();
            return Err(err);
        }
        Ok(journal)
    }

    /// Who this journal belongs to.
    pub fn run(&self) -> &RunId {
        &self.run
    }

    /// The checked folder it lives in.
    pub fn dir(&self) -> &StateDir {
        &self.dir
    }

    /// Records a change before it is made (written and synced to disk).
    pub fn record(&mut self, change: &Change) -> io::Result<()> {
        self.changes.push(change.clone());
        self.save()
    }

    /// Strikes a change off once it is undone (or turned out not to be ours).
    pub fn forget(&mut self, change: &Change) -> io::Result<()> {
        if let Some(at) = self.changes.iter().rposition(|c| c == change) {
            self.changes.remove(at);
        }
        self.save()
    }

    /// The changes recorded, oldest first.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path.join(format!("{}{JOURNAL_SUFFIX}", self.stem))
    }

    /// Removes the file and its lock when nothing is left to undo.
    pub fn close(&self) -> io::Result<()> {
        if self.changes.is_empty() {
            self.remove_files()
        } else {
            Ok(())
        }
    }

    fn remove_files(&self) -> io::Result<()> {
        let stem = &self.stem;
        self.dir.remove(&format!("{stem}{JOURNAL_SUFFIX}"))?;
        self.dir.unmark(stem)?;
        self.dir.remove(&format!("{stem}.lock"))
    }

    fn save(&self) -> io::Result<()> {
        let stem = &self.stem;
        let bytes = encode(&self.run, &self.changes)?;
        // Written beside under this run's own name and renamed over, so a crash mid-write
        // leaves the previous journal whole and no two runs ever share a temporary file.
        let tmp = format!(".{stem}.tmp");
        self.dir.write_file(&tmp, &bytes)?;
        self.dir.rename(&tmp, &format!("{stem}{JOURNAL_SUFFIX}"))
    }
}

fn encode(run: &RunId, changes: &[Change]) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(&Header {
        version: VERSION,
        run: run.clone(),
    })
    .map_err(io::Error::other)?;
    for change in changes {
        bytes.push(b'\n');
        bytes.extend(serde_json::to_vec(change).map_err(io::Error::other)?);
    }
    bytes.push(b'\n');
    Ok(bytes)
}

/// What a journal file holds, read as far as it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Its writer, when the header could be read.
    pub run: Option<RunId>,
    /// The changes that could be read, oldest first.
    pub changes: Vec<Change>,
    /// What is wrong with the file, when something is.
    pub damage: Option<String>,
}

/// Reads a journal line by line; a damaged line is skipped and reported, the rest kept.
pub fn decode(bytes: &[u8]) -> Decoded {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines().enumerate();
    let mut damage = Vec::new();
    let run = if let Some((_, first)) = lines.next() {
        match serde_json::from_str::<Header>(first) {
            Ok(header) if header.version == VERSION => Some(header.run),
            Ok(header) => {
                damage.push(format!("unknown format version {}", header.version));
                None
            }
            Err(e) => {
                damage.push(format!("line 1 (the header): {e}"));
                None
            }
        }
    } else {
        damage.push("the file is empty".to_owned());
        None
    };
    let mut changes = Vec::new();
    for (at, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Change>(line) {
            Ok(change) => changes.push(change),
            Err(e) => damage.push(format!("line {}: {e}", at + 1)),
        }
    }
    Decoded {
        run,
        changes,
        damage: (!damage.is_empty()).then(|| damage.join("; ")),
    }
}

/// The single journal file of versions before per-run journals.
pub const LEGACY_JOURNAL: &str = "undo-journal.json";

/// A journal an earlier version left (`undo-journal.json`): where it is and what it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Legacy {
    /// The file's path.
    pub path: PathBuf,
    /// Its changes, one line each as the file words them (or why they could not be read).
    pub lists: Vec<String>,
}

/// Finds the journal an earlier version left in `dir`, if any. Its changes are only listed,
/// never replayed: that format named interfaces by index alone, and an index is reused by
/// the next interface created (the issue this journal's name+index+MAC check exists for).
pub fn legacy(dir: &StateDir) -> io::Result<Option<Legacy>> {
    let bytes = match dir.read_trusted(LEGACY_JOURNAL) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let lists = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value) => match value.get("changes").and_then(serde_json::Value::as_array) {
            Some(changes) => changes.iter().map(ToString::to_string).collect(),
            None => vec!["no list of changes in it".to_owned()],
        },
        Err(e) => vec![format!("unreadable: {e}")],
    };
    Ok(Some(Legacy {
        path: dir.path.join(LEGACY_JOURNAL),
        lists,
    }))
}

/// A journal another run left, found when looking through the folder.
#[derive(Debug)]
pub struct Found {
    /// The file's path.
    pub path: PathBuf,
    name: String,
    /// Its writer, from the header or else from the file's name.
    pub pid: Option<u32>,
    /// What it holds.
    pub decoded: Decoded,
    /// Whether its run is still going (its changes are its own to undo).
    pub alive: bool,
    /// A dead run's lock, held while its changes are undone.
    lock: Option<File>,
}

/// The run's stem and pid from a journal's file name.
fn stem_of(name: &str) -> Option<(&str, Option<u32>)> {
    let stem = name.strip_suffix(JOURNAL_SUFFIX)?;
    let rest = stem.strip_prefix(JOURNAL_PREFIX)?;
    let pid = rest.split('-').next().and_then(|p| p.parse().ok());
    Some((stem, pid))
}

/// Why a journal in the folder was passed over without being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// The file.
    pub path: PathBuf,
    /// Why (its owner or its mode), with the fix.
    pub why: String,
}

/// Every other run's journal in `dir`: live ones (read, not touched), dead ones (locked for
/// the caller to undo), and files that could not be trusted.
pub fn survey(dir: &StateDir) -> io::Result<(Vec<Found>, Vec<Untrusted>)> {
    let own = RunId::this().prefix();
    let mut found = Vec::new();
    let mut untrusted = Vec::new();
    for name in dir.names()? {
        let Some((stem, pid)) = stem_of(&name) else {
            continue;
        };
        // This process's own journals are its own business.
        if stem.starts_with(&own) {
            continue;
        }
        // A lock held is a run alive: the kernel drops it when the process ends, however it
        // ends.
        let lock = dir.try_lock(&format!("{stem}.lock"))?;
        let bytes = match dir.read_trusted(&name) {
            Ok(bytes) => bytes,
            // Struck off by its run meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                untrusted.push(Untrusted {
                    path: dir.path.join(&name),
                    why: e.to_string(),
                });
                continue;
            }
        };
        let decoded = decode(&bytes);
        let alive = lock.is_none() || decoded.run.as_ref().is_some_and(RunId::alive);
        found.push(Found {
            path: dir.path.join(&name),
            name: name.clone(),
            pid: decoded.run.as_ref().map(|r| r.pid).or(pid),
            decoded,
            alive,
            lock: if alive { None } else { lock },
        });
    }
    Ok((found, untrusted))
}

impl Found {
    /// Forgets a dead run's journal once its changes are undone: removed, or, when it was
    /// damaged, moved aside (to `….json.damaged`) for a person to read. Returns where it went.
    pub fn retire(self, dir: &StateDir) -> io::Result<Option<PathBuf>> {
        let stem = self.name.trim_end_matches(JOURNAL_SUFFIX).to_owned();
        let aside = if self.decoded.damage.is_some() {
            let to = format!("{}.damaged", self.name);
            dir.rename(&self.name, &to)?;
            Some(dir.path.join(to))
        } else {
            dir.remove(&self.name)?;
            None
        };
        dir.unmark(&stem)?;
        dir.remove(&format!("{stem}.lock"))?;
        drop(self.lock);
        Ok(aside)
    }
}

/// The live run (its pid) that holds changes on the interface `ifname`, if one does.
pub fn holder(dir: &Path, ifname: &str) -> Option<u32> {
    if !dir.exists() {
        return None;
    }
    let dir = StateDir::open(dir).ok()?;
    let (found, _) = survey(&dir).ok()?;
    found
        .iter()
        .filter(|f| f.alive)
        .find(|f| f.decoded.changes.iter().any(|c| c.ifname() == Some(ifname)))
        .and_then(|f| f.pid)
}

#[cfg(test)]
mod tests;
