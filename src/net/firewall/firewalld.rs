//! firewalld: `firewall-cmd --get-active-zones` and `--list-all --zone=Z` read into the rule
//! model, and the rich rule that allows the router's subnet (firewalld's rules are never
//! changed by rescue-wizard).

use std::collections::HashMap;

use super::iptables::{ipt_addrs, ipt_ports};
use super::model::{Action, Base, Cond, Hook, Rule, Ruleset, TFTP_PORT, Table, Tri, View};
use super::{Backend, DropVerdict, RuleEffect, Subnet, Traffic};

pub(super) struct Zone {
    pub(super) running: bool,
    pub(super) name: String,
    pub(super) ruleset: Ruleset,
}

impl Zone {
    pub(super) fn stopped() -> Self {
        Self {
            running: false,
            name: String::new(),
            ruleset: Ruleset::default(),
        }
    }
}

/// Active zones: name, interfaces, sources.
pub(super) fn parse_active_zones(text: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut zones: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            let name = line.split_whitespace().next().unwrap_or("").to_owned();
            zones.push((name, Vec::new(), Vec::new()));
        } else if let Some(zone) = zones.last_mut() {
            let line = line.trim();
            let words = |rest: &str| {
                rest.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            if let Some(rest) = line.strip_prefix("interfaces:") {
                zone.1 = words(rest);
            } else if let Some(rest) = line.strip_prefix("sources:") {
                zone.2 = words(rest);
            }
        }
    }
    zones
}

/// The zone firewalld applies to the router's packets: a zone whose source covers the
/// subnet wins (firewalld matches sources before interfaces), then the interface's zone.
pub(super) fn zone_for(
    zones: &[(String, Vec<String>, Vec<String>)],
    subnet: Subnet,
    iface: &str,
) -> Option<String> {
    let by_source = zones.iter().find(|(_, _, sources)| {
        sources.iter().any(|s| {
            ipt_addrs(s).is_some_and(|set| Tri::of_ranges(subnet.range(), &set) == Tri::Yes)
        })
    });
    by_source
        .or_else(|| {
            zones
                .iter()
                .find(|(_, ifaces, _)| ifaces.iter().any(|i| i == iface))
        })
        .map(|z| z.0.clone())
}

/// Parses `firewall-cmd --list-all --zone=Z` into the rule model: rich rules that drop come
/// first (firewalld orders deny before allow), then accepting rich rules, the tftp service,
/// ports and protocols, then the zone target.
pub(super) fn parse_zone(name: &str, text: &str) -> Zone {
    let (fields, rich) = zone_listing(text);
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let target = field("target");
    let mut drops = Vec::new();
    let mut accepts = Vec::new();
    for rule in rich.iter().filter_map(|r| rich_rule(r)) {
        match rule.action {
            Action::Accept => accepts.push(rule),
            _ => drops.push(rule),
        }
    }
    let mut rules = drops;
    rules.extend(accepts);
    rules.extend(zone_accepts(
        name,
        &field("services"),
        &field("ports"),
        &field("protocols"),
        &target,
    ));
    let mut chains = HashMap::new();
    chains.insert(name.to_owned(), rules);
    Zone {
        running: true,
        name: name.to_owned(),
        ruleset: Ruleset {
            tables: vec![Table {
                chains,
                bases: vec![Base {
                    chain: name.to_owned(),
                    hook: Hook::Input,
                    priority: 0,
                    // default, REJECT, %%REJECT%% and DROP all end in a drop or reject.
                    policy_drop: target != "ACCEPT",
                }],
                ..Table::default()
            }],
            helper: false,
        },
    }
}

/// The `key: value` fields of a `--list-all` listing, and its rich rules (the first on the
/// `rich rules:` line, the rest indented below it).
fn zone_listing(text: &str) -> (HashMap<&str, String>, Vec<String>) {
    let mut fields: HashMap<&str, String> = HashMap::new();
    let mut rich = Vec::new();
    for line in text.lines() {
        if (line.starts_with('\t') || line.starts_with("        "))
            && line.trim().starts_with("rule")
        {
            rich.push(line.trim().to_owned());
            continue;
        }
        if let Some((k, v)) = line.trim().split_once(':') {
            fields.insert(k.trim(), v.trim().to_owned());
            if k.trim() == "rich rules" && v.trim().starts_with("rule") {
                rich.push(v.trim().to_owned());
            }
        }
    }
    (fields, rich)
}

/// One IPv4 rich rule as an accepting or dropping rule; `None` for IPv6 rules and rules that
/// neither accept nor drop (log, audit, mark).
fn rich_rule(r: &str) -> Option<Rule> {
    if r.contains("family=\"ipv6\"") {
        return None;
    }
    let mut conds = Vec::new();
    if let Some(addr) = quoted_after(r, "source address=") {
        let negated = r.contains("source NOT address") || r.contains("source not address");
        conds.push(ipt_addrs(&addr).map_or(Cond::Const(Tri::Maybe), |s| Cond::Saddr(negated, s)));
    } else if r.contains("source ") {
        conds.push(Cond::Const(Tri::Maybe));
    }
    if let Some(service) = quoted_after(r, "service name=") {
        conds.push(service_cond(&service));
    }
    if let Some(port) = quoted_after(r, "port port=") {
        conds.push(
            ipt_ports(&port.replace('-', ":"))
                .map_or(Cond::Const(Tri::Maybe), |s| Cond::Dport(false, s)),
        );
        if let Some(proto) = quoted_after(r, "protocol=") {
            conds.push(Cond::L4(false, vec![proto]));
        }
    } else if let Some(proto) = quoted_after(r, "protocol value=") {
        conds.push(Cond::L4(false, vec![proto]));
    }
    let last = r.split_whitespace().last().unwrap_or("");
    let action = if last.starts_with("accept") || r.contains(" accept") {
        Action::Accept
    } else if r.contains(" drop") || r.contains(" reject") {
        Action::Drop
    } else {
        return None;
    };
    Some(Rule {
        text: r.to_owned(),
        conds,
        action,
    })
}

