//! `rescue-wizard serve --dhcp` against real DHCP clients and a real second DHCP server, in
//! network namespaces the tests create and delete (root needed): busybox `udhcpc` and ISC
//! `dhclient` get the lease we meant (address, mask, server, boot file); a BOOTP request
//! without a message type (as `MikroTik`'s `RouterBOOT` sends) gets a BOOTP reply without one; a
//! request arriving on another interface is never answered; once the router has its lease, a
//! second client on the same bridge gets no answer; dnsmasq answering on the same segment is
//! detected and named by address and MAC; the `mikrotik-routerboard` run, through the real
//! binary, answers a BOOTP client that sends no message type, which then pulls the image.
//!
//! Needs root and these Debian packages (for `.ci/run`):
//!
//! ```text
//! apt-get install -y iproute2 busybox isc-dhcp-client dnsmasq-base
//! ```
//!
//! When one is missing a test says so and passes when run by hand, and fails when `CI` is set.
//! DHCP has fixed ports (67, 68); they are free inside each test's own namespaces. TFTP, which
//! these tests do not exercise, listens on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use rescue_wizard::dhcp::packet::{DhcpOption, Message, Op, Vendor, code};
use rescue_wizard::net::wire::Mac;

mod support;

use support::events::{IsKind, RunEvent, events, wait_for};
use support::{Netns, NetnsPair, Proc, ip, require};

const DEADLINE: Duration = Duration::from_secs(30);
const BOOT_FILE: &str = "test.bin";

/// A distinct /24 per test in this process, so that parallel tests never share a subnet.
fn subnet() -> u8 {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn root() -> bool {
    support::root_and_tools(&[])
}

/// The namespaces, our address on `port0`, and `serve --dhcp` running on it.
struct Segment {
    pair: NetnsPair,
    ours: Ipv4Addr,
    leased: Ipv4Addr,
    serve: Proc,
    files: tempfile::TempDir,
}

impl Segment {
    /// A pair of namespaces; `port0` gets 10.81.N.1/24 and serve leases 10.81.N.100;
    /// `before_serve` shapes the segment first (bridges, more ports).
    fn start(tag: &str, extra: &[&str], before_serve: impl FnOnce(&NetnsPair, u8)) -> Self {
        let n = subnet();
        let pair = NetnsPair::new(tag);
        let ours = Ipv4Addr::new(10, 81, n, 1);
        let leased = Ipv4Addr::new(10, 81, n, 100);
        ip(&[
            "-n",
            &pair.ns,
            "addr",
            "add",
            &format!("{ours}/24"),
            "dev",
            "port0",
        ]);
        before_serve(&pair, n);
        let files = tempfile::tempdir().unwrap();
        let image = files.path().join("firmware.bin");
        std::fs::write(&image, support::content(4096, 14)).unwrap();
        let serve = Proc::spawn(
            pair.rescue_wizard()
                .arg("serve")
                .arg(&image)
                .args(["--dhcp", "--interface", "port0", "--port", "0"])
                .args([
                    "--router-address",
                    &leased.to_string(),
                    "--boot-file",
                    BOOT_FILE,
                ])
                .args(extra),
        );
        let intro = serve.next_line(DEADLINE);
        assert_eq!(
            intro.as_deref(),
            Some(
                format!(
                    "answering DHCP and BOOTP on port0 as {ours}: leasing {leased}, boot file {BOOT_FILE}"
                )
                .as_str()
            ),
            "{}",
            serve.diagnostics()
        );
        let listening = serve.next_line(DEADLINE).unwrap_or_default();
        assert!(
            listening.starts_with(&format!("listening on {ours}:")),
            "{listening}: {}",
            serve.diagnostics()
        );
        Segment {
            pair,
            ours,
            leased,
            serve,
            files,
        }
    }

    /// Waits for serve's line that contains `text`; fails with serve's output when none comes.
    fn line(&self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = self.serve.stdout_text().lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && self.serve.next_line(left).is_some(),
                "serve printed no line with {text:?}:\n{}",
                self.serve.diagnostics()
            );
        }
    }
}

fn mac_of(ns: &str, dev: &str) -> String {
    let out = ip(&["-n", ns, "-o", "link", "show", dev]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split("link/ether ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no MAC for {dev}: {text}"))
        .to_owned()
}

