//! The TFTP server: listens on one port, answers each request from a new socket bound to the
//! address the request was sent to (the laptop carries several addresses during a rescue),
//! and runs each transfer on its own thread.
//!
//! The listening side is async (tokio) and only triages: it parses, filters (broadcasts,
//! floods, echo ports, duplicates) and books transfers. Everything that touches the disk or
//! waits on the peer happens on the transfer's thread.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
#[cfg(target_os = "linux")]
use std::net::{Ipv4Addr, Ipv6Addr};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, SockaddrStorage, sockopt};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::admission::{Refusal, RequestRates, Slot, SlotView, find_slot};
use super::event::{EventSender, RequestKind, TransferEvent, TransferId};
use super::options::OptionPolicy;
use super::packet::{
    ErrorCode, MAX_DATAGRAM, Packet, ParseError, RawOption, Request, error_datagram,
};
use super::session::{RolloverTo, Timing};
use crate::image::timed;
use crate::net::port_owner::udp_port_owners;

/// What the server hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One firmware image.
    Image {
        /// The image file.
        path: PathBuf,
        /// Serve it whatever name is asked for (the name asked for is reported). Otherwise
        /// only its own file name is served.
        any_name: bool,
    },
    /// The regular files of a folder, read-only; names are confined to it.
    Directory(PathBuf),
}

/// Where uploads go, when they are accepted at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePolicy {
    /// The folder new files are created in (never overwritten).
    pub dir: PathBuf,
    /// The largest upload accepted, in bytes.
    pub max_size: u64,
    /// The most bytes all uploads of this run may store together (those under way count).
    pub quota: u64,
}

/// An image already read and hashed, served from memory: a run hands its snapshot over, so
/// a transfer reads no file (no reader thread, no read to wait for between an ACK and the
/// next DATA) and hashes nothing (the snapshot's hash was taken when it was read), and
/// nothing done on disk during the run can change what the router gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldImage {
    /// The image's bytes.
    pub bytes: Arc<[u8]>,
    /// Their SHA-256, lower-case hex.
    pub sha256: String,
}

/// How the server behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// What is served.
    pub source: Source,
    /// With [`Source::Image`]: the image's bytes, served in place of reading `path` (which
    /// still names it in messages). `None` (the default): the file is read per transfer.
    pub held: Option<HeldImage>,
    /// Which options are granted.
    pub options: OptionPolicy,
    /// Retransmission and patience.
    pub timing: Timing,
    /// Block numbering past 65535.
    pub rollover: RolloverTo,
    /// Most transfers at once whose peers answer. Requests not answered yet wait in a pool
    /// of their own (four per slot), so requests nobody answers never fill these.
    pub max_transfers: usize,
    /// Uploads, when enabled.
    pub write: Option<WritePolicy>,
    /// Requests a second one source address may make (a burst of this many is allowed)
    /// while few others ask; under a flood from many addresses each gets a fair share of
    /// 200 a second.
    pub requests_per_second: u32,
    /// A transfer silent this long counts as stalled: a new request from the same address
    /// replaces it (bootloaders restart from a new port).
    pub stall_after: Duration,
    /// How long before its open a file sent whole must have been last written for a copy of
    /// it to be kept and served again from memory while it stays unchanged (3 s: more than
    /// FAT's 2 s timestamps; see `shelf`).
    pub keep_settled: Duration,
}

