//! The loop that moves one transfer's datagrams between its socket and its session machine.
//!
//! Each transfer runs on its own named thread with a blocking socket: in lock-step TFTP every
//! block waits for a round trip, and a blocking `recv` wakes the moment the ACK lands, with no
//! reactor hop in between (measured in docs/performance-history.md). The server and client drivers
//! are async at their edges and hand each transfer to this loop.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::event::{EventSender, TransferEvent, TransferId};
use super::packet::{ErrorCode, MAX_DATAGRAM, Packet, error_datagram};
use super::session::{Receiver, Sender, Stats, Status, TransferFailure};

#[cfg(target_os = "linux")]
mod batch;
#[cfg(unix)]
mod spin;
#[cfg(unix)]
use spin::SpinChoice;

/// How often a waiting transfer looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);
/// Progress events are coalesced to at most one per this interval.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// At most this many ERROR 5 replies to strangers a second, per transfer.
const STRAY_REPLIES_PER_SECOND: u32 = 10;
/// At most this many send-failure events a second, per transfer.
const SEND_FAILURES_REPORTED_PER_SECOND: u32 = 2;

/// The session machine a transfer runs, with where received data goes.
pub(crate) enum Machine<'a> {
    /// Sending DATA.
    Send(Sender),
    /// Receiving DATA; each new in-order block's payload is handed to the sink.
    Receive(Receiver, &'a mut dyn FnMut(&[u8]) -> io::Result<()>),
}

impl Machine<'_> {
    fn deadline(&self) -> Option<Instant> {
        match self {
            Machine::Send(s) => s.deadline(),
            Machine::Receive(r, _) => r.deadline(),
        }
    }

    fn status(&self) -> &Status {
        match self {
            Machine::Send(s) => s.status(),
            Machine::Receive(r, _) => r.status(),
        }
    }

    fn bytes_done(&self) -> u64 {
        match self {
            Machine::Send(s) => s.bytes_done(),
            Machine::Receive(r, _) => r.bytes_done(),
        }
    }

    fn stats(&self) -> Stats {
        match self {
            Machine::Send(s) => s.stats(),
            Machine::Receive(r, _) => r.stats(),
        }
    }

    fn on_packet(
        &mut self,
        packet: &Packet<'_>,
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), TransferFailure> {
        match self {
            Machine::Send(s) => {
                s.on_packet(packet, now, out);
                Ok(())
            }
            Machine::Receive(r, sink) => {
                let queued = out.len();
                if let Some(data) = r.on_packet(packet, now, out)
                    && let Err(err) = sink(data)
                {
                    // Data that could not be stored is never acknowledged: the ACK the
                    // machine queued for it gives way to the ERROR.
                    out.truncate(queued);
                    out.push(error_datagram(
                        ErrorCode::DISK_FULL,
                        "cannot store the data",
                    ));
                    return Err(TransferFailure::NotStored {
                        reason: err.to_string(),
                    });
                }
                Ok(())
            }
        }
    }

    /// A datagram from the peer's address that a heeding sender takes as the peer's words
    /// ([`Sender::heed_plain_text`]); `true` when it did.
    fn on_plain_text(&mut self, datagram: &[u8]) -> bool {
        match self {
            Machine::Send(s) => s.on_plain_text(datagram),
            Machine::Receive(..) => false,
        }
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        match self {
            Machine::Send(s) => s.on_timer(now, out),
            Machine::Receive(r, _) => r.on_timer(now, out),
        }
    }

    /// Empties `sent` once its datagrams are on their way; a sender keeps the buffers for
    /// its next blocks ([`Sender::recycle`]).
    fn recycle(&mut self, sent: &mut Vec<Vec<u8>>) {
        match self {
            Machine::Send(s) => s.recycle(sent),
            Machine::Receive(..) => sent.clear(),
        }
    }
}

/// The socket side of one transfer.
pub(crate) struct Link<'a> {
    /// The transfer's own socket (its TID).
    pub socket: &'a UdpSocket,
    /// The peer's address and port; nothing else is accepted.
    pub peer: SocketAddr,
    /// For events.
    pub id: TransferId,
    /// Where events go.
    pub events: &'a EventSender,
    /// Set to stop the transfer.
    pub stop: &'a AtomicBool,
    /// The total size, for progress events, when known.
    pub total: Option<u64>,
    /// Updated with the milliseconds since the given epoch whenever the peer is heard, so
    /// the server can tell a stalled transfer from a live one.
    pub heard: Option<(&'a AtomicU64, Instant)>,
}

