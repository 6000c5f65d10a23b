//! The rule model every backend is parsed into (tables of chains of rules, each a list of
//! conditions and an action), and its evaluation for the router's packet: a walk through the
//! chains in three-valued logic, because the router's exact source address and port are
//! unknown, giving one [`DropVerdict`] per [`Traffic`] kind and the rule that decided it.

use std::collections::HashMap;

use super::{Backend, DropVerdict, FirewallError, RULE_COMMENT, RuleEffect, Subnet, Traffic};

/// The TFTP server port (RFC 1350 §4).
pub(super) const TFTP_PORT: u16 = 69;

// Linux's default net.ipv4.ip_local_port_range: our transfer sockets bind port 0 and get one
// of these, so the router's replies arrive on a port in this range.
const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

// The router's own source port is unknown: U-Boot picks 1024 + (timer % 3072), other
// bootloaders and servers anything unprivileged.
const ROUTER_PORTS: (u16, u16) = (1024, 65535);

// How deep jumps between chains are followed before giving up (rulesets do not loop, but a
// malformed listing must not recurse forever).
const MAX_JUMP_DEPTH: u8 = 16;

/// Three-valued match: the router's packet surely matches, surely not, or it depends on
/// something unknown (its exact source address or port, a rate limit, an unmodelled match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tri {
    Yes,
    No,
    Maybe,
}

impl Tri {
    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::No, _) | (_, Self::No) => Self::No,
            (Self::Yes, Self::Yes) => Self::Yes,
            _ => Self::Maybe,
        }
    }

    pub(super) fn negate_if(self, negated: bool) -> Self {
        match (self, negated) {
            (Self::Yes, true) => Self::No,
            (Self::No, true) => Self::Yes,
            (t, _) => t,
        }
    }

    /// How a probe range relates to a set of ranges: covered, disjoint, or partly.
    pub(super) fn of_ranges(probe: (u32, u32), set: &[(u32, u32)]) -> Self {
        if set.iter().all(|r| r.1 < probe.0 || r.0 > probe.1) {
            return Self::No;
        }
        let mut sorted = set.to_vec();
        sorted.sort_unstable();
        let mut next = u64::from(probe.0);
        for (lo, hi) in sorted {
            if u64::from(lo) > next {
                break;
            }
            next = next.max(u64::from(hi) + 1);
        }
        if next > u64::from(probe.1) {
            Self::Yes
        } else {
            Self::Maybe
        }
    }
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cond {
    Saddr(bool, Vec<(u32, u32)>),
    Daddr(bool, Vec<(u32, u32)>),
    Iif(bool, Vec<String>),
    L4(bool, Vec<String>),
    Dport(bool, Vec<(u32, u32)>),
    Sport(bool, Vec<(u32, u32)>),
    CtState(bool, Vec<String>),
    Const(Tri),
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    None,
    Accept,
    Drop,
    Jump(String),
    Goto(String),
    Return,
    /// nftables verdict maps: the first entry whose key matches decides.
    Map(Vec<(Cond, Action)>),
}

#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) text: String,
    pub(super) conds: Vec<Cond>,
    pub(super) action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Hook {
    Prerouting,
    Input,
}

