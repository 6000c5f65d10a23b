//! The `--json` stream of a run read as typed events, matched by variant rather than by string
//! keys. [`RunEvent`] mirrors the JSON form of `rescue_wizard::engine::Event` (`ui/json.rs`):
//! the event's name in `event`, kebab-case, and its fields beside it, with the crate's own
//! [`Phase`] and [`RunOutcome`]. Only the fields a test reads are named (the rest are ignored);
//! an event no test reads parses as [`RunEvent::Other`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
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
        /// The image served or pushed (a copy, when the run cut a bootloader off it).
        image: PathBuf,
        /// Its SHA-256, hex.
        sha256: String,
    },
    /// A preflight item came out.
    Checked {
        /// The item.
        check: Check,
    },
    /// The preflight stopped the run before anything changed.
    PreflightFailed {
        /// The checks that stop it.
        blocking: Vec<Check>,
    },
    /// Our TFTP server listens.
    Listening {},
    /// Our own server handed out the image through the rescue address.
    SelfTestPassed {},
    /// One of the device's steps.
    Step {},
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
        /// Who asked.
        peer: SocketAddr,
        /// Which name it asked for.
        file: String,
    },
    /// A frame on the port.
    Wire {},
    /// What the wire tells.
    Noticed {
        /// The finding.
        finding: Finding,
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
        /// What was found and what to do, in words.
        said: String,
    },
    /// Another DHCP server answered the probe.
    DhcpOtherServer {
        /// Its address.
        address: Ipv4Addr,
        /// Its MAC, `aa:bb:cc:dd:ee:ff`, when it answered ARP.
        mac: Option<String>,
    },
    /// The run asks the technician to approve its network changes.
    ConsentNeeded {},
    /// The run changed this computer's network (through the journal).
    NetworkChanged {
        /// The change in words.
        change: String,
    },
    /// Something else undid a change, or the link came or went.
    NetworkNoticed {
        /// What happened, in words.
        what: String,
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
        /// The other side.
        peer: SocketAddr,
        /// Bytes moved.
        bytes: u64,
        /// How long it took, in seconds.
        took: f64,
        /// SHA-256 of what was sent, hex.
        sha256: String,
        /// False when the last ACK never came.
        confirmed: bool,
    },
    /// A transfer failed.
    TransferFailed {
        /// Why, in words.
        reason: String,
    },
    /// Nothing has moved for a while.
    Stalled {
        /// What is stuck, in words.
        what: String,
        /// The checklist, from what was seen.
        checklist: Vec<ChecklistItem>,
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
        /// Seconds since the transfer ended.
        after: f64,
    },
    /// The technician stopped the run.
    Interrupted {
        /// The phase the run was in.
        phase: Phase,
        /// What that means for the router, in words.
        advice: String,
    },
    /// The run ended.
    Finished {
        /// How.
        outcome: RunOutcome,
        /// In words.
        summary: String,
        /// The troubleshooting checklist (empty when the run succeeded).
        checklist: Vec<ChecklistItem>,
    },
    /// The report was written.
    ReportWritten {
        /// Where.
        path: PathBuf,
    },
    /// NMRP: no router has answered the advertisements yet.
    NmrpAdvertising {
        /// Advertisements sent so far.
        sent: u32,
    },
    /// NMRP: the router answered: its bootloader is in recovery mode.
    NmrpRouterAnswered {
        /// Its MAC, `aa:bb:cc:dd:ee:ff`.
        mac: String,
    },
    /// NMRP: the router took its address and region.
    NmrpConfigured {
        /// Its address.
        router: Ipv4Addr,
        /// Its netmask.
        netmask: Ipv4Addr,
        /// The region written, by name.
        region: Option<String>,
    },
    /// NMRP: the router asked for the image.
    NmrpUploadRequested {},
    /// NMRP: a keep-alive while the router writes its flash.
    NmrpKeepAlive {
        /// Keep-alives so far.
        count: u32,
        /// Seconds since the end of the upload.
        since_upload: f64,
    },
    /// NMRP: the router wrote the image and closed.
    NmrpClosed {
        /// Keep-alives answered while it wrote.
        keep_alives: u32,
    },
    /// NMRP: the router turned the image down.
    NmrpRejected {
        /// How it said so.
        why: String,
        /// What may have led to it.
        causes: Vec<String>,
    },
    /// NMRP: the port's link went down or came back.
    NmrpLinkChanged {
        /// Whether the link is up now.
        up: bool,
        /// Where the NMRP exchange stood.
        during: NmrpPhase,
    },
    /// NMRP: the router fell silent after the upload.
    NmrpRouterSilent {},
    /// Console: the serial port is open.
    ConsoleOpened {},
    /// Console: one line the bootloader printed.
    ConsoleLine {
        /// The line, without its end.
        line: String,
    },
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
    /// Console: a boot of the proven image from RAM, offered or taken.
    ConsoleRamBoot {
        /// Whether it is the path taken.
        chosen: bool,
    },
    /// Any event the tests do not read.
    #[serde(other)]
    Other,
}

