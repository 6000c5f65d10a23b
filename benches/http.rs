//! rescue-wizard's web failsafe upload against curl, to the same page doubles
//! (tests/`http_doubles`/, proven faithful in `tests/http.rs`) on the router's address behind a
//! veth pair, in one run: the same image (8 MiB and 16 MiB of random bytes) to the u-boot_mod
//! page and to the MTK failsafe, rounds interleaved. rescue-wizard runs as a technician
//! runs it (`rescue-wizard --device ID IMAGE --yes`, the whole recovery, ending after the
//! transfer); curl as the guides give it (`curl -F firmware=@IMAGE http://192.168.1.1/`, and
//! for the MTK page `/upload`, then `/result`, as its own page asks them), once as it is
//! and once without its `Expect: 100-continue` wait.
//!
//! Each upload is timed on the router's side, the same span for every uploader: from the
//! arrival of the SYN of its first connection to the double's `Outcome::Taken` (the image cut
//! out of the request, answered, the connection closed). A round counts only when that
//! outcome's SHA-256 and size are the image's and the uploader exited with success; any other
//! round is a failure, told with what the double and the uploader said, never timed. Prints
//! Markdown tables for docs/performance.md.
//!
//! `cargo bench --bench http` (rounds: `RESCUE_WIZARD_BENCH_ROUNDS`, default 5; needs root,
//! `ip` and `curl`). Each round makes its own pair of network namespaces and removes it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/http_doubles/mod.rs"]
mod http_doubles;
#[path = "../tests/nmrp_double/mod.rs"]
#[allow(unused_imports)]
mod nmrp_double;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use http_doubles::{Behaviour, Double, Flavour, Outcome};
use support::{NetnsPair, Proc};

/// The laptop's side of the pair.
const PORT: &str = "port0";
/// The router's side.
const ROUTER_DEV: &str = "router0";
/// Where both profiles' pages are (`router:` of each).
const PAGE: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// The laptop's address both profiles give; curl's user sets it by hand.
const HOST: &str = "192.168.1.2/24";
/// The images: sizes of ath79 and filogic factory images.
const SIZES: [usize; 2] = [8 * 1024 * 1024, 16 * 1024 * 1024];
/// Longest one upload may take.
const DEADLINE: Duration = Duration::from_mins(2);
/// Longest the double may take to record what it has after the uploader ended.
const SETTLE: Duration = Duration::from_secs(10);

/// A page flavour, with the device whose profile uploads to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    UbootMod,
    Mediatek,
}

impl Page {
    fn label(self) -> &'static str {
        match self {
            Page::UbootMod => "u-boot_mod",
            Page::Mediatek => "MediaTek failsafe",
        }
    }

    /// The built-in profile of a device with this page.
    fn device(self) -> &'static str {
        match self {
            Page::UbootMod => "glinet-b1300",
            Page::Mediatek => "glinet-gl-mt3000-bl-mt798x",
        }
    }

    fn flavour(self) -> Flavour {
        match self {
            Page::UbootMod => Flavour::UbootMod,
            Page::Mediatek => Flavour::Mediatek,
        }
    }

    /// The requests one upload makes: the POST, and for the MTK page `/result`, which writes.
    fn requests(self) -> usize {
        match self {
            Page::UbootMod => 1,
            Page::Mediatek => 2,
        }
    }
}

/// An uploader under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Uploader {
    RescueWizard,
    /// curl as the guides give it.
    Curl,
    /// curl with `-H 'Expect:'`: no `Expect: 100-continue`, so no second waited for a
    /// `100 Continue` that these pages never send.
    CurlNoExpect,
}

impl Uploader {
    const ALL: [Uploader; 3] = [
        Uploader::RescueWizard,
        Uploader::Curl,
        Uploader::CurlNoExpect,
    ];

    fn label(self) -> &'static str {
        match self {
            Uploader::RescueWizard => "rescue-wizard --device",
            Uploader::Curl => "curl -F",
            Uploader::CurlNoExpect => "curl -F -H 'Expect:'",
        }
    }

    /// The uploader's command in `net`'s laptop namespace, sending `image` to `page`.
    fn command(self, net: &NetnsPair, page: Page, image: &Path) -> Command {
        if self == Uploader::RescueWizard {
            let mut cmd = net.rescue_wizard();
            cmd.args(["--device", page.device()]).arg(image).args([
                "--interface",
                PORT,
                "--yes",
                "--json",
                "--timeout",
                "60",
                "--exit-after-transfer",
            ]);
            return cmd;
        }
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &net.ns, "curl"]);
        // -w: curl's own time per request, printed beside ours as a cross-check.
        let quiet = ["-s", "-S", "-o", "/dev/null", "-w", "%{time_total}\n"];
        cmd.args(quiet).args(["-m", "120"]);
        if self == Uploader::CurlNoExpect {
            cmd.args(["-H", "Expect:"]);
        }
        cmd.arg("-F").arg(format!("firmware=@{}", image.display()));
        match page {
            Page::UbootMod => {
                cmd.arg(format!("http://{PAGE}/"));
            }
            Page::Mediatek => {
                // The failsafe's page posts to /upload, shows the size and MD5, then asks
                // /result, which writes (bl-mt798x failsafe/failsafe.c).
                cmd.arg(format!("http://{PAGE}/upload"))
                    .arg("--next")
                    .args(quiet)
                    .args(["-m", "120"])
                    .arg(format!("http://{PAGE}/result"));
            }
        }
        cmd
    }
}

