//! The interactive full-screen wizard, in The Elm Architecture: keys, ticks, the answers to
//! effects and the engine's events all become a [`Msg`]; [`update::update`] is the only code
//! that changes the [`Model`] and returns [`Effect`]s; [`view::draw`] draws the model and
//! nothing else. This module is the event loop: it reads the terminal on a thread of its own,
//! ticks five times a second, carries the effects out (folders, image checks, the run) and
//! feeds their results back as messages.
//!
//! Nothing here opens a socket: the run is the engine's, and the port list and the serial
//! adapters come from the caller ([`Wizard::ports`], [`Wizard::adapters`]).

pub mod console;
pub mod farewell;
pub mod input;
pub mod keys;
pub mod model;
pub mod nmrp;
pub mod terminal;
pub mod update;
pub mod view;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{self as term, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc;

use crate::console::port::Adapter;
use crate::engine::plan::{NetworkConsent, ServerAddress};
use crate::engine::running::{self, Running};
use crate::engine::simulate::SimulatedRouter;
use crate::engine::{Command, Environment, Plan, RunOutcome, report};
use crate::net::iface::Interface;

pub use keys::Key;
pub use model::{Effect, FileEntry, Model, Msg, RunEnd, RunKind, Screen, Setup};

/// How often the clock ticks (the waiting time, the port list, redraws).
const TICK: Duration = Duration::from_millis(200);

/// How long the key reader waits for a key before it looks whether it should stop.
const KEY_POLL: Duration = Duration::from_millis(100);

/// Everything the wizard needs from its caller.
pub struct Wizard {
    /// Where it starts.
    pub setup: Setup,
    /// Reads this computer's ports (the net module's list, or a test's).
    pub ports: fn() -> Vec<Interface>,
    /// Reads the USB serial adapters present (the console module's list, or a test's).
    pub adapters: fn() -> Vec<Adapter>,
    /// Where the undo journal and the reports live.
    pub state_dir: PathBuf,
    /// Write the report here instead of the state folder.
    pub report: Option<PathBuf>,
    /// What happens when the router asks for another server address (`--adopt`).
    pub adopt: ServerAddress,
    /// A message here asks the wizard to stop (SIGTERM; SIGINT from outside).
    pub stop: mpsc::UnboundedReceiver<()>,
}

/// Runs the wizard on this terminal until the technician leaves; returns how the last run
/// ended (none when no run was started).
pub async fn run(mut wizard: Wizard) -> anyhow::Result<Option<RunEnd>> {
    let origin = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut executor = Executor {
        tx: tx.clone(),
        origin,
        mode: wizard.setup.mode,
        ports: wizard.ports,
        adapters: wizard.adapters,
        state_dir: wizard.state_dir.clone(),
        report: wizard.report.clone(),
        adopt: wizard.adopt,
        commands: None,
    };
    let (mut model, first) = update::init(wizard.setup.clone());
    let mut session = terminal::Session::enter()?;
    let stop_keys = Arc::new(AtomicBool::new(false));
    let keys = spawn_key_reader(tx, Arc::clone(&stop_keys))?;
    for effect in first {
        executor.carry_out(effect);
    }
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drawn = loop {
        if let Err(err) = session.terminal().draw(|frame| view::draw(frame, &model)) {
            break Err(err);
        }
        let msg = tokio::select! {
            Some(msg) = rx.recv() => msg,
            _ = ticks.tick() => Msg::Tick(origin.elapsed()),
            Some(()) = wizard.stop.recv() => Msg::Stop,
        };
        let mut batch = vec![msg];
        // Everything already waiting goes in before the next frame: a burst of wire events
        // costs one redraw.
        while let Ok(msg) = rx.try_recv() {
            batch.push(msg);
        }
        for msg in batch {
            for effect in update::update(&mut model, msg) {
                executor.carry_out(effect);
            }
        }
        if model.quit {
            break Ok(());
        }
    };
    stop_keys.store(true, Ordering::Relaxed);
    drop(session);
    let _ = keys.join();
    if let Err(err) = drawn {
        // The terminal is gone; the network must still be restored before leaving.
        if model.run.as_ref().is_some_and(model::RunState::active) {
            executor.carry_out(Effect::Send(Command::Cancel));
            while let Some(msg) = rx.recv().await {
                if let Msg::RunEnded(end) = msg {
                    return Ok(Some(end));
                }
            }
        }
        return Err(err.into());
    }
    // The full screen's text went with it: what matters is said again on the normal screen.
    for line in farewell::farewell(&model) {
        println!("{line}");
    }
    Ok(model.last_end)
}

/// Carries out effects, sending their results back as messages.
struct Executor {
    tx: mpsc::UnboundedSender<Msg>,
    origin: Instant,
    mode: RunKind,
    ports: fn() -> Vec<Interface>,
    adapters: fn() -> Vec<Adapter>,
    state_dir: PathBuf,
    report: Option<PathBuf>,
    adopt: ServerAddress,
    commands: Option<mpsc::UnboundedSender<Command>>,
}

impl Executor {
    fn carry_out(&mut self, effect: Effect) {
        let tx = self.tx.clone();
        match effect {
            Effect::ListDir(dir) => {
                let entries = list_dir(&dir);
                let _ = tx.send(Msg::Listed { dir, entries });
            }
            Effect::Inspect { path, profile } => {
                tokio::task::spawn_blocking(move || {
                    let result = crate::image::inspect(&path, Some(&profile))
                        .map(Box::new)
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Inspected { path, result });
                });
            }
            Effect::Strip(inspection) => {
                tokio::task::spawn_blocking(move || {
                    let result =
                        crate::image::write_stripped(&inspection).map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Stripped(result));
                });
            }
            Effect::ListPorts => {
                let ports = self.ports;
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Ports(ports()));
                });
            }
            Effect::ListAdapters => {
                let adapters = self.adapters;
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Adapters(adapters()));
                });
            }
            Effect::StartRun(plan) => self.start_run(*plan),
            Effect::Send(command) => {
                if let Some(commands) = &self.commands {
                    let _ = commands.send(command);
                }
            }
            // The loop leaves on the model's `quit`.
            Effect::Quit => {}
        }
    }

    /// Starts the engine; its events come back as [`Msg::Engine`], then [`Msg::RunEnded`]
    /// once the network is restored and the report written.
    fn start_run(&mut self, plan: Plan) {
        let environment = match self.mode {
            RunKind::Demo => Environment::Simulated(SimulatedRouter::default()),
            RunKind::Real => Environment::Host {
                state_dir: self.state_dir.clone(),
                // The network screen's confirmation (or "skip", which leaves no changes).
                consent: NetworkConsent::Given,
                server_address: self.adopt,
            },
        };
        let report_path = self.report.clone().unwrap_or_else(|| {
            report::default_path(&self.state_dir, &plan.device, SystemTime::now())
        });
        let Running {
            mut events,
            commands,
            mut ended,
        } = running::start(plan, environment, Some(report_path));
        self.commands = Some(commands);
        let tx = self.tx.clone();
        let origin = self.origin;
        tokio::spawn(async move {
            let ended = loop {
                tokio::select! {
                    Some(event) = events.recv() => {
                        let _ = tx.send(Msg::Engine { at: origin.elapsed(), event });
                    }
                    ended = &mut ended => break ended,
                }
            };
            while let Ok(event) = events.try_recv() {
                let _ = tx.send(Msg::Engine {
                    at: origin.elapsed(),
                    event,
                });
            }
            let end = match ended {
                Ok(ended) => RunEnd {
                    outcome: ended.summary.outcome,
                    report: ended.report.map_or_else(
                        || Err("no report was asked for".to_owned()),
                        |written| written.map_err(|e| e.to_string()),
                    ),
                    refused: ended.summary.refused,
                    undo_failures: ended.summary.undo_failures,
                },
                Err(err) => RunEnd {
                    outcome: RunOutcome::Failed,
                    report: Err(format!("the run stopped unexpectedly: {err}")),
                    refused: None,
                    undo_failures: Vec::new(),
                },
            };
            let _ = tx.send(Msg::RunEnded(end));
        });
    }
}

