//! `rescue-wizard serve`: the TFTP server for a bootloader that pulls its image, with the
//! address the profile expects, the firewall opened when asked, and DHCP/BOOTP when asked.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::sync::{mpsc, watch};

use super::prompt::consent;
use super::{StopSignals, find_profile};
use crate::cli::ServeArgs;
use crate::dhcp;
use crate::net::addr::{HostEvent, HostSetup, NetworkChanges};
use crate::net::check::{self, HostFacts};
use crate::net::firewall;
use crate::net::iface::Ipv4Cidr;
use crate::net::journal::state_dir;
use crate::profile::{Method, Profile};
use crate::settings::{self, MAX_WRITE_SIZE, SERVE_BIND, SERVE_EXIT_AFTER, TFTP_PORT, WRITE_QUOTA};
use crate::tftp::event::TransferEvent;
use crate::tftp::options::{DEFAULT_MAX_BLKSIZE, DEFAULT_MAX_WINDOWSIZE, OptionPolicy};
use crate::tftp::server::{Server, ServerConfig, Source, WritePolicy};
use crate::tftp::session::NextBlock;
use crate::ui::checklist;
use crate::ui::progress::TransferView;
use crate::{Outcome, UsageError};

/// Gives this computer the address `profile` expects on the chosen port, and opens the
/// firewall for the router when asked to and needed.
fn set_up_host(
    profile: &Profile,
    args: &ServeArgs,
    events: mpsc::UnboundedSender<HostEvent>,
) -> Result<Option<HostSetup>, UsageError> {
    let Some(host) = profile.host else {
        return Err(UsageError::new(format!(
            "the profile {} names no laptop address; give the port an address by hand",
            profile.id
        )));
    };
    let host = Ipv4Cidr::new(host.address, host.prefix);
    let facts = HostFacts::gather();
    let iface =
        check::choose(&facts.interfaces, args.interface.as_deref()).map_err(UsageError::new)?;
    let mut changes = NetworkChanges::for_interface(iface, host);
    if let Some(mac) = args.router_mac {
        let router = profile.router.ok_or_else(|| {
            UsageError::new(format!(
                "the profile {} names no router address for --router-mac",
                profile.id
            ))
        })?;
        changes.static_arp = Some((router, mac));
    }
    let subnet =
        firewall::Subnet::new(host.network(), host.prefix).map_err(UsageError::from_source)?;
    let blocked = args.allow_firewall && {
        let findings = firewall::inspect(subnet, &iface.name);
        findings.iter().any(|f| {
            f.traffic == firewall::Traffic::Requests
                && matches!(
                    f.verdict,
                    firewall::DropVerdict::Blocks | firewall::DropVerdict::Likely
                )
        })
    };
    if changes.is_empty() && !blocked {
        return Ok(None);
    }
    let mut lines = changes.describe();
    if blocked {
        lines.push(format!("let UDP from {subnet} in on {} through the firewall (removed again when rescue-wizard ends)", iface.name));
    }
    consent(&lines, args.yes)?;
    let mut setup =
        HostSetup::apply(&changes, &state_dir(), events).map_err(UsageError::from_source)?;
    if blocked {
        for step in setup
            .open_firewall(subnet, &iface.name)
            .map_err(UsageError::from_source)?
        {
            eprintln!(
                "this firewall is not changed by rescue-wizard; to let the router in, run: {step}"
            );
        }
    }
    Ok(Some(setup))
}

