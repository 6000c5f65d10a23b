//! The NMRP method's events: the router answers the advertising, takes its address, asks for
//! the image, writes it and closes.

use std::fmt::{self, Formatter};
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::nmrp::session::Phase;

pub(super) fn router_answered(f: &mut Formatter<'_>, mac: &str) -> fmt::Result {
    write!(
        f,
        "the router answered: its bootloader is in recovery mode (MAC {mac})"
    )
}

pub(super) fn configured(
    f: &mut Formatter<'_>,
    router: Ipv4Addr,
    netmask: Ipv4Addr,
    region: Option<&str>,
) -> fmt::Result {
    write!(
        f,
        "configured: the router took {router} (netmask {netmask})"
    )?;
    if let Some(region) = region {
        write!(f, " and region {region}")?;
    }
    Ok(())
}

pub(super) fn upload_requested(f: &mut Formatter<'_>, file: &str, router_mac: &str) -> fmt::Result {
    write!(
        f,
        "uploading: the router asked for the image as \"{file}\" (static ARP entry for {router_mac})"
    )
}

pub(super) fn keep_alive(f: &mut Formatter<'_>, count: u32, since_upload: Duration) -> fmt::Result {
    write!(
        f,
        "writing flash: keep-alive {count} at {} after the upload; do not switch the router off",
        minutes(since_upload)
    )
}

pub(super) fn closed(
    f: &mut Formatter<'_>,
    keep_alives: u32,
    since_upload: Duration,
) -> fmt::Result {
    write!(
        f,
        "done: the router wrote the image and closed ({keep_alives} keep-alive(s), {} after the upload). Switch the router off and on now: it does not restart by itself",
        minutes(since_upload)
    )
}

pub(super) fn rejected(f: &mut Formatter<'_>, why: &str, causes: &[String]) -> fmt::Result {
    write!(f, "the router turned the image down: {why}")?;
    if !causes.is_empty() {
        write!(f, ". Likely causes: {}", causes.join("; "))?;
    }
    Ok(())
}

pub(super) fn router_silent(
    f: &mut Formatter<'_>,
    keep_alives: u32,
    since_upload: Duration,
) -> fmt::Result {
    write!(
        f,
        "the router has said nothing for a long time after the upload ({keep_alives} keep-alive(s), {} since the upload): it may still be writing, or its bootloader is stuck; leave it on a few more minutes, then switch it off and on",
        minutes(since_upload)
    )
}

pub(super) fn advertising(f: &mut Formatter<'_>, sent: u32, since: Duration) -> fmt::Result {
    write!(
        f,
        "waiting for the router to answer: {sent} advertisement(s) in {}; switch the router on now (its bootloader listens about 3 s after power-on)",
        minutes(since)
    )
}

/// What a link change means for the NMRP exchange, in a technician's words.
pub(super) fn link_changed(f: &mut Formatter<'_>, up: bool, during: Phase) -> fmt::Result {
    f.write_str(match (up, during) {
        (false, Phase::Advertising | Phase::Configuring) => {
            "link lost: the router is off or restarting (or the cable is out); advertising goes on: switch it on"
        }
        (true, Phase::Advertising | Phase::Configuring) => {
            "link back: advertising at once (the router listens about 3 s after power-on)"
        }
        (false, Phase::Uploading) => {
            "link lost during the upload: if the router restarted, the upload starts over when it answers again"
        }
        (true, Phase::Uploading) => "link back during the upload",
        (false, Phase::Flashing) => {
            "link lost while the router writes its flash: do not switch it off; it answers again or closes"
        }
        (true, Phase::Flashing) => "link back while the router writes its flash",
        (false, Phase::Finished) => "link lost: the NMRP session is over",
        (true, Phase::Finished) => "link back: the NMRP session is over",
    })
}

/// `m:ss`, as a technician reads a stopwatch.
fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}
