//! The bootloader's serial console: the run sets the rescue address and serves the image as
//! the pull method does; once the technician is told to switch the router on, the console leg
//! stops autoboot, types `tftpboot` to fetch the image from our server, proves it by size and
//! CRC-32, and writes the flash only with a recipe and the technician's go (docs/console.md).
//!
//! The dialogue is [`crate::console::Dialogue`] (sans-I/O); here are its strategy in the run
//! ([`Console`]), what the run makes of its news ([`on_news`], pure), and the thin driver
//! ([`start`]): one thread named `console` owning the serial port.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use tokio::sync::mpsc::unbounded_channel;

use super::{LegFailure, Method};
use crate::console::port::PortError;
use crate::console::{Answer, ConsoleEvent, Dialogue, FlashState, Job, Settings, port};
use crate::engine::event::{Event, RunOutcome};
use crate::engine::plan::{AfterProof, ConsolePlan, Plan};
pub use crate::engine::run::exchange::ConsoleNews;
use crate::engine::run::exchange::{Effect, Input};
use crate::net::io_failure::IoFailure;

/// The console strategy: our server comes up first, the console leg with the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console {
    /// The serial port, as given (`auto`: the one USB serial adapter present).
    pub port: PathBuf,
}

impl Method for Console {
    fn awaits(&self) -> String {
        format!(
            "the bootloader on the serial console {}: switch the router on now",
            self.port.display()
        )
    }

    fn serves(&self) -> bool {
        true
    }

    fn prepare(&self) -> Vec<Effect> {
        vec![Effect::StartServer]
    }

    // The port is opened only now: nothing is typed before the bootloader speaks, and an
    // adapter opened earlier could hold bytes of a boot nobody asked for.
    fn on_waiting(&self) -> Vec<Effect> {
        vec![Effect::StartConsole]
    }
}

/// What the run makes of one piece of console news: the events to show, and how the run
/// ends when this ends it. Pure: the machine calls it from its one console arm.
pub fn on_news(news: ConsoleNews) -> (Vec<Event>, Option<RunOutcome>) {
    match news {
        ConsoleNews::Opened { port, baud } => (vec![Event::ConsoleOpened { port, baud }], None),
        ConsoleNews::PortFailed(reason) => (
            vec![Event::TransferFailed {
                peer: None,
                reason: format!("the serial console cannot be used: {reason}"),
            }],
            Some(RunOutcome::Failed),
        ),
        ConsoleNews::Line(line) => (vec![Event::ConsoleLine { line }], None),
        ConsoleNews::Transcript(text) => (vec![Event::ConsoleTranscript { text }], None),
        ConsoleNews::Dialogue(event) => dialogue_event(event),
    }
}

fn dialogue_event(event: ConsoleEvent) -> (Vec<Event>, Option<RunOutcome>) {
    let said = event.to_string();
    match event {
        ConsoleEvent::CrcCompared {
            region,
            ours,
            theirs,
        } => (
            vec![Event::ConsoleCrc {
                region: region.to_string(),
                ours: format!("{ours:08x}"),
                theirs: format!("{theirs:08x}"),
                equal: ours == theirs,
            }],
            None,
        ),
        ConsoleEvent::CommandTyped { command } => (vec![Event::ConsoleTyped { command }], None),
        ConsoleEvent::Awaiting { next, what } => {
            (vec![Event::ConsoleAwaiting { next, what }], None)
        }
        ConsoleEvent::RamBoot { command, chosen } => (
            vec![Event::ConsoleRamBoot {
                command,
                chosen,
                what: said,
            }],
            None,
        ),
        ConsoleEvent::ConfirmationAsked {
            commands,
            erase_from,
            erase_to,
            crc,
        } => (
            vec![Event::ConsoleWriteAsked {
                what: said,
                erase_from,
                erase_to,
                crc: format!("{crc:08x}"),
                commands,
            }],
            None,
        ),
        ConsoleEvent::Finished { flash, note } => {
            // Proven in RAM and nothing written: the technician declined or gave no go, or
            // the profile has no recipe. The image reached the router and was proven; the
            // flash is as it was.
            let outcome = if flash == FlashState::Verified {
                RunOutcome::Flashed
            } else {
                RunOutcome::Transferred
            };
            (
                vec![Event::ConsoleFlash {
                    state: flash_state(flash).to_owned(),
                    note,
                }],
                Some(outcome),
            )
        }
        ConsoleEvent::Failed {
            reason,
            flash,
            note,
        } => (
            vec![
                Event::TransferFailed {
                    peer: None,
                    reason: format!("the console dialogue stopped: {reason}"),
                },
                Event::ConsoleFlash {
                    state: flash_state(flash).to_owned(),
                    note,
                },
            ],
            Some(RunOutcome::Failed),
        ),
        _ => (vec![Event::ConsoleNoted { what: said }], None),
    }
}