impl ServerConfig {
    /// The defaults for a source.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            held: None,
            options: OptionPolicy::default(),
            timing: Timing::default(),
            rollover: RolloverTo::Zero,
            max_transfers: 8,
            write: None,
            requests_per_second: 20,
            stall_after: Duration::from_secs(2),
            keep_settled: shelf::SETTLED,
        }
    }

    /// The held image, when the source is an image ([`ServerConfig::held`]).
    pub(super) fn held_image(&self) -> Option<&HeldImage> {
        match self.source {
            Source::Image { .. } => self.held.as_ref(),
            Source::Directory(_) => None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The port is taken.
    #[error("UDP port {port} on {addr} is already in use{owner}.\n  fix: {fix}")]
    PortInUse {
        /// The address asked for.
        addr: IpAddr,
        /// The port asked for.
        port: u16,
        /// ", held by NAME (pid N)" when found.
        owner: String,
        /// What to do: on port 69 only stopping the holder helps, since a bootloader always
        /// asks port 69.
        fix: String,
    },
    /// Ports below 1024 need privileges.
    #[error(
        "not allowed to listen on UDP port {port}: ports below 1024 need privileges.\n  fix: run with sudo, or once: sudo setcap cap_net_bind_service+ep {exe}"
    )]
    PortNeedsPrivilege {
        /// The port asked for.
        port: u16,
        /// This program's path.
        exe: String,
    },
    /// The address is not one of this host's.
    #[error(
        "cannot listen on {addr}: it is not an address of this computer.\n  fix: use an address shown by `ip addr`, or 0.0.0.0 for all"
    )]
    AddressNotHere {
        /// The address asked for.
        addr: IpAddr,
    },
    /// What is to be served cannot be read.
    #[error("cannot serve {path}: {reason}.\n  fix: {fix}")]
    Source {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// What to do.
        fix: &'static str,
    },
    /// Any other socket error.
    #[error("cannot listen on {addr}: {source}")]
    Io {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
}

/// A listening TFTP server.
#[derive(Debug)]
pub struct Server {
    socket: UdpSocket,
    local: SocketAddr,
    config: Arc<ServerConfig>,
    root: Option<PathBuf>,
}

impl Server {
    /// Checks the source and binds the listening socket.
    pub fn bind(addr: SocketAddr, config: ServerConfig) -> Result<Self, ServeError> {
        let root = check_source(&config)?;
        if let Some(write) = &config.write
            && !write.dir.is_dir()
        {
            return Err(ServeError::Source {
                path: write.dir.clone(),
                reason: "the upload folder does not exist".into(),
                fix: "create it, or give an existing folder to --allow-write",
            });
        }
        let std_socket = StdUdpSocket::bind(addr).map_err(|err| bind_error(addr, err))?;
        let local = std_socket
            .local_addr()
            .map_err(|source| ServeError::Io { addr, source })?;
        enable_destination_info(&std_socket, addr)?;
        std_socket
            .set_nonblocking(true)
            .map_err(|source| ServeError::Io { addr, source })?;
        let socket =
            UdpSocket::from_std(std_socket).map_err(|source| ServeError::Io { addr, source })?;
        Ok(Self {
            socket,
            local,
            config: Arc::new(config),
            root,
        })
    }

    /// The address and port the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until `shutdown` turns true, then stops every transfer and returns.
    pub async fn run(
        self,
        events: EventSender,
        mut shutdown: watch::Receiver<bool>,
    ) -> io::Result<()> {
        let _ = events.send(TransferEvent::Listening { addr: self.local });
        let shared = Arc::new(Shared {
            config: Arc::clone(&self.config),
            root: self.root.clone(),
            events: events.clone(),
            active: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            uploaded: AtomicU64::new(0),
            shelf: shelf::Shelf::default(),
        });
        let mut triage = Triage::new(&self.config);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut freshen = tokio::time::interval(INTERFACES_FRESH);
        freshen.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let received = tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                    continue;
                }
                _ = freshen.tick() => {
                    triage.refresh_stale_interfaces();
                    continue;
                }
                received = self.socket.async_io(Interest::READABLE, || recv_with_destination(&self.socket, &mut buf)) => received,
            };
            match received {
                Ok(incoming) => {
                    let datagram = &buf[..incoming.len];
                    triage.handle(&shared, &incoming, datagram, self.local);
                }
                // ICMP errors surface here on some systems; the listener carries on.
                Err(err) if err.kind() != io::ErrorKind::WouldBlock => {
                    tokio::task::yield_now().await;
                }
                Err(_) => {}
            }
        }
        let handles: Vec<JoinHandle<()>> = {
            let mut active = lock(&shared.active);
            active
                .drain()
                .filter_map(|(_, mut transfer)| {
                    transfer.stop.store(true, Ordering::Relaxed);
                    transfer.thread.take()
                })
                .collect()
        };
        tokio::task::spawn_blocking(move || {
            // Each transfer looks at its stop flag at least every 200 ms; one stuck in a read
            // from a hung mount never will, and must not keep the process (and its undo)
            // from ending: it is left behind after the grace period.
            let deadline = Instant::now() + SHUTDOWN_GRACE;
            for handle in handles {
                while !handle.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if handle.is_finished() {
                    let _ = handle.join();
                }
            }
        })
        .await
        .map_err(io::Error::other)
    }
}

