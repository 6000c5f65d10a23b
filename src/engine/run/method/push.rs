//! We push: the router's bootloader runs a TFTP server of its own (Netgear, ASUS, Ubiquiti,
//! Linksys) and takes a write request.

use std::net::SocketAddr;

use super::Method;
use crate::engine::run::exchange::Effect;

/// We send the image to the bootloader's TFTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The bootloader's server.
    pub to: SocketAddr,
}

impl Method for Push {
    fn awaits(&self) -> String {
        format!("the router's TFTP server at {}", self.to)
    }

    fn serves(&self) -> bool {
        false
    }

    fn prepare(&self) -> Vec<Effect> {
        Vec::new()
    }

    // The client keeps asking until the bootloader's server is up (its `wait`).
    fn on_waiting(&self) -> Vec<Effect> {
        vec![Effect::StartPush]
    }
}
