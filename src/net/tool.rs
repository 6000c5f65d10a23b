//! Running an external tool (`nmcli`, `nft`, `iptables-save`, `firewall-cmd`, macOS's
//! `ifconfig`, Windows' `netsh`) with a deadline: the one way rescue-wizard starts another
//! program. The tool is killed when it overstays, its output is captured whole (both pipes
//! drained while it runs, so a chatty tool cannot block on a full pipe), and the answer tells a
//! tool that is not installed ([`ToolError::Missing`]) from one that ran and failed
//! ([`ToolError::Failed`]).

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// One run of an external program: what to run, where, and for how long at most.
#[derive(Debug, Clone)]
pub struct Tool {
    prefix: Vec<String>,
    program: String,
    args: Vec<String>,
    deadline: Duration,
}

/// What a finished tool printed, and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// The exit status; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Standard output, as printed.
    pub stdout: String,
    /// Standard error, trimmed.
    pub stderr: String,
}

impl Ran {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Why a tool gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program is not installed (not found where it was looked for).
    #[error("`{program}` is not installed")]
    Missing {
        /// The program.
        program: String,
    },
    /// The program exists but could not be started, or its output could not be read.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The program ran past its deadline and was killed.
    #[error("`{command}` did not finish within {} s", deadline.as_secs())]
    TimedOut {
        /// The command line.
        command: String,
        /// The deadline it overstayed.
        deadline: Duration,
    },
    /// The program ran and exited with an error (only from [`Tool::run_ok`]).
    #[error("`{command}` failed: {}", failure_text(ran))]
    Failed {
        /// The command line.
        command: String,
        /// What it printed, and its exit status.
        ran: Ran,
    },
}

/// What a failed run said: its standard error, or its standard output when stderr is empty
/// (`netsh` prints its errors there), or its exit status when it said nothing.
fn failure_text(ran: &Ran) -> String {
    let stdout = ran.stdout.trim();
    if !ran.stderr.is_empty() {
        ran.stderr.clone()
    } else if !stdout.is_empty() {
        stdout.to_owned()
    } else {
        format!("exit status {:?}", ran.code)
    }
}

impl Tool {
    /// `program` with no arguments yet, on this host, allowed `deadline` to finish.
    pub fn new(program: &str, deadline: Duration) -> Self {
        Self {
            prefix: Vec::new(),
            program: program.to_owned(),
            args: Vec::new(),
            deadline,
        }
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs the program through a launcher that takes the program and its arguments after
    /// its own words (`ip netns exec NAME`): same file system, another network namespace.
    #[must_use]
    pub fn through(mut self, launcher: &[String]) -> Self {
        self.prefix = launcher.to_vec();
        self
    }

    /// The program's name, as given.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The whole command line, launcher included, for messages.
    pub fn command_line(&self) -> String {
        self.argv().join(" ")
    }

    fn argv(&self) -> Vec<&str> {
        self.prefix
            .iter()
            .chain(std::iter::once(&self.program))
            .chain(&self.args)
            .map(String::as_str)
            .collect()
    }

    /// Runs the tool to its end or its deadline. A non-zero exit is returned as is, for the
    /// caller to read; [`ToolError::Missing`] when the program is not installed.
    pub fn run(&self) -> Result<Ran, ToolError> {
        let argv = self.argv();
        let command = argv.join(" ");
        let missing = || ToolError::Missing {
            program: self.program.clone(),
        };
        // A launcher changes the network namespace, not the file system: a program that is
        // not on this process's path is not there either. Asking the path first keeps a
        // missing tool a missing tool whatever the launcher prints or exits with when its exec
        // fails (iproute2 6.1 exits 1, later ones 255).
        if !self.prefix.is_empty() && !on_path(&self.program) {
            return Err(missing());
        }
        let child = Command::new(argv[0])
            .args(&argv[1..])
            // Callers match the tools' messages; keep them in English.
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound && self.prefix.is_empty() {
                    missing()
                } else {
                    ToolError::Spawn {
                        command: command.clone(),
                        source,
                    }
                }
            })?;
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        // wait_with_output drains both pipes while waiting, so a chatty tool cannot block on
        // a full pipe; the receiving side keeps the deadline.
        thread::Builder::new()
            .name(format!("tool-{}", self.program))
            .spawn(move || {
                let _ = tx.send(child.wait_with_output());
            })
            .map_err(|source| ToolError::Spawn {
                command: command.clone(),
                source,
            })?;
        let output = match rx.recv_timeout(self.deadline) {
            Ok(Ok(output)) => output,
            Ok(Err(source)) => return Err(ToolError::Spawn { command, source }),
            Err(_) => {
                kill(pid);
                return Err(ToolError::TimedOut {
                    command,
                    deadline: self.deadline,
                });
            }
        };
        let ran = Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        };
        // `ip netns exec` reports a program it cannot find itself (exit 1 or 255 by version).
        if !self.prefix.is_empty()
            && !ran.success()
            && ran
                .stderr
                .contains(&format!("exec of \"{}\" failed", self.program))
            && ran.stderr.contains("No such file")
        {
            return Err(missing());
        }
        Ok(ran)
    }

    /// Runs a tool that must succeed: its standard output, or [`ToolError::Failed`] with what
    /// it printed.
    pub fn run_ok(&self) -> Result<String, ToolError> {
        let ran = self.run()?;
        if ran.success() {
            Ok(ran.stdout)
        } else {
            Err(ToolError::Failed {
                command: self.command_line(),
                ran,
            })
        }
    }
}

