//! U-Boot with its console on a pseudo-terminal, as a USB serial adapter would present it, and a
//! second CFI flash bank backed by a file: started paused (`-S`), so that the console is held
//! before U-Boot prints a byte (QEMU 7.2 drops console output while nobody holds the pty), and
//! let go with the monitor's `cont`. [`PtyBoard`] is that U-Boot in a namespace of its own, and
//! [`ConsoleFiles`] the files of one console run (the image, the flash bank, the state folder).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::Duration;

use super::tap::TapNamespace;
use super::{Qemu, Serial};

/// U-Boot paused on its pty with a flash file as its second bank, in a namespace of its own
/// (`tap0` up, no address); the emulator is killed before the namespace goes.
pub struct PtyBoard {
    /// The emulator.
    pub qemu: Child,
    /// U-Boot's console, for the run's `--serial`.
    pub pty: PathBuf,
    /// QEMU's monitor: [`Monitor::cont`] lets U-Boot go.
    pub monitor: Monitor,
    /// The namespace holding `tap0`, U-Boot's NIC.
    pub ns: TapNamespace,
}

impl PtyBoard {
    /// A namespace named after `tag` and U-Boot paused in it, `flash` its second bank.
    pub fn launch(tag: &str, flash: &Path) -> Self {
        let ns = TapNamespace::new(tag, &[]);
        let (qemu, pty, monitor) = launch_on_pty(&ns.name, flash);
        Self {
            qemu,
            pty,
            monitor,
            ns,
        }
    }
}

impl Drop for PtyBoard {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        // The namespace and its tap go with their own drop, after this.
    }
}

/// The files of one console run: the image alone in a folder of its own (a file picker started
/// there shows it first), and in another the board's second flash bank (blank), the run's state
/// folder and its report; both removed on drop.
pub struct ConsoleFiles {
    images: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl ConsoleFiles {
    /// Writes `image` as `recovery.bin`, a blank flash bank and an empty state folder.
    pub fn new(image: &[u8]) -> Self {
        let files = Self {
            images: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
        };
        std::fs::write(files.image(), image).unwrap();
        super::blank_flash(&files.flash());
        std::fs::create_dir_all(files.state()).unwrap();
        files
    }

    /// The folder holding the image alone.
    pub fn images(&self) -> &Path {
        self.images.path()
    }

    /// The folder of everything else.
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// The image.
    pub fn image(&self) -> PathBuf {
        self.images().join("recovery.bin")
    }

    /// The board's second flash bank.
    pub fn flash(&self) -> PathBuf {
        self.work().join("flash1.bin")
    }

    /// The run's state folder (its journal).
    pub fn state(&self) -> PathBuf {
        self.work().join("state")
    }

    /// Where the run writes its report.
    pub fn report(&self) -> PathBuf {
        self.work().join("report.md")
    }
}

/// U-Boot in `qemu-system-arm -M virt` inside `ns` (its NIC on `tap0`), paused, its console on
/// a pty, `flash` as the second pflash bank (`0x0400_0000` onwards; U-Boot keeps its environment
/// in the first two sectors). Returns the emulator, the pty's path and the monitor.
pub fn launch_on_pty(ns: &str, flash: &Path) -> (Child, PathBuf, Monitor) {
    let mut child = Qemu::in_namespace(ns)
        .serial(Serial::Pty)
        .flash(flash)
        .spawn();
    // "char device redirected to /dev/pts/N (label serial0)": on stderr or stdout by version.
    let (tx, rx) = mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    let pty = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("QEMU named no pty: {seen:?}"));
        if let Some(rest) = line.split("redirected to ").nth(1) {
            break PathBuf::from(rest.split_whitespace().next().unwrap());
        }
        seen.push(line);
    };
    let monitor = Monitor(child.stdin.take().unwrap());
    (child, pty, monitor)
}

/// QEMU's human monitor on its standard input.
pub struct Monitor(ChildStdin);

impl Monitor {
    /// Lets the paused machine run.
    pub fn cont(&mut self) {
        self.0.write_all(b"cont\n").unwrap();
        self.0.flush().unwrap();
    }
}
