//! The wire watch in network namespaces the test makes itself: `rescue-wizard watch` runs in
//! one, a peer in the other pings, ARPs, sends TFTP requests, a DHCP discover and an OpenWrt
//! failsafe broadcast, and each expected line must appear. Nothing here touches the machine's
//! real interfaces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::events::{Finding, WatchLine, Wire};
use support::{Proc, ip};

use std::net::UdpSocket;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");
const DEADLINE: Duration = Duration::from_secs(20);
const OURS: &str = "10.9.0.1";
const PEER: &str = "10.9.0.2";

fn run(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

/// Two namespaces joined by a veth pair: `port0` (ours, 10.9.0.1/24) and `router0` (the
/// peer, 10.9.0.2/24). Removed on drop.
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
            net: support::NetnsPair::new("rww"),
        };
        ip(&["-n", &lab.ns, "addr", "add", "10.9.0.1/24", "dev", "port0"]);
        ip(&[
            "-n",
            &lab.peer,
            "addr",
            "add",
            "10.9.0.2/24",
            "dev",
            "router0",
        ]);
        lab
    }

    /// Runs a command in the peer namespace.
    fn in_peer(&self, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.peer];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `port0`'s hardware address.
    fn our_mac(&self) -> String {
        let out = ip(&["-n", &self.ns, "-o", "link", "show", "port0"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let after = text.split("link/ether ").nth(1).unwrap();
        after.split_whitespace().next().unwrap().to_owned()
    }

    /// Starts `rescue-wizard watch` on `port0`, returns once it says it is watching.
    fn watch(&self, extra: &[&str]) -> Watcher {
        let mut command = self.rescue_wizard();
        command.args(["watch", "--interface", "port0"]).args(extra);
        let mut watcher = Watcher {
            proc: Proc::spawn(&mut command),
            seen: Vec::new(),
        };
        watcher.expect("watching port0");
        watcher
    }

    /// Sends one UDP datagram from the peer namespace, from `from_port`.
    fn send_from_peer(&self, from_port: u16, to: &str, payload: Vec<u8>) {
        let path = format!("/run/netns/{}", self.peer);
        let to = to.to_owned();
        // setns changes only this thread's namespace.
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let socket = UdpSocket::bind(("0.0.0.0", from_port)).unwrap();
            socket.set_broadcast(true).unwrap();
            socket.send_to(&payload, to).unwrap();
        })
        .join()
        .unwrap();
    }
}

/// A running `rescue-wizard watch` (`ip netns exec` execs, so its pid is the watcher's own).
struct Watcher {
    proc: Proc,
    seen: Vec<String>,
}

impl Watcher {
    /// Waits (up to the deadline) for a line containing `text`; lines already seen count.
    fn expect(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let Some(line) = self.proc.next_line(left) else {
                self.proc.kill();
                panic!(
                    "no line with {text:?}; saw:\n{}\n{}",
                    self.seen.join("\n"),
                    self.proc.diagnostics()
                );
            };
            self.seen.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Waits for the watch to end on its own; it must succeed.
    fn ends_well(&mut self) {
        let status = self
            .proc
            .wait_deadline(DEADLINE)
            .unwrap_or_else(|| panic!("watch did not end\n{}", self.proc.diagnostics()));
        assert!(status.success(), "watch ended with {status}");
    }

    /// Ctrl-C, then the exit status must be success.
    fn interrupt(mut self) {
        self.proc.signal(Signal::SIGINT);
        self.ends_well();
    }
}

/// A DHCPDISCOVER from `mac` (RFC 2131): BOOTREQUEST, Ethernet, the magic cookie, option 53.
fn dhcp_discover(mac: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0u8; 236];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[28..34].copy_from_slice(&mac);
    p.extend_from_slice(&[99, 130, 83, 99, 53, 1, 1, 255]);
    p
}

