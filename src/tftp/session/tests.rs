use super::*;

mod timer;

fn agreed(blksize: u16, windowsize: u16) -> Agreed {
    Agreed {
        blksize,
        windowsize,
        ..Agreed::default()
    }
}

/// A sender over `data` and the datagrams it sent first.
fn sender(
    data: Arc<[u8]>,
    agreed: Agreed,
    opening: Opening,
    timing: Timing,
    now: Instant,
) -> (Vec<Vec<u8>>, Sender) {
    let mut out = Vec::new();
    let sender = Sender::start(
        data,
        &agreed,
        RolloverTo::Zero,
        opening,
        timing,
        now,
        &mut out,
    );
    (out, sender)
}

fn parse(bytes: &[u8]) -> Packet<'_> {
    Packet::parse(bytes).unwrap()
}

fn data_blocks(out: &[Vec<u8>]) -> Vec<(u16, usize)> {
    out.iter()
        .filter_map(|d| match parse(d) {
            Packet::Data { block, data } => Some((block, data.len())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_heeding_sender_ends_with_the_peers_plain_text_answer() {
    let now = Instant::now();
    let data: Arc<[u8]> = vec![7u8; 1000].into();
    let (_, mut heeding) = sender(
        Arc::clone(&data),
        agreed(512, 1),
        Opening::Confirmed,
        Timing::default(),
        now,
    );
    heeding.heed_plain_text();
    // A TFTP packet is never words: its first byte is an opcode's high byte, zero.
    assert!(!heeding.on_plain_text(&[0, 4, 0, 1]));
    assert_eq!(*heeding.status(), Status::Running);
    assert!(heeding.on_plain_text(b"Checksum error!\r\n\0\0\0padding"));
    assert_eq!(
        heeding
            .status()
            .failure()
            .map(ToString::to_string)
            .as_deref(),
        Some("the router said: \"Checksum error!\"")
    );
    assert_eq!(heeding.peer_said(), Some("Checksum error!"));
    assert_eq!(heeding.deadline(), None);
    // Once over, nothing more is taken.
    assert!(!heeding.on_plain_text(b"again"));
    assert_eq!(heeding.peer_said(), Some("Checksum error!"));

    let (_, mut deaf) = sender(
        data,
        agreed(512, 1),
        Opening::Confirmed,
        Timing::default(),
        now,
    );
    assert!(!deaf.on_plain_text(b"Checksum error"));
    assert_eq!(*deaf.status(), Status::Running);
    assert_eq!(deaf.peer_said(), None);
}

#[test]
fn rollover_maps_both_ways() {
    assert_eq!(RolloverTo::Zero.wire(65_535), 65_535);
    assert_eq!(RolloverTo::Zero.wire(65_536), 0);
    assert_eq!(RolloverTo::Zero.wire(65_537), 1);
    assert_eq!(RolloverTo::One.wire(65_536), 1);
    assert_eq!(RolloverTo::One.wire(0), 0);
    assert_eq!(RolloverTo::Zero.nearest(0, 65_535), 65_536);
    assert_eq!(RolloverTo::Zero.nearest(65_535, 65_536), 65_535);
    assert_eq!(RolloverTo::Zero.nearest(3, 131_070), 131_075);
    assert_eq!(RolloverTo::One.nearest(1, 65_535), 65_536);
    assert_eq!(RolloverTo::One.nearest(65_535, 65_536), 65_535);
    assert_eq!(RolloverTo::One.nearest(0, 0), 0);
    assert_eq!(RolloverTo::One.nearest(1, 0), 1);
    assert_eq!(RolloverTo::Zero.nearest(0, 0), 0);
}

/// The default timing without the repeats that learn the peer's habit
/// ([`Timing::learn_next_block`]), for cases about the plain block sequence.
fn lock_step() -> Timing {
    Timing {
        learn_next_block: false,
        ..Timing::default()
    }
}

#[test]
fn lock_step_1300_bytes() {
    // Case 1: 512, 512, 276, each only after the previous ACK.
    let now = Instant::now();
    let data: Arc<[u8]> = vec![7u8; 1300].into();
    let (mut out, mut s) = sender(data, agreed(512, 1), Opening::Data, lock_step(), now);
    assert_eq!(data_blocks(&out), vec![(1, 512)]);
    out.clear();
    s.on_packet(&Packet::Ack { block: 1 }, now, &mut out);
    assert_eq!(data_blocks(&out), vec![(2, 512)]);
    out.clear();
    s.on_packet(&Packet::Ack { block: 2 }, now, &mut out);
    assert_eq!(data_blocks(&out), vec![(3, 276)]);
    out.clear();
    s.on_packet(&Packet::Ack { block: 3 }, now, &mut out);
    assert!(out.is_empty());
    assert_eq!(*s.status(), Status::Complete);
    assert_eq!(s.deadline(), None);
}

#[test]
fn exact_multiple_ends_with_an_empty_block() {
    // Cases 2 and 3.
    let now = Instant::now();
    let (mut out, mut s) = sender(
        vec![1u8; 1024].into(),
        agreed(512, 1),
        Opening::Data,
        lock_step(),
        now,
    );
    for block in 1..=2 {
        out.clear();
        s.on_packet(&Packet::Ack { block }, now, &mut out);
    }
    assert_eq!(data_blocks(&out), vec![(3, 0)]);
    let (out, s) = sender(
        Vec::new().into(),
        agreed(512, 1),
        Opening::Data,
        Timing::default(),
        now,
    );
    assert_eq!(data_blocks(&out), vec![(1, 0)]);
    assert_eq!(s.total(), 0);
}

#[test]
fn oack_waits_for_ack_zero() {
    let now = Instant::now();
    let mut out = Vec::new();
    let oack = b"\x00\x06blksize\x001024\x00".to_vec();
    let mut s = Sender::start(
        vec![0u8; 3000].into(),
        &agreed(1024, 1),
        RolloverTo::Zero,
        Opening::Oack(oack.clone()),
        Timing::default(),
        now,
        &mut out,
    );
    assert_eq!(out, vec![oack]);
    out.clear();
    s.on_packet(&Packet::Ack { block: 1 }, now, &mut out);
    assert!(out.is_empty(), "no DATA before ACK 0");
    s.on_packet(&Packet::Ack { block: 0 }, now, &mut out);
    assert_eq!(data_blocks(&out), vec![(1, 1024)]);
}

#[test]
fn error_8_after_oack_ends_quietly() {
    // Case 15.
    let now = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 10].into(),
        agreed(8, 1),
        Opening::Oack(b"\x00\x06blksize\x008\x00".to_vec()),
        Timing::default(),
        now,
    );
    out.clear();
    s.on_packet(
        &Packet::Error {
            code: ErrorCode::OPTION_NEGOTIATION,
            message: String::new(),
        },
        now,
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(*s.status(), Status::OptionsRefused);
}

#[test]
fn duplicate_ack_sends_nothing_but_timeout_resends() {
    // Case 18.
    let t0 = Instant::now();
    let timing = Timing {
        resend_next_block: false,
        ..Timing::default()
    };
    let (mut out, mut s) = sender(
        vec![0u8; 2000].into(),
        agreed(512, 1),
        Opening::Data,
        timing,
        t0,
    );
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    out.clear();
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.stats().duplicate_acks, 2);
    let deadline = s.deadline().unwrap();
    s.on_timer(deadline, &mut out);
    assert_eq!(data_blocks(&out), vec![(2, 512)]);
}

#[test]
fn resend_carries_the_next_block() {
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 2000].into(),
        agreed(512, 1),
        Opening::Data,
        Timing {
            resend_next_block: true,
            ..Timing::default()
        },
        t0,
    );
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    out.clear();
    s.on_timer(s.deadline().unwrap(), &mut out);
    assert_eq!(data_blocks(&out), vec![(2, 512), (3, 512)]);
    // The peer held block 2; it ACKs block 3 and the transfer moves on.
    out.clear();
    s.on_packet(&Packet::Ack { block: 3 }, t0, &mut out);
    assert_eq!(data_blocks(&out), vec![(4, 464)]);
}

