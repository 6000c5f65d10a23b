//! The firewall check and the temporary allow rule against the real tools, inside network
//! namespaces these tests create (nftables and iptables rules are per namespace): a rule that
//! drops TFTP is found, `allow` lets a real transfer through, `remove` takes exactly that
//! rule away again.
//!
//! Needs root and `ip`, `nft`, `iptables`. Without them a test says why and passes when run
//! by hand, and fails when `CI` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::Netns;

use rescue_wizard::net::firewall::{
    AddedRule, Backend, DropVerdict, Firewall, IptablesVariant, RuleEffect, Subnet, Traffic,
};

const BIN: &str = env!("CARGO_BIN_EXE_rescue-wizard");
const DEADLINE: Duration = Duration::from_secs(30);
const IFACE: &str = "veth0";
/// The start of every namespace name these tests make.
const TAG: &str = "rwfw";

/// The Debian package of each tool these tests run.
fn package(tool: &str) -> &'static str {
    match tool {
        "ip" => "iproute2",
        "nft" => "nftables",
        _ => "iptables",
    }
}

/// True when everything needed is here; otherwise says why and skips (fails under CI).
fn ready(tools: &[&str]) -> bool {
    let tools: Vec<(&str, &str)> = tools.iter().map(|t| (*t, package(t))).collect();
    support::root_and_tools(&tools)
}

/// Runs a command with a deadline, killing it if it overstays.
fn run(argv: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    support::wait_child(child, DEADLINE)
}

/// Runs a command that must succeed.
fn ok(argv: &[&str], stdin: Option<&str>) -> String {
    let out = run(argv, stdin);
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What these tests do in a namespace of their own ([`Netns`]).
trait FirewallLab {
    /// Runs `argv` inside the namespace, `stdin` on its standard input; it must succeed.
    fn run(&self, argv: &[&str], stdin: Option<&str>) -> String;
    /// The firewall inspector, looking inside the namespace.
    fn firewall(&self) -> Firewall;
}

impl FirewallLab for Netns {
    fn run(&self, argv: &[&str], stdin: Option<&str>) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(argv);
        ok(&full, stdin)
    }

    fn firewall(&self) -> Firewall {
        Firewall::in_netns(&self.name)
    }
}

/// Two namespaces joined by a veth pair: `veth0` 10.88.1.1/24 in the first (the laptop),
/// `veth0` 10.88.1.2/24 in the second (the router).
fn pair() -> (Netns, Netns) {
    let (host, router) = (Netns::new(TAG), Netns::new(TAG));
    host.add_veth(IFACE, &router, IFACE);
    host.add_address(IFACE, "10.88.1.1/24");
    router.add_address(IFACE, "10.88.1.2/24");
    (host, router)
}

fn subnet() -> Subnet {
    "10.88.1.0/24".parse().unwrap()
}

fn verdict(findings: &[RuleEffect], backend: Backend, traffic: Traffic) -> DropVerdict {
    findings
        .iter()
        .find(|f| f.backend == backend && f.traffic == traffic)
        .unwrap_or_else(|| panic!("no {backend} finding for {traffic:?} in {findings:#?}"))
        .verdict
}

const IPT_NFT: Backend = Backend::Iptables(IptablesVariant::Nft);

// A typical desktop ruleset: drop by default, accept only what this host started.
const STATEFUL_NFT: &str = "table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname \"lo\" accept
  }
}
";

#[test]
fn no_rules_is_clear() {
    if !ready(&["ip", "nft", "iptables"]) {
        return;
    }
    let ns = Netns::new(TAG);
    let findings = ns.firewall().inspect(subnet(), IFACE);
    for traffic in Traffic::ALL {
        assert_eq!(
            verdict(&findings, Backend::Nftables, traffic),
            DropVerdict::Clear
        );
        assert_eq!(verdict(&findings, IPT_NFT, traffic), DropVerdict::Clear);
    }
    assert!(
        findings.iter().all(|f| f.verdict == DropVerdict::Clear),
        "{findings:#?}"
    );
}

