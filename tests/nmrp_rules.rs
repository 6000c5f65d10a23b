//! The NMRP upload's last router-side rules, against the Netgear bootloader double
//! (tests/`nmrp_double`/) whose TFTP server behaves as Broadcom CFE does:
//!
//! - it answers the write request and the first DATA block late (CFE erases flash before it
//!   acknowledges): the upload neither gives up nor floods; the first block waits at least
//!   200 ms before it is sent again (nmrpflash 0.9.21 waited 100 ms and broke the R8000);
//! - it answers from a port of its own (RFC 1350 §4: each side picks its transfer ID): the
//!   upload follows it, and a packet from a third port gets ERROR 5 without disturbing it.
//!
//! The real binary runs as a technician runs it (`rescue-wizard --device netgear-r6220
//! image.chk`) in this computer's namespace, the double behind a veth pair; a control runs the
//! same TFTP leg with a client whose first-block wait is short, to show the counting catches
//! one. Needs root and `ip`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unused_imports)]
mod nmrp_double;
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use nmrp_double::{Behaviour, Blksize, Double, ReplyPort, Report, TftpQuirks, give_mac, in_netns};
use rescue_wizard::engine::RunOutcome;
use rescue_wizard::engine::run::method::nmrp::{CFE_FIRST_BLOCK_MIN, push_config};
use rescue_wizard::net::wire::Mac;
use rescue_wizard::tftp::client::{ClientConfig, push};
use rescue_wizard::tftp::session::Timing;
use support::events::{events, finished, wait_for_router};
use support::{NetnsPair, Proc, ip};

/// The host's side of the pair.
const PORT: &str = "port0";
/// The router's side.
const ROUTER_DEV: &str = "router0";
/// A router MAC in the locally administered range.
const ROUTER_MAC: Mac = Mac([0x02, 0x4e, 0x54, 0x47, 0x52, 0x03]);
/// The router address the R6220's profile gives it, and the host's beside it.
const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(10, 164, 183, 253);
const HOST_ADDR: &str = "10.164.183.252/24";
/// Longest any run may take.
const DEADLINE: Duration = Duration::from_mins(1);
/// How late the CFE-like double answers the write request and the first block: later than
/// nmrpflash 0.9.21's 100 ms, sooner than the 200 ms the upload must wait.
const CFE_LATE: Duration = Duration::from_millis(180);
/// How late it answers the write request: the brief's lower end, leaving the double's thread
/// 100 ms of the 250 ms between requests on a loaded machine.
const CFE_LATE_REQUEST: Duration = Duration::from_millis(150);

fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        support::skip_or_fail("needs root to create network namespaces and raw sockets");
        return false;
    }
    support::require("ip").is_some()
}

/// A namespace pair whose router side carries [`ROUTER_MAC`], and a .chk image for the R6220.
struct Lab {
    net: NetnsPair,
    dir: tempfile::TempDir,
    image: Vec<u8>,
}

impl Lab {
    fn new(tag: &str, size: usize) -> Self {
        let net = NetnsPair::new(tag);
        give_mac(&net.peer, ROUTER_DEV, ROUTER_MAC);
        Self {
            net,
            dir: tempfile::tempdir().unwrap(),
            image: rescue_wizard::image::sample::netgear_chk("R6220", size / 2, size - size / 2),
        }
    }

    /// `rescue-wizard --device netgear-r6220 R6220.chk --interface port0 --yes --json`,
    /// once it waits for the router.
    fn run(&self) -> Proc {
        let path = self.dir.path().join("R6220-V1.1.0.86.chk");
        std::fs::write(&path, &self.image).unwrap();
        let run = Proc::spawn(&mut self.net.netgear_r6220_run(&path));
        wait_for_router(&run, DEADLINE);
        run
    }

    /// Runs the binary against a router that accepts the image, its TFTP server as `quirks`
    /// says; checks the image arrived intact and the run ended flashed. Returns the double
    /// with every report up to the end of the upload read.
    fn flash(&self, quirks: TftpQuirks) -> Double {
        let mut run = self.run();
        let mut double = Double::power_on_with(
            &self.net.peer,
            ROUTER_DEV,
            Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100)),
            Blksize::Honour,
            quirks,
        );
        let (_, bytes, hash) = double.upload_done(DEADLINE);
        assert_eq!(bytes, self.image.len() as u64);
        assert_eq!(
            hash,
            nmrp_double::sha256(&self.image),
            "the image arrived intact"
        );
        let status = run
            .wait_deadline(DEADLINE)
            .unwrap_or_else(|| panic!("the run did not end\n{}", run.diagnostics()));
        assert!(status.success(), "{}", run.diagnostics());
        let events = events(&run.stdout_text());
        let finished = finished(&events);
        assert_eq!(finished.len(), 1, "{}", run.stdout_text());
        assert_eq!(finished[0].0, RunOutcome::Flashed);
        double
    }
}

/// The times DATA 1 reached the double before its ACK went out.
fn first_block_arrivals(double: &Double) -> Vec<Instant> {
    double.times_of(|r| *r == Report::FirstBlockArrived)
}

/// The gaps between consecutive times.
fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn the_run_waits_for_a_router_that_answers_the_first_block_late() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("nmrprule-l", 600_000);
    let double = lab.flash(TftpQuirks {
        request_answer_delay: CFE_LATE_REQUEST,
        first_ack_delay: CFE_LATE,
        ..TftpQuirks::default()
    });
    assert_eq!(
        double.times_of(|r| *r == Report::RequestArrived).len(),
        1,
        "the write request was not repeated within {CFE_LATE_REQUEST:?}: {:?}",
        double.seen
    );
    let arrivals = first_block_arrivals(&double);
    assert_eq!(
        arrivals.len(),
        1,
        "DATA 1 was not resent within {CFE_LATE:?}: gaps {:?}",
        gaps(&arrivals)
    );
    let acked = double.times_of(|r| *r == Report::FirstBlockAcked);
    assert_eq!(acked.len(), 1);
    assert!(
        acked[0] - arrivals[0] >= CFE_LATE,
        "the double held its ACK back"
    );
}

