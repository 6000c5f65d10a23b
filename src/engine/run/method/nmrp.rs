//! Netgear NMRP: rescue-wizard advertises on the raw port from the moment the technician is
//! told to switch the router on, its bootloader answers and is given an address, asks for the
//! image, takes it over TFTP from our client, writes it while it sends keep-alives, and closes
//! (docs/nmrp.md).
//!
//! The protocol is [`crate::nmrp::session`] (sans-I/O); here are its strategy in the run
//! ([`Nmrp`]), what the run makes of its events ([`on_event`], pure), and the thin driver
//! ([`start`]): one thread named `nmrp-<port>` owning the raw port, the session's clock, the
//! carrier, the static ARP entry, and the uploads.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::{LegFailure, Method};
use crate::engine::event::{Event, RunOutcome};
use crate::engine::plan::{Plan, Transfer};
pub use crate::engine::run::exchange::NmrpEvent;
use crate::engine::run::exchange::{Effect, Input, Pushed};
use crate::net::addr::{HostEvent, HostSetup, NetworkChanges, SetupError};
use crate::net::io_failure::IoFailure;
use crate::net::raw::{RawError, RawPort};
use crate::nmrp::packet::{ETHERTYPE, Region};
use crate::nmrp::session::{self, Config, Rejection, Session, SessionEnd, UploadFailure};
use crate::tftp::client::{self, ClientConfig, ClientError, Transferred};
use crate::tftp::event::EventSender;
use crate::tftp::options::ClientOptions;
use crate::tftp::session::Timing;

/// The block size asked of the router's TFTP server: nmrpflash's, the largest that fits an
/// Ethernet frame with its IP and UDP headers; a server that ignores it gets 512.
pub const NMRP_BLKSIZE: u16 = 1456;
/// How often the write request is repeated until the router's server answers: CFE takes at
/// least 200 ms to answer the first request (nmrpflash's `tftp.c` waits as long).
pub const REQUEST_INTERVAL: Duration = Duration::from_millis(250);
/// How long the first DATA block waits for its ACK before it is sent again: CFE erases flash
/// before it acknowledges the first block and needs well over 100 ms (nmrpflash 0.9.21 cut its
/// 200 ms wait to 100 ms and broke the R8000 with "Timeout while waiting for ACK(1)", #137;
/// 0.9.22 restored it). RFC 6298's 1 s before any round trip is measured, pinned here so
/// that a change of the TFTP client's default cannot shorten it below the 200 ms CFE needs.
pub const FIRST_BLOCK_WAIT: Duration = Duration::from_secs(1);
/// The shortest first-block wait a Netgear CFE bootloader is known to tolerate.
pub const CFE_FIRST_BLOCK_MIN: Duration = Duration::from_millis(200);
const _: () = assert!(FIRST_BLOCK_WAIT.as_millis() >= CFE_FIRST_BLOCK_MIN.as_millis());
const _: () = assert!(REQUEST_INTERVAL.as_millis() >= CFE_FIRST_BLOCK_MIN.as_millis());
/// How long the router's TFTP server has to answer once it asked for the image.
pub const SERVER_WAIT: Duration = Duration::from_secs(30);
/// How often the port's carrier is read: a power cycle is a link flap, and the router
/// listens only about 3 s after power-on.
pub const CARRIER_EVERY: Duration = Duration::from_millis(50);
/// A raw read waits at most this long, so the session's ticks are never late by more.
const READ_TIMEOUT: Duration = Duration::from_millis(10);
/// Most blocks a TFTP transfer counts without the block number rolling over (RFC 1350: 16
/// bits). Netgear bootloaders are not known to roll over.
const MAX_BLOCKS: u64 = 65_535;

/// The NMRP strategy: nothing to serve; the advertising starts with the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nmrp {
    /// The address the router is given.
    pub router: Ipv4Addr,
}

impl Method for Nmrp {
    fn awaits(&self) -> String {
        "the router's NMRP answer (rescue-wizard advertises every 100 ms): switch it on now"
            .to_owned()
    }

    fn serves(&self) -> bool {
        false
    }

    fn prepare(&self) -> Vec<Effect> {
        Vec::new()
    }

    // The router listens about 3 s after power-on: advertising starts as the technician is
    // told to switch it on, and goes on across power cycles until the run ends.
    fn on_waiting(&self) -> Vec<Effect> {
        vec![Effect::StartNmrp]
    }
}

