//! Probes: is an address answering? An ARP who-has out of one interface (the bootloader's
//! server is up the moment it answers), and an ICMP echo (the router is back at its new
//! address after the flash).
//!
//! Both are blocking, each wait bounded by a deadline; they log nothing and return what they
//! found: an answer, `None` when the deadline passed, or an error that says how to fix it.
//! Linux only so far; elsewhere every probe is [`ProbeError::Unsupported`].

use std::net::Ipv4Addr;
use std::time::Duration;

use pnet_base::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
use pnet_packet::icmp::{IcmpPacket, IcmpTypes};
use pnet_packet::{MutablePacket, Packet};

use crate::net::wire::{self, ArpKind, Mac, WireEvent};

/// Why a probe could not be sent or its answer not read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The process may not open the socket the probe needs.
    #[error(
        "cannot {what}: this needs cap_net_raw, which this process does not have.\n  fix: {remedy}"
    )]
    NotPermitted {
        /// What was attempted, e.g. "send ARP probes out of eth0".
        what: String,
        /// How to get the permission.
        remedy: String,
    },
    /// No interface by that name.
    #[error(
        "cannot probe from {interface}: there is no such interface (this computer has: {known})"
    )]
    NoSuchInterface {
        /// The interface asked for.
        interface: String,
        /// The interfaces there are.
        known: String,
    },
    /// The interface has no Ethernet address (loopback, a tunnel): ARP does not exist there.
    #[error(
        "cannot send ARP probes out of {interface}: it has no Ethernet address.\n  fix: name the wired port the router is plugged into (`ip link` lists them)"
    )]
    NotEthernet {
        /// The interface asked for.
        interface: String,
    },
    /// The system refused for another reason.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was attempted.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not implemented on this system.
    #[error("ARP and ICMP probes are not available on this system (Linux only so far)")]
    Unsupported,
}

/// An ARP reply: the address is in use, by this hardware address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpAnswer {
    /// Who answered.
    pub mac: Mac,
    /// Time from the request to the reply.
    pub after: Duration,
}

/// An ICMP echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoAnswer {
    /// The sequence number answered.
    pub seq: u16,
    /// Round trip.
    pub after: Duration,
    /// The reply's IP time-to-live, when the socket reports it.
    pub ttl: Option<u8>,
}

/// Which kind of socket the echo probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoSocket {
    /// An unprivileged ICMP datagram socket (allowed by `net.ipv4.ping_group_range`).
    Datagram,
    /// A raw ICMP socket (needs `cap_net_raw`).
    Raw,
}

/// Sends ARP requests out of one interface and waits for replies.
pub struct ArpProber {
    #[cfg(target_os = "linux")]
    inner: linux::Arp,
}