#[test]
fn future_and_stale_acks_are_ignored() {
    // Case 45.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 5000].into(),
        agreed(512, 1),
        Opening::Data,
        Timing::default(),
        t0,
    );
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    s.on_packet(&Packet::Ack { block: 2 }, t0, &mut out);
    out.clear();
    s.on_packet(&Packet::Ack { block: 7 }, t0, &mut out);
    s.on_packet(&Packet::Ack { block: 0 }, t0, &mut out);
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.bytes_done(), 1024);
}

#[test]
fn data_on_a_read_transfer_is_an_error() {
    // Case 46.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 5000].into(),
        agreed(512, 1),
        Opening::Data,
        Timing::default(),
        t0,
    );
    out.clear();
    s.on_packet(
        &Packet::Data {
            block: 1,
            data: b"x",
        },
        t0,
        &mut out,
    );
    assert!(matches!(
        parse(&out[0]),
        Packet::Error {
            code: ErrorCode::ILLEGAL_OPERATION,
            ..
        }
    ));
    assert!(matches!(s.status(), Status::Failed(_)));
}

#[test]
fn window_restarts_once_per_gap() {
    // Case 20: windowsize 8, block 3 lost, ACK 2 arrives three times.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 40 * 512].into(),
        agreed(512, 8),
        Opening::Confirmed,
        Timing::default(),
        t0,
    );
    assert_eq!(data_blocks(&out).len(), 8);
    out.clear();
    s.on_packet(&Packet::Ack { block: 2 }, t0, &mut out);
    assert_eq!(
        data_blocks(&out).iter().map(|b| b.0).collect::<Vec<_>>(),
        (3..=10).collect::<Vec<_>>()
    );
    out.clear();
    s.on_packet(&Packet::Ack { block: 2 }, t0, &mut out);
    s.on_packet(&Packet::Ack { block: 2 }, t0, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.stats().window_restarts, 1);
}

