//! Command-line definitions (clap) and nothing else: what each flag means lives here, what it
//! does lives in the library.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Brings bricked routers back over TFTP.
///
/// `rescue-wizard` alone, on a terminal, opens the full-screen wizard. `rescue-wizard --device
/// ID IMAGE` runs a device's whole recovery without it: the image checked, the laptop given the
/// address the bootloader expects, the image served or pushed, the router watched until it
/// comes back, the network restored, a report written. The sub-commands do one part each.
#[derive(Debug, Parser)]
#[command(
    name = "rescue-wizard",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// One part of the recovery on its own (without one: the whole recovery run, or the
    /// wizard when neither a device nor an image is given).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The whole recovery run.
    #[command(flatten)]
    pub recover: RecoverArgs,
}

/// `rescue-wizard --device ID IMAGE`: the whole recovery run.
// Independent command-line switches, not a state machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The firmware image to flash (never modified).
    #[arg(value_name = "IMAGE")]
    pub image: Option<PathBuf>,
    /// The device (`rescue-wizard devices` lists them).
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// Use this profile file for this run (alone: the device it describes).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The port the router is plugged into (default: the wired port with a link).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Answer yes to every question: the network changes (all undone at the end) and, for a
    /// stock image that carries a bootloader, flashing a stripped copy written beside it.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Give up waiting for the router after this many seconds (exit 3 if it never spoke).
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// End once the transfer is confirmed, without watching the flashing.
    #[arg(long)]
    pub exit_after_transfer: bool,
    /// Show the troubleshooting checklist when the router has been silent (or the transfer
    /// stuck) this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_after: u64,
    /// Write the Markdown report here (default: the state folder; the path is printed).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// One JSON object per event and line, for scripts.
    #[arg(long)]
    pub json: bool,
    /// When the router asks for another server address than the profile's, add it to the
    /// port for the rest of the run (undone at the end).
    #[arg(long)]
    pub adopt: bool,
    /// The router's hardware address (often on its label): a static ARP entry for the run,
    /// for bootloaders that do not answer ARP.
    #[arg(long, value_name = "MAC", value_parser = parse_mac_arg)]
    pub router_mac: Option<[u8; 6]>,
    /// The TFTP port: ours when the router pulls, the router's when we push.
    #[arg(long, default_value_t = 69)]
    pub port: u16,
}

/// `rescue-wizard demo`: on a terminal, the full-screen wizard against the simulated
/// bootloader; otherwise (or with `--json` or `--plain`) the run's events as lines.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// One JSON object per event and line.
    #[arg(long)]
    pub json: bool,
    /// Lines of plain text even on a terminal (no full-screen wizard).
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,
    /// How long the simulated router takes to write its flash, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 8)]
    pub flash_seconds: u64,
    /// Write the Markdown report here (the demo writes none otherwise).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole recovery against a simulated bootloader on loopback: no router, no
    /// privileges, no changes to this computer.
    Demo(DemoArgs),
    /// Serve a firmware image (or a folder, read-only) to a bootloader that pulls it.
    Serve(ServeArgs),
    /// Push a firmware image to a bootloader's TFTP server (write request).
    Push(PushArgs),
    /// Fetch a file from a TFTP server (read request).
    Get(GetArgs),
    /// Check this computer against a device's procedure: port, address, link, port 69,
    /// privileges, firewall; each item with its fix.
    Doctor(DoctorArgs),
    /// List and search the known devices, show one's procedure, check profile files.
    Devices(DevicesArgs),
    /// Watch the port the router is plugged into: ARP, ping, DHCP, TFTP requests, failsafe
    /// broadcasts, and what they tell (one line each). Needs `cap_net_raw`.
    Watch(WatchArgs),
    /// Ask whether an address answers: ARP who-has out of the port, ICMP echo, or both (the
    /// default). One line per answer; exit 0 when every probe asked for was answered, 1 when
    /// one was not.
    Probe(ProbeArgs),
}

