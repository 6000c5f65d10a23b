//! macOS: the same operations through `ifconfig` and `arp`. Untested on real hardware.
//!
//! macOS has no address lifetimes: a crash leaves the alias until the next start cleans it
//! (the journal) or the interface is reset.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

pub use super::commands::{Watcher, addresses, link, link_is_up, link_named};
use super::commands::{already_there, name_of, run};
use crate::net::iface::Ipv4Cidr;

/// Adds `cidr` as an alias (`ifconfig IF alias ADDR NETMASK`).
pub fn add_address(
    ifindex: u32,
    cidr: Ipv4Cidr,
    _label: Option<&str>,
    _lifetime: Option<Duration>,
    create_only: bool,
) -> io::Result<()> {
    let name = name_of(ifindex)?;
    if already_there(ifindex, cidr, create_only)? {
        return Ok(());
    }
    let mask = Ipv4Addr::from(cidr.mask()).to_string();
    run(
        "ifconfig",
        &[&name, "alias", &cidr.addr.to_string(), "netmask", &mask],
    )
    .map(|_| ())
}

/// Removes the alias (`ifconfig IF -alias ADDR`). Already gone is not an error.
pub fn remove_address(ifindex: u32, cidr: Ipv4Cidr) -> io::Result<()> {
    let name = name_of(ifindex)?;
    if !addresses(ifindex)?.iter().any(|a| a.cidr.addr == cidr.addr) {
        return Ok(());
    }
    run("ifconfig", &[&name, "-alias", &cidr.addr.to_string()]).map(|_| ())
}

/// `ifconfig IF up` or `down`.
pub fn set_link_up(ifindex: u32, up: bool) -> io::Result<()> {
    let name = name_of(ifindex)?;
    run("ifconfig", &[&name, if up { "up" } else { "down" }]).map(|_| ())
}

/// `arp -s IP MAC` (permanent unless the interface resets).
pub fn add_neighbour(ifindex: u32, ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
    let name = name_of(ifindex)?;
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    run("arp", &["-s", &ip.to_string(), &mac, "ifscope", &name]).map(|_| ())
}

/// `arp -d IP`. Already gone is not an error.
pub fn remove_neighbour(ifindex: u32, ip: Ipv4Addr) -> io::Result<()> {
    let name = name_of(ifindex)?;
    match run("arp", &["-d", &ip.to_string(), "ifscope", &name]) {
        Err(err) if err.to_string().contains("not in table") => Ok(()),
        other => other.map(|_| ()),
    }
}
