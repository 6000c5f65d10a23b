//! The recovery run end to end, as a technician runs it: `rescue-wizard --device ID IMAGE`.
//!
//! - Pull: U-Boot (Debian `u-boot-qemu`) in `qemu-system-arm`, its NIC a tap device in a
//!   namespace the test creates, fetches the image the run serves; U-Boot's `crc32` must equal
//!   the image's, and the rescue address must be gone afterwards.
//! - Push: a "router" namespace runs tftpd-hpa at the profile's router address, started only
//!   once the run waits for it; the run pushes; the file must arrive identical.
//! - Stall: a router that never appears: exit 3, the checklist, a clean port.
//! - The demo completes, and bad input is refused with the fix.
//!
//! Everything waits on what the programs print (JSON event lines, U-Boot's console), with
//! deadlines, never on sleeps. Needs root for the namespaces; tools missing means a skip by
//! hand and a failure under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rescue_wizard::engine::{Phase, RunOutcome};

mod support;
mod uboot_rig;

use support::events::{
    CheckKind, CheckVerdict, ChecklistStatus, Finding, IsKind, RunEvent, changes, count, events,
    expect_event, finished, outcome, transfers_finished, wait_for_router,
};
use support::{Netns, NetnsPair, Proc, ip, require};
use uboot_rig::{Console, launch, one_qemu_at_a_time, rig_available};

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");

/// From start to the run's "waiting for the router" (preflight, network, self-test).
const READY: Duration = Duration::from_mins(1);

/// Root, for the namespaces; else a skip by hand, a failure under CI.
fn need_root() -> bool {
    support::root_and_tools(&[])
}

/// An image the TL-WR841N v9 profile accepts: a TP-Link header naming hardware id 0x08410009,
/// then varied bytes.
fn wr841n_v9_image(len: usize) -> Vec<u8> {
    rescue_wizard::image::sample::tp_link_firmware(0x0841_0009, len)
}

/// A TP-Link stock image "with boot" for the TL-WR841N v9: the firmware starts at 0x20200.
fn wr841n_v9_stock_with_bootloader() -> Vec<u8> {
    rescue_wizard::image::sample::tp_link_stock_with_bootloader(0x0841_0009, 256 * 1024)
}

fn addresses(ns: &str, dev: &str) -> String {
    String::from_utf8_lossy(&ip(&["-n", ns, "-4", "addr", "show", "dev", dev]).stdout).into_owned()
}

/// This computer's namespace and a router's, joined by a veth pair (`port0` here), with a
/// folder for images (and the pair's state folder for the run's journal); all removed on drop.
struct PortLab {
    pair: NetnsPair,
    dir: tempfile::TempDir,
}

