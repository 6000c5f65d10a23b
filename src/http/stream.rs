//! The uploader's thin driver: a `std::net::TcpStream` under our control. It carries the
//! [`Uploader`]'s outputs out and feeds back what happened; every decision is the machine's.
//!
//! - `TCP_NODELAY`: a write goes out at once, as one segment (no Nagle merging);
//! - an MSS cap (`TCP_MAXSEG`) of [`SEGMENT`] plus the 12 bytes of the timestamp option, so
//!   that no segment carries more than one of our writes whole, and a small send buffer
//!   (`SO_SNDBUF`), so that little can queue up;
//! - what the router acknowledged is what we wrote less the socket's send queue (unsent and
//!   unacknowledged bytes, `SIOCOUTQ`), read from the kernel's socket table (`tx_queue` of
//!   /proc/net/tcp: `write_seq - snd_una`), since this crate forbids `unsafe` and so the
//!   ioctl itself.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::page::{Page, SEGMENT};
use super::upload::{Failure, Input, Note, Output, Uploaded, Uploader};
use crate::net::io_failure::IoFailure;

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Room for the TCP timestamp option (RFC 7323 §3), which Linux takes from the MSS.
#[cfg(any(target_os = "linux", target_os = "android"))]
const TIMESTAMP_OPTION: u32 = 12;

/// How often the send queue is read while our bytes are out: the next segment waits on it.
const ACK_POLL: Duration = Duration::from_millis(1);

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
                let wait = if machine.awaits_acks() {
                    ACK_POLL
                } else {
                    wait
                };
                if let Some(input) = c.read(&mut buf, wait) {
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
        Ok(Self { stream, written: 0 })
    }

    /// One write: one segment.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
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
        match self.stream.read(buf) {
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
    fn acked(&self) -> io::Result<u64> {
        Ok(self.written.saturating_sub(send_queue(&self.stream)?))
    }

    fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Bytes written but not yet acknowledged on `stream` (the `SIOCOUTQ` figure).
#[cfg(target_os = "linux")]
pub fn send_queue(stream: &TcpStream) -> io::Result<u64> {
    let local = stream.local_addr()?;
    let peer = stream.peer_addr()?;
    // The calling thread's own table: a thread may have entered another network namespace
    // than its process's (setns(2)), and /proc/net follows the process.
    let table = match local {
        SocketAddr::V4(_) => "/proc/thread-self/net/tcp",
        SocketAddr::V6(_) => "/proc/thread-self/net/tcp6",
    };
    let text = std::fs::read_to_string(table)?;
    let (l, p) = (proc_addr(local), proc_addr(peer));
    text.lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&l.as_str()) && fields.get(2) == Some(&p.as_str()))
                .then(|| fields.get(4).copied())
                .flatten()
        })
        .and_then(|queues| queues.split(':').next())
        .and_then(|tx| u64::from_str_radix(tx, 16).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the connection is gone"))
}

/// Elsewhere the send queue is not read: what was written counts as acknowledged.
#[cfg(not(target_os = "linux"))]
pub fn send_queue(_stream: &TcpStream) -> io::Result<u64> {
    Ok(0)
}

/// An address as the kernel's socket table prints it: each 32-bit word of the address in
/// the machine's byte order, then the port, in hex (`net/ipv4/tcp_ipv4.c`, `get_tcp4_sock`).
#[cfg(target_os = "linux")]
fn proc_addr(addr: SocketAddr) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match addr {
        SocketAddr::V4(a) => {
            let _ = write!(out, "{:08X}", u32::from_ne_bytes(a.ip().octets()));
        }
        SocketAddr::V6(a) => {
            for word in a.ip().octets().chunks_exact(4) {
                let _ = write!(
                    out,
                    "{:08X}",
                    u32::from_ne_bytes([word[0], word[1], word[2], word[3]])
                );
            }
        }
    }
    let _ = write!(out, ":{:04X}", addr.port());
    out
}