/// A shell script that prints its arguments' first word and the variables named.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\nexit 0\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// busybox `udhcpc` on `router0` in `ns`, sending vendor class `Mips_boot`, with `hook` as its
/// script, to its end: the hook's `bound ...` line, udhcpc's exit and the process.
fn udhcpc_bound(
    busybox: &Path,
    ns: &str,
    hook: &Path,
) -> (Option<String>, Option<std::process::ExitStatus>, Proc) {
    let mut client = Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(busybox)
            .args([
                "udhcpc", "-i", "router0", "-f", "-q", "-n", "-t", "5", "-T", "2",
            ])
            .args(["-V", "Mips_boot", "-s"])
            .arg(hook),
    );
    let status = client.wait_deadline(DEADLINE);
    let bound = client
        .stdout_text()
        .lines()
        .find(|l| l.starts_with("bound "))
        .map(str::to_owned);
    (bound, status, client)
}

#[test]
fn busybox_udhcpc_gets_the_lease_we_meant() {
    if !root() {
        return;
    }
    let Some(busybox) = require("busybox") else {
        return;
    };
    let seg = Segment::start("rw-dhcp-udhcpc", &[], |_, _| {});
    let dir = tempfile::tempdir().unwrap();
    let hook = script(
        dir.path(),
        "udhcpc.sh",
        r#"[ "$1" = bound ] && echo "bound ip=$ip subnet=$subnet siaddr=$siaddr serverid=$serverid boot_file=$boot_file""#,
    );
    let (bound, status, client) = udhcpc_bound(&busybox, &seg.pair.peer, &hook);
    assert_eq!(
        bound,
        Some(format!(
            "bound ip={} subnet=255.255.255.0 siaddr={ours} serverid={ours} boot_file={BOOT_FILE}",
            seg.leased,
            ours = seg.ours
        )),
        "udhcpc ({status:?}):\n{}\nserve:\n{}",
        client.diagnostics(),
        seg.serve.diagnostics()
    );
    let mac = mac_of(&seg.pair.peer, "router0");
    assert_eq!(
        seg.line(&format!("gave {} to {mac}", seg.leased)),
        format!(
            "gave {} to {mac}, a Mips_boot loader, boot file {BOOT_FILE}",
            seg.leased
        )
    );
    println!("udhcpc: {}", bound.unwrap_or_default());
}

#[test]
fn dhclient_gets_the_lease_we_meant() {
    if !root() {
        return;
    }
    let Some(dhclient) = require("dhclient") else {
        return;
    };
    let seg = Segment::start("rw-dhcp-dhclient", &[], |_, _| {});
    let dir = tempfile::tempdir().unwrap();
    // dhclient's own script would change the namespace's routes and /etc/resolv.conf; this one
    // only reports what it was given.
    let hook = script(
        dir.path(),
        "dhclient.sh",
        r#"[ "$reason" = BOUND ] && echo "BOUND ip=$new_ip_address mask=$new_subnet_mask server=$new_dhcp_server_identifier file=$new_filename""#,
    );
    let mut client = Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", &seg.pair.peer])
            .arg(&dhclient)
            .args(["-d", "-1", "-v", "-sf"])
            .arg(&hook)
            .arg("-lf")
            .arg(dir.path().join("leases"))
            .arg("-pf")
            .arg(dir.path().join("dhclient.pid"))
            .arg("router0"),
    );
    // dhclient stays in the foreground to renew: its BOUND line is the end of the test.
    let deadline = Instant::now() + DEADLINE;
    let bound = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_line(left) {
            Some(line) if line.starts_with("BOUND ") => break line,
            Some(_) => {}
            None => panic!(
                "dhclient was not bound within {DEADLINE:?}:\n{}\nserve:\n{}",
                client.diagnostics(),
                seg.serve.diagnostics()
            ),
        }
    };
    client.kill();
    assert_eq!(
        bound,
        format!(
            "BOUND ip={} mask=255.255.255.0 server={} file={BOOT_FILE}",
            seg.leased, seg.ours
        ),
        "{}",
        client.diagnostics()
    );
    let mac = mac_of(&seg.pair.peer, "router0");
    seg.line(&format!(
        "gave {} to {mac}, boot file {BOOT_FILE}",
        seg.leased
    ));
    // dhclient logs the ACK it took, before it runs the script: ours.
    let log = client.stderr_text();
    assert!(
        log.contains(&format!("DHCPACK of {} from {}", seg.leased, seg.ours)),
        "{log}"
    );
    println!("dhclient: {bound}");
}

