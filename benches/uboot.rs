//! rescue-wizard against tftpd-hpa and atftpd, serving a real bootloader: Debian's U-Boot in
//! `qemu-system-arm -M virt`, its NIC on a tap in a network namespace made (and removed) by
//! this benchmark, exactly as `tests/uboot.rs` wires it. The three servers, and the floor (the
//! least work any server can do: `floor.rs`), listen at once on port 69 of four addresses of
//! that tap; U-Boot's `serverip` picks one, so the rounds interleave them on one boot. Each `tftpboot` is timed on the console (from the command
//! to U-Boot's `Bytes transferred = N`) and checked with U-Boot's own `crc32`.
//!
//! Then one more fetch per server under `tcpdump` on the tap gives the turnaround per block
//! (an ACK's arrival to the next DATA's departure, the kernel's capture timestamps), and the
//! CPU time our server used, idle and per fetch, comes from `/proc/PID/stat`.
//!
//! `cargo bench --bench uboot` (rounds: `RESCUE_WIZARD_BENCH_ROUNDS`, default 5). Needs root,
//! `qemu-system-arm`, `u-boot-qemu`, `in.tftpd`, atftpd and `tcpdump` (`bash .ci/run`). Prints
//! Markdown tables for docs/performance.md.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "floor.rs"]
mod floor;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "../tests/uboot_rig/mod.rs"]
mod uboot_rig;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::Proc;
use uboot_rig::Console;
use uboot_rig::tap::TapNamespace;

const BOARD_IP: &str = "10.77.0.2";
/// 2 MiB into RAM (which starts at `0x4000_0000` on `virt`), far below where U-Boot relocates.
const LOAD_ADDR: &str = "0x40200000";
const MIB: usize = 1 << 20;
/// QEMU start and U-Boot's own start, under emulation, on a busy machine.
const BOOT_DEADLINE: Duration = Duration::from_mins(2);
const COMMAND_DEADLINE: Duration = Duration::from_mins(1);
/// One `tftpboot` of 40 MiB in 512-byte blocks takes some 10 s here; U-Boot's own patience
/// (10 timeouts of 5 s, then it starts again) fits well inside.
const FETCH_DEADLINE: Duration = Duration::from_mins(4);
/// How long the idle server is watched.
const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// `/proc/PID/stat` counts CPU time in clock ticks of 1/100 s (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// A one-byte file the daemons are asked for until they answer.
const READY_FILE: &str = "ready.bin";

/// One way of fetching: image size, U-Boot's `tftpblocksize` and `tftpwindowsize`.
struct Row {
    label: &'static str,
    file: &'static str,
    size: usize,
    blksize: u16,
    window: u16,
}

const ROWS: [Row; 3] = [
    Row {
        label: "8 MiB, blksize 1468, lock-step",
        file: "image-8m.bin",
        size: 8 * MIB,
        blksize: 1468,
        window: 1,
    },
    Row {
        label: "40 MiB, blksize 512, lock-step (81 920 blocks, past the rollover)",
        file: "image-40m.bin",
        size: 40 * MIB,
        blksize: 512,
        window: 1,
    },
    Row {
        label: "8 MiB, blksize 1468, windowsize 16",
        file: "image-8m.bin",
        size: 8 * MIB,
        blksize: 1468,
        window: 16,
    },
];

/// One server under test, listening on port 69 of its own address of the tap.
struct Contender {
    name: &'static str,
    ip: &'static str,
    proc: Proc,
}

impl Contender {
    /// CPU time the process used so far (its threads, and children it has reaped), seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.proc.pid())
    }
}

