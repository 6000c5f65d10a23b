//! Why a method's leg could not start, or could go on no longer, as data the run machine can
//! replay (`Clone`, `Eq`, which `std::io::Error` is not): the plan lacked what the leg needs,
//! the lease's settings do not work, or the system refused, with the kind of its refusal kept.
//! Its text is the words the technician reads.

use crate::dhcp::lease::ConfigError;
use crate::net::io_failure::IoFailure;

/// Why a leg (the serial console, the NMRP port, the DHCP/BOOTP responder) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegFailure {
    /// The run's plan lacks what the leg needs (a run planned for another method): what it
    /// lacks, in words.
    #[error("{0}")]
    Unplanned(&'static str),
    /// The DHCP lease's addresses or boot file do not work.
    #[error(transparent)]
    Lease(#[from] ConfigError),
    /// The system refused (the serial port, the raw socket, the DHCP port): its kind and its
    /// words.
    #[error("{0}")]
    Io(IoFailure),
}

impl LegFailure {
    /// The kind of the system's refusal, when the system refused.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Self::Io(failure) => Some(failure.kind),
            Self::Unplanned(_) | Self::Lease(_) => None,
        }
    }
}
