//! Command-line definitions (clap) and nothing else: what each flag means lives here, what it
//! does lives in the library.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Arg, Args, Parser, Subcommand};

use crate::settings::{
    DEFAULT_TIMEOUT, DEMO_FLASH, GET_MAX_SIZE, GET_WAIT, MAX_WRITE_SIZE, PROBE_COUNT, PUSH_WAIT,
    SERVE_BIND, SERVE_EXIT_AFTER, STALL_AFTER, TFTP_PORT, WRITE_QUOTA,
};

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
    after_long_help = exit_code_help(),
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
#[command(mut_arg("timeout", |arg| shows_default(arg, DEFAULT_TIMEOUT.as_secs())))]
#[command(mut_arg("stall_after", |arg| shows_default(arg, STALL_AFTER.as_secs())))]
#[command(mut_arg("port", |arg| shows_default(arg, TFTP_PORT)))]
pub struct RecoverArgs {
    /// The firmware image to flash (never modified).
    #[arg(value_name = "IMAGE")]
    pub image: Option<PathBuf>,
    /// The device: its id, an alias or its model, in any case (`rescue-wizard devices` lists
    /// them).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Use this profile file for this run (alone: the device it describes).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The port the router is plugged into (without it: the wired port with a link).
    #[arg(long, value_name = "INTERFACE")]
    pub interface: Option<String>,
    /// Answer yes to every question: the network changes (all undone at the end) and, for a
    /// stock image that carries a bootloader, flashing a stripped copy written beside it.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to wait for the router to speak before giving up (exit 3 if it never did).
    #[arg(long = "wait", alias = "timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// End once the transfer is confirmed, without watching the flashing.
    #[arg(long)]
    pub exit_after_transfer: bool,
    /// Show the troubleshooting checklist when the router has been silent (or the transfer
    /// stuck) this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_after: Option<u64>,
    /// Write the Markdown report here (without it: in the state folder; the path is printed).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// One JSON object per event and line, for scripts.
    #[arg(long)]
    pub json: bool,
    /// When the host firewall would drop the router's packets, let UDP from the router's
    /// subnet in on the port for the run (nftables and iptables; removed at the end).
    #[arg(long)]
    pub allow_firewall: bool,
    /// DHCP/BOOTP devices: when another DHCP server answers rescue-wizard's probe on the port,
    /// warn and go on rather than stop before the router is switched on (the router may take
    /// that server's lease and never ask rescue-wizard).
    #[arg(long)]
    pub allow_other_dhcp: bool,
    /// When the router asks for another server address than the profile's, add it to the
    /// port for the rest of the run (undone at the end).
    #[arg(long)]
    pub adopt: bool,
    /// The router's hardware address (often on its label): a static ARP entry for the run,
    /// for bootloaders that do not answer ARP.
    #[arg(long, value_name = "MAC", value_parser = parse_mac_arg)]
    pub router_mac: Option<[u8; 6]>,
    /// The TFTP port: ours when the router pulls, the router's when we push.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// NMRP (Netgear): the region written into the router when it asks, e.g. WW or NA (the
    /// profile's otherwise; without either, none is written).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Drive the bootloader's serial console on this port (docs/console.md): stop autoboot,
    /// fetch the image from our server with `tftpboot`, prove it by CRC-32, and write the
    /// flash only with the profile's recipe and a yes (asked then, or --yes). `auto`: the one USB serial adapter
    /// present. The path is required, so an image named after it is never taken for a port.
    #[arg(long, value_name = "PATH")]
    pub serial: Option<PathBuf>,
    /// The serial console's baud rate (the profile's otherwise, else 115200).
    #[arg(long, value_name = "N", requires = "serial")]
    pub baud: Option<u32>,
    /// Over the serial console, boot the proven image from RAM (an initramfs, with the
    /// profile's `console: ram-boot:` command) instead of writing the flash: nothing is erased
    /// or written.
    #[arg(long, requires = "serial")]
    pub ram_boot: bool,
}

