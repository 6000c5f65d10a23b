//! The wire watch against a real bootloader.
//!
//! U-Boot (Debian `u-boot-qemu`, the `qemu_arm` build) runs in `qemu-system-arm -M virt`, its
//! virtio NIC wired to `tap0` inside a network namespace the test creates and deletes;
//! `rescue-wizard watch --json --powered-on` watches `tap0` (10.78.0.1/24) in the same
//! namespace. On U-Boot's console (driven by reading what it prints, never by sleeping):
//!
//! 1. stop autoboot: a board switched on that never speaks, so the watch gives its timing
//!    advice once the default 20 s of silence have passed;
//! 2. `tftpboot` from 10.78.0.50, an address the laptop side does not hold: U-Boot ARPs for it,
//!    and the watch says the router asks for a server address that is not ours, naming it;
//!    the ARP retries are cut short with Ctrl-C on the console;
//! 3. `ping 10.78.0.1`: a real ICMP echo request from 10.78.0.2, which our kernel answers.
//!
//! Needs root and these Debian packages (for `.ci/run`):
//!
//! ```text
//! apt-get install -y qemu-system-arm u-boot-qemu iproute2
//! ```
//!
//! When one is missing the test says so and passes when run by hand, and fails when `CI` is
//! set. One QEMU runs at a time, across test binaries too: `tests/uboot.rs` and this file take
//! the same file lock (see [`one_qemu_at_a_time`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::process::Child;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

mod support;
mod uboot_rig;

use support::Proc;
use support::events::{ArpOp, EchoOp, Finding, WatchLine, Wire};
use uboot_rig::tap::TapNamespace;
use uboot_rig::{Console, launch, one_qemu_at_a_time, rig_available};

/// The laptop side: the tap's address.
const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const BOARD_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
/// The server U-Boot is told to fetch from; nobody on the link holds it.
const ELSEWHERE_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 50);
const LOAD_ADDR: &str = "0x40200000";
const REMOTE_NAME: &str = "recovery.bin";

/// Up to the autoboot prompt: QEMU start and U-Boot's own start, under emulation.
const BOOT_DEADLINE: Duration = Duration::from_mins(1);
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// From the watch's start: its default silence threshold (20 s) and a margin for its 1 s tick.
const ADVICE_DEADLINE: Duration = Duration::from_secs(40);
/// Longest for the watch to print a line about a frame U-Boot sent.
const WIRE_DEADLINE: Duration = Duration::from_secs(20);

/// `rescue-wizard watch --json` on `tap0`: its lines as they come, and every line so far.
struct Watch {
    proc: Proc,
    seen: Vec<String>,
}

impl Watch {
    /// Waits (up to `within`) for a line for which `wanted` holds; lines already seen count.
    fn find(&mut self, within: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        if let Some(line) = self.seen.iter().find(|l| wanted(l)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.proc.next_line(left)?;
            self.seen.push(line.clone());
            if wanted(&line) {
                return Some(line);
            }
        }
    }

    /// Waits for a JSON line, read as a frame or a finding, for which `wanted` holds.
    fn find_line(
        &mut self,
        within: Duration,
        wanted: impl Fn(&WatchLine) -> bool,
    ) -> Option<WatchLine> {
        let read = |line: &str| serde_json::from_str::<WatchLine>(line).ok();
        self.find(within, |line| read(line).is_some_and(|l| wanted(&l)))
            .and_then(|line| read(&line))
    }
}

/// The namespace with `tap0`, U-Boot behind it and the watch on it. Dropping it stops both and
/// deletes the namespace, also when the test fails.
struct Rig {
    qemu: Option<Child>,
    console: Option<Console>,
    watch: Option<Watch>,
    state: tempfile::TempDir,
    ns: TapNamespace,
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The watch is killed by its `Proc`, the namespace removed by its own drop after this.
        if let Some(qemu) = self.qemu.as_mut() {
            let _ = qemu.kill();
            let _ = qemu.wait();
        }
    }
}

