//! The active probe for another DHCP server on the rescue port, without I/O: before the
//! technician switches the router on, we broadcast a DISCOVER of our own and listen for a
//! bounded time; any server that offers an address to it would answer the router too, and a
//! bootloader takes the first offer it gets (U-Boot's `net/bootp.c` takes the first OFFER that
//! matches its xid), so it may never ask us.
//!
//! Listening alone (the responder's passive watch of the client port) names a server only once
//! some client asks; the probe makes every server on the segment speak up first, while the
//! router is still off. The probe is ours and flagged as such (its vendor class is
//! [`PROBE_VENDOR_CLASS`]): our own responder never answers it ([`is_probe`]).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::dhcp::packet::{DhcpOption, FLAG_BROADCAST, Message, MessageType, Op, Vendor, code};
use crate::net::wire::Mac;

/// How long the probe listens for offers after its first DISCOVER. A server may check that an
/// address is free before it offers it: dnsmasq pings it first and waits up to 3 s for an
/// answer (`src/dhcp.c`, `do_icmp_ping`); its OFFER reached the probe 3.0 s after the first
/// DISCOVER in tests/dhcp.rs. ISC dhcpd's ping waits 1 s (`ping-timeout`). 5 s leaves a margin;
/// the router is still off meanwhile.
pub const PROBE_WAIT: Duration = Duration::from_secs(5);

/// When the DISCOVER is sent again, once, in case the first one was lost (RFC 2131 §4.1 asks
/// clients to retransmit; a server that missed the first hears the second).
pub const PROBE_RESEND: Duration = Duration::from_secs(1);

/// The vendor class (option 60) the probe sends: it tells our own responder, the wire watch,
/// and a technician reading another server's log, that this DISCOVER is rescue-wizard's probe.
pub use crate::net::wire::PROBE_VENDOR_CLASS;

/// Whether `request` is a probe of ours: never answered, never taken for the router.
pub fn is_probe(request: &Message) -> bool {
    request.vendor_class().as_deref() == Some(PROBE_VENDOR_CLASS)
}

/// A server that answered the probe.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answered {
    /// Its server identifier (option 54), else where its reply came from.
    pub server: Ipv4Addr,
    /// Its hardware address: the driver asks by ARP (its reply was broadcast, so the kernel
    /// learnt nothing); `None` until then, or when it does not answer ARP.
    pub mac: Option<Mac>,
    /// The address it offered us.
    pub offered: Ipv4Addr,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStep {
    /// Broadcast this DISCOVER from the client port, then poll again.
    Send(Box<Message>),
    /// Nothing to do before this instant (or a reply).
    WaitUntil(Instant),
    /// The probe is over: these servers answered (none: the segment is ours).
    Done(Vec<Answered>),
}

/// The probe: its DISCOVER, when to send it, and who answered.
#[derive(Debug, Clone)]
pub struct Probe {
    ours: Ipv4Addr,
    discover: Message,
    started: Instant,
    sent: u8,
    answered: Vec<Answered>,
    done: bool,
}

impl Probe {
    /// A probe from `ours` (our address on the port: our own replies are not another
    /// server's), with our port's `mac` as the client and `xid` as its transaction id,
    /// starting at `now`.
    pub fn new(ours: Ipv4Addr, mac: Mac, xid: u32, now: Instant) -> Self {
        let mut discover = Message::new(Op::REQUEST, xid, mac);
        // RFC 2131 §4.1: the broadcast bit asks servers to broadcast their answer; without it
        // a server unicasts the OFFER to the offered address, which this computer does not
        // have, and the kernel drops it before our socket could hear it.
        discover.flags = FLAG_BROADCAST;
        let mut client_id = vec![crate::dhcp::packet::HTYPE_ETHERNET];
        client_id.extend_from_slice(&mac.0);
        discover.vendor = Vendor::Options(vec![
            DhcpOption::new(code::MESSAGE_TYPE, [MessageType::DISCOVER.0]),
            DhcpOption::new(code::CLIENT_ID, client_id),
            DhcpOption::new(code::VENDOR_CLASS, PROBE_VENDOR_CLASS.as_bytes()),
            DhcpOption::new(
                code::PARAMETER_LIST,
                [code::SUBNET_MASK, code::SERVER_ID, code::BOOT_FILE],
            ),
        ]);
        Self {
            ours,
            discover,
            started: now,
            sent: 0,
            answered: Vec::new(),
            done: false,
        }
    }

    /// When the probe ends.
    pub fn deadline(&self) -> Instant {
        self.started + PROBE_WAIT
    }

    /// What to do at `now`: send (at the start, and once more after [`PROBE_RESEND`]), wait,
    /// or report who answered once [`PROBE_WAIT`] has passed. After `Done`, always `Done`.
    pub fn poll(&mut self, now: Instant) -> ProbeStep {
        if self.done || now >= self.deadline() {
            self.done = true;
            return ProbeStep::Done(self.answered.clone());
        }
        let resend_at = self.started + PROBE_RESEND;
        if self.sent == 0 || (self.sent == 1 && now >= resend_at) {
            self.sent += 1;
            return ProbeStep::Send(Box::new(self.discover.clone()));
        }
        ProbeStep::WaitUntil(if self.sent == 1 {
            resend_at
        } else {
            self.deadline()
        })
    }