impl PortLab {
    fn new(tag: &str) -> Self {
        Self {
            pair: NetnsPair::new(tag),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes an image into the lab's folder.
    fn image(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `rescue-wizard` in this computer's namespace.
    fn rescue_wizard(&self) -> Command {
        self.pair.rescue_wizard()
    }
}

/// A namespace holding `tap0` with no address, QEMU's U-Boot behind it. Dropping it kills QEMU
/// and deletes the namespace.
struct UbootLab {
    qemu: Child,
    console: Console,
    ns: Netns,
}

impl Drop for UbootLab {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        // The namespace and its tap go with their own drop, after this.
    }
}

impl UbootLab {
    fn start() -> Self {
        let mut ns = Netns::new("rw-recover");
        ns.add_tap("tap0");
        let (qemu, console) = launch(&ns.name);
        let mut lab = Self { qemu, console, ns };
        lab.console
            .expect("Hit any key to stop autoboot", Duration::from_mins(1))
            .unwrap_or_else(|e| panic!("{e}\n{}", lab.transcript()));
        lab.console.send("");
        lab.console
            .expect("=> ", Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}\n{}", lab.transcript()));
        lab
    }

    fn transcript(&self) -> String {
        self.console
            .transcript
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    fn command(&mut self, line: &str, within: Duration) -> String {
        self.console.send(line);
        // At the start of a line: `crc32` prints "==> " too.
        self.console
            .expect("\n=> ", within)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.transcript()))
    }
}

/// A recovery run of the TL-WR841N v9 in a U-Boot lab, U-Boot fetching what it serves.
struct UbootRun {
    lab: UbootLab,
    run: Proc,
    image: Vec<u8>,
    /// What `tftpboot` printed.
    fetched: String,
    _dir: tempfile::TempDir,
    _state: tempfile::TempDir,
}

/// Boots U-Boot, starts the run (with `extra` options) on its tap, and once the run waits,
/// has U-Boot fetch the file the profile names, as the TL-WR841N v9's bootloader would.
fn uboot_fetches(image_len: usize, extra: &[&str]) -> UbootRun {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let image = wr841n_v9_image(image_len);
    let path = dir.path().join("wr841nv9-factory.bin");
    std::fs::write(&path, &image).unwrap();
    let mut lab = UbootLab::start();
    let mut cmd = support::rescue_wizard_in(&lab.ns.name, state.path());
    cmd.args(["--device", "tl-wr841n-v9"])
        .arg(&path)
        .args(["--interface", "tap0", "--yes", "--json", "--timeout", "120"])
        .args(extra);
    let run = Proc::spawn(&mut cmd);
    wait_for_router(&run, READY);
    lab.command("setenv ipaddr 192.168.0.86", Duration::from_secs(10));
    lab.command("setenv serverip 192.168.0.66", Duration::from_secs(10));
    let fetched = lab.command(
        "tftpboot 0x40200000 wr841nv9_tp_recovery.bin",
        Duration::from_mins(2),
    );
    UbootRun {
        lab,
        run,
        image,
        fetched,
        _dir: dir,
        _state: state,
    }
}

#[test]
fn a_real_uboot_pulls_the_image_the_run_serves() {
    if !need_root() || !rig_available(&["ip"]) {
        return;
    }
    let _one = one_qemu_at_a_time();
    let UbootRun {
        mut lab,
        mut run,
        image,
        fetched,
        // Bound, not dropped: the image and the journal must outlive the run.
        _dir,
        _state,
        // Just under the TL-WR841N v9's 4 MiB of flash (a larger image is refused before the
        // run starts), and not a whole number of blocks.
    } = uboot_fetches(
        4 * 1024 * 1024 - 64 * 1024 + 123,
        &["--exit-after-transfer"],
    );
    assert!(
        fetched.contains(&format!("Bytes transferred = {}", image.len())),
        "U-Boot did not load the whole image:\n{fetched}\n{}",
        run.diagnostics()
    );
    let crc = lab.command("crc32 0x40200000 ${filesize}", Duration::from_secs(30));
    let expected = format!("{:08x}", crc32fast::hash(&image));
    assert!(
        crc.contains(&format!("==> {expected}")),
        "U-Boot's crc32 differs from the image's {expected}:\n{crc}"
    );
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| {
            panic!(
                "the run did not end after the transfer\n{}",
                run.diagnostics()
            )
        });
    assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
    let events = events(&run.stdout_text());
    assert!(
        count(&events, |e| matches!(e, RunEvent::SelfTestPassed {})) == 1,
        "{}",
        run.diagnostics()
    );
    let board = Ipv4Addr::new(192, 168, 0, 86);
    let seen = events.iter().any(
        |e| matches!(e, RunEvent::Noticed { finding: Finding::RouterSeen { ip } } if *ip == board),
    );
    assert!(
        seen,
        "the router was not reported seen:\n{}",
        run.stdout_text()
    );
    let request: Vec<(SocketAddr, &str)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::RequestReceived { peer, file } => Some((*peer, file.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(request.len(), 1, "{}", run.stdout_text());
    assert_eq!(request[0].1, "wr841nv9_tp_recovery.bin");
    assert_eq!(request[0].0.ip(), IpAddr::V4(board));
    let finished = transfers_finished(&events);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].1, image.len() as u64);
    assert!(finished[0].3, "the last ACK came");
    assert_eq!(outcome(&events), RunOutcome::Flashed);
    assert!(
        !addresses(&lab.ns.name, "tap0").contains("192.168.0.66"),
        "the rescue address is still there after the run"
    );
    let report = events
        .iter()
        .find_map(|e| match e {
            RunEvent::ReportWritten { path } => Some(path),
            _ => None,
        })
        .unwrap();
    let report = std::fs::read_to_string(report).unwrap();
    assert!(
        report.contains("address 192.168.0.66/24 on tap0: made, undone"),
        "{report}"
    );
    assert!(report.contains(&sha256_hex(&image)), "{report}");
    eprintln!(
        "U-Boot fetched {} bytes in {} s",
        image.len(),
        finished[0].2
    );
}

