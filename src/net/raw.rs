//! A raw Ethernet port for one `EtherType`: whole frames in and out of one interface, for the
//! protocols that speak below IP (Netgear's NMRP). The same capability as the wire watch
//! (`cap_net_raw`); unlike the watch, it transmits.
//!
//! Linux only for now: an `AF_PACKET` socket created with protocol 0 (so the kernel queues
//! nothing yet), a classic BPF program keeping only incoming frames of the `EtherType` attached,
//! and only then bound to the interface (packet(7)).

use std::time::Duration;

use crate::net::wire::Mac;

/// Why the port could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// The process may not open raw sockets.
    #[error(
        "cannot send and receive raw Ethernet frames on {interface}: this needs cap_net_raw, which this process does not have.\n  fix: {remedy}"
    )]
    NotPermitted {
        /// The interface asked for.
        interface: String,
        /// How to get the capability.
        remedy: String,
    },
    /// No Ethernet interface by that name.
    #[error(
        "cannot open {interface} for raw Ethernet frames: there is no Ethernet interface by that name (this computer has: {known}).\n  fix: give --interface with the wired port the router is plugged into (`ip link` lists them)"
    )]
    NoSuchInterface {
        /// The interface asked for.
        interface: String,
        /// The interfaces there are.
        known: String,
    },
    /// The system refused for another reason.
    #[error("cannot use {interface} for raw Ethernet frames: {source}")]
    Io {
        /// The interface.
        interface: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not implemented on this system.
    #[error("raw Ethernet frames are only available on Linux so far")]
    Unsupported,
}

/// Classic BPF keeping frames of `ethertype` that come in: frames this host sends out (packet
/// type `PACKET_OUTGOING`, 4, read through the ancillary offset `SKF_AD_OFF + SKF_AD_PKTTYPE`)
/// are dropped, so the port never hears itself.
pub fn inbound_filter(ethertype: u16) -> [(u16, u8, u8, u32); 6] {
    [
        (0x28, 0, 0, 12),                   // ldh [12]: EtherType
        (0x15, 0, 3, u32::from(ethertype)), // jeq ethertype, else drop
        (0x20, 0, 0, 0xffff_f004),          // ld packet type
        (0x15, 1, 0, 4),                    // jeq outgoing: drop
        (0x06, 0, 0, 0xffff),               // keep
        (0x06, 0, 0, 0),                    // drop
    ]
}

/// One interface opened for the frames of one `EtherType`.
pub struct RawPort {
    /// The interface's hardware address.
    pub mac: Mac,
    #[cfg(target_os = "linux")]
    tx: Box<dyn pnet_datalink::DataLinkSender>,
    #[cfg(target_os = "linux")]
    rx: Box<dyn pnet_datalink::DataLinkReceiver>,
}

impl std::fmt::Debug for RawPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPort")
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

impl RawPort {
    /// Opens `interface` for incoming frames of `ethertype`; a read waits at most
    /// `read_timeout`.
    pub fn open(interface: &str, ethertype: u16, read_timeout: Duration) -> Result<Self, RawError> {
        #[cfg(target_os = "linux")]
        {
            linux::open(interface, ethertype, read_timeout)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (interface, ethertype, read_timeout);
            Err(RawError::Unsupported)
        }
    }

    /// Sends one whole Ethernet frame. A link that is down loses it, as a cable would: the
    /// protocols on this port repeat what matters.
    pub fn send(&mut self, frame: &[u8]) {
        #[cfg(target_os = "linux")]
        {
            let _ = self.tx.send_to(frame, None);
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = frame;
        }
    }

    /// The next incoming frame, or `None` when the read timeout passed first.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        #[cfg(target_os = "linux")]
        {
            self.rx.next().ok().map(<[u8]>::to_vec)
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::IntoRawFd;
    use std::time::Duration;

    use pnet_datalink::Channel;
    use socket2::{Domain, Protocol, SockFilter, Socket, Type};

    use super::{RawError, RawPort, inbound_filter};
    use crate::net::privilege::Privileges;
    use crate::net::wire::Mac;

    pub(super) fn open(
        name: &str,
        ethertype: u16,
        read_timeout: Duration,
    ) -> Result<RawPort, RawError> {
        let io_error = |source| RawError::Io {
            interface: name.to_owned(),
            source,
        };
        let interfaces = pnet_datalink::interfaces();
        let Some((interface, mac)) = interfaces
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| i.mac.map(|mac| (i, Mac(mac.octets()))))
        else {
            let known: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
            return Err(RawError::NoSuchInterface {
                interface: name.to_owned(),
                known: known.join(", "),
            });
        };
        // Protocol 0 until the filter is attached, so no other frame is queued first.
        let socket = match Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))) {
            Ok(socket) => socket,
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                return Err(RawError::NotPermitted {
                    interface: name.to_owned(),
                    remedy: Privileges::detect().remedy(),
                });
            }
            Err(err) => return Err(io_error(err)),
        };
        let program: Vec<SockFilter> = inbound_filter(ethertype)
            .iter()
            .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
            .collect();
        socket.attach_filter(&program).map_err(io_error)?;
        let config = pnet_datalink::Config {
            read_timeout: Some(read_timeout),
            socket_fd: Some(socket.into_raw_fd()),
            ..pnet_datalink::Config::default()
        };
        let Channel::Ethernet(tx, rx) =
            pnet_datalink::channel(interface, config).map_err(io_error)?
        else {
            return Err(io_error(io::Error::other("the channel is not Ethernet")));
        };
        Ok(RawPort { mac, tx, rx })
    }
}
