//! rescue-wizard against tftpd-hpa and atftpd on loopback, in one run: the same 32 MiB image
//! fetched by real clients from each server, and from the floor (the least work any server can
//! do: `floor.rs`), several rounds each; the peak memory of our server
//! while 8 clients fetch a 64 MiB image at once; and the time from a read request to the first
//! DATA packet. Prints Markdown tables for docs/performance.md.
//!
//! `cargo bench --bench peers` (rounds: `RESCUE_WIZARD_BENCH_ROUNDS`, default 7).

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "floor.rs"]
mod floor;
#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use floor::Floor;
use support::{Daemon, Peer, Server};

const IMAGE_SIZE: usize = 32 * 1024 * 1024;
const BIG_IMAGE_SIZE: usize = 64 * 1024 * 1024;
const CONCURRENT_CLIENTS: usize = 8;
const FIRST_DATA_RUNS: usize = 100;

/// One server under test.
struct Contender {
    name: &'static str,
    addr: SocketAddr,
}

fn main() {
    floor::serve_if_asked();
    let rounds = std::env::var("RESCUE_WIZARD_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(7)
        .max(1);
    let root = tempfile::tempdir().expect("temporary folder");
    let out = tempfile::tempdir().expect("temporary folder");
    let image_name = "image-32m.bin";
    let image = support::make_file(root.path(), image_name, IMAGE_SIZE);
    let tiny_name = "tiny.bin";
    support::make_file(root.path(), tiny_name, 100);

    // Our server with the same limits the peers get: large blocks and windows allowed.
    let ours = Server::start(
        root.path(),
        &["--max-blksize", "65464", "--max-windowsize", "64"],
    );
    let hpa = Daemon::tftpd_hpa::<&str>(root.path(), &[]);
    let atftpd = Daemon::atftpd::<&str>(root.path(), &[]);
    let floor = Floor::start(Command::new(floor::exe()), root.path(), "127.0.0.1:0");
    let servers: Vec<Contender> = [
        ("rescue-wizard", Some(ours.addr)),
        ("tftpd-hpa", hpa.as_ref().map(|d| d.addr)),
        ("atftpd", atftpd.as_ref().map(|d| d.addr)),
        // Not a peer: the ratios to the best peer leave it out, and it gets ratios of its own.
        (floor::FLOOR, Some(floor.addr)),
    ]
    .into_iter()
    .filter_map(|(name, addr)| Some(Contender { name, addr: addr? }))
    .collect();

    let rows = [
        ("tftp-hpa, 512-byte lock-step", Peer::TftpHpa),
        (
            "curl --tftp-blksize 1468",
            Peer::Curl {
                blksize: Some(1468),
                no_options: false,
            },
        ),
        (
            "atftp blksize 1468 windowsize 16",
            Peer::Atftp {
                blksize: Some(1468),
                windowsize: Some(16),
            },
        ),
    ];

    let mut table = String::new();
    let header: Vec<&str> = servers.iter().map(|s| s.name).collect();
    let _ = writeln!(
        table,
        "| client (32 MiB image, median of {rounds}) | {} | ours / best peer | floor / best peer | ours / floor |",
        header.join(" | ")
    );
    let _ = writeln!(table, "|---|{}---|---|---|", "---:|".repeat(servers.len()));
    for (label, peer) in rows {
        let Some(bin) = peer.require() else { continue };
        eprintln!("timing {label} ...");
        let medians = time_fetches(peer, &bin, &servers, image_name, &image, out.path(), rounds);
        let ratio = floor::ratio_cells(
            &header,
            &medians.iter().copied().map(Some).collect::<Vec<_>>(),
        );
        let cells: Vec<String> = medians
            .iter()
            .map(|d| format!("{:.3} s", d.as_secs_f64()))
            .collect();
        let _ = writeln!(table, "| {label} | {} | {ratio} |", cells.join(" | "));
    }

    eprintln!("timing request to first DATA ...");
    let mut latency = String::new();
    let _ = writeln!(
        latency,
        "| request to first DATA (median of {FIRST_DATA_RUNS}, 100-byte file, no options) | {} |",
        header.join(" | ")
    );
    let _ = writeln!(latency, "|---|{}", "---:|".repeat(servers.len()));
    let cells: Vec<String> = servers
        .iter()
        .map(|server| first_data_median(server.addr, tiny_name))
        .map(|d| d.map_or_else(|| "failed".to_owned(), |d| format!("{} µs", d.as_micros())))
        .collect();
    let _ = writeln!(latency, "| time | {} |", cells.join(" | "));

    let status = ours.stop();
    assert!(status.success(), "serve did not stop cleanly: {status}");
    drop(hpa);
    drop(atftpd);
    let mut floor = floor;
    assert!(
        floor.proc.running(),
        "the floor stopped\n{}",
        floor.proc.diagnostics()
    );
    drop(floor);

    eprintln!("measuring peak memory with {CONCURRENT_CLIENTS} concurrent clients ...");
    let memory = peak_memory(root.path(), out.path());

    println!("\n{table}\n{latency}\n{memory}");
}

/// Fetches the image from every server `rounds` times (plus one warm-up), the servers taking
/// turns within each round so that a slow moment of the machine does not land on one server
/// only; returns the median time per server and checks the bytes of every fetch.
fn time_fetches(
    peer: Peer,
    bin: &Path,
    servers: &[Contender],
    name: &str,
    image: &Path,
    out: &Path,
    rounds: usize,
) -> Vec<Duration> {
    let expected = support::sha256_file(image);
    let mut times = vec![Vec::with_capacity(rounds); servers.len()];
    for round in 0..=rounds {
        for (server, times) in servers.iter().zip(&mut times) {
            let local = out.join(format!("{}-{round}.bin", server.name));
            let mut cmd = peer.get_command(bin, server.addr, name, &local);
            let started = Instant::now();
            support::run_ok(&mut cmd, support::LONG_DEADLINE);
            let took = started.elapsed();
            let got = support::sha256_file(&local);
            assert_eq!(
                got,
                expected,
                "{} from {}: wrong bytes",
                peer.label(),
                server.name
            );
            std::fs::remove_file(&local).expect("removing a fetched copy");
            eprintln!(
                "  {:<14} round {round}: {:.3} s{}",
                server.name,
                took.as_secs_f64(),
                if round == 0 { " (warm-up)" } else { "" }
            );
            if round > 0 {
                times.push(took);
            }
        }
    }
    times.iter_mut().map(|times| median(times)).collect()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// Median time from sending a read request (no options) to receiving DATA block 1, each run
/// from a fresh client address (127.0.0.2, .3, ...: rescue-wizard limits requests per source
/// address, 20 a second by default, and a bootloader sends one) and finished properly with the
/// ACK of the single block.
fn first_data_median(server: SocketAddr, name: &str) -> Option<Duration> {
    let mut request = vec![0, 1];
    request.extend_from_slice(name.as_bytes());
    request.push(0);
    request.extend_from_slice(b"octet\0");
    let mut times = Vec::with_capacity(FIRST_DATA_RUNS);
    let mut buf = [0u8; 1024];
    for run in 0..FIRST_DATA_RUNS {
        let source = format!("127.0.{}.{}:0", run / 200, 2 + run % 200);
        let socket = UdpSocket::bind(&source).expect("binding a loopback address");
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("setting a read timeout");
        let started = Instant::now();
        socket.send_to(&request, server).expect("sending a request");
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            eprintln!("  no answer from {server} within 3 s");
            return None;
        };
        let took = started.elapsed();
        if len < 4 || buf[..4] != [0, 3, 0, 1] {
            eprintln!("  {server} answered {:?}, not DATA 1", &buf[..len.min(32)]);
            return None;
        }
        // The file is shorter than a block: this was the last DATA; acknowledge it.
        socket
            .send_to(&[0, 4, 0, 1], from)
            .expect("sending the ACK");
        times.push(took);
    }
    Some(median(&mut times))
}

/// Peak resident memory of our server while 8 clients fetch a 64 MiB image at once.
fn peak_memory(root: &Path, out: &Path) -> String {
    let name = "image-64m.bin";
    let image = support::make_file(root, name, BIG_IMAGE_SIZE);
    let Some(bin) = Peer::Atftp {
        blksize: None,
        windowsize: None,
    }
    .require() else {
        return "peak memory: atftp missing, not measured\n".to_owned();
    };
    let server = Server::start(root, &["--max-windowsize", "64"]);
    let idle = status_field(server.proc.pid(), "VmRSS:");
    let peer = Peer::Atftp {
        blksize: Some(1468),
        windowsize: Some(16),
    };
    let cold = concurrent_fetches(&server, peer, &bin, name, &image, out);
    let cold_peak = status_field(server.proc.pid(), "VmHWM:");
    // Again with the image already read once: clear the peak (clear_refs 5, Linux >= 4.0).
    let warm_reset = std::fs::write(format!("/proc/{}/clear_refs", server.proc.pid()), "5").is_ok();
    let warm = concurrent_fetches(&server, peer, &bin, name, &image, out);
    let warm_peak = if warm_reset {
        status_field(server.proc.pid(), "VmHWM:")
    } else {
        "not measured (cannot write clear_refs)".to_owned()
    };
    let status = server.stop();
    assert!(status.success(), "serve did not stop cleanly: {status}");
    format!(
        "| rescue-wizard serve, {CONCURRENT_CLIENTS} concurrent atftp clients (blksize 1468, \
         windowsize 16), 64 MiB image | value |\n|---|---:|\n| resident before (VmRSS) | {idle} \
         |\n| peak resident, first {CONCURRENT_CLIENTS} fetches at once (VmHWM) | {cold_peak} |\n\
         | peak resident, {CONCURRENT_CLIENTS} more once the image was read (VmHWM after reset) \
         | {warm_peak} |\n| {CONCURRENT_CLIENTS} fetches at once took | {:.2} s, then {:.2} s |\n",
        cold.as_secs_f64(),
        warm.as_secs_f64()
    )
}

/// Starts [`CONCURRENT_CLIENTS`] fetches at once, waits for all, checks their bytes.
fn concurrent_fetches(
    server: &Server,
    peer: Peer,
    bin: &Path,
    name: &str,
    image: &Path,
    out: &Path,
) -> Duration {
    let started = Instant::now();
    let clients: Vec<(PathBuf, support::Proc)> = (0..CONCURRENT_CLIENTS)
        .map(|n| {
            let local = out.join(format!("concurrent-{n}.bin"));
            let mut cmd: Command = peer.get_command(bin, server.addr, name, &local);
            cmd.stdin(std::process::Stdio::null());
            (local, support::Proc::spawn(&mut cmd))
        })
        .collect();
    let expected = support::sha256_file(image);
    for (local, mut proc) in clients {
        let status = proc.wait_deadline(support::LONG_DEADLINE);
        assert!(
            status.is_some_and(|s| s.success()),
            "a concurrent client failed: {status:?}\n{}",
            proc.diagnostics()
        );
        assert_eq!(support::sha256_file(&local), expected, "wrong bytes");
        std::fs::remove_file(&local).expect("removing a fetched copy");
    }
    started.elapsed()
}

/// A field of /proc/PID/status, e.g. `VmHWM:` → "12345 kB".
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .map_or_else(|| "unknown".to_owned(), |v| v.trim().to_owned())
}
