//! Windows: the same operations through `netsh`. Untested on real hardware.
//!
//! Addresses are added with `store=active`, so they disappear at the next reboot whatever
//! happens to rescue-wizard.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

pub use super::commands::{Watcher, addresses, link, link_is_up, link_named};
use super::commands::{already_there, name_of, run};
use crate::net::iface::Ipv4Cidr;

/// `netsh interface ipv4 add address name=IF address=ADDR mask=MASK store=active`.
pub fn add_address(
    ifindex: u32,
    cidr: Ipv4Cidr,
    _label: Option<&str>,
    _lifetime: Option<Duration>,
    create_only: bool,
) -> io::Result<()> {
    if already_there(ifindex, cidr, create_only)? {
        return Ok(());
    }
    let mask = Ipv4Addr::from(cidr.mask()).to_string();
    run(
        "netsh",
        &[
            "interface",
            "ipv4",
            "add",
            "address",
            &format!("name={ifindex}"),
            &format!("address={}", cidr.addr),
            &format!("mask={mask}"),
            "store=active",
        ],
    )
    .map(|_| ())
}

/// `netsh interface ipv4 delete address name=IF address=ADDR`. Already gone is fine.
pub fn remove_address(ifindex: u32, cidr: Ipv4Cidr) -> io::Result<()> {
    if !addresses(ifindex)?.iter().any(|a| a.cidr.addr == cidr.addr) {
        return Ok(());
    }
    run(
        "netsh",
        &[
            "interface",
            "ipv4",
            "delete",
            "address",
            &format!("name={ifindex}"),
            &format!("address={}", cidr.addr),
        ],
    )
    .map(|_| ())
}

/// `netsh interface set interface name=IF admin=enabled|disabled`.
pub fn set_link_up(ifindex: u32, up: bool) -> io::Result<()> {
    let name = name_of(ifindex)?;
    let admin = if up {
        "admin=enabled"
    } else {
        "admin=disabled"
    };
    run(
        "netsh",
        &[
            "interface",
            "set",
            "interface",
            &format!("name={name}"),
            admin,
        ],
    )
    .map(|_| ())
}

/// `netsh interface ipv4 add neighbors IF IP MAC store=active`.
pub fn add_neighbour(ifindex: u32, ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join("-");
    run(
        "netsh",
        &[
            "interface",
            "ipv4",
            "add",
            "neighbors",
            &ifindex.to_string(),
            &ip.to_string(),
            &mac,
            "store=active",
        ],
    )
    .map(|_| ())
}

/// `netsh interface ipv4 delete neighbors IF IP`. Already gone is fine.
pub fn remove_neighbour(ifindex: u32, ip: Ipv4Addr) -> io::Result<()> {
    match run(
        "netsh",
        &[
            "interface",
            "ipv4",
            "delete",
            "neighbors",
            &ifindex.to_string(),
            &ip.to_string(),
        ],
    ) {
        Err(err) if err.to_string().contains("not found") => Ok(()),
        other => other.map(|_| ()),
    }
}