#[test]
fn window_timeout_restarts_after_last_ack() {
    // Case 21.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 20 * 512 + 5].into(),
        agreed(512, 8),
        Opening::Confirmed,
        Timing::default(),
        t0,
    );
    s.on_packet(&Packet::Ack { block: 8 }, t0, &mut out);
    out.clear();
    s.on_timer(s.deadline().unwrap(), &mut out);
    assert_eq!(
        data_blocks(&out).iter().map(|b| b.0).collect::<Vec<_>>(),
        (9..=16).collect::<Vec<_>>()
    );
    s.on_packet(&Packet::Ack { block: 16 }, t0, &mut out);
    out.clear();
    s.on_packet(&Packet::Ack { block: 21 }, t0, &mut out);
    assert_eq!(*s.status(), Status::Complete);
}

#[test]
fn first_response_is_sent_at_most_six_times() {
    // Case 51: the amplification guard.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 100_000].into(),
        agreed(1468, 1),
        Opening::Data,
        Timing::default(),
        t0,
    );
    let mut now = t0;
    while let Some(deadline) = s.deadline() {
        now = deadline;
        s.on_timer(now, &mut out);
    }
    assert_eq!(out.len(), 6);
    assert!(out.iter().map(Vec::len).sum::<usize>() <= 6 * (1468 + 4));
    assert!(matches!(s.status(), Status::Failed(_)));
    assert!(now - t0 < Duration::from_mins(1));
}

#[test]
fn vanished_peer_gives_up_within_the_silence_limit() {
    // Case 57.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 1_000_000].into(),
        agreed(512, 1),
        Opening::Data,
        Timing::default(),
        t0,
    );
    for block in 1..=100 {
        s.on_packet(&Packet::Ack { block }, t0, &mut out);
    }
    out.clear();
    let mut now = t0;
    while let Some(deadline) = s.deadline() {
        now = deadline;
        s.on_timer(now, &mut out);
    }
    assert!(matches!(s.status(), Status::Failed(_)));
    let waited = now - t0;
    assert!(
        waited >= Duration::from_mins(1) && waited < Duration::from_secs(66),
        "{waited:?}"
    );
    assert!(out.len() < 100, "bounded resends, got {}", out.len());
}

#[test]
fn resends_stay_ahead_of_the_clients_own_timer() {
    // A client that asked `timeout 5` resends its last ACK every 5 s and gives up after
    // ten; backing off, ours never waits more than half of that.
    let t0 = Instant::now();
    let agreed = Agreed {
        timeout: Some(Duration::from_secs(5)),
        ..agreed(512, 1)
    };
    let (mut out, mut s) = sender(
        vec![0u8; 100_000].into(),
        agreed,
        Opening::Data,
        Timing::default(),
        t0,
    );
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    let mut last = t0;
    let mut longest = Duration::ZERO;
    while let Some(deadline) = s.deadline() {
        longest = longest.max(deadline - last);
        last = deadline;
        s.on_timer(deadline, &mut out);
    }
    assert!(longest <= Duration::from_millis(2500), "{longest:?}");
    assert!(
        longest >= Duration::from_secs(2),
        "it does back off: {longest:?}"
    );
}

#[test]
fn missing_final_ack_is_unconfirmed() {
    // Case 73.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 1000].into(),
        agreed(512, 1),
        Opening::Data,
        Timing::default(),
        t0,
    );
    s.on_packet(&Packet::Ack { block: 1 }, t0, &mut out);
    let mut now = t0;
    while let Some(deadline) = s.deadline() {
        now = deadline;
        s.on_timer(now, &mut out);
    }
    assert_eq!(*s.status(), Status::Unconfirmed);
    assert!(now - t0 < Duration::from_secs(10));
}

