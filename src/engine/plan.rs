//! The plan of a recovery run, built purely from the profile, the image, the interfaces and
//! the settings: no I/O, so every decision is visible (and snapshot-tested) before anything
//! changes on the host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::net::addr::NetworkChanges;
use crate::net::iface::Ipv4Cidr;
use crate::profile::{Method, OptionUse, RolloverPolicy, Step};
use crate::tftp::options::OptionPolicy;
use crate::tftp::server::{ServerConfig, Source};
use crate::tftp::session::{NextBlock, RolloverTo};

mod build;
mod console;
mod describe;
mod lease;
mod policy;

pub use self::build::build;
pub use self::lease::{DEFAULT_LEASE_HOST, lease};
pub use self::policy::{
    AfterProof, AfterTransfer, FirewallPolicy, NetworkConsent, OtherDhcp, ServerAddress,
};

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
    /// Give up waiting for the router after this long (`--wait`; else
    /// [`DEFAULT_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// What the run does once the transfer is confirmed (`--exit-after-transfer`).
    pub after_transfer: AfterTransfer,
    /// The UDP port our server listens on, or the router's server port (`--port`; else
    /// [`crate::settings::TFTP_PORT`]).
    pub port: Option<u16>,
    /// Where the simulated run listens instead of the port (the demo: loopback, no
    /// changes to the host).
    pub loopback: Option<IpAddr>,
    /// Override the profile's flashing time (the demo shortens it).
    pub flash: Option<Duration>,
    /// The router's hardware address, for a static ARP entry.
    pub router_mac: Option<[u8; 6]>,
    /// Show the checklist when nothing has moved for this long (`--stall-after`; else
    /// [`STALL_AFTER`]).
    pub stall_after: Option<Duration>,
    /// The region an NMRP bootloader is told (`--region`), by name; the profile's otherwise.
    pub region: Option<String>,
    /// What the run does when the host firewall would drop the router's packets
    /// (`--allow-firewall`).
    pub firewall: FirewallPolicy,
    /// The bootloader's serial console (`--serial`, `--baud`, `--yes`), when the run drives it.
    pub serial: Option<Serial>,
    /// What a DHCP/BOOTP run does when another DHCP server answers its probe on the port
    /// (`--allow-other-dhcp`).
    pub other_dhcp: OtherDhcp,
}

/// What `auto` as a serial port means: the one USB serial adapter present.
pub const SERIAL_AUTO: &str = "auto";

/// The serial console as the technician gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serial {
    /// The port's path, or [`SERIAL_AUTO`].
    pub port: PathBuf,
    /// The baud rate given (`--baud`); the profile's otherwise, else [`crate::settings::BAUD`].
    pub baud: Option<u32>,
    /// What the console does once the image is proven in RAM (`--yes`, `--ram-boot`).
    pub after_proof: AfterProof,
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
    /// What the console does once the image is proven: with [`AfterProof::Write`] the flash
    /// is written without asking.
    pub after_proof: AfterProof,
    /// How the device boots the proven image from RAM: the path taken when `recipe` is
    /// `None` (`--ram-boot`), offered beside the write question otherwise.
    pub ram_boot: Option<crate::console::RamBoot>,
}

impl ConsolePlan {
    /// The console leg in one line, as the plan lists it.
    pub fn describe(&self) -> String {
        let write = match (&self.recipe, self.after_proof == AfterProof::Write) {
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
            timeout: None,
            after_transfer: AfterTransfer::Watch,
            port: None,
            loopback: None,
            flash: None,
            router_mac: None,
            stall_after: None,
            region: None,
            firewall: FirewallPolicy::Leave,
            serial: None,
            other_dhcp: OtherDhcp::Stop,
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
    /// What the router asks by: BOOTP (`MikroTik` etherboot, the profile's `bootp-tftp`) or
    /// DHCP. The responder answers each in its own protocol; this only words what the run
    /// waits for.
    pub protocol: crate::dhcp::lease::Protocol,
    /// What the run does when another DHCP server answers the probe (`--allow-other-dhcp`).
    pub other_servers: OtherDhcp,
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
    /// What the run does once the transfer is confirmed.
    pub after_transfer: AfterTransfer,
    /// Show the checklist when nothing has moved for this long.
    pub stall_after: Duration,
    /// What the run does when the host firewall would drop the router's packets.
    pub firewall: FirewallPolicy,
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
    if tftp.options == Some(OptionUse::None) {
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

#[cfg(test)]
mod tests;
