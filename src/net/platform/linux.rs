//! Linux: addresses, links and neighbours through rtnetlink.
//!
//! The messages come from `netlink-packet-route` and travel on a `netlink-sys` socket used
//! synchronously: undoing a change must work from a panic hook, a `Drop` and the first
//! moments of the next start, where no async runtime can be counted on.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressProtocol, CacheInfo,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};
use nix::sys::time::TimeValLike;

use super::{AddressInfo, LinkInfo, NetChange, RESCUE_ADDRESS_PROTOCOL};
use crate::net::iface::Ipv4Cidr;

/// rtnetlink multicast groups (linux/rtnetlink.h, the legacy bit masks).
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;

struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    fn open(groups: u32) -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, groups))?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Self {
            socket,
            seq: 1,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // Through microseconds rather than libc's timeval fields: their widths differ between
        // glibc and musl (time_t), and the static build uses musl.
        let micros =
            i64::try_from(timeout.unwrap_or(Duration::ZERO).as_micros()).unwrap_or(i64::MAX);
        let tv = nix::sys::time::TimeVal::microseconds(micros);
        nix::sys::socket::setsockopt(
            &self.socket.as_fd(),
            nix::sys::socket::sockopt::ReceiveTimeout,
            &tv,
        )
        .map_err(io::Error::from)
    }

    /// Sends one request and gathers the answers until the kernel's ACK (or the end of a
    /// dump). A netlink error comes back as the matching `io::Error`.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        self.set_timeout(Some(Duration::from_secs(5)))?;
        let mut replies = Vec::new();
        loop {
            self.buf.clear();
            let len = self.socket.recv(&mut self.buf, 0)?;
            let mut offset = 0;
            while offset < len.min(self.buf.len()) {
                let bytes = &self.buf[offset..len.min(self.buf.len())];
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let size = reply.header.length as usize;
                if reply.header.sequence_number != header.sequence_number {
                    offset += size.max(1);
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(error) => {
                        return if error.code.is_none() {
                            Ok(replies)
                        } else {
                            Err(error.to_io())
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(inner) => replies.push(inner),
                    _ => {}
                }
                if size == 0 {
                    break;
                }
                offset += size;
            }
        }
    }
}

fn address_message(ifindex: u32, cidr: Ipv4Cidr) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.family = AddressFamily::Inet;
    message.header.prefix_len = cidr.prefix;
    message.header.index = ifindex;
    message
        .attributes
        .push(AddressAttribute::Local(IpAddr::V4(cidr.addr)));
    message
        .attributes
        .push(AddressAttribute::Address(IpAddr::V4(cidr.addr)));
    message
}

/// Adds `cidr` to the interface, marked with [`RESCUE_ADDRESS_PROTOCOL`]. `create_only`: fail
/// with `AlreadyExists` when the address is there already (never take over someone's
/// address); otherwise replace it (refreshing our own address's lifetimes). A label longer
/// than 15 bytes is left out (the kernel's limit).
pub fn add_address(
    ifindex: u32,
    cidr: Ipv4Cidr,
    label: Option<&str>,
    lifetime: Option<Duration>,
    create_only: bool,
) -> io::Result<()> {
    let mut message = address_message(ifindex, cidr);
    if cidr.prefix < 31 {
        let broadcast = u32::from(cidr.addr) | !cidr.mask();
        message
            .attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(broadcast)));
    }
    if let Some(label) = label.filter(|l| l.len() <= 15) {
        message
            .attributes
            .push(AddressAttribute::Label(label.to_owned()));
    }
    // The mark that survives any interface name (IFA_PROTO, Linux 6.3); older kernels ignore
    // the attribute, and undo falls back on the finite lifetime only we set.
    message
        .attributes
        .push(AddressAttribute::Protocol(AddressProtocol::from(
            RESCUE_ADDRESS_PROTOCOL,
        )));
    if let Some(lifetime) = lifetime {
        let secs = lifetime.as_secs().min(u64::from(u32::MAX - 1)) as u32;
        let mut info = CacheInfo::default();
        info.ifa_preferred = secs;
        info.ifa_valid = secs;
        message.attributes.push(AddressAttribute::CacheInfo(info));
    }
    let flags = if create_only {
        NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    } else {
        NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
    };
    Netlink::open(0)?
        .request(RouteNetlinkMessage::NewAddress(message), flags)
        .map(|_| ())
}