/// How a driven transfer ended.
#[derive(Debug)]
pub(crate) struct Ended {
    /// The machine's final status (or a failure of this loop).
    pub status: Status,
    /// The machine's counters.
    pub stats: Stats,
    /// Bytes moved.
    pub bytes: u64,
}

/// Sends `initial`, then runs the machine until its transfer is over or the stop flag is
/// set. A receiver that still dallies is handed back for [`linger`], so the outcome can be
/// reported first.
pub(crate) fn drive<'m>(
    link: &Link<'_>,
    mut machine: Machine<'m>,
    initial: Vec<Vec<u8>>,
) -> (Ended, Machine<'m>) {
    let mut out = initial;
    let failure = run_loop(link, &mut machine, &mut out, true);
    let status = match failure {
        Some(reason) => Status::Failed(reason),
        None => machine.status().clone(),
    };
    let ended = Ended {
        status,
        stats: machine.stats(),
        bytes: machine.bytes_done(),
    };
    (ended, machine)
}

/// Keeps a finished receiver answering a repeated final DATA until its dally time is over
/// (RFC 1350 §6). Its data is all stored by then, so nothing is delivered.
pub(crate) fn linger(link: &Link<'_>, receiver: Receiver) {
    if *receiver.status() != Status::Complete {
        return;
    }
    let mut nothing = |_: &[u8]| Ok(());
    let mut machine = Machine::Receive(receiver, &mut nothing);
    let mut out = Vec::new();
    run_loop(link, &mut machine, &mut out, false);
}

impl Machine<'_> {
    /// The receiving session, without its sink (whose borrow ends here).
    pub(crate) fn into_receiver(self) -> Option<Receiver> {
        match self {
            Machine::Receive(receiver, _) => Some(receiver),
            Machine::Send(_) => None,
        }
    }

    /// What the sending peer said in plain text, if the sender heeded it.
    pub(crate) fn peer_said(&self) -> Option<&str> {
        match self {
            Machine::Send(sender) => sender.peer_said(),
            Machine::Receive(..) => None,
        }
    }
}

fn run_loop(
    link: &Link<'_>,
    machine: &mut Machine<'_>,
    out: &mut Vec<Vec<u8>>,
    until_over: bool,
) -> Option<TransferFailure> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut reporter = Reporter::new(link);
    let mut inbox = match Inbox::new(link.socket) {
        Ok(inbox) => inbox,
        Err(err) => {
            return Some(TransferFailure::Socket {
                error: err.to_string(),
            });
        }
    };
    let mut failure = None;
    if !out.is_empty() {
        inbox.sent();
    }
    reporter.flush(link, out);
    machine.recycle(out);
    while let Some(deadline) = machine.deadline() {
        if until_over && machine.status().is_over() {
            break;
        }
        if link.stop.load(Ordering::Relaxed) {
            failure = Some(TransferFailure::Stopped);
            break;
        }
        let now = Instant::now();
        let wait = deadline
            .saturating_duration_since(now)
            .clamp(Duration::from_millis(1), STOP_POLL);
        match inbox.receive(link.socket, &mut buf, wait) {
            Ok((len, from)) => {
                let now = Instant::now();
                let datagram = &buf[..len];
                // A bootloader's words (EX2700) may come from another port of its address.
                if from.ip() == link.peer.ip() && machine.on_plain_text(datagram) {
                    // The sender heeded it: the transfer is over with the peer's text.
                } else if from != link.peer {
                    reporter.stray(link, from, datagram);
                } else if let Ok(packet) = Packet::parse(datagram) {
                    let before = machine.stats();
                    if let Err(reason) = machine.on_packet(&packet, now, out) {
                        failure = Some(reason);
                    }
                    let after = machine.stats();
                    // Only a packet that moved the transfer counts as hearing from the peer: a
                    // client repeating an old ACK or DATA must not look alive to the server's
                    // slot keeping.
                    let moved = after.duplicate_acks == before.duplicate_acks
                        && after.ignored == before.ignored;
                    if moved && let Some((heard, epoch)) = link.heard {
                        heard.store(
                            now.duration_since(epoch).as_millis() as u64,
                            Ordering::Relaxed,
                        );
                    }
                }
                // A malformed datagram from the peer is dropped: the timer covers it.
                machine.on_timer(now, out);
            }
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                machine.on_timer(Instant::now(), out);
            }
            // ICMP errors and interrupted calls: the peer is not there yet, or the link
            // blinked. A lost packet, not the end; the timer decides.
            Err(_) => machine.on_timer(Instant::now(), out),
        }
        if !out.is_empty() {
            inbox.sent();
        }
        reporter.flush(link, out);
        machine.recycle(out);
        if until_over {
            reporter.progress(link, machine, false);
        }
        if failure.is_some() {
            break;
        }
    }
    if until_over {
        reporter.progress(link, machine, true);
    }
    failure
}

