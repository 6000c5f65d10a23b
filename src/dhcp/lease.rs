//! The responder's rules without I/O: a request and the time go in, the replies to send and
//! what happened (plain data) come out.
//!
//! Who is answered: a bootloader on a rescue cable is alone with the laptop, but a technician's
//! segment may hold other machines; so the responder answers the client the caller names (by
//! MAC or vendor class), or the first one that asks, and once it has answered a router it
//! answers only that router's MAC (Tftpd64 users asked for this, PJO2/tftpd64#11).
//!
//! What it gives: the router address (or the next one of a small pool when the client declines
//! it), `siaddr` = our address (U-Boot takes the TFTP server from `siaddr` only and ignores
//! option 66, `u-boot/u-boot:net/bootp.c`), the boot file in `file` and in option 67. A BOOTP
//! request (no option 53) gets a BOOTP reply with no DHCP option at all: `MikroTik`'s `RouterBOOT`
//! drops replies that carry a message type (forum.mikrotik.com t/55300).

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::dhcp::packet::{DhcpOption, FieldTooLong, Message, MessageType, Op, Vendor, code};
use crate::dhcp::probe::Answered;
use crate::net::iface::Ipv4Cidr;
use crate::net::wire::Mac;

/// The port servers listen on (RFC 951 §4).
pub const SERVER_PORT: u16 = 67;
/// The port clients listen on.
pub const CLIENT_PORT: u16 = 68;

/// Lease time given: a day, so that no client renews during a recovery.
pub const DEFAULT_LEASE_TIME: Duration = Duration::from_hours(24);

/// How long an offered address stays held for the client it was offered to (RFC 2131 §4.3.1
/// leaves it to the server; a bootloader requests within a second or two).
pub const OFFER_HOLD: Duration = Duration::from_mins(1);

/// Which clients the responder may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The first client that asks; then only its MAC.
    FirstClient,
    /// Only this hardware address.
    Mac(Mac),
    /// Only clients whose vendor class (option 60) starts with this text (`Mips_boot`,
    /// `U-Boot`); then only the MAC of the first of them.
    VendorClass(String),
}

/// A boot file for the clients of one vendor class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootChoice {
    /// The start of the vendor class (option 60) it applies to.
    pub vendor_class: String,
    /// The boot file those clients are given.
    pub boot_file: String,
}

/// What the responder gives, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Our address on the rescue port, with its prefix: `siaddr`, the server identifier, and
    /// the subnet mask given.
    pub server: Ipv4Cidr,
    /// The addresses leased, in order: the router address first.
    pub pool: Vec<Ipv4Addr>,
    /// The boot file given in `file` and option 67.
    pub boot_file: String,
    /// Boot files by vendor class, tried in order before `boot_file`.
    pub boot_choices: Vec<BootChoice>,
    /// Who is answered.
    pub answer: Answer,
    /// The lease time given (option 51).
    pub lease_time: Duration,
}

/// Why a lease configuration cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No address to lease.
    #[error(
        "no address to lease.\n  fix: name the router's address (for example the profile's router address)"
    )]
    EmptyPool,
    /// A leased address is ours.
    #[error(
        "the address to lease, {0}, is this computer's own address.\n  fix: lease another address of the same subnet"
    )]
    OwnAddress(Ipv4Addr),
    /// A leased address lies outside our subnet, where the router could not reach us.
    #[error(
        "the address to lease, {address}, is not in this computer's subnet {server}/{prefix}.\n  fix: lease an address of {network}/{prefix}, or give the port an address in {address}'s subnet"
    )]
    OtherSubnet {
        /// The address asked for.
        address: Ipv4Addr,
        /// Our address.
        server: Ipv4Addr,
        /// Our subnet.
        network: Ipv4Addr,
        /// Its prefix.
        prefix: u8,
    },
    /// A leased address is the subnet's network or broadcast address.
    #[error(
        "the address to lease, {0}, is the network or broadcast address of its subnet.\n  fix: lease a host address"
    )]
    NotAHost(Ipv4Addr),
    /// A boot file name does not fit the `file` field.
    #[error(transparent)]
    BootFile(#[from] FieldTooLong),
}

