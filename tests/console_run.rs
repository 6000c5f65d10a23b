//! The console recovery end to end, as a technician runs it: `rescue-wizard --profile
//! <a profile with console:> IMAGE --serial /dev/pts/N [--yes]` in a namespace of the test's
//! own, against Debian's U-Boot in QEMU `virt` whose console is on that pty (opened by the run as
//! it opens a USB adapter) and whose NIC is on the namespace's tap. The run sets the rescue
//! address itself, serves the image, self-tests its server, and drives the console.
//!
//! Needs root and `qemu-system-arm u-boot-qemu iproute2` (as `tests/console_uboot.rs`); skipped
//! by hand when missing, failed under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod uboot_rig;

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use support::events::{RunEvent, crcs, flash, summaries, typed};
use support::{Proc, rescue_wizard_in};
use uboot_rig::console::{ConsoleFiles, PtyBoard};
use uboot_rig::{one_qemu_at_a_time, rig_available};

/// The test board's profile: a TFTP pull with a `console:` section (tests/fixtures/profiles/).
const PROFILE: &str = "qemu-virt-console.yaml";
/// The same board recovered by the console alone (`method: console`).
const CONSOLE_ONLY: &str = "qemu-virt-console-method.yaml";
/// The same board as any TFTP pull: no `console:` section.
const NO_CONSOLE: &str = "qemu-virt-pull.yaml";
/// The rescue address of the test profiles.
const HOST_IP: &str = "10.78.0.1";
/// Where the profile's recipe writes: 1 MiB into the second bank.
const FLASH_AT: usize = 0x0010_0000;
/// The run, from power-on to its end, under emulation.
const RUN_DEADLINE: Duration = Duration::from_mins(4);

/// The files of one run and U-Boot paused on its pty in the namespace with its tap; the
/// emulator is killed and the namespace and files removed on drop.
struct Bench {
    // Declared first, dropped first: the emulator goes before the flash file it writes.
    board: PtyBoard,
    files: ConsoleFiles,
}

impl Bench {
    fn new(image: &[u8]) -> Self {
        let files = ConsoleFiles::new(image);
        let board = PtyBoard::launch("rw-conrun", &files.flash());
        Bench { board, files }
    }

    /// Starts U-Boot paused on a pty, runs `rescue-wizard` on it with `extra` and the test
    /// profile `profile` (a file in tests/fixtures/profiles/), lets U-Boot go once the run has
    /// the port open, and waits for the run's end: its exit code and events.
    fn run(&mut self, profile: &str, extra: &[&str]) -> (Option<i32>, Vec<RunEvent>, String) {
        self.run_answering(profile, extra, None)
    }

