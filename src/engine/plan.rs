//! The plan of a recovery run, built purely from the profile, the image, the interfaces and
//! the settings: no I/O, so every decision is visible (and snapshot-tested) before anything
//! changes on the host.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::net::addr::Plan as NetworkPlan;
use crate::net::check;
use crate::net::iface::{Interface, Ipv4Cidr};
use crate::profile::{Method, OptionPolicy as ProfileOptions, Profile, Rollover, Step};
use crate::tftp::server::{ServerConfig, Source};

/// After the expected flashing time, how much longer the run watches for the router coming
/// back.
pub const FLASH_GRACE: Duration = Duration::from_mins(1);

// The run's defaults live with every other default, in `settings`.
pub use crate::settings::{DEFAULT_FLASH, DEFAULT_TIMEOUT, STALL_AFTER};

/// The settings that are not the profile's: the command line's, or the wizard's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The port the router is plugged into (default: the recommended one).
    pub interface: Option<String>,
    /// Give up waiting for the router after this long.
    pub timeout: Duration,
    /// End once the transfer is confirmed, without the flashing watch.
    pub exit_after_transfer: bool,
    /// The UDP port our server listens on, or the router's server port (69).
    pub port: u16,
    /// Where the simulated run listens instead of the port (the demo: loopback, no
    /// changes to the host).
    pub loopback: Option<IpAddr>,
    /// Override the profile's flashing time (the demo shortens it).
    pub flash: Option<Duration>,
    /// The router's hardware address, for a static ARP entry.
    pub router_mac: Option<[u8; 6]>,
    /// Show the checklist when nothing has moved for this long.
    pub stall_after: Duration,
    /// The region an NMRP bootloader is told (`--region`), by name; the profile's otherwise.
    pub region: Option<String>,
    /// When the host firewall would drop the router's packets, let them in for the run
    /// (with consent; removed at the end).
    pub allow_firewall: bool,
    /// The bootloader's serial console (`--serial`, `--baud`, `--yes`), when the run drives it.
    pub serial: Option<Serial>,
    /// A DHCP/BOOTP run goes on when another DHCP server answers its probe on the port
    /// (`--allow-other-dhcp`); else it stops before the router is switched on.
    pub allow_other_dhcp: bool,
}

/// What `auto` as a serial port means: the one USB serial adapter present.
pub const SERIAL_AUTO: &str = "auto";

/// The serial console as the technician gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serial {
    /// The port's path, or [`SERIAL_AUTO`].
    pub port: PathBuf,
    /// The baud rate given (`--baud`); the profile's otherwise, else 115200.
    pub baud: Option<u32>,
    /// The technician allowed the flash to be written without asking (`--yes`).
    pub confirmed: bool,
}

/// The console leg of a run: the port, and what the dialogue types and checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePlan {
    /// The port's path, or [`SERIAL_AUTO`].
    pub port: PathBuf,
    /// Its baud rate.
    pub baud: u32,
    /// The profile's stop token, if it names one.
    pub stop_token: Option<String>,
    /// The profile's prompt, if it names one.
    pub prompt: Option<String>,
    /// Where `tftpboot` loads the image in RAM; `None`: where the bootloader itself says
    /// (`printenv loadaddr`, else `bdinfo`'s RAM start plus 16 MiB).
    pub load_addr: Option<u64>,
    /// How to write the image; without one nothing is written to flash.
    pub recipe: Option<crate::console::Recipe>,
    /// The flash may be written without asking.
    pub confirmed: bool,
}

impl ConsolePlan {
    /// The console leg in one line, as the plan lists it.
    pub fn describe(&self) -> String {
        let write = match (&self.recipe, self.confirmed) {
            (None, _) => "nothing is written to flash (the profile has no recipe)".to_owned(),
            (Some(recipe), true) => format!(
                "then (allowed by --yes) write it to the {} flash at {}, read it back and compare",
                recipe.kind.name(),
                crate::console::script::hex(recipe.offset),
            ),
            (Some(recipe), false) => format!(
                "writing the {} flash at {} needs --yes: without it the run stops once the image is proven",
                recipe.kind.name(),
                crate::console::script::hex(recipe.offset),
            ),
        };
        let load = self.load_addr.map_or_else(
            || "the bootloader's own load address (`printenv loadaddr`, else `bdinfo`)".to_owned(),
            crate::console::script::hex,
        );
        format!(
            "on the serial console {} at {} baud: stop autoboot, set ipaddr and serverip, `tftpboot` to {load}, compare the bootloader's CRC-32 with ours; {write}",
            self.port.display(),
            self.baud,
        )
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            interface: None,
            timeout: DEFAULT_TIMEOUT,
            exit_after_transfer: false,
            port: crate::settings::TFTP_PORT,
            loopback: None,
            flash: None,
            router_mac: None,
            stall_after: STALL_AFTER,
            region: None,
            allow_firewall: false,
            serial: None,
            allow_other_dhcp: false,
        }
    }
}

/// What the run knows about the image it moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// The file served or pushed (a stripped copy when the technician took one).
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

impl From<&crate::image::Inspection> for ImageFacts {
    fn from(inspection: &crate::image::Inspection) -> Self {
        Self {
            path: inspection.path.clone(),
            size: inspection.size,
            sha256: inspection.sha256.clone(),
        }
    }
}