impl LeaseConfig {
    /// A configuration leasing `pool` (router address first) with `boot_file`, answering the
    /// first client; checked.
    pub fn new(
        server: Ipv4Cidr,
        pool: Vec<Ipv4Addr>,
        boot_file: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let config = Self {
            server,
            pool,
            boot_file: boot_file.into(),
            boot_choices: Vec::new(),
            answer: Answer::FirstClient,
            lease_time: DEFAULT_LEASE_TIME,
        };
        config.check()?;
        Ok(config)
    }

    /// Whether this configuration can work: every leased address a host of our subnet and not
    /// ours, every boot file short enough for `file`.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.pool.is_empty() {
            return Err(ConfigError::EmptyPool);
        }
        let server = self.server;
        for &address in &self.pool {
            if address == server.addr {
                return Err(ConfigError::OwnAddress(address));
            }
            if !server.contains(address) {
                return Err(ConfigError::OtherSubnet {
                    address,
                    server: server.addr,
                    network: server.network(),
                    prefix: server.prefix,
                });
            }
            let host = u32::from(address) & !server.mask();
            if server.prefix < 31 && (host == 0 || host == !server.mask()) {
                return Err(ConfigError::NotAHost(address));
            }
        }
        let mut test = Message::new(Op::REPLY, 0, Mac([0; 6]));
        test.set_file_name(&self.boot_file)?;
        for choice in &self.boot_choices {
            test.set_file_name(&choice.boot_file)?;
        }
        Ok(())
    }

    /// The boot file for a client of this vendor class.
    pub fn boot_file_for(&self, vendor_class: Option<&str>) -> &str {
        vendor_class
            .and_then(|class| {
                self.boot_choices
                    .iter()
                    .find(|c| class.starts_with(&c.vendor_class))
            })
            .map_or(&self.boot_file, |c| &c.boot_file)
    }
}

/// Which protocol a client spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// BOOTP (RFC 951): one request, one reply, no message type.
    Bootp,
    /// DHCP (RFC 2131).
    Dhcp,
}

impl Protocol {
    /// Its name, as the plan and the wizard word it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bootp => "BOOTP",
            Self::Dhcp => "DHCP",
        }
    }
}

/// Why a request was not answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Ignored {
    /// Another client was answered first; only its MAC is answered now.
    NotTheRouter {
        /// The router being answered.
        router: Mac,
    },
    /// The caller named another MAC.
    NotTheNamedMac {
        /// The MAC named.
        wanted: Mac,
    },
    /// The caller named a vendor class this client does not send.
    NotTheVendorClass {
        /// The vendor class named.
        wanted: String,
    },
    /// Not an Ethernet client.
    NotEthernet,
    /// A message that is not a client's request (a reply, or a type clients do not send).
    NotARequest,
    /// Every address of the pool is taken or was declined.
    PoolExhausted,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTheRouter { router } => write!(f, "only the router {router} is answered"),
            Self::NotTheNamedMac { wanted } => write!(f, "only {wanted} is answered"),
            Self::NotTheVendorClass { wanted } => {
                write!(f, "only vendor class {wanted}... is answered")
            }
            Self::NotEthernet => f.write_str("not an Ethernet client"),
            Self::NotARequest => f.write_str("not a client's request"),
            Self::PoolExhausted => f.write_str("no address left to lease"),
        }
    }
}

