//! Carries out a [`Plan`]: preflight, network setup, the server and its self-test, the wait
//! for the router, the transfer, the flashing watch, and the restore. Everything it does
//! becomes one [`Event`] stream; front-ends steer it with [`Command`]s.
//!
//! - [`machine`]: sans-I/O, `(input, now) -> effects`; every rule of the run's timeline.
//! - [`exchange`]: the machine's inputs (each method's news among them) and its effects.
//! - [`method`]: one strategy per recovery method (the router pulls, we push).
//! - [`after`]: the flashing countdown, the back-watch, and what counts as a real gap.
//! - [`tally`]: what went out to the router and what it acknowledged.
//! - [`snapshot`]: the image as checked, served from a private copy.
//! - [`self_test`]: our server proven through the rescue address in a few blocks.
//! - `driver`: carries the effects out (threads, sockets, clock) and feeds results back.
//!
//! The host's network is restored on every way out: the end of the run, a failure, a
//! [`Command::Cancel`], and (through [`crate::net::addr::HostSetup`]'s own drop and journal)
//! a panic or a kill.

pub mod after;
mod driver;
pub mod exchange;
pub mod machine;
pub mod method;
pub mod self_test;
pub mod snapshot;
pub mod tally;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::checklist::Item;
use super::event::{Command, Event, RunOutcome};
use super::plan::{NetworkConsent, Plan, ServerAddress};
use super::simulate::SimulatedRouter;
pub use tally::Tally;

/// Where the run gets its view of the wire and its router from.
pub enum Environment {
    /// A real port: changes to the host, a capture on the port, ARP probes.
    Host {
        /// Where the undo journal lives.
        state_dir: PathBuf,
        /// Whether the network changes were approved already (`--yes`, or the wizard's
        /// confirmation); otherwise the run asks with [`Event::ConsentNeeded`] and waits
        /// for [`Command::Approve`] or [`Command::Refuse`].
        consent: NetworkConsent,
        /// What happens when the router asks for another server address (`--adopt`).
        server_address: ServerAddress,
    },
    /// Loopback with a simulated bootloader: nothing on the host changes.
    Simulated(SimulatedRouter),
}

/// How a run ended, with what the report needs.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The outcome.
    pub outcome: RunOutcome,
    /// Every event with its time since the start.
    pub timeline: Vec<(Duration, Event)>,
    /// When the run started.
    pub started: SystemTime,
    /// The checklist at the end.
    pub checklist: Vec<Item>,
    /// What went out to the router and what it acknowledged.
    pub tally: Tally,
    /// Network changes made, in words.
    pub changes_made: Vec<String>,
    /// Network changes undone, in words.
    pub changes_undone: Vec<String>,
    /// Changes that could not be undone.
    pub undo_failures: Vec<String>,
    /// The approval was refused: nothing was changed (bad input rather than a failure).
    pub refused: Option<String>,
}

/// Runs `plan` in `environment` until it ends, sending every event to `events`.
pub async fn run(
    plan: Plan,
    environment: Environment,
    events: mpsc::UnboundedSender<Event>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> Summary {
    driver::Driver::new(plan, environment, events, commands)
        .run()
        .await
}
