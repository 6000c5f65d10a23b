//! The safer path over the serial console: load the image, prove it, and boot it from RAM,
//! writing nothing (docs/console.md, "Boot from RAM").
//!
//! First the dialogue in virtual time against a bootloader that echoes what is typed and
//! answers `bootm` as Debian's U-Boot 2023.01 in QEMU `virt` did (recorded by the last test
//! here); then the whole run against that U-Boot itself, its console on a pty opened as a USB
//! adapter, its NIC on a tap in a namespace of the test's own, booting a legacy uImage built
//! with `mkimage` that holds a tiny ARM program printing a marker on the board's PL011 UART.
//!
//! The real-bootloader test needs root, `qemu-system-arm`, `u-boot-qemu` and `mkimage`
//! (`u-boot-tools`); skipped by hand when missing, failed under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod uboot_rig;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rescue_wizard::console::dialogue::SHOWN_AFTER_START;
use rescue_wizard::console::{
    Action, ConsoleEvent, Dialogue, FlashState, Input, Job, RamBoot, Recipe, Settings,
};
use support::events::{RunEvent, console_lines, crcs, events, expect_event, summaries, typed};
use support::{Proc, rescue_wizard_in, sha256_file};
use uboot_rig::console::PtyBoard;
use uboot_rig::{one_qemu_at_a_time, rig_available};

const SIZE: u64 = 0x1000;
const CRC: u32 = 0x1234_abcd;
/// What the test program prints once started (and what the marker image's program prints).
const MARKER: &str = "RESCUE-WIZARD RAM BOOT OK";

fn job(recipe: Option<Recipe>) -> Job {
    Job {
        router_ip: Ipv4Addr::new(10, 79, 0, 2),
        server_ip: Ipv4Addr::new(10, 79, 0, 1),
        file: "recovery.bin".into(),
        load_addr: Some(0x4020_0000),
        size: SIZE,
        crc: CRC,
        recipe,
    }
}

fn fdt_boot() -> RamBoot {
    RamBoot {
        command: "bootm {loadaddr} - ${fdtcontroladdr}".into(),
        started: "Starting kernel".into(),
    }
}

/// U-Boot's answers, as Debian's U-Boot in QEMU gave them; `bootm` answers `boot`.
fn answer(line: &str, boot: &str) -> String {
    match line.split_whitespace().next().unwrap_or("") {
        "setenv" => String::new(),
        "tftpboot" => format!("Loading: #\ndone\nBytes transferred = {SIZE} (1000 hex)"),
        "crc32" => format!("crc32 for 40200000 ... 40200fff ==> {CRC:08x}"),
        "bootm" => boot.to_owned(),
        word => format!("Unknown command '{word}' - try 'help'"),
    }
}

/// What `bootm` printed when the image started (recorded below), up to the program's line.
const STARTED: &str = "## Booting kernel from Legacy Image at 40200000 ...\n   Verifying Checksum ... OK\n   Loading Kernel Image\n\nStarting kernel ...\n\nRESCUE-WIZARD RAM BOOT OK\n";
/// What it printed without a device tree, then the prompt of the U-Boot that reset.
const NO_FDT: &str = "## Booting kernel from Legacy Image at 40200000 ...\n   Loading Kernel Image\nFDT and ATAGS support not compiled in\n\nresetting ...\n";

/// Drives `dialogue` from U-Boot's countdown: every typed byte echoed, every line answered
/// (`boot` for `bootm`, which prints no prompt after a start), until it is over, asks, or
/// waits. Returns all actions and the lines the bootloader took.
fn converse(dialogue: &mut Dialogue, boot: &str, now: Instant) -> (Vec<Action>, Vec<String>) {
    // The window: the stop token it types is taken, and the prompt follows.
    let mut all = dialogue.handle(
        Input::Bytes(b"Hit any key to stop autoboot:  2 ".to_vec()),
        now,
    );
    let mut pending = b"\x08\x08\x08 0 \r\n=> ".to_vec();
    let (mut lines, mut line) = (Vec::new(), String::new());
    loop {
        let actions = dialogue.handle(Input::Bytes(std::mem::take(&mut pending)), now);
        for action in &actions {
            let Action::Type(bytes) = action else {
                continue;
            };
            for &b in bytes {
                if b != b'\r' {
                    line.push(char::from(b));
                    pending.push(b);
                    continue;
                }
                let said = answer(&line, boot).replace('\n', "\r\n");
                pending.extend_from_slice(b"\r\n");
                if !said.is_empty() {
                    pending.extend(format!("{said}\r\n").bytes());
                }
                // A started image prints no prompt.
                if !line.starts_with("bootm") {
                    pending.extend_from_slice(b"=> ");
                }
                lines.push(std::mem::take(&mut line));
            }
        }
        all.extend(actions);
        if dialogue.is_over() || dialogue.awaits_confirmation() || pending.is_empty() {
            return (all, lines);
        }
    }
}

