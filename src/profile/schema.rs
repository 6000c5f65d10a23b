//! The device profile schema: what one `devices/<id>.yaml` file may say.
//!
//! Every struct refuses unknown fields so that a misspelt key is an error with a suggestion,
//! never a silently ignored setting. docs/profiles.md documents each field with an example.

use std::fmt;
use std::net::Ipv4Addr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::subnet::Subnet;

/// One device's recovery procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// Slug naming the device, e.g. `tl-wr841n-v9`: lower-case letters, digits and dashes.
    pub id: String,
    /// Maker, e.g. `TP-Link`.
    pub vendor: String,
    /// Model as printed on the label, e.g. `TL-WR841N/ND`.
    pub model: String,
    /// Hardware revisions this profile covers, e.g. `v9`.
    #[serde(default)]
    pub revisions: Vec<String>,
    /// Other names people search for.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// How the bootloader takes a new image.
    pub method: Method,
    /// The address and prefix the laptop needs while the bootloader recovers.
    pub host: Option<Host>,
    /// The bootloader's own address during recovery.
    pub router: Option<Ipv4Addr>,
    /// The file name the bootloader asks for (pull) or expects (push).
    pub filename: Option<String>,
    /// Other file names seen in the wild for this device.
    #[serde(default)]
    pub alternate_filenames: Vec<String>,
    /// TFTP quirks of this bootloader.
    #[serde(default)]
    pub tftp: Tftp,
    /// What an NMRP bootloader (`method: nmrp`) is told.
    #[serde(default)]
    pub nmrp: Nmrp,
    /// The bootloader's upload page (method `http`): its flavour and what it says. Absent:
    /// the page is not described and the steps are followed by hand.
    pub http: Option<Http>,
    /// Which images the bootloader accepts and how to prepare them.
    #[serde(default)]
    pub image: Image,
    /// The human procedure, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// How long the device writes flash after the transfer: the "do not power off" phase.
    pub flash_seconds: Option<u32>,
    /// The address the router answers on once it has rebooted into the new firmware.
    pub after: Option<Ipv4Addr>,
    /// Other addresses the router is known to come back at (its stock firmware's, say, where
    /// `after` is OpenWrt's). A router heard at any of them after flashing is back.
    #[serde(default)]
    pub after_alternates: Vec<Ipv4Addr>,
    /// Size of the device's flash in bytes, where known: an image larger than this cannot be
    /// written whole.
    pub flash_size: Option<u64>,
    /// Where these facts come from (URLs).
    #[serde(default)]
    pub sources: Vec<String>,
    /// How sure the facts are.
    pub confidence: Confidence,
    /// Free text: caveats, unverified facts, traps.
    pub notes: Option<String>,
    /// The bootloader's serial console, for devices recovered from it (docs/console.md).
    /// Absent: a recognised bootloader still gets the safe part (stop, load, CRC-32 compare)
    /// and nothing is written to flash.
    pub console: Option<Console>,
    /// What a DHCP/BOOTP bootloader (`method: dhcp-tftp` or `bootp-tftp`) is given, and who is
    /// answered (docs/dhcp.md). Absent: every default.
    #[serde(default)]
    pub dhcp: Dhcp,
}

impl Profile {
    /// Whether rescue-wizard can carry out this device's recovery itself: its method is one the
    /// run automates, and the profile holds the facts that run needs (a DHCP/BOOTP recovery
    /// leases from the laptop's address, so it needs `host`), or it is an upload page the
    /// profile describes (an `http:` section with an address, its own or the profile's
    /// `router`). Any other `http` device is recovered by hand.
    pub fn is_automated(&self) -> bool {
        match self.method {
            Method::DhcpTftp | Method::BootpTftp => self.host.is_some(),
            // `setenv ipaddr` needs the router's address and `serverip` ours.
            Method::Console => self.host.is_some() && self.router.is_some(),
            Method::Http => self
                .http
                .as_ref()
                .is_some_and(|h| h.address.or(self.router).is_some()),
            _ => self.method.is_automated(),
        }
    }
}

/// The laptop's address while the bootloader recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Host {
    /// The address, e.g. `192.168.0.66`.
    pub address: Ipv4Addr,
    /// The prefix length, e.g. `24` for 255.255.255.0.
    pub prefix: u8,
}

impl Host {
    /// The subnet this address lies in; a prefix above 32 counts as 32.
    pub fn subnet(self) -> Subnet {
        Subnet::clamped(self.address, self.prefix)
    }

