//! The NMRP recovery end to end, as a technician runs it: `rescue-wizard --device
//! netgear-r6220 image.chk`, in this computer's namespace, against the Netgear bootloader double
//! (tests/`nmrp_double`/, proven faithful by Debian's nmrpflash in `tests/nmrp_wire.rs`) behind a
//! veth pair in a router namespace.
//!
//! Each test reads the run's JSON events and the double's reports, with deadlines, never
//! sleeps; and checks that the port is as it was afterwards (no rescue address, no static ARP
//! entry). Needs root and `ip`; the all-zero MAC test also `nft`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unused_imports)]
mod nmrp_double;
mod support;

use std::process::Command;
use std::time::Duration;

use nmrp_double::{Behaviour, Blksize, Double, Happening, Report, Verdict, accept_zero_mac};
use rescue_wizard::engine::RunOutcome;
use rescue_wizard::net::wire::Mac;
use rescue_wizard::nmrp::packet::Code;
use support::events::{NmrpPhase, RunEvent, events, finished, wait_for_router};
use support::{NetnsPair, Proc, ip};

/// The host's side of the pair.
const PORT: &str = "port0";
/// The router's side.
const ROUTER_DEV: &str = "router0";
/// A router MAC in the locally administered range.
const ROUTER_MAC: Mac = Mac([0x02, 0x4e, 0x54, 0x47, 0x52, 0x02]);
/// Longest any run may take.
const DEADLINE: Duration = Duration::from_mins(1);
/// The R6220's board id, as its .chk images carry it.
const BOARD: &str = "R6220";

/// The tools the namespace tests need, each with its Debian package.
const IP: (&str, &str) = ("ip", "iproute2");
const NFT: (&str, &str) = ("nft", "nftables");

/// Each keep-alive told: its count and the seconds since the upload.
fn keep_alives(events: &[RunEvent]) -> Vec<(u32, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::NmrpKeepAlive {
                count,
                since_upload,
            } => Some((*count, *since_upload)),
            _ => None,
        })
        .collect()
}

/// A namespace pair whose router side carries `mac`, and a folder with a .chk image for the
/// R6220 of about `size` bytes.
struct Lab {
    net: NetnsPair,
    dir: tempfile::TempDir,
    image: Vec<u8>,
}

impl Lab {
    fn new(tag: &str, mac: Mac, size: usize) -> Self {
        let net = NetnsPair::new(tag);
        if mac.0 != [0; 6] {
            ip(&[
                "-n",
                &net.peer,
                "link",
                "set",
                ROUTER_DEV,
                "address",
                &mac.to_string(),
            ]);
        }
        let image = rescue_wizard::image::sample::netgear_chk(BOARD, size / 2, size - size / 2);
        Self {
            net,
            dir: tempfile::tempdir().unwrap(),
            image,
        }
    }

    /// `rescue-wizard --device netgear-r6220 R6220.chk --interface port0 --yes --json`, and
    /// `extra`.
    fn run(&self, extra: &[&str]) -> Proc {
        let path = self.dir.path().join("R6220-V1.1.0.86.chk");
        std::fs::write(&path, &self.image).unwrap();
        Proc::spawn(self.net.netgear_r6220_run(&path).args(extra))
    }

    fn power_on(&self, behaviour: Behaviour, blksize: Blksize) -> Double {
        Double::power_on(&self.net.peer, ROUTER_DEV, behaviour, blksize)
    }

    /// The port as the run left it: no rescue address, no static ARP entry.
    fn assert_restored(&self) {
        let addr = ip(&["-n", &self.net.ns, "-4", "addr", "show", "dev", PORT]);
        let addr = String::from_utf8_lossy(&addr.stdout);
        assert!(
            !addr.contains("10.164.183.252"),
            "the address stayed: {addr}"
        );
        let neigh = ip(&["-n", &self.net.ns, "neigh", "show", "dev", PORT]);
        let neigh = String::from_utf8_lossy(&neigh.stdout);
        assert!(
            !neigh.contains("PERMANENT"),
            "the ARP entry stayed: {neigh}"
        );
    }
}

/// Waits for the run's end; returns its exit code and events.
fn ended(run: &mut Proc) -> (Option<i32>, Vec<RunEvent>) {
    let status = run
        .wait_deadline(DEADLINE)
        .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
    (status.code(), events(&run.stdout_text()))
}

fn upload_done(double: &mut Double) -> (u64, String) {
    let (_, bytes, sha256) = double.upload_done(DEADLINE);
    (bytes, sha256)
}