/// How often the advertising count is told: the wizard's count ticks with its clock, and a
/// front-end is not flooded (ten ADVERTISEs a second).
pub const ADVERTISING_TOLD_EVERY: Duration = Duration::from_secs(1);

/// The advertising count to tell at `now`, if one is due: while the session advertises,
/// once every [`ADVERTISING_TOLD_EVERY`] from its first ADVERTISE. `next` is when the next
/// one is due; `started` is when the leg began.
pub fn advertising_news(
    session: &Session,
    started: Instant,
    now: Instant,
    next: &mut Instant,
) -> Option<NmrpEvent> {
    if session.phase() != session::Phase::Advertising || session.advertised() == 0 || now < *next {
        return None;
    }
    *next = now + ADVERTISING_TOLD_EVERY;
    Some(NmrpEvent::Advertising {
        sent: session.advertised(),
        since: now.saturating_duration_since(started),
    })
}

/// The warning for an image of `len` bytes that needs more blocks of 512 than a block number
/// counts, told before the upload. A TFTP transfer ends with a block shorter than the block
/// size, so an image of exactly `n` x 512 bytes needs an empty block `n + 1` (RFC 1350 §6).
pub fn many_blocks(len: u64) -> Option<NmrpEvent> {
    let blocks = len / 512 + 1;
    (blocks > MAX_BLOCKS).then_some(NmrpEvent::ManyBlocks { blocks })
}

/// What the run makes of one NMRP event: the events to show, and how the run ends when this
/// ends it. Pure: the machine calls it from its one NMRP arm.
pub fn on_event(event: NmrpEvent, plan: &Plan) -> (Vec<Event>, Option<RunOutcome>) {
    let notice = |what: String| Event::NetworkNoticed { what };
    match event {
        NmrpEvent::PortFailed(reason) => (
            vec![Event::TransferFailed {
                peer: None,
                reason: format!("NMRP cannot start: {reason}"),
            }],
            Some(RunOutcome::Failed),
        ),
        NmrpEvent::ArpFailed(reason) => (
            vec![notice(format!(
                "the static ARP entry for the router could not be added ({reason}); the upload goes on without it"
            ))],
            None,
        ),
        NmrpEvent::ManyBlocks { blocks } => (
            vec![notice(format!(
                "the image is {blocks} blocks of 512 bytes, more than a TFTP block number counts (65535): it goes through only if the router takes {NMRP_BLKSIZE}-byte blocks; if the upload stops near {} MiB, the bootloader cannot take an image this large",
                MAX_BLOCKS * 512 / (1024 * 1024)
            ))],
            None,
        ),
        NmrpEvent::Advertising { sent, since } => {
            (vec![Event::NmrpAdvertising { sent, since }], None)
        }
        NmrpEvent::Link { up, during } => (vec![Event::NmrpLinkChanged { up, during }], None),
        NmrpEvent::Session(event) => session_event(event, plan),
    }
}

fn session_event(event: session::Event, plan: &Plan) -> (Vec<Event>, Option<RunOutcome>) {
    let notice = |what: String| Event::NetworkNoticed { what };
    let shown = match event {
        session::Event::RouterAnswered { mac } => Event::NmrpRouterAnswered {
            mac: mac.to_string(),
        },
        session::Event::Configured {
            router_ip,
            netmask,
            region,
        } => Event::NmrpConfigured {
            router: router_ip,
            netmask,
            region: region.and_then(Region::name).map(str::to_owned),
        },
        session::Event::UploadRequested {
            file_name,
            router_mac,
            ..
        } => Event::NmrpUploadRequested {
            file: file_name,
            router_mac: router_mac.to_string(),
        },
        session::Event::StrayDrained { code } => notice(format!(
            "an NMRP {code} from the router during the upload was set aside"
        )),
        session::Event::UploadAbandoned => notice(
            "the link went down and came back during the upload: the router was restarted; advertising to it again"
                .to_owned(),
        ),
        session::Event::KeepAliveAnswered {
            count,
            since_upload,
        } => Event::NmrpKeepAlive {
            count,
            since_upload,
        },
        session::Event::Finished(outcome) => return finished(outcome, plan),
    };
    (vec![shown], None)
}

