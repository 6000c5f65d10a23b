//! NMRP on a real wire: a Netgear bootloader double (tests/`nmrp_double`/, written from Netgear's
//! published U-Boot) on one end of a veth pair in a network namespace, the host on the other.
//!
//! First the double is proved faithful: Debian's `nmrpflash` flashes it. Then rescue-wizard's
//! session, through a small driver here (raw socket, carrier watch, the project's TFTP client
//! pushing to the double's TFTP server), against the double in each situation the issue names;
//! and both hosts timed from the router's power-on to the end of the upload.
//!
//! Nothing touches the machine's real interfaces: every frame stays in the namespaces each test
//! makes and removes. Port 69 is the double's own, inside its namespace (NMRP's TFTP leg is
//! always port 69). Needs root, `ip`, and for some tests `nmrpflash` and `nft`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod nmrp_double;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nmrp_double::{
    Behaviour, Blksize, Double, Happening, RawPort, Report, State, Verdict, accept_zero_mac,
    carrier, heard_advertise, in_netns, sha256,
};
use rescue_wizard::net::wire::Mac;
use rescue_wizard::nmrp::packet::{Code, MAGIC, Message, NmrpOption, Region};
use rescue_wizard::nmrp::session::{
    Config, Event, Input, Rejection, Session, SessionEnd, UploadFailure,
};
use rescue_wizard::tftp::client::{ClientConfig, push};
use rescue_wizard::tftp::options::ClientOptions;
use support::{NetnsPair, ip};

/// The host's side of the pair.
const PORT: &str = "port0";
/// The router's side.
const ROUTER_DEV: &str = "router0";
/// The host address that goes with the session's default router address.
const HOST_ADDR: &str = "10.164.183.252/24";
/// Longest any one exchange may take.
/// The tools the namespace tests need, each with its Debian package.
const IP: (&str, &str) = ("ip", "iproute2");
const NFT: (&str, &str) = ("nft", "nftables");
const NMRPFLASH: (&str, &str) = ("nmrpflash", "nmrpflash");
const DEADLINE: Duration = Duration::from_mins(1);
/// A router MAC in the locally administered range.
const ROUTER_MAC: Mac = Mac([0x02, 0x4e, 0x54, 0x47, 0x52, 0x01]);

/// The image: made-up bytes, `size` long, written to a file in `dir` too.
fn image(dir: &Path, size: usize) -> (Arc<[u8]>, PathBuf) {
    let path = support::make_file(dir, "R6220-V1.1.0.86.img", size);
    let data: Arc<[u8]> = std::fs::read(&path).expect("the image").into();
    (data, path)
}

/// What the host-side driver saw.
struct HostRun {
    outcome: Option<SessionEnd>,
    events: Vec<(Instant, Event)>,
    links: Vec<bool>,
}

/// Runs rescue-wizard's session on `port0` in `ns` until it finishes or `DEADLINE` passes:
/// frames in and out through a raw socket, the carrier watched, and on `UploadRequested` a
/// static ARP entry and the project's TFTP client pushing `image`.
fn drive_session(
    ns: &str,
    image: Arc<[u8]>,
    tune: impl FnOnce(&mut Config) + Send + 'static,
) -> JoinHandle<HostRun> {
    drive_session_watched(ns, image, tune, None)
}