/// The image one row sends.
struct Image {
    path: PathBuf,
    len: u64,
    sha256: String,
}

/// What one round came to.
enum Verdict {
    /// The image arrived intact: the span timed, and curl's own total when it gave one.
    Delivered { span: Duration, own: Option<f64> },
    /// Anything else, in the double's and the uploader's words.
    Failed(String),
}

fn round(uploader: Uploader, page: Page, image: &Image) -> Verdict {
    let net = NetnsPair::new("httpbench");
    let page_addr = format!("{PAGE}/24");
    support::ip(&[
        "-n", &net.peer, "addr", "add", &page_addr, "dev", ROUTER_DEV,
    ]);
    if uploader != Uploader::RescueWizard {
        support::ip(&["-n", &net.ns, "addr", "add", HOST, "dev", PORT]);
    }
    let (double, listening) = Double::start(
        &net.peer,
        ROUTER_DEV,
        PAGE,
        page.flavour(),
        Behaviour::default(),
    );
    listening
        .recv_timeout(DEADLINE)
        .expect("the page double listens");
    let mut run = Proc::spawn(&mut uploader.command(&net, page, &image.path));
    let status = run.wait_deadline(DEADLINE);
    if status.is_none() {
        run.kill();
    }
    double.wait_outcomes(page.requests(), SETTLE);
    let timed = double.timed_outcomes();
    let expected = Outcome::Taken {
        sha256: image.sha256.clone(),
        size: image.len,
    };
    let taken = timed.iter().find(|(o, _)| *o == expected);
    let start = timed.first().and_then(|(_, t)| t.syn);
    match (taken, start, status) {
        (Some((_, end)), Some(start), Some(status)) if status.success() => Verdict::Delivered {
            span: end.at.saturating_duration_since(start),
            own: own_time(uploader, &run.stdout_text()),
        },
        _ => Verdict::Failed(failure(status, &timed, &run)),
    }
}

/// curl's `time_total` summed over its requests.
fn own_time(uploader: Uploader, stdout: &str) -> Option<f64> {
    if uploader == Uploader::RescueWizard {
        return None;
    }
    stdout
        .lines()
        .map(|l| l.trim().parse::<f64>().ok())
        .sum::<Option<f64>>()
}

/// A failed round, told: the uploader's exit, the double's outcomes, the uploader's last
/// words on stderr.
fn failure(
    status: Option<ExitStatus>,
    timed: &[(Outcome, http_doubles::Timing)],
    run: &Proc,
) -> String {
    let exit = status.map_or_else(
        || "still running at the deadline (killed)".to_owned(),
        |s| {
            s.code()
                .map_or_else(|| s.to_string(), |c| format!("exit {c}"))
        },
    );
    let outcomes: Vec<String> = timed
        .iter()
        .map(|(o, _)| match o {
            Outcome::Taken { sha256, size } => {
                format!("Taken {size} bytes, SHA-256 {}…", &sha256[..12])
            }
            other => format!("{other:?}"),
        })
        .collect();
    let said = run.stderr_text();
    let said = said
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!("{exit}; the page: {}; said: {said}", outcomes.join(", "))
}

/// The machine's 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let Ok(line) = std::fs::read_to_string("/proc/loadavg") else {
        return "unknown".into();
    };
    line.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rounds of one uploader on one row.
#[derive(Default)]
struct Tally {
    spans: Vec<Duration>,
    failures: Vec<(usize, String)>,
}

