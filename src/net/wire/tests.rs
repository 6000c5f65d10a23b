use super::*;

const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x86];
const LAPTOP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x66];
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 86);
const LAPTOP: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 66);

fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(payload);
    // Ethernet's minimum frame: short payloads arrive padded.
    frame.resize(frame.len().max(60), 0);
    frame
}

fn arp(op: u16, sender: (Ipv4Addr, [u8; 6]), target: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0, 1, 8, 0, 6, 4];
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sender.1);
    p.extend_from_slice(&sender.0.octets());
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&target.octets());
    ethernet([0xff; 6], sender.1, 0x0806, &p)
}

fn ipv4(protocol: u8, ttl: u8, from: Ipv4Addr, to: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, ttl, protocol, 0, 0]);
    p.extend_from_slice(&from.octets());
    p.extend_from_slice(&to.octets());
    p.extend_from_slice(payload);
    p
}

fn udp(src: u16, dst: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(data);
    p
}

fn udp_frame(from: Ipv4Addr, to: Ipv4Addr, src: u16, dst: u16, data: &[u8]) -> Vec<u8> {
    let ip = ipv4(17, 64, from, to, &udp(src, dst, data));
    ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ip)
}

fn bootp(op: u8, mac: [u8; 6], options: Option<&[u8]>) -> Vec<u8> {
    let mut p = vec![0u8; BOOTP_FIXED];
    p[0] = op;
    p[1] = 1;
    p[2] = 6;
    p[28..34].copy_from_slice(&mac);
    if let Some(options) = options {
        p.extend_from_slice(&DHCP_COOKIE);
        p.extend_from_slice(options);
    }
    p
}

#[test]
fn arp_request_reply_and_announcement() {
    let who_has = arp(1, (ROUTER, ROUTER_MAC), Ipv4Addr::new(192, 168, 0, 10));
    assert_eq!(
        parse(&who_has),
        Some(WireEvent::Arp {
            op: ArpKind::Request,
            sender_ip: ROUTER,
            sender_mac: Mac(ROUTER_MAC),
            target_ip: Ipv4Addr::new(192, 168, 0, 10),
        })
    );
    assert_eq!(
        parse(&who_has).unwrap().to_string(),
        "arp request: 192.168.0.86 (02:00:00:00:00:86) asks who has 192.168.0.10"
    );
    let reply = arp(2, (LAPTOP, LAPTOP_MAC), ROUTER);
    assert!(matches!(
        parse(&reply),
        Some(WireEvent::Arp { op: ArpKind::Reply, sender_ip, .. }) if sender_ip == LAPTOP
    ));
    let announce = arp(1, (ROUTER, ROUTER_MAC), ROUTER);
    assert!(matches!(
        parse(&announce),
        Some(WireEvent::Arp {
            op: ArpKind::Gratuitous,
            ..
        })
    ));
    // An RFC 5227 probe (sender 0.0.0.0) is a request, not an announcement.
    let probe = arp(
        1,
        (Ipv4Addr::UNSPECIFIED, ROUTER_MAC),
        Ipv4Addr::UNSPECIFIED,
    );
    assert!(matches!(
        parse(&probe),
        Some(WireEvent::Arp {
            op: ArpKind::Request,
            ..
        })
    ));
    // Unknown ARP operations are not events.
    assert_eq!(parse(&arp(9, (ROUTER, ROUTER_MAC), LAPTOP)), None);
}

#[test]
fn icmp_echo_carries_the_ttl() {
    let icmp = [8, 0, 0, 0, 0, 1, 0, 1, b'p', b'i', b'n', b'g'];
    let frame = ethernet(
        LAPTOP_MAC,
        ROUTER_MAC,
        0x0800,
        &ipv4(1, 255, ROUTER, LAPTOP, &icmp),
    );
    let event = parse(&frame).unwrap();
    assert_eq!(
        event,
        WireEvent::Echo {
            op: EchoKind::Request,
            from: ROUTER,
            mac: Mac(ROUTER_MAC),
            to: LAPTOP,
            ttl: 255,
        }
    );
    assert_eq!(event.ttl(), Some(255));
    assert_eq!(
        event.to_string(),
        "icmp echo request: 192.168.0.86 -> 192.168.0.66 ttl 255"
    );
    let reply = [0, 0, 0, 0, 0, 1, 0, 1];
    let frame = ethernet(
        ROUTER_MAC,
        LAPTOP_MAC,
        0x0800,
        &ipv4(1, 64, LAPTOP, ROUTER, &reply),
    );
    assert!(matches!(
        parse(&frame),
        Some(WireEvent::Echo {
            op: EchoKind::Reply,
            ttl: 64,
            ..
        })
    ));
}

