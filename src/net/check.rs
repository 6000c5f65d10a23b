//! The host-side checklist: is this laptop ready for the router? Each item says pass, warn
//! or fail, with what was seen and the fix.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::iface::{Interface, InterfaceKind, Ipv4Cidr, recommend};
use super::port_owner::{PortOwner, udp_port_bound, udp_port_owners};
use super::privilege::{Feature, Privileges};

/// How one item of the host checklist came out (an image's checks have their own
/// [`crate::image::ImageVerdict`]; the firewall's, [`super::firewall::DropVerdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckOutcome {
    /// Fine.
    Pass,
    /// Works, but something may get in the way.
    Warn,
    /// Will not work until fixed.
    Fail,
}

/// What a check is about: the run keys its behaviour on this, never on the item's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// What this process may do (root, capabilities).
    Privileges,
    /// The port's kind (wired, Wi-Fi, virtual, loopback).
    Interface,
    /// The cable's link (carrier).
    Link,
    /// The port is switched off (administratively down): the run brings it up.
    PortSwitchedOff,
    /// The port's MTU.
    Mtu,
    /// NetworkManager manages the port.
    NetworkManager,
    /// A link-local address on the port.
    LinkLocal,
    /// The rescue address on the port (missing, elsewhere, or with another prefix).
    Address,
    /// Another port reaches the router's subnet.
    Subnet,
    /// The router's own address (free, ours, outside the subnet).
    RouterAddress,
    /// UDP port 69 (free or taken).
    Port69,
    /// The host firewall's rules for the router's traffic: a rule (or a drop policy) drops
    /// or likely drops it, or nothing does.
    Firewall,
    /// The host firewall's rules could not be read.
    FirewallUnread,
    /// Whether the port can be watched (a capture).
    WireWatch,
    /// A simulated run: nothing on the host is checked.
    Simulated,
}

/// One item of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// What it is about.
    pub kind: CheckKind,
    /// What was checked, in words.
    pub item: String,
    /// How it came out.
    pub verdict: CheckOutcome,
    /// What was seen.
    pub detail: String,
    /// What to do, when something is wrong.
    pub fix: Option<String>,
}

impl Check {
    /// A check of `kind` that came out `verdict`.
    pub fn new(
        kind: CheckKind,
        item: impl Into<String>,
        verdict: CheckOutcome,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Self {
            kind,
            item: item.into(),
            verdict,
            detail: detail.into(),
            fix,
        }
    }

    fn pass(kind: CheckKind, item: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(kind, item, CheckOutcome::Pass, detail, None)
    }

    fn warn(
        kind: CheckKind,
        item: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(kind, item, CheckOutcome::Warn, detail, Some(fix.into()))
    }

    fn fail(
        kind: CheckKind,
        item: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(kind, item, CheckOutcome::Fail, detail, Some(fix.into()))
    }
}

/// Who puts an item right when it is not a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fixer {
    /// The recovery run does it itself (with consent) and undoes it at the end: a missing
    /// address, a port switched off, an address NetworkManager removes.
    Run,
    /// The technician must: a cable, another program on port 69, privileges, a firewall rule.
    You,
}

/// One checklist item and who fixes it, as `doctor` shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckItem {
    /// The item.
    pub check: Check,
    /// Who fixes it (meaningful when it is not a pass).
    pub fixer: Fixer,
}

impl From<Check> for CheckItem {
    fn from(check: Check) -> Self {
        Self {
            check,
            fixer: Fixer::You,
        }
    }
}

impl Check {
    /// This item, put right by the recovery run itself.
    fn by_the_run(self) -> CheckItem {
        CheckItem {
            check: self,
            fixer: Fixer::Run,
        }
    }
}

/// What the device's procedure needs from this laptop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostNeeds {
    /// The address (and prefix) the bootloader expects the laptop to have.
    pub host: Option<Ipv4Cidr>,
    /// The bootloader's own address.
    pub router: Option<Ipv4Addr>,
    /// Whether rescue-wizard will listen on UDP port 69 (the router pulls).
    pub listens: bool,
}

