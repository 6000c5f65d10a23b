//! The host network side, in network namespaces the tests make themselves: the rescue address
//! added and always taken back (normal exit, SIGINT, SIGTERM, SIGHUP, SIGKILL followed by a new
//! start), put back after a third-party removal and a link taken down, the technician's own
//! addresses untouched throughout, and `doctor` on deliberately broken setups. Nothing here
//! touches the machine's real interfaces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::ip;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");
const DEADLINE: Duration = Duration::from_secs(20);
/// The built-in profile used: the laptop needs 192.168.0.66/24, the router is 192.168.0.86.
const DEVICE: &str = "tl-wr841n-v9";
const RESCUE: &str = "192.168.0.66/24";
/// The technician's own address on the port, which must survive everything.
const OWN: &str = "10.1.2.3/24";

/// Whether this machine can run namespace tests; when it cannot, says why (and fails under CI).
fn can_run() -> bool {
    let missing = if !nix::unistd::geteuid().is_root() {
        Some("needs root to create network namespaces")
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("needs `ip` (iproute2)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) => {
            support::skip_or_fail(why);
            false
        }
    }
}

/// A namespace holding `port0`, one end of a veth pair whose other end sits in a peer
/// namespace, with the technician's own address on it. Removed on drop.
struct Lab {
    net: support::NetnsPair,
}

impl std::ops::Deref for Lab {
    type Target = support::NetnsPair;

    fn deref(&self) -> &support::NetnsPair {
        &self.net
    }
}

impl Lab {
    fn new() -> Self {
        let lab = Self {
            net: support::NetnsPair::new("rwh"),
        };
        ip(&["-n", &lab.ns, "addr", "add", OWN, "dev", "port0"]);
        lab
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.rescue_wizard();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        wait_output(self.command(args).spawn().unwrap())
    }

    /// The IPv4 addresses on `port0`.
    fn addresses(&self) -> String {
        String::from_utf8_lossy(
            &ip(&["-n", &self.ns, "-4", "-o", "addr", "show", "dev", "port0"]).stdout,
        )
        .into_owned()
    }

    fn has(&self, cidr: &str) -> bool {
        self.addresses().contains(cidr)
    }

    fn journal(&self) -> bool {
        self.state.path().join("undo-journal.json").exists()
    }

    /// Starts `serve --device` with consent and waits until it listens (the setup is done
    /// before that line is printed).
    fn serve(&self) -> Server {
        let image = self.state.path().join("fw.bin");
        std::fs::write(&image, vec![7u8; 2000]).unwrap();
        self.serve_with(&image, &[])
    }

    /// Starts `serve IMAGE --device ... --yes EXTRA...` and waits until it listens.
    fn serve_with(&self, image: &Path, extra: &[&str]) -> Server {
        let mut args = vec![
            "serve",
            image.to_str().unwrap(),
            "--device",
            DEVICE,
            "--interface",
            "port0",
            "--port",
            "0",
            "--yes",
        ];
        args.extend_from_slice(extra);
        let mut child = self.command(&args).spawn().unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let first = stdout.recv_timeout(DEADLINE).expect("serve's first line");
        let port = first
            .strip_prefix("listening on ")
            .and_then(|addr| addr.rsplit(':').next())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Server {
            child,
            stderr,
            port,
        }
    }
}

struct Server {
    child: Child,
    stderr: mpsc::Receiver<String>,
    /// The port it listens on.
    port: String,
}

impl Server {
    /// Waits for a line of standard error containing `text`.
    fn said(&self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .stderr
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("serve never said {text:?}"));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Waits for the server to end by itself.
    fn wait(self) -> (Output, Vec<String>) {
        let output = wait_output(self.child);
        let rest = drain(&self.stderr);
        (output, rest)
    }

    fn signal(self, signal: Signal) -> (Output, Vec<String>) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
        let output = wait_output(self.child);
        let rest = drain(&self.stderr);
        (output, rest)
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    support::lines(stream)
}

/// Every line still to come from a stream, until it closes (the process has ended).
fn drain(lines: &mpsc::Receiver<String>) -> Vec<String> {
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(DEADLINE) {
        rest.push(line);
    }
    rest
}

fn wait_output(child: Child) -> Output {
    support::wait_child(child, DEADLINE)
}

/// Polls a condition until a deadline (the system, not our code, decides when).
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::park_timeout(Duration::from_millis(20));
    }
}

#[test]
fn address_added_and_removed_on_sigint_sigterm_and_sighup() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    // SIGHUP: the terminal closed; the address must go all the same.
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        assert!(!lab.has(RESCUE));
        let server = lab.serve();
        assert!(lab.has(RESCUE), "{}", lab.addresses());
        assert!(
            lab.addresses().contains("port0:rw"),
            "labelled: {}",
            lab.addresses()
        );
        assert!(
            lab.addresses().contains("valid_lft 1"),
            "finite lifetime: {}",
            lab.addresses()
        );
        assert!(lab.journal(), "journaled before the change");
        let (output, rest) = server.signal(signal);
        assert_eq!(output.status.code(), Some(0), "{signal}: {rest:?}");
        assert!(
            rest.iter()
                .any(|l| l.contains("undone: address 192.168.0.66/24 on port0")),
            "{rest:?}"
        );
        assert!(!lab.has(RESCUE), "{signal}: {}", lab.addresses());
        assert!(lab.has(OWN), "the technician's address survives");
        assert!(!lab.journal(), "nothing left to undo");
    }
}