fn check_source(config: &ServerConfig) -> Result<Option<PathBuf>, ServeError> {
    match &config.source {
        Source::Image { path, .. } => {
            // Each look-up has a deadline: `serve` on a hung mount says so instead of hanging.
            let meta = timed::look_up(path, "the image file", |p| fs::metadata(p)).map_err(
                |err| ServeError::Source {
                    path: path.clone(),
                    reason: err.to_string(),
                    fix: "check the image's path (it is not created or modified by rescue-wizard)",
                },
            )?;
            if !meta.is_file() {
                return Err(ServeError::Source {
                    path: path.clone(),
                    reason: "not a regular file".into(),
                    fix: "give the firmware image file, or a folder to serve its files",
                });
            }
            timed::look_up(path, "the image file", |p| File::open(p).map(drop)).map_err(|err| {
                ServeError::Source {
                    path: path.clone(),
                    reason: err.to_string(),
                    fix: "make the image readable by this user (or run with sudo)",
                }
            })?;
            Ok(None)
        }
        Source::Directory(dir) => timed::look_up(dir, "the folder", std::path::Path::canonicalize)
            .map(Some)
            .map_err(|err| ServeError::Source {
                path: dir.clone(),
                reason: err.to_string(),
                fix: "check the folder's path",
            }),
    }
}

fn bind_error(addr: SocketAddr, err: io::Error) -> ServeError {
    match err.kind() {
        io::ErrorKind::AddrInUse => {
            let owners = udp_port_owners(addr.port());
            let owner = owners
                .iter()
                .find(|o| o.pid != std::process::id())
                .map(|o| format!(", held by {} (pid {})", o.name, o.pid))
                .unwrap_or_default();
            ServeError::PortInUse {
                addr: addr.ip(),
                port: addr.port(),
                owner,
                fix: port_in_use_fix(addr.port()),
            }
        }
        io::ErrorKind::PermissionDenied => ServeError::PortNeedsPrivilege {
            port: addr.port(),
            exe: std::env::current_exe()
                .map_or_else(|_| "rescue-wizard".into(), |p| p.display().to_string()),
        },
        io::ErrorKind::AddrNotAvailable => ServeError::AddressNotHere { addr: addr.ip() },
        _ => ServeError::Io { addr, source: err },
    }
}

/// The fix for a taken port. A bootloader asks port 69 and nothing else (RFC 1350 section 4;
/// none of them lets the port be set), so for 69 another port is no fix at all.
fn port_in_use_fix(port: u16) -> String {
    if port == crate::tftp::DEFAULT_PORT {
        "stop the other TFTP server for the recovery (tftpd-hpa: `sudo systemctl stop \
         tftpd-hpa`; dnsmasq: `sudo systemctl stop dnsmasq`; atftpd: `sudo systemctl stop \
         atftpd`), then start again: a bootloader only ever asks port 69, so another port \
         would not reach it"
            .to_owned()
    } else {
        "stop the program holding it, or pick another port with --port".to_owned()
    }
}

/// A datagram at the listening port, with where it was sent to.
struct Incoming {
    len: usize,
    peer: SocketAddr,
    /// The address in the datagram's header (a broadcast shows here).
    destination: Option<IpAddr>,
    /// The local address to answer from.
    local: Option<IpAddr>,
    /// The interface it came in on.
    ifindex: Option<u32>,
}

