//! Images checked whole: every length, CRC and checksum a recognised header carries, compared
//! with the file while it streams past once.
//!
//! [`Whole::new`] reads the header from the file's first bytes and sets up one [`Span`] per
//! checksum the header carries; [`Whole::feed`] takes every chunk of the file in order (the
//! file is never held whole), and [`Whole::finish`] compares what was summed with what the
//! header says, given the file's length. Nothing here reads a file: this is the sans-I/O
//! half, [`super::Scan`] is the driver. The layouts and sums, each from its maker's source:
//!
//! - TP-Link v1 (`mktplinkfw.c`): `fw_length` 0x7c, kernel 0x80/0x84, rootfs 0x88/0x8c,
//!   `boot_len` 0x94; MD5 of the whole file with `md5sum1` (0x4c) replaced by a salt, one for
//!   images with a bootloader and one for those without. v2 and v3 (`mktplinkfw2.c`): the
//!   same from 0x40 (`md5sum1`), 0x70 .. 0x88, with that tool's own salts.
//! - TRX (`otrx.c`): `length` at 4, CRC32 at 8 over bytes 12 to `length`, started at
//!   0xffffffff and not inverted at the end.
//! - legacy uImage (U-Boot `image.h`): `ih_hcrc` at 4, the CRC32 of the 64-byte header with
//!   that field zeroed; `ih_size` at 12 and `ih_dcrc` at 24, the CRC32 of the data after it.
//! - Netgear .chk (`mkchkimg.c`): header length at 4; kernel and rootfs checksums at 16 and 20,
//!   their lengths at 24 and 28, the image checksum (kernel then rootfs) at 32 and the header
//!   checksum (header with that field zeroed, board id included) at 36, all Netgear's
//!   Fletcher-like sum.
//! - tar (POSIX ustar): 512-byte headers whose checksum (at 148) is the sum of their bytes
//!   with that field as spaces, each entry's data padded to 512 bytes, a zero block at the end.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};

use super::format::{be32, field_text, le32, plausible_text};
use super::rules::size_text;

/// Length of a TP-Link firmware header, every version.
const TPLINK_HEADER_LEN: u64 = 0x200;
/// Where the firmware of a TP-Link stock image "with boot" starts: after the outer header and
/// 128 KiB of bootloader.
const TPLINK_INNER_OFFSET: u64 = 0x20200;
/// `mktplinkfw.c` `md5salt_normal`: replaces `md5sum1` while the MD5 of an image without a
/// bootloader is computed.
const TPLINK_V1_SALT: [u8; 16] = [
    0xdc, 0xd7, 0x3a, 0xa5, 0xc3, 0x95, 0x98, 0xfb, 0xdd, 0xf9, 0xe7, 0xf4, 0x0e, 0xae, 0x47, 0x38,
];
/// `mktplinkfw.c` `md5salt_boot`: the same for an image that carries the bootloader.
const TPLINK_V1_SALT_BOOT: [u8; 16] = [
    0x8c, 0xef, 0x33, 0x5b, 0xd5, 0xc5, 0xce, 0xfa, 0xa7, 0x9c, 0x28, 0xda, 0xb2, 0xe9, 0x0f, 0x42,
];
/// `mktplinkfw2.c` `md5salt_normal`: two bytes differ from `mktplinkfw.c`'s.
const TPLINK_V2_SALT: [u8; 16] = [
    0xdc, 0xd7, 0x3a, 0xa5, 0xc3, 0x95, 0x98, 0xfb, 0xdc, 0xf9, 0xe7, 0xf4, 0x0e, 0xae, 0x47, 0x37,
];
/// `mktplinkfw2.c` `md5salt_boot`.
const TPLINK_V2_SALT_BOOT: [u8; 16] = [
    0x8c, 0xef, 0x33, 0x5f, 0xd5, 0xc5, 0xce, 0xfa, 0xac, 0x9c, 0x28, 0xda, 0xb2, 0xe9, 0x0f, 0x42,
];
/// Length of a legacy uImage header.
const UIMAGE_HEADER_LEN: u64 = 64;
const UIMAGE_MAGIC: u32 = 0x2705_1956;
/// Length of a TRX header; the CRC covers the file from byte 12 (`flag_version`) on.
const TRX_HEADER_LEN: u64 = 28;
const TRX_CRC_FROM: u64 = 12;
/// Fixed part of a .chk header, and the longest board id after it (`MAX_BOARD_ID_LEN`).
const CHK_FIXED_LEN: u64 = 40;
const CHK_BOARD_ID_MAX: u64 = 64;
/// A tar block.
const TAR_BLOCK: u64 = 512;

