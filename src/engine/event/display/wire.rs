//! The wire watch's events: what went over the cable, and what it means.

use std::fmt::{self, Formatter};

use crate::net::observe::WireSign;
use crate::net::wire::WireEvent;

pub(super) fn wire(f: &mut Formatter<'_>, wire: &WireEvent) -> fmt::Result {
    write!(f, "wire: {wire}")
}

pub(super) fn noticed(f: &mut Formatter<'_>, finding: &WireSign) -> fmt::Result {
    write!(f, "! {finding}")
}
