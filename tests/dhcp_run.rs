//! The DHCP and BOOTP recoveries end to end, as a technician runs them: `rescue-wizard --device
//! xiaomi-mi-router-4a-gigabit image.bin` and `--device mikrotik-routerboard`, against a real
//! bootloader: U-Boot (Debian `u-boot-qemu`) in `qemu-system-arm -M virt`, its NIC on `tap0`
//! inside a network namespace the test creates and deletes, the run on that `tap0`.
//!
//! The run adds the profile's laptop address, starts its TFTP server and its DHCP/BOOTP
//! responder; once it waits, U-Boot (nothing preset, `autoload yes`) runs `dhcp` (Xiaomi) or
//! `bootp` (MikroTik): it must take the profile's router address, our address as its server and
//! the boot file, and load the image, whose crc32 U-Boot computes. The run must have shown the
//! lease before the transfer, end with exit 0, and leave the port as it was: no address, no
//! journal. U-Boot's console is driven by reading what it prints, never by sleeping.
//!
//! Needs root and `apt-get install -y qemu-system-arm u-boot-qemu iproute2`; a missing piece is
//! said and the test skipped by hand, failed under `CI`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Child;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

mod support;
mod uboot_rig;

use support::events::{RunEvent, events, wait_for};
use support::{Netns, Proc, ip, rescue_wizard_in};
use uboot_rig::{Console, launch, one_qemu_at_a_time, rig_available};

const LOAD_ADDR: &str = "0x40200000";
/// QEMU's default MAC for the first NIC.
const BOARD_MAC: &str = "52:54:00:12:34:56";
const IMAGE_LEN: usize = 3 << 20;

const BOOT_DEADLINE: Duration = Duration::from_mins(1);
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// One `dhcp` or `bootp` with its load: U-Boot retries for about 28 s before it starts over.
const LOAD_DEADLINE: Duration = Duration::from_mins(2);
/// How long the run has to get ready, and to end once the image is loaded.
const RUN_DEADLINE: Duration = Duration::from_mins(1);

/// What one device's run is expected to do.
struct Case {
    device: &'static str,
    image_name: &'static str,
    command: &'static str,
    host: &'static str,
    router: &'static str,
    boot_file: &'static str,
    /// Whether the lease is reported as plain BOOTP (no DHCP message type in the request).
    bootp: bool,
}

/// The namespace with `tap0`, the run on it, U-Boot behind it. Dropping it stops both and
/// deletes the tap and the namespace, also when the test fails.
struct Rig {
    ns: Netns,
    state: tempfile::TempDir,
    run: Option<Proc>,
    qemu: Option<Child>,
    console: Option<Console>,
    image: Vec<u8>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(run) = self.run.as_mut() {
            run.kill();
        }
        if let Some(qemu) = self.qemu.as_mut() {
            let _ = qemu.kill();
            let _ = qemu.wait();
        }
    }
}

impl Rig {
    fn start(case: &Case) -> Self {
        let mut ns = Netns::new(&format!("rw-dhcp-run-{}", case.command));
        ns.add_tap("tap0");
        let mut rig = Rig {
            ns,
            state: tempfile::tempdir().unwrap(),
            run: None,
            qemu: None,
            console: None,
            image: support::content(IMAGE_LEN, 0x0d1c),
        };
        // QEMU holds the tap open from boot: the port has its carrier when the run starts.
        rig.boot();
        let image = rig.state.path().join(case.image_name);
        std::fs::write(&image, &rig.image).unwrap();
        let run = Proc::spawn(
            rescue_wizard_in(&rig.ns.name, rig.state.path())
                .args(["--device", case.device])
                .arg(&image)
                .args(["--interface", "tap0", "--yes", "--json"])
                .args(["--timeout", "120", "--exit-after-transfer"]),
        );
        rig.run = Some(run);
        rig.wait_event("waiting-for-router", |e| {
            matches!(e, RunEvent::WaitingForRouter { .. })
        });
        rig
    }

