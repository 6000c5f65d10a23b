//! Where a received file lands: it is written to `NAME.part` and given its final name only
//! when whole, never over anything already there. Shared by uploads to the server and `get`.

use std::fs;
use std::io;
use std::path::Path;

/// Why a whole file could not take its final name.
#[derive(Debug)]
pub(crate) enum NotPlaced {
    /// Something (a file, a link, dangling or not) appeared under the name meanwhile; it is
    /// left alone.
    Appeared,
    /// The rename failed.
    Io(io::Error),
}

/// Gives the finished `part` its final name `path` without ever replacing anything there.
/// On success the `.part` is gone; on failure it is left to the caller.
pub(crate) fn move_into_place(part: &Path, path: &Path) -> Result<(), NotPlaced> {
    // link(2) fails with EEXIST whatever is at the target, links included: the check and
    // the move are one step. Filesystems without hard links (FAT on a USB stick) fall back
    // to a check and a rename.
    match fs::hard_link(part, path) {
        Ok(()) => {
            let _ = fs::remove_file(part);
            Ok(())
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Err(NotPlaced::Appeared),
        Err(_) if fs::symlink_metadata(path).is_ok() => Err(NotPlaced::Appeared),
        Err(_) => fs::rename(part, path).map_err(NotPlaced::Io),
    }
}
