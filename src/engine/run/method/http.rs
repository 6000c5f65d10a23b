//! The HTTP failsafe: once the technician is told to switch the router on, the image goes to
//! the bootloader's upload page, tried until it answers (docs/http.md).
//!
//! The upload is [`crate::http::upload`] (sans-I/O) under [`crate::http::stream::upload`];
//! here are its strategy in the run ([`Http`]), what the run makes of its notes
//! ([`on_event`], pure), and the thin driver ([`start`]): one thread named `http-<address>`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::unbounded_channel;

use super::Method;
use crate::engine::event::Event;
pub use crate::engine::run::exchange::HttpEvent;
use crate::engine::run::exchange::{Effect, Input, PushFailure, Pushed};
use crate::http::{Answer, Note, Page};

/// The HTTP strategy: nothing to serve; the page is tried from the wait on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    /// The upload page.
    pub page: SocketAddr,
}

impl Method for Http {
    fn awaits(&self) -> String {
        format!(
            "the router's upload page at http://{} (tried until it answers): switch it on now",
            self.page
        )
    }

    fn serves(&self) -> bool {
        false
    }

    fn prepare(&self) -> Vec<Effect> {
        Vec::new()
    }

    // Some bootloaders bring the page up only seconds after power-on and reset on a request
    // that comes too early: the uploader keeps trying from the moment the router may start.
    fn on_waiting(&self) -> Vec<Effect> {
        vec![Effect::StartHttp]
    }
}

/// What the run makes of one note: the events to show, and the image bytes the router
/// acknowledged when the note says so. Pure: the machine calls it from its one HTTP arm.
pub fn on_event(event: HttpEvent, total: u64) -> (Vec<Event>, Option<u64>) {
    let HttpEvent(note, uploading) = event;
    let shown = match note {
        Note::PageDown { reason, tries } => Event::HttpPageDown { reason, tries },
        Note::PageUp { attempt } => Event::HttpPageUp { attempt },
        Note::Acknowledged { bytes, .. } => {
            return (
                vec![Event::TransferProgressed {
                    bytes,
                    total,
                    rate: rate(bytes, uploading),
                    timeouts: 0,
                }],
                Some(bytes),
            );
        }
        Note::Retrying {
            reason,
            attempt,
            reached,
        } => Event::HttpRetrying {
            reason,
            attempt,
            reached,
        },
        Note::Verified { size, md5 } => Event::HttpVerified { size, md5 },
        Note::Answered(answer) => Event::HttpAnswered {
            said: answer.text().to_owned(),
            accepted: matches!(answer, Answer::Accepted(_)),
        },
        // The end goes to the run as the push's result.
        Note::Finished(_) => return (Vec::new(), None),
    };
    (vec![shown], None)
}

/// Bytes a second over `took`, averaged; 0 before a millisecond passed.
fn rate(bytes: u64, took: Duration) -> u64 {
    match u64::try_from(took.as_millis()) {
        Ok(0) | Err(_) => 0,
        Ok(ms) => bytes.saturating_mul(1000) / ms,
    }
}

pub use super::thread::{Running, recv};

/// Starts the upload of `image` as `file_name` to `page` on a thread of its own, until the
/// page answered, the upload gave up, or `stop` is set. `sha256` is the image's, for the
/// report.
pub fn start(
    page: Page,
    image: Arc<[u8]>,
    file_name: String,
    sha256: String,
    stop: Arc<AtomicBool>,
) -> Running {
    let (tx, inputs) = unbounded_channel();
    let name = format!("http-{}", page.addr);
    let peer = page.addr;
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        // The rate counts from the moment the attempt's page answered: the wait for the
        // page before it is the bootloader booting, not the upload.
        let mut up = Instant::now();
        let ended = crate::http::stream::upload(page, image, &file_name, &stop, |note| {
            if matches!(note, Note::PageUp { .. }) {
                up = Instant::now();
            }
            let _ = tx.send(Input::Http(HttpEvent(note, up.elapsed())));
        });
        let result = match ended {
            None => return,
            Some(Ok(done)) => Ok(Pushed {
                peer,
                bytes: done.bytes,
                took: done.took,
                sha256,
                confirmed: true,
            }),
            Some(Err(failure)) => Err(PushFailure::Other(failure.to_string())),
        };
        let _ = tx.send(Input::Pushed(result));
    });
    Running::new(inputs, spawned.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_by_bytes_acknowledged_against_the_image_size() {
        let (events, moved) = on_event(
            HttpEvent(
                Note::Acknowledged {
                    bytes: 4096,
                    total: 10_000,
                },
                Duration::from_secs(2),
            ),
            10_000,
        );
        assert_eq!(moved, Some(4096));
        assert!(matches!(
            events.as_slice(),
            [Event::TransferProgressed {
                bytes: 4096,
                total: 10_000,
                rate: 2048,
                ..
            }]
        ));
    }

    #[test]
    fn the_page_words_are_shown_and_the_end_is_left_to_the_push_result() {
        let (events, _) = on_event(
            HttpEvent(
                Note::Answered(Answer::Refused("UPDATE FAILED".to_owned())),
                Duration::ZERO,
            ),
            1,
        );
        assert_eq!(
            events,
            [Event::HttpAnswered {
                said: "UPDATE FAILED".to_owned(),
                accepted: false,
            }]
        );
        let (events, moved) = on_event(
            HttpEvent(
                Note::Retrying {
                    reason: "connection reset".to_owned(),
                    attempt: 2,
                    reached: 300,
                },
                Duration::ZERO,
            ),
            1,
        );
        assert_eq!(moved, None);
        assert!(
            events[0].to_string().contains("connection reset"),
            "{events:?}"
        );
        let failure = crate::http::Failure::Refused("UPDATE FAILED".to_owned());
        let (events, moved) = on_event(HttpEvent(Note::Finished(Err(failure)), Duration::ZERO), 1);
        assert!(events.is_empty());
        assert_eq!(moved, None);
    }
}
