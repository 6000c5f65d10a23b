//! The classic troubleshooting checklist, each item decided from what the run has seen
//! (the server, the port, the wire, the transfers) rather than asked of the technician.
//!
//! An item is `unknown` when the run has no evidence either way: the technician then knows
//! what to look at by hand.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// How an item came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemStatus {
    /// The evidence says this is fine.
    Pass,
    /// No evidence either way.
    Unknown,
    /// The evidence says this is what is wrong.
    Fail,
}

impl ItemStatus {
    /// A short mark for lists.
    pub fn mark(self) -> &'static str {
        match self {
            ItemStatus::Pass => "ok",
            ItemStatus::Unknown => "??",
            ItemStatus::Fail => "!!",
        }
    }
}

/// One item of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What is checked.
    pub item: &'static str,
    /// How it came out.
    pub status: ItemStatus,
    /// What was seen.
    pub detail: String,
    /// What to do, unless it passed.
    pub fix: Option<String>,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.status.mark(), self.item, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n       fix: {fix}")?;
        }
        Ok(())
    }
}

/// Who moves the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The router pulls: we serve.
    Pull,
    /// The router's bootloader is a server: we push.
    Push,
}

/// Everything the run has seen so far that bears on the checklist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Who moves the image (pull when unset).
    pub push: bool,
    /// Where our server listens (pull).
    pub listening: Option<SocketAddr>,
    /// The image and its size, once read.
    pub image: Option<(PathBuf, u64)>,
    /// The self-test: passed, or why not.
    pub self_test: Option<Result<(), String>>,
    /// The port, and whether it has a link (`None`: not known, as in the demo).
    pub interface: Option<String>,
    /// Whether the port has a link.
    pub carrier: Option<bool>,
    /// The address this computer took (the one the profile says the router wants).
    pub host: Option<Ipv4Addr>,
    /// The router's expected recovery address.
    pub router: Option<Ipv4Addr>,
    /// A device seen on the port (it spoke: ARP, ping, a request).
    pub router_seen: Option<Ipv4Addr>,
    /// The server addresses the router asked for by ARP or sent its request to.
    pub router_wants: Vec<Ipv4Addr>,
    /// The router answered a ping or an ARP probe.
    pub router_answered: bool,
    /// Requests for the image seen on the wire (to any address).
    pub requests_on_wire: u32,
    /// Requests that reached our server.
    pub requests_served: u32,
    /// Transfers that failed, with why.
    pub failures: Vec<String>,
    /// Bytes the router acknowledged, across attempts.
    pub bytes_moved: u64,
    /// Whether a failed or stalled transfer used options (blocks over 512 bytes or windows).
    pub options_used: bool,
    /// Since the technician was told to switch the router on.
    pub waited: Duration,
}

/// Decides every item from `evidence`.
pub fn evaluate(evidence: &Evidence) -> Vec<Item> {
    let direction = if evidence.push {
        Mover::Push
    } else {
        Mover::Pull
    };
    vec![
        server(evidence, direction),
        image(evidence),
        link(evidence),
        server_address(evidence),
        reachable(evidence),
        arp(evidence),
        transfer_mode(evidence),
        timing(evidence),
    ]
}

/// The fix to try now: the first failing item's, else the first unknown item's (the
/// checklist is in the order a technician works through it).
pub fn current_fix(items: &[Item]) -> Option<String> {
    [ItemStatus::Fail, ItemStatus::Unknown]
        .into_iter()
        .find_map(|status| {
            items
                .iter()
                .find(|i| i.status == status && i.fix.is_some())
                .and_then(|i| i.fix.clone())
        })
}

/// Counts of failed and unknown items.
pub fn tally(items: &[Item]) -> (usize, usize) {
    let fails = items
        .iter()
        .filter(|i| i.status == ItemStatus::Fail)
        .count();
    let unknown = items
        .iter()
        .filter(|i| i.status == ItemStatus::Unknown)
        .count();
    (fails, unknown)
}

