//! Recognising a firmware image by its first bytes: which vendor header it carries.
//!
//! Every parser takes a slice of any length and answers `None` (or [`Format::Unknown`]) when
//! the bytes do not fit; nothing here indexes a slice without a bounds check. Layouts:
//!
//! - legacy U-Boot image (`include/image.h`, `struct legacy_img_hdr`): 64 bytes, all words
//!   big-endian; magic 0x27051956 at 0, data size at 12, OS, CPU and image type bytes at
//!   28/29/30, NUL-padded name at 32 (32 bytes).
//! - TP-Link firmware header (OpenWrt firmware-utils `mktplinkfw.c` `struct fw_header`, and
//!   `mktplinkfw2.c` for versions 2 and 3): 0x200 bytes, big-endian.
//! - Broadcom TRX (`trxhdr.h`): "HDR0", then little-endian length and CRC32.
//! - Netgear .chk (`mkchkimg.c` `struct chk_header`): "*#$^", big-endian header length, a
//!   40-byte fixed part, then the board id, not NUL-terminated, up to 64 bytes.
//! - TP-Link safeloader (`tplink-safeloader.c`): the text partition table "fwup-ptn ..." at
//!   0x1014.
//! - POSIX tar (ustar): "ustar" at 257; `OpenWrt` sysupgrade images are tars whose entries sit
//!   in `sysupgrade-<board>/`.

use std::fmt;

use serde::Serialize;

/// Legacy U-Boot image magic (`IH_MAGIC`), big-endian at offset 0.
const UIMAGE_MAGIC: u32 = 0x2705_1956;
/// Length of the legacy U-Boot header.
const UIMAGE_HEADER_LEN: usize = 64;
/// Broadcom TRX magic at offset 0.
const TRX_MAGIC: &[u8] = b"HDR0";
/// Length of a TRX header: magic, length, CRC, flags and version, three partition offsets.
const TRX_HEADER_LEN: usize = 28;
/// Netgear .chk magic at offset 0.
const CHK_MAGIC: &[u8] = b"*#$^";
/// The fixed part of a .chk header; the board id follows it.
const CHK_FIXED_LEN: usize = 40;
/// Longest board id mkchkimg writes (`MAX_BOARD_ID_LEN`).
const CHK_BOARD_ID_MAX: usize = 64;
/// Length of a TP-Link firmware header, every version.
pub(crate) const TPLINK_HEADER_LEN: usize = 0x200;
/// Where the inner image starts in a TP-Link stock image that carries the bootloader: after
/// the outer header and 128 KiB of bootloader (tpl-tool's `IMAGE2_OFFSET`).
pub(crate) const TPLINK_INNER_OFFSET: usize = 0x20200;
/// Firmware lengths of TP-Link's stock images without a bootloader, for 4 and 8 MiB of flash:
/// the flash less bootloader, configuration and radio calibration blocks.
const TPLINK_FIRMWARE_LENGTHS: [u64; 2] = [0x3c_0000, 0x7c_0000];
/// Where tplink-safeloader puts its partition table.
const SAFELOADER_TABLE: usize = 0x1014;
/// Where a ustar header carries its magic.
const TAR_MAGIC_AT: usize = 257;

