//! Wire events: what the router says on the link, parsed from whole Ethernet frames.
//!
//! Pure: bytes in, an event (or nothing) out. Every length is checked before a field is read,
//! so no input makes [`parse`] panic; frames that are not one of the kinds below, or are cut
//! short, are simply not events. The kernel filter in [`CAPTURE_FILTER`] lets exactly these
//! kinds through to user space.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::SystemTime;

use pnet_packet::Packet;
use pnet_packet::arp::{ArpOperations, ArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::icmp::{IcmpPacket, IcmpTypes};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::udp::UdpPacket;
use serde::Serialize;

/// UDP port of a DHCP/BOOTP server (RFC 2131 §4.1).
pub const DHCP_SERVER_PORT: u16 = 67;
/// UDP port of a DHCP/BOOTP client.
pub const DHCP_CLIENT_PORT: u16 = 68;
/// UDP port of a TFTP server (RFC 1350).
pub const TFTP_PORT: u16 = 69;
/// UDP port OpenWrt's preinit broadcasts its "press the button now" message to.
pub const FAILSAFE_PORT: u16 = 4919;

/// Longest failsafe message kept, in characters.
const MAX_MESSAGE: usize = 200;

/// A hardware (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Which ARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArpKind {
    /// "Who has target? Tell sender."
    Request,
    /// "Sender is at this MAC."
    Reply,
    /// Sender announces its own address (sender IP equals target IP), request or reply.
    Gratuitous,
}

/// Which ICMP echo message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoKind {
    /// A ping.
    Request,
    /// The answer to a ping.
    Reply,
}

/// Why a destination was unreachable (RFC 792 type 3 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// Code 1: no route to the host, or it did not answer ARP.
    Host,
    /// Code 3: nothing listens on the port.
    Port,
    /// Any other code, kept as it was.
    Other(u8),
}

/// What a DHCP/BOOTP client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DhcpKind {
    /// DHCPDISCOVER (option 53 = 1).
    Discover,
    /// DHCPREQUEST (option 53 = 3).
    Request,
    /// A plain BOOTP request: no DHCP message type (RFC 951).
    Bootp,
    /// Another DHCP client message type, kept as it was.
    Other(u8),
}

/// Which TFTP request (RFC 1350 opcodes 1 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TftpKind {
    /// RRQ: the sender wants to fetch the file.
    Read,
    /// WRQ: the sender wants to store the file.
    Write,
}

/// The destination quoted inside an ICMP error: the packet that could not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quoted {
    /// Where the original packet was going.
    pub to: Ipv4Addr,
    /// Its destination port, when it was UDP or TCP and the quote holds the port.
    pub port: Option<u16>,
}

/// Something seen on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireEvent {
    /// An ARP request, reply or announcement.
    Arp {
        /// Which ARP message.
        op: ArpKind,
        /// The sender's address.
        sender_ip: Ipv4Addr,
        /// The sender's hardware address.
        sender_mac: Mac,
        /// The address asked for (request) or answered to (reply).
        target_ip: Ipv4Addr,
    },
    /// An ICMP echo request or reply.
    Echo {
        /// Request or reply.
        op: EchoKind,
        /// Source address.
        from: Ipv4Addr,
        /// Source hardware address.
        mac: Mac,
        /// Destination address.
        to: Ipv4Addr,
        /// The IP time-to-live as seen here (hints at the sender's system).
        ttl: u8,
    },
    /// An ICMP destination-unreachable error.
    Unreachable {
        /// Why.
        code: Unreachable,
        /// Who reported it.
        from: Ipv4Addr,
        /// Who it was sent to (the sender of the original packet).
        to: Ipv4Addr,
        /// The original packet's destination, when quoted.
        original: Option<Quoted>,
    },
    /// A device asking for an address over DHCP or BOOTP.
    Dhcp {
        /// What it asked.
        op: DhcpKind,
        /// The client's hardware address (`chaddr`).
        client_mac: Mac,
    },
    /// A TFTP read or write request, whoever it is addressed to.
    Tftp {
        /// Read or write.
        op: TftpKind,
        /// The file name asked for (invalid UTF-8 replaced).
        file: String,
        /// The requester's address and port.
        from: SocketAddrV4,
        /// The requester's hardware address.
        mac: Mac,
        /// The address the request was sent to.
        to: Ipv4Addr,
        /// The IP time-to-live as seen here.
        ttl: u8,
    },
    /// OpenWrt's failsafe broadcast ("press the button now") on UDP 4919.
    Failsafe {
        /// The broadcasting device.
        from: Ipv4Addr,
        /// Its hardware address.
        mac: Mac,
        /// The message text (invalid UTF-8 replaced, trimmed).
        message: String,
    },
}

