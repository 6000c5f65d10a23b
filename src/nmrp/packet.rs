//! The NMRP wire format: parse and emit are mirror images, and parsing never panics.
//!
//! NMRP (Netgear Management Redundancy Protocol) rides directly on Ethernet II, `EtherType`
//! 0x0912, without IP. A message is a 6-byte header, `reserved u16 · code u8 · id u8 · len u16`
//! (big-endian), followed by options, each `type u16 · len u16 · value`. Both lengths include
//! their own header: the message `len` counts the 6 header bytes plus every option, an
//! option's `len` counts its 4 header bytes plus its value (Netgear U-Boot `net/nmrp.h`:
//! `FIRMWARE_FILENAME_OPT_LEN = 4 + 8`; nmrpflash `nmrp.c` `msg_mkopt`).
//!
//! Routers pad their frames to the 60-byte Ethernet minimum, so a message is parsed by its
//! `len`, never by the frame's length; bytes after `len` are padding. Unknown codes and unknown
//! options are kept, not rejected. A message whose options do not sum exactly to its length is
//! rejected, as the router rejects it (`Nmrp_Parse_Opts`); the reserved field is kept as sent,
//! and [`Message::is_reserved_zero`] is the router's other check.

use std::fmt;
use std::net::Ipv4Addr;

use crate::net::wire::Mac;

/// The `EtherType` of NMRP frames.
pub const ETHERTYPE: u16 = 0x0912;
/// Bytes of the message header: reserved, code, id, length.
pub const HEADER_LEN: usize = 6;
/// Bytes of an option header: type, length.
pub const OPTION_HEADER_LEN: usize = 4;
/// Bytes of an Ethernet II header.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// The smallest Ethernet frame without its frame check sequence: shorter frames are padded.
pub const MIN_FRAME_LEN: usize = 60;
/// The magic number an ADVERTISE carries: a router compares its MAGIC-NO option with it.
pub const MAGIC: &[u8; 4] = b"NTGR";
/// The file name a router asks for when it wants firmware (Netgear U-Boot `FIRMWARE_FILENAME`).
pub const FIRMWARE_FILE_NAME: &str = "firmware";

/// A message code. Unknown codes are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u8);

impl Code {
    /// The host looks for routers in recovery mode (host to router, with MAGIC-NO).
    pub const ADVERTISE: Self = Self(0x01);
    /// The router asks for its configuration (router to host).
    pub const CONF_REQ: Self = Self(0x02);
    /// The host configures the router: DEV-IP, FW-UP, maybe DEV-REGION (host to router).
    pub const CONF_ACK: Self = Self(0x03);
    /// The router (rarely the host) ends the session.
    pub const CLOSE_REQ: Self = Self(0x04);
    /// The answer to `CLOSE_REQ`.
    pub const CLOSE_ACK: Self = Self(0x05);
    /// The router says it is still busy writing flash (router to host).
    pub const KEEP_ALIVE_REQ: Self = Self(0x06);
    /// The answer to `KEEP_ALIVE_REQ` (host to router).
    pub const KEEP_ALIVE_ACK: Self = Self(0x07);
    /// The router asks for the upload to start now, naming the file (router to host).
    pub const TFTP_UL_REQ: Self = Self(0x10);