/// What the responder did or saw, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum LeaseEvent {
    /// A DHCP client was offered an address (DHCPOFFER).
    Offered {
        /// The client.
        client: Mac,
        /// The address offered.
        address: Ipv4Addr,
        /// Its vendor class, when it sent one.
        vendor_class: Option<String>,
        /// The boot file offered.
        boot_file: String,
    },
    /// A client was given its address, our address as server and the boot file (DHCPACK, or
    /// the one BOOTP reply): the bootloader will pull the boot file next.
    Gave {
        /// The client.
        client: Mac,
        /// The address given.
        address: Ipv4Addr,
        /// Its vendor class, when it sent one.
        vendor_class: Option<String>,
        /// The boot file given.
        boot_file: String,
        /// BOOTP or DHCP.
        protocol: Protocol,
    },
    /// A client asked for an address it may not have and was told no (DHCPNAK); it starts over.
    Refused {
        /// The client.
        client: Mac,
        /// The address it asked for.
        asked: Ipv4Addr,
        /// The address it may have.
        instead: Ipv4Addr,
    },
    /// A client said the address is in use on the segment (DHCPDECLINE).
    Declined {
        /// The client.
        client: Mac,
        /// The address in use.
        address: Ipv4Addr,
    },
    /// A client gave its address back (DHCPRELEASE).
    Released {
        /// The client.
        client: Mac,
        /// The address.
        address: Ipv4Addr,
    },
    /// A request was not answered.
    Ignored {
        /// The client, when it is Ethernet.
        client: Option<Mac>,
        /// Its vendor class, when it sent one.
        vendor_class: Option<String>,
        /// Why.
        why: Ignored,
    },
    /// Another DHCP or BOOTP server answers on this segment: the router may take its reply,
    /// with another address and no boot file.
    OtherServer {
        /// Its address (its server identifier, or where its reply came from).
        address: Ipv4Addr,
        /// Its hardware address, when the driver could learn it.
        mac: Option<Mac>,
        /// How it was seen.
        seen: OtherServerSeen,
    },
    /// The probe for other servers on the port is over ([`crate::dhcp::probe`]), before the
    /// router could ask.
    Probed {
        /// Whether the probe could listen at all (the client port may be taken by a DHCP
        /// client on this computer).
        listened: bool,
        /// The servers that offered an address to the probe.
        answered: Vec<Answered>,
    },
}

/// How another server showed itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum OtherServerSeen {
    /// Its reply (OFFER, ACK, NAK or BOOTP reply) to a client.
    Reply {
        /// Its message type; none for BOOTP.
        kind: Option<String>,
        /// The client it answered.
        client: Option<Mac>,
        /// The address it gave.
        gave: Ipv4Addr,
    },
    /// A client requested the address another server offered it.
    ClientChose {
        /// The client.
        client: Mac,
    },
}

impl fmt::Display for LeaseEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loader = |vendor_class: &Option<String>| {
            vendor_class
                .as_ref()
                .map(|class| format!(", a {class} loader"))
                .unwrap_or_default()
        };
        match self {
            Self::Offered {
                client,
                address,
                vendor_class,
                boot_file,
            } => write!(
                f,
                "offered {address} to {client}{}, boot file {boot_file}",
                loader(vendor_class)
            ),
            Self::Gave {
                client,
                address,
                vendor_class,
                boot_file,
                protocol,
            } => {
                write!(
                    f,
                    "gave {address} to {client}{}, boot file {boot_file}",
                    loader(vendor_class)
                )?;
                if *protocol == Protocol::Bootp {
                    f.write_str(" (BOOTP)")?;
                }
                Ok(())
            }
            Self::Refused {
                client,
                asked,
                instead,
            } => write!(
                f,
                "refused {asked} to {client} (it may have {instead}; it starts over)"
            ),
            Self::Declined { client, address } => write!(
                f,
                "{client} says {address} is already in use on the segment"
            ),
            Self::Released { client, address } => {
                write!(f, "{client} gave {address} back")
            }
            Self::Ignored {
                client,
                vendor_class,
                why,
            } => {
                let who =
                    client.map_or_else(|| "a non-Ethernet client".to_owned(), |m| m.to_string());
                write!(f, "did not answer {who}{}: {why}", loader(vendor_class))
            }
            Self::OtherServer { address, mac, seen } => {
                write!(f, "another DHCP server answers on this port: {address}")?;
                if let Some(mac) = mac {
                    write!(f, " ({mac})")?;
                }
                match seen {
                    OtherServerSeen::Reply { kind, client, gave } => {
                        let kind = kind.as_deref().unwrap_or("BOOTP reply");
                        write!(f, ", its {kind} gave {gave}")?;
                        if let Some(client) = client {
                            write!(f, " to {client}")?;
                        }
                    }
                    OtherServerSeen::ClientChose { client } => {
                        write!(f, ", and {client} took its offer")?;
                    }
                }
                f.write_str(
                    "; the router may take that server's answer instead of ours: unplug it or stop it",
                )
            }
            Self::Probed { listened, answered } => probed(f, *listened, answered),
        }
    }
}