/// Everything the checks look at, gathered once.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The host's interfaces.
    pub interfaces: Vec<Interface>,
    /// What this process may do.
    pub privileges: Privileges,
    /// Whether UDP 69 is bound on this host (`None`: unknown).
    pub port69_bound: Option<bool>,
    /// Who holds UDP 69, where that can be seen.
    pub port69_owners: Vec<PortOwner>,
}

impl HostFacts {
    /// Reads the facts from this host.
    pub fn gather() -> Self {
        Self {
            interfaces: super::iface::list(),
            privileges: Privileges::detect(),
            port69_bound: udp_port_bound(super::wire::TFTP_PORT),
            port69_owners: udp_port_owners(super::wire::TFTP_PORT),
        }
    }
}

/// Picks the interface: the one named (which must exist), or the recommended one.
pub fn choose<'a>(
    interfaces: &'a [Interface],
    named: Option<&str>,
) -> Result<&'a Interface, String> {
    if let Some(name) = named {
        return interfaces.iter().find(|i| i.name == name).ok_or_else(|| {
            let known: Vec<&str> = interfaces
                .iter()
                .filter(|i| i.kind != InterfaceKind::Loopback)
                .map(|i| i.name.as_str())
                .collect();
            format!(
                "there is no interface named \"{name}\" on this computer.\n  fix: choose one of: {}",
                known.join(", ")
            )
        });
    }
    let recommendation = recommend(interfaces);
    recommendation
        .chosen
        .as_deref()
        .and_then(|name| interfaces.iter().find(|i| i.name == name))
        .ok_or_else(|| {
            format!(
                "{}.\n  ports seen: {}\n  fix: plug the router's cable into a wired port (or a USB Ethernet adapter), or name the port with --interface NAME",
                recommendation.reason,
                ports_seen(interfaces)
            )
        })
}

/// The ports on this computer as a technician would tell them apart: name, kind, link and
/// IPv4 addresses (`wlan0 (Wi-Fi, link, 192.168.1.23/24)`), loopback left out.
pub fn ports_seen(interfaces: &[Interface]) -> String {
    let ports: Vec<String> = interfaces
        .iter()
        .filter(|i| i.kind != InterfaceKind::Loopback)
        .map(|i| {
            let kind = match i.kind {
                InterfaceKind::Wired => "wired",
                InterfaceKind::Wireless => "Wi-Fi",
                InterfaceKind::Virtual => "virtual",
                InterfaceKind::Loopback => "loopback",
            };
            let link = if !i.up {
                "switched off"
            } else if i.carrier {
                "link"
            } else {
                "no link"
            };
            let mut parts = vec![kind.to_owned(), link.to_owned()];
            parts.extend(i.ipv4.iter().map(ToString::to_string));
            format!("{} ({})", i.name, parts.join(", "))
        })
        .collect();
    if ports.is_empty() {
        "none but loopback".to_owned()
    } else {
        ports.join("; ")
    }
}

/// [`run`], then the host firewall's rules for the router's subnet on `iface` (which reads
/// nftables, iptables, ufw and firewalld): what `doctor` and the recovery run's preflight show.
pub fn run_with_firewall(facts: &HostFacts, iface: &Interface, expect: &HostNeeds) -> Vec<Check> {
    assess(facts, iface, expect, true)
        .into_iter()
        .map(|item| item.check)
        .collect()
}

/// Runs every host check for `iface` against what the device expects.
pub fn run(facts: &HostFacts, iface: &Interface, expect: &HostNeeds) -> Vec<Check> {
    assess(facts, iface, expect, false)
        .into_iter()
        .map(|item| item.check)
        .collect()
}

/// Every host check for `iface`, each with who fixes it; with `firewall`, the host firewall's
/// rules for the router's subnet too.
pub fn assess(
    facts: &HostFacts,
    iface: &Interface,
    expect: &HostNeeds,
    firewall: bool,
) -> Vec<CheckItem> {
    let mut items = vec![CheckItem::from(privileges(facts.privileges, expect))];
    items.extend(interface(iface));
    if let Some(host) = expect.host {
        items.extend(addressing(facts, iface, host, expect.router));
    }
    if expect.listens {
        items.push(port69(facts).into());
    }
    if firewall
        && let Some(host) = expect.host
        && let Ok(subnet) = super::firewall::Subnet::new(host.network(), host.prefix)
    {
        items.extend(
            self::firewall(
                &super::firewall::inspect(subnet, &iface.name),
                expect.listens,
            )
            .into_iter()
            .map(CheckItem::from),
        );
    }
    items
}

