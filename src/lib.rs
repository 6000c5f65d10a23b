//! rescue-wizard brings bricked routers back: it knows each device's recovery procedure (a
//! [`profile`]), gives the laptop the address the bootloader expects, and moves the firmware the
//! way that bootloader wants it: it pulls over TFTP or we push over TFTP ([`tftp`]), Netgear's
//! NMRP ([`nmrp`]), DHCP/BOOTP then TFTP ([`dhcp`]), an HTTP failsafe page ([`http`]), or
//! commands typed at its serial console ([`console`]). It watches the wire to show what the
//! router is doing ([`net`]), walks through the checklist, and puts the laptop's network back.
//!
//! The library holds everything; `main.rs` only parses the command line and calls [`run`].
//! The layers, top to bottom (tests/layers.rs fails on an import that runs upward):
//! [`commands`] (one file per sub-command), [`cli`], [`ui`] (the wizard, the plain and JSON
//! front-ends), [`engine`] (the plan and the run: a sans-I/O machine and its driver), the
//! methods beside TFTP ([`dhcp`], [`nmrp`], [`http`], [`console`]), [`tftp`], then [`net`],
//! [`image`] and [`settings`], and [`profile`] at the bottom.

pub mod cli;
pub mod commands;
pub mod console;
pub mod dhcp;
pub mod engine;
pub mod http;
pub mod image;
pub mod net;
pub mod nmrp;
pub mod profile;
pub mod settings;
pub mod subnet;
pub mod tftp;
pub mod ui;

use std::process::ExitCode;

/// How a run ended, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done.
    Done,
    /// A transfer was attempted and failed.
    TransferFailed,
    /// The command line or an input file was wrong; nothing was attempted.
    BadInput,
    /// A checklist found something that will not work (`doctor`).
    ChecksFailed,
    /// The recovery run waited and the router never spoke.
    NothingHappened,
    /// The technician stopped the run (Ctrl-C, SIGTERM, SIGHUP); the network was restored.
    Interrupted,
}

impl Outcome {
    /// Every outcome, for tables and tests.
    pub const ALL: [Self; 6] = [
        Self::Done,
        Self::TransferFailed,
        Self::BadInput,
        Self::ChecksFailed,
        Self::NothingHappened,
        Self::Interrupted,
    ];

    /// The process exit status, as [`cli::EXIT_CODES`] explains it.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::TransferFailed | Outcome::ChecksFailed => 1,
            Outcome::BadInput => 2,
            Outcome::NothingHappened => 3,
            // 128 + SIGINT, as shells report a command stopped by Ctrl-C.
            Outcome::Interrupted => 130,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// An error the user caused and can fix (a missing image, a taken port, a bad address): exit 2.
///
/// Its message is the whole story the user reads: what failed, why, and the fix, quoting the
/// user's value. The error it came from, when there is one, stays its source, so code that
/// walks the chain still finds it; [`error_text`] does not print it a second time.
///
/// Errors of any other type reaching `main` mean a transfer failed: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl UsageError {
    /// An error that is the user's alone: no other error caused it.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error whose message is `source`'s own text, keeping `source` as its cause.
    pub fn from_source(
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        let source = source.into();
        Self {
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// An error with its own `message` (which already quotes what `source` said), caused by
    /// `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What the user reads.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The exit status for an error that reached `main`.
pub fn exit_code_for(err: &anyhow::Error) -> Outcome {
    if err.chain().any(<dyn std::error::Error>::is::<UsageError>) {
        Outcome::BadInput
    } else {
        Outcome::TransferFailed
    }
}

/// The text `main` prints for an error: each cause after the one before, joined by `: ` as
/// `{:#}` joins them, ending at a [`UsageError`], whose message already says what its source
/// said.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        if cause.is::<UsageError>() {
            break;
        }
    }
    text
}

/// Runs one command line to its end.
pub fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rescue-wizard")
        .build()?;
    runtime.block_on(commands::dispatch(cli))
}

/// [`UsageError`] keeps its source, and [`error_text`] prints what the user read before it did.
#[cfg(test)]
mod usage_error_tests {
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
}
