//! nftables: `nft -j list ruleset` read into the rule model, rendered back for messages, and
//! the one rule rescue-wizard inserts (its expression, its echoed handle, and how it is found
//! again among others).

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::model::{Action, Base, Cond, Hook, Rule, Ruleset, Table, Tri};
use super::{RULE_COMMENT, Subnet};

/// Tables iptables-nft creates; rules in them are read through iptables instead.
const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];
const IPTABLES_CHAINS: [&str; 5] = ["INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"];

/// Parses `nft -j list ruleset` into the rule model: IPv4-relevant tables (`ip`, `inet`),
/// filter base chains at prerouting and input. Tables managed by iptables-nft or firewalld
/// are left out (their own backends report them, and rescue-wizard must not add to them).
pub(super) fn parse_nft(json: &str) -> Result<Ruleset, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let mut tables: Vec<Table> = Vec::new();
    let mut ruleset = Ruleset::default();
    let find = |tables: &mut Vec<Table>, family: &str, name: &str| -> Option<usize> {
        tables
            .iter()
            .position(|t| t.family == family && t.name == name)
    };
    for item in items {
        if let Some(t) = item.get("table") {
            let family = str_of(t, "family");
            if family == "ip" || family == "inet" {
                tables.push(Table {
                    family: family.to_owned(),
                    name: str_of(t, "name").to_owned(),
                    ..Table::default()
                });
            }
        } else if let Some(c) = item.get("chain") {
            let Some(i) = find(&mut tables, str_of(c, "family"), str_of(c, "table")) else {
                continue;
            };
            let name = str_of(c, "name").to_owned();
            tables[i].chains.entry(name.clone()).or_default();
            let hook = match str_of(c, "hook") {
                "input" => Some(Hook::Input),
                "prerouting" => Some(Hook::Prerouting),
                _ => None,
            };
            if let (Some(hook), "filter") = (hook, str_of(c, "type")) {
                tables[i].bases.push(Base {
                    chain: name,
                    hook,
                    priority: c.get("prio").and_then(Value::as_i64).unwrap_or(0),
                    policy_drop: str_of(c, "policy") == "drop",
                });
            }
        } else if let Some(r) = item.get("rule") {
            if r.to_string().contains("\"ct helper\":\"tftp") {
                ruleset.helper = true;
            }
            let Some(i) = find(&mut tables, str_of(r, "family"), str_of(r, "table")) else {
                continue;
            };
            let exprs = r
                .get("expr")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let rule = nft_rule(&exprs, r.get("comment").and_then(Value::as_str));
            tables[i]
                .chains
                .entry(str_of(r, "chain").to_owned())
                .or_default()
                .push(rule);
        } else if let Some(h) = item.get("ct helper")
            && str_of(h, "type") == "tftp"
        {
            ruleset.helper = true;
        }
    }
    tables.retain(|t| !managed_elsewhere(t));
    ruleset.tables = tables;
    Ok(ruleset)
}

