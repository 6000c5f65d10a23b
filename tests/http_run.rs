//! The HTTP failsafe run end to end, as a technician runs it: `rescue-wizard --device ID
//! IMAGE` for the GL.iNet B1300 (u-boot_mod page), the D-Link DAP-1330 (older D-Link page) and
//! the GL-MT3000 with bl-mt798x (the MTK failsafe), in this computer's namespace, against the
//! page doubles (`tests/http_doubles`, proven faithful in `tests/http.rs`) on each profile's
//! page address behind a veth pair in a router namespace. Without `--exit-after-transfer`, a
//! test profile with a short write time shows the flashing wait and the watch for the router
//! coming back at its `after` address, and what the run says when it never does.
//!
//! Each test reads the run's JSON events and the double's outcomes with deadlines, never
//! sleeps; and checks the port is as it was afterwards (no rescue address, no journal).
//! Needs root and `ip`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_doubles;
#[allow(unused_imports)]
mod nmrp_double;
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use http_doubles::{Behaviour, Double, Flavour, Outcome, QCA95XX_FIELDS, md5_hex};
use rescue_wizard::engine::{Phase, RunOutcome};
use support::events::{RunEvent, events, finished, wait_for};
use support::{NetnsPair, Proc, ip};

/// The host's side of the pair.
const PORT: &str = "port0";
/// The router's side.
const ROUTER_DEV: &str = "router0";
/// Longest any run may take to upload.
const DEADLINE: Duration = Duration::from_mins(1);

/// A device as the tests run it: which profile, where its page is, where the laptop goes.
#[derive(Debug, Clone, Copy)]
struct Device {
    /// `--device` id, or a fixture under tests/fixtures/profiles/ (`--profile`).
    profile: Profile,
    /// The page's address (the profile's `http.address` or `router`).
    page: Ipv4Addr,
    /// The laptop's address the profile gives.
    host: &'static str,
    /// The page the double plays.
    flavour: Flavour,
    /// The page's words for "taken".
    success: &'static str,
}

#[derive(Debug, Clone, Copy)]
enum Profile {
    Builtin(&'static str),
    Fixture(&'static str),
}

/// devices/glinet-b1300.yaml: u-boot_mod's page on 192.168.1.1.
const B1300: Device = Device {
    profile: Profile::Builtin("glinet-b1300"),
    page: Ipv4Addr::new(192, 168, 1, 1),
    host: "192.168.1.2",
    flavour: Flavour::UbootMod,
    success: "UPDATE IN PROGRESS",
};

/// devices/dlink-dap-1330-a1.yaml: the older D-Link page on 192.168.0.50.
const DAP1330: Device = Device {
    profile: Profile::Builtin("dlink-dap-1330-a1"),
    page: Ipv4Addr::new(192, 168, 0, 50),
    host: "192.168.0.2",
    flavour: Flavour::Dlink,
    success: "Device is Upgrading the Firmware",
};

/// devices/glinet-gl-mt3000-bl-mt798x.yaml: the MTK failsafe on 192.168.1.1.
const MT3000: Device = Device {
    profile: Profile::Builtin("glinet-gl-mt3000-bl-mt798x"),
    page: Ipv4Addr::new(192, 168, 1, 1),
    host: "192.168.1.2",
    flavour: Flavour::Mediatek,
    success: "success",
};

/// devices/glinet-gl-ar300m.yaml: GL.iNet's qca95xx u-boot_mod page, field `nand_firmware`.
const AR300M: Device = Device {
    profile: Profile::Builtin("glinet-gl-ar300m"),
    page: Ipv4Addr::new(192, 168, 1, 1),
    host: "192.168.1.2",
    flavour: Flavour::UbootMod,
    success: "UPDATE IN PROGRESS",
};

/// tests/fixtures/profiles/http-back-watch.yaml: a u-boot_mod page on 192.168.1.1 that
/// writes for 2 s, its firmware then at [`BACK`].
const SHORT_WRITE: Device = Device {
    profile: Profile::Fixture("http-back-watch.yaml"),
    page: Ipv4Addr::new(192, 168, 1, 1),
    host: "192.168.1.2",
    flavour: Flavour::UbootMod,
    success: "UPDATE IN PROGRESS",
};

/// The fixture's `after`: where its new firmware answers.
const BACK: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);

fn can_run() -> bool {
    support::root_and_tools(&[("ip", "iproute2")])
}

/// The page's answers: its words, and whether they are the success text.
fn answers(events: &[RunEvent]) -> Vec<(&str, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::HttpAnswered { said, accepted } => Some((said.as_str(), *accepted)),
            _ => None,
        })
        .collect()
}

