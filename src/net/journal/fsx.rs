//! The few file operations the journal needs, relative to the checked folder and never
//! following a link.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{UnlinkatFlags, unlinkat};

pub(super) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .or_else(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    let fd = nix::fcntl::open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == nix::errno::Errno::ELOOP || e == nix::errno::Errno::ENOTDIR {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link or not a folder: rescue-wizard keeps its journal only in a real folder of its own.\n  fix: remove it, or set RESCUE_WIZARD_STATE_DIR to a folder you own",
                    path.display()
                ),
            )
        } else {
            io::Error::from(e)
        }
    })?;
    let stat = fstat(&fd)?;
    // mode_t is 16 bits on macOS.
    #[allow(clippy::useless_conversion)]
    check_owner(path, "folder", stat.st_uid, stat.st_mode.into())?;
    Ok(fd)
}

/// Owned by this process's user and writable by no one else; what is not cannot be
/// trusted to replay, nor written in by root.
pub(super) fn check_owner(path: &Path, what: &str, uid: u32, mode: u32) -> io::Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    if uid != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the state {what} {} belongs to user id {uid}, not to this user (id {me}): another user could change what rescue-wizard writes there or replays from it.\n  fix: set RESCUE_WIZARD_STATE_DIR to a folder of your own{}",
                path.display(),
                if me == 0 {
                    " (as root the default is /var/lib/rescue-wizard)"
                } else {
                    ""
                }
            ),
        ));
    }
    if mode & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the state {what} {} is writable by other users (mode {:o}): they could change what rescue-wizard replays.\n  fix: chmod go-w {}",
                path.display(),
                mode & 0o7777,
                path.display()
            ),
        ));
    }
    Ok(())
}

fn flags(create: bool, write: bool) -> OFlag {
    let mut flags = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    flags |= if write {
        OFlag::O_RDWR
    } else {
        OFlag::O_RDONLY
    };
    if create {
        flags |= OFlag::O_CREAT;
    }
    flags
}

pub(super) fn open(dir: &OwnedFd, name: &str, create: bool, write: bool) -> io::Result<File> {
    let fd = openat(
        dir.as_fd(),
        name,
        flags(create, write),
        Mode::from_bits_truncate(0o600),
    )?;
    Ok(File::from(fd))
}

/// Opens `name` for writing, empty; a symbolic link in its place is an error, not a
/// target.
pub(super) fn create_truncated(dir: &OwnedFd, name: &str) -> io::Result<File> {
    let fd = openat(
        dir.as_fd(),
        name,
        flags(true, true) | OFlag::O_TRUNC,
        Mode::from_bits_truncate(0o600),
    )?;
    Ok(File::from(fd))
}

pub(super) fn owner_and_mode(file: &File) -> io::Result<(u32, u32)> {
    let stat = fstat(file)?;
    // mode_t is 16 bits on macOS.
    #[allow(clippy::useless_conversion)]
    Ok((stat.st_uid, stat.st_mode.into()))
}

pub(super) fn rename(dir: &OwnedFd, from: &str, to: &str) -> io::Result<()> {
    renameat(dir.as_fd(), from, dir.as_fd(), to).map_err(io::Error::from)
}

pub(super) fn remove(dir: &OwnedFd, name: &str) -> io::Result<()> {
    match unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
        Err(nix::errno::Errno::ENOENT) | Ok(()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the world-readable marker `name` (in the `runs` folder of `dir`, made 0755 when
/// missing), never through a link: see `across`.
pub(super) fn write_marker(dir: &OwnedFd, name: &str, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    match nix::sys::stat::mkdirat(dir.as_fd(), super::MARKERS, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let runs = open_runs(dir)?;
    // Whatever the umask: users read these.
    nix::sys::stat::fchmod(&runs, Mode::from_bits_truncate(0o755))?;
    let fd = openat(
        runs.as_fd(),
        name,
        flags(true, true) | OFlag::O_TRUNC,
        Mode::from_bits_truncate(0o644),
    )?;
    nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(0o644))?;
    let mut file = File::from(fd);
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Removes the marker `name`, if there is one.
pub(super) fn remove_marker(dir: &OwnedFd, name: &str) -> io::Result<()> {
    match open_runs(dir) {
        Ok(runs) => remove(&runs, name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn open_runs(dir: &OwnedFd) -> io::Result<OwnedFd> {
    Ok(openat(
        dir.as_fd(),
        super::MARKERS,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Root's own folder is 0711: users may pass through to the markers, not list or read
/// the journals (see `across`).
pub(super) fn open_to_markers(dir: &OwnedFd) -> io::Result<()> {
    nix::sys::stat::fchmod(dir, Mode::from_bits_truncate(0o711)).map_err(io::Error::from)
}

/// Takes the exclusive lock without waiting: `Ok(false)` when another process holds it.
pub(super) fn try_lock(file: &File) -> io::Result<bool> {
    #[allow(deprecated)] // The owned `Flock` wrapper would take the file; the fd stays ours.
    match nix::fcntl::flock(
        std::os::fd::AsRawFd::as_raw_fd(file),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    ) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Takes the exclusive lock, waiting for it.
pub(super) fn lock(file: &File) -> io::Result<()> {
    #[allow(deprecated)]
    nix::fcntl::flock(
        std::os::fd::AsRawFd::as_raw_fd(file),
        nix::fcntl::FlockArg::LockExclusive,
    )
    .map_err(io::Error::from)
}

/// The names in the folder the descriptor holds (not whatever its path names now).
pub(super) fn names(dir: &OwnedFd, path: &Path) -> io::Result<Vec<String>> {
    #[cfg(target_os = "linux")]
    let listed = std::fs::read_dir(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(dir)
    ));
    #[cfg(not(target_os = "linux"))]
    let listed = {
        let _ = dir;
        std::fs::read_dir(path)
    };
    #[cfg(target_os = "linux")]
    let _ = path;
    Ok(listed?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect())
}
