//! Sans-I/O transfer state machines: [`Sender`] (the side that sends DATA) and [`Receiver`]
//! (the side that sends ACKs). They are fed packets from the transfer's peer and the time, and
//! hand back the datagrams to send; they never touch a socket or a clock. Every protocol rule
//! of a running transfer lives here: rollover, windows, the Sorcerer's Apprentice rule,
//! retransmission timing, giving up.
//!
//! The same machines serve both roles: the server's read transfers and the client's push use
//! [`Sender`]; the server's write transfers and the client's get use [`Receiver`].

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::options::Agreed;
use super::packet::{ErrorCode, Packet, ack_datagram, error_datagram, escape_text};

mod failure;
mod next_block;
mod spare;
mod timer;
pub use failure::TransferFailure;
pub use next_block::NextBlock;
use spare::Spares;
use timer::{ResendCheck, RetransmitTimer};

/// How block numbers continue after 65535 (RFC 1350 is silent; see docs/tftp.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RolloverTo {
    /// 65535 is followed by 0: what U-Boot, tftp-hpa, atftp and dnsmasq do.
    #[default]
    Zero,
    /// 65535 is followed by 1, for the few bootloaders that expect it.
    One,
}

impl RolloverTo {
    /// The 16-bit wire number of absolute block `abs` (blocks count from 1; 0 is the OACK).
    pub fn wire(self, abs: u64) -> u16 {
        match self {
            Self::Zero => abs as u16,
            Self::One if abs == 0 => 0,
            Self::One => ((abs - 1) % 65_535 + 1) as u16,
        }
    }

    /// The absolute block a wire number means, taking the nearest candidate to `base`
    /// (atftp and dnsmasq map 16-bit numbers by proximity the same way).
    pub fn nearest(self, wire: u16, base: u64) -> u64 {
        let delta = match self {
            Self::Zero => i64::from(wire.wrapping_sub(self.wire(base)) as i16),
            Self::One if wire == 0 => return 0,
            Self::One => {
                let index = i64::from(wire) - 1;
                let base_index = if base == 0 {
                    -1
                } else {
                    ((base - 1) % 65_535) as i64
                };
                let mut d = (index - base_index).rem_euclid(65_535);
                if d > 32_767 {
                    d -= 65_535;
                }
                d
            }
        };
        base.saturating_add_signed(delta)
    }
}

/// Timing policy shared by both machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The first retransmission timeout, before any round trip is measured (RFC 6298: 1 s).
    pub initial_rto: Duration,
    /// The lowest floor of the adaptive timeout, reached only on a link whose losses the peer
    /// proved real (see [`Timing::pause_floor`]).
    pub min_rto: Duration,
    /// The floor of the adaptive timeout when a transfer starts: above the pauses of a busy
    /// peer, which a timer following the measured round trip alone takes for losses (an
    /// emulated board on a loaded host stops answering for tens of ms while its round trip
    /// is tens of µs). Each resend the peer answers twice (the first copy had arrived: the
    /// timer fired too early) doubles it, up to the timer's ceiling; each resend answered
    /// once (a real loss) halves it, down to [`Timing::min_rto`], so a lossy link with a
    /// steady peer is still repaired quickly. The daemons wait far longer: tftpd-hpa 1 s
    /// (`--retransmit`), atftpd 5 s (`--retry-timeout`), both replaced by the client's
    /// `timeout` option (U-Boot asks 5 s).
    pub pause_floor: Duration,
    /// The ceiling of the adaptive timeout when no timeout was negotiated. A negotiated
    /// timeout (RFC 2349) replaces it: the timer never waits longer than the peer asked.
    pub max_rto: Duration,
    /// Give up after this long without a valid packet from the peer.
    pub give_up_after: Duration,
    /// Send the first response (OACK, DATA 1 or ACK 0) at most this many times: the
    /// amplification guard against spoofed requests.
    pub max_first_sends: u32,
    /// After the last block has been sent, wait this long for its ACK, then report the
    /// transfer as sent but unconfirmed (bootloaders that start flashing at once).
    pub final_ack_wait: Duration,
    /// After the final ACK, keep answering a repeated final DATA for this long (RFC 1350 §6).
    pub dally: Duration,
    /// With a window of 1, send the next block along with each resend, so that a lost ACK is
    /// repaired at once by a peer that already holds the block, whatever the peer has shown.
    /// Off by default: a peer that stores a block ahead of the one it expects without
    /// checking for a gap (U-Boot 1.1.x, barebox) would keep a hole when the resend itself
    /// is lost (see docs/tftp.md). [`Timing::learn_next_block`] turns it on per transfer for
    /// peers that prove safe.
    pub resend_next_block: bool,
    /// With a window of 1, find out from the peer itself whether the next block may ride
    /// along a resend: a few blocks are repeated once right after their ACK, and a peer that
    /// acknowledges such a repeat (mainline U-Boot answers any unexpected block with an ACK
    /// of the last one it holds, `tftp_last_nack` in `net/tftp.c`) also checks that a block
    /// is the next one before storing it. A peer that ignores repeats (U-Boot 1.1.x: "Same
    /// block again; ignore it", and it stores any other block unchecked) never turns it on.
    pub learn_next_block: bool,
}

