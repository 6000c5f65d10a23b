//! After the transfer: the router writes its flash, goes quiet and comes back.

use std::fmt::{self, Formatter};
use std::net::Ipv4Addr;
use std::time::Duration;

pub(super) fn flashing_started(
    f: &mut Formatter<'_>,
    expected: Duration,
    after: Option<Ipv4Addr>,
) -> fmt::Result {
    write!(
        f,
        "DO NOT SWITCH THE ROUTER OFF: it is writing its flash (about {} s)",
        expected.as_secs()
    )?;
    if let Some(after) = after {
        write!(f, "; watching for it at {after}")?;
    }
    Ok(())
}

pub(super) fn flashing_countdown(f: &mut Formatter<'_>, remaining: Duration) -> fmt::Result {
    if remaining.is_zero() {
        f.write_str("flashing should be done by now: watching for the router to come back")
    } else {
        write!(f, "flashing: about {} s left", remaining.as_secs())
    }
}

pub(super) fn router_left(f: &mut Formatter<'_>, ip: Ipv4Addr) -> fmt::Result {
    write!(f, "the router at {ip} went quiet: it is rebooting")
}

pub(super) fn router_back(f: &mut Formatter<'_>, ip: Ipv4Addr, after: Duration) -> fmt::Result {
    write!(
        f,
        "the router answers at {ip}, {} s after the transfer",
        after.as_secs()
    )
}