/// Removes exactly `cidr` from the interface. Already gone is not an error.
pub fn remove_address(ifindex: u32, cidr: Ipv4Cidr) -> io::Result<()> {
    let message = address_message(ifindex, cidr);
    match Netlink::open(0)?.request(RouteNetlinkMessage::DelAddress(message), NLM_F_ACK) {
        Err(err)
            if matches!(
                err.raw_os_error(),
                Some(nix::libc::EADDRNOTAVAIL | nix::libc::ENOENT | nix::libc::ENODEV)
            ) =>
        {
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// Every IPv4 address of the interface with its flags and label.
pub fn addresses(ifindex: u32) -> io::Result<Vec<AddressInfo>> {
    let mut request = AddressMessage::default();
    request.header.family = AddressFamily::Inet;
    let replies =
        Netlink::open(0)?.request(RouteNetlinkMessage::GetAddress(request), NLM_F_DUMP)?;
    Ok(replies
        .into_iter()
        .filter_map(|reply| match reply {
            RouteNetlinkMessage::NewAddress(m) if m.header.index == ifindex => address_info(&m),
            _ => None,
        })
        .collect())
}

fn address_info(message: &AddressMessage) -> Option<AddressInfo> {
    let mut addr = None;
    let mut label = None;
    let mut protocol = None;
    let mut valid_for = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(IpAddr::V4(a)) => addr = Some(*a),
            AddressAttribute::Address(IpAddr::V4(a)) if addr.is_none() => addr = Some(*a),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Protocol(p) => protocol = Some(u8::from(*p)),
            // INFINITY_LIFE_TIME (linux/if_addr.h): an address that never expires.
            AddressAttribute::CacheInfo(info) if info.ifa_valid != u32::MAX => {
                valid_for = Some(info.ifa_valid);
            }
            _ => {}
        }
    }
    Some(AddressInfo {
        ifindex: message.header.index,
        cidr: Ipv4Cidr::new(addr?, message.header.prefix_len),
        secondary: message.header.flags.contains(AddressHeaderFlags::Secondary),
        label,
        protocol,
        valid_for,
    })
}

/// Whether the interface is administratively up.
pub fn link_is_up(ifindex: u32) -> io::Result<bool> {
    let mut request = LinkMessage::default();
    request.header.index = ifindex;
    let replies = Netlink::open(0)?.request(RouteNetlinkMessage::GetLink(request), 0)?;
    Ok(replies.iter().any(
        |r| matches!(r, RouteNetlinkMessage::NewLink(l) if l.header.flags.contains(LinkFlags::Up)),
    ))
}

/// What the interface with index `ifindex` is now; `None` when there is none.
pub fn link(ifindex: u32) -> io::Result<Option<LinkInfo>> {
    let mut request = LinkMessage::default();
    request.header.index = ifindex;
    link_request(request)
}

/// What the interface named `name` is now; `None` when there is none.
pub fn link_named(name: &str) -> io::Result<Option<LinkInfo>> {
    let mut request = LinkMessage::default();
    request
        .attributes
        .push(LinkAttribute::IfName(name.to_owned()));
    link_request(request)
}

fn link_request(request: LinkMessage) -> io::Result<Option<LinkInfo>> {
    // A single-link GET is answered without a DONE: ask for the ACK that ends the exchange.
    match Netlink::open(0)?.request(RouteNetlinkMessage::GetLink(request), NLM_F_ACK) {
        Ok(replies) => Ok(replies.iter().find_map(|r| match r {
            RouteNetlinkMessage::NewLink(l) => link_info(l),
            _ => None,
        })),
        Err(err) if err.raw_os_error() == Some(nix::libc::ENODEV) => Ok(None),
        Err(err) => Err(err),
    }
}

fn link_info(message: &LinkMessage) -> Option<LinkInfo> {
    let mut name = None;
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Address(bytes) => {
                mac = <[u8; 6]>::try_from(bytes.as_slice())
                    .ok()
                    .filter(|m| *m != [0; 6])
                    .map(|m| crate::net::wire::Mac(m).to_string());
            }
            _ => {}
        }
    }
    Some(LinkInfo {
        index: message.header.index,
        name: name?,
        mac,
        up: message.header.flags.contains(LinkFlags::Up),
    })
}

