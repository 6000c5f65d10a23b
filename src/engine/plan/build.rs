//! The plan builder, step by step: the method, the laptop's address, the port and its network
//! changes, the transfer, the console leg, then the run's times. The values the technician,
//! the profile and the defaults each may give are layered once, by [`settings::layered`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::console::console_plan;
use super::lease::{lease, with_lease};
use super::{
    AfterTransfer, FLASH_GRACE, FirewallPolicy, FlashSource, ImageFacts, Plan, PlanError, Port,
    Settings, Transfer, apply_tftp_policy,
};
use crate::net::addr::NetworkChanges;
use crate::net::check;
use crate::net::iface::{Interface, InterfaceKind, Ipv4Cidr};
use crate::profile::{Method, Profile};
use crate::settings::{self, Given, Layer, Layered};
use crate::tftp::server::{ServerConfig, Source};
use crate::tftp::session::NextBlock;

/// Builds the plan for `profile` and `image` on this computer's `interfaces`.
///
/// # Errors
/// When the profile does not describe a run this computer can make (see [`PlanError`]).
pub fn build(
    profile: &Profile,
    image: ImageFacts,
    interfaces: &[Interface],
    settings: &Settings,
) -> Result<Plan, PlanError> {
    let values = settings::layered(&given(settings), profile);
    let (method, http_page) = method(profile, settings)?;
    let host = laptop_address(profile, method)?;
    push_target(profile, method)?;
    let (port, network) = match settings.loopback {
        Some(_) => (None, None),
        None => port_and_changes(profile, interfaces, settings, host)?,
    };
    let transfer = match http_page {
        Some(page) => Transfer::Http {
            page,
            file_name: settings::image_name(None, &image.path),
        },
        None => transfer(profile, method, &image, settings, &values, host)?,
    };
    let console = console_plan(
        profile,
        settings.serial.as_ref(),
        values.baud,
        &transfer,
        image.size,
    )?;
    let nmrp = method == Method::Nmrp;
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
        // An NMRP router writes its flash while it sends keep-alives, then closes, and never
        // restarts by itself: the session decides the end, within its own wait (30 minutes
        // after the upload or the last keep-alive); the countdown only backs it up.
        flash: if nmrp {
            crate::nmrp::session::DEFAULT_FLASH_WAIT + FLASH_GRACE
        } else {
            values.flash
        },
        flash_source: match values.flash_origin {
            Layer::Given => FlashSource::Settings,
            Layer::Profile => FlashSource::Profile,
            Layer::Default => FlashSource::Typical,
        },
        // It stays in its bootloader until switched off and on: nothing to watch for.
        after: profile.after.filter(|_| !nmrp),
        after_alternates: if nmrp {
            Vec::new()
        } else {
            profile.after_alternates.clone()
        },
        timeout: values.timeout,
        // Its keep-alives need answers and its close an acknowledgement until it is done.
        after_transfer: if nmrp {
            AfterTransfer::Watch
        } else {
            settings.after_transfer
        },
        stall_after: values.stall_after,
        // A loopback run changes nothing on the host.
        firewall: if settings.loopback.is_some() {
            FirewallPolicy::Leave
        } else {
            settings.firewall
        },
        console,
    })
}

/// What the technician gave, as the layering reads it.
fn given(settings: &Settings) -> Given<'_> {
    Given {
        timeout: settings.timeout,
        stall_after: settings.stall_after,
        port: settings.port,
        flash: settings.flash,
        region: settings.region.as_deref(),
        baud: settings.serial.as_ref().and_then(|serial| serial.baud),
    }
}

/// The method the run takes, and the upload page when it is the web failsafe; an error when
/// the profile's method is not one the run automates.
fn method(
    profile: &Profile,
    settings: &Settings,
) -> Result<(Method, Option<crate::http::Page>), PlanError> {
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
    Ok((method, http_page))
}

/// A push needs the address of the router's server.
fn push_target(profile: &Profile, method: Method) -> Result<(), PlanError> {
    if method == Method::TftpClient && profile.router.is_none() {
        return Err(PlanError::Incomplete {
            id: profile.id.clone(),
            what: "router address to push to",
            field: "router",
        });
    }
    Ok(())
}