    /// The subnet mask of [`Host::prefix`]; a prefix above 32 counts as 32.
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(self.subnet().mask())
    }

    /// Whether `other` lies in this address's subnet.
    pub fn contains(self, other: Ipv4Addr) -> bool {
        self.subnet().contains(other)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// How the bootloader takes a new image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The router is a TFTP client and pulls the image; the laptop serves it.
    TftpServer,
    /// The router runs a TFTP server; the laptop pushes the image (write request).
    TftpClient,
    /// Netgear's NMRP hands out an address, then the laptop pushes over TFTP.
    Nmrp,
    /// The router asks for an address by DHCP, then pulls the file the lease names.
    DhcpTftp,
    /// The router asks by BOOTP (`MikroTik` etherboot), then pulls a boot image.
    BootpTftp,
    /// The bootloader serves a web page to upload the image from a browser.
    Http,
    /// The bootloader is driven over its serial console: the laptop serves the image and types
    /// `tftpboot` at the prompt (docs/console.md).
    Console,
}

impl Method {
    /// All methods, in the order docs list them.
    pub const ALL: [Method; 7] = [
        Method::TftpServer,
        Method::TftpClient,
        Method::Nmrp,
        Method::DhcpTftp,
        Method::BootpTftp,
        Method::Http,
        Method::Console,
    ];

    /// The name used in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::TftpServer => "tftp-server",
            Method::TftpClient => "tftp-client",
            Method::Nmrp => "nmrp",
            Method::DhcpTftp => "dhcp-tftp",
            Method::BootpTftp => "bootp-tftp",
            Method::Http => "http",
            Method::Console => "console",
        }
    }

    /// Whether rescue-wizard can carry out the recovery itself today.
    pub fn is_automated(self) -> bool {
        matches!(
            self,
            Method::TftpServer
                | Method::TftpClient
                | Method::Nmrp
                | Method::DhcpTftp
                | Method::BootpTftp
                | Method::Console
        )
    }

    /// One line for a human saying who does what.
    pub fn describe(self) -> &'static str {
        match self {
            Method::TftpServer => "the router pulls the image; rescue-wizard serves it over TFTP",
            Method::TftpClient => {
                "the router runs a TFTP server; rescue-wizard pushes the image to it"
            }
            Method::Nmrp => {
                "the router's bootloader finds rescue-wizard by Netgear NMRP and takes the image over TFTP"
            }
            Method::DhcpTftp => {
                "the router asks for a DHCP lease, then pulls the image; rescue-wizard gives the lease and serves it over TFTP"
            }
            Method::BootpTftp => {
                "the router asks by BOOTP, then pulls the image; rescue-wizard answers and serves it over TFTP"
            }
            Method::Http => {
                "the bootloader serves an upload page: not automated yet, follow the steps in a browser"
            }
            Method::Console => {
                "rescue-wizard stops the bootloader on its serial console, has it fetch the image over TFTP, proves it, then writes it"
            }
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What rescue-wizard tells a Netgear bootloader over NMRP (`method: nmrp`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Nmrp {
    /// The region written into the router when it asks (NMRP's DEV-REGION), by name: NA, WW,
    /// GR, PR, RU, BZ, IN, KO, JP or AU. `--region` overrides it; without either none is sent.
    pub region: Option<String>,
}

impl Nmrp {
    /// The region names a Netgear bootloader knows, as nmrpflash's `-R` and Netgear's firmware
    /// names spell them (their codes are `nmrp::packet::Region`'s).
    pub const REGIONS: [&'static str; 10] =
        ["NA", "WW", "GR", "PR", "RU", "BZ", "IN", "KO", "JP", "AU"];

    /// Whether `name` is one of [`Nmrp::REGIONS`], in any case.
    pub fn knows_region(name: &str) -> bool {
        Self::REGIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(name))
    }
}

/// TFTP behaviour of the bootloader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Tftp {
    /// Whether options (RFC 2347) may be used: `requested` or `none`.
    pub options: Option<OptionUse>,
    /// Largest block size to grant or ask for.
    pub max_blksize: Option<u16>,
    /// What the bootloader does after block 65535.
    pub rollover: Option<RolloverPolicy>,
    /// Largest window size (RFC 7440) to grant or ask for.
    pub max_windowsize: Option<u16>,
    /// File name to send in the write request, for push bootloaders that insist on one.
    pub remote_name: Option<String>,
    /// Password some push bootloaders expect before they take an upload (Linksys).
    pub password: Option<String>,
    /// Whether a resent block may carry the next block along (the fast repair of a lost
    /// ACK). Only `true` for bootloaders known to ignore a block ahead of the one they expect
    /// (mainline U-Boot); U-Boot 1.1.x as TP-Link ships it and barebox store such a block
    /// without checking for a gap, and a lost resend would leave a hole. Absent: not sent.
    pub next_block_on_resend: Option<bool>,
}

/// A bootloader's upload page (method `http`): every field optional, defaults from the
/// flavour (docs/http.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Http {
    /// Which web failsafe it runs. Absent: `u-boot-mod`, the most common.
    pub flavour: Option<HttpFlavour>,
    /// The page's address. Absent: the profile's `router`.
    pub address: Option<Ipv4Addr>,
    /// The page's TCP port. Absent: 80.
    pub port: Option<u16>,
    /// The path the form posts to. Absent: the flavour's (`/`, `/upload`, `/cgi/index`).
    pub path: Option<String>,
    /// The form's field name. Absent: the flavour's (`firmware`, or `files` for D-Link).
    pub field: Option<String>,
    /// Text of the answer meaning "taken". Absent: the flavour's.
    pub success: Option<String>,
    /// Text of the answer meaning "refused". Absent: the flavour's.
    pub failure: Option<String>,
    /// The largest image the page takes, in bytes.
    pub size_limit: Option<u64>,
}

