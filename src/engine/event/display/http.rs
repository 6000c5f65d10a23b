//! The web-failsafe method's events: the upload page, the upload and the page's answer.

use std::fmt::{self, Formatter};

pub(super) fn page_down(f: &mut Formatter<'_>, reason: &str, tries: u32) -> fmt::Result {
    write!(
        f,
        "the router's upload page does not answer yet ({reason}; {tries} tries): trying again"
    )
}

pub(super) fn page_up(f: &mut Formatter<'_>, attempt: u32) -> fmt::Result {
    write!(
        f,
        "the router's upload page answered: uploading (attempt {attempt})"
    )
}

pub(super) fn retrying(
    f: &mut Formatter<'_>,
    reason: &str,
    attempt: u32,
    reached: u64,
) -> fmt::Result {
    write!(
        f,
        "the connection to the upload page was lost after {reached} bytes ({reason}): starting again from the first byte (attempt {attempt})"
    )
}

pub(super) fn verified(f: &mut Formatter<'_>, size: u64, md5: &str) -> fmt::Result {
    write!(
        f,
        "the page received exactly the image ({size} bytes, MD5 {md5})"
    )
}

pub(super) fn answered(f: &mut Formatter<'_>, said: &str, accepted: bool) -> fmt::Result {
    if accepted {
        write!(f, "the page said {said}: the router is writing flash")
    } else {
        write!(f, "the page said \"{said}\"")
    }
}
