//! Shared by the integration tests and the benchmark that drive real TFTP peers: finding the
//! peers, making files, comparing them, starting `rescue-wizard serve`, tftpd-hpa and atftpd on
//! loopback, and running a peer under a deadline.
//!
//! Nothing here sleeps to synchronise or uses a fixed port: servers are bound to port 0 and
//! report where they listen (rescue-wizard prints it; tftpd-hpa and atftpd are handed a socket
//! the test bound itself, as inetd would), and every wait has a deadline.

// Each test crate uses a different part of this module.
#![allow(dead_code, clippy::expect_used)]

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};

pub mod events;

/// Longest a server may take to say it is listening.
pub const READY_DEADLINE: Duration = Duration::from_secs(15);
/// Longest one transfer of a small file may take on loopback.
pub const SHORT_DEADLINE: Duration = Duration::from_secs(30);
/// Longest one transfer of a file of tens of MiB may take on loopback (lock-step, debug build).
pub const LONG_DEADLINE: Duration = Duration::from_mins(4);

/// The environment variable naming atftpd's binary (Debian's atftpd and tftpd-hpa conflict, so
/// `.ci/run` unpacks atftpd into a folder of its own and exports this).
pub const ATFTPD_ENV: &str = "RESCUE_WIZARD_ATFTPD";
/// Where `.ci/run` unpacks atftpd when the variable is not set.
pub const ATFTPD_DEFAULT: &str = "/opt/rescue-wizard-ci/atftpd/usr/sbin/atftpd";

/// 512-byte blocks before the block number wraps.
pub const ROLLOVER_EXACT: usize = 65_535 * 512;
/// Past the wrap: 65 537 full blocks and a short one.
pub const ROLLOVER_PAST: usize = 65_537 * 512 + 123;
/// The sizes every peer is tried with: empty, one byte, around one 512-byte block, a few MiB.
pub const EDGE_SIZES: &[usize] = &[0, 1, 511, 512, 513, 3 * 1024 * 1024 + 7];

/// [`EDGE_SIZES`] without the empty file, for curl when it sends options: curl 7.88 asks for
/// `tsize`, and rejects the OACK `tsize 0` that every server (tftpd-hpa, atftpd too) sends for an
/// empty file ("TFTP illegal operation", exit 71). The empty file is fetched with
/// `--tftp-no-options` instead.
pub const CURL_OPTION_SIZES: &[usize] = &[1, 511, 512, 513, 3 * 1024 * 1024 + 7];

/// Whether we run under CI, where a missing tool is a failure and not a skip.
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|value| !value.is_empty())
}

/// Reports a missing prerequisite: a skip (with the reason on stderr) when run by hand, a
/// failure under CI.
pub fn skip_or_fail(why: &str) {
    assert!(
        !ci(),
        "{why}; CI is set, so this is a failure (.ci/run installs it)"
    );
    eprintln!("skipped: {why} (`bash .ci/run` installs every peer the tests use)");
}

/// Looks `name` up in PATH and the sbin folders (daemons live there, and PATH may lack them).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The tool `name`, or `None` after [`skip_or_fail`] when it is not installed.
pub fn require(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        skip_or_fail(&format!("`{name}` is not installed"));
    }
    found
}

/// Whether a test that needs root and `tools` (each with its Debian package) can run here;
/// when it cannot, says why and skips, or fails under CI ([`skip_or_fail`]). The one check
/// every namespace and host-network test starts with.
pub fn root_and_tools(tools: &[(&str, &str)]) -> bool {
    let why = if nix::unistd::geteuid().is_root() {
        tools
            .iter()
            .find(|(tool, _)| which(tool).is_none())
            .map(|(tool, package)| format!("needs `{tool}` (Debian package {package})"))
    } else {
        Some("needs root for its network namespaces".to_owned())
    };
    match why {
        None => true,
        Some(why) => {
            skip_or_fail(&why);
            false
        }
    }
}