#[test]
fn a_real_uboot_already_retrying_before_the_run_starts_gets_the_whole_image() {
    if !need_root() || !rig_available(&["ip"]) {
        return;
    }
    let _one = one_qemu_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let image = wr841n_v9_image(2 * 1024 * 1024 + 77);
    let path = dir.path().join("wr841nv9-factory.bin");
    std::fs::write(&path, &image).unwrap();
    let mut lab = UbootLab::start();
    lab.command("setenv ipaddr 192.168.0.86", Duration::from_secs(10));
    lab.command("setenv serverip 192.168.0.66", Duration::from_secs(10));
    // As TP-Link's bootloader does: ask again and again until someone answers.
    lab.command("setenv netretry yes", Duration::from_secs(10));
    lab.console
        .send("tftpboot 0x40200000 wr841nv9_tp_recovery.bin");
    // U-Boot is asking (ARP for the server, unanswered) before rescue-wizard exists.
    lab.console
        .expect("TFTP from server 192.168.0.66", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", lab.transcript()));
    let mut cmd = support::rescue_wizard_in(&lab.ns.name, state.path());
    cmd.args(["--device", "tl-wr841n-v9"])
        .arg(&path)
        .args(["--interface", "tap0", "--yes", "--json", "--timeout", "120"])
        .arg("--exit-after-transfer");
    let mut run = Proc::spawn(&mut cmd);
    let fetched = lab
        .console
        .expect("\n=> ", Duration::from_mins(2))
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", lab.transcript(), run.diagnostics()));
    uboot_loaded(&mut lab, &run, &image, &fetched);
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
    let events = events(&run.stdout_text());
    let finished = transfers_finished(&events);
    assert_eq!(finished.len(), 1, "{}", run.stdout_text());
    assert_eq!(finished[0].1, image.len() as u64);
    assert_eq!(outcome(&events), RunOutcome::Flashed);
    assert!(
        !run.stdout_text().contains("nothing was sent"),
        "{}",
        run.stdout_text()
    );
    assert!(!addresses(&lab.ns.name, "tap0").contains("192.168.0.66"));
}

/// Waits for a `network-noticed` event whose text contains `what`.
fn wait_noticed(run: &Proc, what: &str, within: Duration) -> RunEvent {
    expect_event(
        run,
        within,
        &format!("network-noticed \"{what}\""),
        |e| matches!(e, RunEvent::NetworkNoticed { what: said } if said.contains(what)),
    )
}

/// A run with `--exit-after-transfer` in a U-Boot lab, started; the folders go with it.
struct ExitAfterTransfer {
    lab: UbootLab,
    run: Proc,
    image: Vec<u8>,
    _dir: tempfile::TempDir,
    _state: tempfile::TempDir,
}

impl ExitAfterTransfer {
    /// Boots U-Boot and starts the run on its tap; `env` for the run's environment.
    fn start(image_len: usize, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let image = wr841n_v9_image(image_len);
        let path = dir.path().join("wr841nv9-factory.bin");
        std::fs::write(&path, &image).unwrap();
        let lab = UbootLab::start();
        let mut cmd = support::rescue_wizard_in(&lab.ns.name, state.path());
        cmd.args(["--device", "tl-wr841n-v9"])
            .arg(&path)
            .args(["--interface", "tap0", "--yes", "--json", "--timeout", "120"])
            .arg("--exit-after-transfer")
            .envs(env.iter().copied());
        let run = Proc::spawn(&mut cmd);
        Self {
            lab,
            run,
            image,
            _dir: dir,
            _state: state,
        }
    }

    /// U-Boot asks for the profile's file: it loads the whole image (its crc32 matches), the
    /// run ends with exit 0, one transfer reported, and the rescue address is gone. Returns
    /// the run's events.
    fn uboot_fetches(&mut self) -> Vec<RunEvent> {
        let Self {
            lab, run, image, ..
        } = self;
        lab.command("setenv ipaddr 192.168.0.86", Duration::from_secs(10));
        lab.command("setenv serverip 192.168.0.66", Duration::from_secs(10));
        let fetched = lab.command(
            "tftpboot 0x40200000 wr841nv9_tp_recovery.bin",
            Duration::from_mins(2),
        );
        uboot_loaded(lab, run, image, &fetched);
        let status = run
            .wait_deadline(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
        assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
        let stdout = run.stdout_text();
        let events = events(&stdout);
        let finished = transfers_finished(&events);
        assert_eq!(finished.len(), 1, "{stdout}");
        assert_eq!(finished[0].1, image.len() as u64);
        assert_eq!(outcome(&events), RunOutcome::Flashed);
        assert!(!addresses(&lab.ns.name, "tap0").contains("192.168.0.66"));
        events
    }
}

#[test]
fn a_real_uboot_asking_right_after_the_carrier_toggled_is_served() {
    if !need_root() || !rig_available(&["ip"]) {
        return;
    }
    let _one = one_qemu_at_a_time();
    let mut rig = ExitAfterTransfer::start(1024 * 1024 + 5, &[]);
    wait_for_router(&rig.run, READY);
    // The router's power cycle as the port sees it: the link goes, then comes back, and
    // U-Boot asks right after.
    rig.lab.ns.ip(&["link", "set", "tap0", "carrier", "off"]);
    wait_noticed(&rig.run, "link lost", Duration::from_secs(10));
    rig.lab.ns.ip(&["link", "set", "tap0", "carrier", "on"]);
    wait_noticed(&rig.run, "link up", Duration::from_secs(10));
    let events = rig.uboot_fetches();
    // The flap restarted nothing: one server, one self-test.
    assert_eq!(
        count(&events, |e| matches!(e, RunEvent::Listening {})),
        1,
        "{events:?}"
    );
    assert_eq!(
        count(&events, |e| matches!(e, RunEvent::SelfTestPassed {})),
        1
    );
}

#[test]
fn a_real_uboot_asking_while_the_self_test_runs_is_served() {
    if !need_root() || !rig_available(&["ip"]) {
        return;
    }
    let _one = one_qemu_at_a_time();
    // The self-test is held until U-Boot's request is seen: it asks during the self-test
    // every time.
    let mut rig = ExitAfterTransfer::start(
        1024 * 1024 + 7,
        &[("RESCUE_WIZARD_TEST_HOLD_SELF_TEST", "1")],
    );
    expect_event(&rig.run, READY, "listening", |e| {
        matches!(e, RunEvent::Listening {})
    });
    let events = rig.uboot_fetches();
    let position = |want: &dyn Fn(&RunEvent) -> bool| events.iter().position(want);
    let self_test = position(&|e| {
        matches!(
            e,
            RunEvent::PhaseStarted {
                phase: Phase::SelfTest
            }
        )
    })
    .unwrap_or_else(|| panic!("no self-test phase:\n{events:?}"));
    let request = position(&|e| matches!(e, RunEvent::RequestReceived { .. }))
        .unwrap_or_else(|| panic!("no request:\n{events:?}"));
    assert!(self_test < request, "{events:?}");
    assert!(
        position(&|e| matches!(e, RunEvent::WaitingForRouter { .. })).is_none(),
        "the run went back to waiting after the router asked:\n{events:?}"
    );
}

/// U-Boot printed that it loaded all of `image`, and its crc32 of what it holds is the image's.
fn uboot_loaded(lab: &mut UbootLab, run: &Proc, image: &[u8], fetched: &str) {
    assert!(
        fetched.contains(&format!("Bytes transferred = {}", image.len())),
        "U-Boot did not load the whole image:\n{fetched}\n{}",
        run.diagnostics()
    );
    let crc = lab.command("crc32 0x40200000 ${filesize}", Duration::from_secs(30));
    let expected = format!("{:08x}", crc32fast::hash(image));
    assert!(
        crc.contains(&format!("==> {expected}")),
        "U-Boot's crc32 differs from the image's {expected}:\n{crc}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[test]
fn the_run_pushes_to_a_router_whose_tftp_server_appears_later() {
    if !need_root() {
        return;
    }
    let Some(tftpd) = require("in.tftpd") else {
        return;
    };
    let lab = PortLab::new("rw-push");
    let pair = &lab.pair;
    ip(&[
        "-n",
        &pair.peer,
        "addr",
        "add",
        "192.168.1.20/24",
        "dev",
        "router0",
    ]);
    let root = tempfile::tempdir().unwrap();
    let image = support::content(3 * 1024 * 1024 + 77, 20);
    let path = lab.image("BZ.qca956x.v6.0.21.img", &image);
    let mut cmd = lab.rescue_wizard();
    cmd.args(["--device", "ubiquiti-unifi-ap"])
        .arg(&path)
        .args([
            "--interface",
            "port0",
            "--yes",
            "--exit-after-transfer",
            "--json",
            "--timeout",
            "60",
        ]);
    let mut run = Proc::spawn(&mut cmd);
    wait_for_router(&run, READY);
    // The router's bootloader enters recovery mode only now: the push must keep asking.
    let mut daemon = Command::new("ip");
    daemon
        .args(["netns", "exec", &pair.peer])
        .arg(&tftpd)
        .args(["-L", "-u", "root", "-c", "-a", "192.168.1.20:69", "-s"])
        .arg(root.path())
        .stdin(Stdio::null());
    let _router = Proc::spawn(&mut daemon);
    let status = run
        .wait_deadline(Duration::from_mins(1))
        .unwrap_or_else(|| panic!("the push did not end\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
    let arrived = std::fs::read(root.path().join("BZ.qca956x.v6.0.21.img")).unwrap();
    assert!(arrived == image, "the pushed file differs from the image");
    let events = events(&run.stdout_text());
    let finished = transfers_finished(&events);
    assert_eq!(finished.len(), 1, "{}", run.stdout_text());
    assert_eq!(
        finished[0].0.ip(),
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20))
    );
    assert_eq!(outcome(&events), RunOutcome::Flashed);
    assert!(!addresses(&pair.ns, "port0").contains("192.168.1.25"));
}

#[test]
fn a_router_that_never_appears_ends_with_exit_3_the_checklist_and_a_clean_port() {
    if !need_root() {
        return;
    }
    let lab = PortLab::new("rw-stall");
    let pair = &lab.pair;
    let path = lab.image("factory.bin", &wr841n_v9_image(64 * 1024));
    let report = lab.dir.path().join("report.md");
    // The TL-WR841N v9's procedure with its button step timed at 2 s.
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recovery/timed-steps.yaml");
    let mut cmd = lab.rescue_wizard();
    cmd.arg("--profile")
        .arg(&profile)
        .arg(&path)
        .args(["--interface", "port0", "--yes", "--json", "--timeout", "4"])
        .args(["--stall-after", "1", "--report"])
        .arg(&report);
    let mut run = Proc::spawn(&mut cmd);
    wait_for_router(&run, READY);
    assert!(addresses(&pair.ns, "port0").contains("192.168.0.66/24"));
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the run did not give up\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(3), "{}", run.diagnostics());
    let events = events(&run.stdout_text());
    // The step after the timed one comes once its seconds have passed, not with the others.
    let steps: Vec<f64> = support::events::stamped(&run.stdout_text())
        .into_iter()
        .filter(|e| matches!(e.event, RunEvent::Step {}))
        .map(|e| e.at)
        .collect();
    assert_eq!(steps.len(), 3, "{}", run.stdout_text());
    let at = |n: usize| steps[n];
    assert!(at(1) - at(0) < 0.5, "steps 1 and 2 come together");
    // `at` is rounded to the millisecond.
    assert!(
        at(2) - at(1) >= 2.0 - 0.002,
        "step 3 came {} s after the 2 s step",
        at(2) - at(1)
    );
    let stalled: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Stalled { what, checklist } => Some((what, checklist)),
            _ => None,
        })
        .collect();
    assert_eq!(
        stalled.len(),
        1,
        "one stall, reported once:\n{}",
        run.stdout_text()
    );
    assert!(stalled[0].0.contains("no sign of the router"));
    assert!(!stalled[0].1.is_empty());
    let Some(RunEvent::Finished {
        outcome, checklist, ..
    }) = events
        .iter()
        .find(|e| matches!(e, RunEvent::Finished { .. }))
    else {
        panic!("no finished event:\n{}", run.stdout_text());
    };
    assert_eq!(*outcome, RunOutcome::TimedOut);
    let items: Vec<&str> = checklist.iter().map(|i| i.item.as_str()).collect();
    for item in [
        "server running and listening",
        "folder and file readable",
        "cable and link",
        "server address as the router expects",
        "router reachable",
        "ARP entries",
        "transfer mode",
        "timing",
    ] {
        assert!(items.contains(&item), "{item} missing from {items:?}");
    }
    assert!(
        checklist
            .iter()
            .all(|i| i.status == ChecklistStatus::Pass || i.fix.is_some())
    );
    assert!(!addresses(&pair.ns, "port0").contains("192.168.0.66"));
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("## Checklist"), "{text}");
    assert!(text.contains("nothing happened"), "{text}");
}

