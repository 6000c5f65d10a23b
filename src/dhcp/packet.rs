//! The BOOTP/DHCP wire format: parse and emit are mirror images, and parsing never panics.
//!
//! The fixed header is RFC 951's (236 bytes up to `file`, then the 64-byte vendor area); with
//! the magic cookie of RFC 1497 the vendor area carries the options of RFC 2132, which DHCP
//! (RFC 2131 §3) extends. The length is checked once, before any field is read; unknown option
//! codes are kept in the order they came, and a vendor area without the cookie is kept as it is.

use std::fmt;
use std::net::Ipv4Addr;

use crate::net::wire::Mac;

/// Length of the fixed header, from `op` up to and including `file` (RFC 951 §3).
pub const FIXED_LEN: usize = 236;

/// The smallest BOOTP message a relay or client must accept (RFC 1542 §2.1): 236 bytes of
/// header and a 64-byte vendor area. Replies are padded up to it.
pub const MIN_LEN: usize = 300;

/// The magic cookie that opens an option area (RFC 1497, RFC 2132 §2).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// The broadcast bit of `flags` (RFC 1542 §3.1.1): the client cannot take unicast yet.
pub const FLAG_BROADCAST: u16 = 0x8000;

/// Length of `sname` (RFC 951).
pub const SNAME_LEN: usize = 64;
/// Length of `file` (RFC 951).
pub const FILE_LEN: usize = crate::profile::schema::BOOT_FILE_FIELD_LEN;

/// Hardware type of Ethernet (RFC 1700, ARP hardware types).
pub const HTYPE_ETHERNET: u8 = 1;

const PAD: u8 = 0;
const END: u8 = 255;

/// Option codes rescue-wizard reads or writes (RFC 2132 unless noted).
pub mod code {
    /// 1: subnet mask (§3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// 3: routers (§3.5).
    pub const ROUTER: u8 = 3;
    /// 12: host name (§3.14).
    pub const HOST_NAME: u8 = 12;
    /// 50: the address a client asks for (§9.1).
    pub const REQUESTED_ADDRESS: u8 = 50;
    /// 51: lease time in seconds (§9.2).
    pub const LEASE_TIME: u8 = 51;
    /// 52: `file`/`sname` carry options (§9.3).
    pub const OVERLOAD: u8 = 52;
    /// 53: DHCP message type (§9.6); its absence makes a message BOOTP.
    pub const MESSAGE_TYPE: u8 = 53;
    /// 54: server identifier (§9.7).
    pub const SERVER_ID: u8 = 54;
    /// 55: parameter request list (§9.8).
    pub const PARAMETER_LIST: u8 = 55;
    /// 56: message, a server's reason for a NAK (§9.9).
    pub const MESSAGE: u8 = 56;
    /// 57: largest DHCP message the client takes (§9.10).
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// 58: renewal time T1 (§9.11).
    pub const RENEWAL_TIME: u8 = 58;
    /// 59: rebinding time T2 (§9.12).
    pub const REBINDING_TIME: u8 = 59;
    /// 60: vendor class identifier (§9.13): `Mips_boot`, `ARM__boot`, `U-Boot.armv7`.
    pub const VENDOR_CLASS: u8 = 60;
    /// 61: client identifier (§9.14).
    pub const CLIENT_ID: u8 = 61;
    /// 66: TFTP server name (§9.4); U-Boot ignores it and reads `siaddr`.
    pub const TFTP_SERVER: u8 = 66;
    /// 67: boot file name (§9.5).
    pub const BOOT_FILE: u8 = 67;
}

/// `op`: a request from a client or a reply from a server (RFC 951). Other values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Op(pub u8);

impl Op {
    /// 1: BOOTREQUEST.
    pub const REQUEST: Self = Self(1);
    /// 2: BOOTREPLY.
    pub const REPLY: Self = Self(2);
}

/// A DHCP message type (option 53, RFC 2132 §9.6). Unknown types are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(pub u8);

