//! The retransmission timer against a peer that pauses and a link that loses: fed time, no
//! sockets. A loaded emulator stops answering for tens of ms while its round trip is tens of
//! µs; the timer must wait that out, and still repair a real loss quickly.

use super::*;

/// A U-Boot-like round trip on an emulated board.
const RTT: Duration = Duration::from_micros(50);

/// 200 blocks (the last one short), lock-step, DATA 1 sent at `t0`.
fn lock_step_sender(timing: Timing, t0: Instant) -> Sender {
    sender(
        vec![0u8; 200 * 512 - 1].into(),
        agreed(512, 1),
        Opening::Data,
        timing,
        t0,
    )
    .1
}

/// The peer acknowledges blocks `from..=to`, each one round trip after the last.
fn ack_steadily(s: &mut Sender, now: &mut Instant, from: u16, to: u16) {
    let mut out = Vec::new();
    for block in from..=to {
        *now += RTT;
        s.on_timer(*now, &mut out);
        s.on_packet(&Packet::Ack { block }, *now, &mut out);
    }
}

/// Lets time pass until `until`, firing every deadline on the way; returns the DATA sent.
fn wait_until(s: &mut Sender, now: &mut Instant, until: Instant) -> Vec<(u16, usize)> {
    let mut out = Vec::new();
    while let Some(deadline) = s.deadline() {
        if deadline > until {
            break;
        }
        *now = deadline;
        s.on_timer(*now, &mut out);
    }
    *now = until;
    data_blocks(&out)
}

/// Block 51's ACK comes `pause` late, the 50 blocks before it were answered at once.
fn pause_before_ack_51(timing: Timing, pause: Duration) -> (Sender, Instant, Vec<(u16, usize)>) {
    let t0 = Instant::now();
    let mut s = lock_step_sender(timing, t0);
    let mut now = t0;
    ack_steadily(&mut s, &mut now, 1, 50);
    let answer = now + pause;
    let resent = wait_until(&mut s, &mut now, answer);
    (s, now, resent)
}

#[test]
fn a_peer_that_pauses_150_ms_gets_no_resend() {
    let (mut s, mut now, resent) = pause_before_ack_51(lock_step(), Duration::from_millis(150));
    assert_eq!(resent, vec![], "{:?}", s.stats());
    assert_eq!(s.stats().timeouts, 0);
    s.on_packet(&Packet::Ack { block: 51 }, now, &mut Vec::new());
    ack_steadily(&mut s, &mut now, 52, 200);
    assert_eq!(*s.status(), Status::Complete);
    assert_eq!(s.stats().data_resent, 0);
    // The same pause with a floor at the old 10 ms: a timer that follows the 50 µs round
    // trip alone resends into it.
    let eager = Timing {
        pause_floor: Duration::from_millis(10),
        ..lock_step()
    };
    let (s, _, resent) = pause_before_ack_51(eager, Duration::from_millis(150));
    assert!(!resent.is_empty(), "{:?}", s.stats());
}

#[test]
fn a_lost_ack_is_repaired_within_the_floor_and_real_losses_lower_it() {
    let t0 = Instant::now();
    let mut s = lock_step_sender(lock_step(), t0);
    let mut now = t0;
    ack_steadily(&mut s, &mut now, 1, 20);
    let mut waits = Vec::new();
    for lost in (21..=90).step_by(10) {
        // The ACK of `lost` never arrives; the resend is answered once.
        let sent = now;
        let deadline = s.deadline().unwrap();
        waits.push(deadline - sent);
        now = deadline;
        let mut out = Vec::new();
        s.on_timer(now, &mut out);
        assert_eq!(data_blocks(&out), vec![(lost, 512)], "block {lost}");
        ack_steadily(&mut s, &mut now, lost, lost + 9);
    }
    assert_eq!(s.stats().early_resends, 0);
    assert_eq!(s.stats().data_resent, 7);
    // The first loss is waited out for the starting floor, each proven loss halves it, and
    // it settles at the lowest floor.
    assert_eq!(waits[0], Duration::from_millis(250), "{waits:?}");
    assert!(waits.windows(2).all(|w| w[1] <= w[0]), "{waits:?}");
    assert_eq!(
        *waits.last().unwrap(),
        Duration::from_millis(10),
        "{waits:?}"
    );
}