/// Kills the overstaying tool. The waiting thread has not reaped it (it is still waiting),
/// so its pid cannot have been reused yet.
#[cfg(unix)]
fn kill(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Elsewhere the tool is left to the waiting thread, which reaps it whenever it ends.
#[cfg(not(unix))]
fn kill(_pid: u32) {}

/// True when `program` is an executable file in a folder of `PATH`, or in `/usr/sbin` or
/// `/sbin` (where Debian keeps nft and iptables, and which a user's `PATH` may lack).
pub fn on_path(program: &str) -> bool {
    let folders = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    folders
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|folder| Path::new(&folder).join(program).is_file())
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Instant;

    use super::*;

    const DEADLINE: Duration = Duration::from_secs(10);

    #[test]
    fn output_and_exit_status_are_captured() {
        let ran = Tool::new("sh", DEADLINE)
            .args(&["-c", "echo out; echo ' err ' >&2; exit 3"])
            .run()
            .unwrap();
        assert_eq!(ran.code, Some(3));
        assert_eq!(ran.stdout, "out\n");
        assert_eq!(ran.stderr, "err");
        assert!(!ran.success());
    }

    #[test]
    fn a_missing_program_is_missing_and_a_failing_one_failed() {
        let err = Tool::new("rescue-wizard-no-such-tool", DEADLINE)
            .run()
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::Missing { program } if program == "rescue-wizard-no-such-tool"),
            "{err:?}"
        );
        let err = Tool::new("sh", DEADLINE)
            .args(&["-c", "echo nope >&2; exit 1"])
            .run_ok()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sh -c echo nope >&2; exit 1` failed: nope"
        );
        let quiet = Tool::new("sh", DEADLINE).args(&["-c", "exit 2"]).run_ok();
        assert_eq!(
            quiet.unwrap_err().to_string(),
            "`sh -c exit 2` failed: exit status Some(2)"
        );
    }

    #[test]
    fn a_tool_past_its_deadline_is_killed() {
        let deadline = Duration::from_millis(300);
        let started = Instant::now();
        let err = Tool::new("sleep", deadline)
            .args(&["30"])
            .run()
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::TimedOut { command, .. } if command == "sleep 30"),
            "{err:?}"
        );
        // Killed, not waited for: well before the 30 s it asked for.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_chatty_tool_does_not_block_on_a_full_pipe() {
        // 1 MiB on each pipe: far past the 64 KiB a Linux pipe holds.
        let ran = Tool::new("sh", DEADLINE)
            .args(&[
                "-c",
                "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2",
            ])
            .run()
            .unwrap();
        assert!(ran.success());
        assert_eq!(ran.stdout.len(), 1_048_576);
    }

    #[test]
    fn a_tool_missing_behind_a_launcher_is_missing() {
        // The path is asked first, so the launcher itself never runs.
        let err = Tool::new("rescue-wizard-no-such-tool", DEADLINE)
            .through(&["ip".into(), "netns".into(), "exec".into(), "nowhere".into()])
            .run()
            .unwrap_err();
        assert!(matches!(err, ToolError::Missing { .. }), "{err:?}");
        assert!(on_path("sh"));
    }
}
