//! Doubles of bootloader upload pages, written from their published rules (research notes
//! §2.1 to §2.3; docs/http.md), each on the router's address inside a network namespace:
//!
//! - [`Flavour::UbootMod`]: u-boot_mod's uIP `httpd.c` parser: the request's first segment
//!   must hold `Content-Length:` (its digits read 16 bytes after the `C`, by
//!   `simple_strtoul`, which skips no space) and `boundary=`; the part headers end in that
//!   segment or at the start of the next; the file's size is Content-Length less the part
//!   header, less `--boundary`, less 6 (one part, a closing delimiter and CRLF); a body
//!   under 10 240 bytes is aborted; the answer is `flashing.html` or `fail.html`, both 200.
//! - [`Flavour::Dlink`]: the older D-Link server: a request within 100 ms of the handshake
//!   is reset; the HTTP head must be a segment of its own; a second segment in flight before
//!   the first is acknowledged is lost (the server resets).
//! - [`Flavour::Mediatek`]: `POST /upload` answers `<size> <md5>`, `GET /result` answers
//!   `success` once an image was taken.
//!
//! A TCP server cannot see segments, so a packet socket on the router's port records each
//! segment of ours as it arrives (sequence number and payload) and the parser reads the
//! request segment by segment from that record, exactly as uIP is handed it; the kernel's
//! socket carries the TCP itself and the answers.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use pnet_datalink::Channel;
use socket2::{Domain, Protocol, Socket, Type};

use crate::nmrp_double::in_netns;

/// Which page the double plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// pepe2k's u-boot_mod and GL.iNet's U-Boots.
    UbootMod,
    /// Older D-Link recovery.
    Dlink,
    /// The MTK failsafe (bl-mt798x).
    Mediatek,
}

/// How the double behaves beyond its flavour's rules.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Start listening only this long after the double starts (a bootloader booting).
    pub appear_after: Option<Duration>,
    /// The largest file taken: a larger one gets the failure page.
    pub size_limit: Option<u64>,
    /// Reset the first connection once this many bytes of it have arrived.
    pub reset_first_after: Option<u64>,
    /// Answer `/upload` with a wrong MD5 (MTK).
    pub wrong_md5: bool,
    /// The form fields the u-boot_mod page takes; absent: u-boot_mod's own (`firmware`,
    /// `uboot`, `art`). GL.iNet's qca95xx U-Boot takes [`QCA95XX_FIELDS`].
    pub fields: Option<&'static [&'static str]>,
}

/// u-boot_mod's own field names (`httpd/httpd.c`).
pub const UBOOT_MOD_FIELDS: &[&str] = &["firmware", "uboot", "art"];

/// GL.iNet `uboot-for-qca95xx` `src/httpd/httpd.c`: no plain `firmware`, a field per flash.
pub const QCA95XX_FIELDS: &[&str] = &["nand_firmware", "uboot", "art", "nor__firmware"];

/// What one request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The file was taken: its SHA-256 and size ("written to flash").
    Taken {
        /// SHA-256 of the file as the parser cut it.
        sha256: String,
        /// Its size.
        size: u64,
    },
    /// The failure page was sent.
    FailurePage(String),
    /// The connection was reset by the server: why, as the bootloader's console says it.
    Aborted(String),
    /// A page (GET) was served.
    Served(String),
    /// Connection reset on purpose (the behaviour's `reset_first_after`).
    ResetOnPurpose,
}

/// When one request's outcome came, for the benchmarks (`benches/http.rs`): the same span
/// for every uploader, read off the router's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The arrival of the connection's SYN on the router's port, as captured; `None` when
    /// the capture never saw it.
    pub syn: Option<Instant>,
    /// The moment the outcome was recorded (after the answer, once the client closed).
    pub at: Instant,
}

/// The most payload in one segment on a 1500-byte Ethernet with TCP timestamps.
const WIRE_MSS: usize = 1448;

