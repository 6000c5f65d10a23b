//! The NMRP phases in the wizard, in a technician's words: waiting for the router to answer
//! (the advertisements counting), configured, uploading, writing flash (the keep-alives and the
//! time since the upload), done ("switch it off and on"), rejected (the router's words and the
//! causes that apply), fallen silent, and what a link flap means at each.
//!
//! Here is what the wizard knows of the exchange: the run's events feed [`Nmrp`] through
//! [`on_event`] (called from [`super::update`], the only mutator). `view/nmrp.rs` draws it: the
//! live screen shows it in place of its status and gauge when the method is NMRP, the title's
//! "what next" follows it, and the done screen adds the verdict.
//!
//! ```text
//!  waiting for the router to answer · 0:12 of 30:00
//!  advertising: 120 sent in 0:12, one every 100 ms
//!  ! switch the router on now: its bootloader listens about 3 s after power-on
//!  ! link lost at 0:09: the router is off or restarting (or the cable is out); ...
//! ```

use std::net::Ipv4Addr;
use std::time::Duration;

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
