//! The device profile's image rules, applied to one scanned file. Each rule that applies adds
//! one finding; a failing or doubtful one carries a fix quoting the user's own file and values.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::format::{self, Format};
use super::{ImageFinding, Probe, Scan, StripOffer};
use crate::profile::{Catalogue, HexBytes, ImageKind, OptionUse, Profile, RolloverPolicy};

/// Block size a bootloader uses when no option changes it (RFC 1350).
const DEFAULT_BLKSIZE: u16 = 512;
/// The last block number a 16-bit counter reaches before it must wrap.
const LAST_BLOCK: u64 = 65_535;
/// How far into the file a model name is searched for.
const MODEL_SEARCH_LEN: usize = 64 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

/// The bytes past the head that the profile's rules will want: the header at its offset, and
/// at its offset after a strip, since whether the strip applies is only known once the format
/// is.
pub(crate) fn probes(profile: Option<&Profile>) -> Vec<Probe> {
    let Some(header) = profile.and_then(|profile| profile.image.header.as_ref()) else {
        return Vec::new();
    };
    let want = header.magic.0.len();
    let mut probes = vec![Probe::new(header.offset, want)];
    if let Some(at) = profile
        .and_then(|profile| profile.image.strip_head)
        .and_then(|cut| cut.checked_add(header.offset))
    {
        probes.push(Probe::new(at, want));
    }
    probes
}

/// DATA packets a TFTP transfer of `size` bytes takes in blocks of `blksize`: the last block is
/// shorter than `blksize`, empty when `size` is an exact multiple (RFC 1350 section 6).
pub(crate) fn blocks(size: u64, blksize: u16) -> u64 {
    size / u64::from(blksize.max(1)) + 1
}

/// Most devices named as the ones an image is for, when several profiles claim its id.
const MAX_NAMED: usize = 3;

/// Applies every rule of `profile` to the scanned file; returns the strip offer, if any.
/// `catalogue` names the device an image is for when its header is another device's.
pub(crate) fn check(
    path: &Path,
    scan: &Scan,
    format: &Format,
    profile: &Profile,
    catalogue: &Catalogue,
    findings: &mut Vec<ImageFinding>,
) -> Option<StripOffer> {
    let rules = Rules {
        path,
        scan,
        format,
        profile,
        catalogue,
        device: device_name(profile),
    };
    rules.kind(findings);
    let strip = rules.bootloader(findings);
    let cut = strip.as_ref().map_or(0, |offer| offer.offset);
    rules.header(cut, findings);
    rules.model_id(findings);
    super::nmrp::check(path, format, profile, &rules.device, findings);
    let sent = scan.size.saturating_sub(cut);
    rules.max_size(sent, cut, findings);
    rules.flash_size(sent, cut, findings);
    rules.rollover(sent, cut, findings);
    strip
}

struct Rules<'a> {
    path: &'a Path,
    scan: &'a Scan,
    format: &'a Format,
    profile: &'a Profile,
    catalogue: &'a Catalogue,
    /// "TP-Link TL-WR841N/ND v9", for messages.
    device: String,
}