/// Repeats of an acknowledged block that a [`Sender`] sends, at most, to learn whether its
/// peer acknowledges them.
const NEXT_BLOCK_PROBES: u32 = 12;
/// Blocks past the one resent that may ride along a resend, once the peer proved it safe.
const NEXT_BLOCKS_AHEAD: u64 = 3;

/// Acknowledged repeats needed before the next block rides along resends. Two, so that one
/// ACK duplicated by the network is not taken for the peer's habit.
const NEXT_BLOCK_CONFIRMATIONS: u32 = 2;

/// What a [`Sender`] has learned about its peer's answer to a repeated block.
#[derive(Debug, Clone, Default)]
struct NextBlockProbe {
    /// The block just repeated, and whether the peer acknowledged the repeat before the
    /// next block's ACK came.
    pending: Option<(u64, bool)>,
    /// Repeats sent.
    sent: u32,
    /// Repeats the peer acknowledged.
    confirmed: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(10),
            pause_floor: Duration::from_millis(250),
            max_rto: Duration::from_secs(5),
            give_up_after: Duration::from_mins(1),
            max_first_sends: 6,
            final_ack_wait: Duration::from_secs(5),
            dally: Duration::from_secs(10),
            resend_next_block: false,
            learn_next_block: true,
        }
    }
}

/// Counters a transfer keeps, for reports and for tests that bound retransmission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// DATA packets sent, first sends and resends together.
    pub data_sent: u64,
    /// DATA packets that were resends.
    pub data_resent: u64,
    /// ACKs sent, resends included.
    pub acks_sent: u64,
    /// Retransmission timer expiries.
    pub timeouts: u64,
    /// Resends that the peer answered twice: the timer had fired while the first copy, or
    /// its answer, was still under way ([`Timing::pause_floor`]).
    pub early_resends: u64,
    /// Duplicate ACKs received and ignored (the Sorcerer's Apprentice rule).
    pub duplicate_acks: u64,
    /// Acknowledged blocks repeated once to learn the peer's habit
    /// ([`Timing::learn_next_block`]); counted in `data_sent`, not in `data_resent`.
    pub probes: u64,
    /// Whether the peer proved that the next block may ride along a resend.
    pub next_block_learned: bool,
    /// Window restarts after a gap ACK (RFC 7440 §4).
    pub window_restarts: u64,
    /// Packets ignored: ACKs for blocks not sent, stale or duplicate DATA, wrong types.
    pub ignored: u64,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Still moving data.
    Running,
    /// Every block sent was acknowledged, or every block was received and acknowledged.
    Complete,
    /// Every block was sent but the last ACK never came: the data may well have arrived
    /// (RFC 1350 §6); some bootloaders start flashing without acknowledging.
    Unconfirmed,
    /// The peer refused our OACK with ERROR 8: the transfer ends quietly, and the peer may
    /// ask again without options (RFC 2347).
    OptionsRefused,
    /// The transfer failed.
    Failed(TransferFailure),
}

impl Status {
    /// Whether the transfer is over.
    pub fn is_over(&self) -> bool {
        !matches!(self, Status::Running)
    }

