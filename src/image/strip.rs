//! Writing the stripped copy an inspection offered, beside the image and never over anything.
//!
//! The original is only ever opened for reading. The copy is written to `<copy>.part`, synced,
//! then linked into place under its final name, which fails rather than replace a file that
//! appeared meanwhile. A copy left by an earlier run is reused when it holds exactly the right
//! bytes.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{CHUNK_LEN, ImageError, Inspection, StripOffer, open_image_timed, read_error};

/// Writes the image without its first `strip.offset` bytes to `strip.copy` and returns the
/// copy's path.
///
/// An existing file at that path is reused when its bytes are exactly the stripped image and
/// refused otherwise ([`ImageError::CopyDiffers`]). The image must still be the one inspected:
/// its SHA-256 is checked while it is read ([`ImageError::Changed`]).
pub fn write_stripped(inspection: &Inspection) -> Result<PathBuf, ImageError> {
    let Some(offer) = &inspection.strip else {
        return Err(ImageError::NothingToStrip {
            path: inspection.path.clone(),
        });
    };
    if exists(&offer.copy)? {
        return reuse(inspection, offer);
    }
    let part = part_path(&offer.copy);
    write_part(inspection, offer, &part)?;
    publish(inspection, offer, &part)?;
    Ok(offer.copy.clone())
}

/// Whether anything is at `path`, a dangling link included.
fn exists(path: &Path) -> Result<bool, ImageError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ImageError::WriteFailed {
            path: path.to_owned(),
            source,
        }),
    }
}

fn part_path(copy: &Path) -> PathBuf {
    let mut name = copy.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

/// Streams the image from its start, hashing every byte, and hands each run of bytes from
/// `offset` on to `tail`. Fails with [`ImageError::Changed`] when the hash is not the
/// inspected one.
fn stream_tail(
    inspection: &Inspection,
    offset: u64,
    mut tail: impl FnMut(&[u8]) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let path = &inspection.path;
    let file = open_image_timed(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_LEN];
    let mut position: u64 = 0;
    loop {
        let n = match file.read_at(position, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(source) => return Err(read_error(path, source)),
        };
        let chunk = &buf[..n];
        hasher.update(chunk);
        let end = position + n as u64;
        if end > offset {
            let from = offset.saturating_sub(position) as usize;
            tail(&chunk[from..])?;
        }
        position = end;
    }
    if format!("{:x}", hasher.finalize()) == inspection.sha256 {
        Ok(())
    } else {
        Err(ImageError::Changed { path: path.clone() })
    }
}

/// An existing file at the copy's name: its path when it holds the stripped image exactly.
fn reuse(inspection: &Inspection, offer: &StripOffer) -> Result<PathBuf, ImageError> {
    let differs = || ImageError::CopyDiffers {
        copy: offer.copy.clone(),
        original: inspection.path.clone(),
        offset: offer.offset,
    };
    let unreadable = |source| ImageError::Unreadable {
        path: offer.copy.clone(),
        source,
    };
    let metadata = fs::metadata(&offer.copy).map_err(unreadable)?;
    let expected = inspection.size.saturating_sub(offer.offset);
    if !metadata.is_file() || metadata.len() != expected {
        return Err(differs());
    }
    let mut copy = File::open(&offer.copy).map_err(unreadable)?;
    let mut theirs = vec![0u8; CHUNK_LEN];
    stream_tail(inspection, offer.offset, |ours| {
        let theirs = &mut theirs[..ours.len()];
        match copy.read_exact(theirs) {
            Ok(()) if theirs == ours => Ok(()),
            Ok(()) => Err(differs()),
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => Err(differs()),
            Err(source) => Err(ImageError::Unreadable {
                path: offer.copy.clone(),
                source,
            }),
        }
    })?;
    // The lengths matched before reading; a copy that grew meanwhile is not the same.
    match copy.read(&mut theirs[..1]) {
        Ok(0) => Ok(offer.copy.clone()),
        Ok(_) => Err(differs()),
        Err(source) => Err(unreadable(source)),
    }
}

/// Writes the stripped bytes to `part` and syncs them to the disk.
fn write_part(inspection: &Inspection, offer: &StripOffer, part: &Path) -> Result<(), ImageError> {
    let failed = |source| ImageError::WriteFailed {
        path: part.to_owned(),
        source,
    };
    let mut out = match create_new(part) {
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            // Left by a run that was stopped halfway; the name is this module's own.
            fs::remove_file(part).map_err(failed)?;
            create_new(part)
        }
        other => other,
    }
    .map_err(failed)?;
    let written = stream_tail(inspection, offer.offset, |bytes| {
        out.write_all(bytes).map_err(failed)
    })
    .and_then(|()| out.sync_all().map_err(failed));
    if written.is_err() {
        // Best effort: the error being returned matters more than a leftover .part file.
        let _ = fs::remove_file(part);
    }
    written
}

fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Gives the written `part` its final name without replacing anything there.
fn publish(inspection: &Inspection, offer: &StripOffer, part: &Path) -> Result<(), ImageError> {
    let copy = &offer.copy;
    let failed = |source| ImageError::WriteFailed {
        path: copy.clone(),
        source,
    };
    // A hard link fails when the name is taken, where a rename would replace the file.
    match fs::hard_link(part, copy) {
        Ok(()) => {
            fs::remove_file(part).map_err(failed)?;
        }
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(part);
            reuse(inspection, offer)?;
        }
        Err(_) => {
            // File systems without hard links (FAT on a USB stick): check the name once more,
            // then rename.
            if exists(copy)? {
                let _ = fs::remove_file(part);
                reuse(inspection, offer)?;
            } else {
                fs::rename(part, copy).map_err(failed)?;
            }
        }
    }
    sync_folder(copy);
    Ok(())
}

/// Syncs the folder holding `path`, so the new name survives a power cut. Not every file
/// system allows it; the data itself is already synced, so a refusal is not an error.
fn sync_folder(path: &Path) {
    #[cfg(unix)]
    if let Some(folder) = path.parent() {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        if let Ok(handle) = File::open(folder) {
            let _ = handle.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
