//! The only code that changes the [`Model`]: a message in, the [`Effect`]s the event loop must
//! carry out back. No I/O here, so every screen can be reached in a test by feeding messages.

use std::path::PathBuf;
use std::time::Duration;

use super::keys::{self, Key, KeyAction};
use super::model::{
    DeviceStep, Effect, FeedKind, FeedLine, Hint, ImageStep, Model, Msg, Overlay, PortStep, RunEnd,
    RunKind, RunState, Screen, Setup,
};
use crate::engine::plan::{self, ImageFacts};
use crate::engine::{Command, Phase};
use crate::image::ImageVerdict;
use crate::net::iface::{self, Interface, InterfaceKind};

/// How often the port list is read again while the port or network screen is shown.
pub const PORTS_EVERY: Duration = Duration::from_secs(1);

/// Lines a page key moves.
const PAGE: usize = 10;

/// The model the wizard starts with, and what to do first.
pub fn init(setup: Setup) -> (Model, Vec<Effect>) {
    let mut model = Model {
        mode: setup.mode,
        catalogue: setup.catalogue,
        settings: setup.settings,
        colours: setup.colours,
        scratch: setup.scratch,
        screen: Screen::Device,
        overlay: None,
        clock: Duration::ZERO,
        device: DeviceStep {
            query: setup.search,
            ..DeviceStep::default()
        },
        image: ImageStep {
            dir: setup.start_dir.clone(),
            start: setup.start_dir,
            downloads: setup.downloads,
            given: setup.image,
            ..ImageStep::default()
        },
        port: PortStep::default(),
        plan: None,
        plan_problem: None,
        run: None,
        last_end: None,
        leaving: false,
        quit: false,
    };
    search(&mut model);
    let mut first = vec![Effect::ListDir(model.image.dir.clone())];
    // A device given by a name the search lists among others is the one highlighted.
    if let Ok(entry) = model.catalogue.lookup(model.device.query.trim())
        && let Some(n) = model
            .device
            .hits
            .iter()
            .position(|id| *id == entry.profile.id)
    {
        model.device.selected = n;
        // Device and image both given: straight to the image's check against the device,
        // where the technician reviews the verdict and goes on with Enter.
        if model.image.given.is_some() && entry.profile.is_automated() {
            first = choose_device(&mut model);
        }
    }
    (model, first)
}

/// Applies one message.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => key_pressed(model, key),
        Msg::Resized => Vec::new(),
        Msg::Tick(now) => {
            model.clock = model.clock.max(now);
            tick(model)
        }
        Msg::Listed { dir, entries } => {
            listed(model, dir, entries);
            Vec::new()
        }
        Msg::Inspected { path, result } => {
            model.image.busy = None;
            match result {
                Ok(inspection) => {
                    model.image.problem = None;
                    select_path(&mut model.image, &path);
                    model.image.inspection = Some(*inspection);
                }
                Err(why) => model.image.problem = Some(why),
            }
            Vec::new()
        }
        Msg::Stripped(result) => match result {
            Ok(copy) => {
                model.image.busy = Some(format!("checking the copy {}", name_of(&copy)));
                let mut effects = vec![Effect::ListDir(model.image.dir.clone())];
                effects.extend(inspect(model, copy));
                effects
            }
            Err(why) => {
                model.image.busy = None;
                model.image.problem = Some(why);
                Vec::new()
            }
        },
        Msg::Ports(list) => {
            ports(model, list);
            Vec::new()
        }
        Msg::Adapters(list) => {
            adapters::listed(model, list);
            Vec::new()
        }
        Msg::Engine { at, event } => engine_event(model, at, &event),
        Msg::RunEnded(end) => run_ended(model, end),
        Msg::Stop => {
            if run_active(model) {
                stop_run(model)
            } else {
                leave(model)
            }
        }
    }
}

fn run_active(model: &Model) -> bool {
    model.run.as_ref().is_some_and(RunState::active)
}

fn leave(model: &mut Model) -> Vec<Effect> {
    model.quit = true;
    vec![Effect::Quit]
}

/// Cancels the run; the wizard leaves once it has ended (network restored, report written).
fn stop_run(model: &mut Model) -> Vec<Effect> {
    model.overlay = None;
    if model.leaving {
        return Vec::new();
    }
    model.leaving = true;
    if let Some(run) = model.run.as_mut() {
        let at = model.clock.saturating_sub(run.started);
        run.feed.push(FeedLine {
            at,
            kind: FeedKind::Info,
            text: "stopping: the network is being restored and the report written".into(),
        });
    }
    vec![Effect::Send(Command::Cancel)]
}

