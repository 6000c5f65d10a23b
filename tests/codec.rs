//! The wire format's contract: parse(emit(p)) == p for every packet, and parsing any bytes
//! at all never panics (over a million random and mutated datagrams).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rescue_wizard::tftp::options::{ClientOptions, Direction, OptionPolicy, negotiate};
use rescue_wizard::tftp::packet::{ErrorCode, Mode, Packet, RawOption, Request};

fn nul_free(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..max)
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::char::any(), 0..max)
        .prop_map(|chars| chars.into_iter().filter(|&c| c != '\0').collect())
}

fn option() -> impl Strategy<Value = RawOption> {
    (
        text(12).prop_filter("names are not empty", |n| !n.is_empty()),
        text(12),
    )
        .prop_map(|(name, value)| RawOption { name, value })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Octet),
        Just(Mode::Netascii),
        Just(Mode::Mail),
        nul_free(10)
            .prop_filter("other modes are not empty and not a known mode", |m| {
                !m.is_empty()
                    && !m.eq_ignore_ascii_case(b"octet")
                    && !m.eq_ignore_ascii_case(b"netascii")
                    && !m.eq_ignore_ascii_case(b"mail")
            })
            .prop_map(Mode::Other),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (nul_free(100), mode(), prop::collection::vec(option(), 0..6)).prop_map(
        |(filename, mode, options)| Request {
            filename,
            mode,
            options,
        },
    )
}

#[derive(Debug, Clone)]
enum Owned {
    Rrq(Request),
    Wrq(Request),
    Data(u16, Vec<u8>),
    Ack(u16),
    Error(u16, String),
    Oack(Vec<RawOption>),
}

impl Owned {
    fn packet(&self) -> Packet<'_> {
        match self {
            Owned::Rrq(r) => Packet::Rrq(r.clone()),
            Owned::Wrq(r) => Packet::Wrq(r.clone()),
            Owned::Data(block, data) => Packet::Data {
                block: *block,
                data,
            },
            Owned::Ack(block) => Packet::Ack { block: *block },
            Owned::Error(code, message) => Packet::Error {
                code: ErrorCode(*code),
                message: message.clone(),
            },
            Owned::Oack(options) => Packet::Oack {
                options: options.clone(),
            },
        }
    }
}

fn packet() -> impl Strategy<Value = Owned> {
    prop_oneof![
        request().prop_map(Owned::Rrq),
        request().prop_map(Owned::Wrq),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..1500))
            .prop_map(|(b, d)| Owned::Data(b, d)),
        any::<u16>().prop_map(Owned::Ack),
        (any::<u16>(), text(60)).prop_map(|(c, m)| Owned::Error(c, m)),
        prop::collection::vec(option(), 0..6).prop_map(Owned::Oack),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn parse_emit_round_trip(owned in packet()) {
        let packet = owned.packet();
        let bytes = packet.to_bytes();
        prop_assert_eq!(Packet::parse(&bytes).unwrap(), packet);
    }

    #[test]
    fn negotiation_never_grants_more_than_asked(
        options in prop::collection::vec(
            (prop_oneof![Just("blksize"), Just("BlkSize"), Just("timeout"), Just("tsize"), Just("windowsize"), Just("multicast")],
             prop_oneof![any::<u32>().prop_map(|v| v.to_string()), text(6)]),
            0..6),
        max_blksize in 8u16..=65464,
        max_windowsize in 1u16..=64,
    ) {
        let raw: Vec<RawOption> = options.iter().map(|(n, v)| RawOption::new(*n, v.clone())).collect();
        let policy = OptionPolicy { enabled: true, max_blksize, max_windowsize, strict: false };
        let n = negotiate(&raw, Direction::Read { size: 1000 }, &policy, None).unwrap();
        for granted in &n.oack {
            let asked = raw.iter().find(|o| o.name == granted.name).unwrap();
            if granted.is("blksize") || granted.is("windowsize") {
                let g: u64 = granted.value.parse().unwrap();
                let a: u64 = asked.value.parse().unwrap();
                prop_assert!(g <= a);
            }
            // RFC 2349: the granted timeout matches the one asked, as a number ("01" is 1).
            if granted.is("timeout") {
                let g: u64 = granted.value.parse().unwrap();
                let a: u64 = asked.value.parse().unwrap();
                prop_assert_eq!(g, a);
            }
            prop_assert!(!granted.is("multicast"));
        }
        prop_assert!(n.agreed.blksize <= max_blksize.max(512));
        // What the server grants, a client asking the same accepts.
        let client = ClientOptions {
            blksize: raw.iter().find(|o| o.is("blksize")).and_then(|o| o.value.parse().ok()),
            windowsize: raw.iter().find(|o| o.is("windowsize")).and_then(|o| o.value.parse().ok()),
            timeout: raw.iter().find(|o| o.is("timeout")).and_then(|o| o.value.parse().ok()),
            tsize: raw.iter().find(|o| o.is("tsize")).map(|_| 0),
        };
        let first_only: Vec<RawOption> = n.oack.clone();
        if raw.iter().filter(|o| o.is("blksize")).count() <= 1
            && raw.iter().filter(|o| o.is("windowsize")).count() <= 1
            && raw.iter().filter(|o| o.is("timeout")).count() <= 1 {
            prop_assert!(client.accept_oack(&first_only).is_ok(), "{:?}", first_only);
        }
    }
}

#[test]
fn a_million_random_and_mutated_datagrams_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0x7f7f);
    let seeds: Vec<Vec<u8>> = vec![
        b"\x00\x01fw.bin\x00octet\x00blksize\x001468\x00tsize\x000\x00timeout\x005\x00".to_vec(),
        b"\x00\x02up.img\x00netascii\x00windowsize\x004\x00".to_vec(),
        b"\x00\x03\x00\x01hello".to_vec(),
        b"\x00\x04\xff\xff".to_vec(),
        b"\x00\x05\x00\x08nope\x00".to_vec(),
        b"\x00\x06blksize\x00512\x00tsize\x00100\x00".to_vec(),
    ];
    let mut parsed = 0u32;
    for i in 0..1_000_000u32 {
        let datagram = if i % 2 == 0 {
            let len = rng.usize(0..80);
            (0..len).map(|_| rng.u8(..)).collect::<Vec<u8>>()
        } else {
            let mut d = seeds[rng.usize(..seeds.len())].clone();
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..4) {
                    0 if !d.is_empty() => {
                        let at = rng.usize(..d.len());
                        d[at] = rng.u8(..);
                    }
                    1 if !d.is_empty() => d.truncate(rng.usize(..d.len())),
                    2 => d.push(if rng.bool() { 0 } else { rng.u8(..) }),
                    _ => {
                        let at = rng.usize(..=d.len());
                        d.insert(at, 0);
                    }
                }
            }
            d
        };
        if let Ok(packet) = Packet::parse(&datagram) {
            parsed += 1;
            // Whatever parses emits something that parses to the same packet.
            let again = packet.to_bytes();
            assert_eq!(Packet::parse(&again).unwrap(), packet, "{datagram:?}");
        }
    }
    assert!(
        parsed > 100_000,
        "the mutations should keep many datagrams valid: {parsed}"
    );
}