    /// The code's name as nmrpflash and the router's console print it, or its number in hex.
    pub fn name(self) -> String {
        let name = match self {
            Self::ADVERTISE => "ADVERTISE",
            Self::CONF_REQ => "CONF_REQ",
            Self::CONF_ACK => "CONF_ACK",
            Self::CLOSE_REQ => "CLOSE_REQ",
            Self::CLOSE_ACK => "CLOSE_ACK",
            Self::KEEP_ALIVE_REQ => "KEEP_ALIVE_REQ",
            Self::KEEP_ALIVE_ACK => "KEEP_ALIVE_ACK",
            Self::TFTP_UL_REQ => "TFTP_UL_REQ",
            Self(other) => return format!("code 0x{other:02x}"),
        };
        name.to_owned()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Option type: MAGIC-NO, 4 ASCII bytes "NTGR".
pub const OPT_MAGIC_NO: u16 = 0x0001;
/// Option type: DEV-IP, the router's address and netmask.
pub const OPT_DEV_IP: u16 = 0x0002;
/// Option type: DEV-REGION, a 16-bit region code.
pub const OPT_DEV_REGION: u16 = 0x0004;
/// Option type: FW-UP, no value: "ask me for a firmware upload".
pub const OPT_FW_UP: u16 = 0x0101;
/// Option type: ST-UP, a 32-bit bitmask of string tables to update.
pub const OPT_ST_UP: u16 = 0x0102;
/// Option type: FILE-NAME, ASCII without a terminating NUL.
pub const OPT_FILE_NAME: u16 = 0x0181;

/// A region code of the DEV-REGION option (Netgear U-Boot `nmrp.h`; AU from nmrpflash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(pub u16);

impl Region {
    /// The regions by name, as nmrpflash's `-R` and Netgear's firmware names spell them.
    pub const NAMES: [(&'static str, u16); 10] = [
        ("NA", 0x0001),
        ("WW", 0x0002),
        ("GR", 0x0003),
        ("PR", 0x0004),
        ("RU", 0x0005),
        ("BZ", 0x0006),
        ("IN", 0x0007),
        ("KO", 0x0008),
        ("JP", 0x0009),
        ("AU", 0x000a),
    ];

    /// The region named `name` (case-insensitive), or `None` for a name no router knows.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|&(_, code)| Self(code))
    }

    /// The region's name, if it has one.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|&&(_, code)| code == self.0)
            .map(|&(name, _)| name)
    }
}

/// One option of a message.
///
/// A known type whose value has the wrong size for it is kept as [`NmrpOption::Unknown`], so
/// that nothing a router sends is lost and emit writes back exactly what was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NmrpOption {
    /// MAGIC-NO: the bytes that should read "NTGR".
    MagicNo(Vec<u8>),
    /// DEV-IP: the address the router takes for its TFTP server, and its netmask.
    DevIp {
        /// The router's address.
        addr: Ipv4Addr,
        /// The router's netmask.
        mask: Ipv4Addr,
    },
    /// DEV-REGION: the region the router writes into its environment.
    DevRegion(Region),
    /// FW-UP: the host offers firmware.
    FwUp,
    /// ST-UP: the host offers the string tables whose bits are set (bit 0 is table 01).
    StUp(u32),
    /// FILE-NAME: the name the router wants the upload under, bytes as sent.
    FileName(Vec<u8>),
    /// Any other option, or a known one of the wrong size.
    Unknown {
        /// The option type.
        kind: u16,
        /// Its value.
        value: Vec<u8>,
    },
}

