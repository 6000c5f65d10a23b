//! The HTTP failsafe run end to end, as a technician runs it: `rescue-wizard --device
//! glinet-b1300 openwrt-factory.img`, in this computer's namespace, against the u-boot_mod page
//! double (`tests/http_doubles`, proven faithful in `tests/http.rs`) on the profile's router
//! address behind a veth pair in a router namespace.
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
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use http_doubles::{Behaviour, Double, Flavour, Outcome};
use serde_json::Value;
use support::{NetnsPair, Proc, ip};

/// The host's side of the pair.
const PORT: &str = "port0";
/// The router's side.
const ROUTER_DEV: &str = "router0";
/// The profile's router address (devices/glinet-b1300.yaml).
const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// The profile's laptop address.
const HOST: &str = "192.168.1.2";
/// Longest any run may take.
const DEADLINE: Duration = Duration::from_mins(1);

fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        support::skip_or_fail("needs root to create network namespaces");
        return false;
    }
    support::require("ip").is_some()
}

/// The JSON event lines a run printed, parsed.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// A namespace pair and a folder with a factory image of `size` bytes.
struct Lab {
    net: NetnsPair,
    dir: tempfile::TempDir,
    image: Vec<u8>,
}

impl Lab {
    fn new(tag: &str, size: usize) -> Self {
        let net = NetnsPair::new(tag);
        ip(&[
            "-n",
            &net.peer,
            "addr",
            "add",
            &format!("{ROUTER}/24"),
            "dev",
            ROUTER_DEV,
        ]);
        Self {
            net,
            dir: tempfile::tempdir().unwrap(),
            image: support::content(size, 0xb1300),
        }
    }

    /// `rescue-wizard --device glinet-b1300 openwrt-factory.img --interface port0 --yes
    /// --json --timeout 60 --exit-after-transfer`.
    fn run(&self) -> Proc {
        let path = self.dir.path().join("openwrt-factory.img");
        std::fs::write(&path, &self.image).unwrap();
        let mut cmd = self.net.rescue_wizard();
        cmd.args(["--device", "glinet-b1300"]).arg(&path).args([
            "--interface",
            PORT,
            "--yes",
            "--json",
            "--timeout",
            "60",
            "--exit-after-transfer",
        ]);
        Proc::spawn(&mut cmd)
    }

    /// The u-boot_mod page on the router's address; the receiver hears when it listens.
    fn power_on(&self, behaviour: Behaviour) -> (Double, Receiver<SocketAddr>) {
        Double::start(
            &self.net.peer,
            ROUTER_DEV,
            ROUTER,
            Flavour::UbootMod,
            behaviour,
        )
    }

    /// The port as the run left it: no rescue address, no journal of changes.
    fn assert_restored(&self) {
        let addr = ip(&["-n", &self.net.ns, "-4", "addr", "show", "dev", PORT]);
        let addr = String::from_utf8_lossy(&addr.stdout);
        assert!(!addr.contains(HOST), "the address stayed: {addr}");
        let journals: Vec<String> = std::fs::read_dir(self.net.state.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("journal-"))
            .collect();
        assert!(journals.is_empty(), "a journal stayed: {journals:?}");
    }
}

/// Waits for the event line named `name`.
fn wait_event(run: &Proc, name: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(line) = run.next_line(left) else {
            panic!("no \"{name}\" event\n{}", run.diagnostics());
        };
        if serde_json::from_str::<Value>(&line).is_ok_and(|v| v["event"] == name) {
            return;
        }
    }
}

/// Waits for the run's end; returns its exit code and events.
fn ended(run: &mut Proc) -> (Option<i32>, Vec<Value>) {
    let status = run
        .wait_deadline(DEADLINE)
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    (status.code(), events(&run.stdout_text()))
}

fn sha256(bytes: &[u8]) -> String {
    rescue_wizard::tftp::server::hex_sha256(bytes)
}

/// The page took the image intact, said UPDATE IN PROGRESS, the run ended with exit 0, and
/// the port is as it was.
fn assert_flashed(lab: &Lab, run: &mut Proc, double: &Double) -> Vec<Value> {
    let outcomes = double.wait_outcomes(1, DEADLINE);
    assert_eq!(
        outcomes.first(),
        Some(&Outcome::Taken {
            sha256: sha256(&lab.image),
            size: lab.image.len() as u64,
        }),
        "the image arrived intact: {outcomes:?}"
    );
    let (code, events) = ended(run);
    assert_eq!(code, Some(0), "{}", run.diagnostics());
    let answered = named(&events, "http-answered");
    assert_eq!(answered.len(), 1, "{}", run.stdout_text());
    assert_eq!(answered[0]["said"], "UPDATE IN PROGRESS");
    assert_eq!(answered[0]["accepted"], true);
    let finished = named(&events, "finished");
    assert_eq!(finished.len(), 1, "{}", run.stdout_text());
    assert_ne!(finished[0]["outcome"], "failed", "{}", run.stdout_text());
    let progress = named(&events, "transfer-progressed");
    assert!(
        progress
            .last()
            .is_some_and(|p| p["bytes"] == lab.image.len() as u64),
        "progress reached the whole image: {progress:?}"
    );
    lab.assert_restored();
    events
}

#[test]
fn the_run_uploads_to_a_page_already_up() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-a", 1_500_000);
    let (double, ready) = lab.power_on(Behaviour::default());
    ready.recv_timeout(DEADLINE).expect("the page listens");
    let mut run = lab.run();
    assert_flashed(&lab, &mut run, &double);
}

#[test]
fn the_run_reports_the_page_refusing_the_image_in_its_words() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("httprun-f", 300_000);
    let (double, ready) = lab.power_on(Behaviour {
        size_limit: Some(100_000),
        ..Behaviour::default()
    });
    ready.recv_timeout(DEADLINE).expect("the page listens");
    let mut run = lab.run();
    assert_eq!(
        double.wait_outcomes(1, DEADLINE),
        vec![Outcome::FailurePage("UPDATE FAILED".into())]
    );
    let (code, events) = ended(&mut run);
    assert_ne!(code, Some(0), "{}", run.diagnostics());
    let answered = named(&events, "http-answered");
    assert_eq!(answered.len(), 1, "{}", run.stdout_text());
    assert_eq!(answered[0]["said"], "UPDATE FAILED");
    assert_eq!(answered[0]["accepted"], false);
    let finished = named(&events, "finished");
    assert_eq!(finished.len(), 1, "{}", run.stdout_text());
    assert_eq!(finished[0]["outcome"], "failed");
    let failed = named(&events, "transfer-failed");
    assert!(
        failed
            .iter()
            .any(|e| e["reason"].as_str().unwrap_or("").contains("UPDATE FAILED")),
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
    let lab = Lab::new("httprun-l", 800_000);
    let mut run = lab.run();
    // The run tried the page and found nothing: only then is the router switched on.
    wait_event(&run, "http-page-down");
    let (double, ready) = lab.power_on(Behaviour::default());
    ready.recv_timeout(DEADLINE).expect("the page listens");
    let events = assert_flashed(&lab, &mut run, &double);
    let down = named(&events, "http-page-down");
    assert!(!down.is_empty(), "{events:?}");
    assert_eq!(named(&events, "http-page-up").len(), 1, "{events:?}");
    let phases: Vec<&str> = named(&events, "phase-started")
        .iter()
        .filter_map(|e| e["phase"].as_str())
        .collect();
    assert!(
        phases.contains(&"transfer"),
        "the run moved to the transfer on the page's progress: {phases:?}"
    );
}
