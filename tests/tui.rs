//! The wizard on a real terminal: tmux runs the binary in a pane of its own server, keys go in
//! with `send-keys`, and each step waits (with a deadline) until `capture-pane` shows what the
//! screen must say. Nothing sleeps to synchronise.
//!
//! - The demo goes through all seven screens to a flashed router and a report, and Ctrl-C on
//!   the last screen leaves the terminal as it was.
//! - A panic while the wizard holds the terminal gives it back (the normal screen, the cursor,
//!   cooked mode) before the message is printed.
//! - Without a terminal, the wizard is not started: the command says how to run without it.
//! - A real run on a port in a network namespace: the wizard adds the rescue address, a TFTP
//!   client in the router's namespace fetches the image, the "flashed firmware" speaks from
//!   192.168.1.1, and the done screen says flashed and restored.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
mod tmux;

use tmux::{Tmux, shell_quote};

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");

/// Longest one screen may take to appear (a debug build, a loaded machine).
const SCREEN: Duration = Duration::from_secs(30);
/// Longest the demo's run may take from the prepare screen to the done screen.
const RUN: Duration = Duration::from_secs(90);

/// Set only by [`a_panic_gives_the_terminal_back`] for the copy of this test binary it runs
/// in a tmux pane: that copy takes the terminal over and panics. A test hook, not a feature of
/// rescue-wizard.
const PANIC_CHILD: &str = "RESCUE_WIZARD_TUI_PANIC_CHILD";