fn key_pressed(model: &mut Model, key: Key) -> Vec<Effect> {
    match model.overlay {
        Some(Overlay::Help) => {
            model.overlay = None;
            return Vec::new();
        }
        Some(Overlay::Manual(step)) => return manual_key(model, step, key),
        Some(Overlay::ConfirmQuit) => {
            return match key {
                Key::Char('y' | 'Y') | Key::Enter | Key::CtrlC => stop_run(model),
                _ => {
                    model.overlay = None;
                    Vec::new()
                }
            };
        }
        None => {}
    }
    let Some(action) = keys::action(model, key) else {
        return Vec::new();
    };
    if model.leaving && action != KeyAction::Help {
        return Vec::new();
    }
    match action {
        KeyAction::Help => {
            model.overlay = Some(Overlay::Help);
            Vec::new()
        }
        KeyAction::Quit => quit(model),
        _ => match model.screen {
            Screen::Device => device_action(model, action),
            Screen::Image => image_action(model, action),
            Screen::Port => port_action(model, action),
            Screen::Network => network_action(model, action),
            Screen::Prepare => prepare_action(model, action),
            Screen::Live => live_action(model, action),
            Screen::Done => done_action(model, action),
        },
    }
}

fn quit(model: &mut Model) -> Vec<Effect> {
    let phase = model.run.as_ref().filter(|r| r.active()).map(|r| r.phase);
    match phase {
        Some(Some(Phase::Transfer | Phase::Flashing)) => {
            model.overlay = Some(Overlay::ConfirmQuit);
            Vec::new()
        }
        Some(_) => stop_run(model),
        None => leave(model),
    }
}

/// Moves a highlight within `len` lines.
fn moved(selected: usize, len: usize, action: KeyAction) -> usize {
    let last = len.saturating_sub(1);
    match action {
        KeyAction::Up => selected.saturating_sub(1),
        KeyAction::Down => (selected + 1).min(last),
        KeyAction::PageUp => selected.saturating_sub(PAGE),
        KeyAction::PageDown => (selected + PAGE).min(last),
        KeyAction::First => 0,
        KeyAction::Last => last,
        _ => selected,
    }
}

fn is_move(action: KeyAction) -> bool {
    matches!(
        action,
        KeyAction::Up
            | KeyAction::Down
            | KeyAction::PageUp
            | KeyAction::PageDown
            | KeyAction::First
            | KeyAction::Last
    )
}

// Screen 1: the device.

/// Runs the search: every device for an empty one.
fn search(model: &mut Model) {
    let query = model.device.query.trim();
    model.device.hits = if query.is_empty() {
        model
            .catalogue
            .entries()
            .map(|e| e.profile.id.clone())
            .collect()
    } else {
        model
            .catalogue
            .search(query)
            .into_iter()
            .map(|e| e.profile.id.clone())
            .collect()
    };
    model.device.selected = 0;
    model.device.problem = None;
}

fn device_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    match action {
        KeyAction::Type(c) => {
            model.device.query.push(c);
            model.device.typed = true;
            search(model);
        }
        KeyAction::Erase => {
            model.device.query.pop();
            model.device.typed = true;
            search(model);
        }
        KeyAction::Back => {
            model.device.query.clear();
            model.device.typed = false;
            search(model);
        }
        KeyAction::Enter => return choose_device(model),
        a if is_move(a) => {
            model.device.selected = moved(model.device.selected, model.device.hits.len(), a);
        }
        _ => {}
    }
    Vec::new()
}

fn choose_device(model: &mut Model) -> Vec<Effect> {
    let Some(id) = model.device.hits.get(model.device.selected) else {
        model.device.problem = Some(format!(
            "no device matches \"{}\": try fewer letters, or the model name on the router's label",
            model.device.query
        ));
        return Vec::new();
    };
    let Ok(entry) = model.catalogue.get(id) else {
        return Vec::new();
    };
    let profile = entry.profile.clone();
    if !profile.is_automated() {
        // Not a dead end: its steps, one at a time, with what to set up first.
        model.overlay = Some(Overlay::Manual(0));
        model.device.problem = Some(format!(
            "{} recovers by {}, by hand: Enter shows its steps again; `rescue-wizard devices show {}` prints them",
            profile.id,
            profile.method.describe(),
            profile.id
        ));
        return Vec::new();
    }
    if model.device.chosen.as_ref().map(|p| &p.id) != Some(&profile.id) {
        // The preflight depends on the device: a new device needs a new check.
        model.image.inspection = None;
    }
    model.device.chosen = Some(profile);
    model.screen = Screen::Image;
    // The folder may have changed since it was read (a download finished meanwhile).
    let mut effects = vec![Effect::ListDir(model.image.dir.clone())];
    // The image given on the command line is checked at once: Enter is all that is left.
    if let Some(given) = model.image.given.take() {
        effects.extend(inspect(model, given));
    }
    effects
}