#[test]
fn a_resend_answered_twice_raises_the_floor() {
    // The peer stops for 400 ms: the timer fires at 250 ms; the peer then answers the first
    // copy and the resend, so the next pause as long is waited out.
    let (mut s, mut now, resent) = pause_before_ack_51(lock_step(), Duration::from_millis(400));
    assert_eq!(resent, vec![(51, 512)]);
    let mut out = Vec::new();
    s.on_packet(&Packet::Ack { block: 51 }, now, &mut out);
    s.on_packet(&Packet::Ack { block: 51 }, now, &mut out);
    // RFC 1350's Sorcerer's Apprentice: the duplicate sends nothing.
    assert_eq!(data_blocks(&out), vec![(52, 512)]);
    ack_steadily(&mut s, &mut now, 52, 60);
    assert_eq!(s.stats().early_resends, 1);
    let answer = now + Duration::from_millis(400);
    assert_eq!(wait_until(&mut s, &mut now, answer), vec![]);
    s.on_packet(&Packet::Ack { block: 61 }, now, &mut out);
    ack_steadily(&mut s, &mut now, 62, 200);
    assert_eq!(*s.status(), Status::Complete);
    assert_eq!(s.stats().data_resent, 1);
}

#[test]
fn the_answer_to_a_learning_repeat_is_not_taken_for_a_late_one() {
    // With the default timing the sender repeats acknowledged blocks to learn whether the
    // peer answers repeats. A lost ACK's resend, answered once, is followed by such a
    // repeat and its duplicate ACK: a real loss still, not an early timer.
    let t0 = Instant::now();
    let (mut out, mut s) = sender(
        vec![0u8; 200 * 512 - 1].into(),
        agreed(512, 1),
        Opening::Data,
        Timing::default(),
        t0,
    );
    let mut now = t0;
    s.on_packet(&Packet::Ack { block: 1 }, now, &mut out);
    // ACK 2 is lost.
    now = s.deadline().unwrap();
    out.clear();
    s.on_timer(now, &mut out);
    assert_eq!(data_blocks(&out), vec![(2, 512)]);
    out.clear();
    now += RTT;
    s.on_packet(&Packet::Ack { block: 2 }, now, &mut out);
    // The repeat of block 2 goes before block 3.
    assert_eq!(data_blocks(&out), vec![(2, 512), (3, 512)]);
    s.on_packet(&Packet::Ack { block: 2 }, now, &mut out);
    s.on_packet(&Packet::Ack { block: 3 }, now, &mut out);
    assert_eq!(s.stats().early_resends, 0);
    assert_eq!(s.stats().probes, 3);
}

#[test]
fn the_floor_never_passes_the_ceiling_nor_the_lowest_floor() {
    // A client that asked `timeout 1` (RFC 2349) is resent to within 1 s whatever pauses
    // raised the floor to.
    let t0 = Instant::now();
    let asked = Agreed {
        timeout: Some(Duration::from_secs(1)),
        ..agreed(512, 1)
    };
    let (mut out, mut s) = sender(
        vec![0u8; 200 * 512 - 1].into(),
        asked,
        Opening::Data,
        lock_step(),
        t0,
    );
    let mut now = t0;
    for block in 1..=40 {
        let sent = now;
        // Every fourth ACK comes 2 s late, after the resend, and then again for the resend.
        if block % 4 == 0 {
            let resent = wait_until(&mut s, &mut now, sent + Duration::from_secs(2));
            assert!(!resent.is_empty());
            s.on_packet(&Packet::Ack { block }, now, &mut out);
            s.on_packet(&Packet::Ack { block }, now, &mut out);
        } else {
            now += RTT;
            s.on_packet(&Packet::Ack { block }, now, &mut out);
        }
        if let Some(deadline) = s.deadline() {
            assert!(deadline - now <= Duration::from_secs(1), "block {block}");
        }
    }
    assert!(s.stats().early_resends >= 5, "{:?}", s.stats());
    // A timing whose lowest floor is above the starting one (a fixed 1 s timer) keeps it
    // after proven losses.
    let fixed = Timing {
        min_rto: Duration::from_secs(1),
        ..lock_step()
    };
    let mut s = lock_step_sender(fixed, t0);
    let mut now = t0;
    ack_steadily(&mut s, &mut now, 1, 5);
    for lost in 6..=10 {
        let deadline = s.deadline().unwrap();
        assert_eq!(deadline - now, Duration::from_secs(1), "block {lost}");
        now = deadline;
        s.on_timer(now, &mut out);
        ack_steadily(&mut s, &mut now, lost, lost);
    }
    assert_eq!(s.stats().data_resent, 5);
}