fn managed_elsewhere(t: &Table) -> bool {
    let iptables_nft = t.family == "ip"
        && IPTABLES_TABLES.contains(&t.name.as_str())
        && t.chains
            .keys()
            .any(|c| IPTABLES_CHAINS.contains(&c.as_str()));
    iptables_nft || t.name == "firewalld"
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn nft_rule(exprs: &[Value], comment: Option<&str>) -> Rule {
    let mut conds = Vec::new();
    let mut action = Action::None;
    for e in exprs {
        let Some((key, body)) = e.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        match key.as_str() {
            "match" => conds.push(nft_match(body)),
            "accept" => action = Action::Accept,
            "drop" | "reject" => action = Action::Drop,
            "return" => action = Action::Return,
            "jump" => action = Action::Jump(str_of(body, "target").to_owned()),
            "goto" => action = Action::Goto(str_of(body, "target").to_owned()),
            "vmap" => action = nft_vmap(body),
            // Statements that do not decide whether the packet matches.
            "counter" | "log" | "mangle" | "notrack" | "ct helper" | "ct timeout"
            | "ct expectation" | "set" | "map" | "dup" | "fwd" | "snat" | "dnat" | "masquerade"
            | "redirect" | "tproxy" | "secmark" | "continue" => {}
            // limit, quota, xt matches and anything newer: cannot tell.
            _ => conds.push(Cond::Const(Tri::Maybe)),
        }
    }
    let mut text = exprs.iter().map(render).collect::<Vec<_>>().join(" ");
    if let Some(c) = comment {
        text = format!("{text} comment \"{c}\"");
    }
    Rule {
        text,
        conds,
        action,
    }
}

fn nft_vmap(body: &Value) -> Action {
    let key = body.get("key").cloned().unwrap_or(Value::Null);
    let Some(elems) = body
        .get("data")
        .and_then(|d| d.get("set"))
        .and_then(Value::as_array)
    else {
        // A named map: its contents are elsewhere; treat every outcome as possible.
        return Action::Map(Vec::new());
    };
    let entries = elems
        .iter()
        .filter_map(|pair| {
            let pair = pair.as_array()?;
            let (k, v) = (pair.first()?, pair.get(1)?);
            let cond = nft_match(&json!({"op": "==", "left": key, "right": k}));
            let inner = nft_rule(std::slice::from_ref(v), None).action;
            Some((cond, inner))
        })
        .collect();
    Action::Map(entries)
}

fn nft_match(body: &Value) -> Cond {
    let op = str_of(body, "op");
    let left = body.get("left").unwrap_or(&Value::Null);
    let right = body.get("right").unwrap_or(&Value::Null);
    let negated = op == "!=";
    let membership = matches!(op, "==" | "!=" | "in");
    let unknown = Cond::Const(Tri::Maybe);
    if let Some(payload) = left.get("payload") {
        let (proto, field) = (str_of(payload, "protocol"), str_of(payload, "field"));
        return match (proto, field) {
            ("ip", "saddr") if membership => {
                addrs(right).map_or(unknown, |s| Cond::Saddr(negated, s))
            }
            ("ip", "daddr") if membership => {
                addrs(right).map_or(unknown, |s| Cond::Daddr(negated, s))
            }
            ("ip", "protocol") if membership => Cond::L4(negated, strings(right)),
            ("udp" | "th", "dport") => {
                ports(op, right).map_or(unknown, |s| Cond::Dport(negated, s))
            }
            ("udp" | "th", "sport") => {
                ports(op, right).map_or(unknown, |s| Cond::Sport(negated, s))
            }
            // Another protocol's header: the router's UDP packet never matches.
            (
                "tcp" | "icmp" | "icmpv6" | "sctp" | "dccp" | "udplite" | "igmp" | "ip6" | "esp"
                | "ah" | "comp" | "arp",
                _,
            ) => Cond::Const(Tri::No),
            _ => unknown,
        };
    }
    if let Some(meta) = left.get("meta") {
        let values = strings(right);
        let has = |x: &str| values.iter().any(|v| v == x);
        let constant =
            |yes: bool| Cond::Const(if yes { Tri::Yes } else { Tri::No }.negate_if(negated));
        return match (str_of(meta, "key"), membership) {
            ("iifname" | "iif", true) => Cond::Iif(negated, values),
            ("l4proto", true) => Cond::L4(negated, values),
            ("nfproto", true) => constant(has("ipv4")),
            ("protocol", true) => constant(has("ip")),
            ("pkttype", true) => constant(has("host")),
            _ => unknown,
        };
    }
    if let Some(ct) = left.get("ct") {
        if str_of(ct, "key") == "state" && membership {
            return Cond::CtState(negated, strings(right));
        }
        return unknown;
    }
    if let Some(fib) = left.get("fib") {
        let daddr = fib
            .get("flags")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x == "daddr"));
        if str_of(fib, "result") == "type" && daddr && membership {
            let values = strings(right);
            if values.iter().all(|v| v == "local") {
                return Cond::Const(Tri::Yes.negate_if(negated));
            }
            if values.iter().all(|v| v == "broadcast" || v == "multicast") {
                return Cond::Const(Tri::No.negate_if(negated));
            }
        }
    }
    unknown
}

