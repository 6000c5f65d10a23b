//! What each sub-command does: turn parsed arguments into library calls and a front-end.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::cli::{Cli, Command, DoctorArgs, GetArgs, ProbeArgs, PushArgs, ServeArgs, WatchArgs};
use crate::dhcp;
use crate::net::addr::{HostEvent, HostSetup, Plan, clean_leftovers};
use crate::net::check::{self, Expectation, HostFacts};
use crate::net::firewall;
use crate::net::iface::Ipv4Cidr;
use crate::net::journal::state_dir;
use crate::profile::{Catalogue, Method, Profile};
use crate::tftp::client::{self, ClientConfig, ClientError};
use crate::tftp::event::TransferEvent;
use crate::tftp::options::{
    ClientOptions, DEFAULT_MAX_BLKSIZE, DEFAULT_MAX_WINDOWSIZE, OptionPolicy,
};
use crate::tftp::server::{Server, ServerConfig, Source, WritePolicy};
use crate::ui::checklist;
use crate::ui::progress::TransferView;
use crate::{Outcome, UsageError};

/// Runs the chosen sub-command, after undoing what a previous run that was killed left on
/// the host.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    clean_up_after_a_dead_run();
    let Some(command) = cli.command else {
        let args = cli.recover;
        let nothing = args.image.is_none() && args.device.is_none() && args.profile.is_none();
        // Only some of device and image, on a terminal: the wizard asks for the rest rather
        // than the run refusing. A profile file is the run's alone (the wizard reads the
        // catalogue), so it still goes to the run, which says what is missing.
        let some = args.profile.is_none() && (args.image.is_none() || args.device.is_none());
        if nothing || (some && !args.json && wizard::on_a_terminal()) {
            return wizard::start(args).await;
        }
        return recover::recover(args).await;
    };
    match command {
        Command::Demo(args) if !args.json && !args.plain && wizard::on_a_terminal() => {
            wizard::demo(args).await
        }
        Command::Demo(args) => recover::demo(args).await,
        Command::Doctor(args) => doctor(&args),
        Command::Serve(args) => serve(args).await,
        Command::Push(args) => push(args).await,
        Command::Get(args) => get(args).await,
        Command::Devices(args) => crate::profile::command::run(&args),
        Command::Watch(args) => watch_wire(args).await,
        Command::Probe(args) => probe(args).await,
        Command::Version => {
            println!("rescue-wizard {}", env!("CARGO_PKG_VERSION"));
            Ok(Outcome::Done)
        }
        Command::Completions { shell } => {
            crate::cli::write_completions(shell, &mut std::io::stdout().lock())?;
            Ok(Outcome::Done)
        }
        Command::Man => {
            crate::cli::write_man_page(&mut std::io::stdout().lock())?;
            Ok(Outcome::Done)
        }
    }
}

mod recover;
mod wizard;