fn told(actions: &[Action]) -> Vec<&ConsoleEvent> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Tell(event) => Some(event),
            Action::Type(_) => None,
        })
        .collect()
}

/// The test board's NOR recipe (tests/fixtures/profiles/qemu-virt-ram-boot.yaml).
fn nor() -> Recipe {
    let flash = "kind: nor\noffset: 0x04100000\nerase-size: 0x20000\n";
    Recipe::from_profile(&serde_yaml::from_str(flash).unwrap())
}

fn settings() -> Settings {
    Settings {
        baud: 115_200,
        ..Settings::default()
    }
}

#[test]
fn without_a_recipe_the_proven_image_is_booted_and_the_start_line_ends_it_well() {
    let start = Instant::now();
    let mut dialogue = Dialogue::new(settings(), job(None), false).with_ram_boot(fdt_boot());
    let (actions, lines) = converse(&mut dialogue, STARTED, start);
    assert_eq!(
        lines,
        [
            "setenv ipaddr 10.79.0.2",
            "setenv serverip 10.79.0.1",
            "tftpboot 0x40200000 recovery.bin",
            "crc32 0x40200000 0x1000",
            "bootm 0x40200000 - ${fdtcontroladdr}",
        ]
    );
    let events = told(&actions);
    assert!(events.contains(&&ConsoleEvent::RamBoot {
        command: "bootm 0x40200000 - ${fdtcontroladdr}".into(),
        chosen: true,
    }));
    assert!(events.contains(&&ConsoleEvent::Started {
        line: "Starting kernel ...".into()
    }));
    // The console is still read for a while, so the kernel's first lines are seen; then over.
    assert!(!dialogue.is_over());
    assert_eq!(dialogue.deadline(), Some(start + SHOWN_AFTER_START));
    let more = dialogue.handle(
        Input::Bytes(b"[    0.000000] Booting Linux\r\n".to_vec()),
        start,
    );
    assert!(more.is_empty(), "{more:?}");
    let end = dialogue.handle(Input::Tick, start + SHOWN_AFTER_START);
    let [Action::Tell(ConsoleEvent::Finished { flash, note })] = &end[..] else {
        panic!("{end:?}");
    };
    assert_eq!(*flash, FlashState::Untouched);
    assert!(note.contains("started from RAM"), "{note}");
    assert!(
        String::from_utf8_lossy(dialogue.transcript()).contains("Booting Linux"),
        "the lines after the start are in the transcript"
    );
}

#[test]
fn a_bootm_that_does_not_start_fails_with_the_flash_untouched() {
    let now = Instant::now();
    let mut dialogue = Dialogue::new(settings(), job(None), true).with_ram_boot(RamBoot::default());
    let (_, lines) = converse(&mut dialogue, NO_FDT, now);
    assert_eq!(lines.last().map(String::as_str), Some("bootm 0x40200000"));
    assert!(!dialogue.is_over(), "no start line and no prompt yet");
    // The board reset and came back to a prompt: the start never came.
    let end = dialogue.handle(Input::Bytes(b"\r\n=> ".to_vec()), now);
    let Some(ConsoleEvent::Failed { reason, flash, .. }) = told(&end).last().copied() else {
        panic!("{end:?}");
    };
    assert_eq!(*flash, FlashState::Untouched);
    assert!(
        reason.contains("came back to its prompt without \"Starting kernel\""),
        "{reason}"
    );
    // Silence is bounded too: a minute without the start line fails.
    let mut silent = Dialogue::new(settings(), job(None), true).with_ram_boot(RamBoot::default());
    converse(&mut silent, "", now);
    let late = silent.handle(Input::Tick, now + Duration::from_mins(1));
    assert!(
        matches!(told(&late).last(), Some(ConsoleEvent::Failed { reason, .. }) if reason.contains("gave no prompt back within 60 s")),
        "{late:?}"
    );
}

#[test]
fn a_crc_mismatch_stops_before_the_boot_command() {
    let mut wrong = job(None);
    wrong.crc = CRC ^ 1;
    let mut dialogue = Dialogue::new(settings(), wrong, true).with_ram_boot(fdt_boot());
    let (actions, lines) = converse(&mut dialogue, STARTED, Instant::now());
    assert!(!lines.iter().any(|l| l.starts_with("bootm")), "{lines:?}");
    assert!(
        matches!(
            told(&actions).last(),
            Some(ConsoleEvent::Failed {
                flash: FlashState::Untouched,
                ..
            })
        ),
        "{actions:?}"
    );
}

