//! The temporary allow rule's lifecycle: plan which nftables chains and iptables stores would
//! drop the router's UDP, insert one rule carrying [`RULE_COMMENT`] in each, and remove exactly
//! those rules again (by handle, or by comment, interface and subnet after a crash). ufw and
//! firewalld get commands for the technician instead.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::host::Firewall;
use super::iptables::parse_iptables;
use super::model::{Hook, View, firewalld_fix, ufw_fix};
use super::nft::{echoed_handle, nft_allow_expr, our_nft_handles, parse_nft};
use super::{
    Backend, DropVerdict, FirewallError, IptablesVariant, RULE_COMMENT, Subnet, Traffic, worst,
};

/// A rule rescue-wizard added, described exactly enough to remove it and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum AddedRule {
    /// `iifname IF ip saddr SUBNET meta l4proto udp accept comment "rescue-wizard"` at the top
    /// of one nftables base chain.
    Nftables {
        /// Table family (`ip` or `inet`).
        family: String,
        /// Table name.
        table: String,
        /// Base chain name.
        chain: String,
        /// The rule's handle once known; without it removal finds the rule by its comment,
        /// interface and subnet (a crash between insert and journal update).
        handle: Option<u64>,
    },
    /// `-I INPUT 1 -i IF -s SUBNET -p udp -m comment --comment rescue-wizard -j ACCEPT`.
    Iptables {
        /// Which rule store.
        variant: IptablesVariant,
    },
}

/// A change rescue-wizard leaves to the technician (ufw and firewalld own their rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualStep {
    /// Which firewall.
    pub backend: Backend,
    /// The command that allows the router's subnet.
    pub add: String,
    /// The command that takes it back afterwards.
    pub remove: String,
}

/// What [`allow`] added (or, from [`plan_allow`], will add): written to the undo journal and
/// handed back to [`remove`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// The router's subnet the rules accept.
    pub subnet: Subnet,
    /// The interface they are limited to.
    pub iface: String,
    /// The rules, in the order they were added.
    pub rules: Vec<AddedRule>,
    /// Commands for the technician, for firewalls rescue-wizard does not change.
    pub manual: Vec<ManualStep>,
}

impl AllowRule {
    /// The commands that remove these rules by hand, newest first (for a person, when
    /// rescue-wizard leaves a rule in place): nftables by handle, iptables by the exact spec.
    pub fn removal_commands(&self) -> Vec<String> {
        self.rules
            .iter()
            .rev()
            .map(|added| match added {
                AddedRule::Nftables {
                    family,
                    table,
                    chain,
                    handle: Some(handle),
                } => format!("nft delete rule {family} {table} {chain} handle {handle}"),
                // Never echoed (a crash between insert and journal): the listing shows it.
                AddedRule::Nftables {
                    family,
                    table,
                    chain,
                    handle: None,
                } => format!(
                    "nft -a list chain {family} {table} {chain} (then `nft delete rule {family} {table} {chain} handle N` for the rule with comment \"{RULE_COMMENT}\")"
                ),
                AddedRule::Iptables { variant } => format!(
                    "{} -D INPUT {}",
                    variant.program(),
                    self.iptables_spec().join(" ")
                ),
            })
            .collect()
    }

