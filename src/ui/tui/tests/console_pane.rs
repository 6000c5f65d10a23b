//! The console pane of the live screen, fed the events a real [`Dialogue`] tells while it
//! talks to a U-Boot that echoes and answers as U-Boot 2023 in QEMU does: the countdown
//! awaited, the prompt reached with the next command shown before it is typed, the image
//! loading, the image proven, and the write question.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use super::{event, on_live_screen, rows, snapshot};
use crate::console::{Action, Dialogue, FlashKind, Input, Job, Recipe, Settings};
use crate::engine::run::method::console::{ConsoleNews, Lines, on_news};
use crate::engine::{Event, Phase};
use crate::ui::tui::model::Model;

const IMAGE_SIZE: u64 = 3_932_160;
const IMAGE_CRC: u32 = 0x1234_abcd;
const PROMPT: &str = "=> ";

/// The wizard on the live screen of a console run, and the dialogue behind it.
struct Bench {
    model: Model,
    dialogue: Dialogue,
    lines: Lines,
    /// The run's events not yet shown to the wizard, in order.
    pending: Vec<Event>,
    /// The line typed so far, as U-Boot's line editor holds it.
    line: String,
    secs: f64,
    now: Instant,
}

impl Bench {
    fn new() -> Self {
        let mut model = on_live_screen();
        event(
            &mut model,
            0.5,
            Event::PhaseStarted {
                phase: Phase::Waiting,
            },
        );
        let job = Job {
            router_ip: Ipv4Addr::new(10, 77, 0, 2),
            server_ip: Ipv4Addr::new(10, 77, 0, 1),
            file: "recovery.bin".into(),
            load_addr: Some(0x4020_0000),
            size: IMAGE_SIZE,
            crc: IMAGE_CRC,
            recipe: Some(Recipe {
                kind: FlashKind::Nor,
                offset: 0x0410_0000,
                erase_size: 0x4_0000,
                scratch: None,
                commands: Vec::new(),
                reset: true,
            }),
        };
        let settings = Settings {
            baud: 115_200,
            ..Settings::default()
        };
        let mut bench = Self {
            model,
            dialogue: Dialogue::new(settings, job, false),
            lines: Lines::default(),
            pending: Vec::new(),
            line: String::new(),
            secs: 1.0,
            now: Instant::now(),
        };
        bench.news(ConsoleNews::Opened {
            port: PathBuf::from("/dev/ttyUSB0"),
            baud: 115_200,
        });
        bench.show_all();
        bench
    }

    fn news(&mut self, news: ConsoleNews) {
        let (events, _) = on_news(news);
        self.pending.extend(events);
    }

    /// The bootloader prints `bytes`: the lines they complete, then what the dialogue makes
    /// of them, as the console thread sends them. Returns what the dialogue typed.
    fn hear(&mut self, bytes: &[u8]) -> Vec<u8> {
        for line in self.lines.feed(bytes) {
            self.news(ConsoleNews::Line(line));
        }
        let mut typed = Vec::new();
        for action in self.dialogue.handle(Input::Bytes(bytes.to_vec()), self.now) {
            match action {
                Action::Type(bytes) => typed.extend(bytes),
                Action::Tell(told) => self.news(ConsoleNews::Dialogue(told)),
            }
        }
        typed
    }

    /// Shows the wizard the pending events up to the first that `stop` picks, included.
    fn show_until(&mut self, stop: impl Fn(&Event) -> bool) {
        let at = self.pending.iter().position(stop).expect("the event came");
        for told in self.pending.drain(..=at).collect::<Vec<_>>() {
            self.secs += 0.1;
            event(&mut self.model, self.secs, told);
        }
    }

    fn show_all(&mut self) {
        for told in std::mem::take(&mut self.pending) {
            self.secs += 0.1;
            event(&mut self.model, self.secs, told);
        }
    }

    /// Echoes what the dialogue types and answers each line entered, until the line entered
    /// starts with `until` (left unanswered).
    fn converse(&mut self, mut typed: Vec<u8>, until: &str) {
        loop {
            assert!(!typed.is_empty(), "the dialogue stopped typing");
            if typed == b"\r" {
                let line = std::mem::take(&mut self.line);
                if line.starts_with(until) {
                    return;
                }
                let mut reply = "\r\n".to_owned();
                let answer = answer(&line);
                if !answer.is_empty() {
                    reply.push_str(&answer);
                    reply.push_str("\r\n");
                }
                reply.push_str(PROMPT);
                typed = self.hear(reply.as_bytes());
            } else {
                self.line.push_str(&String::from_utf8_lossy(&typed));
                typed = self.hear(&typed);
            }
        }
    }

    fn screen(&self) -> String {
        rows(&self.model).join("\n")
    }
}

/// U-Boot's answers, as tests/console.rs's bootloader gives them.
fn answer(line: &str) -> String {
    match line.split_whitespace().next().unwrap_or("") {
        "crc32" => format!(
            "crc32 for 40200000 ... {:08x} ==> {IMAGE_CRC:08x}",
            0x4020_0000 + IMAGE_SIZE - 1
        ),
        _ => String::new(),
    }
}

