//! The TFTP server: listens on one port, answers each request from a new socket bound to the
//! address the request was sent to (the laptop carries several addresses during a rescue),
//! and runs each transfer on its own thread.
//!
//! The listening side is async (tokio) and only triages: it parses, filters (broadcasts,
//! floods, echo ports, duplicates) and books transfers. Everything that touches the disk or
//! waits on the peer happens on the transfer's thread.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
#[cfg(target_os = "linux")]
use std::net::{Ipv4Addr, Ipv6Addr};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

#[cfg(target_os = "linux")]
use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, SockaddrStorage, sockopt};
use sha2::{Digest, Sha256};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::admission::{RequestRates, Slot, SlotView, find_slot};
use super::event::{EventSender, RequestKind, TransferEvent, TransferId};
use super::landing::{NotPlaced, move_into_place};
use super::netascii;
use super::options::{Direction, Negotiation, OptionPolicy, negotiate};
use super::packet::{
    ErrorCode, MAX_DATAGRAM, Mode, Packet, ParseError, RawOption, Request, error_datagram,
    escape_name,
};
use super::session::{
    Blocks, Opening, Receiver, RolloverTo, Sender, Status, Timing, TransferFailure,
};
use super::transfer::{Link, Machine, drive, linger};
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

/// How the server behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// What is served.
    pub source: Source,
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
}