/// What kind of image a file is, judged by its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum Format {
    /// A legacy U-Boot image (`mkimage`), as many MIPS and ARM firmwares begin.
    UImage {
        /// The image name from the header, e.g. `MIPS OpenWrt Linux-5.15.150`.
        name: String,
        /// Operating system, in words (`Linux`), or `os <n>` for a code this tool does not know.
        os: String,
        /// CPU architecture, in words (`MIPS`), or `arch <n>`.
        arch: String,
        /// Image type, in words (`kernel`), or `type <n>`.
        image_type: String,
        /// Bytes of data after the 64-byte header, as the header says.
        data_size: u32,
    },
    /// A TP-Link firmware with the classic header (`mktplinkfw`, `mktplinkfw2`).
    TpLink {
        /// Header version: 1, or 2 and 3 for the `mktplinkfw2` layout.
        header_version: u8,
        /// The hardware id the image is for, e.g. 0x08410009 for the TL-WR841N v9.
        hardware_id: u32,
        /// The hardware revision field.
        hardware_revision: u32,
        /// The vendor name, e.g. `TP-LINK Technologies`; empty for header versions 2 and 3,
        /// which have no such field.
        vendor: String,
        /// The firmware version text, e.g. `ver. 1.0`.
        version: String,
        /// Whether the image carries the bootloader in front of the firmware (stock files
        /// whose name contains "boot").
        carries_bootloader: bool,
    },
    /// A TP-Link safeloader image (Archer C6/C7 v5 and later, Pharos CPEs).
    TpLinkSafeloader {
        /// The product named in the image's support list, when it is in the first bytes,
        /// e.g. `Archer C7 v5.0.0`.
        model: Option<String>,
    },
    /// A Broadcom TRX image (ASUS, Linksys and Netgear routers with CFE).
    Trx {
        /// The length the header claims, header included.
        length: u32,
        /// The CRC32 the header carries.
        crc: u32,
    },
    /// A Netgear .chk image.
    NetgearChk {
        /// The board id in the header, e.g. `U12H270T00_NETGEAR`.
        board_id: String,
    },
    /// A tar archive: the container of `OpenWrt` sysupgrade images.
    SysupgradeTar {
        /// The board named by the archive's `sysupgrade-<board>/` folder, e.g.
        /// `tplink_tl-wr841-v9`; `None` for a tar without that folder.
        board: Option<String>,
    },
    /// No header this tool recognises.
    Unknown,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::UImage {
                name,
                os,
                arch,
                image_type,
                data_size,
            } => write!(
                f,
                "U-Boot image \"{name}\": {os} {arch} {image_type}, {data_size} bytes of data"
            ),
            Format::TpLink {
                header_version,
                hardware_id,
                hardware_revision,
                vendor,
                version,
                carries_bootloader,
            } => {
                write!(
                    f,
                    "TP-Link firmware (header v{header_version}) for hardware id \
                     {hardware_id:#010x} revision {hardware_revision}"
                )?;
                if !vendor.is_empty() {
                    write!(f, ", vendor \"{vendor}\"")?;
                }
                if !version.is_empty() {
                    write!(f, ", version \"{version}\"")?;
                }
                if *carries_bootloader {
                    f.write_str(", carrying the bootloader")?;
                }
                Ok(())
            }
            Format::TpLinkSafeloader { model: Some(model) } => {
                write!(f, "TP-Link safeloader image for {model}")
            }
            Format::TpLinkSafeloader { model: None } => f.write_str("TP-Link safeloader image"),
            Format::Trx { length, crc } => {
                write!(f, "TRX image of {length} bytes, CRC32 {crc:#010x}")
            }
            Format::NetgearChk { board_id } => {
                write!(f, "Netgear .chk image for board \"{board_id}\"")
            }
            Format::SysupgradeTar { board: Some(board) } => {
                write!(f, "OpenWrt sysupgrade archive for board \"{board}\"")
            }
            Format::SysupgradeTar { board: None } => {
                f.write_str("tar archive without a sysupgrade-<board>/ folder")
            }
            Format::Unknown => f.write_str("no header rescue-wizard recognises"),
        }
    }
}

/// The fields of a TP-Link firmware header this tool uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TpLinkHeader {
    /// 1, 2 or 3.
    pub version: u8,
    /// `hw_id`.
    pub hardware_id: u32,
    /// `hw_rev`.
    pub hardware_revision: u32,
    /// `vendor_name` (version 1 only).
    pub vendor: String,
    /// `fw_version`.
    pub firmware_version: String,
    /// `boot_len`: bytes of bootloader the image carries.
    pub boot_length: u32,
}

/// Names the format of an image from its first bytes (`head`) and its whole size.
pub fn recognise(head: &[u8], size: u64) -> Format {
    if let Some(format) = uimage(head) {
        return format;
    }
    if let Some(format) = trx(head) {
        return format;
    }
    if let Some(format) = netgear_chk(head) {
        return format;
    }
    if let Some(header) = tplink_header(head) {
        let carries_bootloader = carries_bootloader(&header, head, size);
        return Format::TpLink {
            header_version: header.version,
            hardware_id: header.hardware_id,
            hardware_revision: header.hardware_revision,
            vendor: header.vendor,
            version: header.firmware_version,
            carries_bootloader,
        };
    }
    if let Some(format) = safeloader(head) {
        return format;
    }
    if let Some(format) = tar(head) {
        return format;
    }
    Format::Unknown
}

pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(word.try_into().ok()?))
}

pub(crate) fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}

/// The text of a fixed-size field up to its first NUL, on one line.
pub(crate) fn field_text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text: String = String::from_utf8_lossy(&field[..end])
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    text.trim().to_owned()
}

/// Whether a text field holds printable ASCII up to its first NUL, and at least one
/// character: what the header writers put there. Bytes after the NUL are padding (zeros in
/// `mktplinkfw`, 0xff in `mktplinkfw2`) and are not looked at.
pub(crate) fn plausible_text(field: &[u8]) -> bool {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    end > 0 && field[..end].iter().all(|b| (0x20..0x7f).contains(b))
}

fn uimage(head: &[u8]) -> Option<Format> {
    let header = head.get(..UIMAGE_HEADER_LEN)?;
    if be32(header, 0)? != UIMAGE_MAGIC {
        return None;
    }
    Some(Format::UImage {
        name: field_text(&header[32..64]),
        os: uimage_os(header[28]),
        arch: uimage_arch(header[29]),
        image_type: uimage_type(header[30]),
        data_size: be32(header, 12)?,
    })
}

/// `IH_OS_*` codes of U-Boot's image.h that routers use.
fn uimage_os(code: u8) -> String {
    match code {
        1 => "OpenBSD".to_owned(),
        2 => "NetBSD".to_owned(),
        3 => "FreeBSD".to_owned(),
        5 => "Linux".to_owned(),
        14 => "VxWorks".to_owned(),
        16 => "QNX".to_owned(),
        17 => "U-Boot".to_owned(),
        _ => format!("os {code}"),
    }
}

/// `IH_ARCH_*` codes of U-Boot's image.h.
fn uimage_arch(code: u8) -> String {
    match code {
        2 => "ARM".to_owned(),
        3 => "x86".to_owned(),
        5 => "MIPS".to_owned(),
        6 => "MIPS64".to_owned(),
        7 => "PowerPC".to_owned(),
        22 => "ARM64".to_owned(),
        24 => "x86-64".to_owned(),
        26 => "RISC-V".to_owned(),
        _ => format!("arch {code}"),
    }
}

/// `IH_TYPE_*` codes of U-Boot's image.h.
fn uimage_type(code: u8) -> String {
    match code {
        1 => "standalone program".to_owned(),
        2 => "kernel".to_owned(),
        3 => "ramdisk".to_owned(),
        4 => "multi-file image".to_owned(),
        5 => "firmware".to_owned(),
        6 => "script".to_owned(),
        7 => "filesystem".to_owned(),
        8 => "device tree".to_owned(),
        _ => format!("type {code}"),
    }
}

fn trx(head: &[u8]) -> Option<Format> {
    let header = head.get(..TRX_HEADER_LEN)?;
    if &header[..4] != TRX_MAGIC {
        return None;
    }
    Some(Format::Trx {
        length: le32(header, 4)?,
        crc: le32(header, 8)?,
    })
}

fn netgear_chk(head: &[u8]) -> Option<Format> {
    let fixed = head.get(..CHK_FIXED_LEN)?;
    if &fixed[..4] != CHK_MAGIC {
        return None;
    }
    // The board id runs from the end of the fixed part to the end of the header.
    let header_len = usize::try_from(be32(fixed, 4)?).unwrap_or(usize::MAX);
    let id_len = header_len
        .saturating_sub(CHK_FIXED_LEN)
        .min(CHK_BOARD_ID_MAX)
        .min(head.len() - CHK_FIXED_LEN);
    let board_id = field_text(&head[CHK_FIXED_LEN..CHK_FIXED_LEN + id_len]);
    Some(Format::NetgearChk { board_id })
}

