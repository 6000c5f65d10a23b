//! Why our TFTP upload to the router failed, as the NMRP session's input and outcome: how the
//! push ended, with the words the technician reads (the TFTP client's own, unchanged). Plain
//! data (`Clone`, `Eq`) so the sans-I/O session can keep it in its outcome.

use crate::net::io_failure::IoFailure;
use crate::tftp::client::ClientError;

/// How the push to the router's TFTP server ended, when it did not end well.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadFailure {
    /// The router's TFTP server never answered the write request.
    #[error("{0}")]
    NoAnswer(String),
    /// It answered the write request with a TFTP error, or with options that cannot be used
    /// (RFC 1350 §5, RFC 2347).
    #[error("{0}")]
    Refused(String),
    /// It answered in plain text instead of TFTP: the router's own rejection (Netgear's
    /// EX2700 says so when the image's checksum fails).
    #[error("{words}")]
    RouterSaid {
        /// Its words, escaped and capped for display.
        text: String,
        /// The whole failure, as the technician reads it.
        words: String,
    },
    /// The transfer began and then failed (silence, an ERROR packet, a block too large).
    #[error("{0}")]
    Transfer(String),
    /// This computer's socket failed: its kind and its words.
    #[error("{0}")]
    Socket(IoFailure),
}

impl From<&ClientError> for UploadFailure {
    fn from(err: &ClientError) -> Self {
        let words = err.to_string();
        match err {
            ClientError::NoAnswer { .. } => Self::NoAnswer(words),
            ClientError::Refused { .. } | ClientError::BadOptions { .. } => Self::Refused(words),
            ClientError::PeerSaid { text, .. } => Self::RouterSaid {
                text: text.clone(),
                words,
            },
            ClientError::Failed { .. } | ClientError::TooLarge { .. } | ClientError::Output(_) => {
                Self::Transfer(words)
            }
            ClientError::Io(source) => Self::Socket(IoFailure::new(source.kind(), words)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn a_client_error_keeps_its_kind_and_its_words() {
        let server = "192.168.1.1:69".parse().unwrap();
        let said = ClientError::PeerSaid {
            server,
            text: "checksum error".into(),
        };
        assert_eq!(
            UploadFailure::from(&said),
            UploadFailure::RouterSaid {
                text: "checksum error".into(),
                words: said.to_string(),
            }
        );
        let silent = ClientError::NoAnswer {
            server,
            ip: server.ip(),
            waited: 20,
        };
        assert_eq!(
            UploadFailure::from(&silent),
            UploadFailure::NoAnswer(silent.to_string())
        );
        let socket = ClientError::Io(io::Error::from(io::ErrorKind::NetworkUnreachable));
        let failure = UploadFailure::from(&socket);
        assert_eq!(
            failure,
            UploadFailure::Socket(IoFailure::new(
                io::ErrorKind::NetworkUnreachable,
                socket.to_string()
            ))
        );
        assert_eq!(failure.to_string(), socket.to_string());
    }
}
