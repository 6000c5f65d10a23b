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
/// A USB adapter's name as long as the kernel allows (IFNAMSIZ 16, with its NUL): no label
/// suffix fits after it.
const LONG: &str = "enx00e04c680001";

/// Whether this machine can run namespace tests; when it cannot, says why (and fails under CI).
fn can_run() -> bool {
    support::root_and_tools(&[("ip", "iproute2")])
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

    /// Whether a run's journal is in the state folder.
    fn journal(&self) -> bool {
        !self.journals().is_empty()
    }

    /// The runs' journals in the state folder (`journal-PID-START-N.json`; older versions
    /// kept one `undo-journal.json`).
    fn journals(&self) -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(self.state.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name == "undo-journal.json"
                    || (name.starts_with("journal-") && name.ends_with(".json"))
            })
            .collect();
        found.sort();
        found
    }

    /// The IPv4 addresses on `dev`, one per line, as `ip -o` shows them.
    fn addresses_on(&self, dev: &str) -> String {
        String::from_utf8_lossy(
            &ip(&["-n", &self.ns, "-4", "-o", "addr", "show", "dev", dev]).stdout,
        )
        .into_owned()
    }

    /// A second port in this computer's namespace, `dev`, wired to `peer_dev` in the peer's,
    /// both up.
    fn add_port(&self, dev: &str, peer_dev: &str) {
        ip(&[
            "-n", &self.ns, "link", "add", dev, "type", "veth", "peer", "name", peer_dev, "netns",
            &self.peer,
        ]);
        ip(&["-n", &self.ns, "link", "set", dev, "up"]);
        ip(&["-n", &self.peer, "link", "set", peer_dev, "up"]);
    }

    /// Deletes `port0` and makes it again, wired to a new `router0` (up): the same name,
    /// another interface (a new index and MAC), down, as an adapter plugged back in.
    fn make_port0_again(&self) {
        ip(&["-n", &self.ns, "link", "del", "port0"]);
        ip(&[
            "link", "add", "port0", "netns", &self.ns, "type", "veth", "peer", "name", "router0",
            "netns", &self.peer,
        ]);
        ip(&["-n", &self.peer, "link", "set", "router0", "up"]);
    }

    /// Starts `serve --device ... --interface DEV --yes` with `command` (the binary and its
    /// environment) and waits until it listens.
    fn serve_via(&self, mut command: Command, dev: &str) -> Server {
        let image = self.state.path().join("fw.bin");
        std::fs::write(&image, vec![7u8; 2000]).unwrap();
        command
            .args(["serve", image.to_str().unwrap(), "--device", DEVICE])
            .args(["--interface", dev, "--port", "0", "--yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Server::started(command.spawn().unwrap())
    }

    /// Starts `serve` on the port `dev` and waits until it listens.
    fn serve_on(&self, dev: &str) -> Server {
        self.serve_via(self.rescue_wizard(), dev)
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
        Server::started(self.command(&args).spawn().unwrap())
    }
}

struct Server {
    child: Child,
    stderr: mpsc::Receiver<String>,
    /// The port it listens on.
    port: String,
}

impl Server {
    /// Waits until a started `serve` says it listens.
    fn started(mut child: Child) -> Self {
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let Ok(first) = stdout.recv_timeout(DEADLINE) else {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let output = wait_output(child);
            panic!(
                "serve never listened: {:?} {}",
                output.status,
                drain(&stderr).join("\n")
            );
        };
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

    fn pid(&self) -> u32 {
        self.child.id()
    }

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
    // No rescue address: the recovery run adds it itself, so doctor names it with its fix
    // but does not fail on it.
    let (code, text) = doctor(&lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("[auto] address 192.168.0.66/24 on port0: missing"),
        "{text}"
    );
    assert!(
        text.contains("sudo ip addr add 192.168.0.66/24 dev port0"),
        "{text}"
    );
    // Link down.
    ip(&["-n", &lab.ns, "link", "set", "port0", "down"]);
    let (_, text) = doctor(&lab);
    // Switched off: the run brings the link up itself.
    assert!(
        text.contains("[auto] link port0: the interface is switched off"),
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
    assert!(text.contains("0 to fix by you"), "{text}");
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

/// `ip -o link show DEV` in `ns`: its index (the number before the name) and its MAC.
fn link_of(ns: &str, dev: &str) -> (u32, String) {
    let text = String::from_utf8_lossy(&ip(&["-n", ns, "-o", "link", "show", "dev", dev]).stdout)
        .into_owned();
    let index = text.split(':').next().unwrap().trim().parse().unwrap();
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap()
        .to_owned();
    (index, mac)
}

fn link_is_up(ns: &str, dev: &str) -> bool {
    String::from_utf8_lossy(&ip(&["-n", ns, "link", "show", "dev", dev]).stdout).contains(",UP")
}

/// Runs `rescue-wizard devices` (a command that changes nothing itself) in the lab: its start
/// is where a dead run's journal is replayed. Returns what it printed on standard error.
fn next_start(lab: &Lab) -> String {
    let output = lab.run(&["devices", "wr841n"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_journal_from_an_earlier_boot_touches_nothing_on_the_interface_that_took_its_index() {
    if !can_run() {
        return;
    }
    let before = Lab::new();
    // Down, so that the run has a link-up to journal as well as the address.
    ip(&["-n", &before.ns, "link", "set", "port0", "down"]);
    let (index, old_mac) = link_of(&before.ns, "port0");
    let server = before.serve();
    assert!(before.has(RESCUE) && link_is_up(&before.ns, "port0"));
    let (output, _) = server.signal(Signal::SIGKILL);
    assert_eq!(output.status.code(), None, "killed");
    let journals = before.journals();
    assert_eq!(journals.len(), 1, "{journals:?}");

    // "Reboot": the namespace goes, and in a new one an unrelated interface gets the same name
    // and index, up, with an identical address its owner added by hand.
    let after = Lab::new();
    ip(&["-n", &after.ns, "link", "del", "port0"]);
    let index_text = index.to_string();
    ip(&[
        "link",
        "add",
        "port0",
        "index",
        &index_text,
        "netns",
        &after.ns,
        "type",
        "veth",
        "peer",
        "name",
        "router0",
        "netns",
        &after.peer,
    ]);
    ip(&["-n", &after.ns, "link", "set", "port0", "up"]);
    ip(&["-n", &after.peer, "link", "set", "router0", "up"]);
    ip(&["-n", &after.ns, "addr", "add", RESCUE, "dev", "port0"]);
    ip(&["-n", &after.ns, "addr", "add", OWN, "dev", "port0"]);
    let (new_index, new_mac) = link_of(&after.ns, "port0");
    assert_eq!(new_index, index);
    assert_ne!(new_mac, old_mac);
    for journal in &journals {
        std::fs::copy(
            journal,
            after.state.path().join(journal.file_name().unwrap()),
        )
        .unwrap();
    }
    drop(before);

    let text = next_start(&after);
    assert!(
        link_is_up(&after.ns, "port0"),
        "the link was taken down: {text}"
    );
    assert!(after.has(RESCUE), "the address was removed: {text}");
    assert!(after.has(OWN));
    assert!(
        text.contains(&format!("index {index} is now port0 (MAC {new_mac})")),
        "{text}"
    );
    assert!(!after.journal(), "dealt with, not replayed again");
}

#[test]
fn a_hand_added_address_on_a_fifteen_character_port_survives_the_replay_of_a_killed_run() {
    if !can_run() {
        return;
    }
    assert_eq!(LONG.len(), 15, "IFNAMSIZ - 1");
    let lab = Lab::new();
    lab.add_port(LONG, "rtr15");
    let server = lab.serve_on(LONG);
    assert!(lab.addresses_on(LONG).contains(RESCUE));
    let (output, _) = server.signal(Signal::SIGKILL);
    assert_eq!(output.status.code(), None);
    // Ours goes (expired, or removed by someone), and the technician adds the identical
    // address by hand.
    ip(&["-n", &lab.ns, "addr", "del", RESCUE, "dev", LONG]);
    ip(&["-n", &lab.ns, "addr", "add", RESCUE, "dev", LONG]);
    let text = next_start(&lab);
    assert!(
        lab.addresses_on(LONG).contains(RESCUE),
        "the hand-added address was removed: {text}"
    );
    assert!(
        text.contains(&format!("{RESCUE} on {LONG} is someone else's now")),
        "{text}"
    );
    assert!(!lab.journal());

    // And the address a run adds there is removed again after a kill: the mark of ours does
    // not depend on a label that cannot fit.
    ip(&["-n", &lab.ns, "addr", "del", RESCUE, "dev", LONG]);
    let server = lab.serve_on(LONG);
    assert!(lab.addresses_on(LONG).contains(RESCUE));
    server.signal(Signal::SIGKILL);
    let text = next_start(&lab);
    assert!(!lab.addresses_on(LONG).contains(RESCUE), "{text}");
    assert!(
        text.contains(&format!("undone: address {RESCUE} on {LONG}")),
        "{text}"
    );
}

#[test]
fn two_runs_at_once_each_keep_their_own_journal_and_a_kill_of_either_is_cleaned_alone() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    lab.add_port("port1", "router1");
    let first = lab.serve_on("port0");
    let second = lab.serve_on("port1");
    assert!(lab.addresses_on("port0").contains(RESCUE));
    assert!(lab.addresses_on("port1").contains(RESCUE));
    assert_eq!(lab.journals().len(), 2, "one journal per run");
    // The first is killed; a next start undoes its changes only.
    first.signal(Signal::SIGKILL);
    let text = next_start(&lab);
    assert!(
        text.contains(&format!("undone: address {RESCUE} on port0")),
        "{text}"
    );
    assert!(!lab.addresses_on("port0").contains(RESCUE), "{text}");
    assert!(
        lab.addresses_on("port1").contains(RESCUE),
        "the live run's address was taken: {text}"
    );
    assert_eq!(lab.journals().len(), 1, "the live run's journal stays");
    // The second, killed too, is cleaned by the next start after it.
    second.signal(Signal::SIGKILL);
    let text = next_start(&lab);
    assert!(
        text.contains(&format!("undone: address {RESCUE} on port1")),
        "{text}"
    );
    assert!(!lab.addresses_on("port1").contains(RESCUE));
    assert!(!lab.journal());
    assert!(lab.has(OWN));
}

#[test]
fn a_second_run_on_the_same_port_is_refused_naming_the_first() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let first = lab.serve();
    let pid = first.pid();
    let image = lab.state.path().join("fw.bin");
    let second = lab.run(&[
        "serve",
        image.to_str().unwrap(),
        "--device",
        DEVICE,
        "--interface",
        "port0",
        "--port",
        "0",
        "--yes",
    ]);
    let text = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "port0 is in use by another rescue-wizard (pid {pid})"
        )),
        "{text}"
    );
    assert!(lab.has(RESCUE), "the first run keeps its address");
    let (output, _) = first.signal(Signal::SIGTERM);
    assert_eq!(output.status.code(), Some(0));
    assert!(!lab.has(RESCUE));
    assert!(!lab.journal());
}

#[test]
fn a_damaged_journal_is_undone_as_far_as_it_reads_moved_aside_and_blocks_nothing() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let server = lab.serve();
    server.signal(Signal::SIGKILL);
    let journals = lab.journals();
    assert_eq!(journals.len(), 1);
    let mut bytes = std::fs::read(&journals[0]).unwrap();
    bytes.extend_from_slice(b"\n{\"change\": \"addr\x00\xff");
    std::fs::write(&journals[0], bytes).unwrap();
    let text = next_start(&lab);
    assert!(!lab.has(RESCUE), "what could be read is undone: {text}");
    assert!(
        text.contains(&format!("undone: address {RESCUE} on port0")),
        "{text}"
    );
    let name = journals[0].display().to_string();
    assert!(
        text.contains(&format!("the journal {name} was damaged")) && text.contains("moved aside"),
        "{text}"
    );
    assert!(!text.contains("sudo"), "no wrong fix: {text}");
    assert!(Path::new(&format!("{name}.damaged")).exists());
    assert!(!lab.journal());
    // Nothing blocked: the next run changes the port and undoes its change as usual.
    let server = lab.serve();
    assert!(lab.has(RESCUE));
    let (output, _) = server.signal(Signal::SIGTERM);
    assert_eq!(output.status.code(), Some(0));
    assert!(!lab.has(RESCUE));
}

/// `chown` to the user nobody (65534): a file or folder another user owns.
fn give_to_nobody(path: &Path) {
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
}

#[test]
fn root_neither_writes_through_nor_replays_what_another_user_can_change() {
    use std::os::unix::fs::PermissionsExt;
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let image = lab.state.path().join("fw.bin");
    std::fs::write(&image, vec![7u8; 2000]).unwrap();
    let serve = |state: &Path| {
        let mut command = support::rescue_wizard_in(&lab.ns, state);
        command.args(["serve", image.to_str().unwrap(), "--device", DEVICE]);
        command.args(["--interface", "port0", "--port", "0", "--yes"]);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        wait_output(command.spawn().unwrap())
    };
    // A folder anyone may write in, with links planted at every name a run has ever written
    // its journal through: refused, and the root-owned file they point at is untouched.
    let precious = lab.state.path().join("precious");
    std::fs::write(&precious, b"root's own").unwrap();
    let open = lab.state.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for name in ["undo-journal.json", "undo-journal.json.tmp"] {
        std::os::unix::fs::symlink(&precious, open.join(name)).unwrap();
    }
    let output = serve(&open);
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("writable by other users"), "{text}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"root's own");
    assert!(!lab.has(RESCUE));
    // A folder another user owns: refused, naming it and its owner.
    let theirs = lab.state.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    give_to_nobody(&theirs);
    let output = serve(&theirs);
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("{} belongs to user id 65534", theirs.display())),
        "{text}"
    );
    assert!(!lab.has(RESCUE));
    // A journal another user could have edited is not replayed.
    let server = lab.serve();
    server.signal(Signal::SIGKILL);
    let journals = lab.journals();
    give_to_nobody(&journals[0]);
    let text = next_start(&lab);
    assert!(
        lab.has(RESCUE),
        "replayed a journal root does not own: {text}"
    );
    assert!(
        text.contains(&format!("not replayed: {}", journals[0].display()))
            && text.contains("belongs to user id 65534"),
        "{text}"
    );
    // Once it is root's again (a person checked it), it is.
    nix::unistd::chown(
        &journals[0],
        Some(nix::unistd::Uid::from_raw(0)),
        Some(nix::unistd::Gid::from_raw(0)),
    )
    .unwrap();
    let text = next_start(&lab);
    assert!(!lab.has(RESCUE), "{text}");
}

