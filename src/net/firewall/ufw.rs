//! ufw: `ufw status verbose` read into the rule model, and the command that allows the
//! router's subnet (ufw's rules are never changed by rescue-wizard).

use std::collections::HashMap;

use super::iptables::{ipt_addrs, ipt_ports};
use super::model::{Action, Base, Cond, Hook, Rule, Ruleset, Table, Tri, View};
use super::{Backend, DropVerdict, RuleEffect, Traffic};

pub(super) struct UfwStatus {
    pub(super) active: bool,
    pub(super) ruleset: Ruleset,
}

/// Parses `ufw status verbose`: the default incoming policy and the IPv4 rules, first match
/// wins as in ufw itself.
pub(super) fn parse_ufw(text: &str) -> UfwStatus {
    let active = text.lines().any(|l| l.trim() == "Status: active");
    let policy_drop = text
        .lines()
        .find_map(|l| l.strip_prefix("Default: "))
        .is_some_and(|d| d.starts_with("deny") || d.starts_with("reject"));
    let mut rules = Vec::new();
    let mut in_rules = false;
    for line in text.lines() {
        if line.starts_with("--") {
            in_rules = true;
            continue;
        }
        if !in_rules || line.trim().is_empty() || line.contains("(v6)") {
            continue;
        }
        let cols: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let (Some(to), Some(verdict), Some(from)) = (cols.first(), cols.get(1), cols.get(2)) else {
            continue;
        };
        let mut words = verdict.split_whitespace();
        let kind = words.next().unwrap_or("");
        // Without a direction ufw means incoming; OUT and FWD rules do not concern us.
        if words.next().is_some_and(|direction| direction != "IN") {
            continue;
        }
        let (action, limited) = match kind {
            "ALLOW" => (Action::Accept, false),
            "LIMIT" => (Action::Accept, true),
            "DENY" | "REJECT" => (Action::Drop, false),
            _ => continue,
        };
        let mut conds = ufw_side(to, true);
        conds.extend(ufw_side(from, false));
        if limited {
            conds.push(Cond::Const(Tri::Maybe));
        }
        rules.push(Rule {
            text: line.trim_end().to_owned(),
            conds,
            action,
        });
    }
    let mut chains = HashMap::new();
    chains.insert("ufw".to_owned(), rules);
    UfwStatus {
        active,
        ruleset: Ruleset {
            tables: vec![Table {
                chains,
                bases: vec![Base {
                    chain: "ufw".into(),
                    hook: Hook::Input,
                    priority: 0,
                    policy_drop,
                }],
                ..Table::default()
            }],
            helper: false,
        },
    }
}

/// One side of a ufw rule: `Anywhere`, `22/tcp`, `Anywhere on eth0`, `10.0.0.0/8 69/udp`,
/// `10.88.1.0/24/udp`, `60000:61000/udp`, an application profile name.
fn ufw_side(text: &str, destination: bool) -> Vec<Cond> {
    let mut conds = Vec::new();
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if let Some(pos) = words.iter().position(|w| *w == "on") {
        if let Some(iface) = words.get(pos + 1) {
            conds.push(Cond::Iif(false, vec![(*iface).to_owned()]));
        }
        words.truncate(pos);
    }
    for word in words {
        // A trailing /udp or /tcp names the protocol.
        let (body, proto) = match word.rsplit_once('/') {
            Some((b, p)) if p.chars().all(|c| c.is_ascii_alphabetic()) => (b, Some(p)),
            _ => (word, None),
        };
        if let Some(p) = proto {
            conds.push(Cond::L4(false, vec![p.to_lowercase()]));
        }
        if body == "Anywhere" {
            continue;
        }
        if let Some(set) = body.contains('.').then(|| ipt_addrs(body)).flatten() {
            conds.push(if destination {
                Cond::Daddr(false, set)
            } else {
                Cond::Saddr(false, set)
            });
        } else if let Some(set) = ipt_ports(body) {
            conds.push(if destination {
                Cond::Dport(false, set)
            } else {
                Cond::Sport(false, set)
            });
        } else {
            // An application profile: its ports are in /etc/ufw/applications.d.
            conds.push(Cond::Const(Tri::Maybe));
        }
    }
    conds
}

impl View<'_> {
    /// ufw's findings: its rules when it is active, clear when it is not.
    pub(super) fn ufw_findings(&self, status: &UfwStatus) -> Vec<RuleEffect> {
        if !status.active {
            return Traffic::ALL
                .iter()
                .map(|&t| {
                    let mut f = self.finding(Backend::Ufw, t, DropVerdict::Clear, None, None, None);
                    f.explanation = "ufw is installed but inactive.".into();
                    f
                })
                .collect();
        }
        self.findings(Backend::Ufw, &status.ruleset)
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::testing::{only, verdicts};
    use super::*;

    const UFW_DEFAULT: &str =
        include_str!("../../../tests/fixtures/firewall/ufw-status-default.txt");
    const UFW_RULES: &str = include_str!("../../../tests/fixtures/firewall/ufw-status-rules.txt");
    const UFW_INACTIVE: &str =
        include_str!("../../../tests/fixtures/firewall/ufw-status-inactive.txt");

    #[test]
    fn ufw_status_is_read_in_order() {
        assert!(!parse_ufw(UFW_INACTIVE).active);
        let s = parse_ufw(UFW_DEFAULT);
        assert!(s.active);
        assert_eq!(
            only(&s.ruleset, "192.168.0.0/24", "eth0"),
            (DropVerdict::Likely, DropVerdict::Likely)
        );
        let s = parse_ufw(UFW_RULES);
        let v = verdicts(&s.ruleset, "192.168.0.0/24", "eth0");
        assert_eq!(v[0].1, DropVerdict::Blocks);
        assert!(
            v[0].2
                .as_deref()
                .unwrap()
                .starts_with("69/udp                     DENY IN")
        );
        assert_eq!(v[1].1, DropVerdict::Likely);
        // The port-69 deny comes before the interface allow.
        assert_eq!(
            only(&s.ruleset, "10.88.1.0/24", "veth0").0,
            DropVerdict::Blocks
        );
        assert_eq!(
            only(&s.ruleset, "10.88.1.0/24", "veth0").1,
            DropVerdict::Clear
        );
        // 60000:61000/udp from 192.168.1.0/24 covers part of the ephemeral range only.
        assert_eq!(
            only(&s.ruleset, "192.168.1.0/24", "eth0").1,
            DropVerdict::Likely
        );
    }
}
