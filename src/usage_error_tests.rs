//! [`UsageError`] keeps its source, and [`error_text`] prints what the user read before it did.

use std::error::Error as _;
use std::io;

use super::{Outcome, UsageError, error_text, exit_code_for};

fn missing() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "No such file or directory (os error 2)",
    )
}

#[test]
fn a_usage_error_prints_its_message_once_and_keeps_its_source() {
    let message = format!(
        "cannot read the image fw.bin: {}.\n  fix: check the path",
        missing()
    );
    let err = anyhow::Error::from(UsageError::with_source(message.clone(), missing()));
    assert_eq!(error_text(&err), message);
    assert_eq!(exit_code_for(&err), Outcome::BadInput);
    let cause = err.chain().nth(1).expect("the source is in the chain");
    let io = cause
        .downcast_ref::<io::Error>()
        .expect("the source is the io::Error");
    assert_eq!(io.kind(), io::ErrorKind::NotFound);
}

#[test]
fn from_source_says_what_its_source_says() {
    let usage = UsageError::from_source(missing());
    assert_eq!(usage.message(), missing().to_string());
    assert_eq!(usage.to_string(), missing().to_string());
    let source = usage.source().expect("the source is kept");
    assert_eq!(source.to_string(), missing().to_string());
}

#[test]
fn new_has_no_source() {
    let usage = UsageError::new("nothing was changed");
    assert_eq!(usage.to_string(), "nothing was changed");
    assert!(usage.source().is_none());
}

#[test]
fn context_above_a_usage_error_is_printed_before_it() {
    let err = anyhow::Error::from(UsageError::from_source(missing())).context("loading fw.bin");
    assert_eq!(
        error_text(&err),
        "loading fw.bin: No such file or directory (os error 2)"
    );
    assert_eq!(exit_code_for(&err), Outcome::BadInput);
}

#[test]
fn other_errors_print_their_whole_chain_as_before() {
    let err = anyhow::Error::from(missing()).context("sending fw.bin");
    assert_eq!(error_text(&err), format!("{err:#}"));
    assert_eq!(
        error_text(&err),
        "sending fw.bin: No such file or directory (os error 2)"
    );
    assert_eq!(exit_code_for(&err), Outcome::TransferFailed);
}
