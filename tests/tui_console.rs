//! The wizard's console recovery against a real bootloader, as a technician drives it: the
//! wizard binary in a tmux pane (`rescue-wizard IMAGE --serial /dev/pts/N`), inside a network
//! namespace of the test's own whose `tap0` is the NIC of Debian's U-Boot in QEMU `virt`; that
//! U-Boot's console is the pty given with `--serial` (opened by the run as it opens a USB
//! adapter) and its second CFI flash bank is a file. The keys go in with `send-keys`, and each
//! step waits, with a deadline, until the screen says what it must.
//!
//! The wizard picks the device (a user profile with a `console:` section and a NOR recipe), the
//! image and the port, adds the rescue address, starts the run; the console pane shows U-Boot's
//! lines, the CRC-32 comparison and what the dialogue waits for; the write question is answered
//! on the live screen, and the flash file then holds the image (or, answered no, is unchanged).
//!
//! And the same console in the plain run's lines (no terminal): U-Boot's own lines prefixed
//! `console| `, each command typed, both CRC-32 values, where the flash stands.
//!
//! Needs root, `qemu-system-arm`, `u-boot-qemu`, `iproute2` and `tmux`; skipped by hand when
//! missing, failed under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod tmux;
mod uboot_rig;

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use tmux::{Tmux, shell_quote};
use uboot_rig::console::{ConsoleFiles, PtyBoard};
use uboot_rig::{one_qemu_at_a_time, rig_available};

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");
/// The test board's profile (tests/fixtures/profiles/), installed as a user profile: the
/// wizard reads the catalogue, not `--profile`.
const PROFILE: &str = "qemu-virt-console.yaml";
/// The rescue address of the test profile.
const HOST_IP: &str = "10.78.0.1";
/// Where the profile's recipe writes: 1 MiB into the second bank.
const FLASH_AT: usize = 0x0010_0000;
/// Longest one screen may take to appear.
const SCREEN: Duration = Duration::from_secs(30);
/// Longest the console leg may take from U-Boot's power-on to the question, and from the
/// answer to the end, under emulation on a loaded machine.
const CONSOLE: Duration = Duration::from_mins(3);

/// The files of one wizard run ([`ConsoleFiles`]: the image alone in the folder the wizard starts
/// in, so that the picker starts on it), and the user profiles beside the state.
struct Desk {
    files: ConsoleFiles,
}

impl Desk {
    fn new(image: &[u8]) -> Self {
        let desk = Self {
            files: ConsoleFiles::new(image),
        };
        let devices = desk.config().join("devices");
        std::fs::create_dir_all(&devices).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/profiles")
                .join(PROFILE),
            devices.join(PROFILE),
        )
        .unwrap();
        desk
    }

    fn config(&self) -> PathBuf {
        self.files.work().join("config")
    }
}

impl Deref for Desk {
    type Target = ConsoleFiles;

    fn deref(&self) -> &ConsoleFiles {
        &self.files
    }
}

/// The image: 4 KiB, as QEMU 7.2's pflash keeps only the first 4 KiB of each sector this
/// U-Boot's cp.b writes (docs/console.md).
fn image() -> Vec<u8> {
    support::content(4 << 10, 0x7e1e)
}

/// The screen without the panels' borders and without spaces: a text the wizard wrapped over
/// two lines of a panel is found whole.
fn flat(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '│' | '┃'))
        .collect()
}

/// Whether `screen` says every one of `texts`, wrapped or not.
fn says(screen: &str, texts: &[&str]) -> bool {
    let screen = flat(screen);
    texts.iter().all(|text| screen.contains(&flat(text)))
}