fn main() {
    floor::serve_if_asked();
    let rounds = std::env::var("RESCUE_WIZARD_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(5)
        .max(1);
    if !uboot_rig::rig_available(&["tcpdump", "in.tftpd"]) {
        return;
    }
    let Some(atftpd) = support::require_atftpd() else {
        return;
    };
    let root = tempfile::tempdir().expect("temporary folder");
    support::make_file(root.path(), READY_FILE, 1);
    let mut crcs = Vec::new();
    for row in &ROWS {
        let path = root.path().join(row.file);
        if !path.exists() {
            support::make_file(root.path(), row.file, row.size);
        }
        crcs.push(crc32_file(&path));
    }

    let load_before = uptime();
    let ns = TapNamespace::new(
        "rw-bench",
        &[
            "10.77.0.1/24",
            "10.77.0.3/24",
            "10.77.0.4/24",
            "10.77.0.5/24",
        ],
    );
    let servers = [
        start_ours(&ns, "10.77.0.1", root.path()),
        start_tftpd_hpa(&ns, "10.77.0.3", root.path()),
        start_atftpd(&ns, "10.77.0.4", root.path(), &atftpd),
        start_floor(&ns, "10.77.0.5", root.path()),
    ];
    eprintln!("booting U-Boot ...");
    let idle_from = Instant::now();
    let idle_before: Vec<f64> = servers.iter().map(Contender::cpu_seconds).collect();
    let (qemu, mut console) =
        uboot_rig::boot_to_prompt(&ns.name, BOOT_DEADLINE).unwrap_or_else(|why| panic!("{why}"));
    let _qemu = KillOnDrop(qemu);
    // The idle figure is the CPU the servers use while nobody asks them anything: U-Boot's
    // boot fills part of the window; the rest is waited out, since time passing is what is
    // measured here.
    std::thread::sleep(IDLE_WINDOW.saturating_sub(idle_from.elapsed()));
    let idle_secs = idle_from.elapsed().as_secs_f64();
    let idle: Vec<f64> = servers
        .iter()
        .zip(&idle_before)
        .map(|(s, before)| (s.cpu_seconds() - before) / idle_secs)
        .collect();
    command(&mut console, &format!("setenv ipaddr {BOARD_IP}"));

    let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
    let mut report = Report::new(&names, rounds, idle_secs, &idle);
    for (row, crc) in ROWS.iter().zip(&crcs) {
        command(
            &mut console,
            &format!("setenv tftpblocksize {}", row.blksize),
        );
        // Deleting the variable is not enough: this U-Boot keeps the last window it used.
        command(
            &mut console,
            &format!("setenv tftpwindowsize {}", row.window),
        );
        eprintln!("timing {} ...", row.label);
        let mut timed = time_row(&mut console, &servers, row, *crc, rounds);
        report.timed(row, &mut timed);
        for server in &servers {
            eprintln!(
                "  capturing {} for the per-block turnaround ...",
                server.name
            );
            let mut blocks = captured_fetch(&ns, &mut console, server, row, *crc);
            report.captured(row, server, &mut blocks);
        }
    }
    drop(servers);
    println!(
        "\n{}\nLoad when measured: {load_before} (at the start), {} (at the end)\n\n{}\n{}\n{}",
        report.table,
        uptime(),
        report.cpu,
        report.turnaround,
        report.timeline
    );
}

/// Fetches the row's image from every server `rounds` times (plus one warm-up), the servers
/// taking turns within each round; returns each server's times and the share of each fetch's
/// wall time its process spent on a CPU.
fn time_row(
    console: &mut Console,
    servers: &[Contender],
    row: &Row,
    crc: u32,
    rounds: usize,
) -> Timed {
    let mut times = vec![Vec::with_capacity(rounds); servers.len()];
    let mut cpu_shares = vec![Vec::with_capacity(rounds); servers.len()];
    let mut failures = vec![0; servers.len()];
    for round in 0..=rounds {
        // Each round starts with another server, so that none always follows the same one.
        for turn in 0..servers.len() {
            let at = (round + turn) % servers.len();
            let server = &servers[at];
            let cpu_before = server.cpu_seconds();
            let Some(took) = fetch(console, server, row, crc) else {
                failures[at] += 1;
                continue;
            };
            let share = (server.cpu_seconds() - cpu_before) / took.as_secs_f64();
            eprintln!(
                "  {:<14} round {round}: {:.3} s, server CPU {}{}",
                server.name,
                took.as_secs_f64(),
                percent(share),
                if round == 0 { " (warm-up)" } else { "" }
            );
            if round > 0 {
                times[at].push(took);
                cpu_shares[at].push(share);
            }
        }
    }
    Timed {
        times,
        cpu_shares,
        failures,
    }
}

/// One row's figures, per server.
struct Timed {
    times: Vec<Vec<Duration>>,
    cpu_shares: Vec<Vec<f64>>,
    /// Fetches U-Boot gave up on.
    failures: Vec<usize>,
}

/// The Markdown tables printed at the end.
struct Report {
    /// The contenders, ours first (for the ratios).
    names: Vec<String>,
    table: String,
    cpu: String,
    turnaround: String,
    timeline: String,
}

impl Report {
    fn new(names: &[&str], rounds: usize, idle_secs: f64, idle: &[f64]) -> Self {
        let mut report = Self {
            names: names.iter().map(|&name| name.to_owned()).collect(),
            table: String::new(),
            cpu: String::new(),
            turnaround: String::new(),
            timeline: String::new(),
        };
        let _ = writeln!(
            report.timeline,
            "| one captured fetch, as a whole | request → first answer (ms) | request → last ACK (ms) | DATA repeated | longest DATA gap (ms) |"
        );
        let _ = writeln!(report.timeline, "|---|---:|---:|---:|---:|");
        let _ = writeln!(
            report.table,
            "| U-Boot `tftpboot` (min / median / max of {rounds}, s) | {} | ours / best peer (medians) | floor / best peer | ours / floor |",
            names.join(" | ")
        );
        let _ = writeln!(report.table, "|---|{}", "---:|".repeat(names.len() + 3));
        let _ = writeln!(
            report.cpu,
            "| CPU time of the server process (median share of each fetch's wall time) | {} |",
            names.join(" | ")
        );
        let _ = writeln!(report.cpu, "|---|{}", "---:|".repeat(names.len()));
        let idle_cells: Vec<String> = idle.iter().map(|share| percent(*share)).collect();
        let _ = writeln!(
            report.cpu,
            "| idle, waiting for a request ({idle_secs:.1} s) | {} |",
            idle_cells.join(" | ")
        );
        let _ = writeln!(
            report.turnaround,
            "| per block, one captured fetch (µs: median / 90th percentile) | server: ACK in → next DATA out | U-Boot: DATA in → ACK out | blocks |"
        );
        let _ = writeln!(report.turnaround, "|---|---:|---:|---:|");
        report
    }

    fn timed(&mut self, row: &Row, timed: &mut Timed) {
        let medians: Vec<Option<Duration>> = timed.times.iter_mut().map(|t| median(t)).collect();
        let cells: Vec<String> = timed
            .times
            .iter()
            .zip(&timed.failures)
            .map(|(t, failed)| {
                let failed = if *failed > 0 {
                    format!(" ({failed} failed)")
                } else {
                    String::new()
                };
                if t.is_empty() {
                    return format!("none{failed}");
                }
                format!(
                    "{:.3} / **{:.3}** / {:.3}{failed}",
                    t[0].as_secs_f64(),
                    t[t.len() / 2].as_secs_f64(),
                    t[t.len() - 1].as_secs_f64()
                )
            })
            .collect();
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let ratio = floor::ratio_cells(&names, &medians);
        let line = format!("| {} | {} | {ratio} |", row.label, cells.join(" | "));
        eprintln!("{line}");
        let _ = writeln!(self.table, "{line}");
        let cpu_cells: Vec<String> = timed
            .cpu_shares
            .iter_mut()
            .map(|shares| {
                shares.sort_by(f64::total_cmp);
                shares
                    .get(shares.len() / 2)
                    .map_or_else(|| "n/a".to_owned(), |share| percent(*share))
            })
            .collect();
        let _ = writeln!(self.cpu, "| {} | {} |", row.label, cpu_cells.join(" | "));
    }

    fn captured(&mut self, row: &Row, server: &Contender, blocks: &mut Blocks) {
        let line = format!(
            "| {}, {} | {} | {} | {} |",
            row.label,
            server.name,
            blocks.server.summary(),
            blocks.board.summary(),
            blocks.server.0.len()
        );
        eprintln!("{line}");
        let _ = writeln!(self.turnaround, "{line}");
        let line = format!(
            "| {}, {} | {} |",
            row.label,
            server.name,
            blocks.timeline.cells()
        );
        eprintln!("{line}");
        let _ = writeln!(self.timeline, "{line}");
    }
}

/// `rescue-wizard serve FOLDER` on `ip:69` in the namespace, with the same limits the
/// loopback benchmark gives it; waits for its `listening on` line.
fn start_ours(ns: &TapNamespace, ip: &'static str, root: &Path) -> Contender {
    let mut cmd = ns.exec(env!("CARGO_BIN_EXE_rescue-wizard"));
    cmd.arg("serve")
        .arg(root)
        .args(["--bind", ip, "--port", "69"])
        .args(["--max-blksize", "65464", "--max-windowsize", "64"])
        .stdin(Stdio::null());
    let proc = Proc::spawn(&mut cmd);
    let first = proc.next_line(support::READY_DEADLINE);
    assert_eq!(
        first.as_deref(),
        Some(format!("listening on {ip}:69").as_str()),
        "rescue-wizard serve did not start\n{}",
        proc.diagnostics()
    );
    Contender {
        name: "rescue-wizard",
        ip,
        proc,
    }
}

/// The floor on `ip:69` in the namespace (`floor.rs`), waiting for the address it prints.
fn start_floor(ns: &TapNamespace, ip: &'static str, root: &Path) -> Contender {
    let bind = format!("{ip}:69");
    let floor = floor::Floor::start(ns.exec(floor::exe()), root, &bind);
    assert_eq!(floor.addr.to_string(), bind, "the floor bound elsewhere");
    Contender {
        name: floor::FLOOR,
        ip,
        proc: floor.proc,
    }
}

/// tftpd-hpa listening on its own (`in.tftpd -L -a IP:69 -s`) inside the namespace. Started
/// the way inetd does it (a socket bound here handed over as its standard input), U-Boot got
/// its OACK and then timed out ten times waiting for DATA 1 (a client on the namespace's
/// loopback was served); standalone it serves U-Boot, so that is how it is measured.
fn start_tftpd_hpa(ns: &TapNamespace, ip: &'static str, root: &Path) -> Contender {
    let mut cmd = ns.exec("in.tftpd");
    cmd.args(["-L", "-u", "root", "-a", &format!("{ip}:69"), "-s"])
        .arg(root)
        .stdin(Stdio::null());
    standalone(ns, "tftpd-hpa", ip, &mut cmd)
}

/// atftpd listening on its own (`--daemon --no-fork`) inside the namespace, as tftpd-hpa.
fn start_atftpd(ns: &TapNamespace, ip: &'static str, root: &Path, bin: &Path) -> Contender {
    let mut cmd = ns.exec(bin);
    cmd.args([
        "--daemon",
        "--no-fork",
        "--bind-address",
        ip,
        "--port",
        "69",
    ])
    .args(["--user", "root", "--group", "root", "--logfile", "-"])
    .arg(root)
    .stdin(Stdio::null());
    standalone(ns, "atftpd", ip, &mut cmd)
}

/// Starts a daemon that binds its own socket, and waits until it answers: a read request for
/// [`READY_FILE`] sent from inside the namespace, asked again every 100 ms, until DATA 1 comes
/// back (then acknowledged, ending that transfer), within [`support::READY_DEADLINE`].
fn standalone(
    ns: &TapNamespace,
    name: &'static str,
    ip: &'static str,
    cmd: &mut Command,
) -> Contender {
    let proc = Proc::spawn(cmd);
    let server = SocketAddr::new(ip.parse().unwrap(), 69);
    let socket = ns
        .bind_udp(SocketAddr::new(ip.parse().unwrap(), 0))
        .unwrap_or_else(|err| panic!("binding a socket in {}: {err}", ns.name));
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut request = vec![0, 1];
    request.extend_from_slice(READY_FILE.as_bytes());
    request.extend_from_slice(b"\0octet\0");
    let deadline = Instant::now() + support::READY_DEADLINE;
    let mut buf = [0u8; 600];
    while Instant::now() < deadline {
        socket.send_to(&request, server).unwrap();
        if let Ok((len, from)) = socket.recv_from(&mut buf)
            && len >= 4
            && buf[..4] == [0, 3, 0, 1]
        {
            let _ = socket.send_to(&[0, 4, 0, 1], from);
            return Contender { name, ip, proc };
        }
    }
    panic!("{name} did not answer on {server}\n{}", proc.diagnostics());
}

/// Runs one U-Boot command and returns what it printed, up to the next prompt.
fn command(console: &mut Console, line: &str) -> String {
    console.send(line);
    console
        .expect("\n=> ", COMMAND_DEADLINE)
        .unwrap_or_else(|why| panic!("{line}: {why}\n{}", transcript_tail(console)))
}

/// `tftpboot` from `server`, timed from the command to U-Boot's prompt after `Bytes
/// transferred = N` (the prompt follows within a line of console output), then U-Boot's
/// `crc32` of what it loaded checked against the image's. `None` when U-Boot gave up (ten of
/// its own timeouts): that is a finding, reported with both sides' output, and the run goes on.
fn fetch(console: &mut Console, server: &Contender, row: &Row, crc: u32) -> Option<Duration> {
    command(console, &format!("setenv serverip {}", server.ip));
    console.send(&format!("tftpboot {LOAD_ADDR} {}", row.file));
    let started = Instant::now();
    let output = console.expect("\n=> ", FETCH_DEADLINE);
    let took = started.elapsed();
    let output = output.unwrap_or_else(|why| {
        panic!(
            "{} from {}: {why}\n{}\n{}",
            row.label,
            server.name,
            transcript_tail(console),
            server.proc.diagnostics()
        )
    });
    let Some(loaded) = output.split("Bytes transferred = ").nth(1) else {
        eprintln!(
            "  FAILED: {} from {} after {:.1} s\n{}\n{}",
            row.label,
            server.name,
            took.as_secs_f64(),
            transcript_tail(console),
            server.proc.diagnostics()
        );
        return None;
    };
    let bytes: usize = loaded
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        bytes, row.size,
        "{} from {}: U-Boot loaded {bytes} bytes\n{output}",
        row.label, server.name
    );
    // U-Boot prints `T ` on its progress line each time its own timer fires.
    let timeouts = output
        .split("Loading:")
        .nth(1)
        .map_or(0, |progress| progress.matches("T ").count());
    if timeouts > 0 {
        eprintln!(
            "  note: U-Boot timed out {timeouts} times fetching from {}",
            server.name
        );
    }
    let printed = command(console, &format!("crc32 {LOAD_ADDR} ${{filesize}}"));
    let got = printed
        .split("==> ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| u32::from_str_radix(s, 16).ok());
    assert_eq!(
        got,
        Some(crc),
        "{} from {}: U-Boot's crc32 printed {printed:?}, the image's is {crc:08x}",
        row.label,
        server.name
    );
    Some(took)
}

/// Kills the emulator when the benchmark ends, also by a panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Durations in microseconds, for percentiles.
struct Micros(Vec<u64>);

impl Micros {
    fn summary(&mut self) -> String {
        if self.0.is_empty() {
            return "n/a".to_owned();
        }
        self.0.sort_unstable();
        let at = |q: usize| self.0[(self.0.len() - 1) * q / 100];
        format!("{} / {}", at(50), at(90))
    }
}

/// The per-block times of one captured fetch.
struct Blocks {
    /// An ACK's arrival on the tap to the departure of the next new DATA block.
    server: Micros,
    /// A DATA block's departure to the arrival of its ACK: the emulated board's share.
    board: Micros,
    /// The fetch as a whole, on the capture's clock.
    timeline: Timeline,
}

/// Where a captured fetch's time went, start to end (ns on the capture's clock).
#[derive(Default)]
struct Timeline {
    /// The board's read request.
    request: Option<u64>,
    /// The server's first answer to it (OACK or DATA 1).
    answer: Option<u64>,
    /// The last ACK from the board.
    last_ack: Option<u64>,
    /// DATA blocks sent that were not newer than the newest sent before (resends, repeats).
    repeats: usize,
    /// The longest silence between two DATA from the server.
    longest_gap: u64,
}

impl Timeline {
    /// `request → first answer`, `request → last ACK` (ms), repeated DATA, longest DATA gap.
    fn cells(&self) -> String {
        let ms = |from: Option<u64>, to: Option<u64>| match (from, to) {
            (Some(from), Some(to)) => format!("{:.2}", to.saturating_sub(from) as f64 / 1e6),
            _ => "n/a".to_owned(),
        };
        format!(
            "{} | {} | {} | {:.2}",
            ms(self.request, self.answer),
            ms(self.request, self.last_ack),
            self.repeats,
            self.longest_gap as f64 / 1e6
        )
    }
}

/// Fetches once more with `tcpdump` on the tap (nanosecond timestamps, headers only), and
/// measures each block's turnaround from the capture.
fn captured_fetch(
    ns: &TapNamespace,
    console: &mut Console,
    server: &Contender,
    row: &Row,
    crc: u32,
) -> Blocks {
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("fetch.pcap");
    let mut child = ns
        .exec("tcpdump")
        .args(["-i", "tap0", "-n", "-p", "-s", "64", "-U"])
        .args(["--time-stamp-precision", "nano", "-w"])
        .arg(&file)
        .args(["udp", "and", "host", server.ip])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting tcpdump");
    let said = support::lines(child.stderr.take().unwrap());
    // tcpdump says "listening on tap0" once its capture is open.
    let ready = said
        .recv_timeout(support::READY_DEADLINE)
        .is_ok_and(|line| line.contains("listening on"));
    if !ready {
        let _ = child.kill();
        panic!("tcpdump did not start capturing on tap0");
    }
    let _ = fetch(console, server, row, crc);
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = kill(pid, Signal::SIGINT);
    support::wait_child(child, support::READY_DEADLINE);
    let pcap = std::fs::read(&file).expect("reading the capture");
    turnarounds(&pcap, BOARD_IP.parse().unwrap())
}

/// Reads a pcap file (nanosecond or microsecond timestamps, Ethernet frames) and pairs each
/// ACK from the board with the next DATA of a new block, and each DATA with its ACK.
fn turnarounds(pcap: &[u8], board: Ipv4Addr) -> Blocks {
    let mut blocks = Blocks {
        server: Micros(Vec::new()),
        board: Micros(Vec::new()),
        timeline: Timeline::default(),
    };
    let Some(magic) = pcap.get(..4) else {
        return blocks;
    };
    let nanos = match u32::from_le_bytes(magic.try_into().unwrap()) {
        0xa1b2_3c4d => true,
        0xa1b2_c3d4 => false,
        other => panic!("not a little-endian pcap file (magic {other:08x})"),
    };
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut at = 24;
    // The last ACK heard (block, ns) and the newest DATA sent (block, ns).
    let mut last_ack: Option<(u16, u64)> = None;
    let mut last_data: Option<(u16, u64)> = None;
    // The newest DATA block sent, and when the last DATA was.
    let mut newest: Option<u16> = None;
    let mut data_at: Option<u64> = None;
    while at + 16 <= pcap.len() {
        let secs = u64::from(le32(pcap, at));
        let frac = u64::from(le32(pcap, at + 4));
        let len = le32(pcap, at + 8) as usize;
        let frame = &pcap[at + 16..(at + 16 + len).min(pcap.len())];
        at += 16 + len;
        let t = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        let Some((from, opcode, block)) = tftp_header(frame) else {
            continue;
        };
        let line = &mut blocks.timeline;
        match opcode {
            1 if from == board => {
                line.request.get_or_insert(t);
            }
            3 | 6 if from != board => {
                line.answer.get_or_insert(t);
            }
            _ => {}
        }
        if opcode == 3 && from != board {
            if newest.is_some_and(|n| block.wrapping_sub(n) == 0 || block.wrapping_sub(n) > 0x8000)
            {
                line.repeats += 1;
            } else {
                newest = Some(block);
            }
            if let Some(before) = data_at {
                line.longest_gap = line.longest_gap.max(t - before);
            }
            data_at = Some(t);
        }
        if opcode == 4 && from == board {
            line.last_ack = Some(t);
        }
        match opcode {
            4 if from == board => {
                if let Some((sent, t_sent)) = last_data
                    && sent == block
                {
                    blocks.board.0.push((t - t_sent) / 1000);
                    last_data = None;
                }
                last_ack = Some((block, t));
            }
            3 if from != board => {
                if let Some((acked, t_acked)) = last_ack
                    && block == acked.wrapping_add(1)
                {
                    blocks.server.0.push((t - t_acked) / 1000);
                    last_ack = None;
                }
                last_data = Some((block, t));
            }
            _ => {}
        }
    }
    blocks
}

/// The IPv4 source, TFTP opcode and block number of an Ethernet frame carrying TFTP.
fn tftp_header(frame: &[u8]) -> Option<(Ipv4Addr, u16, u16)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let header_len = usize::from(ip.first()? & 0x0f) * 4;
    if *ip.get(9)? != 17 {
        return None;
    }
    let from = Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
    let tftp = ip.get(header_len + 8..header_len + 12)?;
    Some((
        from,
        u16::from_be_bytes([tftp[0], tftp[1]]),
        u16::from_be_bytes([tftp[2], tftp[3]]),
    ))
}

fn median(times: &mut [Duration]) -> Option<Duration> {
    times.sort_unstable();
    times.get(times.len() / 2).copied()
}

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// utime + stime + cutime + cstime of a process, in seconds (`proc(5)`, fields 14 to 17).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    ticks as f64 / TICKS_PER_SECOND
}

fn crc32_file(path: &Path) -> u32 {
    crc32fast::hash(&std::fs::read(path).expect("reading an image"))
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |load| {
            let fields: Vec<&str> = load.split_whitespace().take(3).collect();
            format!("load average {}", fields.join(", "))
        },
    )
}

fn transcript_tail(console: &Console) -> String {
    let all = console
        .transcript
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let start = all.len().saturating_sub(3000);
    let start = (start..all.len())
        .find(|&i| all.is_char_boundary(i))
        .unwrap_or(all.len());
    format!("--- U-Boot console (end) ---\n{}", &all[start..])
}
