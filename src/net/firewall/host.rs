//! Where firewall tools run (this host, or a network namespace for the tests), with a
//! deadline, and the inspection that reads every installed backend into findings.

use std::time::Duration;

use super::firewalld::{Zone, parse_active_zones, parse_zone, zone_for};
use super::iptables::{parse_iptables, pick_iptables_saves};
use super::model::View;
use super::nft::parse_nft;
use super::ufw::{UfwStatus, parse_ufw};
use super::{Backend, FirewallError, IptablesVariant, RuleEffect, Subnet};
use crate::net::tool::{Ran, Tool, ToolError};

/// How long one firewall tool may run before it is killed.
const TOOL_TIMEOUT: Duration = Duration::from_secs(8);

/// Where firewall tools run: this host, or (for the tests) inside a named network namespace.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Firewall {
    prefix: Vec<String>,
    timeout: Duration,
}

impl Firewall {
    /// Tools run on this host.
    pub fn host() -> Self {
        Self {
            prefix: Vec::new(),
            timeout: TOOL_TIMEOUT,
        }
    }

    /// Tools run inside network namespace `name` (`ip netns exec NAME ...`).
    pub fn in_netns(name: &str) -> Self {
        Self {
            prefix: ["ip", "netns", "exec", name]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            timeout: TOOL_TIMEOUT,
        }
    }

    /// The tool `program args`, with this firewall's launcher and deadline.
    fn tool(&self, program: &str, args: &[&str]) -> Tool {
        Tool::new(program, self.timeout)
            .args(args)
            .through(&self.prefix)
    }

    /// Runs `program args` with a deadline. A missing program is `ToolMissing`; a non-zero
    /// exit is returned as is, for the caller to interpret.
    pub(super) fn run(&self, program: &str, args: &[&str]) -> Result<Ran, FirewallError> {
        self.tool(program, args).run().map_err(|err| match err {
            ToolError::Missing { program } => FirewallError::ToolMissing {
                package: package_of(&program),
                tool: program,
            },
            ToolError::Spawn { command, source } => FirewallError::Spawn { command, source },
            ToolError::TimedOut { command, deadline } => FirewallError::Timeout {
                command,
                secs: deadline.as_secs(),
            },
            ToolError::Failed { ran, .. } => self.failed(program, args, &ran),
        })
    }

    /// Runs a tool that must succeed.
    pub(super) fn run_ok(&self, program: &str, args: &[&str]) -> Result<String, FirewallError> {
        let ran = self.run(program, args)?;
        if ran.success() {
            return Ok(ran.stdout);
        }
        Err(self.failed(program, args, &ran))
    }

    pub(super) fn failed(&self, program: &str, args: &[&str], ran: &Ran) -> FirewallError {
        let lower = ran.stderr.to_lowercase();
        let hint = if lower.contains("permission denied")
            || lower.contains("operation not permitted")
            || lower.contains("must be root")
            || lower.contains("need to be root")
        {
            "firewall changes need root: run rescue-wizard with sudo, or give it CAP_NET_ADMIN"
        } else {
            "run the command by hand to see the full error"
        };
        FirewallError::Failed {
            command: self.tool(program, args).command_line(),
            stderr: if ran.stderr.is_empty() {
                format!("exit status {:?}", ran.code)
            } else {
                ran.stderr.clone()
            },
            hint: hint.to_owned(),
        }
    }

