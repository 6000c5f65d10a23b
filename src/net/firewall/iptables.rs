//! iptables: `iptables-save` (or `iptables -S`) read into the rule model, and which of the
//! legacy and `nf_tables` stores to read.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::model::{Action, Base, Cond, Hook, Rule, Ruleset, Table, Tri};
use super::{FirewallError, IptablesVariant, Subnet};

/// Which `iptables-save` outputs to read: per variant that is installed, the plain
/// `iptables-save` (asked only when neither variant is) on older systems. No iptables at all
/// is no iptables rules, not an unknown: an nftables-only host has nothing to warn about.
pub(super) fn pick_iptables_saves(
    legacy: Result<String, FirewallError>,
    nft: Result<String, FirewallError>,
    plain: impl FnOnce() -> Result<String, FirewallError>,
) -> Vec<(IptablesVariant, Result<String, FirewallError>)> {
    let missing =
        |r: &Result<String, FirewallError>| matches!(r, Err(FirewallError::ToolMissing { .. }));
    let mut out = Vec::new();
    if missing(&legacy) && missing(&nft) {
        let plain = plain();
        if missing(&plain) {
            return out;
        }
        // Older systems have only one iptables; its header names the variant.
        let variant = match &plain {
            Ok(text) if text.contains("nf_tables") => IptablesVariant::Nft,
            _ => IptablesVariant::Legacy,
        };
        out.push((variant, plain));
        return out;
    }
    let nft_answered = nft.is_ok();
    match legacy {
        Ok(text) if text.trim().is_empty() && nft_answered => {}
        Err(FirewallError::ToolMissing { .. }) => {}
        other => out.push((IptablesVariant::Legacy, other)),
    }
    if !missing(&nft) {
        out.push((IptablesVariant::Nft, nft));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// iptables: `iptables-save` or `iptables -S`.

/// Parses the filter table of `iptables-save` (or `iptables -S`) output into the rule model.
pub(super) fn parse_iptables(text: &str) -> Ruleset {
    let mut table = Table::default();
    let mut policies: HashMap<String, bool> = HashMap::new();
    let mut current = "filter".to_owned();
    let mut helper = false;
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.contains("--helper tftp") {
            helper = true;
        }
        if let Some(t) = line.strip_prefix('*') {
            t.clone_into(&mut current);
            continue;
        }
        if current != "filter" || line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            if let (Some(chain), Some(policy)) = (parts.next(), parts.next()) {
                table.chains.entry(chain.to_owned()).or_default();
                policies.insert(chain.to_owned(), policy == "DROP");
            }
        } else if let Some(rest) = line.strip_prefix("-P ") {
            let mut parts = rest.split_whitespace();
            if let (Some(chain), Some(policy)) = (parts.next(), parts.next()) {
                table.chains.entry(chain.to_owned()).or_default();
                policies.insert(chain.to_owned(), policy == "DROP");
            }
        } else if let Some(chain) = line.strip_prefix("-N ") {
            table.chains.entry(chain.trim().to_owned()).or_default();
        } else if line.starts_with("-A ") {
            lines.push(line.to_owned());
        }
    }
    // Chains are all declared before rules in iptables-save, but not necessarily in -S
    // order; parse rules once every chain name is known.
    for line in lines {
        let tokens = tokenize(&line);
        let Some(chain) = tokens.get(1).cloned() else {
            continue;
        };
        let rule = iptables_rule(&line, &tokens[2..], &table.chains);
        table.chains.entry(chain).or_default().push(rule);
    }
    if table.chains.contains_key("INPUT") {
        table.bases.push(Base {
            chain: "INPUT".into(),
            hook: Hook::Input,
            priority: 0,
            policy_drop: policies.get("INPUT").copied().unwrap_or(false),
        });
    }
    Ruleset {
        tables: vec![table],
        helper,
    }
}

/// Splits an iptables-save line into words; double quotes group (`--comment "a b"`).
fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