/// [`drive_session`], telling `links` each carrier change the driver sees as it sees it.
#[expect(
    clippy::too_many_lines,
    reason = "split pending: the NMRP driver rig, with the NMRP method"
)]
fn drive_session_watched(
    ns: &str,
    image: Arc<[u8]>,
    tune: impl FnOnce(&mut Config) + Send + 'static,
    links: Option<mpsc::Sender<bool>>,
) -> JoinHandle<HostRun> {
    let ns_owned = ns.to_owned();
    in_netns("nmrp-host-driver", ns, move || {
        let mut port = RawPort::open(PORT, Duration::from_millis(10));
        let mut config = Config::new(port.mac);
        tune(&mut config);
        let start = Instant::now();
        let mut session = Session::new(config, start);
        let mut run = HostRun {
            outcome: None,
            events: Vec::new(),
            links: Vec::new(),
        };
        let mut link = carrier(PORT);
        let mut next_link_check = start;
        let (upload_tx, upload_rx) = mpsc::channel::<(usize, Result<(), UploadFailure>)>();
        let mut uploaders: Vec<JoinHandle<()>> = Vec::new();
        let mut push_stop: Option<Arc<AtomicBool>> = None;
        while run.outcome.is_none() && start.elapsed() < DEADLINE {
            let mut steps = Vec::new();
            let now = Instant::now();
            if now >= next_link_check {
                next_link_check = now + Duration::from_millis(50);
                let up = carrier(PORT);
                if up != link {
                    link = up;
                    run.links.push(up);
                    if let Some(links) = &links {
                        let _ = links.send(up);
                    }
                    let input = if up { Input::LinkUp } else { Input::LinkDown };
                    steps.push(session.handle(input, now));
                }
            }
            if let Some(frame) = port.recv() {
                steps.push(session.handle(Input::Frame(&frame), Instant::now()));
            }
            if session.next_deadline().is_some_and(|d| Instant::now() >= d) {
                steps.push(session.handle(Input::Tick, Instant::now()));
            }
            // Only the current push counts: one stopped by `UploadAbandoned` reports late.
            if let Some((_, result)) = upload_rx
                .try_recv()
                .ok()
                .filter(|(id, _)| *id == uploaders.len())
            {
                let input = match &result {
                    Ok(()) => Input::UploadDone,
                    Err(failure) => Input::UploadFailed(failure),
                };
                steps.push(session.handle(input, Instant::now()));
            }
            for step in steps {
                for frame in &step.frames {
                    port.send(frame);
                }
                for event in step.events {
                    let at = Instant::now();
                    match &event {
                        Event::UploadRequested {
                            file_name,
                            router_mac,
                            router_ip,
                        } => {
                            // The static ARP entry for the router's MAC, even all zeros.
                            ip(&[
                                "-n",
                                &ns_owned,
                                "neigh",
                                "replace",
                                &router_ip.to_string(),
                                "lladdr",
                                &router_mac.to_string(),
                                "dev",
                                PORT,
                                "nud",
                                "permanent",
                            ]);
                            let server = SocketAddr::from((*router_ip, 69));
                            let stop = Arc::new(AtomicBool::new(false));
                            push_stop = Some(Arc::clone(&stop));
                            let done = upload_tx.clone();
                            let id = uploaders.len() + 1;
                            uploaders.push(upload(
                                server,
                                file_name.clone(),
                                Arc::clone(&image),
                                stop,
                                move |result| {
                                    let _ = done.send((id, result));
                                },
                            ));
                        }
                        Event::UploadAbandoned => {
                            if let Some(stop) = &push_stop {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                        Event::Finished(outcome) => run.outcome = Some(outcome.clone()),
                        _ => {}
                    }
                    run.events.push((at, event));
                }
            }
        }
        for uploader in uploaders {
            let _ = uploader.join();
        }
        run
    })
}

/// Pushes with the project's TFTP client on a thread of its own (which starts in the driver's
/// namespace), as NMRP wants it: block size 1456, falling back to 512 when the router ignores
/// it; the write request repeated every 250 ms (CFE needs at least 200 ms for the first block).
fn upload(
    server: SocketAddr,
    name: String,
    image: Arc<[u8]>,
    stop: Arc<AtomicBool>,
    done: impl FnOnce(Result<(), UploadFailure>) + Send + 'static,
) -> JoinHandle<()> {
    thread::Builder::new()
        .name("nmrp-tftp-push".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let config = ClientConfig {
                options: ClientOptions {
                    blksize: Some(1456),
                    ..ClientOptions::default()
                },
                request_interval: Duration::from_millis(250),
                wait: Duration::from_secs(20),
                ..ClientConfig::default()
            };
            let (events, _keep) = tokio::sync::mpsc::unbounded_channel();
            let result = runtime.block_on(push(server, name, image, config, events, stop));
            if let Ok(pushed) = &result {
                eprintln!(
                    "pushed {} bytes in {:.3} s, blksize {}: {:?}",
                    pushed.bytes,
                    pushed.elapsed.as_secs_f64(),
                    pushed.blksize,
                    pushed.stats
                );
            }
            // The router's own words (EX2700) come back as UploadFailure::RouterSaid.
            done(result.map(|_| ()).map_err(|err| UploadFailure::from(&err)));
        })
        .expect("a thread")
}

/// A namespace pair whose router side has the MAC the router's NMRP frames carry (its NIC's
/// own: the kernel stack in the router's namespace takes the TFTP leg's frames only when
/// they are sent to it).
fn pair(tag: &str) -> NetnsPair {
    let pair = NetnsPair::new(tag);
    ip(&[
        "-n",
        &pair.peer,
        "link",
        "set",
        ROUTER_DEV,
        "address",
        &ROUTER_MAC.to_string(),
    ]);
    pair
}

/// A pair with the host address the session's defaults expect.
fn lab(tag: &str) -> NetnsPair {
    let pair = pair(tag);
    ip(&["-n", &pair.ns, "addr", "add", HOST_ADDR, "dev", PORT]);
    pair
}

fn upload_done(double: &mut Double) -> (Instant, u64, String) {
    double.upload_done(DEADLINE)
}

fn upload_blksize(double: &mut Double) -> u16 {
    double.upload_blksize(DEADLINE)
}

fn complete(double: &mut Double) {
    assert!(
        double
            .wait_for(DEADLINE, |r| *r == Report::Router(Happening::Complete))
            .is_some(),
        "the router never completed: {:?}",
        double.seen
    );
}

/// Runs `nmrpflash` in `ns` against whatever router is there; returns its exit and output.
fn nmrpflash(ns: &str, image: &Path) -> support::Proc {
    support::Proc::spawn(
        Command::new("ip")
            .args(["netns", "exec", ns, "nmrpflash", "-v", "-i", PORT, "-f"])
            .arg(image)
            // Debian's 0.9.14 reads -T as milliseconds: wait up to 60 s between keep-alives.
            .args(["-T", "60000"])
            .stdin(Stdio::null()),
    )
}

#[test]
fn nmrpflash_flashes_the_double() {
    if !support::root_and_tools(&[IP, NMRPFLASH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, path) = image(dir.path(), 1_000_003);
    let net = pair("nmrpf");
    // As every guide says: start nmrpflash, then power the router on.
    let mut host = nmrpflash(&net.ns, &path);
    let mut double = Double::power_on(
        &net.peer,
        ROUTER_DEV,
        Behaviour::accepting(ROUTER_MAC, 3, Duration::from_millis(200)),
        Blksize::Honour,
    );
    let blksize = upload_blksize(&mut double);
    let (_, bytes, hash) = upload_done(&mut double);
    complete(&mut double);
    let status = host.wait_deadline(DEADLINE);
    let router = double.power_off();
    assert_eq!(bytes, data.len() as u64);
    assert_eq!(hash, sha256(&data), "the image nmrpflash flashed");
    assert!(
        status.is_some_and(|s| s.success()),
        "nmrpflash failed: {}",
        host.diagnostics()
    );
    let said = host.stdout_text();
    assert!(said.contains("Received configuration request"), "{said}");
    assert!(said.contains("Remote finished"), "{said}");
    assert_eq!(blksize, 1456, "nmrpflash asks for 1456-byte blocks");
    assert!(router.keep_alive_acks >= 1, "keep-alives were answered");
    // nmrpflash's messages, parsed by the project's codec, are the ones the session sends.
    let advertise = Message::new(Code::ADVERTISE, vec![NmrpOption::MagicNo(MAGIC.to_vec())]);
    assert_eq!(router.heard.first(), Some(&advertise));
    let conf_ack = router
        .heard
        .iter()
        .find(|m| m.code == Code::CONF_ACK)
        .expect("a CONF_ACK");
    // Debian's 0.9.14 gives the router .252 (upstream and the session give .253).
    assert_eq!(
        conf_ack,
        &Message::new(
            Code::CONF_ACK,
            vec![
                NmrpOption::DevIp {
                    addr: "10.164.183.252".parse().unwrap(),
                    mask: "255.255.255.0".parse().unwrap(),
                },
                NmrpOption::FwUp,
            ],
        )
    );
    for code in [Code::KEEP_ALIVE_ACK, Code::CLOSE_ACK] {
        assert!(
            router.heard.contains(&Message::new(code, vec![])),
            "nmrpflash sent {code}"
        );
    }
}

/// Starts the session, powers the double on (`before`: the router first), waits for the end.
fn session_against(
    tag: &str,
    behaviour: Behaviour,
    blksize: Blksize,
    size: usize,
    router_first: bool,
    tune: fn(&mut Config),
) -> (HostRun, Double, Arc<[u8]>, NetnsPair) {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = image(dir.path(), size);
    let net = lab(tag);
    let (double, host) = if router_first {
        let mut double = Double::power_on(&net.peer, ROUTER_DEV, behaviour, blksize);
        // The session starts about 1.1 s into the router's 3.1 s listen window.
        assert!(
            double
                .wait_for(DEADLINE, |r| *r
                    == Report::Router(Happening::StillListening(2)))
                .is_some()
        );
        let host = drive_session(&net.ns, Arc::clone(&data), tune);
        (double, host)
    } else {
        let host = drive_session(&net.ns, Arc::clone(&data), tune);
        let double = Double::power_on(&net.peer, ROUTER_DEV, behaviour, blksize);
        (double, host)
    };
    let run = host.join().expect("the driver ran");
    (run, double, data, net)
}

fn assert_flashed(run: &HostRun, double: &mut Double, data: &[u8], keep_alives: u32) {
    let (_, bytes, hash) = upload_done(double);
    assert_eq!(bytes, data.len() as u64);
    assert_eq!(hash, sha256(data), "the image rescue-wizard pushed");
    match &run.outcome {
        Some(SessionEnd::SwitchOffAndOn { keep_alives: n, .. }) => assert_eq!(*n, keep_alives),
        other => panic!(
            "expected the router to close: {other:?}; events {:?}",
            run.events
        ),
    }
    complete(double);
}

#[test]
fn session_flashes_a_router_powered_on_after_it_starts() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let behaviour = Behaviour::accepting(ROUTER_MAC, 2, Duration::from_millis(100));
    let (run, mut double, data, _net) = session_against(
        "nmrpa",
        behaviour,
        Blksize::Honour,
        3_000_017,
        false,
        |config| {
            config.region = Region::from_name("WW");
        },
    );
    assert_eq!(upload_blksize(&mut double), 1456);
    assert_flashed(&run, &mut double, &data, 2);
    let configured = double.seen.iter().find_map(|(_, r)| match r {
        Report::Router(Happening::Configured {
            ip,
            mask,
            region,
            fw_up,
        }) => Some((*ip, *mask, *region, *fw_up)),
        _ => None,
    });
    assert_eq!(
        configured,
        Some((
            "10.164.183.253".parse().unwrap(),
            "255.255.255.0".parse().unwrap(),
            Some(Region(2)),
            true
        )),
        "the router took the session's address, mask, region and FW-UP"
    );
}

#[test]
fn session_flashes_a_router_powered_on_before_it_starts() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let behaviour = Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100));
    let (run, mut double, data, _net) =
        session_against("nmrpb", behaviour, Blksize::Honour, 200_000, true, |_| {});
    assert_flashed(&run, &mut double, &data, 1);
}