fn privileges(privileges: Privileges, expect: &HostNeeds) -> Check {
    let mut missing = privileges.missing();
    if !expect.listens {
        missing.retain(|f| *f != Feature::ListenOnPort69);
    }
    if missing.is_empty() {
        return Check::pass(
            CheckKind::Privileges,
            "privileges",
            format!("running as {privileges}"),
        );
    }
    let lines: Vec<String> = missing
        .iter()
        .map(|f| format!("cannot {} (needs {})", f.describe(), f.capability()))
        .collect();
    let verdict_fail =
        missing.contains(&Feature::ListenOnPort69) || missing.contains(&Feature::ChangeNetwork);
    let detail = format!("running as {privileges}: {}", lines.join("; "));
    if verdict_fail {
        Check::fail(
            CheckKind::Privileges,
            "privileges",
            detail,
            privileges.remedy(),
        )
    } else {
        Check::warn(
            CheckKind::Privileges,
            "privileges",
            detail,
            privileges.remedy(),
        )
    }
}

fn interface(iface: &Interface) -> Vec<CheckItem> {
    let item = format!("interface {}", iface.name);
    let mut checks: Vec<CheckItem> = Vec::new();
    match iface.kind {
        InterfaceKind::Wired => checks.push(Check::pass(CheckKind::Interface, item.clone(), "a wired port").into()),
        InterfaceKind::Wireless => checks.push(CheckItem::from(Check::fail(CheckKind::Interface,
            item.clone(),
            "a Wi-Fi interface: bootloaders in recovery mode speak only over a cable",
            "plug a cable from a wired port (or a USB Ethernet adapter) into the router and choose it with --interface",
        ))),
        InterfaceKind::Virtual => checks.push(CheckItem::from(Check::warn(CheckKind::Interface,
            item.clone(),
            "a virtual interface (bridge, container or tunnel)",
            "make sure it really leads to the router's cable; otherwise choose the wired port with --interface",
        ))),
        InterfaceKind::Loopback => checks.push(CheckItem::from(Check::fail(CheckKind::Interface,
            item.clone(),
            "the loopback interface",
            "choose the wired port the router is plugged into with --interface",
        ))),
    }
    if !iface.up {
        checks.push(
            Check::fail(CheckKind::PortSwitchedOff,
                format!("link {}", iface.name),
                "the interface is switched off (administratively down)",
                format!(
                    "the recovery run brings it up (and down again at the end); by hand: sudo ip link set {} up",
                    iface.name
                ),
            )
            .by_the_run(),
        );
    } else if !iface.carrier {
        checks.push(CheckItem::from(Check::fail(CheckKind::Link,
            format!("link {}", iface.name),
            "no link: no cable, or the router is off",
            "check the cable is in the router's LAN port (or the port its steps name) and power the router on; a small unmanaged switch between them keeps the link up while the router reboots",
        )));
    } else {
        checks.push(CheckItem::from(Check::pass(
            CheckKind::Link,
            format!("link {}", iface.name),
            "cable in, link up",
        )));
    }
    if let Some(mtu) = iface.mtu
        && mtu < 576
    {
        checks.push(CheckItem::from(Check::fail(
            CheckKind::Mtu,
            format!("MTU {}", iface.name),
            format!("MTU {mtu} is below the 576 bytes IPv4 guarantees"),
            format!("sudo ip link set {} mtu 1500", iface.name),
        )));
    }
    if iface.managed_by_network_manager == Some(true) {
        checks.push(
            Check::warn(CheckKind::NetworkManager,
                format!("NetworkManager on {}", iface.name),
                "NetworkManager manages this port and may remove added addresses when the link drops (the router rebooting)",
                format!(
                    "the recovery run puts a removed address back within a second; to stop NetworkManager touching the port for now: nmcli device set {} managed no (and `managed yes` afterwards)",
                    iface.name
                ),
            )
            .by_the_run(),
        );
    }
    if let Some(ll) = iface.link_local() {
        checks.push(CheckItem::from(Check::warn(
            CheckKind::LinkLocal,
            format!("link-local address on {}", iface.name),
            format!(
                "{ll} is on the port (DHCP found no server); some systems answer from it instead"
            ),
            format!(
                "remove it for the session: sudo ip addr del {ll} dev {}",
                iface.name
            ),
        )));
    }
    checks
}