/// atftpd's binary: `$RESCUE_WIZARD_ATFTPD`, else `atftpd` on PATH, else where `.ci/run` puts it.
pub fn require_atftpd() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ATFTPD_ENV) {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Some(path);
        }
        skip_or_fail(&format!(
            "{ATFTPD_ENV}={} is not an executable file",
            path.display()
        ));
        return None;
    }
    let found = which("atftpd").or_else(|| {
        let default = PathBuf::from(ATFTPD_DEFAULT);
        is_executable(&default).then_some(default)
    });
    if found.is_none() {
        skip_or_fail(&format!(
            "atftpd is not installed (not on PATH, not at {ATFTPD_DEFAULT}, {ATFTPD_ENV} unset)"
        ));
    }
    found
}

/// `size` bytes of pseudo-random content, the same for the same `seed` on every run.
pub fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut bytes = vec![0; size];
    rng.fill(&mut bytes);
    bytes
}

/// Writes a file of `size` deterministic bytes named `name` into `dir`, and returns its path.
pub fn make_file(dir: &Path, name: &str, size: usize) -> PathBuf {
    let seed = name
        .bytes()
        .fold(size as u64, |acc, b| acc.rotate_left(5) ^ u64::from(b));
    let path = dir.join(name);
    std::fs::write(&path, content(size, seed))
        .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
    path
}

