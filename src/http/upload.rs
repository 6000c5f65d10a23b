//! The uploader as a sans-I/O machine: fed what happened on the connection (connected,
//! acknowledged N bytes, bytes received, closed, lost) and the time, it says what to do next
//! (connect, send this segment, close) and what to tell the technician. It never touches a
//! socket or a clock; [`super::stream`] carries its outputs out.
//!
//! The rules, per flavour (research notes §2.1 to §2.6; docs/http.md):
//! - the request's head goes alone, or with the part header (u-boot_mod), in the first
//!   segment, and is acknowledged before anything else is written, so the kernel can never
//!   merge it with body bytes;
//! - every later segment is [`SEGMENT`] bytes (the driver caps the MSS to it, so a write is
//!   a segment), with at most [`Flavour::in_flight`] segments unacknowledged;
//! - the answer is read to its end (u-boot_mod starts writing only after it saw our ACK of
//!   it) and judged by its text, both answers being `200 OK`;
//! - the MTK failsafe's `/upload` answer (size and MD5) is compared with ours before
//!   `/result` makes it write anything;
//! - a connection lost mid-upload starts the upload again from its first byte, the
//!   technician told why; a page not up yet is tried again until it answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use super::form::{self, Form};
use super::page::{Flavour, Page, SEGMENT};
use crate::net::io_failure::IoFailure;

/// Pause between connection attempts while the page is not up yet.
pub const CONNECT_PAUSE: Duration = Duration::from_millis(500);
/// Pause before starting again after a lost connection.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Lost connections after which the upload gives up.
pub const MAX_LOSSES: u32 = 5;
/// How long the page may take to acknowledge our next bytes.
pub const ACK_PATIENCE: Duration = Duration::from_secs(20);
/// How long the page may take to answer an upload, once every byte is acknowledged.
pub const ANSWER_PATIENCE: Duration = Duration::from_mins(1);
/// How long the MTK `/result` may stay open: it writes the flash before it answers.
pub const RESULT_PATIENCE: Duration = Duration::from_mins(5);
/// How long the page may stay away after a lost connection before the upload gives up.
pub const RECONNECT_PATIENCE: Duration = Duration::from_mins(2);
/// Least time between two progress notes (at most ten a second).
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The connection is open.
    Connected,
    /// The connection could not be opened (refused, unreachable, timed out): why, with the
    /// error's kind.
    ConnectFailed(IoFailure),
    /// The router has acknowledged this many bytes of what we wrote on this connection.
    Acked(u64),
    /// Bytes of the router's answer.
    Received(Vec<u8>),
    /// The router closed the connection (its FIN).
    Closed,
    /// The connection broke (a reset, an error): why.
    Lost(String),
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a connection to the page's server; answer [`Input::Connected`] or
    /// [`Input::ConnectFailed`].
    Connect,
    /// Write these bytes in one write: one segment.
    Send(Vec<u8>),
    /// Close the connection.
    Close,
    /// Tell the technician.
    Note(Note),
}

/// What the page said, judged by the profile's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The success text was there.
    Accepted(String),
    /// The failure text was there.
    Refused(String),
    /// Neither: the page's own words.
    Unclear(String),
}

impl Answer {
    /// The page's words, trimmed for a line.
    pub fn text(&self) -> &str {
        match self {
            Answer::Accepted(t) | Answer::Refused(t) | Answer::Unclear(t) => t,
        }
    }
}

/// The upload is done and the page took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Image bytes acknowledged.
    pub bytes: u64,
    /// From the first connection attempt to the answer.
    pub took: Duration,
    /// What the page said.
    pub said: String,
}

/// Why the upload ended without the page taking the image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The page answered with its failure text.
    #[error(
        "the page refused the image: it said \"{0}\". Check that the image is the one for this device (the factory image, not sysupgrade), and its size"
    )]
    Refused(String),
    /// The page answered neither text.
    #[error(
        "the page answered \"{0}\", which is neither its success nor its failure text; look at the router's lights, and check the profile's http: texts"
    )]
    Unclear(String),
    /// The image is larger than the page takes.
    #[error(
        "the image is {size} bytes but this page takes at most {limit}; use the device's factory image"
    )]
    TooLarge {
        /// The image's size.
        size: u64,
        /// The page's limit.
        limit: u64,
    },
    /// The MTK page received other bytes than we sent: nothing was written.
    #[error(
        "the page received {size} bytes with MD5 {md5}, but the image is {our_size} bytes with MD5 {our_md5}: nothing was written; run again"
    )]
    Mismatch {
        /// Size the page reported.
        size: u64,
        /// MD5 the page reported.
        md5: String,
        /// Our size.
        our_size: u64,
        /// Our MD5.
        our_md5: String,
    },
    /// Connections kept breaking, or the page went away.
    #[error("{0}")]
    GaveUp(String),
}

