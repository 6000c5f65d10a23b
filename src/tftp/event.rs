//! What the TFTP server and client report: plain data, past tense, self-contained, so that a
//! progress bar, the wizard or a JSON line can be made from each without asking back.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::packet::{ErrorCode, RawOption};
use super::session::Stats;

/// Identifies one transfer among those a server runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub u64);

impl std::fmt::Display for TransferId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which way the data goes, seen from the side that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A read request: the peer downloads (the router pulls its firmware).
    Read,
    /// A write request: the peer uploads.
    Write,
}

/// Where events go. Sending never blocks; a closed receiver is not an error.
pub type EventSender = UnboundedSender<TransferEvent>;

/// One thing that happened in a transfer or at the server.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferEvent {
    /// The server is listening.
    Listening {
        /// The address and port it listens on.
        addr: SocketAddr,
    },
    /// A request arrived and is being answered.
    RequestReceived {
        /// The transfer it starts.
        id: TransferId,
        /// Who asked.
        peer: SocketAddr,
        /// The local address the request was sent to (replies come from it).
        local: IpAddr,
        /// The name asked for, escaped for display.
        name: String,
        /// Read or write.
        kind: RequestKind,
        /// The options asked for, in the order sent, names and values escaped and capped
        /// for display ([`RawOption::shown`]).
        options: Vec<RawOption>,
    },
    /// A request was answered with an error and no transfer started.
    RequestRefused {
        /// Who asked.
        peer: SocketAddr,
        /// The name asked for, escaped for display.
        name: String,
        /// The error code sent.
        code: ErrorCode,
        /// Why, in words, with the fix where there is one.
        reason: String,
    },
    /// A datagram at the listening port was dropped without an answer.
    RequestIgnored {
        /// Who sent it.
        peer: SocketAddr,
        /// Why it was dropped.
        reason: String,
    },
    /// The transfer's parameters are settled.
    OptionsAgreed {
        /// The transfer.
        id: TransferId,
        /// Bytes per block.
        blksize: u16,
        /// Blocks per window.
        windowsize: u16,
        /// The negotiated timeout, if any.
        timeout: Option<Duration>,
        /// The announced size, if any.
        tsize: Option<u64>,
        /// Options asked for but not granted (escaped for display), and why.
        ignored: Vec<(RawOption, String)>,
    },
    /// Data moved (at most about ten of these a second per transfer).
    Progress {
        /// The transfer.
        id: TransferId,
        /// Bytes acknowledged (sending) or received (receiving).
        bytes: u64,
        /// The whole size, when known.
        total: Option<u64>,
        /// Retransmission timeouts so far.
        timeouts: u64,
    },
    /// The retransmission timer expired and blocks were sent again (coalesced with
    /// progress: at most about ten a second per transfer).
    Retransmitted {
        /// The transfer.
        id: TransferId,
        /// Timer expiries so far.
        timeouts: u64,
        /// DATA packets resent so far (zero when receiving).
        resent: u64,
    },
    /// A datagram could not be sent: counted as lost, the transfer goes on. Repeated
    /// failures usually mean a local firewall (EPERM) or a link that is down (ENETUNREACH).
    SendFailed {
        /// The transfer, when the failure was inside one.
        id: Option<TransferId>,
        /// Where the datagram was going.
        peer: SocketAddr,
        /// The system's error text.
        error: String,
    },
    /// A datagram from a stranger reached a transfer's port; it got ERROR 5 and the transfer
    /// went on (RFC 1350 §4).
    StrayPacket {
        /// The transfer.
        id: TransferId,
        /// Who sent it.
        from: SocketAddr,
    },
    /// The peer refused the OACK with ERROR 8: it may ask again without options.
    OptionsRefused {
        /// The transfer.
        id: TransferId,
        /// Who refused.
        peer: SocketAddr,
    },
    /// The transfer ended with every byte moved.
    Finished {
        /// The transfer.
        id: TransferId,
        /// The other side.
        peer: SocketAddr,
        /// The file name, escaped for display.
        name: String,
        /// Bytes moved.
        bytes: u64,
        /// From request to end.
        elapsed: Duration,
        /// SHA-256 of the data, hex.
        sha256: String,
        /// False when every block was sent but the last ACK never came (the device may have
        /// started flashing without acknowledging).
        confirmed: bool,
        /// Counters of the transfer.
        stats: Stats,
        /// True when the bytes came from the copy kept of an earlier transfer of the same,
        /// unchanged file: nothing was read or hashed again (`tftp::server`'s shelf).
        kept: bool,
    },
    /// The transfer failed.
    Failed {
        /// The transfer.
        id: TransferId,
        /// The other side.
        peer: SocketAddr,
        /// The file name, escaped for display.
        name: String,
        /// Why. Text the peer sent (an ERROR message) is quoted escaped and capped
        /// ([`super::packet::escape_text`]).
        reason: String,
    },
}