fn addressing(
    facts: &HostFacts,
    iface: &Interface,
    host: Ipv4Cidr,
    router: Option<Ipv4Addr>,
) -> Vec<CheckItem> {
    let mut checks: Vec<CheckItem> = Vec::new();
    let item = format!("address {host} on {}", iface.name);
    let present = iface.ipv4.iter().find(|a| a.addr == host.addr);
    if let Some(&present) = present {
        checks.push(prefix(iface, host, present, router).into());
    } else if let Some(other) = facts
        .interfaces
        .iter()
        .find(|i| i.name != iface.name && i.has_address(host.addr))
    {
        checks.push(CheckItem::from(Check::fail(
            CheckKind::Address,
            item,
            format!("{} is on {} instead", host.addr, other.name),
            format!(
                "remove it there (sudo ip addr del {host} dev {}) or choose --interface {}",
                other.name, other.name
            ),
        )));
    } else {
        checks.push(
            Check::fail(CheckKind::Address,
                item,
                "missing: the bootloader will not find this computer",
                format!(
                    "the recovery run adds it for the session (after asking) and removes it afterwards; by hand: sudo ip addr add {host} dev {}",
                    iface.name
                ),
            )
            .by_the_run(),
        );
    }
    let subnet = Ipv4Cidr::new(host.network(), host.prefix);
    for other in facts
        .interfaces
        .iter()
        .filter(|i| i.name != iface.name && i.kind != InterfaceKind::Loopback)
    {
        if let Some(clash) = other
            .ipv4
            .iter()
            .find(|a| a.overlaps(subnet) && a.addr != host.addr)
        {
            checks.push(CheckItem::from(Check::warn(CheckKind::Subnet,
                format!("subnet {subnet}"),
                format!(
                    "{} also reaches {subnet} ({clash}): traffic for the router may leave through it (home Wi-Fi often uses this subnet)",
                    other.name
                ),
                format!("disconnect {} for the recovery (e.g. turn Wi-Fi off)", other.name),
            )));
        }
    }
    if let Some(router) = router {
        if let Some(holder) = facts.interfaces.iter().find(|i| i.has_address(router)) {
            checks.push(CheckItem::from(Check::fail(
                CheckKind::RouterAddress,
                format!("router address {router}"),
                format!(
                    "{router} is this computer's own address (on {})",
                    holder.name
                ),
                format!(
                    "remove it: sudo ip addr del {router}/{} dev {}",
                    host.prefix, holder.name
                ),
            )));
        } else if !host.contains(router) {
            checks.push(CheckItem::from(Check::warn(
                CheckKind::RouterAddress,
                format!("router address {router}"),
                format!("{router} is outside {subnet}"),
                "check the device profile: the laptop and the bootloader must share a subnet",
            )));
        } else {
            checks.push(CheckItem::from(Check::pass(
                CheckKind::RouterAddress,
                format!("router address {router}"),
                format!("free, in {subnet}"),
            )));
        }
    }
    checks
}

/// The address is on the port: is its prefix the bootloader's? 192.168.0.66/16 is not /24:
/// the broadcast address differs, and a narrower prefix can leave the router outside it.
fn prefix(iface: &Interface, host: Ipv4Cidr, present: Ipv4Cidr, router: Option<Ipv4Addr>) -> Check {
    let item = format!("address {host} on {}", iface.name);
    if present.prefix == host.prefix {
        return Check::pass(CheckKind::Address, item, "present");
    }
    let fix = format!(
        "give it the procedure's prefix: sudo ip addr del {present} dev {name} && sudo ip addr add {host} dev {name}",
        name = iface.name
    );
    match router {
        Some(router) if !present.contains(router) => Check::fail(
            CheckKind::Address,
            item,
            format!(
                "present as {present}: the router's {router} is outside it, so this computer will not answer it"
            ),
            fix,
        ),
        _ => Check::warn(
            CheckKind::Address,
            item,
            format!(
                "present as {present}, not /{}: the bootloader's subnet is {}/{}, and broadcasts go elsewhere",
                host.prefix,
                host.network(),
                host.prefix
            ),
            fix,
        ),
    }
}