/// What the technician hears about the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The page does not answer yet (told on the first try and every tenth after).
    PageDown {
        /// Why the connection failed.
        reason: String,
        /// Tries so far.
        tries: u32,
    },
    /// The page's server took a connection.
    PageUp {
        /// Which upload attempt (1 for the first).
        attempt: u32,
    },
    /// Image bytes the router acknowledged (about ten a second at most).
    Acknowledged {
        /// Bytes acknowledged.
        bytes: u64,
        /// The image's size.
        total: u64,
    },
    /// The connection was lost; the upload starts again from the first byte.
    Retrying {
        /// Why.
        reason: String,
        /// The attempt about to start.
        attempt: u32,
        /// Image bytes the lost attempt had delivered.
        reached: u64,
    },
    /// The MTK page received exactly our image.
    Verified {
        /// Its size.
        size: u64,
        /// Its MD5.
        md5: String,
    },
    /// The page's answer.
    Answered(Answer),
    /// The end.
    Finished(Result<Uploaded, Failure>),
}

/// What one connection carries: a prefix (request head and part header), the image, and a
/// suffix (the closing delimiter), cut into segments at `ends`.
#[derive(Debug, Clone)]
struct Wire {
    prefix: Vec<u8>,
    image: Arc<[u8]>,
    suffix: Vec<u8>,
    /// Where each segment ends, in stream offsets.
    ends: Vec<u64>,
}

impl Wire {
    fn len(&self) -> u64 {
        (self.prefix.len() + self.image.len() + self.suffix.len()) as u64
    }

    /// A request of one segment (a GET).
    fn single(bytes: Vec<u8>) -> Self {
        let ends = vec![bytes.len() as u64];
        Self {
            prefix: bytes,
            image: Arc::from(Vec::new()),
            suffix: Vec::new(),
            ends,
        }
    }

    /// An upload whose first segment ends at `first`; [`SEGMENT`]-byte segments after it.
    fn upload(form: Form, image: Arc<[u8]>, first: usize) -> Self {
        let mut prefix = form.head;
        prefix.extend_from_slice(&form.part);
        let mut wire = Self {
            prefix,
            image,
            suffix: form.closing,
            ends: Vec::new(),
        };
        let len = wire.len();
        let mut end = first as u64;
        wire.ends.push(end);
        while end < len {
            end = (end + SEGMENT as u64).min(len);
            wire.ends.push(end);
        }
        wire
    }

    fn slice(&self, start: u64, end: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut offset = 0u64;
        for piece in [&self.prefix[..], &self.image[..], &self.suffix[..]] {
            let (lo, hi) = (offset, offset + piece.len() as u64);
            let (a, b) = (start.max(lo), end.min(hi));
            if a < b {
                out.extend_from_slice(&piece[(a - lo) as usize..(b - lo) as usize]);
            }
            offset = hi;
        }
        out
    }

    /// Image bytes within the first `acked` bytes of the stream.
    fn image_bytes(&self, acked: u64) -> u64 {
        acked
            .saturating_sub(self.prefix.len() as u64)
            .min(self.image.len() as u64)
    }
}

/// Which request of the flavour is under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The image's POST.
    Upload,
    /// The MTK `GET /result`, which writes the flash.
    Result,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not started: the first poll checks the size and connects.
    Start,
    /// No connection: the next attempt at `at`.
    Idle { at: Instant },
    /// A connection is being opened.
    Connecting,
    /// The request goes out; nothing before `not_before`.
    Sending { not_before: Instant },
    /// Every byte acknowledged: the answer is read until the router closes.
    Reading { since: Instant },
    /// Finished.
    Done,
}