/// uIP's receive window in u-boot_mod (`UIP_RECEIVE_WINDOW`, `httpd/uipopt.h`): uIP keeps one
/// packet buffer and no reassembly queue, so bytes sent beyond its last acknowledgement plus
/// this window are bytes it has no room for.
pub const UIP_WINDOW: u32 = 3000;

/// One TCP segment of the client's, as captured on the router's port.
#[derive(Debug, Clone)]
struct Segment {
    seq: u32,
    syn: bool,
    payload: Vec<u8>,
    at: Instant,
    /// The router's highest acknowledgement when the segment arrived, if it had sent one.
    acked_before: Option<u32>,
}

/// The client's segments and the router's acknowledgements, per client port.
#[derive(Debug, Default)]
struct Capture {
    inbound: HashMap<u16, Vec<Segment>>,
    /// The highest acknowledgement number the router sent, per client port.
    acked: HashMap<u16, u32>,
}

/// A running double.
pub struct Double {
    /// Every request's outcome, in order.
    pub outcomes: Arc<Mutex<Vec<Outcome>>>,
    /// When each outcome came, in the same order (written before its outcome).
    timings: Arc<Mutex<Vec<Timing>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Where it runs: the router's namespace, its port and the page's address.
    ns: String,
    iface: String,
    addr: Ipv4Addr,
}

impl Double {
    /// Starts a `flavour` page on `addr` port 80 in namespace `ns` on interface `iface`;
    /// the receiver hears once when it listens.
    pub fn start(
        ns: &str,
        iface: &str,
        addr: Ipv4Addr,
        flavour: Flavour,
        behaviour: Behaviour,
    ) -> (Double, Receiver<SocketAddr>) {
        let stop = Arc::new(AtomicBool::new(false));
        let capture = Arc::new(Mutex::new(Capture::default()));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let timings = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (cap_ready_tx, cap_ready_rx) = mpsc::channel();
        let capturing = {
            let (stop, capture, iface) =
                (Arc::clone(&stop), Arc::clone(&capture), iface.to_owned());
            in_netns("http-double-capture", ns, move || {
                capture_loop(&iface, &capture, &stop, &cap_ready_tx);
            })
        };
        cap_ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the capture on the router's port");
        let serving = {
            let (stop, capture, outcomes, timings) = (
                Arc::clone(&stop),
                Arc::clone(&capture),
                Arc::clone(&outcomes),
                Arc::clone(&timings),
            );
            in_netns("http-double", ns, move || {
                let record = Record {
                    outcomes: &outcomes,
                    timings: &timings,
                };
                serve(
                    addr, flavour, &behaviour, &capture, &record, &stop, &ready_tx,
                );
            })
        };
        (
            Double {
                outcomes,
                timings,
                stop,
                threads: vec![capturing, serving],
                ns: ns.to_owned(),
                iface: iface.to_owned(),
                addr,
            },
            ready_rx,
        )
    }

