//! The NMRP wire format's contract: the research notes' frames byte for byte, parse(emit(m)) ==
//! m for every message, and parsing any bytes at all never panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use proptest::prelude::*;
use rescue_wizard::net::wire::Mac;
use rescue_wizard::nmrp::packet::{
    Code, Frame, FrameError, MAGIC, MIN_FRAME_LEN, Message, NmrpOption, ParseError, Region,
};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .filter(|t| *t != "|")
        .map(|t| u8::from_str_radix(t, 16).unwrap())
        .collect()
}

/// Parses `bytes`, checks the message, and checks that emitting it gives `bytes` back.
fn both_ways(bytes: &[u8], message: &Message) {
    assert_eq!(&Message::parse(bytes).unwrap(), message);
    assert_eq!(message.to_bytes(), bytes);
}

#[test]
fn advertise_with_magic() {
    // recovery-methods.md §1.1: ADVERTISE payload, len 14.
    both_ways(
        &hex("00 00 01 00 00 0e | 00 01 00 08 4e 54 47 52"),
        &Message::new(Code::ADVERTISE, vec![NmrpOption::MagicNo(MAGIC.to_vec())]),
    );
}

#[test]
fn conf_ack_as_nmrpflash_builds_it() {
    // DEV-IP 10.164.183.253/24 then FW-UP, len 22.
    let message = Message::new(
        Code::CONF_ACK,
        vec![
            NmrpOption::DevIp {
                addr: Ipv4Addr::new(10, 164, 183, 253),
                mask: Ipv4Addr::new(255, 255, 255, 0),
            },
            NmrpOption::FwUp,
        ],
    );
    both_ways(
        &hex("00 00 03 00 00 16 | 00 02 00 0c 0a a4 b7 fd ff ff ff 00 | 01 01 00 04"),
        &message,
    );
    assert_eq!(
        message.dev_ip(),
        Some((
            Ipv4Addr::new(10, 164, 183, 253),
            Ipv4Addr::new(255, 255, 255, 0)
        ))
    );
    assert!(message.has_fw_up());
}

#[test]
fn conf_ack_with_region() {
    // With DEV-REGION appended: len 28.
    both_ways(
        &hex(
            "00 00 03 00 00 1c | 00 02 00 0c c0 a8 01 01 ff ff ff 00 | 01 01 00 04 | 00 04 00 06 00 02",
        ),
        &Message::new(
            Code::CONF_ACK,
            vec![
                NmrpOption::DevIp {
                    addr: Ipv4Addr::new(192, 168, 1, 1),
                    mask: Ipv4Addr::new(255, 255, 255, 0),
                },
                NmrpOption::FwUp,
                NmrpOption::DevRegion(Region::from_name("WW").unwrap()),
            ],
        ),
    );
}

#[test]
fn router_upload_request_names_the_file() {
    // nmrpflash fuzzin/nmrp/normal.pkts: TFTP_UL_REQ with FILE-NAME "firmware" (opt len 12).
    let bytes = hex("00 00 10 00 00 12 | 01 81 00 0c 66 69 72 6d 77 61 72 65");
    let message = Message::new(
        Code::TFTP_UL_REQ,
        vec![NmrpOption::FileName(b"firmware".to_vec())],
    );
    both_ways(&bytes, &message);
    assert_eq!(message.file_name(), Some(&b"firmware"[..]));
}

#[test]
fn header_only_messages() {
    for (code, byte) in [
        (Code::CONF_REQ, 0x02),
        (Code::CLOSE_REQ, 0x04),
        (Code::CLOSE_ACK, 0x05),
        (Code::KEEP_ALIVE_REQ, 0x06),
        (Code::KEEP_ALIVE_ACK, 0x07),
    ] {
        both_ways(&[0, 0, byte, 0, 0, 6], &Message::new(code, vec![]));
    }
}

#[test]
fn a_router_frame_padded_to_60_bytes_is_parsed_by_its_length() {
    // A CONF_REQ as a router sends it: 14-byte Ethernet header, 6-byte message, zero padding.
    let mut frame = hex("02 00 00 00 00 01 | 02 00 00 00 00 02 | 09 12 | 00 00 02 00 00 06");
    frame.resize(MIN_FRAME_LEN, 0);
    let parsed = Frame::parse(&frame).unwrap();
    assert_eq!(parsed.dst, Mac([2, 0, 0, 0, 0, 1]));
    assert_eq!(parsed.src, Mac([2, 0, 0, 0, 0, 2]));
    assert_eq!(parsed.message, Message::new(Code::CONF_REQ, vec![]));
    // Emitting pads the same way.
    assert_eq!(parsed.to_bytes(), frame);
}

#[test]
fn unknown_codes_and_options_are_kept() {
    let bytes = hex("00 00 42 07 00 10 | 12 34 00 06 ab cd | 00 02 00 04");
    let message = Message::parse(&bytes).unwrap();
    assert_eq!(message.code, Code(0x42));
    assert_eq!(message.id, 7);
    assert_eq!(
        message.options,
        vec![
            NmrpOption::Unknown {
                kind: 0x1234,
                value: vec![0xab, 0xcd]
            },
            // DEV-IP without its 8 bytes is kept, not read as an address.
            NmrpOption::Unknown {
                kind: 2,
                value: vec![]
            },
        ]
    );
    assert_eq!(message.to_bytes(), bytes);
}