/// How the image moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// The router pulls; we serve the image under any name it asks for.
    Serve {
        /// Where our server listens.
        bind: SocketAddr,
        /// The name the profile expects to be asked for.
        expected: Vec<String>,
        /// Whether TFTP options are granted at all.
        options: bool,
        /// The largest block granted.
        max_blksize: u16,
        /// The largest window granted.
        max_windowsize: u16,
        /// Block numbers wrap to 1 rather than 0 past 65535.
        rollover_to_one: bool,
        /// Send the next block along with each resend.
        next_block: bool,
    },
    /// The router's bootloader is a server; we push the image to it.
    Push {
        /// Its address and port.
        to: SocketAddr,
        /// The name sent in the write request.
        remote_name: String,
    },
    /// Netgear NMRP: we advertise on the raw port until the bootloader answers, configure
    /// it, and push the image over TFTP to the name it asks for (docs/nmrp.md).
    Nmrp {
        /// The address given to the router (DEV-IP).
        router: Ipv4Addr,
        /// Its netmask.
        netmask: Ipv4Addr,
        /// The region written into it when it asks (DEV-REGION).
        region: Option<crate::nmrp::packet::Region>,
    },
    /// DHCP or BOOTP, then a pull: our responder on the port gives the router its address,
    /// our address as `siaddr` and the boot file; its bootloader then pulls the boot file from
    /// our server, which serves the image under any name asked (docs/dhcp.md).
    Dhcp {
        /// Where our server listens.
        bind: SocketAddr,
        /// The name the profile expects to be asked for (the boot file first).
        expected: Vec<String>,
        /// Whether TFTP options are granted at all.
        options: bool,
        /// The largest block granted.
        max_blksize: u16,
        /// The largest window granted.
        max_windowsize: u16,
        /// Block numbers wrap to 1 rather than 0 past 65535.
        rollover_to_one: bool,
        /// Send the next block along with each resend.
        next_block: bool,
        /// What the responder gives, and to whom.
        lease: Lease,
    },
    /// The bootloader's web failsafe: we upload the image to its page over a TCP stream
    /// whose segments we control, once the page answers (docs/http.md).
    Http {
        /// The page, from the profile's `http:` section.
        page: crate::http::Page,
        /// The file name given in the form.
        file_name: String,
    },
}

/// What the run's DHCP/BOOTP responder gives the router, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The first address leased: the pool's first, else the profile's router address.
    pub router: Ipv4Addr,
    /// Every address that may be leased, in order, `router` first.
    pub pool: Vec<Ipv4Addr>,
    /// The boot file given in `file` and option 67.
    pub boot_file: String,
    /// Boot files by vendor class, tried before `boot_file`.
    pub boot_choices: Vec<crate::dhcp::lease::BootChoice>,
    /// Who is answered.
    pub answer: crate::dhcp::lease::Answer,
    /// The router asks by BOOTP (`MikroTik` etherboot); else DHCP. The responder answers
    /// each in its own protocol; this only words what the run waits for.
    pub bootp: bool,
    /// The run goes on when another DHCP server answers the probe (`--allow-other-dhcp`);
    /// else it stops before the router is switched on.
    pub allow_other_servers: bool,
}

/// Where the expected flashing time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashSource {
    /// The device's profile.
    Profile,
    /// The run's settings (the demo's shortened time).
    Settings,
    /// Neither: [`DEFAULT_FLASH`].
    Typical,
}

/// Where the run happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The interface.
    pub name: String,
    /// Why it was chosen.
    pub reason: String,
    /// Whether it has a link now.
    pub carrier: bool,
}

/// Everything a run will do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The device id.
    pub device: String,
    /// Vendor and model.
    pub model: String,
    /// The recovery method.
    pub method: Method,
    /// The port (none in a loopback run).
    pub port: Option<Port>,
    /// The address this computer must have.
    pub host: Option<Ipv4Cidr>,
    /// The router's address in recovery mode.
    pub router: Option<Ipv4Addr>,
    /// The changes to the host's network (none needed, or a loopback run: `None`).
    pub network: Option<NetworkPlan>,
    /// How the image moves.
    pub transfer: Transfer,
    /// The image.
    pub image: ImageFacts,
    /// The device's steps, shown while waiting.
    pub steps: Vec<Step>,
    /// How long the router takes to write and reboot.
    pub flash: Duration,
    /// Where `flash` comes from.
    pub flash_source: FlashSource,
    /// Where the router answers after flashing.
    pub after: Option<Ipv4Addr>,
    /// Other addresses it may come back at (stock firmware's own, named in the profile's
    /// `after-alternates`).
    pub after_alternates: Vec<Ipv4Addr>,
    /// Give up waiting for the router after this long.
    pub timeout: Duration,
    /// End once the transfer is confirmed.
    pub exit_after_transfer: bool,
    /// Show the checklist when nothing has moved for this long.
    pub stall_after: Duration,
    /// Let the router's packets in through the host firewall when it would drop them.
    pub allow_firewall: bool,
    /// The serial console leg, when the run drives the bootloader's console.
    pub console: Option<ConsolePlan>,
}

/// Why no plan could be made: the technician's input does not fit the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The device recovers by a method the run does not automate.
    #[error(
        "{id} recovers by {method}: {describe}.\n  fix: follow the steps in `rescue-wizard devices show {id}`"
    )]
    NotAutomated {
        /// The device.
        id: String,
        /// Its method.
        method: Method,
        /// The method in words.
        describe: &'static str,
    },
    /// The profile lacks an address the run needs.
    #[error(
        "the profile {id} names no {what}, so the run cannot set up the network.\n  fix: add `{field}` to the profile (see docs/profiles.md), or use `rescue-wizard serve` by hand"
    )]
    Incomplete {
        /// The device.
        id: String,
        /// What is missing, in words.
        what: &'static str,
        /// The profile field.
        field: &'static str,
    },
    /// The port cannot be chosen.
    #[error("{0}")]
    Port(String),
    /// The region given is not one a Netgear bootloader knows.
    #[error(
        "\"{given}\" is not a region a Netgear bootloader knows.\n  fix: give --region as one of NA, WW, GR, PR, RU, BZ, IN, KO, JP, AU (the region of the router's label or download page), or leave it out"
    )]
    UnknownRegion {
        /// The region as given.
        given: String,
    },
    /// The profile's lease cannot work (its router address outside its laptop subnet...).
    #[error("the profile {id} cannot lease its router address: {reason}")]
    Lease {
        /// The device.
        id: String,
        /// What is wrong, with the fix.
        reason: String,
    },
    /// `--serial` was given for a device whose bootloader does not pull the image.
    #[error(
        "--serial drives a bootloader that fetches the image with `tftpboot`, and {id} recovers by {method}.\n  fix: leave --serial out for this device, or give a profile whose method is tftp-server"
    )]
    ConsoleNeedsPull {
        /// The device.
        id: String,
        /// Its method.
        method: Method,
    },
    /// The image is larger than the flash region the console recipe writes.
    #[error(
        "the image is {size} bytes, and {id}'s firmware region at {offset:#x} holds {region} bytes: writing it would erase what follows the region.\n  fix: check that the image is meant for {id} (a factory or recovery image, not a full flash dump), and strip its head if it carries a bootloader"
    )]
    ImageExceedsRegion {
        /// The device.
        id: String,
        /// The image's size.
        size: u64,
        /// The region's size.
        region: u64,
        /// Where the region starts.
        offset: u64,
    },
    /// A profile whose method is `console` was planned without `--serial`.
    #[error(
        "{id} recovers over the bootloader's serial console, and no serial port was given.\n  fix: plug in the USB serial adapter wired to the router's console and give --serial with its path (e.g. --serial /dev/ttyUSB0), or --serial auto for the one adapter present"
    )]
    ConsoleNeedsPort {
        /// The device.
        id: String,
    },
    /// The chosen port is not one a bootloader can be reached through.
    #[error(
        "{name} is {kind}: a bootloader in recovery mode is only reachable over an Ethernet cable.\n  fix: plug the cable into a wired port and give --interface with its name"
    )]
    NotWired {
        /// The port.
        name: String,
        /// What it is.
        kind: &'static str,
    },
}