    /// Why the transfer failed, when it did.
    pub fn failure(&self) -> Option<&TransferFailure> {
        match self {
            Status::Failed(failure) => Some(failure),
            _ => None,
        }
    }
}

/// How a [`Sender`] opens its transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// A server answering a request with options: this encoded OACK goes first and DATA
    /// waits for ACK 0.
    Oack(Vec<u8>),
    /// A server answering a request without options: DATA 1 is the first response.
    Data,
    /// A client whose write request the server already answered (ACK 0 or an accepted
    /// OACK): the first window goes out at once.
    Confirmed,
}

/// Where a [`Sender`]'s bytes come from. The machine asks for each block as it sends it, so
/// what is sent is never held whole: bytes in memory are one source, the server's file read
/// at offsets (`pread`) another.
pub trait Blocks: Send + Sync + std::fmt::Debug {
    /// How many bytes there are.
    fn size(&self) -> u64;
    /// Fills `buf` with the bytes from `offset` on; `buf` never reaches past [`Blocks::size`].
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// The datagrams built from the last reads have left: the moment for a file to read its
    /// next bytes ahead, while the peer works on what it was sent, rather than between an
    /// ACK and the next DATA. Bytes in memory have nothing to do.
    fn read_ahead(&self) {}
}

impl Blocks for Arc<[u8]> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// The sending side of a transfer: serves its [`Blocks`] block by block.
#[derive(Debug)]
pub struct Sender {
    data: Arc<dyn Blocks>,
    size: u64,
    /// Buffers for the DATA datagrams, given back once sent ([`Sender::recycle`]).
    spares: Spares,
    blksize: usize,
    window: u64,
    rollover: RolloverTo,
    last_block: u64,
    /// The encoded OACK while it waits for ACK 0.
    oack: Option<Vec<u8>>,
    acked: u64,
    sent_high: u64,
    heard_any: bool,
    first_sends: u32,
    probe: Option<(u64, Instant)>,
    deadline: Instant,
    last_heard: Instant,
    timer: RetransmitTimer,
    /// The last timeout's resend, until the peer's answers show whether it was needed.
    resend_check: Option<ResendCheck>,
    timing: Timing,
    learning: NextBlockProbe,
    status: Status,
    stats: Stats,
    /// Whether a plain-text answer from the peer ends the transfer ([`Sender::heed_plain_text`]).
    heeds_plain_text: bool,
    /// What the peer said in plain text, escaped and capped.
    peer_said: Option<String>,
}

impl Sender {
    /// Starts sending bytes held in memory; the first datagrams to send are appended to
    /// `out`.
    pub fn start(
        data: Arc<[u8]>,
        agreed: &Agreed,
        rollover: RolloverTo,
        opening: Opening,
        timing: Timing,
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) -> Self {
        Self::start_from(Arc::new(data), agreed, rollover, opening, timing, now, out)
    }

    /// Starts sending from any [`Blocks`]: each block is read as it is sent (and again when
    /// it is resent). A read that fails ends the transfer with ERROR 0 and the reason.
    pub fn start_from(
        data: Arc<dyn Blocks>,
        agreed: &Agreed,
        rollover: RolloverTo,
        opening: Opening,
        timing: Timing,
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) -> Self {
        let blksize = usize::from(agreed.blksize.max(1));
        let size = data.size();
        let last_block = size / blksize as u64 + 1;
        let mut sender = Self {
            data,
            size,
            spares: Spares::new(blksize, spares_kept(agreed.windowsize)),
            blksize,
            window: u64::from(agreed.windowsize.max(1)),
            rollover,
            last_block,
            oack: None,
            acked: 0,
            sent_high: 0,
            heard_any: false,
            first_sends: 0,
            probe: None,
            deadline: now,
            last_heard: now,
            timer: RetransmitTimer::new(&timing, agreed.timeout),
            resend_check: None,
            timing,
            learning: NextBlockProbe::default(),
            status: Status::Running,
            stats: Stats::default(),
            heeds_plain_text: false,
            peer_said: None,
        };
        match opening {
            Opening::Oack(oack) => {
                sender.oack = Some(oack);
                sender.send_first(now, out);
            }
            Opening::Data => sender.send_first(now, out),
            Opening::Confirmed => {
                sender.heard_any = true;
                sender.fill_window(now, out);
            }
        }
        sender
    }

