//! The router pulls: its bootloader sends a TFTP read request to the rescue address (TP-Link,
//! most U-Boot devices) and our server answers.

use super::Method;
use crate::engine::run::exchange::Effect;

/// The router fetches the image from our TFTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    /// The name the profile expects to be asked for.
    pub expected: Option<String>,
}

impl Method for Pull {
    fn awaits(&self) -> String {
        format!(
            "the router's request for {}",
            self.expected.as_deref().unwrap_or("the image")
        )
    }

    fn serves(&self) -> bool {
        true
    }

    fn prepare(&self) -> Vec<Effect> {
        vec![Effect::StartServer]
    }

    // The server is already up: the bootloader comes to it.
    fn on_waiting(&self) -> Vec<Effect> {
        Vec::new()
    }
}