fn finished(outcome: SessionEnd, plan: &Plan) -> (Vec<Event>, Option<RunOutcome>) {
    match outcome {
        SessionEnd::SwitchOffAndOn {
            keep_alives,
            since_upload,
        } => (
            vec![Event::NmrpClosed {
                keep_alives,
                since_upload,
            }],
            Some(RunOutcome::Flashed),
        ),
        SessionEnd::Rejected(rejection) => (
            vec![Event::NmrpRejected {
                why: rejection.to_string(),
                causes: causes(&rejection, plan),
            }],
            Some(RunOutcome::Failed),
        ),
        SessionEnd::UploadFailed(failure) => (
            vec![Event::TransferFailed {
                peer: None,
                reason: failure.to_string(),
            }],
            Some(RunOutcome::Failed),
        ),
        SessionEnd::RouterSilent {
            keep_alives,
            since_upload,
        } => (
            vec![Event::NmrpRouterSilent {
                keep_alives,
                since_upload,
            }],
            Some(RunOutcome::Transferred),
        ),
    }
}

/// The causes of a rejection that may apply to this run: a .chk image is not a .trx, and a
/// region was only wrong if one was written.
pub fn causes(rejection: &Rejection, plan: &Plan) -> Vec<String> {
    let chk = plan
        .image
        .path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("chk"));
    let region = match &plan.transfer {
        Transfer::Nmrp { region, .. } => region.and_then(Region::name),
        _ => None,
    };
    let mut causes = Vec::new();
    if let Rejection::RouterSaid(_) = rejection {
        causes.push(
            "the router checked the image and its checksum or board id did not match".to_owned(),
        );
    }
    let [model, raw, downgrade] = Rejection::CAUSES;
    causes.push(match region {
        Some(region) => format!("{model} (region {region} was written: try without --region)"),
        None => model.to_owned(),
    });
    if !chk {
        causes.push(raw.to_owned());
    }
    causes.push(downgrade.to_owned());
    causes
}

/// What the driver needs to set up the NMRP leg.
#[derive(Debug, Clone)]
pub struct Leg {
    /// The port the router is plugged into.
    pub port: String,
    /// The address given to the router.
    pub router: Ipv4Addr,
    /// Its netmask.
    pub netmask: Ipv4Addr,
    /// The region, when one is written.
    pub region: Option<Region>,
    /// Where host changes are journaled (`None`: no changes, as in a simulated run).
    pub state_dir: Option<PathBuf>,
}

impl Leg {
    /// The leg `plan` asks for, if it is an NMRP plan on a port.
    pub fn of(plan: &Plan, state_dir: Option<&Path>) -> Option<Self> {
        let Transfer::Nmrp {
            router,
            netmask,
            region,
        } = &plan.transfer
        else {
            return None;
        };
        Some(Self {
            port: plan.port.as_ref()?.name.clone(),
            router: *router,
            netmask: *netmask,
            region: *region,
            state_dir: state_dir.map(Path::to_path_buf),
        })
    }
}

pub use super::thread::{Running, recv};

/// Starts the NMRP leg: the thread `nmrp-<port>` advertises, answers and uploads `image` until
/// `stop` is set. Transfer events go to `tftp`, host changes to `host`, everything else comes
/// back as [`Input`]s. Call from inside the run's tokio runtime (the upload uses it).
pub fn start(
    leg: Leg,
    image: Arc<[u8]>,
    tftp: EventSender,
    host: UnboundedSender<HostEvent>,
    stop: Arc<AtomicBool>,
) -> Running {
    let (tx, inputs) = unbounded_channel();
    let runtime = tokio::runtime::Handle::current();
    let name = format!("nmrp-{}", leg.port);
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        Leg::run(
            &leg,
            &Wiring {
                image,
                tftp,
                host,
                inputs: tx,
                runtime,
            },
            &stop,
        );
    });
    Running::new(inputs, spawned.ok())
}

/// The channels and handles the NMRP thread works with.
struct Wiring {
    image: Arc<[u8]>,
    tftp: EventSender,
    host: UnboundedSender<HostEvent>,
    inputs: UnboundedSender<Input>,
    runtime: tokio::runtime::Handle,
}

impl Wiring {
    fn tell(&self, event: NmrpEvent) {
        let _ = self.inputs.send(Input::Nmrp(event));
    }
}

