//! Every default rescue-wizard falls back on, each a named constant, and the one rule that
//! layers a value: what the technician gave (the command line, or the wizard) over what the
//! device profile says over the default here.
//!
//! The command line's fields are `Option`s without defaults of their own (`cli`), its help
//! shows these constants. A recovery run's values are layered once, by [`layered`], from what
//! the technician gave ([`Given`]) and the profile; the other commands ask [`layer`] and
//! [`seconds`] for theirs. So a default is written once, and a profile value is never hidden
//! by a default the command line filled in.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use crate::profile::Profile;

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

/// The name a transfer gives the image when neither the profile nor the image file names it.
pub const IMAGE_NAME: &str = "firmware.bin";

/// The one layering rule: the technician's value when given, else the profile's, else the
/// default.
pub fn layer<T>(given: Option<T>, profile: Option<T>, default: T) -> T {
    given.or(profile).unwrap_or(default)
}

/// Which layer a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The technician (the command line, the wizard, the demo).
    Given,
    /// The device profile.
    Profile,
    /// The named default here.
    Default,
}

/// [`layer`], saying which layer the value came from.
pub fn layer_traced<T>(given: Option<T>, profile: Option<T>, default: T) -> (T, Layer) {
    match (given, profile) {
        (Some(value), _) => (value, Layer::Given),
        (None, Some(value)) => (value, Layer::Profile),
        (None, None) => (default, Layer::Default),
    }
}

/// What the technician gave for a recovery run, each `None` when not given: the command
/// line's values, or the wizard's, or the demo's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given<'a> {
    /// `--wait`.
    pub timeout: Option<Duration>,
    /// `--stall-after`.
    pub stall_after: Option<Duration>,
    /// `--port`.
    pub port: Option<u16>,
    /// The flashing time (the demo's `--flash-seconds`).
    pub flash: Option<Duration>,
    /// `--region`.
    pub region: Option<&'a str>,
    /// `--baud`.
    pub baud: Option<u32>,
}

/// A recovery run's values, layered: the technician's over the profile's over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layered {
    /// How long to wait for the router to speak.
    pub timeout: Duration,
    /// No router activity for this long is a stall.
    pub stall_after: Duration,
    /// The TFTP port.
    pub port: u16,
    /// How long flashing takes.
    pub flash: Duration,
    /// Where `flash` came from.
    pub flash_origin: Layer,
    /// The region an NMRP bootloader is told, by name; none when neither names one.
    pub region: Option<String>,
    /// The serial console's baud rate.
    pub baud: u32,
}

/// The run's values for `profile`: each the technician's when given, else the profile's
/// where it has a field for it, else the named default.
pub fn layered(given: &Given<'_>, profile: &Profile) -> Layered {
    let profile_flash = profile
        .flash_seconds
        .map(|seconds| Duration::from_secs(u64::from(seconds)));
    let (flash, flash_origin) = layer_traced(given.flash, profile_flash, DEFAULT_FLASH);
    Layered {
        timeout: layer(given.timeout, None, DEFAULT_TIMEOUT),
        stall_after: layer(given.stall_after, None, STALL_AFTER),
        port: layer(given.port, None, TFTP_PORT),
        flash,
        flash_origin,
        region: given
            .region
            .or(profile.nmrp.region.as_deref())
            .map(str::to_owned),
        baud: layer(
            given.baud,
            profile.console.as_ref().and_then(|console| console.baud),
            BAUD,
        ),
    }
}

/// The name a transfer gives the image: the first the profile names, else the image file's
/// own, else [`IMAGE_NAME`].
pub fn image_name(named: Option<&str>, image: &Path) -> String {
    named.map_or_else(
        || {
            image.file_name().map_or_else(
                || IMAGE_NAME.to_owned(),
                |name| name.to_string_lossy().into_owned(),
            )
        },
        str::to_owned,
    )
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
    fn the_layer_a_value_came_from_is_told() {
        assert_eq!(layer_traced(Some(1), Some(2), 3), (1, Layer::Given));
        assert_eq!(layer_traced(None, Some(2), 3), (2, Layer::Profile));
        assert_eq!(layer_traced(None, None, 3), (3, Layer::Default));
    }

    #[test]
    fn a_run_without_given_values_takes_the_profiles_then_the_defaults() {
        let (catalogue, _) = crate::profile::Catalogue::load_default().unwrap();
        let plain = catalogue.lookup("tl-wr841n-v9").unwrap().profile.clone();
        let values = layered(&Given::default(), &plain);
        assert_eq!(values.timeout, DEFAULT_TIMEOUT);
        assert_eq!(values.stall_after, STALL_AFTER);
        assert_eq!(values.port, TFTP_PORT);
        assert_eq!(values.baud, BAUD);
        assert_eq!(values.region, None);
        let mut timed = plain.clone();
        timed.flash_seconds = Some(90);
        timed.nmrp.region = Some("NA".into());
        let values = layered(&Given::default(), &timed);
        assert_eq!(
            (values.flash, values.flash_origin),
            (Duration::from_secs(90), Layer::Profile)
        );
        assert_eq!(values.region.as_deref(), Some("NA"));
        let given = Given {
            timeout: Some(Duration::from_secs(5)),
            stall_after: Some(Duration::from_secs(7)),
            port: Some(6969),
            flash: Some(Duration::from_secs(8)),
            region: Some("WW"),
            baud: Some(57_600),
        };
        let values = layered(&given, &timed);
        assert_eq!(values.timeout, Duration::from_secs(5));
        assert_eq!(values.stall_after, Duration::from_secs(7));
        assert_eq!(values.port, 6969);
        assert_eq!(
            (values.flash, values.flash_origin),
            (Duration::from_secs(8), Layer::Given)
        );
        assert_eq!(values.region.as_deref(), Some("WW"));
        assert_eq!(values.baud, 57_600);
        assert_eq!(
            layered(&Given::default(), &plain).flash_origin,
            Layer::Default
        );
    }

    #[test]
    fn the_image_is_named_by_the_profile_else_by_its_file_else_by_the_default() {
        let image = Path::new("/tmp/wr841nv9-factory.bin");
        assert_eq!(image_name(Some("recovery.bin"), image), "recovery.bin");
        assert_eq!(image_name(None, image), "wr841nv9-factory.bin");
        assert_eq!(image_name(None, Path::new("/")), IMAGE_NAME);
    }

    #[test]
    fn seconds_given_are_taken_and_absent_ones_default() {
        assert_eq!(seconds(Some(5), DEFAULT_TIMEOUT), Duration::from_secs(5));
        assert_eq!(seconds(None, DEFAULT_TIMEOUT), Duration::from_mins(10));
        assert_eq!(seconds(None, STALL_AFTER), Duration::from_mins(1));
    }
}
