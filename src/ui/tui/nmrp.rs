//! The NMRP phases in the wizard, in a technician's words: waiting for the router to answer
//! (the advertisements counting), configured, uploading, writing flash (the keep-alives and the
//! time since the upload), done ("switch it off and on"), rejected (the router's words and the
//! causes that apply), fallen silent, and what a link flap means at each.
//!
//! The run's events feed [`Nmrp`] through [`on_event`] (called from [`super::update`], the
//! only mutator); the live screen draws [`lines`] in place of its status and gauge when the
//! method is NMRP, the title's "what next" comes from [`next`], and the done screen adds
//! [`verdict`].
//!
//! ```text
//!  waiting for the router to answer · 0:12 of 30:00
//!  advertising: 120 sent in 0:12, one every 100 ms
//!  ! switch the router on now: its bootloader listens about 3 s after power-on
//!  ! link lost at 0:09: the router is off or restarting (or the cable is out); ...
//! ```

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use ratatui::style::Style;
use ratatui::text::Line;

use super::view::{Theme, clock, hanging};
use crate::engine::Event;

/// Where the NMRP exchange stands, as the run told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Advertising; no router has answered yet.
    Waiting {
        /// ADVERTISEs sent so far (0 until the first count arrives).
        sent: u32,
        /// Since advertising began.
        since: Duration,
    },
    /// A bootloader answered: it is in recovery mode.
    Answered,
    /// The router took its address (and region).
    Configured,
    /// The router asked for the image: it moves.
    Uploading {
        /// The name it asked for.
        file: String,
    },
    /// The router has the image and writes its flash.
    WritingFlash {
        /// Keep-alives answered so far.
        keep_alives: u32,
        /// Since the end of the upload, at the last keep-alive.
        since_upload: Duration,
    },
    /// The router wrote the image and closed.
    Done {
        /// Keep-alives answered.
        keep_alives: u32,
        /// From the end of the upload to the close.
        since_upload: Duration,
    },
    /// The router turned the image down.
    Rejected {
        /// How it said so (its own words when it sent any).
        why: String,
        /// The causes that may apply here.
        causes: Vec<String>,
    },
    /// Nothing came from the router for the whole wait after the upload.
    Silent {
        /// Keep-alives answered before.
        keep_alives: u32,
        /// Since the end of the upload.
        since_upload: Duration,
    },
}

/// The last link change, while it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkNote {
    /// Whether the link is up now.
    pub up: bool,
    /// When it changed, since the run started.
    pub at: Duration,
    /// What it means for the exchange, in words.
    pub said: String,
}

/// What the wizard knows of the NMRP exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nmrp {
    /// The stage.
    pub stage: Stage,
    /// The router's MAC, once it answered.
    pub router_mac: Option<String>,
    /// The address, netmask and region it was given.
    pub router: Option<(Ipv4Addr, Ipv4Addr, Option<String>)>,
    /// The last link change; a link back is forgotten at the next stage.
    pub link: Option<LinkNote>,
}

impl Nmrp {
    fn waiting() -> Self {
        Self {
            stage: Stage::Waiting {
                sent: 0,
                since: Duration::ZERO,
            },
            router_mac: None,
            router: None,
            link: None,
        }
    }

    fn enter(&mut self, stage: Stage) {
        if self.link.as_ref().is_some_and(|l| l.up) {
            self.link = None;
        }
        self.stage = stage;
    }
}

