//! The files a transfer serves: a requested name confined to the served folder, a regular file
//! opened without blocking, its blocks read by offset and checked for change, its hash.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::shelf::{Identity, KeptFile};
use super::{HeldImage, NETASCII_MAX, OPEN_DEADLINE, Refused};
use crate::image::timed::{self, Keep, TimedFile};
use crate::tftp::netascii;
use crate::tftp::packet::{ErrorCode, RawOption, escape_name};
use crate::tftp::session::Blocks;

/// How far a request's open has got on the file's reader thread: what the caller reads when
/// the reader answers, or when it stops waiting for it.
#[derive(Debug)]
enum Stage {
    /// Finding the name (`canonicalize`, the folder's bounds, `stat`).
    LookingUp,
    /// The name was refused.
    Refused(Refused),
    /// Found; being opened.
    Found(PathBuf),
}

/// Finds a file to serve (`locate`: a folder's name checked against the folder, or the image's
/// own path), then opens it without ever blocking on it: `O_NONBLOCK` (a FIFO opens at once
/// instead of waiting for a writer), then `fstat` on what was opened, and only a regular file
/// is served. Both run on the file's reader thread under one deadline, so a name or a file on
/// a hung mount fails its own transfer with a message instead of holding it (the thread is
/// left behind, counted with the stuck readers: `image::timed`), and a request costs one
/// thread besides its transfer's (a look-up thread of its own had cost a thread start and a
/// hand-over more before the first answer: docs/performance-history.md). The first chunk is
/// read there right after the open, while the transfer negotiates. `what` names the file in
/// errors, `asked` what was asked for (`"fw.bin" in /srv/tftp`); a regular file of at most
/// `keep.up_to` bytes is kept as it is read, while allowed (see `shelf`). Hands back the
/// file, its metadata and the path found.
pub(super) fn open_located(
    what: &'static str,
    asked: &str,
    keep: Option<Keep>,
    locate: impl FnOnce() -> Result<PathBuf, Refused> + Send + 'static,
) -> Result<(TimedFile, fs::Metadata, PathBuf), Refused> {
    let stage = Arc::new(Mutex::new(Stage::LookingUp));
    let reached = Arc::clone(&stage);
    let opened = TimedFile::open_keeping(what, OPEN_DEADLINE, keep, move || {
        let set = |now: Stage| *reached.lock().unwrap_or_else(PoisonError::into_inner) = now;
        let path = locate().map_err(|refused| {
            set(Stage::Refused(refused));
            io::Error::other("the name was refused")
        })?;
        set(Stage::Found(path.clone()));
        let file = open_nonblocking(&path)?;
        let meta = file.metadata()?;
        Ok((file, meta))
    });
    // Taken as it is now: a reader given up on may still move it on later.
    let stage = std::mem::replace(
        &mut *stage.lock().unwrap_or_else(PoisonError::into_inner),
        Stage::LookingUp,
    );
    let path = match stage {
        Stage::Refused(refused) => return Err(refused),
        Stage::Found(path) => path,
        Stage::LookingUp => {
            let err = match opened {
                Err(late) => late.explain("the file", "a look-up"),
                Ok(_) => io::Error::other("the reader answered out of turn"),
            };
            return Err(late_look_up(asked, &err));
        }
    };
    let not_readable = |err: io::Error| {
        let code = if err.kind() == io::ErrorKind::NotFound {
            ErrorCode::FILE_NOT_FOUND
        } else {
            ErrorCode::ACCESS_VIOLATION
        };
        Refused::new(
            code,
            "cannot read the file",
            format!("cannot read {}: {err}", path.display()),
        )
    };
    match opened {
        Ok(Ok((file, meta))) if meta.is_file() => Ok((file, meta, path)),
        Ok(Ok(_)) => Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "not a regular file",
            format!(
                "{} is not a regular file (a FIFO, a device or a socket); only regular files are served",
                path.display()
            ),
        )),
        Ok(Err(err)) => Err(not_readable(err)),
        Err(timed::Late::TimedOut(_)) => Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "the file cannot be opened",
            format!(
                "{} did not open within {} s (a hung network mount?); copy the image to a local disk",
                path.display(),
                OPEN_DEADLINE.as_secs()
            ),
        )),
        Err(late) => Err(not_readable(late.explain("the file", "the open"))),
    }
}

/// A name whose look-up did not answer in time: the reason goes to the peer too, as for a
/// read that does not answer.
fn late_look_up(asked: &str, err: &io::Error) -> Refused {
    Refused::new(
        ErrorCode::NOT_DEFINED,
        &format!("cannot read the file: {err}"),
        format!("cannot read {asked}: {err}"),
    )
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_NOCTTY.bits())
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// A file served by reading each block at its offset: the file is never held whole, so a
/// 100 GB file costs what one chunk costs; only a file of at most `shelf::KEEP_UP_TO` bytes
/// is copied as it is read, by one transfer at a time, to be served again from memory. The
/// reads happen on a reader thread of the file's own, each waited for with a deadline
/// (`image::timed`): a file on a mount that stops answering after the open fails its own
/// transfer with a message, and the reader is left behind. The SHA-256 is taken on the reader
/// thread as the chunks are read, in order.
#[derive(Debug)]
pub(super) struct FileBlocks {
    file: TimedFile,
    size: u64,
    /// The `fstat` of the file when it was opened: what the change checks compare against.
    opened: fs::Metadata,
}