/// The highlighted device on the device screen.
pub fn highlighted(model: &Model) -> Option<&crate::profile::Profile> {
    let id = model.device.hits.get(model.device.selected)?;
    model.catalogue.get(id).ok().map(|entry| &entry.profile)
}

/// Keys on a manual device's steps: Enter, → or ↓ to the next step (Enter on the last closes
/// them), ← or ↑ back, Esc or q closes.
fn manual_key(model: &mut Model, step: usize, key: Key) -> Vec<Effect> {
    let steps = highlighted(model).map_or(0, |p| p.steps.len());
    model.overlay = match key {
        Key::Enter | Key::Right | Key::Down | Key::Char(' ') if step + 1 < steps => {
            Some(Overlay::Manual(step + 1))
        }
        Key::Left | Key::Up => Some(Overlay::Manual(step.saturating_sub(1))),
        Key::Enter | Key::Esc | Key::Char('q') | Key::CtrlC => None,
        _ => Some(Overlay::Manual(step)),
    };
    Vec::new()
}

// Screen 2: the image.

fn name_of(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn select_path(image: &mut ImageStep, path: &std::path::Path) {
    if path.parent() == Some(image.dir.as_path())
        && let Some(n) = image.entries.iter().position(|e| {
            !e.dir && Some(e.name.as_str()) == path.file_name().and_then(|n| n.to_str())
        })
    {
        image.selected = n;
    }
}

fn listed(model: &mut Model, dir: PathBuf, entries: Result<Vec<super::model::FileEntry>, String>) {
    let image = &mut model.image;
    match entries {
        Ok(entries) => {
            image.problem = None;
            image.dir = dir;
            image.entries = entries;
            // Files are what is picked: start on the first one.
            image.selected = image.entries.iter().position(|e| !e.dir).unwrap_or(0);
            if let Some(path) = image
                .inspection
                .as_ref()
                .map(|i| i.path.clone())
                .or_else(|| image.given.clone())
            {
                select_path(image, &path);
            }
        }
        Err(why) => image.problem = Some(why),
    }
}

fn inspect(model: &mut Model, path: PathBuf) -> Vec<Effect> {
    let Some(profile) = model.device.chosen.clone() else {
        return Vec::new();
    };
    model.image.busy = Some(format!("checking {}", name_of(&path)));
    model.image.problem = None;
    vec![Effect::Inspect {
        path,
        profile: Box::new(profile),
    }]
}

fn image_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    if model.image.busy.is_some() && !is_move(action) && action != KeyAction::Back {
        return Vec::new();
    }
    let image = &mut model.image;
    match action {
        a if is_move(a) => {
            image.selected = moved(image.selected, image.entries.len(), a);
            image.problem = None;
            Vec::new()
        }
        KeyAction::Back => {
            model.screen = Screen::Device;
            Vec::new()
        }
        KeyAction::Parent => image
            .dir
            .parent()
            .map(|p| vec![Effect::ListDir(p.to_path_buf())])
            .unwrap_or_default(),
        KeyAction::Downloads => image
            .downloads
            .clone()
            .map(|d| vec![Effect::ListDir(d)])
            .unwrap_or_default(),
        KeyAction::StartFolder => vec![Effect::ListDir(image.start.clone())],
        KeyAction::Strip => match image.inspection.clone() {
            Some(inspection) if inspection.strip.is_some() => {
                image.busy = Some("writing the stripped copy".into());
                vec![Effect::Strip(Box::new(inspection))]
            }
            _ => Vec::new(),
        },
        KeyAction::Enter => {
            let Some(entry) = image.entries.get(image.selected).cloned() else {
                return Vec::new();
            };
            let path = image.dir.join(&entry.name);
            if entry.dir {
                return vec![Effect::ListDir(path)];
            }
            match &image.inspection {
                Some(i) if i.path == path => {
                    if i.strip.is_some() {
                        image.problem = Some(
                            "this image carries the bootloader: press S to write a copy without it and use that".into(),
                        );
                        Vec::new()
                    } else if i.verdict() == ImageVerdict::Refused {
                        image.problem = Some(
                            "this image cannot be flashed to this device: pick another (the fixes are below)".into(),
                        );
                        Vec::new()
                    } else {
                        model.screen = Screen::Port;
                        enter_ports(model)
                    }
                }
                _ => inspect(model, path),
            }
        }
        _ => Vec::new(),
    }
}

