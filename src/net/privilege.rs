//! What this process may do to the network, found out once, and what to tell the technician
//! when it may not.

use std::fmt;

/// The Linux capabilities rescue-wizard uses (capabilities(7) bit numbers).
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;

/// What the process may do.
// Four independent facts read from the system, not a state machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privileges {
    /// Running as root (effective user 0).
    pub root: bool,
    /// May change addresses, links, neighbours and firewall rules.
    pub net_admin: bool,
    /// May capture frames (the wire watch) and send ARP probes.
    pub net_raw: bool,
    /// May listen on ports below 1024 (TFTP's 69).
    pub net_bind_service: bool,
}

/// A feature and the capability it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Listening on UDP port 69 (the router pulls).
    ListenOnPort69,
    /// Adding the rescue address, bringing the link up, static ARP, firewall rule.
    ChangeNetwork,
    /// Watching ARP and ICMP on the wire.
    WatchWire,
}

impl Feature {
    /// The capability that grants the feature.
    pub fn capability(self) -> &'static str {
        match self {
            Feature::ListenOnPort69 => "cap_net_bind_service",
            Feature::ChangeNetwork => "cap_net_admin",
            Feature::WatchWire => "cap_net_raw",
        }
    }

    /// What the feature is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::ListenOnPort69 => "listen on UDP port 69 (the router pulls the image)",
            Feature::ChangeNetwork => {
                "add the address the bootloader expects and undo it afterwards"
            }
            Feature::WatchWire => "watch ARP and ICMP to show what the router is doing",
        }
    }
}

impl Privileges {
    /// Reads the effective capabilities of this process (`/proc/self/status` on Linux; on
    /// other systems only whether it runs as root/administrator is known).
    pub fn detect() -> Self {
        let root = is_root();
        let effective = effective_capabilities();
        let has = |bit: u32| root || effective.is_some_and(|caps| caps & (1u64 << bit) != 0);
        Self {
            root,
            net_admin: has(CAP_NET_ADMIN),
            net_raw: has(CAP_NET_RAW),
            net_bind_service: has(CAP_NET_BIND_SERVICE),
        }
    }

    /// Whether the feature is available.
    pub fn allows(&self, feature: Feature) -> bool {
        match feature {
            Feature::ListenOnPort69 => self.net_bind_service,
            Feature::ChangeNetwork => self.net_admin,
            Feature::WatchWire => self.net_raw,
        }
    }

    /// The features that are not available.
    pub fn missing(&self) -> Vec<Feature> {
        [
            Feature::ListenOnPort69,
            Feature::ChangeNetwork,
            Feature::WatchWire,
        ]
        .into_iter()
        .filter(|f| !self.allows(*f))
        .collect()
    }

    /// The two remedies, with the exact commands for this binary.
    pub fn remedy(&self) -> String {
        let exe = std::env::current_exe()
            .map_or_else(|_| "rescue-wizard".to_owned(), |p| p.display().to_string());
        format!(
            "run it with sudo, or grant the capabilities once: sudo setcap cap_net_admin,cap_net_raw,cap_net_bind_service+ep {exe}\n  (capabilities are lost when the binary is replaced, e.g. by `cargo install`, and ignored on nosuid mounts)"
        )
    }
}

impl fmt::Display for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.root {
            return write!(f, "root");
        }
        let granted: Vec<&str> = [
            (self.net_admin, "cap_net_admin"),
            (self.net_raw, "cap_net_raw"),
            (self.net_bind_service, "cap_net_bind_service"),
        ]
        .into_iter()
        .filter_map(|(has, name)| has.then_some(name))
        .collect();
        if granted.is_empty() {
            write!(f, "an unprivileged user")
        } else {
            write!(f, "an unprivileged user with {}", granted.join(", "))
        }
    }
}

#[cfg(unix)]
fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

/// The `CapEff` mask, parsed from `/proc/self/status`.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_from_the_status_mask() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\n";
        let caps = parse_cap_eff(status).unwrap();
        assert_eq!(caps & (1 << CAP_NET_ADMIN), 1 << CAP_NET_ADMIN);
        assert_eq!(caps & (1 << CAP_NET_RAW), 1 << CAP_NET_RAW);
        assert_eq!(caps & (1 << CAP_NET_BIND_SERVICE), 0);
        assert_eq!(parse_cap_eff("no caps here"), None);
    }

    #[test]
    fn missing_features_name_their_capability() {
        let none = Privileges {
            root: false,
            net_admin: false,
            net_raw: true,
            net_bind_service: false,
        };
        let missing = none.missing();
        assert_eq!(
            missing,
            vec![Feature::ListenOnPort69, Feature::ChangeNetwork]
        );
        assert_eq!(missing[0].capability(), "cap_net_bind_service");
        assert!(
            none.remedy()
                .contains("setcap cap_net_admin,cap_net_raw,cap_net_bind_service+ep")
        );
        assert_eq!(none.to_string(), "an unprivileged user with cap_net_raw");
    }
}