/// The pushes of one NMRP leg: a power cycle may start a new one before the old one ended.
struct Uploads {
    /// How many were started; each result carries its number.
    count: usize,
    /// The stop flag of the upload under way.
    current: Option<Arc<AtomicBool>>,
    done_tx: std::sync::mpsc::Sender<(usize, Result<Transferred, ClientError>)>,
    done_rx: std::sync::mpsc::Receiver<(usize, Result<Transferred, ClientError>)>,
}

impl Uploads {
    fn new() -> Self {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        Self {
            count: 0,
            current: None,
            done_tx,
            done_rx,
        }
    }

    fn stop_current(&mut self) {
        if let Some(old) = self.current.take() {
            old.store(true, Ordering::Relaxed);
        }
    }

    fn start(&mut self, to: SocketAddr, file_name: String, wiring: &Wiring) {
        self.stop_current();
        self.count += 1;
        let stop = Arc::new(AtomicBool::new(false));
        push(
            to,
            file_name,
            wiring,
            Arc::clone(&stop),
            self.count,
            self.done_tx.clone(),
        );
        self.current = Some(stop);
    }

    /// The session's answers to the uploads that ended. Only the latest upload counts: one
    /// stopped when the router restarted ends late.
    fn finished(&mut self, session: &mut Session, wiring: &Wiring) -> Vec<session::Step> {
        let mut steps = Vec::new();
        while let Ok((number, result)) = self.done_rx.try_recv() {
            if number != self.count {
                continue;
            }
            self.current = None;
            let answered = match result {
                Ok(done) => {
                    let _ = wiring.inputs.send(Input::Pushed(Ok(Pushed {
                        peer: done.peer,
                        bytes: done.bytes,
                        took: done.elapsed,
                        sha256: done.sha256,
                        confirmed: done.confirmed,
                    })));
                    session.handle(session::Input::UploadDone, Instant::now())
                }
                Err(err) => {
                    // The router's own words (EX2700's checksum error) are its rejection: the
                    // session tells them from the other failures by their kind.
                    let failure = UploadFailure::from(&err);
                    session.handle(session::Input::UploadFailed(&failure), Instant::now())
                }
            };
            steps.push(answered);
        }
        steps
    }
}