#[test]
fn the_demo_runs_to_a_flashed_router_without_privileges_or_changes() {
    let state = tempfile::tempdir().unwrap();
    let report = state.path().join("demo.md");
    let output = support::run(
        Command::new(BIN)
            .args(["demo", "--json", "--flash-seconds", "1", "--report"])
            .arg(&report)
            .env("RESCUE_WIZARD_STATE_DIR", state.path())
            .stdin(Stdio::null()),
        Duration::from_mins(1),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events(&stdout);
    let kinds: [(&str, IsKind); 12] = [
        ("planned", |e| matches!(e, RunEvent::Planned { .. })),
        ("listening", |e| matches!(e, RunEvent::Listening {})),
        ("self-test-passed", |e| {
            matches!(e, RunEvent::SelfTestPassed {})
        }),
        ("step", |e| matches!(e, RunEvent::Step {})),
        ("waiting-for-router", |e| {
            matches!(e, RunEvent::WaitingForRouter { .. })
        }),
        ("wire", |e| matches!(e, RunEvent::Wire {})),
        ("request-received", |e| {
            matches!(e, RunEvent::RequestReceived { .. })
        }),
        ("transfer-started", |e| {
            matches!(e, RunEvent::TransferStarted {})
        }),
        ("transfer-finished", |e| {
            matches!(e, RunEvent::TransferFinished { .. })
        }),
        ("flashing-started", |e| {
            matches!(e, RunEvent::FlashingStarted { .. })
        }),
        ("router-back", |e| matches!(e, RunEvent::RouterBack { .. })),
        ("finished", |e| matches!(e, RunEvent::Finished { .. })),
    ];
    for (name, kind) in kinds {
        assert!(events.iter().any(kind), "no {name} event in\n{stdout}");
    }
    assert!(changes(&events, false).is_empty());
    assert_eq!(outcome(&events), RunOutcome::Flashed);
    // Every line carries its time (`stamped` panics on one without).
    assert_eq!(support::events::stamped(&stdout).len(), events.len());
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("router answers at 192.168.1.1")
    );
}