/// Why each failed transfer failed.
fn failures(events: &[RunEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TransferFailed { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

/// A namespace pair, the device's page address on the router's side, and a folder with a
/// factory image of `size` bytes.
struct Lab {
    net: NetnsPair,
    dir: tempfile::TempDir,
    image: Vec<u8>,
    device: Device,
}

impl Lab {
    fn new(tag: &str, size: usize, device: Device) -> Self {
        let net = NetnsPair::new(tag);
        ip(&[
            "-n",
            &net.peer,
            "addr",
            "add",
            &format!("{}/24", device.page),
            "dev",
            ROUTER_DEV,
        ]);
        Self {
            net,
            dir: tempfile::tempdir().unwrap(),
            image: support::content(size, 0xb1300),
            device,
        }
    }

    /// `rescue-wizard --device ID openwrt-factory.img --interface port0 --yes --json
    /// --timeout 60 --exit-after-transfer`.
    fn run(&self) -> Proc {
        self.run_with(&["--exit-after-transfer"])
    }

    /// The same run with `extra` arguments in place of `--exit-after-transfer`.
    fn run_with(&self, extra: &[&str]) -> Proc {
        let path = self.dir.path().join("openwrt-factory.img");
        std::fs::write(&path, &self.image).unwrap();
        let mut cmd = self.net.rescue_wizard();
        match self.device.profile {
            Profile::Builtin(id) => cmd.args(["--device", id]),
            Profile::Fixture(name) => cmd.arg("--profile").arg(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/profiles")
                    .join(name),
            ),
        };
        cmd.arg(&path)
            .args(["--interface", PORT, "--yes", "--json", "--timeout", "60"])
            .args(extra);
        Proc::spawn(&mut cmd)
    }

    /// The device's page on its address; the receiver hears when it listens.
    fn power_on(&self, behaviour: Behaviour) -> (Double, Receiver<SocketAddr>) {
        Double::start(
            &self.net.peer,
            ROUTER_DEV,
            self.device.page,
            self.device.flavour,
            behaviour,
        )
    }

    /// The page switched on, once it listens.
    fn page_up(&self, behaviour: Behaviour) -> Double {
        let (double, ready) = self.power_on(behaviour);
        ready.recv_timeout(DEADLINE).expect("the page listens");
        double
    }

    /// The port as the run left it: no rescue address, no journal of changes.
    fn assert_restored(&self) {
        let addr = ip(&["-n", &self.net.ns, "-4", "addr", "show", "dev", PORT]);
        let addr = String::from_utf8_lossy(&addr.stdout);
        assert!(
            !addr.contains(&format!("{}/", self.device.host)),
            "the address stayed: {addr}"
        );
        let journals: Vec<String> = std::fs::read_dir(self.net.state.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("journal-"))
            .collect();
        assert!(journals.is_empty(), "a journal stayed: {journals:?}");
    }
}

/// Waits for the event `name` (`wanted` holds for it); returns it.
fn wait_event(run: &Proc, name: &str, wanted: fn(&RunEvent) -> bool) -> RunEvent {
    wait_for(run, DEADLINE, wanted)
        .unwrap_or_else(|| panic!("no \"{name}\" event\n{}", run.diagnostics()))
}

/// Waits for the run's end, at most `within`; returns its exit code and events.
fn ended_within(run: &mut Proc, within: Duration) -> (Option<i32>, Vec<RunEvent>) {
    let status = run
        .wait_deadline(within)
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    (status.code(), events(&run.stdout_text()))
}

fn ended(run: &mut Proc) -> (Option<i32>, Vec<RunEvent>) {
    ended_within(run, DEADLINE)
}

fn sha256(bytes: &[u8]) -> String {
    rescue_wizard::tftp::server::hex_sha256(bytes)
}

/// The image as the double cut it out of the request: the last outcome, once it is a
/// `Taken` (the MTK page answers `/upload` first, then `/result` writes).
fn wait_taken(lab: &Lab, double: &Double) -> Vec<Outcome> {
    let expected = Outcome::Taken {
        sha256: sha256(&lab.image),
        size: lab.image.len() as u64,
    };
    let n = if lab.device.flavour == Flavour::Mediatek {
        2
    } else {
        1
    };
    let outcomes = double.wait_outcomes(n, DEADLINE);
    assert_eq!(
        outcomes.last(),
        Some(&expected),
        "the image arrived intact: {outcomes:?}"
    );
    outcomes
}

/// The page took the image intact and said its success text; progress reached the whole
/// image. Returns the run's events once it ended with exit 0 and the port is as it was.
fn assert_flashed(lab: &Lab, run: &mut Proc, double: &Double) -> Vec<RunEvent> {
    wait_taken(lab, double);
    let (code, events) = ended(run);
    assert_eq!(code, Some(0), "{}", run.diagnostics());
    assert_accepted(lab, run, &events);
    let finished = finished(&events);
    assert_eq!(finished.len(), 1, "{}", run.stdout_text());
    assert_ne!(finished[0].0, RunOutcome::Failed, "{}", run.stdout_text());
    lab.assert_restored();
    events
}

/// The run told the page's success text once and progress up to the whole image.
fn assert_accepted(lab: &Lab, run: &Proc, events: &[RunEvent]) {
    let answered = answers(events);
    assert_eq!(answered.len(), 1, "{}", run.stdout_text());
    assert_eq!(answered[0], (lab.device.success, true));
    let progress: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TransferProgressed { bytes } => Some(*bytes),
            _ => None,
        })
        .collect();
    assert!(
        progress
            .last()
            .is_some_and(|&bytes| bytes == lab.image.len() as u64),
        "progress reached the whole image: {progress:?}"
    );
}

#[test]
fn the_run_uploads_to_a_page_already_up() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-a", 1_500_000, B1300);
    let double = lab.page_up(Behaviour::default());
    let mut run = lab.run();
    assert_flashed(&lab, &mut run, &double);
}

