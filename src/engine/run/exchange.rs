//! What passes between the run machine and its driver: the [`Input`]s the machine is fed
//! (each method's leg reports its news as one of them: [`NmrpEvent`], [`DhcpEvent`],
//! [`ConsoleNews`], [`HttpEvent`], and [`LegFailure`] when a leg cannot start) and the
//! [`Effect`]s it asks the driver to carry out.
//!
//! These sit in a module of their own, below both [`super::machine`] and [`super::method`]:
//! the machine consults its method, and each method's leg speaks the machine's inputs, so
//! neither imports the other's vocabulary from it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::console::event::ConsoleEvent;
use crate::dhcp::lease::{ConfigError, LeaseEvent};
use crate::engine::event::{Command, Event, RunOutcome};
use crate::http::upload::Note;
use crate::net::addr::HostEvent;
use crate::net::check::Check;
use crate::net::io_failure::IoFailure;
use crate::net::wire::Seen;
use crate::nmrp::session;
use crate::tftp::event::TransferEvent;

/// Why a push ended without the image there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushFailure {
    /// The bootloader's server never answered.
    NoAnswer,
    /// Anything else, in words.
    Other(String),
}

/// A finished transfer to the router, as the push reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The bootloader's server as it answered.
    pub peer: SocketAddr,
    /// Bytes moved.
    pub bytes: u64,
    /// How long it took.
    pub took: Duration,
    /// SHA-256 of what was sent.
    pub sha256: String,
    /// Whether the last ACK came.
    pub confirmed: bool,
}

/// What the self-test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfTested {
    /// Bytes fetched.
    pub bytes: u64,
    /// How long it took.
    pub took: Duration,
}

/// What the machine is fed.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The image was read and copied as it was checked, or why not.
    Snapshotted(Result<(), String>),
    /// The host checks came out (the port is gone: `None`).
    Preflighted(Option<Vec<Check>>),
    /// The capture on the port runs; these addresses are this computer's own.
    CaptureStarted {
        /// Addresses the port has.
        ours: Vec<Ipv4Addr>,
    },
    /// The port cannot be watched: the system's refusal, its kind kept (`PermissionDenied`
    /// without `cap_net_raw`, `NotFound` for a port that is gone).
    CaptureFailed(IoFailure),
    /// The network changes are in place, or why not.
    NetworkApplied(Result<(), String>),
    /// The firewall lets the router in (with the steps the technician must take by hand where
    /// the firewall is not ours to change), or why not.
    FirewallOpened(Result<Vec<String>, String>),
    /// Our server listens, or why not.
    ServerStarted(Result<SocketAddr, String>),
    /// The self-test fetched the image's first block through the rescue address, or why not.
    SelfTested(Result<SelfTested, String>),
    /// A front-end's command; `None`: every front-end is gone.
    Command(Option<Command>),
    /// A change on the host (a journaled change, the link).
    Host(HostEvent),
    /// A frame on the port.
    Wire(Seen),
    /// A server or client transfer event.
    Transfer(TransferEvent),
    /// The push ended.
    Pushed(Result<Pushed, PushFailure>),
    /// The router answered an ARP probe at this address.
    Probed(Ipv4Addr),
    /// About once a second.
    Tick,
    /// The NMRP leg's news.
    Nmrp(NmrpEvent),
    /// The DHCP/BOOTP responder's news.
    Dhcp(DhcpEvent),
    /// The serial console leg's news.
    Console(ConsoleNews),
    /// The HTTP upload's news.
    Http(HttpEvent),
}

