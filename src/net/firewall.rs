//! Will this host's firewall drop TFTP from the router? And a temporary allow rule for the
//! router's subnet that is removed again, exactly.
//!
//! Two kinds of traffic matter ([`Traffic`]): the router's requests to UDP port 69 (it pulls
//! firmware from us), and the router's replies to our ephemeral transfer ports (we push to, or
//! fetch from, its TFTP server). The second is the trap: a TFTP server answers from a fresh
//! port (RFC 1350 §4, transfer identifiers), so connection tracking sees a new flow rather than
//! a reply, and a stateful firewall that accepts only `established,related` drops it unless a
//! TFTP conntrack helper is assigned.
//!
//! Each backend (nftables, iptables legacy and nft, ufw, firewalld) is read through its own
//! tool, parsed by pure functions into one small rule model, and that model is evaluated for a
//! packet from the router's subnet on the chosen interface. The answer is honest about what
//! can be inferred: [`Verdict::Blocks`] when a rule clearly drops it, [`Verdict::Likely`] when a
//! default drop policy (or a rule that may match) would, [`Verdict::Clear`], or
//! [`Verdict::Unknown`] when the tool is missing or failed.
//!
//! Changes are limited to rules this module adds itself: an nftables rule or an iptables rule
//! carrying the comment [`RULE_COMMENT`]. ufw and firewalld are never changed; the technician
//! gets the exact command instead ([`ManualStep`]).

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The comment on every rule rescue-wizard adds; removal only ever deletes rules carrying it.
pub const RULE_COMMENT: &str = "rescue-wizard";

/// How long one firewall tool may run before it is killed.
const TOOL_TIMEOUT: Duration = Duration::from_secs(8);

/// The TFTP server port (RFC 1350 §4).
const TFTP_PORT: u16 = 69;

// Linux's default net.ipv4.ip_local_port_range: our transfer sockets bind port 0 and get one
// of these, so the router's replies arrive on a port in this range.
const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

// The router's own source port is unknown: U-Boot picks 1024 + (timer % 3072), other
// bootloaders and servers anything unprivileged.
const ROUTER_PORTS: (u16, u16) = (1024, 65535);

// How deep jumps between chains are followed before giving up (rulesets do not loop, but a
// malformed listing must not recurse forever).
const MAX_JUMP_DEPTH: u8 = 16;

/// An IPv4 subnet: the router's network, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// The subnet of `addr` with `prefix` bits; host bits are cleared
    /// (`192.168.0.1`, 24 → `192.168.0.0/24`).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, FirewallError> {
        if prefix > 32 {
            return Err(FirewallError::BadPrefix { prefix });
        }
        Ok(Self {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// The network address.
    pub fn network(self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    /// First and last address, inclusive.
    fn range(self) -> (u32, u32) {
        let lo = u32::from(self.network);
        (lo, lo | !mask(self.prefix))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = FirewallError;

    /// Parses `A.B.C.D/P` or a bare address (a /32).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FirewallError::BadSubnet { text: s.to_owned() };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().map_err(|_| bad())?),
            None => (s, 32),
        };
        Self::new(addr.parse().map_err(|_| bad())?, prefix)
    }
}

impl TryFrom<String> for Subnet {
    type Error = FirewallError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> Self {
        s.to_string()
    }
}

/// Which of the router's packets a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Traffic {
    /// New UDP to port 69: the router's bootloader pulls firmware from this host.
    Requests,
    /// The router's TFTP server answering from a fresh port to our ephemeral port: this host
    /// pushes to, or fetches from, the router.
    Replies,
}

impl Traffic {
    /// Both kinds, in the order findings are reported.
    pub const ALL: [Self; 2] = [Self::Requests, Self::Replies];

    fn describe(self, subnet: Subnet, iface: &str) -> String {
        match self {
            Self::Requests => format!(
                "new UDP from {subnet} on {iface} to port 69 (a router pulling firmware from this host)"
            ),
            Self::Replies => format!(
                "UDP from {subnet} on {iface} to this host's transfer ports (a router's TFTP \
                 server answers from a new port, which connection tracking treats as a new flow)"
            ),
        }
    }
}

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing in this backend drops the traffic.
    Clear,
    /// The backend could not be read (tool missing or failed).
    Unknown,
    /// A default drop/reject policy with no accepting rule, or a rule that may match, would
    /// drop the traffic.
    Likely,
    /// A rule clearly drops or rejects the traffic.
    Blocks,
}