/// A flash state's name in events and reports.
pub fn flash_state(state: FlashState) -> &'static str {
    match state {
        FlashState::Untouched => "untouched",
        FlashState::Erasing => "erasing",
        FlashState::Erased => "erased",
        FlashState::Writing => "writing",
        FlashState::Written => "written",
        FlashState::Verified => "verified",
        FlashState::Differs => "differs",
    }
}

pub use super::thread::{Running, recv};

/// What the dialogue is to do for `plan`: the router at `router` fetches `image` from our
/// server at `server`.
pub fn job(
    plan: &Plan,
    console: &ConsolePlan,
    router: Ipv4Addr,
    server: Ipv4Addr,
    image: &[u8],
) -> Job {
    let file = crate::settings::image_name(plan.file(), &plan.image.path);
    Job {
        router_ip: router,
        server_ip: server,
        file,
        load_addr: console.load_addr,
        size: image.len() as u64,
        crc: crc32fast::hash(image),
        recipe: console.recipe.clone(),
    }
}

/// The port to open: the path given, or for `auto` the one USB serial adapter present.
pub fn resolve(given: &Path) -> Result<PathBuf, PortError> {
    if given == Path::new(crate::engine::plan::SERIAL_AUTO) {
        port::the_adapter()
    } else {
        Ok(given.to_owned())
    }
}

/// The way to the console thread for the technician's answer to
/// [`Event::ConsoleWriteAsked`].
pub type Answers = mpsc::Sender<Answer>;

/// Hands the technician's answer to the console leg, if one runs: `true` writes, `false`
/// leaves the flash as it is. The dialogue takes it only while it waits for one
/// ([`Dialogue::awaits_confirmation`]); a leg that has ended is told nothing.
pub fn answer(answers: Option<&Answers>, write: bool) {
    send_answer(answers, if write { Answer::Write } else { Answer::Leave });
}

/// Hands the other answer to the console leg: boot the proven image from RAM, write nothing
/// (taken only where [`Event::ConsoleRamBoot`] offered it).
pub fn boot_from_ram(answers: Option<&Answers>) {
    send_answer(answers, Answer::BootFromRam);
}

fn send_answer(answers: Option<&Answers>, answer: Answer) {
    if let Some(answers) = answers {
        let _ = answers.send(answer);
    }
}