/// The user's request to stop: Ctrl-C, or SIGTERM or SIGHUP on Unix. The handlers are installed when
/// this is made, so make it before announcing readiness.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    /// The terminal closed: stop and restore as for SIGTERM, or the rescue address and the
    /// journal would stay behind.
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(crate) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves when a stop is asked for.
    pub(crate) async fn requested(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A run that was killed (SIGKILL, a crash, power loss) left changes in its journal: undo
/// them before anything else, and say so.
fn clean_up_after_a_dead_run() {
    let dir = state_dir();
    match clean_leftovers(&dir) {
        Ok(cleaned) if !cleaned.is_empty() => {
            eprintln!("cleaned up after a previous run that did not finish:");
            for change in cleaned {
                eprintln!("  undone: {change}");
            }
        }
        Ok(_) => {}
        Err(err) => eprintln!(
            "warning: a previous run left changes that could not all be undone: {err}\n  fix: run again with sudo, or undo them by hand (journal: {})",
            crate::net::journal::Journal::path_in(&dir).display()
        ),
    }
}

/// The profile a run works with: `--device ID` from the catalogue (built in, the user's
/// folder, and `--profile FILE` for this run), or the device `--profile FILE` describes.
/// `ID` may be an id, an alias or a model name in any case ([`Catalogue::lookup`]); unknown
/// names get the nearest ids suggested.
pub(crate) fn find_profile(
    id: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<Profile>, UsageError> {
    if id.is_none() && file.is_none() {
        return Ok(None);
    }
    let (mut catalogue, _problems) =
        Catalogue::load_default().map_err(|e| UsageError(e.to_string()))?;
    let from_file = match file {
        Some(path) => Some(
            catalogue
                .add_profile_file(path)
                .map_err(|e| UsageError(e.to_string()))?
                .profile
                .clone(),
        ),
        None => None,
    };
    match id {
        Some(id) => catalogue
            .lookup(id)
            .map(|entry| Some(entry.profile.clone()))
            .map_err(|e| UsageError(e.to_string())),
        None => Ok(from_file),
    }
}

fn expectation(profile: Option<&Profile>) -> Expectation {
    match profile {
        Some(p) => Expectation {
            host: p.host.map(|h| Ipv4Cidr::new(h.address, h.prefix)),
            router: p.router,
            listens: p.method == Method::TftpServer,
        },
        None => Expectation {
            listens: true,
            ..Expectation::default()
        },
    }
}

fn doctor(args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let profile = find_profile(args.device.as_deref(), args.profile.as_deref())?;
    let facts = HostFacts::gather();
    let iface = check::choose(&facts.interfaces, args.interface.as_deref()).map_err(UsageError)?;
    let expect = expectation(profile.as_ref());
    let items = check::assess(&facts, iface, &expect, true);
    let title = match &profile {
        Some(p) => format!(
            "{} ({} {}), interface {}",
            p.id, p.vendor, p.model, iface.name
        ),
        None => format!("interface {}", iface.name),
    };
    print!(
        "{}",
        checklist::render_doctor(&title, &check::ports_seen(&facts.interfaces), &items)
    );
    // Only what the technician must fix fails the check: the run sets up the rest itself.
    let yours = items
        .iter()
        .any(|i| i.fixer == check::Fixer::You && i.check.verdict == check::Verdict::Fail);
    Ok(if yours {
        Outcome::ChecksFailed
    } else {
        Outcome::Done
    })
}

/// Asks the technician to approve network changes, unless `--yes` was given.
fn consent(changes: &[String], yes: bool) -> Result<(), UsageError> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    let lines = changes.join("\n  ");
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "rescue-wizard needs to change the network:\n  {lines}\n  fix: add --yes to allow it (everything is undone when rescue-wizard ends)"
        )));
    }
    if ask(&format!("rescue-wizard will:\n  {lines}\nGo ahead? [y/N] ")) {
        Ok(())
    } else {
        Err(UsageError("nothing was changed".into()))
    }
}