/// `rescue-wizard demo`: on a terminal, the full-screen wizard against the simulated
/// bootloader; otherwise (or with `--json` or `--plain`) the run's events as lines.
#[derive(Debug, Args)]
#[command(mut_arg("flash_seconds", |arg| shows_default(arg, DEMO_FLASH.as_secs())))]
pub struct DemoArgs {
    /// One JSON object per event and line.
    #[arg(long)]
    pub json: bool,
    /// Lines of plain text even on a terminal (no full-screen wizard).
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,
    /// How long the simulated router takes to write its flash.
    #[arg(long, value_name = "SECONDS")]
    pub flash_seconds: Option<u64>,
    /// Write the Markdown report here and keep it (without it: the full-screen demo writes
    /// it in its own temporary folder, shown on its last screen and removed when it ends;
    /// `--plain` and `--json` write none; the reports folder of real runs is never used).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole recovery against a simulated bootloader on loopback: no router, no
    /// privileges, no changes to this computer.
    ///
    /// A simulated TL-WR841N v9 bootloader fetches a generated image over loopback. On a
    /// terminal this is the full-screen wizard, screen by screen to the flashed router;
    /// without a terminal, or with `--plain` or `--json`, the run's events as lines. No
    /// report is kept unless `--report FILE` says where.
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
    /// Print rescue-wizard's version.
    Version,
    /// Print a shell completion script: `rescue-wizard completions bash > /etc/bash_completion.d/rescue-wizard`.
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
    /// Print the manual page (roff): `rescue-wizard man | man -l -`.
    Man,
}

/// The shells `rescue-wizard completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Every exit status rescue-wizard ends with, and what it means: the one table `--help`,
/// README.md and the tests share.
pub const EXIT_CODES: [(u8, &str); 5] = [
    (0, "done: everything asked for was done"),
    (
        1,
        "the transfer failed, `doctor` found something you must fix, or the address `probe` asked did not answer",
    ),
    (
        2,
        "bad usage or input: nothing was attempted (the message says what to fix)",
    ),
    (3, "the recovery run waited and the router never spoke"),
    (
        130,
        "stopped by the technician (Ctrl-C, SIGTERM, or the terminal closed: SIGHUP); the network was restored",
    ),
];

/// Writes the completion script for `shell`, generated from these definitions.
pub fn write_completions(shell: Shell, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

/// Writes the manual page (roff), generated from these definitions: the command, one
/// section per sub-command (and theirs), and the exit statuses.
pub fn write_man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let command = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man_sub_commands(&command, command.get_name(), &mut page)?;
    page.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_CODES {
        // A leading dot or quote would be read as a roff request.
        let meaning = meaning.replace('\\', "\\\\").replace('-', "\\-");
        page.extend_from_slice(format!(".TP\n{code}\n{meaning}\n").as_bytes());
    }
    man.render_version_section(&mut page)?;
    out.write_all(&page)
}

/// One section per sub-command of `parent`, named by its full command line
/// (`RESCUE-WIZARD DEVICES SHOW`), then its own sub-commands.
fn man_sub_commands(
    parent: &clap::Command,
    prefix: &str,
    page: &mut Vec<u8>,
) -> std::io::Result<()> {
    for sub in parent.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{prefix} {}", sub.get_name());
        page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let man = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
        man.render_synopsis_section(page)?;
        man.render_description_section(page)?;
        man.render_options_section(page)?;
        man_sub_commands(sub, &name, page)?;
    }
    Ok(())
}

fn exit_code_help() -> String {
    EXIT_CODES
        .iter()
        .fold(String::from("Exit status:\n"), |text, (code, meaning)| {
            text + &format!("  {code}  {meaning}\n")
        })
}