/// Takes one engine event of an NMRP run, `at` since the run started: the state starts with
/// the wait (when the advertising starts) and follows the NMRP events, the end of the upload
/// and the link.
pub fn on_event(state: &mut Option<Nmrp>, at: Duration, event: &Event) {
    if let Event::WaitingForRouter { .. } = event {
        state.get_or_insert_with(Nmrp::waiting);
        return;
    }
    let Some(nmrp) = state.as_mut() else {
        return;
    };
    match event {
        Event::NmrpAdvertising { sent, since } => {
            // Told only while advertising: a restarted router is waited for again.
            let (sent, since) = (*sent, *since);
            nmrp.enter(Stage::Waiting { sent, since });
        }
        Event::NmrpRouterAnswered { mac } => {
            nmrp.router_mac = Some(mac.clone());
            nmrp.enter(Stage::Answered);
        }
        Event::NmrpConfigured {
            router,
            netmask,
            region,
        } => {
            nmrp.router = Some((*router, *netmask, region.clone()));
            nmrp.enter(Stage::Configured);
        }
        Event::NmrpUploadRequested { file, router_mac } => {
            nmrp.router_mac = Some(router_mac.clone());
            nmrp.enter(Stage::Uploading { file: file.clone() });
        }
        Event::TransferFinished { .. } if matches!(nmrp.stage, Stage::Uploading { .. }) => {
            nmrp.enter(Stage::WritingFlash {
                keep_alives: 0,
                since_upload: Duration::ZERO,
            });
        }
        Event::NmrpKeepAlive {
            count,
            since_upload,
        } => nmrp.enter(Stage::WritingFlash {
            keep_alives: *count,
            since_upload: *since_upload,
        }),
        Event::NmrpClosed {
            keep_alives,
            since_upload,
        } => nmrp.enter(Stage::Done {
            keep_alives: *keep_alives,
            since_upload: *since_upload,
        }),
        Event::NmrpRejected { why, causes } => nmrp.enter(Stage::Rejected {
            why: why.clone(),
            causes: causes.clone(),
        }),
        Event::NmrpRouterSilent {
            keep_alives,
            since_upload,
        } => nmrp.enter(Stage::Silent {
            keep_alives: *keep_alives,
            since_upload: *since_upload,
        }),
        Event::NmrpLinkChanged { up, .. } => {
            nmrp.link = Some(LinkNote {
                up: *up,
                at,
                said: event.to_string(),
            });
        }
        _ => {}
    }
}

/// How the wait reads on the status line: what for, how long so far, until when.
pub struct Wait {
    /// Since the wait began.
    pub elapsed: Duration,
    /// When the run gives up.
    pub timeout: Duration,
}

fn keep_alives(n: u32) -> String {
    match n {
        1 => "1 keep-alive".to_owned(),
        n => format!("{n} keep-alives"),
    }
}

/// The lines the live screen shows for the NMRP exchange, `width` wide: the stage in words,
/// what it means, what to do now, and the last link change. `gauge` is the live screen's
/// transfer gauge, shown while the image moves.
pub fn lines(
    nmrp: &Nmrp,
    wait: Option<&Wait>,
    gauge: Line<'static>,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let say = |out: &mut Vec<Line<'static>>, prefix: &str, text: &str, style: Style| {
        out.extend(hanging(prefix, style, text, style, width));
    };
    match &nmrp.stage {
        Stage::Uploading { file } => {
            let to = nmrp
                .router
                .as_ref()
                .map(|(router, ..)| format!(" to {router}"))
                .unwrap_or_default();
            say(
                &mut out,
                " ",
                &format!("uploading \"{file}\"{to}"),
                Style::default(),
            );
            out.push(gauge);
        }
        Stage::Waiting { .. } | Stage::Answered | Stage::Configured => {
            before_upload(nmrp, wait, &mut out, &say, theme);
        }
        _ => after_upload(&nmrp.stage, &mut out, &say, theme),
    }
    if let Some(link) = &nmrp.link {
        say(
            &mut out,
            " ! ",
            &format!("{} ({})", link.said, clock(link.at)),
            if link.up { theme.dim } else { theme.warn },
        );
    }
    out
}

/// How [`lines`] adds a wrapped line: to `out`, after `prefix`, in `style`.
type Say<'a> = dyn Fn(&mut Vec<Line<'static>>, &str, &str, Style) + 'a;

/// The stages before the image moves: waiting, answered, configured.
fn before_upload(
    nmrp: &Nmrp,
    wait: Option<&Wait>,
    out: &mut Vec<Line<'static>>,
    say: &Say<'_>,
    theme: &Theme,
) {
    let plain = Style::default();
    match &nmrp.stage {
        Stage::Waiting { sent, since } => {
            let head = match wait {
                Some(w) => format!(
                    "waiting for the router to answer · {} of {}",
                    clock(w.elapsed),
                    clock(w.timeout)
                ),
                None => "waiting for the router to answer".to_owned(),
            };
            say(out, " ", &head, plain);
            let count = if *sent == 0 {
                "advertising now, one every 100 ms".to_owned()
            } else {
                format!(
                    "advertising: {sent} sent in {}, one every 100 ms",
                    clock(*since)
                )
            };
            say(out, " ", &count, theme.dim);
            say(
                out,
                " ! ",
                "switch the router on now: its bootloader listens about 3 s after power-on",
                theme.accent,
            );
        }
        Stage::Answered => {
            let mac = nmrp.router_mac.as_deref().unwrap_or("unknown");
            say(
                out,
                " ",
                &format!("the router answered (MAC {mac}): its bootloader is in recovery mode"),
                theme.good,
            );
            say(out, " ", "giving it its address…", theme.dim);
        }
        Stage::Configured => {
            let given = match &nmrp.router {
                Some((router, netmask, region)) => {
                    let mut given = format!("configured: the router took {router} ({netmask})");
                    if let Some(region) = region {
                        let _ = write!(given, ", region {region}");
                    }
                    given
                }
                None => "configured".to_owned(),
            };
            say(out, " ", &given, theme.good);
            say(out, " ", "it asks for the image next", theme.dim);
        }
        _ => {}
    }
}