#[test]
fn a_renamed_binary_is_still_known_alive() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let renamed = lab.state.path().join("rwiz");
    // Copied by another process: a file this process held open for writing could be inherited
    // by a child another test thread forks at that moment, and exec would fail "Text file busy".
    let copied = Command::new("cp").arg(BIN).arg(&renamed).status().unwrap();
    assert!(copied.success(), "cp {BIN} failed");
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &lab.ns])
        .arg(&renamed)
        .env("RESCUE_WIZARD_STATE_DIR", lab.state.path())
        .env("RESCUE_WIZARD_CONFIG_DIR", lab.state.path().join("config"))
        .stdin(Stdio::null());
    let server = lab.serve_via(command, "port0");
    assert!(lab.has(RESCUE));
    let text = next_start(&lab);
    // The live run's keeper would put a removed address back at once: what shows the mistake
    // is the next start undoing it, and striking off the live run's journal.
    assert!(
        !text.contains("undone"),
        "a live run's change was undone because its binary has another name: {text}"
    );
    assert!(
        lab.journal(),
        "the live run's journal was struck off: {text}"
    );
    assert!(lab.has(RESCUE));
    let (output, _) = server.signal(Signal::SIGTERM);
    assert_eq!(output.status.code(), Some(0));
    assert!(!lab.has(RESCUE));
}

#[path = "hostnet/firewall.rs"]
mod firewall;
#[path = "hostnet/replug.rs"]
mod replug;