#[test]
fn a_stock_image_with_a_bootloader_is_served_from_a_stripped_copy_beside_it() {
    if !need_root() {
        return;
    }
    let lab = PortLab::new("rw-strip");
    let stock = wr841n_v9_stock_with_bootloader();
    let path = lab.image("wr841nv9_en_3_16_9_up_boot.bin", &stock);
    let copy = lab
        .dir
        .path()
        .join("wr841nv9_en_3_16_9_up_boot-stripped.bin");

    // Without --yes and without a terminal to ask on: refused, nothing written.
    let mut cmd = lab.rescue_wizard();
    cmd.args(["--device", "tl-wr841n-v9"])
        .arg(&path)
        .args(["--interface", "port0"]);
    let output = support::run(&mut cmd, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("stripped copy"), "{text}");
    assert!(!copy.exists());

    let mut cmd = lab.rescue_wizard();
    cmd.args(["--device", "tl-wr841n-v9"]).arg(&path).args([
        "--interface",
        "port0",
        "--yes",
        "--json",
        "--timeout",
        "1",
    ]);
    let output = support::run(&mut cmd, Duration::from_mins(1));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        stock,
        "the original was modified"
    );
    assert_eq!(std::fs::read(&copy).unwrap(), &stock[0x20200..]);
    let events = events(&stdout);
    let planned = events
        .iter()
        .find_map(|e| match e {
            RunEvent::Planned { image, sha256, .. } => Some((image, sha256)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no planned event:\n{stdout}"));
    assert_eq!(planned.0, &copy);
    assert_eq!(planned.1, &sha256_hex(&stock[0x20200..]));
    assert_eq!(
        count(&events, |e| matches!(e, RunEvent::SelfTestPassed {})),
        1,
        "{stdout}"
    );
}

#[test]
fn after_the_transfer_the_run_waits_for_the_router_at_its_new_address() {
    if !need_root() || !rig_available(&["ip"]) {
        return;
    }
    let _one = one_qemu_at_a_time();
    let UbootRun {
        mut lab,
        mut run,
        _dir,
        _state,
        ..
    } = uboot_fetches(1024 * 1024, &[]);
    expect_event(&run, Duration::from_secs(30), "flashing-started", |e| {
        matches!(e, RunEvent::FlashingStarted { .. })
    });
    // The "new firmware" comes up at the profile's post-flash address (OpenWrt's 192.168.1.1)
    // and speaks: U-Boot pinging the laptop sends an ARP request from that address.
    lab.command("setenv ipaddr 192.168.1.1", Duration::from_secs(10));
    lab.command("setenv netmask 0.0.0.0", Duration::from_secs(10));
    lab.command("ping 192.168.0.66", Duration::from_secs(30));
    let RunEvent::RouterBack { ip: back, after } =
        expect_event(&run, Duration::from_secs(30), "router-back", |e| {
            matches!(e, RunEvent::RouterBack { .. })
        })
    else {
        unreachable!("only a router-back event is waited for")
    };
    assert_eq!(back, Ipv4Addr::new(192, 168, 1, 1));
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(0), "{}", run.diagnostics());
    let events = events(&run.stdout_text());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::FlashingCountdown {}))
            || after < 1.0
    );
    let last = finished(&events);
    assert_eq!(last[0].0, RunOutcome::Flashed);
    assert!(last[0].1.contains("back at 192.168.1.1"));
    assert!(!addresses(&lab.ns.name, "tap0").contains("192.168.0.66"));
}

