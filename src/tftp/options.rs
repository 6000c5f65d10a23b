//! Option negotiation: RFC 2347 (the OACK), RFC 2348 (blksize), RFC 2349 (timeout, tsize)
//! and RFC 7440 (windowsize), for the server answering a request and for the client checking
//! an OACK.

use std::time::Duration;

use super::packet::{DEFAULT_BLKSIZE, ErrorCode, RawOption, escape_text};

/// The smallest block size RFC 2348 allows.
pub const MIN_BLKSIZE: u16 = 8;
/// The largest block size RFC 2348 allows.
pub const MAX_BLKSIZE: u16 = 65_464;
/// The default block size cap: 1500-byte Ethernet MTU minus IP (20), UDP (8) and TFTP (4)
/// headers, so nothing is fragmented on an Ethernet link (tftpd-hpa's man page recommends it;
/// U-Boot asks for exactly this).
pub const DEFAULT_MAX_BLKSIZE: u16 = 1468;
/// The default window size cap (RFC 7440). Bootloader NICs have tiny receive rings (U-Boot's
/// `SYS_RX_ETH_BUFFER` defaults to 4), so the cap stays modest.
pub const DEFAULT_MAX_WINDOWSIZE: u16 = 16;

/// What the server grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionPolicy {
    /// Whether options are considered at all. Off: plain RFC 1350, never an OACK, for
    /// bootloaders that misbehave when one arrives.
    pub enabled: bool,
    /// Largest blksize granted.
    pub max_blksize: u16,
    /// Largest windowsize granted.
    pub max_windowsize: u16,
    /// Answer an invalid option value with ERROR 8 (as tftpd-hpa and atftpd do) instead of
    /// leaving the option out of the OACK.
    pub strict: bool,
}

impl Default for OptionPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            max_blksize: DEFAULT_MAX_BLKSIZE,
            max_windowsize: DEFAULT_MAX_WINDOWSIZE,
            strict: false,
        }
    }
}

/// The parameters a transfer runs with once negotiation is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// Data bytes per block.
    pub blksize: u16,
    /// Blocks sent before an ACK is awaited (1: lock-step).
    pub windowsize: u16,
    /// The retransmission timeout the client asked for, if granted.
    pub timeout: Option<Duration>,
    /// The transfer size announced, if any.
    pub tsize: Option<u64>,
}

impl Default for Agreed {
    fn default() -> Self {
        Self {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: None,
            tsize: None,
        }
    }
}

/// What a request is for, as far as negotiation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A read request for a file of this many bytes (as sent on the wire).
    Read {
        /// The size of what will be sent.
        size: u64,
    },
    /// A write request; uploads larger than this are refused.
    Write {
        /// The largest upload accepted.
        limit: u64,
    },
}

/// The server's answer to a request's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// What the transfer runs with.
    pub agreed: Agreed,
    /// The OACK to send; empty means no OACK (plain RFC 1350 start).
    pub oack: Vec<RawOption>,
    /// Options left out and why, for the technician's log.
    pub ignored: Vec<(RawOption, &'static str)>,
}

/// The request must be refused with this error instead of answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The error code to send.
    pub code: ErrorCode,
    /// The message to send.
    pub message: String,
}