#[test]
fn session_flashes_a_router_that_ignores_the_block_size() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let behaviour = Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100));
    let (run, mut double, data, _net) = session_against(
        "nmrpc",
        behaviour,
        Blksize::Ignore,
        1_000_000,
        false,
        |_| {},
    );
    assert_eq!(upload_blksize(&mut double), 512);
    assert_flashed(&run, &mut double, &data, 1);
}

#[test]
fn session_reports_a_rejected_image() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    for (verdict, why) in [
        (
            Verdict::RejectWithConfReq,
            Rejection::ConfRequestAfterUpload,
        ),
        (Verdict::RejectWithUploadReq, Rejection::SecondUploadRequest),
    ] {
        let behaviour = Behaviour {
            verdict,
            ..Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100))
        };
        let (run, mut double, data, _net) =
            session_against("nmrpr", behaviour, Blksize::Honour, 100_000, false, |_| {});
        let (_, _, hash) = upload_done(&mut double);
        assert_eq!(hash, sha256(&data));
        assert_eq!(run.outcome, Some(SessionEnd::Rejected(why)));
    }
}

#[test]
fn session_reports_the_routers_plain_text_rejection() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    // EX2700: its checksum error in a bare UDP datagram where the last ACK would be, with a
    // line break and a control byte a terminal must not see raw.
    let behaviour = Behaviour {
        verdict: Verdict::RejectWithText("Firmware checksum error\x07\r\n"),
        ..Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100))
    };
    let (run, mut double, data, _net) =
        session_against("nmrpt", behaviour, Blksize::Honour, 100_000, false, |_| {});
    let (_, _, hash) = upload_done(&mut double);
    assert_eq!(hash, sha256(&data));
    assert_eq!(
        run.outcome,
        Some(SessionEnd::Rejected(Rejection::RouterSaid(
            "Firmware checksum error\\x07".into()
        )))
    );
}

