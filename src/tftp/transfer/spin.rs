//! Whether a transfer busy-waits for its peer's answer: decided by measuring, not assumed.
//!
//! A spin (polling the socket without sleeping) only pays when the answer lands within it and
//! comes sooner for it. On loopback it does: the peer answers in microseconds, sooner than a
//! sleeping thread is woken. Against U-Boot under emulation on a two-core machine it does
//! not: the answer came within the spin, but the spin held a core the emulator's own threads
//! needed, so the board answered later and the whole fetch took 14 to 23 % longer than the
//! daemons' (docs/performance-history.md, "Against a real U-Boot"). Neither the peer's address nor
//! the number of cores tells the two apart; the round trips do.
//!
//! So a transfer runs a trial: [`TRIAL_ANSWERS`] answers waited for alternately spinning and
//! asleep, then compares the medians of the two halves. Spinning is kept only when it
//! shortens the round trip by at least a quarter ([`SpinChoice::pays`]); the choice holds for
//! [`HOLD_ANSWERS`] answers, then a new trial checks it again (the machine's load changes). A
//! spin that misses the answer ends the trial at once: the peer is slower than the spin, and
//! spinning for it only burns a core (a board on real Ethernet answers in hundreds of µs).
//! This module is pure: round trips in, a yes or no out.

use std::time::Duration;

/// Answers in one trial, alternately spun for and slept for (half each).
pub(super) const TRIAL_ANSWERS: usize = 32;
/// Answers a decision holds before the next trial. A peer too slow for the spin costs one
/// missed spin per this many answers; a peer whose pace changes is noticed within them.
pub(super) const HOLD_ANSWERS: u32 = 1024;

/// Whether to spin for the next answer, learned from the round trips of earlier ones.
#[derive(Debug)]
pub(super) struct SpinChoice {
    mode: Mode,
    /// Round trips of the trial's spun-for answers, in µs.
    spun: Vec<u32>,
    /// Round trips of the trial's slept-for answers, in µs.
    slept: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Measuring: even answers are spun for, odd ones slept for.
    Trial { answers: usize },
    /// Decided: `spin` for the next `left` answers.
    Hold { spin: bool, left: u32 },
}

impl SpinChoice {
    /// A transfer starts with a trial.
    pub(super) fn new() -> Self {
        Self {
            mode: Mode::Trial { answers: 0 },
            spun: Vec::with_capacity(TRIAL_ANSWERS / 2),
            slept: Vec::with_capacity(TRIAL_ANSWERS / 2),
        }
    }

    /// Whether the wait for the next answer should spin first.
    pub(super) fn spin_next(&self) -> bool {
        match self.mode {
            Mode::Trial { answers } => answers % 2 == 0,
            Mode::Hold { spin, .. } => spin,
        }
    }

    /// An answer came `rtt` after the datagrams it answers were sent; `spun` says whether its
    /// wait began with a spin of `budget`.
    pub(super) fn answered(&mut self, spun: bool, rtt: Duration, budget: Duration) {
        match self.mode {
            Mode::Trial { answers } => {
                if spun && rtt > budget {
                    // Missed: this peer answers after the spin is over.
                    self.decide(false);
                    return;
                }
                let micros = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
                if spun {
                    self.spun.push(micros);
                } else {
                    self.slept.push(micros);
                }
                let answers = answers + 1;
                if answers < TRIAL_ANSWERS {
                    self.mode = Mode::Trial { answers };
                } else {
                    let pays = Self::pays(&mut self.spun, &mut self.slept);
                    self.decide(pays);
                }
            }
            Mode::Hold { spin, left } => {
                self.mode = if left > 1 {
                    Mode::Hold {
                        spin,
                        left: left - 1,
                    }
                } else {
                    Mode::Trial { answers: 0 }
                };
            }
        }
    }

    fn decide(&mut self, spin: bool) {
        self.spun.clear();
        self.slept.clear();
        self.mode = Mode::Hold {
            spin,
            left: HOLD_ANSWERS,
        };
    }

    /// Spinning pays when its median round trip is at most three quarters of the sleeping
    /// one's: the spin costs a core for as long as it waits, so a gain within the noise of a
    /// shared machine does not justify it.
    fn pays(spun: &mut [u32], slept: &mut [u32]) -> bool {
        match (median(spun), median(slept)) {
            (Some(spun), Some(slept)) => u64::from(spun) * 4 <= u64::from(slept) * 3,
            _ => false,
        }
    }
}