#[test]
fn receiver_acks_and_dallies() {
    // Cases 19 and 25.
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut r = Receiver::start(
        &agreed(512, 1),
        RolloverTo::Zero,
        Some(ack_datagram(0)),
        None,
        Timing::default(),
        t0,
        &mut out,
    );
    assert_eq!(out, vec![ack_datagram(0)]);
    out.clear();
    let block = vec![9u8; 512];
    assert_eq!(
        r.on_packet(
            &Packet::Data {
                block: 1,
                data: &block
            },
            t0,
            &mut out
        ),
        Some(&block[..])
    );
    assert_eq!(out, vec![ack_datagram(1)]);
    out.clear();
    // A repeat of block 1: one re-ACK, then silence.
    assert_eq!(
        r.on_packet(
            &Packet::Data {
                block: 1,
                data: &block
            },
            t0,
            &mut out
        ),
        None
    );
    assert_eq!(
        r.on_packet(
            &Packet::Data {
                block: 1,
                data: &block
            },
            t0,
            &mut out
        ),
        None
    );
    assert_eq!(out, vec![ack_datagram(1)]);
    out.clear();
    // A future block (windowsize 1) is not ACKed (case 30).
    assert_eq!(
        r.on_packet(
            &Packet::Data {
                block: 5,
                data: &block
            },
            t0,
            &mut out
        ),
        None
    );
    assert!(out.is_empty());
    assert_eq!(
        r.on_packet(
            &Packet::Data {
                block: 2,
                data: b"end"
            },
            t0,
            &mut out
        ),
        Some(&b"end"[..])
    );
    assert_eq!(*r.status(), Status::Complete);
    out.clear();
    // Dallying: the final DATA repeated gets its ACK again.
    r.on_packet(
        &Packet::Data {
            block: 2,
            data: b"end",
        },
        t0,
        &mut out,
    );
    assert_eq!(out, vec![ack_datagram(2)]);
    assert_eq!(r.deadline(), Some(t0 + Timing::default().dally));
    r.on_timer(t0 + Timing::default().dally, &mut out);
    assert_eq!(r.deadline(), None);
    assert_eq!(r.bytes_done(), 515);
}

#[test]
fn receiver_window_acks_once_per_window_and_once_per_gap() {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut r = Receiver::start(
        &agreed(8, 4),
        RolloverTo::Zero,
        None,
        None,
        Timing::default(),
        t0,
        &mut out,
    );
    let block = [0u8; 8];
    for b in 1..=3 {
        r.on_packet(
            &Packet::Data {
                block: b,
                data: &block,
            },
            t0,
            &mut out,
        );
    }
    assert!(out.is_empty());
    r.on_packet(
        &Packet::Data {
            block: 4,
            data: &block,
        },
        t0,
        &mut out,
    );
    assert_eq!(out, vec![ack_datagram(4)]);
    out.clear();
    // Block 5 lost: 6, 7, 8 arrive; one gap ACK.
    for b in 6..=8 {
        r.on_packet(
            &Packet::Data {
                block: b,
                data: &block,
            },
            t0,
            &mut out,
        );
    }
    assert_eq!(out, vec![ack_datagram(4)]);
}

#[test]
fn receiver_refuses_oversized_blocks_and_enforces_the_limit() {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut r = Receiver::start(
        &agreed(8, 1),
        RolloverTo::Zero,
        None,
        None,
        Timing::default(),
        t0,
        &mut out,
    );
    r.on_packet(
        &Packet::Data {
            block: 1,
            data: &[0u8; 512],
        },
        t0,
        &mut out,
    );
    assert!(matches!(r.status(), Status::Failed(_)));
    assert!(matches!(
        parse(&out[0]),
        Packet::Error {
            code: ErrorCode::ILLEGAL_OPERATION,
            ..
        }
    ));
    let mut out = Vec::new();
    let mut r = Receiver::start(
        &agreed(8, 1),
        RolloverTo::Zero,
        None,
        Some(10),
        Timing::default(),
        t0,
        &mut out,
    );
    r.on_packet(
        &Packet::Data {
            block: 1,
            data: &[0u8; 8],
        },
        t0,
        &mut out,
    );
    r.on_packet(
        &Packet::Data {
            block: 2,
            data: &[0u8; 8],
        },
        t0,
        &mut out,
    );
    assert!(matches!(r.status(), Status::Failed(_)));
    assert!(matches!(
        parse(out.last().unwrap()),
        Packet::Error {
            code: ErrorCode::DISK_FULL,
            ..
        }
    ));
}

mod uboot_1_1;