/// What the driver is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Tell the front-ends.
    Emit(Event),
    /// Read the image once and keep those bytes for everything the router gets: answer
    /// with [`Input::Snapshotted`].
    TakeSnapshot,
    /// Gather the host's facts and run the checks: answer with [`Input::Preflighted`].
    Preflight,
    /// Watch the port: answer with [`Input::CaptureStarted`] or [`Input::CaptureFailed`].
    StartCapture,
    /// Apply the plan's network changes: answer with [`Input::NetworkApplied`].
    ApplyNetwork,
    /// Let UDP from the router's subnet in through the host firewall on the port (journaled,
    /// undone with the network): answer with [`Input::FirewallOpened`].
    OpenFirewall,
    /// Start our server: answer with [`Input::ServerStarted`].
    StartServer,
    /// Fetch `name` from our server at `target`: answer with [`Input::SelfTested`].
    SelfTest {
        /// Our server, through the rescue address.
        target: SocketAddr,
        /// The name asked for, which no bootloader asks for.
        name: String,
    },
    /// The simulated router is switched on.
    PowerOnSimulated {
        /// Our server.
        server: Option<SocketAddr>,
    },
    /// Push the image: answer with [`Input::Pushed`].
    StartPush,
    /// Ask by ARP for the router at `target` until it answers: [`Input::Probed`].
    Probe(Ipv4Addr),
    /// Give this computer the address too (journaled, undone at the end).
    Adopt(Ipv4Addr),
    /// Stop everything, restore the network, then call [`Machine::conclude`](super::machine::Machine::conclude).
    Finish(RunOutcome),
    /// Start the NMRP leg: advertise, configure, upload: answers come as [`Input::Nmrp`],
    /// [`Input::Transfer`] and [`Input::Pushed`].
    StartNmrp,
    /// Start the DHCP/BOOTP responder on the port: its news comes as [`Input::Dhcp`].
    StartDhcp,
    /// Start the serial console leg: stop autoboot, `tftpboot` from our server, prove, and
    /// write only when allowed: answers come as [`Input::Console`].
    StartConsole,
    /// Start the HTTP upload: try the page until it answers, upload: answers come as
    /// [`Input::Http`] and [`Input::Pushed`].
    StartHttp,
}

/// What the NMRP driver tells the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NmrpEvent {
    /// What the session made of the wire.
    Session(session::Event),
    /// The raw port could not be opened: nothing can be advertised. The system's refusal with
    /// its kind, or what the plan lacked.
    PortFailed(LegFailure),
    /// The static ARP entry for the router could not be added (the upload tries without it):
    /// the system's refusal, its kind kept.
    ArpFailed(IoFailure),
    /// The image needs more blocks than a block number counts at 512 bytes: fine if the router
    /// takes 1456-byte blocks, at risk if it does not.
    ManyBlocks {
        /// The blocks at 512 bytes.
        blocks: u64,
    },
    /// Still advertising, no router has answered: told every [`ADVERTISING_TOLD_EVERY`](super::method::nmrp::ADVERTISING_TOLD_EVERY).
    Advertising {
        /// ADVERTISEs sent so far.
        sent: u32,
        /// Since the leg started.
        since: Duration,
    },
    /// The port's carrier changed.
    Link {
        /// Whether it is up now.
        up: bool,
        /// Where the session stood.
        during: session::Phase,
    },
}

/// What the responder's driver tells the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpEvent {
    /// What the responder did or saw.
    Lease(LeaseEvent),
    /// The responder could not start: nothing answers the router. The system's refusal with
    /// its kind, the lease's settings, or what the plan lacked.
    BindFailed(LegFailure),
    /// Other DHCP servers cannot be watched (the client port is taken).
    Unwatched(String),
    /// The responder stopped before the run ended: the system's error, its kind kept.
    Stopped(IoFailure),
}

/// What the console leg tells the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleNews {
    /// The port is open; nothing was written to it.
    Opened {
        /// Its path.
        port: PathBuf,
        /// Its baud rate.
        baud: u32,
    },
    /// The port could not be opened or read: the system's refusal with its kind, or what the
    /// plan lacked.
    PortFailed(LegFailure),
    /// One line the bootloader printed.
    Line(String),
    /// What the dialogue did or found.
    Dialogue(ConsoleEvent),
    /// The whole transcript, once the dialogue is over.
    Transcript(String),
}

/// What the HTTP upload thread tells the run: the uploader's notes but its end, which comes
/// as [`Input::Pushed`]; and how long the current attempt has been uploading (since its
/// page answered), for the rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEvent(pub Note, pub Duration);

/// Why a leg (the serial console, the NMRP port, the DHCP/BOOTP responder) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegFailure {
    /// The run's plan lacks what the leg needs (a run planned for another method): what it
    /// lacks, in words.
    #[error("{0}")]
    Unplanned(&'static str),
    /// The DHCP lease's addresses or boot file do not work.
    #[error(transparent)]
    Lease(#[from] ConfigError),
    /// The system refused (the serial port, the raw socket, the DHCP port): its kind and its
    /// words.
    #[error("{0}")]
    Io(IoFailure),
}

impl LegFailure {
    /// The kind of the system's refusal, when the system refused.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Self::Io(failure) => Some(failure.kind),
            Self::Unplanned(_) | Self::Lease(_) => None,
        }
    }
}
