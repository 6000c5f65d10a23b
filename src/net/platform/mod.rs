//! The operating system's side of network changes, behind one `cfg` switch: rtnetlink on
//! Linux; the system's own commands (`ifconfig`, `arp`, `route` on macOS; `netsh` on
//! Windows) elsewhere. Only Linux is tested on real interfaces.

use std::net::Ipv4Addr;

use crate::net::iface::Ipv4Cidr;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
mod commands;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// One IPv4 address as the system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressInfo {
    /// The interface's index.
    pub ifindex: u32,
    /// Address and prefix.
    pub cidr: Ipv4Cidr,
    /// A secondary address of its subnet (removing the primary would remove it too unless
    /// `promote_secondaries` is set).
    pub secondary: bool,
    /// Its label, if any.
    pub label: Option<String>,
    /// The address protocol the kernel keeps with it (`IFA_PROTO`, Linux 6.3 and later): what
    /// marks an address as rescue-wizard's ([`RESCUE_ADDRESS_PROTOCOL`]) whatever the
    /// interface's name. `None`: none set, or a system that keeps none.
    pub protocol: Option<u8>,
    /// Seconds it stays valid without a refresh; `None` when it never expires (an address added
    /// by hand) or the system does not say.
    pub valid_for: Option<u32>,
}

/// The address protocol rescue-wizard's addresses carry (`ip addr` shows `proto 114`). Labels
/// cannot mark them: a label must start with the interface's name and the kernel allows 15
/// bytes, so a 15-character USB adapter name (`enx00e04c680001`) leaves no room for a suffix.
/// Values above the kernel's own (1 to 3, `linux/if_addr.h`) are free for programs.
pub const RESCUE_ADDRESS_PROTOCOL: u8 = 114;

/// What an interface is now, as the kernel reports it: how a port we changed is told apart
/// from another that took its index or its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Kernel index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Hardware address, `aa:bb:cc:dd:ee:ff`, when it has one.
    pub mac: Option<String>,
    /// Administratively up.
    pub up: bool,
}

/// A change the system reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetChange {
    /// An address went away.
    AddressRemoved(AddressInfo),
    /// A link changed state, or appeared.
    Link {
        /// The interface's index.
        ifindex: u32,
        /// Its name.
        ifname: String,
        /// Administratively up.
        up: bool,
        /// Carrier present.
        carrier: bool,
    },
    /// An interface went away (unplugged, deleted).
    LinkRemoved {
        /// Its index.
        ifindex: u32,
    },
}

/// `true` when `addr` is usable as a host address in `cidr`'s subnet (not its network or
/// broadcast address).
pub fn is_host_address(cidr: Ipv4Cidr, addr: Ipv4Addr) -> bool {
    if cidr.prefix >= 31 {
        return cidr.contains(addr);
    }
    let network = u32::from(cidr.network());
    let broadcast = network | !cidr.mask();
    cidr.contains(addr) && u32::from(addr) != network && u32::from(addr) != broadcast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_addresses() {
        let net = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24);
        assert!(is_host_address(net, Ipv4Addr::new(192, 168, 0, 86)));
        assert!(!is_host_address(net, Ipv4Addr::new(192, 168, 0, 0)));
        assert!(!is_host_address(net, Ipv4Addr::new(192, 168, 0, 255)));
        assert!(!is_host_address(net, Ipv4Addr::new(192, 168, 1, 1)));
    }
}