#[test]
fn reserved_field_is_kept_and_checked() {
    let message = Message::parse(&[0x80, 0, 2, 0, 0, 6]).unwrap();
    assert_eq!(message.reserved, 0x8000);
    assert!(!message.is_reserved_zero());
    assert!(Message::new(Code::CONF_REQ, vec![]).is_reserved_zero());
}

#[test]
fn options_that_do_not_sum_to_the_length_are_refused() {
    // Length 14 but the option says 12: runs past the message.
    assert_eq!(
        Message::parse(&hex(
            "00 00 01 00 00 0e | 00 01 00 0c 4e 54 47 52 00 00 00 00"
        )),
        Err(ParseError::OptionsMismatch)
    );
    // Option length 2, below its own header.
    assert_eq!(
        Message::parse(&hex("00 00 01 00 00 0a | 00 01 00 02")),
        Err(ParseError::OptionsMismatch)
    );
    // Two bytes left over after the last option.
    assert_eq!(
        Message::parse(&hex("00 00 03 00 00 0c | 01 01 00 04 | 00 00")),
        Err(ParseError::OptionsMismatch)
    );
}

#[test]
fn lengths_outside_the_frame_are_refused() {
    assert_eq!(Message::parse(&[0, 0, 1]), Err(ParseError::TooShort(3)));
    assert_eq!(
        Message::parse(&[0, 0, 1, 0, 0, 5]),
        Err(ParseError::LengthBelowHeader(5))
    );
    assert_eq!(
        Message::parse(&[0, 0, 1, 0, 0, 20, 0, 1]),
        Err(ParseError::LengthBeyondFrame {
            len: 20,
            available: 8
        })
    );
    assert!(matches!(
        Frame::parse(&[0; 13]),
        Err(FrameError::TooShort(13))
    ));
    let mut arp = vec![0u8; 60];
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert!(matches!(
        Frame::parse(&arp),
        Err(FrameError::NotNmrp(0x0806))
    ));
}

#[test]
fn regions_by_name() {
    for (name, code) in Region::NAMES {
        assert_eq!(Region::from_name(&name.to_lowercase()), Some(Region(code)));
        assert_eq!(Region(code).name(), Some(name));
    }
    assert_eq!(Region::from_name("XX"), None);
    assert_eq!(Code(0x42).to_string(), "code 0x42");
    assert_eq!(Code::TFTP_UL_REQ.to_string(), "TFTP_UL_REQ");
}

const KNOWN_KINDS: [u16; 6] = [1, 2, 4, 0x0101, 0x0102, 0x0181];

fn option() -> impl Strategy<Value = NmrpOption> {
    let bytes = |max| prop::collection::vec(any::<u8>(), 0..max);
    prop_oneof![
        bytes(12).prop_map(NmrpOption::MagicNo),
        (any::<u32>(), any::<u32>()).prop_map(|(a, m)| NmrpOption::DevIp {
            addr: Ipv4Addr::from(a),
            mask: Ipv4Addr::from(m),
        }),
        any::<u16>().prop_map(|r| NmrpOption::DevRegion(Region(r))),
        Just(NmrpOption::FwUp),
        any::<u32>().prop_map(NmrpOption::StUp),
        bytes(40).prop_map(NmrpOption::FileName),
        // Unknown holds a known type only when the value's size is wrong for it; never
        // MAGIC-NO or FILE-NAME, whose values have any size.
        (any::<u16>(), bytes(12))
            .prop_filter(
                "a known type of the right size parses as itself",
                |(kind, value)| {
                    match *kind {
                        1 | 0x0181 => false,
                        2 => value.len() != 8,
                        4 => value.len() != 2,
                        0x0101 => !value.is_empty(),
                        0x0102 => value.len() != 4,
                        _ => !KNOWN_KINDS.contains(kind),
                    }
                }
            )
            .prop_map(|(kind, value)| NmrpOption::Unknown { kind, value }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(option(), 0..6),
    )
        .prop_map(|(reserved, code, id, options)| Message {
            reserved,
            code: Code(code),
            id,
            options,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn parse_emit_round_trip(message in message(), padding in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut bytes = message.to_bytes();
        prop_assert_eq!(bytes.len(), message.len());
        // Bytes after the length are padding, whatever they hold.
        bytes.extend_from_slice(&padding);
        prop_assert_eq!(Message::parse(&bytes).unwrap(), message);
    }

    #[test]
    fn frame_round_trip(message in message(), dst in any::<[u8; 6]>(), src in any::<[u8; 6]>()) {
        let frame = Frame { dst: Mac(dst), src: Mac(src), message };
        let bytes = frame.to_bytes();
        prop_assert!(bytes.len() >= MIN_FRAME_LEN);
        prop_assert_eq!(Frame::parse(&bytes).unwrap(), frame);
    }

    #[test]
    fn parsing_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        let _ = Message::parse(&bytes);
        let _ = Frame::parse(&bytes);
    }

    #[test]
    fn parsing_mutated_messages_never_panics(
        message in message(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut bytes = message.to_bytes();
        for (at, value) in flips {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        if let Ok(parsed) = Message::parse(&bytes) {
            // Whatever parses, emits to no more than the bytes it came from (padding aside).
            prop_assert!(parsed.len() <= bytes.len());
        }
    }
}

/// A profile's `nmrp.region` is checked against the profile's own list of names (the profile
/// module is the lowest layer and may not import the codec): the two lists must agree.
#[test]
fn the_profile_knows_exactly_the_regions_the_codec_codes() {
    let codec: Vec<&str> = Region::NAMES.iter().map(|(name, _)| *name).collect();
    assert_eq!(codec, rescue_wizard::profile::schema::Nmrp::REGIONS);
}
