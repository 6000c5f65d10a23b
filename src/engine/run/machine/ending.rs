//! The end of a run: the last events, and the summary line that says how it ended and
//! what to do next.

use super::{
    AfterTransfer, Effect, Event, Item, Machine, Phase, RunOutcome, Tally, Transfer, checklist,
};

impl Machine {
    /// The driver has stopped everything and restored the network: the last events.
    pub fn conclude(&mut self, outcome: RunOutcome) -> (Vec<Effect>, Conclusion) {
        let mut out = Vec::new();
        self.enter(Phase::Done, &mut out);
        let checklist = if matches!(outcome, RunOutcome::Flashed | RunOutcome::Transferred) {
            Vec::new()
        } else {
            checklist::evaluate(&self.evidence)
        };
        let summary = self.summary_line(outcome);
        out.push(Effect::Emit(Event::Finished {
            outcome,
            summary,
            checklist: checklist.clone(),
        }));
        let conclusion = Conclusion {
            outcome,
            checklist,
            tally: self.tally.clone(),
            changes_made: std::mem::take(&mut self.changes_made),
            changes_undone: std::mem::take(&mut self.changes_undone),
            undo_failures: std::mem::take(&mut self.undo_failures),
            refused: self.refused.take(),
        };
        (out, conclusion)
    }

    pub(super) fn summary_line(&self, outcome: RunOutcome) -> String {
        if let Some(why) = &self.refused {
            return format!("nothing was changed and nothing was sent: {why}");
        }
        let plan = &self.plan;
        match outcome {
            // NMRP: the router said it is done (CLOSE_REQ) and never restarts by itself.
            RunOutcome::Flashed if matches!(plan.transfer, Transfer::Nmrp { .. }) => {
                "the router wrote the image and closed the NMRP session: switch it off and on now; it does not restart by itself".into()
            }
            // The console leg read the flash back and compared its CRC-32 before the reset.
            RunOutcome::Flashed if plan.console.is_some() => {
                "the flash holds the image (read back, CRC-32 equal) and the board was reset".into()
            }
            // The boot step ends well only on the bootloader's start line.
            RunOutcome::Transferred if self.ram_boot => {
                "the image was proven by CRC-32 and started from RAM: the router runs it until it is switched off; nothing was written to flash".into()
            }
            RunOutcome::Transferred if plan.console.is_some() => {
                "the image is in the router's RAM and proven by CRC-32; nothing was written to flash (that needs the profile's console recipe and a yes, asked or --yes)".into()
            }
            RunOutcome::Flashed if plan.after_transfer == AfterTransfer::Exit => {
                "the router has the whole image; it writes its flash now: do not switch it off"
                    .into()
            }
            RunOutcome::Flashed => match self.back_at.or(plan.after) {
                Some(at) => format!("the router is back at {at}: the recovery worked"),
                None => {
                    "the router took the image and the expected flashing time has passed".into()
                }
            },
            RunOutcome::Transferred => format!(
                "the router took the image but did not answer at {} afterwards; give it a few more minutes, then look for it there (OpenWrt answers on 192.168.1.1, stock firmware often on 192.168.0.1)",
                if self.known.is_empty() {
                    "its usual address".to_owned()
                } else {
                    self.known
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                }
            ),
            RunOutcome::Failed if self.tally.anything_sent() => format!(
                "the recovery failed: {}. See the checklist for what to fix, then run again",
                self.tally.describe()
            ),
            RunOutcome::Failed => {
                "the recovery failed: see the checklist for what to fix, then run again".into()
            }
            RunOutcome::TimedOut => {
                "the router never asked: it is not in recovery mode. See the checklist (timing, link), then run again".into()
            }
            RunOutcome::Interrupted if self.tally.anything_sent() => {
                format!("stopped ({}); the network is restored", self.tally.describe())
            }
            RunOutcome::Interrupted => {
                "stopped; nothing was sent to the router; the network is restored".into()
            }
        }
    }
}

/// What the run leaves for its summary.
#[derive(Debug, Clone)]
pub struct Conclusion {
    /// How it ended.
    pub outcome: RunOutcome,
    /// The checklist at the end (empty after a success).
    pub checklist: Vec<Item>,
    /// What went out to the router.
    pub tally: Tally,
    /// Network changes made, in words.
    pub changes_made: Vec<String>,
    /// Network changes undone, in words.
    pub changes_undone: Vec<String>,
    /// Changes that could not be undone.
    pub undo_failures: Vec<String>,
    /// The approval was refused.
    pub refused: Option<String>,
}
