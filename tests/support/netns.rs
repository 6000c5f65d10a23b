//! Network namespaces made by a test for itself: [`Netns`] (one namespace, removed on drop, with
//! its veth and tap helpers), [`NetnsPair`] (this computer's side and the router's, joined by a
//! veth pair), and `rescue-wizard` run inside one.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

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

/// Runs `nft SCRIPT` inside the namespace `ns`, which must succeed; its output.
pub fn nft_in(ns: &str, script: &str) -> String {
    let output = Command::new("ip")
        .args(["netns", "exec", ns, "nft", script])
        .output()
        .expect("running nft");
    assert!(
        output.status.success(),
        "nft {script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A network namespace made for one test, its loopback up; removed on drop (a panicking test
/// included), with the tap devices made in it first, as they are persistent.
pub struct Netns {
    /// The namespace's name, for `ip -n` and `ip netns exec`.
    pub name: String,
    /// Tap devices made in it: persistent, so deleted before the namespace.
    taps: Vec<String>,
}

impl Netns {
    /// A fresh namespace named after `tag`, this process and a counter (unique across the test
    /// binaries run at once, as their pids differ).
    pub fn new(tag: &str) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        Self::named(format!("{tag}-{}-{n}", std::process::id()))
    }

    /// A namespace with exactly this name (one the test made unique itself).
    pub fn named(name: String) -> Self {
        ip(&["netns", "add", &name]);
        // From here on, a failure still removes the namespace.
        let ns = Self {
            name,
            taps: Vec::new(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Runs `ip -n NAME ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> Output {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A tap device `dev` in the namespace, down, no address (persistent, so deleted on drop
    /// before the namespace).
    pub fn add_tap(&mut self, dev: &str) {
        self.ip(&["tuntap", "add", "dev", dev, "mode", "tap"]);
        self.taps.push(dev.to_owned());
    }

    /// `address` (`10.77.0.1/24`) on the link `dev`.
    pub fn add_address(&self, dev: &str, address: &str) {
        self.ip(&["addr", "add", address, "dev", dev]);
    }

    /// The link `dev` up.
    pub fn link_up(&self, dev: &str) {
        self.ip(&["link", "set", dev, "up"]);
    }

    /// A veth pair: `dev` here, `other_dev` in `other`, both up, no addresses.
    pub fn add_veth(&self, dev: &str, other: &Netns, other_dev: &str) {
        self.ip(&[
            "link",
            "add",
            dev,
            "type",
            "veth",
            "peer",
            "name",
            other_dev,
            "netns",
            &other.name,
        ]);
        self.link_up(dev);
        other.link_up(other_dev);
    }

    /// `ip netns exec NAME PROGRAM`: PROGRAM run inside the namespace (`ip` execs it, so the
    /// pid is its own).
    pub fn exec(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// A UDP socket bound to `addr` inside the namespace, for daemons started the way inetd
    /// starts them (the socket handed over as their standard input, so requests sent before
    /// they run simply queue). `setns` moves only the calling thread, so it runs on a helper
    /// thread that ends right after; the socket stays in the namespace it was made in.
    pub fn bind_udp(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        self.run_in(|| UdpSocket::bind(addr))?
    }

    /// Runs `body` on a helper thread that has entered the namespace, and returns what it
    /// returns: the sockets it makes (and the threads it starts, which inherit the namespace)
    /// are the namespace's. `setns` moves only the calling thread, so the test's own thread
    /// stays where it was. An error when the namespace cannot be entered; a panic in `body`
    /// is the caller's.
    pub fn run_in<T: Send>(&self, body: impl FnOnce() -> T + Send) -> io::Result<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            let thread = scope.spawn(|| {
                let ns = File::open(&path)?;
                setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                Ok(body())
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for tap in &self.taps {
            let _ = Command::new("ip")
                .args(["-n", &self.name, "link", "del", tap])
                .output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
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
    /// The two namespaces, removed on drop (the router's first, which takes the pair with it).
    _namespaces: [Netns; 2],
}

impl NetnsPair {
    /// A fresh pair named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> Self {
        let host = Netns::new(tag);
        let router = Netns::named(format!("{}-p", host.name));
        host.add_veth("port0", &router, "router0");
        Self {
            ns: host.name.clone(),
            peer: router.name.clone(),
            state: tempfile::tempdir().expect("a state folder"),
            _namespaces: [router, host],
        }
    }
}

impl NetnsPair {
    /// `rescue-wizard` in this computer's namespace, with the pair's state folder.
    pub fn rescue_wizard(&self) -> Command {
        rescue_wizard_in(&self.ns, self.state.path())
    }

    /// `rescue-wizard --device netgear-r6220 IMAGE --interface port0 --yes --json --timeout
    /// 60` in this computer's namespace: the NMRP recovery of a Netgear R6220, as the NMRP tests
    /// and `benches/nmrp.rs` run it against the bootloader double on `router0`.
    pub fn netgear_r6220_run(&self, image: &Path) -> Command {
        let mut cmd = self.rescue_wizard();
        cmd.args(["--device", "netgear-r6220"]).arg(image).args([
            "--interface",
            "port0",
            "--yes",
            "--json",
            "--timeout",
            "60",
        ]);
        cmd
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