/// How a transfer waits for its peer's next datagram.
///
/// In lock-step TFTP every block waits for one round trip. On loopback the answer comes
/// within microseconds, sooner than a sleeping thread can be woken, and polling the socket
/// without blocking for up to [`SPIN`] before sleeping halves the round trip. Against a
/// bootloader it can cost more than it saves (the spin takes a core from the peer's
/// emulator, or burns a laptop's battery waiting for a board on Ethernet): [`SpinChoice`]
/// measures the round trips both ways and spins only while spinning pays (measured in
/// docs/performance-history.md, "Against a real U-Boot").
///
/// The socket stays blocking, with a receive timeout: a sleeping wait is one `recvfrom`, where
/// a `poll` before it cost a second system call per block (docs/performance-history.md,
/// 2026-12-01); the spin reads with `MSG_DONTWAIT`.
struct Inbox {
    sent_at: Option<Instant>,
    /// The socket's receive timeout as last set.
    read_timeout: Duration,
    #[cfg(unix)]
    choice: SpinChoice,
}

/// The longest busy wait for an answer.
#[cfg(unix)]
const SPIN: Duration = Duration::from_micros(50);

/// How much later than asked a sleeping wait may end: setting the socket's timeout is a
/// system call, made only when the wait shrinks by more than this (or doubles).
const TIMEOUT_SLACK: Duration = Duration::from_millis(2);

impl Inbox {
    fn new(socket: &UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(false)?;
        Ok(Self {
            sent_at: None,
            read_timeout: Duration::ZERO,
            #[cfg(unix)]
            choice: SpinChoice::new(),
        })
    }

    /// Notes that datagrams were just sent: an answer is due.
    fn sent(&mut self) {
        self.sent_at = Some(Instant::now());
    }

    #[cfg(unix)]
    fn receive(
        &mut self,
        socket: &UdpSocket,
        buf: &mut [u8],
        wait: Duration,
    ) -> io::Result<(usize, SocketAddr)> {
        let due = self.sent_at.take();
        let spin = due.is_some() && self.choice.spin_next();
        let got = match spin.then(|| spin_receive(socket, buf)).flatten() {
            Some(got) => got,
            None => self.sleep_receive(socket, buf, wait),
        };
        if let Some(sent_at) = due
            && got.is_ok()
        {
            self.choice.answered(spin, sent_at.elapsed(), SPIN);
        }
        got
    }

    #[cfg(not(unix))]
    fn receive(
        &mut self,
        socket: &UdpSocket,
        buf: &mut [u8],
        wait: Duration,
    ) -> io::Result<(usize, SocketAddr)> {
        self.sent_at = None;
        self.sleep_receive(socket, buf, wait)
    }

    /// Blocks in `recvfrom` until a datagram comes or about `wait` is over (then `WouldBlock`
    /// or `TimedOut`): at most [`TIMEOUT_SLACK`] later, or earlier when the wait grew.
    fn sleep_receive(
        &mut self,
        socket: &UdpSocket,
        buf: &mut [u8],
        wait: Duration,
    ) -> io::Result<(usize, SocketAddr)> {
        if wait + TIMEOUT_SLACK < self.read_timeout || wait > self.read_timeout * 2 {
            self.read_timeout = wait;
            socket.set_read_timeout(Some(wait))?;
        }
        socket.recv_from(buf)
    }
}

/// Reads the blocking socket without waiting for up to [`SPIN`]; `None` when nothing came.
#[cfg(unix)]
fn spin_receive(socket: &UdpSocket, buf: &mut [u8]) -> Option<io::Result<(usize, SocketAddr)>> {
    let start = Instant::now();
    loop {
        match receive_now(socket, buf) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            other => return Some(other),
        }
        if start.elapsed() >= SPIN {
            return None;
        }
        std::hint::spin_loop();
    }
}