    /// Where the transfer stands.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes the peer has acknowledged.
    pub fn bytes_done(&self) -> u64 {
        (self.acked.saturating_mul(self.blksize as u64)).min(self.size)
    }

    /// Total bytes to send.
    pub fn total(&self) -> u64 {
        self.size
    }

    /// When [`Sender::on_timer`] wants to be called; `None` once the transfer is over.
    pub fn deadline(&self) -> Option<Instant> {
        (!self.status.is_over()).then_some(self.deadline)
    }

    fn send_block(&mut self, abs: u64, out: &mut Vec<Vec<u8>>) {
        if self.status.is_over() {
            return;
        }
        let start = (abs - 1).saturating_mul(self.blksize as u64).min(self.size);
        let end = start.saturating_add(self.blksize as u64).min(self.size);
        // At most one block: `end - start` <= blksize. The block is read straight into the
        // datagram that carries it.
        let mut datagram = self
            .spares
            .data(self.rollover.wire(abs), (end - start) as usize);
        match self.data.read_at(start, &mut datagram[4..]) {
            Ok(()) => {
                out.push(datagram);
                self.stats.data_sent += 1;
            }
            Err(err) => {
                self.spares.recycle(datagram);
                // The reason goes to the peer too: a bootloader's console is often all the
                // technician watches ("did not answer a read in 5 s (a hung network mount?)").
                out.push(error_datagram(
                    ErrorCode::NOT_DEFINED,
                    &format!("cannot read the file: {err}"),
                ));
                self.status = Status::Failed(TransferFailure::ReadFailed {
                    offset: start,
                    error: err.to_string(),
                });
            }
        }
    }

    /// Takes back the datagrams of `sent` (emptying it) once the driver has sent them, so the
    /// next blocks are built in the same buffers: no allocation per block or per window.
    pub fn recycle(&mut self, sent: &mut Vec<Vec<u8>>) {
        for datagram in sent.drain(..) {
            self.spares.recycle(datagram);
        }
        self.data.read_ahead();
    }

    fn send_first(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        self.first_sends += 1;
        if let Some(oack) = &self.oack {
            out.push(oack.clone());
        } else {
            if self.first_sends > 1 {
                self.stats.data_resent += 1;
            }
            self.send_block(1, out);
            self.sent_high = 1;
        }
        if self.first_sends == 1 {
            self.probe = Some((u64::from(self.oack.is_none()), now));
        }
        self.deadline = now + self.timer.timeout();
    }

    /// Sends blocks up to the end of the window that starts after the last ACK.
    fn fill_window(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let end = (self.acked + self.window).min(self.last_block);
        while self.sent_high < end {
            self.sent_high += 1;
            self.send_block(self.sent_high, out);
            if self.probe.is_none() {
                self.probe = Some((self.sent_high, now));
            }
        }
        self.deadline = now + self.timer.timeout();
    }

    /// Makes a plain-text answer from the peer ([`super::packet::plain_text`]) end the
    /// transfer with the peer's words, as a client pushing to a bootloader wants: Netgear's
    /// EX2700 answers a bad image with its checksum error as bare text where the ACK would be.
    /// A server's transfers leave it off (text from a client is not TFTP and is dropped).
    pub fn heed_plain_text(&mut self) {
        self.heeds_plain_text = true;
    }

    /// Feeds a datagram from the peer that is not a TFTP packet. When the sender heeds plain
    /// text and the datagram is words, the transfer fails with them ("the router said: ...")
    /// and `true` is returned; otherwise nothing changes and the datagram is the caller's to
    /// drop.
    pub fn on_plain_text(&mut self, datagram: &[u8]) -> bool {
        if !self.heeds_plain_text || self.status.is_over() {
            return false;
        }
        let Some(text) = super::packet::plain_text(datagram) else {
            return false;
        };
        self.status = Status::Failed(TransferFailure::RouterSaid { text: text.clone() });
        self.peer_said = Some(text);
        true
    }

    /// What the peer said in plain text, escaped and capped, if it did (and the sender heeded
    /// it).
    pub fn peer_said(&self) -> Option<&str> {
        self.peer_said.as_deref()
    }