impl ServerConfig {
    /// The defaults for a source.
    pub fn new(source: Source) -> Self {
        Self {
            source,
            options: OptionPolicy::default(),
            timing: Timing::default(),
            rollover: RolloverTo::Zero,
            max_transfers: 8,
            write: None,
            requests_per_second: 20,
            stall_after: Duration::from_secs(2),
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
        });
        let mut triage = Triage::new(&self.config);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let received = tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
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
            let meta = fs::metadata(path).map_err(|err| ServeError::Source {
                path: path.clone(),
                reason: err.to_string(),
                fix: "check the image's path (it is not created or modified by rescue-wizard)",
            })?;
            if !meta.is_file() {
                return Err(ServeError::Source {
                    path: path.clone(),
                    reason: "not a regular file".into(),
                    fix: "give the firmware image file, or a folder to serve its files",
                });
            }
            File::open(path).map_err(|err| ServeError::Source {
                path: path.clone(),
                reason: err.to_string(),
                fix: "make the image readable by this user (or run with sudo)",
            })?;
            Ok(None)
        }
        Source::Directory(dir) => dir
            .canonicalize()
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
            interfaces: Vec::new(),
            interfaces_read: None,
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

    fn refresh_interfaces(&mut self, ifindex: Option<u32>) {
        let known = ifindex.is_none_or(|i| self.interfaces.iter().any(|n| n.index == i));
        if !known
            || self
                .interfaces_read
                .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
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

    #[expect(
        clippy::too_many_lines,
        reason = "split pending: the request handler, with the safety work on tftp/"
    )]
    fn handle(
        &mut self,
        shared: &Arc<Shared>,
        incoming: &Incoming,
        datagram: &[u8],
        listen: SocketAddr,
    ) {
        let peer = incoming.peer;
        // Echo and chargen answer everything: a request "from" them is a loop waiting to
        // happen. Port 0 cannot be answered.
        if matches!(peer.port(), 0 | 7 | 19) {
            return self.ignore(shared, peer, "request from a reserved source port");
        }
        self.refresh_interfaces(incoming.ifindex);
        if incoming.destination.is_some_and(|d| self.is_broadcast(d)) {
            // RFC 1123 §4.2.3.5: requests sent to a broadcast address are silently ignored.
            return self.ignore(shared, peer, "request sent to a broadcast address");
        }
        // Each address within its fair share of the budget, so that flooding addresses
        // cannot use up what the router needs.
        if let Err(refusal) = self.rates.take(peer.ip(), Instant::now()) {
            return self.ignore(shared, peer, refusal.reason());
        }
        let local = incoming.local.unwrap_or_else(|| listen.ip());
        let request = match Packet::parse(datagram) {
            Ok(Packet::Rrq(request)) => (RequestKind::Read, request),
            Ok(Packet::Wrq(request)) => (RequestKind::Write, request),
            Err(ParseError::UnterminatedFilename | ParseError::MissingMode) => {
                let error = error_datagram(ErrorCode::ILLEGAL_OPERATION, "malformed request");
                reply_from(local, peer, &error);
                let _ = shared.events.send(TransferEvent::RequestRefused {
                    peer,
                    name: String::new(),
                    code: ErrorCode::ILLEGAL_OPERATION,
                    reason: "malformed request (no NUL-terminated file name and mode)".into(),
                });
                return;
            }
            // DATA, ACK, ERROR, OACK or garbage at the listening port: strays from an old
            // transfer or noise. Never answered (and an ERROR never with an ERROR).
            _ => return self.ignore(shared, peer, "not a request"),
        };
        let (kind, request) = request;
        let now_ms = shared.epoch.elapsed().as_millis() as u64;
        {
            let mut active = lock(&shared.active);
            if let Some(same) = active
                .values()
                .find(|t| t.peer == peer && !t.stop.load(Ordering::Relaxed))
            {
                if same.last_heard.load(Ordering::Relaxed) == NEVER_HEARD {
                    // The client repeated its request before our answer reached it: one
                    // transfer.
                    drop(active);
                    return self.ignore(shared, peer, "repeated request for a transfer under way");
                }
                // The same client and port asking anew after talking to us: it is done with
                // the old transfer (tftp-hpa's client reuses its port for the next file).
                same.stop.store(true, Ordering::Relaxed);
            }
            let stall_ms = shared.config.stall_after.as_millis() as u64;
            for transfer in active.values() {
                let heard = transfer.last_heard.load(Ordering::Relaxed);
                let quiet_since = if heard == NEVER_HEARD {
                    transfer.created_ms
                } else {
                    heard
                };
                if transfer.peer.ip() == peer.ip() && now_ms.saturating_sub(quiet_since) >= stall_ms
                {
                    // A bootloader restarting from a new port: its old transfer is dead.
                    transfer.stop.store(true, Ordering::Relaxed);
                }
            }
            active.retain(|_, t| {
                !t.stop.load(Ordering::Relaxed)
                    || t.thread.as_ref().is_some_and(|h| !h.is_finished())
            });
            let at = |ms: u64| shared.epoch + Duration::from_millis(ms);
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
            match find_slot(&running, shared.config.max_transfers, at(now_ms)) {
                Ok(Slot::Free) => {}
                Ok(Slot::Evict(victim)) => {
                    if let Some(victim) = active.get(&victim) {
                        victim.stop.store(true, Ordering::Relaxed);
                    }
                }
                Err(refusal) => {
                    drop(active);
                    return self.ignore(shared, peer, refusal.reason());
                }
            }
        }
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

/// Sends one datagram from `local` (an error to a request that starts no transfer).
fn reply_from(local: IpAddr, peer: SocketAddr, datagram: &[u8]) {
    if let Ok(socket) = StdUdpSocket::bind(SocketAddr::new(local, 0)) {
        let _ = socket.send_to(datagram, peer);
    }
}

/// One transfer's work, run on its own thread.
struct Job {
    shared: Arc<Shared>,
    id: TransferId,
    peer: SocketAddr,
    local: IpAddr,
    kind: RequestKind,
    request: Request,
    mtu_blksize: Option<u16>,
    stop: Arc<AtomicBool>,
    last_heard: Arc<AtomicU64>,
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

impl Job {
    fn run(self) {
        let started = Instant::now();
        let socket = match StdUdpSocket::bind(SocketAddr::new(self.local, 0)) {
            Ok(socket) => socket,
            Err(err) => {
                self.failed(format!(
                    "cannot open a transfer socket on {}: {err}",
                    self.local
                ));
                return self.finish();
            }
        };
        let outcome = match self.kind {
            RequestKind::Read => self.serve_read(&socket, started),
            RequestKind::Write => self.serve_write(&socket, started),
        };
        if let Err(refused) = outcome {
            // Off the books before answering, so the client's next request (often from the
            // same port, right after this ERROR) is not taken for a repeat of this one.
            // The event goes out before the ERROR, so whoever reacts to the ERROR finds it.
            self.finish();
            let datagram = error_datagram(refused.code, &refused.message);
            let _ = self.shared.events.send(TransferEvent::RequestRefused {
                peer: self.peer,
                name: self.request.display_name(),
                code: refused.code,
                reason: refused.reason,
            });
            let _ = socket.send_to(&datagram, self.peer);
        }
        self.finish();
    }

    /// The transfer's side of the socket loop.
    fn link<'a>(&'a self, socket: &'a StdUdpSocket, total: Option<u64>) -> Link<'a> {
        Link {
            socket,
            peer: self.peer,
            id: self.id,
            events: &self.shared.events,
            stop: &self.stop,
            total,
            heard: Some((&self.last_heard, self.shared.epoch)),
        }
    }

    fn finish(&self) {
        lock(&self.shared.active).remove(&self.id);
    }

    fn failed(&self, reason: String) {
        let _ = self.shared.events.send(TransferEvent::Failed {
            id: self.id,
            peer: self.peer,
            name: self.request.display_name(),
            reason,
        });
    }

    fn check_mode(&self) -> Result<bool, Refused> {
        match &self.request.mode {
            Mode::Octet => Ok(false),
            Mode::Netascii => Ok(true),
            Mode::Mail => Err(Refused::new(
                ErrorCode::ILLEGAL_OPERATION,
                "mail mode is not supported",
                "the client asked for the obsolete mail mode",
            )),
            // Old clients send `binary` (the RFC 2348 example does): it means octet.
            Mode::Other(raw) if raw.eq_ignore_ascii_case(b"binary") => Ok(false),
            Mode::Other(raw) => Err(Refused::new(
                ErrorCode::ILLEGAL_OPERATION,
                "unknown transfer mode",
                format!("unknown transfer mode {:?}", escape_name(raw)),
            )),
        }
    }

    fn resolve_read(&self) -> Result<PathBuf, Refused> {
        match &self.shared.config.source {
            Source::Image { path, any_name } => {
                let own = path
                    .file_name()
                    .map(|n| n.as_encoded_bytes().to_vec())
                    .unwrap_or_default();
                if *any_name || self.request.filename == own {
                    Ok(path.clone())
                } else {
                    Err(Refused::new(
                        ErrorCode::FILE_NOT_FOUND,
                        "File not found",
                        format!(
                            "the device asked for \"{}\" but the image is \"{}\"; serve it under any name with --any-name",
                            self.request.display_name(),
                            escape_name(&own)
                        ),
                    ))
                }
            }
            Source::Directory(_) => {
                let root = self
                    .shared
                    .root
                    .as_deref()
                    .unwrap_or(Path::new("/nonexistent"));
                confine(root, &self.request.filename)
            }
        }
    }

    fn serve_read(&self, socket: &StdUdpSocket, started: Instant) -> Result<(), Refused> {
        let netascii_mode = self.check_mode()?;
        let path = self.resolve_read()?;
        let (file, meta) = open_regular(&path)?;
        let file = Arc::new(FileBlocks::new(file, &meta));
        let data: Arc<dyn Blocks> = if netascii_mode {
            Arc::new(netascii_copy(&file, &path)?)
        } else {
            Arc::clone(&file) as Arc<dyn Blocks>
        };
        let size = data.size();
        let config = &self.shared.config;
        let negotiation = negotiate(
            &self.request.options,
            Direction::Read { size },
            &config.options,
            self.mtu_blksize,
        )
        .map_err(|r| Refused::new(r.code, &r.message, r.message.clone()))?;
        self.report_options(&negotiation);
        let opening = if negotiation.oack.is_empty() {
            Opening::Data
        } else {
            Opening::Oack(
                Packet::Oack {
                    options: negotiation.oack.clone(),
                }
                .to_bytes(),
            )
        };
        let mut initial = Vec::new();
        let sender = Sender::start_from(
            Arc::clone(&data),
            &negotiation.agreed,
            config.rollover,
            opening,
            config.timing,
            Instant::now(),
            &mut initial,
        );
        let link = self.link(socket, Some(size));
        let (ended, _) = drive(&link, Machine::Send(sender), initial);
        let status = match ended.status {
            Status::Complete | Status::Unconfirmed if file.changed() => {
                Status::Failed(TransferFailure::ChangedOnDisk { path: path.clone() })
            }
            other => other,
        };
        match status {
            Status::Complete | Status::Unconfirmed => {
                let sha256 = match file.sha256() {
                    Some(sha256) if !netascii_mode => sha256,
                    _ => sha256_of(data.as_ref()).map_err(|err| {
                        Refused::new(
                            ErrorCode::NOT_DEFINED,
                            "cannot read the file",
                            format!("cannot read {}: {err}", path.display()),
                        )
                    })?,
                };
                let _ = self.shared.events.send(TransferEvent::Finished {
                    id: self.id,
                    peer: self.peer,
                    name: self.request.display_name(),
                    bytes: size,
                    elapsed: started.elapsed(),
                    sha256,
                    confirmed: status == Status::Complete,
                    stats: ended.stats,
                });
            }
            Status::OptionsRefused => {
                let _ = self.shared.events.send(TransferEvent::OptionsRefused {
                    id: self.id,
                    peer: self.peer,
                });
            }
            Status::Failed(reason) => self.failed(reason.to_string()),
            Status::Running => self.failed("stopped".into()),
        }
        Ok(())
    }

    fn report_options(&self, negotiation: &Negotiation) {
        let _ = self.shared.events.send(TransferEvent::OptionsAgreed {
            id: self.id,
            blksize: negotiation.agreed.blksize,
            windowsize: negotiation.agreed.windowsize,
            timeout: negotiation.agreed.timeout,
            tsize: negotiation.agreed.tsize,
            ignored: negotiation
                .ignored
                .iter()
                .map(|(o, why)| (o.shown(), (*why).to_owned()))
                .collect(),
        });
    }

    #[expect(
        clippy::too_many_lines,
        reason = "split pending: the write side's checks, landing and events read as one sequence"
    )]
    fn serve_write(&self, socket: &StdUdpSocket, started: Instant) -> Result<(), Refused> {
        let Some(write) = &self.shared.config.write else {
            return Err(Refused::new(
                ErrorCode::ACCESS_VIOLATION,
                "writes are not allowed",
                "the client tried to upload; start the server with --allow-write DIR to accept uploads",
            ));
        };
        let netascii_mode = self.check_mode()?;
        let name = plain_file_name(&self.request.filename)?;
        let negotiation = negotiate(
            &self.request.options,
            Direction::Write {
                limit: write.max_size,
            },
            &self.shared.config.options,
            self.mtu_blksize,
        )
        .map_err(|r| {
            let fix = if r.code == ErrorCode::DISK_FULL {
                format!(
                    "{}; raise the limit of one upload with --max-write-size",
                    r.message
                )
            } else {
                r.message.clone()
            };
            Refused::new(r.code, &r.message, fix)
        })?;
        let quota = Quota {
            used: &self.shared.uploaded,
            limit: write.quota,
        };
        if let Some(announced) = negotiation.agreed.tsize {
            quota.check(announced)?;
        }
        let path = write.dir.join(&name);
        let exists = |path: &Path| {
            Refused::new(
                ErrorCode::FILE_EXISTS,
                "File already exists",
                format!("{} already exists; it is not overwritten", path.display()),
            )
        };
        if fs::symlink_metadata(&path).is_ok() {
            return Err(exists(&path));
        }
        // The upload lands as NAME.part and takes its name only when whole, so a run killed
        // mid-upload never leaves a partial file under the final name. Create-only: an
        // existing file is never overwritten, a symlink never followed.
        let part = write.dir.join(format!("{name}.part"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(|err| {
                if err.kind() == io::ErrorKind::AlreadyExists {
                    Refused::new(
                        ErrorCode::FILE_EXISTS,
                        "File already exists",
                        format!(
                            "{} exists: another upload of {name} is under way, or one was cut off; remove it to upload {name} again",
                            part.display()
                        ),
                    )
                } else {
                    Refused::new(
                        ErrorCode::ACCESS_VIOLATION,
                        "cannot create the file",
                        format!("cannot create {}: {err}", part.display()),
                    )
                }
            })?;
        self.report_options(&negotiation);
        let first = if negotiation.oack.is_empty() {
            super::packet::ack_datagram(0)
        } else {
            Packet::Oack {
                options: negotiation.oack.clone(),
            }
            .to_bytes()
        };
        let config = &self.shared.config;
        let mut initial = Vec::new();
        let receiver = Receiver::start(
            &negotiation.agreed,
            config.rollover,
            Some(first),
            Some(write.max_size),
            config.timing,
            Instant::now(),
            &mut initial,
        );
        let mut store = Store::new(file, netascii_mode);
        let link = self.link(socket, negotiation.agreed.tsize);
        let mut counted = 0u64;
        let mut sink = |data: &[u8]| {
            quota.take(data.len() as u64, &mut counted)?;
            store.write(data)
        };
        let (ended, machine) = drive(&link, Machine::Receive(receiver, &mut sink), initial);
        let receiver = machine.into_receiver();
        let finished = match ended.status {
            Status::Complete => store
                .finish()
                .and_then(|sha256| publish(&part, &path).map(|()| sha256)),
            Status::Failed(_) if ended.bytes > write.max_size => Err(format!(
                "the upload passed the limit of {} bytes for one upload; raise it with --max-write-size",
                write.max_size
            )),
            Status::Failed(reason) => Err(reason.to_string()),
            _ => Err("stopped".into()),
        };
        match finished {
            Ok(sha256) => {
                let _ = self.shared.events.send(TransferEvent::Finished {
                    id: self.id,
                    peer: self.peer,
                    name: self.request.display_name(),
                    bytes: ended.bytes,
                    elapsed: started.elapsed(),
                    sha256,
                    confirmed: true,
                    stats: ended.stats,
                });
                // The final ACK may be lost: keep answering the final DATA for a while,
                // after the outcome is out.
                if let Some(receiver) = receiver {
                    linger(&link, receiver);
                }
            }
            Err(reason) => {
                // A partial upload is never left behind, and no longer counts.
                let _ = fs::remove_file(&part);
                quota.give_back(counted);
                self.failed(reason);
            }
        }
        Ok(())
    }
}

/// The upload quota of a run: the bytes all uploads store together.
struct Quota<'a> {
    used: &'a AtomicU64,
    limit: u64,
}

impl Quota<'_> {
    fn refusal(&self, more: u64) -> String {
        format!(
            "the upload would pass the total upload quota of {} bytes ({} already taken by this run's uploads, {more} more asked); raise it with --write-quota",
            self.limit,
            self.used.load(Ordering::Relaxed)
        )
    }

    /// Refuses an upload whose announced size does not fit what is left.
    fn check(&self, announced: u64) -> Result<(), Refused> {
        if self.used.load(Ordering::Relaxed).saturating_add(announced) > self.limit {
            return Err(Refused::new(
                ErrorCode::DISK_FULL,
                "upload quota exceeded",
                self.refusal(announced),
            ));
        }
        Ok(())
    }

    /// Counts `bytes` more against the quota (adding them to `counted`), or refuses them.
    fn take(&self, bytes: u64, counted: &mut u64) -> io::Result<()> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(io::Error::other(self.refusal(bytes)));
        }
        *counted += bytes;
        Ok(())
    }

    /// Gives back what a failed upload had counted.
    fn give_back(&self, counted: u64) {
        self.used.fetch_sub(counted, Ordering::Relaxed);
    }
}

