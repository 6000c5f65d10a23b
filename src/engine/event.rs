//! What a recovery run tells its front-ends ([`Event`], past tense, plain data) and what they
//! may ask of it ([`Command`]).
//!
//! Every event serialises to one JSON object with an `event` field naming it; `--json` prints
//! them one per line, with `at` (seconds since the run started) added. Each event also reads as
//! a line in a technician's words (`Display`, in the child module `display`, by family).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checklist::Item;
use crate::net::check::Check;
use crate::net::observe::WireSign;
use crate::net::wire::WireEvent;

// Each event in a technician's words (`Display`), by family of events.
mod display;

/// The stages of a run, in order.
// Deserialize: a reader of `--json` (the tests' typed reader) gets the phase back as this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The image, privileges, the port, the firewall, UDP port 69.
    Preflight,
    /// The rescue address on the port, with consent.
    Network,
    /// Our own server answers through the rescue address with the right bytes.
    SelfTest,
    /// The technician follows the device's steps; the wire is watched.
    Waiting,
    /// The image moves.
    Transfer,
    /// The router writes its flash and reboots.
    Flashing,
    /// The network is restored and the report written.
    Done,
}

impl Phase {
    /// The phase in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Preflight => "checking the image and this computer",
            Phase::Network => "setting up the network",
            Phase::SelfTest => "checking that the image can be fetched through the rescue address",
            Phase::Waiting => "waiting for the router",
            Phase::Transfer => "transferring the image",
            Phase::Flashing => "the router is writing its flash",
            Phase::Done => "finishing",
        }
    }
}

/// How a run ended.
// Deserialize: as for `Phase`, a reader of `--json` gets the outcome back as this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// The image was transferred and the router came back (or the run was asked to end once
    /// the transfer was confirmed).
    Flashed,
    /// The image was transferred, the router has not been seen since: it may still be
    /// writing its flash.
    Transferred,
    /// The transfer failed, or a step before it did.
    Failed,
    /// The router did nothing before the timeout.
    TimedOut,
    /// The technician stopped the run.
    Interrupted,
}