    fn run(&self) -> &Proc {
        self.run.as_ref().unwrap()
    }

    fn boot(&mut self) {
        let (child, console) = launch(&self.ns.name);
        self.console = Some(console);
        self.qemu = Some(child);
        self.expect("Hit any key to stop autoboot", BOOT_DEADLINE);
        self.console.as_mut().unwrap().send("");
        self.expect("\n=> ", COMMAND_DEADLINE);
    }

    fn fail(&self, why: &str) -> ! {
        let uboot = self.console.as_ref().map_or_else(String::new, |c| {
            c.transcript
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        });
        let run = self
            .run
            .as_ref()
            .map_or_else(String::new, Proc::diagnostics);
        panic!("{why}\n--- U-Boot console ---\n{uboot}\n--- rescue-wizard ---\n{run}");
    }

    /// Waits for the run's event `what` names, for which `wanted` holds.
    fn wait_event(&self, what: &str, wanted: impl Fn(&RunEvent) -> bool) {
        if wait_for(self.run(), RUN_DEADLINE, wanted).is_none() {
            self.fail(&format!("no {what} event"));
        }
    }

    fn expect(&mut self, what: &str, within: Duration) -> String {
        match self.console.as_mut().unwrap().expect(what, within) {
            Ok(text) => text,
            Err(why) => self.fail(&why),
        }
    }

    fn command_within(&mut self, line: &str, within: Duration) -> String {
        self.console.as_mut().unwrap().send(line);
        self.expect("\n=> ", within)
    }

    fn command(&mut self, line: &str) -> String {
        self.command_within(line, COMMAND_DEADLINE)
    }

    /// What `printenv NAME` says, `None` when the variable is not set.
    fn env(&mut self, name: &str) -> Option<String> {
        let output = self.command(&format!("printenv {name}"));
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// Runs the case's `dhcp` or `bootp` to its end and checks what U-Boot took and loaded.
    fn load(&mut self, case: &Case) {
        self.command("setenv autoload yes");
        for name in ["ipaddr", "serverip", "bootfile"] {
            self.command(&format!("setenv {name}"));
            if let Some(value) = self.env(name) {
                self.fail(&format!("{name} is still preset to {value}"));
            }
        }
        let started = Instant::now();
        let output = self.command_within(&format!("{} {LOAD_ADDR}", case.command), LOAD_DEADLINE);
        let took = started.elapsed();
        let bytes = after(&output, "Bytes transferred = ")
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<usize>().ok());
        if bytes != Some(self.image.len()) {
            self.fail(&format!(
                "`{}` loaded {bytes:?} bytes, the image has {}",
                case.command,
                self.image.len()
            ));
        }
        let crc_output = self.command(&format!("crc32 {LOAD_ADDR} ${{filesize}}"));
        let crc = after(&crc_output, "==> ")
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| u32::from_str_radix(s, 16).ok());
        let expected = crc32fast::hash(&self.image);
        if crc != Some(expected) {
            self.fail(&format!(
                "U-Boot's crc32 is {crc:08x?}, the image's is {expected:08x}"
            ));
        }
        for (name, ours) in [
            ("ipaddr", case.router),
            ("serverip", case.host),
            ("bootfile", case.boot_file),
        ] {
            let value = self.env(name);
            if value.as_deref() != Some(ours) {
                self.fail(&format!("U-Boot's {name} is {value:?}, not {ours}"));
            }
        }
        println!(
            "{}: `{}` loaded {IMAGE_LEN} bytes in {:.2} s, crc32 {expected:08x} matches",
            case.device,
            case.command,
            took.as_secs_f64()
        );
    }

    /// The run's end: exit 0, its events, and the port as it was.
    fn finished(&mut self, case: &Case) -> Vec<RunEvent> {
        let run = self.run.as_mut().unwrap();
        let status = run.wait_deadline(RUN_DEADLINE);
        let code = status.and_then(|s| s.code());
        let events = events(&run.stdout_text());
        if code != Some(0) {
            self.fail(&format!("the run ended with {code:?}, not 0"));
        }
        let addr = ip(&["-n", &self.ns.name, "-4", "addr", "show", "dev", "tap0"]);
        let addr = String::from_utf8_lossy(&addr.stdout);
        assert!(!addr.contains(case.host), "the address stayed: {addr}");
        let journals: Vec<String> = std::fs::read_dir(self.state.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("journal-"))
            .collect();
        assert!(journals.is_empty(), "a journal stayed: {journals:?}");
        events
    }
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

