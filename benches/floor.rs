//! The floor: the least work any TFTP server can do for a read request, as a contender of its
//! own in the `uboot` and `peers` benchmarks, so that their tables show how much of the best
//! daemon's time no server can win back on this machine.
//!
//! A minimal read-only responder (RFC 1350, with the options of RFC 2347, 2348, 2349 and 7440),
//! written plainly with a blocking `std` UDP socket: the first request for a file at a block
//! size reads it whole and splits it into ready DATA datagrams (later requests reuse them), so
//! nothing is read, checked or hashed during a transfer; each window goes out with one `send`
//! per datagram, and each ACK is waited for with one blocking `recv` (no spinning, no poll).
//! It has no timer but the resend of the last window after the granted timeout (1 s unless the
//! client asks another), serves one transfer at a time, and checks nothing it need not: it is
//! a measuring stick, not a server anyone should use.
//!
//! It runs as its own process, so that its CPU time is its own: the benchmark binary runs
//! itself again with `--floor ROOT BIND` ([`Floor::start`]; [`serve_if_asked`] at the top of
//! its `main` takes that turn), which prints the address it bound on stdout once it listens.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, ErrorKind, Write as _};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rescue_wizard::tftp::packet::{Packet, RawOption};

use super::support::{self, Proc};

/// The floor's name in the tables.
pub const FLOOR: &str = "floor";
/// The first argument that makes the benchmark binary the floor.
const FLAG: &str = "--floor";
/// The largest block RFC 2348 allows.
const MAX_BLKSIZE: u16 = 65_464;
/// The largest window granted: the limit our server gets in the benchmarks.
const MAX_WINDOW: u16 = 64;
/// RFC 1350's block size, when the client asks for none.
const DEFAULT_BLKSIZE: u16 = 512;
/// How long a window stays unacknowledged before it is sent again, unless the client asks
/// for another timeout (RFC 2349).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Timeouts in a row after which the client is taken to be gone and the transfer dropped.
const GIVE_UP_AFTER: usize = 5;

/// A running floor, its process killed on drop (by [`Proc`]).
pub struct Floor {
    /// The process.
    pub proc: Proc,
    /// Where it listens, from its readiness line.
    pub addr: SocketAddr,
}

impl Floor {
    /// Runs `launcher` (this benchmark's own binary, or `ip netns exec NS` followed by it:
    /// see [`exe`]) as the floor serving `root` on `bind`, and waits for the address it prints.
    pub fn start(mut launcher: Command, root: &Path, bind: &str) -> Floor {
        launcher.arg(FLAG).arg(root).arg(bind).stdin(Stdio::null());
        let proc = Proc::spawn(&mut launcher);
        let addr = proc
            .next_line(support::READY_DEADLINE)
            .and_then(|line| line.trim().parse::<SocketAddr>().ok())
            .unwrap_or_else(|| {
                panic!(
                    "the floor printed no address within {:?}\n{}",
                    support::READY_DEADLINE,
                    proc.diagnostics()
                )
            });
        Floor { proc, addr }
    }
}

/// This benchmark's own binary, which [`Floor::start`] runs again as the floor.
pub fn exe() -> PathBuf {
    std::env::current_exe().expect("the benchmark's own path")
}

/// When this process was started as the floor (`--floor ROOT BIND`), serves until it is
/// killed and never returns; otherwise returns at once.
pub fn serve_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(FLAG) {
        return;
    }
    let (Some(root), Some(bind)) = (args.get(2), args.get(3)) else {
        eprintln!("usage: {} {FLAG} ROOT BIND (e.g. 127.0.0.1:0)", args[0]);
        std::process::exit(2);
    };
    let err = serve(Path::new(root), bind);
    eprintln!("floor on {bind:?}: {err}");
    std::process::exit(1);
}