/// Gives a whole upload its final name, never replacing anything that appeared there since.
fn publish(part: &Path, path: &Path) -> Result<(), String> {
    move_into_place(part, path).map_err(|not_placed| match not_placed {
        NotPlaced::Appeared => format!(
            "{} appeared during the upload; it is not overwritten, the upload is not kept",
            path.display()
        ),
        NotPlaced::Io(err) => format!("cannot name the upload {}: {err}", path.display()),
    })
}

/// Where an upload's bytes go: the file, through the netascii decoder when asked, with the
/// hash of what was stored.
pub(crate) struct Store {
    writer: BufWriter<File>,
    decoder: Option<netascii::Decoder>,
    scratch: Vec<u8>,
    hasher: Sha256,
}

impl Store {
    pub(crate) fn new(file: File, netascii_mode: bool) -> Self {
        Self {
            writer: BufWriter::with_capacity(256 * 1024, file),
            decoder: netascii_mode.then(netascii::Decoder::default),
            scratch: Vec::new(),
            hasher: Sha256::new(),
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(decoder) = &mut self.decoder {
            self.scratch.clear();
            decoder.feed(data, &mut self.scratch);
            self.hasher.update(&self.scratch);
            self.writer.write_all(&self.scratch)
        } else {
            self.hasher.update(data);
            self.writer.write_all(data)
        }
    }

    /// Flushes to disk; returns the SHA-256 of what was stored.
    pub(crate) fn finish(mut self) -> Result<String, String> {
        if let Some(decoder) = &mut self.decoder {
            self.scratch.clear();
            decoder.finish(&mut self.scratch);
            self.hasher.update(&self.scratch);
            self.writer
                .write_all(&self.scratch)
                .map_err(|e| e.to_string())?;
        }
        let file = self
            .writer
            .into_inner()
            .map_err(|e| e.error().to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        Ok(to_hex(&self.hasher.finalize()))
    }
}

/// Opens a file to serve, without ever blocking on it: `O_NONBLOCK` (a FIFO opens at once
/// instead of waiting for a writer), then `fstat` on what was opened, and only a regular file
/// is served. The open runs on a helper thread with a deadline, so a file on a hung mount
/// fails its own transfer with a message instead of holding it (the helper is left behind).
fn open_regular(path: &Path) -> Result<(File, fs::Metadata), Refused> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    let opener = std::thread::Builder::new()
        .name("tftp-open".into())
        .spawn(move || {
            let opened = open_nonblocking(&owned).and_then(|file| {
                let meta = file.metadata()?;
                Ok((file, meta))
            });
            let _ = tx.send(opened);
        });
    let not_readable = |err: io::Error| {
        let code = if err.kind() == io::ErrorKind::NotFound {
            ErrorCode::FILE_NOT_FOUND
        } else {
            ErrorCode::ACCESS_VIOLATION
        };
        Refused::new(
            code,
            "cannot read the file",
            format!("cannot read {}: {err}", path.display()),
        )
    };
    opener.map_err(not_readable)?;
    match rx.recv_timeout(OPEN_DEADLINE) {
        Ok(Ok((file, meta))) if meta.is_file() => Ok((file, meta)),
        Ok(Ok(_)) => Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "not a regular file",
            format!(
                "{} is not a regular file (a FIFO, a device or a socket); only regular files are served",
                path.display()
            ),
        )),
        Ok(Err(err)) => Err(not_readable(err)),
        Err(_) => Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "the file cannot be opened",
            format!(
                "{} did not open within {} s (a hung network mount?); copy the image to a local disk",
                path.display(),
                OPEN_DEADLINE.as_secs()
            ),
        )),
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_NOCTTY.bits())
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// A file served by reading each block at its offset (`pread`): the file is never held
/// whole, so a 100 GB file costs what one block costs, and nothing is cached between
/// transfers (the kernel's page cache does that). The SHA-256 is taken as the blocks are
/// first read, in order.
#[derive(Debug)]
struct FileBlocks {
    file: File,
    size: u64,
    fingerprint: (u64, Option<SystemTime>, u64),
    /// Bytes hashed so far, in order from the start, and the hash.
    hashed: Mutex<(u64, Sha256)>,
}