/// Which web failsafe a bootloader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpFlavour {
    /// pepe2k's `u-boot_mod` and the GL.iNet U-Boots built on it.
    UBootMod,
    /// The MTK failsafe of `bl-mt798x` and its forks.
    Mediatek,
    /// Older D-Link recovery pages.
    Dlink,
}

/// Which TFTP options may be used with this bootloader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptionUse {
    /// Grant (or ask for) the options the bootloader itself requests, within the caps.
    Requested,
    /// Plain RFC 1350: ignore every option, for bootloaders that choke on an OACK.
    None,
}

impl OptionUse {
    /// The name used in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionUse::Requested => "requested",
            OptionUse::None => "none",
        }
    }
}

/// What a bootloader does when the 16-bit block number passes 65535, as the profile's
/// `tftp.rollover` says; a transfer runs with the matching
/// [`crate::tftp::session::RolloverTo`], and `no` limits the image's size instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloverPolicy {
    /// Wraps to block 0 (written `0`).
    ToZero,
    /// Wraps to block 1 (written `1`).
    ToOne,
    /// Cannot pass block 65535 (written `no`): the image must fit in 65535 blocks.
    No,
}

impl RolloverPolicy {
    /// The spelling used in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloverPolicy::ToZero => "0",
            RolloverPolicy::ToOne => "1",
            RolloverPolicy::No => "no",
        }
    }
}

impl<'de> Deserialize<'de> for RolloverPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RolloverPolicyVisitor;

        impl Visitor<'_> for RolloverPolicyVisitor {
            type Value = RolloverPolicy;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0, 1 or `no`")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RolloverPolicy, E> {
                match value {
                    0 => Ok(RolloverPolicy::ToZero),
                    1 => Ok(RolloverPolicy::ToOne),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(value), &self)),
                }
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RolloverPolicy, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
                }
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<RolloverPolicy, E> {
                // YAML 1.1 readers turn a bare `no` into false; accept it the way it was meant.
                if value {
                    Err(E::invalid_value(de::Unexpected::Bool(value), &self))
                } else {
                    Ok(RolloverPolicy::No)
                }
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RolloverPolicy, E> {
                match value {
                    "0" => Ok(RolloverPolicy::ToZero),
                    "1" => Ok(RolloverPolicy::ToOne),
                    "no" => Ok(RolloverPolicy::No),
                    _ => Err(E::invalid_value(de::Unexpected::Str(value), &self)),
                }
            }
        }

        deserializer.deserialize_any(RolloverPolicyVisitor)
    }
}

/// Which images the bootloader accepts, and how to prepare them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Image {
    /// Kinds of image the bootloader takes.
    #[serde(default)]
    pub kinds: Vec<ImageKind>,
    /// Largest image the bootloader takes, in bytes.
    pub max_size: Option<u64>,
    /// Bytes the image must carry at a fixed offset (a vendor header).
    pub header: Option<Header>,
    /// Model identifier the vendor header must name (text as the vendor writes it).
    pub model_id: Option<String>,
    /// Bytes to cut from the start of a stock image that carries a bootloader.
    pub strip_head: Option<u64>,
    /// Zero bytes to put before the image (recovery writes from the start of flash).
    pub pad_head: Option<u64>,
}

/// A kind of firmware image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageKind {
    /// The vendor's own firmware file.
    Stock,
    /// A third-party "factory" image made to be flashed over stock firmware (`OpenWrt`).
    Factory,
    /// An image built for this TFTP recovery (`OpenWrt` `tftp-recovery.bin`).
    TftpRecovery,
    /// A third-party upgrade image (`OpenWrt` `sysupgrade.bin`).
    Sysupgrade,
}