#[test]
fn unreachable_quotes_the_original_destination() {
    let original = ipv4(17, 64, LAPTOP, ROUTER, &udp(40000, 69, b"\0\x01a\0octet\0"));
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&original[..28]);
    let frame = ethernet(
        LAPTOP_MAC,
        ROUTER_MAC,
        0x0800,
        &ipv4(1, 64, ROUTER, LAPTOP, &icmp),
    );
    let event = parse(&frame).unwrap();
    assert_eq!(
        event,
        WireEvent::Unreachable {
            code: Unreachable::Port,
            from: ROUTER,
            to: LAPTOP,
            original: Some(Quoted {
                to: ROUTER,
                port: Some(69)
            }),
        }
    );
    assert_eq!(
        event.to_string(),
        "icmp port unreachable: 192.168.0.86 -> 192.168.0.66 for 192.168.0.86:69"
    );
    // Host unreachable with a quote cut before the ports; and with no quote at all.
    let mut icmp = vec![3, 1, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&original[..20]);
    let frame = ethernet(
        LAPTOP_MAC,
        ROUTER_MAC,
        0x0800,
        &ipv4(1, 64, ROUTER, LAPTOP, &icmp),
    );
    assert!(matches!(
        parse(&frame),
        Some(WireEvent::Unreachable {
            code: Unreachable::Host,
            original: Some(Quoted { port: None, .. }),
            ..
        })
    ));
    let icmp = [3, 13, 0, 0, 0, 0, 0, 0];
    let frame = ethernet(
        LAPTOP_MAC,
        ROUTER_MAC,
        0x0800,
        &ipv4(1, 64, ROUTER, LAPTOP, &icmp),
    );
    assert!(matches!(
        parse(&frame),
        Some(WireEvent::Unreachable {
            code: Unreachable::Other(13),
            original: None,
            ..
        })
    ));
}

#[test]
fn dhcp_discover_request_and_plain_bootp() {
    let any = Ipv4Addr::UNSPECIFIED;
    let all = Ipv4Addr::BROADCAST;
    let discover = bootp(1, ROUTER_MAC, Some(&[0, 12, 2, b'h', b'i', 53, 1, 1, 255]));
    assert_eq!(
        parse(&udp_frame(any, all, 68, 67, &discover)),
        Some(WireEvent::Dhcp {
            op: DhcpKind::Discover,
            client_mac: Mac(ROUTER_MAC)
        })
    );
    let request = bootp(1, ROUTER_MAC, Some(&[53, 1, 3, 255]));
    let event = parse(&udp_frame(any, all, 68, 67, &request)).unwrap();
    assert_eq!(
        event.to_string(),
        "dhcp request: 02:00:00:00:00:86 wants an address"
    );
    let plain = bootp(1, ROUTER_MAC, None);
    assert!(matches!(
        parse(&udp_frame(any, all, 68, 67, &plain)),
        Some(WireEvent::Dhcp {
            op: DhcpKind::Bootp,
            ..
        })
    ));
    // An option list that lies about its length is BOOTP without a type, not a panic.
    let lying = bootp(1, ROUTER_MAC, Some(&[53, 9, 1]));
    assert!(matches!(
        parse(&udp_frame(any, all, 68, 67, &lying)),
        Some(WireEvent::Dhcp {
            op: DhcpKind::Bootp,
            ..
        })
    ));
    // A server's reply (op 2) is not a device asking.
    let reply = bootp(2, ROUTER_MAC, Some(&[53, 1, 2, 255]));
    assert_eq!(parse(&udp_frame(LAPTOP, all, 67, 68, &reply)), None);
}

