//! The host side of the network: what holds a port, and (with later capabilities) the
//! interfaces, addresses and the wire watch.

pub mod firewall;
pub mod port_owner;
