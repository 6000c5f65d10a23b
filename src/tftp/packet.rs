//! The TFTP wire format: parse and emit are mirror images, and parsing never panics.
//!
//! Packet layouts are those of RFC 1350 §5 plus the OACK of RFC 2347. Every length is checked
//! once, before any field is read; unknown error codes are kept, not rejected.

use std::fmt::{self, Write as _};

/// The largest datagram rescue-wizard ever needs to receive: a DATA packet at the largest
/// block size RFC 2348 allows (65464) plus its 4-byte header, rounded up to the UDP maximum so
/// that oversized requests (RFC 2347 says 512 octets; real clients send more) are read whole.
pub const MAX_DATAGRAM: usize = 65_535;

/// The block size of plain RFC 1350 transfers.
pub const DEFAULT_BLKSIZE: u16 = 512;

/// Opcode of a read request (RFC 1350 §5).
pub const OP_RRQ: u16 = 1;
/// Opcode of a write request.
pub const OP_WRQ: u16 = 2;
/// Opcode of a DATA packet.
pub const OP_DATA: u16 = 3;
/// Opcode of an ACK packet.
pub const OP_ACK: u16 = 4;
/// Opcode of an ERROR packet.
pub const OP_ERROR: u16 = 5;
/// Opcode of an option acknowledgement (RFC 2347).
pub const OP_OACK: u16 = 6;

/// A TFTP error code (RFC 1350 appendix, RFC 2347 for 8). Unknown codes are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 0: not defined, see the message.
    pub const NOT_DEFINED: Self = Self(0);
    /// 1: file not found.
    pub const FILE_NOT_FOUND: Self = Self(1);
    /// 2: access violation.
    pub const ACCESS_VIOLATION: Self = Self(2);
    /// 3: disk full or allocation exceeded.
    pub const DISK_FULL: Self = Self(3);
    /// 4: illegal TFTP operation.
    pub const ILLEGAL_OPERATION: Self = Self(4);
    /// 5: unknown transfer ID.
    pub const UNKNOWN_TID: Self = Self(5);
    /// 6: file already exists.
    pub const FILE_EXISTS: Self = Self(6);
    /// 7: no such user.
    pub const NO_SUCH_USER: Self = Self(7);
    /// 8: option negotiation refused (RFC 2347).
    pub const OPTION_NEGOTIATION: Self = Self(8);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "not defined",
            1 => "file not found",
            2 => "access violation",
            3 => "disk full or allocation exceeded",
            4 => "illegal TFTP operation",
            5 => "unknown transfer ID",
            6 => "file already exists",
            7 => "no such user",
            8 => "option negotiation refused",
            _ => return write!(f, "error {}", self.0),
        };
        write!(f, "{name} ({})", self.0)
    }
}

/// The transfer mode of a request (RFC 1350 §5), compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Bytes as they are: what every bootloader uses.
    Octet,
    /// Line endings converted to CR LF on the wire (RFC 1350 §1, Telnet rules).
    Netascii,
    /// Obsolete; never served (RFC 1350 §1 says it should not be implemented).
    Mail,
    /// Anything else, as received (`binary` from old clients lands here).
    Other(Vec<u8>),
}

impl Mode {
    fn parse(raw: &[u8]) -> Self {
        if raw.eq_ignore_ascii_case(b"octet") {
            Self::Octet
        } else if raw.eq_ignore_ascii_case(b"netascii") {
            Self::Netascii
        } else if raw.eq_ignore_ascii_case(b"mail") {
            Self::Mail
        } else {
            Self::Other(raw.to_vec())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            // Lower case: RedBoot compares the mode with strcmp(mode, "octet").
            Self::Octet => b"octet",
            Self::Netascii => b"netascii",
            Self::Mail => b"mail",
            Self::Other(raw) => raw,
        }
    }
}

/// One option of a request or an OACK, spelled as it was received (RFC 2347: names are
/// case-insensitive, and an OACK answers with the client's spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    /// The option name.
    pub name: String,
    /// The option value, as text.
    pub value: String,
}