#[test]
fn session_answers_twenty_keep_alives_then_closes() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let behaviour = Behaviour::accepting(ROUTER_MAC, 20, Duration::from_millis(50));
    let (run, mut double, data, _net) =
        session_against("nmrpk", behaviour, Blksize::Honour, 100_000, false, |_| {});
    assert_flashed(&run, &mut double, &data, 20);
    let counts: Vec<u32> = run
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::KeepAliveAnswered { count, .. } => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(counts, (1..=20).collect::<Vec<_>>());
    let router = double.power_off();
    // The router's dedup rule drops every KEEP_ALIVE_ACK after the first: all 20 were sent,
    // one reached its handler, and it closed all the same.
    assert_eq!(router.keep_alive_acks, 1);
}

#[test]
fn session_gets_through_a_link_flap_while_advertising() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = image(dir.path(), 300_000);
    let net = lab("nmrpl");
    let host = drive_session(&net.ns, Arc::clone(&data), |_| {});
    // The router hears an ADVERTISE, then the link goes: its six CONF_REQs are lost, and it
    // listens afresh with ADVERTISE as the last code it heard, so a plain ADVERTISE would be
    // dropped as a repeat.
    let behaviour = Behaviour {
        lost_conf_reqs: 6,
        ..Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100))
    };
    let mut double = Double::power_on(&net.peer, ROUTER_DEV, behaviour, Blksize::Honour);
    assert!(
        double
            .wait_for(DEADLINE, |r| *r == Report::Router(Happening::Answered))
            .is_some()
    );
    ip(&["-n", &net.peer, "link", "set", ROUTER_DEV, "down"]);
    let again = double.wait_for(DEADLINE, |r| {
        matches!(r, Report::Router(Happening::ListeningAgain { .. }))
    });
    assert_eq!(
        again.map(|(_, r)| r),
        Some(Report::Router(Happening::ListeningAgain {
            last_code: Code::ADVERTISE
        })),
        "the router listens again and would drop a plain ADVERTISE"
    );
    ip(&["-n", &net.peer, "link", "set", ROUTER_DEV, "up"]);
    let run = host.join().expect("the driver ran");
    assert_eq!(
        run.links,
        vec![false, true],
        "the session saw the link go and come back"
    );
    // The session's breaker got its ADVERTISE through: the router answered again.
    assert_flashed(&run, &mut double, &data, 1);
    let answers = double
        .seen
        .iter()
        .filter(|(_, r)| *r == Report::Router(Happening::Answered))
        .count();
    assert_eq!(answers, 2);
}

