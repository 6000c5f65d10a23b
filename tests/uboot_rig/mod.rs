//! The real-bootloader rig shared by the U-Boot tests (`uboot.rs`, `uboot_watch.rs`,
//! `recovery.rs`, `dhcp_uboot.rs`): whether it can run here, one emulator at a time across test
//! binaries, the one way to start U-Boot in a namespace ([`Qemu`]: console on stdio or a pty,
//! an optional second flash bank, the tap), and U-Boot's serial console driven by reading its
//! output with deadlines. Needs `tests/support` beside it (`mod support;` in the test crate):
//! the namespaces are its [`crate::support::netns::Netns`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant};

pub mod console;
pub mod tap;

use crate::support::{skip_or_fail, which};

/// Debian's `u-boot-qemu` build for `qemu-system-arm -M virt`.
pub const UBOOT: &str = "/usr/lib/u-boot/qemu_arm/u-boot.bin";
/// The emulator.
pub const QEMU: &str = "qemu-system-arm";

/// The size of the `virt` board's second CFI flash bank: QEMU wants its backing file whole.
pub const FLASH_BYTES: u64 = 64 << 20;

/// Creates `path` as an all-zero flash bank of [`FLASH_BYTES`], for [`Qemu::flash`].
pub fn blank_flash(path: &Path) {
    File::create(path)
        .and_then(|file| file.set_len(FLASH_BYTES))
        .unwrap_or_else(|err| panic!("cannot create the flash file {}: {err}", path.display()));
}

static QEMU_LOCK: Mutex<()> = Mutex::new(());

/// Where U-Boot's serial console goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serial {
    /// On QEMU's standard input and output (`-nographic`), read through [`Console`].
    Stdio,
    /// On a pseudo-terminal, as a USB serial adapter would present it; the machine starts
    /// paused (`-S`) with QEMU's monitor on standard input ([`console::Monitor`]).
    Pty,
}

/// The one way the tests and benchmarks start U-Boot: `qemu-system-arm -M virt` with Debian's
/// `qemu_arm` build, inside a namespace, its virtio NIC on a tap device there.
pub struct Qemu<'a> {
    ns: &'a str,
    tap: &'a str,
    serial: Serial,
    flash: Option<&'a Path>,
}

impl<'a> Qemu<'a> {
    /// U-Boot inside the namespace `ns`, its NIC on `tap0`, its console on stdio, no second
    /// flash bank.
    pub fn in_namespace(ns: &'a str) -> Self {
        Self {
            ns,
            tap: "tap0",
            serial: Serial::Stdio,
            flash: None,
        }
    }

    /// The NIC on the tap device `tap` instead of `tap0`.
    #[must_use]
    pub fn tap(mut self, tap: &'a str) -> Self {
        self.tap = tap;
        self
    }

    /// The console on `serial`.
    #[must_use]
    pub fn serial(mut self, serial: Serial) -> Self {
        self.serial = serial;
        self
    }

    /// `file` as the second CFI flash bank (pflash unit 1, `0x0400_0000` onwards).
    #[must_use]
    pub fn flash(mut self, file: &'a Path) -> Self {
        self.flash = Some(file);
        self
    }

