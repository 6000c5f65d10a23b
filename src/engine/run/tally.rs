//! Every block accounted for: what went out to the router and what it acknowledged, from the
//! transfer events alone, so that the run never says "nothing was sent" when a block was.

use std::collections::HashMap;

use crate::tftp::event::TransferId;

/// Bytes a TFTP sender may have out before the first acknowledgement: one block of the
/// default size (RFC 1350 §2; no OACK agreed yet).
const DEFAULT_BLOCK: u64 = 512;

/// One transfer to the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    /// Bytes acknowledged.
    acknowledged: u64,
    /// Bytes that may be out unacknowledged: one window of blocks (RFC 7440 §4).
    window: u64,
}

/// What the router was sent and acknowledged, over every attempt of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    total: u64,
    attempts: HashMap<TransferId, Attempt>,
    /// A transfer to the router began: data may have gone out.
    began: bool,
    /// The furthest attempt's acknowledged bytes.
    acknowledged: u64,
    /// The most bytes that may have gone out in the furthest attempt.
    sent: u64,
    /// Every byte arrived (confirmed or not).
    complete: bool,
}

impl Tally {
    /// A tally for an image of `total` bytes.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            ..Self::default()
        }
    }

    /// A transfer to the router began: the first block (or an OACK) is on its way.
    pub fn began(&mut self, id: TransferId) {
        self.began = true;
        self.attempts.entry(id).or_insert(Attempt {
            acknowledged: 0,
            window: DEFAULT_BLOCK,
        });
        self.update(id);
    }

    /// The transfer's block size and window were agreed.
    pub fn agreed(&mut self, id: TransferId, blksize: u16, windowsize: u16) {
        self.began = true;
        let attempt = self.attempts.entry(id).or_insert(Attempt {
            acknowledged: 0,
            window: DEFAULT_BLOCK,
        });
        attempt.window = u64::from(blksize) * u64::from(windowsize.max(1));
        self.update(id);
    }

    /// The router acknowledged `bytes` in this transfer.
    pub fn acknowledged(&mut self, id: TransferId, bytes: u64) {
        self.began = true;
        let attempt = self.attempts.entry(id).or_insert(Attempt {
            acknowledged: 0,
            window: DEFAULT_BLOCK,
        });
        attempt.acknowledged = attempt.acknowledged.max(bytes);
        self.update(id);
    }

    /// Every byte arrived: `bytes` went out, all of them.
    pub fn completed(&mut self, bytes: u64) {
        self.began = true;
        self.complete = true;
        self.acknowledged = self.acknowledged.max(bytes);
        self.sent = self.sent.max(bytes);
    }

    fn update(&mut self, id: TransferId) {
        if let Some(attempt) = self.attempts.get(&id) {
            let sent = attempt
                .acknowledged
                .saturating_add(attempt.window)
                .min(self.total.max(attempt.acknowledged));
            if attempt.acknowledged >= self.acknowledged {
                self.acknowledged = attempt.acknowledged;
                self.sent = self.sent.max(sent);
            }
        }
    }

    /// Whether anything may have gone out to the router.
    pub fn anything_sent(&self) -> bool {
        self.began
    }

    /// Whether the whole image arrived.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Bytes the router acknowledged in its furthest attempt.
    pub fn acknowledged_bytes(&self) -> u64 {
        self.acknowledged
    }

    /// The most bytes that may have gone out in that attempt.
    pub fn sent_bytes(&self) -> u64 {
        self.sent
    }

    /// The image's size.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How far it got, in words: "1 048 576 of 4 194 304 bytes acknowledged (at most
    /// 1 049 088 sent)", or that nothing went out.
    pub fn describe(&self) -> String {
        if !self.began {
            return "nothing was sent to the router".to_owned();
        }
        format!(
            "{} of {} bytes acknowledged by the router (at most {} sent)",
            self.acknowledged, self.total, self.sent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_until_a_transfer_begins() {
        let tally = Tally::new(4096);
        assert!(!tally.anything_sent());
        assert_eq!(tally.describe(), "nothing was sent to the router");
    }

    #[test]
    fn a_request_answered_means_one_block_may_be_out() {
        let mut tally = Tally::new(4096);
        tally.began(TransferId(1));
        assert!(tally.anything_sent());
        assert_eq!(tally.acknowledged_bytes(), 0);
        assert_eq!(tally.sent_bytes(), 512);
    }

    #[test]
    fn a_window_bounds_what_is_out_beyond_the_acknowledged() {
        let mut tally = Tally::new(1_000_000);
        tally.agreed(TransferId(1), 1468, 8);
        tally.acknowledged(TransferId(1), 14_680);
        assert_eq!(tally.acknowledged_bytes(), 14_680);
        assert_eq!(tally.sent_bytes(), 14_680 + 8 * 1468);
        // A second, shorter attempt does not hide how far the first got.
        tally.acknowledged(TransferId(2), 512);
        assert_eq!(tally.acknowledged_bytes(), 14_680);
    }

    #[test]
    fn never_more_sent_than_the_image() {
        let mut tally = Tally::new(700);
        tally.acknowledged(TransferId(1), 512);
        assert_eq!(tally.sent_bytes(), 700);
        tally.completed(700);
        assert!(tally.complete());
        assert_eq!(tally.acknowledged_bytes(), 700);
    }
}