#[test]
fn session_starts_over_when_the_router_is_power_cycled_during_the_upload() {
    if !support::root_and_tools(&[IP]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Large enough that the upload is still running when the power goes.
    let (data, _) = image(dir.path(), 32 * 1024 * 1024);
    let net = lab("nmrpp");
    let (links_tx, links) = mpsc::channel();
    let host = drive_session_watched(&net.ns, Arc::clone(&data), |_| {}, Some(links_tx));
    let behaviour = Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100));
    let mut first = Double::power_on(&net.peer, ROUTER_DEV, behaviour, Blksize::Honour);
    upload_blksize(&mut first);
    // Power off: the link goes, and the driver sees it go.
    ip(&["-n", &net.peer, "link", "set", ROUTER_DEV, "down"]);
    assert_eq!(links.recv_timeout(DEADLINE), Ok(false));
    let cut = first.power_off();
    assert_eq!(cut.state(), State::TftpUploading);
    // Power on: a fresh bootloader, then the link.
    let mut second = Double::power_on(&net.peer, ROUTER_DEV, behaviour, Blksize::Honour);
    ip(&["-n", &net.peer, "link", "set", ROUTER_DEV, "up"]);
    let run = host.join().expect("the driver ran");
    assert!(
        run.events.iter().any(|(_, e)| *e == Event::UploadAbandoned),
        "{:?}",
        run.events
    );
    assert_flashed(&run, &mut second, &data, 1);
}

