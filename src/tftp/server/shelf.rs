//! The last file a folder server (or `serve IMAGE`) sent whole, kept in memory with its hash,
//! so that the next request for the same, unchanged file is served without reading or hashing
//! it again.
//!
//! A bootloader asks for its image more than once (a `tftpboot` run again, a TP-Link or Netgear
//! loader that restarts the fetch after a failed write), and on a small machine the reading and
//! hashing compete with the peer for the same cores: on the benchmarks' U-Boot rig a windowed
//! fetch spent a tenth of its server's CPU on them (docs/performance.md). The first transfer's
//! reader thread keeps a copy of each chunk it hashes (`image::timed`), and when the transfer
//! ends complete and unchanged, the copy goes on the shelf.
//!
//! A kept copy is served only to a request whose open finds the very same file: the same
//! device and inode, size, modification and change times (`fstat` of the file just opened).
//! Any write to the file moves its change time, so a rebuilt image is read afresh; and a copy
//! is shelved only when the file had not changed for [`SETTLED`] (by default) before it was
//! opened, so a write landing within the file system's timestamp granularity (2 s on FAT)
//! cannot leave the times as they were; the file's identity is read again when the copy is
//! shelved, and a copy of a file written meanwhile is dropped. The end-of-transfer check for a
//! file changed in place (`TransferFailure::ChangedOnDisk`) still runs for a kept copy.
//!
//! One file is kept (the last one shelved; a transfer copying another file empties the shelf
//! first, so two copies are never held), up to [`KEEP_UP_TO`] bytes, and a copy is made
//! only by a transfer that runs alone ([`Shelf::start_keeping`]): when another read transfer
//! starts beside it, its copy is dropped at its reader's next chunk. Eight clients asking at
//! once for a 64 MiB image cost what they cost without the shelf (the benchmarks' peak memory
//! row; `tests/interop_server.rs`), and a copy never doubles what a crowd of transfers holds.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::lock;
use crate::image::timed::{CHUNK, Keep, Whole};
use crate::tftp::session::Blocks;

/// The largest file kept: router images are a few MiB to some 64 MiB.
pub(super) const KEEP_UP_TO: u64 = 128 * 1024 * 1024;

/// How long before its open a file must have been last changed for its copy to be shelved, by
/// default (`ServerConfig::keep_settled`): more than the coarsest timestamp a technician's
/// disk keeps (FAT: 2 s).
pub(super) const SETTLED: Duration = Duration::from_secs(3);

/// What makes an opened file the same one that was kept: where it lives, and every time and
/// size a write would move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Identity {
    /// The identity in `meta` (the `fstat` of an opened file). `None` where the platform does
    /// not give device, inode and change time: nothing is kept there.
    #[cfg(unix)]
    #[allow(
        clippy::unnecessary_wraps,
        reason = "None on the platforms of the version below"
    )]
    pub(super) fn of(meta: &Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        Some(Self {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    /// See the Unix version: nothing is kept here.
    #[cfg(not(unix))]
    pub(super) fn of(_meta: &Metadata) -> Option<Self> {
        None
    }

    /// Whether the file's last write (its latest modification or change time) was at least
    /// `settle` before `opened`. A file changed later, or stamped in the future, is not.
    pub(super) fn settled_before(&self, opened: SystemTime, settle: Duration) -> bool {
        let latest = self.modified.max(self.changed);
        let Ok(secs) = u64::try_from(latest.0) else {
            // Before 1970: a clock that was never set. Trust no time from it.
            return false;
        };
        let nanos = u32::try_from(latest.1).unwrap_or(0);
        let stamped = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
        stamped
            .checked_add(settle)
            .is_some_and(|settled| settled <= opened)
    }
}

/// A file's bytes kept in memory, in the chunks its reader read, with their hash.
#[derive(Debug)]
pub(super) struct KeptFile {
    path: PathBuf,
    identity: Identity,
    chunks: Vec<Vec<u8>>,
    size: u64,
    /// The SHA-256 of the bytes.
    pub(super) sha256: [u8; 32],
}

impl KeptFile {
    /// The copy `whole` of the file at `path` whose identity was `identity` when opened,
    /// when it holds all `identity.size` bytes in whole chunks; `None` otherwise.
    pub(super) fn new(path: PathBuf, identity: Identity, whole: Whole) -> Option<Self> {
        let Whole { chunks, hashed } = whole;
        let size = identity.size;
        let counted: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        let whole_chunks = chunks
            .iter()
            .rev()
            .skip(1)
            .all(|chunk| chunk.len() == CHUNK);
        (hashed.bytes == size && counted == size && whole_chunks).then_some(Self {
            path,
            identity,
            chunks,
            size,
            sha256: hashed.sha256,
        })
    }
}

impl Blocks for KeptFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let past_end = || io::Error::from(io::ErrorKind::UnexpectedEof);
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(past_end());
        }
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let chunk = self
                .chunks
                .get(usize::try_from(at / CHUNK as u64).map_err(io::Error::other)?)
                .ok_or_else(past_end)?;
            let from = (at % CHUNK as u64) as usize;
            let n = (buf.len() - done).min(chunk.len().saturating_sub(from));
            if n == 0 {
                return Err(past_end());
            }
            buf[done..done + n].copy_from_slice(&chunk[from..from + n]);
            done += n;
        }
        Ok(())
    }
}

