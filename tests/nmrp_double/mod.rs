//! A Netgear bootloader double for the NMRP tests: the router side of NMRP ([`router`], a
//! sans-I/O machine written from Netgear's published U-Boot) driven on one end of a veth pair
//! inside a network namespace, with raw `AF_PACKET` frames, and the TFTP server that bootloader
//! starts to receive the image. Also the raw port and the namespace helper the tests' host-side
//! driver uses, so both sides open the wire the same way.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod router;

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender};
use rescue_wizard::net::wire::Mac;
use rescue_wizard::nmrp::packet::{Code, Frame};
use rescue_wizard::tftp::server::hex_sha256;
use socket2::{Domain, Protocol, SockFilter, Socket, Type};

pub use router::{Behaviour, Happening, Router, State, Verdict};

/// Classic BPF: NMRP frames (`EtherType` 0x0912) that come in; frames this socket's own host
/// sends out (packet type `PACKET_OUTGOING`, 4, read through the ancillary offset
/// `SKF_AD_OFF + SKF_AD_PKTTYPE`) are dropped.
const NMRP_INBOUND: [(u16, u8, u8, u32); 6] = [
    (0x28, 0, 0, 12),          // ldh [12]: EtherType
    (0x15, 0, 3, 0x0912),      // jeq NMRP, else drop
    (0x20, 0, 0, 0xffff_f004), // ld packet type
    (0x15, 1, 0, 4),           // jeq outgoing: drop
    (0x06, 0, 0, 0xffff),      // keep
    (0x06, 0, 0, 0),           // drop
];

/// Runs `job` on a new thread inside the network namespace `ns` (a thread's namespace is its
/// own; sockets it opens stay in `ns`, and threads it starts begin there too).
pub fn in_netns<T: Send + 'static>(
    name: &str,
    ns: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let file = File::open(&path).expect("the namespace's file");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("entering the namespace");
            job()
        })
        .expect("a thread")
}

/// An `AF_PACKET` socket on one interface that reads incoming NMRP frames and writes whole
/// Ethernet frames. Open it from a thread inside the interface's namespace.
pub struct RawPort {
    /// The interface's MAC.
    pub mac: Mac,
    /// The interface's name.
    pub name: String,
    tx: Box<dyn DataLinkSender>,
    rx: Box<dyn DataLinkReceiver>,
}

impl RawPort {
    /// Opens `name`; reads wait at most `read_timeout`.
    pub fn open(name: &str, read_timeout: Duration) -> RawPort {
        let interface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no interface {name} in this namespace"));
        let mac = Mac(interface.mac.expect("an Ethernet interface").octets());
        // Protocol 0 until the filter is attached, so no other frame is queued first.
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
            .expect("an AF_PACKET socket (root)");
        let program: Vec<SockFilter> = NMRP_INBOUND
            .iter()
            .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
            .collect();
        socket.attach_filter(&program).expect("the NMRP filter");
        let config = pnet_datalink::Config {
            read_timeout: Some(read_timeout),
            socket_fd: Some(std::os::fd::IntoRawFd::into_raw_fd(socket)),
            ..pnet_datalink::Config::default()
        };
        let Ok(Channel::Ethernet(tx, rx)) = pnet_datalink::channel(&interface, config) else {
            panic!("an Ethernet channel on {name}");
        };
        RawPort {
            mac,
            name: name.to_owned(),
            tx,
            rx,
        }
    }

    /// Sends one whole frame. A link that is down loses it, as a cable would.
    pub fn send(&mut self, frame: &[u8]) {
        let _ = self.tx.send_to(frame, None);
    }

    /// The next incoming NMRP frame, or `None` after the read timeout.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        self.rx.next().ok().map(<[u8]>::to_vec)
    }
}

/// Whether a host advertised on `dev` in `ns` within `deadline`: a test or benchmark powers the
/// router on once the host is ready, as a technician does it.
pub fn heard_advertise(ns: &str, dev: &str, deadline: Duration) -> bool {
    let dev = dev.to_owned();
    let heard = in_netns("nmrp-listen", ns, move || {
        let mut port = RawPort::open(&dev, POLL);
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            let advertise = port
                .recv()
                .and_then(|f| Frame::parse(&f).ok())
                .is_some_and(|f| f.message.code == Code::ADVERTISE);
            if advertise {
                return true;
            }
        }
        false
    });
    heard.join().expect("the listener ran")
}

