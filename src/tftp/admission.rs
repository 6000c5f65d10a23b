//! Who gets a transfer: the request rate shared fairly between source addresses, and the
//! transfer slots, without I/O (the listener feeds it sources, slots and the time).
//!
//! Two rules keep a flood from many addresses from starving the router:
//! - **A fair share of the request budget.** The budget (requests a second from everyone) is
//!   divided by the number of addresses heard lately, and no address may use more than its
//!   share. A router asks once every few seconds and stays within any share; 250 flooding
//!   addresses together get the budget and no more. A hard ceiling of twice the budget holds
//!   whatever the number of addresses (fresh spoofed ones each arrive with one request in
//!   hand).
//! - **Answered transfers own the slots.** A transfer whose peer has not answered its first
//!   response yet (a spoofed or abandoned request looks like that for good; a router for one
//!   round trip) waits in a pool of its own, where the oldest gives way to a newcomer. The
//!   slots proper go only to transfers whose peer answered, so requests that nobody answers
//!   can never fill them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::event::TransferId;

/// Addresses heard within this long count as sharing the request budget.
const ACTIVE_WINDOW: Duration = Duration::from_secs(2);

/// How often the number of addresses sharing the budget is counted again.
const RECOUNT_EVERY: Duration = Duration::from_millis(100);

/// Addresses remembered at most; past this, the quiet ones are forgotten first (a spoofed
/// flood of fresh addresses is then held by the ceiling alone).
const MOST_SOURCES: usize = 4096;

/// The fewest requests one address may make in a burst, whatever its share.
const MIN_BURST: f64 = 4.0;

/// The hard ceiling on requests a second from everyone, as a multiple of the fair budget.
const CEILING_FACTOR: f64 = 2.0;

/// Transfers whose peer has not answered yet, at most, per slot: a newcomer past this pushes
/// the oldest out. At 200 admissions a second and 8 slots, a request not yet answered lives
/// 160 ms at the least, far above a LAN round trip.
const PENDING_PER_SLOT: usize = 4;

/// A transfer whose peer has made no progress for this long may give way when the slots
/// are full: two of U-Boot's 5 s timeouts, so a live bootloader on a lossy link keeps its
/// slot.
pub(crate) const IDLE_EVICTABLE: Duration = Duration::from_secs(10);

/// Why a request was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address is over its share of the request budget.
    SourceRate,
    /// Everyone together is over the ceiling.
    Ceiling,
    /// Every slot holds a transfer whose peer is answering.
    Full,
}

impl Refusal {
    /// The reason, as the technician reads it.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::SourceRate => "too many requests from this address",
            Refusal::Ceiling => "too many requests (global limit)",
            Refusal::Full => "too many transfers at once",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    heard: Instant,
}

/// The request budget, shared fairly between source addresses.
#[derive(Debug)]
pub(crate) struct RequestRates {
    /// Most requests a second from one address, however few others there are.
    per_source: f64,
    /// Requests a second from everyone, divided between the addresses heard lately.
    budget: f64,
    sources: HashMap<IpAddr, Bucket>,
    active: usize,
    counted: Option<Instant>,
    ceiling: (f64, Instant),
}

impl RequestRates {
    /// A budget of `budget` requests a second from everyone, at most `per_source` from one
    /// address.
    pub(crate) fn new(per_source: f64, budget: f64, now: Instant) -> Self {
        let per_source = per_source.max(1.0);
        let budget = budget.max(per_source);
        Self {
            per_source,
            budget,
            sources: HashMap::new(),
            active: 0,
            counted: None,
            ceiling: (budget * CEILING_FACTOR, now),
        }
    }

    /// The requests a second one address may make now.
    pub(crate) fn share(&self) -> f64 {
        (self.budget / self.active.max(1) as f64).min(self.per_source)
    }