impl FileBlocks {
    fn new(file: File, meta: &fs::Metadata) -> Self {
        Self {
            file,
            size: meta.len(),
            fingerprint: fingerprint(meta),
            hashed: Mutex::new((0, Sha256::new())),
        }
    }

    /// Whether the file was changed in place (or cut short) since it was opened. A file
    /// replaced by a new one (renamed over) is not: the open one is still read.
    fn changed(&self) -> bool {
        self.file
            .metadata()
            .map_or(true, |meta| fingerprint(&meta) != self.fingerprint)
    }

    /// The SHA-256 of the whole file, once every byte has been read in order.
    fn sha256(&self) -> Option<String> {
        let hashed = lock(&self.hashed);
        (hashed.0 == self.size).then(|| to_hex(&hashed.1.clone().finalize()))
    }
}

impl Blocks for FileBlocks {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_exact_at(&self.file, offset, buf)?;
        // The lock is taken after the read: never held across file I/O.
        let mut hashed = lock(&self.hashed);
        if hashed.0 == offset {
            hashed.1.update(&*buf);
            hashed.0 += buf.len() as u64;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    // A file cut short under us ends in UnexpectedEof: the transfer fails, nothing is
    // served half.
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n =
            std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], offset + done as u64)?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        done += n;
    }
    Ok(())
}