#[test]
fn the_run_reports_the_page_refusing_the_image_in_its_words() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-f", 300_000, B1300);
    let double = lab.page_up(Behaviour {
        size_limit: Some(100_000),
        ..Behaviour::default()
    });
    let mut run = lab.run();
    assert_eq!(
        double.wait_outcomes(1, DEADLINE),
        vec![Outcome::FailurePage("UPDATE FAILED".into())]
    );
    let (code, events) = ended(&mut run);
    assert_ne!(code, Some(0), "{}", run.diagnostics());
    let answered = answers(&events);
    assert_eq!(answered.len(), 1, "{}", run.stdout_text());
    assert_eq!(answered[0], ("UPDATE FAILED", false));
    let finished = finished(&events);
    assert_eq!(finished.len(), 1, "{}", run.stdout_text());
    assert_eq!(finished[0].0, RunOutcome::Failed);
    assert!(
        failures(&events)
            .iter()
            .any(|reason| reason.contains("UPDATE FAILED")),
        "the page's words are the reason: {}",
        run.stdout_text()
    );
    lab.assert_restored();
}

#[test]
fn the_run_keeps_trying_until_the_page_comes_up() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-l", 800_000, B1300);
    let mut run = lab.run();
    // The run tried the page and found nothing: only then is the router switched on.
    wait_event(&run, "http-page-down", |e| {
        matches!(e, RunEvent::HttpPageDown {})
    });
    let double = lab.page_up(Behaviour::default());
    let events = assert_flashed(&lab, &mut run, &double);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::HttpPageDown {})),
        "{events:?}"
    );
    let up = events
        .iter()
        .filter(|e| matches!(e, RunEvent::HttpPageUp {}));
    assert_eq!(up.count(), 1, "{events:?}");
    let phases: Vec<Phase> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::PhaseStarted { phase } => Some(*phase),
            _ => None,
        })
        .collect();
    assert!(
        phases.contains(&Phase::Transfer),
        "the run moved to the transfer on the page's progress: {phases:?}"
    );
}

#[test]
fn the_dlink_run_uploads_to_its_cgi_index_page() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-d", 300_000, DAP1330);
    let double = lab.page_up(Behaviour::default());
    let mut run = lab.run();
    let events = assert_flashed(&lab, &mut run, &double);
    // The double took the image from exactly one connection: the 150 ms pause, the head
    // alone and one segment in flight were kept (it resets any of them broken).
    assert_eq!(double.outcomes().len(), 1, "{:?}", double.outcomes());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::HttpRetrying {})),
        "{events:?}"
    );
    let planned = events.iter().find_map(|e| match e {
        RunEvent::Planned { router, .. } => Some(*router),
        _ => None,
    });
    assert_eq!(
        planned,
        Some(Some(Ipv4Addr::new(192, 168, 0, 50))),
        "{events:?}"
    );
}

#[test]
fn the_gl_ar300m_run_posts_the_nand_firmware_field_its_page_takes() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-q", 600_000, AR300M);
    // GL.iNet's qca95xx page knows no plain `firmware`: only the profile's field works.
    let double = lab.page_up(Behaviour {
        fields: Some(QCA95XX_FIELDS),
        ..Behaviour::default()
    });
    let mut run = lab.run();
    assert_flashed(&lab, &mut run, &double);
}