/// The ratio cells of one table row, from the medians (`None` where a contender has none):
/// ours over the best peer, the floor over the best peer, ours over the floor. `names[i]`
/// names `medians[i]`; ours comes first, the floor is [`FLOOR`], every other one is a peer.
pub fn ratio_cells(names: &[&str], medians: &[Option<Duration>]) -> String {
    let fastest = |wanted: &dyn Fn(&str) -> bool| {
        names
            .iter()
            .zip(medians)
            .skip(1)
            .filter(|(name, _)| wanted(name))
            .filter_map(|(_, median)| *median)
            .min()
    };
    let best_peer = fastest(&|name| name != FLOOR);
    let floor = fastest(&|name| name == FLOOR);
    let ours = medians.first().copied().flatten();
    let ratio = |over: Option<Duration>, under: Option<Duration>| match (over, under) {
        (Some(over), Some(under)) => format!("{:.2}", over.as_secs_f64() / under.as_secs_f64()),
        _ => "n/a".to_owned(),
    };
    let mut cells = ratio(ours, best_peer);
    let _ = write!(
        cells,
        " | {} | {}",
        ratio(floor, best_peer),
        ratio(ours, floor)
    );
    cells
}

/// Answers read requests on `bind` one at a time, for good; returns only the error that
/// stopped it from listening.
fn serve(root: &Path, bind: &str) -> io::Error {
    let listener = match UdpSocket::bind(bind) {
        Ok(socket) => socket,
        Err(err) => return err,
    };
    match listener.local_addr() {
        Ok(addr) => println!("{addr}"),
        Err(err) => return err,
    }
    if let Err(err) = io::stdout().flush() {
        return err;
    }
    // Each file split at each block size once: DATA datagrams, header included.
    let mut prepared: HashMap<(PathBuf, u16), Vec<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let (len, client) = match listener.recv_from(&mut buf) {
            Ok(got) => got,
            Err(err) => {
                eprintln!("floor: receiving a request: {err}");
                continue;
            }
        };
        let Some(request) = Request::parse(&buf[..len]) else {
            continue;
        };
        if let Err(err) = answer(&listener, root, client, &request, &mut prepared) {
            eprintln!("floor: transfer of {:?} to {client}: {err}", request.file);
        }
    }
}

/// One transfer, from a socket of its own (a new port, as RFC 1350 section 4 asks).
fn answer(
    listener: &UdpSocket,
    root: &Path,
    client: SocketAddr,
    request: &Request,
    prepared: &mut HashMap<(PathBuf, u16), Vec<Vec<u8>>>,
) -> io::Result<()> {
    let socket = UdpSocket::bind(SocketAddr::new(listener.local_addr()?.ip(), 0))?;
    socket.connect(client)?;
    let relative = Path::new(request.file.trim_start_matches('/'));
    if relative
        .components()
        .any(|part| !matches!(part, Component::Normal(_)))
    {
        return send_error(&socket, 2, "only names inside the served folder");
    }
    let path = root.join(relative);
    let key = (path, request.grant.blksize);
    if !prepared.contains_key(&key) {
        match std::fs::read(&key.0) {
            Ok(data) => {
                let blocks = datagrams(&data, request.grant.blksize);
                prepared.insert(key.clone(), blocks);
            }
            Err(err) => return send_error(&socket, 1, &err.to_string()),
        }
    }
    let blocks = &prepared[&key];
    let oack = request.oack(blocks);
    socket.set_read_timeout(Some(request.grant.timeout))?;
    Transfer {
        socket: &socket,
        blocks,
        window: usize::from(request.grant.window),
    }
    .run(oack.as_deref())
}

/// ERROR (opcode 5) with `code` and `message` (RFC 1350 section 5).
fn send_error(socket: &UdpSocket, code: u8, message: &str) -> io::Result<()> {
    let mut packet = vec![0, 5, 0, code];
    packet.extend_from_slice(message.as_bytes());
    packet.push(0);
    socket.send(&packet).map(drop)
}