/// Asks a yes/no question on the terminal; no terminal (or no answer) means no.
pub(crate) fn ask(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Gives this computer the address `profile` expects on the chosen port, and opens the
/// firewall for the router when asked to and needed.
fn set_up_host(
    profile: &Profile,
    args: &ServeArgs,
    events: mpsc::UnboundedSender<HostEvent>,
) -> Result<Option<HostSetup>, UsageError> {
    let Some(host) = profile.host else {
        return Err(UsageError(format!(
            "the profile {} names no laptop address; give the port an address by hand",
            profile.id
        )));
    };
    let host = Ipv4Cidr::new(host.address, host.prefix);
    let facts = HostFacts::gather();
    let iface = check::choose(&facts.interfaces, args.interface.as_deref()).map_err(UsageError)?;
    let mut plan = Plan::for_interface(iface, host);
    if let Some(mac) = args.router_mac {
        let router = profile.router.ok_or_else(|| {
            UsageError(format!(
                "the profile {} names no router address for --router-mac",
                profile.id
            ))
        })?;
        plan.static_arp = Some((router, mac));
    }
    let subnet = firewall::Subnet::new(host.network(), host.prefix)
        .map_err(|e| UsageError(e.to_string()))?;
    let blocked = args.allow_firewall && {
        let findings = firewall::inspect(subnet, &iface.name);
        findings.iter().any(|f| {
            f.traffic == firewall::Traffic::Requests
                && matches!(
                    f.verdict,
                    firewall::Verdict::Blocks | firewall::Verdict::Likely
                )
        })
    };
    if plan.is_empty() && !blocked {
        return Ok(None);
    }
    let mut lines = plan.describe();
    if blocked {
        lines.push(format!("let UDP from {subnet} in on {} through the firewall (removed again when rescue-wizard ends)", iface.name));
    }
    consent(&lines, args.yes)?;
    let mut setup =
        HostSetup::apply(&plan, &state_dir(), events).map_err(|e| UsageError(e.to_string()))?;
    if blocked {
        for step in setup
            .open_firewall(subnet, &iface.name)
            .map_err(|e| UsageError(e.to_string()))?
        {
            eprintln!(
                "this firewall is not changed by rescue-wizard; to let the router in, run: {step}"
            );
        }
    }
    Ok(Some(setup))
}

async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let source = if args.path.is_dir() {
        Source::Directory(args.path.clone())
    } else {
        Source::Image {
            path: args.path.clone(),
            any_name: args.any_name,
        }
    };
    let mut config = ServerConfig::new(source);
    config.options = OptionPolicy {
        enabled: !args.no_options,
        max_blksize: args.max_blksize.unwrap_or(DEFAULT_MAX_BLKSIZE),
        max_windowsize: args.max_windowsize.unwrap_or(DEFAULT_MAX_WINDOWSIZE),
        strict: false,
    };
    config.write = args.allow_write.clone().map(|dir| WritePolicy {
        dir,
        max_size: args.max_write_size,
        quota: args.write_quota,
    });
    let (host_tx, mut host_events) = mpsc::unbounded_channel();
    let profile = find_profile(args.device.as_deref(), args.profile.as_deref())?;
    if let Some(profile) = &profile {
        crate::engine::plan::apply_tftp_policy(&mut config, &profile.tftp);
    }
    if let Some(profile) = &profile
        && profile.tftp.next_block_on_resend == Some(false)
    {
        // The profile's `false` is an override: not even learned from the bootloader.
        config.timing.learn_next_block = false;
    }
    if args.next_block {
        config.timing.resend_next_block = true;
    }
    if args.no_next_block {
        config.timing.resend_next_block = false;
        config.timing.learn_next_block = false;
    }
    if let Some(profile) = &profile
        && profile.method != Method::TftpServer
    {
        return Err(UsageError(format!(
                "{} recovers by {}: its bootloader does not pull the image.\n  fix: see `rescue-wizard devices show {}`",
                profile.id,
                profile.method.describe(),
                profile.id
            ))
            .into());
    }
    // Held for as long as the server runs; undone when it ends, on every path out of here.
    let setup = match &profile {
        Some(profile) => set_up_host(profile, &args, host_tx)?,
        None => None,
    };
    while let Ok(event) = host_events.try_recv() {
        checklist::show_host_event(&event);
    }
    let dhcp = if args.dhcp {
        Some(dhcp_responder(&args, profile.as_ref())?)
    } else {
        None
    };
    // With --dhcp, TFTP listens on the address the leases name as the server, not on every one.
    let bind = match &dhcp {
        Some((_, ours)) if args.bind.is_unspecified() => IpAddr::V4(*ours),
        _ => args.bind,
    };
    let server = Server::bind(SocketAddr::new(bind, args.port), config)
        .map_err(|e| UsageError(e.to_string()))?;
    let mut signals = StopSignals::install()?;
    println!("listening on {}", server.local_addr());
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown) = watch::channel(false);
    let (dhcp_tx, mut dhcp_events) = mpsc::unbounded_channel();
    let dhcp_running =
        dhcp.map(|(responder, _)| tokio::spawn(responder.run(dhcp_tx.clone(), shutdown.clone())));
    let running = tokio::spawn(server.run(events_tx, shutdown));
    let mut view = TransferView::new();
    loop {
        tokio::select! {
            () = signals.requested() => break,
            Some(event) = host_events.recv() => checklist::show_host_event(&event),
            Some(event) = dhcp_events.recv() => println!("{event}"),
            event = events.recv() => {
                let Some(event) = event else { break };
                view.show(&event);
                let ended = view.finished + view.failed;
                if args.exit_after > 0 && ended >= args.exit_after
                    && matches!(event, TransferEvent::Finished { .. } | TransferEvent::Failed { .. }) {
                    break;
                }
            }
        }
    }
    let _ = shutdown_tx.send(true);
    drop(dhcp_tx);
    running.await??;
    if let Some(dhcp_running) = dhcp_running {
        dhcp_running.await??;
    }
    if let Some(setup) = setup {
        let failures = setup.undo();
        while let Ok(event) = host_events.try_recv() {
            checklist::show_host_event(&event);
        }
        if !failures.is_empty() {
            anyhow::bail!(
                "some network changes could not be undone; the next start of rescue-wizard retries (journal in {})",
                state_dir().display()
            );
        }
    }
    Ok(if view.failed > 0 && args.exit_after > 0 {
        Outcome::TransferFailed
    } else {
        Outcome::Done
    })
}