impl RunOutcome {
    /// The outcome in a sentence.
    pub fn describe(self) -> &'static str {
        match self {
            RunOutcome::Flashed => "flashed",
            RunOutcome::Transferred => {
                "transferred: the router took the image but has not been seen since"
            }
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "nothing happened: the router was not heard before the timeout",
            RunOutcome::Interrupted => "stopped by the technician",
        }
    }
}

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The run is planned: what it will do, in words.
    Planned {
        /// The device id.
        device: String,
        /// The device in words (vendor, model).
        model: String,
        /// Pull (the router fetches) or push (we send).
        method: String,
        /// The port the router is plugged into (none in the demo).
        interface: Option<String>,
        /// The address this computer takes.
        host: Option<String>,
        /// The router's address in recovery mode.
        router: Option<Ipv4Addr>,
        /// The file name the bootloader asks for (pull) or is sent (push).
        file: Option<String>,
        /// The image served or pushed.
        image: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// Its SHA-256, hex.
        sha256: String,
    },
    /// A new phase began.
    PhaseStarted {
        /// The phase.
        phase: Phase,
    },
    /// A preflight item came out.
    Checked {
        /// The item.
        check: Check,
    },
    /// The preflight found what the technician must fix first (privileges, UDP port 69, the
    /// firewall, the image or the port gone): nothing was changed and nothing was sent.
    PreflightFailed {
        /// What stops the run, in words.
        reason: String,
        /// The checks that stop it, each with its fix (none when the image or the port is
        /// the reason).
        blocking: Vec<Check>,
    },
    /// The run needs the technician's approval for these network changes: answer with
    /// [`Command::Approve`] or [`Command::Refuse`].
    ConsentNeeded {
        /// The changes, one line each (all undone at the end).
        changes: Vec<String>,
    },
    /// A change was made to this computer's network (journaled; undone at the end).
    NetworkChanged {
        /// The change in words.
        change: String,
    },
    /// Something else removed our change and it was put back, or the link came or went.
    NetworkNoticed {
        /// What happened, in words.
        what: String,
    },
    /// A change was undone.
    NetworkRestored {
        /// The change in words.
        change: String,
    },
    /// A change could not be undone: it must be undone by hand (the next start retries).
    NetworkRestoreFailed {
        /// The change in words.
        change: String,
        /// Why.
        error: String,
    },
    /// The network changes could not be made: nothing was sent, and what was changed is
    /// undone.
    NetworkSetupFailed {
        /// What failed, with the fix.
        error: String,
    },
    /// The TFTP server listens.
    Listening {
        /// Its address and port.
        addr: SocketAddr,
    },
    /// Our TFTP server could not start: nothing was sent.
    ServerStartFailed {
        /// Why, with the fix.
        error: String,
    },
    /// Our own server handed out the image's first block through the rescue address, and
    /// the first and last blocks match the image checked.
    SelfTestPassed {
        /// Bytes fetched over the wire (the first block).
        bytes: u64,
        /// How long it took.
        #[serde(with = "seconds")]
        took: Duration,
    },
    /// The self-test fetch failed or returned other bytes.
    SelfTestFailed {
        /// What went wrong, with the fix.
        reason: String,
    },
    /// One of the device's steps, to do now.
    Step {
        /// Its number, from 1.
        number: usize,
        /// What to do.
        action: String,
        /// How long, when the profile says.
        seconds: Option<u32>,
        /// The LED to watch for, when the profile says.
        led: Option<String>,
    },
    /// The run waits for the router.
    WaitingForRouter {
        /// What it waits for, in words.
        what: String,
        /// Until giving up.
        #[serde(with = "seconds")]
        timeout: Duration,
    },
    /// A frame on the port (ARP, ping, DHCP, TFTP request...).
    Wire {
        /// What was seen.
        wire: WireEvent,
    },
    /// What the wire tells (router seen, wrong server address, silent after power-on...).
    Noticed {
        /// The finding.
        finding: WireSign,
    },
    /// The router asked for a file (pull).
    RequestReceived {
        /// Who asked.
        peer: SocketAddr,
        /// The name asked for, escaped for display.
        file: String,
    },
    /// The transfer started with these parameters.
    TransferStarted {
        /// The other side.
        peer: SocketAddr,
        /// The file name.
        file: String,
        /// Bytes per block.
        blksize: u16,
        /// Blocks per window.
        windowsize: u16,
        /// Bytes to move.
        total: u64,
    },
    /// Data moved (about ten a second at most).
    TransferProgressed {
        /// Bytes acknowledged.
        bytes: u64,
        /// Bytes to move.
        total: u64,
        /// Bytes a second, averaged over the transfer so far.
        rate: u64,
        /// Retransmission timeouts so far.
        timeouts: u64,
    },
    /// Every byte arrived.
    TransferFinished {
        /// The other side.
        peer: SocketAddr,
        /// Bytes moved.
        bytes: u64,
        /// How long it took.
        #[serde(with = "seconds")]
        took: Duration,
        /// SHA-256 of what was sent.
        sha256: String,
        /// False when every block went out but the last ACK never came.
        confirmed: bool,
    },
    /// The transfer failed; the run goes on waiting when the router may ask again.
    TransferFailed {
        /// The other side, when known.
        peer: Option<SocketAddr>,
        /// Why.
        reason: String,
    },
    /// The checklist changed with new evidence (sent only when an item changed), for
    /// front-ends that show it ticking itself.
    ChecklistUpdated {
        /// The whole checklist, as it stands.
        checklist: Vec<Item>,
    },
    /// Nothing has moved for a while: the checklist, from what was seen.
    Stalled {
        /// What is stuck, in words.
        what: String,
        /// The fix to try now, from the checklist (the first failing item's, else the first
        /// unknown one's).
        fix: Option<String>,
        /// The checklist.
        checklist: Vec<Item>,
    },
    /// The router is writing its flash: do not power it off.
    FlashingStarted {
        /// How long the profile says it takes.
        #[serde(with = "seconds")]
        expected: Duration,
        /// Where the router answers afterwards.
        after: Option<Ipv4Addr>,
    },
    /// The flashing countdown: each second left told once, then zero once ("should be
    /// done by now").
    FlashingCountdown {
        /// Seconds left of the expected duration.
        #[serde(with = "seconds")]
        remaining: Duration,
    },
    /// The router went quiet (it reboots).
    RouterLeft {
        /// Its recovery address.
        ip: Ipv4Addr,
    },
    /// The router answers at its post-flash address.
    RouterBack {
        /// The address.
        ip: Ipv4Addr,
        /// Since the transfer ended.
        #[serde(with = "seconds")]
        after: Duration,
    },
    /// The technician stopped the run: what state the router may be in.
    Interrupted {
        /// The phase the run was in.
        phase: Phase,
        /// What that means for the router and what to do.
        advice: String,
    },
    /// The run ended.
    Finished {
        /// How.
        outcome: RunOutcome,
        /// The outcome in words, with what to do next.
        summary: String,
        /// The troubleshooting checklist, when the run did not succeed.
        checklist: Vec<Item>,
    },
    /// The report was written.
    ReportWritten {
        /// Where.
        path: PathBuf,
    },
    /// NMRP: a Netgear bootloader answered the advertisements: it is in recovery mode.
    NmrpRouterAnswered {
        /// Its MAC as its frames carry it (all zeros on units with cleared settings).
        mac: String,
    },
    /// NMRP: the router was given its address (and region).
    NmrpConfigured {
        /// Its address.
        router: Ipv4Addr,
        /// Its netmask.
        netmask: Ipv4Addr,
        /// The region written, by name.
        region: Option<String>,
    },
    /// NMRP: the router asked for the image under this name: the upload starts.
    NmrpUploadRequested {
        /// The name it gave ("firmware" when it gave none).
        file: String,
        /// Its MAC, given a static ARP entry for the upload.
        router_mac: String,
    },
    /// NMRP: the router is writing its flash and said so with a keep-alive, answered.
    NmrpKeepAlive {
        /// Keep-alives so far.
        count: u32,
        /// Since the end of the upload.
        #[serde(with = "seconds")]
        since_upload: Duration,
    },
    /// NMRP: the router wrote the image and closed; it does not restart by itself.
    NmrpClosed {
        /// Keep-alives answered while it wrote.
        keep_alives: u32,
        /// From the end of the upload to the close.
        #[serde(with = "seconds")]
        since_upload: Duration,
    },
    /// NMRP: the router turned the image down.
    NmrpRejected {
        /// How it said so.
        why: String,
        /// What leads a Netgear bootloader to do that, those that may apply here.
        causes: Vec<String>,
    },
    /// NMRP: the router fell silent after the upload.
    NmrpRouterSilent {
        /// Keep-alives answered before.
        keep_alives: u32,
        /// Since the end of the upload.
        #[serde(with = "seconds")]
        since_upload: Duration,
    },
    /// DHCP/BOOTP: the router was given its address, our address as its server and the boot
    /// file: it pulls the boot file next.
    DhcpLeased {
        /// Its MAC.
        client: String,
        /// The address given.
        address: Ipv4Addr,
        /// Its vendor class (option 60: `Mips_boot`, `U-Boot.armv7`), when it sent one.
        vendor_class: Option<String>,
        /// The boot file given.
        boot_file: String,
        /// It asked by BOOTP (answered without a message type).
        bootp: bool,
    },
    /// DHCP/BOOTP: another DHCP server answers on the port: the router may take its answer,
    /// with another address and no boot file.
    DhcpOtherServer {
        /// Its address.
        address: Ipv4Addr,
        /// Its MAC, when it answered ARP.
        mac: Option<String>,
        /// What was seen and what to do, in words.
        said: String,
    },
    /// Console: the serial port is open; nothing was typed.
    ConsoleOpened {
        /// Its path.
        port: PathBuf,
        /// Its baud rate.
        baud: u32,
    },
    /// Console: one line the bootloader printed (its echo of what was typed included).
    ConsoleLine {
        /// The line, without its end.
        line: String,
    },
    /// Console: what the dialogue did or found (the window, the stop token, the prompt, an
    /// answer, what it waits for).
    ConsoleNoted {
        /// In words.
        what: String,
    },
    /// Console: a command was typed, its echo read back, and entered.
    ConsoleTyped {
        /// The command.
        command: String,
    },
    /// Console: the bootloader's CRC-32 of a copy of the image, and ours.
    ConsoleCrc {
        /// Which copy: the one loaded in RAM, or the one read back from flash.
        region: String,
        /// Ours, hex.
        ours: String,
        /// The bootloader's, hex.
        theirs: String,
        /// Whether they are equal.
        equal: bool,
    },
    /// Console: where the flash stands as the dialogue ends.
    ConsoleFlash {
        /// `untouched`, `erasing`, `erased`, `writing`, `written`, `verified` or `differs`.
        state: String,
        /// The same in words, with the address range.
        note: String,
    },
    /// Console: everything the bootloader printed, for the report.
    ConsoleTranscript {
        /// The text.
        text: String,
    },
    /// HTTP: the router's upload page does not answer yet (its bootloader is not up, or it
    /// was reset by a request that came too early): it is tried again.
    HttpPageDown {
        /// Why the connection failed.
        reason: String,
        /// Tries so far.
        tries: u32,
    },
    /// HTTP: the upload page took a connection; the upload starts.
    HttpPageUp {
        /// Which upload attempt (1 for the first).
        attempt: u32,
    },
    /// HTTP: the connection was lost mid-upload; the upload starts again from the first byte.
    HttpRetrying {
        /// Why.
        reason: String,
        /// The attempt about to start.
        attempt: u32,
        /// Image bytes the lost attempt had delivered.
        reached: u64,
    },
    /// HTTP: the MTK failsafe page received exactly our image (size and MD5 it reported).
    HttpVerified {
        /// Its size.
        size: u64,
        /// Its MD5.
        md5: String,
    },
    /// HTTP: what the page answered to the upload.
    HttpAnswered {
        /// The page's words.
        said: String,
        /// Whether they are the page's success text.
        accepted: bool,
    },
    /// Console: the loaded image is proven, and the flash is written only if the technician
    /// says yes ([`Command::ConfirmWrite`]); nothing is typed until then.
    ConsoleWriteAsked {
        /// What would be done, in words: the region erased, its size, the image's CRC-32.
        what: String,
        /// The first byte of the flash region the erase covers.
        erase_from: u64,
        /// The first byte after it.
        erase_to: u64,
        /// The CRC-32 the loaded image was proven by, hex.
        crc: String,
        /// The commands that would be typed, in order.
        commands: Vec<String>,
    },
    /// NMRP: rescue-wizard advertises and no router has answered yet (told about once a
    /// second, while advertising).
    NmrpAdvertising {
        /// ADVERTISEs sent so far.
        sent: u32,
        /// Since advertising began (when the technician was told to switch the router on).
        #[serde(with = "seconds")]
        since: Duration,
    },
    /// NMRP: the port's link went down or came back (a power cycle, a cable).
    NmrpLinkChanged {
        /// Whether the link is up now.
        up: bool,
        /// Where the NMRP exchange stood when it changed.
        during: crate::nmrp::session::Phase,
    },
    /// DHCP/BOOTP: the probe for other DHCP servers on the port is over, before the router is
    /// switched on: who answered it, and whether the run stops for them.
    DhcpProbed {
        /// The servers that answered (each also named by a [`Event::DhcpOtherServer`]).
        answered: Vec<Ipv4Addr>,
        /// The run stops here: another server would answer the router too.
        stopped: bool,
        /// What was found and what to do, in words.
        said: String,
    },
    /// Console: what the dialogue waits for now, and the command it is about to type (told
    /// before its first character goes out).
    ConsoleAwaiting {
        /// The command about to be typed, if one is.
        next: Option<String>,
        /// What is awaited: the prompt, or the answer that command must give.
        what: String,
    },
    /// Console: a boot of the proven image from RAM, which writes nothing: offered beside the
    /// write question (`chosen: false`; [`Command::BootFromRam`] takes it), or the path taken
    /// now (`chosen: true`, by `--ram-boot` or that command).
    ConsoleRamBoot {
        /// The boot command, as it is typed.
        command: String,
        /// Whether it is the path taken.
        chosen: bool,
        /// The same in words.
        what: String,
    },
}

/// What a front-end may ask of a running recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Go ahead with the network changes asked for.
    Approve,
    /// Do not change the network: the run ends without touching anything.
    Refuse {
        /// Why, for the summary.
        why: String,
    },
    /// Stop now: restore the network and explain the router's state.
    Cancel,
    /// The router has just been switched on (times the "silent after power-on" advice).
    PoweredOn,
    /// Give this computer the address the router asks for (journaled, undone at the end).
    AdoptAddress {
        /// The address.
        addr: Ipv4Addr,
    },
    /// The answer to [`Event::ConsoleWriteAsked`]: write the proven image to the flash
    /// (`true`), or leave the flash as it is and end with the image in RAM (`false`).
    ConfirmWrite(bool),
    /// The other answer to [`Event::ConsoleWriteAsked`], when [`Event::ConsoleRamBoot`]
    /// offered it: boot the proven image from RAM, and write nothing.
    BootFromRam,
}

/// Durations as fractional seconds in JSON.
mod seconds {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}
