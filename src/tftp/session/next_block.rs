//! Whether the next block rides along a resend: the per-transfer policy a profile's
//! `next_block_on_resend` chooses, carried as one value from the plan to the server.

use super::Timing;

/// Whether, with a window of 1, a resend carries the next block too (docs/tftp.md). One value
/// for the two [`Timing`] switches it sets, so that what a profile knows of its bootloader
/// reaches the server whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextBlock {
    /// Never, and never learned from the peer: it stores any block unchecked, so a block
    /// sent ahead could leave a hole (U-Boot 1.1.x, `next_block_on_resend: false`).
    Never,
    /// Only once the peer has shown it checks the block number (the default: see
    /// [`Timing::learn_next_block`]).
    #[default]
    Learn,
    /// Always, from the first resend (`next_block_on_resend: true`).
    Always,
}

impl NextBlock {
    /// The policy `timing` follows.
    pub fn of(timing: &Timing) -> Self {
        match (timing.resend_next_block, timing.learn_next_block) {
            (true, _) => Self::Always,
            (false, true) => Self::Learn,
            (false, false) => Self::Never,
        }
    }

    /// The policy of a profile's `next_block_on_resend`: `None` leaves it to learning.
    pub fn from_profile(allowed: Option<bool>) -> Self {
        match allowed {
            None => Self::Learn,
            Some(true) => Self::Always,
            Some(false) => Self::Never,
        }
    }

    /// Sets `timing`'s switches to follow this policy.
    pub fn apply(self, timing: &mut Timing) {
        timing.resend_next_block = self == Self::Always;
        timing.learn_next_block = self != Self::Never;
    }
}
