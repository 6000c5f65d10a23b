//! The DHCP/BOOTP method's part of the plan: the lease the responder hands out, and the
//! transfer that serves the boot file it names.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::{Lease, OtherDhcp, PlanError, Port, Transfer};
use crate::net::iface::Ipv4Cidr;
use crate::profile::{Method, Profile};

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
    other_servers: OtherDhcp,
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
    let boot_file = crate::settings::image_name(
        dhcp.boot_file.as_deref().or(profile.filename.as_deref()),
        image,
    );
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
        protocol: if profile.method == Method::BootpTftp {
            crate::dhcp::lease::Protocol::Bootp
        } else {
            crate::dhcp::lease::Protocol::Dhcp
        },
        other_servers,
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
pub(super) fn with_lease(serve: Transfer, lease: Lease) -> Transfer {
    match serve {
        Transfer::Serve {
            bind,
            expected,
            options,
            rollover,
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
            rollover,
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
    pub(super) fn describe(&self, host: Option<Ipv4Cidr>, port: Option<&Port>) -> String {
        let protocol = self.protocol.name();
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
            match self.other_servers {
                OtherDhcp::Warn => "warn if one does (--allow-other-dhcp)",
                OtherDhcp::Stop => "stop if one does",
            }
        )
    }
}
