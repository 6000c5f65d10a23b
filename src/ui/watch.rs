//! `rescue-wizard watch`'s front-end: one line per wire event and per finding, as the seconds
//! since the watch started and a sentence, or with `--json` as one object per line with its
//! time (seconds since the Unix epoch) in `at`.

use std::fmt::Display;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::net::observe::WireSign;
use crate::net::wire::Seen;

/// Prints what the watch sees and concludes, one line each.
#[derive(Debug, Clone, Copy)]
pub struct WatchLines {
    json: bool,
    start: SystemTime,
}

impl WatchLines {
    /// Lines timed from `start`; JSON objects when `json`.
    pub fn new(json: bool, start: SystemTime) -> Self {
        Self { json, start }
    }

    /// Prints a frame the watch recognised.
    pub fn wire(&self, seen: &Seen) {
        println!("{}", self.wire_line(seen));
    }

    /// Prints what the watch concluded at `at`.
    pub fn finding(&self, at: SystemTime, finding: &WireSign) {
        println!("{}", self.finding_line(at, finding));
    }

    /// The line for a frame the watch recognised.
    pub fn wire_line(&self, seen: &Seen) -> String {
        self.line(
            seen.at,
            &seen.event,
            serde_json::json!({ "wire": seen.event }),
        )
    }

    /// The line for what the watch concluded at `at`.
    pub fn finding_line(&self, at: SystemTime, finding: &WireSign) -> String {
        self.line(
            at,
            &format_args!("! {finding}"),
            serde_json::json!({ "finding": finding }),
        )
    }

    fn line(&self, at: SystemTime, text: &dyn Display, value: serde_json::Value) -> String {
        if self.json {
            let mut object = value;
            if let Some(map) = object.as_object_mut() {
                let seconds = at
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                map.insert("at".into(), seconds.into());
            }
            object.to_string()
        } else {
            let offset = at
                .duration_since(self.start)
                .unwrap_or_default()
                .as_secs_f64();
            format!("{offset:8.3}  {text}")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::net::wire::{ArpKind, Mac, WireEvent};

    fn arp_at(at: SystemTime) -> Seen {
        Seen {
            at,
            event: WireEvent::Arp {
                op: ArpKind::Request,
                sender_ip: Ipv4Addr::new(192, 168, 0, 86),
                sender_mac: Mac([0xba, 0xbe, 0xfa, 0xce, 0x08, 0x41]),
                target_ip: Ipv4Addr::new(192, 168, 0, 66),
            },
        }
    }

    #[test]
    fn a_sentence_line_carries_the_seconds_since_the_start() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let lines = WatchLines::new(false, start);
        let seen = arp_at(start + Duration::from_millis(1_250));
        assert_eq!(lines.wire_line(&seen), format!("   1.250  {}", seen.event));
    }

    #[test]
    fn a_json_line_is_the_event_under_its_kind_with_its_time() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let lines = WatchLines::new(true, start);
        let seen = arp_at(start + Duration::from_millis(500));
        let value: serde_json::Value = serde_json::from_str(&lines.wire_line(&seen)).unwrap();
        assert_eq!(value["at"], 1_000.5);
        assert_eq!(value["wire"], serde_json::to_value(&seen.event).unwrap());
    }
}
