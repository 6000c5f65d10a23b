//! The serial port, the thin driver around [`Dialogue`]: open the adapter (or a pseudo-terminal)
//! with `serial2` (no native build dependency), read with a short timeout, feed the bytes and
//! the ticks to the dialogue, write what it types. Nothing is written on open: the port is
//! opened raw, 8N1, without flow control, and only the dialogue decides what goes out.

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serial2::SerialPort;

use super::dialogue::{Action, Answer, ConsoleEvent, Dialogue, Input};

/// How long one read waits before the dialogue gets a tick.
const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Why the serial port could not be used, with the fix.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Nothing at that path.
    #[error(
        "no serial port at '{path}': plug the USB serial adapter in, or give its path with --serial{others}"
    )]
    Missing {
        /// The path given.
        path: PathBuf,
        /// ", found: ..." when other ports exist.
        others: String,
    },
    /// Not allowed to open it.
    #[error(
        "may not open '{path}': add yourself to the group that owns it (`sudo usermod -aG dialout $USER`, then log in again) or run with sudo"
    )]
    Denied {
        /// The path given.
        path: PathBuf,
    },
    /// The port refused the baud rate.
    #[error("'{path}' does not take {baud} baud: {source}; give another with --baud")]
    Baud {
        /// The path given.
        path: PathBuf,
        /// The rate asked for.
        baud: u32,
        /// What the system said.
        source: io::Error,
    },
    /// No adapter was given and not exactly one was found.
    #[error("{0}")]
    NotFound(String),
    /// Anything else.
    #[error("'{path}': {source}")]
    Other {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

/// Opens `path` at `baud`, raw 8N1, writing nothing.
pub fn open(path: &Path, baud: u32) -> Result<SerialPort, PortError> {
    let mut port = SerialPort::open(path, |mut settings: serial2::Settings| {
        settings.set_raw();
        settings.set_baud_rate(baud)?;
        settings.set_char_size(serial2::CharSize::Bits8);
        settings.set_stop_bits(serial2::StopBits::One);
        settings.set_parity(serial2::Parity::None);
        settings.set_flow_control(serial2::FlowControl::None);
        Ok(settings)
    })
    .map_err(|source| match source.kind() {
        ErrorKind::NotFound => PortError::Missing {
            path: path.to_owned(),
            others: others(path),
        },
        ErrorKind::PermissionDenied => PortError::Denied {
            path: path.to_owned(),
        },
        ErrorKind::InvalidInput => PortError::Baud {
            path: path.to_owned(),
            baud,
            source,
        },
        _ => PortError::Other {
            path: path.to_owned(),
            source,
        },
    })?;
    port.set_read_timeout(READ_TIMEOUT)
        .map_err(|source| PortError::Other {
            path: path.to_owned(),
            source,
        })?;
    Ok(port)
}

fn others(path: &Path) -> String {
    let found: Vec<String> = adapters()
        .into_iter()
        .filter(|p| p != path)
        .map(|p| p.display().to_string())
        .collect();
    if found.is_empty() {
        String::new()
    } else {
        format!(" (found: {})", found.join(", "))
    }
}

/// The USB serial adapters present (`ttyUSB*`, `ttyACM*` on Linux; `cu.usb*` on macOS).
pub fn adapters() -> Vec<PathBuf> {
    usb_adapters(&SerialPort::available_ports().unwrap_or_default())
}

/// Which of `ports` are USB serial adapters, sorted: `ttyUSB*` (FTDI, CH340, `CP210x`, PL2303
/// through `usbserial`), `ttyACM*` (CDC-ACM) on Linux, `cu.usb*` on macOS. A board's own UART
/// (`ttyS*`, `ttyAMA*`) and a pseudo-terminal (`/dev/pts/N`) are not an adapter a technician
/// plugged in: `auto` never picks them, a path given with `--serial` may still name one.
pub fn usb_adapters(ports: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = ports
        .iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| {
                n.starts_with("ttyUSB") || n.starts_with("ttyACM") || n.starts_with("cu.usb")
            })
        })
        .cloned()
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The one USB serial adapter present, or why there is not exactly one.
pub fn the_adapter() -> Result<PathBuf, PortError> {
    choose_adapter(&adapters())
}