impl MessageType {
    /// 1: a client looks for servers.
    pub const DISCOVER: Self = Self(1);
    /// 2: a server offers an address.
    pub const OFFER: Self = Self(2);
    /// 3: a client takes an offer, or confirms or renews its address.
    pub const REQUEST: Self = Self(3);
    /// 4: the client says the address is already in use.
    pub const DECLINE: Self = Self(4);
    /// 5: a server confirms the lease.
    pub const ACK: Self = Self(5);
    /// 6: a server refuses the request.
    pub const NAK: Self = Self(6);
    /// 7: the client gives its address back.
    pub const RELEASE: Self = Self(7);
    /// 8: a client with an address asks for options only.
    pub const INFORM: Self = Self(8);
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::DISCOVER => "DHCPDISCOVER",
            Self::OFFER => "DHCPOFFER",
            Self::REQUEST => "DHCPREQUEST",
            Self::DECLINE => "DHCPDECLINE",
            Self::ACK => "DHCPACK",
            Self::NAK => "DHCPNAK",
            Self::RELEASE => "DHCPRELEASE",
            Self::INFORM => "DHCPINFORM",
            Self(other) => return write!(f, "DHCP message type {other}"),
        };
        f.write_str(name)
    }
}

/// One option of the option area, as it came: a code and its value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpOption {
    /// The option code (never 0, pad, or 255, end: those are framing).
    pub code: u8,
    /// The value. Longer than 255 bytes, it is emitted as several options of the same code
    /// (RFC 3396 §6), which [`Message::option`] joins again.
    pub value: Vec<u8>,
}

impl DhcpOption {
    /// An option from its code and value.
    pub fn new(code: u8, value: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            value: value.into(),
        }
    }

    /// An option carrying one IPv4 address.
    pub fn address(code: u8, address: Ipv4Addr) -> Self {
        Self::new(code, address.octets())
    }

    /// An option carrying a 32-bit number in network order (lease times).
    pub fn seconds(code: u8, seconds: u32) -> Self {
        Self::new(code, seconds.to_be_bytes())
    }
}

/// The vendor area after `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vendor {
    /// The magic cookie, then options up to the end option; the bytes after it are padding.
    Options(Vec<DhcpOption>),
    /// No magic cookie: RFC 951's opaque vendor bytes, kept exactly.
    Opaque(Vec<u8>),
}

/// One BOOTP or DHCP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request or reply.
    pub op: Op,
    /// Hardware type (1: Ethernet).
    pub htype: u8,
    /// Hardware address length (6 for Ethernet).
    pub hlen: u8,
    /// Relay hops.
    pub hops: u8,
    /// Transaction id, chosen by the client and echoed in replies.
    pub xid: u32,
    /// Seconds since the client began.
    pub secs: u16,
    /// Flags; [`FLAG_BROADCAST`] is the only one defined.
    pub flags: u16,
    /// The client's own address, when it has one.
    pub ciaddr: Ipv4Addr,
    /// "Your" address: the one a server gives.
    pub yiaddr: Ipv4Addr,
    /// The next server, which bootloaders fetch the boot file from.
    pub siaddr: Ipv4Addr,
    /// A relay's address.
    pub giaddr: Ipv4Addr,
    /// The client's hardware address, padded to 16 bytes.
    pub chaddr: [u8; 16],
    /// Server host name, NUL-padded.
    pub sname: [u8; SNAME_LEN],
    /// Boot file name, NUL-padded.
    pub file: [u8; FILE_LEN],
    /// Options, or RFC 951's opaque vendor bytes.
    pub vendor: Vendor,
}

/// Why a datagram is not a BOOTP/DHCP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Shorter than the fixed header.
    #[error("message too short ({0} bytes; BOOTP needs at least {FIXED_LEN})")]
    TooShort(usize),
    /// An option's length runs past the end of the datagram.
    #[error("option {code} claims {len} bytes, only {left} are left")]
    TruncatedOption {
        /// The option code.
        code: u8,
        /// The length it claims.
        len: usize,
        /// The bytes there are.
        left: usize,
    },
}

/// Why a name does not fit a fixed field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the name {name:?} is {len} bytes; the {field} field holds at most {max} (no NUL inside)")]
pub struct FieldTooLong {
    /// The name, for the message.
    pub name: String,
    /// Its length in bytes.
    pub len: usize,
    /// Which field.
    pub field: &'static str,
    /// The most the field holds, keeping a terminating NUL.
    pub max: usize,
}