impl WireEvent {
    /// The IPv4 address and hardware address of the device that sent the frame, when known.
    pub fn sender(&self) -> Option<(Ipv4Addr, Mac)> {
        match self {
            WireEvent::Arp {
                sender_ip,
                sender_mac,
                ..
            } => Some((*sender_ip, *sender_mac)),
            WireEvent::Echo { from, mac, .. } | WireEvent::Failsafe { from, mac, .. } => {
                Some((*from, *mac))
            }
            WireEvent::Tftp { from, mac, .. } => Some((*from.ip(), *mac)),
            WireEvent::Unreachable { .. } | WireEvent::Dhcp { .. } => None,
        }
    }

    /// The IP time-to-live of the frame, when the event carries it.
    pub fn ttl(&self) -> Option<u8> {
        match self {
            WireEvent::Echo { ttl, .. } | WireEvent::Tftp { ttl, .. } => Some(*ttl),
            _ => None,
        }
    }
}

impl fmt::Display for WireEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireEvent::Arp {
                op,
                sender_ip,
                sender_mac,
                target_ip,
            } => match op {
                ArpKind::Request => write!(
                    f,
                    "arp request: {sender_ip} ({sender_mac}) asks who has {target_ip}"
                ),
                ArpKind::Reply => write!(
                    f,
                    "arp reply: {sender_ip} is at {sender_mac} (to {target_ip})"
                ),
                ArpKind::Gratuitous => {
                    write!(f, "arp announcement: {sender_ip} is at {sender_mac}")
                }
            },
            WireEvent::Echo {
                op, from, to, ttl, ..
            } => {
                let what = match op {
                    EchoKind::Request => "request",
                    EchoKind::Reply => "reply",
                };
                write!(f, "icmp echo {what}: {from} -> {to} ttl {ttl}")
            }
            WireEvent::Unreachable {
                code,
                from,
                to,
                original,
            } => {
                let what = match code {
                    Unreachable::Host => "host unreachable".to_owned(),
                    Unreachable::Port => "port unreachable".to_owned(),
                    Unreachable::Other(c) => format!("unreachable (code {c})"),
                };
                write!(f, "icmp {what}: {from} -> {to}")?;
                match original {
                    Some(Quoted {
                        to,
                        port: Some(port),
                    }) => write!(f, " for {to}:{port}"),
                    Some(Quoted { to, port: None }) => write!(f, " for {to}"),
                    None => Ok(()),
                }
            }
            WireEvent::Dhcp { op, client_mac } => {
                let what = match op {
                    DhcpKind::Discover => "dhcp discover".to_owned(),
                    DhcpKind::Request => "dhcp request".to_owned(),
                    DhcpKind::Bootp => "bootp request".to_owned(),
                    DhcpKind::Other(t) => format!("dhcp message type {t}"),
                };
                write!(f, "{what}: {client_mac} wants an address")
            }
            WireEvent::Tftp {
                op,
                file,
                from,
                to,
                ttl,
                ..
            } => {
                let what = match op {
                    TftpKind::Read => "read",
                    TftpKind::Write => "write",
                };
                write!(
                    f,
                    "tftp {what} request: {from} asks {to} for \"{}\" ttl {ttl}",
                    file.escape_debug()
                )
            }
            WireEvent::Failsafe { from, message, .. } => write!(
                f,
                "failsafe broadcast from {from}: \"{}\"",
                message.escape_debug()
            ),
        }
    }
}

/// A wire event and when it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// When the frame reached the watch.
    pub at: SystemTime,
    /// What it was.
    pub event: WireEvent,
}

/// Parses one Ethernet II frame. `None` for anything that is not one of the events.
pub fn parse(frame: &[u8]) -> Option<WireEvent> {
    let ethernet = EthernetPacket::new(frame)?;
    let source = Mac(ethernet.get_source().octets());
    match ethernet.get_ethertype() {
        EtherTypes::Arp => parse_arp(ethernet.payload()),
        EtherTypes::Ipv4 => parse_ipv4(ethernet.payload(), source),
        _ => None,
    }
}

fn parse_arp(bytes: &[u8]) -> Option<WireEvent> {
    let arp = ArpPacket::new(bytes)?;
    // Ethernet + IPv4 only: hardware type 1, protocol 0x0800, lengths 6 and 4 (RFC 826).
    if arp.get_hardware_type().0 != 1
        || arp.get_protocol_type() != EtherTypes::Ipv4
        || arp.get_hw_addr_len() != 6
        || arp.get_proto_addr_len() != 4
    {
        return None;
    }
    let sender_ip = arp.get_sender_proto_addr();
    let target_ip = arp.get_target_proto_addr();
    let op = match arp.get_operation() {
        _ if sender_ip == target_ip && !sender_ip.is_unspecified() => ArpKind::Gratuitous,
        ArpOperations::Request => ArpKind::Request,
        ArpOperations::Reply => ArpKind::Reply,
        _ => return None,
    };
    Some(WireEvent::Arp {
        op,
        sender_ip,
        sender_mac: Mac(arp.get_sender_hw_addr().octets()),
        target_ip,
    })
}

