//! An I/O failure as plain data, for the sans-I/O machines' inputs: they must stay `Clone` and
//! `PartialEq` (tests replay them), which `std::io::Error` is not. It keeps what code can
//! match on (the [`io::ErrorKind`]) and the words the user reads, unchanged.

use std::fmt;
use std::io;

/// What an I/O operation reported: its kind and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoFailure {
    /// The kind, as `std::io` classifies it (`ConnectionRefused`, `TimedOut`, ...).
    pub kind: io::ErrorKind,
    /// The message, as the operating system or the library worded it.
    pub message: String,
}

impl IoFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: io::ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<&io::Error> for IoFailure {
    fn from(err: &io::Error) -> Self {
        Self::new(err.kind(), err.to_string())
    }
}

impl From<io::Error> for IoFailure {
    fn from(err: io::Error) -> Self {
        Self::from(&err)
    }
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_keeps_its_kind_and_its_words() {
        let err = io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused");
        let failure = IoFailure::from(&err);
        assert_eq!(failure.kind, io::ErrorKind::ConnectionRefused);
        assert_eq!(failure.to_string(), err.to_string());
    }
}