    /// The command line, every pipe of the emulator piped.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.ns, QEMU])
            .args(["-M", "virt", "-m", "256", "-bios", UBOOT]);
        match self.serial {
            Serial::Stdio => cmd.arg("-nographic"),
            Serial::Pty => cmd
                .arg("-S")
                .args(["-display", "none", "-serial", "pty", "-monitor", "stdio"]),
        };
        if let Some(flash) = self.flash {
            cmd.arg("-drive").arg(format!(
                "if=pflash,unit=1,format=raw,file={}",
                flash.display()
            ));
        }
        cmd.arg("-netdev")
            .arg(format!(
                "tap,id=n0,ifname={},script=no,downscript=no",
                self.tap
            ))
            .args(["-device", "virtio-net-device,netdev=n0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the emulator.
    pub fn spawn(&self) -> Child {
        self.command().spawn().expect("starting qemu-system-arm")
    }
}

/// Starts U-Boot in `qemu-system-arm -M virt` inside the namespace `ns`, its virtio NIC on that
/// namespace's `tap0`, and returns the emulator and its console. QEMU's own complaints (a tap
/// it cannot open) land in the console's transcript.
pub fn launch(ns: &str) -> (Child, Console) {
    let mut child = Qemu::in_namespace(ns).spawn();
    let console = Console::new(child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let transcript = Arc::clone(&console.transcript);
    std::thread::Builder::new()
        .name("qemu-stderr".into())
        .spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            transcript
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_str(&text);
        })
        .expect("a thread for QEMU's standard error");
    (child, console)
}

/// [`launch`], then stops autoboot by answering its prompt and waits for U-Boot's own prompt
/// (`=> `), each within `within`.
pub fn boot_to_prompt(ns: &str, within: Duration) -> Result<(Child, Console), String> {
    let (mut child, mut console) = launch(ns);
    let booted = console
        .expect("Hit any key to stop autoboot", within)
        .and_then(|_| {
            console.send("");
            console.expect("\n=> ", within)
        });
    match booted {
        Ok(_) => Ok((child, console)),
        Err(why) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(why)
        }
    }
}

/// Says why the rig cannot run, or `None` when it can.
pub fn missing_tools(extra: &[&str]) -> Option<String> {
    let mut missing = Vec::new();
    for &tool in [QEMU, "ip"].iter().chain(extra) {
        if which(tool).is_none() {
            missing.push(format!("`{tool}` is not on PATH"));
        }
    }
    if !Path::new(UBOOT).is_file() {
        missing.push(format!("{UBOOT} is missing (Debian package u-boot-qemu)"));
    }
    if !nix::unistd::geteuid().is_root() {
        missing.push("not root (network namespaces and tap devices need it)".to_owned());
    }
    if missing.is_empty() {
        None
    } else {
        Some(missing.join("; "))
    }
}

/// Returns false (and says why) when the rig, and the `extra` tools a test needs, cannot run
/// here; fails instead under CI ([`skip_or_fail`]).
pub fn rig_available(extra: &[&str]) -> bool {
    let Some(why) = missing_tools(extra) else {
        return true;
    };
    skip_or_fail(&format!(
        "the U-Boot rig cannot run: {why} (install: qemu-system-arm u-boot-qemu iproute2 nftables)"
    ));
    false
}

/// Holds the emulator lock for one test, even after another test panicked holding it; and the
/// file lock that `tests/uboot_watch.rs` takes too, so that test binaries run in parallel do not
/// start two emulators either.
pub fn one_qemu_at_a_time() -> (MutexGuard<'static, ()>, File) {
    let guard = QEMU_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let path = std::env::temp_dir().join("rescue-wizard-qemu.lock");
    let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    (guard, file)
}

/// U-Boot's serial console: what it prints arrives in chunks; we wait for text with a deadline.
pub struct Console {
    input: ChildStdin,
    chunks: mpsc::Receiver<Vec<u8>>,
    /// Printed but not yet consumed by [`Console::expect`].
    pending: String,
    /// Everything printed, for failure messages.
    pub transcript: Arc<Mutex<String>>,
}

impl Console {
    pub fn new(input: ChildStdin, mut output: impl Read + Send + 'static) -> Self {
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            input,
            chunks,
            pending: String::new(),
            transcript: Arc::default(),
        }
    }

    /// Waits until U-Boot has printed `what`; returns (and consumes) everything up to its end.
    pub fn expect(&mut self, what: &str, within: Duration) -> Result<String, String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(at) = self.pending.find(what) {
                let end = at + what.len();
                let text = self.pending[..end].to_owned();
                self.pending.drain(..end);
                return Ok(text);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => {
                    let text = String::from_utf8_lossy(&chunk);
                    self.pending.push_str(&text);
                    self.transcript
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push_str(&text);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("U-Boot did not print {what:?} within {within:?}"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("QEMU exited before U-Boot printed {what:?}"));
                }
            }
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.input.write_all(bytes).unwrap();
        self.input.flush().unwrap();
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }
}