    /// Feeds a packet that came from the transfer's peer.
    pub fn on_packet(&mut self, packet: &Packet<'_>, now: Instant, out: &mut Vec<Vec<u8>>) {
        if self.status.is_over() {
            return;
        }
        match packet {
            Packet::Ack { block } => self.on_ack(*block, now, out),
            Packet::Error { code, message } => {
                // Never answer an ERROR (RFC 1350 §7; an ERROR ping-pong would never end).
                self.status = if *code == ErrorCode::OPTION_NEGOTIATION && self.oack.is_some() {
                    Status::OptionsRefused
                } else {
                    Status::Failed(TransferFailure::PeerError {
                        code: *code,
                        text: escape_text(message),
                    })
                };
            }
            Packet::Data { .. } | Packet::Oack { .. } => {
                // RFC 1350 §2: an incorrectly formed packet for this transfer ends it.
                out.push(error_datagram(
                    ErrorCode::ILLEGAL_OPERATION,
                    "only ACKs are expected on a read transfer",
                ));
                self.status = Status::Failed(TransferFailure::DataOnReadTransfer);
            }
            Packet::Rrq(_) | Packet::Wrq(_) => self.stats.ignored += 1,
        }
    }

    fn on_ack(&mut self, wire: u16, now: Instant, out: &mut Vec<Vec<u8>>) {
        if self.oack.is_some() {
            if wire != 0 {
                self.stats.ignored += 1;
                return;
            }
            self.last_heard = now;
            self.heard_any = true;
            self.oack = None;
            self.take_sample(0, now);
            self.timer.backoff = 0;
            self.fill_window(now, out);
            return;
        }
        let abs = self.rollover.nearest(wire, self.acked);
        if abs == self.acked {
            // RFC 1123 §4.2.3.1: never resend DATA because of a duplicate ACK. Nor does it
            // count as hearing from the peer: a client repeating an old ACK makes no progress,
            // and must not keep its transfer (and its server slot) alive.
            self.stats.duplicate_acks += 1;
            if let Some(check) = &mut self.resend_check {
                check.duplicates += 1;
            }
            if let Some((block, answered)) = &mut self.learning.pending
                && *block == abs
            {
                *answered = true;
            }
            return;
        }
        if abs < self.acked || abs > self.sent_high {
            // A stale ACK from before the last advance, or one for a block never sent.
            self.stats.ignored += 1;
            return;
        }
        self.last_heard = now;
        self.heard_any = true;
        self.take_sample(abs, now);
        self.timer.backoff = 0;
        self.acked = abs;
        self.settle_resend();
        if self.acked == self.last_block {
            self.status = Status::Complete;
            return;
        }
        self.learn_next_block(out);
        if self.window > 1 && abs < self.sent_high {
            // RFC 7440 §4: the receiver ACKed the last block it got in order; the next window
            // starts right after it. A repeat of this ACK is now a duplicate and is ignored,
            // so each gap restarts the window once.
            self.stats.window_restarts += 1;
            self.sent_high = self.acked;
            self.probe = None;
            self.stats.data_resent += (self.acked + self.window).min(self.last_block) - self.acked;
        }
        self.fill_window(now, out);
    }

    /// Settles the last repeat, and repeats the block just acknowledged while the peer's
    /// habit is still unknown. The repeat goes before the next block, so a peer that
    /// acknowledges repeats answers it before the next block's ACK.
    fn learn_next_block(&mut self, out: &mut Vec<Vec<u8>>) {
        if let Some((_, true)) = self.learning.pending.take() {
            self.learning.confirmed += 1;
            self.stats.next_block_learned = self.learning.confirmed >= NEXT_BLOCK_CONFIRMATIONS;
        }
        let wanted = self.timing.learn_next_block
            && !self.timing.resend_next_block
            && self.window == 1
            && !self.stats.next_block_learned
            && self.learning.sent < NEXT_BLOCK_PROBES;
        if wanted {
            // A repeat of a block the peer holds is harmless to every receiver (RFC 1350
            // §6 expects duplicates); U-Boot 1.1.x drops it as "same block again".
            self.learning.sent += 1;
            self.learning.pending = Some((self.acked, false));
            if let Some(check) = &mut self.resend_check {
                check.probes += 1;
            }
            self.stats.probes += 1;
            self.send_block(self.acked, out);
        }
    }