/// `rescue-wizard probe`.
#[derive(Debug, Args)]
#[command(mut_arg("count", |arg| shows_default(arg, PROBE_COUNT)))]
pub struct ProbeArgs {
    /// The address to probe.
    pub address: std::net::Ipv4Addr,
    /// The port to probe out of.
    #[arg(long, value_name = "INTERFACE")]
    pub interface: String,
    /// Send ARP requests (needs `cap_net_raw`).
    #[arg(long)]
    pub arp: bool,
    /// Send ICMP echo requests (ping).
    #[arg(long)]
    pub ping: bool,
    /// Requests of each kind, one a second, each waiting up to a second for its answer.
    #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u16).range(1..))]
    pub count: Option<u16>,
}

/// `rescue-wizard watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The port to watch.
    #[arg(long, value_name = "INTERFACE")]
    pub interface: String,
    /// Stop after this long (without it: watch until Ctrl-C).
    #[arg(long = "duration", alias = "seconds", value_name = "SECONDS")]
    pub seconds: Option<u64>,
    /// One JSON object per line instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// Compare what the router does with this device's procedure (addresses, file names).
    #[arg(long, value_name = "DEVICE")]
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
#[command(mut_arg("bind", |arg| shows_default(arg, SERVE_BIND)))]
#[command(mut_arg("port", |arg| shows_default(arg, TFTP_PORT)))]
#[command(mut_arg("max_write_size", |arg| shows_default(arg, MAX_WRITE_SIZE)))]
#[command(mut_arg("write_quota", |arg| shows_default(arg, size_text(WRITE_QUOTA))))]
#[command(mut_arg("exit_after", |arg| shows_default(arg, SERVE_EXIT_AFTER)))]
pub struct ServeArgs {
    /// The image to serve, or a folder whose files are served read-only.
    #[arg(value_name = "IMAGE_OR_FOLDER")]
    pub path: PathBuf,
    /// Address to listen on (0.0.0.0: every address of this host).
    #[arg(long, value_name = "ADDRESS")]
    pub bind: Option<IpAddr>,
    /// UDP port to listen on; 0 picks a free one (printed at start).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Serve the image whatever file name the device asks for (the name is reported).
    #[arg(long)]
    pub any_name: bool,
    /// Ignore all TFTP options (plain RFC 1350) for bootloaders that misbehave on an OACK.
    #[arg(long)]
    pub no_options: bool,
    /// Largest block size granted (8..=65464; without it: what keeps Ethernet frames
    /// unfragmented).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub max_blksize: Option<u16>,
    /// Largest window size granted (RFC 7440).
    #[arg(long, value_name = "BLOCKS", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_windowsize: Option<u16>,
    /// Send the next block along with each resend: repairs a lost ACK at once. Only for
    /// bootloaders that ignore a block ahead of the one they expect, like mainline U-Boot;
    /// U-Boot 1.1.x (TP-Link) would keep a hole (see docs/tftp.md). Without this option the
    /// server finds out from each bootloader's own answers whether it is safe.
    #[arg(long)]
    pub next_block: bool,
    /// Never send the next block along with a resend, whatever the bootloader's answers show
    /// (the classic behaviour; slower on a lossy link).
    #[arg(long, conflicts_with = "next_block")]
    pub no_next_block: bool,
    /// Accept uploads (write requests) into this folder: new files only, never overwritten.
    #[arg(long, value_name = "FOLDER")]
    pub allow_write: Option<PathBuf>,
    /// Largest upload accepted.
    #[arg(long, value_name = "BYTES")]
    pub max_write_size: Option<u64>,
    /// Most bytes all uploads of this run may store together (bytes, or with KiB, MiB or
    /// GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub write_quota: Option<u64>,
    /// Stop after this many transfers have finished (0: run until Ctrl-C).
    #[arg(long, value_name = "COUNT")]
    pub exit_after: Option<u32>,
    /// Give this computer the address the device's bootloader expects (from its profile)
    /// for as long as the server runs.
    #[arg(long, value_name = "DEVICE", group = "profile_source")]
    pub device: Option<String>,
    /// Use this profile file for this run (with --device: one of several ids it may
    /// replace; alone: the device it describes).
    #[arg(long, value_name = "FILE", group = "profile_source")]
    pub profile: Option<PathBuf>,
    /// The port the router is plugged into (without it: the wired port with a link).
    #[arg(long, value_name = "INTERFACE", requires = "port_user")]
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
    crate::net::iface::parse_mac(text).ok_or_else(|| {
        format!("\"{text}\" is not a hardware address; write it like ba:be:fa:ce:08:41")
    })
}