    /// The iptables rule specification (after `-I INPUT 1` / `-D INPUT`).
    fn iptables_spec(&self) -> Vec<String> {
        [
            "-i",
            &self.iface,
            "-s",
            &self.subnet.to_string(),
            "-p",
            "udp",
            "-m",
            "comment",
            "--comment",
            RULE_COMMENT,
            "-j",
            "ACCEPT",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }
}

impl Firewall {
    /// See [`plan_allow`].
    pub fn plan_allow(&self, subnet: Subnet, iface: &str) -> Result<AllowRule, FirewallError> {
        check_iface(iface)?;
        let view = View { subnet, iface };
        let mut plan = AllowRule {
            subnet,
            iface: iface.to_owned(),
            rules: Vec::new(),
            manual: Vec::new(),
        };
        let ufw = self.ufw()?;
        let ufw_active = ufw.as_ref().is_some_and(|s| s.active);
        let zone = self.firewalld(subnet, iface)?;
        let firewalld_running = zone.as_ref().is_some_and(|z| z.running);
        match self.run_ok("nft", &["-j", "list", "ruleset"]) {
            Ok(json) => {
                let ruleset = parse_nft(&json).map_err(|detail| FirewallError::BadOutput {
                    command: "nft -j list ruleset".into(),
                    detail,
                })?;
                for table in &ruleset.tables {
                    for base in &table.bases {
                        let drops = Traffic::ALL.iter().any(|t| {
                            view.base_verdict(table, base, *t, ruleset.helper).0
                                != DropVerdict::Clear
                        });
                        if drops && base.hook == Hook::Input {
                            plan.rules.push(AddedRule::Nftables {
                                family: table.family.clone(),
                                table: table.name.clone(),
                                chain: base.chain.clone(),
                                handle: None,
                            });
                        }
                    }
                }
            }
            Err(FirewallError::ToolMissing { .. }) => {}
            Err(err) => return Err(err),
        }
        // ufw and firewalld (with its iptables backend) own the iptables rules; adding to
        // them underneath would change those firewalls, which is the technician's call.
        if !ufw_active && !firewalld_running {
            for (variant, result) in self.iptables_saves() {
                let text = match result {
                    Ok(text) => text,
                    Err(FirewallError::ToolMissing { .. }) => continue,
                    Err(err) => return Err(err),
                };
                let ruleset = parse_iptables(&text);
                if view
                    .verdicts(&ruleset)
                    .iter()
                    .any(|(_, v, _)| *v != DropVerdict::Clear)
                {
                    plan.rules.push(AddedRule::Iptables { variant });
                }
            }
        }
        if let Some(status) = ufw.filter(|s| s.active)
            && worst(&view.ufw_findings(&status)) != DropVerdict::Clear
        {
            plan.manual.push(ManualStep {
                backend: Backend::Ufw,
                add: ufw_fix(subnet, iface),
                remove: format!("ufw delete allow in on {iface} proto udp from {subnet}"),
            });
        }
        if let Some(zone) = zone.filter(|z| z.running)
            && worst(&view.firewalld_findings(&zone)) != DropVerdict::Clear
        {
            plan.manual.push(ManualStep {
                backend: Backend::Firewalld,
                add: firewalld_fix(&zone.name, subnet, "add"),
                remove: firewalld_fix(&zone.name, subnet, "remove"),
            });
        }
        Ok(plan)
    }

    /// See [`apply`].
    pub fn apply(&self, plan: &AllowRule) -> Result<AllowRule, FirewallError> {
        check_iface(&plan.iface)?;
        let mut done = AllowRule {
            rules: Vec::new(),
            ..plan.clone()
        };
        for rule in &plan.rules {
            match self.add_one(plan, rule) {
                Ok(added) => done.rules.push(added),
                Err(err) => {
                    // Roll back, including the rule that failed half-way (an insert whose
                    // echo could not be read is found again by its comment).
                    let mut partial = done.clone();
                    partial.rules.push(rule.clone());
                    let _ = self.remove(&partial);
                    return Err(err);
                }
            }
        }
        Ok(done)
    }

    fn add_one(&self, plan: &AllowRule, rule: &AddedRule) -> Result<AddedRule, FirewallError> {
        match rule {
            AddedRule::Nftables {
                family,
                table,
                chain,
                ..
            } => {
                let command = json!({"nftables": [{"insert": {"rule": {
                    "family": family, "table": table, "chain": chain,
                    "comment": RULE_COMMENT,
                    "expr": nft_allow_expr(plan.subnet, &plan.iface),
                }}}]})
                .to_string();
                let echo = self.run_ok("nft", &["-j", "-e", "-a", &command])?;
                let handle = echoed_handle(&echo).ok_or_else(|| FirewallError::BadOutput {
                    command: format!("nft -j -e -a {command}"),
                    detail: "no rule handle in the echo".into(),
                })?;
                Ok(AddedRule::Nftables {
                    family: family.clone(),
                    table: table.clone(),
                    chain: chain.clone(),
                    handle: Some(handle),
                })
            }
            AddedRule::Iptables { variant } => {
                let program = self.iptables_program(*variant)?;
                let mut args = vec!["-w", "3", "-I", "INPUT", "1"];
                let spec = plan.iptables_spec();
                args.extend(spec.iter().map(String::as_str));
                self.run_ok(program, &args)?;
                Ok(rule.clone())
            }
        }
    }

    /// The variant's own program, or plain `iptables` on systems that ship only one.
    fn iptables_program(&self, variant: IptablesVariant) -> Result<&'static str, FirewallError> {
        match self.run(variant.program(), &["--version"]) {
            Ok(_) => Ok(variant.program()),
            Err(FirewallError::ToolMissing { .. }) => Ok("iptables"),
            Err(err) => Err(err),
        }
    }

    /// See [`allow`].
    pub fn allow(&self, subnet: Subnet, iface: &str) -> Result<AllowRule, FirewallError> {
        let plan = self.plan_allow(subnet, iface)?;
        self.apply(&plan)
    }

