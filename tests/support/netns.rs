//! Network namespaces made by a test for itself: [`NetnsPair`] (this computer's side and the
//! router's, joined by a veth pair), and `rescue-wizard` run inside one.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs `ip ARGS`, which must succeed.
pub fn ip(args: &[&str]) -> Output {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        output.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Two network namespaces made for one test, joined by a veth pair: `port0` in `ns` (this
/// computer's side) and `router0` in `peer` (the router's), both links and both loopbacks up,
/// no addresses yet; and a state folder for rescue-wizard's journal. Both namespaces, and so
/// the pair, are deleted on drop, and the folder with them.
pub struct NetnsPair {
    /// The namespace holding `port0`.
    pub ns: String,
    /// The namespace holding `router0`.
    pub peer: String,
    /// rescue-wizard's state folder (`RESCUE_WIZARD_STATE_DIR`) for runs in `ns`.
    pub state: tempfile::TempDir,
}

impl NetnsPair {
    /// A fresh pair named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let ns = format!("{tag}-{}-{n}", std::process::id());
        let peer = format!("{ns}-p");
        ip(&["netns", "add", &ns]);
        let pair = Self {
            ns,
            peer: peer.clone(),
            state: tempfile::tempdir().expect("a state folder"),
        };
        ip(&["netns", "add", &peer]);
        ip(&[
            "link", "add", "port0", "netns", &pair.ns, "type", "veth", "peer", "name", "router0",
            "netns", &pair.peer,
        ]);
        for (ns, dev) in [(&pair.ns, "port0"), (&pair.peer, "router0")] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }
}

impl NetnsPair {
    /// `rescue-wizard` in this computer's namespace, with the pair's state folder.
    pub fn rescue_wizard(&self) -> Command {
        rescue_wizard_in(&self.ns, self.state.path())
    }
}

/// `rescue-wizard` run in the network namespace `ns` (`ip netns exec` execs it, so the pid is
/// its own), its journal in `state`, no user profiles, standard input closed.
pub fn rescue_wizard_in(ns: &str, state: &Path) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_rescue-wizard"))
        .env("RESCUE_WIZARD_STATE_DIR", state)
        .env("RESCUE_WIZARD_CONFIG_DIR", state.join("config"))
        .stdin(Stdio::null());
    cmd
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.ns, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