    /// A reply heard on the client port from `from`: whether it answers our probe (our xid and
    /// MAC, another server's OFFER or ACK). Each server counts once.
    pub fn on_reply(&mut self, reply: &Message, from: Ipv4Addr) -> bool {
        if self.done
            || reply.op != Op::REPLY
            || reply.xid != self.discover.xid
            || reply.client_mac() != self.discover.client_mac()
        {
            return false;
        }
        let server = reply
            .address_option(code::SERVER_ID)
            .filter(|a| !a.is_unspecified())
            .unwrap_or(from);
        if server == self.ours || from == self.ours {
            return false;
        }
        if !self.answered.iter().any(|a| a.server == server) {
            self.answered.push(Answered {
                server,
                mac: None,
                offered: reply.yiaddr,
            });
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 1);
    const RIVAL: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 254);
    const MAC: Mac = Mac([0x02, 0x52, 0x57, 0x00, 0x00, 0x01]);
    const XID: u32 = 0x5257_0001;

    fn offer_from(server: Ipv4Addr, xid: u32, mac: Mac) -> Message {
        let mut offer = Message::new(Op::REPLY, xid, mac);
        offer.yiaddr = Ipv4Addr::new(192, 168, 31, 50);
        offer.vendor = Vendor::Options(vec![
            DhcpOption::new(code::MESSAGE_TYPE, [MessageType::OFFER.0]),
            DhcpOption::address(code::SERVER_ID, server),
        ]);
        offer
    }

    #[test]
    fn the_probe_sends_twice_then_ends_clear_after_the_wait() {
        let t0 = Instant::now();
        let mut probe = Probe::new(OURS, MAC, XID, t0);
        let ProbeStep::Send(discover) = probe.poll(t0) else {
            panic!("no first DISCOVER");
        };
        assert_eq!(discover.message_type(), Some(MessageType::DISCOVER));
        assert_eq!(discover.client_mac(), Some(MAC));
        assert!(discover.wants_broadcast());
        assert!(is_probe(&discover), "our own responder must know it");
        // Parsed back from the wire, it is still known as ours.
        assert!(is_probe(&Message::parse(&discover.to_bytes()).unwrap()));
        assert_eq!(probe.poll(t0), ProbeStep::WaitUntil(t0 + PROBE_RESEND));
        let almost = t0 + PROBE_RESEND / 2;
        assert_eq!(probe.poll(almost), ProbeStep::WaitUntil(t0 + PROBE_RESEND));
        assert!(matches!(probe.poll(t0 + PROBE_RESEND), ProbeStep::Send(_)));
        assert_eq!(
            probe.poll(t0 + PROBE_RESEND),
            ProbeStep::WaitUntil(t0 + PROBE_WAIT)
        );
        assert_eq!(probe.poll(t0 + PROBE_WAIT), ProbeStep::Done(Vec::new()));
        // Over is over: a late offer changes nothing.
        assert!(!probe.on_reply(&offer_from(RIVAL, XID, MAC), RIVAL));
        assert_eq!(probe.poll(t0 + PROBE_WAIT * 3), ProbeStep::Done(Vec::new()));
    }

    #[test]
    fn another_servers_offer_to_the_probe_is_named_once() {
        let t0 = Instant::now();
        let mut probe = Probe::new(OURS, MAC, XID, t0);
        let _ = probe.poll(t0);
        let at = t0 + Duration::from_millis(30);
        assert!(probe.on_reply(&offer_from(RIVAL, XID, MAC), RIVAL));
        // Its answer to the second DISCOVER is the same server.
        assert!(probe.on_reply(&offer_from(RIVAL, XID, MAC), RIVAL));
        assert!(matches!(probe.poll(at), ProbeStep::WaitUntil(_)));
        assert_eq!(
            probe.poll(t0 + PROBE_WAIT),
            ProbeStep::Done(vec![Answered {
                server: RIVAL,
                mac: None,
                offered: Ipv4Addr::new(192, 168, 31, 50),
            }])
        );
    }

    #[test]
    fn replies_that_are_not_to_the_probe_or_are_ours_are_not_taken() {
        let t0 = Instant::now();
        let mut probe = Probe::new(OURS, MAC, XID, t0);
        let _ = probe.poll(t0);
        let router = Mac([0x8c, 0xde, 0xf9, 1, 2, 3]);
        // Another server answering the router: the passive watch's business, not the probe's.
        assert!(!probe.on_reply(&offer_from(RIVAL, XID, router), RIVAL));
        assert!(!probe.on_reply(&offer_from(RIVAL, XID + 1, MAC), RIVAL));
        // Our own responder, had it answered.
        assert!(!probe.on_reply(&offer_from(OURS, XID, MAC), OURS));
        // A request looped back is no reply.
        let mut request = offer_from(RIVAL, XID, MAC);
        request.op = Op::REQUEST;
        assert!(!probe.on_reply(&request, RIVAL));
        assert_eq!(probe.poll(t0 + PROBE_WAIT), ProbeStep::Done(Vec::new()));
    }

    #[test]
    fn a_server_without_a_server_identifier_is_named_by_its_source() {
        let t0 = Instant::now();
        let mut probe = Probe::new(OURS, MAC, XID, t0);
        let _ = probe.poll(t0);
        // A BOOTP server answers without option 54.
        let mut reply = Message::new(Op::REPLY, XID, MAC);
        reply.yiaddr = Ipv4Addr::new(192, 168, 31, 60);
        assert!(probe.on_reply(&reply, RIVAL));
        let ProbeStep::Done(answered) = probe.poll(t0 + PROBE_WAIT) else {
            panic!("not done");
        };
        assert_eq!(answered[0].server, RIVAL);
    }

    #[test]
    fn a_router_request_is_not_a_probe() {
        let mut request = Message::new(Op::REQUEST, 1, Mac([0x8c, 0xde, 0xf9, 1, 2, 3]));
        request.vendor = Vendor::Options(vec![DhcpOption::new(
            code::VENDOR_CLASS,
            b"Mips_boot".to_vec(),
        )]);
        assert!(!is_probe(&request));
        request.vendor = Vendor::Options(Vec::new());
        assert!(!is_probe(&request));
    }
}
