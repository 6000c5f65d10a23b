//! The TFTP transfer's events: the server, its self-test, the router's request, the transfer.

use std::fmt::{self, Formatter};
use std::net::SocketAddr;
use std::time::Duration;

pub(super) fn server_start_failed(f: &mut Formatter<'_>, error: &str) -> fmt::Result {
    write!(f, "the TFTP server could not start: {error}")
}

pub(super) fn listening(f: &mut Formatter<'_>, addr: &SocketAddr) -> fmt::Result {
    write!(f, "TFTP server listening on {addr}")
}

pub(super) fn self_test_passed(f: &mut Formatter<'_>, bytes: u64, took: Duration) -> fmt::Result {
    write!(
        f,
        "self-test passed: our own server handed out the first {bytes} bytes in {:.3} s; first and last blocks match the image",
        took.as_secs_f64()
    )
}

pub(super) fn self_test_failed(f: &mut Formatter<'_>, reason: &str) -> fmt::Result {
    write!(f, "self-test failed: {reason}")
}

pub(super) fn request_received(
    f: &mut Formatter<'_>,
    peer: &SocketAddr,
    file: &str,
) -> fmt::Result {
    write!(f, "the router at {peer} asks for \"{file}\"")
}

pub(super) fn started(
    f: &mut Formatter<'_>,
    peer: &SocketAddr,
    blksize: u16,
    windowsize: u16,
    total: u64,
) -> fmt::Result {
    write!(
        f,
        "transfer to {peer}: {total} bytes in {blksize}-byte blocks, window {windowsize}"
    )
}

pub(super) fn progressed(f: &mut Formatter<'_>, bytes: u64, total: u64) -> fmt::Result {
    // Nothing to move is all moved.
    let percent = bytes.saturating_mul(100).checked_div(total).unwrap_or(100);
    write!(f, "{bytes}/{total} bytes ({percent}%)")
}

pub(super) fn finished(
    f: &mut Formatter<'_>,
    peer: &SocketAddr,
    bytes: u64,
    took: Duration,
    confirmed: bool,
) -> fmt::Result {
    write!(
        f,
        "transfer to {peer} finished: {bytes} bytes in {:.1} s",
        took.as_secs_f64()
    )?;
    if !confirmed {
        write!(
            f,
            " (the last acknowledgement never came: the router may already be writing)"
        )?;
    }
    Ok(())
}

pub(super) fn failed(
    f: &mut Formatter<'_>,
    peer: Option<&SocketAddr>,
    reason: &str,
) -> fmt::Result {
    match peer {
        Some(peer) => write!(f, "transfer with {peer} failed: {reason}"),
        None => write!(f, "failed: {reason}"),
    }
}