/// `rescue-wizard doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check against this device's procedure (`rescue-wizard devices` lists them).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Use this profile file for this run.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The port the router is plugged into (without it: the wired port with a link).
    #[arg(long, value_name = "INTERFACE")]
    pub interface: Option<String>,
}

/// `rescue-wizard push`.
#[derive(Debug, Args)]
#[command(mut_arg("port", |arg| shows_default(arg, TFTP_PORT)))]
#[command(mut_arg("wait", |arg| shows_default(arg, PUSH_WAIT.as_secs())))]
pub struct PushArgs {
    /// The image to push.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// The bootloader's address.
    #[arg(long, value_name = "ADDRESS")]
    pub to: IpAddr,
    /// The bootloader's TFTP port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// File name sent in the write request (without it: the image's file name).
    #[arg(long, value_name = "NAME")]
    pub remote_name: Option<String>,
    /// Ask for this block size (without it: no options, 512-byte blocks, what bootloaders
    /// expect).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub blksize: Option<u16>,
    /// Ask for this window size (RFC 7440).
    #[arg(long, value_name = "BLOCKS", value_parser = clap::value_parser!(u16).range(1..))]
    pub windowsize: Option<u16>,
    /// How long to wait for the bootloader to answer, asking again and again (start before
    /// the router is up).
    #[arg(long, alias = "timeout", value_name = "SECONDS")]
    pub wait: Option<u64>,
}

/// `rescue-wizard get`.
#[derive(Debug, Args)]
#[command(mut_arg("port", |arg| shows_default(arg, TFTP_PORT)))]
#[command(mut_arg("wait", |arg| shows_default(arg, GET_WAIT.as_secs())))]
#[command(mut_arg("max_size", |arg| shows_default(arg, size_text(GET_MAX_SIZE))))]
pub struct GetArgs {
    /// The server's address.
    #[arg(value_name = "ADDRESS")]
    pub host: IpAddr,
    /// The file name to ask for.
    #[arg(value_name = "NAME")]
    pub remote: String,
    /// Where to write it (without it: the remote name's last part, in the current folder).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The server's TFTP port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Ask for this block size.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub blksize: Option<u16>,
    /// Ask for this window size (RFC 7440).
    #[arg(long, value_name = "BLOCKS", value_parser = clap::value_parser!(u16).range(1..))]
    pub windowsize: Option<u16>,
    /// How long to wait for the server to answer, asking again and again.
    #[arg(long, alias = "timeout", value_name = "SECONDS")]
    pub wait: Option<u64>,
    /// Refuse a file larger than this (bytes, or with KiB, MiB or GiB), and one larger than
    /// the server announced.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub max_size: Option<u64>,
}

/// `arg`'s help with the default the settings fall back on when it is not given, shown where
/// clap shows a default of its own: after the short help (`-h`), on a paragraph of its own
/// after the long one (`--help`). The fields have no clap default (the value is layered in
/// `settings`), so the help reads the same constant the layering uses.
fn shows_default(arg: Arg, default: impl std::fmt::Display) -> Arg {
    let help = arg.get_help().map(|h| format!("{h} [default: {default}]"));
    let long = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| format!("{h}\n\n[default: {default}]"));
    let arg = match help {
        Some(help) => arg.help(help),
        None => arg,
    };
    match long {
        Some(long) => arg.long_help(long),
        None => arg,
    }
}