/// Sends `request` as a client would, from port 68 out of `dev` in namespace `ns`, and returns
/// the first reply for `xid` that arrives within `within` (`None`: no reply).
fn ask_from(ns: &str, dev: &str, request: &Message, within: Duration) -> Option<Message> {
    let ns_path = format!("/var/run/netns/{ns}");
    let bytes = request.to_bytes();
    let xid = request.xid;
    let dev = dev.to_owned();
    // A thread of its own enters the namespace: the socket is made there, the test stays here.
    std::thread::spawn(move || {
        let file = std::fs::File::open(&ns_path).unwrap();
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.set_broadcast(true).unwrap();
        socket.bind_device(Some(dev.as_bytes())).unwrap();
        socket
            .bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68)).into())
            .unwrap();
        let socket = std::net::UdpSocket::from(socket);
        socket
            .send_to(&bytes, SocketAddrV4::new(Ipv4Addr::BROADCAST, 67))
            .unwrap();
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 1500];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            socket.set_read_timeout(Some(left)).unwrap();
            let Ok((len, _)) = socket.recv_from(&mut buf) else {
                return None;
            };
            if let Ok(reply) = Message::parse(&buf[..len])
                && reply.op == Op::REPLY
                && reply.xid == xid
            {
                return Some(reply);
            }
        }
    })
    .join()
    .unwrap()
}

fn bootp_request(mac: [u8; 6], xid: u32) -> Message {
    let mut request = Message::new(Op::REQUEST, xid, Mac(mac));
    request.vendor = Vendor::Options(vec![DhcpOption::new(code::VENDOR_CLASS, *b"Mips_boot")]);
    request
}

/// `RouterBOOT`'s BOOTP: no option 53 in, none out; and a request that arrives on another port of
/// this computer is never answered, nor even seen.
#[test]
fn bootp_gets_a_bootp_reply_and_other_ports_are_never_answered() {
    if !root() {
        return;
    }
    let seg = Segment::start("rw-dhcp-bootp", &[], |pair, _| {
        ip(&[
            "link", "add", "port1", "netns", &pair.ns, "type", "veth", "peer", "name", "wrong0",
            "netns", &pair.peer,
        ]);
        ip(&["-n", &pair.ns, "link", "set", "port1", "up"]);
        ip(&["-n", &pair.peer, "link", "set", "wrong0", "up"]);
    });
    let elsewhere = [0x02, 0, 0, 0, 0x0e, 0x15];
    let router = [0x4c, 0x5e, 0x0c, 0x11, 0x22, 0x33];
    // Sent first, on the wrong port: our socket must never see it (it is bound to port0 only).
    let stray = ask_from(
        &seg.pair.peer,
        "wrong0",
        &bootp_request(elsewhere, 1),
        Duration::from_secs(2),
    );
    assert_eq!(stray, None, "a request on port1 was answered");
    let started = Instant::now();
    let reply = ask_from(
        &seg.pair.peer,
        "router0",
        &bootp_request(router, 2),
        DEADLINE,
    )
    .unwrap_or_else(|| panic!("no BOOTP reply:\n{}", seg.serve.diagnostics()));
    let took = started.elapsed();
    assert_eq!(
        reply.message_type(),
        None,
        "a BOOTP reply carries no option 53"
    );
    assert_eq!(reply.option(code::SERVER_ID), None);
    assert_eq!(reply.yiaddr, seg.leased);
    assert_eq!(reply.siaddr, seg.ours);
    assert_eq!(reply.file_name(), BOOT_FILE.as_bytes());
    assert_eq!(reply.client_mac(), Some(Mac(router)));
    let line = seg.line("(BOOTP)");
    assert_eq!(
        line,
        format!(
            "gave {} to 4c:5e:0c:11:22:33, a Mips_boot loader, boot file {BOOT_FILE} (BOOTP)",
            seg.leased
        )
    );
    // Requests are read in arrival order from one socket: had the stray one reached it, its
    // line would come before this one.
    assert!(
        !seg.serve.stdout_text().contains("02:00:00:00:0e:15"),
        "{}",
        seg.serve.stdout_text()
    );
    // Now that the router is known, another client on the right port is not answered.
    let other = ask_from(
        &seg.pair.peer,
        "router0",
        &bootp_request([0x02, 0, 0, 0, 0, 0x77], 3),
        Duration::from_secs(2),
    );
    assert_eq!(other, None);
    seg.line("did not answer 02:00:00:00:00:77, a Mips_boot loader: only the router 4c:5e:0c:11:22:33 is answered");
    println!("BOOTP reply in {:.1} ms", took.as_secs_f64() * 1000.0);
}

