//! The console dialogue in virtual time: each family's recorded transcript (tests/fixtures/console/)
//! driven to its prompt, the NUL trap, a missed window, and the command part against a scripted
//! bootloader that echoes what is typed and answers as U-Boot does (answers taken from Debian's
//! u-boot-qemu, as recorded in tests/fixtures/console/uboot-qemu-arm.txt): a `tftpboot` that
//! fails, a CRC mismatch that stops before any write, the write path, a write the flash
//! refuses, a lost character, the technician's go.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rescue_wizard::console::dialogue::size_words;
use rescue_wizard::console::{
    Action, ConsoleEvent, Dialogue, Family, FlashKind, FlashState, ImageCopy, Input, Job, Recipe,
    Settings,
};

const IMAGE_SIZE: u64 = 0x3_0000;
const IMAGE_CRC: u32 = 0xdbc3_e28f;

fn job(recipe: Option<Recipe>) -> Job {
    Job {
        router_ip: Ipv4Addr::new(10, 77, 0, 2),
        server_ip: Ipv4Addr::new(10, 77, 0, 1),
        file: "recovery.bin".into(),
        load_addr: Some(0x4020_0000),
        size: IMAGE_SIZE,
        crc: IMAGE_CRC,
        recipe,
    }
}

fn nor_recipe() -> Recipe {
    Recipe {
        kind: FlashKind::Nor,
        offset: 0x0410_0000,
        erase_size: 0x2_0000,
        scratch: None,
        commands: Vec::new(),
        reset: true,
    }
}

fn settings() -> Settings {
    Settings {
        baud: 115_200,
        ..Settings::default()
    }
}

/// A fixture: segments of bootloader output, each followed by what must have been typed.
struct Transcript {
    segments: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn read_fixture(name: &str) -> Transcript {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/console")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut segments = Vec::new();
    let mut output = Vec::new();
    for line in text.lines() {
        if let Some(typed) = line.strip_prefix("@@ typed: ") {
            let typed = match typed {
                "^C" => vec![3],
                "ESC" => vec![0x1b],
                "SPACE" => b" ".to_vec(),
                other => other.as_bytes().to_vec(),
            };
            segments.push((std::mem::take(&mut output), Some(typed)));
        } else if line.starts_with("@@ ") {
        } else {
            let (body, newline) = match line.strip_suffix("\\c") {
                Some(body) => (body, false),
                None => (line, true),
            };
            output.extend_from_slice(body.replace("\\b", "\u{8}").as_bytes());
            if newline {
                output.extend_from_slice(b"\r\n");
            }
        }
    }
    segments.push((output, None));
    Transcript { segments }
}

fn typed(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Type(bytes) => Some(bytes.clone()),
            Action::Tell(_) => None,
        })
        .flatten()
        .collect()
}

fn told(actions: &[Action]) -> Vec<ConsoleEvent> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Tell(event) => Some(event.clone()),
            Action::Type(_) => None,
        })
        .collect()
}

/// Drives `name` through a dialogue, `chunk` bytes at a time; returns every action.
fn replay(name: &str, chunk: usize) -> (Dialogue, Vec<Action>) {
    let mut dialogue = Dialogue::new(settings(), job(None), false);
    let now = Instant::now();
    let mut all = Vec::new();
    for (output, expected) in read_fixture(name).segments {
        let mut actions = Vec::new();
        for piece in output.chunks(chunk) {
            actions.extend(dialogue.handle(Input::Bytes(piece.to_vec()), now));
        }
        if let Some(expected) = expected {
            assert_eq!(
                String::from_utf8_lossy(&typed(&actions)),
                String::from_utf8_lossy(&expected),
                "{name}: typed at this point"
            );
        }
        all.extend(actions);
    }
    (dialogue, all)
}