/// The netascii form of a file, converted in memory, for files up to [`NETASCII_MAX`].
fn netascii_copy(file: &FileBlocks, path: &Path) -> Result<Arc<[u8]>, Refused> {
    if file.size > NETASCII_MAX {
        return Err(Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "file too large for netascii",
            format!(
                "{} has {} bytes; netascii mode is served up to {NETASCII_MAX} bytes (a firmware image is fetched in octet mode)",
                path.display(),
                file.size
            ),
        ));
    }
    let mut octet = vec![0u8; file.size as usize];
    file.read_at(0, &mut octet).map_err(|err| {
        Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "cannot read the file",
            format!("cannot read {}: {err}", path.display()),
        )
    })?;
    Ok(netascii::encode(&octet).into())
}

/// The SHA-256 of what `data` holds, read in bounded chunks.
fn sha256_of(data: &dyn Blocks) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut offset = 0;
    while offset < data.size() {
        let len = (data.size() - offset).min(chunk.len() as u64) as usize;
        data.read_at(offset, &mut chunk[..len])?;
        hasher.update(&chunk[..len]);
        offset += len as u64;
    }
    Ok(to_hex(&hasher.finalize()))
}

fn fingerprint(meta: &fs::Metadata) -> (u64, Option<SystemTime>, u64) {
    (meta.len(), meta.modified().ok(), inode(meta))
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

/// SHA-256 of `bytes`, as lower-case hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Checks a requested name and finds it inside `root` (already canonical).
///
/// Names are never decoded (no URL or Unicode unescaping), so `%2f` is three characters.
/// Refused: anything but printable ASCII, backslashes, drive letters, absolute names, empty,
/// `.` and `..` components; then the canonical path (symlinks resolved) must still lie under
/// the root, compared by components so that a sibling `root-private` does not count.
pub fn confine(root: &Path, raw: &[u8]) -> Result<PathBuf, Refused> {
    let refuse = |why: &str| {
        Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "Access violation",
            format!("refused the name \"{}\": {why}", escape_name(raw)),
        )
    };
    let name = std::str::from_utf8(raw).map_err(|_| refuse("not plain ASCII"))?;
    if name.is_empty() || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(refuse("empty, or not printable ASCII"));
    }
    if name.contains('\\') || name.contains(':') || name.starts_with('/') {
        return Err(refuse(
            "backslashes, drive letters and absolute names are not served",
        ));
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(refuse("the name leaves the served folder"));
    }
    let candidate = root.join(name);
    let canonical = candidate.canonicalize().map_err(|err| {
        if err.kind() == io::ErrorKind::NotFound {
            Refused::new(
                ErrorCode::FILE_NOT_FOUND,
                "File not found",
                format!(
                    "the device asked for \"{name}\", which is not in {}",
                    root.display()
                ),
            )
        } else {
            refuse(&err.to_string())
        }
    })?;
    if !canonical.starts_with(root) {
        return Err(refuse("a link that points outside the served folder"));
    }
    if !canonical.is_file() {
        return Err(Refused::new(
            ErrorCode::FILE_NOT_FOUND,
            "File not found",
            format!("\"{name}\" is not a regular file"),
        ));
    }
    Ok(canonical)
}

