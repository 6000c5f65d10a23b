//! What a recovery run tells its front-ends ([`Event`], past tense, plain data) and what they
//! may ask of it ([`Command`]).
//!
//! Every event serialises to one JSON object with an `event` field naming it; `--json` prints
//! them one per line, with `at` (seconds since the run started) added.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checklist::Item;
use crate::net::check::Check;
use crate::net::observe::WireSign;
use crate::net::wire::WireEvent;

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

/// What a link change means for the NMRP exchange, in a technician's words.
fn nmrp_link(up: bool, during: crate::nmrp::session::Phase) -> &'static str {
    use crate::nmrp::session::Phase;
    match (up, during) {
        (false, Phase::Advertising | Phase::Configuring) => {
            "link lost: the router is off or restarting (or the cable is out); advertising goes on: switch it on"
        }
        (true, Phase::Advertising | Phase::Configuring) => {
            "link back: advertising at once (the router listens about 3 s after power-on)"
        }
        (false, Phase::Uploading) => {
            "link lost during the upload: if the router restarted, the upload starts over when it answers again"
        }
        (true, Phase::Uploading) => "link back during the upload",
        (false, Phase::Flashing) => {
            "link lost while the router writes its flash: do not switch it off; it answers again or closes"
        }
        (true, Phase::Flashing) => "link back while the router writes its flash",
        (false, Phase::Finished) => "link lost: the NMRP session is over",
        (true, Phase::Finished) => "link back: the NMRP session is over",
    }
}

/// Durations as fractional seconds in JSON.
/// `m:ss`, as a technician reads a stopwatch.
fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