/// The file name the tests use for a file of `size` bytes.
pub fn sized_name(size: usize) -> String {
    format!("image-{size}.bin")
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> String {
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Asserts that `actual` holds exactly the bytes of `expected`; on a difference says where.
pub fn assert_same_file(expected: &Path, actual: &Path, what: &str) {
    let want = std::fs::read(expected)
        .unwrap_or_else(|err| panic!("{what}: reading {}: {err}", expected.display()));
    let got = std::fs::read(actual)
        .unwrap_or_else(|err| panic!("{what}: reading {}: {err}", actual.display()));
    if want != got {
        let first = want.iter().zip(&got).position(|(a, b)| a != b);
        panic!(
            "{what}: {} differs from {}: {} bytes expected, {} received, first difference at \
             {}; sha256 {} vs {}",
            actual.display(),
            expected.display(),
            want.len(),
            got.len(),
            first.map_or_else(|| "the end of the shorter".to_owned(), |at| at.to_string()),
            hex(&Sha256::digest(&want)),
            hex(&Sha256::digest(&got)),
        );
    }
}

/// A child process whose exit can be awaited with a deadline, and whose output is collected.
///
/// A thread owns the `Child` and reports its exit on a channel; stdout lines are forwarded on
/// another channel as they arrive (readiness and summary lines), and both streams are kept for
/// diagnostics.
pub struct Proc {
    /// What was run, for messages.
    pub label: String,
    pid: Pid,
    exited: Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr captured (stdin is left as the caller set it, or
    /// closed).
    pub fn spawn(cmd: &mut Command) -> Proc {
        let label = describe(cmd);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("starting `{label}`: {err}"));
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (line_tx, lines) = mpsc::channel();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            let sink = Arc::clone(&stdout);
            readers.push(thread::spawn(move || {
                let mut reader = BufReader::new(out);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    if let Ok(mut all) = sink.lock() {
                        all.extend_from_slice(&line);
                    }
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    let _ = line_tx.send(text);
                    line.clear();
                }
            }));
        }
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            readers.push(thread::spawn(move || {
                let mut chunk = [0; 8192];
                while let Ok(n @ 1..) = err.read(&mut chunk) {
                    if let Ok(mut all) = sink.lock() {
                        all.extend_from_slice(&chunk[..n]);
                    }
                }
            }));
        }
        let (exit_tx, exited) = mpsc::channel();
        thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = exit_tx.send(status);
            }
        });
        Proc {
            label,
            pid,
            exited,
            status: None,
            lines,
            stdout,
            stderr,
            readers,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    /// Waits up to `deadline` for the process to exit; `None` if it is still running.
    pub fn wait_deadline(&mut self, deadline: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            match self.exited.recv_timeout(deadline) {
                Ok(status) => {
                    self.status = Some(status);
                    // The last lines (the outcome, the report's path) may still be in the
                    // pipe when the exit is seen: read them before anyone looks.
                    self.drain(Duration::from_secs(5));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("lost track of `{}` (wait failed)", self.label)
                }
            }
        }
        self.status
    }

    /// Whether the process is still running (without waiting).
    pub fn running(&mut self) -> bool {
        self.wait_deadline(Duration::ZERO).is_none()
    }

    /// Sends `signal` if the process has not been reaped yet.
    pub fn signal(&mut self, signal: Signal) {
        if self.running() {
            let _ = kill(self.pid, signal);
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.wait_deadline(READY_DEADLINE);
    }

    /// The next stdout line, waiting up to `deadline`; `None` on timeout or end of output.
    pub fn next_line(&self, deadline: Duration) -> Option<String> {
        self.lines.recv_timeout(deadline).ok()
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout_text(&self) -> String {
        self.stdout
            .lock()
            .map(|all| String::from_utf8_lossy(&all).into_owned())
            .unwrap_or_default()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .map(|all| String::from_utf8_lossy(&all).into_owned())
            .unwrap_or_default()
    }

    /// Stdout and stderr, for a failure message.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- stdout of `{}`:\n{}\n--- stderr:\n{}",
            self.label,
            tail(&self.stdout_text()),
            tail(&self.stderr_text())
        )
    }

    /// Waits for the output readers to reach the end of the streams (after the exit).
    fn drain(&mut self, deadline: Duration) {
        let until = Instant::now() + deadline;
        for reader in self.readers.drain(..) {
            // A grandchild may hold a pipe open; do not wait for it past the deadline.
            let (done_tx, done) = mpsc::channel();
            thread::spawn(move || {
                let _ = reader.join();
                let _ = done_tx.send(());
            });
            let _ = done.recv_timeout(until.saturating_duration_since(Instant::now()));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines of a long text (peer traces can be megabytes).
fn tail(text: &str) -> String {
    const KEEP: usize = 60;
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(KEEP);
    let mut out = String::new();
    if skip > 0 {
        let _ = writeln!(out, "[{skip} earlier lines left out]");
    }
    out.push_str(&lines[skip..].join("\n"));
    out
}

/// A command line as a shell would show it.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|part| {
            let text = part.to_string_lossy();
            if text.is_empty() || text.contains(' ') {
                format!("'{text}'")
            } else {
                text.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits for a child already started (its pipes still attached or taken), with a deadline;
/// kills it and fails if it overstays.
pub fn wait_child(child: Child, deadline: Duration) -> Output {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits i32"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(deadline) else {
        let _ = kill(pid, Signal::SIGKILL);
        panic!("the command did not finish within {deadline:?}, killed");
    };
    output.expect("waiting for the child")
}

/// A child's output stream, line by line as it comes (readiness lines, summaries).
pub fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs `cmd` with stdin closed; kills it and fails if it is still running after `deadline`.
pub fn run(cmd: &mut Command, deadline: Duration) -> Output {
    let mut proc = Proc::spawn(cmd.stdin(Stdio::null()));
    let Some(status) = proc.wait_deadline(deadline) else {
        proc.kill();
        proc.drain(READY_DEADLINE);
        panic!(
            "`{}` did not finish within {deadline:?}, killed\n{}",
            proc.label,
            proc.diagnostics()
        );
    };
    proc.drain(READY_DEADLINE);
    let take = |buf: &Arc<Mutex<Vec<u8>>>| buf.lock().map(|b| b.clone()).unwrap_or_default();
    Output {
        status,
        stdout: take(&proc.stdout),
        stderr: take(&proc.stderr),
    }
}

/// Runs `cmd` under `deadline` and fails, quoting its output, unless it exits 0.
pub fn run_ok(cmd: &mut Command, deadline: Duration) -> Output {
    let label = describe(cmd);
    let output = run(cmd, deadline);
    assert!(
        output.status.success(),
        "`{label}` failed: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stdout)),
        tail(&String::from_utf8_lossy(&output.stderr)),
    );
    output
}

/// The rescue-wizard binary cargo built for this test or benchmark.
pub fn rescue_wizard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rescue-wizard"))
}

/// A running `rescue-wizard serve`, bound to port 0 on loopback.
pub struct Server {
    /// The process; its stdout lines after the first are one summary per finished transfer.
    pub proc: Proc,
    /// Where it listens, from its readiness line.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `rescue-wizard serve PATH --bind 127.0.0.1 --port 0 EXTRA...` and waits for its
    /// `listening on ADDR` line.
    pub fn start<S: AsRef<OsStr>>(path: &Path, extra: &[S]) -> Server {
        Self::start_on("127.0.0.1", path, extra)
    }

    /// Like [`Server::start`], bound to `bind` (a loopback address).
    pub fn start_on<S: AsRef<OsStr>>(bind: &str, path: &Path, extra: &[S]) -> Server {
        let mut cmd = rescue_wizard();
        cmd.arg("serve")
            .arg(path)
            .args(["--bind", bind, "--port", "0"])
            .args(extra)
            .stdin(Stdio::null());
        let mut proc = Proc::spawn(&mut cmd);
        let Some(first) = proc.next_line(READY_DEADLINE) else {
            proc.kill();
            panic!(
                "`{}` printed no `listening on` line within {READY_DEADLINE:?}\n{}",
                proc.label,
                proc.diagnostics()
            );
        };
        let addr = first
            .strip_prefix("listening on ")
            .and_then(|rest| rest.trim().parse::<SocketAddr>().ok());
        let Some(addr) = addr else {
            proc.kill();
            panic!(
                "`{}` first printed {first:?}, not `listening on ADDR:PORT`\n{}",
                proc.label,
                proc.diagnostics()
            );
        };
        assert_ne!(addr.port(), 0, "the server reported port 0: {first:?}");
        Server { proc, addr }
    }

    /// Waits up to `deadline` for the next summary line (one per finished transfer).
    pub fn summary(&self, deadline: Duration) -> String {
        self.proc.next_line(deadline).unwrap_or_else(|| {
            panic!(
                "no transfer summary line from `{}` within {deadline:?}\n{}",
                self.proc.label,
                self.proc.diagnostics()
            )
        })
    }

    /// Stops the server with SIGTERM and returns how it exited.
    pub fn stop(mut self) -> ExitStatus {
        self.proc.signal(Signal::SIGTERM);
        let status = self.proc.wait_deadline(READY_DEADLINE);
        status.unwrap_or_else(|| {
            panic!(
                "`{}` still running {READY_DEADLINE:?} after SIGTERM\n{}",
                self.proc.label,
                self.proc.diagnostics()
            )
        })
    }
}

/// Which daemon a [`Daemon`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonKind {
    /// Debian's tftpd-hpa (`in.tftpd`).
    TftpdHpa,
    /// atftpd, unpacked by `.ci/run`.
    Atftpd,
}