/// The iptables flavour: the same command line, two different kernel rule stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IptablesVariant {
    /// `iptables-legacy`: the `x_tables` kernel interface.
    Legacy,
    /// `iptables-nft`: iptables syntax over `nf_tables`.
    Nft,
}

impl IptablesVariant {
    fn program(self) -> &'static str {
        match self {
            Self::Legacy => "iptables-legacy",
            Self::Nft => "iptables-nft",
        }
    }
}

/// A firewall front-end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// nftables rules (`nft`), other than those iptables-nft and firewalld manage.
    Nftables,
    /// iptables rules in the filter table.
    Iptables(IptablesVariant),
    /// Uncomplicated Firewall.
    Ufw,
    /// firewalld.
    Firewalld,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Nftables => "nftables",
            Self::Iptables(IptablesVariant::Legacy) => "iptables (legacy)",
            Self::Iptables(IptablesVariant::Nft) => "iptables (nf_tables)",
            Self::Ufw => "ufw",
            Self::Firewalld => "firewalld",
        })
    }
}

/// One answer to "will this backend drop this traffic?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Which firewall.
    pub backend: Backend,
    /// Which of the router's packets.
    pub traffic: Traffic,
    /// How sure.
    pub verdict: Verdict,
    /// The rule (or policy) that decides, as the tool prints it.
    pub rule: Option<String>,
    /// A plain-English sentence.
    pub explanation: String,
    /// The exact command that lets the traffic through, when something drops it.
    pub fix: Option<String>,
}

/// The worst verdict among `findings` (`Clear` when there are none).
pub fn worst(findings: &[Finding]) -> Verdict {
    findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Clear)
}

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

/// Why a firewall operation failed; each message ends with what to do.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A prefix length above 32.
    #[error("/{prefix} is not an IPv4 prefix length; use 0 to 32, for example 192.168.0.0/24")]
    BadPrefix {
        /// The value given.
        prefix: u8,
    },
    /// Text that is not `A.B.C.D/P`.
    #[error(
        "{text:?} is not an IPv4 subnet; write it as ADDRESS/PREFIX, for example 192.168.0.0/24"
    )]
    BadSubnet {
        /// The text given.
        text: String,
    },
    /// An interface name that cannot be put in a rule.
    #[error(
        "{name:?} is not a usable interface name (1 to 15 characters, no spaces, quotes or '/'); \
         pick one from `ip link`"
    )]
    BadInterface {
        /// The name given.
        name: String,
    },
    /// The firewall tool is not installed.
    #[error(
        "`{tool}` is not installed; install it (Debian package `{package}`) or leave this firewall alone"
    )]
    ToolMissing {
        /// The program.
        tool: String,
        /// The Debian package providing it.
        package: &'static str,
    },
    /// The tool ran longer than allowed and was killed.
    #[error(
        "`{command}` did not finish within {secs} s and was stopped; check that the firewall \
         service is not stuck (another firewall tool holding its lock), then try again"
    )]
    Timeout {
        /// The command line.
        command: String,
        /// The limit.
        secs: u64,
    },
    /// The tool could not be started.
    #[error("could not start `{command}`: {source}; check that it is installed and executable")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The tool exited with an error.
    #[error("`{command}` failed: {stderr}; {hint}")]
    Failed {
        /// The command line.
        command: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
        /// What to do.
        hint: String,
    },
    /// The tool printed something this module cannot read.
    #[error(
        "could not read the output of `{command}`: {detail}; run it by hand to see what it \
         prints, and report the output with your firewall's version"
    )]
    BadOutput {
        /// The command line.
        command: String,
        /// What was wrong.
        detail: String,
    },
}

/// Where firewall tools run: this host, or (for the tests) inside a named network namespace.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Firewall {
    prefix: Vec<String>,
    timeout: Duration,
}

/// Inspects every installed firewall for traffic from `subnet` on `iface`: one finding per
/// backend that is present and per [`Traffic`] kind, plus `Unknown` findings for nftables or
/// iptables when their tool is missing or fails.
pub fn inspect(subnet: Subnet, iface: &str) -> Vec<Finding> {
    Firewall::host().inspect(subnet, iface)
}

/// Works out which rules [`apply`] would add, without changing anything: write this to the
/// undo journal first.
pub fn plan_allow(subnet: Subnet, iface: &str) -> Result<AllowRule, FirewallError> {
    Firewall::host().plan_allow(subnet, iface)
}

