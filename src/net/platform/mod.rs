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
}

/// A change the system reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetChange {
    /// An address went away.
    AddressRemoved(AddressInfo),
    /// A link changed state.
    Link {
        /// The interface's index.
        ifindex: u32,
        /// Administratively up.
        up: bool,
        /// Carrier present.
        carrier: bool,
    },
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
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
    fn macs_parse() {
        assert_eq!(
            parse_mac("ba:be:fa:ce:08:41"),
            Some([0xba, 0xbe, 0xfa, 0xce, 0x08, 0x41])
        );
        assert_eq!(
            parse_mac("BA-BE-FA-CE-08-41"),
            Some([0xba, 0xbe, 0xfa, 0xce, 0x08, 0x41])
        );
        assert_eq!(parse_mac("ba:be:fa:ce:08"), None);
        assert_eq!(parse_mac("ba:be:fa:ce:08:41:00"), None);
    }

    #[test]
    fn host_addresses() {
        let net = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24);
        assert!(is_host_address(net, Ipv4Addr::new(192, 168, 0, 86)));
        assert!(!is_host_address(net, Ipv4Addr::new(192, 168, 0, 0)));
        assert!(!is_host_address(net, Ipv4Addr::new(192, 168, 0, 255)));
        assert!(!is_host_address(net, Ipv4Addr::new(192, 168, 1, 1)));
    }
}
