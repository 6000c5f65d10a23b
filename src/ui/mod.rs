//! Front-ends: they consume events and never touch the network themselves.

pub mod checklist;
pub mod progress;