fn port69(facts: &HostFacts) -> Check {
    match facts.port69_bound {
        Some(true) => {
            let who = facts
                .port69_owners
                .iter()
                .map(|o| format!("{} (pid {})", o.name, o.pid))
                .collect::<Vec<_>>()
                .join(", ");
            let held = if who.is_empty() {
                "another process".to_owned()
            } else {
                who
            };
            Check::fail(
                CheckKind::Port69,
                "UDP port 69",
                format!("taken by {held}: the router's request would go there"),
                "stop it for the recovery: sudo systemctl stop tftpd-hpa (or atftpd, dnsmasq, in.tftpd: whichever it is), or kill the process named",
            )
        }
        Some(false) => Check::pass(CheckKind::Port69, "UDP port 69", "free"),
        None => Check::warn(
            CheckKind::Port69,
            "UDP port 69",
            "cannot tell whether another TFTP server holds it",
            "stop any other TFTP server (Tftpd64, tftpd-hpa) before starting",
        ),
    }
}

/// The firewall's verdicts on the traffic the procedure needs: requests to port 69 when the
/// router pulls (`listens`), replies to our ports when we push.
///
/// Only a rule (or a drop policy) that would drop that traffic warns or fails, with the exact
/// command that lets it in; a firewall that is not installed holds no rules and says nothing,
/// and one that could not be read says so with what would let it be read.
pub fn firewall(findings: &[super::firewall::RuleEffect], listens: bool) -> Vec<Check> {
    use super::firewall::{DropVerdict as Fw, Traffic};
    let wanted = if listens {
        Traffic::Requests
    } else {
        Traffic::Replies
    };
    let what = if listens {
        "the router's requests to UDP port 69"
    } else {
        "the router's TFTP replies to this computer"
    };
    let relevant: Vec<_> = findings.iter().filter(|f| f.traffic == wanted).collect();
    let mut checks: Vec<Check> = relevant
        .iter()
        .filter(|f| matches!(f.verdict, Fw::Blocks | Fw::Likely))
        .map(|f| {
            let item = format!("firewall ({})", f.backend);
            let mut detail = f.explanation.clone();
            if let Some(rule) = &f.rule {
                let _ = write!(detail, " [rule: {rule}]");
            }
            let fix = f.fix.clone().unwrap_or_else(|| {
                format!("let UDP from the router's subnet in through {}", f.backend)
            });
            match f.verdict {
                Fw::Blocks => Check::fail(CheckKind::Firewall, item, detail, fix),
                _ => Check::warn(CheckKind::Firewall, item, detail, fix),
            }
        })
        .collect();
    checks.extend(
        relevant
            .iter()
            .filter(|f| f.verdict == Fw::Unknown)
            .map(|f| {
                Check::warn(
                    CheckKind::FirewallUnread,
                    format!("firewall ({})", f.backend),
                    f.explanation.clone(),
                    "run this as root (sudo), which may read the firewall's rules",
                )
            }),
    );
    if checks.is_empty() {
        checks.push(Check::pass(
            CheckKind::Firewall,
            "firewall",
            format!("nothing drops {what}"),
        ));
    }
    checks
}