    /// Judges the last timeout's resend once the peer has acknowledged a block past it. The
    /// resent block is the one the peer was waiting for, or the one whose ACK was lost; a
    /// peer that acknowledges repeats (mainline U-Boot, `tftp_last_nack`; RFC 1350 §6
    /// expects duplicates) ACKs it once, or, when the first copy had arrived and only its
    /// answer was late, twice. The second ACK is a duplicate and sends nothing (RFC 1123
    /// §4.2.3.1), but it tells that the timer fired during a pause, not a loss.
    fn settle_resend(&mut self) {
        let Some(check) = self.resend_check else {
            return;
        };
        if self.acked <= check.upto {
            return;
        }
        self.resend_check = None;
        if check.duplicates > check.probes {
            self.stats.early_resends += 1;
            self.timer.fired_too_early();
        } else {
            self.timer.fired_for_a_loss();
        }
    }

    fn take_sample(&mut self, acked: u64, now: Instant) {
        if let Some((block, sent_at)) = self.probe
            && acked >= block
        {
            self.timer.sample(now.saturating_duration_since(sent_at));
            self.probe = None;
        }
    }

    /// Lets time pass: retransmits when the timer has expired, gives up when the peer has
    /// been silent too long.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        if self.status.is_over() || now < self.deadline {
            return;
        }
        let silent = now.saturating_duration_since(self.last_heard);
        let only_final_left = self.oack.is_none() && self.sent_high == self.last_block;
        if only_final_left
            && self.acked + self.window >= self.last_block
            && silent >= self.timing.final_ack_wait
        {
            self.status = Status::Unconfirmed;
            return;
        }
        if silent >= self.timing.give_up_after {
            self.status = Status::Failed(TransferFailure::StoppedResponding { silent });
            return;
        }
        self.stats.timeouts += 1;
        self.timer.backoff += 1;
        // Karn's rule: a resent block's ACK says nothing about the round trip.
        self.probe = None;
        // A repeat still unanswered at a timeout proves nothing either way: the peer's own
        // timer may be what answers next.
        self.learning.pending = None;
        if !self.heard_any {
            if self.first_sends >= self.timing.max_first_sends {
                self.status = Status::Failed(TransferFailure::NoFirstAnswer {
                    sends: self.first_sends,
                });
                return;
            }
            self.send_first(now, out);
            return;
        }
        // RFC 7440 §4: on timeout the last ACK received sets the start of the next window.
        let end = (self.acked + self.window).min(self.last_block);
        for abs in self.acked + 1..=end {
            self.send_block(abs, out);
            self.stats.data_resent += 1;
        }
        // A second timeout before the first resend was judged replaces it: the answers to
        // two resends of one block cannot be told apart.
        let mut check = ResendCheck {
            upto: end,
            duplicates: 0,
            probes: 0,
        };
        self.sent_high = self.sent_high.max(end);
        let next_block = self.timing.resend_next_block || self.stats.next_block_learned;
        if self.window == 1 && next_block && end < self.last_block {
            // A peer that already holds block `end` (only its ACK was lost) takes `end + 1`
            // and ACKs it, so the transfer moves on without waiting for the peer's timer.
            // When the ACKs of blocks sent ahead were lost too, the peer may expect any block
            // up to one past the highest sent; it answers a block it does not expect only
            // once per position (`tftp_last_nack`), so without that block the transfer would
            // wait for the peer's own 5 s timer. A few blocks ahead go along, each ignored by
            // a peer that does not expect it.
            let upto = (self.sent_high + 1)
                .min(end + NEXT_BLOCKS_AHEAD)
                .min(self.last_block);
            for next in end + 1..=upto.max(end + 1) {
                if self.sent_high < next {
                    self.sent_high = next;
                } else {
                    self.stats.data_resent += 1;
                }
                self.send_block(next, out);
                check.upto = next;
            }
        }
        self.resend_check = Some(check);
        self.deadline = now + self.timer.timeout();
    }
}

