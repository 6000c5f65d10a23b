//! One strategy per recovery method: how the image reaches the router. The run machine asks
//! its method what to bring up before the router could need it, what to start once the
//! technician switches the router on, and what the wait is for; everything else (the wire,
//! the link, the accounting of blocks, the flashing watch) is the machine's own.
//!
//! A new method (NMRP, DHCP/BOOTP, the HTTP failsafe, the serial console) is a file of its own
//! here implementing [`Method`], and one arm in [`for_plan`].

pub mod console;
pub mod dhcp;
pub mod http;
pub mod nmrp;
mod pull;
mod push;
mod thread;

pub use super::exchange::LegFailure;
pub use console::Console;
pub use dhcp::Dhcp;
pub use http::Http;
pub use nmrp::Nmrp;
pub use pull::Pull;
pub use push::Push;

use super::exchange::Effect;
use crate::engine::plan::{Plan, Transfer};

/// How one recovery method moves the image.
pub trait Method: Send + std::fmt::Debug {
    /// What the run waits for, in words ("the router's request for X").
    fn awaits(&self) -> String;

    /// Whether the router fetches from a server of ours: the server is started once the
    /// network is in place and self-tested before the wait.
    fn serves(&self) -> bool;

    /// What to start once the network is in place, before the router could need it.
    fn prepare(&self) -> Vec<Effect>;

    /// What to start once the technician is told to switch the router on.
    fn on_waiting(&self) -> Vec<Effect>;
}

/// The strategy for `plan`'s transfer.
pub fn for_plan(plan: &Plan) -> Box<dyn Method> {
    if let Some(console) = &plan.console {
        return Box::new(Console {
            port: console.port.clone(),
        });
    }
    match &plan.transfer {
        Transfer::Serve { expected, .. } => Box::new(Pull {
            expected: expected.first().cloned(),
        }),
        Transfer::Push { to, .. } => Box::new(Push { to: *to }),
        Transfer::Nmrp { router, .. } => Box::new(Nmrp { router: *router }),
        Transfer::Dhcp { lease, .. } => Box::new(Dhcp {
            boot_file: lease.boot_file.clone(),
            protocol: lease.protocol,
        }),
        Transfer::Http { page, .. } => Box::new(Http { page: page.addr }),
    }
}
