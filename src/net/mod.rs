//! The host side of the network: interfaces, privileges, the address the bootloader
//! expects (journaled and always undone), the firewall, what holds a port, the checklist, and
//! the wire watch (what the router says on the link, and what that tells the technician).

pub mod addr;
pub mod check;
pub mod firewall;
pub mod iface;
pub mod io_failure;
pub mod journal;
pub mod observe;
pub mod pcap;
pub mod platform;
pub mod port_owner;
pub mod privilege;
pub mod probe;
pub mod raw;
pub mod tool;
pub mod watch;
pub mod wire;