/// `IP_PKTINFO` tells which local address each request was sent to (and whether it was a
/// broadcast), so replies come from the address the router talked to.
#[cfg(target_os = "linux")]
fn enable_destination_info(socket: &StdUdpSocket, addr: SocketAddr) -> Result<(), ServeError> {
    let enabled = match addr {
        SocketAddr::V4(_) => socket::setsockopt(socket, sockopt::Ipv4PacketInfo, &true),
        SocketAddr::V6(_) => socket::setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true),
    };
    enabled.map_err(|e| ServeError::Io {
        addr,
        source: e.into(),
    })
}

/// Elsewhere the destination is not read: bind to the rescue address to answer from it.
#[cfg(not(target_os = "linux"))]
#[allow(clippy::unnecessary_wraps)]
fn enable_destination_info(_socket: &StdUdpSocket, _addr: SocketAddr) -> Result<(), ServeError> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn recv_with_destination(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Incoming> {
    let (len, peer) = socket.try_recv_from(buf)?;
    Ok(Incoming {
        len,
        peer,
        destination: None,
        local: None,
        ifindex: None,
    })
}

#[cfg(target_os = "linux")]
fn recv_with_destination(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Incoming> {
    let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = socket::recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let mut incoming = Incoming {
        len: msg.bytes,
        peer: SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        destination: None,
        local: None,
        ifindex: None,
    };
    if let Some(address) = msg.address {
        if let Some(v4) = address.as_sockaddr_in() {
            incoming.peer = SocketAddr::V4((*v4).into());
        } else if let Some(v6) = address.as_sockaddr_in6() {
            incoming.peer = SocketAddr::V6((*v6).into());
        }
    }
    for cmsg in msg.cmsgs().map_err(io::Error::from)? {
        match cmsg {
            ControlMessageOwned::Ipv4PacketInfo(info) => {
                incoming.destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    info.ipi_addr.s_addr,
                ))));
                incoming.local = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    info.ipi_spec_dst.s_addr,
                ))));
                incoming.ifindex = u32::try_from(info.ipi_ifindex).ok();
            }
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                let addr = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                incoming.destination = Some(addr);
                incoming.local = Some(addr);
                incoming.ifindex = Some(info.ipi6_ifindex);
            }
            _ => {}
        }
    }
    Ok(incoming)
}

struct ActiveTransfer {
    peer: SocketAddr,
    /// Milliseconds since the server's epoch when the transfer started.
    created_ms: u64,
    stop: Arc<AtomicBool>,
    /// Milliseconds since the server's epoch when the peer was last heard from, or
    /// [`NEVER_HEARD`].
    last_heard: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    config: Arc<ServerConfig>,
    root: Option<PathBuf>,
    events: EventSender,
    active: Mutex<HashMap<TransferId, ActiveTransfer>>,
    epoch: Instant,
    /// Bytes counted against the upload quota: stored, or arriving.
    uploaded: AtomicU64,
    /// The last file sent whole, kept to be served again from memory.
    shelf: shelf::Shelf,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A transfer thread that panicked must not take the server down with it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The listener's bookkeeping: rate limits, interface facts, transfer numbering.
struct Triage {
    next_id: u64,
    rates: RequestRates,
    interfaces: Vec<netdev::Interface>,
    interfaces_read: Option<Instant>,
    ignored_reported: Option<Instant>,
    ignored_since_report: u64,
}

/// How old the listener's list of interfaces (addresses, broadcasts, MTUs) may grow.
const INTERFACES_FRESH: Duration = Duration::from_secs(5);

/// How long a stopping server waits for its transfers to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How long opening a file to serve may take: a file on a hung network mount can block
/// `open(2)` for good.
const OPEN_DEADLINE: Duration = Duration::from_secs(5);

/// The largest file served in netascii mode, which is converted in memory (routers ask
/// `octet`; netascii is for text files).
const NETASCII_MAX: u64 = 16 * 1024 * 1024;

/// `last_heard` of a transfer whose peer has not answered yet.
const NEVER_HEARD: u64 = u64::MAX;

/// Requests a second accepted from everyone together, shared fairly between addresses.
const GLOBAL_REQUESTS_PER_SECOND: f64 = 200.0;

impl Triage {
    fn new(config: &ServerConfig) -> Self {
        Self {
            next_id: 1,
            rates: RequestRates::new(
                f64::from(config.requests_per_second),
                GLOBAL_REQUESTS_PER_SECOND,
                Instant::now(),
            ),
            // Read before the first request: the first is the one a bootloader may not repeat.
            interfaces: netdev::get_interfaces(),
            interfaces_read: Some(Instant::now()),
            ignored_reported: None,
            ignored_since_report: 0,
        }
    }

