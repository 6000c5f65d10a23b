//! The TFTP peers on loopback: `rescue-wizard serve` ([`Server`]), tftpd-hpa and atftpd started
//! as inetd starts them ([`Daemon`]), and the real clients ([`Peer`]) with their options.

use std::ffi::{OsStr, OsString};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::proc::{Proc, rescue_wizard, run_ok};
use super::{LONG_DEADLINE, READY_DEADLINE, SHORT_DEADLINE, require, require_atftpd};

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