#[test]
fn every_family_is_driven_to_its_prompt_whatever_the_chunking() {
    let cases = [
        ("tplink-1.1.4.txt", Family::TpLink, "ar7100> "),
        ("glinet-ipq40xx.txt", Family::NamedKey, "(IPQ40xx) # "),
        ("mediatek-mt7628.txt", Family::MediaTekMenu, "MT7628 # "),
        ("cfe-bcm947xx.txt", Family::Cfe, "CFE> "),
        ("realtek-rtl8196e.txt", Family::Realtek, "<RealTek>"),
        ("uboot-qemu-arm.txt", Family::AnyKey, "=> "),
    ];
    for (name, family, prompt) in cases {
        for chunk in [1, 7, 4096] {
            let (dialogue, actions) = replay(name, chunk);
            assert_eq!(dialogue.family(), Some(family), "{name}");
            let events = told(&actions);
            assert!(
                events.contains(&ConsoleEvent::PromptReached {
                    prompt: prompt.to_owned()
                }),
                "{name} in chunks of {chunk}: {events:?}"
            );
            // At the prompt, the first command's first character and nothing else.
            let Some(Action::Type(last)) =
                actions.iter().rev().find(|a| matches!(a, Action::Type(_)))
            else {
                panic!("{name}: nothing typed at the prompt");
            };
            assert_eq!(last, b"s", "{name}: `setenv` begins");
            assert_eq!(dialogue.flash(), FlashState::Untouched);
        }
    }
}

#[test]
fn nothing_is_typed_before_the_bootloader_speaks_nor_before_its_window() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), true);
    let start = Instant::now();
    // An adapter's NUL on open, and a minute of silence: nothing typed, nothing told.
    let mut actions = dialogue.handle(Input::Bytes(vec![0, 0]), start);
    for s in 0..60 {
        actions.extend(dialogue.handle(Input::Tick, start + Duration::from_secs(s)));
    }
    assert_eq!(actions, []);
    // The MediaTek menu, up to its last entry: recognised, but its countdown has not started,
    // and a digit typed now would be read as the choice by a menu that might not show it.
    let menu = read_fixture("mediatek-mt7628.txt").segments[0].0.clone();
    let cut = String::from_utf8_lossy(&menu).find("default:").unwrap();
    let actions = dialogue.handle(Input::Bytes(menu[..cut].to_vec()), start);
    assert_eq!(typed(&actions), b"");
    assert_eq!(dialogue.family(), Some(Family::MediaTekMenu));
    let actions = dialogue.handle(Input::Bytes(menu[cut..].to_vec()), start);
    assert_eq!(typed(&actions), b"4");
}

#[test]
fn a_missed_window_is_told_and_the_next_one_is_caught() {
    let mut dialogue = Dialogue::new(settings(), job(None), false);
    let now = Instant::now();
    let boot = read_fixture("tplink-1.1.4.txt").segments;
    let actions = dialogue.handle(Input::Bytes(boot[0].0.clone()), now);
    assert_eq!(typed(&actions), b"tpl");
    // The log of that forum thread: the bootloader went on booting.
    let actions = dialogue.handle(
        Input::Bytes(
            b"tpl\r\n## Booting image at bf020000 ...\r\n   Uncompressing Kernel Image ... OK\r\n"
                .to_vec(),
        ),
        now,
    );
    assert_eq!(typed(&actions), b"");
    assert!(matches!(
        told(&actions).as_slice(),
        [ConsoleEvent::WindowMissed { .. }]
    ));
    // The kernel's own output types nothing; the next power-on is caught.
    let actions = dialogue.handle(
        Input::Bytes(b"[    0.000000] Linux version 3.3.8\r\n".to_vec()),
        now,
    );
    assert_eq!(typed(&actions), b"");
    let actions = dialogue.handle(Input::Bytes(boot[0].0.clone()), now);
    assert_eq!(typed(&actions), b"tpl");
    let actions = dialogue.handle(Input::Bytes(boot[1].0.clone()), now);
    assert!(told(&actions).contains(&ConsoleEvent::PromptReached {
        prompt: "ar7100> ".into()
    }));
}