    fn ignore(&mut self, shared: &Shared, peer: SocketAddr, reason: &str) {
        // Under a flood, one report a second with a count, not one per datagram.
        self.ignored_since_report += 1;
        if self
            .ignored_reported
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            let count = std::mem::take(&mut self.ignored_since_report);
            let reason = if count > 1 {
                format!(
                    "{reason} (and {} more ignored in the last second)",
                    count - 1
                )
            } else {
                reason.to_owned()
            };
            self.ignored_reported = Some(Instant::now());
            let _ = shared
                .events
                .send(TransferEvent::RequestIgnored { peer, reason });
        }
    }

    /// Reads the interfaces again when a request came in on one not seen yet. The list is
    /// otherwise kept fresh between requests ([`Triage::refresh_stale_interfaces`]): reading
    /// it takes 0.5 to 1.4 ms here, which a request paid before its first answer whenever the
    /// list was older than 5 s (docs/performance.md).
    fn refresh_interfaces(&mut self, ifindex: Option<u32>) {
        let known = ifindex.is_none_or(|i| self.interfaces.iter().any(|n| n.index == i));
        if !known || self.interfaces_read.is_none() {
            self.interfaces = netdev::get_interfaces();
            self.interfaces_read = Some(Instant::now());
        }
    }

    /// Reads the interfaces again when the list is older than [`INTERFACES_FRESH`]: called
    /// by the listener while it waits, so that an address added or removed meanwhile is seen.
    fn refresh_stale_interfaces(&mut self) {
        if self
            .interfaces_read
            .is_none_or(|t| t.elapsed() > INTERFACES_FRESH)
        {
            self.interfaces = netdev::get_interfaces();
            self.interfaces_read = Some(Instant::now());
        }
    }

    fn is_broadcast(&self, destination: IpAddr) -> bool {
        let IpAddr::V4(dst) = destination else {
            return destination.is_multicast();
        };
        dst.is_broadcast()
            || dst.is_multicast()
            || self
                .interfaces
                .iter()
                .flat_map(|i| i.ipv4.iter())
                .any(|net| net.prefix_len() < 31 && net.broadcast() == dst)
    }

    /// The block size that fits the link a request came in on (RFC 2348 allows anything;
    /// fragments are what bootloaders cannot take).
    fn mtu_blksize(&self, ifindex: Option<u32>, v6: bool) -> Option<u16> {
        let mtu = self
            .interfaces
            .iter()
            .find(|i| Some(i.index) == ifindex)?
            .mtu?;
        let overhead = if v6 { 52 } else { 32 };
        Some(mtu.saturating_sub(overhead).min(u32::from(u16::MAX)) as u16)
    }

    /// Triages one datagram at the listening port: screens it, parses it (refusing a
    /// malformed request), books a slot, and starts the transfer.
    fn handle(
        &mut self,
        shared: &Arc<Shared>,
        incoming: &Incoming,
        datagram: &[u8],
        listen: SocketAddr,
    ) {
        let peer = incoming.peer;
        if let Err(reason) = self.screen(incoming) {
            return self.ignore(shared, peer, reason);
        }
        let local = incoming.local.unwrap_or_else(|| listen.ip());
        let Some((kind, request)) = self.parse_request(shared, datagram, local, peer) else {
            return;
        };
        let now_ms = shared.epoch.elapsed().as_millis() as u64;
        if let Err(reason) = shared.book_slot(peer, now_ms) {
            return self.ignore(shared, peer, reason);
        }
        self.start_transfer(shared, incoming, local, kind, request, now_ms);
    }

