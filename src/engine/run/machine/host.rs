//! The host's network changes as the run tells them: each change made, undone or noticed
//! becomes an event, and the carrier is told once whoever saw it.

use super::{Effect, Event, HostEvent, Machine};

impl Machine {
    pub(super) fn host_event(&mut self, event: HostEvent, out: &mut Vec<Effect>) {
        let event = match event {
            HostEvent::Changed(change) => {
                self.changes_made.push(change.to_string());
                Event::NetworkChanged {
                    change: change.to_string(),
                }
            }
            HostEvent::Undone(change) => {
                self.changes_undone.push(change.to_string());
                Event::NetworkRestored {
                    change: change.to_string(),
                }
            }
            HostEvent::UndoFailed { change, error } => {
                self.undo_failures.push(format!("{change}: {error}"));
                Event::NetworkRestoreFailed {
                    change: change.to_string(),
                    error: error.to_string(),
                }
            }
            HostEvent::AddressRestored { ifname, cidr } => Event::NetworkNoticed {
                what: format!("something removed {cidr} from {ifname}; it was put back"),
            },
            HostEvent::LinkRestored { ifname } => Event::NetworkNoticed {
                what: format!("something took {ifname} down; it was brought up again"),
            },
            HostEvent::Carrier { ifname, present } => {
                // Told once, whether the keeper or the driver's look at the port saw it.
                if self.evidence.carrier == Some(present) {
                    return;
                }
                self.evidence.carrier = Some(present);
                Event::NetworkNoticed {
                    what: if present {
                        format!("{ifname}: link up (cable in, router powered)")
                    } else {
                        format!("{ifname}: link lost (router off or rebooting, or cable out)")
                    },
                }
            }
            HostEvent::LeftoversCleaned(changes) => Event::NetworkNoticed {
                what: format!(
                    "undone what a previous run left: {}",
                    changes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        };
        out.push(Effect::Emit(event));
    }

    /// The carrier as last reported (for the driver's polling when no keeper watches it).
    pub fn carrier(&self) -> Option<bool> {
        self.evidence.carrier
    }
}
