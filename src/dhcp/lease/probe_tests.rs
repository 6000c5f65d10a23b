//! The responder and the probe for other servers: our own DISCOVER, looped back to the server
//! port, is never answered and never makes this computer "the router".

use std::net::Ipv4Addr;
use std::time::Instant;

use crate::dhcp::lease::{LeaseConfig, Responder};
use crate::dhcp::packet::{DhcpOption, Message, MessageType, Op, Vendor, code};
use crate::dhcp::probe::{Probe, ProbeStep};
use crate::net::iface::Ipv4Cidr;
use crate::net::wire::Mac;

const OURS: Ipv4Addr = Ipv4Addr::new(192, 168, 31, 1);
const ROUTER: Mac = Mac([0x8c, 0xde, 0xf9, 1, 2, 3]);

#[test]
fn our_probe_is_not_answered_and_the_router_still_is() {
    let config = LeaseConfig::new(
        Ipv4Cidr::new(OURS, 24),
        vec![Ipv4Addr::new(192, 168, 31, 100)],
        "test.bin",
    )
    .unwrap();
    let mut responder = Responder::new(config);
    let now = Instant::now();
    let mut probe = Probe::new(OURS, Mac([2, 0, 0, 0, 0, 1]), 7, now);
    let ProbeStep::Send(discover) = probe.poll(now) else {
        panic!("no DISCOVER");
    };
    let looped = Message::parse(&discover.to_bytes()).unwrap();
    let step = responder.on_request(&looped, now);
    assert!(
        step.replies.is_empty() && step.events.is_empty(),
        "{step:?}"
    );
    assert_eq!(responder.router(), None);
    // The router's own DISCOVER, after it, is answered as usual.
    let mut request = Message::new(Op::REQUEST, 8, ROUTER);
    request.vendor = Vendor::Options(vec![DhcpOption::new(
        code::MESSAGE_TYPE,
        [MessageType::DISCOVER.0],
    )]);
    let step = responder.on_request(&request, now);
    assert_eq!(step.replies.len(), 1, "{step:?}");
    assert_eq!(
        step.replies[0].message.yiaddr,
        Ipv4Addr::new(192, 168, 31, 100)
    );
    assert_eq!(responder.router(), Some(ROUTER));
}