#[test]
fn no_prompt_after_the_stop_token_counts_as_a_missed_window() {
    let mut dialogue = Dialogue::new(settings(), job(None), false);
    let start = Instant::now();
    dialogue.handle(
        Input::Bytes(b"Hit \"gl\" key to stop booting:  2".to_vec()),
        start,
    );
    let actions = dialogue.handle(Input::Tick, start + Duration::from_secs(11));
    assert!(matches!(
        told(&actions).as_slice(),
        [ConsoleEvent::WindowMissed { .. }]
    ));
}

#[test]
fn cfe_gets_ctrl_c_as_a_held_key_until_its_prompt() {
    let mut dialogue = Dialogue::new(settings(), job(None), false);
    let start = Instant::now();
    let banner = b"CFE version (r561982) based on BBP 1.0.37 for BCM947XX (32bit,SP,)\r\n";
    assert_eq!(
        typed(&dialogue.handle(Input::Bytes(banner.to_vec()), start)),
        [3]
    );
    let mut repeats = 0;
    for ms in (100..=1000).step_by(100) {
        let at = start + Duration::from_millis(ms);
        assert_eq!(dialogue.deadline(), Some(at));
        repeats += typed(&dialogue.handle(Input::Tick, at)).len();
    }
    assert_eq!(repeats, 10);
    let actions = dialogue.handle(
        Input::Bytes(b"\r\nCFE> ".to_vec()),
        start + Duration::from_secs(1),
    );
    assert_eq!(typed(&actions), b"s");
    assert!(dialogue.deadline().unwrap() > start + Duration::from_secs(2));
}

#[test]
fn a_wrong_baud_rate_is_told_with_the_rates_to_try() {
    let mut dialogue = Dialogue::new(settings(), job(None), false);
    // A 57600 banner read at 115200: framing garbage, mostly bytes with the high bit set.
    let garbage: Vec<u8> = (0..80u8).map(|i| 0x80 | i.wrapping_mul(29)).collect();
    let actions = dialogue.handle(Input::Bytes(garbage), Instant::now());
    let events = told(&actions);
    let Some(ConsoleEvent::WrongBaud { suggestions, .. }) = events.last() else {
        panic!("no wrong-baud event: {events:?}");
    };
    assert_eq!(suggestions[0], 57_600);
    assert_eq!(typed(&actions), b"");
}

/// A bootloader at its prompt: echoes each byte typed; on Enter answers the line.
struct Scripted {
    prompt: &'static str,
    line: String,
    /// Drop the first character of the next line typed, once (a console losing a byte).
    drop_next_first: bool,
    answer: Box<dyn Fn(&str) -> String>,
    lines: Vec<String>,
}

impl Scripted {
    fn new(answer: impl Fn(&str) -> String + 'static) -> Self {
        Self {
            prompt: "=> ",
            line: String::new(),
            drop_next_first: false,
            answer: Box::new(answer),
            lines: Vec::new(),
        }
    }

    /// U-Boot's answers, but `different` to the command beginning with `command`.
    fn answering(command: &'static str, different: &'static str) -> Self {
        Self::new(move |line| {
            if line.starts_with(command) {
                different.to_owned()
            } else {
                uboot_answers(line)
            }
        })
    }

    fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in bytes {
            match b {
                b'\r' => {
                    let line = std::mem::take(&mut self.line);
                    out.extend_from_slice(b"\r\n");
                    let answer = (self.answer)(&line);
                    if !answer.is_empty() {
                        out.extend_from_slice(answer.replace('\n', "\r\n").as_bytes());
                        out.extend_from_slice(b"\r\n");
                    }
                    self.lines.push(line);
                    out.extend_from_slice(self.prompt.as_bytes());
                }
                3 => {
                    self.line.clear();
                    out.extend_from_slice(b"<INTERRUPT>\r\n");
                    out.extend_from_slice(self.prompt.as_bytes());
                }
                _ if self.line.is_empty() && self.drop_next_first => self.drop_next_first = false,
                _ => {
                    self.line.push(b as char);
                    out.push(b);
                }
            }
        }
        out
    }
}

