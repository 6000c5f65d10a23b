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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::JsonLines;
    use crate::engine::Event;
    use crate::nmrp::session::Phase;

    /// Each NMRP phase has its JSON line, named and with its figures, and its plain words: the
    /// two outputs tell the same phases the wizard shows.
    #[test]
    fn each_nmrp_phase_reads_alike_in_json_and_in_plain_words() {
        let json = JsonLines::new();
        let cases = [
            (
                Event::NmrpAdvertising {
                    sent: 121,
                    since: Duration::from_secs(12),
                },
                "nmrp-advertising",
                r#""sent":121"#,
                "waiting for the router to answer: 121 advertisement(s) in 0:12; switch the router on now",
            ),
            (
                Event::NmrpRouterAnswered {
                    mac: "00:00:00:00:00:00".into(),
                },
                "nmrp-router-answered",
                r#""mac":"00:00:00:00:00:00""#,
                "the router answered: its bootloader is in recovery mode",
            ),
            (
                Event::NmrpConfigured {
                    router: Ipv4Addr::new(10, 164, 183, 253),
                    netmask: Ipv4Addr::new(255, 255, 255, 0),
                    region: Some("WW".into()),
                },
                "nmrp-configured",
                r#""region":"WW""#,
                "configured: the router took 10.164.183.253 (netmask 255.255.255.0) and region WW",
            ),
            (
                Event::NmrpUploadRequested {
                    file: "firmware".into(),
                    router_mac: "02:4e:54:47:52:01".into(),
                },
                "nmrp-upload-requested",
                r#""file":"firmware""#,
                "uploading: the router asked for the image as \"firmware\"",
            ),
            (
                Event::NmrpKeepAlive {
                    count: 12,
                    since_upload: Duration::from_secs(185),
                },
                "nmrp-keep-alive",
                r#""since_upload":185.0"#,
                "writing flash: keep-alive 12 at 3:05 after the upload",
            ),
            (
                Event::NmrpClosed {
                    keep_alives: 12,
                    since_upload: Duration::from_secs(200),
                },
                "nmrp-closed",
                r#""keep_alives":12"#,
                "done: the router wrote the image and closed",
            ),
            (
                Event::NmrpRejected {
                    why: "the router answered the upload with \"checksum error\"".into(),
                    causes: vec!["the image is for another model or another region".into()],
                },
                "nmrp-rejected",
                r#""causes":["the image is for another model or another region"]"#,
                "the router turned the image down: the router answered the upload with \"checksum error\". Likely causes: the image is for another model",
            ),
            (
                Event::NmrpLinkChanged {
                    up: false,
                    during: Phase::Advertising,
                },
                "nmrp-link-changed",
                r#""during":"advertising""#,
                "link lost: the router is off or restarting",
            ),
            (
                Event::NmrpRouterSilent {
                    keep_alives: 3,
                    since_upload: Duration::from_mins(30),
                },
                "nmrp-router-silent",
                r#""since_upload":1800.0"#,
                "the router has said nothing for a long time after the upload",
            ),
        ];
        for (event, name, field, words) in cases {
            let line = json.line(&event);
            assert!(
                line.contains(&format!(r#""event":"{name}""#)) && line.contains(field),
                "{line}"
            );
            let plain = event.to_string();
            assert!(plain.starts_with(words), "{plain}");
        }
    }
}