/// Gives `dev` in `ns` the MAC the router's NMRP frames carry: the kernel stack in the
/// router's namespace takes the TFTP leg's frames only when they are sent to its NIC's own.
pub fn give_mac(ns: &str, dev: &str, mac: Mac) {
    let status = Command::new("ip")
        .args(["-n", ns, "link", "set", dev, "address", &mac.to_string()])
        .status()
        .expect("running ip");
    assert!(status.success(), "the router's MAC on {dev} in {ns}");
}

/// Whether `name` has a carrier, in the calling thread's namespace.
pub fn carrier(name: &str) -> bool {
    nix::ifaddrs::getifaddrs().is_ok_and(|mut all| {
        all.any(|a| {
            a.interface_name == name && a.flags.contains(nix::net::if_::InterfaceFlags::IFF_RUNNING)
        })
    })
}

/// How the double's TFTP server treats options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blksize {
    /// Honours `blksize` up to 1468 with an OACK.
    Honour,
    /// Ignores every option: ACK 0, 512-byte blocks.
    Ignore,
}

/// How the double's TFTP server times and addresses its answers: Netgear's U-Boot answers at
/// once from port 69 ([`TftpQuirks::default`]); Broadcom CFE erases before it acknowledges the
/// first block, and answers from a port of its own (RFC 1350 §4: each side of a transfer picks
/// a transfer ID).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TftpQuirks {
    /// How long the answer to the write request (OACK or ACK 0) is held back after the first
    /// request arrived; repeated requests meanwhile are counted, not answered.
    pub request_answer_delay: Duration,
    /// How long ACK 1 is held back after DATA 1 first arrived (CFE erasing flash); repeats of
    /// DATA 1 meanwhile are reported ([`Report::FirstBlockArrived`]), not answered.
    pub first_ack_delay: Duration,
    /// Where the transfer's answers come from.
    pub reply_port: ReplyPort,
    /// After this block arrives, a third port of the router's address sends the host a DATA
    /// packet; what the host answers there is reported ([`Report::IntruderAnswered`]).
    pub intruder_after_block: Option<u16>,
}

/// The port the double's TFTP server answers a transfer from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplyPort {
    /// The well-known port 69, as Netgear's U-Boot does.
    #[default]
    Listen,
    /// A new ephemeral port for each transfer, as RFC 1350 TIDs and Netgear CFE do.
    Ephemeral,
}

/// What the double reports, each with the time it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The router side did something.
    Router(Happening),
    /// The TFTP server took a write request for this file name, with this block size.
    UploadStarted {
        /// The name asked for.
        name: String,
        /// The block size in use.
        blksize: u16,
    },
    /// The whole image is in.
    UploadDone {
        /// Bytes received.
        bytes: u64,
        /// SHA-256, hex.
        sha256: String,
    },
    /// The TFTP server gave up.
    UploadFailed(String),
    /// A write request reached port 69 (the first and every repeat).
    RequestArrived,
    /// The port the transfer's answers come from.
    ReplyingFrom(u16),
    /// DATA 1 arrived before its ACK went out (the first and every resend).
    FirstBlockArrived,
    /// ACK 1 went out.
    FirstBlockAcked,
    /// A datagram other than a write request reached port 69 once the transfer had moved to
    /// a port of its own (DATA sent to the wrong port).
    StrayOnListenPort,
    /// What the host answered the third port's DATA.
    IntruderAnswered(Vec<u8>),
}

/// A Netgear bootloader in recovery mode, powered on in namespace `ns` behind `dev`.
pub struct Double {
    /// When it was powered on.
    pub powered_on: Instant,
    reports: Receiver<(Instant, Report)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Router>>,
    /// Every report so far, as [`Double::wait_for`] read them.
    pub seen: Vec<(Instant, Report)>,
}

/// How long a read on the double's port waits before timers are looked at.
const POLL: Duration = Duration::from_millis(10);

impl Double {
    /// Powers the router on, its TFTP server answering at once from port 69.
    pub fn power_on(ns: &str, dev: &str, behaviour: Behaviour, blksize: Blksize) -> Double {
        Self::power_on_with(ns, dev, behaviour, blksize, TftpQuirks::default())
    }