#[test]
fn sigkill_leaves_a_journal_that_the_next_start_cleans() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let server = lab.serve();
    assert!(lab.has(RESCUE));
    let (output, _) = server.signal(Signal::SIGKILL);
    assert_eq!(output.status.code(), None, "killed");
    assert!(lab.has(RESCUE), "a killed run cannot clean up");
    assert!(lab.journal());
    // Any next start cleans up first and says what it cleaned.
    let next = lab.run(&["doctor", "--interface", "port0"]);
    let text = String::from_utf8_lossy(&next.stderr);
    assert!(
        text.contains("cleaned up after a previous run that did not finish"),
        "{text}"
    );
    assert!(
        text.contains("undone: address 192.168.0.66/24 on port0"),
        "{text}"
    );
    assert!(!lab.has(RESCUE), "{}", lab.addresses());
    assert!(lab.has(OWN));
    assert!(!lab.journal());
}

#[test]
fn removed_address_and_downed_link_are_put_back() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let server = lab.serve();
    let removed_at = Instant::now();
    ip(&["-n", &lab.ns, "addr", "del", RESCUE, "dev", "port0"]);
    server.said("put it back");
    eventually("the address is back", || lab.has(RESCUE));
    println!(
        "address restored {:?} after a third-party removal",
        removed_at.elapsed()
    );
    ip(&["-n", &lab.ns, "link", "set", "port0", "down"]);
    server.said("brought it up again");
    eventually("the link is up", || {
        String::from_utf8_lossy(&ip(&["-n", &lab.ns, "link", "show", "port0"]).stdout)
            .contains(",UP")
    });
    eventually("the address is there", || lab.has(RESCUE));
    assert!(lab.has(OWN), "the technician's address survives");
    let (output, _) = server.signal(Signal::SIGTERM);
    assert_eq!(output.status.code(), Some(0));
    assert!(!lab.has(RESCUE));
    assert!(lab.has(OWN));
}

#[test]
fn without_consent_nothing_changes() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let image = lab.state.path().join("fw.bin");
    std::fs::write(&image, b"x").unwrap();
    let output = lab.run(&[
        "serve",
        image.to_str().unwrap(),
        "--device",
        DEVICE,
        "--interface",
        "port0",
        "--port",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("add 192.168.0.66/24 to port0") && text.contains("--yes"),
        "{text}"
    );
    assert!(!lab.has(RESCUE));
    assert!(!lab.journal());
}

/// Runs doctor; returns its exit code and what it printed (standard error first: what it
/// cleaned up at start).
fn doctor(lab: &Lab) -> (Option<i32>, String) {
    let output = lab.run(&["doctor", "--device", DEVICE, "--interface", "port0"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status.code(), text)
}

#[test]
fn doctor_names_what_is_broken_and_passes_when_fixed() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    // No rescue address.
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("[FAIL] address 192.168.0.66/24 on port0: missing"),
        "{text}"
    );
    assert!(
        text.contains("sudo ip addr add 192.168.0.66/24 dev port0"),
        "{text}"
    );
    // Link down.
    ip(&["-n", &lab.ns, "link", "set", "port0", "down"]);
    let (_, text) = doctor(&lab);
    assert!(
        text.contains("[FAIL] link port0: the interface is switched off"),
        "{text}"
    );
    ip(&["-n", &lab.ns, "link", "set", "port0", "up"]);
    // The same subnet on a second interface.
    ip(&[
        "-n", &lab.ns, "link", "add", "wifi0", "type", "veth", "peer", "name", "wifi1",
    ]);
    ip(&[
        "-n",
        &lab.ns,
        "addr",
        "add",
        "192.168.0.23/24",
        "dev",
        "wifi0",
    ]);
    ip(&["-n", &lab.ns, "link", "set", "wifi0", "up"]);
    let (_, text) = doctor(&lab);
    assert!(
        text.contains("[warn] subnet 192.168.0.0/24: wifi0 also reaches"),
        "{text}"
    );
    ip(&["-n", &lab.ns, "link", "del", "wifi0"]);
    // Port 69 taken (by another server in the namespace).
    let image = lab.state.path().join("held.bin");
    std::fs::write(&image, b"x").unwrap();
    let mut holder = lab
        .command(&["serve", image.to_str().unwrap(), "--port", "69"])
        .spawn()
        .unwrap();
    let stdout = lines(holder.stdout.take().unwrap());
    assert!(
        stdout
            .recv_timeout(DEADLINE)
            .unwrap()
            .starts_with("listening on")
    );
    let (_, text) = doctor(&lab);
    assert!(
        text.contains("[FAIL] UDP port 69: taken by rescue-wizard (pid"),
        "{text}"
    );
    kill(Pid::from_raw(holder.id() as i32), Signal::SIGTERM).unwrap();
    wait_output(holder);
    // Fixed: the address present, nothing else wrong but the virtual port's warning.
    ip(&["-n", &lab.ns, "addr", "add", RESCUE, "dev", "port0"]);
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 failed"), "{text}");
    assert!(Path::new(BIN).exists());
}

