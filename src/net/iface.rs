//! The host's network interfaces, as rescue-wizard needs to see them: which is the wired
//! port the router is plugged into, and why.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use crate::net::tool::Tool;
use crate::subnet::Subnet;

/// What kind of port an interface is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceKind {
    /// A physical wired Ethernet port (built in, or a USB adapter).
    Wired,
    /// A wireless port.
    Wireless,
    /// Software: bridges, veth pairs, tunnels, container and VPN links.
    Virtual,
    /// The loopback interface.
    Loopback,
}

/// One IPv4 address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// An address with its prefix.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Self {
            addr,
            prefix: prefix.min(32),
        }
    }

    /// The subnet this address lies in (host bits cleared).
    pub fn subnet(self) -> Subnet {
        Subnet::clamped(self.addr, self.prefix)
    }

    /// The network mask.
    pub fn mask(self) -> u32 {
        self.subnet().mask()
    }

    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        self.subnet().network()
    }

    /// Whether `other` lies in this address's subnet.
    pub fn contains(self, other: Ipv4Addr) -> bool {
        self.subnet().contains(other)
    }

    /// Whether the two subnets overlap.
    pub fn overlaps(self, other: Ipv4Cidr) -> bool {
        self.subnet().overlaps(other.subnet())
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

pub use crate::profile::schema::parse_mac;

/// A network interface of this host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interface {
    /// Kernel index.
    pub index: u32,
    /// Name (`eth0`, `enp3s0`, `enx00e04c680001`).
    pub name: String,
    /// What kind of port it is.
    pub kind: InterfaceKind,
    /// Hardware address, when it has one.
    pub mac: Option<String>,
    /// Administratively up.
    pub up: bool,
    /// A cable is in and the other end is alive (carrier).
    pub carrier: bool,
    /// IPv4 addresses with prefixes.
    pub ipv4: Vec<Ipv4Cidr>,
    /// MTU in bytes, when known.
    pub mtu: Option<u32>,
    /// Whether `NetworkManager` manages it (`None`: `NetworkManager` not found).
    pub managed_by_network_manager: Option<bool>,
}

impl Interface {
    /// Whether it carries `addr`.
    pub fn has_address(&self, addr: Ipv4Addr) -> bool {
        self.ipv4.iter().any(|a| a.addr == addr)
    }

    /// A link-local (169.254/16) address, which some systems add when DHCP finds nothing and
    /// which then answers in place of ours.
    pub fn link_local(&self) -> Option<Ipv4Cidr> {
        self.ipv4.iter().copied().find(|a| a.addr.is_link_local())
    }
}

/// Whether the port `name` has a link now (`None`: no such port). Cheaper than [`list`], which
/// also asks `NetworkManager`: for watching one port's link once a second.
pub fn carrier(name: &str) -> Option<bool> {
    netdev::get_interfaces()
        .iter()
        .find(|i| i.name == name)
        .map(has_carrier)
}

fn has_carrier(i: &netdev::Interface) -> bool {
    i.is_running() || i.is_oper_up()
}

/// Reads every interface of this host.
pub fn list() -> Vec<Interface> {
    let managed = network_manager_devices();
    netdev::get_interfaces()
        .into_iter()
        .map(|i| {
            let kind = classify(&i.name, i.is_loopback(), i.is_tun());
            let carrier = has_carrier(&i);
            let managed_by_network_manager = managed.as_ref().map(|list| {
                list.iter()
                    .any(|(name, managed)| *name == i.name && *managed)
            });
            Interface {
                index: i.index,
                mac: i
                    .mac_addr
                    .map(|m| m.to_string())
                    .filter(|m| m != "00:00:00:00:00:00"),
                up: i.is_up(),
                carrier,
                ipv4: i
                    .ipv4
                    .iter()
                    .map(|n| Ipv4Cidr::new(n.addr(), n.prefix_len()))
                    .collect(),
                mtu: i.mtu,
                managed_by_network_manager,
                kind,
                name: i.name,
            }
        })
        .collect()
}