fn pass(item: &'static str, detail: impl Into<String>) -> Item {
    Item {
        item,
        status: ItemStatus::Pass,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(item: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Item {
    Item {
        item,
        status: ItemStatus::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn unknown(item: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Item {
    Item {
        item,
        status: ItemStatus::Unknown,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn server(evidence: &Evidence, direction: Mover) -> Item {
    const ITEM: &str = "server running and listening";
    match direction {
        Mover::Pull => match (evidence.listening, &evidence.self_test) {
            (Some(addr), Some(Ok(()))) => pass(
                ITEM,
                format!(
                    "listening on {addr}; the self-test fetched the image's first block through it"
                ),
            ),
            (Some(addr), Some(Err(why))) => fail(
                ITEM,
                format!("listening on {addr}, but the self-test failed: {why}"),
                "another TFTP server or a firewall may answer in its place: run `rescue-wizard doctor` and stop tftpd-hpa or Tftpd64",
            ),
            (Some(addr), None) => pass(ITEM, format!("listening on {addr}")),
            (None, _) => fail(
                ITEM,
                "the TFTP server is not running",
                "see the error above: usually UDP port 69 is taken or rescue-wizard lacks the privilege to bind it (run with sudo)",
            ),
        },
        Mover::Push => {
            const ITEM: &str = "router's TFTP server answering";
            if evidence.bytes_moved > 0 || evidence.requests_served > 0 {
                pass(ITEM, "the router's bootloader answered our write request")
            } else {
                fail(
                    ITEM,
                    "the router's bootloader never answered our write request",
                    "the router is not in recovery mode yet: repeat its steps (hold the button while switching it on) and watch for the recovery LED",
                )
            }
        }
    }
}

fn image(evidence: &Evidence) -> Item {
    const ITEM: &str = "folder and file readable";
    match &evidence.image {
        Some((path, size)) => pass(ITEM, format!("{} ({size} bytes) was read", path.display())),
        None => fail(
            ITEM,
            "the image could not be read",
            "check the path and that the file is readable by the user running rescue-wizard",
        ),
    }
}

fn link(evidence: &Evidence) -> Item {
    const ITEM: &str = "cable and link";
    let port = evidence.interface.as_deref().unwrap_or("the port");
    match evidence.carrier {
        Some(true) => pass(ITEM, format!("{port} has a link")),
        Some(false) if evidence.router_seen.is_some() => pass(
            ITEM,
            format!("{port} has no link now, but the router was heard on it (it may be rebooting)"),
        ),
        Some(false) => fail(
            ITEM,
            format!("{port} has no link"),
            "plug the cable into one of the router's LAN ports (not WAN unless the profile says so) and check the port's light; try another cable",
        ),
        None if evidence.router_seen.is_some() => pass(ITEM, "the router was heard on the port"),
        None => unknown(
            ITEM,
            "the link state is not known",
            "check that the port's light on the router is on",
        ),
    }
}

fn server_address(evidence: &Evidence) -> Item {
    const ITEM: &str = "server address as the router expects";
    let Some(host) = evidence.host else {
        return unknown(
            ITEM,
            "the profile names no server address",
            "watch the port (`rescue-wizard watch`) to see which address the router asks for",
        );
    };
    let others: Vec<String> = evidence
        .router_wants
        .iter()
        .filter(|a| **a != host)
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        return fail(
            ITEM,
            format!(
                "the router asks for {} while this computer has {host}",
                others.join(", ")
            ),
            format!(
                "give this computer {} (the wizard offers it; by hand: `ip addr add {}/24 dev {}`)",
                others[0],
                others[0],
                evidence.interface.as_deref().unwrap_or("PORT")
            ),
        );
    }
    if evidence.router_wants.contains(&host) {
        pass(
            ITEM,
            format!("the router asked for {host}, which this computer has"),
        )
    } else {
        unknown(
            ITEM,
            format!("this computer has {host}; the router has not asked for an address yet"),
            "if the router never asks, it is not in recovery mode: see the timing item",
        )
    }
}

fn reachable(evidence: &Evidence) -> Item {
    const ITEM: &str = "router reachable";
    match (evidence.router_seen, evidence.router_answered) {
        (_, true) => pass(ITEM, "the router answered"),
        (Some(ip), false) => pass(ITEM, format!("the router at {ip} spoke on the port")),
        (None, false) => unknown(
            ITEM,
            match evidence.router {
                Some(ip) => format!("nothing heard from {ip}"),
                None => "nothing heard from the router".to_owned(),
            },
            "a bootloader in recovery mode often answers neither ping nor ARP until it sends its own request; check its LEDs against the profile's steps",
        ),
    }
}

fn arp(evidence: &Evidence) -> Item {
    const ITEM: &str = "ARP entries";
    if evidence.bytes_moved > 0 {
        return pass(ITEM, "data reached the router");
    }
    let asked = evidence.requests_on_wire.max(evidence.requests_served);
    if asked > 0 && !evidence.failures.is_empty() {
        return fail(
            ITEM,
            format!(
                "the router asked {asked} time(s) but none of our answers was acknowledged: it may not answer ARP, or this computer's ARP entry for it is stale"
            ),
            match evidence.router {
                Some(ip) => format!(
                    "add a static entry with the router's MAC (on its label): rescue-wizard serve --router-mac MAC, or `ip neigh replace {ip} lladdr MAC dev {} nud permanent`",
                    evidence.interface.as_deref().unwrap_or("PORT")
                ),
                None => {
                    "add a static ARP entry for the router with the MAC on its label".to_owned()
                }
            },
        );
    }
    unknown(
        ITEM,
        "no request yet, so no answer has been tried",
        "nothing to do until the router asks",
    )
}

fn transfer_mode(evidence: &Evidence) -> Item {
    const ITEM: &str = "transfer mode";
    if evidence.failures.is_empty() {
        if evidence.bytes_moved > 0 {
            return pass(ITEM, "blocks are acknowledged");
        }
        return unknown(ITEM, "no transfer has been tried", "nothing to do yet");
    }
    if evidence.options_used {
        fail(
            ITEM,
            format!(
                "a transfer with larger blocks or windows failed: {}",
                evidence.failures.join("; ")
            ),
            "some bootloaders mishandle TFTP options: run again with them off (profile `tftp: {options: none}`, or `serve --no-options`)",
        )
    } else {
        fail(
            ITEM,
            format!(
                "plain 512-byte transfers failed: {}",
                evidence.failures.join("; ")
            ),
            "check the cable and try another port on the router; a switch between laptop and router can also drop the first packets",
        )
    }
}

fn timing(evidence: &Evidence) -> Item {
    const ITEM: &str = "timing";
    if evidence.requests_on_wire > 0 || evidence.requests_served > 0 || evidence.bytes_moved > 0 {
        return pass(ITEM, "the router entered recovery mode");
    }
    if evidence.router_seen.is_some() {
        return fail(
            ITEM,
            "the router is alive but did not ask for the image: it booted normally",
            "switch it off, hold the button before switching it on, and keep holding longer (count the seconds the profile gives)",
        );
    }
    let secs = evidence.waited.as_secs();
    if secs >= 60 {
        fail(
            ITEM,
            format!("nothing from the router in {secs} s"),
            "start rescue-wizard first, then power the router on with the button held; some units need the button released earlier or later",
        )
    } else {
        unknown(
            ITEM,
            format!("waited {secs} s so far"),
            "follow the steps; bootloaders ask within a few seconds of power-on",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Evidence {
        Evidence {
            listening: Some("192.168.0.66:69".parse().unwrap()),
            image: Some((PathBuf::from("/img/fw.bin"), 4_000_000)),
            self_test: Some(Ok(())),
            interface: Some("eth0".into()),
            carrier: Some(true),
            host: Some(Ipv4Addr::new(192, 168, 0, 66)),
            router: Some(Ipv4Addr::new(192, 168, 0, 86)),
            ..Evidence::default()
        }
    }

    fn status(items: &[Item], item: &str) -> ItemStatus {
        items.iter().find(|i| i.item == item).unwrap().status
    }

    #[test]
    fn a_silent_router_points_at_timing_and_leaves_the_rest_unknown() {
        let mut evidence = base();
        evidence.waited = Duration::from_secs(90);
        let items = evaluate(&evidence);
        assert_eq!(
            status(&items, "server running and listening"),
            ItemStatus::Pass
        );
        assert_eq!(status(&items, "cable and link"), ItemStatus::Pass);
        assert_eq!(status(&items, "router reachable"), ItemStatus::Unknown);
        assert_eq!(status(&items, "timing"), ItemStatus::Fail);
        assert!(
            items
                .iter()
                .all(|i| i.status == ItemStatus::Pass || i.fix.is_some())
        );
    }

    #[test]
    fn a_router_asking_for_another_address_names_it_in_the_fix() {
        let mut evidence = base();
        evidence.router_seen = Some(Ipv4Addr::new(192, 168, 0, 86));
        evidence.router_wants = vec![Ipv4Addr::new(192, 168, 0, 225)];
        let items = evaluate(&evidence);
        let item = items
            .iter()
            .find(|i| i.item == "server address as the router expects")
            .unwrap();
        assert_eq!(item.status, ItemStatus::Fail);
        assert!(item.fix.as_deref().unwrap().contains("192.168.0.225"));
        assert_eq!(status(&items, "router reachable"), ItemStatus::Pass);
    }

    #[test]
    fn failed_transfers_with_options_suggest_turning_them_off() {
        let mut evidence = base();
        evidence.requests_served = 3;
        evidence.failures = vec!["no ACK for block 1".into()];
        evidence.options_used = true;
        let items = evaluate(&evidence);
        assert_eq!(status(&items, "transfer mode"), ItemStatus::Fail);
        assert_eq!(status(&items, "ARP entries"), ItemStatus::Fail);
        assert_eq!(status(&items, "timing"), ItemStatus::Pass);
        let mode = items.iter().find(|i| i.item == "transfer mode").unwrap();
        assert!(mode.fix.as_deref().unwrap().contains("options"));
    }

    #[test]
    fn no_link_fails_unless_the_router_was_heard() {
        let mut evidence = base();
        evidence.carrier = Some(false);
        assert_eq!(
            status(&evaluate(&evidence), "cable and link"),
            ItemStatus::Fail
        );
        evidence.router_seen = Some(Ipv4Addr::new(192, 168, 0, 86));
        assert_eq!(
            status(&evaluate(&evidence), "cable and link"),
            ItemStatus::Pass
        );
    }

    #[test]
    fn push_mode_asks_whether_the_router_answered() {
        let mut evidence = base();
        evidence.push = true;
        evidence.listening = None;
        let items = evaluate(&evidence);
        assert_eq!(
            status(&items, "router's TFTP server answering"),
            ItemStatus::Fail
        );
        evidence.bytes_moved = 10;
        let items = evaluate(&evidence);
        assert_eq!(
            status(&items, "router's TFTP server answering"),
            ItemStatus::Pass
        );
        assert_eq!(tally(&items).0, 0);
    }
}
