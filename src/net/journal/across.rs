//! Runs as root and runs as a user keep their journals in different folders; each kind looks
//! at the other's for a run that was killed, so neither is left unseen.
//!
//! **A user's run finding a dead root run.** Root's folder (`/var/lib/rescue-wizard`) holds
//! journals only root may read. Rather than open it to everyone, it is made 0711 (users may
//! pass through, not list or read), and each root run leaves a world-readable marker in its
//! `runs/` folder, named like its journal and holding only its pid, start time and boot id:
//! enough for any user's run to tell a live root run from a dead one, nothing about what it
//! changed. A dead one is named with the command that cleans it (any rescue-wizard command
//! run as root undoes a dead root run's changes before anything else).
//!
//! **Root finding a dead user run.** A run as root (under `sudo`) also looks in the invoking
//! user's folder (`SUDO_USER`'s `~/.local/state/rescue-wizard`, or `$XDG_STATE_HOME` when it
//! is absolute and that user's), read without following a link and never written. It names a
//! dead run's journal with what it lists and the fix, but does not replay it: the file is the
//! user's to write, and a crafted one could make root undo what is not its own (a live run's
//! address, another rule), the attack the journal's ownership check exists for.

#![cfg_attr(
    not(unix),
    expect(
        unused_imports,
        dead_code,
        reason = "markers and the invoking user's folder exist on unix only"
    )
)]

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use super::{JOURNAL_PREFIX, JOURNAL_SUFFIX, MAX_JOURNAL, ROOT_STATE_DIR, RunId, decode};

pub use super::MARKERS;

/// What one marker says: the run, in the words [`RunId`] uses.
pub(super) fn marker_text(run: &RunId) -> String {
    format!("{} {} {}\n", run.pid, run.start_time, run.boot_id)
}

fn parse_marker(text: &str) -> Option<RunId> {
    let mut fields = text.split_whitespace();
    let pid = fields.next()?.parse().ok()?;
    let start_time = fields.next()?.parse().ok()?;
    let boot_id = fields.next()?.to_owned();
    Some(RunId {
        pid,
        start_time,
        boot_id,
    })
}

/// Whether a journal in `dir` gets a marker: root's own folder, by a run as root.
pub(super) fn marks(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        nix::unistd::geteuid().is_root() && dir == Path::new(ROOT_STATE_DIR)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// What the other kind of run left, as notes for the technician, each with its fix: for a
/// user's run, dead root runs; for root, the invoking user's dead runs and whatever in their
/// folder was not read (a link, a file not theirs).
pub fn look() -> Vec<String> {
    #[cfg(unix)]
    {
        if nix::unistd::geteuid().is_root() {
            invoking_user().map_or_else(Vec::new, |user| user_runs(&user))
        } else {
            dead_root_runs(Path::new(ROOT_STATE_DIR))
                .into_iter()
                .map(|run| {
                    format!(
                        "a run of rescue-wizard as root (pid {}) was killed and left changes to this computer's network; its journal is in {ROOT_STATE_DIR}, which only root reads.\n  fix: run `sudo rescue-wizard doctor` (any rescue-wizard command run as root undoes them before anything else)",
                        run.pid
                    )
                })
                .collect()
        }
    }
    #[cfg(not(unix))]
    Vec::new()
}

/// The root runs whose markers in `root`'s `runs/` folder name a run that is gone.
#[cfg(unix)]
pub fn dead_root_runs(root: &Path) -> Vec<RunId> {
    let dir = root.join(MARKERS);
    // Only a folder root owns and no one else can write says anything about root's runs.
    let Ok(fd) = fsx_open_dir(&dir) else {
        return Vec::new();
    };
    let Ok(stat) = nix::sys::stat::fstat(&fd) else {
        return Vec::new();
    };
    #[allow(clippy::useless_conversion)]
    let mode: u32 = stat.st_mode.into();
    if stat.st_uid != 0 || mode & 0o022 != 0 {
        return Vec::new();
    }
    let Ok(names) = super::fsx::names(&fd, &dir) else {
        return Vec::new();
    };
    let mut dead: Vec<RunId> = names
        .iter()
        .filter(|name| name.starts_with(JOURNAL_PREFIX))
        .filter_map(|name| read_small(&fd, name, 0).ok())
        .filter_map(|bytes| parse_marker(&String::from_utf8_lossy(&bytes)))
        .filter(|run| !run.alive())
        .collect();
    dead.sort_by_key(|run| run.pid);
    dead
}

/// The user who ran `sudo`: their name, uid and state folder for rescue-wizard.
#[cfg(unix)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokingUser {
    /// The login name (`SUDO_USER`).
    pub name: String,
    /// Their user id.
    pub uid: u32,
    /// Their rescue-wizard state folder.
    pub folder: PathBuf,
}