/// The zone's own accepting rules, in firewalld's order: the tftp service, UDP ports,
/// protocols, then an `ACCEPT` target.
fn zone_accepts(
    name: &str,
    services: &str,
    ports: &str,
    protocols: &str,
    target: &str,
) -> Vec<Rule> {
    let zone_text = |what: &str, value: &str| format!("zone {name} {what}: {value}");
    let accept = |text: String, conds: Vec<Cond>| Rule {
        text,
        conds,
        action: Action::Accept,
    };
    let mut rules = Vec::new();
    for service in services.split_whitespace().filter(|s| *s == "tftp") {
        rules.push(accept(
            zone_text("service", service),
            vec![service_cond(service)],
        ));
    }
    for port in ports.split_whitespace() {
        let (range, proto) = port.split_once('/').unwrap_or((port, ""));
        if proto == "udp"
            && let Some(set) = ipt_ports(&range.replace('-', ":"))
        {
            rules.push(accept(
                zone_text("port", port),
                vec![Cond::Dport(false, set)],
            ));
        }
    }
    for proto in protocols.split_whitespace() {
        rules.push(accept(
            zone_text("protocol", proto),
            vec![Cond::L4(false, vec![proto.to_owned()])],
        ));
    }
    if target == "ACCEPT" {
        rules.push(accept(zone_text("target", target), Vec::new()));
    }
    rules
}

fn service_cond(service: &str) -> Cond {
    if service == "tftp" {
        Cond::Dport(false, vec![(u32::from(TFTP_PORT), u32::from(TFTP_PORT))])
    } else {
        // Other services' ports would need `firewall-cmd --info-service`; none of the
        // common ones covers port 69 or the ephemeral range, so they count as not matching.
        Cond::Const(Tri::No)
    }
}

/// The double-quoted value after `key` in a rich rule (`source address="10.0.0.0/8"`).
fn quoted_after(rule: &str, key: &str) -> Option<String> {
    let start = rule.find(key)? + key.len();
    let rest = rule[start..].strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

impl View<'_> {
    /// firewalld's findings: its zone's rules when it runs, clear when it does not.
    pub(super) fn firewalld_findings(&self, zone: &Zone) -> Vec<RuleEffect> {
        if !zone.running {
            return Traffic::ALL
                .iter()
                .map(|&t| {
                    let mut f =
                        self.finding(Backend::Firewalld, t, DropVerdict::Clear, None, None, None);
                    f.explanation = "firewalld is installed but not running.".into();
                    f
                })
                .collect();
        }
        self.findings(Backend::Firewalld, &zone.ruleset)
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::testing::{only, subnet, verdicts};
    use super::*;

    const FWD_ZONES: &str =
        include_str!("../../../tests/fixtures/firewall/firewalld-active-zones.txt");
    const FWD_PUBLIC: &str =
        include_str!("../../../tests/fixtures/firewall/firewalld-list-all-public.txt");
    const FWD_TFTP: &str =
        include_str!("../../../tests/fixtures/firewall/firewalld-list-all-tftp.txt");

    #[test]
    fn firewalld_zones_and_rich_rules() {
        let zones = parse_active_zones(FWD_ZONES);
        assert_eq!(
            zone_for(&zones, subnet("10.99.3.0/24"), "eth0").as_deref(),
            Some("home")
        );
        assert_eq!(
            zone_for(&zones, subnet("10.88.1.0/24"), "veth0").as_deref(),
            Some("public")
        );
        assert_eq!(zone_for(&zones, subnet("10.88.1.0/24"), "wlan0"), None);

        let z = parse_zone("public", FWD_PUBLIC);
        let v = verdicts(&z.ruleset, "192.168.7.0/24", "eth0");
        assert_eq!(v[0].1, DropVerdict::Blocks);
        assert_eq!(
            v[0].2.as_deref(),
            Some(
                "rule family=\"ipv4\" source address=\"192.168.7.0/24\" service name=\"tftp\" drop"
            )
        );
        assert_eq!(v[1].1, DropVerdict::Likely);
        assert_eq!(v[1].2.as_deref(), Some("policy drop of public"));

        let z = parse_zone("public", FWD_TFTP);
        assert_eq!(
            only(&z.ruleset, "10.88.1.0/24", "veth0"),
            (DropVerdict::Clear, DropVerdict::Clear)
        );
        assert_eq!(
            only(&z.ruleset, "10.77.1.0/24", "veth0"),
            (DropVerdict::Clear, DropVerdict::Likely)
        );
    }
}