/// A running sum over one span of the file.
#[derive(Clone)]
enum Sum {
    /// MD5 (TP-Link).
    Md5(Md5),
    /// CRC32 as zlib computes it (uImage).
    Crc32(crc32fast::Hasher),
    /// CRC32 started at 0xffffffff and not inverted at the end (TRX, `otrx.c`).
    Crc32Raw(crc32fast::Hasher),
    /// Netgear's two 32-bit running sums (`mkchkimg.c` `netgear_checksum_add`).
    Netgear { c0: u32, c1: u32 },
}

impl Sum {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Sum::Md5(md5) => md5.update(bytes),
            Sum::Crc32(crc) | Sum::Crc32Raw(crc) => crc.update(bytes),
            Sum::Netgear { c0, c1 } => {
                for &byte in bytes {
                    *c0 = c0.wrapping_add(u32::from(byte));
                    *c1 = c1.wrapping_add(*c0);
                }
            }
        }
    }

    /// The sum as the header stores it, big-endian bytes for the words.
    fn finish(self) -> Vec<u8> {
        match self {
            Sum::Md5(md5) => md5.finalize().to_vec(),
            Sum::Crc32(crc) => crc.finalize().to_be_bytes().to_vec(),
            Sum::Crc32Raw(crc) => (!crc.finalize()).to_be_bytes().to_vec(),
            Sum::Netgear { c0, c1 } => {
                // `netgear_checksum_fini`: fold each sum to 16 bits, twice.
                let fold = |sum: u32| {
                    let once = (sum & 0xffff) + (sum >> 16);
                    ((once >> 16) + once) & 0xffff
                };
                ((fold(c1) << 16) | fold(c0)).to_be_bytes().to_vec()
            }
        }
    }
}

/// One checksum the header carries, summed over bytes `start..end` of the file (to its end
/// when `end` is `None`), with `patch` written over the file's bytes at its offset first.
#[derive(Clone)]
struct Span {
    /// The header field holding the expected value, e.g. "`md5sum1` at 0x4c".
    field: String,
    /// What the checksum covers, e.g. "the whole file".
    covers: String,
    start: u64,
    end: Option<u64>,
    patch: Option<(u64, Vec<u8>)>,
    sum: Sum,
    /// The value the header stores.
    expected: Vec<u8>,
    /// Where the header stores it, and whether little-endian (TRX) rather than as summed.
    stored_at: (u64, bool),
    /// Bytes summed so far.
    seen: u64,
}

impl Span {
    fn feed(&mut self, at: u64, chunk: &[u8]) {
        let chunk_end = at + chunk.len() as u64;
        let from = self.start.max(at);
        let to = self.end.map_or(chunk_end, |end| end.min(chunk_end));
        if from >= to {
            return;
        }
        let part = &chunk[(from - at) as usize..(to - at) as usize];
        match &self.patch {
            Some((patch_at, bytes)) if *patch_at < to && patch_at + bytes.len() as u64 > from => {
                let mut patched = part.to_vec();
                for (offset, &byte) in (*patch_at..).zip(bytes) {
                    if (from..to).contains(&offset) {
                        patched[(offset - from) as usize] = byte;
                    }
                }
                self.sum.update(&patched);
            }
            _ => self.sum.update(part),
        }
        self.seen += to - from;
    }
}

/// What a whole check found wrong, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// What was compared and what was found, quoting the header's field and the file: a
    /// clause to follow the file's name ("is cut short: ...").
    pub what: String,
    /// What to do.
    pub fix: String,
}

/// The verdict of a whole check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No header this module checks.
    NotApplicable,
    /// Everything matched: what was compared, in one phrase.
    Matched(String),
    /// At least one field disagrees with the file.
    Mismatched(Vec<Mismatch>),
}

/// A length the header declares: the region it names must lie within the file.
#[derive(Debug, Clone)]
struct Extent {
    /// e.g. "the kernel (`kernel_ofs` 0x200 + `kernel_len` 0x12345)".
    what: String,
    end: u64,
}