/// The DHCP/BOOTP responder `serve --dhcp` asks for, bound to its interface, and our address
/// on it (the server the leases name).
fn dhcp_responder(
    args: &ServeArgs,
    profile: Option<&Profile>,
) -> Result<(dhcp::server::DhcpServer, Ipv4Addr), UsageError> {
    let interface = args.interface.as_deref().unwrap_or_default();
    let bind = match args.bind {
        IpAddr::V4(address) if !address.is_unspecified() => Some(address),
        IpAddr::V4(_) => None,
        IpAddr::V6(address) => {
            return Err(UsageError(format!(
                "--bind {address} is IPv6; DHCP and BOOTP leases are IPv4.\n  fix: --bind an IPv4 address of {interface}, or leave --bind out"
            )));
        }
    };
    // With a profile, the laptop address it names (added above) is the one to lease from.
    let bind = bind.or_else(|| profile.and_then(|p| p.host).map(|host| host.address));
    let ours = dhcp::server::our_address(&crate::net::iface::list(), interface, bind)
        .map_err(UsageError)?;
    let pool = if args.router_address.is_empty() {
        profile.and_then(|p| p.router).into_iter().collect()
    } else {
        args.router_address.clone()
    };
    if pool.is_empty() {
        return Err(UsageError(
            "--dhcp needs the address to lease to the router.\n  fix: add --router-address, for example --router-address 192.168.1.100 when this computer is 192.168.1.1".to_owned(),
        ));
    }
    let boot_file = match (&args.boot_file, args.path.file_name()) {
        (Some(name), _) => name.clone(),
        (None, Some(name)) if !args.path.is_dir() => name.to_string_lossy().into_owned(),
        (None, _) => {
            return Err(UsageError(format!(
                "--dhcp serving the folder {} needs the boot file to name.\n  fix: add --boot-file with the name of a file in it",
                args.path.display()
            )));
        }
    };
    let mut config = dhcp::lease::LeaseConfig::new(ours, pool, boot_file)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(mac) = args.only_mac {
        config.answer = dhcp::lease::Answer::Mac(crate::net::wire::Mac(mac));
    } else if let Some(class) = &args.only_vendor_class {
        config.answer = dhcp::lease::Answer::VendorClass(class.clone());
    }
    let leased: Vec<String> = config.pool.iter().map(ToString::to_string).collect();
    let intro = format!(
        "answering DHCP and BOOTP on {interface} as {}: leasing {}, boot file {}",
        ours.addr,
        leased.join(", "),
        config.boot_file
    );
    let responder =
        dhcp::server::DhcpServer::bind(interface, config).map_err(|e| UsageError(e.to_string()))?;
    println!("{intro}");
    if let Some(why) = responder.watch_error() {
        eprintln!("{why}");
    }
    Ok((responder, ours.addr))
}

fn read_image(path: &Path) -> Result<Arc<[u8]>, UsageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes.into()),
        Err(err) => Err(UsageError(format!(
            "cannot read the image {}: {err}.\n  fix: check the path (rescue-wizard never modifies the image)",
            path.display()
        ))),
    }
}

/// Runs a client transfer with a progress view and Ctrl-C handling.
async fn run_client<F>(
    transfer: impl FnOnce(mpsc::UnboundedSender<TransferEvent>, Arc<AtomicBool>) -> F,
) -> anyhow::Result<Outcome>
where
    F: Future<Output = Result<client::Transferred, ClientError>> + Send + 'static,
{
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut task = tokio::spawn(transfer(events_tx, Arc::clone(&stop)));
    let mut view = TransferView::new();
    let mut signals = StopSignals::install()?;
    let result = loop {
        tokio::select! {
            () = signals.requested() => stop.store(true, Ordering::Relaxed),
            Some(event) = events.recv() => view.show(&event),
            result = &mut task => break result?,
        }
    };
    while let Ok(event) = events.try_recv() {
        view.show(&event);
    }
    match result {
        Ok(_) => Ok(Outcome::Done),
        Err(ClientError::Output(message)) => Err(UsageError(message).into()),
        Err(err) => Err(err.into()),
    }
}

fn client_config(blksize: Option<u16>, windowsize: Option<u16>, wait: u64) -> ClientConfig {
    ClientConfig {
        options: ClientOptions {
            blksize,
            windowsize,
            ..ClientOptions::default()
        },
        wait: Duration::from_secs(wait),
        ..ClientConfig::default()
    }
}