/// Counts of failed and warned items.
pub fn tally(checks: &[Check]) -> (usize, usize, usize) {
    let fails = checks
        .iter()
        .filter(|c| c.verdict == CheckOutcome::Fail)
        .count();
    let warns = checks
        .iter()
        .filter(|c| c.verdict == CheckOutcome::Warn)
        .count();
    (fails, warns, checks.len() - fails - warns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, kind: InterfaceKind, addrs: &[(Ipv4Addr, u8)]) -> Interface {
        Interface {
            index: 2,
            name: name.into(),
            kind,
            mac: None,
            up: true,
            carrier: true,
            ipv4: addrs.iter().map(|(a, p)| Ipv4Cidr::new(*a, *p)).collect(),
            mtu: Some(1500),
            managed_by_network_manager: None,
        }
    }

    fn facts(interfaces: Vec<Interface>) -> HostFacts {
        HostFacts {
            interfaces,
            privileges: Privileges {
                root: true,
                net_admin: true,
                net_raw: true,
                net_bind_service: true,
            },
            port69_bound: Some(false),
            port69_owners: Vec::new(),
        }
    }

    const HOST: Ipv4Cidr = Ipv4Cidr {
        addr: Ipv4Addr::new(192, 168, 0, 66),
        prefix: 24,
    };

    #[test]
    fn a_ready_laptop_passes() {
        let f = facts(vec![iface(
            "eth0",
            InterfaceKind::Wired,
            &[(HOST.addr, 24)],
        )]);
        let expect = HostNeeds {
            host: Some(HOST),
            router: Some(Ipv4Addr::new(192, 168, 0, 86)),
            listens: true,
        };
        let checks = run(&f, &f.interfaces[0], &expect);
        assert_eq!(tally(&checks).0, 0, "{checks:#?}");
    }

    #[test]
    fn the_usual_mistakes_are_named() {
        let mut eth = iface(
            "eth0",
            InterfaceKind::Wired,
            &[(Ipv4Addr::new(169, 254, 3, 4), 16)],
        );
        eth.carrier = false;
        let wifi = iface(
            "wlan0",
            InterfaceKind::Wireless,
            &[(Ipv4Addr::new(192, 168, 0, 23), 24)],
        );
        let mut f = facts(vec![eth, wifi]);
        f.port69_bound = Some(true);
        f.port69_owners = vec![PortOwner {
            pid: 42,
            name: "in.tftpd".into(),
        }];
        let expect = HostNeeds {
            host: Some(HOST),
            router: Some(Ipv4Addr::new(192, 168, 0, 23)),
            listens: true,
        };
        let checks = run(&f, &f.interfaces[0], &expect);
        let find = |item: &str| {
            checks
                .iter()
                .find(|c| c.item.starts_with(item))
                .unwrap_or_else(|| panic!("{item}: {checks:#?}"))
        };
        assert_eq!(find("link eth0").verdict, CheckOutcome::Fail);
        assert_eq!(find("address 192.168.0.66/24").verdict, CheckOutcome::Fail);
        assert_eq!(find("subnet 192.168.0.0/24").verdict, CheckOutcome::Warn);
        assert!(find("subnet").detail.contains("wlan0"));
        assert_eq!(find("link-local").verdict, CheckOutcome::Warn);
        assert_eq!(find("router address").verdict, CheckOutcome::Fail);
        let port = find("UDP port 69");
        assert_eq!(port.verdict, CheckOutcome::Fail);
        assert!(port.detail.contains("in.tftpd (pid 42)"));
        assert!(
            checks
                .iter()
                .filter(|c| c.verdict != CheckOutcome::Pass)
                .all(|c| c.fix.is_some())
        );
    }

    #[test]
    fn choosing_a_missing_interface_lists_the_real_ones() {
        let list = vec![
            iface("eth0", InterfaceKind::Wired, &[]),
            iface("lo", InterfaceKind::Loopback, &[]),
        ];
        let err = choose(&list, Some("eth9")).unwrap_err();
        assert!(
            err.contains("\"eth9\"") && err.contains("eth0") && !err.contains("lo,"),
            "{err}"
        );
        assert_eq!(choose(&list, None).unwrap().name, "eth0");
    }

    #[test]
    fn a_wrong_prefix_is_not_a_pass() {
        let wide = facts(vec![iface(
            "eth0",
            InterfaceKind::Wired,
            &[(HOST.addr, 16)],
        )]);
        let router = Some(Ipv4Addr::new(192, 168, 0, 86));
        let checks = addressing(&wide, &wide.interfaces[0], HOST, router);
        let address = &checks[0].check;
        assert_eq!(address.verdict, CheckOutcome::Warn, "{address:#?}");
        assert!(address.detail.contains("192.168.0.66/16"), "{address:#?}");
        assert!(
            address
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("ip addr add 192.168.0.66/24 dev eth0")),
            "{address:#?}"
        );
        // A prefix so narrow that the router is outside it cannot work.
        let narrow = facts(vec![iface(
            "eth0",
            InterfaceKind::Wired,
            &[(HOST.addr, 30)],
        )]);
        let checks = addressing(&narrow, &narrow.interfaces[0], HOST, router);
        assert_eq!(checks[0].check.verdict, CheckOutcome::Fail, "{checks:#?}");
    }

    #[test]
    fn the_run_fixes_the_address_and_the_link_the_technician_the_rest() {
        let mut eth = iface("eth0", InterfaceKind::Wired, &[]);
        eth.up = false;
        let mut f = facts(vec![eth]);
        f.port69_bound = Some(true);
        let expect = HostNeeds {
            host: Some(HOST),
            router: Some(Ipv4Addr::new(192, 168, 0, 86)),
            listens: true,
        };
        let items = assess(&f, &f.interfaces[0], &expect, false);
        let fixer = |item: &str| {
            items
                .iter()
                .find(|i| i.check.item.starts_with(item))
                .unwrap_or_else(|| panic!("{item}: {items:#?}"))
                .fixer
        };
        assert_eq!(fixer("link eth0"), Fixer::Run);
        assert_eq!(fixer("address 192.168.0.66/24"), Fixer::Run);
        assert_eq!(fixer("UDP port 69"), Fixer::You);
        // No cable is the technician's to fix.
        let mut unplugged = iface("eth0", InterfaceKind::Wired, &[]);
        unplugged.carrier = false;
        let f = facts(vec![unplugged]);
        let items = assess(&f, &f.interfaces[0], &expect, false);
        assert!(
            items
                .iter()
                .any(|i| i.check.item == "link eth0" && i.fixer == Fixer::You),
            "{items:#?}"
        );
    }

    #[test]
    fn no_wired_port_lists_the_ports_seen() {
        let list = vec![
            crate::net::iface::sample::loopback(),
            iface(
                "wlan0",
                InterfaceKind::Wireless,
                &[(Ipv4Addr::new(192, 168, 1, 23), 24)],
            ),
        ];
        let err = choose(&list, None).unwrap_err();
        assert!(
            err.contains("ports seen: wlan0 (Wi-Fi, link, 192.168.1.23/24)"),
            "{err}"
        );
        assert!(err.contains("fix:") && err.contains("--interface"), "{err}");
        assert!(!err.contains("lo ("), "{err}");
    }

    fn finding(
        backend: crate::net::firewall::Backend,
        verdict: crate::net::firewall::DropVerdict,
        fix: Option<&str>,
    ) -> crate::net::firewall::RuleEffect {
        crate::net::firewall::RuleEffect {
            backend,
            traffic: crate::net::firewall::Traffic::Requests,
            verdict,
            rule: None,
            explanation: format!("{backend} said {verdict:?}."),
            fix: fix.map(str::to_owned),
        }
    }

    #[test]
    fn the_firewall_warns_only_about_a_rule_that_drops() {
        use crate::net::firewall::{Backend, DropVerdict as Fw};
        // Nothing installed, or everything clear: a pass, and no flag named.
        for findings in [vec![], vec![finding(Backend::Nftables, Fw::Clear, None)]] {
            let checks = firewall(&findings, true);
            assert_eq!(checks.len(), 1, "{checks:#?}");
            assert_eq!(checks[0].verdict, CheckOutcome::Pass);
        }
        // A dropping rule: its exact command as the fix.
        let fix = "nft insert rule inet filter input iifname \"eth0\" ip saddr 192.168.0.0/24 meta l4proto udp accept comment \"rescue-wizard\"";
        let checks = firewall(&[finding(Backend::Nftables, Fw::Blocks, Some(fix))], true);
        assert_eq!(checks[0].verdict, CheckOutcome::Fail);
        assert_eq!(checks[0].fix.as_deref(), Some(fix));
        // A firewall that could not be read is not blamed, and names no flag.
        let checks = firewall(&[finding(Backend::Ufw, Fw::Unknown, None)], true);
        assert_eq!(checks[0].verdict, CheckOutcome::Warn);
        assert!(
            checks
                .iter()
                .all(|c| !c.fix.as_deref().unwrap_or_default().contains("--")),
            "{checks:#?}"
        );
    }
}