    /// Screens a datagram before it is parsed, by where it comes from, where it was sent to,
    /// and how often its address asks; the reason when it is not looked at.
    fn screen(&mut self, incoming: &Incoming) -> Result<(), &'static str> {
        let peer = incoming.peer;
        // Echo and chargen answer everything: a request "from" them is a loop waiting to
        // happen. Port 0 cannot be answered.
        if matches!(peer.port(), 0 | 7 | 19) {
            return Err("request from a reserved source port");
        }
        self.refresh_interfaces(incoming.ifindex);
        if incoming.destination.is_some_and(|d| self.is_broadcast(d)) {
            // RFC 1123 §4.2.3.5: requests sent to a broadcast address are silently ignored.
            return Err("request sent to a broadcast address");
        }
        // Each address within its fair share of the budget, so that flooding addresses
        // cannot use up what the router needs.
        self.rates
            .take(peer.ip(), Instant::now())
            .map_err(Refusal::reason)
    }

    /// The request in a datagram, or `None` when there is none: a malformed request is
    /// refused with an ERROR from `local`; anything else is a stray, ignored.
    fn parse_request(
        &mut self,
        shared: &Shared,
        datagram: &[u8],
        local: IpAddr,
        peer: SocketAddr,
    ) -> Option<(RequestKind, Request)> {
        match Packet::parse(datagram) {
            Ok(Packet::Rrq(request)) => Some((RequestKind::Read, request)),
            Ok(Packet::Wrq(request)) => Some((RequestKind::Write, request)),
            Err(ParseError::UnterminatedFilename | ParseError::MissingMode) => {
                let error = error_datagram(ErrorCode::ILLEGAL_OPERATION, "malformed request");
                reply_from(local, peer, &error);
                let _ = shared.events.send(TransferEvent::RequestRefused {
                    peer,
                    name: String::new(),
                    code: ErrorCode::ILLEGAL_OPERATION,
                    reason: "malformed request (no NUL-terminated file name and mode)".into(),
                });
                None
            }
            // DATA, ACK, ERROR, OACK or garbage at the listening port: strays from an old
            // transfer or noise. Never answered (and an ERROR never with an ERROR).
            _ => {
                self.ignore(shared, peer, "not a request");
                None
            }
        }
    }

    /// Announces the request and runs its transfer on a thread of its own, booked in the
    /// active transfers.
    fn start_transfer(
        &mut self,
        shared: &Arc<Shared>,
        incoming: &Incoming,
        local: IpAddr,
        kind: RequestKind,
        request: Request,
        now_ms: u64,
    ) {
        let peer = incoming.peer;
        let id = TransferId(self.next_id);
        self.next_id += 1;
        let _ = shared.events.send(TransferEvent::RequestReceived {
            id,
            peer,
            local,
            name: request.display_name(),
            kind,
            options: request.options.iter().map(RawOption::shown).collect(),
        });
        let mtu_blksize = self.mtu_blksize(incoming.ifindex, peer.is_ipv6());
        let stop = Arc::new(AtomicBool::new(false));
        let last_heard = Arc::new(AtomicU64::new(NEVER_HEARD));
        let job = Job {
            shared: Arc::clone(shared),
            id,
            peer,
            local,
            kind,
            request,
            mtu_blksize,
            stop: Arc::clone(&stop),
            last_heard: Arc::clone(&last_heard),
        };
        let mut active = lock(&shared.active);
        let thread = std::thread::Builder::new()
            .name(format!("tftp-{peer}"))
            .spawn(move || job.run());
        match thread {
            Ok(handle) => {
                active.insert(
                    id,
                    ActiveTransfer {
                        peer,
                        created_ms: now_ms,
                        stop,
                        last_heard,
                        thread: Some(handle),
                    },
                );
            }
            Err(err) => {
                drop(active);
                self.ignore(
                    shared,
                    peer,
                    &format!("cannot start a transfer thread: {err}"),
                );
            }
        }
    }
}