async fn push(args: PushArgs) -> anyhow::Result<Outcome> {
    let data = read_image(&args.image)?;
    let remote = match args.remote_name {
        Some(name) => name,
        None => args
            .image
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                UsageError("the image path has no file name; give --remote-name".into())
            })?,
    };
    let server = SocketAddr::new(args.to, args.port);
    let config = client_config(args.blksize, args.windowsize, args.wait);
    eprintln!(
        "pushing {} ({} bytes) to {server} as \"{remote}\"",
        args.image.display(),
        data.len()
    );
    run_client(move |events, stop| client::push(server, remote, data, config, events, stop)).await
}

async fn get(args: GetArgs) -> anyhow::Result<Outcome> {
    let output = if let Some(path) = args.output {
        path
    } else {
        let last = args.remote.rsplit(['/', '\\']).next().unwrap_or_default();
        if last.is_empty() || last == "." || last == ".." {
            return Err(UsageError(format!(
                "cannot name a local file after \"{}\"; give -o FILE",
                args.remote
            ))
            .into());
        }
        PathBuf::from(last)
    };
    let server = SocketAddr::new(args.host, args.port);
    let config = ClientConfig {
        max_size: args.max_size,
        ..client_config(args.blksize, args.windowsize, args.wait)
    };
    let remote = args.remote;
    run_client(move |events, stop| client::get(server, remote, output, config, events, stop)).await
}