/// The probe's result in words: who answered, and what to do about it.
fn probed(f: &mut fmt::Formatter<'_>, listened: bool, answered: &[Answered]) -> fmt::Result {
    if !listened {
        return f.write_str(
            "no probe for other DHCP servers: this computer's client port is taken, so their answers cannot be heard",
        );
    }
    if answered.is_empty() {
        return write!(
            f,
            "no other DHCP server answered a probe on this port within {} s",
            crate::dhcp::probe::PROBE_WAIT.as_secs()
        );
    }
    f.write_str("another DHCP server answered rescue-wizard's probe on this port: ")?;
    for (n, server) in answered.iter().enumerate() {
        if n > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", server.server)?;
        if let Some(mac) = server.mac {
            write!(f, " ({mac})")?;
        }
        write!(f, " offered {}", server.offered)?;
    }
    f.write_str(
        ". Switch off the other DHCP server on this segment, or unplug this computer from the LAN: the router may take its lease and never ask us",
    )
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// 255.255.255.255, client port: the client has no address yet, or asked for broadcast.
    Broadcast,
    /// The client's own address, client port.
    Client(Ipv4Addr),
    /// The relay agent that forwarded the request, server port (RFC 2131 §4.1).
    Relay(Ipv4Addr),
}

impl Destination {
    /// The address and UDP port.
    pub fn socket_addr(self) -> std::net::SocketAddrV4 {
        match self {
            Self::Broadcast => std::net::SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT),
            Self::Client(ip) => std::net::SocketAddrV4::new(ip, CLIENT_PORT),
            Self::Relay(ip) => std::net::SocketAddrV4::new(ip, SERVER_PORT),
        }
    }
}

/// One reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Where to.
    pub to: Destination,
    /// The message.
    pub message: Message,
}

/// What one input produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Replies to send, in order.
    pub replies: Vec<Reply>,
    /// What happened.
    pub events: Vec<LeaseEvent>,
}

#[derive(Debug, Clone)]
struct Binding {
    client: Mac,
    address: Ipv4Addr,
    until: Instant,
}

/// The responder: bindings, the router once seen, the other servers already named.
#[derive(Debug, Clone)]
pub struct Responder {
    config: LeaseConfig,
    router: Option<Mac>,
    bindings: Vec<Binding>,
    declined: HashSet<Ipv4Addr>,
    other_servers: HashSet<Ipv4Addr>,
    /// Clients already reported as not answered, and why: a chatty machine on the segment
    /// is reported once, not at every retry.
    ignored: HashSet<(Option<Mac>, Ignored)>,
}