    /// The outcomes so far.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes.lock().unwrap().clone()
    }

    /// The outcomes so far, each with when its connection began and when it ended.
    pub fn timed_outcomes(&self) -> Vec<(Outcome, Timing)> {
        let outcomes = self.outcomes();
        let timings = self.timings.lock().unwrap().clone();
        outcomes.into_iter().zip(timings).collect()
    }

    /// Waits until `n` outcomes are in, at most `deadline`.
    pub fn wait_outcomes(&self, n: usize, deadline: Duration) -> Vec<Outcome> {
        let end = Instant::now() + deadline;
        loop {
            let now = self.outcomes();
            if now.len() >= n || Instant::now() >= end {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Double {
    /// The bootloader is done writing and resets: the page goes away with its address and,
    /// when `back` is given, the new firmware comes up there (the kernel then answers ARP and
    /// ping at it, as the firmware's network stack does). Returns the outcomes so far.
    pub fn reboot(mut self, back: Option<Ipv4Addr>) -> Vec<Outcome> {
        self.halt();
        let page = format!("{}/24", self.addr);
        crate::support::ip(&["-n", &self.ns, "addr", "del", &page, "dev", &self.iface]);
        if let Some(back) = back {
            let back = format!("{back}/24");
            crate::support::ip(&["-n", &self.ns, "addr", "add", &back, "dev", &self.iface]);
        }
        self.outcomes()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The capture socket's receive buffer: a 16 MiB upload and the frames' overhead.
const CAPTURE_BUFFER: usize = 64 << 20;

/// Records every TCP segment to or from port 80 seen on `iface`.
fn capture_loop(iface: &str, capture: &Mutex<Capture>, stop: &AtomicBool, ready: &Sender<()>) {
    let interface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == iface)
        .unwrap_or_else(|| panic!("no interface {iface}"));
    // Protocol 0 until the channel binds it to the interface (for every protocol), so no
    // frame of another interface is queued first.
    let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
        .expect("an AF_PACKET socket (root)");
    // A sender that writes the whole image at once (curl) outruns this thread on veth: the
    // default receive buffer (rmem_default, about 200 KiB) would drop frames the router
    // did receive. Room for a whole upload keeps the record complete.
    nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::RcvBufForce,
        &CAPTURE_BUFFER,
    )
    .expect("the capture's receive buffer (root)");
    let config = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(20)),
        // veth hands over offloaded aggregates of many segments in one frame.
        read_buffer_size: 1 << 18,
        socket_fd: Some(std::os::fd::IntoRawFd::into_raw_fd(socket)),
        ..Default::default()
    };
    let Ok(Channel::Ethernet(_tx, mut rx)) = pnet_datalink::channel(&interface, config) else {
        panic!("a packet socket on {iface} (root)");
    };
    let _ = ready.send(());
    while !stop.load(Ordering::Relaxed) {
        let Ok(frame) = rx.next() else { continue };
        let Some(tcp) = parse_tcp(frame) else {
            continue;
        };
        let mut capture = capture.lock().unwrap();
        if tcp.dst_port == 80 {
            let at = Instant::now();
            let acked_before = capture.acked.get(&tcp.src_port).copied();
            let segments = capture.inbound.entry(tcp.src_port).or_default();
            if tcp.payload.is_empty() {
                segments.push(Segment {
                    seq: tcp.seq,
                    syn: tcp.syn,
                    payload: Vec::new(),
                    at,
                    acked_before,
                });
            }
            // An offloaded aggregate (veth does not split them) goes on a real wire as
            // segments of the MSS: the router sees those.
            let mut seq = tcp.seq;
            for chunk in tcp.payload.chunks(WIRE_MSS) {
                segments.push(Segment {
                    seq,
                    syn: tcp.syn,
                    payload: chunk.to_vec(),
                    at,
                    acked_before,
                });
                seq = seq.wrapping_add(chunk.len() as u32);
            }
        } else if tcp.src_port == 80 && tcp.ack_flag {
            let acked = capture.acked.entry(tcp.dst_port).or_insert(tcp.ack);
            if tcp.ack.wrapping_sub(*acked) as i32 > 0 {
                *acked = tcp.ack;
            }
        }
    }
}

struct Tcp {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    syn: bool,
    ack_flag: bool,
    payload: Vec<u8>,
}

/// An IPv4 TCP segment in an Ethernet frame (RFC 791 §3.1, RFC 9293 §3.1).
fn parse_tcp(frame: &[u8]) -> Option<Tcp> {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ip[9] != 6 || ip.len() < total || total < ihl + 20 {
        return None;
    }
    let tcp = &ip[ihl..total];
    let offset = usize::from(tcp[12] >> 4) * 4;
    if tcp.len() < offset {
        return None;
    }
    Some(Tcp {
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        syn: tcp[13] & 0x02 != 0,
        ack_flag: tcp[13] & 0x10 != 0,
        payload: tcp[offset..].to_vec(),
    })
}

/// Where the serving thread writes what each request came to, and when.
struct Record<'a> {
    outcomes: &'a Mutex<Vec<Outcome>>,
    timings: &'a Mutex<Vec<Timing>>,
}