/// The banner, up to the moment before the countdown (a colour code included: it is shown
/// escaped, never sent to the terminal).
const BANNER: &[u8] = b"\r\nU-Boot 2023.01+dfsg-2 (Jan 20 2023 - 12:00:00 +0000)\r\n\r\n\x1b[0mDRAM:  128 MiB\r\nFlash: 128 MiB\r\nIn:    pl011@9000000\r\nNet:   eth0: virtio-net#32\r\n";

/// The dialogue at U-Boot's prompt, the first command told and its first character typed.
fn at_the_prompt() -> (Bench, Vec<u8>) {
    let mut bench = Bench::new();
    assert!(bench.hear(BANNER).is_empty(), "nothing before the window");
    let stop = bench.hear(b"Hit any key to stop autoboot:  2 ");
    assert_eq!(stop, b" ");
    let first = bench.hear(format!("\x08\x08\x08 0 \r\n{PROMPT}").as_bytes());
    assert_eq!(first, b"s");
    bench.show_all();
    (bench, first)
}

#[test]
fn before_the_countdown_the_pane_waits_for_it_and_shows_the_banner_escaped() {
    let mut bench = Bench::new();
    assert!(bench.hear(BANNER).is_empty());
    bench.show_all();
    let screen = bench.screen();
    assert!(
        screen.contains("Console /dev/ttyUSB0 · 115200 baud"),
        "{screen}"
    );
    assert!(screen.contains("\\u{1b}[0mDRAM:  128 MiB"), "{screen}");
    assert!(
        screen.contains("waiting for the bootloader's autoboot"),
        "{screen}"
    );
    assert!(!screen.contains("next "), "{screen}");
    snapshot("console_pane_countdown", &bench.model);
}

#[test]
fn after_the_stop_token_the_pane_waits_for_the_prompt() {
    let mut bench = Bench::new();
    bench.hear(BANNER);
    assert_eq!(bench.hear(b"Hit any key to stop autoboot:  2 "), b" ");
    bench.show_all();
    let screen = bench.screen();
    assert!(
        screen.contains("waiting for the bootloader's prompt"),
        "{screen}"
    );
}

#[test]
fn at_the_prompt_the_next_command_is_shown_before_it_is_typed() {
    let (bench, first) = at_the_prompt();
    // Only its first character went out, and the bootloader has not echoed it yet.
    assert_eq!(first, b"s");
    let screen = bench.screen();
    assert!(screen.contains("next  setenv ipaddr 10.77.0.2"), "{screen}");
    assert!(
        screen.contains("waiting for the prompt, with no error"),
        "{screen}"
    );
    assert!(!screen.contains("typed `setenv"), "{screen}");
    snapshot("console_pane_prompt", &bench.model);
}

#[test]
fn while_loading_the_pane_waits_for_the_bytes_transferred() {
    let (mut bench, first) = at_the_prompt();
    bench.converse(first, "tftpboot");
    bench.hear(
        b"\r\nUsing virtio-net#32 device\r\nTFTP from server 10.77.0.1; our IP address is 10.77.0.2\r\nFilename 'recovery.bin'.\r\nLoad address: 0x40200000\r\nLoading: ##################\r\n",
    );
    bench.show_all();
    let screen = bench.screen();
    assert!(
        screen.contains("waiting for \"Bytes transferred = 3932160\""),
        "{screen}"
    );
    assert!(
        !screen.contains("next  "),
        "entered, no longer next: {screen}"
    );
    assert!(screen.contains("Loading: ####"), "{screen}");
    snapshot("console_pane_loading", &bench.model);
}

/// The image loaded: its size told, the CRC-32 command typed and answered.
fn loaded() -> Bench {
    let (mut bench, first) = at_the_prompt();
    bench.converse(first, "tftpboot");
    let crc = bench.hear(
        format!(
            "\r\nLoading: ##################################\r\ndone\r\nBytes transferred = {IMAGE_SIZE} ({IMAGE_SIZE:x} hex)\r\n{PROMPT}"
        )
        .as_bytes(),
    );
    bench.converse(crc, "crc32");
    let typed = bench.hear(
        format!(
            "\r\n{}\r\n{PROMPT}",
            answer(&format!("crc32 0x40200000 {IMAGE_SIZE:#x}"))
        )
        .as_bytes(),
    );
    assert!(typed.is_empty(), "nothing typed before the go: {typed:?}");
    bench
}

#[test]
fn once_verified_the_pane_shows_the_crc_equal() {
    let mut bench = loaded();
    bench.show_until(|e| matches!(e, Event::ConsoleCrc { .. }));
    let screen = bench.screen();
    assert!(screen.contains("==> 1234abcd"), "{screen}");
    assert!(
        screen.contains("crc32 the loaded image: bootloader 1234abcd,"),
        "{screen}"
    );
    assert!(screen.contains("ours 1234abcd, equal"), "{screen}");
    assert!(!screen.contains("waiting for the CRC-32"), "{screen}");
    snapshot("console_pane_verified", &bench.model);
}

#[test]
fn asking_to_write_the_pane_waits_for_the_answer_and_types_nothing() {
    let mut bench = loaded();
    bench.show_all();
    assert!(bench.dialogue.awaits_confirmation());
    let screen = bench.screen();
    assert!(
        screen.contains("waiting for your answer: y writes the flash"),
        "{screen}"
    );
    assert!(!screen.contains("next  "), "{screen}");
    assert!(screen.contains("? erase 0x4100000..0x44c0000"), "{screen}");
    snapshot("console_pane_write_asked", &bench.model);
}
