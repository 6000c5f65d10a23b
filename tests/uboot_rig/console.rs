//! U-Boot with its console on a pseudo-terminal, as a USB serial adapter would present it, and a
//! second CFI flash bank backed by a file: started paused (`-S`), so that the console is held
//! before U-Boot prints a byte (QEMU 7.2 drops console output while nobody holds the pty), and
//! let go with the monitor's `cont`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::Duration;

use super::{Qemu, Serial};

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