fn serve(
    addr: Ipv4Addr,
    flavour: Flavour,
    behaviour: &Behaviour,
    capture: &Mutex<Capture>,
    record: &Record,
    stop: &AtomicBool,
    ready: &Sender<SocketAddr>,
) {
    if let Some(after) = behaviour.appear_after {
        // The bootloader is still booting: nothing listens, connections are refused.
        let until = Instant::now() + after;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let listener =
        TcpListener::bind(SocketAddrV4::new(addr, 80)).expect("port 80 in the namespace");
    listener.set_nonblocking(true).unwrap();
    let _ = ready.send(listener.local_addr().unwrap());
    let mut first = true;
    let mut taken: Option<(u64, String)> = None;
    while !stop.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(err) => panic!("accept: {err}"),
        };
        let reset_after = if first {
            behaviour.reset_first_after
        } else {
            None
        };
        first = false;
        let mut conn = Conn::new(stream, peer.port(), capture);
        let outcome = match flavour {
            Flavour::UbootMod => uboot_mod(&mut conn, behaviour, reset_after, stop),
            Flavour::Dlink => dlink(&mut conn, reset_after, stop),
            Flavour::Mediatek => mediatek(&mut conn, behaviour, &mut taken, stop),
        };
        // The timing first: a reader pairing them never finds an outcome without one.
        record.timings.lock().unwrap().push(Timing {
            syn: conn.syn,
            at: Instant::now(),
        });
        record.outcomes.lock().unwrap().push(outcome);
    }
}

/// One connection: the socket for TCP and answers, the capture for the segments.
struct Conn<'a> {
    stream: TcpStream,
    port: u16,
    capture: &'a Mutex<Capture>,
    /// The next sequence number expected from the client.
    next: Option<u32>,
    /// Stream bytes handed to the parser.
    taken: u64,
    handshake: Option<Instant>,
    /// When the connection's SYN arrived.
    syn: Option<Instant>,
    /// The most bytes of ours that arrived beyond the router's last acknowledgement.
    most_unacked: u32,
}

impl<'a> Conn<'a> {
    fn new(stream: TcpStream, port: u16, capture: &'a Mutex<Capture>) -> Self {
        stream
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        Self {
            stream,
            port,
            capture,
            next: None,
            taken: 0,
            handshake: None,
            syn: None,
            most_unacked: 0,
        }
    }

    /// The client's next segment in order (retransmissions skipped), with its arrival, or
    /// `None` when the client closed or nothing came within `deadline`.
    fn segment(&mut self, deadline: Duration, stop: &AtomicBool) -> Option<(Vec<u8>, Instant)> {
        let end = Instant::now() + deadline;
        let mut sink = vec![0u8; 65_536];
        while Instant::now() < end && !stop.load(Ordering::Relaxed) {
            if let Some(found) = self.captured() {
                // Keep the socket drained so the kernel keeps acknowledging, without the
                // read's wait: a backlog of captured segments is parsed at its own pace.
                let _ = self.stream.set_nonblocking(true);
                let _ = self.stream.read(&mut sink);
                let _ = self.stream.set_nonblocking(false);
                return Some(found);
            }
            // Keep the socket drained so the kernel keeps acknowledging.
            if let Ok(0) = self.stream.read(&mut sink) {
                // Closed: anything captured still counts.
                return self.captured();
            }
        }
        None
    }