/// Whether an event is of one kind (a `matches!` on its variant), for tables of kinds.
pub type IsKind = fn(&RunEvent) -> bool;

impl RunEvent {
    /// Whether this is one of the NMRP exchange's events (`nmrp-...`).
    pub fn is_nmrp(&self) -> bool {
        matches!(
            self,
            RunEvent::NmrpAdvertising { .. }
                | RunEvent::NmrpRouterAnswered { .. }
                | RunEvent::NmrpConfigured { .. }
                | RunEvent::NmrpUploadRequested {}
                | RunEvent::NmrpKeepAlive { .. }
                | RunEvent::NmrpClosed { .. }
                | RunEvent::NmrpRejected { .. }
                | RunEvent::NmrpLinkChanged { .. }
                | RunEvent::NmrpRouterSilent {}
        )
    }
}

/// A preflight check, as `checked` and `preflight-failed` carry it
/// (`rescue_wizard::net::check::Check`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Check {
    /// What it is about.
    pub kind: CheckKind,
    /// How it came out.
    pub verdict: CheckVerdict,
}

/// What a check is about (`net::check::CheckKind`); the kinds no test reads are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The host firewall's rules for the router's traffic.
    Firewall,
    /// Any other kind.
    #[serde(other)]
    Other,
}

/// How a check came out (`net::check::CheckOutcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckVerdict {
    /// Fine.
    Pass,
    /// Works, but something may get in the way.
    Warn,
    /// Will not work until fixed.
    Fail,
}

/// One item of the troubleshooting checklist (`engine::checklist::Item`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChecklistItem {
    /// What is checked.
    pub item: String,
    /// How it came out.
    pub status: ChecklistStatus,
    /// What to do, unless it passed.
    pub fix: Option<String>,
}

/// How a checklist item came out (`engine::checklist::ItemStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecklistStatus {
    /// The evidence says this is fine.
    Pass,
    /// No evidence either way.
    Unknown,
    /// The evidence says this is what is wrong.
    Fail,
}

/// Where the NMRP exchange stood (`nmrp::session::Phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NmrpPhase {
    /// Advertising, no router yet.
    Advertising,
    /// Giving the router its address.
    Configuring,
    /// The image moves.
    Uploading,
    /// The router writes its flash.
    Flashing,
    /// The session is over.
    Finished,
}

/// What the wire tells, as `noticed` events and the watch's lines carry it
/// (`net::observe::WireSign`, tagged `finding`); the findings no test reads are `Other`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// A device answered or spoke for the first time.
    RouterSeen {
        /// Its address.
        ip: Ipv4Addr,
    },
    /// The router asks for a server address this computer does not have.
    WantsServerAddress {
        /// The router.
        router: Ipv4Addr,
        /// The address it wants.
        wants: Ipv4Addr,
    },
    /// Nothing came from the router for a while after it was switched on.
    SilentAfterPowerOn {
        /// How long since power-on.
        silent_for: Duration,
        /// The profile's button step, when it times one.
        hold: Option<HoldStep>,
    },
    /// Any other finding.
    #[serde(other)]
    Other,
}

/// A profile's timed button step, as a finding quotes it (`net::observe::HoldStep`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HoldStep {
    /// The step as the profile words it.
    pub action: String,
    /// How long, in seconds.
    pub seconds: u32,
}

/// A frame the watch recognised (`net::wire::WireEvent`, tagged `kind`); the kinds no test
/// reads are `Other`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wire {
    /// An ARP message.
    Arp {
        /// Which.
        op: ArpOp,
        /// The sender's address.
        sender_ip: Ipv4Addr,
        /// The address asked for or answered to.
        target_ip: Ipv4Addr,
    },
    /// An ICMP echo request or reply.
    Echo {
        /// Which.
        op: EchoOp,
        /// Source address.
        from: Ipv4Addr,
        /// Destination address.
        to: Ipv4Addr,
        /// The IP time-to-live as seen.
        ttl: u8,
    },
    /// A TFTP read or write request.
    Tftp {},
    /// Any other frame.
    #[serde(other)]
    Other,
}

/// Which ARP message (`net::wire::ArpKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArpOp {
    /// "Who has target? Tell sender."
    Request,
    /// "Sender is at this MAC."
    Reply,
    /// The sender announces its own address.
    Gratuitous,
}