/// A TFTP daemon started the way inetd starts it: on a UDP socket this test bound to
/// 127.0.0.1:0 and handed over as its stdin, so the port is known before it runs and requests
/// sent early simply queue on the socket.
pub struct Daemon {
    /// The process.
    pub proc: Proc,
    /// Where it answers.
    pub addr: SocketAddr,
    /// Which daemon it is.
    pub kind: DaemonKind,
    finished: usize,
}

impl Daemon {
    /// Starts tftpd-hpa serving (and, with `-c` in `extra`, accepting uploads into) `root`.
    pub fn tftpd_hpa<S: AsRef<OsStr>>(root: &Path, extra: &[S]) -> Option<Daemon> {
        let bin = require("in.tftpd")?;
        let mut cmd = Command::new(bin);
        // -u root: the test's temporary folders belong to root and are private.
        cmd.args(["-u", "root", "-t", "600"])
            .args(extra)
            .arg("-s")
            .arg(root);
        Some(Self::start(cmd, DaemonKind::TftpdHpa))
    }

    /// Starts atftpd serving (and accepting uploads into) `root`.
    pub fn atftpd<S: AsRef<OsStr>>(root: &Path, extra: &[S]) -> Option<Daemon> {
        let bin = require_atftpd()?;
        let mut cmd = Command::new(bin);
        cmd.args(["--user", "root", "--group", "root", "--logfile", "-"])
            .args(["--tftpd-timeout", "600"])
            .args(extra)
            .arg(root);
        Some(Self::start(cmd, DaemonKind::Atftpd))
    }

