//! The BOOTP/DHCP wire format's contract: parse(emit(m)) == m for every message, and parsing any
//! bytes at all never panics (random datagrams, and real-looking ones mutated).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use proptest::prelude::*;
use rescue_wizard::dhcp::packet::{DhcpOption, FILE_LEN, MIN_LEN, Message, Op, SNAME_LEN, Vendor};
use rescue_wizard::net::wire::Mac;

fn address() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn option() -> impl Strategy<Value = DhcpOption> {
    // Codes 0 and 255 are framing (pad, end), not options.
    (1u8..=254, prop::collection::vec(any::<u8>(), 0..=255))
        .prop_map(|(code, value)| DhcpOption { code, value })
}

fn vendor() -> impl Strategy<Value = Vendor> {
    prop_oneof![
        prop::collection::vec(option(), 0..8).prop_map(Vendor::Options),
        prop::collection::vec(any::<u8>(), 0..80)
            .prop_filter("opaque bytes do not start with the cookie", |v| {
                !v.starts_with(&[99, 130, 83, 99])
            })
            .prop_map(Vendor::Opaque),
    ]
}

prop_compose! {
    fn message()(
        op in any::<u8>(),
        htype in any::<u8>(),
        hlen in any::<u8>(),
        hops in any::<u8>(),
        xid in any::<u32>(),
        secs in any::<u16>(),
        flags in any::<u16>(),
        addresses in (address(), address(), address(), address()),
        chaddr in any::<[u8; 16]>(),
        sname in prop::collection::vec(any::<u8>(), SNAME_LEN),
        file in prop::collection::vec(any::<u8>(), FILE_LEN),
        vendor in vendor(),
    ) -> Message {
        let mut m = Message::new(Op(op), xid, Mac([0; 6]));
        m.htype = htype;
        m.hlen = hlen;
        m.hops = hops;
        m.secs = secs;
        m.flags = flags;
        (m.ciaddr, m.yiaddr, m.siaddr, m.giaddr) = addresses;
        m.chaddr = chaddr;
        m.sname.copy_from_slice(&sname);
        m.file.copy_from_slice(&file);
        m.vendor = vendor;
        m
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn parse_emit_round_trip(m in message()) {
        let bytes = m.to_bytes();
        if matches!(m.vendor, Vendor::Options(_)) {
            prop_assert!(bytes.len() >= MIN_LEN, "option messages are padded to 300 bytes");
        }
        prop_assert_eq!(Message::parse(&bytes).unwrap(), m);
    }
}

#[test]
fn random_and_mutated_datagrams_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0xd4c9);
    let mut discover = Message::new(Op::REQUEST, 0x1234_5678, Mac([2, 0, 0, 0, 0, 1]));
    discover.vendor = Vendor::Options(vec![
        DhcpOption::new(53, [1]),
        DhcpOption::new(60, *b"Mips_boot"),
        DhcpOption::new(55, [1, 3, 66, 67]),
    ]);
    let mut bootp = Message::new(Op::REQUEST, 7, Mac([2, 0, 0, 0, 0, 2]));
    bootp.vendor = Vendor::Opaque(vec![0; 64]);
    let seeds = [discover.to_bytes(), bootp.to_bytes()];
    let mut parsed = 0u32;
    for i in 0..200_000u32 {
        let datagram = if i % 4 == 0 {
            let len = rng.usize(0..400);
            (0..len).map(|_| rng.u8(..)).collect::<Vec<u8>>()
        } else {
            let mut d = seeds[rng.usize(..seeds.len())].clone();
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..4) {
                    // Mutations aim at the option area most of the time.
                    0 if !d.is_empty() => {
                        let at = if rng.bool() {
                            rng.usize(..d.len())
                        } else {
                            rng.usize(236.min(d.len() - 1)..d.len())
                        };
                        d[at] = rng.u8(..);
                    }
                    1 if !d.is_empty() => d.truncate(rng.usize(200..=d.len().max(200))),
                    2 => d.push(rng.u8(..)),
                    _ => {
                        let at = rng.usize(..=d.len());
                        d.insert(at, rng.u8(..));
                    }
                }
            }
            d
        };
        if let Ok(message) = Message::parse(&datagram) {
            parsed += 1;
            // Whatever parses emits something that parses to the same message.
            let again = message.to_bytes();
            assert_eq!(Message::parse(&again).unwrap(), message, "{datagram:?}");
        }
    }
    assert!(
        parsed > 50_000,
        "the mutations should keep many datagrams valid: {parsed}"
    );
}