/// An upload's name: one plain component, nothing that could leave the upload folder.
fn plain_file_name(raw: &[u8]) -> Result<String, Refused> {
    let refuse = || {
        Refused::new(
            ErrorCode::ACCESS_VIOLATION,
            "Access violation",
            format!(
                "refused the upload name \"{}\": only a plain file name is accepted",
                escape_name(raw)
            ),
        )
    };
    let name = std::str::from_utf8(raw).map_err(|_| refuse())?;
    let plain = !name.is_empty()
        && name.bytes().all(|b| (0x21..0x7f).contains(&b))
        && !name.contains(['/', '\\', ':'])
        && name != "."
        && name != "..";
    if plain {
        Ok(name.to_owned())
    } else {
        Err(refuse())
    }
}

/// The options of a request, for display: `blksize=1468 tsize=0`.
pub fn describe_options(options: &[RawOption]) -> String {
    options
        .iter()
        .map(|o| format!("{}={}", o.name, o.value))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_69_is_never_fixed_by_another_port() {
        let taken = |port| {
            bind_error(
                SocketAddr::from(([127, 0, 0, 1], port)),
                io::Error::from(io::ErrorKind::AddrInUse),
            )
            .to_string()
        };
        let on_69 = taken(crate::tftp::DEFAULT_PORT);
        assert!(on_69.contains("sudo systemctl stop tftpd-hpa"), "{on_69}");
        assert!(on_69.contains("only ever asks port 69"), "{on_69}");
        assert!(!on_69.contains("--port"), "{on_69}");
        let elsewhere = taken(6969);
        assert!(elsewhere.contains("--port"), "{elsewhere}");
    }

    #[test]
    fn confinement() {
        let dir = tempfile::tempdir().unwrap();
        let root_parent = dir.path().canonicalize().unwrap();
        let root = root_parent.join("root");
        fs::create_dir(&root).unwrap();
        fs::create_dir(root_parent.join("root-private")).unwrap();
        fs::write(root_parent.join("root-private/secret"), b"s").unwrap();
        fs::write(root_parent.join("outside"), b"o").unwrap();
        fs::write(root.join("fw.bin"), b"fw").unwrap();
        fs::create_dir(root.join("sub")).unwrap();
        fs::write(root.join("sub/x.bin"), b"x").unwrap();
        std::os::unix::fs::symlink(root_parent.join("outside"), root.join("link")).unwrap();
        assert_eq!(confine(&root, b"fw.bin").ok(), Some(root.join("fw.bin")));
        assert_eq!(
            confine(&root, b"sub/x.bin").ok(),
            Some(root.join("sub/x.bin"))
        );
        for (name, code) in [
            (&b"../outside"[..], ErrorCode::ACCESS_VIOLATION),
            (b"../../etc/passwd", ErrorCode::ACCESS_VIOLATION),
            (b"..\\..\\win.ini", ErrorCode::ACCESS_VIOLATION),
            (b"..%2f..%2fx", ErrorCode::FILE_NOT_FOUND),
            (b"....//x", ErrorCode::ACCESS_VIOLATION),
            (b"..%c0%afx", ErrorCode::FILE_NOT_FOUND),
            (
                "\u{ff0e}\u{ff0e}\u{ff0f}x".as_bytes(),
                ErrorCode::ACCESS_VIOLATION,
            ),
            ("..\u{2215}x".as_bytes(), ErrorCode::ACCESS_VIOLATION),
            (b"/etc/passwd", ErrorCode::ACCESS_VIOLATION),
            (b"C:\\x", ErrorCode::ACCESS_VIOLATION),
            (b"\\\\host\\share\\x", ErrorCode::ACCESS_VIOLATION),
            (b"link", ErrorCode::ACCESS_VIOLATION),
            (b"../root-private/secret", ErrorCode::ACCESS_VIOLATION),
            (b"sub", ErrorCode::FILE_NOT_FOUND),
            (b"missing.bin", ErrorCode::FILE_NOT_FOUND),
            (b"", ErrorCode::ACCESS_VIOLATION),
            (b"fw.bin\x1b[2J", ErrorCode::ACCESS_VIOLATION),
        ] {
            let refused = confine(&root, name)
                .err()
                .unwrap_or_else(|| panic!("{name:?} was served"));
            assert_eq!(refused.code, code, "{name:?}: {}", refused.reason);
        }
    }

    #[test]
    fn upload_names_are_plain() {
        assert!(plain_file_name(b"backup.bin").is_ok());
        for bad in [
            &b"../x"[..],
            b"a/b",
            b"..",
            b".",
            b"",
            b"a\\b",
            b"a b",
            b"\xff",
        ] {
            assert!(plain_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