/// `--serial auto` over the adapters found: the one, or with none or several the error that
/// says what to do (several are named, to choose one with `--serial PATH`).
pub fn choose_adapter(adapters: &[PathBuf]) -> Result<PathBuf, PortError> {
    match adapters {
        [one] => Ok(one.clone()),
        [] => Err(PortError::NotFound(
            "no USB serial adapter found: plug it in, or give the port with --serial PATH".into(),
        )),
        several => Err(PortError::NotFound(format!(
            "{} USB serial adapters found ({}): say which one with --serial PATH",
            several.len(),
            several
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Runs `dialogue` on `port` until it ends or `stop` is set: bytes and ticks in, typing out,
/// each event to `tell`; the technician's answer from `answers` when asked.
pub fn drive(
    port: &SerialPort,
    dialogue: &mut Dialogue,
    answers: &Receiver<Answer>,
    stop: &AtomicBool,
    tell: impl FnMut(&ConsoleEvent),
) -> io::Result<()> {
    drive_heard(port, dialogue, answers, stop, tell, |_| {})
}

/// [`drive`], with every byte the bootloader printed also given to `heard` as it arrives
/// (the run shows the console's lines live).
pub fn drive_heard(
    port: &SerialPort,
    dialogue: &mut Dialogue,
    answers: &Receiver<Answer>,
    stop: &AtomicBool,
    mut tell: impl FnMut(&ConsoleEvent),
    mut heard: impl FnMut(&[u8]),
) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while !dialogue.is_over() && !stop.load(Ordering::Relaxed) {
        let input = match port.read(&mut buf) {
            Ok(0) => Input::Tick,
            Ok(n) => {
                heard(&buf[..n]);
                Input::Bytes(buf[..n].to_vec())
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                Input::Tick
            }
            Err(e) => return Err(e),
        };
        let mut actions = dialogue.handle(input, Instant::now());
        if dialogue.awaits_confirmation()
            && let Ok(answer) = answers.try_recv()
        {
            actions.extend(dialogue.handle(answer.into(), Instant::now()));
        }
        for action in actions {
            match action {
                Action::Type(bytes) => port.write_all(&bytes)?,
                Action::Tell(event) => tell(&event),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn auto_counts_usb_adapters_only() {
        let ports = paths(&[
            "/dev/ttyS0",
            "/dev/ttyS1",
            "/dev/pts/3",
            "/dev/ttyAMA0",
            "/dev/ttyUSB0",
            "/dev/ttyACM1",
            "/dev/cu.usbserial-A50285BI",
        ]);
        assert_eq!(
            usb_adapters(&ports),
            paths(&["/dev/cu.usbserial-A50285BI", "/dev/ttyACM1", "/dev/ttyUSB0"])
        );
    }

    #[test]
    fn auto_with_no_adapter_says_to_plug_one_in() {
        let err = choose_adapter(&usb_adapters(&paths(&["/dev/ttyS0", "/dev/pts/3"])))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no USB serial adapter found: plug it in, or give the port with --serial PATH"
        );
    }

    #[test]
    fn auto_with_one_adapter_takes_it() {
        let found = usb_adapters(&paths(&["/dev/ttyS0", "/dev/ttyUSB0", "/dev/pts/3"]));
        assert_eq!(
            choose_adapter(&found).unwrap(),
            PathBuf::from("/dev/ttyUSB0")
        );
    }

    #[test]
    fn auto_with_two_adapters_names_both_and_asks_which() {
        let found = usb_adapters(&paths(&["/dev/ttyUSB1", "/dev/ttyUSB0"]));
        let err = choose_adapter(&found).unwrap_err().to_string();
        assert_eq!(
            err,
            "2 USB serial adapters found (/dev/ttyUSB0, /dev/ttyUSB1): say which one with --serial PATH"
        );
    }
}
