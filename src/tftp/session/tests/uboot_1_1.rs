//! The server's [`Sender`] under [`NextBlock::Never`], the policy of a profile saying
//! `next_block_on_resend: false`: what U-Boot 1.1.x needs, as it stores any block other than
//! the last one unchecked (`net/tftp.c` of U-Boot 1.1.x: "Same block again; ignore it").

use super::*;

/// A sender over 8 blocks of 512 bytes following `next_block`, driven by a peer that
/// acknowledges every DATA it is sent, repeats included (as mainline U-Boot does, or as a
/// network duplicating ACKs looks), for the first `answered` blocks; then the peer's ACKs are
/// lost and the sender's timer runs out once. Returns every DATA block sent, in order, and
/// the sender.
fn acked_then_lost(next_block: NextBlock, answered: u16) -> (Vec<u16>, Sender) {
    let t0 = Instant::now();
    let mut timing = Timing::default();
    next_block.apply(&mut timing);
    let (mut out, mut s) = sender(
        vec![0u8; 8 * 512].into(),
        agreed(512, 1),
        Opening::Data,
        timing,
        t0,
    );
    let mut sent = Vec::new();
    let mut pending: std::collections::VecDeque<u16> = std::collections::VecDeque::new();
    loop {
        let blocks = data_blocks(&out);
        out.clear();
        for (block, _) in blocks {
            sent.push(block);
            if block <= answered {
                pending.push_back(block);
            }
        }
        let Some(block) = pending.pop_front() else {
            break;
        };
        s.on_packet(&Packet::Ack { block }, t0, &mut out);
    }
    let deadline = s.deadline().unwrap();
    s.on_timer(deadline, &mut out);
    sent.extend(data_blocks(&out).into_iter().map(|(block, _)| block));
    (sent, s)
}

#[test]
fn an_old_uboot_profile_gets_no_repeats_and_no_block_ahead_of_a_resend() {
    let (sent, s) = acked_then_lost(NextBlock::Never, 4);
    // Each block once, in order, then the resend of block 5 alone: nothing sent that the
    // peer could store in the wrong place.
    assert_eq!(sent, vec![1, 2, 3, 4, 5, 5]);
    assert_eq!(s.stats().probes, 0);
    assert!(!s.stats().next_block_learned);
    assert_eq!(*s.status(), Status::Running);
}

#[test]
fn the_same_peer_teaches_the_default_policy_the_next_block() {
    // The control: the same answers under the default policy repeat blocks, learn the habit
    // and send the next block along the resend, which is what `Never` must prevent.
    let (sent, s) = acked_then_lost(NextBlock::Learn, 4);
    assert!(s.stats().probes > 0, "{:?}", s.stats());
    assert!(s.stats().next_block_learned, "{:?}", s.stats());
    assert_eq!(sent.last(), Some(&6), "{sent:?}");
}