/// Sets the interface administratively up or down.
pub fn set_link_up(ifindex: u32, up: bool) -> io::Result<()> {
    let mut message = LinkMessage::default();
    message.header.index = ifindex;
    message.header.flags = if up {
        LinkFlags::Up
    } else {
        LinkFlags::empty()
    };
    message.header.change_mask = LinkFlags::Up;
    Netlink::open(0)?
        .request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK)
        .map(|_| ())
}

fn neighbour_message(ifindex: u32, ip: Ipv4Addr) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Inet;
    message.header.ifindex = ifindex;
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    message
}

/// Adds a permanent ARP entry (create-only).
pub fn add_neighbour(ifindex: u32, ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
    let mut message = neighbour_message(ifindex, ip);
    message.header.state = NeighbourState::Permanent;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    Netlink::open(0)?
        .request(
            RouteNetlinkMessage::NewNeighbour(message),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(|_| ())
}

/// Removes an ARP entry. Already gone is not an error.
pub fn remove_neighbour(ifindex: u32, ip: Ipv4Addr) -> io::Result<()> {
    match Netlink::open(0)?.request(
        RouteNetlinkMessage::DelNeighbour(neighbour_message(ifindex, ip)),
        NLM_F_ACK,
    ) {
        Err(err)
            if matches!(
                err.raw_os_error(),
                Some(nix::libc::ENOENT | nix::libc::ENODEV)
            ) =>
        {
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// Listens for address removals and link changes (a link that appears, changes or goes), so
/// a removed rescue address can be put back at once, and on a replugged adapter too.
pub struct Watcher {
    netlink: Netlink,
}

impl Watcher {
    /// Subscribes to IPv4 address and link notifications.
    pub fn open() -> io::Result<Self> {
        let netlink = Netlink::open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR)?;
        Ok(Self { netlink })
    }

    /// Waits up to `timeout` for changes.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<Vec<NetChange>> {
        self.netlink
            .set_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        self.netlink.buf.clear();
        let len = match self.netlink.socket.recv(&mut self.netlink.buf, 0) {
            Ok(len) => len,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(err) => return Err(err),
        };
        let mut changes = Vec::new();
        let mut offset = 0;
        let end = len.min(self.netlink.buf.len());
        while offset < end {
            let Ok(message) =
                NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.netlink.buf[offset..end])
            else {
                break;
            };
            let size = message.header.length as usize;
            if let NetlinkPayload::InnerMessage(inner) = message.payload {
                match inner {
                    RouteNetlinkMessage::DelAddress(m) => {
                        if let Some(info) = address_info(&m) {
                            changes.push(NetChange::AddressRemoved(info));
                        }
                    }
                    RouteNetlinkMessage::NewLink(l) => changes.push(NetChange::Link {
                        ifindex: l.header.index,
                        ifname: link_info(&l).map(|i| i.name).unwrap_or_default(),
                        up: l.header.flags.contains(LinkFlags::Up),
                        carrier: l.header.flags.contains(LinkFlags::LowerUp),
                    }),
                    RouteNetlinkMessage::DelLink(l) => changes.push(NetChange::LinkRemoved {
                        ifindex: l.header.index,
                    }),
                    _ => {}
                }
            }
            if size == 0 {
                break;
            }
            offset += size;
        }
        Ok(changes)
    }
}