impl Rules<'_> {
    fn shown(&self) -> std::path::Display<'_> {
        self.path.display()
    }

    /// Sysupgrade against factory: the only question of kind a header answers for sure.
    fn kind(&self, findings: &mut Vec<ImageFinding>) {
        let kinds = &self.profile.image.kinds;
        if kinds.is_empty() {
            return;
        }
        let takes_sysupgrade = kinds.contains(&ImageKind::Sysupgrade);
        if let Format::SysupgradeTar { board: Some(board) } = self.format {
            if takes_sysupgrade {
                findings.push(ImageFinding::ok(format!(
                    "OpenWrt sysupgrade image for board \"{board}\": the {} bootloader takes \
                     sysupgrade images",
                    self.device
                )));
            } else {
                findings.push(ImageFinding::fail(
                    format!(
                        "{} is an OpenWrt sysupgrade image (board \"{board}\"); the {} \
                         bootloader takes {} images, not sysupgrade",
                        self.shown(),
                        self.device,
                        kind_list(kinds)
                    ),
                    self.instead(),
                ));
            }
            return;
        }
        // Some sysupgrade images are not tars (ath79 TP-Link ones carry a TP-Link header), so
        // the name is the only sign; it can lie, hence a warning.
        let name = file_name(self.path);
        if !takes_sysupgrade && name.to_lowercase().contains("sysupgrade") {
            findings.push(ImageFinding::warning(
                format!(
                    "the file name {name} says sysupgrade; the {} bootloader takes {} images",
                    self.device,
                    kind_list(&self.profile.image.kinds)
                ),
                format!(
                    "if {name} is OpenWrt's sysupgrade image, {}; if the name is wrong, \
                     carry on",
                    self.instead()
                ),
            ));
        }
    }

    /// What to download in place of a sysupgrade image.
    fn instead(&self) -> String {
        let kinds = &self.profile.image.kinds;
        if kinds.contains(&ImageKind::Factory) {
            format!(
                "download the factory image instead: on the OpenWrt download page for {} it \
                 is the file ending in -squashfs-factory.bin, next to the \
                 -squashfs-sysupgrade.bin one",
                self.device
            )
        } else if kinds.contains(&ImageKind::TftpRecovery) {
            format!(
                "download the tftp-recovery image instead: on the OpenWrt download page for {} \
                 it is the file ending in -tftp-recovery.bin",
                self.device
            )
        } else {
            format!(
                "download {}'s own firmware for {} instead",
                self.profile.vendor, self.device
            )
        }
    }

    /// A TP-Link stock image that carries the bootloader: offer the copy without it.
    fn bootloader(&self, findings: &mut Vec<ImageFinding>) -> Option<StripOffer> {
        let Format::TpLink {
            hardware_id,
            carries_bootloader: true,
            ..
        } = self.format
        else {
            return None;
        };
        let Some(cut) = self.profile.image.strip_head.filter(|&cut| cut > 0) else {
            // For other vendors' devices the header check says all there is to say.
            if !self.profile.vendor.eq_ignore_ascii_case("TP-Link") {
                return None;
            }
            findings.push(ImageFinding::warning(
                format!(
                    "{} is a TP-Link stock image that carries the bootloader (hardware id \
                     {hardware_id:#010x}); the {} profile does not say how much of it to cut",
                    self.shown(),
                    self.device
                ),
                format!(
                    "download the {} firmware without \"boot\" in its name, or the OpenWrt \
                     factory image for it",
                    self.device
                ),
            ));
            return None;
        };
        let size = self.scan.size;
        if cut >= size {
            findings.push(ImageFinding::fail(
                format!(
                    "{} looks like a TP-Link stock image with the bootloader, but it is only \
                     {}: not more than the {cut:#x} bytes to cut",
                    self.shown(),
                    size_text(size)
                ),
                format!(
                    "download the image again: {} is cut short",
                    file_name(self.path)
                ),
            ));
            return None;
        }
        let copy = stripped_copy_path(self.path);
        findings.push(ImageFinding::warning(
            format!(
                "{} is a TP-Link stock image that carries the bootloader (hardware id \
                 {hardware_id:#010x}): it must not be flashed as is",
                self.shown()
            ),
            format!(
                "use the stripped copy, {}: the same image without its first {cut:#x} ({cut}) \
                 bytes, as the profile says for the {}",
                copy.display(),
                self.device
            ),
        ));
        Some(StripOffer {
            offset: cut,
            reason: format!(
                "the stock image carries the bootloader; the {} recovery takes it without its \
                 first {cut:#x} bytes",
                self.device
            ),
            copy,
        })
    }

    /// The profile's header bytes, checked where the bootloader will see them: after the cut
    /// when the image is to be stripped.
    fn header(&self, cut: u64, findings: &mut Vec<ImageFinding>) {
        let Some(header) = &self.profile.image.header else {
            return;
        };
        let magic = &header.magic;
        let meaning = header
            .meaning
            .clone()
            .unwrap_or_else(|| format!("the bytes {magic}"));
        let place = if cut == 0 {
            format!("at offset {:#x}", header.offset)
        } else {
            format!(
                "at offset {:#x} of the data after the first {cut:#x} bytes (the stripped copy)",
                header.offset
            )
        };
        let found = cut
            .checked_add(header.offset)
            .map_or(&[][..], |at| self.scan.bytes_at(at, magic.0.len()));
        if found == magic.0.as_slice() {
            findings.push(ImageFinding::ok(format!(
                "header matches: {meaning} ({place})"
            )));
            return;
        }
        let seen = if found.is_empty() {
            format!("nothing, the file ends at byte {}", self.scan.size)
        } else if found.len() < magic.0.len() {
            format!("only {} before the file ends", HexBytes(found.to_vec()))
        } else {
            HexBytes(found.to_vec()).to_string()
        };
        let named = match self.format {
            Format::TpLink { hardware_id, .. } => self.named_hardware_id(*hardware_id),
            _ => String::new(),
        };
        findings.push(ImageFinding::fail(
            format!(
                "{} does not carry the expected header: {place} it has {seen}, expected {magic} \
                 ({meaning}){named}",
                self.shown()
            ),
            format!(
                "use an image made for the {}; {} is {}",
                self.device,
                file_name(self.path),
                describe(self.format)
            ),
        ));
    }

    /// The profile's model id: a TP-Link hardware id compared with the header, any other name
    /// searched for in the first 64 KiB.
    fn model_id(&self, findings: &mut Vec<ImageFinding>) {
        let Some(model_id) = &self.profile.image.model_id else {
            return;
        };
        let Some(wanted) = hardware_id(model_id) else {
            self.model_name(model_id, findings);
            return;
        };
        let Some((found, place)) = self.tplink_hardware_id() else {
            findings.push(ImageFinding::warning(
                format!(
                    "cannot check the hardware id: {} has no TP-Link header ({})",
                    self.shown(),
                    describe(self.format)
                ),
                format!(
                    "make sure {} is the image for the {} (TP-Link hardware id {wanted:#010x}), \
                     e.g. by its name on the download page",
                    file_name(self.path),
                    self.device
                ),
            ));
            return;
        };
        if found == wanted {
            findings.push(ImageFinding::ok(format!(
                "hardware id {found:#010x} in {place} matches the {}",
                self.device
            )));
        } else {
            findings.push(ImageFinding::fail(
                format!(
                    "{} is for TP-Link hardware id {found:#010x} ({place}); the {} is \
                     {wanted:#010x}{}",
                    self.shown(),
                    self.device,
                    self.named_hardware_id(found)
                ),
                format!(
                    "download the firmware for the {} (hardware id {wanted:#010x}); {} was made \
                     for another model or revision ({found:#010x})",
                    self.device,
                    file_name(self.path)
                ),
            ));
        }
    }

    /// The hardware id of a TP-Link header at the start, or after the `pad-head` zeros of a
    /// `tftp-recovery` image, with where it was found.
    fn tplink_hardware_id(&self) -> Option<(u32, String)> {
        if let Format::TpLink { hardware_id, .. } = self.format {
            return Some((*hardware_id, "the TP-Link header".to_owned()));
        }
        let pad = usize::try_from(self.profile.image.pad_head?).ok()?;
        let header = format::tplink_header(self.scan.head.get(pad..)?)?;
        Some((
            header.hardware_id,
            format!("the TP-Link header at offset {pad:#x}, after the padding"),
        ))
    }

    fn model_name(&self, name: &str, findings: &mut Vec<ImageFinding>) {
        let head = &self.scan.head[..self.scan.head.len().min(MODEL_SEARCH_LEN)];
        if format::find(head, name.as_bytes()).is_some() {
            findings.push(ImageFinding::ok(format!(
                "model id \"{name}\" found in the first 64 KiB"
            )));
        } else if let Format::NetgearChk { board_id } = self.format
            && let Some(others) =
                self.claimed_by(|other| other.image.model_id.as_deref() == Some(board_id.as_str()))
        {
            findings.push(ImageFinding::fail(
                format!(
                    "{} is for Netgear board \"{board_id}\": this image is for {others}, not \
                     the {} (board \"{name}\")",
                    self.shown(),
                    self.device
                ),
                format!(
                    "download the firmware for the {} (board \"{name}\"); {} was made for \
                     another model",
                    self.device,
                    file_name(self.path)
                ),
            ));
        } else {
            findings.push(ImageFinding::warning(
                format!(
                    "\"{name}\" does not appear in the first 64 KiB of {}: cannot tell whether \
                     the image is for the {}",
                    self.shown(),
                    self.device
                ),
                format!(
                    "make sure {} is the image for the {} (model id {name}), e.g. by its name \
                     on the download page",
                    file_name(self.path),
                    self.device
                ),
            ));
        }
    }

    /// `sent` is what the bootloader gets: the file less the `cut` bytes of a strip.
    fn max_size(&self, sent: u64, cut: u64, findings: &mut Vec<ImageFinding>) {
        let Some(max) = self.profile.image.max_size else {
            return;
        };
        let what = self.what_is_sent(cut);
        if sent <= max {
            findings.push(ImageFinding::ok(format!(
                "{what} is {}, within the bootloader's limit of {}",
                size_text(sent),
                size_text(max)
            )));
        } else {
            findings.push(ImageFinding::fail(
                format!(
                    "{what} is {}; the {} bootloader takes at most {}",
                    size_text(sent),
                    self.device,
                    size_text(max)
                ),
                format!(
                    "use the image made for the {}: {} is {} bytes too large for it",
                    self.device,
                    file_name(self.path),
                    sent - max
                ),
            ));
        }
    }

    /// The device's flash size, where the profile knows it: a larger image cannot be written.
    fn flash_size(&self, sent: u64, cut: u64, findings: &mut Vec<ImageFinding>) {
        let Some(flash) = self.profile.flash_size else {
            return;
        };
        let what = self.what_is_sent(cut);
        if sent <= flash {
            findings.push(ImageFinding::ok(format!(
                "{what} is {}, within the {}'s {} of flash",
                size_text(sent),
                self.device,
                size_text(flash)
            )));
        } else {
            findings.push(ImageFinding::fail(
                format!(
                    "{what} is {}; the {} has {} of flash: the image cannot be written whole",
                    size_text(sent),
                    self.device,
                    size_text(flash)
                ),
                format!(
                    "use the image made for the {}: {} is {} bytes larger than its flash, an \
                     image for a device with more flash",
                    self.device,
                    file_name(self.path),
                    sent - flash
                ),
            ));
        }
    }

    /// "; this image is for the TP-Link TL-WR841N/ND v10 (tl-wr841n-v10), not the ..." when
    /// other profiles claim TP-Link hardware id `found`, else nothing.
    fn named_hardware_id(&self, found: u32) -> String {
        self.claimed_by(|other| claimed_hardware_id(other) == Some(found))
            .map(|others| format!("; this image is for {others}, not the {}", self.device))
            .unwrap_or_default()
    }

    /// The catalogue's devices, other than this profile's, for which `claims` holds: "the A
    /// (a)" or "the A (a) or the B (b)", at most [`MAX_NAMED`] of them.
    fn claimed_by(&self, claims: impl Fn(&Profile) -> bool) -> Option<String> {
        let names: Vec<String> = self
            .catalogue
            .entries()
            .map(|entry| &entry.profile)
            .filter(|other| other.id != self.profile.id && claims(other))
            .take(MAX_NAMED)
            .map(|other| format!("the {} ({})", device_name(other), other.id))
            .collect();
        (!names.is_empty()).then(|| names.join(" or "))
    }

    /// Whether the transfer needs block numbers past 65535, and whether the bootloader copes.
    fn rollover(&self, sent: u64, cut: u64, findings: &mut Vec<ImageFinding>) {
        let tftp = &self.profile.tftp;
        // Bootloaders ask for no options unless built to, so 512 is what to expect; with
        // options off the block size is 512 whatever the cap says.
        let blksize = match tftp.options {
            Some(OptionUse::None) => DEFAULT_BLKSIZE,
            _ => tftp.max_blksize.unwrap_or(DEFAULT_BLKSIZE),
        }
        .max(1);
        let count = blocks(sent, blksize);
        if count <= LAST_BLOCK {
            return;
        }
        // The last block must be short, so 65535 full blocks are one byte too many.
        let largest = LAST_BLOCK * u64::from(blksize) - 1;
        let what = self.what_is_sent(cut);
        match tftp.rollover {
            Some(RolloverPolicy::No) => findings.push(ImageFinding::fail(
                format!(
                    "the bootloader cannot count past block 65535: {what} needs {count} blocks \
                     of {blksize} bytes; the largest image it can take is {}",
                    size_text(largest)
                ),
                format!(
                    "use a smaller image for the {}: {} is {}, {} bytes over",
                    self.device,
                    file_name(self.path),
                    size_text(sent),
                    sent - largest
                ),
            )),
            None => findings.push(ImageFinding::warning(
                format!(
                    "{what} needs {count} blocks of {blksize} bytes, past block 65535, and the \
                     profile does not say whether this bootloader wraps the block number"
                ),
                format!(
                    "try it; if the transfer stops near {:.2} MiB the bootloader cannot pass \
                     block 65535: then use an image of at most {}",
                    largest as f64 / MIB,
                    size_text(largest)
                ),
            )),
            Some(wrap @ (RolloverPolicy::ToZero | RolloverPolicy::ToOne)) => {
                findings.push(ImageFinding::ok(format!(
                    "{what} needs {count} blocks of {blksize} bytes; the bootloader wraps to \
                     block {} after 65535",
                    wrap.as_str()
                )));
            }
        }
    }

    /// "the image" or "the stripped copy", with the path.
    fn what_is_sent(&self, cut: u64) -> String {
        if cut == 0 {
            self.shown().to_string()
        } else {
            format!(
                "the stripped copy of {} (without its first {cut:#x} bytes)",
                self.shown()
            )
        }
    }
}