#[derive(Debug, Clone)]
pub(super) struct Base {
    pub(super) chain: String,
    pub(super) hook: Hook,
    pub(super) priority: i64,
    pub(super) policy_drop: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Table {
    pub(super) family: String,
    pub(super) name: String,
    pub(super) chains: HashMap<String, Vec<Rule>>,
    pub(super) bases: Vec<Base>,
}

impl Table {
    pub(super) fn label(&self, chain: &str) -> String {
        if self.family.is_empty() {
            chain.to_owned()
        } else {
            format!("{} {} {}", self.family, self.name, chain)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Ruleset {
    pub(super) tables: Vec<Table>,
    /// A TFTP conntrack helper is set up, so the router's replies may count as related.
    pub(super) helper: bool,
}

/// The router's packet as far as it is known.
struct Probe<'a> {
    subnet: Subnet,
    iface: &'a str,
    dports: (u32, u32),
    states: &'static [&'static str],
}

// Addresses that are never the destination of the router's unicast TFTP packets to us.
const NOT_OUR_UNICAST: [(u32, u32); 2] = [(0x7f00_0000, 0x7fff_ffff), (0xe000_0000, u32::MAX)];

impl Cond {
    fn eval(&self, p: &Probe<'_>) -> Tri {
        match self {
            Self::Saddr(neg, set) => Tri::of_ranges(p.subnet.range(), set).negate_if(*neg),
            Self::Daddr(neg, set) => {
                let elsewhere = set
                    .iter()
                    .all(|r| Tri::of_ranges(*r, &NOT_OUR_UNICAST) == Tri::Yes);
                if elsewhere { Tri::No } else { Tri::Maybe }.negate_if(*neg)
            }
            Self::Iif(neg, names) => {
                let hit = names.iter().any(|n| iface_matches(n, p.iface));
                if hit { Tri::Yes } else { Tri::No }.negate_if(*neg)
            }
            Self::L4(neg, protos) => {
                let hit = protos
                    .iter()
                    .any(|x| matches!(x.as_str(), "udp" | "17" | "all" | "0"));
                if hit { Tri::Yes } else { Tri::No }.negate_if(*neg)
            }
            Self::Dport(neg, set) => Tri::of_ranges(p.dports, set).negate_if(*neg),
            Self::Sport(neg, set) => {
                let router = (u32::from(ROUTER_PORTS.0), u32::from(ROUTER_PORTS.1));
                Tri::of_ranges(router, set).negate_if(*neg)
            }
            Self::CtState(neg, states) => {
                let hits = p
                    .states
                    .iter()
                    .filter(|s| states.iter().any(|x| x == *s))
                    .count();
                let tri = if hits == p.states.len() {
                    Tri::Yes
                } else if hits == 0 {
                    Tri::No
                } else {
                    Tri::Maybe
                };
                tri.negate_if(*neg)
            }
            Self::Const(t) => *t,
        }
    }
}

/// nftables `eth*` and iptables `eth+` are prefix wildcards.
fn iface_matches(pattern: &str, iface: &str) -> bool {
    match pattern
        .strip_suffix('*')
        .or_else(|| pattern.strip_suffix('+'))
    {
        Some(prefix) => iface.starts_with(prefix),
        None => pattern == iface,
    }
}

enum End {
    Accept,
    Drop(String),
    Return,
}

/// What a walk through the rules saw besides its end: the first rule that may accept and the
/// first that may drop, both before the end.
#[derive(Default)]
struct Walk {
    maybe_accept: Option<String>,
    maybe_drop: Option<String>,
}

fn walk(
    table: &Table,
    chain: &str,
    p: &Probe<'_>,
    certain: bool,
    depth: u8,
    w: &mut Walk,
) -> Option<End> {
    if depth > MAX_JUMP_DEPTH {
        return None;
    }
    let rules = table.chains.get(chain)?;
    let mut certain = certain;
    for rule in rules {
        let m = rule
            .conds
            .iter()
            .fold(Tri::Yes, |acc, c| acc.and(c.eval(p)));
        if m == Tri::No {
            continue;
        }
        let sure = certain && m == Tri::Yes;
        if let Some(end) = act(table, &rule.action, &rule.text, p, sure, depth, w) {
            return Some(end);
        }
        // A rule that may return means the rest of this chain only may apply.
        if !sure
            && matches!(
                rule.action,
                Action::Return | Action::Goto(_) | Action::Map(_)
            )
        {
            certain = false;
        }
    }
    None
}

fn act(
    table: &Table,
    action: &Action,
    text: &str,
    p: &Probe<'_>,
    sure: bool,
    depth: u8,
    w: &mut Walk,
) -> Option<End> {
    match action {
        Action::None => None,
        Action::Accept if sure => Some(End::Accept),
        Action::Accept => {
            w.maybe_accept.get_or_insert_with(|| text.to_owned());
            None
        }
        Action::Drop if sure => Some(End::Drop(text.to_owned())),
        Action::Drop => {
            w.maybe_drop.get_or_insert_with(|| text.to_owned());
            None
        }
        Action::Jump(target) => match walk(table, target, p, sure, depth + 1, w) {
            Some(End::Return) | None => None,
            end => end,
        },
        Action::Goto(target) => match walk(table, target, p, sure, depth + 1, w) {
            Some(End::Return) | None => sure.then_some(End::Return),
            end => end,
        },
        Action::Return => sure.then_some(End::Return),
        Action::Map(entries) => {
            for (cond, inner) in entries {
                let m = cond.eval(p);
                if m == Tri::No {
                    continue;
                }
                let s = sure && m == Tri::Yes;
                if let Some(end) = act(table, inner, text, p, s, depth, w) {
                    return Some(end);
                }
                if s {
                    return None;
                }
            }
            None
        }
    }
}

/// Per traffic kind: the verdict and, when something drops it, the rule and its chain.
pub(super) type Decided = (Traffic, DropVerdict, Option<(String, String)>);

/// The inspection context: the router's subnet and our interface.
pub(super) struct View<'a> {
    pub(super) subnet: Subnet,
    pub(super) iface: &'a str,
}

impl View<'_> {
    fn probe(&self, traffic: Traffic, helper: bool) -> Probe<'_> {
        let (dports, states): ((u32, u32), &'static [&'static str]) = match traffic {
            Traffic::Requests => ((u32::from(TFTP_PORT), u32::from(TFTP_PORT)), &["new"]),
            // With a TFTP helper the reply may be tracked as related; which one depends on
            // the helper's assignment, so both are possible.
            Traffic::Replies if helper => (
                (u32::from(EPHEMERAL_PORTS.0), u32::from(EPHEMERAL_PORTS.1)),
                &["new", "related"],
            ),
            Traffic::Replies => (
                (u32::from(EPHEMERAL_PORTS.0), u32::from(EPHEMERAL_PORTS.1)),
                &["new"],
            ),
        };
        Probe {
            subnet: self.subnet,
            iface: self.iface,
            dports,
            states,
        }
    }

    /// One base chain's verdict and the deciding rule.
    pub(super) fn base_verdict(
        &self,
        table: &Table,
        base: &Base,
        traffic: Traffic,
        helper: bool,
    ) -> (DropVerdict, Option<String>) {
        let p = self.probe(traffic, helper);
        let mut w = Walk::default();
        let end = walk(table, &base.chain, &p, true, 0, &mut w);
        match end {
            Some(End::Accept) => match w.maybe_drop {
                Some(rule) => (DropVerdict::Likely, Some(rule)),
                None => (DropVerdict::Clear, None),
            },
            Some(End::Drop(rule)) => {
                if w.maybe_accept.is_some() {
                    (DropVerdict::Likely, Some(rule))
                } else {
                    (DropVerdict::Blocks, Some(rule))
                }
            }
            None | Some(End::Return) => {
                if base.policy_drop {
                    (
                        DropVerdict::Likely,
                        Some(format!("policy drop of {}", table.label(&base.chain))),
                    )
                } else {
                    match w.maybe_drop {
                        Some(rule) => (DropVerdict::Likely, Some(rule)),
                        None => (DropVerdict::Clear, None),
                    }
                }
            }
        }
    }

    /// Per traffic kind: the worst verdict over every base chain, its rule, and its chain.
    pub(super) fn verdicts(&self, ruleset: &Ruleset) -> Vec<Decided> {
        Traffic::ALL
            .iter()
            .map(|&traffic| {
                let mut worst = (DropVerdict::Clear, None);
                let mut bases: Vec<(&Table, &Base)> = ruleset
                    .tables
                    .iter()
                    .flat_map(|t| t.bases.iter().map(move |b| (t, b)))
                    .collect();
                // The packet meets prerouting chains first, then input, each by priority.
                bases.sort_by_key(|(_, b)| (b.hook, b.priority));
                for (table, base) in bases {
                    let (verdict, rule) = self.base_verdict(table, base, traffic, ruleset.helper);
                    if verdict > worst.0 {
                        worst = (verdict, rule.map(|r| (r, table.label(&base.chain))));
                    }
                }
                (traffic, worst.0, worst.1)
            })
            .collect()
    }

    pub(super) fn findings(&self, backend: Backend, ruleset: &Ruleset) -> Vec<RuleEffect> {
        self.verdicts(ruleset)
            .into_iter()
            .map(|(traffic, verdict, decided)| {
                let (rule, chain) = decided.unzip();
                // ufw has one rule list; naming a chain would only repeat "ufw".
                let chain = chain.filter(|_| backend != Backend::Ufw);
                let fix = (verdict > DropVerdict::Unknown)
                    .then(|| self.fix(backend, chain.as_deref().unwrap_or("INPUT")));
                self.finding(backend, traffic, verdict, rule, chain.as_deref(), fix)
            })
            .collect()
    }

    pub(super) fn finding(
        &self,
        backend: Backend,
        traffic: Traffic,
        verdict: DropVerdict,
        rule: Option<String>,
        chain: Option<&str>,
        fix: Option<String>,
    ) -> RuleEffect {
        let what = traffic.describe(self.subnet, self.iface);
        let place = chain.map_or_else(|| backend.to_string(), |c| format!("{backend} ({c})"));
        let rule_text = rule.as_deref().unwrap_or("?");
        let explanation = match verdict {
            DropVerdict::Clear => format!("{place} lets {what} through."),
            DropVerdict::Blocks => format!("{place} drops {what}: rule `{rule_text}`."),
            DropVerdict::Likely => format!(
                "{place} probably drops {what}: `{rule_text}` and no rule surely accepts it."
            ),
            DropVerdict::Unknown => format!("{place} could not be checked for {what}."),
        };
        RuleEffect {
            backend,
            traffic,
            verdict,
            rule,
            explanation,
            fix,
        }
    }

    pub(super) fn fix(&self, backend: Backend, chain: &str) -> String {
        let (subnet, iface) = (self.subnet, self.iface);
        match backend {
            Backend::Nftables => format!(
                "nft insert rule {chain} iifname \"{iface}\" ip saddr {subnet} meta l4proto udp \
                 accept comment \"{RULE_COMMENT}\""
            ),
            Backend::Iptables(variant) => format!(
                "{} -I INPUT 1 -i {iface} -s {subnet} -p udp -m comment --comment {RULE_COMMENT} -j ACCEPT",
                variant.program()
            ),
            Backend::Ufw => ufw_fix(subnet, iface),
            Backend::Firewalld => firewalld_fix(chain, subnet, "add"),
        }
    }

    pub(super) fn unknown(&self, backend: Backend, err: &FirewallError) -> Vec<RuleEffect> {
        Traffic::ALL
            .iter()
            .map(|&traffic| {
                let mut f = self.finding(backend, traffic, DropVerdict::Unknown, None, None, None);
                f.explanation = format!("{} {err}.", f.explanation);
                f
            })
            .collect()
    }
}

