//! Image preflight: what a firmware file is, and whether this device's bootloader will take it.
//!
//! [`inspect`] reads the file once, never writing to it: its size, its SHA-256, the vendor
//! header it carries ([`Format`]), then the rules of the device profile (`image:` and the TFTP
//! block limit), each turned into an [`ImageFinding`] that says what was checked and, when
//! something is wrong, how to fix it; together they add up to an [`ImageVerdict`]. A TP-Link stock image that carries the bootloader gets a
//! [`StripOffer`], and [`write_stripped`] makes the copy the bootloader should be given.
//!
//! Nothing here touches the network or the terminal; front-ends print the findings.

mod error;
mod format;
mod nmrp;
mod rules;
pub mod sample;
mod strip;
pub mod timed;
mod whole;

use std::fmt;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::profile::{Catalogue, Profile};

pub use error::ImageError;
pub use format::Format;
pub use strip::write_stripped;

/// Bytes kept from the start of the file for recognising formats and searching model names:
/// enough for a TP-Link stock image's inner header at 0x20200 and a `tftp-recovery` image's
/// header after 128 KiB of padding.
const HEAD_LEN: usize = 256 * 1024;
/// How much is read at a time while hashing.
const CHUNK_LEN: usize = 64 * 1024;

/// What [`inspect`] found out about one image file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file, as given.
    pub path: PathBuf,
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex, for comparing with the vendor's published checksum.
    pub sha256: String,
    /// The header it carries.
    pub format: Format,
    /// Each check made, passed or not, in the order made.
    pub findings: Vec<ImageFinding>,
    /// A copy the bootloader should get instead, when the image has bytes to cut.
    pub strip: Option<StripOffer>,
}

impl Inspection {
    /// What the findings add up to: the worst of them.
    pub fn verdict(&self) -> ImageVerdict {
        match self.findings.iter().map(|finding| finding.severity).max() {
            Some(Severity::Fail) => ImageVerdict::Refused,
            Some(Severity::Warning) => ImageVerdict::Doubtful,
            Some(Severity::Ok) | None => ImageVerdict::Ready,
        }
    }

    /// How many DATA packets a TFTP transfer of this file takes with blocks of `blksize` bytes.
    ///
    /// A transfer ends with a block shorter than `blksize` (RFC 1350 section 6), so a file
    /// whose size is an exact multiple ends with one empty block more; a block size of 0 counts
    /// as 1.
    pub fn blocks(&self, blksize: u16) -> u64 {
        rules::blocks(self.size, blksize)
    }
}

/// One check made on an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageFinding {
    /// How bad it is.
    pub severity: Severity,
    /// What was checked and what was found, quoting the file's own values.
    pub what: String,
    /// What to do about it; present on every warning and failure.
    pub fix: Option<String>,
}

impl ImageFinding {
    /// A check that passed.
    pub fn ok(what: impl Into<String>) -> Self {
        Self {
            severity: Severity::Ok,
            what: what.into(),
            fix: None,
        }
    }

    /// Something that may go wrong, with what to do about it.
    pub fn warning(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }

    /// Something that will go wrong, with what to do instead.
    pub fn fail(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Fail,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for ImageFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity.as_str(), self.what)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

/// How bad a finding is; ordered so that [`Severity::Fail`] is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The check passed.
    Ok,
    /// The check could not be sure, or the image needs preparing first.
    Warning,
    /// The bootloader will not take the image as it is.
    Fail,
}

impl Severity {
    /// The word used in reports: `ok`, `warning` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Fail => "fail",
        }
    }
}

/// What an inspection's findings add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageVerdict {
    /// Every check passed (or none applied).
    Ready,
    /// Some check warns: read the warnings before sending the image.
    Doubtful,
    /// Some check fails: do not send this image.
    Refused,
}

/// A copy of the image without its first bytes, which the bootloader should get instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StripOffer {
    /// How many bytes to cut from the start.
    pub offset: u64,
    /// Why, in one sentence.
    pub reason: String,
    /// Where the copy goes: beside the image, named `<stem>-stripped<ext>`.
    pub copy: PathBuf,
}

/// Reads the image at `path` once and checks it against `profile`'s rules, naming devices
/// from the built-in catalogue when the header is another device's.
///
/// The header is checked whole (every length and checksum it carries against the file) with
/// or without a profile. Without one, only the format, size, SHA-256, the empty-file check and
/// what the whole check finds wrong are reported; with one, what it found right as well, after
/// the profile's rules. The file is opened read-only and never changed.
pub fn inspect(path: &Path, profile: Option<&Profile>) -> Result<Inspection, ImageError> {
    // The built-in catalogue always loads (a test rules out a broken one); without it the
    // check goes on, naming raw ids instead of devices.
    let catalogue = Catalogue::builtin().unwrap_or_default();
    inspect_in(path, profile, &catalogue)
}

