//! The DHCP/BOOTP method's events: the lease given, and the other servers on the wire.

use std::fmt::{self, Formatter};
use std::net::Ipv4Addr;

pub(super) fn leased(
    f: &mut Formatter<'_>,
    client: &str,
    address: Ipv4Addr,
    vendor_class: Option<&str>,
    boot_file: &str,
    bootp: bool,
) -> fmt::Result {
    write!(f, "gave {address} to {client}")?;
    if let Some(class) = vendor_class {
        write!(f, ", a {class} loader")?;
    }
    write!(f, ", boot file {boot_file}")?;
    if bootp {
        f.write_str(" (BOOTP)")?;
    }
    Ok(())
}

/// Another server answered, or the probe for one ended: the engine's own words.
pub(super) fn said(f: &mut Formatter<'_>, said: &str) -> fmt::Result {
    f.write_str(said)
}