#[test]
fn the_mediatek_run_checks_size_and_md5_before_result_writes() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-m", 900_001, MT3000);
    let double = lab.page_up(Behaviour::default());
    let mut run = lab.run();
    let events = assert_flashed(&lab, &mut run, &double);
    assert_eq!(
        double.outcomes()[0],
        Outcome::Served("upload".into()),
        "/upload first, /result after"
    );
    let verified: Vec<(u64, &str)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::HttpVerified { size, md5 } => Some((*size, md5.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(verified.len(), 1, "{events:?}");
    assert_eq!(verified[0].0, lab.image.len() as u64);
    assert_eq!(
        verified[0].1,
        md5_hex(&lab.image),
        "the page's MD5 is the image's"
    );
}

#[test]
fn the_mediatek_run_stops_on_an_md5_mismatch_quoting_the_page() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-5", 300_000, MT3000);
    let double = lab.page_up(Behaviour {
        wrong_md5: true,
        ..Behaviour::default()
    });
    let mut run = lab.run();
    let (code, events) = ended(&mut run);
    assert_eq!(code, Some(1), "{}", run.diagnostics());
    // Only /upload was asked: /result, which writes, never was.
    assert_eq!(double.outcomes(), vec![Outcome::Served("upload".into())]);
    let reason = failures(&events)
        .into_iter()
        .find(|r| r.contains("MD5"))
        .unwrap_or_else(|| panic!("no MD5 reason: {}", run.stdout_text()));
    let page_md5 = "0".repeat(32);
    assert!(
        reason.contains(&format!(
            "the page received {} bytes with MD5 {page_md5}",
            lab.image.len()
        )),
        "{reason}"
    );
    assert!(reason.contains(&md5_hex(&lab.image)), "{reason}");
    assert!(reason.contains("nothing was written"), "{reason}");
    assert_eq!(finished(&events)[0].0, RunOutcome::Failed);
    lab.assert_restored();
}

/// The run without `--exit-after-transfer`, on the short-write fixture: the page takes the
/// image, the run counts the write down, and `reboot` is what the router does then.
fn upload_then_flash(tag: &str) -> (Lab, Proc, Double) {
    let lab = Lab::new(tag, 400_000, SHORT_WRITE);
    let double = lab.page_up(Behaviour::default());
    let run = lab.run_with(&[]);
    let flashing = wait_event(&run, "flashing-started", |e| {
        matches!(e, RunEvent::FlashingStarted { .. })
    });
    assert_eq!(
        flashing,
        RunEvent::FlashingStarted { after: Some(BACK) },
        "{flashing:?}"
    );
    wait_taken(&lab, &double);
    (lab, run, double)
}

#[test]
fn after_the_page_took_the_image_the_run_waits_the_write_and_sees_the_router_back() {
    if !can_run() {
        return;
    }
    let (lab, mut run, double) = upload_then_flash("httprun-b");
    // The write time of the fixture (2 s) is counted down before the router is expected.
    wait_event(&run, "flashing-countdown", |e| {
        matches!(e, RunEvent::FlashingCountdown {})
    });
    double.reboot(Some(BACK));
    let back = wait_event(&run, "router-back", |e| {
        matches!(e, RunEvent::RouterBack { .. })
    });
    assert!(
        matches!(back, RunEvent::RouterBack { ip, .. } if ip == BACK),
        "{back:?}"
    );
    let (code, events) = ended(&mut run);
    assert_eq!(code, Some(0), "{}", run.diagnostics());
    assert_accepted(&lab, &run, &events);
    let finished = finished(&events);
    assert_eq!(finished[0].0, RunOutcome::Flashed, "{}", run.stdout_text());
    assert_eq!(
        finished[0].1,
        format!("the router is back at {BACK}: the recovery worked")
    );
    lab.assert_restored();
}

#[test]
fn a_router_that_never_comes_back_is_told_where_to_look() {
    if !can_run() {
        return;
    }
    let (lab, mut run, double) = upload_then_flash("httprun-n");
    // The bootloader resets and nothing comes up.
    double.reboot(None);
    // The write time (2 s) and the grace for the router to come back (FLASH_GRACE, 60 s).
    let (code, events) = ended_within(&mut run, DEADLINE + Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", run.diagnostics());
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::RouterBack { .. })),
        "{events:?}"
    );
    let finished = finished(&events);
    assert_eq!(
        finished[0].0,
        RunOutcome::Transferred,
        "{}",
        run.stdout_text()
    );
    let summary = finished[0].1;
    assert!(
        summary.contains(&format!("did not answer at {BACK} afterwards")),
        "{summary}"
    );
    assert!(summary.contains("give it a few more minutes"), "{summary}");
    assert!(!run.stdout_text().contains("nothing was sent"), "{summary}");
    lab.assert_restored();
}