    /// Starts atftpd logging every transfer's end to stdout, so that
    /// [`Daemon::wait_transfers`] can tell when an upload is on disk.
    pub fn atftpd_logged<S: AsRef<OsStr>>(root: &Path, extra: &[S]) -> Option<Daemon> {
        let mut args: Vec<OsString> = vec!["--verbose=7".into()];
        args.extend(extra.iter().map(|arg| arg.as_ref().to_owned()));
        Self::atftpd(root, &args)
    }

    fn start(mut cmd: Command, kind: DaemonKind) -> Daemon {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket on 127.0.0.1:0");
        let addr = socket
            .local_addr()
            .expect("local address of a bound socket");
        cmd.stdin(Stdio::from(OwnedFd::from(socket)));
        let proc = Proc::spawn(&mut cmd);
        Daemon {
            proc,
            addr,
            kind,
            finished: 0,
        }
    }

    /// Waits until `total` transfers have ended since the start, as far as the daemon's files are
    /// concerned: tftpd-hpa closes an uploaded file before it sends the final ACK, so a client
    /// that succeeded is enough; atftpd (started with [`Daemon::atftpd_logged`]) may close it
    /// just after, and logs "Server thread exiting" once it has.
    pub fn wait_transfers(&mut self, total: usize, deadline: Duration) {
        if self.kind == DaemonKind::TftpdHpa {
            return;
        }
        let until = Instant::now() + deadline;
        while self.finished < total {
            let left = until.saturating_duration_since(Instant::now());
            let Some(line) = self.proc.next_line(left) else {
                panic!(
                    "atftpd logged {} of {total} finished transfers within {deadline:?} (was it \
                     started with Daemon::atftpd_logged?)\n{}",
                    self.finished,
                    self.proc.diagnostics()
                );
            };
            if line.contains("Server thread exiting") {
                self.finished += 1;
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // tftpd-hpa forks a child per transfer; those exit when their transfer ends.
        self.proc.kill();
    }
}

/// A real TFTP client, with the options it is told to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// tftp-hpa's `tftp` (Debian's 5.2 sends no options: 512-byte lock-step).
    TftpHpa,
    /// `atftp`, optionally asking for blksize and windowsize.
    Atftp {
        /// `--option "blksize N"`.
        blksize: Option<u16>,
        /// `--option "windowsize N"`.
        windowsize: Option<u16>,
    },
    /// `curl tftp://`.
    Curl {
        /// `--tftp-blksize N`.
        blksize: Option<u16>,
        /// `--tftp-no-options`.
        no_options: bool,
    },
    /// `busybox tftp`.
    Busybox {
        /// `-b N`.
        blksize: Option<u16>,
    },
}

impl Peer {
    /// The executable this peer needs.
    pub fn tool(self) -> &'static str {
        match self {
            Peer::TftpHpa => "tftp",
            Peer::Atftp { .. } => "atftp",
            Peer::Curl { .. } => "curl",
            Peer::Busybox { .. } => "busybox",
        }
    }

    /// The peer's binary, or `None` after [`skip_or_fail`].
    pub fn require(self) -> Option<PathBuf> {
        require(self.tool())
    }

