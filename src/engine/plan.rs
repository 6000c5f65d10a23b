//! The plan of a recovery run, built purely from the profile, the image, the interfaces and
//! the settings: no I/O, so every decision is visible (and snapshot-tested) before anything
//! changes on the host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::net::addr::NetworkChanges;
use crate::net::check;
use crate::net::iface::{Interface, Ipv4Cidr};
use crate::profile::{Method, OptionPolicy as ProfileOptions, Profile, RolloverPolicy, Step};
use crate::tftp::options::OptionPolicy;
use crate::tftp::server::{ServerConfig, Source};
use crate::tftp::session::{NextBlock, RolloverTo};

mod console;
mod lease;

use self::console::console_plan;
use self::lease::with_lease;
pub use self::lease::{DEFAULT_LEASE_HOST, lease};

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
    /// The technician chose to boot the image from RAM and write nothing (`--ram-boot`).
    pub ram_boot: bool,
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
    /// How the device boots the proven image from RAM: the path taken when `recipe` is
    /// `None` (`--ram-boot`), offered beside the write question otherwise.
    pub ram_boot: Option<crate::console::RamBoot>,
}

impl ConsolePlan {
    /// The console leg in one line, as the plan lists it.
    pub fn describe(&self) -> String {
        let write = match (&self.recipe, self.confirmed) {
            (None, _) => self.ram_boot.as_ref().map_or_else(
                || "nothing is written to flash (the profile has no recipe)".to_owned(),
                |boot| {
                    format!(
                        "then boot it from RAM with `{}` (nothing is written to flash)",
                        boot.command
                    )
                },
            ),
            (Some(recipe), true) => format!(
                "then (allowed by --yes) write it to the {} flash at {}, read it back and compare",
                recipe.kind.name(),
                crate::console::script::hex(recipe.offset),
            ),
            (Some(recipe), false) => format!(
                "writing the {} flash at {} needs --yes or the technician's yes, asked once the image is proven; without either nothing is written",
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
        /// The TFTP options granted: whether at all, the largest block and window.
        options: OptionPolicy,
        /// What block 65535 is followed by.
        rollover: RolloverTo,
        /// Whether the next block goes along with a resend (the profile's
        /// `next_block_on_resend`).
        next_block: NextBlock,
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
        /// The TFTP options granted: whether at all, the largest block and window.
        options: OptionPolicy,
        /// What block 65535 is followed by.
        rollover: RolloverTo,
        /// Whether the next block goes along with a resend (the profile's
        /// `next_block_on_resend`).
        next_block: NextBlock,
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
    pub network: Option<NetworkChanges>,
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
    /// `--ram-boot` was given for a device whose profile has no `console: ram-boot:`.
    #[error(
        "--ram-boot boots the image from RAM with the command {id}'s bootloader takes, and its profile names none (no `console: ram-boot:` section).\n  fix: leave --ram-boot out (the image is then loaded and proven, and written only with a recipe and your yes), or, if this bootloader starts a uImage with `bootm`, copy the profile and add `ram-boot: {{}}` under its `console:` (docs/console.md)"
    )]
    NoRamBoot {
        /// The device.
        id: String,
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
    if tftp.rollover == Some(RolloverPolicy::ToOne) {
        config.rollover = RolloverTo::One;
    }
    if tftp.next_block_on_resend.is_some() {
        // The profile knows the bootloader: `true` sends the next block from the start,
        // `false` also stops the server learning it from the client (U-Boot 1.1.x).
        NextBlock::from_profile(tftp.next_block_on_resend).apply(&mut config.timing);
    }
}

impl Transfer {
    /// The configuration of the run's own TFTP server for a pull (`Serve` or `Dhcp`),
    /// serving the image read at `image` with the policy the profile chose; `None` for the
    /// transfers where the router's bootloader is the server.
    pub fn server_config(&self, image: PathBuf) -> Option<ServerConfig> {
        let (Self::Serve {
            options,
            rollover,
            next_block,
            ..
        }
        | Self::Dhcp {
            options,
            rollover,
            next_block,
            ..
        }) = self
        else {
            return None;
        };
        let mut config = ServerConfig::new(Source::Image {
            path: image,
            any_name: true,
        });
        config.options = *options;
        config.rollover = *rollover;
        next_block.apply(&mut config.timing);
        Some(config)
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
            let mut network = NetworkChanges::for_interface(iface, host);
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
            options: config.options,
            rollover: config.rollover,
            next_block: NextBlock::of(&config.timing),
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

impl Plan {
    /// The network changes in words, one line each (empty when none are needed).
    pub fn changes(&self) -> Vec<String> {
        self.network
            .as_ref()
            .map(NetworkChanges::describe)
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
                rollover,
                next_block,
            }
            | Transfer::Dhcp {
                bind,
                expected,
                options,
                rollover,
                next_block,
                ..
            } => {
                let mut tftp = if options.enabled {
                    format!(
                        "blocks up to {} bytes, windows up to {}",
                        options.max_blksize, options.max_windowsize
                    )
                } else {
                    "no TFTP options (plain 512-byte blocks)".to_owned()
                };
                if *rollover == RolloverTo::One {
                    tftp.push_str(", block numbers wrap to 1");
                }
                if *next_block == NextBlock::Always {
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
mod tests;