fn recover(case: &Case) {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let mut rig = Rig::start(case);
    rig.load(case);
    let events = rig.finished(case);
    let added = events
        .iter()
        .any(|e| matches!(e, RunEvent::NetworkChanged { change } if change.contains(case.host)));
    assert!(added, "no network change added {}: {events:?}", case.host);
    // Alone with U-Boot on the port: the probe for other DHCP servers named none, and the run
    // went on.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::DhcpOtherServer { .. })),
        "{events:?}"
    );
    let probed = events
        .iter()
        .find_map(|e| match e {
            RunEvent::DhcpProbed {
                answered, stopped, ..
            } => Some((answered, *stopped)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no probe: {events:?}"));
    assert!(!probed.1, "{probed:?}");
    assert!(probed.0.is_empty(), "{probed:?}");
    let leased = events
        .iter()
        .position(|e| matches!(e, RunEvent::DhcpLeased { .. }))
        .unwrap_or_else(|| panic!("no lease event: {events:?}"));
    let lease = &events[leased];
    let RunEvent::DhcpLeased {
        client,
        address,
        boot_file,
        bootp,
    } = lease
    else {
        unreachable!("found as a lease");
    };
    assert_eq!(client, BOARD_MAC, "{lease:?}");
    assert_eq!(address.to_string(), case.router, "{lease:?}");
    assert_eq!(boot_file, case.boot_file, "{lease:?}");
    assert_eq!(*bootp, case.bootp, "{lease:?}");
    let started = events
        .iter()
        .position(|e| matches!(e, RunEvent::TransferStarted {}))
        .unwrap_or_else(|| panic!("no transfer: {events:?}"));
    assert!(leased < started, "the lease came after the transfer");
    let bytes = events
        .iter()
        .find_map(|e| match e {
            RunEvent::TransferFinished { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no transfer-finished: {events:?}"));
    assert_eq!(bytes, IMAGE_LEN as u64, "{events:?}");
    println!("{}: the run said {lease:?}", case.device);
}

/// Xiaomi's recovery: DHCP from 192.168.31.1, the router at 192.168.31.100, boot file test.bin.
#[test]
fn the_xiaomi_run_leases_by_dhcp_and_uboot_pulls_the_image() {
    recover(&Case {
        device: "xiaomi-mi-router-4a-gigabit",
        image_name: "miwifi_r4a_firmware.bin",
        command: "dhcp",
        host: "192.168.31.1",
        router: "192.168.31.100",
        boot_file: "test.bin",
        bootp: false,
    });
}

/// `MikroTik` etherboot: plain BOOTP, the image's own name as boot file.
#[test]
fn the_mikrotik_run_answers_bootp_and_uboot_pulls_the_image() {
    recover(&Case {
        device: "mikrotik-routerboard",
        image_name: "openwrt-initramfs.bin",
        command: "bootp",
        host: "192.168.1.10",
        router: "192.168.1.20",
        boot_file: "openwrt-initramfs.bin",
        // Debian's qemu_arm U-Boot is built with `dhcp` too, and then its `bootp` request
        // carries a DHCP message type (`net/bootp.c`, dhcp_extended): it is answered, and
        // reported, as DHCP. The plain-BOOTP reply RouterBOOT needs is proven in a whole run
        // by tests/dhcp.rs, with a client that sends no message type.
        bootp: false,
    });
}