#[test]
fn rescue_wizards_own_probe_is_no_device_asking() {
    let any = Ipv4Addr::UNSPECIFIED;
    let all = Ipv4Addr::BROADCAST;
    let mut probe = vec![53, 1, 1, 60, 19];
    probe.extend_from_slice(PROBE_VENDOR_CLASS.as_bytes());
    probe.push(255);
    let ours = bootp(1, LAPTOP_MAC, Some(&probe));
    assert_eq!(parse(&udp_frame(any, all, 68, 67, &ours)), None);
    // A router's DISCOVER with a vendor class of its own is still one asking.
    let router = bootp(
        1,
        ROUTER_MAC,
        Some(&[
            53, 1, 1, 60, 9, b'M', b'i', b'p', b's', b'_', b'b', b'o', b'o', b't', 255,
        ]),
    );
    assert_eq!(
        parse(&udp_frame(any, all, 68, 67, &router)),
        Some(WireEvent::Dhcp {
            op: DhcpKind::Discover,
            client_mac: Mac(ROUTER_MAC)
        })
    );
}

#[test]
fn tftp_requests_to_any_address() {
    let elsewhere = Ipv4Addr::new(192, 168, 0, 10);
    let frame = udp_frame(ROUTER, elsewhere, 1234, 69, b"\0\x01C0A80056.img\0octet\0");
    let event = parse(&frame).unwrap();
    assert_eq!(
        event,
        WireEvent::Tftp {
            op: TftpKind::Read,
            file: "C0A80056.img".into(),
            from: SocketAddrV4::new(ROUTER, 1234),
            mac: Mac(ROUTER_MAC),
            to: elsewhere,
            ttl: 64,
        }
    );
    assert_eq!(
        event.to_string(),
        "tftp read request: 192.168.0.86:1234 asks 192.168.0.10 for \"C0A80056.img\" ttl 64"
    );
    let frame = udp_frame(ROUTER, LAPTOP, 1234, 69, b"\0\x02up.bin\0octet\0");
    assert!(matches!(
        parse(&frame),
        Some(WireEvent::Tftp {
            op: TftpKind::Write,
            ..
        })
    ));
    // Not requests: DATA to port 69, an unterminated name.
    assert_eq!(
        parse(&udp_frame(ROUTER, LAPTOP, 1234, 69, b"\0\x03\0\x01x")),
        None
    );
    assert_eq!(
        parse(&udp_frame(ROUTER, LAPTOP, 1234, 69, b"\0\x01abc")),
        None
    );
}

#[test]
fn failsafe_broadcast() {
    let frame = udp_frame(
        ROUTER,
        Ipv4Addr::new(192, 168, 1, 255),
        4919,
        4919,
        b"Press reset now, to enter Failsafe!\n",
    );
    let event = parse(&frame).unwrap();
    assert_eq!(
        event,
        WireEvent::Failsafe {
            from: ROUTER,
            mac: Mac(ROUTER_MAC),
            message: "Press reset now, to enter Failsafe!".into(),
        }
    );
}

#[test]
fn other_traffic_and_broken_headers_are_not_events() {
    // Another ethertype, another UDP port, a TCP segment.
    assert_eq!(
        parse(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x86dd, &[0; 60])),
        None
    );
    assert_eq!(parse(&udp_frame(ROUTER, LAPTOP, 1234, 53, b"dns")), None);
    let tcp = ethernet(
        LAPTOP_MAC,
        ROUTER_MAC,
        0x0800,
        &ipv4(6, 64, ROUTER, LAPTOP, &[0; 20]),
    );
    assert_eq!(parse(&tcp), None);
    // An IP header length below 5 words, a total length beyond the frame, a later fragment.
    let mut ip = ipv4(1, 64, ROUTER, LAPTOP, &[8, 0, 0, 0, 0, 0, 0, 0]);
    ip[0] = 0x43;
    assert_eq!(parse(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ip)), None);
    let mut ip = ipv4(1, 64, ROUTER, LAPTOP, &[8, 0, 0, 0, 0, 0, 0, 0]);
    ip[2..4].copy_from_slice(&500u16.to_be_bytes());
    assert_eq!(parse(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ip)), None);
    let mut ip = ipv4(17, 64, ROUTER, LAPTOP, &udp(1, 69, b"\0\x01a\0octet\0"));
    ip[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
    assert_eq!(parse(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ip)), None);
    // Truncated frames of every length.
    let frame = udp_frame(ROUTER, LAPTOP, 1234, 69, b"\0\x01file\0octet\0");
    for len in 0..frame.len() {
        let _ = parse(&frame[..len]);
    }
}