/// Which ICMP echo message (`net::wire::EchoKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoOp {
    /// A ping.
    Request,
    /// The answer to a ping.
    Reply,
}

/// One line of `watch --json` (`ui/watch.rs`): a frame or a finding, with `at`, seconds since
/// the Unix epoch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum WatchLine {
    /// A frame on the port.
    Wire {
        /// What was seen.
        wire: Wire,
        /// When.
        at: f64,
    },
    /// What the watch concluded.
    Finding {
        /// The finding.
        finding: Finding,
        /// When.
        at: f64,
    },
}

impl WatchLine {
    /// The frame, when the line is one.
    pub fn wire(&self) -> Option<&Wire> {
        match self {
            WatchLine::Wire { wire, .. } => Some(wire),
            WatchLine::Finding { .. } => None,
        }
    }

    /// The finding, when the line is one.
    pub fn finding(&self) -> Option<&Finding> {
        match self {
            WatchLine::Finding { finding, .. } => Some(finding),
            WatchLine::Wire { .. } => None,
        }
    }
}

/// An event with the time `--json` stamps on every line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Stamped {
    /// Seconds since the run started, rounded to the millisecond.
    pub at: f64,
    /// The event.
    #[serde(flatten)]
    pub event: RunEvent,
}

/// The stamped events among `stdout`'s lines (lines that are not JSON objects are skipped).
///
/// # Panics
/// On a line that starts like an event but is not one, or has no `at`.
pub fn stamped(stdout: &str) -> Vec<Stamped> {
    stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a stamped event ({e}): {line}"))
        })
        .collect()
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
            RunEvent::Finished {
                outcome, summary, ..
            } => Some((*outcome, summary.as_str())),
            _ => None,
        })
        .collect()
}

/// How many of `events` `wanted` holds for.
pub fn count(events: &[RunEvent], wanted: impl Fn(&RunEvent) -> bool) -> usize {
    events.iter().filter(|e| wanted(e)).count()
}

/// Each `transfer-finished`: the peer, the bytes moved, the seconds it took, and whether the
/// last ACK came.
pub fn transfers_finished(events: &[RunEvent]) -> Vec<(SocketAddr, u64, f64, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TransferFinished {
                peer,
                bytes,
                took,
                confirmed,
                ..
            } => Some((*peer, *bytes, *took, *confirmed)),
            _ => None,
        })
        .collect()
}

/// Each `network-changed` (`restored: false`) or `network-restored` (`true`) change.
pub fn changes(events: &[RunEvent], restored: bool) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match (e, restored) {
            (RunEvent::NetworkChanged { change }, false)
            | (RunEvent::NetworkRestored { change }, true) => Some(change.as_str()),
            _ => None,
        })
        .collect()
}

/// The outcome the run ended with (the first `finished` event's).
pub fn outcome(events: &[RunEvent]) -> RunOutcome {
    finished(events)[0].0
}

/// The commands the run typed on the console, in order.
pub fn typed(events: &[RunEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleTyped { command } => Some(command.as_str()),
            _ => None,
        })
        .collect()
}

/// Each CRC-32 comparison: (ours, the bootloader's).
pub fn crcs(events: &[RunEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleCrc { ours, theirs } => Some((ours.as_str(), theirs.as_str())),
            _ => None,
        })
        .collect()
}

/// What became of the flash: (state, note), once per run.
pub fn flash(events: &[RunEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleFlash { state, note } => Some((state.as_str(), note.as_str())),
            _ => None,
        })
        .collect()
}

/// The run's summaries (one `finished` event).
pub fn summaries(events: &[RunEvent]) -> Vec<&str> {
    finished(events)
        .into_iter()
        .map(|(_, summary)| summary)
        .collect()
}

/// The lines the bootloader printed on the console, in order.
pub fn console_lines(events: &[RunEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleLine { line } => Some(line.as_str()),
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

/// Reads `run`'s output until an event for which `wanted` holds, and returns it.
///
/// # Panics
/// When the output ends or `within` passes first, naming `what` with the run's diagnostics.
pub fn expect_event(
    run: &Proc,
    within: Duration,
    what: &str,
    wanted: impl Fn(&RunEvent) -> bool,
) -> RunEvent {
    wait_for(run, within, wanted)
        .unwrap_or_else(|| panic!("no {what} event within {within:?}\n{}", run.diagnostics()))
}

/// Reads `run`'s output until it says it waits for the router.
///
/// # Panics
/// When the output ends or `within` passes first, with the run's diagnostics.
pub fn wait_for_router(run: &Proc, within: Duration) {
    expect_event(run, within, "waiting-for-router", |e| {
        matches!(e, RunEvent::WaitingForRouter { .. })
    });
}
