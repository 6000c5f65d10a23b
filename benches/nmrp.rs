//! rescue-wizard against Debian's nmrpflash on the same Netgear bootloader double
//! (tests/`nmrp_double`/, proven faithful by nmrpflash in `tests/nmrp_wire.rs`), in one run:
//! rounds interleaved, each host started first and the router powered on once it advertises,
//! as every guide says; each timed from the router's power-on to the end of the upload (the
//! double's TFTP server holding the whole image). Prints a Markdown table for
//! docs/performance.md.
//!
//! `cargo bench --bench nmrp` (rounds: `RESCUE_WIZARD_BENCH_ROUNDS`, default 5; needs root,
//! `ip` and `nmrpflash`). Each round makes its own pair of network namespaces and removes it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/nmrp_double/mod.rs"]
#[allow(unused_imports)]
mod nmrp_double;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nmrp_double::{Behaviour, Blksize, Double, Happening, Report, give_mac, heard_advertise};
use rescue_wizard::net::wire::Mac;
use support::{NetnsPair, Proc};

/// The router's side of the pair.
const ROUTER_DEV: &str = "router0";
/// The host's side.
const PORT: &str = "port0";
/// A router MAC in the locally administered range.
const ROUTER_MAC: Mac = Mac([0x02, 0x4e, 0x54, 0x47, 0x52, 0x04]);
/// About the size of an R6220 firmware image.
const IMAGE_SIZE: usize = 8 * 1024 * 1024 + 5;
/// Longest one host may take for one round.
const DEADLINE: Duration = Duration::from_mins(1);

/// The two hosts under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Nmrpflash,
    RescueWizard,
}

impl Host {
    fn label(self) -> &'static str {
        match self {
            Host::Nmrpflash => "nmrpflash",
            Host::RescueWizard => "rescue-wizard --device netgear-r6220",
        }
    }

    /// The host's command in `net`'s computer namespace, flashing `image`.
    fn command(self, net: &NetnsPair, image: &Path) -> Command {
        match self {
            Host::Nmrpflash => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", &net.ns, "nmrpflash", "-i", PORT, "-f"])
                    .arg(image)
                    // Debian's 0.9.14 reads -T as milliseconds: wait up to 60 s between
                    // keep-alives.
                    .args(["-T", "60000"])
                    .stdin(Stdio::null());
                cmd
            }
            Host::RescueWizard => net.netgear_r6220_run(image),
        }
    }
}

/// One round: from the router's power-on to its write request, and to the end of the upload.
struct Round {
    to_request: Duration,
    to_done: Duration,
}

fn round(host: Host, image: &Path, data: &[u8]) -> Round {
    let net = NetnsPair::new("nmrpbench");
    give_mac(&net.peer, ROUTER_DEV, ROUTER_MAC);
    let mut run = Proc::spawn(&mut host.command(&net, image));
    assert!(
        heard_advertise(&net.peer, ROUTER_DEV, DEADLINE),
        "{} never advertised\n{}",
        host.label(),
        run.diagnostics()
    );
    let mut double = Double::power_on(
        &net.peer,
        ROUTER_DEV,
        Behaviour::accepting(ROUTER_MAC, 1, Duration::from_millis(100)),
        Blksize::Honour,
    );
    let (requested, _) = double
        .wait_for(DEADLINE, |r| matches!(r, Report::UploadStarted { .. }))
        .unwrap_or_else(|| panic!("no upload from {}\n{}", host.label(), run.diagnostics()));
    let (done, bytes, hash) = double.upload_done(DEADLINE);
    assert_eq!(
        (bytes, hash),
        (data.len() as u64, nmrp_double::sha256(data)),
        "the image {} pushed",
        host.label()
    );
    assert!(
        double
            .wait_for(DEADLINE, |r| *r == Report::Router(Happening::Complete))
            .is_some(),
        "the router never completed with {}",
        host.label()
    );
    let status = run.wait_deadline(DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "{} failed\n{}",
        host.label(),
        run.diagnostics()
    );
    Round {
        to_request: requested - double.powered_on,
        to_done: done - double.powered_on,
    }
}

/// The machine's 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// Minimum, median and maximum.
fn spread(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2], times[times.len() - 1])
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        support::skip_or_fail("the NMRP benchmark needs root for network namespaces");
        return;
    }
    if support::require("ip").is_none() || support::require("nmrpflash").is_none() {
        return;
    }
    let rounds = std::env::var("RESCUE_WIZARD_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(5)
        .max(1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = rescue_wizard::image::sample::netgear_chk(
        "R6220",
        IMAGE_SIZE / 2,
        IMAGE_SIZE - IMAGE_SIZE / 2,
    );
    let image = dir.path().join("R6220-V1.1.0.86.chk");
    std::fs::write(&image, &data).expect("the image");
    let load_before = load_average();
    let mut results: Vec<(Host, Vec<Round>)> = vec![
        (Host::Nmrpflash, Vec::new()),
        (Host::RescueWizard, Vec::new()),
    ];
    for n in 0..rounds {
        // Who goes first alternates, so a slow moment of the shared machine does not fall on
        // one host only.
        let order = if n % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let host = results[i].0;
            let timed = round(host, &image, &data);
            eprintln!(
                "round {}: {}: write request at {}, upload done at {}",
                n + 1,
                host.label(),
                seconds(timed.to_request),
                seconds(timed.to_done)
            );
            results[i].1.push(timed);
        }
    }
    let load_after = load_average();
    println!(
        "| host ({} bytes, {rounds} interleaved rounds) | power-on to write request, median | write request to end of upload, median | power-on to end of upload: min | median | max |",
        data.len()
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut medians = Vec::new();
    for (host, runs) in &results {
        let (_, request, _) = spread(runs.iter().map(|r| r.to_request).collect());
        let (_, upload, _) = spread(
            runs.iter()
                .map(|r| r.to_done.saturating_sub(r.to_request))
                .collect(),
        );
        let (min, median, max) = spread(runs.iter().map(|r| r.to_done).collect());
        medians.push(median);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            host.label(),
            seconds(request),
            seconds(upload),
            seconds(min),
            seconds(median),
            seconds(max)
        );
    }
    let ratio = medians[1].as_secs_f64() / medians[0].as_secs_f64();
    println!();
    println!(
        "Ratio rescue-wizard / nmrpflash (medians): **{ratio:.2}** (goal: at most 0.9). Load average before {load_before}, after {load_after}."
    );
}