    /// [`Bench::run`], and with `answer` the run gets a terminal of its own (`script`), so
    /// that it asks its questions there: `answer` is typed once the console asks before
    /// writing the flash (the `console-write-asked` event).
    fn run_answering(
        &mut self,
        profile: &str,
        extra: &[&str],
        answer: Option<&str>,
    ) -> (Option<i32>, Vec<RunEvent>, String) {
        let profile = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/profiles")
            .join(profile);
        let mut cmd = rescue_wizard_in(&self.board.ns.name, &self.files.state());
        cmd.arg("--profile")
            .arg(&profile)
            .arg(self.files.image())
            .arg("--serial")
            .arg(&self.board.pty)
            .args(["--interface", "tap0", "--json", "--wait", "120"])
            .arg("--report")
            .arg(self.files.report())
            .args(extra);
        let mut typing = None;
        if let Some(answer) = answer {
            let (keys, typed) = std::io::pipe().unwrap();
            cmd = on_a_terminal(&cmd);
            cmd.stdin(keys);
            typing = Some((typed, answer));
        }
        let mut run = Proc::spawn(&mut cmd);
        // The emulator runs only once the run holds the console: QEMU 7.2 drops what U-Boot
        // prints while nobody holds the pty.
        let deadline = Instant::now() + RUN_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = run.next_line(left) else {
                panic!("the run never opened the console\n{}", run.diagnostics());
            };
            if serde_json::from_str::<RunEvent>(&line)
                .is_ok_and(|e| matches!(e, RunEvent::ConsoleOpened {}))
            {
                break;
            }
        }
        self.board.monitor.cont();
        // Kept open until the run ends: `script` ends its session when its input does.
        let mut _typed = None;
        if let Some((mut typed, answer)) = typing {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let Some(line) = run.next_line(left) else {
                    panic!("the run never asked before writing\n{}", run.diagnostics());
                };
                let asked = line
                    .find('{')
                    .and_then(|at| serde_json::from_str::<RunEvent>(&line[at..]).ok())
                    .is_some_and(|e| matches!(e, RunEvent::ConsoleWriteAsked { .. }));
                if asked {
                    break;
                }
            }
            writeln!(typed, "{answer}").unwrap();
            _typed = Some(typed);
        }
        let status = run
            .wait_deadline(RUN_DEADLINE)
            .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
        // On a terminal the question and its echoed answer share a line with no event.
        let events = run
            .stdout_text()
            .lines()
            .filter_map(|l| l.trim_end().find('{').map(|at| &l.trim_end()[at..]))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (status.code(), events, run.diagnostics())
    }

    /// The IPv4 addresses on the port (`ip -4 addr show dev tap0`).
    fn port_addresses(&self) -> String {
        let out = self.board.ns.ip(&["-4", "addr", "show", "dev", "tap0"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The port as the run left it: no rescue address; no journal of changes left behind.
    fn assert_restored(&self) {
        let text = self.port_addresses();
        assert!(!text.contains(HOST_IP), "the rescue address stayed: {text}");
        let journals: Vec<String> = walk(&self.files.state())
            .into_iter()
            .map(|p| p.display().to_string())
            .filter(|p| p.contains("journal-"))
            .collect();
        assert!(journals.is_empty(), "journals left: {journals:?}");
    }
}

/// `cmd` run by `script` on a pseudo-terminal of its own, as a technician's terminal: what
/// `script` reads on its standard input is typed there, and its exit status is the run's.
fn on_a_terminal(cmd: &Command) -> Command {
    let quote = |s: &OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect();
    let mut script = Command::new("script");
    script.args(["-qec", &line.join(" "), "/dev/null"]);
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            script.env(key, value);
        }
    }
    script
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn sha256(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

fn image(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(len as u64 ^ 0x5eed);
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    bytes
}

/// No erase and no write was typed.
fn assert_no_flash_command(events: &[RunEvent]) {
    let typed = typed(events);
    assert!(
        !typed
            .iter()
            .any(|c| c.starts_with("erase") || c.starts_with("cp.")),
        "{typed:?}"
    );
}

#[test]
fn with_yes_the_run_loads_proves_writes_reads_back_and_resets() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    // 4 KiB: QEMU 7.2's pflash keeps only the first 4 KiB of each sector this U-Boot's cp.b
    // writes (docs/console.md).
    let image = image(4 << 10);
    let mut bench = Bench::new(&image);
    let (code, events, diagnostics) = bench.run(PROFILE, &["--yes"]);
    assert_eq!(code, Some(0), "{events:#?}\n{diagnostics}");
    let crc = format!("{:08x}", crc32fast::hash(&image));
    let crcs = crcs(&events);
    assert_eq!(crcs.len(), 2, "loaded and read back: {crcs:?}");
    for (ours, theirs) in &crcs {
        assert_eq!(*ours, crc.as_str());
        assert_eq!(*theirs, crc.as_str());
    }
    let flash = flash(&events);
    assert_eq!(flash.len(), 1, "{flash:?}");
    assert_eq!(flash[0].0, "verified");
    let finished = summaries(&events);
    assert_eq!(finished.len(), 1, "{events:#?}");
    assert!(
        finished[0].contains("the flash holds the image"),
        "{finished:?}"
    );
    assert!(flash[0].1.contains("0x4100000"), "{flash:?}");
    // Served by the run's own server, not a stray one.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::RequestReceived { .. })),
        "{events:#?}"
    );
    let typed = typed(&events);
    assert!(typed.iter().any(|c| c.starts_with("tftpboot")), "{typed:?}");
    assert_eq!(typed.last(), Some(&"reset"), "{typed:?}");
    let written = std::fs::read(bench.files.flash()).unwrap();
    assert_eq!(&written[FLASH_AT..FLASH_AT + image.len()], image.as_slice());
    let report = std::fs::read_to_string(bench.files.report()).unwrap();
    assert!(
        report.contains("## Serial console transcript") && report.contains("=> reset"),
        "{report}"
    );
    bench.assert_restored();
}