/// A namespace `<pair.ns>-<name>` whose port `<name>0` (with `address`, if any) is bridged,
/// by `<name>1`, onto the bridge `br0` of the router's namespace, which holds `router0` too
/// (the bridge is made on first use): one more machine on the router's segment. Removed when
/// the returned namespace drops.
fn bridged_namespace(pair: &NetnsPair, name: &str, address: Option<Ipv4Addr>) -> Netns {
    let ns = Netns::named(format!("{}-{name}", pair.ns));
    let (inside, outside) = (format!("{name}0"), format!("{name}1"));
    ip(&[
        "link", "add", &inside, "netns", &ns.name, "type", "veth", "peer", "name", &outside,
        "netns", &pair.peer,
    ]);
    let has_bridge = Command::new("ip")
        .args(["-n", &pair.peer, "link", "show", "br0"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_bridge {
        ip(&["-n", &pair.peer, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &pair.peer, "link", "set", "router0", "master", "br0"]);
    }
    ip(&["-n", &pair.peer, "link", "set", &outside, "master", "br0"]);
    ip(&["-n", &pair.peer, "link", "set", &outside, "up"]);
    ip(&["-n", &pair.peer, "link", "set", "br0", "up"]);
    if let Some(address) = address {
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            &inside,
        ]);
    }
    ip(&["-n", &ns.name, "link", "set", &inside, "up"]);
    ns
}

/// Once the router has its lease, a second client on the same bridge (busybox `udhcpc` in a
/// namespace of its own) gets no answer, and serve says whom it did not answer and why.
#[test]
fn a_second_client_gets_no_answer_once_the_router_is_seen() {
    if !root() {
        return;
    }
    let Some(busybox) = require("busybox") else {
        return;
    };
    let second = std::cell::RefCell::new(None);
    let seg = Segment::start("rw-dhcp-second", &[], |pair, _| {
        *second.borrow_mut() = Some(bridged_namespace(pair, "pc", None));
    });
    let second_ns = second.into_inner().expect("the second client's namespace");
    let udhcpc = |ns: &str, dev: &str, tries: &str| {
        Proc::spawn(
            Command::new("ip")
                .args(["netns", "exec", ns])
                .arg(&busybox)
                .args([
                    "udhcpc", "-i", dev, "-f", "-q", "-n", "-t", tries, "-T", "1",
                ])
                // Both send the router's vendor class: only the MAC tells them apart.
                .args(["-V", "Mips_boot", "-s", "/bin/true"]),
        )
    };
    let router_mac = mac_of(&seg.pair.peer, "br0");
    let mut router = udhcpc(&seg.pair.peer, "br0", "5");
    let router_status = router.wait_deadline(DEADLINE);
    assert!(
        router_status.is_some_and(|s| s.success()),
        "the router got no lease ({router_status:?}):\n{}\nserve:\n{}",
        router.diagnostics(),
        seg.serve.diagnostics()
    );
    seg.line(&format!("gave {} to {router_mac}", seg.leased));
    // Three tries a second apart, each DISCOVER broadcast across the bridge to our port.
    let mut other = udhcpc(&second_ns.name, "pc0", "3");
    let other_status = other.wait_deadline(DEADLINE);
    let other_mac = mac_of(&second_ns.name, "pc0");
    assert!(
        other_status.is_some_and(|s| !s.success()),
        "the second client got an answer ({other_status:?}):\n{}\nserve:\n{}",
        other.diagnostics(),
        seg.serve.diagnostics()
    );
    assert_eq!(
        seg.line(&format!("did not answer {other_mac}")),
        format!(
            "did not answer {other_mac}, a Mips_boot loader: only the router {router_mac} is answered"
        )
    );
    let serve_out = seg.serve.stdout_text();
    assert!(
        !serve_out.contains(&format!("to {other_mac}")),
        "serve offered or gave something to {other_mac}:\n{serve_out}"
    );
    println!("second client {other_mac}: no answer; router {router_mac} kept its lease");
}