/// `rescue-wizard serve`: until Ctrl-C, or `--exit-after` transfers have ended.
pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let (host_tx, mut host_events) = mpsc::unbounded_channel();
    let profile = find_profile(args.device.as_deref(), args.profile.as_deref())?;
    let config = server_config(&args, profile.as_ref());
    // A DHCP/BOOTP bootloader pulls the image too: serve (with --dhcp) answers it.
    if let Some(profile) = &profile
        && !matches!(
            profile.method,
            Method::TftpServer | Method::DhcpTftp | Method::BootpTftp
        )
    {
        return Err(UsageError::new(format!(
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
    let given_bind = settings::layer(args.bind, None, SERVE_BIND);
    let bind = match &dhcp {
        Some((_, ours)) if given_bind.is_unspecified() => IpAddr::V4(*ours),
        _ => given_bind,
    };
    let port = settings::layer(args.port, None, TFTP_PORT);
    let exit_after = settings::layer(args.exit_after, None, SERVE_EXIT_AFTER);
    let server =
        Server::bind(SocketAddr::new(bind, port), config).map_err(UsageError::from_source)?;
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
                if exit_after > 0 && ended >= exit_after
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
    Ok(if view.failed > 0 && exit_after > 0 {
        Outcome::TransferFailed
    } else {
        Outcome::Done
    })
}

/// The server's settings: what it serves, its option limits and write policy, the profile's
/// TFTP quirks, and the next-block flags over them.
fn server_config(args: &ServeArgs, profile: Option<&Profile>) -> ServerConfig {
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
        max_size: settings::layer(args.max_write_size, None, MAX_WRITE_SIZE),
        quota: settings::layer(args.write_quota, None, WRITE_QUOTA),
    });
    if let Some(profile) = profile {
        // The profile's `next-block-on-resend: false` is an override: not even learned from
        // the bootloader (apply_tftp_policy sets NextBlock::Never).
        crate::engine::plan::apply_tftp_policy(&mut config, &profile.tftp);
    }
    if args.next_block {
        NextBlock::Always.apply(&mut config.timing);
    }
    if args.no_next_block {
        NextBlock::Never.apply(&mut config.timing);
    }
    config
}

/// The DHCP/BOOTP responder `serve --dhcp` asks for, bound to its interface, and our address
/// on it (the server the leases name).
fn dhcp_responder(
    args: &ServeArgs,
    profile: Option<&Profile>,
) -> Result<(dhcp::server::DhcpServer, Ipv4Addr), UsageError> {
    let interface = args.interface.as_deref().unwrap_or_default();
    let bind = match settings::layer(args.bind, None, SERVE_BIND) {
        IpAddr::V4(address) if !address.is_unspecified() => Some(address),
        IpAddr::V4(_) => None,
        IpAddr::V6(address) => {
            return Err(UsageError::new(format!(
                "--bind {address} is IPv6; DHCP and BOOTP leases are IPv4.\n  fix: --bind an IPv4 address of {interface}, or leave --bind out"
            )));
        }
    };
    // With a profile, the laptop address it names (added above) is the one to lease from.
    let bind = bind.or_else(|| profile.and_then(|p| p.host).map(|host| host.address));
    let ours = dhcp::server::our_address(&crate::net::iface::list(), interface, bind)
        .map_err(UsageError::new)?;
    // A DHCP/BOOTP profile's `dhcp:` block (pool, boot file, images by vendor class, who is
    // answered) as the run reads it; the command line's flags over it.
    let from_profile = match profile {
        Some(p) if matches!(p.method, Method::DhcpTftp | Method::BootpTftp) => Some(
            crate::engine::plan::lease(p, ours, &args.path, crate::engine::plan::OtherDhcp::Stop)
                .map_err(UsageError::from_source)?,
        ),
        _ => None,
    };
    let pool = settings::layer(
        (!args.router_address.is_empty()).then(|| args.router_address.clone()),
        from_profile.as_ref().map(|l| l.pool.clone()),
        profile.and_then(|p| p.router).into_iter().collect(),
    );
    if pool.is_empty() {
        return Err(UsageError::new(
            "--dhcp needs the address to lease to the router.\n  fix: add --router-address, for example --router-address 192.168.1.100 when this computer is 192.168.1.1".to_owned(),
        ));
    }
    let given_boot_file = args
        .boot_file
        .clone()
        .or_else(|| from_profile.as_ref().map(|l| l.boot_file.clone()));
    let boot_file = match (&given_boot_file, args.path.file_name()) {
        (Some(name), _) => name.clone(),
        (None, Some(name)) if !args.path.is_dir() => name.to_string_lossy().into_owned(),
        (None, _) => {
            return Err(UsageError::new(format!(
                "--dhcp serving the folder {} needs the boot file to name.\n  fix: add --boot-file with the name of a file in it",
                args.path.display()
            )));
        }
    };
    let mut config =
        dhcp::lease::LeaseConfig::new(ours, pool, boot_file).map_err(UsageError::from_source)?;
    if let Some(lease) = &from_profile {
        config.boot_choices.clone_from(&lease.boot_choices);
        config.answer = lease.answer.clone();
    }
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
        dhcp::server::DhcpServer::bind(interface, config).map_err(UsageError::from_source)?;
    println!("{intro}");
    if let Some(why) = responder.watch_error() {
        eprintln!("{why}");
    }
    Ok((responder, ours.addr))
}