/// The address the laptop takes on the port: the profile's; for NMRP, whose bootloader takes
/// whatever address it is given, nmrpflash's default when the profile names none.
fn laptop_address(profile: &Profile, method: Method) -> Result<Ipv4Cidr, PlanError> {
    let nmrp_host = (method == Method::Nmrp).then_some(crate::profile::Host {
        address: crate::nmrp::session::DEFAULT_HOST_IP,
        prefix: settings::HOST_PREFIX,
    });
    let host = profile
        .host
        .or(nmrp_host)
        .ok_or_else(|| PlanError::Incomplete {
            id: profile.id.clone(),
            what: "laptop address",
            field: "host",
        })?;
    Ok(Ipv4Cidr::new(host.address, host.prefix))
}

/// The port the router is plugged into (`--interface`, else the recommended one; a wired
/// one), and the changes that give it `host` (none when it has it already).
fn port_and_changes(
    profile: &Profile,
    interfaces: &[Interface],
    settings: &Settings,
    host: Ipv4Cidr,
) -> Result<(Option<Port>, Option<NetworkChanges>), PlanError> {
    let iface =
        check::choose(interfaces, settings.interface.as_deref()).map_err(PlanError::Port)?;
    let kind = match iface.kind {
        InterfaceKind::Wireless => Some("a Wi-Fi interface"),
        InterfaceKind::Loopback => Some("the loopback interface"),
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
    Ok((Some(port), (!network.is_empty()).then_some(network)))
}

/// How the image moves for `method` (every method but the web failsafe's).
fn transfer(
    profile: &Profile,
    method: Method,
    image: &ImageFacts,
    settings: &Settings,
    values: &Layered,
    host: Ipv4Cidr,
) -> Result<Transfer, PlanError> {
    match method {
        Method::Nmrp => nmrp_transfer(profile, values, host),
        Method::TftpClient => Ok(push_transfer(profile, image, settings, values)),
        Method::DhcpTftp | Method::BootpTftp => Ok(with_lease(
            serve_transfer(profile, image, settings, values, host),
            lease(profile, host, &image.path, settings.other_dhcp)?,
        )),
        _ => Ok(serve_transfer(profile, image, settings, values, host)),
    }
}

/// NMRP: the address and netmask the router is given, and the region written into it.
fn nmrp_transfer(
    profile: &Profile,
    values: &Layered,
    host: Ipv4Cidr,
) -> Result<Transfer, PlanError> {
    let region = match &values.region {
        Some(name) => Some(crate::nmrp::packet::Region::from_name(name).ok_or_else(|| {
            PlanError::UnknownRegion {
                given: name.clone(),
            }
        })?),
        None => None,
    };
    Ok(Transfer::Nmrp {
        router: profile
            .router
            .unwrap_or(crate::nmrp::session::DEFAULT_ROUTER_IP),
        netmask: Ipv4Addr::from(host.mask()),
        region,
    })
}

/// A push to the router's own server, under the name the profile gives it.
fn push_transfer(
    profile: &Profile,
    image: &ImageFacts,
    settings: &Settings,
    values: &Layered,
) -> Transfer {
    let router = profile.router.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let ip = settings.loopback.unwrap_or(IpAddr::V4(router));
    let named = profile
        .tftp
        .remote_name
        .as_deref()
        .or(profile.filename.as_deref());
    Transfer::Push {
        to: SocketAddr::new(ip, values.port),
        remote_name: settings::image_name(named, &image.path),
    }
}

/// Our server at the laptop's address (loopback in a simulated run), with the TFTP policy
/// the profile chose.
fn serve_transfer(
    profile: &Profile,
    image: &ImageFacts,
    settings: &Settings,
    values: &Layered,
    host: Ipv4Cidr,
) -> Transfer {
    let ip = settings.loopback.unwrap_or(IpAddr::V4(host.addr));
    let mut config = ServerConfig::new(Source::Image {
        path: image.path.clone(),
        any_name: true,
    });
    apply_tftp_policy(&mut config, &profile.tftp);
    Transfer::Serve {
        bind: SocketAddr::new(ip, values.port),
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
}