fn upload_blksize(double: &mut Double) -> u16 {
    double.upload_blksize(DEADLINE)
}

/// The image arrived whole, the router closed after `keep_alives`, the run ended with exit 0,
/// and the port is as it was.
fn assert_flashed(
    lab: &Lab,
    run: &mut Proc,
    double: &mut Double,
    keep_alives: u32,
) -> Vec<RunEvent> {
    let (bytes, hash) = upload_done(double);
    assert_eq!(bytes, lab.image.len() as u64);
    assert_eq!(
        hash,
        nmrp_double::sha256(&lab.image),
        "the image arrived intact"
    );
    assert!(
        double
            .wait_for(DEADLINE, |r| *r == Report::Router(Happening::Complete))
            .is_some(),
        "the router never completed: {:?}",
        double.seen
    );
    let (code, events) = ended(run);
    assert_eq!(code, Some(0), "{}", run.diagnostics());
    let closed: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::NmrpClosed { keep_alives } => Some(*keep_alives),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 1, "{}", run.stdout_text());
    assert_eq!(closed[0], keep_alives);
    assert_eq!(finished(&events)[0].0, RunOutcome::Flashed);
    let pushed: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TransferFinished { sha256, .. } => Some(sha256.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(pushed.len(), 1, "{}", run.stdout_text());
    assert_eq!(pushed[0], nmrp_double::sha256(&lab.image));
    lab.assert_restored();
    events
}

/// The static ARP entry for `mac` was made and undone, journaled like every host change.
fn assert_arp_journaled(events: &[RunEvent], mac: &str) {
    let entry = format!("static ARP entry 10.164.183.253 -> {mac} on {PORT}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::NetworkChanged { change } if *change == entry)),
        "no network-changed for {entry}: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::NetworkRestored { change } if *change == entry)),
        "no network-restored for {entry}: {events:?}"
    );
}

#[test]
fn the_run_flashes_a_router_switched_on_once_it_waits() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let lab = Lab::new("nmrprun-a", ROUTER_MAC, 2_000_000);
    let mut run = lab.run(&["--region", "ww"]);
    wait_for_router(&run, DEADLINE);
    let mut double = lab.power_on(
        Behaviour::accepting(ROUTER_MAC, 3, Duration::from_millis(100)),
        Blksize::Honour,
    );
    assert_eq!(upload_blksize(&mut double), 1456);
    let events = assert_flashed(&lab, &mut run, &mut double, 3);
    // The exchange's phases; the advertising count and link changes are told between them.
    let phases: Vec<&RunEvent> = events
        .iter()
        .filter(|e| e.is_nmrp())
        .filter(|e| {
            !matches!(
                e,
                RunEvent::NmrpAdvertising { .. } | RunEvent::NmrpLinkChanged { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            phases.as_slice(),
            [
                RunEvent::NmrpRouterAnswered { .. },
                RunEvent::NmrpConfigured { .. },
                RunEvent::NmrpUploadRequested {},
                RunEvent::NmrpKeepAlive { .. },
                RunEvent::NmrpKeepAlive { .. },
                RunEvent::NmrpKeepAlive { .. },
                RunEvent::NmrpClosed { .. },
            ]
        ),
        "{phases:?}"
    );
    // Waiting for the router to answer: the advertisements counted, rising, until it did.
    let answered = events
        .iter()
        .position(|e| matches!(e, RunEvent::NmrpRouterAnswered { .. }))
        .unwrap();
    let advertised = |events: &[RunEvent]| -> Vec<u32> {
        events
            .iter()
            .filter_map(|e| match e {
                RunEvent::NmrpAdvertising { sent } => Some(*sent),
                _ => None,
            })
            .collect()
    };
    let counts = advertised(&events[..answered]);
    assert!(
        !counts.is_empty() && counts.windows(2).all(|w| w[0] < w[1]),
        "{counts:?}"
    );
    assert!(advertised(&events[answered..]).is_empty());
    let configured = events
        .iter()
        .find_map(|e| match e {
            RunEvent::NmrpConfigured {
                router,
                netmask,
                region,
            } => Some((*router, *netmask, region.as_deref())),
            _ => None,
        })
        .unwrap();
    assert_eq!(configured.0, std::net::Ipv4Addr::new(10, 164, 183, 253));
    assert_eq!(configured.1, std::net::Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(configured.2, Some("WW"));
    assert!(
        double.seen.iter().any(|(_, r)| matches!(
            r,
            Report::Router(Happening::Configured {
                region: Some(region),
                fw_up: true,
                ..
            }) if region.0 == 2
        )),
        "the router took region WW and the upgrade flag: {:?}",
        double.seen
    );
    assert_arp_journaled(&events, &ROUTER_MAC.to_string());
}

#[test]
fn the_run_flashes_a_router_switched_on_before_it_starts() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let lab = Lab::new("nmrprun-b", ROUTER_MAC, 300_000);
    // The router listens about 3 s from now: the run must be advertising by then.
    let mut double = lab.power_on(
        Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100)),
        Blksize::Honour,
    );
    let mut run = lab.run(&[]);
    assert_flashed(&lab, &mut run, &mut double, 1);
}