/// `data` as DATA datagrams of `blksize`, numbered from 1 and wrapping past 65535 to 0 (as
/// U-Boot, tftpd-hpa and atftpd count), the last one shorter than a block (empty when the
/// size is a multiple of the block), so that it marks the end (RFC 1350 section 6).
fn datagrams(data: &[u8], blksize: u16) -> Vec<Vec<u8>> {
    let size = usize::from(blksize);
    let count = data.len() / size + 1;
    (0..count)
        .map(|at| {
            let block = u16::try_from((at + 1) % 65_536).unwrap_or(0);
            let payload = &data[(at * size).min(data.len())..((at + 1) * size).min(data.len())];
            let mut datagram = Vec::with_capacity(4 + payload.len());
            datagram.extend_from_slice(&[0, 3]);
            datagram.extend_from_slice(&block.to_be_bytes());
            datagram.extend_from_slice(payload);
            datagram
        })
        .collect()
}

/// What a read request asked for, and what is granted.
struct Request {
    file: String,
    /// Whether any option we know was asked (then the answer is an OACK, RFC 2347).
    options: bool,
    /// Whether `tsize` was asked (RFC 2349: the answer carries the file's size).
    tsize: bool,
    grant: Grant,
}

/// The options granted, within the floor's limits.
struct Grant {
    blksize: u16,
    window: u16,
    /// `Some(seconds)` when the client asked for a timeout (RFC 2349).
    timeout_asked: Option<u8>,
    timeout: Duration,
}

impl Request {
    /// A read request, parsed by the project's own codec (`tftp::packet`): the floor's
    /// least work is in its transfers, not here. Anything but an RRQ is `None` (and ignored:
    /// the floor answers reads only). The mode is not looked at: every benchmark fetches octet.
    fn parse(packet: &[u8]) -> Option<Request> {
        let Ok(Packet::Rrq(rrq)) = Packet::parse(packet) else {
            return None;
        };
        let mut request = Request {
            file: String::from_utf8_lossy(&rrq.filename).into_owned(),
            options: false,
            tsize: false,
            grant: Grant {
                blksize: DEFAULT_BLKSIZE,
                window: 1,
                timeout_asked: None,
                timeout: DEFAULT_TIMEOUT,
            },
        };
        for option in &rrq.options {
            let Ok(value) = option.value.parse::<u64>() else {
                continue;
            };
            let grant = &mut request.grant;
            let clamp = |high: u16| u16::try_from(value.min(u64::from(high))).unwrap_or(high);
            match option.name.to_ascii_lowercase().as_str() {
                // RFC 2348: 8 to 65464; a larger ask is granted the largest.
                "blksize" if value >= 8 => grant.blksize = clamp(MAX_BLKSIZE),
                // RFC 7440: 1 to 65535; granted up to the floor's limit.
                "windowsize" if value >= 1 => grant.window = clamp(MAX_WINDOW),
                // RFC 2349: 1 to 255 seconds, granted as asked.
                "timeout" if (1..=255).contains(&value) => {
                    let seconds = u8::try_from(value).ok()?;
                    grant.timeout_asked = Some(seconds);
                    grant.timeout = Duration::from_secs(value);
                }
                "tsize" => request.tsize = true,
                _ => continue,
            }
            request.options = true;
        }
        Some(request)
    }

    /// The OACK granting what was asked (`None` when nothing was: DATA 1 answers then).
    fn oack(&self, blocks: &[Vec<u8>]) -> Option<Vec<u8>> {
        if !self.options {
            return None;
        }
        let grant = &self.grant;
        let mut options = Vec::new();
        if grant.blksize != DEFAULT_BLKSIZE {
            options.push(RawOption::new("blksize", grant.blksize.to_string()));
        }
        if grant.window != 1 {
            options.push(RawOption::new("windowsize", grant.window.to_string()));
        }
        if let Some(seconds) = grant.timeout_asked {
            options.push(RawOption::new("timeout", seconds.to_string()));
        }
        if self.tsize {
            let size: usize = blocks.iter().map(|datagram| datagram.len() - 4).sum();
            options.push(RawOption::new("tsize", size.to_string()));
        }
        Some(Packet::Oack { options }.to_bytes())
    }
}