impl Leg {
    fn run(&self, wiring: &Wiring, stop: &AtomicBool) {
        let mut port = match RawPort::open(&self.port, ETHERTYPE, READ_TIMEOUT) {
            Ok(port) => port,
            Err(err) => {
                wiring.tell(NmrpEvent::PortFailed(raw_port_failure(&err)));
                return;
            }
        };
        let mut config = Config::new(port.mac);
        config.router_ip = self.router;
        config.netmask = self.netmask;
        config.region = self.region;
        let started = Instant::now();
        let mut session = Session::new(config, started);
        let mut next_told = started;
        let mut uploads = Uploads::new();
        let mut arp: Vec<(Ipv4Addr, [u8; 6], HostSetup)> = Vec::new();
        let mut link = crate::net::iface::carrier(&self.port).unwrap_or(false);
        let mut next_link_check = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let mut steps = Vec::new();
            let now = Instant::now();
            if now >= next_link_check {
                next_link_check = now + CARRIER_EVERY;
                let up = crate::net::iface::carrier(&self.port).unwrap_or(link);
                if up != link {
                    link = up;
                    let input = if up {
                        session::Input::LinkUp
                    } else {
                        session::Input::LinkDown
                    };
                    wiring.tell(NmrpEvent::Link {
                        up,
                        during: session.phase(),
                    });
                    steps.push(session.handle(input, now));
                }
            }
            if let Some(frame) = port.recv() {
                steps.push(session.handle(session::Input::Frame(&frame), Instant::now()));
            }
            if session.next_deadline().is_some_and(|d| Instant::now() >= d) {
                steps.push(session.handle(session::Input::Tick, Instant::now()));
            }
            steps.extend(uploads.finished(&mut session, wiring));
            if let Some(news) = advertising_news(&session, started, Instant::now(), &mut next_told)
            {
                wiring.tell(news);
            }
            for step in steps {
                for frame in &step.frames {
                    port.send(frame);
                }
                for event in step.events {
                    self.on_session_event(&event, &mut uploads, &mut arp, wiring);
                    wiring.tell(NmrpEvent::Session(event));
                }
            }
        }
        uploads.stop_current();
        for (_, _, setup) in arp.into_iter().rev() {
            setup.undo();
        }
    }

    /// What the leg does for one event of the session besides telling the run: an upload
    /// request starts our push (stopping an older one), an abandoned upload stops it.
    fn on_session_event(
        &self,
        event: &session::Event,
        uploads: &mut Uploads,
        arp: &mut Vec<(Ipv4Addr, [u8; 6], HostSetup)>,
        wiring: &Wiring,
    ) {
        match event {
            session::Event::UploadRequested {
                file_name,
                router_mac,
                router_ip,
            } => {
                self.static_arp(*router_ip, router_mac.0, arp, wiring);
                if let Some(warning) = many_blocks(wiring.image.len() as u64) {
                    wiring.tell(warning);
                }
                uploads.start(
                    SocketAddr::from((*router_ip, 69)),
                    file_name.clone(),
                    wiring,
                );
            }
            session::Event::UploadAbandoned => uploads.stop_current(),
            _ => {}
        }
    }

    /// A static ARP entry `ip` -> `mac` on the port, journaled and undone with the run: the
    /// bootloader's TFTP leg answers no ARP on some units, and a MAC of all zeros is never
    /// learnt by ARP (nmrpflash issue #151).
    fn static_arp(
        &self,
        ip: Ipv4Addr,
        mac: [u8; 6],
        arp: &mut Vec<(Ipv4Addr, [u8; 6], HostSetup)>,
        wiring: &Wiring,
    ) {
        let Some(state_dir) = &self.state_dir else {
            return;
        };
        if arp.iter().any(|(i, m, _)| *i == ip && *m == mac) {
            return;
        }
        // Another router on the port (or the same with another MAC): its entry goes first.
        if let Some(at) = arp.iter().position(|(i, _, _)| *i == ip) {
            let (_, _, setup) = arp.remove(at);
            setup.undo();
        }
        let Some(iface) = crate::net::iface::list()
            .into_iter()
            .find(|i| i.name == self.port)
        else {
            // The system lists the port no more: unplugged, or renamed.
            let gone = IoFailure::new(io::ErrorKind::NotFound, format!("{} is gone", self.port));
            wiring.tell(NmrpEvent::ArpFailed(gone));
            return;
        };
        let entry = NetworkChanges {
            ifindex: iface.index,
            ifname: iface.name.clone(),
            add: None,
            link_up: false,
            unmanage: false,
            static_arp: Some((ip, mac)),
            held_by: None,
        };
        match HostSetup::apply(&entry, state_dir, wiring.host.clone()) {
            Ok(setup) => arp.push((ip, mac, setup)),
            Err(err) => wiring.tell(NmrpEvent::ArpFailed(setup_failure(&err))),
        }
    }
}

/// The raw port's refusal as the leg's news: the words the technician reads (with their fix),
/// and the kind of the system's refusal beneath them (net/raw.rs files `EPERM` under
/// `NotPermitted`, and a name the system does not list under `NoSuchInterface`).
pub fn raw_port_failure(err: &RawError) -> LegFailure {
    let kind = match err {
        RawError::NotPermitted { .. } => io::ErrorKind::PermissionDenied,
        RawError::NoSuchInterface { .. } => io::ErrorKind::NotFound,
        RawError::Io { source, .. } => source.kind(),
        RawError::Unsupported => io::ErrorKind::Unsupported,
    };
    LegFailure::Io(IoFailure::new(kind, err.to_string()))
}

/// The static ARP entry's refusal: its words, and the kind of the system's refusal beneath
/// them (another run holding the port is `ResourceBusy`; a port no longer the one planned is
/// `NotFound`).
pub fn setup_failure(err: &SetupError) -> IoFailure {
    let kind = match err {
        SetupError::NotPermitted { source, .. }
        | SetupError::Failed { source, .. }
        | SetupError::Journal { source, .. } => source.kind(),
        SetupError::PortInUse { .. } => io::ErrorKind::ResourceBusy,
        SetupError::PortChanged { .. } => io::ErrorKind::NotFound,
    };
    IoFailure::new(kind, err.to_string())
}

