//! The wizard's state: the [`Model`], its seven [`Screen`]s, what can happen to it ([`Msg`])
//! and what it asks the event loop to do ([`Effect`]). Plain data: [`super::update`] is the
//! only code that changes it, and [`super::view`] only reads it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::input::Key;
use crate::engine::checklist::Item;
use crate::engine::{Command, Event, Phase, Plan, RunOutcome, Settings};
use crate::image::Inspection;
use crate::net::iface::Interface;
use crate::profile::{Catalogue, Profile};

/// The screens, in the order a recovery goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// 1. Which device: search the catalogue.
    Device,
    /// 2. Which image: pick the file, see the preflight verdict.
    Image,
    /// 3. Which port the router is plugged into.
    Port,
    /// 4. What changes on this computer's network.
    Network,
    /// 5. The device's steps, before the watch starts.
    Prepare,
    /// 6. The run as it happens.
    Live,
    /// 7. The outcome, or what to check.
    Done,
}

impl Screen {
    /// How many screens there are.
    pub const COUNT: usize = 7;

    /// Its number, from 1.
    pub fn number(self) -> usize {
        match self {
            Screen::Device => 1,
            Screen::Image => 2,
            Screen::Port => 3,
            Screen::Network => 4,
            Screen::Prepare => 5,
            Screen::Live => 6,
            Screen::Done => 7,
        }
    }

    /// Its name in the title bar.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Device => "Device",
            Screen::Image => "Image",
            Screen::Port => "Port",
            Screen::Network => "Network",
            Screen::Prepare => "Prepare",
            Screen::Live => "Live",
            Screen::Done => "Done",
        }
    }
}

/// A real recovery, or the demo against the simulated bootloader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// A real port, real changes (confirmed on the network screen).
    Real,
    /// Loopback and a simulated bootloader: nothing on this computer changes.
    Demo,
}

/// What the wizard starts from.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Real or demo.
    pub mode: RunKind,
    /// The known devices.
    pub catalogue: Catalogue,
    /// The run's settings (the command line's, or the demo's).
    pub settings: Settings,
    /// Where the image picker starts.
    pub start_dir: PathBuf,
    /// The Downloads folder, one key away in the picker.
    pub downloads: Option<PathBuf>,
    /// Draw with colours (`NO_COLOR` unset).
    pub colours: bool,
    /// The device search to start with (the demo's device, or `--device`).
    pub search: String,
    /// The image given on the command line, its full path: highlighted in the picker, and
    /// checked as soon as the device is chosen.
    pub image: Option<PathBuf>,
    /// A folder removed when the wizard ends (the demo's): a report written there is not
    /// kept, and leaving says so.
    pub scratch: Option<PathBuf>,
}

/// Something that happened: a key, the clock, an answer to an [`Effect`], or the engine.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key was pressed.
    Key(Key),
    /// The terminal changed size (the next frame is drawn at the new size).
    Resized,
    /// The clock: time since the wizard started.
    Tick(Duration),
    /// A folder of the image picker was read.
    Listed {
        /// The folder.
        dir: PathBuf,
        /// Its entries, or why they could not be read.
        entries: Result<Vec<FileEntry>, String>,
    },
    /// An image was inspected.
    Inspected {
        /// The file.
        path: PathBuf,
        /// What the preflight found, or why the file could not be read.
        result: Result<Box<Inspection>, String>,
    },
    /// The stripped copy was written (its path), or why not.
    Stripped(Result<PathBuf, String>),
    /// This computer's ports, as they are now.
    Ports(Vec<Interface>),
    /// The USB serial adapters present, as they are now.
    Adapters(Vec<crate::console::port::Adapter>),
    /// The engine reported an event, at this time since the wizard started.
    Engine {
        /// When it arrived.
        at: Duration,
        /// The event.
        event: Event,
    },
    /// The run is over: the network is restored and the report written.
    RunEnded(RunEnd),
    /// The process was asked to stop (SIGTERM, or SIGINT from outside the terminal).
    Stop,
}

/// How a run ended, as the event loop saw it after the engine finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// The outcome.
    pub outcome: RunOutcome,
    /// Where the report was written, or why it could not be.
    pub report: Result<PathBuf, String>,
    /// The network changes were refused (nothing was changed).
    pub refused: Option<String>,
    /// Changes that could not be undone.
    pub undo_failures: Vec<String>,
}

/// What the event loop does for [`super::update`]: everything with I/O.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Read a folder for the picker ([`Msg::Listed`]).
    ListDir(PathBuf),
    /// Inspect an image against a profile ([`Msg::Inspected`]).
    Inspect {
        /// The file.
        path: PathBuf,
        /// The device.
        profile: Box<Profile>,
    },
    /// Write the stripped copy an inspection offered ([`Msg::Stripped`]).
    Strip(Box<Inspection>),
    /// Read this computer's ports ([`Msg::Ports`]).
    ListPorts,
    /// Read the USB serial adapters present ([`Msg::Adapters`]).
    ListAdapters,
    /// Start the run ([`Msg::Engine`] events, then [`Msg::RunEnded`]).
    StartRun(Box<Plan>),
    /// Send a command to the running engine.
    Send(Command),
    /// Leave the wizard.
    Quit,
}