/// The header and payload of an IPv4 packet, after checking the lengths it claims; `None`
/// for fragments after the first (they carry no transport header).
fn ipv4_parts(bytes: &[u8]) -> Option<(Ipv4Packet<'_>, &[u8])> {
    let ip = Ipv4Packet::new(bytes)?;
    let header = usize::from(ip.get_header_length()) * 4;
    let total = usize::from(ip.get_total_length());
    if ip.get_version() != 4 || header < 20 || total < header || total > bytes.len() {
        return None;
    }
    if ip.get_fragment_offset() != 0 {
        return None;
    }
    // Ethernet pads short frames: the IP total length, not the frame, says where data ends.
    Some((ip, bytes.get(header..total)?))
}

fn parse_ipv4(bytes: &[u8], source: Mac) -> Option<WireEvent> {
    let (ip, payload) = ipv4_parts(bytes)?;
    match ip.get_next_level_protocol() {
        IpNextHeaderProtocols::Icmp => parse_icmp(&ip, payload, source),
        IpNextHeaderProtocols::Udp => parse_udp(&ip, payload, source),
        _ => None,
    }
}

fn parse_icmp(ip: &Ipv4Packet<'_>, bytes: &[u8], mac: Mac) -> Option<WireEvent> {
    let icmp = IcmpPacket::new(bytes)?;
    let from = ip.get_source();
    let to = ip.get_destination();
    let echo = |op| WireEvent::Echo {
        op,
        from,
        mac,
        to,
        ttl: ip.get_ttl(),
    };
    match icmp.get_icmp_type() {
        IcmpTypes::EchoRequest => Some(echo(EchoKind::Request)),
        IcmpTypes::EchoReply => Some(echo(EchoKind::Reply)),
        IcmpTypes::DestinationUnreachable => {
            let code = match icmp.get_icmp_code().0 {
                1 => Unreachable::Host,
                3 => Unreachable::Port,
                other => Unreachable::Other(other),
            };
            // RFC 792: after the 8-byte ICMP header, the original IP header and at least the
            // first 8 bytes of its payload.
            Some(WireEvent::Unreachable {
                code,
                from,
                to,
                original: bytes.get(8..).and_then(quoted),
            })
        }
        _ => None,
    }
}

fn quoted(bytes: &[u8]) -> Option<Quoted> {
    let ip = Ipv4Packet::new(bytes)?;
    let header = usize::from(ip.get_header_length()) * 4;
    if ip.get_version() != 4 || header < 20 {
        return None;
    }
    let protocol = ip.get_next_level_protocol();
    let port = if matches!(
        protocol,
        IpNextHeaderProtocols::Udp | IpNextHeaderProtocols::Tcp
    ) && ip.get_fragment_offset() == 0
    {
        bytes
            .get(header + 2..header + 4)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
    } else {
        None
    };
    Some(Quoted {
        to: ip.get_destination(),
        port,
    })
}

fn parse_udp(ip: &Ipv4Packet<'_>, bytes: &[u8], mac: Mac) -> Option<WireEvent> {
    let udp = UdpPacket::new(bytes)?;
    let length = usize::from(udp.get_length());
    if length < 8 || length > bytes.len() {
        return None;
    }
    let data = bytes.get(8..length)?;
    let from = SocketAddrV4::new(ip.get_source(), udp.get_source());
    match udp.get_destination() {
        DHCP_SERVER_PORT => parse_bootp(data),
        TFTP_PORT => parse_tftp_request(data).map(|(op, file)| WireEvent::Tftp {
            op,
            file,
            from,
            mac,
            to: ip.get_destination(),
            ttl: ip.get_ttl(),
        }),
        FAILSAFE_PORT => Some(WireEvent::Failsafe {
            from: ip.get_source(),
            mac,
            message: String::from_utf8_lossy(data)
                .trim_matches(|c: char| c.is_whitespace() || c == '\0')
                .chars()
                .take(MAX_MESSAGE)
                .collect(),
        }),
        _ => None,
    }
}

/// BOOTP fixed header length up to and including `file` (RFC 951), then the DHCP magic cookie.
const BOOTP_FIXED: usize = 236;
const DHCP_COOKIE: [u8; 4] = [99, 130, 83, 99];
const OPTION_PAD: u8 = 0;
const OPTION_MESSAGE_TYPE: u8 = 53;
const OPTION_END: u8 = 255;
const OPTION_VENDOR_CLASS: u8 = 60;

/// The vendor class (option 60) of rescue-wizard's own DISCOVER that asks whether another DHCP
/// server answers on the port: the wire watch does not report it as a device asking.
pub const PROBE_VENDOR_CLASS: &str = "rescue-wizard-probe";