#[test]
fn a_port_set_up_by_hand_needs_no_consent_and_its_link_is_still_watched() {
    if !need_root() {
        return;
    }
    let lab = PortLab::new("rw-byhand");
    let pair = &lab.pair;
    ip(&[
        "-n",
        &pair.ns,
        "addr",
        "add",
        "192.168.0.66/24",
        "dev",
        "port0",
    ]);
    let path = lab.image("factory.bin", &wr841n_v9_image(64 * 1024));
    let mut cmd = lab.rescue_wizard();
    // No --yes: nothing needs changing, so nothing is asked.
    cmd.args(["--device", "tl-wr841n-v9"]).arg(&path).args([
        "--interface",
        "port0",
        "--json",
        "--timeout",
        "60",
    ]);
    let mut run = Proc::spawn(&mut cmd);
    wait_for_router(&run, READY);
    // The router's end goes down (switched off), then up again.
    ip(&["-n", &pair.peer, "link", "set", "router0", "down"]);
    let lost = expect_event(&run, Duration::from_secs(10), "network-noticed", |e| {
        matches!(e, RunEvent::NetworkNoticed { .. })
    });
    assert!(
        matches!(&lost, RunEvent::NetworkNoticed { what } if what.contains("link lost")),
        "{lost:?}"
    );
    ip(&["-n", &pair.peer, "link", "set", "router0", "up"]);
    let back = expect_event(&run, Duration::from_secs(10), "network-noticed", |e| {
        matches!(e, RunEvent::NetworkNoticed { .. })
    });
    assert!(
        matches!(&back, RunEvent::NetworkNoticed { what } if what.contains("link up")),
        "{back:?}"
    );
    run.signal(nix::sys::signal::Signal::SIGINT);
    let status = run
        .wait_deadline(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("Ctrl-C did not end the run\n{}", run.diagnostics()));
    assert_eq!(status.code(), Some(130), "{}", run.diagnostics());
    let events = events(&run.stdout_text());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::ConsentNeeded {}))
    );
    assert!(changes(&events, false).is_empty());
    // The technician's own address stays.
    assert!(addresses(&pair.ns, "port0").contains("192.168.0.66/24"));
}

#[path = "recovery/stops_and_refusals.rs"]
mod stops_and_refusals;

#[path = "recovery/firewall.rs"]
mod firewall;