    /// Takes one request from `source` at `now`, or says which limit refuses it.
    pub(crate) fn take(&mut self, source: IpAddr, now: Instant) -> Result<(), Refusal> {
        self.recount(now);
        let share = self.share();
        // The burst an address may make is its share of one second, and at least a few
        // requests: a router's first request, and a few retries or next files in a row,
        // always have one in hand. A flooding address drains its bucket at once and is held
        // to its share all the same.
        let burst = share.max(MIN_BURST);
        let bucket = match self.sources.entry(source) {
            Entry::Occupied(known) => {
                let bucket = known.into_mut();
                if now.saturating_duration_since(bucket.heard) >= ACTIVE_WINDOW {
                    // Back after a quiet spell: it shares the budget again from now.
                    self.active += 1;
                }
                bucket
            }
            Entry::Vacant(new) => {
                self.active += 1;
                new.insert(Bucket {
                    tokens: burst,
                    at: now,
                    heard: now,
                })
            }
        };
        bucket.heard = now;
        bucket.tokens = (bucket.tokens
            + now.saturating_duration_since(bucket.at).as_secs_f64() * share)
            .min(burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(Refusal::SourceRate);
        }
        let ceiling_rate = self.budget * CEILING_FACTOR;
        let (tokens, at) = &mut self.ceiling;
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * ceiling_rate)
            .min(ceiling_rate);
        *at = now;
        if *tokens < 1.0 {
            return Err(Refusal::Ceiling);
        }
        *tokens -= 1.0;
        bucket.tokens -= 1.0;
        Ok(())
    }

    fn recount(&mut self, now: Instant) {
        if self
            .counted
            .is_some_and(|at| now.saturating_duration_since(at) < RECOUNT_EVERY)
        {
            return;
        }
        self.counted = Some(now);
        let recent = |b: &Bucket| now.saturating_duration_since(b.heard) < ACTIVE_WINDOW;
        if self.sources.len() > MOST_SOURCES {
            self.sources.retain(|_, b| recent(b));
            if self.sources.len() > MOST_SOURCES {
                // More fresh addresses than can be remembered: a spoofed flood. The ceiling
                // holds it; the memory stays bounded.
                self.sources.clear();
            }
        }
        self.active = self.sources.values().filter(|b| recent(b)).count();
    }
}

/// What the listener knows of one transfer under way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotView {
    /// The transfer.
    pub id: TransferId,
    /// When it started.
    pub created: Instant,
    /// When its peer last made progress, if ever.
    pub heard: Option<Instant>,
}

/// Where a new transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// There is room.
    Free,
    /// This transfer gives way to the newcomer.
    Evict(TransferId),
}