impl Shared {
    /// Makes room for a new transfer from `peer`: retires the transfers it supersedes, then
    /// finds a free slot (or one to take over). The reason when there is none.
    fn book_slot(&self, peer: SocketAddr, now_ms: u64) -> Result<(), &'static str> {
        let mut active = lock(&self.active);
        self.retire_superseded(&active, peer, now_ms)?;
        active.retain(|_, t| {
            !t.stop.load(Ordering::Relaxed) || t.thread.as_ref().is_some_and(|h| !h.is_finished())
        });
        let at = |ms: u64| self.epoch + Duration::from_millis(ms);
        let running: Vec<SlotView> = active
            .iter()
            .filter(|(_, t)| !t.stop.load(Ordering::Relaxed))
            .map(|(id, t)| {
                let heard = t.last_heard.load(Ordering::Relaxed);
                SlotView {
                    id: *id,
                    created: at(t.created_ms),
                    heard: (heard != NEVER_HEARD).then(|| at(heard)),
                }
            })
            .collect();
        match find_slot(&running, self.config.max_transfers, at(now_ms)) {
            Ok(Slot::Free) => {}
            Ok(Slot::Evict(victim)) => {
                if let Some(victim) = active.get(&victim) {
                    victim.stop.store(true, Ordering::Relaxed);
                }
            }
            Err(refusal) => return Err(refusal.reason()),
        }
        Ok(())
    }

    /// Stops the transfers a new request from `peer` replaces: the same client and port
    /// asking anew, or a stalled one from the same address. A request repeated before our
    /// answer reached the client is no new transfer: its reason.
    fn retire_superseded(
        &self,
        active: &HashMap<TransferId, ActiveTransfer>,
        peer: SocketAddr,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        if let Some(same) = active
            .values()
            .find(|t| t.peer == peer && !t.stop.load(Ordering::Relaxed))
        {
            if same.last_heard.load(Ordering::Relaxed) == NEVER_HEARD {
                // The client repeated its request before our answer reached it: one
                // transfer.
                return Err("repeated request for a transfer under way");
            }
            // The same client and port asking anew after talking to us: it is done with
            // the old transfer (tftp-hpa's client reuses its port for the next file).
            same.stop.store(true, Ordering::Relaxed);
        }
        let stall_ms = self.config.stall_after.as_millis() as u64;
        for transfer in active.values() {
            let heard = transfer.last_heard.load(Ordering::Relaxed);
            let quiet_since = if heard == NEVER_HEARD {
                transfer.created_ms
            } else {
                heard
            };
            if transfer.peer.ip() == peer.ip() && now_ms.saturating_sub(quiet_since) >= stall_ms {
                // A bootloader restarting from a new port: its old transfer is dead.
                transfer.stop.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Sends one datagram from `local` (an error to a request that starts no transfer).
fn reply_from(local: IpAddr, peer: SocketAddr, datagram: &[u8]) {
    if let Ok(socket) = StdUdpSocket::bind(SocketAddr::new(local, 0)) {
        let _ = socket.send_to(datagram, peer);
    }
}

/// A refusal: the error sent, and the reason shown to the technician.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The error code sent to the peer.
    pub code: ErrorCode,
    /// The message sent to the peer.
    pub message: String,
    /// Why, for the technician, with the fix where there is one.
    pub reason: String,
}

impl Refused {
    fn new(code: ErrorCode, message: &str, reason: impl Into<String>) -> Self {
        Self {
            code,
            message: message.to_owned(),
            reason: reason.into(),
        }
    }
}

mod files;
mod job;
mod shelf;

pub use files::{confine, describe_options, hex_sha256};
use job::Job;
pub(crate) use job::Store;

#[cfg(test)]
mod tests;