impl ArpProber {
    /// Opens the interface for ARP (needs `cap_net_raw`).
    pub fn open(interface: &str) -> Result<Self, ProbeError> {
        #[cfg(target_os = "linux")]
        {
            Ok(Self {
                inner: linux::Arp::open(interface)?,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = interface;
            Err(ProbeError::Unsupported)
        }
    }

    /// Asks once who has `target`, and waits up to `wait` for its reply.
    pub fn probe(
        &mut self,
        target: Ipv4Addr,
        wait: Duration,
    ) -> Result<Option<ArpAnswer>, ProbeError> {
        #[cfg(target_os = "linux")]
        {
            self.inner.probe(target, wait)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (target, wait);
            Err(ProbeError::Unsupported)
        }
    }
}

/// Sends ICMP echo requests and waits for replies.
pub struct Pinger {
    #[cfg(target_os = "linux")]
    inner: linux::Echo,
}

impl Pinger {
    /// Opens an ICMP socket: a datagram socket where the system allows it, raw otherwise;
    /// bound to `interface` when one is given.
    pub fn open(interface: Option<&str>) -> Result<Self, ProbeError> {
        #[cfg(target_os = "linux")]
        {
            Ok(Self {
                inner: linux::Echo::open(interface)?,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = interface;
            Err(ProbeError::Unsupported)
        }
    }

    /// The kind of socket in use.
    pub fn socket(&self) -> EchoSocket {
        #[cfg(target_os = "linux")]
        {
            self.inner.kind
        }
        #[cfg(not(target_os = "linux"))]
        {
            EchoSocket::Raw
        }
    }

    /// Sends one echo request with sequence number `seq` and waits up to `wait` for its reply.
    pub fn echo(
        &mut self,
        target: Ipv4Addr,
        seq: u16,
        wait: Duration,
    ) -> Result<Option<EchoAnswer>, ProbeError> {
        #[cfg(target_os = "linux")]
        {
            self.inner.echo(target, seq, wait)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (target, seq, wait);
            Err(ProbeError::Unsupported)
        }
    }
}

/// Length of an Ethernet frame holding an ARP packet for IPv4 (before padding).
const ARP_FRAME: usize = 14 + 28;

/// The payload of our echo requests: recognisable in a capture.
const ECHO_PAYLOAD: &[u8] = b"rescue-wizard probe";

/// A broadcast "who has `target`? tell `sender_ip`" from `sender_mac` (RFC 826).
pub fn arp_request(sender_mac: Mac, sender_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; ARP_FRAME];
    let mac = |m: Mac| MacAddr::new(m.0[0], m.0[1], m.0[2], m.0[3], m.0[4], m.0[5]);
    if let Some(mut ethernet) = MutableEthernetPacket::new(&mut frame) {
        ethernet.set_destination(MacAddr::broadcast());
        ethernet.set_source(mac(sender_mac));
        ethernet.set_ethertype(EtherTypes::Arp);
        if let Some(mut arp) = MutableArpPacket::new(ethernet.payload_mut()) {
            arp.set_hardware_type(ArpHardwareTypes::Ethernet);
            arp.set_protocol_type(EtherTypes::Ipv4);
            arp.set_hw_addr_len(6);
            arp.set_proto_addr_len(4);
            arp.set_operation(ArpOperations::Request);
            arp.set_sender_hw_addr(mac(sender_mac));
            arp.set_sender_proto_addr(sender_ip);
            arp.set_target_hw_addr(MacAddr::zero());
            arp.set_target_proto_addr(target);
        }
    }
    frame
}

/// The hardware address `target` announces in `frame`, if the frame is its ARP reply (or
/// announcement).
pub fn arp_answer(frame: &[u8], target: Ipv4Addr) -> Option<Mac> {
    match wire::parse(frame)? {
        WireEvent::Arp {
            op: ArpKind::Reply | ArpKind::Gratuitous,
            sender_ip,
            sender_mac,
            ..
        } if sender_ip == target => Some(sender_mac),
        _ => None,
    }
}

/// An ICMP echo request (RFC 792) with its checksum.
pub fn echo_request(identifier: u16, seq: u16) -> Vec<u8> {
    let mut bytes = vec![0u8; 8 + ECHO_PAYLOAD.len()];
    if let Some(mut echo) = MutableEchoRequestPacket::new(&mut bytes) {
        echo.set_icmp_type(IcmpTypes::EchoRequest);
        echo.set_identifier(identifier);
        echo.set_sequence_number(seq);
        echo.set_payload(ECHO_PAYLOAD);
        let checksum = IcmpPacket::new(echo.packet()).map(|p| pnet_packet::icmp::checksum(&p));
        echo.set_checksum(checksum.unwrap_or_default());
    }
    bytes
}

/// The identifier and sequence number of an ICMP echo reply (ICMP header first).
pub fn echo_reply(icmp: &[u8]) -> Option<(u16, u16)> {
    let packet = IcmpPacket::new(icmp)?;
    if packet.get_icmp_type() != IcmpTypes::EchoReply || icmp.len() < 8 {
        return None;
    }
    Some((
        u16::from_be_bytes([icmp[4], icmp[5]]),
        u16::from_be_bytes([icmp[6], icmp[7]]),
    ))
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{self, IoSliceMut};
    use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
    use std::os::fd::{AsRawFd, IntoRawFd};
    use std::time::{Duration, Instant};

    use nix::errno::Errno;
    use nix::sys::socket::{
        ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt,
    };
    use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender};
    use pnet_packet::ipv4::Ipv4Packet;
    use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};

    use super::{ArpAnswer, EchoAnswer, EchoSocket, ProbeError, arp_answer, arp_request};
    use crate::net::privilege::Privileges;
    use crate::net::wire::Mac;

    /// How long one read waits before the deadline is looked at again.
    const READ_TIMEOUT: Duration = Duration::from_millis(50);

    /// Classic BPF: keep ARP frames, drop the rest (`tcpdump -dd arp`).
    const ARP_ONLY: [(u16, u8, u8, u32); 4] = [
        (0x28, 0, 0, 12),     // ldh [12]: ethertype
        (0x15, 0, 1, 0x0806), // jeq ARP
        (0x06, 0, 0, 0xffff), // keep
        (0x06, 0, 0, 0),      // drop
    ];

    pub(super) struct Arp {
        name: String,
        mac: Mac,
        addresses: Vec<(Ipv4Addr, u8)>,
        tx: Box<dyn DataLinkSender>,
        rx: Box<dyn DataLinkReceiver>,
    }

    fn not_permitted(what: String) -> ProbeError {
        ProbeError::NotPermitted {
            what,
            remedy: Privileges::detect().remedy(),
        }
    }

    impl Arp {
        pub(super) fn open(name: &str) -> Result<Self, ProbeError> {
            let what = || format!("send ARP probes out of {name}");
            let io_error = |source| ProbeError::Io {
                what: what(),
                source,
            };
            let interfaces = pnet_datalink::interfaces();
            let Some(interface) = interfaces.iter().find(|i| i.name == name) else {
                let known: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
                return Err(ProbeError::NoSuchInterface {
                    interface: name.to_owned(),
                    known: known.join(", "),
                });
            };
            let mac = match interface.mac {
                Some(mac) if !mac.is_zero() => Mac(mac.octets()),
                _ => {
                    return Err(ProbeError::NotEthernet {
                        interface: name.to_owned(),
                    });
                }
            };
            let addresses = interface
                .ips
                .iter()
                .filter_map(|net| match net.ip() {
                    IpAddr::V4(ip) => Some((ip, net.prefix())),
                    IpAddr::V6(_) => None,
                })
                .collect();
            // As in the watch: protocol 0 until the filter is attached, so no other frame is
            // queued; pnet then binds the socket to the interface and owns it.
            let socket = match Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))) {
                Ok(socket) => socket,
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(not_permitted(what()));
                }
                Err(err) => return Err(io_error(err)),
            };
            let program: Vec<SockFilter> = ARP_ONLY
                .iter()
                .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
                .collect();
            socket.attach_filter(&program).map_err(io_error)?;
            let config = pnet_datalink::Config {
                read_buffer_size: 4096,
                write_buffer_size: 4096,
                read_timeout: Some(READ_TIMEOUT),
                promiscuous: false,
                socket_fd: Some(socket.into_raw_fd()),
                ..pnet_datalink::Config::default()
            };
            let Channel::Ethernet(tx, rx) =
                pnet_datalink::channel(interface, config).map_err(io_error)?
            else {
                return Err(io_error(io::Error::other("the channel is not Ethernet")));
            };
            Ok(Self {
                name: name.to_owned(),
                mac,
                addresses,
                tx,
                rx,
            })
        }

        /// Our address on the target's subnet, else any of ours, else 0.0.0.0 (an RFC 5227
        /// probe, which Linux and most bootloaders answer as well).
        fn sender_ip(&self, target: Ipv4Addr) -> Ipv4Addr {
            let same_subnet = |&&(ip, prefix): &&(Ipv4Addr, u8)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(ip) & mask == u32::from(target) & mask
            };
            self.addresses
                .iter()
                .find(same_subnet)
                .or(self.addresses.first())
                .map_or(Ipv4Addr::UNSPECIFIED, |&(ip, _)| ip)
        }

        pub(super) fn probe(
            &mut self,
            target: Ipv4Addr,
            wait: Duration,
        ) -> Result<Option<ArpAnswer>, ProbeError> {
            let what = || format!("send ARP probes out of {}", self.name);
            let frame = arp_request(self.mac, self.sender_ip(target), target);
            let start = Instant::now();
            let sent = self.tx.send_to(&frame, None);
            match sent {
                Some(Ok(())) => {}
                Some(Err(source)) => {
                    return Err(ProbeError::Io {
                        what: what(),
                        source,
                    });
                }
                None => {
                    return Err(ProbeError::Io {
                        what: what(),
                        source: io::Error::other("the frame was not sent"),
                    });
                }
            }
            let deadline = start + wait;
            while Instant::now() < deadline {
                match self.rx.next() {
                    Ok(frame) => {
                        if let Some(mac) = arp_answer(frame, target) {
                            return Ok(Some(ArpAnswer {
                                mac,
                                after: start.elapsed(),
                            }));
                        }
                    }
                    Err(err) if is_timeout(&err) => {}
                    Err(source) => {
                        return Err(ProbeError::Io {
                            what: what(),
                            source,
                        });
                    }
                }
            }
            Ok(None)
        }
    }

    fn is_timeout(err: &io::Error) -> bool {
        matches!(
            err.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        )
    }

    pub(super) struct Echo {
        socket: Socket,
        pub(super) kind: EchoSocket,
        identifier: u16,
    }

    /// `net.ipv4.ping_group_range`, as the file has it, for the error message.
    fn ping_group_range() -> String {
        std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").map_or_else(
            |_| "unknown".to_owned(),
            |s| s.split_whitespace().collect::<Vec<_>>().join(" "),
        )
    }

    impl Echo {
        pub(super) fn open(interface: Option<&str>) -> Result<Self, ProbeError> {
            let what = || match interface {
                Some(name) => format!("send ICMP echo requests out of {name}"),
                None => "send ICMP echo requests".to_owned(),
            };
            // The kernel applies net.ipv4.ping_group_range when the datagram socket is made,
            // so trying it is the exact test; EACCES means our groups are outside the range.
            let (socket, kind) = match Socket::new(
                Domain::IPV4,
                Type::DGRAM,
                Some(Protocol::ICMPV4),
            ) {
                Ok(socket) => (socket, EchoSocket::Datagram),
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                    match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
                        Ok(socket) => (socket, EchoSocket::Raw),
                        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                            let gid = nix::unistd::getegid();
                            return Err(ProbeError::NotPermitted {
                                what: what(),
                                remedy: format!(
                                    "{}\n  or let your group ping without it: sudo sysctl -w net.ipv4.ping_group_range=\"{gid} {gid}\" (now: {})",
                                    Privileges::detect().remedy(),
                                    ping_group_range()
                                ),
                            });
                        }
                        Err(source) => {
                            return Err(ProbeError::Io {
                                what: what(),
                                source,
                            });
                        }
                    }
                }
                Err(source) => {
                    return Err(ProbeError::Io {
                        what: what(),
                        source,
                    });
                }
            };
            let io_error = |source| ProbeError::Io {
                what: what(),
                source,
            };
            if let Some(name) = interface {
                socket.bind_device(Some(name.as_bytes())).map_err(|err| {
                    if err.raw_os_error() == Some(Errno::ENODEV as i32) {
                        ProbeError::NoSuchInterface {
                            interface: name.to_owned(),
                            known: pnet_datalink::interfaces()
                                .iter()
                                .map(|i| i.name.clone())
                                .collect::<Vec<_>>()
                                .join(", "),
                        }
                    } else {
                        io_error(err)
                    }
                })?;
            }
            // The reply's TTL arrives as a control message (ip(7) IP_RECVTTL).
            setsockopt(&socket, sockopt::Ipv4RecvTtl, &true)
                .map_err(|errno| io_error(io::Error::from(errno)))?;
            socket
                .set_read_timeout(Some(READ_TIMEOUT))
                .map_err(io_error)?;
            Ok(Self {
                socket,
                kind,
                // A datagram socket's identifier is replaced by the kernel (its local port).
                identifier: std::process::id() as u16,
            })
        }

        pub(super) fn echo(
            &mut self,
            target: Ipv4Addr,
            seq: u16,
            wait: Duration,
        ) -> Result<Option<EchoAnswer>, ProbeError> {
            let what = || format!("ping {target}");
            let request = super::echo_request(self.identifier, seq);
            let start = Instant::now();
            self.socket
                .send_to(&request, &SockAddr::from(SocketAddrV4::new(target, 0)))
                .map_err(|source| ProbeError::Io {
                    what: what(),
                    source,
                })?;
            let deadline = start + wait;
            let mut buffer = [0u8; 2048];
            let mut control = nix::cmsg_space!(i32);
            while Instant::now() < deadline {
                let (length, from, ttl) = {
                    let mut iov = [IoSliceMut::new(&mut buffer)];
                    match recvmsg::<SockaddrIn>(
                        self.socket.as_raw_fd(),
                        &mut iov,
                        Some(&mut control),
                        MsgFlags::empty(),
                    ) {
                        Ok(message) => {
                            let ttl = message.cmsgs().ok().and_then(|mut cmsgs| {
                                cmsgs.find_map(|cmsg| match cmsg {
                                    ControlMessageOwned::Ipv4Ttl(ttl) => u8::try_from(ttl).ok(),
                                    _ => None,
                                })
                            });
                            (message.bytes, message.address.map(|a| a.ip()), ttl)
                        }
                        Err(Errno::EAGAIN | Errno::EINTR) => continue,
                        Err(errno) => {
                            return Err(ProbeError::Io {
                                what: what(),
                                source: io::Error::from(errno),
                            });
                        }
                    }
                };
                let bytes = &buffer[..length];
                let answer = match self.kind {
                    EchoSocket::Datagram => (from == Some(target))
                        .then(|| super::echo_reply(bytes))
                        .flatten()
                        .filter(|&(_, s)| s == seq)
                        .map(|_| ttl),
                    EchoSocket::Raw => Ipv4Packet::new(bytes)
                        .filter(|ip| ip.get_source() == target)
                        .and_then(|ip| {
                            let header = usize::from(ip.get_header_length()) * 4;
                            let reply = super::echo_reply(bytes.get(header..)?)?;
                            (reply == (self.identifier, seq)).then(|| ttl.or(Some(ip.get_ttl())))
                        }),
                };
                if let Some(ttl) = answer {
                    return Ok(Some(EchoAnswer {
                        seq,
                        after: start.elapsed(),
                        ttl,
                    }));
                }
            }
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_request_is_a_broadcast_who_has() {
        let ours = Mac([0x02, 0, 0, 0, 0, 0x66]);
        let frame = arp_request(
            ours,
            Ipv4Addr::new(192, 168, 0, 66),
            Ipv4Addr::new(192, 168, 0, 86),
        );
        let mut expected = vec![0xff; 6];
        expected.extend_from_slice(&ours.0);
        expected.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        expected.extend_from_slice(&ours.0);
        expected.extend_from_slice(&[192, 168, 0, 66, 0, 0, 0, 0, 0, 0, 192, 168, 0, 86]);
        assert_eq!(frame, expected);
        // Our own request is not an answer.
        assert_eq!(arp_answer(&frame, Ipv4Addr::new(192, 168, 0, 86)), None);
    }

    #[test]
    fn arp_answer_only_from_the_target() {
        let router = Mac([0x02, 0, 0, 0, 0, 0x86]);
        let mut reply = arp_request(
            router,
            Ipv4Addr::new(192, 168, 0, 86),
            Ipv4Addr::new(192, 168, 0, 66),
        );
        reply[21] = 2; // operation: reply
        assert_eq!(
            arp_answer(&reply, Ipv4Addr::new(192, 168, 0, 86)),
            Some(router)
        );
        assert_eq!(arp_answer(&reply, Ipv4Addr::new(192, 168, 0, 1)), None);
        assert_eq!(
            arp_answer(&reply[..20], Ipv4Addr::new(192, 168, 0, 86)),
            None
        );
    }

    #[test]
    fn echo_request_checksums_and_reply_matching() {
        let request = echo_request(0x1234, 7);
        assert_eq!(&request[..2], &[8, 0]);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        // The one's-complement sum over a correct ICMP message is 0xffff.
        let sum = request.chunks(2).fold(0u32, |acc, pair| {
            acc + u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
        });
        let folded = (sum & 0xffff) + (sum >> 16);
        assert_eq!((folded & 0xffff) + (folded >> 16), 0xffff);
        assert_eq!(echo_reply(&request), None);
        let mut reply = request.clone();
        reply[0] = 0;
        assert_eq!(echo_reply(&reply), Some((0x1234, 7)));
        assert_eq!(echo_reply(&reply[..4]), None);
    }
}
