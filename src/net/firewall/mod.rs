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
//! packet from the router's subnet on the chosen interface. The answer, one [`RuleEffect`] per
//! backend and traffic kind, is honest about what can be inferred: its [`DropVerdict`] is
//! [`DropVerdict::Blocks`] when a rule clearly drops the packet, [`DropVerdict::Likely`] when
//! a default drop policy (or a rule that may match) would, [`DropVerdict::Clear`], or
//! [`DropVerdict::Unknown`] when the tool is missing or failed.
//!
//! Changes are limited to rules this module adds itself: an nftables rule or an iptables rule
//! carrying the comment [`RULE_COMMENT`]. ufw and firewalld are never changed; the technician
//! gets the exact command instead ([`ManualStep`]).
//!
//! The module's rooms: `model` is the rule model every backend parses into and its
//! evaluation for the router's packet; `nft`, `iptables`, `ufw` and `firewalld` each read one
//! backend's listing; `host` runs the tools (on this host or in a namespace) and gathers the
//! findings; `allow` is the temporary allow rule's lifecycle (plan, apply, remove).

use std::fmt;

use serde::{Deserialize, Serialize};

mod allow;
mod firewalld;
mod host;
mod iptables;
mod model;
mod nft;
mod ufw;

pub use crate::subnet::{Subnet, SubnetError};
pub use allow::{AddedRule, AllowRule, ManualStep};
pub use host::Firewall;

/// The comment on every rule rescue-wizard adds; removal only ever deletes rules carrying it.
pub const RULE_COMMENT: &str = "rescue-wizard";

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

    pub(crate) fn describe(self, subnet: Subnet, iface: &str) -> String {
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

/// Whether a backend drops the router's traffic, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropVerdict {
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
    pub(crate) fn program(self) -> &'static str {
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

/// The effect of one backend's rules on one kind of the router's traffic: the answer to
/// "will this backend drop this traffic?", with the deciding rule and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEffect {
    /// Which firewall.
    pub backend: Backend,
    /// Which of the router's packets.
    pub traffic: Traffic,
    /// How sure.
    pub verdict: DropVerdict,
    /// The rule (or policy) that decides, as the tool prints it.
    pub rule: Option<String>,
    /// A plain-English sentence.
    pub explanation: String,
    /// The exact command that lets the traffic through, when something drops it.
    pub fix: Option<String>,
}

/// The worst verdict among `findings` (`Clear` when there are none).
pub fn worst(findings: &[RuleEffect]) -> DropVerdict {
    findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(DropVerdict::Clear)
}

/// Why a firewall operation failed; each message ends with what to do.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A subnet that is not one (bad prefix length or text).
    #[error(transparent)]
    Subnet(#[from] SubnetError),
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

/// Inspects every installed firewall for traffic from `subnet` on `iface`: one finding per
/// backend that is present and per [`Traffic`] kind, plus `Unknown` findings for nftables or
/// iptables when their tool is missing or fails.
pub fn inspect(subnet: Subnet, iface: &str) -> Vec<RuleEffect> {
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