#[test]
fn an_nft_rule_dropping_udp_69_blocks() {
    if !ready(&["ip", "nft"]) {
        return;
    }
    let ns = Netns::new(TAG);
    ns.run(
        &["nft", "-f", "-"],
        Some(
            "table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    udp dport 69 drop
  }
}
",
        ),
    );
    let findings = ns.firewall().inspect(subnet(), IFACE);
    let f = findings
        .iter()
        .find(|f| f.backend == Backend::Nftables && f.traffic == Traffic::Requests)
        .unwrap();
    assert_eq!(f.verdict, DropVerdict::Blocks, "{f:#?}");
    assert_eq!(f.rule.as_deref(), Some("udp dport 69 drop"));
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .starts_with("nft insert rule inet filter input")
    );
    assert_eq!(
        verdict(&findings, Backend::Nftables, Traffic::Replies),
        DropVerdict::Clear
    );
}

#[test]
fn a_stateful_default_drop_is_likely_for_the_replies() {
    if !ready(&["ip", "nft"]) {
        return;
    }
    let ns = Netns::new(TAG);
    ns.run(&["nft", "-f", "-"], Some(STATEFUL_NFT));
    let findings = ns.firewall().inspect(subnet(), IFACE);
    let f = findings
        .iter()
        .find(|f| f.backend == Backend::Nftables && f.traffic == Traffic::Replies)
        .unwrap();
    assert_eq!(f.verdict, DropVerdict::Likely, "{f:#?}");
    assert_eq!(f.rule.as_deref(), Some("policy drop of inet filter input"));
}

#[test]
fn an_iptables_drop_for_udp_69_blocks() {
    if !ready(&["ip", "iptables", "iptables-nft-save"]) {
        return;
    }
    let ns = Netns::new(TAG);
    ns.run(
        &[
            "iptables-nft",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            "69",
            "-j",
            "DROP",
        ],
        None,
    );
    let findings = ns.firewall().inspect(subnet(), IFACE);
    assert_eq!(
        verdict(&findings, IPT_NFT, Traffic::Requests),
        DropVerdict::Blocks
    );
    assert_eq!(
        verdict(&findings, IPT_NFT, Traffic::Replies),
        DropVerdict::Clear
    );
    // The same rule seen through nft belongs to iptables-nft and is not reported twice.
    assert_eq!(
        verdict(&findings, Backend::Nftables, Traffic::Requests),
        DropVerdict::Clear
    );
}

/// A `serve` inside `ns`, killed when dropped if it has not exited.
struct Server {
    child: Child,
    port: String,
}

