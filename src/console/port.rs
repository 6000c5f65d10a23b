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

/// A USB serial adapter as the system describes it, for a technician choosing among several:
/// its device, the USB ids and the maker's words from its descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// Its device (`/dev/ttyUSB0`).
    pub path: PathBuf,
    /// The USB vendor and product ids (`0403:6001` is an FTDI FT232R), when the system says.
    pub usb_id: Option<(u16, u16)>,
    /// The manufacturer's and product's names from the descriptor ("FTDI FT232R USB UART").
    pub description: Option<String>,
    /// The adapter's serial number, which tells two of one make apart.
    pub serial_number: Option<String>,
}

impl Adapter {
    /// An adapter known by its path alone.
    pub fn bare(path: PathBuf) -> Self {
        Self {
            path,
            usb_id: None,
            description: None,
            serial_number: None,
        }
    }

    /// What it is, in one line after its path: `0403:6001 FTDI FT232R USB UART, serial
    /// A50285BI`; "no USB description" when the system gives none.
    pub fn about(&self) -> String {
        let mut parts = Vec::new();
        if let Some((vendor, product)) = self.usb_id {
            parts.push(format!("{vendor:04x}:{product:04x}"));
        }
        if let Some(description) = &self.description {
            parts.push(description.clone());
        }
        let mut about = parts.join(" ");
        if let Some(serial) = &self.serial_number {
            if !about.is_empty() {
                about.push_str(", ");
            }
            about.push_str("serial ");
            about.push_str(serial);
        }
        if about.is_empty() {
            "no USB description".to_owned()
        } else {
            about
        }
    }
}

/// Where Linux lists terminals, each with a `device` link into the USB tree.
const SYS_TTY: &str = "/sys/class/tty";

/// The USB serial adapters present, each described from sysfs (Linux; elsewhere by path
/// alone).
pub fn adapter_list() -> Vec<Adapter> {
    adapters()
        .into_iter()
        .map(|path| describe(path, Path::new(SYS_TTY)))
        .collect()
}

/// `path` described from the sysfs tree under `sys_tty` (`/sys/class/tty`): its
/// `NAME/device` link leads to the USB interface (CDC-ACM) or to the serial port under it
/// (`usbserial`); the first folder above with an `idVendor` is the USB device, whose
/// `idVendor`, `idProduct`, `manufacturer`, `product` and `serial` files are read (the kernel's
/// sysfs-bus-usb ABI). Anything missing is left out.
pub fn describe(path: PathBuf, sys_tty: &Path) -> Adapter {
    let mut adapter = Adapter::bare(path);
    let Some(name) = adapter.path.file_name() else {
        return adapter;
    };
    let Ok(device) = std::fs::canonicalize(sys_tty.join(name).join("device")) else {
        return adapter;
    };
    let Some(usb) = device
        .ancestors()
        .find(|dir| dir.join("idVendor").is_file())
    else {
        return adapter;
    };
    let read = |file: &str| {
        std::fs::read_to_string(usb.join(file))
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let hex = |file: &str| read(file).and_then(|text| u16::from_str_radix(&text, 16).ok());
    adapter.usb_id = hex("idVendor").zip(hex("idProduct"));
    let words: Vec<String> = [read("manufacturer"), read("product")]
        .into_iter()
        .flatten()
        .collect();
    adapter.description = (!words.is_empty()).then(|| words.join(" "));
    adapter.serial_number = read("serial");
    adapter
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

    /// A terminal's name, whether `usbserial` drives it, and its USB device's files.
    #[cfg(unix)]
    type Descriptor<'a> = (&'a str, bool, &'a [(&'a str, &'a str)]);

    #[cfg(unix)]
    /// A sysfs tree as Linux lays it out: `class/tty/NAME/device` links into
    /// `devices/.../USBDEV/INTERFACE[/NAME]`, the USB device's descriptor files in `USBDEV`.
    fn sysfs(ports: &[Descriptor<'_>]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let tty = root.path().join("class/tty");
        std::fs::create_dir_all(&tty).unwrap();
        for (n, (name, usbserial, files)) in ports.iter().enumerate() {
            let usb = root.path().join(format!("devices/usb1/1-{n}"));
            let interface = usb.join(format!("1-{n}:1.0"));
            // usbserial puts a port folder under the interface; CDC-ACM links the interface.
            let device = if *usbserial {
                interface.join(name)
            } else {
                interface.clone()
            };
            std::fs::create_dir_all(&device).unwrap();
            for (file, text) in *files {
                std::fs::write(usb.join(file), format!("{text}\n")).unwrap();
            }
            std::fs::create_dir_all(tty.join(name)).unwrap();
            std::os::unix::fs::symlink(&device, tty.join(name).join("device")).unwrap();
        }
        root
    }

    #[cfg(unix)]
    #[test]
    fn an_adapter_is_described_by_its_usb_ids_maker_and_serial_number() {
        let root = sysfs(&[
            (
                "ttyUSB0",
                true,
                &[
                    ("idVendor", "0403"),
                    ("idProduct", "6001"),
                    ("manufacturer", "FTDI"),
                    ("product", "FT232R USB UART"),
                    ("serial", "A50285BI"),
                ],
            ),
            (
                "ttyACM0",
                false,
                &[("idVendor", "2e8a"), ("idProduct", "000a")],
            ),
        ]);
        let tty = root.path().join("class/tty");
        let ftdi = describe(PathBuf::from("/dev/ttyUSB0"), &tty);
        assert_eq!(ftdi.usb_id, Some((0x0403, 0x6001)));
        assert_eq!(
            ftdi.about(),
            "0403:6001 FTDI FT232R USB UART, serial A50285BI"
        );
        let acm = describe(PathBuf::from("/dev/ttyACM0"), &tty);
        assert_eq!(acm.about(), "2e8a:000a");
        // Not in the tree (macOS, a vanished adapter): its path alone.
        let gone = describe(PathBuf::from("/dev/ttyUSB7"), &tty);
        assert_eq!(gone, Adapter::bare(PathBuf::from("/dev/ttyUSB7")));
        assert_eq!(gone.about(), "no USB description");
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