/// One `recvmsg` with `MSG_DONTWAIT`: a datagram if one is queued, `WouldBlock` if not.
#[cfg(unix)]
fn receive_now(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    use nix::sys::socket::{MsgFlags, SockaddrStorage, recvmsg};
    use std::os::fd::AsRawFd;
    let mut iov = [io::IoSliceMut::new(buf)];
    let got =
        recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, None, MsgFlags::MSG_DONTWAIT)
            .map_err(io::Error::from)?;
    let from = got.address.and_then(|address| {
        address
            .as_sockaddr_in()
            .map(|v4| SocketAddr::from(*v4))
            .or_else(|| address.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6)))
    });
    match from {
        Some(from) => Ok((got.bytes, from)),
        None => Err(io::Error::other("a datagram without a sender's address")),
    }
}

/// Sends datagrams and reports, rate-limiting what could flood.
struct Reporter {
    #[cfg(target_os = "linux")]
    batch: batch::Batch,
    last_progress: Instant,
    reported_bytes: u64,
    reported_timeouts: u64,
    window_start: Instant,
    stray_replies: u32,
    send_failures: u32,
}

impl Reporter {
    fn new(link: &Link<'_>) -> Self {
        let now = Instant::now();
        #[cfg(not(target_os = "linux"))]
        let _ = link;
        Self {
            #[cfg(target_os = "linux")]
            batch: batch::Batch::new(link.peer),
            last_progress: now,
            reported_bytes: u64::MAX,
            reported_timeouts: 0,
            window_start: now,
            stray_replies: 0,
            send_failures: 0,
        }
    }

    fn tick(&mut self) {
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            self.window_start = Instant::now();
            self.stray_replies = 0;
            self.send_failures = 0;
        }
    }

    /// Sends `out` to the peer; the caller then hands the buffers back to the machine.
    fn flush(&mut self, link: &Link<'_>, out: &[Vec<u8>]) {
        #[cfg(target_os = "linux")]
        let batched = self.batch.send(link.socket, out);
        #[cfg(not(target_os = "linux"))]
        let batched = 0;
        for datagram in out.iter().skip(batched) {
            // EPERM from a local firewall, ENETUNREACH while the link is down, ENOBUFS: the
            // packet is lost, the transfer is not; the timer resends it.
            if let Err(err) = link.socket.send_to(datagram, link.peer) {
                self.tick();
                if self.send_failures < SEND_FAILURES_REPORTED_PER_SECOND {
                    self.send_failures += 1;
                    let _ = link.events.send(TransferEvent::SendFailed {
                        id: Some(link.id),
                        peer: link.peer,
                        error: err.to_string(),
                    });
                }
            }
        }
    }

    fn stray(&mut self, link: &Link<'_>, from: SocketAddr, datagram: &[u8]) {
        // RFC 1350 §4: ERROR 5 to the stranger, the transfer undisturbed. Never an ERROR in
        // answer to an ERROR, and only a few a second.
        if matches!(Packet::parse(datagram), Ok(Packet::Error { .. })) {
            return;
        }
        self.tick();
        if self.stray_replies >= STRAY_REPLIES_PER_SECOND {
            return;
        }
        self.stray_replies += 1;
        let _ = link.socket.send_to(
            &error_datagram(ErrorCode::UNKNOWN_TID, "unknown transfer ID"),
            from,
        );
        let _ = link
            .events
            .send(TransferEvent::StrayPacket { id: link.id, from });
    }

    fn progress(&mut self, link: &Link<'_>, machine: &Machine<'_>, last: bool) {
        let bytes = machine.bytes_done();
        let stats = machine.stats();
        let changed = bytes != self.reported_bytes || stats.timeouts != self.reported_timeouts;
        if !changed || (!last && self.last_progress.elapsed() < PROGRESS_EVERY) {
            return;
        }
        self.last_progress = Instant::now();
        if stats.timeouts != self.reported_timeouts {
            self.reported_timeouts = stats.timeouts;
            let _ = link.events.send(TransferEvent::Retransmitted {
                id: link.id,
                timeouts: stats.timeouts,
                resent: stats.data_resent,
            });
        }
        if bytes != self.reported_bytes {
            self.reported_bytes = bytes;
            let _ = link.events.send(TransferEvent::Progress {
                id: link.id,
                bytes,
                total: link.total,
                timeouts: stats.timeouts,
            });
        }
    }
}