/// dnsmasq on the same segment: its broadcast answer is heard and the server named, with its
/// MAC.
#[test]
fn a_second_dhcp_server_on_the_segment_is_named() {
    if !root() {
        return;
    }
    let (Some(dnsmasq), Some(busybox)) = (require("dnsmasq"), require("busybox")) else {
        return;
    };
    let third = std::cell::RefCell::new(None);
    // The router's namespace holds a bridge: the router (udhcpc on br0), our port0 behind
    // router0, and dnsmasq's namespace behind dns1.
    let seg = Segment::start("rw-dhcp-rival", &[], |pair, n| {
        *third.borrow_mut() = Some(bridged_namespace(
            pair,
            "dns",
            Some(Ipv4Addr::new(10, 81, n, 254)),
        ));
    });
    let dns_ns = third.into_inner().expect("dnsmasq's namespace");
    let rival = Ipv4Addr::new(10, 81, seg.ours.octets()[2], 254);
    let dir = tempfile::tempdir().unwrap();
    let mut dnsmasq = start_dnsmasq(
        &dnsmasq,
        &dns_ns.name,
        "dns0",
        &format!("10.81.{}", seg.ours.octets()[2]),
        dir.path(),
    );
    // udhcpc -B asks for broadcast answers: dnsmasq's then reach every port of the segment.
    let mut client = Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", &seg.pair.peer])
            .arg(&busybox)
            .args([
                "udhcpc", "-i", "br0", "-f", "-q", "-n", "-B", "-t", "5", "-T", "2",
            ])
            .args(["-s", "/bin/true"]),
    );
    let named = seg.line("another DHCP server answers on this port");
    let _ = client.wait_deadline(DEADLINE);
    dnsmasq.kill();
    let rival_mac = mac_of(&dns_ns.name, "dns0");
    assert!(
        named.starts_with(&format!(
            "another DHCP server answers on this port: {rival} ({rival_mac})"
        )),
        "{named}\ndnsmasq:\n{}",
        dnsmasq.diagnostics()
    );
    println!("{named}");
}

/// dnsmasq as a DHCP server (no DNS) on `dev` in `ns`, leasing `<net>.50` to `<net>.60`, its
/// lease and pid files in `dir`; returned once it listens.
fn start_dnsmasq(dnsmasq: &Path, ns: &str, dev: &str, net: &str, dir: &Path) -> Proc {
    let dnsmasq = Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(dnsmasq)
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--port=0",
                "--user=root",
            ])
            .arg(format!("--interface={dev}"))
            .args(["--bind-interfaces", "--log-dhcp"])
            // Its log on stdout, where the test waits for it to be ready.
            .arg("--log-facility=/dev/stdout")
            .arg(format!("--dhcp-range={net}.50,{net}.60,1h"))
            .arg(format!("--dhcp-leasefile={}", dir.join("leases").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display())),
    );
    // dnsmasq is ready once it has logged its range (it logs after binding its sockets);
    // started earlier, a client could be done with our answer before dnsmasq listens.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match dnsmasq.next_line(left) {
            Some(line) if line.contains("DHCP, IP range") => return dnsmasq,
            Some(_) => {}
            None => panic!("dnsmasq did not start:\n{}", dnsmasq.diagnostics()),
        }
    }
}

/// A DHCP server already holding the server port on this computer stops `serve --dhcp` with
/// the fix, before it could answer the router alongside it (here: a first `serve --dhcp`).
#[test]
fn a_dhcp_server_already_on_this_computer_stops_serve_with_the_fix() {
    if !root() {
        return;
    }
    let seg = Segment::start("rw-dhcp-taken", &[], |_, _| {});
    let image = seg.files.path().join("firmware.bin");
    let second = support::run(
        seg.pair
            .rescue_wizard()
            .arg("serve")
            .arg(&image)
            .args(["--dhcp", "--interface", "port0", "--port", "0"])
            .args(["--router-address", &seg.leased.to_string()]),
        DEADLINE,
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot answer DHCP on port0: UDP port 67 is taken by another program")
            && stderr.contains("fix: stop the DHCP server running on this computer"),
        "{stderr}"
    );
}

