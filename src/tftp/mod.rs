//! TFTP (RFC 1350 with the option extensions of RFC 2347, 2348, 2349 and 7440): the wire
//! format, sans-I/O transfer state machines, and the server and client drivers.
//!
//! Layers, bottom up: [`packet`] parses and emits datagrams; [`options`] negotiates; the
//! [`session`] machines hold every rule of a running transfer and never touch a socket or a
//! clock; [`server`] and [`client`] move datagrams between sockets and sessions and report
//! [`event::TransferEvent`]s.

mod admission;
pub mod client;
pub mod event;
mod landing;
pub mod netascii;
pub mod options;
pub mod packet;
pub mod server;
pub mod session;

/// The port a TFTP server listens on (RFC 1350 section 4), and the only one a bootloader asks.
pub const DEFAULT_PORT: u16 = 69;
mod transfer;
