//! Steps paced by evidence: the checklist refreshed as evidence changes, and each of the
//! profile's steps shown once the wire says the one before is done.

use super::{Duration, Effect, Event, Instant, Machine, Progress, STEP_PATIENCE, checklist};

impl Machine {
    /// Sends the checklist when an item's status changed; details (such as seconds waited)
    /// alone do not count.
    pub(super) fn refresh_checklist(&mut self, out: &mut Vec<Effect>) {
        let checklist = checklist::evaluate(&self.evidence);
        let changed = checklist.len() != self.checklist.len()
            || checklist
                .iter()
                .zip(&self.checklist)
                .any(|(now, before)| now.status != before.status);
        if changed {
            self.checklist.clone_from(&checklist);
            out.push(Effect::Emit(Event::ChecklistUpdated { checklist }));
        }
    }

    /// How far the router has come, as far as the wire can tell.
    pub(super) fn progress(&self) -> Progress {
        if self.evidence.requests_on_wire > 0 || self.evidence.requests_served > 0 {
            Progress::Request
        } else if self.evidence.router_seen.is_some() {
            Progress::RouterSeen
        } else if self.evidence.carrier == Some(true) {
            Progress::LinkUp
        } else {
            Progress::Nothing
        }
    }

    /// Whether the step on screen is done, so the next one is due: a request means every
    /// step before the transfer is done; a timed step ("hold the button for 10 s") is done
    /// once its seconds have passed (the wire showing the router early must not cut the
    /// holding short); an untimed step k is done once the wire shows the k-th sign of
    /// progress (link, the router speaking, its request), or after [`STEP_PATIENCE`].
    pub(super) fn step_done(&self, now: Instant) -> bool {
        let shown = self.steps_shown;
        if shown == 0 {
            return true;
        }
        let progress = self.progress();
        if progress == Progress::Request {
            return true;
        }
        if let Some(at) = self.next_step_at {
            return now >= at;
        }
        let wanted = match shown {
            1 => Progress::LinkUp,
            2 => Progress::RouterSeen,
            _ => Progress::Request,
        };
        progress >= wanted
            || self
                .step_shown_at
                .is_some_and(|at| now.saturating_duration_since(at) >= STEP_PATIENCE)
    }

    /// Shows the device's steps one by one, each once the one before is done as far as the
    /// wire can tell ([`Self::step_done`]).
    pub(super) fn show_due_steps(&mut self, now: Instant, out: &mut Vec<Effect>) {
        while self.steps_shown < self.plan.steps.len() && self.step_done(now) {
            let step = self.plan.steps[self.steps_shown].clone();
            self.steps_shown += 1;
            self.step_shown_at = Some(now);
            self.next_step_at = step
                .seconds
                .map(|s| now + Duration::from_secs(u64::from(s)));
            out.push(Effect::Emit(Event::Step {
                number: self.steps_shown,
                action: step.action,
                seconds: step.seconds,
                led: step.led,
            }));
        }
    }
}