impl Responder {
    /// A responder with no client seen yet.
    pub fn new(config: LeaseConfig) -> Self {
        let router = match &config.answer {
            Answer::Mac(mac) => Some(*mac),
            Answer::FirstClient | Answer::VendorClass(_) => None,
        };
        Self {
            config,
            router,
            bindings: Vec::new(),
            declined: HashSet::new(),
            other_servers: HashSet::new(),
            ignored: HashSet::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// The router being answered, once one is.
    pub fn router(&self) -> Option<Mac> {
        self.router
    }

    /// A message that arrived on the server port at `now`. A client not answered is reported
    /// once for each reason.
    pub fn on_request(&mut self, request: &Message, now: Instant) -> Step {
        // Our own probe for other servers, looped back: never answered, never the router.
        if crate::dhcp::probe::is_probe(request) {
            return Step::default();
        }
        let mut step = self.answer(request, now);
        step.events.retain(|event| match event {
            LeaseEvent::Ignored { client, why, .. } => self.ignored.insert((*client, why.clone())),
            _ => true,
        });
        step
    }

    fn answer(&mut self, request: &Message, now: Instant) -> Step {
        let mut step = Step::default();
        let vendor_class = request.vendor_class();
        let client = request.client_mac();
        let ignore = |why| LeaseEvent::Ignored {
            client,
            vendor_class: vendor_class.clone(),
            why,
        };
        if request.op != Op::REQUEST {
            step.events.push(ignore(Ignored::NotARequest));
            return step;
        }
        let Some(client) = client else {
            step.events.push(ignore(Ignored::NotEthernet));
            return step;
        };
        if let Err(why) = self.may_answer(client, vendor_class.as_deref()) {
            step.events.push(ignore(why));
            return step;
        }
        self.bindings.retain(|b| b.until > now);
        match request.message_type() {
            None => self.bootp(request, client, vendor_class, now, &mut step),
            Some(MessageType::DISCOVER) => {
                self.discover(request, client, vendor_class, now, &mut step);
            }
            Some(MessageType::REQUEST) => {
                self.request(request, client, vendor_class, now, &mut step);
            }
            Some(MessageType::DECLINE) => {
                if let Some(address) = request.address_option(code::REQUESTED_ADDRESS) {
                    // RFC 2131 §4.3.3: the address is in use; never offer it again.
                    self.declined.insert(address);
                    self.bindings.retain(|b| b.address != address);
                    step.events.push(LeaseEvent::Declined { client, address });
                }
            }
            Some(MessageType::RELEASE) => {
                let address = request.ciaddr;
                self.bindings
                    .retain(|b| !(b.client == client && b.address == address));
                step.events.push(LeaseEvent::Released { client, address });
            }
            Some(_) => step.events.push(ignore(Ignored::NotARequest)),
        }
        step
    }

    /// A reply from a server, heard on the client port at `now`: another server on the segment
    /// is named, once per address. Our own replies, looped back, are not.
    pub fn on_reply_seen(&mut self, reply: &Message, from: Ipv4Addr, now: Instant) -> Step {
        let _ = now;
        let mut step = Step::default();
        if reply.op != Op::REPLY {
            return step;
        }
        let address = reply
            .address_option(code::SERVER_ID)
            .filter(|a| !a.is_unspecified())
            .unwrap_or(from);
        if address == self.config.server.addr || from == self.config.server.addr {
            return step;
        }
        if self.other_servers.insert(address) {
            step.events.push(LeaseEvent::OtherServer {
                address,
                mac: None,
                seen: OtherServerSeen::Reply {
                    kind: reply.message_type().map(|t| t.to_string()),
                    client: reply.client_mac(),
                    gave: reply.yiaddr,
                },
            });
        }
        step
    }

    fn may_answer(&mut self, client: Mac, vendor_class: Option<&str>) -> Result<(), Ignored> {
        if let Some(router) = self.router {
            if router == client {
                return Ok(());
            }
            return Err(match &self.config.answer {
                Answer::Mac(wanted) => Ignored::NotTheNamedMac { wanted: *wanted },
                Answer::FirstClient | Answer::VendorClass(_) => Ignored::NotTheRouter { router },
            });
        }
        if let Answer::VendorClass(wanted) = &self.config.answer
            && !vendor_class.is_some_and(|class| class.starts_with(wanted.as_str()))
        {
            return Err(Ignored::NotTheVendorClass {
                wanted: wanted.clone(),
            });
        }
        Ok(())
    }

    /// The address for `client`: its binding, else the first free pool address.
    fn address_for(&self, client: Mac) -> Option<Ipv4Addr> {
        if let Some(binding) = self.bindings.iter().find(|b| b.client == client) {
            return Some(binding.address);
        }
        self.config.pool.iter().copied().find(|address| {
            !self.declined.contains(address) && !self.bindings.iter().any(|b| b.address == *address)
        })
    }

    /// The address and boot file for `client`; when the pool has none left, the event that
    /// says so instead.
    fn grant(
        &self,
        client: Mac,
        vendor_class: Option<&String>,
        step: &mut Step,
    ) -> Option<(Ipv4Addr, String)> {
        let Some(address) = self.address_for(client) else {
            step.events.push(LeaseEvent::Ignored {
                client: Some(client),
                vendor_class: vendor_class.cloned(),
                why: Ignored::PoolExhausted,
            });
            return None;
        };
        let boot_file = self.config.boot_file_for(vendor_class.map(String::as_str));
        Some((address, boot_file.to_owned()))
    }

    fn bind(&mut self, client: Mac, address: Ipv4Addr, until: Instant) {
        // The first client answered is the router; only its MAC is answered from now on.
        self.router = Some(client);
        self.bindings.retain(|b| b.client != client);
        self.bindings.push(Binding {
            client,
            address,
            until,
        });
    }

    fn bootp(
        &mut self,
        request: &Message,
        client: Mac,
        vendor_class: Option<String>,
        now: Instant,
        step: &mut Step,
    ) {
        let Some((address, boot_file)) = self.grant(client, vendor_class.as_ref(), step) else {
            return;
        };
        // BOOTP leases do not end (RFC 951 has no lease); held for the lease time anyway.
        self.bind(client, address, now + self.config.lease_time);
        let mut reply = self.reply_to(request, address, &boot_file);
        reply.vendor = match &request.vendor {
            // RFC 1497: options only when the client opened its vendor area with the cookie;
            // and never a DHCP option (53, 54, 51), which RouterBOOT takes for a DHCP reply.
            Vendor::Options(_) => Vendor::Options(vec![
                DhcpOption::address(code::SUBNET_MASK, self.mask()),
                DhcpOption::new(code::BOOT_FILE, boot_file.as_bytes()),
            ]),
            Vendor::Opaque(_) => Vendor::Opaque(vec![0; 64]),
        };
        step.replies.push(Reply {
            to: destination(request),
            message: reply,
        });
        step.events.push(LeaseEvent::Gave {
            client,
            address,
            vendor_class,
            boot_file,
            protocol: Protocol::Bootp,
        });
    }

    fn discover(
        &mut self,
        request: &Message,
        client: Mac,
        vendor_class: Option<String>,
        now: Instant,
        step: &mut Step,
    ) {
        let Some((address, boot_file)) = self.grant(client, vendor_class.as_ref(), step) else {
            return;
        };
        self.bind(client, address, now + OFFER_HOLD);
        let reply = self.dhcp_reply(request, MessageType::OFFER, address, &boot_file);
        step.replies.push(Reply {
            to: destination(request),
            message: reply,
        });
        step.events.push(LeaseEvent::Offered {
            client,
            address,
            vendor_class,
            boot_file,
        });
    }

    fn request(
        &mut self,
        request: &Message,
        client: Mac,
        vendor_class: Option<String>,
        now: Instant,
        step: &mut Step,
    ) {
        let ours = self.config.server.addr;
        let server_id = request.address_option(code::SERVER_ID);
        if let Some(other) = server_id.filter(|&id| id != ours) {
            // RFC 2131 §4.3.2: a REQUEST naming another server means the client took that
            // server's offer; ours is withdrawn.
            self.bindings.retain(|b| b.client != client);
            if self.other_servers.insert(other) {
                step.events.push(LeaseEvent::OtherServer {
                    address: other,
                    mac: None,
                    seen: OtherServerSeen::ClientChose { client },
                });
            }
            return;
        }
        let asked = request
            .address_option(code::REQUESTED_ADDRESS)
            .unwrap_or(request.ciaddr);
        let Some((address, boot_file)) = self.grant(client, vendor_class.as_ref(), step) else {
            return;
        };
        if asked != address {
            // SELECTING with a wrong address, or INIT-REBOOT with an address from another
            // network: NAK (RFC 2131 §4.3.2), and the client starts over with a DISCOVER.
            let mut nak = self.reply_to(request, Ipv4Addr::UNSPECIFIED, "");
            nak.siaddr = Ipv4Addr::UNSPECIFIED;
            nak.ciaddr = Ipv4Addr::UNSPECIFIED;
            nak.vendor = Vendor::Options(vec![
                DhcpOption::new(code::MESSAGE_TYPE, [MessageType::NAK.0]),
                DhcpOption::address(code::SERVER_ID, ours),
                DhcpOption::new(
                    code::MESSAGE,
                    format!("{asked} is not yours here; ask again").into_bytes(),
                ),
            ]);
            // RFC 2131 §4.1: a NAK is broadcast when there is no relay.
            let to = if request.giaddr.is_unspecified() {
                Destination::Broadcast
            } else {
                Destination::Relay(request.giaddr)
            };
            step.replies.push(Reply { to, message: nak });
            step.events.push(LeaseEvent::Refused {
                client,
                asked,
                instead: address,
            });
            return;
        }
        self.bind(client, address, now + self.config.lease_time);
        let reply = self.dhcp_reply(request, MessageType::ACK, address, &boot_file);
        step.replies.push(Reply {
            to: destination(request),
            message: reply,
        });
        step.events.push(LeaseEvent::Gave {
            client,
            address,
            vendor_class,
            boot_file,
            protocol: Protocol::Dhcp,
        });
    }

    fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.config.server.mask())
    }