/// Parses an option value as RFC 2347 means it: decimal digits only, no sign, no spaces.
fn parse_number(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Negotiates a request's options as a server. `mtu_blksize` is the block size that fits the
/// link the request came in on (MTU minus 32), when known.
///
/// Rules (RFC 2347 "Negotiation Protocol"): only options asked for appear in the OACK, with the
/// client's spelling; unknown options are ignored; a value that is invalid leaves its option
/// out (never echoed changed); a granted value is never larger than asked; the first of
/// duplicated options wins.
pub fn negotiate(
    requested: &[RawOption],
    direction: Direction,
    policy: &OptionPolicy,
    mtu_blksize: Option<u16>,
) -> Result<Negotiation, Refusal> {
    let mut result = Negotiation {
        agreed: Agreed::default(),
        oack: Vec::new(),
        ignored: Vec::new(),
    };
    if !policy.enabled {
        result
            .ignored
            .extend(requested.iter().map(|o| (o.clone(), "options are off")));
        return Ok(result);
    }
    let mut seen: Vec<&'static str> = Vec::new();
    for option in requested {
        let Some(known) = ["blksize", "timeout", "tsize", "windowsize"]
            .into_iter()
            .find(|name| option.is(name))
        else {
            // multicast (RFC 2090) lands here too: never acknowledged (CVE-2018-18439 class).
            result.ignored.push((option.clone(), "unknown option"));
            continue;
        };
        if seen.contains(&known) {
            result.ignored.push((option.clone(), "repeated option"));
            continue;
        }
        seen.push(known);
        let value = parse_number(&option.value);
        let granted = match (known, value) {
            ("blksize", Some(v))
                if (u64::from(MIN_BLKSIZE)..=u64::from(MAX_BLKSIZE)).contains(&v) =>
            {
                let cap = mtu_blksize.map_or(policy.max_blksize, |m| m.min(policy.max_blksize));
                let size = (v as u16).min(cap.max(MIN_BLKSIZE));
                result.agreed.blksize = size;
                Some(size.to_string())
            }
            // RFC 2349: an accepting server's timeout "must match the value specified by the
            // client"; U-Boot aborts when it does not. Never clamp, only accept or omit.
            ("timeout", Some(v)) if (1..=255).contains(&v) => {
                result.agreed.timeout = Some(Duration::from_secs(v));
                Some(v.to_string())
            }
            ("tsize", Some(v)) => match direction {
                // In a read request the client sends 0; answer the real size whatever it sent.
                Direction::Read { size } => {
                    result.agreed.tsize = Some(size);
                    Some(size.to_string())
                }
                Direction::Write { limit } => {
                    if v > limit {
                        return Err(Refusal {
                            code: ErrorCode::DISK_FULL,
                            message: format!("upload of {v} bytes exceeds the limit of {limit}"),
                        });
                    }
                    result.agreed.tsize = Some(v);
                    Some(v.to_string())
                }
            },
            ("windowsize", Some(v)) if (1..=65_535).contains(&v) => {
                let size = (v as u16).min(policy.max_windowsize.max(1));
                result.agreed.windowsize = size;
                Some(size.to_string())
            }
            _ => None,
        };
        match granted {
            Some(value) => result.oack.push(RawOption::new(option.name.clone(), value)),
            None if policy.strict => {
                return Err(Refusal {
                    code: ErrorCode::OPTION_NEGOTIATION,
                    message: format!(
                        "unsupported value \"{}\" for {}",
                        escape_text(&option.value),
                        escape_text(&option.name)
                    ),
                });
            }
            None => result.ignored.push((option.clone(), "invalid value")),
        }
    }
    Ok(result)
}

/// What a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientOptions {
    /// Ask for this block size.
    pub blksize: Option<u16>,
    /// Ask for this window size.
    pub windowsize: Option<u16>,
    /// Ask for this timeout, in seconds.
    pub timeout: Option<u8>,
    /// Send tsize: the upload's size in a write request, 0 in a read request.
    pub tsize: Option<u64>,
}

impl ClientOptions {
    /// Whether any option is asked for at all.
    pub fn any(&self) -> bool {
        self.blksize.is_some()
            || self.windowsize.is_some()
            || self.timeout.is_some()
            || self.tsize.is_some()
    }

    /// The options as they go into a request.
    pub fn to_raw(self) -> Vec<RawOption> {
        let mut raw = Vec::new();
        if let Some(v) = self.blksize {
            raw.push(RawOption::new("blksize", v.to_string()));
        }
        if let Some(v) = self.timeout {
            raw.push(RawOption::new("timeout", v.to_string()));
        }
        if let Some(v) = self.tsize {
            raw.push(RawOption::new("tsize", v.to_string()));
        }
        if let Some(v) = self.windowsize {
            raw.push(RawOption::new("windowsize", v.to_string()));
        }
        raw
    }

