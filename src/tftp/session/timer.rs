//! The sender's and receiver's retransmission timer, and the check of a timeout's resend that
//! moves its floor (docs/performance-history.md, "The retransmission timer waits out a busy peer's
//! pauses").

use std::time::Duration;

use super::Timing;

/// An adaptive retransmission timer (RFC 6298's estimator; RFC 1123 §4.2.3.2 asks for an
/// adaptive timeout with exponential backoff), with a floor that the peer's answers to resends
/// move ([`Timing::pause_floor`]).
#[derive(Debug, Clone)]
pub(super) struct RetransmitTimer {
    pub(super) srtt: Option<Duration>,
    pub(super) rttvar: Duration,
    pub(super) backoff: u32,
    pub(super) initial: Duration,
    /// The floor now: between `lowest` and `max`.
    pub(super) floor: Duration,
    pub(super) lowest: Duration,
    pub(super) max: Duration,
}

impl RetransmitTimer {
    pub(super) fn new(timing: &Timing, negotiated: Option<Duration>) -> Self {
        // The negotiated timeout is the peer's own retransmission timer (RFC 2349). Resending
        // by half of it at the latest keeps ours ahead of theirs even when jitter has inflated
        // the estimate: U-Boot counts its own expiries and gives up after ten.
        let max = negotiated.map_or(timing.max_rto, |t| {
            (t / 2).max(Duration::from_secs(1)).min(t)
        });
        let lowest = timing.min_rto.min(max);
        Self {
            srtt: None,
            rttvar: Duration::ZERO,
            backoff: 0,
            initial: timing.initial_rto.min(max),
            floor: timing.pause_floor.clamp(lowest, max),
            lowest,
            max,
        }
    }

    pub(super) fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let err = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + err) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
    }

    /// The peer answered a resend and the copy before it: the timer fired during a pause.
    pub(super) fn fired_too_early(&mut self) {
        self.floor = (self.floor * 2).min(self.max);
    }

    /// The peer answered a resend only: the datagram or its answer was lost.
    pub(super) fn fired_for_a_loss(&mut self) {
        self.floor = (self.floor / 2).max(self.lowest);
    }

    pub(super) fn base(&self) -> Duration {
        match self.srtt {
            None => self.initial,
            Some(srtt) => (srtt + self.rttvar * 4).clamp(self.floor, self.max),
        }
    }

    pub(super) fn timeout(&self) -> Duration {
        (self.base() * 2u32.saturating_pow(self.backoff.min(16))).min(self.max)
    }
}

/// A timeout's resend, waiting for the peer's answers to tell whether it was needed.
#[derive(Debug, Clone, Copy)]
pub(super) struct ResendCheck {
    /// The highest block the resend carried (the next blocks riding along included).
    pub(super) upto: u64,
    /// Duplicate ACKs of a resent block heard since.
    pub(super) duplicates: u32,
    /// Repeats of an acknowledged block sent since to learn the peer's habit: each may draw
    /// a duplicate ACK of its own.
    pub(super) probes: u32,
}