/// The checks of one header, fed the file in order.
#[derive(Clone)]
pub(crate) struct Whole {
    /// The header's name for messages, e.g. "TP-Link header".
    header: &'static str,
    /// Problems known from the header alone (a stub, a length smaller than the header).
    early: Vec<Mismatch>,
    extents: Vec<Extent>,
    /// A length the file must not pass (TP-Link `fw_length`), with its field name.
    at_most: Option<(String, u64)>,
    spans: Vec<Span>,
    tar: Option<TarWalk>,
    applies: bool,
}

impl Whole {
    /// The checks for the header at the start of `head` (the file's first bytes, or all of
    /// them when it is shorter).
    pub(crate) fn new(head: &[u8]) -> Self {
        let mut whole = Self {
            header: "",
            early: Vec::new(),
            extents: Vec::new(),
            at_most: None,
            spans: Vec::new(),
            tar: None,
            applies: true,
        };
        if !(whole.uimage(head)
            || whole.trx(head)
            || whole.chk(head)
            || whole.tplink(head, 0)
            || whole.tar(head))
        {
            whole.applies = false;
        }
        whole
    }

    /// Takes the next `chunk` of the file, which starts at offset `at`.
    pub(crate) fn feed(&mut self, at: u64, chunk: &[u8]) {
        for span in &mut self.spans {
            span.feed(at, chunk);
        }
        if let Some(tar) = &mut self.tar {
            tar.feed(at, chunk);
        }
    }

    /// Compares everything summed with the header, for a file of `size` bytes.
    pub(crate) fn finish(self, size: u64) -> Outcome {
        if !self.applies {
            return Outcome::NotApplicable;
        }
        let mut problems = self.early;
        for extent in &self.extents {
            if extent.end > size {
                problems.push(Mismatch {
                    what: format!(
                        "is cut short: its {} says {} reaches byte {}, but the file has only {}",
                        self.header,
                        extent.what,
                        extent.end,
                        size_text(size)
                    ),
                    fix: truncated_fix(),
                });
            }
        }
        let mut short_of = None;
        if let Some((field, len)) = &self.at_most {
            if size > *len {
                problems.push(Mismatch {
                    what: format!(
                        "is {} bytes longer than its {} says the firmware is ({field} \
                         {len:#x}, {len} bytes): the file has {}",
                        size - len,
                        self.header,
                        size_text(size)
                    ),
                    fix: "download the image again: bytes were added to it after it was made \
                          (two files joined, or the wrong file); the bootloader would write \
                          them too"
                        .to_owned(),
                });
            } else if size < *len {
                short_of = Some((field.clone(), *len));
            }
        }
        // A cut file fails every checksum too; the lengths already say why.
        let lengths_failed = !problems.is_empty();
        if let Some(tar) = self.tar {
            problems.extend(tar.finish(size));
        }
        let mut matched = Vec::new();
        for span in self.spans {
            if lengths_failed {
                break;
            }
            let expected = span.expected.clone();
            let field = span.field.clone();
            let covers = span.covers.clone();
            let whole_span = span.end.is_none_or(|end| span.seen == end - span.start);
            let found = span.sum.finish();
            if whole_span && found == expected {
                matched.push(field);
                continue;
            }
            problems.push(match &short_of {
                Some((length_field, len)) => Mismatch {
                    what: format!(
                        "is cut short: its {} says the firmware is {len} bytes ({length_field} \
                         {len:#x}) and the file has only {}; the {field} does not match the \
                         bytes there are",
                        self.header,
                        size_text(size)
                    ),
                    fix: truncated_fix(),
                },
                None => Mismatch {
                    what: format!(
                        "does not match its {}: the {field} is {}, computed over {covers} it \
                         is {}: the file is not the one the header was made for",
                        self.header,
                        hex(&expected),
                        hex(&found)
                    ),
                    fix: "download the image again: it was damaged or changed after it was \
                          made (a broken download, or bytes edited by hand); if a fresh \
                          download fails the same way, it is not an image this device takes"
                        .to_owned(),
                },
            });
        }
        if problems.is_empty() {
            let mut phrase = format!("checked whole against its {}: ", self.header);
            if !self.extents.is_empty() || self.at_most.is_some() {
                phrase.push_str("the lengths fit the file");
                if !matched.is_empty() {
                    phrase.push_str(", ");
                }
            }
            if !matched.is_empty() {
                let _ = write!(phrase, "every checksum matches ({})", matched.join(", "));
            }
            if self.header == "tar headers" {
                phrase.push_str("every entry is whole and the archive ends where it should");
            }
            Outcome::Matched(phrase)
        } else {
            Outcome::Mismatched(problems)
        }
    }

