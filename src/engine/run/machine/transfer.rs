//! The transfer's own news: requests, blocks and their end, and the push's result;
//! every block accounted for in the tally.

use super::{
    AfterTransfer, Countdown, Effect, Event, Instant, IpAddr, Machine, Phase, PushFailure, Pushed,
    RequestKind, RunOutcome, Setting, SocketAddr, Transfer, TransferEvent, TransferId,
};

impl Machine {
    pub(super) fn is_own(&self, id: TransferId) -> bool {
        self.own.contains(&id)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "split pending: the transfer handler moves into the method strategies"
    )]
    pub(super) fn transfer(&mut self, event: TransferEvent, now: Instant, out: &mut Vec<Effect>) {
        match event {
            TransferEvent::RequestReceived {
                id,
                peer,
                name,
                kind: RequestKind::Read,
                ..
            } => {
                if name == self.self_test_name {
                    self.own.push(id);
                    return;
                }
                self.transfers.insert(id, (peer, name.clone()));
                self.began.insert(id, now);
                self.last_activity = now;
                self.stall_reported = false;
                self.evidence.requests_served += 1;
                // The server answers at once: an OACK or the first block is on its way.
                self.tally.began(id);
                if let IpAddr::V4(ip) = peer.ip()
                    && !self.ours.contains(&ip)
                {
                    self.evidence.router_seen = Some(ip);
                }
                out.push(Effect::Emit(Event::RequestReceived { peer, file: name }));
                self.enter_transfer(out);
            }
            TransferEvent::RequestRefused {
                peer, name, reason, ..
            } => {
                out.push(Effect::Emit(Event::TransferFailed {
                    peer: Some(peer),
                    reason: format!("refused \"{name}\": {reason}"),
                }));
            }
            TransferEvent::OptionsAgreed {
                id,
                blksize,
                windowsize,
                ..
            } => {
                if self.is_own(id) {
                    return;
                }
                self.evidence.options_used = blksize != 512 || windowsize > 1;
                self.tally.agreed(id, blksize, windowsize);
                let (peer, file) = self.peer_of(id);
                self.enter_transfer(out);
                self.began.insert(id, now);
                out.push(Effect::Emit(Event::TransferStarted {
                    peer,
                    file,
                    blksize,
                    windowsize,
                    total: self.plan.image.size,
                }));
            }
            TransferEvent::Progress {
                id,
                bytes,
                timeouts,
                ..
            } => {
                if self.is_own(id) {
                    return;
                }
                self.enter_transfer(out);
                self.last_activity = now;
                self.stall_reported = false;
                self.tally.acknowledged(id, bytes);
                self.evidence.bytes_moved = self.evidence.bytes_moved.max(bytes);
                let took = now
                    .saturating_duration_since(*self.began.entry(id).or_insert(now))
                    .as_secs_f64();
                let rate = if took > 0.0 {
                    (bytes as f64 / took) as u64
                } else {
                    0
                };
                out.push(Effect::Emit(Event::TransferProgressed {
                    bytes,
                    total: self.plan.image.size,
                    rate,
                    timeouts,
                }));
            }
            TransferEvent::Finished {
                id,
                peer,
                bytes,
                elapsed,
                sha256,
                confirmed,
                ..
            } => {
                // A push reports through its own result, which carries the same facts.
                if self.is_own(id) || !self.method.serves() {
                    return;
                }
                self.tally.completed(bytes);
                self.evidence.bytes_moved = self.evidence.bytes_moved.max(bytes);
                out.push(Effect::Emit(Event::TransferFinished {
                    peer,
                    bytes,
                    took: elapsed,
                    sha256,
                    confirmed,
                }));
                self.transferred(now, out);
            }
            TransferEvent::Failed {
                id, peer, reason, ..
            } => {
                if self.is_own(id) {
                    return;
                }
                self.evidence.failures.push(reason.clone());
                out.push(Effect::Emit(Event::TransferFailed {
                    peer: Some(peer),
                    reason: format!(
                        "{reason} ({}); waiting for the router to ask again",
                        self.tally.describe()
                    ),
                }));
                if self.phase == Phase::Transfer {
                    self.enter(Phase::Waiting, out);
                    // The bootloader retries: give it the whole timeout again.
                    self.waiting_since = Some(now);
                }
            }
            _ => {}
        }
    }

    pub(super) fn peer_of(&self, id: TransferId) -> (SocketAddr, String) {
        self.transfers.get(&id).cloned().unwrap_or_else(|| {
            let peer = match &self.plan.transfer {
                Transfer::Push { to, .. } => *to,
                Transfer::Nmrp { router, .. } => SocketAddr::from((*router, 69)),
                Transfer::Http { page, .. } => page.addr,
                Transfer::Serve { bind, .. } | Transfer::Dhcp { bind, .. } => *bind,
            };
            (peer, self.plan.file().unwrap_or_default().to_owned())
        })
    }

    pub(super) fn pushed(
        &mut self,
        result: Result<Pushed, PushFailure>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        match result {
            Ok(done) => {
                self.tally.completed(done.bytes);
                self.evidence.bytes_moved = done.bytes;
                self.evidence.requests_served += 1;
                out.push(Effect::Emit(Event::TransferFinished {
                    peer: done.peer,
                    bytes: done.bytes,
                    took: done.took,
                    sha256: done.sha256,
                    confirmed: done.confirmed,
                }));
                self.transferred(now, out);
            }
            Err(PushFailure::NoAnswer) => {
                out.push(Effect::Emit(Event::TransferFailed {
                    peer: None,
                    reason: format!(
                        "the router's TFTP server did not answer within {} s",
                        self.plan.timeout.as_secs()
                    ),
                }));
                let outcome = if self.evidence.router_seen.is_some() {
                    RunOutcome::Failed
                } else {
                    RunOutcome::TimedOut
                };
                self.end(outcome, out);
            }
            Err(PushFailure::Other(reason)) => {
                self.evidence.failures.push(reason.clone());
                out.push(Effect::Emit(Event::TransferFailed {
                    peer: None,
                    reason: format!("{reason} ({})", self.tally.describe()),
                }));
                self.end(RunOutcome::Failed, out);
            }
        }
    }

    /// The router has the whole image: end here, or watch it write and come back.
    pub(super) fn transferred(&mut self, now: Instant, out: &mut Vec<Effect>) {
        // On the console the image is in the bootloader's RAM, not its flash: the console
        // leg proves it and decides what follows, and ends the run.
        if self.plan.console.is_some() {
            return;
        }
        if self.plan.after_transfer == AfterTransfer::Exit {
            self.end(RunOutcome::Flashed, out);
            return;
        }
        self.enter(Phase::Flashing, out);
        out.push(Effect::Emit(Event::FlashingStarted {
            expected: self.plan.flash,
            after: self.plan.after,
        }));
        self.countdown = Some(Countdown::new(now, self.plan.flash));
        if let (Some(_), Setting::Host { .. }) = (&self.plan.port, self.setting) {
            for ip in self.known.clone() {
                out.push(Effect::Probe(ip));
            }
        }
    }
}