/// The TFTP client's settings for the NMRP upload: 1456-byte blocks (512 when the router
/// ignores the option), the write request repeated every [`REQUEST_INTERVAL`], the first
/// block waiting [`FIRST_BLOCK_WAIT`] for its ACK, and [`SERVER_WAIT`] for the router's server
/// to answer at all. The router's reply port is followed (the client takes the port of its
/// first answer and answers any other with ERROR 5, RFC 1350 §4).
pub fn push_config() -> ClientConfig {
    let defaults = ClientConfig::default();
    ClientConfig {
        options: ClientOptions {
            blksize: Some(NMRP_BLKSIZE),
            ..ClientOptions::default()
        },
        timing: Timing {
            initial_rto: FIRST_BLOCK_WAIT,
            ..defaults.timing
        },
        request_interval: REQUEST_INTERVAL,
        wait: SERVER_WAIT,
        ..defaults
    }
}

/// Pushes the image on a thread of its own with the project's TFTP client and
/// [`push_config`].
fn push(
    server: SocketAddr,
    name: String,
    wiring: &Wiring,
    stop: Arc<AtomicBool>,
    number: usize,
    done: std::sync::mpsc::Sender<(usize, Result<Transferred, ClientError>)>,
) {
    let config = push_config();
    let image = Arc::clone(&wiring.image);
    let events = wiring.tftp.clone();
    let runtime = wiring.runtime.clone();
    let spawned = std::thread::Builder::new()
        .name("nmrp-tftp-push".into())
        .spawn(move || {
            let result = runtime.block_on(client::push(server, name, image, config, events, stop));
            let _ = done.send((number, result));
        });
    drop(spawned);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::engine::plan::{ImageFacts, Settings, build};
    use crate::net::wire::Mac;
    use crate::profile::Catalogue;

    fn plan(file: &str, region: Option<&str>) -> Plan {
        let (catalogue, _) = Catalogue::load(None).unwrap();
        let profile = catalogue.get("netgear-r6220").unwrap().profile.clone();
        let image = ImageFacts {
            path: PathBuf::from(file),
            size: 1_000_000,
            sha256: "00".repeat(32),
        };
        let settings = Settings {
            loopback: Some(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)),
            region: region.map(str::to_owned),
            ..Settings::default()
        };
        build(&profile, image, &[], &settings).unwrap()
    }

    fn ended(event: session::Event, plan: &Plan) -> (Vec<Event>, Option<RunOutcome>) {
        on_event(NmrpEvent::Session(event), plan)
    }

    #[test]
    fn each_phase_is_told_and_the_close_ends_the_run_flashed() {
        let plan = plan("R6220.chk", None);
        let (events, end) = ended(
            session::Event::RouterAnswered {
                mac: Mac([0, 0, 0, 0, 0, 0]),
            },
            &plan,
        );
        assert_eq!(end, None);
        assert_eq!(
            events[0].to_string(),
            "the router answered: its bootloader is in recovery mode (MAC 00:00:00:00:00:00)"
        );
        let (events, end) = ended(
            session::Event::KeepAliveAnswered {
                count: 12,
                since_upload: Duration::from_secs(185),
            },
            &plan,
        );
        assert_eq!(end, None);
        assert!(
            events[0]
                .to_string()
                .starts_with("writing flash: keep-alive 12 at 3:05 after the upload"),
            "{}",
            events[0]
        );
        let (events, end) = ended(
            session::Event::Finished(SessionEnd::SwitchOffAndOn {
                keep_alives: 12,
                since_upload: Duration::from_secs(200),
            }),
            &plan,
        );
        assert_eq!(end, Some(RunOutcome::Flashed));
        assert!(
            events[0]
                .to_string()
                .contains("Switch the router off and on now"),
            "{}",
            events[0]
        );
    }

    #[test]
    fn a_rejection_fails_the_run_with_the_causes_that_apply() {
        let rejected =
            session::Event::Finished(SessionEnd::Rejected(Rejection::ConfRequestAfterUpload));
        let (events, end) = ended(rejected.clone(), &plan("R6220.chk", Some("WW")));
        assert_eq!(end, Some(RunOutcome::Failed));
        let Event::NmrpRejected { causes, .. } = &events[0] else {
            panic!("{events:?}");
        };
        // A .chk is not a .trx; the region written may be the wrong one.
        assert!(!causes.iter().any(|c| c.contains(".trx")), "{causes:?}");
        assert!(
            causes.iter().any(|c| c.contains("region WW was written")),
            "{causes:?}"
        );
        let (events, _) = ended(rejected, &plan("openwrt.trx", None));
        let Event::NmrpRejected { causes, .. } = &events[0] else {
            panic!("{events:?}");
        };
        assert!(causes.iter().any(|c| c.contains(".trx")), "{causes:?}");
        assert!(
            !causes.iter().any(|c| c.contains("was written")),
            "{causes:?}"
        );
    }

    #[test]
    fn a_port_that_cannot_open_fails_the_run_with_the_reason() {
        let refused = raw_port_failure(&RawError::NotPermitted {
            interface: "enp3s0".into(),
            remedy: "run with sudo".into(),
        });
        let (events, end) = on_event(NmrpEvent::PortFailed(refused), &plan("R6220.chk", None));
        assert_eq!(end, Some(RunOutcome::Failed));
        assert!(
            events[0].to_string().contains("cap_net_raw"),
            "{}",
            events[0]
        );
    }

    #[test]
    fn the_ports_and_the_arp_entrys_refusals_keep_their_kind_and_their_words() {
        let refusals = [
            (
                RawError::NotPermitted {
                    interface: "enp3s0".into(),
                    remedy: "run with sudo".into(),
                },
                io::ErrorKind::PermissionDenied,
            ),
            (
                RawError::NoSuchInterface {
                    interface: "enp9s0".into(),
                    known: "lo, enp3s0".into(),
                },
                io::ErrorKind::NotFound,
            ),
            (
                RawError::Io {
                    interface: "enp3s0".into(),
                    source: io::Error::from(io::ErrorKind::NetworkDown),
                },
                io::ErrorKind::NetworkDown,
            ),
        ];
        for (err, kind) in refusals {
            let failure = raw_port_failure(&err);
            assert_eq!(failure.io_kind(), Some(kind), "{err}");
            assert_eq!(failure.to_string(), err.to_string());
        }
        let busy = SetupError::PortInUse {
            ifname: "enp3s0".into(),
            pid: 4242,
        };
        let failure = setup_failure(&busy);
        assert_eq!(failure.kind, io::ErrorKind::ResourceBusy);
        let (events, end) = on_event(NmrpEvent::ArpFailed(failure), &plan("R6220.chk", None));
        assert_eq!(end, None, "the upload goes on without the entry");
        let [Event::NetworkNoticed { what }] = &events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(
            what,
            &format!(
                "the static ARP entry for the router could not be added ({busy}); the upload goes on without it"
            )
        );
    }

    #[test]
    fn an_upload_that_failed_ends_the_run_in_the_clients_words() {
        let failure = UploadFailure::Socket(IoFailure::new(
            io::ErrorKind::NetworkUnreachable,
            "network error: Network is unreachable (os error 101)",
        ));
        let (events, end) = on_event(
            NmrpEvent::Session(session::Event::Finished(SessionEnd::UploadFailed(failure))),
            &plan("R6220.chk", None),
        );
        assert_eq!(end, Some(RunOutcome::Failed));
        let [Event::TransferFailed { peer: None, reason }] = &events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(
            reason,
            "network error: Network is unreachable (os error 101)"
        );
    }

    #[test]
    fn the_advertising_count_is_told_once_a_second_while_advertising() {
        let start = Instant::now();
        let mut session = Session::new(Config::new(Mac([2, 0, 0, 0, 0, 1])), start);
        let mut next = start;
        // Nothing sent yet: nothing to tell.
        assert_eq!(advertising_news(&session, start, start, &mut next), None);
        let mut told = Vec::new();
        for tenth in 0..=25_u32 {
            let now = start + Duration::from_millis(100) * tenth;
            session.handle(session::Input::Tick, now);
            if let Some(NmrpEvent::Advertising { sent, since }) =
                advertising_news(&session, start, now, &mut next)
            {
                told.push((sent, since.as_millis()));
            }
        }
        // Ticks at 0, 100, ..., 2500 ms: one ADVERTISE each, told at 0, 1 and 2 s.
        assert_eq!(told, [(1, 0), (11, 1000), (21, 2000)]);
        // Once the router answered, the count is no longer told.
        let conf_req = crate::nmrp::packet::Frame {
            dst: crate::nmrp::packet::BROADCAST,
            src: Mac([2, 0, 0, 0, 0, 2]),
            message: crate::nmrp::packet::Message::new(crate::nmrp::packet::Code::CONF_REQ, vec![]),
        }
        .to_bytes();
        let later = start + Duration::from_secs(5);
        session.handle(session::Input::Frame(&conf_req), later);
        assert_eq!(advertising_news(&session, start, later, &mut next), None);
    }

    #[test]
    fn the_count_and_a_link_flap_are_told_in_a_technicians_words() {
        let plan = plan("R6220.chk", None);
        let (events, end) = on_event(
            NmrpEvent::Advertising {
                sent: 121,
                since: Duration::from_secs(12),
            },
            &plan,
        );
        assert_eq!(end, None);
        assert_eq!(
            events[0].to_string(),
            "waiting for the router to answer: 121 advertisement(s) in 0:12; switch the router on now (its bootloader listens about 3 s after power-on)"
        );
        let told = |up, during| {
            let (events, end) = on_event(NmrpEvent::Link { up, during }, &plan);
            assert_eq!(end, None, "a link change ends nothing");
            events[0].to_string()
        };
        assert!(told(false, session::Phase::Advertising).contains("advertising goes on"));
        assert!(told(true, session::Phase::Configuring).contains("advertising at once"));
        assert!(told(false, session::Phase::Uploading).contains("the upload starts over"));
        assert!(told(false, session::Phase::Flashing).contains("do not switch it off"));
    }

    #[test]
    fn an_image_past_block_65535_at_512_is_warned_of_before_the_upload() {
        // 65535 x 512 - 1 bytes end with the short block 65535: no warning.
        assert_eq!(many_blocks(65_535 * 512 - 1), None);
        // Exactly 65535 x 512 bytes need the empty block 65536.
        assert_eq!(
            many_blocks(65_535 * 512),
            Some(NmrpEvent::ManyBlocks { blocks: 65_536 })
        );
        let (events, end) = on_event(many_blocks(40 << 20).unwrap(), &plan("R7000.chk", None));
        assert_eq!(end, None);
        let said = events[0].to_string();
        assert!(
            said.contains("81921 blocks of 512 bytes") && said.contains("1456-byte blocks"),
            "{said}"
        );
    }

    #[test]
    fn the_strategy_serves_nothing_and_advertises_with_the_wait() {
        let method = Nmrp {
            router: Ipv4Addr::new(10, 164, 183, 253),
        };
        assert!(!method.serves());
        assert!(method.prepare().is_empty());
        assert_eq!(method.on_waiting(), vec![Effect::StartNmrp]);
    }

    /// The first block of the NMRP push waits at least 200 ms for its ACK (CFE erases before
    /// it answers), whatever the block size the router granted: nothing is resent before, and
    /// an ACK at 190 ms moves the transfer on without any resend.
    #[test]
    fn the_first_block_waits_at_least_200_ms_for_its_ack() {
        use crate::tftp::options::Agreed;
        use crate::tftp::packet::Packet;
        use crate::tftp::session::{Opening, Sender};

        let config = push_config();
        assert!(config.request_interval >= CFE_FIRST_BLOCK_MIN);
        let image: Arc<[u8]> = vec![7u8; 10_000].into();
        for blksize in [NMRP_BLKSIZE, 512] {
            let agreed = Agreed {
                blksize,
                ..Agreed::default()
            };
            let t0 = Instant::now();
            let mut out = Vec::new();
            let mut sender = Sender::start(
                Arc::clone(&image),
                &agreed,
                config.rollover,
                Opening::Confirmed,
                config.timing,
                t0,
                &mut out,
            );
            assert_eq!(out.len(), 1, "DATA 1 goes out at once");
            assert_eq!(&out[0][..4], &[0, 3, 0, 1]);
            let deadline = sender.deadline().unwrap();
            assert!(
                deadline - t0 >= CFE_FIRST_BLOCK_MIN,
                "the first resend is due {:?} after the first send",
                deadline - t0
            );
            out.clear();
            sender.on_timer(
                t0 + CFE_FIRST_BLOCK_MIN.saturating_sub(Duration::from_millis(1)),
                &mut out,
            );
            assert!(out.is_empty(), "resent before 200 ms: {out:?}");
            sender.on_packet(
                &Packet::Ack { block: 1 },
                t0 + Duration::from_millis(190),
                &mut out,
            );
            assert_eq!(sender.stats().data_resent, 0);
            assert!(
                out.iter().any(|d| d[..4] == [0, 3, 0, 2]),
                "block 2 follows the late ACK"
            );
        }
    }
}
