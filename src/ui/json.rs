//! `--json`: one event per line on standard output, each an object with an `event` field
//! naming it and `at`, the seconds since the run started.

use std::io::Write;
use std::time::Instant;

use crate::engine::Event;

/// Prints events as JSON lines.
#[derive(Debug)]
pub struct JsonLines {
    started: Instant,
}

impl Default for JsonLines {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonLines {
    /// Times events from now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    /// The line for `event`.
    pub fn line(&self, event: &Event) -> String {
        let mut value = serde_json::to_value(event).unwrap_or_else(
            |err| serde_json::json!({ "event": "unprintable", "error": err.to_string() }),
        );
        if let Some(map) = value.as_object_mut() {
            let at = (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
            map.insert("at".into(), at.into());
        }
        value.to_string()
    }

    /// Prints `event` and flushes, so a script reading the pipe sees it at once.
    pub fn show(&self, event: &Event) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.line(event));
        let _ = out.flush();
    }
}