/// Answers as Debian's U-Boot in QEMU did (tests/fixtures/console/uboot-qemu-arm.txt).
fn uboot_answers(line: &str) -> String {
    let word = line.split_whitespace().next().unwrap_or("");
    match word {
        "setenv" => String::new(),
        "tftpboot" => format!(
            "Using virtio-net#32 device\nTFTP from server 10.77.0.1; our IP address is 10.77.0.2\nFilename 'recovery.bin'.\nLoad address: 0x40200000\nLoading: ##############################\n\t 1.2 MiB/s\ndone\nBytes transferred = {IMAGE_SIZE} ({IMAGE_SIZE:x} hex)"
        ),
        "crc32" => {
            let addr = u64::from_str_radix(
                line.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .trim_start_matches("0x"),
                16,
            )
            .unwrap();
            format!(
                "crc32 for {addr:08x} ... {:08x} ==> {IMAGE_CRC:08x}",
                addr + IMAGE_SIZE - 1
            )
        }
        "erase" => "\n.. done\nErased 2 sectors".into(),
        "cp.b" => "Copy to Flash... done".into(),
        "reset" => "resetting ...".into(),
        _ => format!("Unknown command '{word}' - try 'help'"),
    }
}

/// Runs a dialogue from the prompt against `bootloader` until it ends or waits for the go.
fn converse(dialogue: &mut Dialogue, bootloader: &mut Scripted, now: Instant) -> Vec<Action> {
    let mut all = dialogue.handle(
        Input::Bytes(b"Hit any key to stop autoboot:  2 ".to_vec()),
        now,
    );
    let mut pending = bootloader.prompt.as_bytes().to_vec();
    pending.splice(0..0, b"\x08\x08\x08 0 \r\n".iter().copied());
    loop {
        let actions = dialogue.handle(Input::Bytes(std::mem::take(&mut pending)), now);
        let bytes = typed(&actions);
        all.extend(actions);
        if dialogue.is_over() || dialogue.awaits_confirmation() || bytes.is_empty() {
            return all;
        }
        pending = bootloader.receive(&bytes);
    }
}

fn ended(actions: &[Action]) -> ConsoleEvent {
    told(actions)
        .into_iter()
        .rev()
        .find(|e| {
            matches!(
                e,
                ConsoleEvent::Finished { .. } | ConsoleEvent::Failed { .. }
            )
        })
        .expect("the dialogue ended")
}

#[test]
fn without_a_recipe_the_image_is_loaded_and_proven_and_nothing_else_is_typed() {
    let mut dialogue = Dialogue::new(settings(), job(None), true);
    let mut uboot = Scripted::new(uboot_answers);
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(
        uboot.lines,
        [
            "setenv ipaddr 10.77.0.2",
            "setenv serverip 10.77.0.1",
            "tftpboot 0x40200000 recovery.bin",
            "crc32 0x40200000 0x30000",
        ]
    );
    let events = told(&actions);
    assert!(events.contains(&ConsoleEvent::Loaded { bytes: IMAGE_SIZE }));
    assert!(events.contains(&ConsoleEvent::CrcCompared {
        region: ImageCopy::Loaded,
        ours: IMAGE_CRC,
        theirs: IMAGE_CRC
    }));
    assert!(matches!(
        ended(&actions),
        ConsoleEvent::Finished {
            flash: FlashState::Untouched,
            ..
        }
    ));
}