// Screen 3: the port.

fn enter_ports(model: &mut Model) -> Vec<Effect> {
    model.port.problem = None;
    if model.mode == RunKind::Demo {
        return Vec::new();
    }
    model.port.asked_at = Some(model.clock);
    lists(model)
}

/// What the port screen reads: the ports, and the serial adapters when the run is to find
/// its own (`--serial auto`).
fn lists(model: &Model) -> Vec<Effect> {
    let mut effects = vec![Effect::ListPorts];
    if model.serial_auto() {
        effects.push(Effect::ListAdapters);
    }
    effects
}

fn tick(model: &mut Model) -> Vec<Effect> {
    let watching = matches!(model.screen, Screen::Port | Screen::Network)
        && model.mode == RunKind::Real
        && model.overlay.is_none();
    let due = model
        .port
        .asked_at
        .is_none_or(|at| model.clock.saturating_sub(at) >= PORTS_EVERY);
    if watching && due {
        model.port.asked_at = Some(model.clock);
        return lists(model);
    }
    Vec::new()
}

fn ports(model: &mut Model, mut list: Vec<Interface>) {
    let port = &mut model.port;
    let before = port.interfaces.get(port.selected).map(|i| i.name.clone());
    let recommendation = iface::recommend(&list);
    list.retain(|i| i.kind != InterfaceKind::Loopback);
    list.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.name.cmp(&b.name)));
    port.interfaces = list;
    port.recommended = recommendation.chosen;
    port.reason = recommendation.reason;
    let wanted = if port.listed {
        before
    } else {
        model
            .settings
            .interface
            .clone()
            .or_else(|| port.recommended.clone())
    };
    port.listed = true;
    port.selected = wanted
        .and_then(|name| port.interfaces.iter().position(|i| i.name == name))
        .unwrap_or(0);
    if model.screen == Screen::Network {
        // What will change follows the port as it is now.
        build_plan(model);
    }
}

/// Builds the plan for the chosen device, image and port.
fn build_plan(model: &mut Model) -> bool {
    let (Some(profile), Some(inspection)) = (&model.device.chosen, &model.image.inspection) else {
        return false;
    };
    let facts = ImageFacts::from(inspection);
    let result = match model.mode {
        RunKind::Demo => plan::build(profile, facts, &[], &model.settings),
        RunKind::Real => {
            let Some(chosen) = model.port.interfaces.get(model.port.selected) else {
                model.port.problem = Some(if model.port.reason.is_empty() {
                    "no port to use yet".into()
                } else {
                    model.port.reason.clone()
                });
                return false;
            };
            let mut settings = model.settings.clone();
            // The serial adapter the technician took stands for `auto`.
            if let (Some(serial), Some(chosen)) =
                (settings.serial.as_mut(), &model.port.adapters.chosen)
            {
                serial.port.clone_from(chosen);
            }
            // The recommended port keeps the recommendation's reason in the plan and report.
            settings.interface = (model.port.recommended.as_ref() != Some(&chosen.name))
                .then(|| chosen.name.clone());
            plan::build(profile, facts, &model.port.interfaces, &settings)
        }
    };
    match result {
        Ok(plan) => {
            model.plan = Some(plan);
            model.plan_problem = None;
            model.port.problem = None;
            true
        }
        Err(err) => {
            model.port.problem = Some(err.to_string());
            model.plan_problem = Some(err.to_string());
            false
        }
    }
}

fn port_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    if model.port.adapters.asking {
        adapters::action(model, action);
        return Vec::new();
    }
    match action {
        a if is_move(a) => {
            model.port.selected = moved(model.port.selected, model.port.interfaces.len(), a);
            model.port.problem = None;
        }
        KeyAction::Back => model.screen = Screen::Image,
        KeyAction::Enter if adapters::port_taken(model) => model.screen = Screen::Network,
        _ => {}
    }
    Vec::new()
}

// Screen 4: the network.

fn network_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    match action {
        KeyAction::Back => model.screen = Screen::Port,
        KeyAction::Enter => {
            // The port may have changed since the plan was made: plan from what is there now.
            if model.mode == RunKind::Real && !build_plan(model) {
                model.screen = Screen::Port;
                return Vec::new();
            }
            model.screen = Screen::Prepare;
        }
        KeyAction::Skip => {
            if let Some(plan) = model.plan.as_mut() {
                plan.network = None;
            }
            model.screen = Screen::Prepare;
        }
        _ => {}
    }
    Vec::new()
}