fn parse_bootp(data: &[u8]) -> Option<WireEvent> {
    // op 1 = BOOTREQUEST, htype 1 = Ethernet, hlen 6.
    if data.len() < BOOTP_FIXED || data[0] != 1 || data[1] != 1 || data[2] != 6 {
        return None;
    }
    let mut client = [0u8; 6];
    client.copy_from_slice(data.get(28..34)?);
    let options = data.get(BOOTP_FIXED + 4..).unwrap_or_default();
    let op = if data.get(BOOTP_FIXED..BOOTP_FIXED + 4) == Some(&DHCP_COOKIE[..]) {
        // rescue-wizard's own probe for other DHCP servers (`dhcp::probe`) is no device asking.
        if dhcp_option(options, OPTION_VENDOR_CLASS) == Some(PROBE_VENDOR_CLASS.as_bytes()) {
            return None;
        }
        dhcp_message_type(options).map_or(DhcpKind::Bootp, |t| match t {
            1 => DhcpKind::Discover,
            3 => DhcpKind::Request,
            other => DhcpKind::Other(other),
        })
    } else {
        DhcpKind::Bootp
    };
    Some(WireEvent::Dhcp {
        op,
        client_mac: Mac(client),
    })
}

/// One option's value from a DHCP option list (RFC 2132 §2); walks the list without trusting
/// lengths.
fn dhcp_option(mut options: &[u8], wanted: u8) -> Option<&[u8]> {
    loop {
        match *options.first()? {
            OPTION_PAD => options = &options[1..],
            OPTION_END => return None,
            code => {
                let len = usize::from(*options.get(1)?);
                let value = options.get(2..2 + len)?;
                if code == wanted {
                    return Some(value);
                }
                options = &options[2 + len..];
            }
        }
    }
}

/// Option 53 from a DHCP option list (RFC 2132 §9.6).
fn dhcp_message_type(options: &[u8]) -> Option<u8> {
    match dhcp_option(options, OPTION_MESSAGE_TYPE)? {
        [kind] => Some(*kind),
        _ => None,
    }
}

/// An RRQ or WRQ: opcode, then the file name up to a NUL (RFC 1350 §5).
fn parse_tftp_request(data: &[u8]) -> Option<(TftpKind, String)> {
    let op = match data.get(..2)? {
        [0, 1] => TftpKind::Read,
        [0, 2] => TftpKind::Write,
        _ => return None,
    };
    let rest = &data[2..];
    let end = rest.iter().position(|&b| b == 0)?;
    Some((op, String::from_utf8_lossy(&rest[..end]).into_owned()))
}

/// One classic BPF instruction: `(code, jt, jf, k)` as in `struct sock_filter`.
pub type BpfInstruction = (u16, u8, u8, u32);

// Classic BPF opcodes (linux/filter.h).
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_H_IND: u16 = 0x48;
const LDX_B_MSH: u16 = 0xb1;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Bytes of a kept frame passed up: all of it (only the few frames kept reach user space).
const SNAP_LENGTH: u32 = 0xffff;

/// The kernel filter: keeps ARP, ICMP, and first fragments of UDP to ports 67, 68, 69 and
/// 4919; drops everything else, including TFTP data, before it is queued to the socket.
///
/// Equivalent to `tcpdump -dd 'arp or icmp or (udp and dst port (67 or 68 or 69 or 4919))'`
/// restricted to IPv4. Jumps are relative: the next instruction is `pc + 1 + jt` (or `jf`).
pub const CAPTURE_FILTER: [BpfInstruction; 16] = [
    (LD_H_ABS, 0, 0, 12),       // 0: ethertype
    (JEQ_K, 12, 0, 0x0806),     // 1: ARP -> keep
    (JEQ_K, 0, 12, 0x0800),     // 2: IPv4, else drop
    (LD_B_ABS, 0, 0, 23),       // 3: IPv4 protocol
    (JEQ_K, 9, 0, 1),           // 4: ICMP -> keep
    (JEQ_K, 0, 9, 17),          // 5: UDP, else drop
    (LD_H_ABS, 0, 0, 20),       // 6: flags + fragment offset
    (JSET_K, 7, 0, 0x1fff),     // 7: a later fragment -> drop
    (LDX_B_MSH, 0, 0, 14),      // 8: X = IP header length
    (LD_H_IND, 0, 0, 16),       // 9: UDP destination port
    (JEQ_K, 3, 0, 67),          // 10
    (JEQ_K, 2, 0, 68),          // 11
    (JEQ_K, 1, 0, 69),          // 12
    (JEQ_K, 0, 1, 4919),        // 13
    (RET_K, 0, 0, SNAP_LENGTH), // 14: keep
    (RET_K, 0, 0, 0),           // 15: drop
];

#[cfg(test)]
mod tests;