/// [`inspect`], naming devices from `catalogue` (built-in and user profiles) when the image's
/// hardware id or board id is another device's.
pub fn inspect_in(
    path: &Path,
    profile: Option<&Profile>,
    catalogue: &Catalogue,
) -> Result<Inspection, ImageError> {
    let scan = Scan::read(path, &rules::probes(profile))?;
    let format = format::recognise(&scan.head, scan.size);
    let mut findings = Vec::new();
    let mut strip = None;
    if scan.size == 0 {
        findings.push(ImageFinding::fail(
            format!("{} is empty: 0 bytes", path.display()),
            format!(
                "download the image again; {} holds no data, as an interrupted download leaves it",
                path.display()
            ),
        ));
    } else if let Some(profile) = profile {
        strip = rules::check(path, &scan, &format, profile, catalogue, &mut findings);
    }
    match &scan.whole {
        whole::Outcome::NotApplicable => {}
        whole::Outcome::Matched(phrase) => {
            if profile.is_some() {
                findings.push(ImageFinding::ok(format!("{} {phrase}", path.display())));
            }
        }
        whole::Outcome::Mismatched(mismatches) => {
            for mismatch in mismatches {
                findings.push(ImageFinding::fail(
                    format!("{} {}", path.display(), mismatch.what),
                    mismatch.fix.clone(),
                ));
            }
        }
    }
    Ok(Inspection {
        path: path.to_owned(),
        size: scan.size,
        sha256: scan.sha256,
        format,
        findings,
        strip,
    })
}

/// What one pass over the file collected.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The first [`HEAD_LEN`] bytes, or the whole file when shorter.
    pub head: Vec<u8>,
    /// Bytes read in all.
    pub size: u64,
    /// SHA-256 of every byte, lowercase hex.
    pub sha256: String,
    /// Bytes wanted at offsets past the head, as far as the file reaches.
    pub probes: Vec<Probe>,
    /// The header's lengths and checksums compared with the whole file.
    pub whole: whole::Outcome,
}

/// Bytes collected at one offset while the file streams past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    /// Where they start.
    pub at: u64,
    /// How many are wanted.
    pub want: usize,
    /// What was there; shorter than `want` when the file ends first.
    pub bytes: Vec<u8>,
}

impl Probe {
    /// A probe for `want` bytes at `at`.
    pub fn new(at: u64, want: usize) -> Self {
        Self {
            at,
            want,
            bytes: Vec::new(),
        }
    }

    /// Takes what it wants from `chunk`, which starts at offset `start` of the file. Chunks come
    /// in file order without gaps, so the next byte wanted is always `at + bytes.len()`.
    fn collect(&mut self, start: u64, chunk: &[u8]) {
        if self.bytes.len() >= self.want {
            return;
        }
        let Some(next) = self.at.checked_add(self.bytes.len() as u64) else {
            return;
        };
        let end = start + chunk.len() as u64;
        if next < start || next >= end {
            return;
        }
        let from = (next - start) as usize;
        let take = (self.want - self.bytes.len()).min(chunk.len() - from);
        self.bytes.extend_from_slice(&chunk[from..from + take]);
    }
}

impl Scan {
    /// Streams the file once: hashes it, keeps its head, fills the probes.
    fn read(path: &Path, probes: &[Probe]) -> Result<Self, ImageError> {
        let file = open_image_timed(path)?;
        let unreadable = |source| read_error(path, source);
        let mut hasher = Sha256::new();
        let mut head = Vec::new();
        let mut probes = probes.to_vec();
        let mut buf = vec![0u8; CHUNK_LEN];
        let mut size: u64 = 0;
        // Set up once the head is read: the header tells what to sum.
        let mut whole: Option<whole::Whole> = None;
        loop {
            let n = match file.read_at(size, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) => return Err(unreadable(err)),
            };
            let chunk = &buf[..n];
            hasher.update(chunk);
            let mut fed = 0;
            if head.len() < HEAD_LEN {
                let take = (HEAD_LEN - head.len()).min(n);
                head.extend_from_slice(&chunk[..take]);
                if head.len() == HEAD_LEN {
                    let mut checks = whole::Whole::new(&head);
                    checks.feed(0, &head);
                    whole = Some(checks);
                }
                fed = take;
            }
            if let Some(checks) = &mut whole
                && fed < n
            {
                checks.feed(size + fed as u64, &chunk[fed..]);
            }
            for probe in &mut probes {
                probe.collect(size, chunk);
            }
            size += n as u64;
        }
        let whole = whole.unwrap_or_else(|| {
            let mut checks = whole::Whole::new(&head);
            checks.feed(0, &head);
            checks
        });
        Ok(Self {
            head,
            size,
            sha256: format!("{:x}", hasher.finalize()),
            probes,
            whole: whole.finish(size),
        })
    }

    /// Up to `len` bytes at `at`: from the head when they lie in it, else from a probe. Shorter
    /// than `len` (or empty) when the file ends first.
    pub fn bytes_at(&self, at: u64, len: usize) -> &[u8] {
        if let Ok(start) = usize::try_from(at)
            && start < self.head.len()
            && start.saturating_add(len) <= self.head.len()
        {
            return &self.head[start..start + len];
        }
        self.probes
            .iter()
            .find(|probe| probe.at == at && probe.want >= len)
            .map_or(&[], |probe| &probe.bytes[..probe.bytes.len().min(len)])
    }
}