    /// A short name for messages and tables.
    pub fn label(self) -> String {
        let opt = |name: &str, value: Option<u16>| value.map(|v| format!(" {name} {v}"));
        match self {
            Peer::TftpHpa => "tftp-hpa".to_owned(),
            Peer::Atftp {
                blksize,
                windowsize,
            } => format!(
                "atftp{}{}",
                opt("blksize", blksize).unwrap_or_default(),
                opt("windowsize", windowsize).unwrap_or_default()
            ),
            Peer::Curl {
                blksize,
                no_options,
            } => format!(
                "curl{}{}",
                opt("--tftp-blksize", blksize).unwrap_or_default(),
                if no_options { " --tftp-no-options" } else { "" }
            ),
            Peer::Busybox { blksize } => {
                format!("busybox tftp{}", opt("-b", blksize).unwrap_or_default())
            }
        }
    }

    /// The command that fetches `remote` from `server` into `local`.
    pub fn get_command(
        self,
        bin: &Path,
        server: SocketAddr,
        remote: &str,
        local: &Path,
    ) -> Command {
        self.command(bin, server, Direction::Get, remote, local)
    }

    /// The command that uploads `local` to `server` as `remote`.
    pub fn put_command(
        self,
        bin: &Path,
        server: SocketAddr,
        local: &Path,
        remote: &str,
    ) -> Command {
        self.command(bin, server, Direction::Put, remote, local)
    }

    /// Each peer's command line; the direction changes one word or flag of it.
    fn command(
        self,
        bin: &Path,
        server: SocketAddr,
        direction: Direction,
        remote: &str,
        local: &Path,
    ) -> Command {
        let put = direction == Direction::Put;
        let host = server.ip().to_string();
        let port = server.port().to_string();
        let mut cmd = Command::new(bin);
        match self {
            Peer::TftpHpa => {
                cmd.args(["-m", "binary", &host, &port, "-c"]);
                if put {
                    cmd.arg("put").arg(local).arg(remote);
                } else {
                    cmd.args(["get", remote]).arg(local);
                }
            }
            Peer::Atftp {
                blksize,
                windowsize,
            } => {
                atftp_options(&mut cmd, blksize, windowsize);
                cmd.args([if put { "-p" } else { "-g" }, "-r", remote, "-l"])
                    .arg(local)
                    .args([&host, &port]);
            }
            Peer::Curl {
                blksize,
                no_options,
            } => {
                curl_options(&mut cmd, blksize, no_options);
                cmd.arg(if put { "-T" } else { "-o" })
                    .arg(local)
                    .arg(tftp_url(server, remote));
            }
            Peer::Busybox { blksize } => {
                cmd.args(["tftp", if put { "-p" } else { "-g" }, "-r", remote, "-l"])
                    .arg(local);
                if let Some(size) = blksize {
                    cmd.args(["-b", &size.to_string()]);
                }
                cmd.args([&host, &port]);
            }
        }
        cmd
    }
}

/// Which way a peer's transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// A read request: the peer fetches.
    Get,
    /// A write request: the peer uploads.
    Put,
}

fn atftp_options(cmd: &mut Command, blksize: Option<u16>, windowsize: Option<u16>) {
    if let Some(size) = blksize {
        cmd.args(["--option", &format!("blksize {size}")]);
    }
    if let Some(size) = windowsize {
        cmd.args(["--option", &format!("windowsize {size}")]);
    }
}

fn curl_options(cmd: &mut Command, blksize: Option<u16>, no_options: bool) {
    cmd.args(["--silent", "--show-error", "--max-time", "300"]);
    if let Some(size) = blksize {
        cmd.args(["--tftp-blksize", &size.to_string()]);
    }
    if no_options {
        cmd.arg("--tftp-no-options");
    }
}

fn tftp_url(server: SocketAddr, remote: &str) -> OsString {
    let host = match server {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    };
    format!("tftp://{host}:{}/{remote}", server.port()).into()
}

