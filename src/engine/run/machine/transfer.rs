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

    /// The transfer's news, each kind to its own step; what the run does not follow (a
    /// write request, the listener's notes) is left out.
    pub(super) fn transfer(&mut self, event: TransferEvent, now: Instant, out: &mut Vec<Effect>) {
        match event {
            TransferEvent::RequestReceived {
                id,
                peer,
                name,
                kind: RequestKind::Read,
                ..
            } => self.request_received(id, peer, name, now, out),
            TransferEvent::RequestRefused {
                peer, name, reason, ..
            } => out.push(Effect::Emit(Event::TransferFailed {
                peer: Some(peer),
                reason: format!("refused \"{name}\": {reason}"),
            })),
            TransferEvent::OptionsAgreed {
                id,
                blksize,
                windowsize,
                ..
            } => self.options_agreed(id, blksize, windowsize, now, out),
            TransferEvent::Progress {
                id,
                bytes,
                timeouts,
                ..
            } => self.progressed(id, bytes, timeouts, now, out),
            TransferEvent::Finished {
                id,
                peer,
                bytes,
                elapsed,
                sha256,
                confirmed,
                ..
            } => {
                let finished = Event::TransferFinished {
                    peer,
                    bytes,
                    took: elapsed,
                    sha256,
                    confirmed,
                };
                self.served(id, bytes, finished, now, out);
            }
            TransferEvent::Failed {
                id, peer, reason, ..
            } => self.transfer_failed(id, peer, reason, now, out),
            _ => {}
        }
    }

    /// A read request: the router asks for the image (the self-test's own request is only
    /// noted, so its news is left out).
    fn request_received(
        &mut self,
        id: TransferId,
        peer: SocketAddr,
        name: String,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
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

    /// The options are agreed: the blocks start moving, and their clock with them.
    fn options_agreed(
        &mut self,
        id: TransferId,
        blksize: u16,
        windowsize: u16,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
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

    /// `bytes` acknowledged so far: the run is alive, at a rate since the transfer began.
    fn progressed(
        &mut self,
        id: TransferId,
        bytes: u64,
        timeouts: u64,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
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

    /// The server sent the whole image (`finished` says so to the front-ends).
    fn served(
        &mut self,
        id: TransferId,
        bytes: u64,
        finished: Event,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        // A push reports through its own result, which carries the same facts.
        if self.is_own(id) || !self.method.serves() {
            return;
        }
        self.tally.completed(bytes);
        self.evidence.bytes_moved = self.evidence.bytes_moved.max(bytes);
        out.push(Effect::Emit(finished));
        self.transferred(now, out);
    }

    /// A transfer failed: the run waits for the router to ask again.
    fn transfer_failed(
        &mut self,
        id: TransferId,
        peer: SocketAddr,
        reason: String,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        if self.is_own(id) {
            return;
        }
        let shown = format!(
            "{reason} ({}); waiting for the router to ask again",
            self.tally.describe()
        );
        self.evidence.failures.push(reason);
        out.push(Effect::Emit(Event::TransferFailed {
            peer: Some(peer),
            reason: shown,
        }));
        if self.phase == Phase::Transfer {
            self.enter(Phase::Waiting, out);
            // The bootloader retries: give it the whole timeout again.
            self.waiting_since = Some(now);
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