/// Opens an image for reading on a reader thread of its own ([`timed::TimedFile`]): the open,
/// and every read after it, gives up after [`timed::READ_DEADLINE`], so an image on a hung
/// network mount is refused with a message instead of holding the check for good.
pub fn open_image_timed(path: &Path) -> Result<timed::TimedFile, ImageError> {
    let owned = path.to_owned();
    let no_answer = |late: timed::Late, op: &str| ImageError::NoAnswer {
        path: path.to_owned(),
        source: late.explain("the image file", op),
    };
    let file = timed::within(timed::READ_DEADLINE, "image-open", move || {
        open_image(&owned)
    })
    .map_err(|late| no_answer(late, "the open"))??;
    timed::TimedFile::new(file, "the image file", timed::READ_DEADLINE)
        .map_err(|late| no_answer(late, "a read"))
}

/// The error for a failed read of the image at `path`: one that did not come back in time is
/// told apart, with its own fix.
pub(crate) fn read_error(path: &Path, source: std::io::Error) -> ImageError {
    if source.kind() == ErrorKind::TimedOut {
        ImageError::NoAnswer {
            path: path.to_owned(),
            source,
        }
    } else {
        ImageError::Unreadable {
            path: path.to_owned(),
            source,
        }
    }
}

/// Opens an image for reading, telling a missing file, a folder and an unreadable file apart.
pub(crate) fn open_image(path: &Path) -> Result<File, ImageError> {
    let metadata = std::fs::metadata(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => ImageError::NotFound {
            path: path.to_owned(),
        },
        _ => ImageError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })?;
    if metadata.is_dir() {
        return Err(ImageError::Folder {
            path: path.to_owned(),
        });
    }
    if !metadata.is_file() {
        return Err(ImageError::NotAFile {
            path: path.to_owned(),
        });
    }
    File::open(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => ImageError::NotFound {
            path: path.to_owned(),
        },
        _ => ImageError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_collects_across_chunk_edges() {
        let mut probe = Probe::new(10, 6);
        probe.collect(0, &[0; 12]);
        probe.collect(12, &[1, 2, 3]);
        probe.collect(15, &[4, 5, 6, 7]);
        assert_eq!(probe.bytes, vec![0, 0, 1, 2, 3, 4]);
        let mut late = Probe::new(100, 4);
        late.collect(0, &[0; 50]);
        assert!(late.bytes.is_empty());
    }

    #[test]
    fn severity_orders_fail_last_and_verdict_takes_the_worst() {
        assert!(Severity::Ok < Severity::Warning && Severity::Warning < Severity::Fail);
        let mut inspection = Inspection {
            path: PathBuf::from("x.bin"),
            size: 512,
            sha256: String::new(),
            format: Format::Unknown,
            findings: vec![ImageFinding::ok("fine")],
            strip: None,
        };
        assert_eq!(inspection.verdict(), ImageVerdict::Ready);
        inspection
            .findings
            .push(ImageFinding::warning("hm", "look"));
        assert_eq!(inspection.verdict(), ImageVerdict::Doubtful);
        inspection.findings.push(ImageFinding::fail("no", "other"));
        assert_eq!(inspection.verdict(), ImageVerdict::Refused);
        assert_eq!(
            serde_json::to_value(Severity::Warning).unwrap(),
            serde_json::json!("warning")
        );
    }

    #[test]
    fn blocks_count_the_closing_empty_block() {
        let inspection = |size| Inspection {
            path: PathBuf::from("x.bin"),
            size,
            sha256: String::new(),
            format: Format::Unknown,
            findings: Vec::new(),
            strip: None,
        };
        assert_eq!(inspection(0).blocks(512), 1);
        assert_eq!(inspection(511).blocks(512), 1);
        assert_eq!(inspection(512).blocks(512), 2);
        assert_eq!(inspection(513).blocks(512), 2);
        assert_eq!(inspection(65_535 * 512 - 1).blocks(512), 65_535);
        assert_eq!(inspection(65_535 * 512).blocks(512), 65_536);
        assert_eq!(inspection(10).blocks(0), 11);
    }
}