/// Reads a TP-Link firmware header at the start of `bytes`.
///
/// The version word tells the layout. Version 1 (`mktplinkfw`): vendor name (24 bytes) at
/// 0x04, firmware version (36 bytes) at 0x1c, `hw_id` at 0x40, `hw_rev` at 0x44, `boot_ofs` at
/// 0x90, `boot_len` at 0x94. Versions 2 and 3 (`mktplinkfw2`): firmware version (48 bytes) at
/// 0x04, `hw_id` at 0x34, `hw_rev` at 0x38, `boot_len` at 0x88. A version word alone is a weak
/// sign (01 00 00 00 starts many files), so the version text must be printable and the
/// hardware id non-zero.
pub(crate) fn tplink_header(bytes: &[u8]) -> Option<TpLinkHeader> {
    let header = bytes.get(..TPLINK_HEADER_LEN)?;
    let parsed = match be32(header, 0)? {
        0x0100_0000 => {
            let (vendor, version) = (&header[0x04..0x1c], &header[0x1c..0x40]);
            if !plausible_text(vendor) || !plausible_text(version) {
                return None;
            }
            TpLinkHeader {
                version: 1,
                hardware_id: be32(header, 0x40)?,
                hardware_revision: be32(header, 0x44)?,
                vendor: field_text(vendor),
                firmware_version: field_text(version),
                boot_length: be32(header, 0x94)?,
            }
        }
        word @ (0x0200_0000 | 0x0300_0000) => {
            let version = &header[0x04..0x34];
            if !plausible_text(version) {
                return None;
            }
            TpLinkHeader {
                version: (word >> 24) as u8,
                hardware_id: be32(header, 0x34)?,
                hardware_revision: be32(header, 0x38)?,
                vendor: String::new(),
                firmware_version: field_text(version),
                boot_length: be32(header, 0x88)?,
            }
        }
        _ => return None,
    };
    (parsed.hardware_id != 0).then_some(parsed)
}

/// Whether a TP-Link image carries the bootloader in front of its firmware.
///
/// First the header's own word: a non-zero `boot_len` (0x94 in version 1, 0x88 in versions 2
/// and 3) is what the header writers set when they put a bootloader in. Stock version 1 images
/// that leave it at zero are still told by their shape: the inner image's header repeats the
/// hardware id at 0x20200 (after the outer header and 128 KiB of bootloader), or the file is
/// exactly 0x20200 bytes longer than a stock firmware for 4 or 8 MiB of flash.
fn carries_bootloader(header: &TpLinkHeader, head: &[u8], size: u64) -> bool {
    if header.boot_length != 0 {
        return true;
    }
    if header.version != 1 {
        return false;
    }
    let inner_repeats_id = head
        .get(TPLINK_INNER_OFFSET..)
        .and_then(tplink_header)
        .is_some_and(|inner| inner.hardware_id == header.hardware_id);
    let boot_sized = size
        .checked_sub(TPLINK_INNER_OFFSET as u64)
        .is_some_and(|rest| TPLINK_FIRMWARE_LENGTHS.contains(&rest));
    inner_repeats_id || boot_sized
}

fn safeloader(head: &[u8]) -> Option<Format> {
    let table = head.get(SAFELOADER_TABLE..)?;
    if !table.starts_with(b"fwup-ptn") {
        return None;
    }
    // The support list names the product as "product_name:Archer C7,product_ver:5.0.0,...";
    // it sits near the start in the images seen, but nothing requires that.
    let name = value_after(head, b"product_name:");
    let model = match (name, value_after(head, b"product_ver:")) {
        (Some(name), Some(version)) => Some(format!("{name} v{version}")),
        (name, _) => name,
    };
    Some(Format::TpLinkSafeloader { model })
}

