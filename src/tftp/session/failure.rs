//! Why a transfer failed: one reason per way a TFTP transfer ends badly, each with the text
//! the technician reads.

use std::path::PathBuf;
use std::time::Duration;

use crate::tftp::packet::ErrorCode;

/// Why a transfer failed. Its text (`Display`) is what the technician reads in events and
/// reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferFailure {
    /// The file being sent could not be read at this byte.
    #[error("cannot read the file being sent at byte {offset}: {error}")]
    ReadFailed {
        /// Where the block starts.
        offset: u64,
        /// What the system said.
        error: String,
    },
    /// The peer sent an ERROR packet (RFC 1350 §5).
    #[error("the peer sent {code}: \"{text}\"")]
    PeerError {
        /// Its error code.
        code: ErrorCode,
        /// Its message, escaped and capped ([`escape_text`](crate::tftp::packet::escape_text)).
        text: String,
    },
    /// The router answered with plain text instead of TFTP (EX2700 and the like).
    #[error("the router said: \"{text}\"")]
    RouterSaid {
        /// Its words, escaped and capped.
        text: String,
    },
    /// DATA came on a read transfer, where only ACKs belong (RFC 1350 §2).
    #[error("the peer sent DATA on a read transfer")]
    DataOnReadTransfer,
    /// An ACK came on a write transfer, where only DATA belongs (RFC 1350 §2).
    #[error("the peer sent an ACK on a write transfer")]
    AckOnWriteTransfer,
    /// The sender heard nothing for the give-up time.
    #[error("the peer stopped responding ({} s without an answer)", .silent.as_secs())]
    StoppedResponding {
        /// How long it was silent.
        silent: Duration,
    },
    /// The receiver got no DATA for the give-up time.
    #[error("the peer stopped sending ({} s without data)", .silent.as_secs())]
    StoppedSending {
        /// How long it was silent.
        silent: Duration,
    },
    /// The first response went out this many times and nothing came back.
    #[error("no answer to the first {sends} sends of the first response")]
    NoFirstAnswer {
        /// How many times it was sent.
        sends: u32,
    },
    /// A DATA block longer than the agreed block size (RFC 2348).
    #[error("the peer sent a {len}-byte block with blksize {blksize}")]
    OversizedBlock {
        /// Its length.
        len: usize,
        /// The agreed block size.
        blksize: usize,
    },
    /// More bytes came than the receiver's limit.
    #[error("the data exceeded the limit of {limit} bytes")]
    OverLimit {
        /// The limit.
        limit: u64,
    },
    /// The served file changed while it was sent.
    #[error(
        "{} changed on disk during the transfer: the device may hold a mixture; serve it again",
        .path.display()
    )]
    ChangedOnDisk {
        /// The file.
        path: PathBuf,
    },
    /// The received bytes could not be stored (a write error, a full disk, the quota).
    #[error("could not store the data: {reason}")]
    NotStored {
        /// What the store said.
        reason: String,
    },
    /// The transfer's socket could not be set up.
    #[error("socket error: {error}")]
    Socket {
        /// What the system said.
        error: String,
    },
    /// The transfer was stopped from outside (shutdown, Ctrl-C).
    #[error("stopped")]
    Stopped,
}

#[cfg(test)]
mod tests;
