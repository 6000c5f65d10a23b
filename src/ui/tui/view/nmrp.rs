//! The NMRP exchange drawn ([`super::super::nmrp`] holds what the wizard knows of it): the
//! lines the live screen shows in place of its status and gauge, the "what next" of the
//! stages that ask something of the technician, and the done screen's verdict.
//!
//! ```text
//!  waiting for the router to answer · 0:12 of 30:00
//!  advertising: 120 sent in 0:12, one every 100 ms
//!  ! switch the router on now: its bootloader listens about 3 s after power-on
//!  ! link lost: the router is off or restarting (or the cable is out); ... (0:09)
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use ratatui::style::Style;
use ratatui::text::Line;

use super::{Theme, clock, hanging};
use crate::ui::tui::nmrp::{Nmrp, Stage};

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