impl Rig {
    /// Makes the namespace and its tap (addressed, up, no QEMU yet).
    fn new() -> Self {
        Rig {
            qemu: None,
            console: None,
            watch: None,
            state: tempfile::tempdir().unwrap(),
            ns: TapNamespace::new("rw-ubw", &[&format!("{HOST_IP}/24")]),
        }
    }

    /// Starts the watch on `tap0` and returns once it says it is watching.
    fn start_watch(&mut self, extra: &[&str]) {
        let mut command = support::rescue_wizard_in(&self.ns.name, self.state.path());
        command.args(["watch", "--interface", "tap0"]).args(extra);
        self.watch = Some(Watch {
            proc: Proc::spawn(&mut command),
            seen: Vec::new(),
        });
        if self
            .watch()
            .find(COMMAND_DEADLINE, |l| l == "watching tap0")
            .is_none()
        {
            self.fail("the watch never said `watching tap0`");
        }
    }

    /// Starts QEMU and stops U-Boot at its prompt.
    fn boot(&mut self) {
        let (child, console) = launch(&self.ns.name);
        self.qemu = Some(child);
        self.console = Some(console);
        self.expect("Hit any key to stop autoboot", BOOT_DEADLINE);
        self.console().send("");
        self.expect("\n=> ", COMMAND_DEADLINE);
    }

    fn console(&mut self) -> &mut Console {
        self.console.as_mut().unwrap()
    }

    fn watch(&mut self) -> &mut Watch {
        self.watch.as_mut().unwrap()
    }

    /// Fails the test with U-Boot's console and the watch's output.
    fn fail(&self, why: &str) -> ! {
        let uboot = self.console.as_ref().map_or_else(String::new, |c| {
            c.transcript
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        });
        let watch = self
            .watch
            .as_ref()
            .map_or_else(String::new, |w| w.proc.diagnostics());
        panic!("{why}\n--- U-Boot console ---\n{uboot}\n--- rescue-wizard watch ---\n{watch}");
    }

    fn expect(&mut self, what: &str, within: Duration) -> String {
        match self.console().expect(what, within) {
            Ok(text) => text,
            Err(why) => self.fail(&why),
        }
    }

    /// Runs one U-Boot command and returns what it printed, up to the next prompt.
    fn command(&mut self, line: &str) -> String {
        self.console().send(line);
        self.expect("\n=> ", COMMAND_DEADLINE)
    }

    /// Waits for the watch's JSON line for which `wanted` holds (`what` in words), or fails
    /// with both transcripts.
    fn watch_line(
        &mut self,
        within: Duration,
        what: &str,
        wanted: impl Fn(&WatchLine) -> bool,
    ) -> WatchLine {
        match self.watch().find_line(within, wanted) {
            Some(line) => line,
            None => self.fail(&format!(
                "the watch printed no line with {what} within {within:?}"
            )),
        }
    }

    /// Ctrl-C to the watch; it must end well.
    fn stop_watch(&mut self) {
        // `ip netns exec` execs the watch, so the pid is the watch's own.
        self.watch().proc.signal(Signal::SIGINT);
        match self.watch().proc.wait_deadline(COMMAND_DEADLINE) {
            Some(status) if status.success() => {}
            Some(status) => self.fail(&format!("the watch ended with {status}")),
            None => self.fail("Ctrl-C did not end the watch"),
        }
    }
}

/// Whether `line` is an ICMP echo `op` from `from` to `to` (any TTL).
fn is_echo(line: &WatchLine, op: EchoOp, from: Ipv4Addr, to: Ipv4Addr) -> bool {
    matches!(
        line.wire(),
        Some(Wire::Echo { op: o, from: f, to: t, .. }) if (*o, *f, *t) == (op, from, to)
    )
}