/// The stages after the upload: writing flash, done, rejected, silent.
fn after_upload(stage: &Stage, out: &mut Vec<Line<'static>>, say: &Say<'_>, theme: &Theme) {
    match stage {
        Stage::WritingFlash {
            keep_alives,
            since_upload,
        } => {
            let writing = if *keep_alives == 0 {
                "writing flash: the router has the image; its keep-alives are answered".to_owned()
            } else {
                format!(
                    "writing flash: keep-alive {keep_alives} at {} after the upload",
                    clock(*since_upload)
                )
            };
            say(out, " ", &writing, theme.warn);
            say(
                out,
                " ! ",
                "do not switch the router off: it says when it is done",
                theme.warn,
            );
        }
        Stage::Done {
            keep_alives: n,
            since_upload,
        } => {
            say(
                out,
                " ",
                &format!(
                    "done: image written, session closed ({}, {} after the upload)",
                    keep_alives(*n),
                    clock(*since_upload)
                ),
                theme.good,
            );
            say(
                out,
                " ! ",
                "switch the router off and on now: it does not restart by itself",
                theme.accent,
            );
        }
        Stage::Rejected { why, causes } => {
            say(out, " ", &format!("rejected: {why}"), theme.bad);
            if !causes.is_empty() {
                say(out, " ", "likely causes:", theme.warn);
                for cause in causes {
                    say(out, "  - ", cause, theme.warn);
                }
            }
        }
        Stage::Silent {
            keep_alives: n,
            since_upload,
        } => {
            say(
                out,
                " ",
                &format!(
                    "the router fell silent: {}, nothing for {} after the upload",
                    keep_alives(*n),
                    clock(*since_upload)
                ),
                theme.bad,
            );
            say(
                out,
                " ! ",
                "it may still be writing: leave it on a few more minutes, then switch it off and on",
                theme.warn,
            );
        }
        _ => {}
    }
}

/// The "what next" line for the stages that ask something of the technician.
pub fn next(nmrp: &Nmrp) -> Option<String> {
    match &nmrp.stage {
        Stage::WritingFlash { .. } => {
            Some("DO NOT SWITCH THE ROUTER OFF: it is writing its flash.".into())
        }
        Stage::Done { .. } => {
            Some("Switch the router off and on now: it does not restart by itself.".into())
        }
        Stage::Rejected { .. } => {
            Some("The router turned the image down: read the causes below.".into())
        }
        _ => None,
    }
}

/// What the done screen adds for an NMRP run that got as far as the router's verdict: the
/// close and what to do, or the rejection with its causes, or the silence.
pub fn verdict(nmrp: &Nmrp, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let fact = |out: &mut Vec<Line<'static>>, text: &str, style: Style| {
        out.extend(hanging("nmrp     ", theme.dim, text, style, width));
    };
    match &nmrp.stage {
        Stage::Done {
            keep_alives: n,
            since_upload,
        } => fact(
            &mut out,
            &format!(
                "the router closed after {}, {} after the upload: switch it off and on now",
                keep_alives(*n),
                clock(*since_upload)
            ),
            theme.good,
        ),
        Stage::Rejected { why, causes } => {
            fact(&mut out, &format!("rejected: {why}"), theme.bad);
            for cause in causes {
                out.extend(hanging(
                    "           - ",
                    theme.dim,
                    cause,
                    theme.warn,
                    width,
                ));
            }
        }
        Stage::Silent {
            keep_alives: n,
            since_upload,
        } => fact(
            &mut out,
            &format!(
                "the router fell silent after {}, {} after the upload",
                keep_alives(*n),
                clock(*since_upload)
            ),
            theme.bad,
        ),
        _ => {}
    }
    out
}