    /// Checks a server's OACK against what was asked (RFC 2347; the checks U-Boot makes):
    /// an option not asked for, a blksize or windowsize larger than asked, a timeout that
    /// differs, a repeated option or a malformed value is refused with the reason.
    pub fn accept_oack(&self, oack: &[RawOption]) -> Result<Agreed, String> {
        let mut agreed = Agreed::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for option in oack {
            let known = ["blksize", "timeout", "tsize", "windowsize"]
                .into_iter()
                .find(|name| option.is(name))
                .ok_or_else(|| {
                    format!(
                        "the server acknowledged an option never asked for: {}",
                        escape_text(&option.name)
                    )
                })?;
            if seen.contains(&known) {
                return Err(format!("the server acknowledged {known} twice"));
            }
            seen.push(known);
            let value = parse_number(&option.value).ok_or_else(|| {
                format!(
                    "the server sent an invalid {known} value \"{}\"",
                    escape_text(&option.value)
                )
            })?;
            match known {
                "blksize" => {
                    let asked = self
                        .blksize
                        .ok_or("the server acknowledged blksize, never asked for")?;
                    if value < u64::from(MIN_BLKSIZE) || value > u64::from(asked) {
                        return Err(format!(
                            "the server chose blksize {value}, outside 8..={asked}"
                        ));
                    }
                    agreed.blksize = value as u16;
                }
                "timeout" => {
                    let asked = self
                        .timeout
                        .ok_or("the server acknowledged timeout, never asked for")?;
                    if value != u64::from(asked) {
                        return Err(format!(
                            "the server changed timeout from {asked} to {value}"
                        ));
                    }
                    agreed.timeout = Some(Duration::from_secs(value));
                }
                "tsize" => {
                    if self.tsize.is_none() {
                        return Err("the server acknowledged tsize, never asked for".into());
                    }
                    agreed.tsize = Some(value);
                }
                _ => {
                    let asked = self
                        .windowsize
                        .ok_or("the server acknowledged windowsize, never asked for")?;
                    if value == 0 || value > u64::from(asked) {
                        return Err(format!(
                            "the server chose windowsize {value}, outside 1..={asked}"
                        ));
                    }
                    agreed.windowsize = value as u16;
                }
            }
        }
        Ok(agreed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<RawOption> {
        pairs.iter().map(|(n, v)| RawOption::new(*n, *v)).collect()
    }

    fn read(size: u64) -> Direction {
        Direction::Read { size }
    }

    #[test]
    fn uboot_request_is_echoed_exactly() {
        // Case 4: blksize 1468 tsize 0 timeout 5 → exactly those, tsize the real size.
        let n = negotiate(
            &opts(&[("blksize", "1468"), ("tsize", "0"), ("timeout", "5")]),
            read(8_000_000),
            &OptionPolicy::default(),
            Some(1468),
        )
        .unwrap();
        assert_eq!(
            n.oack,
            opts(&[("blksize", "1468"), ("tsize", "8000000"), ("timeout", "5")])
        );
        assert_eq!(n.agreed.blksize, 1468);
        assert_eq!(n.agreed.timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn blksize_is_capped_never_raised() {
        // Case 5: 9000 on an Ethernet link → 1468.
        let n = negotiate(
            &opts(&[("blksize", "9000")]),
            read(1),
            &OptionPolicy::default(),
            Some(1468),
        )
        .unwrap();
        assert_eq!(n.oack, opts(&[("blksize", "1468")]));
        let n = negotiate(
            &opts(&[("blksize", "600")]),
            read(1),
            &OptionPolicy::default(),
            None,
        )
        .unwrap();
        assert_eq!(n.oack, opts(&[("blksize", "600")]));
        // Case 6: 65464 over loopback with a raised cap.
        let policy = OptionPolicy {
            max_blksize: MAX_BLKSIZE,
            ..OptionPolicy::default()
        };
        let n = negotiate(
            &opts(&[("blksize", "65464")]),
            read(1),
            &policy,
            Some(65_504),
        )
        .unwrap();
        assert_eq!(n.agreed.blksize, 65_464);
    }

    #[test]
    fn invalid_values_are_left_out() {
        // Cases 6, 7, 8, 22, 38.
        for (name, value) in [
            ("blksize", "65465"),
            ("blksize", "7"),
            ("blksize", "0"),
            ("blksize", "-1"),
            ("blksize", "512abc"),
            ("blksize", " 512"),
            ("blksize", ""),
            ("blksize", "99999999999999999999"),
            ("timeout", "0"),
            ("timeout", "256"),
            ("timeout", "abc"),
            ("windowsize", "0"),
            ("windowsize", "70000"),
        ] {
            let n = negotiate(
                &opts(&[(name, value)]),
                read(10),
                &OptionPolicy::default(),
                None,
            )
            .unwrap();
            assert!(n.oack.is_empty(), "{name}={value:?} must be omitted");
            assert_eq!(n.agreed, Agreed::default());
            let strict = OptionPolicy {
                strict: true,
                ..OptionPolicy::default()
            };
            let refusal = negotiate(&opts(&[(name, value)]), read(10), &strict, None).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::OPTION_NEGOTIATION);
        }
    }

    #[test]
    fn unknown_options_and_multicast_are_ignored() {
        // Cases 11, 54.
        let n = negotiate(
            &opts(&[("foo", "1"), ("multicast", ""), ("blksizex", "512")]),
            read(10),
            &OptionPolicy::default(),
            None,
        )
        .unwrap();
        assert!(n.oack.is_empty());
        assert_eq!(n.ignored.len(), 3);
    }

    #[test]
    fn names_ignore_case_and_keep_spelling() {
        // Case 12.
        let n = negotiate(
            &opts(&[("BLKSIZE", "1024")]),
            read(10),
            &OptionPolicy::default(),
            None,
        )
        .unwrap();
        assert_eq!(n.oack, opts(&[("BLKSIZE", "1024")]));
    }

    #[test]
    fn first_of_repeated_options_wins() {
        // Case 40.
        let n = negotiate(
            &opts(&[("blksize", "512"), ("blksize", "1468")]),
            read(10),
            &OptionPolicy::default(),
            None,
        )
        .unwrap();
        assert_eq!(n.oack, opts(&[("blksize", "512")]));
    }

    #[test]
    fn tsize_read_and_write() {
        // Case 9: a non-zero tsize in a read request gets the real size.
        let n = negotiate(
            &opts(&[("tsize", "12345")]),
            read(77),
            &OptionPolicy::default(),
            None,
        )
        .unwrap();
        assert_eq!(n.oack, opts(&[("tsize", "77")]));
        // Case 10: write requests echo, and over the limit is ERROR 3.
        let w = Direction::Write { limit: 5000 };
        let n = negotiate(
            &opts(&[("tsize", "4096")]),
            w,
            &OptionPolicy::default(),
            None,
        )
        .unwrap();
        assert_eq!(n.oack, opts(&[("tsize", "4096")]));
        let refusal = negotiate(
            &opts(&[("tsize", "5001")]),
            w,
            &OptionPolicy::default(),
            None,
        )
        .unwrap_err();
        assert_eq!(refusal.code, ErrorCode::DISK_FULL);
    }

    #[test]
    fn windowsize_is_capped() {
        // Case 22.
        let policy = OptionPolicy {
            max_windowsize: 8,
            ..OptionPolicy::default()
        };
        let n = negotiate(&opts(&[("windowsize", "64")]), read(1), &policy, None).unwrap();
        assert_eq!(n.oack, opts(&[("windowsize", "8")]));
        let n = negotiate(&opts(&[("windowsize", "4")]), read(1), &policy, None).unwrap();
        assert_eq!(n.agreed.windowsize, 4);
    }

    #[test]
    fn options_off_means_plain_rfc1350() {
        let policy = OptionPolicy {
            enabled: false,
            ..OptionPolicy::default()
        };
        let n = negotiate(
            &opts(&[("blksize", "1468"), ("timeout", "5")]),
            read(1),
            &policy,
            None,
        )
        .unwrap();
        assert!(n.oack.is_empty());
        assert_eq!(n.agreed, Agreed::default());
    }

    #[test]
    fn oack_within_one_datagram_with_tiny_blksize() {
        // Case 39 (CVE-2021-41054 class): the OACK's size never depends on the data buffer.
        let mut requested = opts(&[
            ("blksize", "8"),
            ("timeout", "3"),
            ("tsize", "0"),
            ("windowsize", "4"),
        ]);
        for i in 0..20 {
            requested.push(RawOption::new(
                format!("unknown-option-{i:02}-{}", "x".repeat(40)),
                "1",
            ));
        }
        let n = negotiate(&requested, read(100), &OptionPolicy::default(), None).unwrap();
        assert_eq!(n.oack.len(), 4);
        assert_eq!(n.agreed.blksize, 8);
    }

    #[test]
    fn client_checks_the_oack() {
        let asked = ClientOptions {
            blksize: Some(1468),
            windowsize: Some(4),
            timeout: Some(5),
            tsize: Some(0),
        };
        let agreed = asked
            .accept_oack(&opts(&[
                ("blksize", "1024"),
                ("windowsize", "2"),
                ("timeout", "5"),
                ("tsize", "99"),
            ]))
            .unwrap();
        assert_eq!(agreed.blksize, 1024);
        assert_eq!(agreed.windowsize, 2);
        assert_eq!(agreed.tsize, Some(99));
        // Case 29 and 56.
        for bad in [
            opts(&[("blksize", "2048")]),
            opts(&[("blksize", "7")]),
            opts(&[("timeout", "6")]),
            opts(&[("windowsize", "8")]),
            opts(&[("xblksize", "512")]),
            opts(&[("blksize", "512"), ("blksize", "512")]),
            opts(&[("blksize", "51x")]),
        ] {
            assert!(asked.accept_oack(&bad).is_err(), "{bad:?}");
        }
        let nothing = ClientOptions::default();
        assert!(nothing.accept_oack(&opts(&[("windowsize", "4")])).is_err());
    }
}