/// One entry of a folder in the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Its name.
    pub name: String,
    /// A folder (opened with Enter) rather than a file.
    pub dir: bool,
    /// Its size in bytes (files).
    pub size: u64,
}

/// A box over the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// The keys of this screen.
    Help,
    /// Quit while the image moves or the router flashes: the risk, and yes or no.
    ConfirmQuit,
    /// A device the run does not automate: what to set up, then its steps one at a time
    /// (this one, counted from 0).
    Manual(usize),
}

/// Screen 1: the device search.
#[derive(Debug, Clone, Default)]
pub struct DeviceStep {
    /// What was typed.
    pub query: String,
    /// Whether the technician typed into the search (not only the one it opened with).
    pub typed: bool,
    /// The ids matching it (every device for an empty search).
    pub hits: Vec<String>,
    /// The highlighted hit.
    pub selected: usize,
    /// The device taken with Enter.
    pub chosen: Option<Profile>,
    /// Why Enter did not go on.
    pub problem: Option<String>,
}

/// Screen 2: the image picker and the preflight.
#[derive(Debug, Clone, Default)]
pub struct ImageStep {
    /// Where the picker started.
    pub start: PathBuf,
    /// The Downloads folder.
    pub downloads: Option<PathBuf>,
    /// The folder shown.
    pub dir: PathBuf,
    /// Its entries, folders first.
    pub entries: Vec<FileEntry>,
    /// The highlighted entry.
    pub selected: usize,
    /// The last inspection.
    pub inspection: Option<Inspection>,
    /// What is being done (inspecting, writing the copy).
    pub busy: Option<String>,
    /// Why the last action failed.
    pub problem: Option<String>,
    /// The image given on the command line, until it is checked.
    pub given: Option<PathBuf>,
}

impl ImageStep {
    /// The highlighted entry's path, if it is a file.
    pub fn selected_file(&self) -> Option<PathBuf> {
        self.entries
            .get(self.selected)
            .filter(|entry| !entry.dir)
            .map(|entry| self.dir.join(&entry.name))
    }
}

/// Screen 3: the ports.
#[derive(Debug, Clone, Default)]
pub struct PortStep {
    /// The ports that can reach a router (loopback left out), wired first.
    pub interfaces: Vec<Interface>,
    /// The recommended port.
    pub recommended: Option<String>,
    /// Why it is recommended, or why none is.
    pub reason: String,
    /// The highlighted port.
    pub selected: usize,
    /// Why Enter did not go on.
    pub problem: Option<String>,
    /// Whether the list has been read at least once.
    pub listed: bool,
    /// When it was last asked for.
    pub asked_at: Option<Duration>,
    /// The serial adapter, for a console run given `--serial auto`.
    pub adapters: AdapterPick,
}

/// The serial adapter wired to the router's console, for a run given `--serial auto`: with
/// one present it is taken, with several the technician picks it here (the run without the
/// wizard refuses and names them), with none the list waits for one to be plugged in.
#[derive(Debug, Clone, Default)]
pub struct AdapterPick {
    /// The USB serial adapters present, as last read.
    pub adapters: Vec<crate::console::port::Adapter>,
    /// Whether the list has been read at least once.
    pub listed: bool,
    /// The highlighted adapter.
    pub selected: usize,
    /// The port screen asks which adapter (the keys move this list, not the ports).
    pub asking: bool,
    /// The adapter taken: the plan's serial port in place of `auto`.
    pub chosen: Option<PathBuf>,
}

/// What kind of line the feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// What the run does.
    Info,
    /// One of the device's steps.
    Step,
    /// A frame on the wire.
    Wire,
    /// What the wire tells.
    Notice,
    /// It worked.
    Good,
    /// Something is wrong.
    Problem,
}

/// One line of the activity feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLine {
    /// Since the run started.
    pub at: Duration,
    /// Its kind.
    pub kind: FeedKind,
    /// In plain words.
    pub text: String,
}

/// The transfer gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gauge {
    /// Bytes acknowledged.
    pub bytes: u64,
    /// Bytes to move.
    pub total: u64,
    /// Bytes a second.
    pub rate: u64,
    /// Resends so far.
    pub timeouts: u64,
    /// Every byte arrived.
    pub finished: bool,
    /// How long the whole transfer took, once it finished.
    pub took: Option<Duration>,
}