impl RawOption {
    /// An option from its name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Whether this option's name is `name`, ignoring case (exact, never a substring).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// This option with its name and value escaped and capped for display (a peer's
    /// options reach events, logs and reports only this way).
    #[must_use]
    pub fn shown(&self) -> Self {
        Self {
            name: escape_text(&self.name),
            value: escape_text(&self.value),
        }
    }
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The file name exactly as sent: bytes, never decoded or unescaped.
    pub filename: Vec<u8>,
    /// The transfer mode.
    pub mode: Mode,
    /// The options in the order sent. A malformed tail of the option area is dropped.
    pub options: Vec<RawOption>,
}

impl Request {
    /// The file name for people: printable ASCII as is, everything else escaped, so a name
    /// carrying terminal escapes or format strings is shown harmlessly.
    pub fn display_name(&self) -> String {
        escape_name(&self.filename)
    }
}

/// The most bytes of one peer-supplied string (a file name, an option, an ERROR text) that
/// are shown; the rest is counted, not shown. A request name can be 64 KB; a log line
/// should not.
pub const MAX_SHOWN: usize = 200;

/// Escapes a file name for display: printable ASCII stays, everything else becomes `\xNN`;
/// past [`MAX_SHOWN`] bytes the rest is cut and counted.
pub fn escape_name(raw: &[u8]) -> String {
    let shown = &raw[..raw.len().min(MAX_SHOWN)];
    let mut out = String::with_capacity(shown.len());
    for &byte in shown {
        if byte == b'\\' {
            out.push_str("\\\\");
        } else if (0x20..0x7f).contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    cut_note(&mut out, raw.len());
    out
}

/// Escapes text a peer sent (an ERROR message, an option name or value) for logs, events and
/// reports: printable ASCII stays, a backslash is doubled, every other character (control
/// characters, ANSI escapes, line breaks, bidirectional overrides) becomes `\xNN` or `\u{N}`,
/// so the text stays on one visible line and cannot move the cursor or fake another line.
/// Past [`MAX_SHOWN`] bytes the rest is cut and counted.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN));
    for (at, c) in text.char_indices() {
        if at >= MAX_SHOWN {
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    cut_note(&mut out, text.len());
    out
}

/// The text of a datagram that is words, not TFTP: its first byte is printable ASCII, which
/// no TFTP packet's is (every opcode's high byte is zero). Netgear's EX2700 bootloader answers
/// an image whose checksum fails with such a datagram instead of an ERROR (nmrpflash's
/// `tftp_recvfrom`, which treats an `isprint` first byte as the router's rejection). The text
/// runs to the first NUL, without trailing spaces and line breaks, escaped and capped as
/// [`escape_text`] does; `None` for anything else.
pub fn plain_text(datagram: &[u8]) -> Option<String> {
    let first = *datagram.first()?;
    if !(0x20..0x7f).contains(&first) {
        return None;
    }
    let words = datagram.split(|&b| b == 0).next().unwrap_or_default();
    let words = String::from_utf8_lossy(words);
    Some(escape_text(words.trim_end()))
}

fn cut_note(out: &mut String, len: usize) {
    if len > MAX_SHOWN {
        let _ = write!(out, "... ({len} bytes in all)");
    }
}

/// One TFTP packet. DATA borrows its payload from the datagram it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Read request (opcode 1).
    Rrq(Request),
    /// Write request (opcode 2).
    Wrq(Request),
    /// A block of data (opcode 3).
    Data {
        /// The block number as on the wire (it rolls over).
        block: u16,
        /// The payload: 0 to blksize bytes.
        data: &'a [u8],
    },
    /// Acknowledgement of a block (opcode 4).
    Ack {
        /// The block number as on the wire.
        block: u16,
    },
    /// An error, which ends the transfer (opcode 5).
    Error {
        /// The error code.
        code: ErrorCode,
        /// The message, decoded leniently.
        message: String,
    },
    /// Option acknowledgement (opcode 6, RFC 2347).
    Oack {
        /// The options the server accepted, with their agreed values.
        options: Vec<RawOption>,
    },
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than the packet type needs.
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    /// An opcode TFTP does not define.
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    /// The file name runs to the end of the datagram without its NUL (CVE-2021-46671 class).
    #[error("request not NUL-terminated")]
    UnterminatedFilename,
    /// The file name is terminated but no mode follows, or the mode lacks its NUL.
    #[error("request has no mode")]
    MissingMode,
    /// An OACK whose option list is not complete name/value pairs.
    #[error("malformed option list")]
    MalformedOptions,
}

impl<'a> Packet<'a> {
    /// Parses one datagram. Never panics, never reads past the end of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < 2 {
            return Err(ParseError::TooShort(bytes.len()));
        }
        let opcode = u16::from_be_bytes([bytes[0], bytes[1]]);
        let body = &bytes[2..];
        match opcode {
            OP_RRQ => parse_request(body).map(Packet::Rrq),
            OP_WRQ => parse_request(body).map(Packet::Wrq),
            OP_DATA => {
                let (block, data) = split_block(body, bytes.len())?;
                Ok(Packet::Data { block, data })
            }
            // Trailing bytes after an ACK's block number are padding some stacks add; ignored.
            OP_ACK => split_block(body, bytes.len()).map(|(block, _)| Packet::Ack { block }),
            OP_ERROR => {
                let (code, rest) = split_block(body, bytes.len())?;
                // A 4-byte ERROR without message, or one missing its NUL, is still an ERROR.
                let text = rest.split(|&b| b == 0).next().unwrap_or_default();
                Ok(Packet::Error {
                    code: ErrorCode(code),
                    message: String::from_utf8_lossy(text).into_owned(),
                })
            }
            OP_OACK => {
                let options = parse_options(body).ok_or(ParseError::MalformedOptions)?;
                Ok(Packet::Oack { options })
            }
            other => Err(ParseError::UnknownOpcode(other)),
        }
    }

    /// Appends this packet's bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            Packet::Rrq(request) => emit_request(OP_RRQ, request, out),
            Packet::Wrq(request) => emit_request(OP_WRQ, request, out),
            Packet::Data { block, data } => {
                out.extend_from_slice(&OP_DATA.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Packet::Ack { block } => {
                out.extend_from_slice(&OP_ACK.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                out.extend_from_slice(&OP_ERROR.to_be_bytes());
                out.extend_from_slice(&code.0.to_be_bytes());
                // Exact length: dnsmasq 2.77 leaked buffer contents by miscounting this.
                out.extend(message.bytes().filter(|&b| b != 0));
                out.push(0);
            }
            Packet::Oack { options } => {
                out.extend_from_slice(&OP_OACK.to_be_bytes());
                emit_options(options, out);
            }
        }
    }

    /// This packet's bytes in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.emit(&mut out);
        out
    }

    fn encoded_len_hint(&self) -> usize {
        match self {
            Packet::Data { data, .. } => 4 + data.len(),
            Packet::Ack { .. } => 4,
            _ => 64,
        }
    }
}