/// Runs a classic BPF program the way the kernel does, for the instructions it uses.
fn run_filter(program: &[BpfInstruction], frame: &[u8]) -> u32 {
    let byte = |at: usize| frame.get(at).copied();
    let half = |at: usize| Some(u16::from_be_bytes([byte(at)?, byte(at + 1)?]));
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    loop {
        let (code, jt, jf, k) = program[pc];
        let jump = |taken: bool| pc + 1 + usize::from(if taken { jt } else { jf });
        pc = match code {
            LD_H_ABS => match half(k as usize) {
                Some(v) => {
                    a = u32::from(v);
                    pc + 1
                }
                None => return 0,
            },
            LD_B_ABS => match byte(k as usize) {
                Some(v) => {
                    a = u32::from(v);
                    pc + 1
                }
                None => return 0,
            },
            LD_H_IND => match half((x + k) as usize) {
                Some(v) => {
                    a = u32::from(v);
                    pc + 1
                }
                None => return 0,
            },
            LDX_B_MSH => match byte(k as usize) {
                Some(v) => {
                    x = u32::from(v & 0xf) * 4;
                    pc + 1
                }
                None => return 0,
            },
            JEQ_K => jump(a == k),
            JSET_K => jump(a & k != 0),
            RET_K => return k,
            other => panic!("opcode {other:#x} not modelled"),
        };
    }
}

#[test]
fn the_kernel_filter_keeps_exactly_the_watched_traffic() {
    let keep = |frame: &[u8]| run_filter(&CAPTURE_FILTER, frame) != 0;
    assert!(keep(&arp(1, (ROUTER, ROUTER_MAC), LAPTOP)));
    let ping = ipv4(1, 64, ROUTER, LAPTOP, &[8, 0, 0, 0, 0, 1, 0, 1]);
    assert!(keep(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ping)));
    for port in [67, 68, 69, 4919] {
        assert!(keep(&udp_frame(ROUTER, LAPTOP, 1234, port, b"x")), "{port}");
    }
    // TFTP data between ephemeral ports, DNS, TCP, IPv6, later fragments: dropped.
    assert!(!keep(&udp_frame(ROUTER, LAPTOP, 50000, 50001, &[0; 516])));
    assert!(!keep(&udp_frame(ROUTER, LAPTOP, 1234, 53, b"x")));
    let tcp = ipv4(6, 64, ROUTER, LAPTOP, &[0; 20]);
    assert!(!keep(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &tcp)));
    assert!(!keep(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x86dd, &[0; 60])));
    let mut ip = ipv4(17, 64, ROUTER, LAPTOP, &udp(1, 69, b"x"));
    ip[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
    assert!(!keep(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ip)));
    // An IP header with options moves the ports; the filter follows.
    let mut ip = ipv4(17, 64, ROUTER, LAPTOP, &[]);
    ip[0] = 0x46;
    ip.extend_from_slice(&[1, 1, 1, 0]);
    ip.extend_from_slice(&udp(1, 69, b"x"));
    assert!(keep(&ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ip)));
    // Everything the parser turns into an event passes the filter.
    assert!(keep(&udp_frame(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        68,
        67,
        &bootp(1, ROUTER_MAC, Some(&[53, 1, 1, 255]))
    )));
}

proptest::proptest! {
    #[test]
    fn parse_never_panics_on_random_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = parse(&bytes);
        let _ = run_filter(&CAPTURE_FILTER, &bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_frames(
        which in 0usize..5,
        flips in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 1..8),
        cut in 0usize..400,
    ) {
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&ipv4(17, 64, LAPTOP, ROUTER, &udp(1, 69, b"12345678")));
        let frames = [
            arp(1, (ROUTER, ROUTER_MAC), LAPTOP),
            ethernet(LAPTOP_MAC, ROUTER_MAC, 0x0800, &ipv4(1, 64, ROUTER, LAPTOP, &icmp)),
            udp_frame(ROUTER, LAPTOP, 68, 67, &bootp(1, ROUTER_MAC, Some(&[53, 1, 1, 255]))),
            udp_frame(ROUTER, LAPTOP, 1, 69, b"\0\x01file\0octet\0"),
            udp_frame(ROUTER, LAPTOP, 1, 4919, b"press"),
        ];
        let mut frame = frames[which].clone();
        for (at, value) in flips {
            let len = frame.len();
            frame[at % len] = value;
        }
        frame.truncate(cut.max(1));
        let _ = parse(&frame);
    }
}