/// A size in bytes as `parse_size_arg` reads it: the largest binary unit that divides it.
fn size_text(bytes: u64) -> String {
    [(30, "GiB"), (20, "MiB"), (10, "KiB")]
        .iter()
        .find(|(shift, _)| bytes != 0 && bytes.trailing_zeros() >= *shift)
        .map_or_else(
            || bytes.to_string(),
            |(shift, unit)| format!("{}{unit}", bytes >> shift),
        )
}

/// A size in bytes, plain or with a binary unit: `1048576`, `1024KiB`, `256MiB`, `1GiB`.
fn parse_size_arg(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("\"{text}\" is not a size; write it in bytes or with a unit, like 256MiB or 1GiB")
    };
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    number.checked_mul(scale).ok_or_else(bad)
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
    #[arg(value_name = "WORDS")]
    pub query: Vec<String>,
}

/// The `devices` sub-commands.
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Print one device's full recovery procedure, steps numbered.
    Show {
        /// The device: its id, an alias or its model, in any case.
        #[arg(value_name = "DEVICE")]
        id: String,
    },
    /// Validate profile files: exit 0 when all are valid, 2 otherwise.
    Check {
        /// The profile files (YAML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn help_of(path: &[&str], arg: &str) -> String {
        let mut command = Cli::command();
        command.build();
        let mut at = &command;
        for name in path {
            at = at.find_subcommand(name).unwrap();
        }
        let arg = at.get_arguments().find(|a| a.get_id() == arg).unwrap();
        arg.get_help().unwrap().to_string()
    }

    #[test]
    fn an_unset_flag_is_none_so_the_profile_and_the_default_can_layer() {
        let cli = Cli::try_parse_from(["rescue-wizard", "--device", "x", "image.bin"]).unwrap();
        assert_eq!(cli.recover.timeout, None);
        assert_eq!(cli.recover.stall_after, None);
        assert_eq!(cli.recover.port, None);
        let cli = Cli::try_parse_from(["rescue-wizard", "--wait", "5", "image.bin"]).unwrap();
        assert_eq!(cli.recover.timeout, Some(5));
        let Some(Command::Get(get)) =
            Cli::try_parse_from(["rescue-wizard", "get", "10.0.0.1", "f"])
                .unwrap()
                .command
        else {
            panic!("not the get command");
        };
        assert_eq!((get.port, get.wait, get.max_size), (None, None, None));
    }

    #[test]
    fn the_help_shows_each_default_from_its_constant() {
        assert!(help_of(&[], "timeout").ends_with("[default: 600]"));
        assert!(help_of(&[], "stall_after").ends_with("[default: 60]"));
        assert!(help_of(&[], "port").ends_with("[default: 69]"));
        assert!(help_of(&["serve"], "bind").ends_with("[default: 0.0.0.0]"));
        assert!(help_of(&["serve"], "write_quota").ends_with("[default: 2GiB]"));
        assert!(help_of(&["serve"], "max_write_size").ends_with("[default: 536870912]"));
        assert!(help_of(&["push"], "wait").ends_with("[default: 60]"));
        assert!(help_of(&["get"], "wait").ends_with("[default: 10]"));
        assert!(help_of(&["get"], "max_size").ends_with("[default: 256MiB]"));
        assert!(help_of(&["probe"], "count").ends_with("[default: 3]"));
        assert!(help_of(&["demo"], "flash_seconds").ends_with("[default: 8]"));
        // `--help` gives the default a paragraph of its own, as clap does.
        let mut command = Cli::command();
        command.build();
        let wait = command
            .get_arguments()
            .find(|a| a.get_id() == "timeout")
            .unwrap();
        let long = wait.get_long_help().unwrap().to_string();
        assert!(long.ends_with("never did)\n\n[default: 600]"), "{long}");
    }

    #[test]
    fn a_size_is_shown_in_the_largest_unit_that_divides_it() {
        assert_eq!(size_text(2 << 30), "2GiB");
        assert_eq!(size_text(256 << 20), "256MiB");
        assert_eq!(size_text(1536), "1536");
        assert_eq!(size_text(3 << 10), "3KiB");
        assert_eq!(size_text(0), "0");
    }
}
