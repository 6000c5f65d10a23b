//! The serial console method's events: the port, the bootloader's lines, what was typed, the
//! checksums, the flash and the questions.

use std::fmt::{self, Formatter};
use std::path::Path;

pub(super) fn opened(f: &mut Formatter<'_>, port: &Path, baud: u32) -> fmt::Result {
    write!(
        f,
        "serial console {} open at {baud} baud: nothing is typed until the bootloader speaks",
        port.display()
    )
}

pub(super) fn line(f: &mut Formatter<'_>, line: &str) -> fmt::Result {
    write!(f, "console| {line}")
}

pub(super) fn noted(f: &mut Formatter<'_>, what: &str) -> fmt::Result {
    write!(f, "console: {what}")
}

pub(super) fn typed(f: &mut Formatter<'_>, command: &str) -> fmt::Result {
    write!(f, "console: typed `{command}`")
}

pub(super) fn crc(
    f: &mut Formatter<'_>,
    region: &str,
    ours: &str,
    theirs: &str,
    equal: bool,
) -> fmt::Result {
    write!(
        f,
        "console: CRC-32 of {region}: bootloader {theirs}, ours {ours}: {}",
        if equal { "equal" } else { "DIFFERENT" }
    )
}

pub(super) fn flash(f: &mut Formatter<'_>, state: &str, note: &str) -> fmt::Result {
    write!(f, "console: flash {state}: {note}")
}

pub(super) fn transcript(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    write!(
        f,
        "console: transcript of {} line(s) kept for the report",
        text.lines().count()
    )
}

pub(super) fn write_asked(f: &mut Formatter<'_>, what: &str) -> fmt::Result {
    write!(f, "console: the image is proven; {what}?")
}

pub(super) fn awaiting(f: &mut Formatter<'_>, next: Option<&str>, what: &str) -> fmt::Result {
    match next {
        Some(command) => write!(
            f,
            "console: about to type `{command}`, then waiting for {what}"
        ),
        None => write!(f, "console: waiting for {what}"),
    }
}

pub(super) fn ram_boot(f: &mut Formatter<'_>, what: &str, chosen: bool) -> fmt::Result {
    write!(
        f,
        "console: {what}{}",
        if chosen {
            ""
        } else {
            ": the wizard's B at this question, or --ram-boot on the command line"
        }
    )
}