    fn stub(&mut self, header: &'static str, need: u64, have: usize) {
        self.header = header;
        self.early.push(Mismatch {
            what: format!(
                "is cut short: it starts like a {header}, which alone is {need} bytes, and the \
                 file has only {have}"
            ),
            fix: truncated_fix(),
        });
    }

    fn uimage(&mut self, head: &[u8]) -> bool {
        if be32(head, 0) != Some(UIMAGE_MAGIC) {
            return false;
        }
        self.header = "uImage header";
        let Some(header) = head.get(..UIMAGE_HEADER_LEN as usize) else {
            self.stub("uImage header", UIMAGE_HEADER_LEN, head.len());
            return true;
        };
        let data_size = u64::from(be32(header, 12).unwrap_or(0));
        self.spans.push(Span {
            field: "header CRC32 `ih_hcrc` at 4".to_owned(),
            covers: "the 64-byte header".to_owned(),
            start: 0,
            end: Some(UIMAGE_HEADER_LEN),
            patch: Some((4, vec![0; 4])),
            sum: Sum::Crc32(crc32fast::Hasher::new()),
            expected: header[4..8].to_vec(),
            stored_at: (4, false),
            seen: 0,
        });
        let end = UIMAGE_HEADER_LEN + data_size;
        self.extents.push(Extent {
            what: format!("the data (`ih_size` {data_size} bytes after the header)"),
            end,
        });
        self.spans.push(Span {
            field: "data CRC32 `ih_dcrc` at 24".to_owned(),
            covers: format!("the {data_size} bytes of data"),
            start: UIMAGE_HEADER_LEN,
            end: Some(end),
            patch: None,
            sum: Sum::Crc32(crc32fast::Hasher::new()),
            expected: header[24..28].to_vec(),
            stored_at: (24, false),
            seen: 0,
        });
        true
    }

    fn trx(&mut self, head: &[u8]) -> bool {
        if !head.starts_with(b"HDR0") {
            return false;
        }
        self.header = "TRX header";
        let Some(header) = head.get(..TRX_HEADER_LEN as usize) else {
            self.stub("TRX header", TRX_HEADER_LEN, head.len());
            return true;
        };
        let length = u64::from(le32(header, 4).unwrap_or(0));
        if length < TRX_HEADER_LEN {
            self.early.push(Mismatch {
                what: format!(
                    "has a TRX header that says the image is {length} bytes (`len` at 4), \
                     less than the 28-byte header itself"
                ),
                fix: "this is not a TRX image a bootloader takes: download the image again, \
                      from the device's own download page"
                    .to_owned(),
            });
            return true;
        }
        self.extents.push(Extent {
            what: format!("the image (`len` {length:#x})"),
            end: length,
        });
        let mut crc = le32(header, 8).unwrap_or(0).to_be_bytes().to_vec();
        crc.truncate(4);
        self.spans.push(Span {
            field: "CRC32 `crc32` at 8".to_owned(),
            covers: format!("bytes 12 to {length}"),
            start: TRX_CRC_FROM,
            end: Some(length),
            patch: None,
            sum: Sum::Crc32Raw(crc32fast::Hasher::new()),
            expected: crc,
            stored_at: (8, true),
            seen: 0,
        });
        true
    }

