//! The one process pump: a child whose exit is awaited with a deadline and whose output is
//! collected line by line ([`Proc`]), and running a command to its end under a deadline.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::READY_DEADLINE;

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