impl Message {
    /// An empty message of kind `op` for an Ethernet client: every address 0.0.0.0, no options.
    pub fn new(op: Op, xid: u32, client: Mac) -> Self {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&client.0);
        Self {
            op,
            htype: HTYPE_ETHERNET,
            hlen: 6,
            hops: 0,
            xid,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: [0; SNAME_LEN],
            file: [0; FILE_LEN],
            vendor: Vendor::Options(Vec::new()),
        }
    }

    /// Parses one datagram. Never panics, never reads past the end of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() < FIXED_LEN {
            return Err(ParseError::TooShort(bytes.len()));
        }
        // One length check above; every index below is inside the fixed header.
        let addr =
            |at: usize| Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
        let mut chaddr = [0u8; 16];
        chaddr.copy_from_slice(&bytes[28..44]);
        let mut sname = [0u8; SNAME_LEN];
        sname.copy_from_slice(&bytes[44..108]);
        let mut file = [0u8; FILE_LEN];
        file.copy_from_slice(&bytes[108..FIXED_LEN]);
        let area = &bytes[FIXED_LEN..];
        let vendor = match area.split_first_chunk::<4>() {
            Some((cookie, options)) if *cookie == MAGIC_COOKIE => {
                Vendor::Options(parse_options(options)?)
            }
            _ => Vendor::Opaque(area.to_vec()),
        };
        Ok(Self {
            op: Op(bytes[0]),
            htype: bytes[1],
            hlen: bytes[2],
            hops: bytes[3],
            xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            flags: u16::from_be_bytes([bytes[10], bytes[11]]),
            ciaddr: addr(12),
            yiaddr: addr(16),
            siaddr: addr(20),
            giaddr: addr(24),
            chaddr,
            sname,
            file,
            vendor,
        })
    }

    /// Appends this message's bytes to `out`. An option area ends with the end option and is
    /// padded with zeros to [`MIN_LEN`]; opaque vendor bytes are written as they are.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.op.0, self.htype, self.hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for addr in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&addr.octets());
        }
        out.extend_from_slice(&self.chaddr);
        out.extend_from_slice(&self.sname);
        out.extend_from_slice(&self.file);
        match &self.vendor {
            Vendor::Opaque(bytes) => out.extend_from_slice(bytes),
            Vendor::Options(options) => {
                out.extend_from_slice(&MAGIC_COOKIE);
                for option in options {
                    emit_option(option, out);
                }
                out.push(END);
                let len = out.len() - start;
                if len < MIN_LEN {
                    out.resize(start + MIN_LEN, PAD);
                }
            }
        }
    }

    /// This message's bytes in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_LEN);
        self.emit(&mut out);
        out
    }

    /// The options, empty when the vendor area is opaque.
    pub fn options(&self) -> &[DhcpOption] {
        match &self.vendor {
            Vendor::Options(options) => options,
            Vendor::Opaque(_) => &[],
        }
    }

    /// The value of option `code`: every instance joined, in order (RFC 3396 §7); `None` when
    /// absent.
    pub fn option(&self, code: u8) -> Option<Vec<u8>> {
        let mut found = self.options().iter().filter(|o| o.code == code).peekable();
        found.peek()?;
        Some(found.flat_map(|o| o.value.iter().copied()).collect())
    }

    /// Option 53, when it is there and one byte long. Without it the message is BOOTP.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(code::MESSAGE_TYPE)?.as_slice() {
            [kind] => Some(MessageType(*kind)),
            _ => None,
        }
    }

    /// An option holding one IPv4 address (50, 54), when it is exactly four bytes.
    pub fn address_option(&self, code: u8) -> Option<Ipv4Addr> {
        let value: [u8; 4] = self.option(code)?.try_into().ok()?;
        Some(Ipv4Addr::from(value))
    }

    /// The vendor class (option 60) as text, unprintable bytes escaped.
    pub fn vendor_class(&self) -> Option<String> {
        self.option(code::VENDOR_CLASS)
            .map(|raw| crate::tftp::packet::escape_name(&raw))
    }

    /// The client's Ethernet address, when `htype` and `hlen` say Ethernet.
    pub fn client_mac(&self) -> Option<Mac> {
        if self.htype != HTYPE_ETHERNET || self.hlen != 6 {
            return None;
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.chaddr[..6]);
        Some(Mac(mac))
    }

    /// Whether the client asked for broadcast replies.
    pub fn wants_broadcast(&self) -> bool {
        self.flags & FLAG_BROADCAST != 0
    }

    /// The `file` field up to its first NUL.
    pub fn file_name(&self) -> &[u8] {
        until_nul(&self.file)
    }

    /// The `sname` field up to its first NUL.
    pub fn server_name(&self) -> &[u8] {
        until_nul(&self.sname)
    }

    /// Sets the `file` field: `name`, then NULs.
    pub fn set_file_name(&mut self, name: &str) -> Result<(), FieldTooLong> {
        self.file = fixed_field(name, "file")?;
        Ok(())
    }
}

fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// `name` NUL-padded into a field of `N` bytes, leaving room for at least one NUL.
pub fn fixed_field<const N: usize>(
    name: &str,
    field: &'static str,
) -> Result<[u8; N], FieldTooLong> {
    let bytes = name.as_bytes();
    if bytes.len() >= N || bytes.contains(&0) {
        return Err(FieldTooLong {
            name: name.to_owned(),
            len: bytes.len(),
            field,
            max: N - 1,
        });
    }
    let mut out = [0u8; N];
    out[..bytes.len()].copy_from_slice(bytes);
    Ok(out)
}

/// Walks an option area (after the cookie). Pads are skipped; the end option stops the walk
/// and what follows it is padding; an area that runs out without an end option is taken as
/// ended (some clients fill the area exactly).
fn parse_options(mut area: &[u8]) -> Result<Vec<DhcpOption>, ParseError> {
    let mut options = Vec::new();
    while let Some((&option_code, rest)) = area.split_first() {
        match option_code {
            PAD => area = rest,
            END => break,
            _ => {
                let Some((&len, rest)) = rest.split_first() else {
                    return Err(ParseError::TruncatedOption {
                        code: option_code,
                        len: 1,
                        left: 0,
                    });
                };
                let len = usize::from(len);
                let Some((value, rest)) = rest.split_at_checked(len) else {
                    return Err(ParseError::TruncatedOption {
                        code: option_code,
                        len,
                        left: rest.len(),
                    });
                };
                options.push(DhcpOption::new(option_code, value));
                area = rest;
            }
        }
    }
    Ok(options)
}

