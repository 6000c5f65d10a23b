//! The responder's driver: a UDP socket on the server port bound to the rescue port only
//! (`SO_BINDTODEVICE`), so that a request arriving on any other interface is never seen and a
//! reply never leaves by another; and a second socket on the client port, bound the same way,
//! that hears other servers' broadcast replies, and from which the [`Probe`] for them is sent
//! as the responder starts. Every rule lives in [`Responder`] and [`Probe`]; this file moves
//! datagrams and the clock into them and their replies and events out.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc::UnboundedSender, watch};

use crate::dhcp::lease::{CLIENT_PORT, LeaseConfig, LeaseEvent, Responder, SERVER_PORT};
use crate::dhcp::packet::Message;
use crate::dhcp::probe::{Probe, ProbeStep};
use crate::net::iface::{Interface, Ipv4Cidr};
use crate::net::wire::Mac;

/// How long the driver waits for another server's ARP reply when naming it.
pub const ARP_WAIT: Duration = Duration::from_secs(1);

/// The largest datagram read; BOOTP/DHCP messages are far smaller (RFC 2131 §2: 576 unless the
/// client says more).
const MAX_DATAGRAM: usize = 1500;

/// Why the responder could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Something else already answers DHCP on this computer.
    #[error(
        "cannot answer DHCP on {interface}: UDP port {port} is taken by another program ({source}).\n  fix: stop the DHCP server running on this computer (dnsmasq, NetworkManager's \"shared\" mode, isc-dhcp-server, Tftpd64) while rescue-wizard runs"
    )]
    PortTaken {
        /// The interface asked for.
        interface: String,
        /// The port.
        port: u16,
        /// What the system said.
        source: io::Error,
    },
    /// The process may not bind the server port or the socket to an interface.
    #[error(
        "cannot answer DHCP on {interface}: UDP port {port} on one interface needs root (or cap_net_bind_service and cap_net_raw) ({source}).\n  fix: run with sudo"
    )]
    NotPermitted {
        /// The interface asked for.
        interface: String,
        /// The port.
        port: u16,
        /// What the system said.
        source: io::Error,
    },
    /// No interface by that name, or another failure.
    #[error("cannot answer DHCP on {interface}: {source}")]
    Io {
        /// The interface asked for.
        interface: String,
        /// What the system said.
        source: io::Error,
    },
    /// Not implemented on this system.
    #[error(
        "answering DHCP on one interface is only available on Linux so far.\n  fix: run a DHCP server by hand, with siaddr and the boot file set"
    )]
    Unsupported,
}

/// The responder with its sockets, ready to run.
pub struct DhcpServer {
    interface: String,
    requests: UdpSocket,
    replies_heard: Option<UdpSocket>,
    watch_error: Option<String>,
    /// The port's own MAC, the probe's client address.
    mac: Option<Mac>,
    responder: Responder,
}

impl DhcpServer {
    /// Binds the server port (67) and the client port (68) on `interface` only. The client
    /// port is best effort: when a DHCP client on this computer holds it without sharing,
    /// other servers go unseen and [`DhcpServer::watch_error`] says why.
    pub fn bind(interface: &str, config: LeaseConfig) -> Result<Self, BindError> {
        let requests =
            bound_socket(interface, SERVER_PORT, false).map_err(|source| match source.kind() {
                io::ErrorKind::AddrInUse => BindError::PortTaken {
                    interface: interface.to_owned(),
                    port: SERVER_PORT,
                    source,
                },
                io::ErrorKind::PermissionDenied => BindError::NotPermitted {
                    interface: interface.to_owned(),
                    port: SERVER_PORT,
                    source,
                },
                io::ErrorKind::Unsupported => BindError::Unsupported,
                _ => BindError::Io {
                    interface: interface.to_owned(),
                    source,
                },
            })?;
        let (replies_heard, watch_error) = match bound_socket(interface, CLIENT_PORT, true) {
            Ok(socket) => (Some(socket), None),
            Err(err) => (
                None,
                Some(format!(
                    "other DHCP servers on {interface} cannot be watched: UDP port {CLIENT_PORT} is not free ({err})"
                )),
            ),
        };
        let mac = crate::net::iface::list()
            .into_iter()
            .find(|i| i.name == interface)
            .and_then(|i| i.mac)
            .and_then(|mac| crate::net::iface::parse_mac(&mac))
            .map(Mac);
        Ok(Self {
            interface: interface.to_owned(),
            requests,
            replies_heard,
            watch_error,
            mac,
            responder: Responder::new(config),
        })
    }