    fn captured(&mut self) -> Option<(Vec<u8>, Instant)> {
        let capture = self.capture.lock().unwrap();
        let segments = capture.inbound.get(&self.port)?;
        if self.next.is_none() {
            let syn = segments.iter().find(|s| s.syn)?;
            self.next = Some(syn.seq.wrapping_add(1));
            self.syn = Some(syn.at);
            self.handshake = segments
                .iter()
                .find(|s| !s.syn && s.payload.is_empty())
                .map(|s| s.at);
        }
        let next = self.next?;
        let found = segments
            .iter()
            .find(|s| !s.syn && s.seq == next && !s.payload.is_empty())?;
        let end = next.wrapping_add(found.payload.len() as u32);
        if let Some(ack) = found.acked_before {
            self.most_unacked = self.most_unacked.max(end.wrapping_sub(ack));
        }
        self.next = Some(end);
        self.taken += found.payload.len() as u64;
        Some((found.payload.clone(), found.at))
    }

    /// Whether every byte before the segment just taken had been acknowledged by us.
    fn all_acked_before(&self, len: usize) -> bool {
        let capture = self.capture.lock().unwrap();
        let start = self.next.unwrap_or(0).wrapping_sub(len as u32);
        capture
            .acked
            .get(&self.port)
            .is_some_and(|&ack| start.wrapping_sub(ack) as i32 <= 0)
    }

    fn answer(&mut self, page: &str) {
        let _ = self.stream.write_all(page.as_bytes());
        let _ = self.stream.flush();
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        // Read until the client closes, as the page's server waits for its ACK.
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut sink = [0u8; 4096];
        while matches!(self.stream.read(&mut sink), Ok(n) if n > 0) {}
    }

    /// Resets the connection (`uip_abort`).
    fn abort(&mut self, why: &str) -> Outcome {
        let socket = Socket::from(self.stream.try_clone().unwrap());
        let _ = socket.set_linger(Some(Duration::ZERO));
        drop(socket);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        Outcome::Aborted(why.to_owned())
    }
}

/// The uIP 0.9 page answer: `HTTP/1.0 200 OK`, no length, the connection closed after.
fn uip_page(body: &str) -> String {
    format!(
        "HTTP/1.0 200 OK\r\nServer: uIP/0.9 (http://dunkels.com/adam/uip/)\r\nContent-type: text/html; charset=UTF-8\r\n\r\n{body}"
    )
}

const FLASHING: &str = "<html><body><h1>UPDATE IN PROGRESS</h1><p>Your file was successfully uploaded! Update is in progress and you should wait for automatic reset of the device.</p></body></html>";
const FAILED: &str = "<html><body><h1>UPDATE FAILED</h1><p>The file you uploaded is too big or too small!</p></body></html>";

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// U-Boot's `simple_strtoul(s, NULL, 10)`: digits from the first byte on, no space skipped.
fn simple_strtoul(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
}

fn sha256_hex(bytes: &[u8]) -> String {
    rescue_wizard::tftp::server::hex_sha256(bytes)
}

/// The MD5 of `bytes` in lower-case hex, as the MTK page answers it.
pub fn md5_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Md5::digest(bytes).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

const PATIENCE: Duration = Duration::from_secs(20);