    fn chk(&mut self, head: &[u8]) -> bool {
        if !head.starts_with(b"*#$^") {
            return false;
        }
        self.header = "Netgear .chk header";
        let Some(fixed) = head.get(..CHK_FIXED_LEN as usize) else {
            self.stub("Netgear .chk header", CHK_FIXED_LEN, head.len());
            return true;
        };
        let word = |at| u64::from(be32(fixed, at).unwrap_or(0));
        let header_len = word(4);
        if !(CHK_FIXED_LEN..=CHK_FIXED_LEN + CHK_BOARD_ID_MAX).contains(&header_len) {
            self.early.push(Mismatch {
                what: format!(
                    "has a Netgear .chk header that says it is {header_len} bytes long (at 4); \
                     mkchkimg writes 40 bytes and a board id of at most 64"
                ),
                fix: "this is not a .chk image a Netgear bootloader takes: download the \
                      image again, from the device's own download page"
                    .to_owned(),
            });
            return true;
        }
        let (kernel_len, rootfs_len) = (word(24), word(28));
        let kernel_end = header_len + kernel_len;
        let end = kernel_end + rootfs_len;
        self.extents.push(Extent {
            what: format!(
                "the header, kernel and rootfs ({header_len} + {kernel_len} + {rootfs_len} \
                 bytes)"
            ),
            end,
        });
        let span = |field: &str, covers: String, start, end, at: usize| Span {
            field: field.to_owned(),
            covers,
            start,
            end: Some(end),
            patch: None,
            sum: Sum::Netgear { c0: 0, c1: 0 },
            expected: fixed[at..at + 4].to_vec(),
            stored_at: (at as u64, false),
            seen: 0,
        };
        let mut header_sum = span(
            "header checksum at 36",
            format!("the {header_len}-byte header"),
            0,
            header_len,
            36,
        );
        header_sum.patch = Some((36, vec![0; 4]));
        self.spans.push(header_sum);
        self.spans.push(span(
            "kernel checksum at 16",
            format!("the {kernel_len}-byte kernel"),
            header_len,
            kernel_end,
            16,
        ));
        if rootfs_len > 0 {
            self.spans.push(span(
                "rootfs checksum at 20",
                format!("the {rootfs_len}-byte rootfs"),
                kernel_end,
                end,
                20,
            ));
        }
        self.spans.push(span(
            "image checksum at 32",
            format!("the kernel and rootfs ({} bytes)", kernel_len + rootfs_len),
            header_len,
            end,
            32,
        ));
        true
    }

    /// A TP-Link header at `base` (0, or [`TPLINK_INNER_OFFSET`] for the firmware inside a
    /// stock image with the bootloader).
    fn tplink(&mut self, head: &[u8], base: u64) -> bool {
        let Some(bytes) = head.get(base as usize..) else {
            return false;
        };
        let version = match be32(bytes, 0) {
            Some(0x0100_0000) => 1,
            Some(0x0200_0000 | 0x0300_0000) => 2,
            _ => return false,
        };
        // The version text must be there as far as the file reaches, as format.rs asks.
        let text = if version == 1 { 0x04..0x1c } else { 0x04..0x34 };
        let available = &bytes[text.start.min(bytes.len())..text.end.min(bytes.len())];
        if available.is_empty() || !plausible_text(available) {
            return false;
        }
        let header_name = if base == 0 {
            "TP-Link header"
        } else {
            "inner TP-Link header (at 0x20200)"
        };
        self.header = header_name;
        let Some(header) = bytes.get(..TPLINK_HEADER_LEN as usize) else {
            self.stub("TP-Link firmware header", TPLINK_HEADER_LEN, bytes.len());
            return true;
        };
        // (md5sum1, fw_length, kernel_ofs, kernel_len, rootfs_ofs, rootfs_len, boot_len)
        let at = if version == 1 {
            [0x4c, 0x7c, 0x80, 0x84, 0x88, 0x8c, 0x94]
        } else {
            [0x40, 0x70, 0x74, 0x78, 0x7c, 0x80, 0x88]
        };
        let word = |offset: usize| u64::from(be32(header, offset).unwrap_or(0));
        let (fw_length, boot_len) = (word(at[1]), word(at[6]));
        for (name, ofs_at, len_at) in [("kernel", at[2], at[3]), ("rootfs", at[4], at[5])] {
            let (ofs, len) = (word(ofs_at), word(len_at));
            if len > 0 {
                self.extents.push(Extent {
                    what: format!("the {name} (`{name}_ofs` {ofs:#x} + `{name}_len` {len:#x})"),
                    end: base + ofs + len,
                });
            }
        }
        // Combined images leave fw_length at 0; images with a bootloader count it apart.
        if fw_length > 0 && boot_len == 0 {
            self.at_most = Some((format!("`fw_length` at {:#x}", at[1]), base + fw_length));
        }
        let salt = match (version, boot_len) {
            (1, 0) => TPLINK_V1_SALT,
            (1, _) => TPLINK_V1_SALT_BOOT,
            (_, 0) => TPLINK_V2_SALT,
            _ => TPLINK_V2_SALT_BOOT,
        };
        let md5_at = at[0];
        self.spans.push(Span {
            field: format!("MD5 `md5sum1` at {md5_at:#x}"),
            covers: if base == 0 {
                "the file (salted as mktplinkfw does)".to_owned()
            } else {
                "the firmware from 0x20200 (salted as mktplinkfw does)".to_owned()
            },
            start: base,
            end: None,
            patch: Some((base + md5_at as u64, salt.to_vec())),
            sum: Sum::Md5(Md5::new()),
            expected: header[md5_at..md5_at + 16].to_vec(),
            stored_at: (base + md5_at as u64, false),
            seen: 0,
        });
        // The firmware inside a stock image "with boot" is what the bootloader is given after
        // the strip: check it as well, when its header is there.
        if base == 0 && boot_len > 0 {
            let mut inner = Whole::new(&[]);
            if inner.tplink(head, TPLINK_INNER_OFFSET) && inner.early.is_empty() {
                self.extents.extend(inner.extents);
                self.spans.extend(inner.spans.into_iter().map(|mut span| {
                    span.field = format!("{} of the inner header", span.field);
                    span
                }));
            }
        }
        true
    }

