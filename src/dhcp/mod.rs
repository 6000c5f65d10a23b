//! BOOTP and DHCP for bootloaders that ask for an address, a server and a boot file before
//! they pull an image over TFTP (U-Boot's `dhcp` and `bootp`, Xiaomi's recovery, MikroTik's
//! etherboot).
//!
//! Layers, bottom up: [`packet`] parses and emits messages (RFC 951, 2131, 2132); [`lease`]
//! holds every rule of who is answered with what, fed requests and time, without I/O;
//! [`probe`] asks, before the router is on, whether another server answers on the port;
//! [`server`] is the driver: the sockets on the chosen port.

pub mod lease;
pub mod packet;
pub mod probe;
pub mod server;
