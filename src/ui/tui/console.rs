//! The console pane of the live screen, for runs over the bootloader's serial console: the
//! bootloader's last lines, what the dialogue waits for, and the command it is about to type,
//! highlighted before its first character goes out. Built here from the run's events; drawn
//! by `view::console` (the view imports the model, never the other way).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;

/// Console lines kept for the pane (the report keeps the whole transcript).
pub const KEPT_LINES: usize = 200;

/// What the console pane shows, built from the run's console events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsolePane {
    /// The port and its baud rate, in words.
    pub port: String,
    /// The bootloader's last lines, escaped, oldest first.
    pub lines: VecDeque<String>,
    /// What the dialogue waits for now.
    pub waiting: Option<String>,
    /// The command about to be typed, until its echo is read back and it is entered.
    pub next: Option<String>,
    /// The last CRC-32 comparison, in words, and whether the two were equal.
    pub crc: Option<(String, bool)>,
}

impl ConsolePane {
    /// A pane for the port just opened: the dialogue listens for the autoboot countdown.
    pub fn opened(port: &Path, baud: u32) -> Self {
        Self {
            port: format!("{} · {baud} baud", port.display()),
            lines: VecDeque::new(),
            // The dialogue types nothing before the bootloader speaks (console::dialogue).
            waiting: Some("the bootloader's autoboot countdown: switch the router on".into()),
            next: None,
            crc: None,
        }
    }

    /// One line the bootloader printed.
    pub fn line(&mut self, line: &str) {
        if self.lines.len() == KEPT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(escaped(line));
    }
}

/// `line` with its control characters shown as escapes (`\u{1b}`, `\t`): a bootloader's
/// colour codes or a stray byte must not move the wizard's own screen.
pub fn escaped(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