    fn tar(&mut self, head: &[u8]) -> bool {
        if head.get(257..262) != Some(b"ustar".as_slice()) {
            return false;
        }
        self.header = "tar headers";
        self.tar = Some(TarWalk::default());
        true
    }
}

/// The fix for a file that ends too early.
fn truncated_fix() -> String {
    "download the image again, completely: this file is a truncated download, and the router \
     would write half a firmware; compare the new file's SHA-256 with the one on the download \
     page"
        .to_owned()
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// A walk over a tar archive's headers as the file streams past.
#[derive(Debug, Clone, Default)]
struct TarWalk {
    /// Where the next header starts.
    next: u64,
    /// The bytes of that header collected so far.
    block: Vec<u8>,
    /// Entries read so far.
    entries: u64,
    /// The entry being read: its name and where its data ends.
    current: Option<(String, u64)>,
    /// Set once the end-of-archive block is read, or the walk went wrong.
    done: Option<Result<(), Mismatch>>,
}

impl TarWalk {
    fn feed(&mut self, at: u64, chunk: &[u8]) {
        let chunk_end = at + chunk.len() as u64;
        while self.done.is_none() {
            let want_from = self.next + self.block.len() as u64;
            if want_from < at || want_from >= chunk_end {
                return;
            }
            let from = (want_from - at) as usize;
            let take = (TAR_BLOCK as usize - self.block.len()).min(chunk.len() - from);
            self.block.extend_from_slice(&chunk[from..from + take]);
            if self.block.len() < TAR_BLOCK as usize {
                return;
            }
            let block = std::mem::take(&mut self.block);
            self.header(&block);
        }
    }

    /// Reads one complete 512-byte header block.
    fn header(&mut self, block: &[u8]) {
        if block.iter().all(|&byte| byte == 0) {
            // The end of the archive; what follows (fwtool's metadata) is not tar.
            self.done = Some(Ok(()));
            return;
        }
        let name = field_text(&block[..100]);
        let stored = octal(&block[148..156]);
        let summed: u64 = block
            .iter()
            .enumerate()
            .map(|(at, &byte)| {
                if (148..156).contains(&at) {
                    u64::from(b' ')
                } else {
                    u64::from(byte)
                }
            })
            .sum();
        if stored != Some(summed) {
            self.done = Some(Err(Mismatch {
                what: format!(
                    "has a damaged tar header at byte {} (entry {}, \"{name}\"): it stores \
                     checksum {}, but its bytes sum to {summed}",
                    self.next,
                    self.entries + 1,
                    stored.map_or_else(|| "that is not a number".to_owned(), |v| v.to_string())
                ),
                fix: "download the image again: the file was damaged or changed after it was \
                      made; if a fresh download fails the same way, it is not a sysupgrade \
                      image"
                    .to_owned(),
            }));
            return;
        }
        let size = tar_size(&block[124..136]).unwrap_or(0);
        let data_end = self.next + TAR_BLOCK + size;
        self.entries += 1;
        self.current = Some((name, data_end));
        self.next = self.next + TAR_BLOCK + size.div_ceil(TAR_BLOCK) * TAR_BLOCK;
    }

    fn finish(self, size: u64) -> Option<Mismatch> {
        match self.done {
            Some(Ok(())) => None,
            Some(Err(mismatch)) => Some(mismatch),
            None => {
                let place = match &self.current {
                    Some((name, end)) if *end > size => format!(
                        "inside entry \"{name}\", whose header says its data reaches byte {end}"
                    ),
                    _ => "before the end-of-archive block".to_owned(),
                };
                Some(Mismatch {
                    what: format!(
                        "is cut short: the tar archive ends {place}; the file has only {}",
                        size_text(size)
                    ),
                    fix: truncated_fix(),
                })
            }
        }
    }
}

/// A NUL- or space-terminated octal number, as tar writes them.
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, 8).ok()
}