#[test]
fn a_failed_tftpboot_stops_the_dialogue_before_anything_else() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), true);
    // mainline U-Boot's net/tftp.c after its timeouts.
    let mut uboot = Scripted::answering(
        "tftpboot",
        "Using virtio-net#32 device\nTFTP from server 10.77.0.1; our IP address is 10.77.0.2\nFilename 'recovery.bin'.\nLoad address: 0x40200000\nLoading: T T T T T T T T T T \nRetry count exceeded; starting again",
    );
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(uboot.lines.len(), 3, "{:?}", uboot.lines);
    let ConsoleEvent::Failed { reason, flash, .. } = ended(&actions) else {
        panic!("not failed");
    };
    assert_eq!(flash, FlashState::Untouched);
    assert!(reason.contains("Retry count exceeded"), "{reason}");
}

#[test]
fn a_crc_mismatch_stops_before_any_write_even_when_allowed() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), true);
    let mut uboot = Scripted::answering("crc32", "crc32 for 40200000 ... 4022ffff ==> 0badc0de");
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert!(
        uboot
            .lines
            .iter()
            .all(|l| !l.starts_with("erase") && !l.starts_with("cp"))
    );
    assert!(!typed(&actions).starts_with(b"e"));
    let ConsoleEvent::Failed {
        reason,
        flash,
        note,
    } = ended(&actions)
    else {
        panic!("not failed");
    };
    assert_eq!(flash, FlashState::Untouched);
    assert!(
        reason.contains("0badc0de") && reason.contains("dbc3e28f"),
        "{reason}"
    );
    assert!(note.contains("Nothing was erased or written"), "{note}");
}

#[test]
fn the_flash_is_written_only_after_the_go_then_read_back_and_reset() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), false);
    let mut uboot = Scripted::new(uboot_answers);
    let now = Instant::now();
    let actions = converse(&mut dialogue, &mut uboot, now);
    assert!(dialogue.awaits_confirmation());
    assert_eq!(uboot.lines.len(), 4);
    let events = told(&actions);
    let Some(ConsoleEvent::ConfirmationAsked { commands, .. }) = events.last() else {
        panic!("no question: {events:?}");
    };
    assert_eq!(commands[0], "erase 0x4100000 +0x40000");
    // Ticks while the technician thinks type nothing.
    assert_eq!(
        dialogue.handle(Input::Tick, now + Duration::from_mins(5)),
        []
    );
    let mut pending = typed(&dialogue.handle(Input::Confirm, now));
    assert_eq!(pending, b"e");
    let mut all = Vec::new();
    while !dialogue.is_over() {
        let answer = uboot.receive(&pending);
        let actions = dialogue.handle(Input::Bytes(answer), now);
        pending = typed(&actions);
        all.extend(actions);
    }
    uboot.receive(&pending);
    assert_eq!(
        uboot.lines[4..],
        [
            "erase 0x4100000 +0x40000",
            "cp.b 0x40200000 0x4100000 0x30000",
            "crc32 0x4100000 0x30000",
            "reset",
        ]
    );
    assert!(told(&all).contains(&ConsoleEvent::CrcCompared {
        region: ImageCopy::Flash,
        ours: IMAGE_CRC,
        theirs: IMAGE_CRC
    }));
    assert!(matches!(
        ended(&all),
        ConsoleEvent::Finished {
            flash: FlashState::Verified,
            ..
        }
    ));
}

#[test]
fn a_declined_write_leaves_the_flash_alone() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), false);
    let mut uboot = Scripted::new(uboot_answers);
    let now = Instant::now();
    converse(&mut dialogue, &mut uboot, now);
    let actions = dialogue.handle(Input::Decline, now);
    assert_eq!(typed(&actions), b"");
    assert!(matches!(
        ended(&actions),
        ConsoleEvent::Finished {
            flash: FlashState::Untouched,
            ..
        }
    ));
}