fn iptables_rule(text: &str, tokens: &[String], chains: &HashMap<String, Vec<Rule>>) -> Rule {
    let mut conds = Vec::new();
    let mut action = Action::None;
    let mut negated = false;
    let mut i = 0;
    let unknown = Cond::Const(Tri::Maybe);
    while i < tokens.len() {
        let opt = tokens[i].as_str();
        let value = tokens.get(i + 1).map_or("", String::as_str);
        i += 1;
        if opt == "!" {
            negated = true;
            continue;
        }
        let neg = std::mem::take(&mut negated);
        let cond = match opt {
            "-s" | "--source" => ipt_addrs(value).map_or(unknown.clone(), |s| Cond::Saddr(neg, s)),
            "-d" | "--destination" => {
                ipt_addrs(value).map_or(unknown.clone(), |s| Cond::Daddr(neg, s))
            }
            "-i" | "--in-interface" => Cond::Iif(neg, vec![value.to_owned()]),
            "-p" | "--protocol" => Cond::L4(neg, vec![value.to_lowercase()]),
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                ipt_ports(value).map_or(unknown.clone(), |s| Cond::Dport(neg, s))
            }
            "--sport" | "--source-port" | "--sports" | "--source-ports" => {
                ipt_ports(value).map_or(unknown.clone(), |s| Cond::Sport(neg, s))
            }
            "--state" | "--ctstate" => {
                Cond::CtState(neg, value.split(',').map(str::to_lowercase).collect())
            }
            "--dst-type" => match value {
                "LOCAL" => Cond::Const(Tri::Yes.negate_if(neg)),
                "BROADCAST" | "MULTICAST" => Cond::Const(Tri::No.negate_if(neg)),
                _ => unknown.clone(),
            },
            "--pkt-type" => match value {
                "unicast" => Cond::Const(Tri::Yes.negate_if(neg)),
                _ => Cond::Const(Tri::No.negate_if(neg)),
            },
            // Module names and comments: no condition of their own.
            "-m" | "--match" | "--comment" => {
                i += 1;
                continue;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                action = match value {
                    "ACCEPT" => Action::Accept,
                    "DROP" | "REJECT" => Action::Drop,
                    "RETURN" => Action::Return,
                    chain if chains.contains_key(chain) => {
                        if opt.starts_with("-g") || opt == "--goto" {
                            Action::Goto(chain.to_owned())
                        } else {
                            Action::Jump(chain.to_owned())
                        }
                    }
                    // LOG, MARK, CT, ...: the packet goes on to the next rule.
                    _ => Action::None,
                };
                // Everything after the target is the target's own options.
                break;
            }
            _ => {
                // An unmodelled match option; skip its value if it has one.
                if !value.starts_with('-') && value != "!" && !value.is_empty() {
                    i += 1;
                }
                conds.push(unknown.clone());
                continue;
            }
        };
        conds.push(cond);
        // Skip the option's value.
        i += 1;
    }
    Rule {
        text: text.to_owned(),
        conds,
        action,
    }
}

/// `10.0.0.0/8`, `1.2.3.4/32`, `10.0.0.0/255.0.0.0`, comma-separated.
pub(super) fn ipt_addrs(value: &str) -> Option<Vec<(u32, u32)>> {
    value
        .split(',')
        .map(|part| {
            let (addr, len) = match part.split_once('/') {
                Some((a, m)) => {
                    let len = match m.parse::<u8>() {
                        Ok(n) => n,
                        Err(_) => u32::from(m.parse::<Ipv4Addr>().ok()?).count_ones() as u8,
                    };
                    (a, len)
                }
                None => (part, 32),
            };
            Some(Subnet::new(addr.parse().ok()?, len).ok()?.range())
        })
        .collect()
}

