//! Capture files: what the watch received, in the classic libpcap format (linktype Ethernet),
//! which tcpdump, tshark and Wireshark open, so a technician can attach it to a forum post or a
//! support ticket.
//!
//! The format is written here rather than with the `pcap-file` crate: it is a 24-byte file
//! header and a 16-byte header per frame, fixed since libpcap 0.4, while `pcap-file`'s last
//! release (2.0, 2022) would bring a second major version of `thiserror` and `byteorder` for
//! those 40 bytes.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The classic pcap magic number, microsecond timestamps.
const MAGIC: u32 = 0xa1b2_c3d4;
/// File format version 2.4.
const VERSION: (u16, u16) = (2, 4);
/// `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u32 = 1;
/// Longest frame kept, in bytes: the capture filter passes whole frames up to this length.
pub const SNAP_LENGTH: u32 = 0xffff;

/// Why a capture file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file is there already; it is never overwritten.
    #[error(
        "cannot write the capture to {path}: the file already exists.\n  fix: give another name, or move {path} away first (it is never overwritten)"
    )]
    Exists {
        /// The path asked for.
        path: String,
    },
    /// The system refused to create or write it.
    #[error(
        "cannot write the capture to {path}: {source}\n  fix: choose a folder you can write to"
    )]
    Io {
        /// The path asked for.
        path: String,
        /// What the system said.
        source: io::Error,
    },
}

/// Writes frames to a pcap stream, one `write` per frame so a file is complete after every
/// frame, whatever ends the process.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    frames: u64,
}

impl PcapWriter<File> {
    /// Creates `path` (refusing an existing file) and writes the file header.
    pub fn create(path: &Path) -> Result<Self, CaptureError> {
        let shown = || path.display().to_string();
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    CaptureError::Exists { path: shown() }
                } else {
                    CaptureError::Io {
                        path: shown(),
                        source,
                    }
                }
            })?;
        Self::new(file).map_err(|source| CaptureError::Io {
            path: shown(),
            source,
        })
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&file_header())?;
        out.flush()?;
        Ok(Self { out, frames: 0 })
    }

    /// Appends one Ethernet frame received at `at`, and flushes it.
    pub fn write_frame(&mut self, at: SystemTime, frame: &[u8]) -> io::Result<()> {
        self.out.write_all(&record(at, frame))?;
        self.out.flush()?;
        self.frames += 1;
        Ok(())
    }

    /// How many frames were written.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

/// The global header, in this machine's byte order (readers tell it from the magic number).
fn file_header() -> [u8; 24] {
    let mut header = [0u8; 24];
    header[0..4].copy_from_slice(&MAGIC.to_ne_bytes());
    header[4..6].copy_from_slice(&VERSION.0.to_ne_bytes());
    header[6..8].copy_from_slice(&VERSION.1.to_ne_bytes());
    // thiszone (8..12) and sigfigs (12..16) are 0: timestamps are UTC.
    header[16..20].copy_from_slice(&SNAP_LENGTH.to_ne_bytes());
    header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
    header
}

/// One record: seconds, microseconds, bytes kept, bytes on the wire, then the frame.
fn record(at: SystemTime, frame: &[u8]) -> Vec<u8> {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let wire = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let kept = &frame[..frame.len().min(SNAP_LENGTH as usize)];
    let mut bytes = Vec::with_capacity(16 + kept.len());
    // Seconds wrap in 2106, as in every classic pcap file.
    bytes.extend_from_slice(&(since.as_secs() as u32).to_ne_bytes());
    bytes.extend_from_slice(&since.subsec_micros().to_ne_bytes());
    bytes.extend_from_slice(&(kept.len() as u32).to_ne_bytes());
    bytes.extend_from_slice(&wire.to_ne_bytes());
    bytes.extend_from_slice(kept);
    bytes
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        writer.write_frame(at, &[0xaa; 60]).unwrap();
        assert_eq!(writer.frames(), 1);
        let bytes = writer.out;
        assert_eq!(bytes.len(), 24 + 16 + 60);
        let word = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!(word(0), 0xa1b2_c3d4);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 2);
        assert_eq!(u16::from_ne_bytes([bytes[6], bytes[7]]), 4);
        assert_eq!(word(16), 0xffff);
        assert_eq!(word(20), 1);
        assert_eq!(word(24), 1_700_000_000);
        assert_eq!(word(28), 123_456);
        assert_eq!(word(32), 60);
        assert_eq!(word(36), 60);
        assert!(bytes[40..].iter().all(|&b| b == 0xaa));
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcap");
        std::fs::write(&path, b"keep").unwrap();
        let err = PcapWriter::create(&path).unwrap_err();
        assert!(matches!(err, CaptureError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
        let fresh = dir.path().join("y.pcap");
        PcapWriter::create(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().len(), 24);
    }
}
