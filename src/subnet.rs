//! IPv4 subnets: a network address with its prefix length, host bits cleared. The one place
//! the crate computes a prefix's mask, a network and a broadcast address: a profile's laptop
//! address ([`Host`](crate::profile::Host)) and an interface's address
//! ([`Ipv4Cidr`](crate::net::iface::Ipv4Cidr)) each ask their subnet. It sits at the bottom
//! layer, beside `profile`, because both the profile checks and the host's network read it.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why text or numbers are not an IPv4 subnet; each message says how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// A prefix length above 32.
    #[error("/{prefix} is not an IPv4 prefix length; use 0 to 32, for example 192.168.0.0/24")]
    BadPrefix {
        /// The value given.
        prefix: u8,
    },
    /// Text that is not `A.B.C.D/P`.
    #[error(
        "{text:?} is not an IPv4 subnet; write it as ADDRESS/PREFIX, for example 192.168.0.0/24"
    )]
    BadSubnet {
        /// The text given.
        text: String,
    },
}

/// An IPv4 subnet: the router's network, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// The subnet of `addr` with `prefix` bits; host bits are cleared
    /// (`192.168.0.1`, 24 → `192.168.0.0/24`).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, SubnetError> {
        if prefix > 32 {
            return Err(SubnetError::BadPrefix { prefix });
        }
        Ok(Self {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// The subnet of `addr` with `prefix` bits, a prefix above 32 taken as 32: for an
    /// address whose prefix is already known to be valid (an interface's).
    pub fn clamped(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        Self {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }

    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    /// The network mask (`/24` → `0xffff_ff00`).
    pub fn mask(self) -> u32 {
        mask(self.prefix)
    }

    /// The broadcast address: every host bit set.
    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(self.range().1)
    }

    /// Whether the two subnets share any address (one contains the other).
    pub fn overlaps(self, other: Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        u32::from(self.network) & mask(shorter) == u32::from(other.network) & mask(shorter)
    }

    /// First and last address, inclusive.
    pub fn range(self) -> (u32, u32) {
        let lo = u32::from(self.network);
        (lo, lo | !mask(self.prefix))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    /// Parses `A.B.C.D/P` or a bare address (a /32).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SubnetError::BadSubnet { text: s.to_owned() };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().map_err(|_| bad())?),
            None => (s, 32),
        };
        Self::new(addr.parse().map_err(|_| bad())?, prefix)
    }
}

impl TryFrom<String> for Subnet {
    type Error = SubnetError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> Self {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(s: &str) -> Subnet {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_clear_host_bits_and_round_trip() {
        let s = Subnet::new(Ipv4Addr::new(192, 168, 0, 77), 24).unwrap();
        assert_eq!(s.to_string(), "192.168.0.0/24");
        assert!(s.contains(Ipv4Addr::new(192, 168, 0, 1)));
        assert!(!s.contains(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(subnet("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(subnet("0.0.0.0/0").range(), (0, u32::MAX));
        assert!(matches!(
            Subnet::new(Ipv4Addr::LOCALHOST, 33),
            Err(SubnetError::BadPrefix { prefix: 33 })
        ));
        assert!("10.0.0.0/x".parse::<Subnet>().is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"192.168.0.0/24\"");
        assert_eq!(serde_json::from_str::<Subnet>(&json).unwrap(), s);
    }

    #[test]
    fn masks_broadcasts_and_overlaps() {
        assert_eq!(subnet("192.168.0.0/24").mask(), 0xffff_ff00);
        assert_eq!(subnet("0.0.0.0/0").mask(), 0);
        assert_eq!(subnet("10.0.0.1/32").mask(), u32::MAX);
        assert_eq!(
            subnet("192.168.0.0/24").broadcast(),
            Ipv4Addr::new(192, 168, 0, 255)
        );
        assert_eq!(
            Subnet::clamped(Ipv4Addr::new(10, 1, 2, 3), 40),
            subnet("10.1.2.3/32")
        );
        assert!(subnet("192.168.0.0/24").overlaps(subnet("192.168.0.0/16")));
        assert!(subnet("192.168.0.0/16").overlaps(subnet("192.168.0.0/24")));
        assert!(!subnet("192.168.0.0/24").overlaps(subnet("192.168.1.0/24")));
    }
}
