//! Every default rescue-wizard falls back on, each a named constant, and the one rule that
//! layers a value: what the technician gave (the command line, or the wizard) over what the
//! device profile says over the default here.
//!
//! The command line's fields are `Option`s without defaults of their own (`cli`), its help
//! shows these constants, and the commands and the plan builder ask [`layer`] for the value
//! they use. So a default is written once, and a profile value is never hidden by a default
//! the command line filled in.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The recovery run: how long to wait for the router to speak before giving up (`--wait`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(10);

/// The recovery run: no router activity for this long counts as a stall, and the checklist
/// is shown (`--stall-after`).
pub const STALL_AFTER: Duration = Duration::from_mins(1);

/// How long flashing takes when neither the run nor the profile says: most consumer routers
/// write and reboot within three minutes.
pub const DEFAULT_FLASH: Duration = Duration::from_mins(3);

/// The TFTP port: ours when the router pulls, the router's when we push (`--port`). The
/// well-known port of RFC 1350, the one the wire watch recognises.
pub const TFTP_PORT: u16 = crate::net::wire::TFTP_PORT;

/// The prefix of an address the profile does not give one for (the watch's adopted server
/// address, NMRP's default laptop address): a /24, what consumer routers use.
pub const HOST_PREFIX: u8 = 24;

/// The serial console's baud rate when neither `--baud` nor the profile names one: U-Boot's
/// and CFE's usual rate.
pub const BAUD: u32 = 115_200;

/// `serve`: the address it listens on (every address of this host).
pub const SERVE_BIND: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// `serve --allow-write`: the largest upload accepted (`--max-write-size`), in bytes.
pub const MAX_WRITE_SIZE: u64 = 512 * 1024 * 1024;

/// `serve --allow-write`: the most bytes all uploads of one run may store together
/// (`--write-quota`).
pub const WRITE_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// `serve`: stop after this many finished transfers (`--exit-after`); 0 runs until Ctrl-C.
pub const SERVE_EXIT_AFTER: u32 = 0;

/// `push`: how long to keep asking the bootloader before giving up (`--wait`): long enough to
/// start before the router is up.
pub const PUSH_WAIT: Duration = Duration::from_mins(1);

/// `get`: how long to keep asking the server before giving up (`--wait`).
pub const GET_WAIT: Duration = Duration::from_secs(10);

/// `get`: the largest file accepted (`--max-size`), in bytes.
pub const GET_MAX_SIZE: u64 = 256 * 1024 * 1024;

/// `probe`: requests of each kind (`--count`).
pub const PROBE_COUNT: u16 = 3;

/// `demo`: how long the simulated router takes to write its flash (`--flash-seconds`).
pub const DEMO_FLASH: Duration = Duration::from_secs(8);

/// `demo`: how long the run waits for the simulated router (it asks within a second).
pub const DEMO_TIMEOUT: Duration = Duration::from_mins(1);

/// The one layering rule: the technician's value when given, else the profile's, else the
/// default.
pub fn layer<T>(given: Option<T>, profile: Option<T>, default: T) -> T {
    given.or(profile).unwrap_or(default)
}

/// A number of seconds from the command line as a duration, else `default`.
pub fn seconds(given: Option<u64>, default: Duration) -> Duration {
    layer(given.map(Duration::from_secs), None, default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_technician_beats_the_profile_beats_the_default() {
        assert_eq!(layer(Some(57_600), Some(38_400), BAUD), 57_600);
        assert_eq!(layer(None, Some(38_400), BAUD), 38_400);
        assert_eq!(layer(None, None, BAUD), 115_200);
    }

    #[test]
    fn seconds_given_are_taken_and_absent_ones_default() {
        assert_eq!(seconds(Some(5), DEFAULT_TIMEOUT), Duration::from_secs(5));
        assert_eq!(seconds(None, DEFAULT_TIMEOUT), Duration::from_mins(10));
        assert_eq!(seconds(None, STALL_AFTER), Duration::from_mins(1));
    }
}