#[test]
fn an_unexpected_answer_to_the_write_stops_and_says_where_the_flash_stands() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), true);
    // What this U-Boot said when told to write its protected environment sectors.
    let mut uboot = Scripted::answering(
        "cp.b",
        "Copy to Flash... Can't write to protected Flash sectors",
    );
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(
        uboot.lines.last().unwrap(),
        "cp.b 0x40200000 0x4100000 0x30000"
    );
    let ConsoleEvent::Failed {
        reason,
        flash,
        note,
    } = ended(&actions)
    else {
        panic!("not failed");
    };
    assert_eq!(flash, FlashState::Writing);
    assert!(reason.contains("protected"), "{reason}");
    assert!(note.contains("0x4100000 to 0x413ffff"), "{note}");
}

#[test]
fn a_lost_character_cancels_the_line_before_enter_and_it_is_typed_again() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), true);
    let mut uboot = Scripted::new(uboot_answers);
    let now = Instant::now();
    dialogue.handle(
        Input::Bytes(b"Hit any key to stop autoboot:  2 ".to_vec()),
        now,
    );
    let mut pending = typed(&dialogue.handle(Input::Bytes(b"\r\n=> ".to_vec()), now));
    let mut retyped = Vec::new();
    while !dialogue.is_over() {
        // The console drops the first character of the erase, once.
        if pending == b"e" && retyped.is_empty() {
            uboot.drop_next_first = true;
        }
        let answer = uboot.receive(&pending);
        // A dropped byte echoes nothing: the echo's deadline finds it.
        let actions = if answer.is_empty() {
            dialogue.handle(Input::Tick, now + Duration::from_secs(3))
        } else {
            dialogue.handle(Input::Bytes(answer), now)
        };
        retyped.extend(
            told(&actions)
                .into_iter()
                .filter(|e| matches!(e, ConsoleEvent::Retyped { .. })),
        );
        pending = typed(&actions);
    }
    assert_eq!(retyped.len(), 1, "{retyped:?}");
    assert!(uboot.lines.contains(&"erase 0x4100000 +0x40000".to_owned()));
    assert_eq!(dialogue.flash(), FlashState::Verified);
}

/// What Debian's U-Boot 2023.01 in QEMU `virt` (256 MiB) answered to `bdinfo`, as typed by hand
/// on the board of `tests/console_run.rs`.
const QEMU_BDINFO: &str = "boot_params = 0x00000000\nDRAM bank   = 0x00000000\n-> start    = 0x40000000\n-> size     = 0x10000000\nflashstart  = 0x00000000\nflashsize   = 0x04000000\nrelocaddr   = 0x4ff38000\nlmb_dump_all:\n memory.cnt  = 0x1\n memory[0]\t[0x40000000-0x4fffffff], 0x10000000 bytes flags: 0\n reserved.cnt  = 0x2\n reserved[0]\t[0x4ddf3000-0x4fffffff], 0x0220d000 bytes flags: 0\n reserved[1]\t[0x4edf3c70-0x4fffffff], 0x0120c390 bytes flags: 0\nsp start    = 0x4edf7e90";

/// What TP-Link's U-Boot 1.1.4 answers to `bdinfo` (`common/cmd_bdinfo.c`, MIPS: memstart,
/// memsize, flashstart) on a board with 32 MiB of RAM.
const TPLINK_BDINFO: &str = "boot_params = 0x81F8BFB0\nmemstart    = 0x80000000\nmemsize     = 0x02000000\nflashstart  = 0x9F000000\nflashsize   = 0x00400000\nflashoffset = 0x00000000\nethaddr     = 00:AA:BB:CC:DD:EE\nip_addr     = 192.168.1.1\nbaudrate    = 115200 bps";

/// A job that does not know its load address, of `size` bytes.
fn job_asking(recipe: Option<Recipe>, size: u64) -> Job {
    Job {
        load_addr: None,
        size,
        ..job(recipe)
    }
}

