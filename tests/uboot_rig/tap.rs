//! A network namespace of its own with the tap device `tap0` that U-Boot's NIC is wired to
//! ([`super::launch`]), the host's addresses on it, both removed on drop; and UDP sockets bound
//! inside it, for daemons started the way inetd starts them (the socket handed over as their
//! standard input, so requests sent before they run simply queue).

use std::fs::File;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

/// A namespace `NAME` holding `tap0` (up, with the host's addresses) and `lo` (up).
pub struct TapNamespace {
    /// The namespace's name, for `ip netns exec`.
    pub name: String,
}

impl TapNamespace {
    /// A fresh namespace named after `tag`, this process and a counter, with `addresses`
    /// (`10.77.0.1/24`, ...) on its `tap0`.
    pub fn new(tag: &str, addresses: &[&str]) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{tag}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        // From here on, a failure still removes the namespace.
        let ns = Self { name };
        let name = ns.name.as_str();
        ip(&["-n", name, "link", "set", "lo", "up"]);
        ip(&["-n", name, "tuntap", "add", "dev", "tap0", "mode", "tap"]);
        for address in addresses {
            ip(&["-n", name, "addr", "add", address, "dev", "tap0"]);
        }
        ip(&["-n", name, "link", "set", "tap0", "up"]);
        ns
    }

    /// A UDP socket bound to `addr` inside the namespace. `setns` moves only the calling
    /// thread, so it runs on a helper thread that ends right after; the socket stays in the
    /// namespace it was made in.
    pub fn bind_udp(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let ns = File::open(&path)?;
                    setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                    UdpSocket::bind(addr)
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the binding thread panicked")))
        })
    }

    /// `ip netns exec NAME PROGRAM`: PROGRAM run inside the namespace (`ip` execs it, so the
    /// pid is its own).
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for TapNamespace {
    fn drop(&mut self) {
        // The tap was created persistent: remove it explicitly, then the namespace.
        let _ = Command::new("ip")
            .args(["-n", &self.name, "link", "del", "tap0"])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("running ip: {err}"));
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}
