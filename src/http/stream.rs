//! The uploader's thin driver: a `std::net::TcpStream` under our control. It carries the
//! [`Uploader`]'s outputs out and feeds back what happened; every decision is the machine's.
//!
//! - `TCP_NODELAY`: a write goes out at once, as one segment (no Nagle merging);
//! - an MSS cap (`TCP_MAXSEG`) of [`SEGMENT`] plus the 12 bytes of the timestamp option, so
//!   that no segment carries more than one of our writes whole, and a small send buffer
//!   (`SO_SNDBUF`), so that little can queue up;
//! - what the router acknowledged is what we wrote less the socket's send queue (unsent and
//!   unacknowledged bytes, `SIOCOUTQ`), asked of the kernel's socket diagnostics
//!   ([`super::send_queue`]);
//! - while our bytes are out, the socket is polled with a timeout of [`ACK_POLL`] (`ppoll`,
//!   a high-resolution timer), not read under `SO_RCVTIMEO`, which the kernel counts in
//!   ticks (4 ms at `CONFIG_HZ=250`): the next segment goes out within a fraction of a
//!   millisecond of the acknowledgement, not at the next tick. A page that acknowledges
//!   nothing for a while is polled less and less often, down to once per [`ACK_POLL_MAX`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::page::{Page, SEGMENT};
use super::send_queue::SendQueue;
pub use super::send_queue::send_queue;
use super::upload::{Failure, Input, Note, Output, Uploaded, Uploader};
use crate::net::io_failure::IoFailure;

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Room for the TCP timestamp option (RFC 7323 §3), which Linux takes from the MSS.
#[cfg(any(target_os = "linux", target_os = "android"))]
const TIMESTAMP_OPTION: u32 = 12;

/// How often the send queue is read while our bytes are out: the next segment waits on it.
/// The double of u-boot_mod's page acknowledges a pair of segments within 26 µs (median); a
/// router's uIP within a millisecond or so.
const ACK_POLL: Duration = Duration::from_micros(200);

/// The longest poll while our bytes are out: each poll that found nothing new acknowledged
/// doubles the next one up to this, so a page that stalls costs a look every few
/// milliseconds, not 5000 a second.
const ACK_POLL_MAX: Duration = Duration::from_micros(3200);

/// The longest the loop sleeps when nothing is out.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Uploads `image` as `file_name` to `page`, telling each [`Note`] to `tell`, until the page
/// answers, the upload gives up, or `stop` is set (then `None`).
pub fn upload(
    page: Page,
    image: Arc<[u8]>,
    file_name: &str,
    stop: &AtomicBool,
    mut tell: impl FnMut(Note),
) -> Option<Result<Uploaded, Failure>> {
    let mut io = Io {
        addr: page.addr,
        conn: None,
        inputs: VecDeque::new(),
        result: None,
    };
    let mut machine = Uploader::new(page, image, file_name, Instant::now());
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let outputs = machine.poll(Instant::now());
        io.carry(outputs, &mut tell);
        while let Some(input) = io.inputs.pop_front() {
            let outputs = machine.handle(input, Instant::now());
            io.carry(outputs, &mut tell);
        }
        if machine.finished() {
            break;
        }
        let wait = machine
            .deadline()
            .map_or(IDLE_POLL, |d| d.saturating_duration_since(Instant::now()))
            .clamp(ACK_POLL, IDLE_POLL);
        match io.conn.as_mut() {
            Some(c) => {
                let input = if machine.awaits_acks() {
                    c.read_soon(&mut buf)
                } else {
                    c.read(&mut buf, wait)
                };
                if let Some(input) = input {
                    io.inputs.push_back(input);
                }
                if machine.awaits_acks() {
                    match c.acked() {
                        Ok(bytes) => io.inputs.push_back(Input::Acked(bytes)),
                        Err(err) => io.inputs.push_back(Input::Lost(err.to_string())),
                    }
                }
            }
            // Pacing between connection attempts; nothing else can happen meanwhile.
            None => std::thread::sleep(wait),
        }
    }
    if let Some(c) = io.conn.take() {
        c.close();
    }
    io.result
}

/// What the driver holds between turns.
struct Io {
    addr: SocketAddr,
    conn: Option<Connection>,
    /// Results of carrying outputs out, for the machine.
    inputs: VecDeque<Input>,
    result: Option<Result<Uploaded, Failure>>,
}