/// The `MikroTik` etherboot run through the real binary, answered as `RouterBOOT` needs: a
/// BOOTP client that sends no DHCP message type (built here; Debian's U-Boot always sends one)
/// asks from the router's namespace; the run's reply carries none, gives the profile's router
/// address, our address as `siaddr` and the image's name as boot file; the client then pulls
/// that file from `siaddr` with busybox `tftp`, byte for byte the image; the run reports the
/// lease as BOOTP before the transfer, exits 0 and removes the address it added.
#[test]
fn the_mikrotik_run_answers_a_plain_bootp_client_that_pulls_the_image() {
    if !root() {
        return;
    }
    let Some(busybox) = require("busybox") else {
        return;
    };
    let pair = NetnsPair::new("rw-dhcp-mtik");
    let files = tempfile::tempdir().unwrap();
    let image_name = "openwrt-initramfs.bin";
    let image = support::content(256 * 1024, 0x6d74);
    std::fs::write(files.path().join(image_name), &image).unwrap();
    let mut run = Proc::spawn(
        pair.rescue_wizard()
            .args(["--device", "mikrotik-routerboard"])
            .arg(files.path().join(image_name))
            .args(["--interface", "port0", "--yes", "--json"])
            .args(["--timeout", "60", "--exit-after-transfer"]),
    );
    if wait_for(&run, DEADLINE, |e| {
        matches!(e, RunEvent::WaitingForRouter { .. })
    })
    .is_none()
    {
        panic!("the run never waited:\n{}", run.diagnostics());
    }
    let router_mac = mac_of(&pair.peer, "router0");
    let mac = Mac(rescue_wizard::net::iface::parse_mac(&router_mac).unwrap());
    let mut request = Message::new(Op::REQUEST, 0x6d74_6b01, mac);
    // RFC 951 with the RFC 1497 cookie and no option 53: what RouterBOOT sends.
    request.vendor = Vendor::Options(Vec::new());
    let reply = ask_from(&pair.peer, "router0", &request, DEADLINE)
        .unwrap_or_else(|| panic!("no BOOTP reply:\n{}", run.diagnostics()));
    assert_eq!(reply.message_type(), None, "a DHCP message type: {reply:?}");
    assert_eq!(reply.yiaddr, Ipv4Addr::new(192, 168, 1, 20));
    assert_eq!(reply.siaddr, Ipv4Addr::new(192, 168, 1, 10));
    assert_eq!(reply.file_name(), image_name.as_bytes());
    // The router takes the address it was given and pulls the boot file from siaddr.
    ip(&[
        "-n",
        &pair.peer,
        "addr",
        "add",
        &format!("{}/24", reply.yiaddr),
        "dev",
        "router0",
    ]);
    let pulled = files.path().join("pulled.bin");
    let mut tftp = Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", &pair.peer])
            .arg(&busybox)
            .args(["tftp", "-g", "-r", image_name, "-l"])
            .arg(&pulled)
            .arg(reply.siaddr.to_string()),
    );
    let status = tftp.wait_deadline(DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "busybox tftp ({status:?}):\n{}\nrun:\n{}",
        tftp.diagnostics(),
        run.diagnostics()
    );
    assert!(
        std::fs::read(&pulled).unwrap() == image,
        "the image pulled differs"
    );
    let status = run.wait_deadline(DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "the run ({status:?}):\n{}",
        run.diagnostics()
    );
    let events = events(&run.stdout_text());
    let at = |wanted: fn(&RunEvent) -> bool| events.iter().position(wanted);
    let leased = at(|e| matches!(e, RunEvent::DhcpLeased { .. })).expect("a dhcp-leased event");
    let lease = &events[leased];
    assert_eq!(
        *lease,
        RunEvent::DhcpLeased {
            client: router_mac.clone(),
            address: Ipv4Addr::new(192, 168, 1, 20),
            boot_file: image_name.to_owned(),
            bootp: true,
        }
    );
    let started =
        at(|e| matches!(e, RunEvent::TransferStarted {})).expect("a transfer-started event");
    assert!(leased < started, "the lease came after the transfer");
    let left = ip(&["-n", &pair.ns, "-4", "-o", "addr", "show", "dev", "port0"]);
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains("192.168.1.10"),
        "the address stayed on port0"
    );
    println!(
        "the run said {lease:?}; busybox tftp pulled {} bytes",
        image.len()
    );
}

/// The Xiaomi run (`rescue-wizard --device xiaomi-mi-router-4a-gigabit`) on `pair`'s `port0`
/// with `extra` arguments, to its end: its exit code and JSON events.
fn xiaomi_run(pair: &NetnsPair, files: &Path, extra: &[&str]) -> (Option<i32>, Vec<RunEvent>) {
    let image = files.join("miwifi_r4a_firmware.bin");
    std::fs::write(&image, support::content(64 * 1024, 0x0031)).unwrap();
    let mut run = Proc::spawn(
        pair.rescue_wizard()
            .args(["--device", "xiaomi-mi-router-4a-gigabit"])
            .arg(&image)
            .args(["--interface", "port0", "--yes", "--json"])
            .args(extra),
    );
    let status = run.wait_deadline(DEADLINE);
    assert!(
        status.is_some(),
        "the run did not end:\n{}",
        run.diagnostics()
    );
    let events = events(&run.stdout_text());
    let left = ip(&["-n", &pair.ns, "-4", "-o", "addr", "show", "dev", "port0"]);
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains("192.168.31.1/"),
        "the address stayed on port0:\n{}",
        run.diagnostics()
    );
    (status.and_then(|s| s.code()), events)
}