fn found_address(actions: &[Action]) -> Option<(u64, String)> {
    told(actions).into_iter().find_map(|e| match e {
        ConsoleEvent::LoadAddressFound { addr, from } => Some((addr, from)),
        _ => None,
    })
}

#[test]
fn without_a_load_address_the_bootloaders_loadaddr_is_used_and_said() {
    let mut dialogue = Dialogue::new(
        settings(),
        job_asking(Some(nor_recipe()), IMAGE_SIZE),
        false,
    );
    let mut uboot = Scripted::new(|line| {
        if line == "printenv loadaddr" {
            "loadaddr=0x40200000".to_owned()
        } else {
            uboot_answers(line)
        }
    });
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(
        uboot.lines,
        [
            "printenv loadaddr",
            "setenv ipaddr 10.77.0.2",
            "setenv serverip 10.77.0.1",
            "tftpboot 0x40200000 recovery.bin",
            "crc32 0x40200000 0x30000",
        ]
    );
    let (addr, from) = found_address(&actions).expect("the address is told");
    assert_eq!(addr, 0x4020_0000);
    assert!(from.contains("`loadaddr`"), "{from}");
    // The recipe still waits for the go after the proof, nothing erased.
    assert!(dialogue.awaits_confirmation());
    assert_eq!(dialogue.flash(), FlashState::Untouched);
}

#[test]
fn without_loadaddr_the_ram_start_from_bdinfo_plus_16_mib_is_used() {
    let mut dialogue = Dialogue::new(settings(), job_asking(None, IMAGE_SIZE), true);
    let mut uboot = Scripted::new(|line| match line {
        "printenv loadaddr" => "## Error: \"loadaddr\" not defined".to_owned(),
        "bdinfo" => QEMU_BDINFO.to_owned(),
        _ => uboot_answers(line),
    });
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(&uboot.lines[..2], ["printenv loadaddr", "bdinfo"]);
    assert_eq!(uboot.lines[4], "tftpboot 0x41000000 recovery.bin");
    assert_eq!(uboot.lines[5], "crc32 0x41000000 0x30000");
    let (addr, from) = found_address(&actions).expect("the address is told");
    assert_eq!(addr, 0x4100_0000);
    assert!(
        from.contains("`bdinfo`: RAM starts at 0x40000000"),
        "{from}"
    );
    assert!(matches!(
        ended(&actions),
        ConsoleEvent::Finished {
            flash: FlashState::Untouched,
            ..
        }
    ));
}

#[test]
fn an_image_that_would_reach_the_bootloader_in_ram_is_not_loaded() {
    // 24 MiB at 0x81000000 on 32 MiB of RAM would run over U-Boot 1.1.4 at the top.
    let mut dialogue = Dialogue::new(settings(), job_asking(None, 24 << 20), true);
    let mut uboot = Scripted::new(|line| match line {
        "printenv loadaddr" => "## Error: \"loadaddr\" not defined".to_owned(),
        "bdinfo" => TPLINK_BDINFO.to_owned(),
        _ => uboot_answers(line),
    });
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(uboot.lines, ["printenv loadaddr", "bdinfo"]);
    let ConsoleEvent::Failed { reason, flash, .. } = ended(&actions) else {
        panic!("{actions:?}");
    };
    assert_eq!(flash, FlashState::Untouched);
    assert!(
        reason.contains("loaded at 0x81000000")
            && reason.contains("0x81800000")
            && reason.contains("console: load-address"),
        "{reason}"
    );
}

#[test]
fn a_bootloader_that_names_no_ram_stops_before_loading_with_the_fix() {
    let mut dialogue = Dialogue::new(settings(), job_asking(None, IMAGE_SIZE), true);
    let mut uboot = Scripted::new(|line| match line {
        "printenv loadaddr" => "## Error: \"loadaddr\" not defined".to_owned(),
        _ => format!("Unknown command '{line}' - try 'help'"),
    });
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    assert_eq!(uboot.lines, ["printenv loadaddr", "bdinfo"]);
    let ConsoleEvent::Failed { reason, .. } = ended(&actions) else {
        panic!("{actions:?}");
    };
    assert!(reason.contains("console: load-address"), "{reason}");
}