impl NmrpOption {
    /// The option's type on the wire.
    pub fn kind(&self) -> u16 {
        match self {
            Self::MagicNo(_) => OPT_MAGIC_NO,
            Self::DevIp { .. } => OPT_DEV_IP,
            Self::DevRegion(_) => OPT_DEV_REGION,
            Self::FwUp => OPT_FW_UP,
            Self::StUp(_) => OPT_ST_UP,
            Self::FileName(_) => OPT_FILE_NAME,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    fn parse(kind: u16, value: &[u8]) -> Self {
        match (kind, value) {
            // MAGIC-NO's length is what the router compares (`memcmp` of `len - 4` bytes).
            (OPT_MAGIC_NO, _) => Self::MagicNo(value.to_vec()),
            (OPT_DEV_IP, [a, b, c, d, m0, m1, m2, m3]) => Self::DevIp {
                addr: Ipv4Addr::new(*a, *b, *c, *d),
                mask: Ipv4Addr::new(*m0, *m1, *m2, *m3),
            },
            (OPT_DEV_REGION, [hi, lo]) => Self::DevRegion(Region(u16::from_be_bytes([*hi, *lo]))),
            (OPT_FW_UP, []) => Self::FwUp,
            (OPT_ST_UP, [a, b, c, d]) => Self::StUp(u32::from_be_bytes([*a, *b, *c, *d])),
            (OPT_FILE_NAME, _) => Self::FileName(value.to_vec()),
            _ => Self::Unknown {
                kind,
                value: value.to_vec(),
            },
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Self::MagicNo(v) | Self::FileName(v) | Self::Unknown { value: v, .. } => v.len(),
            Self::DevIp { .. } => 8,
            Self::DevRegion(_) => 2,
            Self::FwUp => 0,
            Self::StUp(_) => 4,
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kind().to_be_bytes());
        // The length includes the option's own 4-byte header (see the module comment).
        out.extend_from_slice(&((OPTION_HEADER_LEN + self.value_len()) as u16).to_be_bytes());
        match self {
            Self::MagicNo(v) | Self::FileName(v) | Self::Unknown { value: v, .. } => {
                out.extend_from_slice(v);
            }
            Self::DevIp { addr, mask } => {
                out.extend_from_slice(&addr.octets());
                out.extend_from_slice(&mask.octets());
            }
            Self::DevRegion(region) => out.extend_from_slice(&region.0.to_be_bytes()),
            Self::FwUp => {}
            Self::StUp(mask) => out.extend_from_slice(&mask.to_be_bytes()),
        }
    }
}

/// One NMRP message: the part of an Ethernet frame after the `EtherType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The reserved field: zero in every valid message. Kept as received so that parse and
    /// emit mirror each other; [`Message::is_reserved_zero`] is the router's check.
    pub reserved: u16,
    /// What the message is.
    pub code: Code,
    /// The identifier: zero from every known sender; kept as received.
    pub id: u8,
    /// The options in the order sent.
    pub options: Vec<NmrpOption>,
}

/// Why bytes are not an NMRP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than the 6-byte header.
    #[error("NMRP message too short ({0} bytes)")]
    TooShort(usize),
    /// The header's length is below the header itself.
    #[error("NMRP length {0} is below the 6-byte header")]
    LengthBelowHeader(u16),
    /// The header's length runs past the bytes received.
    #[error("NMRP length {len} runs past the {available} bytes received")]
    LengthBeyondFrame {
        /// The length field.
        len: u16,
        /// The bytes there are.
        available: usize,
    },
    /// An option's length is below its header or runs past the message's length, so the
    /// options do not sum exactly to the length (Netgear U-Boot drops such frames).
    #[error("NMRP options do not add up to the message length")]
    OptionsMismatch,
}

impl Message {
    /// A message with the given code and options, reserved and id zero.
    pub fn new(code: Code, options: Vec<NmrpOption>) -> Self {
        Self {
            reserved: 0,
            code,
            id: 0,
            options,
        }
    }