#[test]
fn the_run_flashes_a_router_that_ignores_the_block_size() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let lab = Lab::new("nmrprun-c", ROUTER_MAC, 700_000);
    let mut run = lab.run(&[]);
    wait_for_router(&run, DEADLINE);
    let mut double = lab.power_on(
        Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100)),
        Blksize::Ignore,
    );
    assert_eq!(upload_blksize(&mut double), 512);
    assert_flashed(&lab, &mut run, &mut double, 1);
}

/// Runs against a router whose image check says `verdict`: the image arrived whole, the run
/// failed with one `nmrp-rejected` and no close, and the port is as it was. Returns why and
/// the causes, as the run gave them.
fn rejected_run(tag: &str, verdict: Verdict) -> (String, Vec<String>) {
    let lab = Lab::new(tag, ROUTER_MAC, 100_000);
    let mut run = lab.run(&[]);
    wait_for_router(&run, DEADLINE);
    let mut double = lab.power_on(
        Behaviour {
            verdict,
            ..Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100))
        },
        Blksize::Honour,
    );
    let (_, hash) = upload_done(&mut double);
    assert_eq!(hash, nmrp_double::sha256(&lab.image));
    let (code, events) = ended(&mut run);
    assert_ne!(code, Some(0), "{}", run.diagnostics());
    let rejected: Vec<(&String, &Vec<String>)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::NmrpRejected { why, causes } => Some((why, causes)),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 1, "{}", run.stdout_text());
    assert_eq!(finished(&events)[0].0, RunOutcome::Failed);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::NmrpClosed { .. }))
    );
    lab.assert_restored();
    (rejected[0].0.clone(), rejected[0].1.clone())
}

#[test]
fn the_run_shows_the_routers_own_words_when_it_rejects_in_plain_text() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let (why, causes) = rejected_run(
        "nmrprun-t",
        Verdict::RejectWithText("Firmware checksum error\x1b[2J\n"),
    );
    // The router's words, escaped: the escape sequence cannot clear the technician's screen.
    assert_eq!(
        why,
        "the router answered the upload with \"Firmware checksum error\\x1b[2J\""
    );
    assert!(causes.iter().any(|c| c.contains("checksum")), "{causes:?}");
}

#[test]
fn the_run_says_the_router_rejected_the_image_and_why() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    for (verdict, expected) in [
        (
            Verdict::RejectWithConfReq,
            "asked for its configuration again",
        ),
        (
            Verdict::RejectWithUploadReq,
            "asked for the image again after the upload",
        ),
    ] {
        let (why, causes) = rejected_run("nmrprun-r", verdict);
        assert!(why.contains(expected), "{why}");
        assert!(
            causes.iter().any(|c| c.contains("another model")),
            "{causes:?}"
        );
        assert!(causes.iter().any(|c| c.contains("downgrade")), "{causes:?}");
        // The image is a .chk: the ".trx instead of .chk" cause does not apply.
        assert!(!causes.iter().any(|c| c.contains(".trx")), "{causes:?}");
    }
}

#[test]
fn the_run_answers_twenty_keep_alives_then_the_close() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let lab = Lab::new("nmrprun-k", ROUTER_MAC, 100_000);
    let mut run = lab.run(&[]);
    wait_for_router(&run, DEADLINE);
    let mut double = lab.power_on(
        Behaviour::accepting(ROUTER_MAC, 20, Duration::from_millis(50)),
        Blksize::Honour,
    );
    let events = assert_flashed(&lab, &mut run, &mut double, 20);
    let counts: Vec<u32> = keep_alives(&events).iter().map(|k| k.0).collect();
    assert_eq!(counts, (1..=20).collect::<Vec<_>>());
    let times: Vec<f64> = keep_alives(&events).iter().map(|k| k.1).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "the time since the upload grows: {times:?}"
    );
    let router = double.power_off();
    assert!(router.keep_alive_acks >= 1, "keep-alives were answered");
    assert!(
        router.heard.iter().any(|m| m.code == Code::CLOSE_ACK),
        "the close was acknowledged"
    );
}