/// The server's one kept file, the read transfers running, and the flag of the one making a
/// copy now.
#[derive(Debug, Default)]
pub(super) struct Shelf {
    kept: Mutex<Option<Arc<KeptFile>>>,
    running: Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    transfers: usize,
    /// Set while the transfer making a copy may go on: cleared when another starts.
    keeper: Option<Arc<AtomicBool>>,
}

/// A read transfer counted as running until dropped.
#[derive(Debug)]
pub(super) struct Entered<'a>(&'a Shelf);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        lock(&self.0.running).transfers -= 1;
    }
}

/// The right to keep a copy while reading, held by one transfer at a time; given back when
/// dropped.
#[derive(Debug)]
pub(super) struct Keeping<'a> {
    shelf: &'a Shelf,
    flag: Arc<AtomicBool>,
}

impl Drop for Keeping<'_> {
    fn drop(&mut self) {
        lock(&self.shelf.running).keeper = None;
    }
}

impl Keeping<'_> {
    /// What the file's reader is to keep.
    pub(super) fn keep(&self) -> Keep {
        Keep {
            up_to: KEEP_UP_TO,
            while_set: Arc::clone(&self.flag),
        }
    }

    /// Empties the shelf: this transfer reads another file, whose copy takes the place of the
    /// one there, so that two copies are never held at once.
    pub(super) fn make_room(&self) {
        *lock(&self.shelf.kept) = None;
    }

    /// Shelves `kept`, in place of what was there, unless another transfer started meanwhile.
    pub(super) fn shelve(self, kept: KeptFile) {
        if self.flag.load(Ordering::Acquire) {
            *lock(&self.shelf.kept) = Some(Arc::new(kept));
        }
    }
}