/// A `0x`-prefixed model id of up to 8 hex digits: a TP-Link hardware id.
fn hardware_id(model_id: &str) -> Option<u32> {
    let digits = model_id
        .strip_prefix("0x")
        .or_else(|| model_id.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// The TP-Link hardware id a profile claims: its hex `model-id`, or header bytes where a
/// TP-Link header keeps the id (0x40 in version 1, 0x34 in versions 2 and 3).
fn claimed_hardware_id(profile: &Profile) -> Option<u32> {
    if let Some(id) = profile.image.model_id.as_deref().and_then(hardware_id) {
        return Some(id);
    }
    let header = profile.image.header.as_ref()?;
    if !matches!(header.offset, 0x40 | 0x34) {
        return None;
    }
    Some(u32::from_be_bytes(
        header.magic.0.as_slice().try_into().ok()?,
    ))
}

/// "TP-Link TL-WR841N/ND v9".
fn device_name(profile: &Profile) -> String {
    let mut name = format!("{} {}", profile.vendor, profile.model);
    if !profile.revisions.is_empty() {
        name.push(' ');
        name.push_str(&profile.revisions.join("/"));
    }
    name
}

fn kind_list(kinds: &[ImageKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    names.join(", ")
}

/// The format for a sentence: "a TP-Link firmware ..." or "without a recognised header".
fn describe(format: &Format) -> String {
    match format {
        Format::Unknown => "without a header rescue-wizard recognises".to_owned(),
        other => format!("a {other}"),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// "4063744 bytes (3.88 MiB)".
pub(crate) fn size_text(bytes: u64) -> String {
    format!("{bytes} bytes ({:.2} MiB)", bytes as f64 / MIB)
}

/// `<stem>-stripped<ext>` beside the image: `wr841nv9_boot.bin` → `wr841nv9_boot-stripped.bin`.
fn stripped_copy_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_stem()
        .unwrap_or_else(|| OsStr::new("image"))
        .to_os_string();
    name.push("-stripped");
    if let Some(extension) = path.extension() {
        name.push(".");
        name.push(extension);
    }
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::super::format::tests::{sysupgrade_tar, tplink_v1};
    use super::super::{Severity, format::recognise};
    use super::*;
    use crate::profile::parse_profile;

    fn profile(image_and_tftp: &str) -> Profile {
        let text = format!(
            "id: test-router\nvendor: TP-Link\nmodel: TL-TEST\nrevisions: [v1]\n\
             method: tftp-server\nhost:\n  address: 192.168.0.66\n  prefix: 24\n\
             filename: test.bin\nsteps:\n  - do: Power on.\nconfidence: unverified\n\
             {image_and_tftp}"
        );
        parse_profile(&text, "test").unwrap()
    }

    fn scan(bytes: &[u8]) -> Scan {
        Scan {
            head: bytes[..bytes.len().min(super::super::HEAD_LEN)].to_vec(),
            size: bytes.len() as u64,
            sha256: String::new(),
            probes: Vec::new(),
            whole: super::super::whole::Outcome::NotApplicable,
        }
    }

    fn run(name: &str, bytes: &[u8], profile: &Profile) -> (Vec<ImageFinding>, Option<StripOffer>) {
        let scan = scan(bytes);
        let format = recognise(&scan.head, scan.size);
        let mut findings = Vec::new();
        let catalogue = Catalogue::builtin().unwrap();
        let strip = check(
            Path::new(name),
            &scan,
            &format,
            profile,
            &catalogue,
            &mut findings,
        );
        (findings, strip)
    }

    #[test]
    fn hardware_ids_are_hex_with_0x() {
        assert_eq!(hardware_id("0x08410013"), Some(0x0841_0013));
        assert_eq!(hardware_id("0X7400004"), Some(0x0740_0004));
        assert_eq!(hardware_id("ARCHER-C7-V5"), None);
        assert_eq!(hardware_id("0x"), None);
        assert_eq!(hardware_id("0x123456789"), None);
        assert_eq!(hardware_id("0xZZ"), None);
    }

    #[test]
    fn stripped_copy_sits_beside_the_image() {
        assert_eq!(
            stripped_copy_path(Path::new("/dl/wr841nv9_boot.bin")),
            PathBuf::from("/dl/wr841nv9_boot-stripped.bin")
        );
        assert_eq!(
            stripped_copy_path(Path::new("firmware")),
            PathBuf::from("firmware-stripped")
        );
    }

    #[test]
    fn rollover_unknown_warns_and_options_none_means_512() {
        let profile = profile("tftp:\n  options: none\n  max-blksize: 1468\n");
        let (findings, _) = run("big.bin", &vec![0u8; 65_535 * 512], &profile);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(findings[0].what.contains("65536 blocks of 512 bytes"));
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("33553919 bytes (32.00 MiB)")
        );
        // One byte less fits in 65535 blocks: nothing to say.
        let (findings, _) = run("big.bin", &vec![0u8; 65_535 * 512 - 1], &profile);
        assert!(findings.is_empty());
    }

    #[test]
    fn rollover_that_wraps_is_fine() {
        let profile = profile("tftp:\n  rollover: 0\n");
        let (findings, _) = run("big.bin", &vec![0u8; 65_535 * 512], &profile);
        assert_eq!(findings[0].severity, Severity::Ok);
        assert!(findings[0].what.contains("wraps to block 0"));
    }

    #[test]
    fn model_name_is_searched_in_the_first_64_kib() {
        let profile = profile("image:\n  model-id: ARCHER-C7-V5\n");
        let mut image = vec![0xffu8; 0x2_0000];
        image[0x1400..0x1400 + 12].copy_from_slice(b"ARCHER-C7-V5");
        let (findings, _) = run("c7.bin", &image, &profile);
        assert_eq!(findings[0].severity, Severity::Ok);
        image[0x1400..0x1400 + 12].copy_from_slice(b"archer-c7-v5");
        image[0x1_1000..0x1_1000 + 12].copy_from_slice(b"ARCHER-C7-V5");
        let (findings, _) = run("c7.bin", &image, &profile);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(
            findings[0]
                .what
                .contains("\"ARCHER-C7-V5\" does not appear")
        );
    }

    #[test]
    fn hardware_id_is_found_after_the_recovery_padding() {
        let profile = profile("image:\n  model-id: \"0x08410013\"\n  pad-head: 0x20000\n");
        let mut image = vec![0u8; 0x2_0000];
        let mut header = tplink_v1(0x0841_0013, 0);
        header.resize(0x1000, 0xff);
        image.extend_from_slice(&header);
        let (findings, _) = run("tp_recovery.bin", &image, &profile);
        assert_eq!(findings[0].severity, Severity::Ok, "{findings:?}");
        assert!(findings[0].what.contains("at offset 0x20000"));
        // Without a TP-Link header anywhere, the id cannot be checked.
        let (findings, _) = run("tp_recovery.bin", &[7u8; 4096], &profile);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(findings[0].fix.as_deref().unwrap().contains("0x08410013"));
    }

    #[test]
    fn sysupgrade_is_fine_where_the_profile_lists_it() {
        let profile = profile("image:\n  kinds: [factory, sysupgrade]\n");
        let image = sysupgrade_tar("sysupgrade-glinet_gl-b1300/CONTROL");
        let (findings, _) = run("b1300-sysupgrade.bin", &image, &profile);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Ok);
    }

    #[test]
    fn a_sysupgrade_name_alone_only_warns() {
        let profile = profile("image:\n  kinds: [factory]\n");
        let mut image = tplink_v1(0x0841_0009, 0);
        image.resize(0x1000, 0);
        let (findings, _) = run(
            "openwrt-ath79-tiny-tplink_tl-wr841-v9-squashfs-sysupgrade.bin",
            &image,
            &profile,
        );
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(
            findings[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("factory image instead")
        );
    }

    #[test]
    fn bootloader_without_strip_head_warns() {
        let profile = profile("image:\n  kinds: [stock]\n");
        let mut image = tplink_v1(0x0841_0009, 0x2_0000);
        image.resize(0x3e_0200, 0);
        let (findings, strip) = run("boot.bin", &image, &profile);
        assert!(strip.is_none());
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(
            findings[0]
                .what
                .contains("does not say how much of it to cut")
        );
        let mut other = profile;
        other.vendor = "Netgear".to_owned();
        let (findings, _) = run("boot.bin", &image, &other);
        assert!(findings.is_empty(), "{findings:?}");
    }
}
