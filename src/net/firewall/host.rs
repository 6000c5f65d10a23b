//! Where firewall tools run (this host, or a network namespace for the tests), with a
//! deadline, and the inspection that reads every installed backend into findings.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::firewalld::{Zone, parse_active_zones, parse_zone, zone_for};
use super::iptables::{parse_iptables, pick_iptables_saves};
use super::model::View;
use super::nft::parse_nft;
use super::ufw::{UfwStatus, parse_ufw};
use super::{Backend, Finding, FirewallError, IptablesVariant, Subnet};

/// How long one firewall tool may run before it is killed.
const TOOL_TIMEOUT: Duration = Duration::from_secs(8);

/// Where firewall tools run: this host, or (for the tests) inside a named network namespace.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Firewall {
    prefix: Vec<String>,
    timeout: Duration,
}

/// What one tool run printed.
pub(super) struct Ran {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
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

    /// Runs `program args` with a deadline. A missing program is `ToolMissing`; a non-zero
    /// exit is returned as is, for the caller to interpret.
    pub(super) fn run(&self, program: &str, args: &[&str]) -> Result<Ran, FirewallError> {
        let full = self.argv(program, args);
        let command = full.join(" ");
        let missing = || FirewallError::ToolMissing {
            tool: program.to_owned(),
            package: package_of(program),
        };
        // `ip netns exec` changes the network namespace, not the file system: a program that
        // is not on this process's path is not there either. Asking the path first keeps a
        // missing tool a missing tool whatever `ip` prints or exits with when its exec fails
        // (iproute2 6.1 exits 1, later ones 255).
        if !self.prefix.is_empty() && !on_path(program) {
            return Err(missing());
        }
        let child = Command::new(full[0])
            .args(&full[1..])
            // Messages are matched below; keep them in English.
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound && self.prefix.is_empty() {
                    missing()
                } else {
                    FirewallError::Spawn {
                        command: command.clone(),
                        source,
                    }
                }
            })?;
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        // wait_with_output drains both pipes while waiting, so a chatty tool cannot block on
        // a full pipe; the receiving side enforces the deadline.
        thread::Builder::new()
            .name(format!("firewall-{program}"))
            .spawn(move || {
                let _ = tx.send(child.wait_with_output());
            })
            .map_err(|source| FirewallError::Spawn {
                command: command.clone(),
                source,
            })?;
        let output = match rx.recv_timeout(self.timeout) {
            Ok(Ok(output)) => output,
            Ok(Err(source)) => return Err(FirewallError::Spawn { command, source }),
            Err(_) => {
                // The child is not reaped until the waiting thread sees it die, so its pid
                // cannot have been reused yet.
                #[cfg(not(unix))]
                let _ = pid;
                #[cfg(unix)]
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                return Err(FirewallError::Timeout {
                    command,
                    secs: self.timeout.as_secs(),
                });
            }
        };
        let ran = Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        };
        // `ip netns exec` reports a program it cannot find itself (exit 1 or 255 by version).
        if !self.prefix.is_empty()
            && ran.code != Some(0)
            && ran
                .stderr
                .contains(&format!("exec of \"{program}\" failed"))
            && ran.stderr.contains("No such file")
        {
            return Err(missing());
        }
        Ok(ran)
    }

    /// Runs a tool that must succeed.
    pub(super) fn run_ok(&self, program: &str, args: &[&str]) -> Result<String, FirewallError> {
        let ran = self.run(program, args)?;
        if ran.code == Some(0) {
            return Ok(ran.stdout);
        }
        Err(self.failed(program, args, &ran))
    }

    /// The full command line: the namespace prefix, the program, its arguments.
    fn argv<'a>(&'a self, program: &'a str, arguments: &[&'a str]) -> Vec<&'a str> {
        let mut full: Vec<&str> = self.prefix.iter().map(String::as_str).collect();
        full.push(program);
        full.extend_from_slice(arguments);
        full
    }

    pub(super) fn failed(&self, program: &str, args: &[&str], ran: &Ran) -> FirewallError {
        let full = self.argv(program, args);
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
            command: full.join(" "),
            stderr: if ran.stderr.is_empty() {
                format!("exit status {:?}", ran.code)
            } else {
                ran.stderr.clone()
            },
            hint: hint.to_owned(),
        }
    }

    /// See [`inspect`].
    pub fn inspect(&self, subnet: Subnet, iface: &str) -> Vec<Finding> {
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

/// True when `program` is an executable file in a folder of `PATH`, or in `/usr/sbin` or
/// `/sbin` (where Debian keeps nft and iptables, and which a user's `PATH` may lack).
fn on_path(program: &str) -> bool {
    let folders = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    folders
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|folder| folder.join(program).is_file())
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

    #[test]
    fn a_tool_missing_behind_a_namespace_is_missing_not_failed() {
        // `ip netns exec` exits 1 or 255 depending on its version when the program is not
        // there; the path is asked first, so no namespace is needed to tell.
        let err = Firewall::in_netns("rescue-wizard-no-such-namespace")
            .run("rescue-wizard-no-such-tool", &[])
            .err()
            .expect("a missing tool is an error");
        assert!(
            matches!(&err, FirewallError::ToolMissing { tool, .. } if tool == "rescue-wizard-no-such-tool"),
            "{err:?}"
        );
        assert!(on_path("sh"));
    }
}