/// Finds room for a new transfer among `running` (the transfers not stopped), with
/// `slots` slots for answered transfers.
pub(crate) fn find_slot(running: &[SlotView], slots: usize, now: Instant) -> Result<Slot, Refusal> {
    let answered = running.iter().filter(|t| t.heard.is_some()).count();
    if answered >= slots {
        // Full of transfers whose peers answered. One whose peer has made no progress for
        // long (repeating old ACKs does not count) is idle and gives way.
        return running
            .iter()
            .filter(|t| {
                t.heard
                    .is_some_and(|h| now.saturating_duration_since(h) >= IDLE_EVICTABLE)
            })
            .min_by_key(|t| t.heard)
            .map(|t| Slot::Evict(t.id))
            .ok_or(Refusal::Full);
    }
    let pending: Vec<&SlotView> = running.iter().filter(|t| t.heard.is_none()).collect();
    if pending.len() < slots * PENDING_PER_SLOT {
        return Ok(Slot::Free);
    }
    // The pool of unanswered transfers is full: the oldest gives way. Its peer has had the
    // longest to answer, and a flood's requests are the ones nobody answers.
    Ok(pending
        .iter()
        .min_by_key(|t| t.created)
        .map_or(Slot::Free, |t| Slot::Evict(t.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x7f01_0000 + n))
    }

    #[test]
    fn a_lone_address_has_the_whole_per_source_rate() {
        let start = Instant::now();
        let mut rates = RequestRates::new(20.0, 200.0, start);
        let taken = (0..100)
            .filter(|_| rates.take(addr(1), start).is_ok())
            .count();
        assert_eq!(taken, 20, "a burst of one second's share");
        assert_eq!(
            rates.take(addr(1), start),
            Err(Refusal::SourceRate),
            "over its rate"
        );
        assert!(
            rates
                .take(addr(1), start + Duration::from_millis(50))
                .is_ok()
        );
    }

    #[test]
    fn a_router_gets_through_a_flood_from_250_addresses_every_time() {
        // 1,000 requests a second from 250 addresses for 20 s, virtual time; the router asks
        // once every 5 s (tftp-hpa's and U-Boot's own pace) and must be taken each time.
        let start = Instant::now();
        let mut rates = RequestRates::new(20.0, 200.0, start);
        let router = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));
        let mut flood_taken = 0;
        let mut router_taken = 0;
        for ms in 0..20_000u32 {
            let now = start + Duration::from_millis(u64::from(ms));
            if rates.take(addr(ms % 250), now).is_ok() {
                flood_taken += 1;
            }
            if ms % 5_000 == 2_500 {
                assert_eq!(rates.take(router, now), Ok(()), "the router at {ms} ms");
                router_taken += 1;
            }
        }
        assert_eq!(router_taken, 4);
        // The flood gets its fair budget, 200 a second, and a first burst that the ceiling
        // of 400 a second holds: not its 1,000 a second.
        assert!(
            (3_800..=5_000).contains(&flood_taken),
            "{flood_taken} flood requests taken in 20 s"
        );
    }

    /// Past the addresses the table remembers: 5,000 addresses in turn, each heard every
    /// second (5,000 requests a second, so more than 4,096 are recent at once), for 10 s of
    /// virtual time, and a router asking once a second. What still holds: the table's memory
    /// and the ceiling of twice the budget. What does not: the fair share (each address comes
    /// back fresh), so the router competes with the flood for the ceiling.
    #[test]
    fn past_the_addresses_remembered_memory_and_the_ceiling_still_hold() {
        let start = Instant::now();
        let mut rates = RequestRates::new(20.0, 200.0, start);
        let router = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));
        let (mut taken, mut router_taken, mut most) = (0u32, 0u32, 0usize);
        for step in 0..50_000u32 {
            let now = start + Duration::from_micros(u64::from(step) * 200);
            if rates.take(addr(step % 5_000), now).is_ok() {
                taken += 1;
            }
            if step % 5_000 == 2_500 && rates.take(router, now).is_ok() {
                router_taken += 1;
            }
            most = most.max(rates.sources.len());
        }
        eprintln!(
            "{taken} flood requests taken in 10 s, the router {router_taken} times in 10, at most {most} addresses remembered"
        );
        // The ceiling: 400 a second, plus its first full bucket.
        assert!(taken + router_taken <= 400 * 10 + 400, "{taken}");
        // Memory: the table is counted again every 100 ms, 500 requests apart here.
        assert!(most <= MOST_SOURCES + 500, "{most} remembered");
    }

    #[test]
    fn fresh_addresses_are_held_by_the_ceiling() {
        let start = Instant::now();
        let mut rates = RequestRates::new(20.0, 200.0, start);
        // 10,000 requests in one second, each from an address never seen before.
        let taken = (0..10_000u32)
            .filter(|n| {
                let now = start + Duration::from_micros(u64::from(*n) * 100);
                rates.take(addr(*n), now).is_ok()
            })
            .count();
        assert!(taken <= 800, "{taken} taken: the ceiling is 400 a second");
        assert!(rates.sources.len() <= MOST_SOURCES + 1_000);
    }

    fn view(id: u64, created: Instant, heard: Option<Instant>) -> SlotView {
        SlotView {
            id: TransferId(id),
            created,
            heard,
        }
    }

    #[test]
    fn unanswered_transfers_never_take_the_answered_slots() {
        let start = Instant::now();
        let now = start + Duration::from_millis(3);
        // 31 unanswered transfers and one answered: there is room.
        let mut running: Vec<SlotView> = (0..31).map(|n| view(n, now, None)).collect();
        running.push(view(99, now, Some(now)));
        assert_eq!(find_slot(&running, 8, now), Ok(Slot::Free));
        // 32 unanswered: the oldest gives way.
        running.push(view(31, now + Duration::from_millis(1), None));
        running[5].created = start;
        assert_eq!(find_slot(&running, 8, now), Ok(Slot::Evict(TransferId(5))));
    }

    #[test]
    fn answered_slots_full_only_an_idle_transfer_gives_way() {
        let start = Instant::now();
        let now = start + IDLE_EVICTABLE;
        let mut running: Vec<SlotView> = (0..8).map(|n| view(n, now, Some(now))).collect();
        assert_eq!(find_slot(&running, 8, now), Err(Refusal::Full));
        running[3].heard = Some(start);
        assert_eq!(find_slot(&running, 8, now), Ok(Slot::Evict(TransferId(3))));
    }
}