impl Tally {
    /// Minimum, median and maximum of the delivered rounds.
    fn spread(&self) -> Option<[Duration; 3]> {
        let mut spans = self.spans.clone();
        spans.sort();
        let last = spans.len().checked_sub(1)?;
        Some([spans[0], spans[spans.len() / 2], spans[last]])
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn mib(len: u64) -> String {
    format!("{} MiB", len / (1024 * 1024))
}

/// Rounds per row: `RESCUE_WIZARD_BENCH_ROUNDS`, at least 1, default 5.
fn rounds() -> usize {
    let asked = std::env::var("RESCUE_WIZARD_BENCH_ROUNDS").ok();
    asked
        .and_then(|v| v.parse().ok())
        .map_or(5, |n: usize| n.max(1))
}

fn main() {
    if !support::root_and_tools(&[("ip", "iproute2"), ("curl", "curl")]) {
        return;
    }
    let rounds = rounds();
    let dirs: Vec<tempfile::TempDir> = SIZES
        .iter()
        .map(|_| tempfile::tempdir().expect("a temporary folder"))
        .collect();
    let images: Vec<Image> = SIZES
        .iter()
        .zip(&dirs)
        .map(|(&size, dir)| {
            let data = support::content(size, 0x0b1e_55ed ^ size as u64);
            let path = dir.path().join("openwrt-factory.img");
            std::fs::write(&path, &data).expect("the image");
            Image {
                path,
                len: size as u64,
                sha256: rescue_wizard::tftp::server::hex_sha256(&data),
            }
        })
        .collect();
    let pages = [Page::UbootMod, Page::Mediatek];
    let load_before = load_average();
    // results[page][image][uploader]
    let mut results: Vec<Vec<Vec<Tally>>> = pages
        .iter()
        .map(|_| {
            images
                .iter()
                .map(|_| Uploader::ALL.iter().map(|_| Tally::default()).collect())
                .collect()
        })
        .collect();
    for n in 0..rounds {
        for (p, &page) in pages.iter().enumerate() {
            for (i, image) in images.iter().enumerate() {
                // Who goes first turns each round, so a slow moment of the shared machine does
                // not fall on one uploader only.
                for k in 0..Uploader::ALL.len() {
                    let u = (n + k) % Uploader::ALL.len();
                    let uploader = Uploader::ALL[u];
                    let verdict = round(uploader, page, image);
                    let tally = &mut results[p][i][u];
                    let line = match verdict {
                        Verdict::Delivered { span, own } => {
                            tally.spans.push(span);
                            let own = own.map_or(String::new(), |t| format!(" (curl: {t:.3} s)"));
                            format!("SYN to taken {}{own}", secs(span))
                        }
                        Verdict::Failed(why) => {
                            tally.failures.push((n + 1, why.clone()));
                            format!("FAILED: {why}")
                        }
                    };
                    eprintln!(
                        "round {}: {} {}: {}: {line}",
                        n + 1,
                        page.label(),
                        mib(image.len),
                        uploader.label()
                    );
                }
            }
        }
    }
    let load_after = load_average();
    println!("{}", table(&pages, &images, &results, rounds));
    println!(
        "Rounds: {rounds}, interleaved. Load average before {load_before}, after {load_after}."
    );
    let failures = failure_table(&pages, &images, &results);
    if !failures.is_empty() {
        println!("\n{failures}");
    }
}

/// The Markdown table: one line per page, image and uploader.
fn table(pages: &[Page], images: &[Image], results: &[Vec<Vec<Tally>>], rounds: usize) -> String {
    let mut out = String::from(
        "| page | image | uploader | delivered | SYN to taken: min | median | max | rescue-wizard / this (medians) |\n|---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for (p, page) in pages.iter().enumerate() {
        for (i, image) in images.iter().enumerate() {
            let ours = results[p][i][0].spread().map(|[_, median, _]| median);
            for (u, uploader) in Uploader::ALL.iter().enumerate() {
                let tally = &results[p][i][u];
                let (times, ratio) = match tally.spread() {
                    Some([min, median, max]) => (
                        format!("{} | {} | {}", secs(min), secs(median), secs(max)),
                        match (u, ours) {
                            (0, _) => "—".to_owned(),
                            (_, Some(ours)) => {
                                format!("**{:.2}**", ours.as_secs_f64() / median.as_secs_f64())
                            }
                            (_, None) => "n/a (ours never delivered)".to_owned(),
                        },
                    ),
                    None => ("— | — | —".to_owned(), "n/a (never delivered)".to_owned()),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} of {rounds} | {times} | {ratio} |",
                    page.label(),
                    mib(image.len),
                    uploader.label(),
                    tally.spans.len()
                );
            }
        }
    }
    out
}

/// The failed rounds, each way of failing once with the rounds it happened in.
fn failure_table(pages: &[Page], images: &[Image], results: &[Vec<Vec<Tally>>]) -> String {
    let mut out = String::new();
    for (p, page) in pages.iter().enumerate() {
        for (i, image) in images.iter().enumerate() {
            for (u, uploader) in Uploader::ALL.iter().enumerate() {
                let mut ways: Vec<(&str, Vec<String>)> = Vec::new();
                for (n, why) in &results[p][i][u].failures {
                    match ways.iter_mut().find(|(w, _)| w == why) {
                        Some((_, rounds)) => rounds.push(n.to_string()),
                        None => ways.push((why, vec![n.to_string()])),
                    }
                }
                for (why, rounds) in ways {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} |",
                        page.label(),
                        mib(image.len),
                        uploader.label(),
                        rounds.join(", "),
                        why.replace('|', "\\|")
                    );
                }
            }
        }
    }
    if out.is_empty() {
        return out;
    }
    format!(
        "| page | image | uploader | failed rounds | what happened |\n|---|---|---|---|---|\n{out}"
    )
}