impl ImageKind {
    /// The name used in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Stock => "stock",
            ImageKind::Factory => "factory",
            ImageKind::TftpRecovery => "tftp-recovery",
            ImageKind::Sysupgrade => "sysupgrade",
        }
    }
}

/// Bytes an image must carry at an offset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Header {
    /// Where the bytes start, counted from the start of the file as the user gives it.
    #[serde(default)]
    pub offset: u64,
    /// The bytes, in hex (spaces allowed), e.g. `48 44 52 30`.
    pub magic: HexBytes,
    /// What the bytes mean, for messages, e.g. `TRX magic "HDR0"`.
    pub meaning: Option<String>,
}

/// Bytes written as hex text in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_hex(&text).map(HexBytes).map_err(de::Error::custom)
    }
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bad =
        || format!("invalid hex bytes `{text}`: write pairs of hex digits, e.g. \"48 44 52 30\"");
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(bad());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = pair[0].to_digit(16).ok_or_else(bad)?;
            let low = pair[1].to_digit(16).ok_or_else(bad)?;
            Ok((high * 16 + low) as u8)
        })
        .collect()
}

/// One step of the human procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Step {
    /// What to do, as an instruction.
    #[serde(rename = "do")]
    pub action: String,
    /// How long the step lasts or what to hold for, in seconds.
    pub seconds: Option<u32>,
    /// What the LEDs show when the step has worked.
    pub led: Option<String>,
}

/// How sure the profile's facts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Checked on real hardware or in the bootloader's source.
    Verified,
    /// Reported by users or the project's docs, consistently.
    Reported,
    /// Guessed by analogy, conflicting, or single-sourced: check on the wire.
    Unverified,
}

impl Confidence {
    /// The name used in profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Verified => "verified",
            Confidence::Reported => "reported",
            Confidence::Unverified => "unverified",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_spaces_and_rejects_odd_digits() {
        assert_eq!(parse_hex("48 44 52 30"), Ok(b"HDR0".to_vec()));
        assert_eq!(parse_hex("08410009"), Ok(vec![0x08, 0x41, 0x00, 0x09]));
        assert!(parse_hex("484").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("").is_err());
    }

    #[test]
    fn host_subnet_arithmetic() {
        let host = Host {
            address: Ipv4Addr::new(192, 168, 0, 66),
            prefix: 24,
        };
        assert_eq!(host.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(host.contains(Ipv4Addr::new(192, 168, 0, 86)));
        assert!(!host.contains(Ipv4Addr::new(192, 168, 1, 86)));
        let wide = Host {
            address: Ipv4Addr::new(10, 1, 2, 3),
            prefix: 8,
        };
        assert!(wide.contains(Ipv4Addr::new(10, 200, 0, 1)));
    }
}

/// What a device's serial console needs (docs/console.md). Every field may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Console {
    /// The console's baud rate; absent: 115200.
    pub baud: Option<u32>,
    /// What stops autoboot, when the bootloader does not say (TP-Link's `tpl`).
    pub stop_token: Option<String>,
    /// The prompt, when it should not be guessed (`ar7240> `).
    pub prompt: Option<String>,
    /// Where `tftpboot` loads the image in RAM.
    pub load_address: Option<u64>,
    /// The documented way to write the image; absent: nothing is written to flash.
    pub flash: Option<ConsoleFlash>,
    /// Where the recipe comes from (a URL or a file in a source tree).
    pub source: Option<String>,
    /// How the bootloader boots an initramfs image from RAM, writing nothing; absent: the
    /// device offers no RAM boot.
    pub ram_boot: Option<ConsoleRamBoot>,
}

/// Booting the loaded image from RAM (an initramfs: nothing is written to flash). Every field
/// may be left out: `ram-boot: {}` is `bootm {loadaddr}`, started when "Starting kernel" shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConsoleRamBoot {
    /// The boot command (`{loadaddr}`, `{size}`; `${name}` is left for the bootloader);
    /// absent: [`RAM_BOOT_COMMAND`].
    pub command: Option<String>,
    /// What the bootloader prints when it hands over to the image; absent:
    /// [`RAM_BOOT_STARTED`].
    pub started: Option<String>,
    /// Where the recipe comes from (a URL or a file in a source tree).
    pub source: Option<String>,
}

/// The RAM-boot command when the profile names none: U-Boot's `bootm` of a legacy uImage or a
/// FIT at the address it was loaded to (U-Boot's `cmd/bootm.c`; 1.1.4's `common/cmd_bootm.c`).
pub const RAM_BOOT_COMMAND: &str = "bootm {loadaddr}";