/// Builds an ERROR datagram. An empty message is replaced by the code's name: some clients
/// drop 4-byte ERRORs (Tftpd32 pads them since 4.60).
pub fn error_datagram(code: ErrorCode, message: &str) -> Vec<u8> {
    let message = if message.is_empty() {
        code.to_string()
    } else {
        message.to_owned()
    };
    Packet::Error { code, message }.to_bytes()
}

/// Builds an ACK datagram.
pub fn ack_datagram(block: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    out.extend_from_slice(&OP_ACK.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out
}

/// Builds a DATA datagram.
pub fn data_datagram(block: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + data.len());
    out.extend_from_slice(&OP_DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(data);
    out
}

fn split_block(body: &[u8], total: usize) -> Result<(u16, &[u8]), ParseError> {
    match body {
        [hi, lo, rest @ ..] => Ok((u16::from_be_bytes([*hi, *lo]), rest)),
        _ => Err(ParseError::TooShort(total)),
    }
}

fn parse_request(body: &[u8]) -> Result<Request, ParseError> {
    let name_end = body
        .iter()
        .position(|&b| b == 0)
        .ok_or(ParseError::UnterminatedFilename)?;
    let filename = body[..name_end].to_vec();
    let after_name = &body[name_end + 1..];
    let mode_end = after_name
        .iter()
        .position(|&b| b == 0)
        .ok_or(ParseError::MissingMode)?;
    if mode_end == 0 {
        return Err(ParseError::MissingMode);
    }
    let mode = Mode::parse(&after_name[..mode_end]);
    // RFC 2347 limits requests to 512 octets, but real clients send more and some pad with
    // garbage (busybox had to accept 516-byte requests from HP PA-RISC firmware). Complete
    // name/value pairs are kept; an incomplete or unterminated tail is dropped, never fatal.
    let options = lenient_options(&after_name[mode_end + 1..]);
    Ok(Request {
        filename,
        mode,
        options,
    })
}

fn lenient_options(area: &[u8]) -> Vec<RawOption> {
    let mut options = Vec::new();
    let mut rest = area;
    while let Some(name_end) = rest.iter().position(|&b| b == 0) {
        let after = &rest[name_end + 1..];
        let Some(value_end) = after.iter().position(|&b| b == 0) else {
            break;
        };
        options.push(RawOption {
            name: String::from_utf8_lossy(&rest[..name_end]).into_owned(),
            value: String::from_utf8_lossy(&after[..value_end]).into_owned(),
        });
        rest = &after[value_end + 1..];
    }
    options
}

/// Strict parsing for an OACK: complete pairs, each NUL-terminated, non-empty names.
fn parse_options(area: &[u8]) -> Option<Vec<RawOption>> {
    if area.is_empty() {
        return Some(Vec::new());
    }
    if area.last() != Some(&0) {
        return None;
    }
    let fields: Vec<&[u8]> = area[..area.len() - 1].split(|&b| b == 0).collect();
    if !fields.len().is_multiple_of(2) {
        return None;
    }
    fields
        .chunks_exact(2)
        .map(|pair| {
            if pair[0].is_empty() {
                return None;
            }
            Some(RawOption {
                name: std::str::from_utf8(pair[0]).ok()?.to_owned(),
                value: std::str::from_utf8(pair[1]).ok()?.to_owned(),
            })
        })
        .collect()
}

fn emit_request(opcode: u16, request: &Request, out: &mut Vec<u8>) {
    out.extend_from_slice(&opcode.to_be_bytes());
    out.extend_from_slice(&request.filename);
    out.push(0);
    out.extend_from_slice(request.mode.as_bytes());
    out.push(0);
    emit_options(&request.options, out);
}

fn emit_options(options: &[RawOption], out: &mut Vec<u8>) {
    for option in options {
        out.extend_from_slice(option.name.as_bytes());
        out.push(0);
        out.extend_from_slice(option.value.as_bytes());
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_words_never_a_tftp_packet() {
        // Every TFTP packet starts with a zero byte: none is words.
        let mut ack = Vec::new();
        Packet::Ack { block: 1 }.emit(&mut ack);
        assert_eq!(plain_text(&ack), None);
        assert_eq!(
            plain_text(&error_datagram(ErrorCode::NOT_DEFINED, "x")),
            None
        );
        assert_eq!(plain_text(b""), None);
        assert_eq!(plain_text(b"\x1b[2Jfake"), None);
        // Up to the first NUL, trailing line break gone, the rest escaped.
        assert_eq!(
            plain_text(b"Firmware checksum error\r\n\0junk").as_deref(),
            Some("Firmware checksum error")
        );
        assert_eq!(
            plain_text(b"bad \x1b[31mred\xff").as_deref(),
            Some("bad \\x1b[31mred\\u{fffd}")
        );
        let long = vec![b'a'; 5000];
        let shown = plain_text(&long).unwrap();
        assert!(shown.starts_with(&"a".repeat(MAX_SHOWN)), "{shown}");
        assert!(shown.ends_with("(5000 bytes in all)"), "{shown}");
    }

    fn request(name: &str, mode: Mode, options: &[(&str, &str)]) -> Request {
        Request {
            filename: name.as_bytes().to_vec(),
            mode,
            options: options
                .iter()
                .map(|(n, v)| RawOption::new(*n, *v))
                .collect(),
        }
    }

    #[test]
    fn rrq_bytes() {
        let bytes = b"\x00\x01fw.bin\x00octet\x00";
        let packet = Packet::parse(bytes).unwrap();
        assert_eq!(packet, Packet::Rrq(request("fw.bin", Mode::Octet, &[])));
        assert_eq!(packet.to_bytes(), bytes);
    }

    #[test]
    fn rrq_with_options_bytes() {
        let bytes = b"\x00\x01a\x00octet\x00blksize\x001468\x00tsize\x000\x00timeout\x005\x00";
        let packet = Packet::parse(bytes).unwrap();
        let expected = request(
            "a",
            Mode::Octet,
            &[("blksize", "1468"), ("tsize", "0"), ("timeout", "5")],
        );
        assert_eq!(packet, Packet::Rrq(expected));
        assert_eq!(packet.to_bytes(), bytes);
    }

    #[test]
    fn wrq_bytes() {
        let bytes = b"\x00\x02up.img\x00netascii\x00";
        let packet = Packet::parse(bytes).unwrap();
        assert_eq!(packet, Packet::Wrq(request("up.img", Mode::Netascii, &[])));
        assert_eq!(packet.to_bytes(), bytes);
    }

    #[test]
    fn data_bytes() {
        let bytes = b"\x00\x03\xff\xfehello";
        let packet = Packet::parse(bytes).unwrap();
        assert_eq!(
            packet,
            Packet::Data {
                block: 0xfffe,
                data: b"hello"
            }
        );
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(data_datagram(0xfffe, b"hello"), bytes);
    }

    #[test]
    fn empty_data_bytes() {
        let bytes = b"\x00\x03\x00\x00";
        assert_eq!(
            Packet::parse(bytes).unwrap(),
            Packet::Data {
                block: 0,
                data: b""
            }
        );
    }

    #[test]
    fn ack_bytes() {
        let bytes = b"\x00\x04\x01\x02";
        let packet = Packet::parse(bytes).unwrap();
        assert_eq!(packet, Packet::Ack { block: 0x0102 });
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(ack_datagram(0x0102), bytes);
    }

    #[test]
    fn error_bytes() {
        let bytes = b"\x00\x05\x00\x01File not found\x00";
        let packet = Packet::parse(bytes).unwrap();
        assert_eq!(
            packet,
            Packet::Error {
                code: ErrorCode::FILE_NOT_FOUND,
                message: "File not found".into()
            }
        );
        assert_eq!(packet.to_bytes(), bytes);
    }

    #[test]
    fn error_without_message_or_nul_is_an_error() {
        assert_eq!(
            Packet::parse(b"\x00\x05\x00\x08").unwrap(),
            Packet::Error {
                code: ErrorCode::OPTION_NEGOTIATION,
                message: String::new()
            }
        );
        assert_eq!(
            Packet::parse(b"\x00\x05\x00\x63oops").unwrap(),
            Packet::Error {
                code: ErrorCode(99),
                message: "oops".into()
            }
        );
    }

    #[test]
    fn empty_error_message_is_filled_in() {
        let bytes = error_datagram(ErrorCode::DISK_FULL, "");
        assert!(bytes.len() > 5, "a message is always carried");
        assert_eq!(*bytes.last().unwrap(), 0);
    }

    #[test]
    fn oack_bytes() {
        let bytes = b"\x00\x06blksize\x001468\x00tsize\x00100\x00";
        let packet = Packet::parse(bytes).unwrap();
        assert_eq!(
            packet,
            Packet::Oack {
                options: vec![
                    RawOption::new("blksize", "1468"),
                    RawOption::new("tsize", "100")
                ]
            }
        );
        assert_eq!(packet.to_bytes(), bytes);
    }

    #[test]
    fn malformed_oacks_are_rejected() {
        for bytes in [
            &b"\x00\x06blksize\x00512"[..],
            b"\x00\x06blksize\x00",
            b"\x00\x06\x00512\x00",
            b"\x00\x06blksize\x00512\x00tsize\x00",
        ] {
            assert_eq!(
                Packet::parse(bytes),
                Err(ParseError::MalformedOptions),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn modes_and_option_names_ignore_case() {
        let packet = Packet::parse(b"\x00\x01f\x00OcTeT\x00BLKSIZE\x001024\x00").unwrap();
        let Packet::Rrq(req) = packet else {
            panic!("not a read request")
        };
        assert_eq!(req.mode, Mode::Octet);
        assert!(req.options[0].is("blksize"));
        assert_eq!(
            req.options[0].name, "BLKSIZE",
            "spelling is kept for the OACK"
        );
        assert!(!RawOption::new("xblksize", "1").is("blksize"));
    }

    #[test]
    fn other_modes_are_kept() {
        let Packet::Rrq(req) = Packet::parse(b"\x00\x01f\x00binary\x00").unwrap() else {
            panic!("not a read request")
        };
        assert_eq!(req.mode, Mode::Other(b"binary".to_vec()));
        let Packet::Rrq(req) = Packet::parse(b"\x00\x01f\x00MAIL\x00").unwrap() else {
            panic!("not a read request")
        };
        assert_eq!(req.mode, Mode::Mail);
    }

    #[test]
    fn unterminated_requests_are_refused_without_over_read() {
        assert_eq!(
            Packet::parse(b"\x00\x01fw.bin"),
            Err(ParseError::UnterminatedFilename)
        );
        assert_eq!(
            Packet::parse(b"\x00\x01fw.bin\x00"),
            Err(ParseError::MissingMode)
        );
        assert_eq!(
            Packet::parse(b"\x00\x01fw.bin\x00octet"),
            Err(ParseError::MissingMode)
        );
        assert_eq!(
            Packet::parse(b"\x00\x01fw.bin\x00\x00"),
            Err(ParseError::MissingMode)
        );
    }

    #[test]
    fn trailing_garbage_after_mode_is_ignored() {
        let mut bytes = b"\x00\x01fw.bin\x00octet\x00".to_vec();
        bytes.resize(516, b'X');
        let Packet::Rrq(req) = Packet::parse(&bytes).unwrap() else {
            panic!("not a read request")
        };
        assert_eq!(req.filename, b"fw.bin");
        assert!(req.options.is_empty());
    }

    #[test]
    fn odd_trailing_option_name_is_dropped() {
        let Packet::Rrq(req) =
            Packet::parse(b"\x00\x01f\x00octet\x00blksize\x00512\x00tsize\x00").unwrap()
        else {
            panic!("not a read request")
        };
        assert_eq!(req.options, vec![RawOption::new("blksize", "512")]);
    }

    #[test]
    fn short_and_unknown_datagrams() {
        assert_eq!(Packet::parse(b""), Err(ParseError::TooShort(0)));
        assert_eq!(Packet::parse(b"\x00"), Err(ParseError::TooShort(1)));
        assert_eq!(Packet::parse(b"\x00\x03"), Err(ParseError::TooShort(2)));
        assert_eq!(Packet::parse(b"\x00\x04\x00"), Err(ParseError::TooShort(3)));
        assert_eq!(Packet::parse(b"\x00\x05\x00"), Err(ParseError::TooShort(3)));
        for op in [0u16, 7, 0x00ff, 0xffff] {
            let bytes = [op.to_be_bytes().as_slice(), b"x\x00octet\x00"].concat();
            assert_eq!(Packet::parse(&bytes), Err(ParseError::UnknownOpcode(op)));
        }
    }

    #[test]
    fn names_are_escaped_for_display() {
        assert_eq!(escape_name(b"fw.bin"), "fw.bin");
        assert_eq!(escape_name(b"\x1b[2J%s%n\r\n"), "\\x1b[2J%s%n\\x0d\\x0a");
        assert_eq!(escape_name(b"..\\win.ini"), "..\\\\win.ini");
        assert_eq!(escape_name("\u{2215}".as_bytes()), "\\xe2\\x88\\x95");
    }

    #[test]
    fn peer_text_is_escaped_and_capped() {
        assert_eq!(escape_text("File not found"), "File not found");
        assert_eq!(
            escape_text("x\n done 4 MiB, sha256 matches\x1b[1A\r"),
            "x\\x0a done 4 MiB, sha256 matches\\x1b[1A\\x0d"
        );
        assert_eq!(escape_text("a\u{202e}b\u{9b}c\\"), "a\\u{202e}b\\x9bc\\\\");
        let long = "y".repeat(64 * 1024);
        let shown = escape_text(&long);
        assert!(shown.len() < MAX_SHOWN + 40, "{}", shown.len());
        assert!(shown.ends_with("... (65536 bytes in all)"), "{shown}");
        let name = escape_name(&vec![b'n'; 64 * 1024]);
        assert!(name.len() < MAX_SHOWN + 40, "{}", name.len());
        assert!(name.ends_with("... (65536 bytes in all)"), "{name}");
    }
}