/// Strings of a right-hand side: a string, a list of flags, or an anonymous set.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.get("set").map(strings).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Address ranges of a right-hand side; `None` for a named set (contents unknown here).
fn addrs(v: &Value) -> Option<Vec<(u32, u32)>> {
    match v {
        Value::String(s) => {
            let ip: Ipv4Addr = s.parse().ok()?;
            Some(vec![(u32::from(ip), u32::from(ip))])
        }
        Value::Object(o) => {
            if let Some(set) = o.get("set").and_then(Value::as_array) {
                let mut out = Vec::new();
                for e in set {
                    out.extend(addrs(e)?);
                }
                Some(out)
            } else if let Some(p) = o.get("prefix") {
                let ip: Ipv4Addr = str_of(p, "addr").parse().ok()?;
                let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
                Some(vec![Subnet::new(ip, len).ok()?.range()])
            } else if let Some(r) = o.get("range").and_then(Value::as_array) {
                let lo: Ipv4Addr = r.first()?.as_str()?.parse().ok()?;
                let hi: Ipv4Addr = r.get(1)?.as_str()?.parse().ok()?;
                Some(vec![(u32::from(lo), u32::from(hi))])
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Port ranges of a right-hand side under `op` (`==`, `in`, `!=`, or a comparison).
fn ports(op: &str, v: &Value) -> Option<Vec<(u32, u32)>> {
    let single = |v: &Value| -> Option<u32> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    match op {
        "<" => Some(vec![(0, single(v)?.checked_sub(1)?)]),
        "<=" => Some(vec![(0, single(v)?)]),
        ">" => Some(vec![(single(v)? + 1, 65535)]),
        ">=" => Some(vec![(single(v)?, 65535)]),
        _ => match v {
            Value::Object(o) => {
                if let Some(set) = o.get("set").and_then(Value::as_array) {
                    let mut out = Vec::new();
                    for e in set {
                        out.extend(ports("==", e)?);
                    }
                    Some(out)
                } else {
                    let r = o.get("range")?.as_array()?;
                    Some(vec![(single(r.first()?)?, single(r.get(1)?)?)])
                }
            }
            _ => single(v).map(|n| vec![(n, n)]),
        },
    }
}

/// Renders an nftables JSON expression roughly as `nft list` prints it, for messages.
fn render(v: &Value) -> String {
    let Some((key, body)) = v.as_object().and_then(|o| o.iter().next()) else {
        return render_value(v);
    };
    match key.as_str() {
        "match" => {
            let op = match str_of(body, "op") {
                "==" | "in" => String::new(),
                other => format!("{other} "),
            };
            format!(
                "{} {op}{}",
                render_value(body.get("left").unwrap_or(&Value::Null)),
                render_value(body.get("right").unwrap_or(&Value::Null))
            )
        }
        "jump" | "goto" => format!("{key} {}", str_of(body, "target")),
        "vmap" => format!(
            "{} vmap {}",
            render_value(body.get("key").unwrap_or(&Value::Null)),
            body.get("data").map(render_value).unwrap_or_default()
        ),
        "counter" => "counter".into(),
        _ if body.is_null() => key.clone(),
        "reject" => "reject".into(),
        _ => format!("{key} {}", render_value(body)),
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().any(|c| c.is_ascii_alphabetic()) && !s.contains('.') => {
            format!("\"{s}\"")
        }
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(render_value).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            if let Some(p) = o.get("payload") {
                format!("{} {}", str_of(p, "protocol"), str_of(p, "field"))
            } else if let Some(m) = o.get("meta") {
                let k = str_of(m, "key");
                if matches!(k, "iifname" | "oifname" | "iif" | "oif") {
                    k.to_owned()
                } else {
                    format!("meta {k}")
                }
            } else if let Some(c) = o.get("ct") {
                format!("ct {}", str_of(c, "key"))
            } else if let Some(p) = o.get("prefix") {
                format!(
                    "{}/{}",
                    str_of(p, "addr"),
                    p.get("len").unwrap_or(&Value::Null)
                )
            } else if let Some(r) = o.get("range").and_then(Value::as_array) {
                r.iter().map(render_value).collect::<Vec<_>>().join("-")
            } else if let Some(s) = o.get("set").and_then(Value::as_array) {
                let inner: Vec<String> = s
                    .iter()
                    .map(|e| match e.as_array() {
                        Some(pair) => pair
                            .iter()
                            .map(|x| {
                                if x.is_object()
                                    && x.get("prefix").is_none()
                                    && x.get("range").is_none()
                                {
                                    render(x)
                                } else {
                                    render_value(x)
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(" : "),
                        None => render_value(e),
                    })
                    .collect();
                format!("{{ {} }}", inner.join(", "))
            } else {
                v.to_string()
            }
        }
        _ => v.to_string(),
    }
}

/// The expression of the rule rescue-wizard inserts.
pub(super) fn nft_allow_expr(subnet: Subnet, iface: &str) -> Value {
    json!([
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": iface}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": subnet.network().to_string(), "len": subnet.prefix()}}}},
        {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}},
        {"accept": null},
    ])
}

/// The handle in `nft -j -e -a` output for an inserted rule.
pub(super) fn echoed_handle(echo: &str) -> Option<u64> {
    let root: Value = serde_json::from_str(echo).ok()?;
    root.get("nftables")?
        .as_array()?
        .iter()
        .find_map(|item| item.get("insert")?.get("rule")?.get("handle")?.as_u64())
}

/// Handles of rules in one chain that are rescue-wizard's rule for `subnet` on `iface`: our
/// comment, our interface, our subnet. Nothing else is ever deleted.
pub(super) fn our_nft_handles(
    json: &str,
    family: &str,
    table: &str,
    chain: &str,
    subnet: Subnet,
    iface: &str,
) -> Result<Vec<u64>, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let mut handles = Vec::new();
    for item in items {
        let Some(r) = item.get("rule") else { continue };
        if str_of(r, "family") != family
            || str_of(r, "table") != table
            || str_of(r, "chain") != chain
            || str_of(r, "comment") != RULE_COMMENT
        {
            continue;
        }
        let exprs = r
            .get("expr")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let rule = nft_rule(&exprs, None);
        let ours = rule.action == Action::Accept
            && rule.conds.len() == 3
            && rule
                .conds
                .contains(&Cond::Iif(false, vec![iface.to_owned()]))
            && rule
                .conds
                .contains(&Cond::Saddr(false, vec![subnet.range()]))
            && rule
                .conds
                .contains(&Cond::L4(false, vec!["udp".to_owned()]));
        if let (true, Some(h)) = (ours, r.get("handle").and_then(Value::as_u64)) {
            handles.push(h);
        }
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::super::model::testing::{only, subnet, verdicts};
    use super::*;
    use crate::net::firewall::DropVerdict;

    const NFT_EMPTY: &str = include_str!("../../../tests/fixtures/firewall/nft-empty.json");
    const NFT_DROP_69: &str = include_str!("../../../tests/fixtures/firewall/nft-drop-69.json");
    const NFT_DEFAULT_DROP: &str =
        include_str!("../../../tests/fixtures/firewall/nft-default-drop.json");
    const NFT_ALLOWED_JUMP: &str =
        include_str!("../../../tests/fixtures/firewall/nft-allowed-jump.json");
    const NFT_IPTABLES_NFT: &str =
        include_str!("../../../tests/fixtures/firewall/nft-iptables-nft.json");

    #[test]
    fn an_empty_nft_ruleset_is_clear() {
        let r = parse_nft(NFT_EMPTY).unwrap();
        assert_eq!(
            only(&r, "10.88.1.0/24", "veth0"),
            (DropVerdict::Clear, DropVerdict::Clear)
        );
    }

    #[test]
    fn an_nft_rule_dropping_port_69_blocks_requests_only() {
        let r = parse_nft(NFT_DROP_69).unwrap();
        let v = verdicts(&r, "10.88.1.0/24", "veth0");
        assert_eq!(v[0].1, DropVerdict::Blocks);
        assert_eq!(
            v[0].2.as_deref(),
            Some("udp dport 69 counter drop comment \"no tftp here\"")
        );
        assert_eq!(v[1].1, DropVerdict::Clear);
    }

    #[test]
    fn an_nft_default_drop_with_only_established_is_likely_for_both() {
        let r = parse_nft(NFT_DEFAULT_DROP).unwrap();
        let v = verdicts(&r, "192.168.0.0/24", "eth0");
        assert_eq!(v[1].1, DropVerdict::Likely, "{v:?}");
        assert_eq!(v[0].1, DropVerdict::Likely);
        assert_eq!(v[1].2.as_deref(), Some("policy drop of inet filter input"));
        // From loopback everything is accepted.
        assert_eq!(
            only(&r, "127.0.0.0/8", "lo"),
            (DropVerdict::Clear, DropVerdict::Clear)
        );
    }

    #[test]
    fn a_tftp_helper_makes_replies_depend_on_its_assignment() {
        let mut r = parse_nft(NFT_DEFAULT_DROP).unwrap();
        r.helper = true;
        // Still likely dropped: the helper may or may not be assigned to this flow.
        assert_eq!(only(&r, "192.168.0.0/24", "eth0").1, DropVerdict::Likely);
    }

    #[test]
    fn nft_jumps_sets_prefixes_and_prerouting_are_followed() {
        let r = parse_nft(NFT_ALLOWED_JUMP).unwrap();
        // Our own accept rule is first: clear, except that a prerouting rule drops one host
        // of the subnet on port 69.
        let v = verdicts(&r, "10.88.1.0/24", "veth0");
        assert_eq!(v[0].1, DropVerdict::Likely, "{v:?}");
        assert_eq!(
            v[0].2.as_deref(),
            Some("ip saddr 10.88.1.7 udp dport 69 drop")
        );
        assert_eq!(v[1].1, DropVerdict::Clear);
        // Another subnet reaches the services chain: replies from 192.168.7.0/24 are
        // rejected there, requests fall off to the policy.
        let v = verdicts(&r, "192.168.7.0/24", "eth1");
        assert_eq!(v[1].1, DropVerdict::Blocks, "{v:?}");
        assert_eq!(
            v[1].2.as_deref(),
            Some("ip saddr 192.168.7.0/24 udp dport 1024-65535 reject")
        );
        assert_eq!(v[0].1, DropVerdict::Likely);
        // A single host inside the subnet is only "maybe" the router.
        let v = verdicts(&r, "192.168.0.0/16", "eth1");
        assert_eq!(v[1].1, DropVerdict::Likely);
    }

    #[test]
    fn iptables_nft_tables_are_left_to_the_iptables_backend() {
        let r = parse_nft(NFT_IPTABLES_NFT).unwrap();
        assert!(r.tables.is_empty());
        assert_eq!(
            only(&r, "10.88.1.0/24", "veth0"),
            (DropVerdict::Clear, DropVerdict::Clear)
        );
    }

    #[test]
    fn nft_vmaps_and_constants() {
        let json = r#"{"nftables":[{"table":{"family":"inet","name":"t","handle":1}},
            {"chain":{"family":"inet","table":"t","name":"in","handle":1,"type":"filter","hook":"input","prio":0,"policy":"accept"}},
            {"chain":{"family":"inet","table":"t","name":"wan","handle":2}},
            {"rule":{"family":"inet","table":"t","chain":"in","handle":3,"expr":[{"vmap":{"key":{"meta":{"key":"iifname"}},"data":{"set":[["lo",{"accept":null}],["eth*",{"jump":{"target":"wan"}}]]}}}]}},
            {"rule":{"family":"inet","table":"t","chain":"wan","handle":4,"expr":[{"match":{"op":"==","left":{"meta":{"key":"nfproto"}},"right":"ipv6"}},{"drop":null}]}},
            {"rule":{"family":"inet","table":"t","chain":"wan","handle":5,"expr":[{"match":{"op":"<","left":{"payload":{"protocol":"udp","field":"dport"}},"right":1024}},{"reject":null}]}}]}"#;
        let r = parse_nft(json).unwrap();
        let v = verdicts(&r, "192.168.1.0/24", "eth0");
        assert_eq!((v[0].1, v[1].1), (DropVerdict::Blocks, DropVerdict::Clear));
        assert_eq!(v[0].2.as_deref(), Some("udp dport < 1024 reject"));
        assert_eq!(
            only(&r, "192.168.1.0/24", "wlan0"),
            (DropVerdict::Clear, DropVerdict::Clear)
        );
    }

    #[test]
    fn bad_nft_output_is_an_error() {
        assert!(parse_nft("not json").is_err());
        assert!(parse_nft("{}").is_err());
    }

    #[test]
    fn our_rule_is_recognised_and_nothing_else() {
        let net = subnet("10.88.1.0/24");
        let ours = json!({"nftables": [
            {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11,
                "comment": RULE_COMMENT, "expr": nft_allow_expr(net, "veth0")}},
            // Same comment, other interface: someone else's.
            {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 12,
                "comment": RULE_COMMENT, "expr": nft_allow_expr(net, "veth1")}},
            // Same match, no comment.
            {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 13,
                "expr": nft_allow_expr(net, "veth0")}},
            // Other chain.
            {"rule": {"family": "inet", "table": "filter", "chain": "other", "handle": 14,
                "comment": RULE_COMMENT, "expr": nft_allow_expr(net, "veth0")}},
        ]})
        .to_string();
        assert_eq!(
            our_nft_handles(&ours, "inet", "filter", "input", net, "veth0").unwrap(),
            [11]
        );
        let echo = r#"{"nftables": [{"insert": {"rule": {"family": "inet", "handle": 11}}}]}"#;
        assert_eq!(echoed_handle(echo), Some(11));
    }
}