    /// See [`remove`].
    pub fn remove(&self, rule: &AllowRule) -> Result<(), FirewallError> {
        let mut first_error = None;
        // Later rules first, the reverse of adding.
        for added in rule.rules.iter().rev() {
            let result = match added {
                AddedRule::Nftables {
                    family,
                    table,
                    chain,
                    handle,
                } => self.remove_nft(rule, family, table, chain, *handle),
                AddedRule::Iptables { variant } => self.remove_iptables(rule, *variant),
            };
            if let Err(err) = result {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn remove_nft(
        &self,
        rule: &AllowRule,
        family: &str,
        table: &str,
        chain: &str,
        handle: Option<u64>,
    ) -> Result<(), FirewallError> {
        let listing = self.run_ok("nft", &["-j", "list", "ruleset"])?;
        let ours = our_nft_handles(&listing, family, table, chain, rule.subnet, &rule.iface)
            .map_err(|detail| FirewallError::BadOutput {
                command: "nft -j list ruleset".into(),
                detail,
            })?;
        let targets: Vec<u64> = match handle {
            // A known handle is deleted only while it still carries our rule: handles are
            // per table and restart when a table is recreated.
            Some(h) => ours.into_iter().filter(|o| *o == h).collect(),
            None => ours,
        };
        for h in targets {
            let command = json!({"nftables": [{"delete": {"rule": {
                "family": family, "table": table, "chain": chain, "handle": h,
            }}}]})
            .to_string();
            let ran = self.run("nft", &["-j", &command])?;
            // Gone in between (another removal): fine.
            if ran.code != Some(0) && !ran.stderr.contains("No such file or directory") {
                return Err(self.failed("nft", &["-j", &command], &ran));
            }
        }
        Ok(())
    }

    fn remove_iptables(
        &self,
        rule: &AllowRule,
        variant: IptablesVariant,
    ) -> Result<(), FirewallError> {
        let program = self.iptables_program(variant)?;
        let spec = rule.iptables_spec();
        let mut check = vec!["-w", "3", "-C", "INPUT"];
        check.extend(spec.iter().map(String::as_str));
        let ran = self.run(program, &check)?;
        match ran.code {
            Some(0) => {
                let mut delete = vec!["-w", "3", "-D", "INPUT"];
                delete.extend(spec.iter().map(String::as_str));
                self.run_ok(program, &delete).map(drop)
            }
            // Exit 1 with "does a matching rule exist": already gone.
            Some(1) => Ok(()),
            _ => Err(self.failed(program, &check, &ran)),
        }
    }
}

fn check_iface(name: &str) -> Result<(), FirewallError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '"' | '\'' | '\\'));
    if ok {
        Ok(())
    } else {
        Err(FirewallError::BadInterface {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::testing::subnet;
    use super::*;

    #[test]
    fn the_undo_value_round_trips_through_json() {
        let rule = AllowRule {
            subnet: subnet("192.168.0.0/24"),
            iface: "eth0".into(),
            rules: vec![
                AddedRule::Nftables {
                    family: "inet".into(),
                    table: "filter".into(),
                    chain: "input".into(),
                    handle: Some(7),
                },
                AddedRule::Iptables {
                    variant: IptablesVariant::Nft,
                },
            ],
            manual: vec![ManualStep {
                backend: Backend::Ufw,
                add: ufw_fix(subnet("192.168.0.0/24"), "eth0"),
                remove: "ufw delete allow in on eth0 proto udp from 192.168.0.0/24".into(),
            }],
        };
        let json = serde_json::to_string(&rule).unwrap();
        assert!(json.contains(r#""backend":"nftables""#), "{json}");
        assert_eq!(serde_json::from_str::<AllowRule>(&json).unwrap(), rule);
        assert_eq!(
            rule.iptables_spec().join(" "),
            "-i eth0 -s 192.168.0.0/24 -p udp -m comment --comment rescue-wizard -j ACCEPT"
        );
        assert_eq!(
            rule.removal_commands(),
            vec![
                "iptables-nft -D INPUT -i eth0 -s 192.168.0.0/24 -p udp -m comment --comment rescue-wizard -j ACCEPT".to_owned(),
                "nft delete rule inet filter input handle 7".to_owned(),
            ]
        );
    }

    #[test]
    fn interface_names_are_checked_before_they_reach_a_rule() {
        assert!(check_iface("enx00e04c680001").is_ok());
        for bad in ["", "a b", "x\"y", "a/b", "sixteen-chars-xx"] {
            assert!(check_iface(bad).is_err(), "{bad:?}");
        }
    }
}