    /// Powers the router on, its TFTP server behaving as `quirks` says.
    pub fn power_on_with(
        ns: &str,
        dev: &str,
        behaviour: Behaviour,
        blksize: Blksize,
        quirks: TftpQuirks,
    ) -> Double {
        let ns_owned = ns.to_owned();
        let dev_owned = dev.to_owned();
        Self::start(ns, "nmrp-router-double", move |ready, reports, stop| {
            let mut port = RawPort::open(&dev_owned, POLL);
            let now = Instant::now();
            ready.send(now).expect("the test waits");
            let server = Server {
                blksize,
                verdict: behaviour.verdict,
                quirks,
            };
            run_double(
                &mut port, &ns_owned, behaviour, server, now, &reports, &stop,
            )
        })
    }

    /// Runs `job` on a thread named `name` in `ns`: it opens its sockets, sends its power-on
    /// time on `ready`, and runs until `stop`, reporting on `reports`.
    fn start(
        ns: &str,
        name: &str,
        job: impl FnOnce(Sender<Instant>, Sender<(Instant, Report)>, Arc<AtomicBool>) -> Router
        + Send
        + 'static,
    ) -> Double {
        let (report_tx, reports) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = in_netns(name, ns, move || job(ready_tx, report_tx, stop_flag));
        let powered_on = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the double powers on");
        Double {
            powered_on,
            reports,
            stop,
            thread: Some(thread),
            seen: Vec::new(),
        }
    }

    /// The bootloader's TFTP server alone, as it starts once `CONF_ACK` gave it `ip`/`prefix`
    /// on `dev` in `ns`: for tests of the TFTP leg's rules without the NMRP exchange before
    /// it. Its reports are the server's; [`Double::power_off`] returns a router that never
    /// heard a frame.
    pub fn tftp_only(
        ns: &str,
        dev: &str,
        (ip, prefix): (Ipv4Addr, u8),
        blksize: Blksize,
        quirks: TftpQuirks,
    ) -> Double {
        let status = Command::new("ip")
            .args(["-n", ns, "addr", "replace"])
            .arg(format!("{ip}/{prefix}"))
            .args(["dev", dev])
            .status()
            .expect("running ip");
        assert!(status.success(), "the router's address on {dev}");
        Self::start(ns, "nmrp-double-tftp", move |ready, reports, stop| {
            let socket = UdpSocket::bind(SocketAddr::from((ip, 69)))
                .expect("the router's TFTP port in its namespace");
            let now = Instant::now();
            ready.send(now).expect("the test waits");
            let (tftp_tx, tftp_rx) = mpsc::channel();
            let server = Server {
                blksize,
                verdict: Verdict::Accept,
                quirks,
            };
            let forward = thread::spawn(move || {
                for event in tftp_rx {
                    let (at, report) = match event {
                        Tftp::Started(name, blksize) => {
                            (Instant::now(), Report::UploadStarted { name, blksize })
                        }
                        Tftp::Done(at, bytes, sha256) => (at, Report::UploadDone { bytes, sha256 }),
                        Tftp::Failed(why) => (Instant::now(), Report::UploadFailed(why)),
                        Tftp::Note(at, report) => (at, report),
                    };
                    let _ = reports.send((at, report));
                }
            });
            server.serve(&socket, &tftp_tx, &stop);
            drop(tftp_tx);
            let _ = forward.join();
            Router::power_on(Behaviour::accepting(Mac([0; 6]), 0, Duration::ZERO), now)
        })
    }

    /// The times of every report matching `wanted` so far (after a wait that read them).
    pub fn times_of(&self, wanted: impl Fn(&Report) -> bool) -> Vec<Instant> {
        self.seen
            .iter()
            .filter(|(_, r)| wanted(r))
            .map(|(at, _)| *at)
            .collect()
    }