    /// See [`inspect`].
    pub fn inspect(&self, subnet: Subnet, iface: &str) -> Vec<RuleEffect> {
        let mut findings = Vec::new();
        let view = View { subnet, iface };
        match self.run_ok("nft", &["-j", "list", "ruleset"]) {
            Ok(json) => match parse_nft(&json) {
                Ok(ruleset) => findings.extend(view.findings(Backend::Nftables, &ruleset)),
                Err(detail) => findings.extend(view.unknown(
                    Backend::Nftables,
                    &FirewallError::BadOutput {
                        command: "nft -j list ruleset".into(),
                        detail,
                    },
                )),
            },
            // No `nft` means no nftables rules this host could have been given by hand; the
            // kernel's nf_tables rules iptables-nft made are read through iptables below.
            Err(FirewallError::ToolMissing { .. }) => {}
            Err(err) => findings.extend(view.unknown(Backend::Nftables, &err)),
        }
        for (variant, result) in self.iptables_saves() {
            match result {
                Ok(text) => {
                    let ruleset = parse_iptables(&text);
                    findings.extend(view.findings(Backend::Iptables(variant), &ruleset));
                }
                Err(err) => findings.extend(view.unknown(Backend::Iptables(variant), &err)),
            }
        }
        match self.ufw() {
            Ok(Some(status)) => findings.extend(view.ufw_findings(&status)),
            Ok(None) => {}
            Err(err) => findings.extend(view.unknown(Backend::Ufw, &err)),
        }
        match self.firewalld(subnet, iface) {
            Ok(Some(zone)) => findings.extend(view.firewalld_findings(&zone)),
            Ok(None) => {}
            Err(err) => findings.extend(view.unknown(Backend::Firewalld, &err)),
        }
        findings
    }

    /// `iptables-save` output per installed variant. Legacy tables that are not loaded print
    /// nothing and are left out when the `nf_tables` variant answered.
    pub(super) fn iptables_saves(&self) -> Vec<(IptablesVariant, Result<String, FirewallError>)> {
        let legacy = self.run_ok("iptables-legacy-save", &[]);
        let nft = self.run_ok("iptables-nft-save", &[]);
        pick_iptables_saves(legacy, nft, || self.run_ok("iptables-save", &[]))
    }

    /// `ufw status verbose` when ufw is installed (`None` when it is not).
    pub(super) fn ufw(&self) -> Result<Option<UfwStatus>, FirewallError> {
        match self.run_ok("ufw", &["status", "verbose"]) {
            Ok(text) => Ok(Some(parse_ufw(&text))),
            Err(FirewallError::ToolMissing { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// firewalld's zone for the router's traffic, when firewalld is installed (`None` when
    /// it is not; a zone with `running: false` when it is installed but stopped).
    pub(super) fn firewalld(
        &self,
        subnet: Subnet,
        iface: &str,
    ) -> Result<Option<Zone>, FirewallError> {
        let state = match self.run("firewall-cmd", &["--state"]) {
            Ok(ran) => ran,
            Err(FirewallError::ToolMissing { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        if state.stdout.trim() != "running" {
            return Ok(Some(Zone::stopped()));
        }
        let active = self.run_ok("firewall-cmd", &["--get-active-zones"])?;
        let name = match zone_for(&parse_active_zones(&active), subnet, iface) {
            Some(name) => name,
            None => self
                .run_ok("firewall-cmd", &["--get-default-zone"])?
                .trim()
                .to_owned(),
        };
        let zone_arg = format!("--zone={name}");
        let listing = self.run_ok("firewall-cmd", &["--list-all", &zone_arg])?;
        Ok(Some(parse_zone(&name, &listing)))
    }
}

fn package_of(program: &str) -> &'static str {
    match program {
        "nft" => "nftables",
        "ufw" => "ufw",
        "firewall-cmd" => "firewalld",
        "ip" => "iproute2",
        _ => "iptables",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tool::on_path;

    #[test]
    fn a_tool_missing_behind_a_namespace_is_missing_not_failed() {
        // `ip netns exec` exits 1 or 255 depending on its version when the program is not
        // there; the path is asked first, so no namespace is needed to tell.
        let err = Firewall::in_netns("rescue-wizard-no-such-namespace")
            .run("rescue-wizard-no-such-tool", &[])
            .expect_err("a missing tool is an error");
        assert!(
            matches!(&err, FirewallError::ToolMissing { tool, .. } if tool == "rescue-wizard-no-such-tool"),
            "{err:?}"
        );
        assert!(on_path("sh"));
    }
}