/// The text after the first `key` in `bytes`, up to a comma, brace, line end or NUL.
fn value_after(bytes: &[u8], key: &[u8]) -> Option<String> {
    let at = find(bytes, key)? + key.len();
    let rest = &bytes[at..bytes.len().min(at + 64)];
    let end = rest
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b'\r' | b'\n' | 0))
        .unwrap_or(rest.len());
    let value = field_text(&rest[..end]);
    (!value.is_empty()).then_some(value)
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn tar(head: &[u8]) -> Option<Format> {
    let header = head.get(..512)?;
    if &header[TAR_MAGIC_AT..TAR_MAGIC_AT + 5] != b"ustar" {
        return None;
    }
    // ustar splits long paths: a prefix (155 bytes at 345) goes in front of the name.
    let name = field_text(&header[..100]);
    let prefix = field_text(&header[345..500]);
    let path = if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    };
    let first = path
        .trim_start_matches("./")
        .split('/')
        .next()
        .unwrap_or("");
    let board = first
        .strip_prefix("sysupgrade-")
        .filter(|board| !board.is_empty())
        .map(str::to_owned);
    Some(Format::SysupgradeTar { board })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TP-Link version 1 header as `mktplinkfw` writes it.
    pub(crate) fn tplink_v1(hardware_id: u32, boot_length: u32) -> Vec<u8> {
        let mut header = vec![0u8; TPLINK_HEADER_LEN];
        header[0..4].copy_from_slice(&0x0100_0000u32.to_be_bytes());
        header[0x04..0x04 + 20].copy_from_slice(b"TP-LINK Technologies");
        header[0x1c..0x1c + 8].copy_from_slice(b"ver. 1.0");
        header[0x40..0x44].copy_from_slice(&hardware_id.to_be_bytes());
        header[0x44..0x48].copy_from_slice(&1u32.to_be_bytes());
        // kernel_la, kernel_ep, fw_length, kernel_ofs as a stock 4 MiB image has them.
        header[0x74..0x78].copy_from_slice(&0x8000_2000u32.to_be_bytes());
        header[0x78..0x7c].copy_from_slice(&0x801b_d3a0u32.to_be_bytes());
        header[0x7c..0x80].copy_from_slice(&0x003c_0000u32.to_be_bytes());
        header[0x80..0x84].copy_from_slice(&0x200u32.to_be_bytes());
        header[0x94..0x98].copy_from_slice(&boot_length.to_be_bytes());
        header[0x98..0x9a].copy_from_slice(&3u16.to_be_bytes());
        header
    }

    /// A TP-Link version 3 header as `mktplinkfw2` writes it (padding 0xff).
    fn tplink_v3(hardware_id: u32) -> Vec<u8> {
        let mut header = vec![0xffu8; TPLINK_HEADER_LEN];
        header[0..4].copy_from_slice(&[3, 0, 0, 0]);
        header[0x04..0x04 + 9].copy_from_slice(b"ver. 1.0\0");
        header[0x34..0x38].copy_from_slice(&hardware_id.to_be_bytes());
        header[0x38..0x3c].copy_from_slice(&0x268u32.to_be_bytes());
        header[0x88..0x8c].copy_from_slice(&0u32.to_be_bytes());
        header
    }

    pub(crate) fn uimage_header() -> Vec<u8> {
        let mut header = vec![0u8; UIMAGE_HEADER_LEN];
        header[0..4].copy_from_slice(&UIMAGE_MAGIC.to_be_bytes());
        header[12..16].copy_from_slice(&1_234_567u32.to_be_bytes());
        header[16..20].copy_from_slice(&0x8006_0000u32.to_be_bytes());
        header[28] = 5; // Linux
        header[29] = 5; // MIPS
        header[30] = 2; // kernel
        header[31] = 3; // lzma
        header[32..32 + 25].copy_from_slice(b"MIPS OpenWrt Linux-5.15.1");
        header
    }

    fn trx_header() -> Vec<u8> {
        let mut header = Vec::new();
        header.extend_from_slice(b"HDR0");
        header.extend_from_slice(&0x0070_0000u32.to_le_bytes());
        header.extend_from_slice(&0xdead_beefu32.to_le_bytes());
        header.extend_from_slice(&0x0001_0000u32.to_le_bytes());
        for offset in [28u32, 0x1000, 0x20_0000] {
            header.extend_from_slice(&offset.to_le_bytes());
        }
        header
    }

    fn chk_header(board_id: &[u8]) -> Vec<u8> {
        let mut header = Vec::new();
        header.extend_from_slice(b"*#$^");
        let len = (CHK_FIXED_LEN + board_id.len()) as u32;
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[1, 1, 0, 2, 32, 1, 0, 0]);
        header.extend_from_slice(&[0x11; 24]);
        header.extend_from_slice(board_id);
        header.extend_from_slice(b"HDR0");
        header
    }

    pub(crate) fn sysupgrade_tar(entry: &str) -> Vec<u8> {
        let mut header = vec![0u8; 1024];
        header[..entry.len()].copy_from_slice(entry.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header
    }

    fn safeloader_image() -> Vec<u8> {
        let mut image = vec![0xffu8; 0x3000];
        image[0..4].copy_from_slice(&0x00e0_0000u32.to_be_bytes());
        let table = b"fwup-ptn partition-table base 0x00800 size 0x00800\t\r\n";
        image[SAFELOADER_TABLE..SAFELOADER_TABLE + table.len()].copy_from_slice(table);
        let list =
            b"SupportList:\r\n{product_name:Archer C7,product_ver:5.0.0,special_id:45550000}\r\n";
        image[0x2000..0x2000 + list.len()].copy_from_slice(list);
        image
    }

    #[test]
    fn tplink_v1_factory_image() {
        let mut image = tplink_v1(0x0841_0009, 0);
        image.resize(0x3c_0000, 0);
        let format = recognise(&image[..0x4_0000], image.len() as u64);
        assert_eq!(
            format,
            Format::TpLink {
                header_version: 1,
                hardware_id: 0x0841_0009,
                hardware_revision: 1,
                vendor: "TP-LINK Technologies".to_owned(),
                version: "ver. 1.0".to_owned(),
                carries_bootloader: false,
            }
        );
        assert_eq!(
            format.to_string(),
            "TP-Link firmware (header v1) for hardware id 0x08410009 revision 1, \
             vendor \"TP-LINK Technologies\", version \"ver. 1.0\""
        );
    }

    #[test]
    fn tplink_bootloader_by_boot_length() {
        let image = tplink_v1(0x0841_0009, 0x2_0000);
        let format = recognise(&image, 0x3e_0200);
        assert!(matches!(
            format,
            Format::TpLink {
                carries_bootloader: true,
                ..
            }
        ));
        assert!(format.to_string().ends_with(", carrying the bootloader"));
    }

    #[test]
    fn tplink_bootloader_by_inner_header_or_size() {
        // boot_len left at zero, but the inner image's header sits at 0x20200.
        let mut image = tplink_v1(0x0841_0009, 0);
        image.resize(TPLINK_INNER_OFFSET, 0xff);
        image.extend_from_slice(&tplink_v1(0x0841_0009, 0));
        let format = recognise(&image, 0x50_0000);
        assert!(matches!(
            format,
            Format::TpLink {
                carries_bootloader: true,
                ..
            }
        ));
        // Neither: only the size tells, 0x20200 more than a 4 MiB firmware.
        let header = tplink_v1(0x0841_0009, 0);
        assert!(matches!(
            recognise(&header, 0x3e_0200),
            Format::TpLink {
                carries_bootloader: true,
                ..
            }
        ));
        assert!(matches!(
            recognise(&header, 0x3c_0000),
            Format::TpLink {
                carries_bootloader: false,
                ..
            }
        ));
    }

    #[test]
    fn tplink_v3_header_of_mktplinkfw2() {
        let format = recognise(&tplink_v3(0x0841_0013), 0x7a_0000);
        assert_eq!(
            format,
            Format::TpLink {
                header_version: 3,
                hardware_id: 0x0841_0013,
                hardware_revision: 0x268,
                vendor: String::new(),
                version: "ver. 1.0".to_owned(),
                carries_bootloader: false,
            }
        );
    }

    #[test]
    fn tplink_needs_text_and_an_id() {
        let mut header = tplink_v1(0x0841_0009, 0);
        header[0x04] = 0;
        assert_eq!(recognise(&header, 0x200), Format::Unknown);
        let header = tplink_v1(0, 0);
        assert_eq!(recognise(&header, 0x200), Format::Unknown);
        let short = &tplink_v1(0x0841_0009, 0)[..0x1ff];
        assert_eq!(recognise(short, 0x1ff), Format::Unknown);
    }

    #[test]
    fn uimage_header_in_words() {
        let format = recognise(&uimage_header(), 1_234_631);
        assert_eq!(
            format,
            Format::UImage {
                name: "MIPS OpenWrt Linux-5.15.1".to_owned(),
                os: "Linux".to_owned(),
                arch: "MIPS".to_owned(),
                image_type: "kernel".to_owned(),
                data_size: 1_234_567,
            }
        );
        assert_eq!(
            format.to_string(),
            "U-Boot image \"MIPS OpenWrt Linux-5.15.1\": Linux MIPS kernel, 1234567 bytes of data"
        );
        let mut odd = uimage_header();
        odd[28..31].copy_from_slice(&[99, 98, 97]);
        assert!(
            recognise(&odd, 64)
                .to_string()
                .contains("os 99 arch 98 type 97")
        );
    }

    #[test]
    fn trx_length_and_crc_are_little_endian() {
        let format = recognise(&trx_header(), 0x70_0000);
        assert_eq!(
            format,
            Format::Trx {
                length: 0x70_0000,
                crc: 0xdead_beef
            }
        );
        assert_eq!(
            format.to_string(),
            "TRX image of 7340032 bytes, CRC32 0xdeadbeef"
        );
    }

    #[test]
    fn chk_board_id_ends_with_the_header() {
        let format = recognise(&chk_header(b"U12H270T00_NETGEAR"), 0x100_0000);
        assert_eq!(
            format,
            Format::NetgearChk {
                board_id: "U12H270T00_NETGEAR".to_owned()
            }
        );
        assert_eq!(
            format.to_string(),
            "Netgear .chk image for board \"U12H270T00_NETGEAR\""
        );
        // A header length pointing past the bytes read is cut to what there is.
        let mut long = chk_header(b"R7000");
        long[4..8].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
        long.truncate(CHK_FIXED_LEN + 5);
        assert_eq!(
            recognise(&long, 45),
            Format::NetgearChk {
                board_id: "R7000".to_owned()
            }
        );
    }

    #[test]
    fn sysupgrade_tar_names_its_board() {
        let format = recognise(
            &sysupgrade_tar("sysupgrade-tplink_tl-wr841-v9/CONTROL"),
            10_240,
        );
        assert_eq!(
            format,
            Format::SysupgradeTar {
                board: Some("tplink_tl-wr841-v9".to_owned())
            }
        );
        assert_eq!(
            format.to_string(),
            "OpenWrt sysupgrade archive for board \"tplink_tl-wr841-v9\""
        );
        assert_eq!(
            recognise(&sysupgrade_tar("./sysupgrade-glinet_gl-b1300/"), 10_240),
            Format::SysupgradeTar {
                board: Some("glinet_gl-b1300".to_owned())
            }
        );
        assert_eq!(
            recognise(&sysupgrade_tar("etc/passwd"), 10_240),
            Format::SysupgradeTar { board: None }
        );
    }

    #[test]
    fn safeloader_model_from_the_support_list() {
        let format = recognise(&safeloader_image(), 0xe0_0000);
        assert_eq!(
            format,
            Format::TpLinkSafeloader {
                model: Some("Archer C7 v5.0.0".to_owned())
            }
        );
        assert_eq!(
            format.to_string(),
            "TP-Link safeloader image for Archer C7 v5.0.0"
        );
    }

    #[test]
    fn formats_serialise_with_a_kebab_case_tag() {
        let json = serde_json::to_value(Format::NetgearChk {
            board_id: "U12H270T00_NETGEAR".to_owned(),
        })
        .unwrap();
        assert_eq!(json["format"], "netgear-chk");
        assert_eq!(json["board_id"], "U12H270T00_NETGEAR");
        let json = serde_json::to_value(Format::Unknown).unwrap();
        assert_eq!(json["format"], "unknown");
    }

    /// Valid headers of every kind, to start mutations from.
    fn seeds() -> Vec<Vec<u8>> {
        let mut boot = tplink_v1(0x0841_0009, 0);
        boot.resize(TPLINK_INNER_OFFSET, 0);
        boot.extend_from_slice(&tplink_v1(0x0841_0009, 0));
        vec![
            tplink_v1(0x0841_0009, 0x2_0000),
            tplink_v3(0x0841_0013),
            boot,
            uimage_header(),
            trx_header(),
            chk_header(b"U12H270T00_NETGEAR"),
            sysupgrade_tar("sysupgrade-tplink_tl-wr841-v9/CONTROL"),
            safeloader_image(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

        #[test]
        fn recognise_never_panics_on_random_bytes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1200),
            size in proptest::num::u64::ANY,
        ) {
            let _ = recognise(&bytes, size).to_string();
        }

        #[test]
        fn recognise_never_panics_on_damaged_headers(
            seed in 0usize..8,
            cut in proptest::num::usize::ANY,
            flips in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..16),
            size in proptest::num::u64::ANY,
        ) {
            let mut bytes = seeds().swap_remove(seed);
            bytes.truncate(cut % (bytes.len() + 1));
            for (at, value) in flips {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = value;
                }
            }
            let _ = recognise(&bytes, size).to_string();
        }
    }
}