#[test]
fn with_a_recipe_the_boot_is_offered_at_the_question_and_taken_instead_of_the_write() {
    let now = Instant::now();
    let mut dialogue = Dialogue::new(settings(), job(Some(nor())), false).with_ram_boot(fdt_boot());
    let (actions, _) = converse(&mut dialogue, STARTED, now);
    assert!(dialogue.awaits_confirmation());
    let events = told(&actions);
    assert!(events.contains(&&ConsoleEvent::RamBoot {
        command: "bootm 0x40200000 - ${fdtcontroladdr}".into(),
        chosen: false,
    }));
    // The technician takes it: the boot command goes out, not the erase.
    let chosen = dialogue.handle(Input::BootFromRam, now);
    let typed: Vec<u8> = chosen
        .iter()
        .filter_map(|a| match a {
            Action::Type(bytes) => Some(bytes.clone()),
            Action::Tell(_) => None,
        })
        .flatten()
        .collect();
    assert_eq!(typed, b"b", "the first character of `bootm`");
    assert!(told(&chosen).contains(&&ConsoleEvent::RamBoot {
        command: "bootm 0x40200000 - ${fdtcontroladdr}".into(),
        chosen: true,
    }));
    assert!(
        dialogue
            .steps()
            .iter()
            .all(|s| !s.command.starts_with("erase") && !s.command.starts_with("cp.")),
        "{:?}",
        dialogue.steps()
    );
    // Without a way to boot from RAM, the same answer does nothing.
    let mut plain = Dialogue::new(settings(), job(Some(nor())), false);
    converse(&mut plain, STARTED, now);
    assert!(plain.handle(Input::BootFromRam, now).is_empty());
    assert!(plain.awaits_confirmation());
}

/// A tiny ARM (A32) program for QEMU `virt`: writes [`MARKER`] to the PL011 UART at
/// 0x09000000 (its data register; it waits while the flag register's TXFF, bit 5 at 0x18, is
/// set: ARM PL011 TRM §3.3.3) and loops. Position-independent, hand-assembled:
///
/// ```text
///     mov  r2, #0x09000000      ; UART base
///     add  r1, pc, #32          ; the text, 44 bytes in
/// 1:  ldrb r0, [r1], #1
///     cmp  r0, #0
///     beq  3f
/// 2:  ldr  r3, [r2, #0x18]      ; UARTFR
///     tst  r3, #0x20            ; TXFF
///     bne  2b
///     str  r0, [r2]             ; UARTDR
///     b    1b
/// 3:  b    3b
/// ```
fn marker_program() -> Vec<u8> {
    let words: [u32; 11] = [
        0xe3a0_2409,
        0xe28f_1020,
        0xe4d1_0001,
        0xe350_0000,
        0x0a00_0004,
        0xe592_3018,
        0xe313_0020,
        0x1aff_fffc,
        0xe582_0000,
        0xeaff_fff7,
        0xeaff_fffe,
    ];
    let mut code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    code.extend_from_slice(format!("{MARKER}\r\n\0").as_bytes());
    code
}

/// The program wrapped as a legacy uImage by `mkimage`, loaded and entered at 0x41000000
/// (above where `tftpboot` puts it: `bootm` copies it there).
fn marker_uimage(dir: &Path) -> Vec<u8> {
    let program = dir.join("marker.bin");
    let image = dir.join("marker.uimg");
    std::fs::write(&program, marker_program()).unwrap();
    let out = Command::new("mkimage")
        .args(["-A", "arm", "-O", "linux", "-T", "kernel", "-C", "none"])
        .args([
            "-a",
            "0x41000000",
            "-e",
            "0x41000000",
            "-n",
            "rescue-wizard marker",
        ])
        .arg("-d")
        .arg(&program)
        .arg(&image)
        .output()
        .unwrap();
    assert!(out.status.success(), "mkimage: {out:?}");
    std::fs::read(&image).unwrap()
}

fn profile(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/profiles")
        .join(name)
}