    /// Why other servers cannot be watched, when they cannot.
    pub fn watch_error(&self) -> Option<&str> {
        self.watch_error.as_deref()
    }

    /// Answers requests until `shutdown` turns true or `events` closes; every event goes to
    /// `events` as it happens. It starts with the probe for other servers (answering requests
    /// meanwhile), whose end is one [`LeaseEvent::Probed`].
    pub async fn run(
        mut self,
        events: UnboundedSender<LeaseEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) -> io::Result<()> {
        let mut request_buf = vec![0u8; MAX_DATAGRAM];
        let mut reply_buf = vec![0u8; MAX_DATAGRAM];
        let mut probe = if let (Some(_), Some(mac)) = (&self.replies_heard, self.mac) {
            Some(Probe::new(
                self.responder.config().server.addr,
                mac,
                probe_xid(),
                Instant::now(),
            ))
        } else {
            let _ = events.send(LeaseEvent::Probed {
                listened: false,
                answered: Vec::new(),
            });
            None
        };
        loop {
            let mut wake = None;
            if let Some(running) = probe.as_mut() {
                wake = self.probe_step(running, &events).await?;
                if wake.is_none() {
                    probe = None;
                }
            }
            tokio::select! {
                () = sleep_until_optional(wake) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return Ok(());
                    }
                }
                received = self.requests.recv_from(&mut request_buf) => {
                    let (len, _from) = received?;
                    let Ok(request) = Message::parse(&request_buf[..len]) else { continue };
                    let step = self.responder.on_request(&request, Instant::now());
                    for reply in &step.replies {
                        let to = SocketAddr::V4(reply.to.socket_addr());
                        self.requests.send_to(&reply.message.to_bytes(), to).await?;
                    }
                    for event in step.events {
                        self.forward(event, &events).await;
                    }
                }
                received = recv_optional(self.replies_heard.as_ref(), &mut reply_buf) => {
                    let (len, from) = received?;
                    let SocketAddr::V4(from) = from else { continue };
                    let Ok(reply) = Message::parse(&reply_buf[..len]) else { continue };
                    if probe.as_mut().is_some_and(|p| p.on_reply(&reply, *from.ip())) {
                        continue;
                    }
                    let step = self.responder.on_reply_seen(&reply, *from.ip(), Instant::now());
                    for event in step.events {
                        self.forward(event, &events).await;
                    }
                }
            }
            if events.is_closed() {
                return Ok(());
            }
        }
    }

    /// Carries out the probe's next step: sends its DISCOVER, or reports its end (naming each
    /// server that answered by ARP first). The instant to poll it again; `None` once it ended.
    async fn probe_step(
        &self,
        probe: &mut Probe,
        events: &UnboundedSender<LeaseEvent>,
    ) -> io::Result<Option<Instant>> {
        loop {
            match probe.poll(Instant::now()) {
                ProbeStep::Send(discover) => {
                    if let Some(socket) = &self.replies_heard {
                        let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
                        socket.send_to(&discover.to_bytes(), to).await?;
                    }
                }
                ProbeStep::WaitUntil(wake) => return Ok(Some(wake)),
                ProbeStep::Done(mut answered) => {
                    for server in &mut answered {
                        server.mac = arp_lookup(&self.interface, server.server).await;
                    }
                    let _ = events.send(LeaseEvent::Probed {
                        listened: true,
                        answered,
                    });
                    return Ok(None);
                }
            }
        }
    }

    /// Sends `event` on, naming another server's MAC first (an ARP request: its reply was
    /// broadcast, so the kernel learnt nothing).
    async fn forward(&self, mut event: LeaseEvent, events: &UnboundedSender<LeaseEvent>) {
        if let LeaseEvent::OtherServer { address, mac, .. } = &mut event {
            *mac = arp_lookup(&self.interface, *address).await;
        }
        let _ = events.send(event);
    }
}

/// Sleeps until `wake`, or never when there is none.
async fn sleep_until_optional(wake: Option<Instant>) {
    match wake {
        Some(wake) => tokio::time::sleep_until(wake.into()).await,
        None => std::future::pending().await,
    }
}

/// A transaction id for the probe that no earlier run's probe had: the clock's nanoseconds
/// mixed with the process id.
fn probe_xid() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}

async fn recv_optional(
    socket: Option<&UdpSocket>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn arp_lookup(interface: &str, address: Ipv4Addr) -> Option<Mac> {
    let interface = interface.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut prober = crate::net::probe::ArpProber::open(&interface).ok()?;
        prober
            .probe(address, ARP_WAIT)
            .ok()
            .flatten()
            .map(|a| a.mac)
    })
    .await
    .ok()
    .flatten()
}