impl Shelf {
    /// Counts a read transfer as running; a copy being made by another is stopped.
    pub(super) fn enter(&self) -> Entered<'_> {
        let mut running = lock(&self.running);
        running.transfers += 1;
        if let Some(keeper) = &running.keeper {
            keeper.store(false, Ordering::Release);
        }
        Entered(self)
    }

    /// The right to keep a copy of the file this transfer reads, when it is the only read
    /// transfer running (it has [`Shelf::enter`]ed).
    pub(super) fn start_keeping(&self) -> Option<Keeping<'_>> {
        if !cfg!(unix) {
            // No identity to find a copy by (see [`Identity::of`]): nothing is kept.
            return None;
        }
        let mut running = lock(&self.running);
        if running.transfers != 1 || running.keeper.is_some() {
            return None;
        }
        let flag = Arc::new(AtomicBool::new(true));
        running.keeper = Some(Arc::clone(&flag));
        Some(Keeping { shelf: self, flag })
    }

    /// The kept copy of the file just opened at `path`, whose `fstat` gave `meta`, when it is
    /// the same file, unchanged.
    pub(super) fn find(&self, path: &Path, meta: &Metadata) -> Option<Arc<KeptFile>> {
        let identity = Identity::of(meta)?;
        lock(&self.kept)
            .as_ref()
            .filter(|kept| kept.path == path && kept.identity == identity)
            .map(Arc::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::timed::InOrder;

    fn identity(size: u64, changed_secs: i64) -> Identity {
        Identity {
            device: 1,
            inode: 2,
            size,
            modified: (changed_secs - 10, 0),
            changed: (changed_secs, 0),
        }
    }

    fn kept(bytes: &[u8]) -> Option<KeptFile> {
        let whole = Whole {
            chunks: bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect(),
            hashed: InOrder {
                bytes: bytes.len() as u64,
                sha256: [7; 32],
            },
        };
        KeptFile::new("/srv/fw.bin".into(), identity(bytes.len() as u64, 0), whole)
    }

    #[test]
    fn blocks_across_chunk_boundaries_read_back_the_file() {
        let bytes: Vec<u8> = (0..3 * CHUNK + 1000).map(|i| (i % 251) as u8).collect();
        let file = kept(&bytes).unwrap();
        assert_eq!(file.size(), bytes.len() as u64);
        let mut offset = 0u64;
        let mut buf = [0u8; 1468];
        while offset < bytes.len() as u64 {
            let len = buf.len().min(bytes.len() - offset as usize);
            file.read_at(offset, &mut buf[..len]).unwrap();
            assert_eq!(&buf[..len], &bytes[offset as usize..offset as usize + len]);
            offset += len as u64;
        }
        let err = file.read_at(bytes.len() as u64 - 10, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_copy_short_of_the_file_or_with_a_short_chunk_inside_is_not_kept() {
        let bytes = vec![5u8; 2 * CHUNK];
        let mut short = kept(&bytes).unwrap();
        short.chunks.pop();
        let whole = Whole {
            chunks: short.chunks,
            hashed: InOrder {
                bytes: 2 * CHUNK as u64,
                sha256: [0; 32],
            },
        };
        assert!(KeptFile::new("/f".into(), identity(2 * CHUNK as u64, 0), whole).is_none());
        let ragged = Whole {
            chunks: vec![vec![1; 100], vec![1; CHUNK]],
            hashed: InOrder {
                bytes: 100 + CHUNK as u64,
                sha256: [0; 32],
            },
        };
        assert!(KeptFile::new("/f".into(), identity(100 + CHUNK as u64, 0), ragged).is_none());
    }

    #[test]
    fn a_file_changed_just_before_its_open_is_not_settled() {
        let opened = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(identity(1, 990).settled_before(opened, SETTLED));
        assert!(identity(1, 997).settled_before(opened, SETTLED));
        assert!(!identity(1, 998).settled_before(opened, SETTLED));
        // Stamped in the future (a skewed file server), or before 1970: never settled.
        assert!(!identity(1, 2_000).settled_before(opened, SETTLED));
        assert!(!identity(1, -5).settled_before(opened, SETTLED));
    }

    #[test]
    fn only_the_same_file_unchanged_is_found_and_one_transfer_keeps_at_a_time() {
        let shelf = Shelf::default();
        let alone = shelf.enter();
        let keeping = shelf.start_keeping().unwrap();
        assert!(shelf.start_keeping().is_none());
        keeping.shelve(kept(&[9u8; 100]).unwrap());
        assert!(shelf.start_keeping().is_some());
        // A second transfer beside it: no copy is started, and one under way is stopped.
        let keeping = shelf.start_keeping().unwrap();
        let flag = keeping.keep().while_set;
        let beside = shelf.enter();
        assert!(!flag.load(Ordering::Acquire));
        assert!(shelf.start_keeping().is_none());
        drop((keeping, beside));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.bin");
        std::fs::write(&path, [9u8; 100]).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        // Another file (its own inode and times): not found.
        assert!(shelf.find(Path::new("/srv/fw.bin"), &meta).is_none());
        let real = Identity::of(&meta).unwrap();
        let keeping = shelf.start_keeping().unwrap();
        drop(alone);
        let whole = Whole {
            chunks: vec![vec![9u8; 100]],
            hashed: InOrder {
                bytes: 100,
                sha256: [1; 32],
            },
        };
        keeping.shelve(KeptFile::new(path.clone(), real, whole).unwrap());
        assert_eq!(shelf.find(&path, &meta).unwrap().sha256, [1; 32]);
        assert!(shelf.find(&dir.path().join("other.bin"), &meta).is_none());
        std::fs::write(&path, [8u8; 101]).unwrap();
        let rewritten = std::fs::metadata(&path).unwrap();
        assert!(shelf.find(&path, &rewritten).is_none());
    }
}