    /// Parses a message from the bytes after the `EtherType`. Bytes past the length field are
    /// padding and ignored. Never panics, never reads past the end of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let [r0, r1, code, id, l0, l1, ..] = *bytes else {
            return Err(ParseError::TooShort(bytes.len()));
        };
        let reserved = u16::from_be_bytes([r0, r1]);
        let len = u16::from_be_bytes([l0, l1]);
        if usize::from(len) < HEADER_LEN {
            return Err(ParseError::LengthBelowHeader(len));
        }
        let Some(body) = bytes.get(HEADER_LEN..usize::from(len)) else {
            return Err(ParseError::LengthBeyondFrame {
                len,
                available: bytes.len(),
            });
        };
        let mut options = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let [t0, t1, o0, o1, ..] = *rest else {
                return Err(ParseError::OptionsMismatch);
            };
            let option_len = usize::from(u16::from_be_bytes([o0, o1]));
            if option_len < OPTION_HEADER_LEN || option_len > rest.len() {
                return Err(ParseError::OptionsMismatch);
            }
            let kind = u16::from_be_bytes([t0, t1]);
            options.push(NmrpOption::parse(
                kind,
                &rest[OPTION_HEADER_LEN..option_len],
            ));
            rest = &rest[option_len..];
        }
        Ok(Self {
            reserved,
            code: Code(code),
            id,
            options,
        })
    }

    /// The length field this message gets: header plus every option.
    pub fn len(&self) -> usize {
        HEADER_LEN
            + self
                .options
                .iter()
                .map(|o| OPTION_HEADER_LEN + o.value_len())
                .sum::<usize>()
    }

    /// Whether the message has no options.
    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }

    /// Appends this message's bytes to `out`, the length field counting header and options.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.reserved.to_be_bytes());
        out.push(self.code.0);
        out.push(self.id);
        out.extend_from_slice(&(self.len() as u16).to_be_bytes());
        for option in &self.options {
            option.emit(out);
        }
    }

    /// This message's bytes in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.emit(&mut out);
        out
    }

    /// Whether the reserved field is zero: Netgear U-Boot drops a message whose reserved field
    /// is anything else (`NmrpHandler`: "the reserved must be all zero in a valid NMRP packet").
    pub fn is_reserved_zero(&self) -> bool {
        self.reserved == 0
    }

    /// The first MAGIC-NO option's bytes.
    pub fn magic(&self) -> Option<&[u8]> {
        self.options.iter().find_map(|o| match o {
            NmrpOption::MagicNo(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The first DEV-IP option: the router's address and netmask.
    pub fn dev_ip(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        self.options.iter().find_map(|o| match o {
            NmrpOption::DevIp { addr, mask } => Some((*addr, *mask)),
            _ => None,
        })
    }

    /// The first DEV-REGION option.
    pub fn region(&self) -> Option<Region> {
        self.options.iter().find_map(|o| match o {
            NmrpOption::DevRegion(r) => Some(*r),
            _ => None,
        })
    }

    /// Whether the message carries FW-UP.
    pub fn has_fw_up(&self) -> bool {
        self.options.iter().any(|o| matches!(o, NmrpOption::FwUp))
    }

    /// The first FILE-NAME option's bytes.
    pub fn file_name(&self) -> Option<&[u8]> {
        self.options.iter().find_map(|o| match o {
            NmrpOption::FileName(v) => Some(v.as_slice()),
            _ => None,
        })
    }
}

/// An NMRP message inside its Ethernet frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Where the frame goes.
    pub dst: Mac,
    /// Who sent it.
    pub src: Mac,
    /// The message.
    pub message: Message,
}

/// Why an Ethernet frame is not an NMRP frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than an Ethernet header.
    #[error("frame too short ({0} bytes)")]
    TooShort(usize),
    /// Another protocol's frame.
    #[error("EtherType 0x{0:04x} is not NMRP")]
    NotNmrp(u16),
    /// The message inside is malformed.
    #[error(transparent)]
    Message(#[from] ParseError),
}

/// The broadcast address, where an ADVERTISE goes when the router's MAC is not known.
pub const BROADCAST: Mac = Mac([0xff; 6]);

impl Frame {
    /// Parses a whole Ethernet II frame (as read from an `AF_PACKET` socket). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, FrameError> {
        let Some((header, payload)) = bytes.split_first_chunk::<ETHERNET_HEADER_LEN>() else {
            return Err(FrameError::TooShort(bytes.len()));
        };
        let ethertype = u16::from_be_bytes([header[12], header[13]]);
        if ethertype != ETHERTYPE {
            return Err(FrameError::NotNmrp(ethertype));
        }
        let mut dst = [0; 6];
        let mut src = [0; 6];
        dst.copy_from_slice(&header[..6]);
        src.copy_from_slice(&header[6..12]);
        Ok(Self {
            dst: Mac(dst),
            src: Mac(src),
            message: Message::parse(payload)?,
        })
    }

    /// The frame's bytes, padded with zeros to the 60-byte Ethernet minimum, as a router's
    /// network driver sends them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(MIN_FRAME_LEN.max(ETHERNET_HEADER_LEN + self.message.len()));
        out.extend_from_slice(&self.dst.0);
        out.extend_from_slice(&self.src.0);
        out.extend_from_slice(&ETHERTYPE.to_be_bytes());
        self.message.emit(&mut out);
        if out.len() < MIN_FRAME_LEN {
            out.resize(MIN_FRAME_LEN, 0);
        }
        out
    }
}