/// Each `dhcp-probed`: the servers that answered, whether the run stops, and its words.
fn probes(events: &[RunEvent]) -> Vec<(&[Ipv4Addr], bool, &str)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::DhcpProbed {
                answered,
                stopped,
                said,
            } => Some((answered.as_slice(), *stopped, said.as_str())),
            _ => None,
        })
        .collect()
}

/// Each `dhcp-other-server`: its address and MAC.
fn other_servers(events: &[RunEvent]) -> Vec<(Ipv4Addr, Option<&str>)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::DhcpOtherServer { address, mac } => Some((*address, mac.as_deref())),
            _ => None,
        })
        .collect()
}

/// Whether the run said it waits for the router.
fn waited(events: &[RunEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, RunEvent::WaitingForRouter { .. }))
}

/// The whole Xiaomi run with another DHCP server on the segment: before the router is switched
/// on, the run's probe makes dnsmasq (on the same bridge as the laptop's port) answer, names it
/// by address and MAC, and stops (exit 1, the address removed, the technician never told to
/// switch the router on); `--allow-other-dhcp` names it and goes on to the wait. Without
/// dnsmasq, the same run names no server and waits for the router.
#[test]
fn the_run_probes_for_another_dhcp_server_and_stops_before_the_router_is_on() {
    if !root() {
        return;
    }
    let Some(dnsmasq) = require("dnsmasq") else {
        return;
    };
    let pair = NetnsPair::new("rw-dhcp-probe");
    let files = tempfile::tempdir().unwrap();
    // Alone on the segment: the probe hears nobody; the run waits for the router (1 s, then
    // exit 3: it never spoke).
    let started = Instant::now();
    let (code, events) = xiaomi_run(&pair, files.path(), &["--wait", "1"]);
    let alone = started.elapsed();
    assert_eq!(code, Some(3), "{events:?}");
    assert!(other_servers(&events).is_empty(), "{events:?}");
    let probed = probes(&events);
    assert_eq!(probed.len(), 1, "{events:?}");
    assert!(!probed[0].1);
    assert!(probed[0].0.is_empty(), "{events:?}");
    assert!(waited(&events), "the run never waited: {events:?}");
    // dnsmasq joins the segment, bridged with the router's port.
    let dns_ns = bridged_namespace(&pair, "dns", Some(Ipv4Addr::new(192, 168, 31, 254)));
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_dnsmasq(&dnsmasq, &dns_ns.name, "dns0", "192.168.31", dir.path());
    let rival_mac = mac_of(&dns_ns.name, "dns0");
    let started = Instant::now();
    let (code, events) = xiaomi_run(&pair, files.path(), &["--wait", "60"]);
    let stopped_in = started.elapsed();
    let diagnostics = || format!("{events:?}\ndnsmasq:\n{}", server.diagnostics());
    assert_eq!(code, Some(1), "{}", diagnostics());
    let rival = Ipv4Addr::new(192, 168, 31, 254);
    let others = other_servers(&events);
    assert_eq!(others.len(), 1, "{}", diagnostics());
    assert_eq!(others[0], (rival, Some(rival_mac.as_str())));
    let probed = probes(&events);
    assert_eq!(probed.len(), 1, "{}", diagnostics());
    assert!(probed[0].1);
    assert_eq!(probed[0].0, [rival]);
    let said = probed[0].2.to_owned();
    assert!(
        said.contains(&format!("192.168.31.254 ({rival_mac}) offered 192.168.31."))
            && said.contains("Switch off the other DHCP server on this segment, or unplug this computer from the LAN")
            && said.contains("--allow-other-dhcp"),
        "{said}"
    );
    let kinds: [(&str, IsKind); 3] = [
        ("waiting-for-router", |e| {
            matches!(e, RunEvent::WaitingForRouter { .. })
        }),
        ("listening", |e| matches!(e, RunEvent::Listening {})),
        ("dhcp-leased", |e| matches!(e, RunEvent::DhcpLeased { .. })),
    ];
    for (never, kind) in kinds {
        assert!(!events.iter().any(kind), "{never} came: {}", diagnostics());
    }
    // The technician's choice: go on anyway. The server is named, the run waits.
    let (code, events) = xiaomi_run(&pair, files.path(), &["--wait", "1", "--allow-other-dhcp"]);
    server.kill();
    // dnsmasq's ARP (its check that the address it offered is free) is heard as a device
    // speaking on the port: the run ends as "spoke but never asked" (exit 1), not as "never
    // spoke" (exit 3), once its one second of waiting is over.
    assert_eq!(code, Some(1), "{events:?}");
    let gave_up = events.iter().find_map(|e| match e {
        RunEvent::TransferFailed { reason } => Some(reason.as_str()),
        _ => None,
    });
    assert!(
        gave_up.is_some_and(|r| r.starts_with("gave up after 1 s without a transfer")),
        "{events:?}"
    );
    let probed = probes(&events);
    assert!(!probed[0].1, "{events:?}");
    assert_eq!(probed[0].0, [rival]);
    assert!(waited(&events), "{events:?}");
    println!(
        "alone: waited after the probe, run {:.2} s; with dnsmasq: stopped in {:.2} s: {said}",
        alone.as_secs_f64(),
        stopped_in.as_secs_f64()
    );
}