fn emit_option(option: &DhcpOption, out: &mut Vec<u8>) {
    // RFC 3396 §6: a value longer than 255 bytes goes out as consecutive options of the same
    // code. An empty value is one option of length 0.
    let mut chunks = option.value.chunks(255).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[option.code, 0]);
    }
    for chunk in chunks {
        out.push(option.code);
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: Mac = Mac([0x8c, 0xde, 0xf9, 0x12, 0x34, 0x56]);

    /// The fixed header written out field by field, as RFC 951 §3 draws it.
    #[allow(clippy::too_many_arguments)]
    fn header(
        op: u8,
        xid: [u8; 4],
        flags: [u8; 2],
        ciaddr: [u8; 4],
        yiaddr: [u8; 4],
        siaddr: [u8; 4],
        file: &[u8],
    ) -> Vec<u8> {
        let mut bytes = vec![op, 1, 6, 0];
        bytes.extend_from_slice(&xid);
        bytes.extend_from_slice(&[0, 0]); // secs
        bytes.extend_from_slice(&flags);
        bytes.extend_from_slice(&ciaddr);
        bytes.extend_from_slice(&yiaddr);
        bytes.extend_from_slice(&siaddr);
        bytes.extend_from_slice(&[0, 0, 0, 0]); // giaddr
        bytes.extend_from_slice(&[0x8c, 0xde, 0xf9, 0x12, 0x34, 0x56]);
        bytes.extend_from_slice(&[0; 10]); // chaddr padding
        bytes.extend_from_slice(&[0; 64]); // sname
        bytes.extend_from_slice(file);
        bytes.resize(FIXED_LEN, 0);
        bytes
    }

    /// Cookie, options as given, end, zeros to 300 bytes.
    fn with_options(mut bytes: Vec<u8>, options: &[u8]) -> Vec<u8> {
        bytes.extend_from_slice(&[99, 130, 83, 99]);
        bytes.extend_from_slice(options);
        bytes.push(255);
        bytes.resize(MIN_LEN.max(bytes.len()), 0);
        bytes
    }

    fn message(op: Op, xid: u32, options: Vec<DhcpOption>) -> Message {
        let mut m = Message::new(op, xid, CLIENT);
        m.vendor = Vendor::Options(options);
        m
    }

    const ZERO: [u8; 4] = [0, 0, 0, 0];
    const ROUTER: [u8; 4] = [192, 168, 31, 100];
    const US: [u8; 4] = [192, 168, 31, 1];

    fn check(bytes: &[u8], expected: &Message) {
        let parsed = Message::parse(bytes).unwrap();
        assert_eq!(&parsed, expected);
        assert_eq!(parsed.to_bytes(), bytes, "emit is parse's mirror image");
    }

    #[test]
    fn discover_bytes() {
        // As U-Boot sends it: broadcast flag clear, type, max size, vendor class, parameters.
        let bytes = with_options(
            header(1, [0xde, 0xad, 0xbe, 0xef], [0, 0], ZERO, ZERO, ZERO, b""),
            b"\x35\x01\x01\x39\x02\x02\x40\x3c\x0cU-Boot.armv7\x37\x03\x01\x03\x43",
        );
        let expected = message(
            Op::REQUEST,
            0xdead_beef,
            vec![
                DhcpOption::new(53, [1]),
                DhcpOption::new(57, [2, 64]),
                DhcpOption::new(60, *b"U-Boot.armv7"),
                DhcpOption::new(55, [1, 3, 67]),
            ],
        );
        check(&bytes, &expected);
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(parsed.message_type(), Some(MessageType::DISCOVER));
        assert_eq!(parsed.vendor_class().as_deref(), Some("U-Boot.armv7"));
        assert_eq!(parsed.client_mac(), Some(CLIENT));
        assert!(!parsed.wants_broadcast());
    }

    #[test]
    fn offer_bytes() {
        let bytes = with_options(
            header(
                2,
                [0xde, 0xad, 0xbe, 0xef],
                [0x80, 0],
                ZERO,
                ROUTER,
                US,
                b"test.bin",
            ),
            b"\x35\x01\x02\x36\x04\xc0\xa8\x1f\x01\x33\x04\x00\x01\x51\x80\
              \x01\x04\xff\xff\xff\x00\x43\x08test.bin",
        );
        let mut expected = message(
            Op::REPLY,
            0xdead_beef,
            vec![
                DhcpOption::new(53, [2]),
                DhcpOption::address(54, Ipv4Addr::from(US)),
                DhcpOption::seconds(51, 86_400),
                DhcpOption::address(1, Ipv4Addr::new(255, 255, 255, 0)),
                DhcpOption::new(67, *b"test.bin"),
            ],
        );
        expected.flags = FLAG_BROADCAST;
        expected.yiaddr = Ipv4Addr::from(ROUTER);
        expected.siaddr = Ipv4Addr::from(US);
        expected.set_file_name("test.bin").unwrap();
        check(&bytes, &expected);
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(parsed.message_type(), Some(MessageType::OFFER));
        assert_eq!(
            parsed.address_option(code::SERVER_ID),
            Some(Ipv4Addr::from(US))
        );
        assert_eq!(parsed.file_name(), b"test.bin");
        assert!(parsed.wants_broadcast());
    }

    #[test]
    fn request_bytes() {
        let bytes = with_options(
            header(1, [0, 0, 0, 7], [0, 0], ZERO, ZERO, ZERO, b""),
            b"\x35\x01\x03\x32\x04\xc0\xa8\x1f\x64\x36\x04\xc0\xa8\x1f\x01\x3c\x09Mips_boot",
        );
        let expected = message(
            Op::REQUEST,
            7,
            vec![
                DhcpOption::new(53, [3]),
                DhcpOption::address(50, Ipv4Addr::from(ROUTER)),
                DhcpOption::address(54, Ipv4Addr::from(US)),
                DhcpOption::new(60, *b"Mips_boot"),
            ],
        );
        check(&bytes, &expected);
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(parsed.message_type(), Some(MessageType::REQUEST));
        assert_eq!(
            parsed.address_option(code::REQUESTED_ADDRESS),
            Some(Ipv4Addr::from(ROUTER))
        );
    }

    #[test]
    fn ack_bytes() {
        let bytes = with_options(
            header(2, [0, 0, 0, 7], [0, 0], ZERO, ROUTER, US, b"fw.bin"),
            b"\x35\x01\x05\x36\x04\xc0\xa8\x1f\x01\x43\x06fw.bin",
        );
        let mut expected = message(
            Op::REPLY,
            7,
            vec![
                DhcpOption::new(53, [5]),
                DhcpOption::address(54, Ipv4Addr::from(US)),
                DhcpOption::new(67, *b"fw.bin"),
            ],
        );
        expected.yiaddr = Ipv4Addr::from(ROUTER);
        expected.siaddr = Ipv4Addr::from(US);
        expected.set_file_name("fw.bin").unwrap();
        check(&bytes, &expected);
        assert_eq!(
            Message::parse(&bytes).unwrap().message_type(),
            Some(MessageType::ACK)
        );
    }

    #[test]
    fn bootp_request_with_cookie_and_no_message_type() {
        // RouterBOOT in BOOTP mode: options, but no option 53.
        let bytes = with_options(
            header(1, [1, 2, 3, 4], [0, 0], ZERO, ZERO, ZERO, b""),
            b"\x3c\x09Mips_boot",
        );
        let expected = message(
            Op::REQUEST,
            0x0102_0304,
            vec![DhcpOption::new(60, *b"Mips_boot")],
        );
        check(&bytes, &expected);
        assert_eq!(Message::parse(&bytes).unwrap().message_type(), None);
    }

    #[test]
    fn plain_bootp_request_and_reply_keep_their_vendor_bytes() {
        // RFC 951: 64 opaque vendor bytes, no cookie.
        let mut request = header(1, [9, 9, 9, 9], [0x80, 0], ZERO, ZERO, ZERO, b"VANT-F");
        request.resize(MIN_LEN, 0);
        let mut expected = Message::new(Op::REQUEST, 0x0909_0909, CLIENT);
        expected.flags = FLAG_BROADCAST;
        expected.set_file_name("VANT-F").unwrap();
        expected.vendor = Vendor::Opaque(vec![0; 64]);
        check(&request, &expected);
        assert_eq!(expected.options(), &[]);
        assert_eq!(expected.message_type(), None);

        let mut reply = header(2, [9, 9, 9, 9], [0x80, 0], ZERO, ROUTER, US, b"image.rbi");
        reply.resize(MIN_LEN, 0);
        let mut expected = Message::new(Op::REPLY, 0x0909_0909, CLIENT);
        expected.flags = FLAG_BROADCAST;
        expected.yiaddr = Ipv4Addr::from(ROUTER);
        expected.siaddr = Ipv4Addr::from(US);
        expected.set_file_name("image.rbi").unwrap();
        expected.vendor = Vendor::Opaque(vec![0; 64]);
        check(&reply, &expected);
    }

    #[test]
    fn bootp_reply_with_options_has_no_message_type() {
        let bytes = with_options(
            header(2, [1, 2, 3, 4], [0, 0], ZERO, ROUTER, US, b"vmlinux"),
            b"\x01\x04\xff\xff\xff\x00\x43\x07vmlinux",
        );
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(parsed.message_type(), None);
        assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn pads_are_skipped_and_bytes_after_end_are_padding() {
        let mut bytes = header(1, [0; 4], [0, 0], ZERO, ZERO, ZERO, b"");
        bytes.extend_from_slice(&[99, 130, 83, 99, 0, 0, 53, 1, 1, 0, 255, 7, 7, 7]);
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(parsed.options(), &[DhcpOption::new(53, [1])]);
    }

    #[test]
    fn an_area_without_end_is_taken_as_ended() {
        let mut bytes = header(1, [0; 4], [0, 0], ZERO, ZERO, ZERO, b"");
        bytes.extend_from_slice(&[99, 130, 83, 99, 53, 1, 3]);
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(parsed.message_type(), Some(MessageType::REQUEST));
    }

    #[test]
    fn truncated_options_and_short_messages_are_refused() {
        let mut bytes = header(1, [0; 4], [0, 0], ZERO, ZERO, ZERO, b"");
        bytes.extend_from_slice(&[99, 130, 83, 99, 60, 9, b'M', b'i']);
        assert_eq!(
            Message::parse(&bytes),
            Err(ParseError::TruncatedOption {
                code: 60,
                len: 9,
                left: 2
            })
        );
        bytes.truncate(FIXED_LEN + 5);
        assert_eq!(
            Message::parse(&bytes),
            Err(ParseError::TruncatedOption {
                code: 60,
                len: 1,
                left: 0
            })
        );
        assert_eq!(Message::parse(&[]), Err(ParseError::TooShort(0)));
        assert_eq!(
            Message::parse(&[1; FIXED_LEN - 1]),
            Err(ParseError::TooShort(FIXED_LEN - 1))
        );
        // Exactly the fixed header: an empty opaque vendor area.
        let bare = Message::parse(&[0; FIXED_LEN]).unwrap();
        assert_eq!(bare.vendor, Vendor::Opaque(Vec::new()));
    }

    #[test]
    fn long_options_are_split_and_joined() {
        // RFC 3396: 300 bytes go out as 255 + 45 under the same code.
        let long = vec![b'x'; 300];
        let m = message(Op::REPLY, 1, vec![DhcpOption::new(43, long.clone())]);
        let bytes = m.to_bytes();
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(
            parsed.options(),
            &[
                DhcpOption::new(43, vec![b'x'; 255]),
                DhcpOption::new(43, vec![b'x'; 45])
            ]
        );
        assert_eq!(parsed.option(43), Some(long));
        assert_eq!(parsed.option(44), None);
        let empty = message(Op::REPLY, 1, vec![DhcpOption::new(80, Vec::new())]);
        let parsed = Message::parse(&empty.to_bytes()).unwrap();
        assert_eq!(parsed.option(80), Some(Vec::new()));
    }

    #[test]
    fn unknown_options_are_kept_in_order() {
        let bytes = with_options(
            header(1, [0; 4], [0, 0], ZERO, ZERO, ZERO, b""),
            b"\xfa\x01\x07\x35\x01\x01\x5d\x02\x00\x0a\xe0\x00",
        );
        let parsed = Message::parse(&bytes).unwrap();
        let codes: Vec<u8> = parsed.options().iter().map(|o| o.code).collect();
        assert_eq!(codes, [250, 53, 93, 224]);
        assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn odd_values_of_typed_options_are_none() {
        let m = message(
            Op::REQUEST,
            1,
            vec![
                DhcpOption::new(53, [1, 2]),
                DhcpOption::new(50, [10, 0, 0]),
                DhcpOption::new(60, *b"a\x1bb"),
            ],
        );
        assert_eq!(m.message_type(), None);
        assert_eq!(m.address_option(code::REQUESTED_ADDRESS), None);
        assert_eq!(m.vendor_class().as_deref(), Some("a\\x1bb"));
        let mut token_ring = m.clone();
        token_ring.htype = 6;
        assert_eq!(token_ring.client_mac(), None);
    }

    #[test]
    fn names_must_fit_their_fields() {
        let mut m = Message::new(Op::REPLY, 1, CLIENT);
        m.set_file_name(&"a".repeat(127)).unwrap();
        assert_eq!(m.file_name().len(), 127);
        let err = m.set_file_name(&"a".repeat(128)).unwrap_err();
        assert_eq!(err.max, 127);
        assert!(err.to_string().contains("file field holds at most 127"));
        assert!(m.set_file_name("a\0b").is_err());
        let sname: [u8; SNAME_LEN] = fixed_field("laptop", "sname").unwrap();
        m.sname = sname;
        assert_eq!(m.server_name(), b"laptop");
    }

    #[test]
    fn message_types_are_named() {
        assert_eq!(MessageType::DISCOVER.to_string(), "DHCPDISCOVER");
        assert_eq!(MessageType::ACK.to_string(), "DHCPACK");
        assert_eq!(MessageType(42).to_string(), "DHCP message type 42");
    }
}