impl Io {
    fn carry(&mut self, outputs: Vec<Output>, tell: &mut impl FnMut(Note)) {
        for output in outputs {
            match output {
                Output::Connect => match Connection::open(self.addr) {
                    Ok(c) => {
                        self.conn = Some(c);
                        self.inputs.push_back(Input::Connected);
                    }
                    Err(err) => self
                        .inputs
                        .push_back(Input::ConnectFailed(IoFailure::from(&err))),
                },
                Output::Send(bytes) => {
                    if let Some(c) = self.conn.as_mut()
                        && let Err(err) = c.send(&bytes)
                    {
                        self.inputs.push_back(Input::Lost(err.to_string()));
                    }
                }
                Output::Close => {
                    if let Some(c) = self.conn.take() {
                        c.close();
                    }
                }
                Output::Note(Note::Finished(end)) => {
                    tell(Note::Finished(end.clone()));
                    self.result = Some(end);
                }
                Output::Note(note) => tell(note),
            }
        }
    }
}

/// One connection to the page.
struct Connection {
    stream: TcpStream,
    written: u64,
    queue: SendQueue,
    /// The most the router had acknowledged at the last look.
    acked: u64,
    /// Looks in a row that found nothing new acknowledged.
    quiet_looks: u32,
}

impl Connection {
    fn open(addr: SocketAddr) -> io::Result<Self> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_tcp_nodelay(true)?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        socket.set_tcp_mss(SEGMENT as u32 + TIMESTAMP_OPTION)?;
        // The kernel doubles it and keeps a floor; small either way (socket(7)).
        socket.set_send_buffer_size(4 * SEGMENT)?;
        socket.connect_timeout(&addr.into(), CONNECT_TIMEOUT)?;
        let stream: TcpStream = socket.into();
        Ok(Self {
            stream,
            written: 0,
            queue: SendQueue::new(),
            acked: 0,
            quiet_looks: 0,
        })
    }

    /// One write: one segment.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// How long the next poll for an acknowledgement waits (see [`ack_poll`]).
    fn ack_poll(&self) -> Duration {
        ack_poll(self.quiet_looks)
    }

    /// Reads what came within [`Connection::ack_poll`], waited for with a high-resolution
    /// timer.
    #[cfg(target_os = "linux")]
    fn read_soon(&mut self, buf: &mut [u8]) -> Option<Input> {
        use nix::poll::{PollFd, PollFlags, ppoll};
        use nix::sys::time::TimeSpec;
        use std::os::fd::AsFd as _;
        let wait = self.ack_poll();
        let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
        match ppoll(&mut fds, Some(TimeSpec::from_duration(wait)), None) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => None,
            Ok(_) => {
                if self.stream.set_nonblocking(true).is_err() {
                    return Some(Input::Lost("the connection's socket failed".into()));
                }
                let read = self.stream.read(buf);
                if self.stream.set_nonblocking(false).is_err() {
                    return Some(Input::Lost("the connection's socket failed".into()));
                }
                Self::input(read, buf)
            }
            Err(err) => Some(Input::Lost(err.to_string())),
        }
    }

    /// Reads what came within [`Connection::ack_poll`] (or the socket's shortest receive
    /// timeout).
    #[cfg(not(target_os = "linux"))]
    fn read_soon(&mut self, buf: &mut [u8]) -> Option<Input> {
        self.read(buf, self.ack_poll())
    }

    /// Reads what came within `wait`: an input, or `None` when nothing did.
    fn read(&mut self, buf: &mut [u8], wait: Duration) -> Option<Input> {
        if self
            .stream
            .set_read_timeout(Some(wait.max(ACK_POLL)))
            .is_err()
        {
            return Some(Input::Lost("the connection's socket failed".into()));
        }
        let read = self.stream.read(buf);
        Self::input(read, buf)
    }

    /// What a read came to: an input, or `None` when nothing came.
    fn input(read: io::Result<usize>, buf: &[u8]) -> Option<Input> {
        match read {
            Ok(0) => Some(Input::Closed),
            Ok(n) => Some(Input::Received(buf[..n].to_vec())),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                None
            }
            Err(err) => Some(Input::Lost(err.to_string())),
        }
    }

    /// Bytes the router acknowledged: written less the send queue.
    fn acked(&mut self) -> io::Result<u64> {
        let acked = self.written.saturating_sub(self.queue.of(&self.stream)?);
        if acked > self.acked {
            self.acked = acked;
            self.quiet_looks = 0;
        } else {
            self.quiet_looks = self.quiet_looks.saturating_add(1);
        }
        Ok(acked)
    }

    fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// How long a poll for an acknowledgement waits after `quiet_looks` looks in a row found
/// nothing new acknowledged: [`ACK_POLL`], doubled for each, up to [`ACK_POLL_MAX`].
fn ack_poll(quiet_looks: u32) -> Duration {
    ACK_POLL
        .saturating_mul(1u32 << quiet_looks.min(8))
        .min(ACK_POLL_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_that_acknowledges_nothing_is_looked_at_less_and_less_often() {
        let waits: Vec<u128> = [0, 1, 2, 3, 4, 5, 40, u32::MAX]
            .into_iter()
            .map(|quiet| ack_poll(quiet).as_micros())
            .collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 3200, 3200, 3200]);
    }
}