#[test]
fn the_question_names_the_erased_region_and_the_proven_crc_and_no_keeps_the_image_in_ram() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), false);
    let mut uboot = Scripted::new(uboot_answers);
    let now = Instant::now();
    let actions = converse(&mut dialogue, &mut uboot, now);
    let asked = told(&actions).pop();
    // 0x30000 bytes rounded up to two 0x20000 erase blocks.
    assert_eq!(
        asked,
        Some(ConsoleEvent::ConfirmationAsked {
            commands: vec![
                "erase 0x4100000 +0x40000".into(),
                "cp.b 0x40200000 0x4100000 0x30000".into(),
                "crc32 0x4100000 0x30000".into(),
                "reset".into(),
            ],
            erase_from: 0x0410_0000,
            erase_to: 0x0414_0000,
            crc: IMAGE_CRC,
        })
    );
    assert_eq!(
        asked.unwrap().to_string(),
        "erase 0x4100000..0x4140000 (256 KiB) and write the image proven by CRC-32 0xdbc3e28f"
    );
    let ConsoleEvent::Finished { flash, note } = ended(&dialogue.handle(Input::Decline, now))
    else {
        panic!("the dialogue did not finish");
    };
    assert_eq!(flash, FlashState::Untouched);
    assert!(
        note.starts_with("The image is in the router's RAM, proven by its CRC-32; the write was not confirmed (declined, or no terminal to ask on and no --yes). Nothing was erased or written"),
        "{note}"
    );
}

#[test]
fn sizes_are_said_as_people_read_them() {
    assert_eq!(size_words(0x3c_0000), "3.75 MiB");
    assert_eq!(size_words(0x4_0000), "256 KiB");
    assert_eq!(size_words(0x1e8_0000), "30.5 MiB");
    assert_eq!(size_words(1536), "1.5 KiB");
    assert_eq!(size_words(512), "512 bytes");
}

#[test]
fn each_command_is_told_before_its_first_character_with_the_answer_awaited() {
    let mut dialogue = Dialogue::new(settings(), job(Some(nor_recipe())), false);
    let mut uboot = Scripted::new(uboot_answers);
    let actions = converse(&mut dialogue, &mut uboot, Instant::now());
    // Every command typed was announced first, while not one of its characters had gone out.
    let mut announced: Vec<(String, String)> = Vec::new();
    let mut typed_since = Vec::new();
    for action in &actions {
        match action {
            Action::Tell(ConsoleEvent::Awaiting {
                next: Some(command),
                what,
            }) => {
                announced.push((command.clone(), what.clone()));
                typed_since.clear();
            }
            Action::Type(bytes) => typed_since.extend_from_slice(bytes),
            Action::Tell(ConsoleEvent::CommandTyped { command }) => {
                assert_eq!(
                    announced.last().map(|(c, _)| c),
                    Some(command),
                    "`{command}` was not announced before it was typed"
                );
                assert_eq!(typed_since, format!("{command}\r").as_bytes());
            }
            Action::Tell(_) => {}
        }
    }
    let commands: Vec<&str> = announced.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(commands, uboot.lines);
    let awaited: Vec<&str> = announced.iter().map(|(_, w)| w.as_str()).collect();
    assert_eq!(
        awaited[2..],
        [
            format!("\"Bytes transferred = {IMAGE_SIZE}\""),
            format!("the CRC-32 of the loaded image to be {IMAGE_CRC:08x}"),
        ]
    );
    // After the stop token, the prompt is what is awaited, with nothing about to be typed.
    assert!(told(&actions).contains(&ConsoleEvent::Awaiting {
        next: None,
        what: "the bootloader's prompt".into(),
    }));
}