/// u-boot_mod `httpd/httpd.c` `httpd_appcall`, the POST branch.
fn uboot_mod(
    conn: &mut Conn,
    behaviour: &Behaviour,
    reset_after: Option<u64>,
    stop: &AtomicBool,
) -> Outcome {
    let Some((first, _)) = conn.segment(PATIENCE, stop) else {
        return Outcome::Aborted("no request".into());
    };
    if first.starts_with(b"GET ") {
        conn.answer(&uip_page("<html><body>FIRMWARE UPDATE</body></html>"));
        return Outcome::Served("index.html".into());
    }
    if !first.starts_with(b"POST") {
        return conn.abort("neither GET nor POST");
    }
    // Headers are searched in this first segment only.
    let Some(at) = find(&first, b"Content-Length:") else {
        return conn.abort("couldn't find \"Content-Length\"!");
    };
    let start = at + "Content-Length:".len() + 1; // sizeof("Content-Length:") with its NUL
    let Some(eol) = find(&first[start.min(first.len())..], b"\r\n") else {
        return conn.abort("couldn't find end of line in \"Content-Length\"!");
    };
    let total = simple_strtoul(&first[start..start + eol]);
    let Some(b) = find(&first, b"boundary=") else {
        return conn.abort("couldn't find boundary!");
    };
    let b_end = find(&first[b..], b"\r\n").map_or(first.len(), |e| b + e);
    let boundary = first[b + "boundary=".len()..b_end].to_vec();
    if total < 10_240 {
        return conn.abort("request for upload < 10 KB data!");
    }
    // The body starts after the request's blank line; the part header must end in this
    // segment, or at the start of the next.
    let Some(head_end) = find(&first, b"\r\n\r\n") else {
        return conn.abort("couldn't find end of headers");
    };
    let mut body = first[head_end + 4..].to_vec();
    let mut received = 0u64;
    let part_end = if let Some(e) = find(&body, b"\r\n\r\n") {
        e + 4
    } else {
        let Some((next, _)) = conn.segment(PATIENCE, stop) else {
            return conn.abort("couldn't find start of data in next packet!");
        };
        body.extend_from_slice(&next);
        match find(&body, b"\r\n\r\n") {
            Some(e) => e + 4,
            None => return conn.abort("couldn't find start of data in next packet!"),
        }
    };
    let part = &body[..part_end];
    let part_text = String::from_utf8_lossy(part);
    let fields = behaviour.fields.unwrap_or(UBOOT_MOD_FIELDS);
    if !fields
        .iter()
        .any(|f| part_text.contains(&format!("name=\"{f}\"")))
    {
        return conn.abort("input name not found!");
    }
    // The size is computed, not found: one part and `\r\n--boundary--\r\n` assumed.
    let size = total
        .saturating_sub(part_end as u64)
        .saturating_sub(2 + boundary.len() as u64)
        .saturating_sub(6);
    received += body.len() as u64;
    while received < total {
        if let Some(limit) = reset_after
            && conn.taken >= limit
        {
            let _ = conn.abort("reset on purpose");
            return Outcome::ResetOnPurpose;
        }
        let Some((next, _)) = conn.segment(PATIENCE, stop) else {
            return conn.abort("the upload stopped");
        };
        // More in flight than the window: the real uIP drops what it has no room for, and a
        // sender that keeps doing so crawls through retransmissions (pepe2k/u-boot_mod#41).
        if conn.most_unacked > UIP_WINDOW {
            return conn.abort("a segment beyond the 3000-byte window");
        }
        received += next.len() as u64;
        body.extend_from_slice(&next);
    }
    let file_end = (part_end as u64 + size).min(body.len() as u64) as usize;
    let file = &body[part_end..file_end];
    if behaviour.size_limit.is_some_and(|l| size > l) || size == 0 {
        conn.answer(&uip_page(FAILED));
        return Outcome::FailurePage("UPDATE FAILED".into());
    }
    let outcome = Outcome::Taken {
        sha256: sha256_hex(file),
        size: file.len() as u64,
    };
    conn.answer(&uip_page(FLASHING));
    outcome
}