/// An entry's size: octal, or GNU's base-256 when the first byte's high bit is set.
fn tar_size(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&byte| byte & 0x80 != 0) {
        let mut value: u64 = u64::from(field[0] & 0x7f);
        for &byte in &field[1..] {
            value = value.checked_mul(256)?.checked_add(u64::from(byte))?;
        }
        return Some(value);
    }
    if field.iter().all(|&byte| byte == 0) {
        return Some(0);
    }
    octal(field)
}

/// Writes into the header of `image` every checksum it carries, computed as its maker's tool
/// does: for made-up images (`sample`) that must pass [`Whole`]. Sums that cover other sums
/// (a uImage's header CRC covers its data CRC) are right after the second round.
pub(crate) fn seal(image: &mut [u8]) {
    for _ in 0..2 {
        let mut whole = Whole::new(image);
        whole.feed(0, image);
        for span in whole.spans {
            let (at, little_endian) = span.stored_at;
            let mut value = span.sum.finish();
            if little_endian {
                value.reverse();
            }
            let at = at as usize;
            if let Some(field) = image.get_mut(at..at + value.len()) {
                field.copy_from_slice(&value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::sample;

    /// Valid images of every kind the whole check knows, to start mutations from.
    fn seeds() -> Vec<Vec<u8>> {
        vec![
            sample::tp_link_firmware(0x0841_0009, 0x1000),
            sample::tp_link_stock_with_bootloader(0x0841_0009, 0x1000),
            sample::trx(0x1000),
            sample::uimage(0x800),
            sample::netgear_chk("U12H270T00_NETGEAR", 0x400, 0x401),
            sample::sysupgrade_tar("tplink_tl-wr841-v9", 0x500),
        ]
    }

    /// The outcome for `image` fed in chunks of `chunk` bytes.
    fn outcome(image: &[u8], chunk: usize) -> Outcome {
        let head = &image[..image.len().min(super::super::HEAD_LEN)];
        let mut whole = Whole::new(head);
        for (n, part) in image.chunks(chunk.max(1)).enumerate() {
            whole.feed((n * chunk.max(1)) as u64, part);
        }
        whole.finish(image.len() as u64)
    }

    #[test]
    fn one_changed_byte_anywhere_in_the_data_is_found() {
        for (n, seed) in seeds().into_iter().enumerate() {
            // A tar carries no checksum of its data, only of its headers.
            let places = if n == 5 {
                vec![10, 4608 + 5]
            } else {
                vec![seed.len() / 2, seed.len() - 1]
            };
            for at in places {
                let mut image = seed.clone();
                image[at] ^= 0x5a;
                assert!(
                    matches!(outcome(&image, 4096), Outcome::Mismatched(_)),
                    "byte {at} of a {}-byte sample",
                    seed.len()
                );
            }
        }
    }

    #[test]
    fn the_tplink_md5_is_mktplinkfws() {
        // mktplinkfw: MD5 of the file with md5sum1 replaced by md5salt_normal.
        let image = sample::tp_link_firmware(0x0841_0009, 0x1000);
        let mut salted = image.clone();
        salted[0x4c..0x5c].copy_from_slice(&TPLINK_V1_SALT);
        assert_eq!(&image[0x4c..0x5c], Md5::digest(&salted).as_slice());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(500))]

        #[test]
        fn whole_check_never_panics_on_random_bytes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096),
            chunk in 1usize..5000,
        ) {
            let _ = outcome(&bytes, chunk);
        }

        #[test]
        fn whole_check_never_panics_on_damaged_images(
            seed in 0usize..6,
            cut in proptest::num::usize::ANY,
            flips in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..16),
            chunk in 1usize..9000,
        ) {
            let mut bytes = seeds().swap_remove(seed);
            bytes.truncate(cut % (bytes.len() + 1));
            for (at, value) in flips {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = value;
                }
            }
            let _ = outcome(&bytes, chunk);
        }

        #[test]
        fn chunking_does_not_change_the_outcome(seed in 0usize..6, chunk in 1usize..9000) {
            let image = seeds().swap_remove(seed);
            proptest::prop_assert_eq!(outcome(&image, chunk), outcome(&image, image.len()));
        }
    }
}