#[test]
fn the_run_gets_through_a_link_flap_while_advertising() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let lab = Lab::new("nmrprun-l", ROUTER_MAC, 300_000);
    let mut run = lab.run(&[]);
    wait_for_router(&run, DEADLINE);
    // The router hears an ADVERTISE, then the link goes: its CONF_REQs are lost and it listens
    // again with ADVERTISE as the last code it heard.
    let mut double = lab.power_on(
        Behaviour {
            lost_conf_reqs: 6,
            ..Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100))
        },
        Blksize::Honour,
    );
    assert!(
        double
            .wait_for(DEADLINE, |r| *r == Report::Router(Happening::Answered))
            .is_some()
    );
    ip(&["-n", &lab.net.peer, "link", "set", ROUTER_DEV, "down"]);
    assert!(
        double
            .wait_for(DEADLINE, |r| matches!(
                r,
                Report::Router(Happening::ListeningAgain { .. })
            ))
            .is_some()
    );
    ip(&["-n", &lab.net.peer, "link", "set", ROUTER_DEV, "up"]);
    let events = assert_flashed(&lab, &mut run, &mut double, 1);
    let answers = double
        .seen
        .iter()
        .filter(|(_, r)| *r == Report::Router(Happening::Answered))
        .count();
    assert_eq!(answers, 2, "the router answered again after the flap");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::NetworkNoticed { what } if what.contains("link lost"))),
        "the flap was told: {events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            RunEvent::NmrpLinkChanged {
                up: false,
                during: NmrpPhase::Advertising
            }
        )),
        "what the flap means for NMRP was told: {events:?}"
    );
}

#[test]
fn the_run_flashes_a_router_whose_mac_is_all_zeros() {
    if !support::root_and_tools(&[IP, NFT]) {
        return;
    }
    let zero = Mac([0; 6]);
    let lab = Lab::new("nmrprun-z", zero, 400_000);
    accept_zero_mac(&lab.net.peer, ROUTER_DEV)
        .expect("an nftables ingress rule in the router's namespace");
    let mut run = lab.run(&[]);
    wait_for_router(&run, DEADLINE);
    let mut double = lab.power_on(
        Behaviour::accepting(zero, 1, Duration::from_millis(100)),
        Blksize::Honour,
    );
    let events = assert_flashed(&lab, &mut run, &mut double, 1);
    let answered = events
        .iter()
        .find_map(|e| match e {
            RunEvent::NmrpRouterAnswered { mac } => Some(mac.as_str()),
            _ => None,
        })
        .unwrap();
    assert_eq!(answered, "00:00:00:00:00:00");
    assert_arp_journaled(&events, "00:00:00:00:00:00");
}

/// The plain output names each phase in a technician's words.
#[test]
fn the_plain_run_tells_each_phase() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let lab = Lab::new("nmrprun-p", ROUTER_MAC, 100_000);
    let path = lab.dir.path().join("R6220.chk");
    std::fs::write(&path, &lab.image).unwrap();
    let mut cmd: Command = lab.net.rescue_wizard();
    cmd.args(["--device", "netgear-r6220"]).arg(&path).args([
        "--interface",
        PORT,
        "--yes",
        "--timeout",
        "60",
    ]);
    let mut run = Proc::spawn(&mut cmd);
    let mut double = lab.power_on(
        Behaviour::accepting(ROUTER_MAC, 2, Duration::from_millis(100)),
        Blksize::Honour,
    );
    upload_done(&mut double);
    let status = run.wait_deadline(DEADLINE).expect("the run ended");
    let said = run.stdout_text();
    assert!(status.success(), "{}", run.diagnostics());
    for words in [
        "the router answered: its bootloader is in recovery mode",
        "configured: the router took 10.164.183.253",
        "uploading: the router asked for the image as \"firmware\"",
        "waiting for the router to answer: ",
        "writing flash: keep-alive 2 at 0:00",
        "done: the router wrote the image and closed",
        "Switch the router off and on",
        // The last line, the run's summary, says the same: no "flashing time has passed".
        "closed the NMRP session: switch it off and on now",
    ] {
        assert!(said.contains(words), "no \"{words}\" in:\n{said}");
    }
    assert!(
        !said.contains("flashing time has passed"),
        "the summary must say the router closed:\n{said}"
    );
}