#[test]
fn without_yes_the_run_stops_after_the_proof_and_the_flash_is_unchanged() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let image = image(4 << 10);
    let mut bench = Bench::new(&image);
    let before = sha256(&bench.files.flash());
    // Without --yes a run on a non-terminal may not change the network: the port already
    // has the rescue address (the technician's own), so nothing needs asking but the flash.
    bench.board.ns.add_address("tap0", &format!("{HOST_IP}/24"));
    let (code, events, diagnostics) = bench.run(PROFILE, &[]);
    let crc = format!("{:08x}", crc32fast::hash(&image));
    let crcs = crcs(&events);
    assert_eq!(
        crcs.len(),
        1,
        "only the loaded copy: {crcs:?}\n{diagnostics}"
    );
    assert_eq!(crcs[0].1, crc.as_str());
    let flash = flash(&events);
    assert_eq!(flash.len(), 1, "{events:#?}");
    assert_eq!(flash[0].0, "untouched");
    let finished = summaries(&events);
    assert_eq!(finished.len(), 1, "{events:#?}");
    assert!(
        finished[0].contains("nothing was written to flash"),
        "{finished:?}"
    );
    assert!(
        flash[0].1.contains("Nothing was erased or written"),
        "{flash:?}"
    );
    assert_no_flash_command(&events);
    assert_eq!(sha256(&bench.files.flash()), before, "nothing was written");
    // The image reached the router's RAM and was proven: the run did what it was allowed to.
    assert_eq!(code, Some(0), "{diagnostics}");
    // The technician's own address stays.
    assert!(bench.port_addresses().contains(HOST_IP));
}

#[test]
fn a_console_method_profile_is_planned_and_run_by_the_console_alone() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let image = image(4 << 10);
    let mut bench = Bench::new(&image);
    let (code, events, diagnostics) = bench.run(CONSOLE_ONLY, &["--yes"]);
    assert_eq!(code, Some(0), "{events:#?}\n{diagnostics}");
    // The run waits for the bootloader on the console, not for a request the router would
    // send by itself.
    let waiting: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::WaitingForRouter { what } => Some(what.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(waiting.len(), 1, "{events:#?}");
    let what = waiting[0];
    assert!(what.contains("serial console"), "{what}");
    let typed = typed(&events);
    // No file name in the profile: the image's own name is asked for.
    assert!(
        typed.contains(&"tftpboot 0x40200000 recovery.bin"),
        "{typed:?}"
    );
    let crc = format!("{:08x}", crc32fast::hash(&image));
    let crcs = crcs(&events);
    assert_eq!(crcs.len(), 2, "loaded and read back: {crcs:?}");
    assert!(
        crcs.iter().all(|(_, theirs)| *theirs == crc.as_str()),
        "{crcs:?}"
    );
    let flash = flash(&events);
    assert_eq!(flash.len(), 1, "{flash:?}");
    assert_eq!(flash[0].0, "verified");
    let written = std::fs::read(bench.files.flash()).unwrap();
    assert_eq!(&written[FLASH_AT..FLASH_AT + image.len()], image.as_slice());
    bench.assert_restored();
}

#[test]
fn a_profile_without_a_console_section_gets_the_safe_part_at_the_bootloaders_own_address() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let image = image(4 << 10);
    let mut bench = Bench::new(&image);
    let before = sha256(&bench.files.flash());
    // The technician's own address on the port: a run without --yes on a non-terminal may
    // not change the network.
    bench.board.ns.add_address("tap0", &format!("{HOST_IP}/24"));
    let (code, events, diagnostics) = bench.run(NO_CONSOLE, &[]);
    assert_eq!(code, Some(0), "{events:#?}\n{diagnostics}");
    let noted: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleNoted { what } => Some(what.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        noted
            .iter()
            .any(|w| w.contains("loading the image at 0x40200000, from U-Boot's `loadaddr`")),
        "{noted:?}"
    );
    let typed = typed(&events);
    assert_eq!(
        typed,
        [
            "printenv loadaddr",
            "setenv ipaddr 10.78.0.2",
            "setenv serverip 10.78.0.1",
            "tftpboot 0x40200000 recovery.bin",
            "crc32 0x40200000 0x1000",
        ],
        "nothing but the safe part is typed"
    );
    let crc = format!("{:08x}", crc32fast::hash(&image));
    let crcs = crcs(&events);
    assert_eq!(crcs.len(), 1, "{crcs:?}");
    assert_eq!(crcs[0].0, crc.as_str());
    assert_eq!(crcs[0].1, crc.as_str());
    let flash = flash(&events);
    assert_eq!(flash.len(), 1, "{events:#?}");
    assert_eq!(flash[0].0, "untouched");
    assert_eq!(sha256(&bench.files.flash()), before, "nothing was written");
}