/// `rescue-wizard --ram-boot --yes` with the RAM-boot test profile on the pty of U-Boot in
/// QEMU (its NIC on a namespace's tap, `flash` its second bank), U-Boot let go once the run
/// holds the console: the run's exit code, its JSON events and its diagnostics.
fn run_on_uboot(
    image_path: &Path,
    flash: &Path,
    state: &Path,
    report: &Path,
) -> (Option<i32>, Vec<RunEvent>, String) {
    let mut board = PtyBoard::launch("rw-ramboot", flash);
    let mut cmd = rescue_wizard_in(&board.ns.name, state);
    cmd.arg("--profile")
        .arg(profile("qemu-virt-ram-boot.yaml"))
        .arg(image_path)
        .arg("--serial")
        .arg(&board.pty)
        .args(["--interface", "tap0", "--json", "--wait", "120", "--yes"])
        .args(["--ram-boot", "--report"])
        .arg(report);
    let started = Instant::now();
    let mut run = Proc::spawn(&mut cmd);
    let deadline = Duration::from_mins(4);
    // U-Boot runs only once the run holds the console (QEMU drops output nobody reads).
    expect_event(&run, deadline, "console-opened", |e| {
        matches!(e, RunEvent::ConsoleOpened {})
    });
    board.monitor.cont();
    let status = run.wait_deadline(deadline);
    drop(board);
    let status = status.unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    let events = events(&run.stdout_text());
    eprintln!("the run took {:.1} s", started.elapsed().as_secs_f64());
    (status.code(), events, run.diagnostics())
}

#[test]
fn the_real_uboot_loads_proves_and_boots_the_image_from_ram_and_the_flash_is_unchanged() {
    if !rig_available(&["mkimage"]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let image = marker_uimage(dir.path());
    assert_eq!(&image[..4], &[0x27, 0x05, 0x19, 0x56], "a legacy uImage");
    let image_path = dir.path().join("recovery.bin");
    std::fs::write(&image_path, &image).unwrap();
    let flash = dir.path().join("flash1.bin");
    uboot_rig::blank_flash(&flash);
    let before = sha256_file(&flash);
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let report = dir.path().join("report.md");
    let (code, events, diagnostics) = run_on_uboot(&image_path, &flash, &state, &report);
    assert_eq!(code, Some(0), "{events:#?}\n{diagnostics}");
    let typed = typed(&events);
    assert_eq!(
        typed,
        [
            "setenv ipaddr 10.79.0.2",
            "setenv serverip 10.79.0.1",
            "tftpboot 0x40200000 recovery.bin",
            &format!("crc32 0x40200000 {:#x}", image.len()),
            "bootm 0x40200000 - ${fdtcontroladdr}",
        ],
        "the boot command after the proof, and never an erase or a write"
    );
    let crc = format!("{:08x}", crc32fast::hash(&image));
    let crcs = crcs(&events);
    assert_eq!(crcs.len(), 1, "{crcs:?}");
    assert_eq!(crcs[0], (crc.as_str(), crc.as_str()));
    let chosen: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleRamBoot { chosen } => Some(*chosen),
            _ => None,
        })
        .collect();
    assert_eq!(chosen.len(), 1, "{chosen:?}");
    assert!(chosen[0], "the RAM boot is the path taken");
    let lines = console_lines(&events);
    let start = lines.iter().position(|l| l.contains("Starting kernel"));
    let marker = lines.iter().position(|l| l.contains(MARKER));
    assert!(
        matches!((start, marker), (Some(s), Some(m)) if s < m),
        "the start line, then the program's own: {lines:#?}"
    );
    let flash_state = support::events::flash(&events);
    assert_eq!(flash_state.len(), 1, "{events:#?}");
    assert_eq!(flash_state[0].0, "untouched");
    let finished = summaries(&events);
    assert!(finished[0].contains("started from RAM"), "{finished:?}");
    assert_eq!(sha256_file(&flash), before, "the flash file is unchanged");
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(
        report.contains(MARKER),
        "the transcript holds the program's line"
    );
}

#[test]
fn ram_boot_refuses_an_image_bootm_cannot_start_and_a_profile_without_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("factory.bin");
    std::fs::write(
        &image,
        b"openwrt-factory image, no U-Boot header".repeat(100),
    )
    .unwrap();
    let run = |profile_name: &str| {
        support::run(
            support::rescue_wizard()
                .env("RESCUE_WIZARD_STATE_DIR", dir.path())
                .env("RESCUE_WIZARD_CONFIG_DIR", dir.path().join("config"))
                .arg("--profile")
                .arg(profile(profile_name))
                .arg(&image)
                .args(["--serial", "/dev/null", "--ram-boot", "--yes"]),
            Duration::from_mins(1),
        )
    };
    let out = run("qemu-virt-ram-boot.yaml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("booting from RAM needs an initramfs image")
            && err.contains("begins 6f 70 65 6e")
            && err.contains(&image.display().to_string()),
        "{err}"
    );
    // A uImage passes the image check; the profile has no way to boot it from RAM.
    std::fs::write(&image, rescue_wizard::image::sample::uimage(4096)).unwrap();
    let out = run("qemu-virt-console.yaml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no `console: ram-boot:` section"), "{err}");
}