/// `SUDO_USER`, when it names a user other than root, with their state folder:
/// `$XDG_STATE_HOME/rescue-wizard` when that is an absolute path to a folder the user owns
/// (`sudo -E` keeps it), else `~/.local/state/rescue-wizard` in their home from the password
/// database (not `$HOME`, which may be root's or anyone's).
#[cfg(unix)]
pub fn invoking_user() -> Option<InvokingUser> {
    let name = std::env::var("SUDO_USER").ok()?;
    let user = nix::unistd::User::from_name(&name).ok()??;
    if user.uid.is_root() {
        return None;
    }
    let uid = user.uid.as_raw();
    let xdg = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .filter(|path| {
            nix::sys::stat::lstat(path.as_path())
                .is_ok_and(|st| st.st_uid == uid && st.st_mode & libc_s_ifmt() == libc_s_ifdir())
        });
    let base = xdg.unwrap_or_else(|| user.dir.join(".local/state"));
    Some(InvokingUser {
        name,
        uid,
        folder: base.join("rescue-wizard"),
    })
}

#[cfg(unix)]
fn libc_s_ifmt() -> nix::sys::stat::mode_t {
    nix::sys::stat::SFlag::S_IFMT.bits()
}

#[cfg(unix)]
fn libc_s_ifdir() -> nix::sys::stat::mode_t {
    nix::sys::stat::SFlag::S_IFDIR.bits()
}

/// Root's notes on `user`'s folder: each dead run's journal with what it lists and the fix,
/// and what was not read (a link planted there, a file not the user's).
#[cfg(unix)]
pub fn user_runs(user: &InvokingUser) -> Vec<String> {
    let folder = &user.folder;
    let fd = match fsx_open_dir(folder) {
        Ok(fd) => fd,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            return vec![format!(
                "not read: {}: {err}; a link there is never followed.\n  fix: make it a real folder owned by {}, or remove it",
                folder.display(),
                user.name
            )];
        }
    };
    let owner_ok = nix::sys::stat::fstat(&fd).is_ok_and(|st| {
        #[allow(clippy::useless_conversion)]
        let mode: u32 = st.st_mode.into();
        st.st_uid == user.uid && mode & 0o022 == 0
    });
    if !owner_ok {
        return vec![format!(
            "not read: {}: it is not {}'s alone (another user owns it or may write in it).\n  fix: chown -R {} {} and chmod go-w it",
            folder.display(),
            user.name,
            user.name,
            folder.display()
        )];
    }
    let Ok(names) = super::fsx::names(&fd, folder) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    let mut journals: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(JOURNAL_PREFIX) && n.ends_with(JOURNAL_SUFFIX))
        .collect();
    journals.sort();
    for name in journals {
        let path = folder.join(name);
        let bytes = match read_small(&fd, name, user.uid) {
            Ok(bytes) => bytes,
            Err(err) => {
                notes.push(format!("not read: {}: {err}", path.display()));
                continue;
            }
        };
        let decoded = decode(&bytes);
        let stem = name.trim_end_matches(JOURNAL_SUFFIX);
        let locked = lock_held(&fd, &format!("{stem}.lock"));
        let alive = locked || decoded.run.as_ref().is_some_and(RunId::alive);
        if alive {
            continue;
        }
        let lists: Vec<String> = decoded.changes.iter().map(ToString::to_string).collect();
        let pid = decoded
            .run
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), |run| run.pid.to_string());
        notes.push(format!(
            "a run of rescue-wizard as {} (pid {pid}) was killed and left {} listing: {}. A run as root does not replay a journal another user can write.\n  fix: run any rescue-wizard command as {} without sudo (e.g. `rescue-wizard doctor`): it undoes them before anything else; or compare `ip addr` and `ip link` with the list and remove by hand only what rescue-wizard added",
            user.name,
            path.display(),
            if lists.is_empty() {
                "nothing".to_owned()
            } else {
                lists.join(", ")
            },
            user.name
        ));
    }
    notes
}

/// Opens a folder without following a link in its place.
#[cfg(unix)]
fn fsx_open_dir(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => io::Error::new(
            io::ErrorKind::InvalidInput,
            "a symbolic link or not a folder",
        ),
        other => io::Error::from(other),
    })
}

/// A small regular file in the folder `dir`, owned by `uid`, read without following a link,
/// without blocking (a FIFO planted there), and never written.
#[cfg(unix)]
fn read_small(dir: &std::os::fd::OwnedFd, name: &str, uid: u32) -> io::Result<Vec<u8>> {
    use nix::fcntl::OFlag;
    use std::os::fd::AsFd as _;
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP => {
            io::Error::new(io::ErrorKind::InvalidInput, "a symbolic link, not followed")
        }
        other => io::Error::from(other),
    })?;
    let stat = nix::sys::stat::fstat(&fd)?;
    if stat.st_mode & libc_s_ifmt() != nix::sys::stat::SFlag::S_IFREG.bits() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if stat.st_uid != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("it belongs to user id {}, not to {uid}", stat.st_uid),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_JOURNAL)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether another process holds the lock file `name` in `dir` (a live run). A missing lock,
/// or a link in its place, holds nothing; it is opened read-only and never created.
#[cfg(unix)]
fn lock_held(dir: &std::os::fd::OwnedFd, name: &str) -> bool {
    use nix::fcntl::OFlag;
    use std::os::fd::AsFd as _;
    let Ok(fd) = nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return false;
    };
    let file = std::fs::File::from(fd);
    match super::fsx::try_lock(&file) {
        Ok(got) => !got,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_holds_the_run_and_reads_back() {
        let run = RunId::this();
        assert_eq!(parse_marker(&marker_text(&run)), Some(run));
        assert_eq!(parse_marker("12 x boot"), None);
        assert_eq!(parse_marker(""), None);
    }
}
