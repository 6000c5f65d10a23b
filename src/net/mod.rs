//! The host side of the network: interfaces, privileges, the address the bootloader
//! expects (journaled and always undone), the firewall, what holds a port, and the checklist.

pub mod addr;
pub mod check;
pub mod firewall;
pub mod iface;
pub mod journal;
pub mod platform;
pub mod port_owner;
pub mod privilege;