    /// The header every reply shares: the request's xid, flags, chaddr and relay; our address
    /// as the next server; the boot file in `file`.
    fn reply_to(&self, request: &Message, address: Ipv4Addr, boot_file: &str) -> Message {
        let mut reply = request.clone();
        reply.op = Op::REPLY;
        reply.hops = 0;
        reply.secs = 0;
        reply.yiaddr = address;
        reply.siaddr = self.config.server.addr;
        reply.sname = [0; crate::dhcp::packet::SNAME_LEN];
        // Checked in LeaseConfig::check: every boot file fits.
        reply.file = crate::dhcp::packet::fixed_field(boot_file, "file")
            .unwrap_or([0; crate::dhcp::packet::FILE_LEN]);
        reply
    }

    fn dhcp_reply(
        &self,
        request: &Message,
        kind: MessageType,
        address: Ipv4Addr,
        boot_file: &str,
    ) -> Message {
        let mut reply = self.reply_to(request, address, boot_file);
        // RFC 2131 §4.3.1: a reply's ciaddr is 0 except in an ACK to an INFORM.
        reply.ciaddr = Ipv4Addr::UNSPECIFIED;
        let lease = u32::try_from(self.config.lease_time.as_secs()).unwrap_or(u32::MAX);
        reply.vendor = Vendor::Options(vec![
            DhcpOption::new(code::MESSAGE_TYPE, [kind.0]),
            DhcpOption::address(code::SERVER_ID, self.config.server.addr),
            DhcpOption::seconds(code::LEASE_TIME, lease),
            DhcpOption::seconds(code::RENEWAL_TIME, lease / 2),
            DhcpOption::seconds(code::REBINDING_TIME, lease / 8 * 7),
            DhcpOption::address(code::SUBNET_MASK, self.mask()),
            DhcpOption::new(code::BOOT_FILE, boot_file.as_bytes()),
        ]);
        reply
    }
}

/// Where a reply to `request` goes (RFC 2131 §4.1, RFC 1542 §5.4): to the relay if there is
/// one; broadcast when the client has no address yet or asks for broadcast; else to the
/// client's address. RFC 2131 allows unicast to `yiaddr` at the client's MAC too, but that needs
/// an ARP entry written by hand; every client takes the broadcast.
pub fn destination(request: &Message) -> Destination {
    if !request.giaddr.is_unspecified() {
        Destination::Relay(request.giaddr)
    } else if request.ciaddr.is_unspecified() || request.wants_broadcast() {
        Destination::Broadcast
    } else {
        Destination::Client(request.ciaddr)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod probe_tests;