#[test]
fn the_watch_reports_what_the_peer_does_on_the_wire() {
    if !support::root_and_tools(&[
        ("ip", "iproute2"),
        ("ping", "iputils-ping"),
        ("arping", "iputils-arping"),
    ]) {
        return;
    }
    let lab = Lab::new();
    let mut watch = lab.watch(&["--seconds", "120"]);

    // Ping: the request from the peer, our reply, and the peer as the router.
    let ping = lab.in_peer(&["ping", "-c", "1", "-W", "5", OURS]);
    assert!(ping.status.success(), "{ping:?}");
    watch.expect(&format!("icmp echo request: {PEER} -> {OURS} ttl 64"));
    watch.expect(&format!("icmp echo reply: {OURS} -> {PEER} ttl 64"));
    watch.expect(&format!("! router seen: {PEER} ("));
    watch.expect(&format!("arp request: {PEER} ("));

    // The peer ARPs for an address we do not have: the finding names it.
    let _ = lab.in_peer(&["arping", "-c", "1", "-w", "1", "-I", "router0", "10.9.0.99"]);
    watch.expect("asks who has 10.9.0.99");
    watch.expect(&format!(
        "! the router at {PEER} asks for a server at 10.9.0.99, which this computer does not have"
    ));

    // A TFTP read request to an address that is not ours (sent to our MAC by a static entry).
    let mac = lab.our_mac();
    let neigh = lab.in_peer(&[
        "ip",
        "neigh",
        "add",
        "10.9.0.77",
        "lladdr",
        &mac,
        "dev",
        "router0",
    ]);
    assert!(neigh.status.success(), "{neigh:?}");
    let out = lab.state.path().join("got.bin");
    let out = out.to_str().unwrap();
    let _ = lab.in_peer(&[
        BIN,
        "get",
        "10.9.0.77",
        "C0A80056.img",
        "-o",
        out,
        "--wait",
        "1",
    ]);
    watch.expect("asks 10.9.0.77 for \"C0A80056.img\"");
    watch.expect(&format!(
        "! the router at {PEER} asks for a server at 10.9.0.77"
    ));

    // A read request to us, where nothing listens: the request, and our port unreachable
    // quoting port 69.
    let _ = lab.in_peer(&[BIN, "get", OURS, "boot.img", "-o", out, "--wait", "1"]);
    watch.expect(&format!("asks {OURS} for \"boot.img\""));
    watch.expect(&format!(
        "icmp port unreachable: {OURS} -> {PEER} for {OURS}:69"
    ));

    // DHCP discover and the failsafe broadcast, sent to the link's broadcast address.
    lab.send_from_peer(
        68,
        "10.9.0.255:67",
        dhcp_discover([0x02, 0, 0, 0, 0xbe, 0xef]),
    );
    watch.expect("dhcp discover: 02:00:00:00:be:ef wants an address");
    watch.expect("! 02:00:00:00:be:ef asks for an address over DHCP");
    lab.send_from_peer(
        0,
        "10.9.0.255:4919",
        b"Press reset now, to enter Failsafe!".to_vec(),
    );
    watch.expect(&format!(
        "failsafe broadcast from {PEER}: \"Press reset now, to enter Failsafe!\""
    ));

    watch.interrupt();
}

#[test]
fn json_lines_and_the_deadline() {
    if !support::root_and_tools(&[("ip", "iproute2"), ("ping", "iputils-ping")]) {
        return;
    }
    let lab = Lab::new();
    let mut watch = lab.watch(&["--seconds", "3", "--json"]);
    let ping = lab.in_peer(&["ping", "-c", "1", "-W", "5", OURS]);
    assert!(ping.status.success(), "{ping:?}");
    let line = watch.expect("\"echo\"");
    let WatchLine::Wire {
        wire: Wire::Echo { ttl, .. },
        at,
    } = serde_json::from_str(&line).unwrap()
    else {
        panic!("not an echo: {line}");
    };
    assert_eq!(ttl, 64);
    assert!(at > 0.0);
    let finding = watch.expect("router_seen");
    let WatchLine::Finding {
        finding: Finding::RouterSeen { ip },
        ..
    } = serde_json::from_str(&finding).unwrap()
    else {
        panic!("not router_seen: {finding}");
    };
    assert_eq!(ip.to_string(), PEER);
    // --seconds 3 ends it on its own.
    watch.ends_well();
}