/// The upload of one image to one page.
#[derive(Debug)]
pub struct Uploader {
    page: Page,
    image: Arc<[u8]>,
    file_name: String,
    state: State,
    stage: Stage,
    wire: Option<Wire>,
    /// Stream bytes written on this connection.
    sent: u64,
    /// Stream bytes the router acknowledged on this connection.
    acked: u64,
    /// Segments written on this connection.
    segments: usize,
    /// The answer so far on this connection.
    answer: Vec<u8>,
    /// The last time the router acknowledged something new.
    moved: Instant,
    started: Instant,
    attempt: u32,
    losses: u32,
    tries: u32,
    /// When the last connection was lost (the page must come back within a while).
    lost_at: Option<(Instant, String)>,
    reported: u64,
    reported_at: Option<Instant>,
}

impl Uploader {
    /// An upload of `image` (sent as `file_name`) to `page`, starting at `now`.
    pub fn new(page: Page, image: Arc<[u8]>, file_name: &str, now: Instant) -> Self {
        Self {
            page,
            image,
            file_name: file_name.to_owned(),
            state: State::Start,
            stage: Stage::Upload,
            wire: None,
            sent: 0,
            acked: 0,
            segments: 0,
            answer: Vec::new(),
            moved: now,
            started: now,
            attempt: 0,
            losses: 0,
            tries: 0,
            lost_at: None,
            reported: 0,
            reported_at: None,
        }
    }

