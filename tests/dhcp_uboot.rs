//! A real bootloader gets its address, its server and its boot file from `serve --dhcp`, then
//! pulls the image.
//!
//! U-Boot (Debian `u-boot-qemu`, the `qemu_arm` build) runs in `qemu-system-arm -M virt`, its
//! virtio NIC wired to `tap0` inside a network namespace the test creates and deletes;
//! `rescue-wizard serve --dhcp --interface tap0` runs in the same namespace on 10.79.0.1/24.
//! On U-Boot's console (driven by reading what it prints, never by sleeping), with nothing
//! preset (no `ipaddr`, `serverip` or `bootfile`) and `autoload yes`: `dhcp`, then, with the
//! three variables cleared again, `bootp`. Each time U-Boot must come out with our lease, our
//! address as its server and our boot file, load the image over TFTP from us, and its `crc32`
//! of what it loaded must be the image's.
//!
//! Needs root and these Debian packages (for `.ci/run`):
//!
//! ```text
//! apt-get install -y qemu-system-arm u-boot-qemu iproute2
//! ```
//!
//! When one is missing the test says so and passes when run by hand, and fails when `CI` is
//! set. One QEMU runs at a time across test binaries (the lock of `tests/uboot_rig`). The
//! figures (time from `dhcp` to the end of the load) are printed; run with `--nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Child;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

mod support;
mod uboot_rig;

use support::{Proc, rescue_wizard_in};
use uboot_rig::tap::TapNamespace;
use uboot_rig::{Console, launch, one_qemu_at_a_time, rig_available};

const HOST_IP: &str = "10.79.0.1";
const LEASED_IP: &str = "10.79.0.2";
const BOOT_FILE: &str = "recovery.bin";
const LOAD_ADDR: &str = "0x40200000";
/// QEMU's default MAC for the first NIC.
const BOARD_MAC: &str = "52:54:00:12:34:56";
const IMAGE_LEN: usize = 4 << 20;

const BOOT_DEADLINE: Duration = Duration::from_mins(1);
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// One `dhcp` or `bootp` with its load: U-Boot retries for about 28 s before it starts over.
const LOAD_DEADLINE: Duration = Duration::from_mins(2);

/// The namespace with `tap0`, our server on it, U-Boot behind it. Dropping it stops both and
/// deletes the tap and the namespace, also when the test fails.
struct Rig {
    ns: TapNamespace,
    state: tempfile::TempDir,
    server: Option<Proc>,
    qemu: Option<Child>,
    console: Option<Console>,
    image: Vec<u8>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(server) = self.server.as_mut() {
            server.kill();
        }
        if let Some(qemu) = self.qemu.as_mut() {
            let _ = qemu.kill();
            let _ = qemu.wait();
        }
    }
}

impl Rig {
    fn start() -> Self {
        let mut rig = Rig {
            ns: TapNamespace::new("rw-dhcp-uboot", &[&format!("{HOST_IP}/24")]),
            state: tempfile::tempdir().unwrap(),
            server: None,
            qemu: None,
            console: None,
            image: support::content(IMAGE_LEN, 0xb007),
        };
        let image = rig.state.path().join("image.bin");
        std::fs::write(&image, &rig.image).unwrap();
        let server = Proc::spawn(
            rescue_wizard_in(&rig.ns.name, rig.state.path())
                .arg("serve")
                .arg(&image)
                .args(["--dhcp", "--interface", "tap0"])
                .args(["--router-address", LEASED_IP, "--boot-file", BOOT_FILE])
                .args(["--any-name", "--next-block"]),
        );
        rig.server = Some(server);
        for expected in [
            format!(
                "answering DHCP and BOOTP on tap0 as {HOST_IP}: leasing {LEASED_IP}, boot file {BOOT_FILE}"
            ),
            format!("listening on {HOST_IP}:69"),
        ] {
            let line = rig.server().next_line(COMMAND_DEADLINE);
            if line.as_deref() != Some(expected.as_str()) {
                rig.fail(&format!("serve printed {line:?}, not {expected:?}"));
            }
        }
        rig.boot();
        rig
    }

