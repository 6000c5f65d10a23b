//! The host side of the network: what holds a port, and (with later capabilities) the
//! interfaces, addresses and the wire watch.

pub mod addr;
pub mod check;
pub mod iface;
pub mod journal;
pub mod platform;
pub mod port_owner;
pub mod privilege;