/// The technician's answer at the write question, typed on the run's terminal, goes through the
/// run's command path to the console thread: the flash is written only after it.
fn answered_at_the_question(answer: &str) -> (Bench, Vec<u8>, Vec<RunEvent>, Option<i32>, String) {
    let image = image(4 << 10);
    let mut bench = Bench::new(&image);
    // The technician's own address on the port: the run has no network change to ask about,
    // only the flash.
    bench.board.ns.add_address("tap0", &format!("{HOST_IP}/24"));
    let (code, events, diagnostics) = bench.run_answering(PROFILE, &[], Some(answer));
    let asked: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ConsoleWriteAsked { what, crc } => Some((what.as_str(), crc.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 1, "{events:#?}\n{diagnostics}");
    let crc = format!("{:08x}", crc32fast::hash(&image));
    assert_eq!(asked[0].1, crc.as_str());
    // 4 KiB rounded up to one 128 KiB sector, 1 MiB into the second bank.
    assert_eq!(
        asked[0].0,
        format!(
            "erase 0x4100000..0x4120000 (128 KiB) and write the image proven by CRC-32 0x{crc}"
        )
    );
    (bench, image, events, code, diagnostics)
}

#[test]
fn a_yes_at_the_question_writes_the_flash_through_the_command_path() {
    if !rig_available(&["script"]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let (bench, image, events, code, diagnostics) = answered_at_the_question("y");
    assert_eq!(code, Some(0), "{events:#?}\n{diagnostics}");
    let flash = flash(&events);
    assert_eq!(flash.len(), 1, "{events:#?}");
    assert_eq!(flash[0].0, "verified");
    let written = std::fs::read(bench.files.flash()).unwrap();
    assert_eq!(&written[FLASH_AT..FLASH_AT + image.len()], image.as_slice());
    // The report holds the whole console, from U-Boot's countdown to the reset typed last.
    let report = std::fs::read_to_string(bench.files.report()).unwrap();
    let transcript = report
        .split("## Serial console transcript")
        .nth(1)
        .unwrap_or_else(|| panic!("no transcript in the report:\n{report}"));
    for said in [
        "Hit any key to stop autoboot",
        "Bytes transferred = 4096",
        "=> erase 0x4100000 +0x20000",
        "=> cp.b 0x40200000 0x4100000 0x1000",
        "=> reset",
    ] {
        assert!(transcript.contains(said), "{said:?} missing:\n{transcript}");
    }
}

#[test]
fn a_no_at_the_question_leaves_the_flash_file_as_it_was() {
    if !rig_available(&["script"]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let before = {
        // The flash file is created empty by the bench: its digest before the run.
        let empty = vec![0u8; usize::try_from(uboot_rig::FLASH_BYTES).unwrap()];
        Sha256::digest(&empty).to_vec()
    };
    let (bench, _, events, code, diagnostics) = answered_at_the_question("n");
    assert_eq!(code, Some(0), "the image was proven in RAM\n{diagnostics}");
    let flash = flash(&events);
    assert_eq!(flash.len(), 1, "{events:#?}");
    assert_eq!(flash[0].0, "untouched");
    assert!(
        flash[0]
            .1
            .contains("in the router's RAM, proven by its CRC-32; the write was not confirmed"),
        "{flash:?}"
    );
    assert_no_flash_command(&events);
    assert_eq!(sha256(&bench.files.flash()), before, "nothing was written");
}