/// A folder's entries for the picker: no hidden ones, folders first, by name.
fn list_dir(dir: &Path) -> Result<Vec<FileEntry>, String> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let mut entries: Vec<FileEntry> = listing
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            // Follows links: a link to an image is an image.
            let meta = std::fs::metadata(entry.path()).ok()?;
            Some(FileEntry {
                name,
                dir: meta.is_dir(),
                size: meta.len(),
            })
        })
        .collect();
    entries.sort_by(|a, b| {
        b.dir
            .cmp(&a.dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(entries)
}

/// The wizard's key for a terminal key.
fn key(event: KeyEvent) -> Option<Key> {
    if event.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(event.code, KeyCode::Char('c' | 'C')).then_some(Key::CtrlC);
    }
    Some(match event.code {
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Char(c) => Key::Char(c),
        _ => return None,
    })
}

/// Reads the terminal on a thread of its own (crossterm's read blocks) until `stop` is set or
/// the wizard is gone.
fn spawn_key_reader(
    tx: mpsc::UnboundedSender<Msg>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tui-keys".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match term::poll(KEY_POLL) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => break,
                }
                let msg = match term::read() {
                    Ok(term::Event::Key(k)) if k.kind != KeyEventKind::Release => {
                        key(k).map(Msg::Key)
                    }
                    Ok(term::Event::Resize(..)) => Some(Msg::Resized),
                    Ok(_) => None,
                    Err(_) => break,
                };
                if let Some(msg) = msg
                    && tx.send(msg).is_err()
                {
                    break;
                }
            }
        })
}