impl FileBlocks {
    pub(super) fn new(file: TimedFile, meta: &fs::Metadata) -> Self {
        Self {
            file,
            size: meta.len(),
            opened: meta.clone(),
        }
    }

    /// The copy the reader kept of the whole file, as it was when opened at `opened`, ready
    /// for the shelf: `None` unless it was kept whole, the platform tells the file's identity
    /// and the file had not been written for `settle` before it was opened, nor since (its
    /// whole identity, change time included, is read again: see `shelf`).
    pub(super) fn kept(
        &self,
        path: &Path,
        opened: SystemTime,
        settle: Duration,
    ) -> Option<KeptFile> {
        let identity = Identity::of(&self.opened)?;
        if !identity.settled_before(opened, settle) {
            return None;
        }
        let now = self.file.metadata().ok()?;
        if Identity::of(&now).as_ref() != Some(&identity) {
            return None;
        }
        let whole = self.file.kept().ok()??;
        KeptFile::new(path.to_owned(), identity, whole)
    }

    /// Whether the file was changed in place (or cut short) since it was opened. A file
    /// replaced by a new one (renamed over) is not: the open one is still read.
    pub(super) fn changed(&self) -> bool {
        self.file
            .metadata()
            .map_or(true, |meta| fingerprint(&meta) != fingerprint(&self.opened))
    }

    /// The SHA-256 of the whole file, once every byte has been read in order.
    pub(super) fn sha256(&self) -> Option<String> {
        let hashed = self.file.sha256_in_order().ok()??;
        (hashed.bytes == self.size).then(|| to_hex(&hashed.sha256))
    }
}

impl Blocks for FileBlocks {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        // A file cut short under us ends in UnexpectedEof: the transfer fails, nothing is
        // served half.
        self.file.read_exact_at(offset, buf)
    }

    fn read_ahead(&self) {
        // A read that fails here fails again, with its reason, when the transfer needs it.
        let _ = self.file.read_ahead();
    }
}

/// What one read transfer serves.
#[derive(Debug)]
pub(super) enum Served {
    /// The run's image, from memory: nothing is read, nothing can change it, its hash is known.
    Held(HeldImage),
    /// A file, read block by block as the transfer goes.
    File(Arc<FileBlocks>),
    /// A file sent whole before and unchanged since, from its copy on the shelf; the file
    /// opened is still checked for change after the transfer.
    Kept {
        /// The copy.
        kept: Arc<KeptFile>,
        /// The file as opened for this request.
        file: Arc<FileBlocks>,
    },
    /// The netascii form, converted in memory, of a file (`from`) or of the held image.
    Converted {
        /// The converted bytes.
        text: Arc<[u8]>,
        /// The file they came from, checked for change after the transfer.
        from: Option<Arc<FileBlocks>>,
    },
}

impl Served {
    /// The bytes the transfer sends.
    pub(super) fn blocks(&self) -> Arc<dyn Blocks> {
        match self {
            Served::Held(held) => Arc::new(Arc::clone(&held.bytes)),
            Served::File(file) => Arc::clone(file) as Arc<dyn Blocks>,
            Served::Kept { kept, .. } => Arc::clone(kept) as Arc<dyn Blocks>,
            Served::Converted { text, .. } => Arc::new(Arc::clone(text)),
        }
    }

    /// Whether the file served was changed in place since it was opened (see
    /// [`FileBlocks::changed`]); bytes held in memory never are.
    pub(super) fn changed(&self) -> bool {
        match self {
            Served::Held(_) | Served::Converted { from: None, .. } => false,
            Served::File(file)
            | Served::Kept { file, .. }
            | Served::Converted {
                from: Some(file), ..
            } => file.changed(),
        }
    }

    /// The SHA-256 of what was sent, when known without reading it again: the held image's,
    /// or the one the file's reader took as it read every byte in order.
    pub(super) fn sha256(&self) -> Option<String> {
        match self {
            Served::Held(held) => Some(held.sha256.clone()),
            Served::File(file) => file.sha256(),
            Served::Kept { kept, .. } => Some(to_hex(&kept.sha256)),
            Served::Converted { .. } => None,
        }
    }
}

/// The netascii form of a file, converted in memory, for files up to [`NETASCII_MAX`].
pub(super) fn netascii_copy(file: &FileBlocks, path: &Path) -> Result<Arc<[u8]>, Refused> {
    if file.size > NETASCII_MAX {
        return Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "file too large for netascii",
            format!(
                "{} has {} bytes; netascii mode is served up to {NETASCII_MAX} bytes (a firmware image is fetched in octet mode)",
                path.display(),
                file.size
            ),
        ));
    }
    let mut octet = vec![0u8; file.size as usize];
    file.read_at(0, &mut octet).map_err(|err| {
        Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "cannot read the file",
            format!("cannot read {}: {err}", path.display()),
        )
    })?;
    Ok(netascii::encode(&octet).into())
}