/// The ufw command that lets UDP from the router's subnet in on `iface`.
pub(super) fn ufw_fix(subnet: Subnet, iface: &str) -> String {
    format!("ufw prepend allow in on {iface} proto udp from {subnet} comment {RULE_COMMENT}")
}

/// The firewalld rich rule that lets UDP from the router's subnet into `zone` (`verb` is
/// `add` or `remove`).
pub(super) fn firewalld_fix(zone: &str, subnet: Subnet, verb: &str) -> String {
    // Runtime only (no --permanent): it also disappears on `firewall-cmd --reload`.
    format!(
        "firewall-cmd --zone={zone} --{verb}-rich-rule='rule family=\"ipv4\" source \
         address=\"{subnet}\" protocol value=\"udp\" accept'"
    )
}

/// What the backends' tests share: a subnet from text and the verdicts for it.
#[cfg(test)]
pub(super) mod testing {
    use super::{DropVerdict, Ruleset, Traffic, View};
    use crate::subnet::Subnet;

    pub(in crate::net::firewall) fn subnet(s: &str) -> Subnet {
        s.parse().unwrap()
    }

    pub(in crate::net::firewall) fn verdicts(
        ruleset: &Ruleset,
        net: &str,
        iface: &str,
    ) -> Vec<(Traffic, DropVerdict, Option<String>)> {
        let view = View {
            subnet: subnet(net),
            iface,
        };
        view.verdicts(ruleset)
            .into_iter()
            .map(|(t, v, d)| (t, v, d.map(|(rule, _)| rule)))
            .collect()
    }