/// `rescue-wizard watch`: one line per wire event and per finding, until Ctrl-C or
/// `--seconds` have passed.
async fn watch_wire(args: WatchArgs) -> anyhow::Result<Outcome> {
    use crate::net::observe::{DEFAULT_AWAY_AFTER, Expectation, Observer, PowerOnTiming, Remedy};
    use crate::net::watch::{self, WatchError};

    let profile = find_profile(args.device.as_deref(), None)?;
    let ours = crate::net::iface::list()
        .into_iter()
        .find(|i| i.name == args.interface)
        .map(|i| i.ipv4.iter().map(|a| a.addr).collect())
        .unwrap_or_default();
    let expect = Expectation {
        ours,
        host: profile.as_ref().and_then(|p| p.host.map(|h| h.address)),
        router: profile.as_ref().and_then(|p| p.router),
        files: profile
            .as_ref()
            .map(|p| {
                p.filename
                    .iter()
                    .chain(&p.alternate_filenames)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    };
    let timing = profile.as_ref().map_or_else(PowerOnTiming::default, |p| {
        PowerOnTiming::from_steps(&p.steps)
    });
    let mut observer = Observer::new(expect, DEFAULT_AWAY_AFTER).with_power_on(timing);
    let mut signals = StopSignals::install()?;
    let capture = match &args.capture {
        Some(path) => Some(
            crate::net::pcap::PcapWriter::create(path).map_err(|e| UsageError(e.to_string()))?,
        ),
        None => None,
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let started = watch::start_capturing(&args.interface, events_tx, Arc::clone(&stop), capture);
    if started.is_err()
        && let Some(path) = &args.capture
    {
        // Nothing was captured: leave no empty file behind.
        let _ = std::fs::remove_file(path);
    }
    let thread = match started {
        Ok(thread) => thread,
        Err(err @ (WatchError::NoSuchInterface { .. } | WatchError::NotPermitted { .. })) => {
            return Err(UsageError(err.to_string()).into());
        }
        Err(err) => return Err(err.into()),
    };
    println!("watching {}", args.interface);
    let start = std::time::SystemTime::now();
    if args.powered_on {
        observer.router_powered(start);
    }
    let show =
        |at: std::time::SystemTime, line: &dyn std::fmt::Display, json: serde_json::Value| {
            if args.json {
                let mut object = json;
                if let Some(map) = object.as_object_mut() {
                    let seconds = at
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs_f64();
                    map.insert("at".into(), seconds.into());
                }
                println!("{object}");
            } else {
                let offset = at.duration_since(start).unwrap_or_default().as_secs_f64();
                println!("{offset:8.3}  {line}");
            }
        };
    let deadline = args
        .seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let until_deadline = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let (host_tx, mut host_events) = mpsc::unbounded_channel();
    // One adoption per watch: held until the watch ends, undone on every way out.
    let mut adopted: Option<HostSetup> = None;
    let adopt_prefix = profile
        .as_ref()
        .and_then(|p| p.host)
        .map_or(24, |h| h.prefix);
    loop {
        tokio::select! {
            () = signals.requested() => break,
            () = &mut until_deadline => break,
            Some(event) = host_events.recv() => checklist::show_host_event(&event),
            _ = ticks.tick() => {
                let now = std::time::SystemTime::now();
                for finding in observer.tick(now) {
                    show(now, &format_args!("! {finding}"), serde_json::json!({ "finding": finding }));
                }
            }
            seen = events.recv() => {
                let Some(seen) = seen else { break };
                show(seen.at, &seen.event, serde_json::json!({ "wire": seen.event }));
                for finding in observer.observe(&seen) {
                    show(seen.at, &format_args!("! {finding}"), serde_json::json!({ "finding": finding }));
                    if let (true, None, Some(Remedy::AdoptAddress { addr })) = (args.adopt, &adopted, finding.remedy()) {
                        adopted = adopt(&args.interface, Ipv4Cidr::new(addr, adopt_prefix), host_tx.clone());
                    }
                }
            }
        }
    }
    if let Some(setup) = adopted {
        setup.undo();
        while let Ok(event) = host_events.try_recv() {
            checklist::show_host_event(&event);
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(events);
    let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
    if let Some(path) = &args.capture {
        println!("capture written to {}", path.display());
    }
    match joined {
        Ok(Ok(())) => Ok(Outcome::Done),
        Ok(Err(err)) => Err(anyhow::anyhow!("reading {} failed: {err}", args.interface)),
        Err(_) => Err(anyhow::anyhow!("the capture thread panicked")),
    }
}

/// Carries out the "adopt the address the router asks for" remedy on `interface`; a failure
/// is reported and the watch goes on.
fn adopt(
    interface: &str,
    cidr: Ipv4Cidr,
    events: mpsc::UnboundedSender<HostEvent>,
) -> Option<HostSetup> {
    HostSetup::adopt(interface, cidr, &state_dir(), events).unwrap_or_else(|err| {
        eprintln!("could not adopt {cidr}: {err}");
        None
    })
}

/// `rescue-wizard probe`: ARP and/or ICMP echo to one address, one line per answer.
async fn probe(args: ProbeArgs) -> anyhow::Result<Outcome> {
    use crate::net::probe::{ArpProber, Pinger, ProbeError};

    let wait = Duration::from_secs(1);
    let both = !args.arp && !args.ping;
    let target = args.address;
    let answered = tokio::task::spawn_blocking(move || -> Result<bool, ProbeError> {
        let mut all = true;
        if args.arp || both {
            let mut prober = ArpProber::open(&args.interface)?;
            let mut any = false;
            for n in 0..args.count {
                let tried = std::time::Instant::now();
                match prober.probe(target, wait)? {
                    Some(a) => {
                        any = true;
                        let ms = a.after.as_secs_f64() * 1000.0;
                        println!("arp reply from {target}: {} in {ms:.2} ms", a.mac);
                    }
                    None => println!("arp: no reply from {target} within 1 s"),
                }
                if n + 1 < args.count {
                    std::thread::sleep(wait.saturating_sub(tried.elapsed()));
                }
            }
            all &= any;
        }
        if args.ping || both {
            let mut pinger = Pinger::open(Some(&args.interface))?;
            let mut any = false;
            for seq in 1..=args.count {
                let tried = std::time::Instant::now();
                match pinger.echo(target, seq, wait)? {
                    Some(e) => {
                        any = true;
                        let ms = e.after.as_secs_f64() * 1000.0;
                        let ttl = e.ttl.map_or_else(|| "?".to_owned(), |t| t.to_string());
                        println!("echo reply from {target}: seq {seq} ttl {ttl} in {ms:.2} ms");
                    }
                    None => println!("ping: no reply from {target} (seq {seq}) within 1 s"),
                }
                if seq < args.count {
                    std::thread::sleep(wait.saturating_sub(tried.elapsed()));
                }
            }
            all &= any;
        }
        Ok(all)
    })
    .await?;
    match answered {
        // Exit 1, as a failed check: the address did not answer.
        Ok(true) => Ok(Outcome::Done),
        Ok(false) => Ok(Outcome::ChecksFailed),
        Err(
            err @ (ProbeError::NotPermitted { .. }
            | ProbeError::NoSuchInterface { .. }
            | ProbeError::NotEthernet { .. }
            | ProbeError::Unsupported),
        ) => Err(UsageError(err.to_string()).into()),
        Err(err) => Err(err.into()),
    }
}