/// Starts the console leg: the thread `console` opens the port and drives `job` on it until
/// the dialogue ends or `stop` is set. Everything comes back as [`Input::Console`]; the
/// technician's answer to the write question goes in through the returned [`Answers`].
pub fn start(console: &ConsolePlan, job: Job, stop: Arc<AtomicBool>) -> (Running, Answers) {
    let (tx, inputs) = unbounded_channel();
    let (answers_tx, answers) = mpsc::channel();
    let console = console.clone();
    let send = move |news: ConsoleNews| {
        let _ = tx.send(Input::Console(news));
    };
    let spawned = std::thread::Builder::new()
        .name("console".to_owned())
        .spawn(move || {
            let path = match resolve(&console.port) {
                Ok(path) => path,
                Err(err) => return send(ConsoleNews::PortFailed(port_failure(&err))),
            };
            let serial = match port::open(&path, console.baud) {
                Ok(serial) => serial,
                Err(err) => return send(ConsoleNews::PortFailed(port_failure(&err))),
            };
            send(ConsoleNews::Opened {
                port: path.clone(),
                baud: console.baud,
            });
            let settings = Settings {
                stop_token: console.stop_token.clone(),
                prompt: console.prompt.clone(),
                baud: console.baud,
            };
            // With `--yes` nothing is asked; otherwise the dialogue waits, once the image is
            // proven in RAM, for the front-end's answer (a run with nobody to ask answers no).
            let mut dialogue =
                Dialogue::new(settings, job, console.after_proof == AfterProof::Write);
            if let Some(boot) = console.ram_boot.clone() {
                dialogue = dialogue.with_ram_boot(boot);
            }
            let mut lines = Lines::default();
            // The run ends on the dialogue's last word: the transcript goes before it.
            let mut last = None;
            let result = port::drive_heard(
                &serial,
                &mut dialogue,
                &answers,
                &stop,
                |event| match event {
                    ConsoleEvent::Finished { .. } | ConsoleEvent::Failed { .. } => {
                        last = Some(event.clone());
                    }
                    _ => send(ConsoleNews::Dialogue(event.clone())),
                },
                |bytes| {
                    for line in lines.feed(bytes) {
                        send(ConsoleNews::Line(line));
                    }
                },
            );
            send(ConsoleNews::Transcript(
                String::from_utf8_lossy(dialogue.transcript()).into_owned(),
            ));
            if let Some(event) = last {
                send(ConsoleNews::Dialogue(event));
            }
            if let Err(err) = result {
                let cut_off = IoFailure::new(err.kind(), format!("{}: {err}", path.display()));
                send(ConsoleNews::PortFailed(LegFailure::Io(cut_off)));
            }
        });
    (Running::new(inputs, spawned.ok()), answers_tx)
}

/// The port's refusal as the leg's news: the words the technician reads (with their fix),
/// and the kind of the system's refusal beneath them (console/port.rs files `ENOENT` under
/// `Missing` and `EACCES` under `Denied`; `--serial auto` finding no single adapter is
/// `NotFound` too).
pub fn port_failure(err: &PortError) -> LegFailure {
    let kind = match err {
        PortError::Missing { .. } | PortError::NotFound(_) => std::io::ErrorKind::NotFound,
        PortError::Denied { .. } => std::io::ErrorKind::PermissionDenied,
        PortError::Baud { source, .. } | PortError::Other { source, .. } => source.kind(),
    };
    LegFailure::Io(IoFailure::new(kind, err.to_string()))
}

/// Console bytes cut into lines (carriage returns and NULs dropped).
#[derive(Debug, Default)]
pub struct Lines {
    partial: String,
}