/// What atftp's `--trace` output (stderr) shows of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtftpTrace {
    /// DATA packets received, duplicates included.
    pub data: usize,
    /// ACK packets sent.
    pub acks: usize,
    /// The largest DATA payload received.
    pub largest: usize,
}

impl AtftpTrace {
    /// Counts the packets in atftp's trace lines, e.g.
    /// `received 1. DATA <block: 7, size 512>, ...` and `sent ACK <block: 7>`.
    pub fn parse(trace: &str) -> AtftpTrace {
        let mut seen = AtftpTrace::default();
        for line in trace.lines() {
            if line.starts_with("received") && line.contains(" DATA <block: ") {
                seen.data += 1;
                let size = line
                    .split("size ")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|digits| digits.parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("no size in atftp trace line {line:?}"));
                seen.largest = seen.largest.max(size);
            } else if line.starts_with("sent ACK") {
                seen.acks += 1;
            }
        }
        seen
    }
}

/// How long a transfer of `size` bytes may take before the peer is killed.
pub fn deadline_for(size: usize) -> Duration {
    if size > 8 * 1024 * 1024 {
        LONG_DEADLINE
    } else {
        SHORT_DEADLINE
    }
}

/// Fetches `remote` from `server` with `peer` into `local`, under a deadline that suits `size`,
/// failing with the peer's output unless it exits 0.
pub fn fetch(peer: Peer, bin: &Path, server: SocketAddr, remote: &str, local: &Path, size: usize) {
    let mut cmd = peer.get_command(bin, server, remote, local);
    run_ok(&mut cmd, deadline_for(size));
}

/// The peak resident set of a running process in KiB (`VmHWM` of /proc/PID/status).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

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
}

impl NetnsPair {
    /// A fresh pair named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let ns = format!("{tag}-{}-{n}", std::process::id());
        let peer = format!("{ns}-p");
        ip(&["netns", "add", &ns]);
        let pair = Self {
            ns,
            peer: peer.clone(),
            state: tempfile::tempdir().expect("a state folder"),
        };
        ip(&["netns", "add", &peer]);
        ip(&[
            "link", "add", "port0", "netns", &pair.ns, "type", "veth", "peer", "name", "router0",
            "netns", &pair.peer,
        ]);
        for (ns, dev) in [(&pair.ns, "port0"), (&pair.peer, "router0")] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }
}

impl NetnsPair {
    /// `rescue-wizard` in this computer's namespace, with the pair's state folder.
    pub fn rescue_wizard(&self) -> Command {
        rescue_wizard_in(&self.ns, self.state.path())
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

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.ns, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("listing a folder")
        .map(|e| {
            e.expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Runs `body` on a thread of its own in a private mount namespace (mounts made there, and
/// by the processes it starts, are not seen by the machine, and go with the namespace), after
/// `prepare` (the mounts the test needs) succeeded. `None` after saying why, when this
/// machine cannot: a skip by hand, a failure under CI ([`skip_or_fail`]).
pub fn in_private_mount_namespace<T: Send>(
    prepare: impl FnOnce() -> Result<T, String> + Send,
    body: impl FnOnce(&T) + Send,
) -> Option<()> {
    use nix::mount::MsFlags;
    if !nix::unistd::geteuid().is_root() {
        skip_or_fail("needs root for a private mount namespace");
        return None;
    }
    thread::scope(|scope| {
        scope
            .spawn(|| {
                // This thread's own mount namespace, nothing propagated back to the machine's.
                let private =
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).and_then(|()| {
                        nix::mount::mount(
                            None::<&str>,
                            "/",
                            None::<&str>,
                            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                            None::<&str>,
                        )
                    });
                if let Err(err) = private {
                    skip_or_fail(&format!("cannot make a private mount namespace: {err}"));
                    return None;
                }
                match prepare() {
                    Ok(prepared) => {
                        body(&prepared);
                        Some(())
                    }
                    Err(why) => {
                        skip_or_fail(&why);
                        None
                    }
                }
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
