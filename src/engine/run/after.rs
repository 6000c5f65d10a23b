//! After the transfer: the flashing countdown, which ends once, and the watch for the router
//! coming back at any address it is known to take. Also what counts as the router going
//! quiet: a router that announces itself every 20 s is one living router, not a boot loop.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Silence shorter than this is the router between two announcements, not a reboot: stock
/// firmware announces itself by ARP about every 20 s, and a reboot (bootloader, kernel,
/// network up) is silent for longer.
pub const REAL_GAP: Duration = Duration::from_secs(30);

/// The flashing countdown: whole seconds left, each told once, down to zero once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countdown {
    since: Instant,
    expected: Duration,
    last_told: Option<u64>,
}

impl Countdown {
    /// A countdown of `expected` from `since`.
    pub fn new(since: Instant, expected: Duration) -> Self {
        Self {
            since,
            expected,
            last_told: None,
        }
    }

    /// The seconds left to tell at `now`, when they changed since last told; nothing once
    /// zero was told (the run then says "should be done by now" once, and waits).
    pub fn tell(&mut self, now: Instant) -> Option<Duration> {
        let left = self
            .expected
            .saturating_sub(now.saturating_duration_since(self.since))
            .as_secs();
        if self.last_told.is_some_and(|told| told == left || told == 0) {
            return None;
        }
        self.last_told = Some(left);
        Some(Duration::from_secs(left))
    }

    /// Time since the transfer ended.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    /// Seconds of the expected time left (at least 1 while it runs: "do not switch it off
    /// for another N s").
    pub fn left(&self, now: Instant) -> Duration {
        self.expected.saturating_sub(self.elapsed(now))
    }
}

/// Every address the router is known to answer at after flashing: the profile's `after`
/// first, then its `after-alternates` (stock firmware's own address, named in its notes).
pub fn known_addresses(after: Option<Ipv4Addr>, alternates: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let mut known: Vec<Ipv4Addr> = after.into_iter().collect();
    for ip in alternates {
        if !known.contains(ip) {
            known.push(*ip);
        }
    }
    known
}

/// When the router was last heard, to tell a real gap from the pause between announcements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quiet {
    last_heard: Option<Instant>,
    /// A gap was reported and not yet ended.
    away: bool,
}

/// What a change in the router's speaking means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// It went quiet for longer than [`REAL_GAP`], for this long.
    WentQuiet(Duration),
    /// It speaks again after a real gap of this long.
    Back(Duration),
}

impl Quiet {
    /// The router spoke at `now`: a [`Gap::Back`] when it had gone quiet for real.
    pub fn heard(&mut self, now: Instant) -> Option<Gap> {
        let gap = self
            .last_heard
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        self.last_heard = Some(now);
        if self.away {
            self.away = false;
            return Some(Gap::Back(gap));
        }
        None
    }

    /// At a tick: a [`Gap::WentQuiet`] once the silence passes [`REAL_GAP`].
    pub fn tick(&mut self, now: Instant) -> Option<Gap> {
        let silent = now.saturating_duration_since(self.last_heard?);
        if !self.away && silent >= REAL_GAP {
            self.away = true;
            return Some(Gap::WentQuiet(silent));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_tells_each_second_once_and_zero_once() {
        let t0 = Instant::now();
        let mut countdown = Countdown::new(t0, Duration::from_secs(3));
        let told: Vec<u64> = (0..130)
            .filter_map(|half| countdown.tell(t0 + Duration::from_millis(500 * half)))
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(told, vec![3, 2, 1, 0]);
    }

    #[test]
    fn announcements_every_20_s_are_one_living_router() {
        let t0 = Instant::now();
        let mut quiet = Quiet::default();
        let mut gaps = Vec::new();
        for second in 0..300u64 {
            let now = t0 + Duration::from_secs(second);
            if second % 20 == 0 {
                gaps.extend(quiet.heard(now));
            }
            gaps.extend(quiet.tick(now));
        }
        assert!(gaps.is_empty(), "{gaps:?}");
    }

    #[test]
    fn a_real_gap_is_quiet_then_back_once() {
        let t0 = Instant::now();
        let mut quiet = Quiet::default();
        let mut gaps = Vec::new();
        for second in 0..200u64 {
            let now = t0 + Duration::from_secs(second);
            // Speaks every 20 s, then a 90 s reboot from second 40.
            if second % 20 == 0 && !(41..130).contains(&second) {
                gaps.extend(quiet.heard(now));
            }
            gaps.extend(quiet.tick(now));
        }
        assert_eq!(
            gaps,
            vec![
                Gap::WentQuiet(REAL_GAP),
                Gap::Back(Duration::from_secs(100))
            ]
        );
    }

    #[test]
    fn known_addresses_put_after_first_without_repeats() {
        let after = Ipv4Addr::new(192, 168, 1, 1);
        let stock = Ipv4Addr::new(192, 168, 0, 1);
        assert_eq!(
            known_addresses(Some(after), &[stock, after]),
            vec![after, stock]
        );
    }
}