/// One transfer's sending side: the DATA datagrams, the window, the connected socket.
struct Transfer<'a> {
    socket: &'a UdpSocket,
    /// `blocks[i]` is DATA block `i + 1` (counted past the rollover).
    blocks: &'a [Vec<u8>],
    window: usize,
}

impl Transfer<'_> {
    /// Sends the OACK (or DATA 1 when there is none), then a window per new ACK, until the
    /// last block is acknowledged, the client sends an ERROR, or it stays silent
    /// [`GIVE_UP_AFTER`] timeouts in a row.
    fn run(&self, oack: Option<&[u8]>) -> io::Result<()> {
        // Blocks are counted from 1 without wrapping; `acked` is the newest one acknowledged
        // (`None` until the ACK 0 that answers an OACK), `sent` the newest one sent.
        let mut acked = None;
        let mut sent = 0;
        if let Some(oack) = oack {
            self.send(oack);
        } else {
            acked = Some(0);
            sent = self.send_window(1);
        }
        // The duplicate ACK already answered with a resend: one resend per duplicate block,
        // so that a delayed DATA does not double every later one (the Sorcerer's Apprentice,
        // RFC 1123 section 4.2.3.1).
        let mut resent_for = None;
        let mut silent = 0;
        let mut buf = [0u8; 1024];
        loop {
            let len = match self.socket.recv(&mut buf) {
                Ok(len) => len,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    silent += 1;
                    if silent >= GIVE_UP_AFTER {
                        return Err(io::Error::new(
                            ErrorKind::TimedOut,
                            "the client went silent",
                        ));
                    }
                    match acked {
                        None => self.send(oack.unwrap_or_default()),
                        Some(acked) => sent = self.send_window(acked + 1),
                    }
                    continue;
                }
                Err(err) => return Err(err),
            };
            silent = 0;
            if buf[..len.min(2)] == [0, 5] {
                return Ok(());
            }
            if len < 4 || buf[..2] != [0, 4] {
                continue;
            }
            // The block number holds the low 16 bits: the block meant is the newest one sent
            // (or 0) with those bits (RFC 1350 numbers wrap past 65535).
            let wire = u16::from_be_bytes([buf[2], buf[3]]);
            let back = usize::from(u16::try_from(sent % 65_536).unwrap_or(0).wrapping_sub(wire));
            let Some(block) = sent.checked_sub(back) else {
                continue;
            };
            if acked.is_none_or(|acked| block > acked) {
                acked = Some(block);
                if block == self.blocks.len() {
                    return Ok(());
                }
                // A whole window acknowledged, or part of one (the client missed the block
                // after `block`, RFC 7440 section 4): the next window starts after it.
                sent = self.send_window(block + 1);
                resent_for = None;
            } else if acked == Some(block) && block < sent && resent_for != Some(block) {
                // The client's resend of its ACK: what followed it was lost.
                sent = self.send_window(block + 1);
                resent_for = Some(block);
            }
        }
    }

    /// Sends blocks `first` onwards, a window's worth (fewer at the end); returns the last one
    /// sent.
    fn send_window(&self, first: usize) -> usize {
        let last = (first + self.window - 1).min(self.blocks.len());
        for datagram in &self.blocks[first - 1..last] {
            self.send(datagram);
        }
        last
    }

    /// One datagram out. One that cannot leave (a full buffer, a firewall's drop) is one lost
    /// on the way, as UDP allows: the timeout sends it again.
    fn send(&self, datagram: &[u8]) {
        let _ = self.socket.send(datagram);
    }
}