/// `rescue-wizard probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The address to probe.
    pub address: std::net::Ipv4Addr,
    /// The port to probe out of.
    #[arg(long, value_name = "IF")]
    pub interface: String,
    /// Send ARP requests (needs `cap_net_raw`).
    #[arg(long)]
    pub arp: bool,
    /// Send ICMP echo requests (ping).
    #[arg(long)]
    pub ping: bool,
    /// Requests of each kind, one a second, each waiting up to a second for its answer.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub count: u16,
}

/// `rescue-wizard watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The port to watch.
    #[arg(long, value_name = "IF")]
    pub interface: String,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub seconds: Option<u64>,
    /// One JSON object per line instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// Compare what the router does with this device's procedure (addresses, file names).
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// The router is being switched on now: if it stays silent, say so with timing advice.
    #[arg(long)]
    pub powered_on: bool,
    /// Also write every frame received to this new pcap file (for tcpdump or Wireshark).
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
    /// When the router asks for a server address this computer does not have, add it to the
    /// port for the rest of the watch (journaled, removed at the end), with the profile's
    /// prefix (24 without a profile). Asking for this is the consent.
    #[arg(long)]
    pub adopt: bool,
}

/// `rescue-wizard serve`.
// Independent command-line switches, not a state machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("profile_source").multiple(true))]
#[command(group = clap::ArgGroup::new("port_user").multiple(true).args(["device", "profile", "dhcp"]))]
pub struct ServeArgs {
    /// The image to serve, or a folder whose files are served read-only.
    pub path: PathBuf,
    /// Address to listen on (default: every address of this host).
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// UDP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 69)]
    pub port: u16,
    /// Serve the image whatever file name the device asks for (the name is reported).
    #[arg(long)]
    pub any_name: bool,
    /// Ignore all TFTP options (plain RFC 1350) for bootloaders that misbehave on an OACK.
    #[arg(long)]
    pub no_options: bool,
    /// Largest block size granted (8..=65464). The default keeps Ethernet frames unfragmented.
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub max_blksize: Option<u16>,
    /// Largest window size granted (RFC 7440), in blocks.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_windowsize: Option<u16>,
    /// Send the next block along with each resend: repairs a lost ACK at once. Only for
    /// bootloaders that ignore a block ahead of the one they expect, like mainline U-Boot;
    /// U-Boot 1.1.x (TP-Link) would keep a hole (see docs/tftp.md).
    #[arg(long)]
    pub next_block: bool,
    /// Accept uploads (write requests) into this folder: new files only, never overwritten.
    #[arg(long, value_name = "DIR")]
    pub allow_write: Option<PathBuf>,
    /// Largest upload accepted, in bytes.
    #[arg(long, default_value_t = 512 * 1024 * 1024)]
    pub max_write_size: u64,
    /// Stop after this many transfers have finished (0: run until Ctrl-C).
    #[arg(long, default_value_t = 0)]
    pub exit_after: u32,
    /// Give this computer the address the device's bootloader expects (from its profile)
    /// for as long as the server runs.
    #[arg(long, value_name = "ID", group = "profile_source")]
    pub device: Option<String>,
    /// Use this profile file for this run (with --device: one of several ids it may
    /// replace; alone: the device it describes).
    #[arg(long, value_name = "FILE", group = "profile_source")]
    pub profile: Option<PathBuf>,
    /// The port the router is plugged into (default: the wired port with a link).
    #[arg(long, value_name = "IF", requires = "port_user")]
    pub interface: Option<String>,
    /// Make the network changes without asking.
    #[arg(long, short = 'y', requires = "profile_source")]
    pub yes: bool,
    /// When the host firewall would drop the router's packets, let UDP from the router's
    /// subnet in on the port for the session (removed afterwards).
    #[arg(long, requires = "profile_source")]
    pub allow_firewall: bool,
    /// The router's hardware address (often on its label): adds a static ARP entry for the
    /// session, for bootloaders that do not answer ARP.
    #[arg(long, value_name = "MAC", requires = "profile_source", value_parser = parse_mac_arg)]
    pub router_mac: Option<[u8; 6]>,
    /// Also answer DHCP and BOOTP on --interface (and only there): lease the router its
    /// address, with this computer as the TFTP server and the boot file (see docs/dhcp.md).
    #[arg(long, requires = "interface")]
    pub dhcp: bool,
    /// With --dhcp: the address leased to the router (default: the profile's router address);
    /// repeat for a small pool, used in order.
    #[arg(long, value_name = "ADDRESS", requires = "dhcp")]
    pub router_address: Vec<std::net::Ipv4Addr>,
    /// With --dhcp: the boot file named to the router (default: the image's file name).
    #[arg(long, value_name = "NAME", requires = "dhcp")]
    pub boot_file: Option<String>,
    /// With --dhcp: answer only this hardware address (default: the first client that asks,
    /// then only it).
    #[arg(long, value_name = "MAC", requires = "dhcp", value_parser = parse_mac_arg)]
    pub only_mac: Option<[u8; 6]>,
    /// With --dhcp: answer only a client whose vendor class (DHCP option 60) starts with
    /// this text, such as `Mips_boot` or `U-Boot`.
    #[arg(
        long,
        value_name = "TEXT",
        requires = "dhcp",
        conflicts_with = "only_mac"
    )]
    pub only_vendor_class: Option<String>,
}