/// The SHA-256 of what `data` holds, read in bounded chunks.
pub(super) fn sha256_of(data: &dyn Blocks) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < data.size() {
        let len = (data.size() - offset).min(chunk.len() as u64) as usize;
        data.read_at(offset, &mut chunk[..len])?;
        hasher.update(&chunk[..len]);
        offset += len as u64;
    }
    Ok(to_hex(&hasher.finalize()))
}

fn fingerprint(meta: &fs::Metadata) -> (u64, Option<SystemTime>, u64) {
    (meta.len(), meta.modified().ok(), inode(meta))
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

/// SHA-256 of `bytes`, as lower-case hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

pub(super) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Checks a requested name and finds it inside `root` (already canonical), the look-up
/// given a deadline (a name on a hung mount fails its own transfer, with the reason).
///
/// Names are never decoded (no URL or Unicode unescaping), so `%2f` is three characters.
/// Refused: anything but printable ASCII, backslashes, drive letters, absolute names, empty,
/// `.` and `..` components; then the canonical path (symlinks resolved) must still lie under
/// the root, compared by components so that a sibling `root-private` does not count.
pub fn confine(root: &Path, raw: &[u8]) -> Result<PathBuf, Refused> {
    let name = checked_name(raw)?.to_owned();
    let asked = format!("\"{name}\" in {}", root.display());
    let owned = root.to_path_buf();
    match timed::look_up(root, "the file", move |_| Ok(locate(&owned, &name))) {
        Ok(found) => found,
        Err(err) if timed::is_late(&err) => Err(late_look_up(&asked, &err)),
        Err(err) => Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "Access violation",
            format!("refused the name \"{}\": {err}", escape_name(raw)),
        )),
    }
}

/// A requested name's own refusals, before anything is looked up (see [`confine`]).
pub(super) fn checked_name(raw: &[u8]) -> Result<&str, Refused> {
    let name = std::str::from_utf8(raw).map_err(|_| refused_name(raw, "not plain ASCII"))?;
    if name.is_empty() || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(refused_name(raw, "empty, or not printable ASCII"));
    }
    if name.contains('\\') || name.contains(':') || name.starts_with('/') {
        return Err(refused_name(
            raw,
            "backslashes, drive letters and absolute names are not served",
        ));
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(refused_name(raw, "the name leaves the served folder"));
    }
    Ok(name)
}

/// Finds a checked `name` inside `root`: blocking file-system calls, for a thread that is
/// waited for with a deadline (see [`confine`], [`open_located`]).
pub(super) fn locate(root: &Path, name: &str) -> Result<PathBuf, Refused> {
    let canonical = root.join(name).canonicalize().map_err(|err| {
        if err.kind() == io::ErrorKind::NotFound {
            Refused::new(
                ErrorCode::FILE_NOT_FOUND,
                "File not found",
                format!(
                    "the device asked for \"{name}\", which is not in {}",
                    root.display()
                ),
            )
        } else {
            refused_name(name.as_bytes(), &err.to_string())
        }
    })?;
    if !canonical.starts_with(root) {
        return Err(refused_name(
            name.as_bytes(),
            "a link that points outside the served folder",
        ));
    }
    if !canonical.is_file() {
        return Err(Refused::new(
            ErrorCode::FILE_NOT_FOUND,
            "File not found",
            format!("\"{name}\" is not a regular file"),
        ));
    }
    Ok(canonical)
}

fn refused_name(raw: &[u8], why: &str) -> Refused {
    Refused::new(
        ErrorCode::ACCESS_VIOLATION,
        "Access violation",
        format!("refused the name \"{}\": {why}", escape_name(raw)),
    )
}

/// An upload's name: one plain component, nothing that could leave the upload folder.
pub(super) fn plain_file_name(raw: &[u8]) -> Result<String, Refused> {
    let refuse = || {
        Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "Access violation",
            format!(
                "refused the upload name \"{}\": only a plain file name is accepted",
                escape_name(raw)
            ),
        )
    };
    let name = std::str::from_utf8(raw).map_err(|_| refuse())?;
    let plain = !name.is_empty()
        && name.bytes().all(|b| (0x21..0x7f).contains(&b))
        && !name.contains(['/', '\\', ':'])
        && name != "."
        && name != "..";
    if plain {
        Ok(name.to_owned())
    } else {
        Err(refuse())
    }
}

/// The options of a request, for display: `blksize=1468 tsize=0`.
pub fn describe_options(options: &[RawOption]) -> String {
    options
        .iter()
        .map(|o| format!("{}={}", o.name, o.value))
        .collect::<Vec<_>>()
        .join(" ")
}