impl Gauge {
    /// The fraction done, 0 to 1.
    pub fn ratio(&self) -> f64 {
        if self.finished {
            1.0
        } else if self.total == 0 {
            0.0
        } else {
            (self.bytes as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }

    /// Seconds left at the current rate.
    pub fn eta(&self) -> Option<u64> {
        (self.rate > 0 && !self.finished)
            .then(|| self.total.saturating_sub(self.bytes).div_ceil(self.rate))
    }
}

/// The flashing countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flashing {
    /// How long the profile says it takes.
    pub expected: Duration,
    /// How long is left.
    pub remaining: Duration,
    /// Where the router answers afterwards.
    pub after: Option<Ipv4Addr>,
}

/// Something wrong with a one-key fix, or something to know now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// The router asks for a server address this computer does not have: `A` adopts it.
    Adopt {
        /// The address it asks for.
        addr: Ipv4Addr,
        /// The router's address.
        router: Ipv4Addr,
    },
    /// Nothing has moved for a while.
    Stalled {
        /// What is stuck.
        what: String,
        /// The first failing item's fix, if any.
        fix: Option<String>,
    },
}

/// The device's step to do now, as the engine announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepNow {
    /// Its number, from 1.
    pub number: usize,
    /// What to do.
    pub action: String,
    /// How long, when the profile says.
    pub seconds: Option<u32>,
    /// The LED to watch for.
    pub led: Option<String>,
}

/// The watch that started on the prepare screen: the run and everything it reported.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    /// When it started, since the wizard started.
    pub started: Duration,
    /// The phase now.
    pub phase: Option<Phase>,
    /// Every line so far.
    pub feed: Vec<FeedLine>,
    /// Lines scrolled back from the newest.
    pub scroll: usize,
    /// The device's step to do now.
    pub step: Option<StepNow>,
    /// What the run waits for, its timeout and since when.
    pub waiting: Option<(String, Duration, Duration)>,
    /// The transfer.
    pub gauge: Option<Gauge>,
    /// The flashing countdown.
    pub flashing: Option<Flashing>,
    /// The checklist as it stands.
    pub checklist: Vec<Item>,
    /// The hint shown above the feed.
    pub hint: Option<Hint>,
    /// The console's question before it writes the flash, in words, until it is answered
    /// (`Y` writes, `N` leaves the flash as it is).
    pub write_asked: Option<String>,
    /// The boot from RAM offered beside that question (its command), until it is answered
    /// (`B` boots it; nothing is written).
    pub ram_boot_offered: Option<String>,
    /// The console pane, for a run over the serial console (from the port's opening on).
    pub console: Option<super::console::ConsolePane>,
    /// Addresses adopted with `A`.
    pub adopted: Vec<Ipv4Addr>,
    /// Network changes made.
    pub changed: Vec<String>,
    /// Network changes undone.
    pub restored: Vec<String>,
    /// What stopping meant for the router.
    pub interrupted: Option<String>,
    /// How the run ended, with what to do next.
    pub finished: Option<(RunOutcome, String)>,
    /// The checklist of a run that did not succeed.
    pub final_checklist: Vec<Item>,
    /// The report, once written.
    pub report: Option<Result<PathBuf, String>>,
    /// The loop's view of the end (network restored, report written).
    pub end: Option<RunEnd>,
    /// The NMRP exchange, on an NMRP run once the wait began.
    pub nmrp: Option<super::nmrp::Nmrp>,
}

impl RunState {
    /// Whether the engine is still running.
    pub fn active(&self) -> bool {
        self.end.is_none()
    }
}

/// The whole state of the wizard.
#[derive(Debug, Clone)]
pub struct Model {
    /// Real or demo.
    pub mode: RunKind,
    /// The known devices.
    pub catalogue: Catalogue,
    /// The settings runs start from.
    pub settings: Settings,
    /// Draw with colours.
    pub colours: bool,
    /// A folder removed when the wizard ends ([`Setup::scratch`]).
    pub scratch: Option<PathBuf>,
    /// The screen shown.
    pub screen: Screen,
    /// A box over it.
    pub overlay: Option<Overlay>,
    /// Time since the wizard started (from the last tick).
    pub clock: Duration,
    /// Screen 1.
    pub device: DeviceStep,
    /// Screen 2.
    pub image: ImageStep,
    /// Screen 3.
    pub port: PortStep,
    /// The plan, from screen 3 on.
    pub plan: Option<Plan>,
    /// Why no plan could be made.
    pub plan_problem: Option<String>,
    /// The run, from screen 6 on.
    pub run: Option<RunState>,
    /// The last run that ended, for the exit status.
    pub last_end: Option<RunEnd>,
    /// Quit was asked for while a run was active: leave once it has ended.
    pub leaving: bool,
    /// The wizard has asked to be left.
    pub quit: bool,
}

impl Model {
    /// Whether the run is to find its serial adapter itself (`--serial auto`, a real run):
    /// the port screen then lists the adapters and, with several, asks which.
    pub fn serial_auto(&self) -> bool {
        self.mode == RunKind::Real
            && self.settings.serial.as_ref().is_some_and(|serial| {
                serial.port == std::path::Path::new(crate::engine::plan::SERIAL_AUTO)
            })
    }
}