    /// Waits until a report matches `wanted`, at most `deadline`; returns its time.
    pub fn wait_for(
        &mut self,
        deadline: Duration,
        wanted: impl Fn(&Report) -> bool,
    ) -> Option<(Instant, Report)> {
        let end = Instant::now() + deadline;
        if let Some(hit) = self.seen.iter().find(|(_, r)| wanted(r)) {
            return Some(hit.clone());
        }
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let (at, report) = self.reports.recv_timeout(left).ok()?;
            self.seen.push((at, report.clone()));
            if wanted(&report) {
                return Some((at, report));
            }
        }
    }

    /// Waits for the whole image: when it was in, its length and its SHA-256.
    pub fn upload_done(&mut self, deadline: Duration) -> (Instant, u64, String) {
        match self.wait_for(deadline, |r| matches!(r, Report::UploadDone { .. })) {
            Some((at, Report::UploadDone { bytes, sha256 })) => (at, bytes, sha256),
            other => panic!("the image never arrived: {other:?}; seen {:?}", self.seen),
        }
    }

    /// Waits for the write request; checks it named "firmware"; returns the block size used.
    pub fn upload_blksize(&mut self, deadline: Duration) -> u16 {
        match self.wait_for(deadline, |r| matches!(r, Report::UploadStarted { .. })) {
            Some((_, Report::UploadStarted { blksize, name })) => {
                assert_eq!(name, "firmware", "the name the router gave");
                blksize
            }
            other => panic!("no upload started: {other:?}"),
        }
    }

    /// Switches it off; returns the router machine for inspection.
    pub fn power_off(mut self) -> Router {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the double ran")
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The double's TFTP server as its bootloader starts it.
#[derive(Debug, Clone, Copy)]
struct Server {
    blksize: Blksize,
    verdict: Verdict,
    quirks: TftpQuirks,
}

enum Tftp {
    Started(String, u16),
    /// The whole image is in: when, its length and its SHA-256.
    Done(Instant, u64, String),
    Failed(String),
    /// A report, with the time the server saw it happen.
    Note(Instant, Report),
}

fn run_double(
    port: &mut RawPort,
    ns: &str,
    behaviour: Behaviour,
    tftp: Server,
    now: Instant,
    reports: &Sender<(Instant, Report)>,
    stop: &AtomicBool,
) -> Router {
    let mut router = Router::power_on(behaviour, now);
    let (tftp_tx, tftp_rx) = mpsc::channel();
    let mut server: Option<JoinHandle<()>> = None;
    let server_stop = Arc::new(AtomicBool::new(false));
    let mut out = Vec::new();
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if let Some(frame) = port.recv() {
            router.on_frame(&frame, Instant::now(), &mut out, &mut seen);
        }
        router.on_tick(Instant::now(), &mut out, &mut seen);
        while let Ok(event) = tftp_rx.try_recv() {
            let mut at = Instant::now();
            let report = match event {
                Tftp::Started(name, size) => {
                    router.upload_started();
                    Report::UploadStarted {
                        name,
                        blksize: size,
                    }
                }
                Tftp::Done(when, bytes, sha256) => {
                    at = when;
                    router.upload_finished(Instant::now(), &mut out);
                    Report::UploadDone { bytes, sha256 }
                }
                Tftp::Failed(why) => Report::UploadFailed(why),
                Tftp::Note(when, report) => {
                    at = when;
                    report
                }
            };
            let _ = reports.send((at, report));
        }
        for happening in seen.drain(..) {
            if let Happening::Configured { ip, mask, .. } = happening
                && server.is_none()
            {
                // The bootloader takes DEV-IP as its TFTP address (`NetOurTftpIP`).
                let prefix = u32::from(mask).count_ones();
                let _ = Command::new("ip")
                    .args(["-n", ns, "addr", "replace"])
                    .arg(format!("{ip}/{prefix}"))
                    .args(["dev", &port.name])
                    .status();
                let socket = UdpSocket::bind(SocketAddr::from((ip, 69)))
                    .expect("the router's TFTP port in its namespace");
                let events = tftp_tx.clone();
                let flag = Arc::clone(&server_stop);
                server = Some(
                    thread::Builder::new()
                        .name("nmrp-double-tftp".into())
                        .spawn(move || tftp.serve(&socket, &events, &flag))
                        .expect("a thread"),
                );
            }
            let _ = reports.send((Instant::now(), Report::Router(happening)));
        }
        // After the TFTP server is up: a bootloader sends TFTP_UL_REQ and is in its TFTP loop
        // before any answer can come back.
        for frame in out.drain(..) {
            port.send(&frame);
        }
    }
    server_stop.store(true, Ordering::Relaxed);
    if let Some(server) = server {
        let _ = server.join();
    }
    router
}

/// How long one read waits before the server looks at its timers and its other sockets.
const TFTP_POLL: Duration = Duration::from_millis(20);

/// One datagram from `socket`, waiting at most `wait` (at least 1 ms).
fn recv_within(socket: &UdpSocket, buf: &mut [u8], wait: Duration) -> Option<(usize, SocketAddr)> {
    socket
        .set_read_timeout(Some(wait.clamp(Duration::from_millis(1), TFTP_POLL)))
        .expect("a read timeout");
    socket.recv_from(buf).ok()
}

