//! The serial console as the router's voice: its lines keep the router heard and the
//! transfer alive, and the write question is the technician's wait, during which no silence
//! or stall alarm is the router's (issue 16).

use super::{Effect, Event, Gap, Instant, Machine, WireSign};
use crate::console::ConsoleEvent;
use crate::engine::run::exchange::ConsoleNews;

impl Machine {
    /// Console news is the router speaking (its bootloader, on the serial line): it keeps the
    /// router "heard" and the transfer alive, as its frames on the wire do. The write
    /// question starts the technician's wait, which no silence or stall alarm counts.
    pub(super) fn console_heard(
        &mut self,
        news: &ConsoleNews,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let ConsoleNews::Dialogue(event) = news else {
            if matches!(news, ConsoleNews::Line(_)) {
                self.router_spoke(now, out);
            }
            return;
        };
        self.router_spoke(now, out);
        self.question_since = match event {
            ConsoleEvent::ConfirmationAsked { .. } => Some(now),
            _ => None,
        };
    }

    /// The router said something at `now`: its silence and the stall clock start again.
    fn router_spoke(&mut self, now: Instant, out: &mut Vec<Effect>) {
        self.last_activity = now;
        self.stall_reported = false;
        if let Some(ip) = self.speaker {
            self.observer.heard_elsewhere(ip, self.wall(now));
        }
        if let (Some(Gap::Back(away_for)), Some(ip)) = (self.quiet.heard(now), self.speaker) {
            out.push(Effect::Emit(Event::Noticed {
                finding: WireSign::RouterBack { ip, away_for },
            }));
        }
    }

    /// The technician answered the write question at `now`: the wait was theirs, so the
    /// router's silence and the stall are measured from the answer, not from the question.
    pub(super) fn question_answered(&mut self, now: Instant) {
        if self.question_since.take().is_some() {
            self.last_activity = now;
            self.stall_reported = false;
            self.quiet.heard(now);
            if let Some(ip) = self.speaker {
                self.observer.heard_elsewhere(ip, self.wall(now));
            }
        }
    }
}