/// The demo image folders in the temporary folder.
fn demo_folders() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .expect("the temporary folder")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("rescue-wizard-demo-")
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("a folder")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_demo_goes_through_every_screen_to_a_flashed_router() {
    let Some(tmux) = support::require("tmux") else {
        return;
    };
    let cwd = tempfile::tempdir().expect("a folder to run in");
    // Every place a real run's report could go, each a folder of the test's own.
    let state = tempfile::tempdir().expect("a state folder");
    let home = tempfile::tempdir().expect("a home folder");
    let xdg_state = tempfile::tempdir().expect("an XDG state folder");
    let state_dir = state.path().to_str().expect("a UTF-8 temporary path");
    let before = demo_folders();
    let command = format!("{} demo --flash-seconds 1", shell_quote(Path::new(BIN)));
    let pane = Tmux::start(
        tmux,
        cwd.path(),
        &[
            ("RESCUE_WIZARD_STATE_DIR", state_dir),
            (
                "HOME",
                home.path().to_str().expect("a UTF-8 temporary path"),
            ),
            (
                "XDG_STATE_HOME",
                xdg_state.path().to_str().expect("a UTF-8 temporary path"),
            ),
        ],
        &command,
    );
    // The alternate screen is on while the wizard runs.
    pane.wait_for(&["1/7 Device", "tl-wr841n-v9", "DEMO"], SCREEN);
    assert_eq!(pane.show("#{alternate_on}"), "1");

    // Help on the first screen, and Esc closes it.
    pane.keys(&["?"]);
    pane.wait_for(&["Help: 1/7 Device", "Any key closes this help"], SCREEN);
    pane.keys(&["Escape"]);
    pane.wait("the help to close", SCREEN, |s| !s.contains("Help: 1/7"));

    pane.keys(&["Enter"]);
    // A name too long for the picker keeps its start and its end.
    pane.wait_for(&["2/7 Image", "wr841nv9-d", "factory.bin"], SCREEN);
    pane.keys(&["Enter"]);
    let screen = pane.wait_for(&["READY: the bootloader will take it", "sha256"], SCREEN);
    assert!(screen.contains("press Enter to use it"), "{screen}");

    pane.keys(&["Enter"]);
    pane.wait_for(&["3/7 Port", "loopback (simulated)"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(
        &["4/7 Network", "Nothing: the demo runs on loopback"],
        SCREEN,
    );
    pane.keys(&["Enter"]);
    pane.wait_for(
        &["5/7 Prepare", "The router's steps", "start watching"],
        SCREEN,
    );

    // A bigger terminal: the screen is drawn again at its size; and back to 80x24.
    pane.run(&["resize-window", "-x", "120", "-y", "40"]);
    pane.wait("the wider frame", SCREEN, |s| {
        s.lines()
            .any(|line| line.chars().count() > 100 && line.contains("5/7 Prepare"))
    });
    pane.run(&["resize-window", "-x", "80", "-y", "24"]);
    pane.wait("the 80-column frame", SCREEN, |s| {
        s.lines().count() <= 24
            && s.contains("5/7 Prepare")
            && s.lines().all(|line| line.chars().count() <= 80)
    });

    pane.keys(&["Enter"]);
    let live = pane.wait_for(&["6/7 Live", "Activity", "Checklist"], SCREEN);
    assert!(live.contains("? help") && live.contains("q quit"), "{live}");

    // The outcome comes first; the report's path once the network is restored and it is
    // written: in the demo's own folder, never where real runs keep theirs.
    let done = pane.wait_for(&["7/7 Done", "FLASHED", "/reports/tl-wr841n-v9-"], RUN);
    assert!(
        done.contains("nothing on this computer was changed"),
        "{done}"
    );
    the_report_is_the_demos_own(
        &done,
        &before,
        &[state.path(), home.path(), xdg_state.path()],
    );

    // Ctrl-C on the last screen leaves, and the terminal is as it was; what is said after
    // names no report that is about to vanish.
    pane.keys(&["C-c"]);
    let after = pane.wait_for(&["exited 0"], SCREEN);
    assert!(after.contains("report: none kept"), "{after}");
    assert_eq!(pane.show("#{alternate_on}"), "0");
    assert_eq!(pane.show("#{cursor_flag}"), "1");
    // The demo's image folder went with the wizard.
    assert_eq!(
        demo_folders(),
        before,
        "the demo's image folder was left behind"
    );
}

/// The report on the done screen is in the demo's own folder, and nothing was written into
/// `folders` (where a real run's report could go).
fn the_report_is_the_demos_own(done: &str, before: &[PathBuf], folders: &[&Path]) {
    let demo: Vec<PathBuf> = demo_folders()
        .into_iter()
        // Other demos may run meanwhile: this one's folder is the one its screen names.
        .filter(|dir| !before.contains(dir) && done.contains(&dir.display().to_string()))
        .collect();
    assert_eq!(demo.len(), 1, "{demo:?}");
    let reports: Vec<PathBuf> = std::fs::read_dir(demo[0].join("reports"))
        .expect("the demo's reports folder")
        .map(|entry| entry.expect("a report").path())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    // The path may wrap onto the next line of the panel: read the screen without the
    // panel's borders and spaces (the path has none).
    let flat: String = done
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect();
    assert!(
        flat.contains(&report.display().to_string()),
        "the report's path {} is not on the screen:\n{done}",
        report.display()
    );
    let text = std::fs::read_to_string(report).expect("the report");
    assert!(text.contains("flashed"), "{text}");
    for folder in folders {
        assert!(
            files_under(folder).is_empty(),
            "the demo wrote into {}: {:?}",
            folder.display(),
            files_under(folder)
        );
    }
}

/// What the copy of this binary does in its tmux pane: takes the terminal over as the wizard
/// does, waits for a key (so the test sees the alternate screen), then panics on another
/// thread and leaves without dropping the session: only the panic hook can give the terminal
/// back.
fn panic_in_the_wizard() {
    use ratatui::widgets::Paragraph;
    use rescue_wizard::ui::tui::terminal::Session;
    use std::io::Read as _;

    let mut session = Session::enter().expect("the terminal");
    session
        .terminal()
        .draw(|frame| frame.render_widget(Paragraph::new("wizard drawn"), frame.area()))
        .expect("a frame");
    let mut key = [0u8; 1];
    let _ = std::io::stdin().read(&mut key);
    let panicked = std::thread::spawn(|| panic!("the wizard panicked on purpose")).join();
    assert!(panicked.is_err());
    std::mem::forget(session);
    std::process::exit(7);
}

#[test]
fn a_panic_gives_the_terminal_back() {
    if std::env::var_os(PANIC_CHILD).is_some() {
        panic_in_the_wizard();
        return;
    }
    let Some(tmux) = support::require("tmux") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a folder to run in");
    let me = std::env::current_exe().expect("this test binary");
    let command = format!(
        "{} --exact a_panic_gives_the_terminal_back --nocapture --test-threads=1; code=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; (exit $code)",
        shell_quote(&me)
    );
    let pane = Tmux::start(tmux, dir.path(), &[(PANIC_CHILD, "1")], &command);
    pane.wait_for(&["wizard drawn"], SCREEN);
    assert_eq!(pane.show("#{alternate_on}"), "1");
    assert_eq!(pane.show("#{cursor_flag}"), "0");
    pane.keys(&["x"]);
    let screen = pane.wait_for(&["exited 7"], SCREEN);
    assert!(
        screen.contains("the wizard panicked on purpose"),
        "the panic message is not on the normal screen:\n{screen}"
    );
    assert_eq!(pane.show("#{alternate_on}"), "0", "{screen}");
    assert_eq!(pane.show("#{cursor_flag}"), "1", "{screen}");
    // Cooked mode: line editing and echo are back.
    let modes: Vec<&str> = screen
        .lines()
        .find(|line| line.contains("icanon"))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(
        modes.contains(&"icanon") && modes.contains(&"echo"),
        "raw mode was left on: {modes:?}\n{screen}"
    );
}

#[test]
fn only_a_device_or_only_an_image_on_a_terminal_opens_the_wizard() {
    let Some(tmux) = support::require("tmux") else {
        return;
    };
    let cwd = tempfile::tempdir().expect("a folder to run in");
    let state = tempfile::tempdir().expect("a state folder");
    let state_dir = state.path().to_str().expect("a UTF-8 temporary path");
    for args in ["--device tl-wr841n-v9", "openwrt-factory.bin"] {
        let command = format!("{} {args}", shell_quote(Path::new(BIN)));
        let pane = Tmux::start(
            tmux.clone(),
            cwd.path(),
            &[("RESCUE_WIZARD_STATE_DIR", state_dir)],
            &command,
        );
        // The wizard, not a refusal: it asks for what was not given, with the device given
        // already searched for (the cursor follows the query).
        if args.starts_with("--device") {
            pane.wait_for(&["1/7 Device", "tl-wr841n-v9_", "1 device"], SCREEN);
        } else {
            pane.wait_for(&["1/7 Device"], SCREEN);
        }
        pane.keys(&["q"]);
        let screen = pane.wait_for(&["exited "], SCREEN);
        assert!(screen.contains("exited 0"), "{args}: {screen}");
    }
}

#[test]
fn what_was_given_is_selected_when_the_wizard_opens() {
    let Some(tmux) = support::require("tmux") else {
        return;
    };
    let cwd = tempfile::tempdir().expect("a folder to run in");
    let state = tempfile::tempdir().expect("a state folder");
    let state_dir = state.path().to_str().expect("a UTF-8 temporary path");
    let image = rescue_wizard::image::sample::tp_link_firmware(0x0841_0009, 300 * 1024 + 17);
    std::fs::write(cwd.path().join("openwrt-factory.bin"), &image).expect("the image");
    // Sorted first: the picker would start on it if the image given were not selected.
    std::fs::write(cwd.path().join("aaa-notes.bin"), b"not an image").expect("a file");
    let start = |args: &str| {
        Tmux::start(
            tmux.clone(),
            cwd.path(),
            &[("RESCUE_WIZARD_STATE_DIR", state_dir)],
            &format!("{} {args}", shell_quote(Path::new(BIN))),
        )
    };
    let leave = |pane: &Tmux, args: &str| {
        pane.keys(&["q"]);
        let screen = pane.wait_for(&["exited "], SCREEN);
        assert!(screen.contains("exited 0"), "{args}: {screen}");
    };

    // Only the image: the device screen asks which router it is for; once the device is
    // chosen the picker is on the image, checked already.
    let pane = start("openwrt-factory.bin");
    pane.wait_for(
        &["1/7 Device", "Which router is openwrt-factory.bin for?"],
        SCREEN,
    );
    pane.keys(&["wr841n v9"]);
    pane.wait_for(&["1 device", "> tl-wr841n-v9"], SCREEN);
    pane.keys(&["Enter"]);
    let screen = pane.wait_for(
        &[
            "2/7 Image",
            "> openwrt-factory.bin",
            "READY: the bootloader will take it",
        ],
        SCREEN,
    );
    assert!(
        screen.contains("The image fits this device: press Enter to use it."),
        "{screen}"
    );
    leave(&pane, "openwrt-factory.bin");

    // Only the device, by a model name in another case: highlighted, its steps beside it,
    // and Enter takes it.
    let pane = start("--device 'TL-WR841N v9'");
    pane.wait_for(&["1/7 Device", "> tl-wr841n-v9", "steps"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["2/7 Image │ tl-wr841n-v9"], SCREEN);
    leave(&pane, "--device");

    // A device the run does not automate: Enter shows its steps, one at a time.
    let pane = start("--device dlink-dir-1960-a1");
    pane.wait_for(&["1/7 Device", "> dlink-dir-1960", "1 device"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["rescue-wizard cannot do this recovery"], SCREEN);
    pane.keys(&["Escape"]);
    pane.wait("the steps to close", SCREEN, |s| {
        !s.contains("rescue-wizard cannot do this recovery")
    });
    leave(&pane, "--device dlink-dir-1960-a1");
}

#[test]
fn without_a_terminal_the_command_says_how_to_run_without_the_wizard() {
    let state = tempfile::tempdir().expect("a state folder");
    let output = support::run(
        Command::new(BIN)
            .env("RESCUE_WIZARD_STATE_DIR", state.path())
            .stdin(Stdio::null()),
        SCREEN,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rescue-wizard --device ID IMAGE"),
        "{stderr}"
    );
    assert!(stderr.contains("rescue-wizard demo --json"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// Runs `ip` with `args`, insisting that it worked.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one real-port wizard run from the first screen to the report, step by step in order"
)]
fn the_wizard_recovers_a_router_on_a_real_port() {
    if !support::root_and_tools(&[("ip", "iproute2")]) {
        return;
    }
    let (Some(tmux), Some(tftp), Some(ping)) = (
        support::require("tmux"),
        support::require("tftp"),
        support::require("ping"),
    ) else {
        return;
    };
    // This computer's namespace holds port0; the router's holds the other end of the cable.
    let pair = support::NetnsPair::new("rw-wizard");
    let cwd = tempfile::tempdir().expect("a folder to run in");
    let state = tempfile::tempdir().expect("a state folder");
    let image = rescue_wizard::image::sample::tp_link_firmware(0x0841_0009, 300 * 1024 + 17);
    std::fs::write(cwd.path().join("openwrt-factory.bin"), &image).expect("the image");
    let command = format!(
        "ip netns exec {} {} --interface port0 --timeout 120",
        pair.ns,
        shell_quote(Path::new(BIN))
    );
    let state_dir = state.path().to_str().expect("a UTF-8 temporary path");
    let pane = Tmux::start(
        tmux,
        cwd.path(),
        &[("RESCUE_WIZARD_STATE_DIR", state_dir)],
        &command,
    );
    pane.wait_for(&["1/7 Device"], SCREEN);
    pane.keys(&["wr841n v9"]);
    pane.wait_for(&["1 device", "tl-wr841n-v9"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["2/7 Image", "openwrt-factory.bin"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["READY: the bootloader will take it"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["3/7 Port", "port0"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["4/7 Network", "add 192.168.0.66/24 to port0"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["5/7 Prepare", "port0"], SCREEN);
    pane.keys(&["Enter"]);
    pane.wait_for(&["6/7 Live", "waiting for the router's request"], SCREEN);

    // The "bootloader": fetches the file the profile names from the rescue address.
    ip(&[
        "-n",
        &pair.peer,
        "addr",
        "add",
        "192.168.0.86/24",
        "dev",
        "router0",
    ]);
    let fetched = cwd.path().join("fetched.bin");
    let output = support::run(
        Command::new("ip")
            .args(["netns", "exec", &pair.peer])
            .arg(&tftp)
            .args([
                "-m",
                "binary",
                "192.168.0.66",
                "-c",
                "get",
                "wr841nv9_tp_recovery.bin",
            ])
            .arg(&fetched),
        SCREEN,
    );
    assert!(output.status.success(), "{output:?}");
    assert!(
        std::fs::read(&fetched).expect("the fetched file") == image,
        "the router got other bytes than the image"
    );
    pane.wait_for(&["DO NOT SWITCH THE ROUTER OFF", "192.168.1.1"], SCREEN);

    // The flashed firmware comes up at 192.168.1.1 and speaks (its ARP request for the laptop
    // is what the run hears; the ping itself need not be answered).
    ip(&["-n", &pair.peer, "addr", "flush", "dev", "router0"]);
    ip(&[
        "-n",
        &pair.peer,
        "addr",
        "add",
        "192.168.1.1/24",
        "dev",
        "router0",
    ]);
    ip(&[
        "-n",
        &pair.peer,
        "route",
        "add",
        "192.168.0.66/32",
        "dev",
        "router0",
        "src",
        "192.168.1.1",
    ]);
    let _ = support::run(
        Command::new("ip")
            .args(["netns", "exec", &pair.peer])
            .arg(&ping)
            .args(["-c", "1", "-W", "1", "192.168.0.66"]),
        SCREEN,
    );
    let done = pane.wait_for(&["7/7 Done", "FLASHED", "/reports/tl-wr841n-v9-"], SCREEN);
    assert!(done.contains("back at 192.168.1.1"), "{done}");
    assert!(
        done.contains("address 192.168.0.66/24 on port0: restored"),
        "{done}"
    );
    pane.keys(&["Enter"]);
    pane.wait_for(&["exited 0"], SCREEN);
    let addresses = Command::new("ip")
        .args(["-n", &pair.ns, "-4", "addr", "show", "dev", "port0"])
        .output()
        .expect("ip addr");
    assert!(
        !String::from_utf8_lossy(&addresses.stdout).contains("192.168.0.66"),
        "the rescue address is still on port0"
    );
}