/// Narrows the server's TFTP settings to what the device's bootloader copes with (the
/// profile's `tftp:`): options off, smaller blocks and windows, rollover to 1, the next block
/// along each resend. A profile narrows the defaults, and the command line can narrow them
/// further; neither widens them.
pub fn apply_tftp_policy(config: &mut ServerConfig, tftp: &crate::profile::Tftp) {
    if tftp.options == Some(ProfileOptions::None) {
        config.options.enabled = false;
    }
    if let Some(max) = tftp.max_blksize {
        config.options.max_blksize = config.options.max_blksize.min(max);
    }
    if let Some(max) = tftp.max_windowsize {
        config.options.max_windowsize = config.options.max_windowsize.min(max.max(1));
    }
    if tftp.rollover == Some(Rollover::ToOne) {
        config.rollover = crate::tftp::session::Rollover::One;
    }
    if let Some(allowed) = tftp.next_block_on_resend {
        // The profile knows the bootloader: `true` sends the next block from the start,
        // `false` also stops the server learning it from the client (U-Boot 1.1.x).
        config.timing.resend_next_block = allowed;
        config.timing.learn_next_block = allowed;
    }
}

/// Builds the plan for `profile` and `image` on this computer's `interfaces`.
#[expect(
    clippy::too_many_lines,
    reason = "split pending: the settings layering moves out of the plan builder"
)]
pub fn build(
    profile: &Profile,
    image: ImageFacts,
    interfaces: &[Interface],
    settings: &Settings,
) -> Result<Plan, PlanError> {
    // With --serial, a profile with a `console:` section is recovered over the console
    // whatever its network method: the bootloader fetches from our server (docs/console.md).
    let by_console = profile.method == Method::Console
        || (settings.serial.is_some() && profile.console.is_some());
    let method = if by_console {
        Method::Console
    } else {
        profile.method
    };
    // An upload page is driven only where the profile describes it (its `http:` section).
    let http_page = (method == Method::Http)
        .then(|| crate::http::Page::from_profile(profile))
        .flatten();
    if !(by_console || profile.is_automated()) || (method == Method::Http && http_page.is_none()) {
        return Err(PlanError::NotAutomated {
            id: profile.id.clone(),
            method: profile.method,
            describe: profile.method.describe(),
        });
    }
    let nmrp = method == Method::Nmrp;
    let dhcp = matches!(method, Method::DhcpTftp | Method::BootpTftp);
    // An NMRP bootloader takes whatever address it is given: nmrpflash's defaults serve when
    // the profile names none.
    let nmrp_host = nmrp.then_some(crate::profile::Host {
        address: crate::nmrp::session::DEFAULT_HOST_IP,
        prefix: crate::settings::HOST_PREFIX,
    });
    let host = profile
        .host
        .or(nmrp_host)
        .ok_or_else(|| PlanError::Incomplete {
            id: profile.id.clone(),
            what: "laptop address",
            field: "host",
        })?;
    let host = Ipv4Cidr::new(host.address, host.prefix);
    let push = method == Method::TftpClient;
    if push && profile.router.is_none() {
        return Err(PlanError::Incomplete {
            id: profile.id.clone(),
            what: "router address to push to",
            field: "router",
        });
    }
    let (port, network) = if settings.loopback.is_some() {
        (None, None)
    } else {
        {
            let iface = check::choose(interfaces, settings.interface.as_deref())
                .map_err(PlanError::Port)?;
            let kind = match iface.kind {
                crate::net::iface::InterfaceKind::Wireless => Some("a Wi-Fi interface"),
                crate::net::iface::InterfaceKind::Loopback => Some("the loopback interface"),
                _ => None,
            };
            if let Some(kind) = kind {
                return Err(PlanError::NotWired {
                    name: iface.name.clone(),
                    kind,
                });
            }
            let reason = if settings.interface.is_some() {
                "chosen with --interface".to_owned()
            } else {
                crate::net::iface::recommend(interfaces).reason
            };
            let mut network = NetworkPlan::for_interface(iface, host);
            if let (Some(mac), Some(router)) = (settings.router_mac, profile.router) {
                network.static_arp = Some((router, mac));
            }
            let port = Port {
                name: iface.name.clone(),
                reason,
                carrier: iface.carrier,
            };
            (Some(port), (!network.is_empty()).then_some(network))
        }
    };
    let transfer = if let Some(page) = http_page {
        Transfer::Http {
            page,
            file_name: image.path.file_name().map_or_else(
                || "firmware.bin".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    } else if nmrp {
        let given = settings.region.as_ref().or(profile.nmrp.region.as_ref());
        let region = match given {
            Some(name) => Some(crate::nmrp::packet::Region::from_name(name).ok_or_else(|| {
                PlanError::UnknownRegion {
                    given: name.clone(),
                }
            })?),
            None => None,
        };
        Transfer::Nmrp {
            router: profile
                .router
                .unwrap_or(crate::nmrp::session::DEFAULT_ROUTER_IP),
            netmask: Ipv4Addr::from(host.mask()),
            region,
        }
    } else if push {
        let router = profile.router.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let to = match settings.loopback {
            Some(ip) => SocketAddr::new(ip, settings.port),
            None => SocketAddr::new(IpAddr::V4(router), settings.port),
        };
        let remote_name = profile
            .tftp
            .remote_name
            .clone()
            .or_else(|| profile.filename.clone())
            .or_else(|| {
                image
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "firmware.bin".to_owned());
        Transfer::Push { to, remote_name }
    } else {
        let ip = settings.loopback.unwrap_or(IpAddr::V4(host.addr));
        let mut config = ServerConfig::new(Source::Image {
            path: image.path.clone(),
            any_name: true,
        });
        apply_tftp_policy(&mut config, &profile.tftp);
        Transfer::Serve {
            bind: SocketAddr::new(ip, settings.port),
            expected: profile
                .filename
                .iter()
                .chain(&profile.alternate_filenames)
                .cloned()
                .collect(),
            options: config.options.enabled,
            max_blksize: config.options.max_blksize,
            max_windowsize: config.options.max_windowsize,
            rollover_to_one: config.rollover == crate::tftp::session::Rollover::One,
            next_block: config.timing.resend_next_block,
        }
    };
    let transfer = if dhcp {
        with_lease(
            transfer,
            lease(profile, host, &image.path, settings.allow_other_dhcp)?,
        )
    } else {
        transfer
    };
    let console = console_plan(profile, settings.serial.as_ref(), &transfer, image.size)?;
    let profile_flash = profile
        .flash_seconds
        .map(|s| Duration::from_secs(u64::from(s)));
    // An NMRP router writes its flash while it sends keep-alives, then closes, and never
    // restarts by itself: the session decides the end, within its own wait (30 minutes after
    // the upload or the last keep-alive); the countdown only backs it up.
    let nmrp_flash = nmrp.then_some(crate::nmrp::session::DEFAULT_FLASH_WAIT + FLASH_GRACE);
    Ok(Plan {
        device: profile.id.clone(),
        model: format!("{} {}", profile.vendor, profile.model),
        method,
        port,
        host: Some(host),
        router: match &transfer {
            Transfer::Nmrp { router, .. } => Some(*router),
            Transfer::Dhcp { lease, .. } => Some(lease.router),
            _ => profile.router,
        },
        network,
        transfer,
        image,
        steps: profile.steps.clone(),
        flash: nmrp_flash
            .or(settings.flash)
            .or(profile_flash)
            .unwrap_or(DEFAULT_FLASH),
        flash_source: match (settings.flash, profile_flash) {
            (Some(_), _) => FlashSource::Settings,
            (None, Some(_)) => FlashSource::Profile,
            (None, None) => FlashSource::Typical,
        },
        // It stays in its bootloader until switched off and on: nothing to watch for.
        after: profile.after.filter(|_| !nmrp),
        after_alternates: if nmrp {
            Vec::new()
        } else {
            profile.after_alternates.clone()
        },
        timeout: settings.timeout,
        // Its keep-alives need answers and its close an acknowledgement until it is done.
        exit_after_transfer: settings.exit_after_transfer && !nmrp,
        stall_after: settings.stall_after,
        // A loopback run changes nothing on the host.
        allow_firewall: settings.allow_firewall && settings.loopback.is_none(),
        console,
    })
}

/// The console leg for `profile` when the technician gave `--serial` (a profile whose method
/// is `console` needs it): only a pull (the console types `tftpboot` to fetch from our
/// server). Without a load address in the profile the bootloader is asked for its own.
fn console_plan(
    profile: &Profile,
    serial: Option<&Serial>,
    transfer: &Transfer,
    image_size: u64,
) -> Result<Option<ConsolePlan>, PlanError> {
    let Some(serial) = serial else {
        if profile.method == Method::Console {
            return Err(PlanError::ConsoleNeedsPort {
                id: profile.id.clone(),
            });
        }
        return Ok(None);
    };
    if !matches!(transfer, Transfer::Serve { .. }) {
        return Err(PlanError::ConsoleNeedsPull {
            id: profile.id.clone(),
            method: profile.method,
        });
    }
    if profile.router.is_none() {
        return Err(PlanError::Incomplete {
            id: profile.id.clone(),
            what: "router address the console types as `setenv ipaddr`",
            field: "router",
        });
    }
    let console = profile.console.clone().unwrap_or_default();
    if let Some(flash) = &console.flash
        && let Some(region) = flash.size.filter(|&region| image_size > region)
    {
        return Err(PlanError::ImageExceedsRegion {
            id: profile.id.clone(),
            size: image_size,
            region,
            offset: flash.offset,
        });
    }
    Ok(Some(ConsolePlan {
        port: serial.port.clone(),
        baud: crate::settings::layer(serial.baud, console.baud, crate::settings::BAUD),
        stop_token: console.stop_token,
        prompt: console.prompt,
        load_addr: console.load_address,
        recipe: console
            .flash
            .as_ref()
            .map(crate::console::Recipe::from_profile),
        confirmed: serial.confirmed,
    }))
}

/// The host part of the address leased when the profile names none: the first of the pool
/// Xiaomi's own repair tool hands out (192.168.31.100-199, `MIWIFIRepairTool`'s README).
pub const DEFAULT_LEASE_HOST: u32 = 100;

/// What the responder gives for `profile`: its `dhcp:` section where it says, else its router
/// address (else the `.100` of the laptop's subnet) and its boot file (else the image's own
/// name: any name is served anyway), answering the first client that asks.
///
/// # Errors
/// When the lease cannot work (an address outside `host`'s subnet, a boot file too long).
pub fn lease(
    profile: &Profile,
    host: Ipv4Cidr,
    image: &std::path::Path,
    allow_other_servers: bool,
) -> Result<Lease, PlanError> {
    let dhcp = &profile.dhcp;
    let pool = dhcp.pool.map_or_else(
        || {
            vec![profile.router.unwrap_or_else(|| {
                Ipv4Addr::from(u32::from(host.network()) | (DEFAULT_LEASE_HOST & !host.mask()))
            })]
        },
        crate::profile::Pool::addresses,
    );
    let boot_file = dhcp
        .boot_file
        .clone()
        .or_else(|| profile.filename.clone())
        .or_else(|| image.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "firmware.bin".to_owned());
    // The longest prefix first: `U-Boot.armv7` is tried before `U-Boot`.
    let mut boot_choices: Vec<crate::dhcp::lease::BootChoice> = dhcp
        .images_by_vendor_class
        .iter()
        .map(|(class, file)| crate::dhcp::lease::BootChoice {
            vendor_class: class.clone(),
            boot_file: file.clone(),
        })
        .collect();
    boot_choices.sort_by_key(|c| std::cmp::Reverse(c.vendor_class.len()));
    let answer = match (&dhcp.client_mac, &dhcp.vendor_class) {
        (Some(mac), _) => crate::net::iface::parse_mac(mac)
            .map_or(crate::dhcp::lease::Answer::FirstClient, |mac| {
                crate::dhcp::lease::Answer::Mac(crate::net::wire::Mac(mac))
            }),
        (None, Some(class)) => crate::dhcp::lease::Answer::VendorClass(class.clone()),
        (None, None) => crate::dhcp::lease::Answer::FirstClient,
    };
    let lease = Lease {
        router: pool[0],
        pool,
        boot_file,
        boot_choices,
        answer,
        bootp: profile.method == Method::BootpTftp,
        allow_other_servers,
    };
    // The same checks as `serve --dhcp`: every leased address a host of our subnet, every
    // boot file short enough for `file`; a profile that fails them cannot be run.
    lease.config(host).map_err(|err| PlanError::Lease {
        id: profile.id.clone(),
        reason: err.to_string(),
    })?;
    Ok(lease)
}

/// `serve` (a [`Transfer::Serve`]) with the responder's `lease` in front of it.
fn with_lease(serve: Transfer, lease: Lease) -> Transfer {
    match serve {
        Transfer::Serve {
            bind,
            expected,
            options,
            max_blksize,
            max_windowsize,
            rollover_to_one,
            next_block,
        } => Transfer::Dhcp {
            bind,
            // The router asks for the boot file it was given.
            expected: if expected.is_empty() {
                vec![lease.boot_file.clone()]
            } else {
                expected
            },
            options,
            max_blksize,
            max_windowsize,
            rollover_to_one,
            next_block,
            lease,
        },
        other => other,
    }
}

impl Lease {
    /// The responder's configuration for this lease, answering from `host`; checked.
    ///
    /// # Errors
    /// When an address is not a host of `host`'s subnet or is `host` itself, or a boot file
    /// does not fit the `file` field.
    pub fn config(
        &self,
        host: Ipv4Cidr,
    ) -> Result<crate::dhcp::lease::LeaseConfig, crate::dhcp::lease::ConfigError> {
        let mut config =
            crate::dhcp::lease::LeaseConfig::new(host, self.pool.clone(), self.boot_file.clone())?;
        config.boot_choices.clone_from(&self.boot_choices);
        config.answer = self.answer.clone();
        config.check()?;
        Ok(config)
    }

    /// The responder's step of the plan, in words.
    fn describe(&self, host: Option<Ipv4Cidr>, port: Option<&Port>) -> String {
        let protocol = if self.bootp { "BOOTP" } else { "DHCP" };
        let who = match &self.answer {
            crate::dhcp::lease::Answer::FirstClient => String::new(),
            crate::dhcp::lease::Answer::Mac(mac) => format!(" (only {mac})"),
            crate::dhcp::lease::Answer::VendorClass(class) => {
                format!(" (only vendor class {class}...)")
            }
        };
        let spare = match self.pool.last() {
            Some(last) if self.pool.len() > 1 => format!(" (pool up to {last})"),
            _ => String::new(),
        };
        let by_class = self.boot_choices.iter().fold(String::new(), |mut text, c| {
            let _ = write!(text, ", {} for {}...", c.boot_file, c.vendor_class);
            text
        });
        format!(
            "answer {protocol} on {} only: give the router{who} {}{spare}, our address {} as its server (siaddr), boot file {}{by_class}; before the router is switched on, ask whether another DHCP server answers there, and {}",
            port.map_or("the port", |p| p.name.as_str()),
            self.router,
            host.map_or_else(|| "?".to_owned(), |h| h.addr.to_string()),
            self.boot_file,
            if self.allow_other_servers {
                "warn if one does (--allow-other-dhcp)"
            } else {
                "stop if one does"
            }
        )
    }
}

impl Plan {
    /// The network changes in words, one line each (empty when none are needed).
    pub fn changes(&self) -> Vec<String> {
        self.network
            .as_ref()
            .map(NetworkPlan::describe)
            .unwrap_or_default()
    }

    /// Whether the router pulls the image from us.
    pub fn serves(&self) -> bool {
        matches!(
            self.transfer,
            Transfer::Serve { .. } | Transfer::Dhcp { .. }
        )
    }

    /// The file name the bootloader asks for (pull) or is sent (push).
    pub fn file(&self) -> Option<&str> {
        match &self.transfer {
            Transfer::Serve { expected, .. } | Transfer::Dhcp { expected, .. } => {
                expected.first().map(String::as_str)
            }
            Transfer::Push { remote_name, .. } => Some(remote_name),
            Transfer::Nmrp { .. } => None,
            Transfer::Http { file_name, .. } => Some(file_name),
        }
    }
}

impl fmt::Display for Plan {
    #[expect(
        clippy::too_many_lines,
        reason = "split pending: one paragraph per plan part; the run issue reshapes Plan"
    )]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "device   {} ({})", self.device, self.model)?;
        writeln!(f, "method   {}", self.method.describe())?;
        writeln!(
            f,
            "image    {} ({} bytes, sha256 {})",
            self.image.path.display(),
            self.image.size,
            self.image.sha256
        )?;
        match &self.port {
            Some(port) => writeln!(
                f,
                "port     {} ({}; {})",
                port.name,
                port.reason,
                if port.carrier {
                    "link up"
                } else {
                    "no link yet"
                }
            )?,
            None => writeln!(
                f,
                "port     loopback (simulated run: nothing on this computer changes)"
            )?,
        }
        if let Some(host) = self.host {
            writeln!(f, "laptop   {host}")?;
        }
        if let Some(router) = self.router {
            writeln!(f, "router   {router}")?;
        }
        writeln!(f, "steps")?;
        let mut number = 0;
        let mut step = |f: &mut fmt::Formatter<'_>, text: String| {
            number += 1;
            writeln!(f, "  {number}. {text}")
        };
        step(
            f,
            "check the image, the privileges, UDP port 69 and the firewall".to_owned(),
        )?;
        let changes = self.changes();
        if changes.is_empty() {
            step(f, "change nothing on the network: it is ready".to_owned())?;
        } else {
            step(f, format!("with consent: {}", changes.join("; ")))?;
        }
        if let Transfer::Dhcp { lease, .. } = &self.transfer {
            step(f, lease.describe(self.host, self.port.as_ref()))?;
        }
        match &self.transfer {
            Transfer::Serve {
                bind,
                expected,
                options,
                max_blksize,
                max_windowsize,
                rollover_to_one,
                next_block,
            }
            | Transfer::Dhcp {
                bind,
                expected,
                options,
                max_blksize,
                max_windowsize,
                rollover_to_one,
                next_block,
                ..
            } => {
                let mut tftp = if *options {
                    format!("blocks up to {max_blksize} bytes, windows up to {max_windowsize}")
                } else {
                    "no TFTP options (plain 512-byte blocks)".to_owned()
                };
                if *rollover_to_one {
                    tftp.push_str(", block numbers wrap to 1");
                }
                if *next_block {
                    tftp.push_str(", the next block along with each resend");
                }
                step(
                    f,
                    format!(
                        "serve the image on {bind} under any name asked for (expected: {}); {tftp}",
                        if expected.is_empty() {
                            "any".to_owned()
                        } else {
                            expected.join(", ")
                        }
                    ),
                )?;
                step(
                    f,
                    "fetch the image from our own server through that address and compare its sha256".to_owned(),
                )?;
            }
            Transfer::Push { to, remote_name } => {
                step(
                    f,
                    format!(
                        "push the image to {to} as \"{remote_name}\" the moment its server answers"
                    ),
                )?;
            }
            Transfer::Nmrp {
                router,
                netmask,
                region,
            } => {
                step(
                    f,
                    format!(
                        "advertise by NMRP every 100 ms until the router answers; give it {router} (netmask {netmask}{}); push the image over TFTP to the name it asks for (blocks of 1456 bytes, 512 if it does not take them); answer its keep-alives while it writes",
                        region
                            .and_then(crate::nmrp::packet::Region::name)
                            .map(|r| format!(", region {r}"))
                            .unwrap_or_default()
                    ),
                )?;
            }
            Transfer::Http { page, file_name } => {
                step(
                    f,
                    format!(
                        "try the upload page at {} until it answers, then upload the image as \"{file_name}\" ({:?} rules) and read what the page says",
                        page.addr, page.flavour
                    ),
                )?;
            }
        }
        if let Some(console) = &self.console {
            step(f, console.describe())?;
        }
        step(
            f,
            format!(
                "show the device's {} step(s) and watch the wire (ARP, ping, requests); give up after {} s",
                self.steps.len(),
                self.timeout.as_secs()
            ),
        )?;
        if self.exit_after_transfer {
            step(f, "end once the transfer is confirmed".to_owned())?;
        } else {
            let source = match self.flash_source {
                FlashSource::Profile => "the profile's time",
                FlashSource::Settings => "set for this run",
                FlashSource::Typical => "the profile gives none: a typical time",
            };
            let back = match self.after {
                Some(after) => format!("; watch for the router at {after}"),
                None => String::new(),
            };
            step(
                f,
                format!(
                    "count down {} s of flashing ({source}){back}",
                    self.flash.as_secs()
                ),
            )?;
        }
        step(f, "restore the network and write the report".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::iface::InterfaceKind;
    use crate::profile::Catalogue;

    fn interfaces() -> Vec<Interface> {
        use crate::net::iface::sample::{loopback, port};
        vec![
            loopback(),
            port(
                2,
                "enp3s0",
                InterfaceKind::Wired,
                "00:e0:4c:68:00:01",
                &[],
                Some(false),
            ),
            port(
                3,
                "wlp2s0",
                InterfaceKind::Wireless,
                "a4:c3:f0:00:00:02",
                &[Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 23), 24)],
                None,
            ),
        ]
    }

    fn profile(id: &str) -> Profile {
        let (catalogue, _) = Catalogue::load(None).unwrap();
        catalogue.get(id).unwrap().profile.clone()
    }

    fn image() -> ImageFacts {
        ImageFacts {
            path: PathBuf::from("/home/tech/wr841nv9-factory.bin"),
            size: 3_932_160,
            sha256: "9f2c".into(),
        }
    }

    #[test]
    fn a_pull_plan_reads_as_the_technician_will_see_it() {
        let plan = build(
            &profile("tl-wr841n-v9"),
            image(),
            &interfaces(),
            &Settings::default(),
        )
        .unwrap();
        let expected = "\
device   tl-wr841n-v9 (TP-Link TL-WR841N/ND)
method   the router pulls the image; rescue-wizard serves it over TFTP
image    /home/tech/wr841nv9-factory.bin (3932160 bytes, sha256 9f2c)
port     enp3s0 (enp3s0 is the only wired port with a cable in; link up)
laptop   192.168.0.66/24
router   192.168.0.86
steps
  1. check the image, the privileges, UDP port 69 and the firewall
  2. with consent: add 192.168.0.66/24 to enp3s0 (in addition to its own addresses, removed again when rescue-wizard ends)
  3. serve the image on 192.168.0.66:69 under any name asked for (expected: wr841nv9_tp_recovery.bin); blocks up to 1468 bytes, windows up to 16
  4. fetch the image from our own server through that address and compare its sha256
  5. show the device's 3 step(s) and watch the wire (ARP, ping, requests); give up after 600 s
  6. count down 180 s of flashing (the profile gives none: a typical time); watch for the router at 192.168.1.1
  7. restore the network and write the report
";
        assert_eq!(plan.to_string(), expected);
    }

    #[test]
    fn a_push_plan_names_the_router_and_the_remote_name() {
        let settings = Settings {
            interface: Some("enp3s0".into()),
            exit_after_transfer: true,
            ..Settings::default()
        };
        let plan = build(
            &profile("ubiquiti-unifi-ap"),
            image(),
            &interfaces(),
            &settings,
        )
        .unwrap();
        let text = plan.to_string();
        assert!(
            text.contains(
                "push the image to 192.168.1.20:69 as \"wr841nv9-factory.bin\" the moment its server answers"
            ),
            "{text}"
        );
        assert!(text.contains("chosen with --interface"), "{text}");
        assert!(
            text.contains("end once the transfer is confirmed"),
            "{text}"
        );
        assert!(!plan.serves());
    }

    /// The listing's word "automated" is a promise: every profile it gives as automated gets a
    /// plan on a wired port, and every one it gives as manual is refused with the steps.
    #[test]
    fn every_profile_listed_as_automated_can_be_planned() {
        let (catalogue, _) = Catalogue::load(None).unwrap();
        let settings = Settings {
            interface: Some("enp3s0".into()),
            ..Settings::default()
        };
        let mut planned = 0;
        for entry in catalogue.entries() {
            let p = &entry.profile;
            let result = build(p, image(), &interfaces(), &settings);
            if p.is_automated() {
                assert!(
                    result.is_ok(),
                    "{} is listed as automated: {result:?}",
                    p.id
                );
                planned += 1;
            } else {
                assert!(result.is_err(), "{} is listed as manual but planned", p.id);
            }
        }
        assert!(planned > 200, "only {planned} profiles planned");
    }

    #[test]
    fn wifi_and_manual_methods_are_refused_with_the_fix() {
        let settings = Settings {
            interface: Some("wlp2s0".into()),
            ..Settings::default()
        };
        let err = build(&profile("tl-wr841n-v9"), image(), &interfaces(), &settings).unwrap_err();
        assert!(
            err.to_string().contains("wlp2s0 is a Wi-Fi interface"),
            "{err}"
        );
        let err = build(
            &profile("dlink-dir-1960-a1"),
            image(),
            &interfaces(),
            &Settings::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("devices show dlink-dir-1960-a1"),
            "{err}"
        );
    }

    #[test]
    fn an_nmrp_device_is_planned_with_its_addresses_and_region() {
        let settings = Settings {
            interface: Some("enp3s0".into()),
            exit_after_transfer: true,
            region: Some("ww".into()),
            ..Settings::default()
        };
        let plan = build(&profile("netgear-r6220"), image(), &interfaces(), &settings).unwrap();
        assert_eq!(
            plan.transfer,
            Transfer::Nmrp {
                router: Ipv4Addr::new(10, 164, 183, 253),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                region: crate::nmrp::packet::Region::from_name("WW"),
            }
        );
        assert_eq!(
            plan.host,
            Some(Ipv4Cidr::new(Ipv4Addr::new(10, 164, 183, 252), 24))
        );
        // The router's keep-alives and close need answers: the run never ends at the upload.
        assert!(!plan.exit_after_transfer);
        assert_eq!(plan.after, None);
        assert!(plan.to_string().contains("region WW"), "{plan}");
        let settings = Settings {
            interface: Some("enp3s0".into()),
            region: Some("Mars".into()),
            ..Settings::default()
        };
        let err = build(&profile("netgear-r6220"), image(), &interfaces(), &settings).unwrap_err();
        assert!(
            err.to_string().contains("\"Mars\" is not a region"),
            "{err}"
        );
        assert!(
            err.to_string().contains("fix: give --region as one of"),
            "{err}"
        );
    }

    #[test]
    fn dhcp_and_bootp_devices_lease_their_router_address_and_boot_file() {
        let settings = Settings {
            interface: Some("enp3s0".into()),
            ..Settings::default()
        };
        let plan = build(
            &profile("xiaomi-mi-router-4a-gigabit"),
            image(),
            &interfaces(),
            &settings,
        )
        .unwrap();
        let Transfer::Dhcp {
            lease, expected, ..
        } = &plan.transfer
        else {
            panic!("{:?}", plan.transfer);
        };
        assert_eq!(lease.router, Ipv4Addr::new(192, 168, 31, 100));
        assert_eq!(lease.boot_file, "test.bin");
        assert!(!lease.bootp);
        assert_eq!(expected, &["test.bin".to_owned()]);
        assert_eq!(plan.router, Some(Ipv4Addr::new(192, 168, 31, 100)));
        assert!(plan.serves());
        let text = plan.to_string();
        assert!(
            text.contains("answer DHCP on enp3s0 only: give the router 192.168.31.100, our address 192.168.31.1 as its server (siaddr), boot file test.bin"),
            "{text}"
        );
        // MikroTik etherboot: BOOTP, and the image's own name as boot file.
        let plan = build(
            &profile("mikrotik-routerboard"),
            image(),
            &interfaces(),
            &settings,
        )
        .unwrap();
        let Transfer::Dhcp { lease, .. } = &plan.transfer else {
            panic!("{:?}", plan.transfer);
        };
        assert!(lease.bootp);
        assert_eq!(lease.router, Ipv4Addr::new(192, 168, 1, 20));
        assert_eq!(lease.boot_file, "wr841nv9-factory.bin");
    }

    /// A profile recovered by the console alone, as `tests/console_run.rs` runs it.
    const CONSOLE_ONLY: &str =
        include_str!("../../tests/fixtures/profiles/qemu-virt-console-method.yaml");

    #[test]
    fn a_console_method_profile_is_planned_with_its_console_leg_and_needs_a_port() {
        let profile = crate::profile::parse_profile(CONSOLE_ONLY, "console-only.yaml").unwrap();
        assert!(profile.is_automated());
        let mut settings = Settings {
            interface: Some("enp3s0".into()),
            ..Settings::default()
        };
        let err = build(&profile, image(), &interfaces(), &settings).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no serial port was given") && text.contains("--serial auto"),
            "{text}"
        );
        settings.serial = Some(Serial {
            port: PathBuf::from("/dev/ttyUSB0"),
            baud: None,
            confirmed: false,
        });
        let plan = build(&profile, image(), &interfaces(), &settings).unwrap();
        assert!(plan.serves());
        let console = plan.console.as_ref().unwrap();
        assert_eq!(
            (console.baud, console.load_addr),
            (115_200, Some(0x4020_0000))
        );
        let text = plan.to_string();
        assert!(
            text.contains(
                "on the serial console /dev/ttyUSB0 at 115200 baud: stop autoboot, set ipaddr and serverip, `tftpboot` to 0x40200000"
            ) && text.contains("writing the NOR flash at 0x4100000 needs --yes"),
            "{text}"
        );
    }

    /// A run on the wired port with `--serial /dev/ttyUSB0 --yes`.
    fn with_serial() -> Settings {
        Settings {
            interface: Some("enp3s0".into()),
            serial: Some(Serial {
                port: PathBuf::from("/dev/ttyUSB0"),
                baud: None,
                confirmed: true,
            }),
            ..Settings::default()
        }
    }

    /// Every catalogue recipe plans with `--serial`: the console leg carries it, with the
    /// profile's numbers, whatever the profile's network method.
    #[test]
    fn every_catalogue_console_recipe_plans_with_serial() {
        let (catalogue, _) = Catalogue::load(None).unwrap();
        let settings = with_serial();
        let mut planned = Vec::new();
        for entry in catalogue.entries() {
            let p = &entry.profile;
            let Some(console) = &p.console else { continue };
            let flash = console.flash.as_ref().unwrap();
            assert!(
                console.source.is_some(),
                "{}: a recipe names its source",
                p.id
            );
            let plan = build(p, image(), &interfaces(), &settings)
                .unwrap_or_else(|e| panic!("{}: {e}", p.id));
            assert_eq!(plan.method, Method::Console, "{}", p.id);
            let leg = plan.console.as_ref().unwrap();
            assert_eq!(leg.recipe.as_ref().unwrap().offset, flash.offset);
            let text = plan.to_string();
            assert!(
                text.contains(&crate::console::script::hex(flash.offset)),
                "{}: {text}",
                p.id
            );
            planned.push(p.id.clone());
        }
        for id in ["tl-wr841n-v9", "tl-wr740n-v4", "glinet-b1300"] {
            assert!(
                planned.iter().any(|p| p == id),
                "{id} has no recipe: {planned:?}"
            );
        }
    }

    #[test]
    fn an_image_larger_than_the_recipes_region_is_refused_before_the_run() {
        let settings = with_serial();
        let whole_flash = ImageFacts {
            size: 4 << 20,
            ..image()
        };
        let err = build(
            &profile("tl-wr841n-v9"),
            whole_flash,
            &interfaces(),
            &settings,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the image is 4194304 bytes, and tl-wr841n-v9's firmware region at 0x9f020000 holds 3932160 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_dhcp_section_sets_pool_boot_files_by_class_and_who_is_answered() {
        let settings = Settings {
            interface: Some("enp3s0".into()),
            ..Settings::default()
        };
        let mut xiaomi = profile("xiaomi-mi-router-4a-gigabit");
        xiaomi.dhcp = crate::profile::Dhcp {
            boot_file: Some("recovery.bin".into()),
            images_by_vendor_class: [
                ("U-Boot".to_owned(), "generic.bin".to_owned()),
                ("U-Boot.armv7".to_owned(), "armv7.bin".to_owned()),
                ("Mips_boot".to_owned(), "test.bin".to_owned()),
            ]
            .into(),
            pool: Some(crate::profile::Pool {
                first: Ipv4Addr::new(192, 168, 31, 120),
                last: Ipv4Addr::new(192, 168, 31, 122),
            }),
            client_mac: None,
            vendor_class: Some("Mips_boot".into()),
        };
        let plan = build(&xiaomi, image(), &interfaces(), &settings).unwrap();
        let Transfer::Dhcp { lease, .. } = &plan.transfer else {
            panic!("{:?}", plan.transfer);
        };
        assert_eq!(lease.router, Ipv4Addr::new(192, 168, 31, 120));
        assert_eq!(plan.router, Some(Ipv4Addr::new(192, 168, 31, 120)));
        assert_eq!(lease.pool.len(), 3);
        assert_eq!(lease.boot_file, "recovery.bin");
        let config = lease.config(plan.host.unwrap()).unwrap();
        // The longest prefix wins, whatever the order in the file.
        assert_eq!(config.boot_file_for(Some("U-Boot.armv7")), "armv7.bin");
        assert_eq!(config.boot_file_for(Some("U-Boot.armv8")), "generic.bin");
        assert_eq!(config.boot_file_for(Some("Mips_boot.v1")), "test.bin");
        assert_eq!(config.boot_file_for(None), "recovery.bin");
        assert_eq!(
            config.answer,
            crate::dhcp::lease::Answer::VendorClass("Mips_boot".into())
        );
        let text = plan.to_string();
        assert!(
            text.contains("give the router (only vendor class Mips_boot...) 192.168.31.120 (pool up to 192.168.31.122)"),
            "{text}"
        );
        xiaomi.dhcp.vendor_class = None;
        xiaomi.dhcp.client_mac = Some("8C:DE:F9:12:34:56".into());
        let plan = build(&xiaomi, image(), &interfaces(), &settings).unwrap();
        let Transfer::Dhcp { lease, .. } = &plan.transfer else {
            panic!("{:?}", plan.transfer);
        };
        assert_eq!(
            lease.answer,
            crate::dhcp::lease::Answer::Mac(crate::net::wire::Mac([
                0x8c, 0xde, 0xf9, 0x12, 0x34, 0x56
            ]))
        );
        // No section: today's behaviour, the profile's router address and file name.
        assert_eq!(
            profile("xiaomi-mi-router-4a-gigabit").dhcp,
            crate::profile::Dhcp::default()
        );
    }

    #[test]
    fn a_loopback_run_changes_nothing() {
        let settings = Settings {
            loopback: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: 0,
            flash: Some(Duration::from_secs(3)),
            ..Settings::default()
        };
        let plan = build(&profile("tl-wr841n-v9"), image(), &[], &settings).unwrap();
        assert!(plan.network.is_none());
        assert!(plan.changes().is_empty());
        assert_eq!(plan.flash, Duration::from_secs(3));
        let text = plan.to_string();
        assert!(text.contains("serve the image on 127.0.0.1:0"), "{text}");
        assert!(text.contains("change nothing on the network"), "{text}");
    }
}
