//! Netgear NMRP (Netgear Management Redundancy Protocol): the raw-Ethernet handshake by which a
//! Netgear bootloader in recovery mode takes an address, asks for a TFTP upload of its
//! firmware, writes it while sending keep-alives, and closes. See docs/nmrp.md.
//!
//! [`packet`] is the wire format; [`session`] is the host side as a sans-I/O machine.

pub mod packet;
pub mod session;
pub mod upload_failure;