mod seconds {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

impl std::fmt::Display for Event {
    #[expect(
        clippy::too_many_lines,
        reason = "split pending: one line per event kind; the run issue reshapes Event"
    )]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Planned {
                device,
                model,
                interface,
                host,
                router,
                file,
                image,
                size,
                sha256,
                ..
            } => {
                write!(
                    f,
                    "{device} ({model}): image {} ({size} bytes, sha256 {sha256})",
                    image.display()
                )?;
                if let Some(interface) = interface {
                    write!(f, ", port {interface}")?;
                }
                if let Some(host) = host {
                    write!(f, ", this computer {host}")?;
                }
                if let Some(router) = router {
                    write!(f, ", router {router}")?;
                }
                if let Some(file) = file {
                    write!(f, ", file \"{file}\"")?;
                }
                Ok(())
            }
            Event::PhaseStarted { phase } => write!(f, "-- {}", phase.describe()),
            Event::Checked { check } => {
                let mark = match check.verdict {
                    crate::net::check::CheckOutcome::Pass => "ok",
                    crate::net::check::CheckOutcome::Warn => "warn",
                    crate::net::check::CheckOutcome::Fail => "FAIL",
                };
                write!(f, "[{mark}] {}: {}", check.item, check.detail)?;
                if let Some(fix) = &check.fix
                    && check.verdict != crate::net::check::CheckOutcome::Pass
                {
                    write!(f, " (fix: {fix})")?;
                }
                Ok(())
            }
            Event::PreflightFailed { reason, blocking } => {
                write!(f, "cannot start: {reason}")?;
                for check in blocking {
                    if let Some(fix) = &check.fix {
                        write!(f, "\n  fix ({}): {fix}", check.item)?;
                    }
                }
                Ok(())
            }
            Event::ConsentNeeded { changes } => {
                write!(f, "rescue-wizard will:")?;
                for change in changes {
                    write!(f, "\n  {change}")?;
                }
                Ok(())
            }
            Event::NetworkChanged { change } => write!(f, "changed: {change}"),
            Event::NetworkNoticed { what } => f.write_str(what),
            Event::NetworkRestored { change } => write!(f, "restored: {change} undone"),
            Event::NetworkRestoreFailed { change, error } => write!(
                f,
                "could not undo {change}: {error}; undo it by hand (the next start of rescue-wizard retries)"
            ),
            Event::NetworkSetupFailed { error } => {
                write!(f, "the network could not be set up: {error}")
            }
            Event::ServerStartFailed { error } => {
                write!(f, "the TFTP server could not start: {error}")
            }
            Event::Listening { addr } => write!(f, "TFTP server listening on {addr}"),
            Event::SelfTestPassed { bytes, took } => write!(
                f,
                "self-test passed: our own server handed out the first {bytes} bytes in {:.3} s; first and last blocks match the image",
                took.as_secs_f64()
            ),
            Event::SelfTestFailed { reason } => write!(f, "self-test failed: {reason}"),
            Event::Step {
                number,
                action,
                seconds,
                led,
            } => {
                write!(f, "step {number}: {action}")?;
                if let Some(seconds) = seconds {
                    write!(f, " ({seconds} s)")?;
                }
                if let Some(led) = led {
                    write!(f, " [LED: {led}]")?;
                }
                Ok(())
            }
            Event::WaitingForRouter { what, timeout } => write!(
                f,
                "waiting for {what} (giving up after {} s)",
                timeout.as_secs()
            ),
            Event::Wire { wire } => write!(f, "wire: {wire}"),
            Event::Noticed { finding } => write!(f, "! {finding}"),
            Event::RequestReceived { peer, file } => {
                write!(f, "the router at {peer} asks for \"{file}\"")
            }
            Event::TransferStarted {
                peer,
                blksize,
                windowsize,
                total,
                ..
            } => write!(
                f,
                "transfer to {peer}: {total} bytes in {blksize}-byte blocks, window {windowsize}"
            ),
            Event::TransferProgressed { bytes, total, .. } => {
                let percent = if *total > 0 {
                    bytes.saturating_mul(100) / total
                } else {
                    100
                };
                write!(f, "{bytes}/{total} bytes ({percent}%)")
            }
            Event::TransferFinished {
                peer,
                bytes,
                took,
                confirmed,
                ..
            } => {
                write!(
                    f,
                    "transfer to {peer} finished: {bytes} bytes in {:.1} s",
                    took.as_secs_f64()
                )?;
                if !confirmed {
                    write!(
                        f,
                        " (the last acknowledgement never came: the router may already be writing)"
                    )?;
                }
                Ok(())
            }
            Event::TransferFailed { peer, reason } => match peer {
                Some(peer) => write!(f, "transfer with {peer} failed: {reason}"),
                None => write!(f, "failed: {reason}"),
            },
            Event::ChecklistUpdated { checklist } => {
                let (fails, unknown) = super::checklist::tally(checklist);
                write!(
                    f,
                    "checklist: {} ok, {unknown} unknown, {fails} failing",
                    checklist.len() - fails - unknown
                )
            }
            Event::Stalled {
                what,
                fix,
                checklist,
            } => {
                write!(f, "stalled: {what}.")?;
                if let Some(fix) = fix {
                    write!(f, " Try now: {fix}.")?;
                }
                write!(f, " Checklist:")?;
                for item in checklist {
                    write!(f, "\n  {item}")?;
                }
                Ok(())
            }
            Event::FlashingStarted { expected, after } => {
                write!(
                    f,
                    "DO NOT SWITCH THE ROUTER OFF: it is writing its flash (about {} s)",
                    expected.as_secs()
                )?;
                if let Some(after) = after {
                    write!(f, "; watching for it at {after}")?;
                }
                Ok(())
            }
            Event::FlashingCountdown { remaining } if remaining.is_zero() => {
                f.write_str("flashing should be done by now: watching for the router to come back")
            }
            Event::FlashingCountdown { remaining } => {
                write!(f, "flashing: about {} s left", remaining.as_secs())
            }
            Event::RouterLeft { ip } => write!(f, "the router at {ip} went quiet: it is rebooting"),
            Event::RouterBack { ip, after } => write!(
                f,
                "the router answers at {ip}, {} s after the transfer",
                after.as_secs()
            ),
            Event::Interrupted { advice, .. } => write!(f, "stopped: {advice}"),
            Event::Finished {
                outcome,
                summary,
                checklist,
            } => {
                write!(f, "{}: {summary}", outcome.describe())?;
                for item in checklist {
                    write!(f, "\n  {item}")?;
                }
                Ok(())
            }
            Event::ReportWritten { path } => write!(f, "report written to {}", path.display()),
            Event::NmrpRouterAnswered { mac } => write!(
                f,
                "the router answered: its bootloader is in recovery mode (MAC {mac})"
            ),
            Event::NmrpConfigured {
                router,
                netmask,
                region,
            } => {
                write!(
                    f,
                    "configured: the router took {router} (netmask {netmask})"
                )?;
                if let Some(region) = region {
                    write!(f, " and region {region}")?;
                }
                Ok(())
            }
            Event::NmrpUploadRequested { file, router_mac } => write!(
                f,
                "uploading: the router asked for the image as \"{file}\" (static ARP entry for {router_mac})"
            ),
            Event::NmrpKeepAlive {
                count,
                since_upload,
            } => write!(
                f,
                "writing flash: keep-alive {count} at {} after the upload; do not switch the router off",
                minutes(*since_upload)
            ),
            Event::NmrpClosed {
                keep_alives,
                since_upload,
            } => write!(
                f,
                "done: the router wrote the image and closed ({keep_alives} keep-alive(s), {} after the upload). Switch the router off and on now: it does not restart by itself",
                minutes(*since_upload)
            ),
            Event::NmrpRejected { why, causes } => {
                write!(f, "the router turned the image down: {why}")?;
                if !causes.is_empty() {
                    write!(f, ". Likely causes: {}", causes.join("; "))?;
                }
                Ok(())
            }
            Event::NmrpRouterSilent {
                keep_alives,
                since_upload,
            } => write!(
                f,
                "the router has said nothing for a long time after the upload ({keep_alives} keep-alive(s), {} since the upload): it may still be writing, or its bootloader is stuck; leave it on a few more minutes, then switch it off and on",
                minutes(*since_upload)
            ),
            Event::DhcpLeased {
                client,
                address,
                vendor_class,
                boot_file,
                bootp,
            } => {
                write!(f, "gave {address} to {client}")?;
                if let Some(class) = vendor_class {
                    write!(f, ", a {class} loader")?;
                }
                write!(f, ", boot file {boot_file}")?;
                if *bootp {
                    f.write_str(" (BOOTP)")?;
                }
                Ok(())
            }
            Event::DhcpOtherServer { said, .. } | Event::DhcpProbed { said, .. } => {
                f.write_str(said)
            }
            Event::ConsoleOpened { port, baud } => write!(
                f,
                "serial console {} open at {baud} baud: nothing is typed until the bootloader speaks",
                port.display()
            ),
            Event::ConsoleLine { line } => write!(f, "console| {line}"),
            Event::ConsoleNoted { what } => write!(f, "console: {what}"),
            Event::ConsoleTyped { command } => write!(f, "console: typed `{command}`"),
            Event::ConsoleCrc {
                region,
                ours,
                theirs,
                equal,
            } => write!(
                f,
                "console: CRC-32 of {region}: bootloader {theirs}, ours {ours}: {}",
                if *equal { "equal" } else { "DIFFERENT" }
            ),
            Event::ConsoleFlash { state, note } => write!(f, "console: flash {state}: {note}"),
            Event::ConsoleTranscript { text } => write!(
                f,
                "console: transcript of {} line(s) kept for the report",
                text.lines().count()
            ),
            Event::HttpPageDown { reason, tries } => write!(
                f,
                "the router's upload page does not answer yet ({reason}; {tries} tries): trying again"
            ),
            Event::HttpPageUp { attempt } => {
                write!(
                    f,
                    "the router's upload page answered: uploading (attempt {attempt})"
                )
            }
            Event::HttpRetrying {
                reason,
                attempt,
                reached,
            } => write!(
                f,
                "the connection to the upload page was lost after {reached} bytes ({reason}): starting again from the first byte (attempt {attempt})"
            ),
            Event::HttpVerified { size, md5 } => write!(
                f,
                "the page received exactly the image ({size} bytes, MD5 {md5})"
            ),
            Event::HttpAnswered { said, accepted } => {
                if *accepted {
                    write!(f, "the page said {said}: the router is writing flash")
                } else {
                    write!(f, "the page said \"{said}\"")
                }
            }
            Event::ConsoleWriteAsked { what, .. } => {
                write!(f, "console: the image is proven; {what}?")
            }
            Event::NmrpAdvertising { sent, since } => write!(
                f,
                "waiting for the router to answer: {sent} advertisement(s) in {}; switch the router on now (its bootloader listens about 3 s after power-on)",
                minutes(*since)
            ),
            Event::NmrpLinkChanged { up, during } => f.write_str(nmrp_link(*up, *during)),
            Event::ConsoleAwaiting {
                next: Some(command),
                what,
            } => write!(
                f,
                "console: about to type `{command}`, then waiting for {what}"
            ),
            Event::ConsoleAwaiting { next: None, what } => write!(f, "console: waiting for {what}"),
            Event::ConsoleRamBoot { what, chosen, .. } => write!(
                f,
                "console: {what}{}",
                if *chosen {
                    ""
                } else {
                    ": the wizard's B at this question, or --ram-boot on the command line"
                }
            ),
        }
    }
}