#[test]
fn session_flashes_a_router_whose_mac_is_all_zeros() {
    if !support::root_and_tools(&[IP, NFT]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = image(dir.path(), 500_000);
    let net = lab("nmrpz");
    accept_zero_mac(&net.peer, ROUTER_DEV)
        .expect("an nftables ingress rule in the router's namespace");
    let host = drive_session(&net.ns, Arc::clone(&data), |_| {});
    let zero = Mac([0; 6]);
    let mut double = Double::power_on(
        &net.peer,
        ROUTER_DEV,
        Behaviour::accepting(zero, 1, Duration::from_millis(100)),
        Blksize::Honour,
    );
    let run = host.join().expect("the driver ran");
    assert!(
        run.events
            .iter()
            .any(|(_, e)| *e == Event::RouterAnswered { mac: zero })
    );
    let neigh = ip(&["-n", &net.ns, "neigh", "show", "dev", PORT]);
    assert!(
        String::from_utf8_lossy(&neigh.stdout).contains("00:00:00:00:00:00 PERMANENT"),
        "the static ARP entry for the all-zero MAC"
    );
    assert_flashed(&run, &mut double, &data, 1);
}

/// Waits until a host advertises on the router's side of the pair in `ns`, so that the
/// router is powered on only once the host is ready, as a technician does it.
fn wait_for_advertise(ns: &str) {
    assert!(
        heard_advertise(ns, ROUTER_DEV, DEADLINE),
        "nobody advertised"
    );
}

/// From power-on to the write request, and from there to the end of the upload.
fn timed(double: &mut Double, data: &[u8]) -> (Duration, Duration) {
    let (started, _) = double
        .wait_for(DEADLINE, |r| matches!(r, Report::UploadStarted { .. }))
        .expect("an upload started");
    let (done, bytes, hash) = upload_done(double);
    assert_eq!((bytes, hash), (data.len() as u64, sha256(data)));
    (started - double.powered_on, done - started)
}

/// The machine's 1, 5 and 15 minute load averages, for the benchmark's figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[test]
fn time_to_flash_rescue_wizard_against_nmrpflash() {
    // Interleaved rounds, medians compared: the test machine is shared, and one round can be
    // slowed tenfold by a neighbour's build.
    const ROUNDS: usize = 9;
    if !support::root_and_tools(&[IP, NMRPFLASH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let size = 8 * 1024 * 1024 + 5;
    let (data, path) = image(dir.path(), size);
    let behaviour = Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100));
    let mut theirs = Vec::new();
    let mut ours = Vec::new();
    let load_before = load_average();
    for _ in 0..ROUNDS {
        // nmrpflash: started first; the router powers on once it advertises.
        let net = pair("nmrpt");
        let mut host = nmrpflash(&net.ns, &path);
        wait_for_advertise(&net.peer);
        let mut double = Double::power_on(&net.peer, ROUTER_DEV, behaviour, Blksize::Honour);
        theirs.push(timed(&mut double, &data));
        complete(&mut double);
        assert!(
            host.wait_deadline(DEADLINE).is_some_and(|s| s.success()),
            "{}",
            host.diagnostics()
        );
        drop(double);
        drop(net);

        // rescue-wizard's session and driver, the same way.
        let net = lab("nmrpu");
        let host = drive_session(&net.ns, Arc::clone(&data), |_| {});
        wait_for_advertise(&net.peer);
        let mut double = Double::power_on(&net.peer, ROUTER_DEV, behaviour, Blksize::Honour);
        ours.push(timed(&mut double, &data));
        let run = host.join().expect("the driver ran");
        assert!(matches!(
            run.outcome,
            Some(SessionEnd::SwitchOffAndOn { .. })
        ));
    }
    let total = |runs: &[(Duration, Duration)]| median(runs.iter().map(|(a, b)| *a + *b).collect());
    let ratio = total(&ours).as_secs_f64() / total(&theirs).as_secs_f64();
    for (who, runs) in [("nmrpflash", &theirs), ("rescue-wizard", &ours)] {
        let rounds: Vec<String> = runs
            .iter()
            .map(|(a, b)| format!("{:.3}+{:.3}", a.as_secs_f64(), b.as_secs_f64()))
            .collect();
        eprintln!(
            "{who}: power-on to write request + write request to end of upload ({size} bytes), s: {}; median total {:.3} s",
            rounds.join(", "),
            total(runs).as_secs_f64()
        );
    }
    eprintln!(
        "ratio rescue-wizard / nmrpflash (median totals): {ratio:.2}; load average before {load_before}, after {}",
        load_average()
    );
    assert!(ratio > 0.0);
}