/// Adds the rules of a plan and returns it with the nftables handles filled in. On failure
/// the rules already added are removed again before the error is returned.
pub fn apply(plan: &AllowRule) -> Result<AllowRule, FirewallError> {
    Firewall::host().apply(plan)
}

/// Lets UDP from `subnet` on `iface` through every nftables chain and iptables store that
/// would drop it ([`plan_allow`] then [`apply`]). ufw and firewalld are not changed: the
/// returned value's `manual` lists the commands for them.
pub fn allow(subnet: Subnet, iface: &str) -> Result<AllowRule, FirewallError> {
    Firewall::host().allow(subnet, iface)
}

/// Removes exactly the rules in `rule` and nothing else. Removing twice, or a rule that is
/// already gone, is fine.
pub fn remove(rule: &AllowRule) -> Result<(), FirewallError> {
    Firewall::host().remove(rule)
}

/// What one tool run printed.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
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
    fn run(&self, program: &str, args: &[&str]) -> Result<Ran, FirewallError> {
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
    fn run_ok(&self, program: &str, args: &[&str]) -> Result<String, FirewallError> {
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

    fn failed(&self, program: &str, args: &[&str], ran: &Ran) -> FirewallError {
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
    fn iptables_saves(&self) -> Vec<(IptablesVariant, Result<String, FirewallError>)> {
        let legacy = self.run_ok("iptables-legacy-save", &[]);
        let nft = self.run_ok("iptables-nft-save", &[]);
        pick_iptables_saves(legacy, nft, || self.run_ok("iptables-save", &[]))
    }

    /// `ufw status verbose` when ufw is installed (`None` when it is not).
    fn ufw(&self) -> Result<Option<UfwStatus>, FirewallError> {
        match self.run_ok("ufw", &["status", "verbose"]) {
            Ok(text) => Ok(Some(parse_ufw(&text))),
            Err(FirewallError::ToolMissing { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// firewalld's zone for the router's traffic, when firewalld is installed (`None` when
    /// it is not; a zone with `running: false` when it is installed but stopped).
    fn firewalld(&self, subnet: Subnet, iface: &str) -> Result<Option<Zone>, FirewallError> {
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
                            view.base_verdict(table, base, *t, ruleset.helper).0 != Verdict::Clear
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
                    .any(|(_, v, _)| *v != Verdict::Clear)
                {
                    plan.rules.push(AddedRule::Iptables { variant });
                }
            }
        }
        if let Some(status) = ufw.filter(|s| s.active)
            && worst(&view.ufw_findings(&status)) != Verdict::Clear
        {
            plan.manual.push(ManualStep {
                backend: Backend::Ufw,
                add: ufw_fix(subnet, iface),
                remove: format!("ufw delete allow in on {iface} proto udp from {subnet}"),
            });
        }
        if let Some(zone) = zone.filter(|z| z.running)
            && worst(&view.firewalld_findings(&zone)) != Verdict::Clear
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

/// True when `program` is an executable file in a folder of `PATH`, or in `/usr/sbin` or
/// `/sbin` (where Debian keeps nft and iptables, and which a user's `PATH` may lack).
/// Which `iptables-save` outputs to read: per variant that is installed, the plain
/// `iptables-save` (asked only when neither variant is) on older systems. No iptables at all
/// is no iptables rules, not an unknown: an nftables-only host has nothing to warn about.
fn pick_iptables_saves(
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

// ---------------------------------------------------------------------------------------------
// The rule model shared by every backend.

/// Three-valued match: the router's packet surely matches, surely not, or it depends on
/// something unknown (its exact source address or port, a rate limit, an unmodelled match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
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

    fn negate_if(self, negated: bool) -> Self {
        match (self, negated) {
            (Self::Yes, true) => Self::No,
            (Self::No, true) => Self::Yes,
            (t, _) => t,
        }
    }

    /// How a probe range relates to a set of ranges: covered, disjoint, or partly.
    fn of_ranges(probe: (u32, u32), set: &[(u32, u32)]) -> Self {
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
enum Cond {
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
enum Action {
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
struct Rule {
    text: String,
    conds: Vec<Cond>,
    action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Hook {
    Prerouting,
    Input,
}

#[derive(Debug, Clone)]
struct Base {
    chain: String,
    hook: Hook,
    priority: i64,
    policy_drop: bool,
}

#[derive(Debug, Clone, Default)]
struct Table {
    family: String,
    name: String,
    chains: HashMap<String, Vec<Rule>>,
    bases: Vec<Base>,
}

impl Table {
    fn label(&self, chain: &str) -> String {
        if self.family.is_empty() {
            chain.to_owned()
        } else {
            format!("{} {} {}", self.family, self.name, chain)
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Ruleset {
    tables: Vec<Table>,
    /// A TFTP conntrack helper is set up, so the router's replies may count as related.
    helper: bool,
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
type Decided = (Traffic, Verdict, Option<(String, String)>);

/// The inspection context: the router's subnet and our interface.
struct View<'a> {
    subnet: Subnet,
    iface: &'a str,
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
    fn base_verdict(
        &self,
        table: &Table,
        base: &Base,
        traffic: Traffic,
        helper: bool,
    ) -> (Verdict, Option<String>) {
        let p = self.probe(traffic, helper);
        let mut w = Walk::default();
        let end = walk(table, &base.chain, &p, true, 0, &mut w);
        match end {
            Some(End::Accept) => match w.maybe_drop {
                Some(rule) => (Verdict::Likely, Some(rule)),
                None => (Verdict::Clear, None),
            },
            Some(End::Drop(rule)) => {
                if w.maybe_accept.is_some() {
                    (Verdict::Likely, Some(rule))
                } else {
                    (Verdict::Blocks, Some(rule))
                }
            }
            None | Some(End::Return) => {
                if base.policy_drop {
                    (
                        Verdict::Likely,
                        Some(format!("policy drop of {}", table.label(&base.chain))),
                    )
                } else {
                    match w.maybe_drop {
                        Some(rule) => (Verdict::Likely, Some(rule)),
                        None => (Verdict::Clear, None),
                    }
                }
            }
        }
    }

    /// Per traffic kind: the worst verdict over every base chain, its rule, and its chain.
    fn verdicts(&self, ruleset: &Ruleset) -> Vec<Decided> {
        Traffic::ALL
            .iter()
            .map(|&traffic| {
                let mut worst = (Verdict::Clear, None);
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

    fn findings(&self, backend: Backend, ruleset: &Ruleset) -> Vec<Finding> {
        self.verdicts(ruleset)
            .into_iter()
            .map(|(traffic, verdict, decided)| {
                let (rule, chain) = decided.unzip();
                // ufw has one rule list; naming a chain would only repeat "ufw".
                let chain = chain.filter(|_| backend != Backend::Ufw);
                let fix = (verdict > Verdict::Unknown)
                    .then(|| self.fix(backend, chain.as_deref().unwrap_or("INPUT")));
                self.finding(backend, traffic, verdict, rule, chain.as_deref(), fix)
            })
            .collect()
    }

    fn finding(
        &self,
        backend: Backend,
        traffic: Traffic,
        verdict: Verdict,
        rule: Option<String>,
        chain: Option<&str>,
        fix: Option<String>,
    ) -> Finding {
        let what = traffic.describe(self.subnet, self.iface);
        let place = chain.map_or_else(|| backend.to_string(), |c| format!("{backend} ({c})"));
        let rule_text = rule.as_deref().unwrap_or("?");
        let explanation = match verdict {
            Verdict::Clear => format!("{place} lets {what} through."),
            Verdict::Blocks => format!("{place} drops {what}: rule `{rule_text}`."),
            Verdict::Likely => format!(
                "{place} probably drops {what}: `{rule_text}` and no rule surely accepts it."
            ),
            Verdict::Unknown => format!("{place} could not be checked for {what}."),
        };
        Finding {
            backend,
            traffic,
            verdict,
            rule,
            explanation,
            fix,
        }
    }

    fn fix(&self, backend: Backend, chain: &str) -> String {
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

    fn unknown(&self, backend: Backend, err: &FirewallError) -> Vec<Finding> {
        Traffic::ALL
            .iter()
            .map(|&traffic| {
                let mut f = self.finding(backend, traffic, Verdict::Unknown, None, None, None);
                f.explanation = format!("{} {err}.", f.explanation);
                f
            })
            .collect()
    }

    fn ufw_findings(&self, status: &UfwStatus) -> Vec<Finding> {
        if !status.active {
            return Traffic::ALL
                .iter()
                .map(|&t| {
                    let mut f = self.finding(Backend::Ufw, t, Verdict::Clear, None, None, None);
                    f.explanation = "ufw is installed but inactive.".into();
                    f
                })
                .collect();
        }
        self.findings(Backend::Ufw, &status.ruleset)
    }

    fn firewalld_findings(&self, zone: &Zone) -> Vec<Finding> {
        if !zone.running {
            return Traffic::ALL
                .iter()
                .map(|&t| {
                    let mut f =
                        self.finding(Backend::Firewalld, t, Verdict::Clear, None, None, None);
                    f.explanation = "firewalld is installed but not running.".into();
                    f
                })
                .collect();
        }
        self.findings(Backend::Firewalld, &zone.ruleset)
    }
}

fn ufw_fix(subnet: Subnet, iface: &str) -> String {
    format!("ufw prepend allow in on {iface} proto udp from {subnet} comment {RULE_COMMENT}")
}

fn firewalld_fix(zone: &str, subnet: Subnet, verb: &str) -> String {
    // Runtime only (no --permanent): it also disappears on `firewall-cmd --reload`.
    format!(
        "firewall-cmd --zone={zone} --{verb}-rich-rule='rule family=\"ipv4\" source \
         address=\"{subnet}\" protocol value=\"udp\" accept'"
    )
}

// ---------------------------------------------------------------------------------------------
// nftables: `nft -j list ruleset`.

/// Tables iptables-nft creates; rules in them are read through iptables instead.
const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];
const IPTABLES_CHAINS: [&str; 5] = ["INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"];

/// Parses `nft -j list ruleset` into the rule model: IPv4-relevant tables (`ip`, `inet`),
/// filter base chains at prerouting and input. Tables managed by iptables-nft or firewalld
/// are left out (their own backends report them, and rescue-wizard must not add to them).
fn parse_nft(json: &str) -> Result<Ruleset, String> {
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
fn nft_allow_expr(subnet: Subnet, iface: &str) -> Value {
    json!([
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": iface}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": subnet.network().to_string(), "len": subnet.prefix()}}}},
        {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}},
        {"accept": null},
    ])
}

/// The handle in `nft -j -e -a` output for an inserted rule.
fn echoed_handle(echo: &str) -> Option<u64> {
    let root: Value = serde_json::from_str(echo).ok()?;
    root.get("nftables")?
        .as_array()?
        .iter()
        .find_map(|item| item.get("insert")?.get("rule")?.get("handle")?.as_u64())
}

/// Handles of rules in one chain that are rescue-wizard's rule for `subnet` on `iface`: our
/// comment, our interface, our subnet. Nothing else is ever deleted.
fn our_nft_handles(
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

// ---------------------------------------------------------------------------------------------
// iptables: `iptables-save` or `iptables -S`.

/// Parses the filter table of `iptables-save` (or `iptables -S`) output into the rule model.
fn parse_iptables(text: &str) -> Ruleset {
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
fn ipt_addrs(value: &str) -> Option<Vec<(u32, u32)>> {
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
fn ipt_ports(value: &str) -> Option<Vec<(u32, u32)>> {
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

// ---------------------------------------------------------------------------------------------
// ufw: `ufw status verbose`.

struct UfwStatus {
    active: bool,
    ruleset: Ruleset,
}

/// Parses `ufw status verbose`: the default incoming policy and the IPv4 rules, first match
/// wins as in ufw itself.
fn parse_ufw(text: &str) -> UfwStatus {
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

// ---------------------------------------------------------------------------------------------
// firewalld: `firewall-cmd --get-active-zones` and `--list-all --zone=Z`.

struct Zone {
    running: bool,
    name: String,
    ruleset: Ruleset,
}

impl Zone {
    fn stopped() -> Self {
        Self {
            running: false,
            name: String::new(),
            ruleset: Ruleset::default(),
        }
    }
}

/// Active zones: name, interfaces, sources.
fn parse_active_zones(text: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
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
fn zone_for(
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
fn parse_zone(name: &str, text: &str) -> Zone {
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
    let target = fields.get("target").cloned().unwrap_or_default();
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let mut drops = Vec::new();
    let mut accepts = Vec::new();
    for r in &rich {
        if r.contains("family=\"ipv6\"") {
            continue;
        }
        let mut conds = Vec::new();
        if let Some(addr) = quoted_after(r, "source address=") {
            let negated = r.contains("source NOT address") || r.contains("source not address");
            conds.push(
                ipt_addrs(&addr).map_or(Cond::Const(Tri::Maybe), |s| Cond::Saddr(negated, s)),
            );
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
        let rule = |action| Rule {
            text: r.clone(),
            conds: conds.clone(),
            action,
        };
        if last.starts_with("accept") || r.contains(" accept") {
            accepts.push(rule(Action::Accept));
        } else if r.contains(" drop") || r.contains(" reject") {
            drops.push(rule(Action::Drop));
        }
    }
    let mut rules = drops;
    rules.extend(accepts);
    let zone_text = |what: &str, value: &str| format!("zone {name} {what}: {value}");
    for service in field("services").split_whitespace() {
        if service == "tftp" {
            rules.push(Rule {
                text: zone_text("service", service),
                conds: vec![service_cond(service)],
                action: Action::Accept,
            });
        }
    }
    for port in field("ports").split_whitespace() {
        let (range, proto) = port.split_once('/').unwrap_or((port, ""));
        if proto == "udp"
            && let Some(set) = ipt_ports(&range.replace('-', ":"))
        {
            rules.push(Rule {
                text: zone_text("port", port),
                conds: vec![Cond::Dport(false, set)],
                action: Action::Accept,
            });
        }
    }
    for proto in field("protocols").split_whitespace() {
        rules.push(Rule {
            text: zone_text("protocol", proto),
            conds: vec![Cond::L4(false, vec![proto.to_owned()])],
            action: Action::Accept,
        });
    }
    if target == "ACCEPT" {
        rules.push(Rule {
            text: zone_text("target", &target),
            conds: Vec::new(),
            action: Action::Accept,
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const NFT_EMPTY: &str = include_str!("../../tests/fixtures/firewall/nft-empty.json");
    const NFT_DROP_69: &str = include_str!("../../tests/fixtures/firewall/nft-drop-69.json");
    const NFT_DEFAULT_DROP: &str =
        include_str!("../../tests/fixtures/firewall/nft-default-drop.json");
    const NFT_ALLOWED_JUMP: &str =
        include_str!("../../tests/fixtures/firewall/nft-allowed-jump.json");
    const NFT_IPTABLES_NFT: &str =
        include_str!("../../tests/fixtures/firewall/nft-iptables-nft.json");
    const IPT_DROP_69: &str =
        include_str!("../../tests/fixtures/firewall/iptables-nft-save-drop-69.txt");
    const IPT_LEGACY_SAVE: &str =
        include_str!("../../tests/fixtures/firewall/iptables-legacy-save-default-drop.txt");
    const IPT_LEGACY_S: &str =
        include_str!("../../tests/fixtures/firewall/iptables-legacy-S-default-drop.txt");
    const IPT_UFW: &str = include_str!("../../tests/fixtures/firewall/iptables-nft-save-ufw.txt");
    const UFW_DEFAULT: &str = include_str!("../../tests/fixtures/firewall/ufw-status-default.txt");
    const UFW_RULES: &str = include_str!("../../tests/fixtures/firewall/ufw-status-rules.txt");
    const UFW_INACTIVE: &str =
        include_str!("../../tests/fixtures/firewall/ufw-status-inactive.txt");
    const FWD_ZONES: &str =
        include_str!("../../tests/fixtures/firewall/firewalld-active-zones.txt");
    const FWD_PUBLIC: &str =
        include_str!("../../tests/fixtures/firewall/firewalld-list-all-public.txt");
    const FWD_TFTP: &str =
        include_str!("../../tests/fixtures/firewall/firewalld-list-all-tftp.txt");

    fn subnet(s: &str) -> Subnet {
        s.parse().unwrap()
    }

    fn verdicts(
        ruleset: &Ruleset,
        net: &str,
        iface: &str,
    ) -> Vec<(Traffic, Verdict, Option<String>)> {
        let view = View {
            subnet: subnet(net),
            iface,
        };
        view.verdicts(ruleset)
            .into_iter()
            .map(|(t, v, d)| (t, v, d.map(|(rule, _)| rule)))
            .collect()
    }

    fn only(ruleset: &Ruleset, net: &str, iface: &str) -> (Verdict, Verdict) {
        let v = verdicts(ruleset, net, iface);
        (v[0].1, v[1].1)
    }

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
    fn subnets_clear_host_bits_and_round_trip() {
        let s = Subnet::new(Ipv4Addr::new(192, 168, 0, 77), 24).unwrap();
        assert_eq!(s.to_string(), "192.168.0.0/24");
        assert!(s.contains(Ipv4Addr::new(192, 168, 0, 1)));
        assert!(!s.contains(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(subnet("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(subnet("0.0.0.0/0").range(), (0, u32::MAX));
        assert!(matches!(
            Subnet::new(Ipv4Addr::LOCALHOST, 33),
            Err(FirewallError::BadPrefix { prefix: 33 })
        ));
        assert!("10.0.0.0/x".parse::<Subnet>().is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"192.168.0.0/24\"");
        assert_eq!(serde_json::from_str::<Subnet>(&json).unwrap(), s);
    }

    #[test]
    fn an_empty_nft_ruleset_is_clear() {
        let r = parse_nft(NFT_EMPTY).unwrap();
        assert_eq!(
            only(&r, "10.88.1.0/24", "veth0"),
            (Verdict::Clear, Verdict::Clear)
        );
    }

    #[test]
    fn an_nft_rule_dropping_port_69_blocks_requests_only() {
        let r = parse_nft(NFT_DROP_69).unwrap();
        let v = verdicts(&r, "10.88.1.0/24", "veth0");
        assert_eq!(v[0].1, Verdict::Blocks);
        assert_eq!(
            v[0].2.as_deref(),
            Some("udp dport 69 counter drop comment \"no tftp here\"")
        );
        assert_eq!(v[1].1, Verdict::Clear);
    }

    #[test]
    fn an_nft_default_drop_with_only_established_is_likely_for_both() {
        let r = parse_nft(NFT_DEFAULT_DROP).unwrap();
        let v = verdicts(&r, "192.168.0.0/24", "eth0");
        assert_eq!(v[1].1, Verdict::Likely, "{v:?}");
        assert_eq!(v[0].1, Verdict::Likely);
        assert_eq!(v[1].2.as_deref(), Some("policy drop of inet filter input"));
        // From loopback everything is accepted.
        assert_eq!(
            only(&r, "127.0.0.0/8", "lo"),
            (Verdict::Clear, Verdict::Clear)
        );
    }

    #[test]
    fn a_tftp_helper_makes_replies_depend_on_its_assignment() {
        let mut r = parse_nft(NFT_DEFAULT_DROP).unwrap();
        r.helper = true;
        // Still likely dropped: the helper may or may not be assigned to this flow.
        assert_eq!(only(&r, "192.168.0.0/24", "eth0").1, Verdict::Likely);
    }

    #[test]
    fn nft_jumps_sets_prefixes_and_prerouting_are_followed() {
        let r = parse_nft(NFT_ALLOWED_JUMP).unwrap();
        // Our own accept rule is first: clear, except that a prerouting rule drops one host
        // of the subnet on port 69.
        let v = verdicts(&r, "10.88.1.0/24", "veth0");
        assert_eq!(v[0].1, Verdict::Likely, "{v:?}");
        assert_eq!(
            v[0].2.as_deref(),
            Some("ip saddr 10.88.1.7 udp dport 69 drop")
        );
        assert_eq!(v[1].1, Verdict::Clear);
        // Another subnet reaches the services chain: replies from 192.168.7.0/24 are
        // rejected there, requests fall off to the policy.
        let v = verdicts(&r, "192.168.7.0/24", "eth1");
        assert_eq!(v[1].1, Verdict::Blocks, "{v:?}");
        assert_eq!(
            v[1].2.as_deref(),
            Some("ip saddr 192.168.7.0/24 udp dport 1024-65535 reject")
        );
        assert_eq!(v[0].1, Verdict::Likely);
        // A single host inside the subnet is only "maybe" the router.
        let v = verdicts(&r, "192.168.0.0/16", "eth1");
        assert_eq!(v[1].1, Verdict::Likely);
    }

    #[test]
    fn iptables_nft_tables_are_left_to_the_iptables_backend() {
        let r = parse_nft(NFT_IPTABLES_NFT).unwrap();
        assert!(r.tables.is_empty());
        assert_eq!(
            only(&r, "10.88.1.0/24", "veth0"),
            (Verdict::Clear, Verdict::Clear)
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
        assert_eq!((v[0].1, v[1].1), (Verdict::Blocks, Verdict::Clear));
        assert_eq!(v[0].2.as_deref(), Some("udp dport < 1024 reject"));
        assert_eq!(
            only(&r, "192.168.1.0/24", "wlan0"),
            (Verdict::Clear, Verdict::Clear)
        );
    }

    #[test]
    fn bad_nft_output_is_an_error() {
        assert!(parse_nft("not json").is_err());
        assert!(parse_nft("{}").is_err());
    }

    #[test]
    fn an_iptables_drop_for_port_69_blocks() {
        let r = parse_iptables(IPT_DROP_69);
        let v = verdicts(&r, "10.88.1.0/24", "veth0");
        assert_eq!(v[0].1, Verdict::Blocks);
        assert_eq!(
            v[0].2.as_deref(),
            Some("-A INPUT -p udp -m udp --dport 69 -m comment --comment \"no tftp\" -j DROP")
        );
        // The policy is DROP and only established/related is accepted.
        assert_eq!(v[1].1, Verdict::Likely);
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
                (Verdict::Blocks, Verdict::Blocks),
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
        assert!(v.iter().all(|x| x.1 >= Verdict::Likely), "{v:?}");
        // ufw's rule for 10.88.1.0/24 on veth0 accepts its UDP, but the port-69 deny comes
        // first, as `ufw status` lists it.
        assert_eq!(
            only(&r, "10.88.1.0/24", "veth0"),
            (Verdict::Blocks, Verdict::Clear)
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
            (Verdict::Clear, Verdict::Clear)
        );
        assert_eq!(
            only(&r, "10.88.2.0/24", "x"),
            (Verdict::Blocks, Verdict::Blocks)
        );
    }

    #[test]
    fn ufw_status_is_read_in_order() {
        assert!(!parse_ufw(UFW_INACTIVE).active);
        let s = parse_ufw(UFW_DEFAULT);
        assert!(s.active);
        assert_eq!(
            only(&s.ruleset, "192.168.0.0/24", "eth0"),
            (Verdict::Likely, Verdict::Likely)
        );
        let s = parse_ufw(UFW_RULES);
        let v = verdicts(&s.ruleset, "192.168.0.0/24", "eth0");
        assert_eq!(v[0].1, Verdict::Blocks);
        assert!(
            v[0].2
                .as_deref()
                .unwrap()
                .starts_with("69/udp                     DENY IN")
        );
        assert_eq!(v[1].1, Verdict::Likely);
        // The port-69 deny comes before the interface allow.
        assert_eq!(only(&s.ruleset, "10.88.1.0/24", "veth0").0, Verdict::Blocks);
        assert_eq!(only(&s.ruleset, "10.88.1.0/24", "veth0").1, Verdict::Clear);
        // 60000:61000/udp from 192.168.1.0/24 covers part of the ephemeral range only.
        assert_eq!(
            only(&s.ruleset, "192.168.1.0/24", "eth0").1,
            Verdict::Likely
        );
    }

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
        assert_eq!(v[0].1, Verdict::Blocks);
        assert_eq!(
            v[0].2.as_deref(),
            Some(
                "rule family=\"ipv4\" source address=\"192.168.7.0/24\" service name=\"tftp\" drop"
            )
        );
        assert_eq!(v[1].1, Verdict::Likely);
        assert_eq!(v[1].2.as_deref(), Some("policy drop of public"));

        let z = parse_zone("public", FWD_TFTP);
        assert_eq!(
            only(&z.ruleset, "10.88.1.0/24", "veth0"),
            (Verdict::Clear, Verdict::Clear)
        );
        assert_eq!(
            only(&z.ruleset, "10.77.1.0/24", "veth0"),
            (Verdict::Clear, Verdict::Likely)
        );
    }

    #[test]
    fn findings_carry_the_rule_the_sentence_and_the_fix() {
        let view = View {
            subnet: subnet("10.88.1.0/24"),
            iface: "veth0",
        };
        let f = view.findings(Backend::Nftables, &parse_nft(NFT_DROP_69).unwrap());
        assert_eq!(f[0].verdict, Verdict::Blocks);
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
        assert_eq!(f[1].verdict, Verdict::Clear);
        assert_eq!(f[1].fix, None);
        assert_eq!(worst(&f), Verdict::Blocks);
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
    }

    #[test]
    fn interface_names_are_checked_before_they_reach_a_rule() {
        assert!(check_iface("enx00e04c680001").is_ok());
        for bad in ["", "a b", "x\"y", "a/b", "sixteen-chars-xx"] {
            assert!(check_iface(bad).is_err(), "{bad:?}");
        }
    }
}