/// How many sent datagrams a [`Sender`] keeps for its next blocks: a window, the blocks a
/// resend sends ahead and a learning repeat, capped so a huge window does not pin memory.
fn spares_kept(windowsize: u16) -> usize {
    usize::from(windowsize.clamp(1, 64)) + NEXT_BLOCKS_AHEAD as usize + 1
}

/// Where received data goes: the receiver hands each in-order block's payload to the caller.
#[derive(Debug)]
pub struct Receiver {
    blksize: usize,
    window: u64,
    rollover: RolloverTo,
    received: u64,
    last_acked: u64,
    reacked: Option<u64>,
    gap_acked: Option<u64>,
    /// The datagram to resend while nothing has arrived (ACK 0, an OACK, or the last ACK).
    last_sent: Option<Vec<u8>>,
    heard_any: bool,
    first_sends: u32,
    bytes: u64,
    limit: Option<u64>,
    dally_until: Option<Instant>,
    sent_at: Option<Instant>,
    deadline: Instant,
    last_heard: Instant,
    timer: RetransmitTimer,
    timing: Timing,
    status: Status,
    stats: Stats,
}

impl Receiver {
    /// Starts receiving. `first` is what opens the transfer from this side and is resent
    /// until DATA 1 arrives: ACK 0 or an OACK for a server's write transfer, ACK 0 after a
    /// client accepted an OACK, or nothing when the client's request itself is answered by
    /// DATA 1 (the client driver resends the request).
    pub fn start(
        agreed: &Agreed,
        rollover: RolloverTo,
        first: Option<Vec<u8>>,
        limit: Option<u64>,
        timing: Timing,
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) -> Self {
        let timer = RetransmitTimer::new(&timing, agreed.timeout);
        let mut receiver = Self {
            blksize: usize::from(agreed.blksize.max(1)),
            window: u64::from(agreed.windowsize.max(1)),
            rollover,
            received: 0,
            last_acked: 0,
            reacked: None,
            gap_acked: None,
            last_sent: None,
            heard_any: false,
            first_sends: 0,
            bytes: 0,
            limit,
            dally_until: None,
            sent_at: None,
            deadline: now + timer.timeout(),
            last_heard: now,
            timer,
            timing,
            status: Status::Running,
            stats: Stats::default(),
        };
        if let Some(first) = first {
            receiver.first_sends = 1;
            out.push(first.clone());
            receiver.last_sent = Some(first);
            receiver.sent_at = Some(now);
        }
        receiver
    }

    /// Where the transfer stands. [`Status::Complete`] is reached when the final block
    /// arrives; [`Receiver::deadline`] stays set while the receiver dallies.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes received in order so far.
    pub fn bytes_done(&self) -> u64 {
        self.bytes
    }

    /// When [`Receiver::on_timer`] wants to be called; `None` once nothing is left to do,
    /// dallying included.
    pub fn deadline(&self) -> Option<Instant> {
        match (&self.status, self.dally_until) {
            (Status::Running, _) => Some(self.deadline),
            (Status::Complete, Some(until)) => Some(until),
            _ => None,
        }
    }

    fn send_ack(&mut self, block: u64, now: Instant, out: &mut Vec<Vec<u8>>) {
        let ack = ack_datagram(self.rollover.wire(block));
        out.push(ack.clone());
        self.last_sent = Some(ack);
        self.last_acked = block;
        self.stats.acks_sent += 1;
        self.sent_at = Some(now);
    }