    pub(in crate::net::firewall) fn only(
        ruleset: &Ruleset,
        net: &str,
        iface: &str,
    ) -> (DropVerdict, DropVerdict) {
        let v = verdicts(ruleset, net, iface);
        (v[0].1, v[1].1)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::subnet;
    use super::*;
    use crate::net::firewall::IptablesVariant;
    use crate::net::firewall::iptables::parse_iptables;
    use crate::net::firewall::nft::parse_nft;
    use crate::net::firewall::worst;

    const NFT_DROP_69: &str = include_str!("../../../tests/fixtures/firewall/nft-drop-69.json");
    const IPT_DROP_69: &str =
        include_str!("../../../tests/fixtures/firewall/iptables-nft-save-drop-69.txt");

    #[test]
    fn findings_carry_the_rule_the_sentence_and_the_fix() {
        let view = View {
            subnet: subnet("10.88.1.0/24"),
            iface: "veth0",
        };
        let f = view.findings(Backend::Nftables, &parse_nft(NFT_DROP_69).unwrap());
        assert_eq!(f[0].verdict, DropVerdict::Blocks);
        assert_eq!(
            f[0].explanation,
            "nftables (inet filter input) drops new UDP from 10.88.1.0/24 on veth0 to port 69 \
             (a router pulling firmware from this host): rule `udp dport 69 counter drop \
             comment \"no tftp here\"`."
        );
        assert_eq!(
            f[0].fix.as_deref(),
            Some(
                "nft insert rule inet filter input iifname \"veth0\" ip saddr 10.88.1.0/24 meta \
                 l4proto udp accept comment \"rescue-wizard\""
            )
        );
        assert_eq!(f[1].verdict, DropVerdict::Clear);
        assert_eq!(f[1].fix, None);
        assert_eq!(worst(&f), DropVerdict::Blocks);
        let f = view.findings(
            Backend::Iptables(IptablesVariant::Legacy),
            &parse_iptables(IPT_DROP_69),
        );
        assert_eq!(
            f[1].fix.as_deref(),
            Some(
                "iptables-legacy -I INPUT 1 -i veth0 -s 10.88.1.0/24 -p udp -m comment --comment rescue-wizard -j ACCEPT"
            )
        );
    }
}