/// `serve --dhcp --profile` reads the profile's `dhcp:` block as the run does: busybox `udhcpc`
/// sending vendor class `Mips_boot` gets the pool's first address and the boot file the block
/// names for that class; the profile's laptop address is added and removed again.
#[test]
fn serve_dhcp_reads_the_profiles_dhcp_block() {
    if !root() {
        return;
    }
    let Some(busybox) = require("busybox") else {
        return;
    };
    let pair = NetnsPair::new("rw-dhcp-block");
    let dir = tempfile::tempdir().unwrap();
    let xiaomi = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("devices/xiaomi-mi-router-4a-gigabit.yaml"),
    )
    .unwrap()
    .replace(
        "id: xiaomi-mi-router-4a-gigabit",
        "id: xiaomi-dhcp-block-test",
    );
    let profile = dir.path().join("xiaomi-dhcp-block-test.yaml");
    std::fs::write(
        &profile,
        format!(
            "{xiaomi}dhcp:\n  boot-file: recovery.bin\n  pool:\n    first: 192.168.31.120\n    last: 192.168.31.121\n  images-by-vendor-class:\n    Mips_boot: mips.bin\n"
        ),
    )
    .unwrap();
    let image = dir.path().join("miwifi.bin");
    std::fs::write(&image, support::content(4096, 31)).unwrap();
    let serve = Proc::spawn(
        pair.rescue_wizard()
            .arg("serve")
            .arg(&image)
            .args(["--dhcp", "--interface", "port0", "--port", "0", "--yes"])
            .arg("--profile")
            .arg(&profile),
    );
    let deadline = Instant::now() + DEADLINE;
    let intro = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match serve.next_line(left) {
            Some(line) if line.starts_with("answering DHCP") => break line,
            Some(_) => {}
            None => panic!("serve never answered:\n{}", serve.diagnostics()),
        }
    };
    assert_eq!(
        intro,
        "answering DHCP and BOOTP on port0 as 192.168.31.1: leasing 192.168.31.120, 192.168.31.121, boot file recovery.bin"
    );
    let hook = script(
        dir.path(),
        "udhcpc.sh",
        r#"[ "$1" = bound ] && echo "bound ip=$ip siaddr=$siaddr boot_file=$boot_file""#,
    );
    let (bound, status, client) = udhcpc_bound(&busybox, &pair.peer, &hook);
    assert_eq!(
        bound.as_deref(),
        Some("bound ip=192.168.31.120 siaddr=192.168.31.1 boot_file=mips.bin"),
        "udhcpc ({status:?}):\n{}\nserve:\n{}",
        client.diagnostics(),
        serve.diagnostics()
    );
    let mut serve = serve;
    serve.signal(nix::sys::signal::Signal::SIGTERM);
    let ended = serve.wait_deadline(DEADLINE);
    assert!(
        ended.is_some(),
        "serve did not stop:\n{}",
        serve.diagnostics()
    );
    let left = ip(&["-n", &pair.ns, "-4", "-o", "addr", "show", "dev", "port0"]);
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains("192.168.31.1/"),
        "the address stayed on port0:\n{}",
        serve.diagnostics()
    );
    println!("{intro}; udhcpc: {}", bound.unwrap_or_default());
}