fn parse_mac_arg(text: &str) -> Result<[u8; 6], String> {
    crate::net::platform::parse_mac(text).ok_or_else(|| {
        format!("\"{text}\" is not a hardware address; write it like ba:be:fa:ce:08:41")
    })
}

/// `rescue-wizard doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check against this device's procedure (`rescue-wizard devices` lists them).
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// Use this profile file for this run.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The port the router is plugged into (default: the wired port with a link).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
}

/// `rescue-wizard push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image to push.
    pub image: PathBuf,
    /// The bootloader's address.
    #[arg(long)]
    pub to: IpAddr,
    /// The bootloader's TFTP port.
    #[arg(long, default_value_t = 69)]
    pub port: u16,
    /// File name sent in the write request (default: the image's file name).
    #[arg(long)]
    pub remote_name: Option<String>,
    /// Ask for this block size (default: no options, 512-byte blocks, what bootloaders expect).
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub blksize: Option<u16>,
    /// Ask for this window size (RFC 7440).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub windowsize: Option<u16>,
    /// Keep retrying the first request for this many seconds (start before the router is up).
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
}

/// `rescue-wizard get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The server's address.
    pub host: IpAddr,
    /// The file name to ask for.
    pub remote: String,
    /// Where to write it (default: the remote name's last part, in the current folder).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The server's TFTP port.
    #[arg(long, default_value_t = 69)]
    pub port: u16,
    /// Ask for this block size.
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub blksize: Option<u16>,
    /// Ask for this window size (RFC 7440).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub windowsize: Option<u16>,
    /// Keep retrying the first request for this many seconds.
    #[arg(long, default_value_t = 10)]
    pub wait: u64,
}

/// `rescue-wizard devices [QUERY]...`, `devices show ID`, `devices check FILE...`.
///
/// `show` and `check` are sub-commands; any other words are a search. Profile ids can never be
/// `show`, `check` or `help`, so a device id is never mistaken for a sub-command.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevicesArgs {
    /// What to do; without one, list the devices (or search them when QUERY is given).
    #[command(subcommand)]
    pub command: Option<DevicesCommand>,
    /// Search by id, model or alias, ignoring case and punctuation (e.g. `wr841 v9`).
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
}

/// The `devices` sub-commands.
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Print one device's full recovery procedure, steps numbered.
    Show {
        /// The device id, as `rescue-wizard devices` lists it.
        id: String,
    },
    /// Validate profile files: exit 0 when all are valid, 2 otherwise.
    Check {
        /// The profile files (YAML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}