    /// Feeds a packet from the transfer's peer. Returns the payload of a new in-order block,
    /// which the caller stores.
    pub fn on_packet<'p>(
        &mut self,
        packet: &Packet<'p>,
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) -> Option<&'p [u8]> {
        match &self.status {
            Status::Running => {}
            Status::Complete if self.dally_until.is_some() => {
                // Dallying (RFC 1350 §6): the final ACK was lost; the sender repeats the
                // final DATA, so ACK it again.
                if let Packet::Data { block, .. } = packet
                    && self.rollover.nearest(*block, self.received) == self.received
                {
                    self.send_ack(self.received, now, out);
                }
                return None;
            }
            _ => return None,
        }
        match packet {
            Packet::Data { block, data } => self.on_data(*block, data, now, out),
            Packet::Error { code, message } => {
                self.status = Status::Failed(TransferFailure::PeerError {
                    code: *code,
                    text: escape_text(message),
                });
                None
            }
            Packet::Ack { .. } | Packet::Oack { .. } => {
                out.push(error_datagram(
                    ErrorCode::ILLEGAL_OPERATION,
                    "only DATA is expected on a write transfer",
                ));
                self.status = Status::Failed(TransferFailure::AckOnWriteTransfer);
                None
            }
            Packet::Rrq(_) | Packet::Wrq(_) => {
                self.stats.ignored += 1;
                None
            }
        }
    }

    fn on_data<'p>(
        &mut self,
        wire: u16,
        data: &'p [u8],
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) -> Option<&'p [u8]> {
        if data.len() > self.blksize {
            // Sized from the negotiated value, never trusting the packet (the libcurl
            // CVE-2019-5482 class).
            out.push(error_datagram(
                ErrorCode::ILLEGAL_OPERATION,
                "block larger than the agreed block size",
            ));
            self.status = Status::Failed(TransferFailure::OversizedBlock {
                len: data.len(),
                blksize: self.blksize,
            });
            return None;
        }
        let abs = self.rollover.nearest(wire, self.received + 1);
        if abs != self.received + 1 {
            self.last_heard = now;
            self.stats.ignored += 1;
            if abs <= self.received {
                // A repeat of a block we hold: our ACK was probably lost. Answer once per
                // position (U-Boot does the same), so a sender with the Sorcerer's Apprentice
                // bug cannot start an ACK/DATA storm; the timer covers later losses.
                if self.reacked != Some(self.received) && self.heard_any {
                    self.reacked = Some(self.received);
                    self.send_ack(self.received, now, out);
                }
            } else if self.window > 1 && self.gap_acked != Some(self.received) {
                // RFC 7440 §4: one ACK of the last in-order block per gap, not one per
                // out-of-order block (U-Boot's `tftp_last_nack`).
                self.gap_acked = Some(self.received);
                self.send_ack(self.received, now, out);
            }
            return None;
        }
        if let Some(sent_at) = self.sent_at.take()
            && self.first_sends <= 1
            && self.timer.backoff == 0
        {
            self.timer.sample(now.saturating_duration_since(sent_at));
        }
        self.first_sends = 0;
        self.heard_any = true;
        self.last_heard = now;
        self.timer.backoff = 0;
        self.received = abs;
        self.bytes += data.len() as u64;
        if let Some(limit) = self.limit
            && self.bytes > limit
        {
            out.push(error_datagram(
                ErrorCode::DISK_FULL,
                &format!("transfer exceeds the limit of {limit} bytes"),
            ));
            self.status = Status::Failed(TransferFailure::OverLimit { limit });
            return None;
        }
        let last = data.len() < self.blksize;
        if last || self.received - self.last_acked >= self.window {
            self.send_ack(self.received, now, out);
        }
        if last {
            self.status = Status::Complete;
            self.dally_until = Some(now + self.timing.dally);
        } else {
            self.deadline = now + self.timer.timeout();
        }
        Some(data)
    }

    /// Lets time pass: resends the last ACK (or the opening packet) when the timer expires,
    /// gives up after the silence limit, and ends dallying.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        if let (Status::Complete, Some(until)) = (&self.status, self.dally_until) {
            if now >= until {
                self.dally_until = None;
            }
            return;
        }
        if self.status.is_over() || now < self.deadline {
            return;
        }
        let silent = now.saturating_duration_since(self.last_heard);
        if silent >= self.timing.give_up_after {
            self.status = Status::Failed(TransferFailure::StoppedSending { silent });
            return;
        }
        if !self.heard_any && self.first_sends >= self.timing.max_first_sends {
            self.status = Status::Failed(TransferFailure::NoFirstAnswer {
                sends: self.first_sends,
            });
            return;
        }
        self.stats.timeouts += 1;
        self.timer.backoff += 1;
        self.sent_at = None;
        if let Some(last) = self.last_sent.clone() {
            if self.heard_any {
                self.stats.acks_sent += 1;
            } else {
                self.first_sends += 1;
            }
            out.push(last);
        }
        self.deadline = now + self.timer.timeout();
    }
}

#[cfg(test)]
mod tests;
