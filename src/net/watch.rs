//! The wire watch: one named thread (`capture-<ifname>`) reading the rescue port, forwarding
//! [`Seen`] events into tokio, stopping on a flag. It never transmits and is not promiscuous
//! (ARP requests are broadcast; ICMP and TFTP for us are unicast to our MAC).
//!
//! Linux only for now: an `AF_PACKET` socket created with protocol 0 (so the kernel queues
//! nothing yet), the classic BPF program [`CAPTURE_FILTER`] attached, and only then bound to
//! the interface for all protocols. Frames the filter drops (TFTP data, everything else)
//! never reach user space.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedSender;

use crate::net::pcap::PcapWriter;
#[cfg(target_os = "linux")]
use crate::net::wire::CAPTURE_FILTER;
use crate::net::wire::Seen;

/// Why the watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The process may not capture frames.
    #[error(
        "cannot watch {interface}: capturing frames needs cap_net_raw, which this process does not have.\n  fix: {remedy}\n  (everything else works without the watch)"
    )]
    NotPermitted {
        /// The interface asked for.
        interface: String,
        /// How to get the capability.
        remedy: String,
    },
    /// No interface by that name.
    #[error("cannot watch {interface}: there is no such interface (this computer has: {known})")]
    NoSuchInterface {
        /// The interface asked for.
        interface: String,
        /// The interfaces there are.
        known: String,
    },
    /// The system refused for another reason.
    #[error("cannot watch {interface}: {source}")]
    Io {
        /// The interface asked for.
        interface: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not implemented on this system.
    #[error("watching the wire is only available on Linux so far")]
    Unsupported,
}

/// How long a read waits before the thread looks at its stop flag again.
#[cfg(target_os = "linux")]
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);

/// Opens and filters the capture socket on `interface`, then starts the capture thread.
///
/// When this returns `Ok`, the filter is in place and every matching frame from then on is
/// forwarded. The thread ends when `stop` is set or `events` is closed; its result says
/// whether reading failed.
pub fn start(
    interface: &str,
    events: UnboundedSender<Seen>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<std::io::Result<()>>, WatchError> {
    start_capturing(interface, events, stop, None)
}

/// As [`start`], and every frame the filter lets through (parsed into an event or not) is
/// also appended to `capture`, flushed frame by frame.
pub fn start_capturing(
    interface: &str,
    events: UnboundedSender<Seen>,
    stop: Arc<AtomicBool>,
    capture: Option<PcapWriter<std::fs::File>>,
) -> Result<JoinHandle<std::io::Result<()>>, WatchError> {
    #[cfg(target_os = "linux")]
    {
        linux::start(interface, events, stop, capture)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (interface, events, stop, capture);
        Err(WatchError::Unsupported)
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io;
    use std::os::fd::IntoRawFd;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;
    use std::time::SystemTime;

    use pnet_datalink::{Channel, DataLinkReceiver};
    use socket2::{Domain, Protocol, SockFilter, Socket, Type};
    use tokio::sync::mpsc::UnboundedSender;

    use super::{CAPTURE_FILTER, READ_TIMEOUT, WatchError};
    use crate::net::pcap::PcapWriter;
    use crate::net::privilege::Privileges;
    use crate::net::wire::{self, Seen};

    /// Large enough for any frame on a jumbo-frame link.
    const READ_BUFFER: usize = 64 * 1024;

    pub(super) fn start(
        name: &str,
        events: UnboundedSender<Seen>,
        stop: Arc<AtomicBool>,
        capture: Option<PcapWriter<File>>,
    ) -> Result<JoinHandle<io::Result<()>>, WatchError> {
        let io_error = |source| WatchError::Io {
            interface: name.to_owned(),
            source,
        };
        let interfaces = pnet_datalink::interfaces();
        let Some(interface) = interfaces.iter().find(|i| i.name == name) else {
            let known: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
            return Err(WatchError::NoSuchInterface {
                interface: name.to_owned(),
                known: known.join(", "),
            });
        };
        // Protocol 0: the kernel hooks no protocol to the socket, so nothing is queued before
        // the filter is attached and the socket bound (packet(7)). pnet would create an
        // ETH_P_ALL socket that starts queueing every frame of every interface at once.
        let socket = match Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))) {
            Ok(socket) => socket,
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                return Err(WatchError::NotPermitted {
                    interface: name.to_owned(),
                    remedy: Privileges::detect().remedy(),
                });
            }
            Err(err) => return Err(io_error(err)),
        };
        let program: Vec<SockFilter> = CAPTURE_FILTER
            .iter()
            .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
            .collect();
        socket.attach_filter(&program).map_err(io_error)?;
        // pnet binds the prepared socket to the interface with ETH_P_ALL and owns (and closes)
        // the descriptor from here on, also when binding fails.
        let config = pnet_datalink::Config {
            read_buffer_size: READ_BUFFER,
            write_buffer_size: 0,
            read_timeout: Some(READ_TIMEOUT),
            promiscuous: false,
            socket_fd: Some(socket.into_raw_fd()),
            ..pnet_datalink::Config::default()
        };
        // The sender is dropped at once: the watch never transmits.
        let Channel::Ethernet(_sender, receiver) =
            pnet_datalink::channel(interface, config).map_err(io_error)?
        else {
            return Err(io_error(io::Error::other(
                "the capture channel is not Ethernet",
            )));
        };
        std::thread::Builder::new()
            .name(format!("capture-{name}"))
            .spawn(move || read(receiver, &events, &stop, capture))
            .map_err(io_error)
    }

    fn read(
        mut receiver: Box<dyn DataLinkReceiver>,
        events: &UnboundedSender<Seen>,
        stop: &AtomicBool,
        mut capture: Option<PcapWriter<File>>,
    ) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) && !events.is_closed() {
            match receiver.next() {
                Ok(frame) => {
                    let at = SystemTime::now();
                    if let Some(writer) = capture.as_mut() {
                        writer.write_frame(at, frame).map_err(|err| {
                            io::Error::new(err.kind(), format!("writing the capture file: {err}"))
                        })?;
                    }
                    if let Some(event) = wire::parse(frame) {
                        let seen = Seen { at, event };
                        if events.send(seen).is_err() {
                            break;
                        }
                    }
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                    ) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}
