//! The wizard on a real terminal, for the tests that drive it (`tui.rs`, `tui_console.rs`): one
//! tmux server per test on a socket of its own, keys in with `send-keys`, the screen read with
//! `capture-pane` until it says what it must, within a deadline. Nothing sleeps to synchronise:
//! the pane is read again every [`POLL`] until it matches or the deadline passes.

#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How often the pane is read while waiting.
const POLL: Duration = Duration::from_millis(25);

/// One tmux server on a socket of its own, killed when dropped (also when a test fails).
pub struct Tmux {
    tmux: PathBuf,
    socket: String,
}

impl Tmux {
    /// Starts a server with one 80x24 pane running `command` (a shell command line) in `cwd`
    /// with `env` added. The pane stays open after the command ends: it prints its exit
    /// status, then waits.
    pub fn start(tmux: PathBuf, cwd: &Path, env: &[(&str, &str)], command: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "rw-tui-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server = Tmux { tmux, socket };
        let line = format!("{command}; echo \"exited $?\"; exec cat");
        let mut start = server.command();
        start
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
            ])
            .arg("-c")
            .arg(cwd)
            .arg(line)
            .current_dir(cwd);
        for (key, value) in env {
            start.env(key, value);
        }
        let output = start.output().expect("running tmux");
        assert!(
            output.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        server
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.tmux);
        command.args(["-L", &self.socket]).stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().expect("running tmux");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Types keys, in tmux's names (`Enter`, `C-c`, `Escape`, or text).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend(keys);
        self.run(&args);
    }

    /// The pane's text now.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// A pane or window variable (`#{alternate_on}`).
    pub fn show(&self, format: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display-message", "-p", format]).stdout)
            .trim()
            .to_owned()
    }

    /// Waits until the pane satisfies `ok`, and returns its text; fails with the last screen
    /// after `within`.
    pub fn wait(&self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + within;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < until,
                "waited {within:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the pane shows every one of `texts`.
    pub fn wait_for(&self, texts: &[&str], within: Duration) -> String {
        self.wait(&format!("{texts:?}"), within, |screen| {
            texts.iter().all(|text| screen.contains(text))
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `path` quoted for the shell line tmux runs.
pub fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
