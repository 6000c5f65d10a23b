//! `rescue-wizard doctor`: the host checklist for a device, printed.

use super::find_profile;
use crate::cli::DoctorArgs;
use crate::net::check::{self, HostFacts, HostNeeds};
use crate::net::iface::Ipv4Cidr;
use crate::profile::{Method, Profile};
use crate::ui::checklist;
use crate::{Outcome, UsageError};

fn expectation(profile: Option<&Profile>) -> HostNeeds {
    match profile {
        Some(p) => HostNeeds {
            host: p.host.map(|h| Ipv4Cidr::new(h.address, h.prefix)),
            router: p.router,
            listens: p.method == Method::TftpServer,
        },
        None => HostNeeds {
            listens: true,
            ..HostNeeds::default()
        },
    }
}

pub(super) fn doctor(args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let profile = find_profile(args.device.as_deref(), args.profile.as_deref())?;
    let facts = HostFacts::gather();
    let iface =
        check::choose(&facts.interfaces, args.interface.as_deref()).map_err(UsageError::new)?;
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
        .any(|i| i.fixer == check::Fixer::You && i.check.verdict == check::CheckOutcome::Fail);
    Ok(if yours {
        Outcome::ChecksFailed
    } else {
        Outcome::Done
    })
}