    /// Whether the upload has ended (a [`Note::Finished`] went out).
    pub fn finished(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the driver should look at what the router acknowledged: bytes are out.
    pub fn awaits_acks(&self) -> bool {
        matches!(self.state, State::Sending { .. }) && self.acked < self.sent
    }

    /// Whether a connection is open (or being opened).
    pub fn connected(&self) -> bool {
        matches!(
            self.state,
            State::Connecting | State::Sending { .. } | State::Reading { .. }
        )
    }

    /// The next instant at which [`Uploader::poll`] has something to do by itself.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Start => Some(self.started),
            State::Idle { at } => Some(at),
            State::Sending { not_before } => Some(not_before.max(self.moved + ACK_PATIENCE)),
            State::Reading { since } => Some(since + self.answer_patience()),
            State::Connecting | State::Done => None,
        }
    }

    fn answer_patience(&self) -> Duration {
        match self.stage {
            Stage::Upload => ANSWER_PATIENCE,
            Stage::Result => RESULT_PATIENCE,
        }
    }

    /// Time passes: connect, send what may go, or give up waiting.
    pub fn poll(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        match self.state {
            State::Start => {
                let size = self.image.len() as u64;
                if let Some(limit) = self.page.size_limit.filter(|&l| size > l) {
                    self.finish(Err(Failure::TooLarge { size, limit }), &mut out);
                } else {
                    self.connect(&mut out);
                }
            }
            State::Idle { at } if now >= at => self.connect(&mut out),
            State::Sending { not_before } if now >= not_before => self.send(now, &mut out),
            State::Reading { since } if now >= since + self.answer_patience() => {
                let waited = self.answer_patience().as_secs();
                if self.answer.is_empty() {
                    self.lost(
                        &format!("the page did not answer within {waited} s"),
                        now,
                        &mut out,
                    );
                } else {
                    self.judge(now, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    /// Takes what happened on the connection at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state == State::Done {
            return out;
        }
        match input {
            Input::Connected => self.connected_at(now, &mut out),
            Input::ConnectFailed(reason) => self.connect_failed(&reason, now, &mut out),
            Input::Acked(bytes) => self.acked_to(bytes, now, &mut out),
            Input::Received(bytes) => {
                self.answer.extend_from_slice(&bytes);
                self.moved = now;
            }
            Input::Closed => self.closed(now, &mut out),
            Input::Lost(reason) => self.lost(&reason, now, &mut out),
        }
        out
    }

    fn connect(&mut self, out: &mut Vec<Output>) {
        self.state = State::Connecting;
        out.push(Output::Connect);
    }

    fn connected_at(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.state != State::Connecting {
            return;
        }
        self.tries = 0;
        self.lost_at = None;
        self.sent = 0;
        self.acked = 0;
        self.segments = 0;
        self.answer.clear();
        self.moved = now;
        let wire = match self.stage {
            Stage::Upload => {
                self.attempt += 1;
                out.push(Output::Note(Note::PageUp {
                    attempt: self.attempt,
                }));
                let form = Form::upload(&self.page, &self.file_name, &self.image);
                // D-Link wants the HTTP head alone; uIP's u-boot_mod wants the part header
                // in the first segment with it.
                let first = match self.page.flavour {
                    Flavour::Dlink => form.head.len(),
                    Flavour::UbootMod | Flavour::Mediatek => form.head.len() + form.part.len(),
                };
                Wire::upload(form, Arc::clone(&self.image), first)
            }
            Stage::Result => Wire::single(form::get(&self.page, "/result")),
        };
        self.wire = Some(wire);
        let not_before = now + self.page.flavour.pause_after_connect();
        self.state = State::Sending { not_before };
        if now >= not_before {
            self.send(now, out);
        }
    }

    fn connect_failed(&mut self, reason: &IoFailure, now: Instant, out: &mut Vec<Output>) {
        if self.state != State::Connecting {
            return;
        }
        self.tries += 1;
        if let Some((at, why)) = &self.lost_at
            && now.saturating_duration_since(*at) >= RECONNECT_PATIENCE
        {
            let why = format!(
                "the page did not come back within {} s after the connection was lost ({why}); last try: {reason}",
                RECONNECT_PATIENCE.as_secs()
            );
            self.finish(Err(Failure::GaveUp(why)), out);
            return;
        }
        if self.tries == 1 || self.tries.is_multiple_of(10) {
            out.push(Output::Note(Note::PageDown {
                reason: reason.to_string(),
                tries: self.tries,
            }));
        }
        self.state = State::Idle {
            at: now + CONNECT_PAUSE,
        };
    }

    /// Writes every segment that may go now.
    fn send(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(wire) = &self.wire else { return };
        let limit = self.page.flavour.in_flight();
        while self.segments < wire.ends.len() {
            // The first segment is acknowledged alone before anything follows it: only then
            // can the kernel not merge body bytes into it.
            if self.segments >= 1 && self.acked < wire.ends[0] {
                break;
            }
            let unacked = wire.ends[..self.segments]
                .iter()
                .rev()
                .take_while(|&&end| end > self.acked)
                .count();
            if unacked >= limit {
                break;
            }
            let end = wire.ends[self.segments];
            out.push(Output::Send(wire.slice(self.sent, end)));
            self.sent = end;
            self.segments += 1;
        }
        if self.sent == wire.len() && self.acked >= self.sent {
            self.state = State::Reading { since: now };
        } else if now.saturating_duration_since(self.moved) >= ACK_PATIENCE {
            let reason = format!(
                "the page acknowledged nothing for {} s",
                ACK_PATIENCE.as_secs()
            );
            self.lost(&reason, now, out);
        }
    }

    fn acked_to(&mut self, bytes: u64, now: Instant, out: &mut Vec<Output>) {
        if !matches!(self.state, State::Sending { .. }) || bytes <= self.acked {
            return;
        }
        self.acked = bytes.min(self.sent);
        self.moved = now;
        if self.stage == Stage::Upload
            && let Some(wire) = &self.wire
        {
            let image = wire.image_bytes(self.acked);
            let total = wire.image.len() as u64;
            let due = self
                .reported_at
                .is_none_or(|at| now.saturating_duration_since(at) >= PROGRESS_EVERY);
            if image > self.reported && (due || image == total) {
                self.reported = image;
                self.reported_at = Some(now);
                out.push(Output::Note(Note::Acknowledged {
                    bytes: image,
                    total,
                }));
            }
        }
        if let State::Sending { not_before } = self.state
            && now >= not_before
        {
            self.send(now, out);
        }
    }

    fn closed(&mut self, now: Instant, out: &mut Vec<Output>) {
        let whole = self.wire.as_ref().is_some_and(|w| self.sent == w.len());
        match self.state {
            // The answer may come, and the server close, before our last ACK was read.
            State::Sending { .. } | State::Reading { .. } if whole => self.judge(now, out),
            State::Sending { .. } => {
                let reached = self.reached();
                let total = self.image.len();
                self.lost(
                    &format!("the page closed the connection after {reached} of {total} bytes"),
                    now,
                    out,
                );
            }
            _ => {}
        }
    }

    fn reached(&self) -> u64 {
        self.wire.as_ref().map_or(0, |w| w.image_bytes(self.acked))
    }

    fn lost(&mut self, reason: &str, now: Instant, out: &mut Vec<Output>) {
        if !self.connected() {
            return;
        }
        out.push(Output::Close);
        if self.stage == Stage::Result {
            // The page may be writing its flash: asking again could write it twice.
            let why = format!(
                "the connection to /result was lost ({reason}) before the page said whether it wrote the image; watch the router's lights"
            );
            self.finish(Err(Failure::GaveUp(why)), out);
            return;
        }
        self.losses += 1;
        let reached = self.reached();
        if self.losses >= MAX_LOSSES {
            let why = format!(
                "the connection to the page was lost {} times; the last time: {reason}",
                self.losses
            );
            self.finish(Err(Failure::GaveUp(why)), out);
            return;
        }
        out.push(Output::Note(Note::Retrying {
            reason: reason.to_owned(),
            attempt: self.attempt + 1,
            reached,
        }));
        self.reported = 0;
        self.reported_at = None;
        self.lost_at = Some((now, reason.to_owned()));
        self.state = State::Idle {
            at: now + RETRY_PAUSE,
        };
    }

    /// The answer is complete: what did the page say?
    fn judge(&mut self, now: Instant, out: &mut Vec<Output>) {
        out.push(Output::Close);
        let text = String::from_utf8_lossy(form::body(&self.answer)).into_owned();
        let reached = self.reached();
        if (self.page.flavour, self.stage) == (Flavour::Mediatek, Stage::Upload) {
            self.verify(&text, out);
            return;
        }
        let answer = classify(&text, &self.page);
        out.push(Output::Note(Note::Answered(answer.clone())));
        let result = match answer {
            Answer::Accepted(said) => Ok(Uploaded {
                bytes: if self.stage == Stage::Result {
                    self.image.len() as u64
                } else {
                    reached
                },
                took: now.saturating_duration_since(self.started),
                said,
            }),
            Answer::Refused(said) => Err(Failure::Refused(said)),
            Answer::Unclear(said) => Err(Failure::Unclear(said)),
        };
        self.finish(result, out);
    }

    /// The MTK `/upload` answer: `<size> <md5>[ <layout>]`, or `fail`.
    fn verify(&mut self, text: &str, out: &mut Vec<Output>) {
        let our_size = self.image.len() as u64;
        let our_md5 = hex(&Md5::digest(&self.image));
        let mut words = text.split_whitespace();
        let size = words.next().and_then(|w| w.parse::<u64>().ok());
        let md5 = words.next().map(str::to_ascii_lowercase);
        match (size, md5) {
            (Some(size), Some(md5)) if size == our_size && md5 == our_md5 => {
                out.push(Output::Note(Note::Verified { size, md5 }));
                self.stage = Stage::Result;
                self.connect(out);
            }
            (Some(size), Some(md5)) => self.finish(
                Err(Failure::Mismatch {
                    size,
                    md5,
                    our_size,
                    our_md5,
                }),
                out,
            ),
            _ => {
                let answer = classify(text, &self.page);
                out.push(Output::Note(Note::Answered(answer.clone())));
                let failure = match answer {
                    Answer::Refused(said) => Failure::Refused(said),
                    Answer::Accepted(said) | Answer::Unclear(said) => Failure::Unclear(said),
                };
                self.finish(Err(failure), out);
            }
        }
    }

    fn finish(&mut self, result: Result<Uploaded, Failure>, out: &mut Vec<Output>) {
        self.state = State::Done;
        out.push(Output::Note(Note::Finished(result)));
    }
}

/// Judges an answer's text by the page's success and failure texts; the text kept is the
/// matched words, or the answer's first line when neither matched.
pub fn classify(text: &str, page: &Page) -> Answer {
    if text.contains(page.success.as_str()) {
        return Answer::Accepted(page.success.clone());
    }
    if let Some(failure) = page.failure.as_deref().filter(|f| text.contains(*f)) {
        return Answer::Refused(failure.to_owned());
    }
    Answer::Unclear(shown(text))
}

/// A page's text as one short line: tags dropped, spaces collapsed, at most 120 characters.
fn shown(text: &str) -> String {
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(if c.is_control() { ' ' } else { c }),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut line = words.join(" ");
    if line.chars().count() > 120 {
        line = line.chars().take(117).collect::<String>() + "...";
    }
    line
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests;
