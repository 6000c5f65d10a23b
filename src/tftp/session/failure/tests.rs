//! Each [`TransferFailure`] reads as the text the technician read when the reason was a
//! string, and the machines hand back the reason that fits what happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::TransferFailure;
use crate::tftp::options::Agreed;
use crate::tftp::packet::{ErrorCode, Packet};
use crate::tftp::session::{Opening, Receiver, RolloverTo, Sender, Status, Timing};

#[test]
fn every_reason_reads_as_before() {
    let cases = [
        (
            TransferFailure::ReadFailed {
                offset: 1024,
                error: "Input/output error (os error 5)".into(),
            },
            "cannot read the file being sent at byte 1024: Input/output error (os error 5)",
        ),
        (
            TransferFailure::PeerError {
                code: ErrorCode::DISK_FULL,
                text: "flash full".into(),
            },
            "the peer sent disk full or allocation exceeded (3): \"flash full\"",
        ),
        (
            TransferFailure::RouterSaid {
                text: "Checksum error!".into(),
            },
            "the router said: \"Checksum error!\"",
        ),
        (
            TransferFailure::DataOnReadTransfer,
            "the peer sent DATA on a read transfer",
        ),
        (
            TransferFailure::AckOnWriteTransfer,
            "the peer sent an ACK on a write transfer",
        ),
        (
            TransferFailure::StoppedResponding {
                silent: Duration::from_millis(30_900),
            },
            "the peer stopped responding (30 s without an answer)",
        ),
        (
            TransferFailure::StoppedSending {
                silent: Duration::from_secs(12),
            },
            "the peer stopped sending (12 s without data)",
        ),
        (
            TransferFailure::NoFirstAnswer { sends: 6 },
            "no answer to the first 6 sends of the first response",
        ),
        (
            TransferFailure::OversizedBlock {
                len: 1468,
                blksize: 512,
            },
            "the peer sent a 1468-byte block with blksize 512",
        ),
        (
            TransferFailure::OverLimit { limit: 4096 },
            "the data exceeded the limit of 4096 bytes",
        ),
        (
            TransferFailure::ChangedOnDisk {
                path: "/srv/fw.bin".into(),
            },
            "/srv/fw.bin changed on disk during the transfer: the device may hold a mixture; serve it again",
        ),
        (
            TransferFailure::NotStored {
                reason: "No space left on device (os error 28)".into(),
            },
            "could not store the data: No space left on device (os error 28)",
        ),
        (
            TransferFailure::Socket {
                error: "Bad file descriptor (os error 9)".into(),
            },
            "socket error: Bad file descriptor (os error 9)",
        ),
        (TransferFailure::Stopped, "stopped"),
    ];
    for (failure, text) in cases {
        assert_eq!(failure.to_string(), text, "{failure:?}");
    }
}

fn agreed(blksize: u16) -> Agreed {
    Agreed {
        blksize,
        ..Agreed::default()
    }
}

#[test]
fn a_sender_keeps_the_peers_error_code_and_escaped_text() {
    let now = Instant::now();
    let mut out = Vec::new();
    let mut sender = Sender::start(
        Arc::from(vec![1u8; 100]),
        &agreed(512),
        RolloverTo::Zero,
        Opening::Confirmed,
        Timing::default(),
        now,
        &mut out,
    );
    let error = Packet::Error {
        code: ErrorCode::ACCESS_VIOLATION,
        message: "no\x07 way".into(),
    };
    out.clear();
    sender.on_packet(&error, now, &mut out);
    let Status::Failed(failure) = sender.status() else {
        panic!("the sender did not fail: {:?}", sender.status());
    };
    assert_eq!(
        *failure,
        TransferFailure::PeerError {
            code: ErrorCode::ACCESS_VIOLATION,
            text: crate::tftp::packet::escape_text("no\x07 way"),
        }
    );
    assert_eq!(sender.status().failure(), Some(failure));
    // RFC 1350 §7: an ERROR is never answered.
    assert!(out.is_empty());
}

#[test]
fn a_receiver_over_its_limit_says_which_limit() {
    let now = Instant::now();
    let mut out = Vec::new();
    let mut receiver = Receiver::start(
        &agreed(512),
        RolloverTo::Zero,
        None,
        Some(600),
        Timing::default(),
        now,
        &mut out,
    );
    let block = vec![0u8; 512];
    for number in 1..=2 {
        let data = Packet::Data {
            block: number,
            data: &block,
        };
        let _ = receiver.on_packet(&data, now, &mut out);
    }
    assert_eq!(
        receiver.status().failure(),
        Some(&TransferFailure::OverLimit { limit: 600 })
    );
    assert_eq!(Status::Running.failure(), None);
}

#[test]
fn a_silent_receiver_gives_up_with_how_long_it_waited() {
    let now = Instant::now();
    let mut out = Vec::new();
    let timing = Timing::default();
    let mut receiver = Receiver::start(
        &agreed(512),
        RolloverTo::Zero,
        Some(vec![0, 4, 0, 0]),
        None,
        timing,
        now,
        &mut out,
    );
    let block = vec![0u8; 512];
    let data = Packet::Data {
        block: 1,
        data: &block,
    };
    let _ = receiver.on_packet(&data, now, &mut out);
    // Feed the timer at each deadline until the machine gives up, bounded in steps.
    for _ in 0..1000 {
        let Some(deadline) = receiver.deadline() else {
            break;
        };
        if receiver.status().is_over() {
            break;
        }
        receiver.on_timer(deadline, &mut out);
    }
    match receiver.status().failure() {
        Some(TransferFailure::StoppedSending { silent }) => {
            assert!(*silent >= timing.give_up_after, "{silent:?}");
        }
        other => panic!("expected the receiver to give up: {other:?}"),
    }
}