#[test]
fn the_run_resends_the_first_block_no_sooner_than_200_ms() {
    if !can_run() {
        return;
    }
    // A CFE erasing a large sector: its first ACK comes 1.5 s after DATA 1.
    let erasing = Duration::from_millis(1500);
    let lab = Lab::new("nmrprule-e", 300_000);
    let double = lab.flash(TftpQuirks {
        first_ack_delay: erasing,
        ..TftpQuirks::default()
    });
    let arrivals = first_block_arrivals(&double);
    let gaps = gaps(&arrivals);
    // It kept trying (no give-up), no sooner than 200 ms each time, and did not flood.
    assert!(arrivals.len() >= 2, "DATA 1 was never resent: {arrivals:?}");
    assert!(
        gaps.iter().all(|g| *g >= CFE_FIRST_BLOCK_MIN),
        "a resend of DATA 1 came sooner than 200 ms: {gaps:?}"
    );
    let most = erasing.as_millis() / CFE_FIRST_BLOCK_MIN.as_millis() + 1;
    assert!(
        arrivals.len() as u128 <= most,
        "{} sends of DATA 1 in {erasing:?}: a flood",
        arrivals.len()
    );
}

/// Pushes `image` from the host's namespace with `config` to the double's TFTP server alone,
/// holding its first ACK back [`CFE_LATE`]; once the image is in, returns the times DATA 1
/// reached the server before its ACK.
fn push_to_late_server(tag: &str, config: ClientConfig) -> Vec<Instant> {
    let net = NetnsPair::new(tag);
    ip(&["-n", &net.ns, "addr", "add", HOST_ADDR, "dev", PORT]);
    let mut double = Double::tftp_only(
        &net.peer,
        ROUTER_DEV,
        (ROUTER_IP, 24),
        Blksize::Honour,
        TftpQuirks {
            first_ack_delay: CFE_LATE,
            ..TftpQuirks::default()
        },
    );
    let image: Arc<[u8]> = support::content(200_000, 13).into();
    let pushed = Arc::clone(&image);
    let host = in_netns("nmrp-tftp-push", &net.ns, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (events, _keep) = tokio::sync::mpsc::unbounded_channel();
        let server = SocketAddr::from((ROUTER_IP, 69));
        let stop = Arc::new(AtomicBool::new(false));
        runtime
            .block_on(push(
                server,
                "firmware".into(),
                pushed,
                config,
                events,
                stop,
            ))
            .map(|t| t.bytes)
            .map_err(|e| e.to_string())
    });
    let (_, bytes, hash) = double.upload_done(DEADLINE);
    assert_eq!(host.join().expect("the push ran"), Ok(image.len() as u64));
    assert_eq!(
        (bytes, hash),
        (image.len() as u64, nmrp_double::sha256(&image))
    );
    first_block_arrivals(&double)
}

/// The control: the counting above catches a client whose first-block wait is short. The
/// NMRP push's own settings send DATA 1 once to a server that acknowledges it after 180 ms;
/// the same client with a 50 ms first-block wait sends it several times, sooner than 200 ms.
#[test]
fn a_short_first_block_wait_is_caught_and_the_nmrp_push_has_none() {
    if !can_run() {
        return;
    }
    let ours = push_to_late_server("nmrprule-o", push_config());
    assert_eq!(ours.len(), 1, "{:?}", gaps(&ours));
    let mut short = push_config();
    short.timing = Timing {
        initial_rto: Duration::from_millis(50),
        ..short.timing
    };
    let arrivals = push_to_late_server("nmrprule-s", short);
    assert!(arrivals.len() >= 3, "{arrivals:?}");
    assert!(
        gaps(&arrivals)[0] < CFE_FIRST_BLOCK_MIN,
        "the short wait shows"
    );
}

#[test]
fn the_run_follows_the_routers_reply_port() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("nmrprule-p", 500_000);
    let mut double = lab.flash(TftpQuirks {
        reply_port: ReplyPort::Ephemeral,
        intruder_after_block: Some(3),
        ..TftpQuirks::default()
    });
    let ports: Vec<u16> = double
        .seen
        .iter()
        .filter_map(|(_, r)| match r {
            Report::ReplyingFrom(port) => Some(*port),
            _ => None,
        })
        .collect();
    assert_eq!(ports.len(), 1);
    assert_ne!(ports[0], 69, "the double answered from a port of its own");
    // Every DATA went to the new port (the image arrived there whole), none to port 69.
    assert!(
        double
            .times_of(|r| *r == Report::StrayOnListenPort)
            .is_empty(),
        "DATA went to port 69 after the transfer moved: {:?}",
        double.seen
    );
    // RFC 1350 §4: the third port's packet got ERROR 5, and the transfer went on undisturbed
    // (the image arrived intact, the run ended flashed: checked in `flash`).
    let answered = double.wait_for(DEADLINE, |r| matches!(r, Report::IntruderAnswered(_)));
    let Some((_, Report::IntruderAnswered(bytes))) = answered else {
        panic!("the third port got no answer: {:?}", double.seen);
    };
    assert_eq!(&bytes[..4], &[0, 5, 0, 5], "ERROR 5 (unknown transfer ID)");
}