fn median(micros: &mut [u32]) -> Option<u32> {
    micros.sort_unstable();
    micros.get(micros.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_micros(50);

    /// Feeds `n` answers whose round trip depends on whether their wait spun; returns how
    /// many of them were spun for.
    fn feed(choice: &mut SpinChoice, n: usize, rtt: impl Fn(bool) -> u64) -> usize {
        let mut spins = 0;
        for _ in 0..n {
            let spin = choice.spin_next();
            spins += usize::from(spin);
            choice.answered(spin, Duration::from_micros(rtt(spin)), BUDGET);
        }
        spins
    }

    #[test]
    fn a_peer_answering_sooner_to_a_spin_is_spun_for() {
        // Loopback: 8 µs with the spin, 40 µs when woken from sleep.
        let mut choice = SpinChoice::new();
        let trial_spins = feed(&mut choice, TRIAL_ANSWERS, |spin| if spin { 8 } else { 40 });
        assert_eq!(trial_spins, TRIAL_ANSWERS / 2, "the trial alternates");
        assert!(choice.spin_next());
        let held = feed(&mut choice, 100, |spin| if spin { 8 } else { 40 });
        assert_eq!(held, 100, "the decision holds");
    }

    #[test]
    fn a_peer_slowed_by_the_spin_is_slept_for() {
        // U-Boot under emulation on two cores: the spin catches the answer, but the answer
        // comes later for it (45 µs against 40).
        let mut choice = SpinChoice::new();
        feed(
            &mut choice,
            TRIAL_ANSWERS,
            |spin| if spin { 45 } else { 40 },
        );
        assert!(!choice.spin_next());
        let held = feed(&mut choice, HOLD_ANSWERS as usize - 1, |_| 40);
        assert_eq!(held, 0, "no spin while the decision holds");
    }

    #[test]
    fn a_gain_under_a_quarter_does_not_pay() {
        let mut choice = SpinChoice::new();
        feed(
            &mut choice,
            TRIAL_ANSWERS,
            |spin| if spin { 31 } else { 40 },
        );
        assert!(!choice.spin_next(), "31 µs against 40 is not worth a core");
        let mut choice = SpinChoice::new();
        feed(
            &mut choice,
            TRIAL_ANSWERS,
            |spin| if spin { 30 } else { 40 },
        );
        assert!(choice.spin_next(), "30 µs against 40 is");
    }

    #[test]
    fn a_peer_slower_than_the_spin_costs_one_spin_per_hold() {
        // A board on Ethernet: 400 µs whatever we do.
        let mut choice = SpinChoice::new();
        let n = 10 * (HOLD_ANSWERS as usize + 1);
        let spins = feed(&mut choice, n, |_| 400);
        assert_eq!(spins, 10, "one missed spin ends each trial");
    }

    #[test]
    fn a_bootloader_acknowledging_after_2_ms_gets_no_core_spun() {
        // A slow board (2 ms per ACK), 10 000 blocks: 20 s of transfer. Each trial ends at
        // its first missed spin, so the time spun is one budget per hold: under 0.01 % of a
        // core over the transfer. (Measured on loopback against such a client, 1500 blocks:
        // 11 empty polls of the socket in all, docs/performance-history.md, 2026-12-01.)
        let mut choice = SpinChoice::new();
        let answers = 10_000;
        let spins = feed(&mut choice, answers, |_| 2_000);
        let spun = BUDGET * u32::try_from(spins).unwrap();
        let transfer = Duration::from_millis(2) * u32::try_from(answers).unwrap();
        assert_eq!(spins, answers.div_ceil(HOLD_ANSWERS as usize + 1));
        assert!(
            spun * 10_000 < transfer,
            "{spun:?} spun in a {transfer:?} transfer"
        );
    }

    #[test]
    fn the_choice_is_checked_again_after_the_hold() {
        let mut choice = SpinChoice::new();
        feed(
            &mut choice,
            TRIAL_ANSWERS,
            |spin| if spin { 45 } else { 40 },
        );
        feed(&mut choice, HOLD_ANSWERS as usize, |_| 40);
        // The machine went quiet: the spin now pays, and a new trial finds it.
        feed(&mut choice, TRIAL_ANSWERS, |spin| if spin { 8 } else { 40 });
        assert!(choice.spin_next());
    }

    #[test]
    fn outliers_do_not_sway_the_medians() {
        // One in eight spun-for answers is delayed by the scheduler: the median ignores it.
        let mut choice = SpinChoice::new();
        let mut i = 0u64;
        for _ in 0..TRIAL_ANSWERS {
            let spin = choice.spin_next();
            i += 1;
            let rtt = match (spin, i % 16) {
                (true, 1) => 49,
                (true, _) => 8,
                (false, _) => 40,
            };
            choice.answered(spin, Duration::from_micros(rtt), BUDGET);
        }
        assert!(choice.spin_next());
    }
}
