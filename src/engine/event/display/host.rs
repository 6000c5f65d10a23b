//! The host's events: the network changes asked for, made, noticed and undone.

use std::fmt::{self, Formatter};

pub(super) fn consent_needed(f: &mut Formatter<'_>, changes: &[String]) -> fmt::Result {
    write!(f, "rescue-wizard will:")?;
    for change in changes {
        write!(f, "\n  {change}")?;
    }
    Ok(())
}

pub(super) fn changed(f: &mut Formatter<'_>, change: &str) -> fmt::Result {
    write!(f, "changed: {change}")
}

pub(super) fn noticed(f: &mut Formatter<'_>, what: &str) -> fmt::Result {
    f.write_str(what)
}

pub(super) fn restored(f: &mut Formatter<'_>, change: &str) -> fmt::Result {
    write!(f, "restored: {change} undone")
}

pub(super) fn restore_failed(f: &mut Formatter<'_>, change: &str, error: &str) -> fmt::Result {
    write!(
        f,
        "could not undo {change}: {error}; undo it by hand (the next start of rescue-wizard retries)"
    )
}

pub(super) fn setup_failed(f: &mut Formatter<'_>, error: &str) -> fmt::Result {
    write!(f, "the network could not be set up: {error}")
}
