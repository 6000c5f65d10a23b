//! The namespace U-Boot's NIC is wired to: a [`Netns`] holding the tap device `tap0`, up, with
//! the host's addresses on it, both removed on drop.

use std::ops::Deref;

use crate::support::netns::Netns;

/// A namespace holding `tap0` (up, with the host's addresses) and `lo` (up).
pub struct TapNamespace(Netns);

impl TapNamespace {
    /// A fresh namespace named after `tag`, this process and a counter, with `addresses`
    /// (`10.77.0.1/24`, ...) on its `tap0`.
    pub fn new(tag: &str, addresses: &[&str]) -> Self {
        let mut ns = Netns::new(tag);
        ns.add_tap("tap0");
        for address in addresses {
            ns.add_address("tap0", address);
        }
        ns.link_up("tap0");
        Self(ns)
    }
}

impl Deref for TapNamespace {
    type Target = Netns;

    fn deref(&self) -> &Netns {
        &self.0
    }
}