#[test]
fn an_unknown_interface_lists_the_real_ones() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let output = lab.run(&["doctor", "--interface", "eth9"]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("no interface named \"eth9\"") && text.contains("port0"),
        "{text}"
    );
}

fn nft(lab: &Lab, script: &str) -> String {
    let output = Command::new("ip")
        .args(["netns", "exec", &lab.ns, "nft"])
        .args(script.split_whitespace())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "nft {script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_firewall_dropping_tftp_is_named_opened_for_the_session_and_closed_after_a_crash() {
    if !can_run() {
        return;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nft (nftables) is missing"
        );
        eprintln!("skipped: nft (nftables) is missing");
        return;
    }
    let lab = Lab::new();
    // The technician's own firewall: drops TFTP requests.
    nft(&lab, "add table inet own");
    nft(
        &lab,
        "add chain inet own input { type filter hook input priority 0 ; policy accept ; }",
    );
    nft(&lab, "add rule inet own input udp dport 69 drop");
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(1));
    assert!(text.contains("[FAIL] firewall (nftables)"), "{text}");
    // Opened for the session, with consent.
    let image = lab.state.path().join("fw.bin");
    std::fs::write(&image, vec![1u8; 100]).unwrap();
    let server = lab.serve_with(&image, &["--allow-firewall"]);
    let ruleset = nft(&lab, "list ruleset");
    assert!(ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(lab.has(RESCUE));
    let said = server.said("firewall rule accepting UDP from 192.168.0.0/24 on port0");
    assert!(said.starts_with("changed:"), "{said}");
    // Killed: the next start takes the rule and the address away, and nothing of ours stays.
    let (output, _) = server.signal(Signal::SIGKILL);
    assert_eq!(output.status.code(), None);
    assert!(nft(&lab, "list ruleset").contains("rescue-wizard"));
    let (code, text) = doctor(&lab);
    assert_eq!(
        code,
        Some(1),
        "the technician's drop rule is still there: {text}"
    );
    assert!(
        text.contains("undone: firewall rule accepting UDP from 192.168.0.0/24 on port0"),
        "{text}"
    );
    let ruleset = nft(&lab, "list ruleset");
    assert!(!ruleset.contains("rescue-wizard"), "{ruleset}");
    assert!(
        ruleset.contains("udp dport 69 drop"),
        "the technician's rule is untouched: {ruleset}"
    );
    assert!(!lab.has(RESCUE));
    assert!(lab.has(OWN));
    assert!(!lab.journal());
}

#[test]
fn a_router_pulls_through_the_rescue_address_and_everything_is_undone_at_the_end() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    // The "router" at the profile's bootloader address, in the peer namespace.
    ip(&[
        "-n",
        &lab.peer,
        "addr",
        "add",
        "192.168.0.86/24",
        "dev",
        "router0",
    ]);
    let link = String::from_utf8_lossy(&ip(&["-n", &lab.peer, "link", "show", "router0"]).stdout)
        .into_owned();
    let mac = link
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .expect("router0's MAC")
        .to_owned();
    let image = lab.state.path().join("fw.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    std::fs::write(&image, &data).unwrap();
    let server = lab.serve_with(
        &image,
        &["--any-name", "--router-mac", &mac, "--exit-after", "1"],
    );
    let port = server.port.clone();
    assert!(lab.has(RESCUE));
    let neighbours =
        String::from_utf8_lossy(&ip(&["-n", &lab.ns, "neigh", "show", "192.168.0.86"]).stdout)
            .into_owned();
    assert!(
        neighbours.contains(&mac) && neighbours.contains("PERMANENT"),
        "{neighbours}"
    );
    // The router pulls the image from the rescue address.
    let out = lab.state.path().join("pulled.bin");
    let pulled = wait_output(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.peer,
                BIN,
                "get",
                "192.168.0.66",
                "wr841nv9_tp_recovery.bin",
            ])
            .args(["-o", out.to_str().unwrap(), "--port", &port, "--wait", "5"])
            .env(
                "RESCUE_WIZARD_STATE_DIR",
                lab.state.path().join("peer-state"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap(), data);
    // The server ends by itself after the transfer: a normal exit undoes everything.
    let (output, rest) = server.wait();
    let text = rest.join("\n");
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("undone: static ARP entry 192.168.0.86"),
        "{text}"
    );
    assert!(!lab.has(RESCUE));
    assert!(lab.has(OWN));
    let neighbours =
        String::from_utf8_lossy(&ip(&["-n", &lab.ns, "neigh", "show", "192.168.0.86"]).stdout)
            .into_owned();
    assert!(!neighbours.contains("PERMANENT"), "{neighbours}");
    assert!(!lab.journal());
}