/// The older D-Link recovery server (DIR-615 E1 uploader's analysis of it).
fn dlink(conn: &mut Conn, reset_after: Option<u64>, stop: &AtomicBool) -> Outcome {
    let Some((first, at)) = conn.segment(PATIENCE, stop) else {
        return Outcome::Aborted("no request".into());
    };
    if conn
        .handshake
        .is_some_and(|h| at.saturating_duration_since(h) < Duration::from_millis(100))
    {
        return conn.abort("request right after the handshake");
    }
    let Some(head_end) = find(&first, b"\r\n\r\n") else {
        return conn.abort("headers split over segments");
    };
    if head_end + 4 != first.len() {
        return conn.abort("headers and body in one segment");
    }
    let head = String::from_utf8_lossy(&first).into_owned();
    if head.starts_with("GET ") {
        conn.answer("HTTP/1.1 200 OK\r\n\r\n<html>D-LINK Firmware Upgrade System</html>");
        return Outcome::Served("index".into());
    }
    let total: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let Some(boundary) = head
        .split("boundary=")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .map(str::to_owned)
    else {
        return conn.abort("no boundary");
    };
    let mut body = Vec::new();
    while (body.len() as u64) < total {
        if let Some(limit) = reset_after
            && conn.taken >= limit
        {
            let _ = conn.abort("reset on purpose");
            return Outcome::ResetOnPurpose;
        }
        let Some((next, _)) = conn.segment(PATIENCE, stop) else {
            return conn.abort("the upload stopped");
        };
        // Its advertised window is bogus: a segment sent before the previous one was
        // acknowledged is lost, and the upload with it.
        if !conn.all_acked_before(next.len()) {
            return conn.abort("a second segment in flight was lost");
        }
        body.extend_from_slice(&next);
    }
    let Some(part_end) = find(&body, b"\r\n\r\n").map(|e| e + 4) else {
        return conn.abort("no part header");
    };
    if !String::from_utf8_lossy(&body[..part_end]).contains("name=\"files\"") {
        return conn.abort("no field files");
    }
    let closing = format!("\r\n--{boundary}");
    let Some(file_len) = find(&body[part_end..], closing.as_bytes()) else {
        return conn.abort("no closing boundary");
    };
    let file = &body[part_end..part_end + file_len];
    let outcome = Outcome::Taken {
        sha256: sha256_hex(file),
        size: file.len() as u64,
    };
    conn.answer("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>Device is Upgrading the Firmware ...</body></html>");
    outcome
}

/// The MTK failsafe's `/upload` and `/result` (bl-mt798x `failsafe/failsafe.c`).
fn mediatek(
    conn: &mut Conn,
    behaviour: &Behaviour,
    taken: &mut Option<(u64, String)>,
    stop: &AtomicBool,
) -> Outcome {
    let mut request = Vec::new();
    let head_end = loop {
        let Some((next, _)) = conn.segment(PATIENCE, stop) else {
            return Outcome::Aborted("no request".into());
        };
        request.extend_from_slice(&next);
        if let Some(e) = find(&request, b"\r\n\r\n") {
            break e + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    if head.starts_with("GET /result") {
        let said = if taken.is_some() { "success" } else { "failed" };
        conn.answer(&format!("HTTP/1.0 200 OK\r\n\r\n{said}"));
        return if taken.is_some() {
            let (size, sha256) = taken.clone().unwrap();
            Outcome::Taken { sha256, size }
        } else {
            Outcome::FailurePage("failed".into())
        };
    }
    if !head.starts_with("POST /upload") {
        conn.answer("HTTP/1.0 404 Not Found\r\n\r\n");
        return Outcome::Served("404".into());
    }
    let total: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() - head_end < total {
        let Some((next, _)) = conn.segment(PATIENCE, stop) else {
            return conn.abort("the upload stopped");
        };
        request.extend_from_slice(&next);
    }
    let body = &request[head_end..];
    let boundary = head
        .split("boundary=")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .unwrap_or_default();
    let part_end = find(body, b"\r\n\r\n").map_or(0, |e| e + 4);
    let closing = format!("\r\n--{boundary}");
    let file_len = find(&body[part_end..], closing.as_bytes()).unwrap_or(0);
    let file = &body[part_end..part_end + file_len];
    if file.is_empty() || behaviour.size_limit.is_some_and(|l| file.len() as u64 > l) {
        conn.answer("HTTP/1.0 200 OK\r\n\r\nfail");
        return Outcome::FailurePage("fail".into());
    }
    let mut md5 = md5_hex(file);
    if behaviour.wrong_md5 {
        md5 = "0".repeat(32);
    }
    *taken = Some((file.len() as u64, sha256_hex(file)));
    conn.answer(&format!("HTTP/1.0 200 OK\r\n\r\n{} {md5}", file.len()));
    Outcome::Served("upload".into())
}