/// What `bootm` prints as it jumps to the kernel, when the profile names nothing else: mainline's
/// "Starting kernel ..." (`arch/*/lib/bootm.c`), and 1.1.4's "Starting kernel ..." too
/// (`lib_mips/mips_linux.c`).
pub const RAM_BOOT_STARTED: &str = "Starting kernel";

/// The placeholders a `console: ram-boot: command` may use.
pub const RAM_BOOT_PLACEHOLDERS: &[&str] = &["{loadaddr}", "{size}"];

/// A flash recipe: where the image goes and the commands that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConsoleFlash {
    /// `nor` (mapped in memory: `erase`, `cp.b`), `spi` (`sf`) or `nand` (`nand`).
    pub kind: ConsoleFlashKind,
    /// The flash address (NOR) or offset (SPI, NAND) the image goes to.
    pub offset: u64,
    /// The erase block; erases are rounded up to it.
    pub erase_size: u64,
    /// The region's size (the firmware partition): a larger image is refused before anything
    /// is typed, so that no erase reaches what follows (TP-Link's `art` radio calibration).
    pub size: Option<u64>,
    /// A free RAM address to read the flash back into (SPI, NAND).
    pub scratch: Option<u64>,
    /// The erase command, instead of the kind's (`{offset}`, `{erase_size}`, ...).
    pub erase: Option<String>,
    /// The write command, instead of the kind's (`{loadaddr}`, `{offset}`, `{size}`, ...).
    pub write: Option<String>,
    /// Whether to `reset` once the flash reads back right; absent: yes.
    pub reset: Option<bool>,
}

/// The kind of flash a console recipe writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsoleFlashKind {
    /// Parallel NOR mapped in memory.
    Nor,
    /// SPI NOR behind `sf`.
    Spi,
    /// NAND behind `nand`.
    Nand,
}

/// What the run's DHCP/BOOTP responder gives and to whom (docs/profiles.md, `dhcp:`). Every
/// field may be left out: the boot file is then `filename` (else the image's own name), the
/// address leased the profile's `router`, and the first client that asks is answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Dhcp {
    /// The boot file named in `file` and option 67. Absent: `filename`, else the image's name.
    pub boot_file: Option<String>,
    /// Boot file names by vendor class prefix (option 60: `Mips_boot`, `ARM__boot`,
    /// `U-Boot.armv7`); the longest prefix a client's class starts with wins. The run serves
    /// its one image under any name, so every family asks for its own name and gets it.
    #[serde(default)]
    pub images_by_vendor_class: std::collections::BTreeMap<String, String>,
    /// A small pool of addresses to lease, first and last. Absent: the profile's `router`.
    pub pool: Option<Pool>,
    /// Answer only this hardware address (`8c:de:f9:12:34:56`).
    pub client_mac: Option<String>,
    /// Answer only clients whose vendor class (option 60) starts with this text.
    pub vendor_class: Option<String>,
}

/// The first and last address of a small pool, both in the laptop's subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Pool {
    /// The first address leased.
    pub first: Ipv4Addr,
    /// The last address leased.
    pub last: Ipv4Addr,
}

impl Pool {
    /// The most addresses a pool may hold: a rescue cable has one router on it, and a few
    /// spares cover a router that declines an address already in use (RFC 2131 §4.4.1).
    pub const MAX_LEN: u32 = 64;

    /// The addresses from `first` to `last`, in order; empty when `last` comes before `first`,
    /// at most [`Pool::MAX_LEN`].
    pub fn addresses(self) -> Vec<Ipv4Addr> {
        let (first, last) = (u32::from(self.first), u32::from(self.last));
        (first..=last)
            .take(Self::MAX_LEN as usize)
            .map(Ipv4Addr::from)
            .collect()
    }

    /// How many addresses it spans (0 when `last` comes before `first`).
    pub fn len(self) -> u64 {
        (u64::from(u32::from(self.last)) + 1).saturating_sub(u64::from(u32::from(self.first)))
    }

    /// Whether it spans no address.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The placeholders a `console: flash:` template may use; the console's script fills them in.
pub const PLACEHOLDERS: &[&str] = &[
    "{loadaddr}",
    "{offset}",
    "{size}",
    "{erase_size}",
    "{scratch}",
];

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The size of a BOOTP/DHCP reply's `file` field (RFC 951 section 3: 128 bytes, NUL-terminated),
/// which bounds a `dhcp:` boot file name; `dhcp::packet` encodes with it.
pub const BOOT_FILE_FIELD_LEN: usize = 128;
