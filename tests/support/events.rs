//! The `--json` stream of a run read as typed events, matched by variant rather than by string
//! keys. [`RunEvent`] mirrors the JSON form of `rescue_wizard::engine::Event` (`ui/json.rs`):
//! the event's name in `event`, kebab-case, and its fields beside it, with the crate's own
//! [`Phase`] and [`RunOutcome`]. Only the fields a test reads are named (the rest are ignored);
//! an event no test reads parses as [`RunEvent::Other`].

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rescue_wizard::engine::{Phase, RunOutcome};
use serde::Deserialize;

use super::Proc;

/// One event of a run, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    /// The run is planned.
    Planned {
        /// The router's address, where the procedure has one.
        router: Option<Ipv4Addr>,
    },
    /// A phase of the run began.
    PhaseStarted {
        /// Which.
        phase: Phase,
    },
    /// The run waits for the router.
    WaitingForRouter {
        /// For what, in words.
        what: String,
    },
    /// The router asked for a file.
    RequestReceived {
        /// Which name it asked for.
        file: String,
    },
    /// The DHCP/BOOTP responder gave the router its lease.
    DhcpLeased {
        /// The client's MAC, `aa:bb:cc:dd:ee:ff`.
        client: String,
        /// The address leased.
        address: Ipv4Addr,
        /// The boot file named in the reply.
        boot_file: String,
        /// Whether the client spoke plain BOOTP (no DHCP message type).
        bootp: bool,
    },
    /// The probe for other DHCP servers on the port ended.
    DhcpProbed {
        /// The servers that answered.
        answered: Vec<Ipv4Addr>,
        /// Whether the run stops here.
        stopped: bool,
    },
    /// Another DHCP server answered the probe.
    DhcpOtherServer {
        /// Its address.
        address: Ipv4Addr,
    },
    /// The run changed this computer's network (through the journal).
    NetworkChanged {
        /// The change in words.
        change: String,
    },
    /// The run undid one of its changes.
    NetworkRestored {
        /// The change in words.
        change: String,
    },
    /// A transfer began.
    TransferStarted {},
    /// A transfer moved on.
    TransferProgressed {
        /// Bytes moved so far.
        bytes: u64,
    },
    /// A transfer ended: every block went out.
    TransferFinished {
        /// Bytes moved.
        bytes: u64,
    },
    /// A transfer failed.
    TransferFailed {
        /// Why, in words.
        reason: String,
    },
    /// The bootloader's web page did not answer (yet).
    HttpPageDown {},
    /// The bootloader's web page answered.
    HttpPageUp {},
    /// The upload is tried again.
    HttpRetrying {},
    /// The page reported the size and MD5 it received.
    HttpVerified {
        /// Bytes the page received.
        size: u64,
        /// Their MD5, as the page said it.
        md5: String,
    },
    /// The page answered the upload.
    HttpAnswered {
        /// Its words.
        said: String,
        /// Whether they are the success text.
        accepted: bool,
    },
    /// The router began writing its flash.
    FlashingStarted {
        /// Where it is expected back.
        after: Option<Ipv4Addr>,
    },
    /// The flashing countdown moved on.
    FlashingCountdown {},
    /// The router answered again after flashing.
    RouterBack {
        /// At this address.
        ip: Ipv4Addr,
    },
    /// The run ended.
    Finished {
        /// How.
        outcome: RunOutcome,
        /// In words.
        summary: String,
    },
    /// Console: the serial port is open.
    ConsoleOpened {},
    /// Console: a note on what the dialogue found or chose.
    ConsoleNoted {
        /// In words.
        what: String,
    },
    /// Console: a command was typed.
    ConsoleTyped {
        /// The command.
        command: String,
    },
    /// Console: the bootloader's CRC-32 of a region, beside ours.
    ConsoleCrc {
        /// Ours, 8 hex digits.
        ours: String,
        /// The bootloader's.
        theirs: String,
    },
    /// Console: what became of the flash.
    ConsoleFlash {
        /// `verified`, `untouched`, ...
        state: String,
        /// In words.
        note: String,
    },
    /// Console: the run asks before erasing and writing the flash.
    ConsoleWriteAsked {
        /// What would be done, in words.
        what: String,
        /// The CRC-32 that proved the image in RAM.
        crc: String,
    },
    /// Any event the tests do not read.
    #[serde(other)]
    Other,
}

/// The events among `stdout`'s lines (lines that are not JSON objects are skipped).
///
/// # Panics
/// On a line that starts like an event but is not one: the stream is broken.
pub fn events(stdout: &str) -> Vec<RunEvent> {
    stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not an event ({e}): {line}"))
        })
        .collect()
}

/// The outcome and the summary of each `finished` event (a run ends with one).
pub fn finished(events: &[RunEvent]) -> Vec<(RunOutcome, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Finished { outcome, summary } => Some((*outcome, summary.as_str())),
            _ => None,
        })
        .collect()
}

/// Reads `run`'s output until an event for which `wanted` holds; `None` when the output ends
/// or `within` passes first.
pub fn wait_for(
    run: &Proc,
    within: Duration,
    wanted: impl Fn(&RunEvent) -> bool,
) -> Option<RunEvent> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = run.next_line(left)?;
        if let Ok(event) = serde_json::from_str::<RunEvent>(&line)
            && wanted(&event)
        {
            return Some(event);
        }
    }
}