impl Lines {
    /// The lines `bytes` complete; a line's start waits for its end.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut done = Vec::new();
        for ch in String::from_utf8_lossy(bytes).chars() {
            match ch {
                '\n' => done.push(std::mem::take(&mut self.partial)),
                '\r' | '\0' => {}
                c => self.partial.push(c),
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::ImageCopy;

    #[test]
    fn a_crc_mismatch_is_shown_with_both_values_and_does_not_end_the_run_by_itself() {
        let (events, end) = on_news(ConsoleNews::Dialogue(ConsoleEvent::CrcCompared {
            region: ImageCopy::Loaded,
            ours: 0x1234_5678,
            theirs: 0x1234_5679,
        }));
        assert_eq!(end, None);
        let Some(Event::ConsoleCrc {
            ours,
            theirs,
            equal,
            ..
        }) = events.first()
        else {
            panic!("{events:?}");
        };
        assert_eq!(
            (ours.as_str(), theirs.as_str(), *equal),
            ("12345678", "12345679", false)
        );
    }

    #[test]
    fn a_proof_without_a_write_ends_transferred_and_a_verified_flash_ends_flashed() {
        let (events, end) = on_news(ConsoleNews::Dialogue(ConsoleEvent::Finished {
            flash: FlashState::Untouched,
            note: "Nothing was erased or written: the flash is as it was.".into(),
        }));
        assert_eq!(end, Some(RunOutcome::Transferred));
        assert!(matches!(&events[0], Event::ConsoleFlash { state, .. } if state == "untouched"));
        let (_, end) = on_news(ConsoleNews::Dialogue(ConsoleEvent::Finished {
            flash: FlashState::Verified,
            note: String::new(),
        }));
        assert_eq!(end, Some(RunOutcome::Flashed));
    }

    #[test]
    fn a_stopped_dialogue_fails_the_run_and_says_where_the_flash_stands() {
        let (events, end) = on_news(ConsoleNews::Dialogue(ConsoleEvent::Failed {
            reason: "`erase` answered unexpectedly".into(),
            flash: FlashState::Erasing,
            note: "0x9f020000 to 0x9f3fffff may be partly erased".into(),
        }));
        assert_eq!(end, Some(RunOutcome::Failed));
        assert!(
            matches!(&events[1], Event::ConsoleFlash { state, note } if state == "erasing" && note.contains("0x9f020000"))
        );
    }

    #[test]
    fn the_write_question_says_the_region_its_size_and_the_proven_crc() {
        let (events, end) = on_news(ConsoleNews::Dialogue(ConsoleEvent::ConfirmationAsked {
            commands: vec!["erase 0x9f020000 +0x3c0000".into()],
            erase_from: 0x9f02_0000,
            erase_to: 0x9f3e_0000,
            crc: 0x1234_abcd,
        }));
        assert_eq!(end, None, "the run waits for the answer");
        let [
            Event::ConsoleWriteAsked {
                what,
                erase_from,
                erase_to,
                crc,
                commands,
            },
        ] = &events[..]
        else {
            panic!("{events:?}");
        };
        assert_eq!(
            what,
            "erase 0x9f020000..0x9f3e0000 (3.75 MiB) and write the image proven by CRC-32 0x1234abcd"
        );
        assert_eq!((*erase_from, *erase_to), (0x9f02_0000, 0x9f3e_0000));
        assert_eq!(crc, "1234abcd");
        assert_eq!(commands, &["erase 0x9f020000 +0x3c0000"]);
    }

    #[test]
    fn an_answer_reaches_a_running_leg_and_none_is_lost_on_an_ended_one() {
        let (answers, taken) = mpsc::channel();
        answer(Some(&answers), true);
        answer(Some(&answers), false);
        boot_from_ram(Some(&answers));
        assert_eq!(
            taken.try_iter().collect::<Vec<_>>(),
            [Answer::Write, Answer::Leave, Answer::BootFromRam]
        );
        drop(taken);
        // The leg ended: the answer goes nowhere, and nothing panics.
        answer(Some(&answers), true);
        answer(None, true);
    }

    #[test]
    fn a_port_refused_fails_the_run_in_the_ports_words_and_keeps_the_kind() {
        let denied = port_failure(&PortError::Denied {
            path: PathBuf::from("/dev/ttyUSB0"),
        });
        assert_eq!(denied.io_kind(), Some(std::io::ErrorKind::PermissionDenied));
        let no_adapter = port_failure(&port::choose_adapter(&[]).unwrap_err());
        assert_eq!(no_adapter.io_kind(), Some(std::io::ErrorKind::NotFound));
        let (events, end) = on_news(ConsoleNews::PortFailed(denied));
        assert_eq!(end, Some(RunOutcome::Failed));
        let [Event::TransferFailed { peer: None, reason }] = &events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(
            reason,
            "the serial console cannot be used: may not open '/dev/ttyUSB0': add yourself to the group that owns it (`sudo usermod -aG dialout $USER`, then log in again) or run with sudo"
        );
    }

    #[test]
    fn console_bytes_become_lines_across_reads() {
        let mut lines = Lines::default();
        assert!(lines.feed(b"Hit any key to st").is_empty());
        assert_eq!(
            lines.feed(b"op autoboot:  2 \r\n=> \0"),
            vec!["Hit any key to stop autoboot:  2 ".to_owned()]
        );
    }
}