/// `69`, `1000:2000`, `53,67:68` (multiport), `:1023`.
pub(super) fn ipt_ports(value: &str) -> Option<Vec<(u32, u32)>> {
    value
        .split(',')
        .map(|part| match part.split_once(':') {
            Some((lo, hi)) => Some((
                if lo.is_empty() { 0 } else { lo.parse().ok()? },
                if hi.is_empty() {
                    65535
                } else {
                    hi.parse().ok()?
                },
            )),
            None => part.parse().ok().map(|n| (n, n)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::model::testing::{only, verdicts};
    use super::*;
    use crate::net::firewall::DropVerdict;

    const IPT_DROP_69: &str =
        include_str!("../../../tests/fixtures/firewall/iptables-nft-save-drop-69.txt");
    const IPT_LEGACY_SAVE: &str =
        include_str!("../../../tests/fixtures/firewall/iptables-legacy-save-default-drop.txt");
    const IPT_LEGACY_S: &str =
        include_str!("../../../tests/fixtures/firewall/iptables-legacy-S-default-drop.txt");
    const IPT_UFW: &str =
        include_str!("../../../tests/fixtures/firewall/iptables-nft-save-ufw.txt");

    #[test]
    fn no_iptables_at_all_is_no_iptables_rules() {
        let missing = |tool: &str| {
            Err(FirewallError::ToolMissing {
                tool: tool.to_owned(),
                package: "iptables",
            })
        };
        // An nftables-only host: nothing to read, nothing to warn about.
        let picked = pick_iptables_saves(
            missing("iptables-legacy-save"),
            missing("iptables-nft-save"),
            || missing("iptables-save"),
        );
        assert!(picked.is_empty(), "{picked:?}");
        // An older host with one plain iptables: its header names the variant.
        let picked = pick_iptables_saves(
            missing("iptables-legacy-save"),
            missing("iptables-nft-save"),
            || Ok("# Generated by iptables-nft-save v1.8.7 (nf_tables)\n".to_owned()),
        );
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].0, IptablesVariant::Nft);
        // Both variants: empty legacy tables are left out once nf_tables answered.
        let picked = pick_iptables_saves(Ok(String::new()), Ok("*filter\n".into()), || {
            panic!("the plain iptables-save is not asked when a variant is installed")
        });
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].0, IptablesVariant::Nft);
    }

    #[test]
    fn an_iptables_drop_for_port_69_blocks() {
        let r = parse_iptables(IPT_DROP_69);
        let v = verdicts(&r, "10.88.1.0/24", "veth0");
        assert_eq!(v[0].1, DropVerdict::Blocks);
        assert_eq!(
            v[0].2.as_deref(),
            Some("-A INPUT -p udp -m udp --dport 69 -m comment --comment \"no tftp\" -j DROP")
        );
        // The policy is DROP and only established/related is accepted.
        assert_eq!(v[1].1, DropVerdict::Likely);
        assert_eq!(v[1].2.as_deref(), Some("policy drop of INPUT"));
    }

    #[test]
    fn iptables_save_and_dash_s_read_the_same() {
        for text in [IPT_LEGACY_SAVE, IPT_LEGACY_S] {
            let r = parse_iptables(text);
            // rw-in rejects all UDP not from 10/8 to 67,68.
            let v = verdicts(&r, "192.168.0.0/24", "eth0");
            assert_eq!(
                (v[0].1, v[1].1),
                (DropVerdict::Blocks, DropVerdict::Blocks),
                "{v:?}"
            );
            assert_eq!(
                v[0].2.as_deref(),
                Some("-A rw-in -p udp -j REJECT --reject-with icmp-port-unreachable")
            );
        }
    }

    #[test]
    fn ufws_iptables_chains_evaluate_to_its_default_deny() {
        let r = parse_iptables(IPT_UFW);
        let v = verdicts(&r, "192.168.5.0/24", "eth0");
        assert!(v.iter().all(|x| x.1 >= DropVerdict::Likely), "{v:?}");
        // ufw's rule for 10.88.1.0/24 on veth0 accepts its UDP, but the port-69 deny comes
        // first, as `ufw status` lists it.
        assert_eq!(
            only(&r, "10.88.1.0/24", "veth0"),
            (DropVerdict::Blocks, DropVerdict::Clear)
        );
    }

    #[test]
    fn iptables_tokens_quotes_and_masks() {
        assert_eq!(
            tokenize(r#"-A INPUT -m comment --comment "a \"b\" c" -j ACCEPT"#),
            [
                "-A",
                "INPUT",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "ACCEPT"
            ]
        );
        assert_eq!(
            ipt_addrs("10.0.0.0/255.0.0.0"),
            Some(vec![(0x0a00_0000, 0x0aff_ffff)])
        );
        assert_eq!(
            ipt_ports("53,67:68,:10"),
            Some(vec![(53, 53), (67, 68), (0, 10)])
        );
        let r = parse_iptables("-P INPUT ACCEPT\n-A INPUT ! -s 10.88.1.0/24 -p udp -j DROP\n");
        assert_eq!(
            only(&r, "10.88.1.0/24", "x"),
            (DropVerdict::Clear, DropVerdict::Clear)
        );
        assert_eq!(
            only(&r, "10.88.2.0/24", "x"),
            (DropVerdict::Blocks, DropVerdict::Blocks)
        );
    }
}