/// Classifies by what sysfs says about the device (Linux); elsewhere by name.
fn classify(name: &str, loopback: bool, tun: bool) -> InterfaceKind {
    if loopback {
        return InterfaceKind::Loopback;
    }
    if tun {
        return InterfaceKind::Virtual;
    }
    let sys = Path::new("/sys/class/net").join(name);
    if sys.exists() {
        if sys.join("wireless").exists() || sys.join("phy80211").exists() {
            return InterfaceKind::Wireless;
        }
        // Physical devices have a `device` link to their bus; virtual ones live under
        // /sys/devices/virtual.
        return if sys.join("device").exists() {
            InterfaceKind::Wired
        } else {
            InterfaceKind::Virtual
        };
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("wl")
        || lower.contains("wi-fi")
        || lower.contains("wlan")
        || lower.contains("airport")
    {
        InterfaceKind::Wireless
    } else if [
        "docker",
        "br",
        "veth",
        "virbr",
        "vmnet",
        "tun",
        "tap",
        "utun",
        "bridge",
        "vboxnet",
        "zt",
        "tailscale",
        "wg",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
    {
        InterfaceKind::Virtual
    } else {
        InterfaceKind::Wired
    }
}

/// How long one `nmcli` command may take: it asks the `NetworkManager` daemon over D-Bus, which
/// answers within a second when it is well, and a stuck daemon must not stall a run.
const NMCLI_DEADLINE: Duration = Duration::from_secs(10);

/// The `nmcli` command with `args`, and its deadline.
pub(crate) fn nmcli(args: &[&str]) -> Tool {
    Tool::new("nmcli", NMCLI_DEADLINE).args(args)
}

/// Devices `NetworkManager` knows, with whether it manages them; `None` when `nmcli` is not
/// installed or `NetworkManager` is not running.
fn network_manager_devices() -> Option<Vec<(String, bool)>> {
    let stdout = nmcli(&["-t", "-f", "DEVICE,STATE", "device"])
        .run_ok()
        .ok()?;
    Some(parse_nmcli_devices(&stdout))
}

fn parse_nmcli_devices(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter_map(|line| {
            let (device, state) = line.rsplit_once(':')?;
            Some((device.replace("\\:", ":"), !state.starts_with("unmanaged")))
        })
        .collect()
}

/// The interface rescue-wizard recommends, and why; or why it cannot recommend one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// The recommended interface's name, if any.
    pub chosen: Option<String>,
    /// One sentence a technician can act on.
    pub reason: String,
}

/// Picks the wired physical port with a link. A laptop with only Wi-Fi (the USB Ethernet
/// adapter not plugged in) is explained, not guessed.
pub fn recommend(interfaces: &[Interface]) -> Recommendation {
    let wired: Vec<&Interface> = interfaces
        .iter()
        .filter(|i| i.kind == InterfaceKind::Wired)
        .collect();
    if let Some(best) = wired.iter().find(|i| i.carrier) {
        let others = wired.iter().filter(|i| i.carrier).count() - 1;
        let reason = if others == 0 {
            format!("{} is the only wired port with a cable in", best.name)
        } else {
            format!(
                "{} is the first of {} wired ports with a cable in; choose with --interface if the router is on another",
                best.name,
                others + 1
            )
        };
        return Recommendation {
            chosen: Some(best.name.clone()),
            reason,
        };
    }
    if let Some(first) = wired.first() {
        return Recommendation {
            chosen: Some(first.name.clone()),
            reason: format!(
                "{} is a wired port but no link is seen: plug the cable into the router's LAN port (or the port its procedure names) and power the router on",
                first.name
            ),
        };
    }
    let wireless = interfaces.iter().any(|i| i.kind == InterfaceKind::Wireless);
    let reason = if wireless {
        "this computer has only Wi-Fi right now: a bootloader in recovery mode speaks only over a cable. Plug in the USB Ethernet adapter (or use a computer with an Ethernet port) and run this again".to_owned()
    } else {
        "no wired Ethernet port found: plug in an Ethernet adapter and run this again".to_owned()
    };
    Recommendation {
        chosen: None,
        reason,
    }
}

/// Interfaces as a laptop shows them, for the tests of the modules that choose among them.
#[cfg(test)]
pub(crate) mod sample {
    use std::net::Ipv4Addr;

    use super::{Interface, InterfaceKind, Ipv4Cidr};

    /// `lo` with 127.0.0.1/8.
    pub(crate) fn loopback() -> Interface {
        Interface {
            index: 1,
            name: "lo".into(),
            kind: InterfaceKind::Loopback,
            mac: None,
            up: true,
            carrier: true,
            ipv4: vec![Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8)],
            mtu: Some(65536),
            managed_by_network_manager: None,
        }
    }

    /// A port of `kind` with a link, its hardware address, its addresses, and whether
    /// `NetworkManager` manages it.
    pub(crate) fn port(
        index: u32,
        name: &str,
        kind: InterfaceKind,
        mac: &str,
        ipv4: &[Ipv4Cidr],
        managed_by_network_manager: Option<bool>,
    ) -> Interface {
        Interface {
            index,
            name: name.into(),
            kind,
            mac: Some(mac.into()),
            up: true,
            carrier: true,
            ipv4: ipv4.to_vec(),
            mtu: Some(1500),
            managed_by_network_manager,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, kind: InterfaceKind, carrier: bool) -> Interface {
        Interface {
            index: 1,
            name: name.into(),
            kind,
            mac: None,
            up: true,
            carrier,
            ipv4: Vec::new(),
            mtu: Some(1500),
            managed_by_network_manager: None,
        }
    }

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
    fn subnets() {
        let a = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24);
        assert!(a.contains(Ipv4Addr::new(192, 168, 0, 86)));
        assert!(!a.contains(Ipv4Addr::new(192, 168, 1, 86)));
        assert_eq!(a.network(), Ipv4Addr::new(192, 168, 0, 0));
        assert!(a.overlaps(Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 10), 16)));
        assert!(!a.overlaps(Ipv4Cidr::new(Ipv4Addr::new(192, 168, 1, 10), 24)));
        assert_eq!(Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).mask(), 0);
    }

    #[test]
    fn the_wired_port_with_a_link_wins() {
        let list = [
            iface("lo", InterfaceKind::Loopback, true),
            iface("wlp2s0", InterfaceKind::Wireless, true),
            iface("docker0", InterfaceKind::Virtual, true),
            iface("enp0s31f6", InterfaceKind::Wired, false),
            iface("enx00e04c680001", InterfaceKind::Wired, true),
        ];
        let r = recommend(&list);
        assert_eq!(r.chosen.as_deref(), Some("enx00e04c680001"));
        assert!(
            r.reason.contains("only wired port with a cable in"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn wifi_only_is_explained() {
        let list = [
            iface("lo", InterfaceKind::Loopback, true),
            iface("wlan0", InterfaceKind::Wireless, true),
        ];
        let r = recommend(&list);
        assert_eq!(r.chosen, None);
        assert!(r.reason.contains("only Wi-Fi"), "{}", r.reason);
        let r = recommend(&[iface("eth0", InterfaceKind::Wired, false)]);
        assert_eq!(r.chosen.as_deref(), Some("eth0"));
        assert!(r.reason.contains("no link"));
    }

    #[test]
    fn nmcli_output_is_read() {
        let text = "eth0:connected\nwlan0:connected\nveth1:unmanaged\nlo:unmanaged (externally)\n";
        let devices = parse_nmcli_devices(text);
        assert_eq!(devices[0], ("eth0".into(), true));
        assert_eq!(devices[2], ("veth1".into(), false));
    }

    #[test]
    fn this_hosts_loopback_is_seen() {
        let all = list();
        let lo = all
            .iter()
            .find(|i| i.kind == InterfaceKind::Loopback)
            .expect("a loopback");
        assert!(lo.has_address(Ipv4Addr::LOCALHOST));
    }
}
