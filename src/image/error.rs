//! Why an image could not be read or its stripped copy not written. Each message quotes the
//! path and ends with the fix.

use std::path::{Path, PathBuf};

/// What went wrong with an image file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Nothing exists at the path.
    #[error(
        "there is no file at {}\n  fix: check the spelling and the folder; `ls {}` lists what is there",
        path.display(),
        folder_of(path).display()
    )]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The path names a folder.
    #[error(
        "{} is a folder, give the image file inside it\n  fix: name the firmware file itself, e.g. {}",
        path.display(),
        path.join("<image>.bin").display()
    )]
    Folder {
        /// The folder.
        path: PathBuf,
    },
    /// The path names something other than a file: a device, a pipe, a socket.
    #[error(
        "{} is not a regular file\n  fix: give the downloaded firmware file itself, not a device or a pipe",
        path.display()
    )]
    NotAFile {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error(
        "cannot read {}: {source}\n  fix: check that your user may read it (`ls -l {}`), or copy it to a folder of your own",
        path.display(),
        path.display()
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file opened, but a read (or the open itself) did not come back in time: a hung
    /// network mount, most likely.
    #[error(
        "cannot read {}: {source}\n  fix: copy the image to a local disk (e.g. `cp {} /tmp/`) and give that copy",
        path.display(),
        path.display()
    )]
    NoAnswer {
        /// The file.
        path: PathBuf,
        /// The deadline that passed.
        source: std::io::Error,
    },
    /// A stripped copy was asked for, but the inspection offered none.
    #[error(
        "{} needs no cutting: the check found nothing to strip from it\n  fix: send the image as it is",
        path.display()
    )]
    NothingToStrip {
        /// The image.
        path: PathBuf,
    },
    /// A file already has the stripped copy's name and holds something else.
    #[error(
        "{} already exists and is not {} without its first {offset:#x} bytes\n  fix: move {} away (or delete it) and run again; rescue-wizard does not overwrite files",
        copy.display(),
        original.display(),
        copy.display()
    )]
    CopyDiffers {
        /// The existing file.
        copy: PathBuf,
        /// The image the copy would be made from.
        original: PathBuf,
        /// How many bytes the copy leaves out.
        offset: u64,
    },
    /// The image is no longer what was checked.
    #[error(
        "{} changed since it was checked\n  fix: check the image again, then make the stripped copy",
        path.display()
    )]
    Changed {
        /// The image.
        path: PathBuf,
    },
    /// The stripped copy could not be written.
    #[error(
        "cannot write {}: {source}\n  fix: free some disk space or get write access to {}, or move the image to a folder you can write to",
        path.display(),
        folder_of(path).display()
    )]
    WriteFailed {
        /// The file being written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The folder holding `path`, `.` for a bare file name.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}