/// A write request's file name and the block size the server grants, with its answer.
fn answer_request(packet: &[u8], blksize: Blksize) -> Option<(String, u16, Vec<u8>)> {
    if packet.len() < 4 || packet[..2] != [0, 2] {
        return None;
    }
    let fields: Vec<&[u8]> = packet[2..].split(|&b| b == 0).collect();
    let name = String::from_utf8_lossy(fields[0]).into_owned();
    let mut size = 512u16;
    let mut reply = vec![0, 4, 0, 0];
    if blksize == Blksize::Honour {
        let asked = fields
            .chunks(2)
            .skip(1)
            .find(|pair| pair.len() == 2 && pair[0].eq_ignore_ascii_case(b"blksize"))
            .and_then(|pair| std::str::from_utf8(pair[1]).ok()?.parse::<u16>().ok());
        if let Some(asked) = asked {
            size = asked.clamp(8, 1468);
            reply = b"\x00\x06blksize\x00".to_vec();
            reply.extend_from_slice(size.to_string().as_bytes());
            reply.push(0);
        }
    }
    Some((name, size, reply))
}

impl Server {
    /// The bootloader's TFTP server: one write request, lock-step, a duplicate DATA not
    /// answered (the last ACK is repeated only after its 5 s timeout). By default every reply
    /// comes from port 69 (U-Boot's TFTP server keeps its well-known port) at once; the
    /// [`TftpQuirks`] hold answers back or move the transfer to a port of its own. A
    /// [`Verdict::RejectWithText`] router answers the last block with its words instead of
    /// the ACK.
    fn serve(self, listen: &UdpSocket, events: &Sender<Tftp>, stop: &AtomicBool) {
        let note = |report: Report| {
            let _ = events.send(Tftp::Note(Instant::now(), report));
        };
        let mut buf = vec![0u8; 65_536];
        let (peer, name, size, reply) = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Some((len, from)) = recv_within(listen, &mut buf, TFTP_POLL) else {
                continue;
            };
            if let Some((name, size, reply)) = answer_request(&buf[..len], self.blksize) {
                break (from, name, size, reply);
            }
        };
        note(Report::RequestArrived);
        // The answer held back: the host's repeats meanwhile are counted.
        let due = Instant::now() + self.quirks.request_answer_delay;
        while let Some(left) = due.checked_duration_since(Instant::now()) {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if let Some((len, from)) = recv_within(listen, &mut buf, left)
                && from == peer
                && answer_request(&buf[..len], self.blksize).is_some()
            {
                note(Report::RequestArrived);
            }
        }
        let ip = listen.local_addr().expect("a bound socket").ip();
        let own;
        let socket = match self.quirks.reply_port {
            ReplyPort::Listen => listen,
            ReplyPort::Ephemeral => {
                own =
                    UdpSocket::bind(SocketAddr::new(ip, 0)).expect("a port of the transfer's own");
                listen
                    .set_nonblocking(true)
                    .expect("a non-blocking port 69");
                &own
            }
        };
        note(Report::ReplyingFrom(
            socket.local_addr().expect("a bound socket").port(),
        ));
        let _ = socket.send_to(&reply, peer);
        let _ = events.send(Tftp::Started(name, size));
        let intruder = self.quirks.intruder_after_block.map(|block| {
            let third = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("a third port");
            third
                .set_nonblocking(true)
                .expect("a non-blocking third port");
            (block, third)
        });
        self.receive(socket, listen, peer, size, intruder.as_ref(), events, stop);
    }

    /// Receives the image on `socket` from `peer`, watching port 69 (`listen`) and the
    /// intruder's port as the quirks ask.
    #[expect(
        clippy::too_many_arguments,
        reason = "one transfer's sockets and its reports"
    )]
    fn receive(
        self,
        socket: &UdpSocket,
        listen: &UdpSocket,
        peer: SocketAddr,
        size: u16,
        intruder: Option<&(u16, UdpSocket)>,
        events: &Sender<Tftp>,
        stop: &AtomicBool,
    ) {
        const TIMEOUT: Duration = Duration::from_secs(5);
        let note = |report: Report| {
            let _ = events.send(Tftp::Note(Instant::now(), report));
        };
        let moved = !std::ptr::eq(socket, listen);
        let mut buf = vec![0u8; 65_536];
        let mut image = Vec::new();
        let mut bytes = 0u64;
        let mut expected: u16 = 1;
        let mut last_ack = vec![0, 4, 0, 0];
        let mut quiet_since = Instant::now();
        let mut timeouts = 0;
        // ACK 1, held back until its time (CFE erasing flash before it answers).
        let mut held: Option<(Instant, Vec<u8>)> = None;
        let mut first_acked = false;
        while !stop.load(Ordering::Relaxed) {
            if moved
                && let Ok((len, from)) = listen.recv_from(&mut buf)
                && from.ip() == peer.ip()
                && answer_request(&buf[..len], self.blksize).is_none()
            {
                note(Report::StrayOnListenPort);
            }
            if let Some((_, third)) = intruder
                && let Ok((len, _)) = third.recv_from(&mut buf)
            {
                note(Report::IntruderAnswered(buf[..len].to_vec()));
            }
            if let Some((due, answer)) = &held
                && Instant::now() >= *due
            {
                let _ = socket.send_to(answer, peer);
                note(Report::FirstBlockAcked);
                first_acked = true;
                held = None;
                quiet_since = Instant::now();
            }
            let wait = held.as_ref().map_or(TFTP_POLL, |(due, _)| {
                due.saturating_duration_since(Instant::now())
            });
            let Some((len, from)) = recv_within(socket, &mut buf, wait) else {
                if held.is_none() && quiet_since.elapsed() >= TIMEOUT {
                    timeouts += 1;
                    if timeouts > 10 {
                        let _ = events.send(Tftp::Failed("no DATA for 50 s".into()));
                        return;
                    }
                    let _ = socket.send_to(&last_ack, peer);
                    quiet_since = Instant::now();
                }
                continue;
            };
            if from != peer || len < 4 || buf[..2] != [0, 3] {
                continue;
            }
            let block = u16::from_be_bytes([buf[2], buf[3]]);
            if block == 1 && !first_acked {
                note(Report::FirstBlockArrived);
            }
            if block != expected {
                continue;
            }
            let data = &buf[4..len];
            let last = data.len() < usize::from(size);
            image.extend_from_slice(data);
            bytes += data.len() as u64;
            last_ack = vec![0, 4, buf[2], buf[3]];
            if let (true, Verdict::RejectWithText(text)) = (last, self.verdict) {
                let _ = socket.send_to(text.as_bytes(), peer);
            } else if block == 1 && !last {
                held = Some((
                    Instant::now() + self.quirks.first_ack_delay,
                    last_ack.clone(),
                ));
            } else {
                let _ = socket.send_to(&last_ack, peer);
            }
            if let Some((after, third)) = intruder
                && block == *after
            {
                // A stranger on the router's address: DATA, which would end a push if the
                // host took it for its peer's.
                let _ = third.send_to(b"\x00\x03\x00\x01intruder", peer);
            }
            quiet_since = Instant::now();
            timeouts = 0;
            expected = expected.wrapping_add(1);
            if last {
                let sha256 = hex_sha256(&image);
                let _ = events.send(Tftp::Done(Instant::now(), bytes, sha256));
                return;
            }
        }
    }
}

/// The kernel's stack in the router's namespace takes only frames sent to its interface's MAC:
/// this makes `dev` in `ns` take frames sent to the all-zero MAC as its own too, as the NIC of
/// a router whose MAC reads 00:00:00:00:00:00 does (an nftables netdev ingress rule sets their
/// packet type to "host").
pub fn accept_zero_mac(ns: &str, dev: &str) -> io::Result<()> {
    let rules = format!(
        "table netdev nmrp_zero_mac {{\n chain ingress {{\n  type filter hook ingress device \"{dev}\" priority 0;\n  ether daddr 00:00:00:00:00:00 meta pkttype set host\n }}\n}}\n"
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    io::Write::write_all(&mut child.stdin.take().expect("a pipe"), rules.as_bytes())?;
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("nft exited with {status}")))
    }
}

/// SHA-256 of `data`, hex.
pub fn sha256(data: &[u8]) -> String {
    hex_sha256(data)
}

/// A router address as the double's [`Happening::Configured`] reports it.
pub fn configured_ip(report: &Report) -> Option<Ipv4Addr> {
    match report {
        Report::Router(Happening::Configured { ip, .. }) => Some(*ip),
        _ => None,
    }
}