/// A UDP socket on 0.0.0.0:`port` that sends and receives on `interface` only, and may
/// broadcast. `shared` (`SO_REUSEADDR`) for the client port, so that a DHCP client's socket
/// there and ours both get the broadcasts; never for the server port, so that another DHCP
/// server on this computer listening on every interface makes the bind fail, loudly, rather
/// than answer the router alongside us.
#[cfg(target_os = "linux")]
fn bound_socket(interface: &str, port: u16, shared: bool) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(shared)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

#[cfg(not(target_os = "linux"))]
fn bound_socket(interface: &str, port: u16, shared: bool) -> io::Result<UdpSocket> {
    let _ = (
        interface,
        port,
        shared,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    );
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Our address on `interface`, with its prefix: `bind` when given (it must be there), else the
/// interface's one IPv4 address (link-local ones aside). The error says what to do.
pub fn our_address(
    interfaces: &[Interface],
    interface: &str,
    bind: Option<Ipv4Addr>,
) -> Result<Ipv4Cidr, String> {
    let iface = crate::net::check::choose(interfaces, Some(interface))?;
    let usable: Vec<Ipv4Cidr> = iface
        .ipv4
        .iter()
        .copied()
        .filter(|a| !a.addr.is_link_local())
        .collect();
    if let Some(bind) = bind {
        return iface
            .ipv4
            .iter()
            .copied()
            .find(|a| a.addr == bind)
            .ok_or_else(|| {
                format!(
                    "{bind} is not an address of {interface}, so a router leased from it could not reach this computer.\n  fix: --bind one of {interface}'s addresses ({}), or add it: sudo ip addr add {bind}/24 dev {interface}",
                    list(&usable)
                )
            });
    }
    match usable.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "{interface} has no IPv4 address to answer DHCP from.\n  fix: give it one, for example: sudo ip addr add 192.168.1.1/24 dev {interface} (or use --device, which adds the profile's)"
        )),
        several => Err(format!(
            "{interface} has several IPv4 addresses ({}); which one is the server the router should pull from?\n  fix: add --bind with one of them",
            list(several)
        )),
    }
}

fn list(addresses: &[Ipv4Cidr]) -> String {
    if addresses.is_empty() {
        return "none".to_owned();
    }
    addresses
        .iter()
        .map(|a| format!("{}/{}", a.addr, a.prefix))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(addresses: &[(Ipv4Addr, u8)]) -> Vec<Interface> {
        let ipv4: Vec<Ipv4Cidr> = addresses
            .iter()
            .map(|&(a, p)| Ipv4Cidr::new(a, p))
            .collect();
        vec![crate::net::iface::sample::port(
            2,
            "eth1",
            crate::net::iface::InterfaceKind::Wired,
            "02:00:00:00:00:01",
            &ipv4,
            None,
        )]
    }

    const US: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 1);

    #[test]
    fn our_address_is_the_ports_one_address() {
        let ifaces = port(&[(Ipv4Addr::new(169, 254, 3, 4), 16), (US, 24)]);
        assert_eq!(
            our_address(&ifaces, "eth1", None),
            Ok(Ipv4Cidr::new(US, 24))
        );
        assert_eq!(
            our_address(&ifaces, "eth1", Some(US)),
            Ok(Ipv4Cidr::new(US, 24))
        );
    }

    #[test]
    fn our_address_errors_say_what_to_do() {
        let none = port(&[]);
        let err = our_address(&none, "eth1", None).unwrap_err();
        assert!(err.starts_with("eth1 has no IPv4 address"), "{err}");
        assert!(err.contains("sudo ip addr add"), "{err}");
        let two = port(&[(US, 24), (Ipv4Addr::new(10, 0, 0, 1), 8)]);
        let err = our_address(&two, "eth1", None).unwrap_err();
        assert!(err.contains("192.168.31.1/24, 10.0.0.1/8"), "{err}");
        assert!(err.contains("--bind"), "{err}");
        let err = our_address(&two, "eth1", Some(Ipv4Addr::new(10, 9, 9, 9))).unwrap_err();
        assert!(
            err.starts_with("10.9.9.9 is not an address of eth1"),
            "{err}"
        );
        let err = our_address(&two, "eth9", None).unwrap_err();
        assert!(err.contains("no interface named \"eth9\""), "{err}");
    }
}