// Screen 5: prepare.

fn prepare_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    match action {
        KeyAction::Back => {
            model.screen = Screen::Network;
            Vec::new()
        }
        KeyAction::Enter => {
            let Some(plan) = model.plan.clone() else {
                return Vec::new();
            };
            model.run = Some(RunState {
                started: model.clock,
                ..RunState::default()
            });
            model.screen = Screen::Live;
            vec![Effect::StartRun(Box::new(plan))]
        }
        _ => Vec::new(),
    }
}

// Screen 6: live.

fn live_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    let clock = model.clock;
    let Some(run) = model.run.as_mut() else {
        return Vec::new();
    };
    let at = clock.saturating_sub(run.started);
    match action {
        KeyAction::Up => run.scroll = (run.scroll + 1).min(run.feed.len().saturating_sub(1)),
        KeyAction::Down => run.scroll = run.scroll.saturating_sub(1),
        KeyAction::PageUp => run.scroll = (run.scroll + PAGE).min(run.feed.len().saturating_sub(1)),
        KeyAction::PageDown => run.scroll = run.scroll.saturating_sub(PAGE),
        KeyAction::First => run.scroll = run.feed.len().saturating_sub(1),
        KeyAction::Last => run.scroll = 0,
        KeyAction::Adopt => {
            if let Some(Hint::Adopt { addr, .. }) = run.hint.take() {
                run.adopted.push(addr);
                run.feed.push(FeedLine {
                    at,
                    kind: FeedKind::Info,
                    text: format!("adopting {addr}: this computer takes the address the router asks for (undone at the end)"),
                });
                return vec![Effect::Send(Command::AdoptAddress { addr })];
            }
        }
        KeyAction::Write | KeyAction::KeepFlash => {
            if let Some(what) = run.write_asked.take() {
                run.ram_boot_offered = None;
                let write = action == KeyAction::Write;
                let text = if write {
                    format!("you said yes: {what}")
                } else {
                    "you said no: the flash stays as it is, the image stays in the router's RAM"
                        .to_owned()
                };
                run.feed.push(FeedLine {
                    at,
                    kind: FeedKind::Info,
                    text,
                });
                return vec![Effect::Send(Command::ConfirmWrite(write))];
            }
        }
        KeyAction::BootFromRam => {
            if let Some(effect) = ram_boot::chosen(run, at) {
                return vec![effect];
            }
        }
        KeyAction::PoweredOn => {
            run.feed.push(FeedLine {
                at,
                kind: FeedKind::Info,
                text: "you switched the router on".into(),
            });
            return vec![Effect::Send(Command::PoweredOn)];
        }
        _ => {}
    }
    Vec::new()
}

// Screen 7: done.

fn done_action(model: &mut Model, action: KeyAction) -> Vec<Effect> {
    let outcome = model
        .run
        .as_ref()
        .and_then(|r| r.end.as_ref())
        .map(|e| e.outcome);
    if is_move(action) {
        if let Some(run) = model.run.as_mut() {
            // Scrolls the outcome's lines; the checklist is the longest part.
            let most = run.final_checklist.len() * 3 + 12;
            run.scroll = match action {
                KeyAction::Up => run.scroll.saturating_sub(1),
                KeyAction::Down => run.scroll + 1,
                KeyAction::PageUp => run.scroll.saturating_sub(PAGE),
                KeyAction::PageDown => run.scroll + PAGE,
                KeyAction::First => 0,
                _ => most,
            }
            .min(most);
        }
        return Vec::new();
    }
    match (action, outcome) {
        (KeyAction::Enter, Some(_)) => leave(model),
        (KeyAction::Retry, Some(_)) => {
            model.run = None;
            model.screen = Screen::Prepare;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

// The engine's events.

fn run_ended(model: &mut Model, end: RunEnd) -> Vec<Effect> {
    model.last_end = Some(end.clone());
    if let Some(run) = model.run.as_mut() {
        run.report = Some(end.report.clone());
        run.hint = None;
        run.write_asked = None;
        run.end = Some(end);
    }
    model.overlay = model.overlay.filter(|o| *o == Overlay::Help);
    if model.screen == Screen::Live {
        if let Some(run) = model.run.as_mut() {
            run.scroll = 0;
        }
        model.screen = Screen::Done;
    }
    if model.leaving {
        return leave(model);
    }
    Vec::new()
}

mod adapters;
mod engine_event;
mod ram_boot;
use engine_event::engine_event;
