//! The plan in words, as `rescue-wizard --device ID IMAGE` prints it before the run: a head
//! (device, method, image, port, addresses), then the numbered steps, one paragraph per part
//! of the plan.

use std::fmt;

use super::{AfterTransfer, FlashSource, Plan, Transfer};
use crate::settings::TFTP_PORT;
use crate::tftp::options::OptionPolicy;
use crate::tftp::session::{NextBlock, RolloverTo};

/// The numbered steps, written one after the other.
struct Steps<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    number: usize,
}

impl Steps<'_, '_> {
    /// Writes the next step.
    fn step(&mut self, text: &str) -> fmt::Result {
        self.number += 1;
        writeln!(self.f, "  {}. {text}", self.number)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.head(f)?;
        writeln!(f, "steps")?;
        let mut steps = Steps { f, number: 0 };
        steps.step(&format!(
            "check the image, the privileges, UDP port {TFTP_PORT} and the firewall"
        ))?;
        let changes = self.changes();
        if changes.is_empty() {
            steps.step("change nothing on the network: it is ready")?;
        } else {
            steps.step(&format!("with consent: {}", changes.join("; ")))?;
        }
        if let Transfer::Dhcp { lease, .. } = &self.transfer {
            steps.step(&lease.describe(self.host, self.port.as_ref()))?;
        }
        self.transfer_steps(&mut steps)?;
        if let Some(console) = &self.console {
            steps.step(&console.describe())?;
        }
        steps.step(&format!(
            "show the device's {} step(s) and watch the wire (ARP, ping, requests); give up after {} s",
            self.steps.len(),
            self.timeout.as_secs()
        ))?;
        self.ending_step(&mut steps)?;
        steps.step("restore the network and write the report")
    }
}

impl Plan {
    /// Device, method, image, port and addresses, one line each.
    fn head(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        Ok(())
    }

    /// How the image moves: served (and fetched back through our own server), pushed, sent
    /// by NMRP or uploaded to the failsafe page.
    fn transfer_steps(&self, steps: &mut Steps<'_, '_>) -> fmt::Result {
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
                steps.step(&format!(
                    "serve the image on {bind} under any name asked for (expected: {}); {}",
                    if expected.is_empty() {
                        "any".to_owned()
                    } else {
                        expected.join(", ")
                    },
                    tftp_policy(*options, *rollover, *next_block)
                ))?;
                steps.step(
                    "fetch the image from our own server through that address and compare its sha256",
                )
            }
            Transfer::Push { to, remote_name } => steps.step(&format!(
                "push the image to {to} as \"{remote_name}\" the moment its server answers"
            )),
            Transfer::Nmrp {
                router,
                netmask,
                region,
            } => steps.step(&format!(
                "advertise by NMRP every 100 ms until the router answers; give it {router} (netmask {netmask}{}); push the image over TFTP to the name it asks for (blocks of 1456 bytes, 512 if it does not take them); answer its keep-alives while it writes",
                region
                    .and_then(crate::nmrp::packet::Region::name)
                    .map(|r| format!(", region {r}"))
                    .unwrap_or_default()
            )),
            Transfer::Http { page, file_name } => steps.step(&format!(
                "try the upload page at {} until it answers, then upload the image as \"{file_name}\" ({:?} rules) and read what the page says",
                page.addr, page.flavour
            )),
        }
    }

    /// How the run ends once the router has the image: at once, or after the flashing
    /// countdown and the watch for its return.
    fn ending_step(&self, steps: &mut Steps<'_, '_>) -> fmt::Result {
        if self.after_transfer == AfterTransfer::Exit {
            return steps.step("end once the transfer is confirmed");
        }
        let source = match self.flash_source {
            FlashSource::Profile => "the profile's time",
            FlashSource::Settings => "set for this run",
            FlashSource::Typical => "the profile gives none: a typical time",
        };
        let back = match self.after {
            Some(after) => format!("; watch for the router at {after}"),
            None => String::new(),
        };
        steps.step(&format!(
            "count down {} s of flashing ({source}){back}",
            self.flash.as_secs()
        ))
    }
}

/// What our server grants, as the serve step words it.
fn tftp_policy(options: OptionPolicy, rollover: RolloverTo, next_block: NextBlock) -> String {
    let mut tftp = if options.enabled {
        format!(
            "blocks up to {} bytes, windows up to {}",
            options.max_blksize, options.max_windowsize
        )
    } else {
        "no TFTP options (plain 512-byte blocks)".to_owned()
    };
    if rollover == RolloverTo::One {
        tftp.push_str(", block numbers wrap to 1");
    }
    if next_block == NextBlock::Always {
        tftp.push_str(", the next block along with each resend");
    }
    tftp
}
