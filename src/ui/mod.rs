//! Front-ends: they consume events and never touch the network themselves.

pub mod checklist;
pub mod json;
pub mod progress;
pub mod run;
pub mod tui;
pub mod watch;
