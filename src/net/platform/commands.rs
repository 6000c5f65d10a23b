//! The system's own network commands (macOS and Windows), run through [`crate::net::tool`]
//! with a deadline and the command's words in the error, and the interface facts read from
//! the system's list.

use std::io;
use std::time::Duration;

use crate::net::tool::{Tool, ToolError};

/// How long one of the system's network commands may run before it is killed.
const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `program args…`, waits at most 10 s, and turns a failure into an `io::Error` that
/// quotes the command and what it printed.
pub(super) fn run(program: &str, args: &[&str]) -> io::Result<String> {
    let ran = match Tool::new(program, DEADLINE).args(args).run() {
        Ok(ran) => ran,
        Err(ToolError::Spawn { source, .. }) => return Err(source),
        Err(err @ ToolError::Missing { .. }) => {
            return Err(io::Error::new(io::ErrorKind::NotFound, err.to_string()));
        }
        Err(err @ ToolError::TimedOut { .. }) => {
            return Err(io::Error::new(io::ErrorKind::TimedOut, err.to_string()));
        }
        Err(err @ ToolError::Failed { .. }) => return Err(io::Error::other(err.to_string())),
    };
    if ran.success() {
        return Ok(ran.stdout);
    }
    let text = format!(
        "`{program} {}` failed: {}{}",
        args.join(" "),
        ran.stderr,
        ran.stdout.trim()
    );
    let kind = if text.contains("ermission")
        || text.contains("requires elevation")
        || text.contains("Access is denied")
    {
        io::ErrorKind::PermissionDenied
    } else if text.contains("exists") {
        io::ErrorKind::AlreadyExists
    } else {
        io::ErrorKind::Other
    };
    Err(io::Error::new(kind, text))
}

/// Interface name by index, from the system's list.
pub(super) fn name_of(ifindex: u32) -> io::Result<String> {
    netdev::get_interfaces()
        .into_iter()
        .find(|i| i.index == ifindex)
        .map(|i| i.name)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface with index {ifindex}"),
            )
        })
}

/// Every IPv4 address of an interface, from the system's list.
pub fn addresses(ifindex: u32) -> io::Result<Vec<super::AddressInfo>> {
    Ok(netdev::get_interfaces()
        .into_iter()
        .filter(|i| i.index == ifindex)
        .flat_map(|i| i.ipv4.into_iter())
        .map(|n| super::AddressInfo {
            ifindex,
            cidr: crate::net::iface::Ipv4Cidr::new(n.addr(), n.prefix_len()),
            secondary: false,
            label: None,
            protocol: None,
            valid_for: None,
        })
        .collect())
}

fn link_info(i: netdev::Interface) -> super::LinkInfo {
    super::LinkInfo {
        index: i.index,
        up: i.is_up(),
        mac: i
            .mac_addr
            .map(|m| m.to_string())
            .filter(|m| m != "00:00:00:00:00:00"),
        name: i.name,
    }
}

/// What the interface with index `ifindex` is now, from the system's list.
pub fn link(ifindex: u32) -> io::Result<Option<super::LinkInfo>> {
    Ok(netdev::get_interfaces()
        .into_iter()
        .find(|i| i.index == ifindex)
        .map(link_info))
}

/// What the interface named `name` is now, from the system's list.
pub fn link_named(name: &str) -> io::Result<Option<super::LinkInfo>> {
    Ok(netdev::get_interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .map(link_info))
}

/// Whether `cidr`'s address is on the interface already. With `create_only` that is an
/// `AlreadyExists` error (never take over someone's address); otherwise `Ok(true)`: nothing to
/// add.
pub(super) fn already_there(
    ifindex: u32,
    cidr: crate::net::iface::Ipv4Cidr,
    create_only: bool,
) -> io::Result<bool> {
    if !addresses(ifindex)?.iter().any(|a| a.cidr.addr == cidr.addr) {
        return Ok(false);
    }
    if create_only {
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is already on interface {ifindex}", cidr.addr),
        ))
    } else {
        Ok(true)
    }
}

/// Whether the interface is up, from the system's list.
pub fn link_is_up(ifindex: u32) -> io::Result<bool> {
    netdev::get_interfaces()
        .into_iter()
        .find(|i| i.index == ifindex)
        .map(|i| i.is_up())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface with index {ifindex}"),
            )
        })
}

/// Polls for changes where the system offers no notifications to a plain program.
pub struct Watcher;

impl Watcher {
    /// A polling watcher: the keeper checks the address itself.
    pub fn open() -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no change notifications here; polling",
        ))
    }

    /// Never called: `open` fails, and the keeper polls instead.
    pub fn wait(&mut self, _timeout: Duration) -> io::Result<Vec<super::NetChange>> {
        Ok(Vec::new())
    }
}