impl Server {
    fn start(ns: &Netns, image: &std::path::Path, bind: &str) -> Self {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, BIN, "serve"])
            .arg(image)
            .args(["--bind", bind, "--port", "0", "--exit-after", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let first = rx.recv_timeout(DEADLINE).expect("the server's first line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let port = addr.rsplit_once(':').unwrap().1.to_owned();
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fetches `fw.bin` from a server in `from` to a client in `client`; the client's exit code.
fn transfer(server_ns: &Netns, bind: &str, client: &Netns, dir: &std::path::Path) -> Option<i32> {
    let image = dir.join("fw.bin");
    let out = dir.join("got.bin");
    let _ = std::fs::remove_file(&out);
    let server = Server::start(server_ns, &image, bind);
    let output = run(
        &[
            "ip",
            "netns",
            "exec",
            &client.name,
            BIN,
            "get",
            bind,
            "fw.bin",
            "-o",
            out.to_str().unwrap(),
            "--port",
            &server.port,
            "--wait",
            "3",
        ],
        None,
    );
    if output.status.success() {
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&image).unwrap());
    }
    output.status.code()
}

fn nft_mentions_us(ns: &Netns) -> bool {
    ns.run(&["nft", "list", "ruleset"], None)
        .contains("rescue-wizard")
}

#[test]
fn allow_lets_tftp_through_nftables_and_remove_takes_it_back() {
    if !ready(&["ip", "nft"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fw.bin"), vec![0x5a; 3000]).unwrap();
    let (host, router) = pair();
    host.run(&["nft", "-f", "-"], Some(STATEFUL_NFT));
    let fw = host.firewall();

    // The router pulls from us (requests to our port) and we fetch from the router (its
    // replies come from a new port): the stateful ruleset drops both.
    assert_eq!(transfer(&host, "10.88.1.1", &router, dir.path()), Some(1));
    assert_eq!(transfer(&router, "10.88.1.2", &host, dir.path()), Some(1));

    let rule = fw.allow(subnet(), IFACE).unwrap();
    assert_eq!(
        rule.rules,
        [AddedRule::Nftables {
            family: "inet".into(),
            table: "filter".into(),
            chain: "input".into(),
            handle: rule.rules.iter().find_map(|r| match r {
                AddedRule::Nftables { handle, .. } => *handle,
                AddedRule::Iptables { .. } => None,
            }),
        }]
    );
    assert!(matches!(
        rule.rules[0],
        AddedRule::Nftables {
            handle: Some(_),
            ..
        }
    ));
    assert!(rule.manual.is_empty(), "{rule:#?}");
    let findings = fw.inspect(subnet(), IFACE);
    assert_eq!(
        rescue_wizard::net::firewall::worst(&findings),
        DropVerdict::Clear,
        "{findings:#?}"
    );

    assert_eq!(transfer(&host, "10.88.1.1", &router, dir.path()), Some(0));
    assert_eq!(transfer(&router, "10.88.1.2", &host, dir.path()), Some(0));

    // Through the journal and back, as after a crash.
    let journal = serde_json::to_string(&rule).unwrap();
    let replayed = serde_json::from_str(&journal).unwrap();
    fw.remove(&replayed).unwrap();
    assert!(!nft_mentions_us(&host));
    let findings = fw.inspect(subnet(), IFACE);
    assert_eq!(
        verdict(&findings, Backend::Nftables, Traffic::Replies),
        DropVerdict::Likely
    );
    fw.remove(&rule).unwrap();
    // The technician's own rules are untouched.
    let listing = host.run(&["nft", "list", "ruleset"], None);
    assert!(
        listing.contains("ct state established,related accept"),
        "{listing}"
    );
    assert!(listing.contains("policy drop"), "{listing}");
}

#[test]
fn a_rule_without_a_recorded_handle_is_found_by_its_comment() {
    if !ready(&["ip", "nft"]) {
        return;
    }
    let ns = Netns::new(TAG);
    ns.run(&["nft", "-f", "-"], Some(STATEFUL_NFT));
    let fw = ns.firewall();
    // A crash between the insert and the journal update leaves only the plan.
    let plan = fw.plan_allow(subnet(), IFACE).unwrap();
    fw.apply(&plan).unwrap();
    assert!(nft_mentions_us(&ns));
    fw.remove(&plan).unwrap();
    assert!(!nft_mentions_us(&ns));
    fw.remove(&plan).unwrap();
}

#[test]
fn allow_and_remove_with_iptables() {
    if !ready(&["ip", "iptables-nft", "iptables-nft-save"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fw.bin"), vec![0xa5; 1500]).unwrap();
    let (host, router) = pair();
    host.run(&["iptables-nft", "-P", "INPUT", "DROP"], None);
    host.run(
        &[
            "iptables-nft",
            "-A",
            "INPUT",
            "-m",
            "conntrack",
            "--ctstate",
            "ESTABLISHED,RELATED",
            "-j",
            "ACCEPT",
        ],
        None,
    );
    host.run(
        &[
            "iptables-nft",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            "69",
            "-j",
            "DROP",
        ],
        None,
    );
    let fw = host.firewall();
    let before = host.run(&["iptables-nft", "-S", "INPUT"], None);

    assert_eq!(transfer(&host, "10.88.1.1", &router, dir.path()), Some(1));
    let rule = fw.allow(subnet(), IFACE).unwrap();
    assert_eq!(
        rule.rules,
        [AddedRule::Iptables {
            variant: IptablesVariant::Nft
        }]
    );
    let during = host.run(&["iptables-nft", "-S", "INPUT"], None);
    assert!(
        during.contains(
            "-A INPUT -s 10.88.1.0/24 -i veth0 -p udp -m comment --comment rescue-wizard -j ACCEPT"
        ),
        "{during}"
    );
    assert_eq!(transfer(&host, "10.88.1.1", &router, dir.path()), Some(0));

    fw.remove(&rule).unwrap();
    fw.remove(&rule).unwrap();
    assert_eq!(host.run(&["iptables-nft", "-S", "INPUT"], None), before);
    let findings = fw.inspect(subnet(), IFACE);
    assert_eq!(
        verdict(&findings, IPT_NFT, Traffic::Requests),
        DropVerdict::Blocks
    );
}