/// The wizard's screens from the first to the live one, for the test board: device, image,
/// port `tap0`, the rescue address added, the steps; then the emulator is let go once the run
/// holds the console, and the screen is returned once the write question is on it.
fn to_the_write_question(pane: &Tmux, board: &mut PtyBoard, crc: &str) -> String {
    pane.wait_for(&["1/7 Device", "Which router is recovery.bin for?"], SCREEN);
    // Not from its first letter: `q` on a search the technician has not typed into quits.
    pane.keys(&["virt-console"]);
    pane.wait_for(&["> qemu-virt-console"], SCREEN);
    pane.keys(&["Enter"]);
    let checked = pane.wait("the image's check", SCREEN, |s| {
        s.contains("2/7 Image") && (s.contains("READY:") || s.contains("CHECK:"))
    });
    assert!(checked.contains("> recovery.bin"), "{checked}");
    pane.keys(&["Enter"]);
    pane.wait_for(&["3/7 Port", "tap0"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["4/7 Network", "add 10.78.0.1/24 to tap0"], SCREEN);
    pane.keys(&["Enter"]);
    let prepare = pane.wait_for(&["5/7 Prepare"], SCREEN);
    assert!(says(&prepare, &[board.pty.to_str().unwrap()]), "{prepare}");
    pane.keys(&["Enter"]);
    // The console pane appears once the run has opened the port; nothing has been typed.
    let pane_title = format!("Console {} · 115200 baud", board.pty.display());
    pane.wait_for(&["6/7 Live", &pane_title], CONSOLE);
    // QEMU 7.2 drops what U-Boot prints while nobody holds the pty: it runs only now.
    board.monitor.cont();
    let verdict = format!("crc32 the loaded image: bootloader {crc}, ours {crc}, equal");
    let question = format!(
        "erase 0x4100000..0x4120000 (128 KiB) and write the image proven by CRC-32 0x{crc}"
    );
    pane.wait(
        "the write question, the CRC-32 verdict and the wait for the answer",
        CONSOLE,
        |s| {
            says(
                s,
                &[
                    &question,
                    &verdict,
                    "waiting for your answer: y writes the flash, n leaves it as it is",
                ],
            )
        },
    )
}

/// Starts the wizard in its own tmux pane, inside the board's namespace, with the pty as
/// `--serial`, on a terminal big enough for the console pane's lines whole.
fn wizard(tmux: PathBuf, desk: &Desk, board: &PtyBoard) -> Tmux {
    let command = format!(
        "ip netns exec {} {} recovery.bin --serial {} --wait 120 --report {}",
        board.ns.name,
        shell_quote(Path::new(BIN)),
        shell_quote(&board.pty),
        shell_quote(&desk.report()),
    );
    let state = desk.state();
    let config = desk.config();
    let pane = Tmux::start(
        tmux,
        desk.images(),
        &[
            ("RESCUE_WIZARD_STATE_DIR", state.to_str().unwrap()),
            ("RESCUE_WIZARD_CONFIG_DIR", config.to_str().unwrap()),
        ],
        &command,
    );
    pane.run(&["resize-window", "-x", "160", "-y", "48"]);
    pane
}

/// The port as the run left it: the rescue address gone.
fn assert_address_gone(board: &PtyBoard) {
    let out = support::ip(&["-n", &board.ns.name, "-4", "addr", "show", "dev", "tap0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(HOST_IP), "the rescue address stayed: {text}");
}

/// One wizard run of the test board up to its write question, torn down in this order: the
/// tmux server (and the wizard in it), the emulator and its namespace, the folders, the lock.
struct AtTheQuestion {
    pane: Tmux,
    board: PtyBoard,
    desk: Desk,
    image: Vec<u8>,
    /// The flash file's SHA-256 before the run.
    before: String,
    /// The screen with the question on it.
    asked: String,
    _lock: (MutexGuard<'static, ()>, File),
}

impl AtTheQuestion {
    /// `None` (skipped, said why) when the rig or tmux is missing by hand.
    fn start() -> Option<Self> {
        if !rig_available(&["tmux"]) {
            return None;
        }
        let tmux = support::require("tmux")?;
        let lock = one_qemu_at_a_time();
        let image = image();
        let crc = format!("{:08x}", crc32fast::hash(&image));
        let desk = Desk::new(&image);
        let before = support::sha256_file(&desk.flash());
        let mut board = PtyBoard::launch("rw-tuicon", &desk.flash());
        let pane = wizard(tmux, &desk, &board);
        let asked = to_the_write_question(&pane, &mut board, &crc);
        Some(Self {
            pane,
            board,
            desk,
            image,
            before,
            asked,
            _lock: lock,
        })
    }

    /// Enter on the done screen: the wizard leaves with 0 and the rescue address is gone.
    fn leave(&self) {
        self.pane.keys(&["Enter"]);
        let after = self.pane.wait_for(&["exited "], SCREEN);
        assert!(after.contains("exited 0"), "{after}");
        assert_address_gone(&self.board);
    }
}

#[test]
fn a_yes_on_the_live_screen_writes_the_proven_image_into_u_boots_flash() {
    let Some(run) = AtTheQuestion::start() else {
        return;
    };
    let (pane, desk, image) = (&run.pane, &run.desk, &run.image);
    // Nothing is written while the question waits.
    assert_eq!(
        support::sha256_file(&desk.flash()),
        run.before,
        "written before the answer:\n{}",
        run.asked
    );

    pane.keys(&["y"]);
    let done = pane.wait_for(&["7/7 Done", "FLASHED"], CONSOLE);
    let written = std::fs::read(desk.flash()).unwrap();
    assert_eq!(
        &written[FLASH_AT..FLASH_AT + image.len()],
        image.as_slice(),
        "the flash file does not hold the image:\n{done}"
    );
    // The report the wizard wrote holds the whole console, from the countdown to the reset.
    let report = pane.wait("the report", SCREEN, |s| says(s, &["report.md"]));
    let text = std::fs::read_to_string(desk.report())
        .unwrap_or_else(|e| panic!("{}: {e}\n{report}", desk.report().display()));
    let transcript = text
        .split("## Serial console transcript")
        .nth(1)
        .unwrap_or_else(|| panic!("no transcript in the report:\n{text}"));
    for said in [
        "Hit any key to stop autoboot",
        "Bytes transferred = 4096",
        "=> erase 0x4100000 +0x20000",
        "=> cp.b 0x40200000 0x4100000 0x1000",
        "=> reset",
    ] {
        assert!(transcript.contains(said), "{said:?} missing:\n{transcript}");
    }
    run.leave();
}

#[test]
fn a_no_on_the_live_screen_leaves_u_boots_flash_as_it_was() {
    let Some(run) = AtTheQuestion::start() else {
        return;
    };
    let (pane, desk) = (&run.pane, &run.desk);

    pane.keys(&["n"]);
    let done = pane.wait_for(&["7/7 Done", "TRANSFERRED"], CONSOLE);
    assert!(
        says(
            &done,
            &[
                "the image is in the router's RAM and proven by CRC-32; nothing was written to flash"
            ]
        ),
        "{done}"
    );
    pane.wait("the report", SCREEN, |s| says(s, &["report.md"]));
    assert_eq!(
        support::sha256_file(&desk.flash()),
        run.before,
        "the flash file changed"
    );
    let text = std::fs::read_to_string(desk.report()).unwrap();
    assert!(
        !text.contains("=> erase") && !text.contains("=> cp.b"),
        "an erase or a write was typed:\n{text}"
    );
    run.leave();
}

#[test]
fn the_plain_run_prints_u_boots_lines_the_commands_and_both_crcs() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let image = image();
    let crc = format!("{:08x}", crc32fast::hash(&image));
    let desk = Desk::new(&image);
    let before = support::sha256_file(&desk.flash());
    let mut board = PtyBoard::launch("rw-tuicon", &desk.flash());
    // A run without --yes and without a terminal may not change the network: the port
    // already has the rescue address, the technician's own.
    let cidr = format!("{HOST_IP}/24");
    support::ip(&["-n", &board.ns.name, "addr", "add", &cidr, "dev", "tap0"]);
    let mut cmd = support::rescue_wizard_in(&board.ns.name, &desk.state());
    cmd.arg("--profile")
        .arg(desk.config().join("devices").join(PROFILE))
        .arg(desk.image())
        .arg("--serial")
        .arg(&board.pty)
        .args(["--interface", "tap0", "--wait", "120"])
        .arg("--report")
        .arg(desk.report());
    let mut run = support::Proc::spawn(&mut cmd);
    let deadline = Instant::now() + CONSOLE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(line) = run.next_line(left) else {
            panic!("the run never opened the console\n{}", run.diagnostics());
        };
        if line.contains("open at 115200 baud: nothing is typed until the bootloader speaks") {
            break;
        }
    }
    board.monitor.cont();
    let status = run
        .wait_deadline(CONSOLE)
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    let out = run.stdout_text();
    assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
    for said in [
        "console| Hit any key to stop autoboot",
        "console| Bytes transferred = 4096 (1000 hex)",
        "console: typed `tftpboot 0x40200000 recovery.bin`",
        "console: typed `crc32 0x40200000 0x1000`",
        &format!("console: CRC-32 of the loaded image: bootloader {crc}, ours {crc}: equal"),
        "console: flash untouched: The image is in the router's RAM, proven by its CRC-32; the write was not confirmed (declined, or no terminal to ask on and no --yes). Nothing was erased or written",
    ] {
        assert!(out.contains(said), "{said:?} missing:\n{out}");
    }
    assert!(!out.contains("typed `erase"), "{out}");
    assert_eq!(
        support::sha256_file(&desk.flash()),
        before,
        "nothing was written"
    );
    let report = std::fs::read_to_string(desk.report()).unwrap();
    assert!(
        report.contains("## Serial console transcript") && report.contains("=> crc32 0x40200000"),
        "{report}"
    );
}