#[test]
fn the_watch_reads_a_real_bootloader() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let mut rig = Rig::new();
    // The board is "switched on" as the watch starts.
    rig.start_watch(&["--json", "--powered-on", "--seconds", "600"]);
    let started = Instant::now();
    rig.boot();
    println!(
        "U-Boot at its prompt {:.1} s after the watch started",
        started.elapsed().as_secs_f64()
    );

    // U-Boot at its prompt says nothing on the wire: the watch gives its timing advice.
    let advice = rig.watch_line(ADVICE_DEADLINE, "silent_after_power_on", |l| {
        matches!(l.finding(), Some(Finding::SilentAfterPowerOn { .. }))
    });
    println!(
        "advice after {:.1} s: {advice:?}",
        started.elapsed().as_secs_f64()
    );
    let Some(Finding::SilentAfterPowerOn { silent_for, hold }) = advice.finding() else {
        unreachable!("only that finding is waited for")
    };
    // Said on the first 1 s tick at or past 20 s.
    assert!(matches!(silent_for.as_secs(), 20..=22), "{advice:?}");
    assert!(hold.is_none(), "{advice:?}");

    // Fetch from a server address that nobody on the link holds: U-Boot ARPs for it.
    rig.command(&format!("setenv ipaddr {BOARD_IP}"));
    rig.command(&format!("setenv serverip {ELSEWHERE_IP}"));
    rig.console()
        .send(&format!("tftpboot {LOAD_ADDR} {REMOTE_NAME}"));
    let tftp = rig.expect("Loading: ", COMMAND_DEADLINE);
    println!("U-Boot: {}", tftp.trim());
    let arp = Wire::Arp {
        op: ArpOp::Request,
        sender_ip: BOARD_IP,
        target_ip: ELSEWHERE_IP,
    };
    let arp = rig.watch_line(WIRE_DEADLINE, "U-Boot's ARP request", |l| {
        l.wire() == Some(&arp)
    });
    println!("watch: {arp:?}");
    let wants = Finding::WantsServerAddress {
        router: BOARD_IP,
        wants: ELSEWHERE_IP,
    };
    let wants = rig.watch_line(WIRE_DEADLINE, "wants_server_address", |l| {
        l.finding() == Some(&wants)
    });
    println!("watch: {wants:?}");
    if rig
        .watch()
        .find_line(Duration::ZERO, |l| l.wire() == Some(&Wire::Tftp {}))
        .is_some()
    {
        rig.fail("U-Boot sent a TFTP request without an ARP reply");
    }
    // Cut U-Boot's ARP retries short.
    rig.console().send_raw(b"\x03");
    let stopped = rig.expect("\n=> ", COMMAND_DEADLINE);
    println!("U-Boot after Ctrl-C: {}", stopped.trim());

    // A real ping: ARP for us, then the echo request, which our kernel answers.
    let ping = rig.command(&format!("ping {HOST_IP}"));
    println!("U-Boot: {}", ping.trim());
    if !ping.contains(&format!("host {HOST_IP} is alive")) {
        rig.fail(&format!("U-Boot's ping failed:\n{ping}"));
    }
    let request = rig.watch_line(WIRE_DEADLINE, "U-Boot's echo request", |l| {
        is_echo(l, EchoOp::Request, BOARD_IP, HOST_IP)
    });
    println!("watch: {request:?}");
    let reply = rig.watch_line(WIRE_DEADLINE, "our echo reply", |l| {
        is_echo(l, EchoOp::Reply, HOST_IP, BOARD_IP)
    });
    println!("watch: {reply:?}");
    let seen = Finding::RouterSeen { ip: BOARD_IP };
    let seen = rig.watch_line(WIRE_DEADLINE, "router_seen", |l| l.finding() == Some(&seen));
    println!("watch: {seen:?}");

    rig.stop_watch();
    println!("--- everything the watch printed ---");
    for line in &rig.watch().seen {
        println!("{line}");
    }
}