    fn server(&self) -> &Proc {
        self.server.as_ref().unwrap()
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
        let server = self
            .server
            .as_ref()
            .map_or_else(String::new, Proc::diagnostics);
        panic!("{why}\n--- U-Boot console ---\n{uboot}\n--- rescue-wizard serve ---\n{server}");
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

    /// Runs `dhcp` or `bootp` to its end and checks everything it took from us.
    fn load(&mut self, command: &str) -> Duration {
        for name in ["ipaddr", "serverip", "bootfile"] {
            self.command(&format!("setenv {name}"));
            if let Some(value) = self.env(name) {
                self.fail(&format!("{name} is still preset to {value}"));
            }
        }
        let started = Instant::now();
        let output = self.command_within(&format!("{command} {LOAD_ADDR}"), LOAD_DEADLINE);
        let took = started.elapsed();
        let Some(bytes) = after(&output, "Bytes transferred = ")
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse::<usize>().ok())
        else {
            self.fail(&format!("`{command}` loaded nothing:\n{output}"));
        };
        if bytes != self.image.len() {
            self.fail(&format!(
                "`{command}` loaded {bytes} bytes, the image has {}",
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
                "after `{command}`, U-Boot's crc32 is {crc:08x?}, the image's is {expected:08x}"
            ));
        }
        for (name, ours) in [
            ("ipaddr", LEASED_IP),
            ("serverip", HOST_IP),
            ("bootfile", BOOT_FILE),
        ] {
            let value = self.env(name);
            if value.as_deref() != Some(ours) {
                self.fail(&format!(
                    "after `{command}`, U-Boot's {name} is {value:?}, not ours ({ours})"
                ));
            }
        }
        let bound = after(&output, "DHCP client bound to address ")
            .and_then(|s| s.lines().next())
            .unwrap_or("(no DHCP bound line: BOOTP)")
            .to_owned();
        println!(
            "`{command}`: {bytes} bytes, crc32 {expected:08x} matches; {:.2} s from `{command}` \
             to the end of the load on the test's clock; U-Boot: {bound}",
            took.as_secs_f64()
        );
        took
    }

    /// Waits for serve's line about U-Boot's lease that starts with `prefix`.
    fn lease_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + COMMAND_DEADLINE;
        loop {
            if let Some(line) = self
                .server()
                .stdout_text()
                .lines()
                .find(|l| l.starts_with(prefix))
            {
                return line.to_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.server().next_line(left).is_none() {
                self.fail(&format!("serve printed no line starting {prefix:?}"));
            }
        }
    }
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

/// The issue's real-client test: U-Boot's `dhcp` and `bootp`, with `autoload yes` and nothing
/// preset, take the address, the server and the boot file from us, and load the image whole.
#[test]
fn uboot_dhcp_and_bootp_take_address_server_and_file_from_us() {
    if !rig_available(&[]) {
        return;
    }
    let _lock = one_qemu_at_a_time();
    let mut rig = Rig::start();
    rig.command("setenv autoload yes");
    let dhcp = rig.load("dhcp");
    let gave = rig.lease_line(&format!("gave {LEASED_IP} to {BOARD_MAC}"));
    assert_eq!(
        gave,
        format!("gave {LEASED_IP} to {BOARD_MAC}, a U-Boot.armv7 loader, boot file {BOOT_FILE}")
    );
    let bootp = rig.load("bootp");
    println!(
        "serve said: {gave}\ntime from the command to the end of the load: dhcp {:.2} s, bootp {:.2} s \
         ({IMAGE_LEN} bytes)",
        dhcp.as_secs_f64(),
        bootp.as_secs_f64()
    );
    let leases: Vec<String> = rig
        .server()
        .stdout_text()
        .lines()
        .filter(|l| l.contains(&format!("{LEASED_IP} to {BOARD_MAC}")))
        .map(str::to_owned)
        .collect();
    println!("serve's lease lines:\n  {}", leases.join("\n  "));
    assert!(
        leases.len() >= 3,
        "an offer and a lease for `dhcp`, and at least one reply for `bootp`: {leases:?}"
    );
}