#[test]
fn without_cap_net_raw_one_clear_error() {
    if !support::root_and_tools(&[("ip", "iproute2"), ("setpriv", "util-linux")]) {
        return;
    }
    let lab = Lab::new();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", "--inh-caps=-all", BIN, "watch"])
        .args(["--interface", "port0", "--seconds", "1"])
        .env("RESCUE_WIZARD_STATE_DIR", lab.state.path())
        .env("RESCUE_WIZARD_CONFIG_DIR", lab.state.path().join("config"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot watch port0: capturing frames needs cap_net_raw"),
        "{stderr}"
    );
    assert!(stderr.contains("setcap"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

impl Lab {
    /// Runs `rescue-wizard probe --interface port0 ...` in our namespace.
    fn probe(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                BIN,
                "probe",
                "--interface",
                "port0",
            ])
            .args(args)
            .env("RESCUE_WIZARD_STATE_DIR", self.state.path())
            .env("RESCUE_WIZARD_CONFIG_DIR", self.state.path().join("config"))
            .output()
            .unwrap()
    }

    /// `router0`'s hardware address.
    fn peer_mac(&self) -> String {
        let out = ip(&["-n", &self.peer, "-o", "link", "show", "router0"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let after = text.split("link/ether ").nth(1).unwrap();
        after.split_whitespace().next().unwrap().to_owned()
    }
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn arp_probe_finds_the_peer_and_times_out_on_an_unused_address() {
    if !support::root_and_tools(&[("ip", "iproute2")]) {
        return;
    }
    let lab = Lab::new();
    let found = lab.probe(&["--arp", "--count", "1", PEER]);
    assert_eq!(found.status.code(), Some(0), "{}", text(&found));
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert!(
        stdout.contains(&format!("arp reply from {PEER}: {} in ", lab.peer_mac())),
        "{}",
        text(&found)
    );

    let unused = lab.probe(&["--arp", "--count", "1", "10.9.0.99"]);
    assert_eq!(unused.status.code(), Some(1), "{}", text(&unused));
    let stdout = String::from_utf8_lossy(&unused.stdout);
    assert!(
        stdout.contains("arp: no reply from 10.9.0.99 within 1 s"),
        "{}",
        text(&unused)
    );
    assert!(!stdout.contains("arp reply"), "{}", text(&unused));
}

#[test]
fn ping_probe_answers_with_a_ttl_over_raw_and_datagram_sockets() {
    if !support::root_and_tools(&[
        ("ip", "iproute2"),
        ("setpriv", "util-linux"),
        ("sysctl", "procps"),
    ]) {
        return;
    }
    let lab = Lab::new();
    // As root: the namespace's ping_group_range is "1 0", so this is the raw socket.
    let raw = lab.probe(&["--ping", "--count", "1", PEER]);
    assert_eq!(raw.status.code(), Some(0), "{}", text(&raw));
    assert!(
        String::from_utf8_lossy(&raw.stdout)
            .contains(&format!("echo reply from {PEER}: seq 1 ttl 64 in ")),
        "{}",
        text(&raw)
    );
    // Unprivileged, and the namespace lets every group ping: the datagram socket.
    let sysctl = run(&[
        "ip",
        "netns",
        "exec",
        &lab.ns,
        "sysctl",
        "-w",
        "net.ipv4.ping_group_range=0 2147483647",
    ]);
    assert!(sysctl.status.success(), "{}", text(&sysctl));
    let unprivileged = Command::new("ip")
        .args(["netns", "exec", &lab.ns, "setpriv", "--reuid=65534"])
        .args(["--regid=65534", "--clear-groups", "--inh-caps=-all", BIN])
        .args([
            "probe",
            "--interface",
            "port0",
            "--ping",
            "--count",
            "1",
            PEER,
        ])
        .env("RESCUE_WIZARD_STATE_DIR", lab.state.path())
        .env("RESCUE_WIZARD_CONFIG_DIR", lab.state.path().join("config"))
        .output()
        .unwrap();
    assert_eq!(
        unprivileged.status.code(),
        Some(0),
        "{}",
        text(&unprivileged)
    );
    assert!(
        String::from_utf8_lossy(&unprivileged.stdout)
            .contains(&format!("echo reply from {PEER}: seq 1 ttl 64 in ")),
        "{}",
        text(&unprivileged)
    );
}

#[test]
fn capture_file_holds_what_the_watch_saw() {
    if !support::root_and_tools(&[
        ("ip", "iproute2"),
        ("ping", "iputils-ping"),
        ("arping", "iputils-arping"),
        ("tcpdump", "tcpdump"),
    ]) {
        return;
    }
    let lab = Lab::new();
    let file = lab.state.path().join("seen.pcap");
    let file = file.to_str().unwrap();
    let mut watch = lab.watch(&["--seconds", "120", "--capture", file]);
    let ping = lab.in_peer(&["ping", "-c", "1", "-W", "5", OURS]);
    assert!(ping.status.success(), "{ping:?}");
    let _ = lab.in_peer(&["arping", "-c", "1", "-w", "1", "-I", "router0", "10.9.0.98"]);
    // A frame is in the file before its line is printed.
    watch.expect(&format!("icmp echo reply: {OURS} -> {PEER}"));
    watch.expect("asks who has 10.9.0.98");
    watch.proc.signal(Signal::SIGTERM);
    watch.expect(&format!("capture written to {file}"));
    watch.ends_well();

    let read = run(&["tcpdump", "-r", file, "-nn"]);
    assert!(read.status.success(), "{}", text(&read));
    let packets = String::from_utf8_lossy(&read.stdout);
    for expected in [
        format!("IP {PEER} > {OURS}: ICMP echo request"),
        format!("IP {OURS} > {PEER}: ICMP echo reply"),
        format!("ARP, Request who-has 10.9.0.98 (ff:ff:ff:ff:ff:ff) tell {PEER}"),
    ] {
        assert!(
            packets.contains(&expected),
            "no {expected:?} in:\n{packets}"
        );
    }

    // The file is never overwritten.
    let again = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns,
            BIN,
            "watch",
            "--interface",
            "port0",
        ])
        .args(["--seconds", "1", "--capture", file])
        .env("RESCUE_WIZARD_STATE_DIR", lab.state.path())
        .env("RESCUE_WIZARD_CONFIG_DIR", lab.state.path().join("config"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        text(&again)
    );
    let after = run(&["tcpdump", "-r", file, "-nn"]);
    assert_eq!(after.stdout, read.stdout);
}

#[test]
fn adopt_takes_the_address_the_router_asks_for_and_gives_it_back() {
    if !support::root_and_tools(&[("ip", "iproute2"), ("arping", "iputils-arping")]) {
        return;
    }
    let lab = Lab::new();
    let addresses = || {
        String::from_utf8_lossy(
            &ip(&["-n", &lab.ns, "-4", "-o", "addr", "show", "dev", "port0"]).stdout,
        )
        .into_owned()
    };
    assert!(!addresses().contains("10.9.0.77/24"));
    let mut watch = lab.watch(&["--adopt", "--seconds", "120"]);
    // The "router" wants a server at 10.9.0.77, which this computer does not have.
    let _ = lab.in_peer(&["arping", "-c", "1", "-w", "1", "-I", "router0", "10.9.0.77"]);
    watch.expect(&format!(
        "! the router at {PEER} asks for a server at 10.9.0.77, which this computer does not have"
    ));
    // The remedy is carried out: the address is added (beside ours), so the router's next
    // ARP is answered.
    let deadline = Instant::now() + DEADLINE;
    while !addresses().contains("10.9.0.77/24") {
        assert!(Instant::now() < deadline, "not adopted: {}", addresses());
        std::thread::park_timeout(Duration::from_millis(20));
    }
    assert!(addresses().contains("10.9.0.1/24"), "our own address stays");
    let answered = lab.in_peer(&["arping", "-c", "1", "-w", "2", "-I", "router0", "10.9.0.77"]);
    assert!(answered.status.success(), "{answered:?}");
    // At the end it is given back, and nothing is left to undo.
    watch.interrupt();
    assert!(!addresses().contains("10.9.0.77/24"), "{}", addresses());
    assert!(addresses().contains("10.9.0.1/24"));
    assert!(!lab.state.path().join("undo-journal.json").exists());
}

#[test]
fn a_router_that_goes_silent_and_comes_back_with_another_ttl_is_reported() {
    if !support::root_and_tools(&[("ip", "iproute2"), ("ping", "iputils-ping")]) {
        return;
    }
    let lab = Lab::new();
    let mut watch = lab.watch(&["--seconds", "120"]);
    // The "bootloader" answers with one TTL...
    let ping = lab.in_peer(&["ping", "-c", "1", "-W", "5", "-t", "100", OURS]);
    assert!(ping.status.success(), "{ping:?}");
    watch.expect(&format!("icmp echo request: {PEER} -> {OURS} ttl 100"));
    // ...falls silent while it "reboots" (the watch's own clock decides, after 5 s)...
    watch.expect(&format!("! the router at {PEER} has been silent for"));
    // ...and the "system" comes back with another.
    let ping = lab.in_peer(&["ping", "-c", "1", "-W", "5", OURS]);
    assert!(ping.status.success(), "{ping:?}");
    watch.expect(&format!("! the router at {PEER} is back after"));
    watch.expect(&format!(
        "! the router at {PEER} now answers with TTL 64 instead of 100"
    ));
    watch.interrupt();
}
