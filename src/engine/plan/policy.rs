//! The run's decisions that the technician (a flag, the wizard) or the profile makes, each a
//! small value named by what it decides, built where the flag or field is read: a plan says
//! `FirewallPolicy::OpenForRun`, not `true`.

/// What the run does once the transfer is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterTransfer {
    /// Count the flashing down and watch for the router coming back.
    #[default]
    Watch,
    /// End at once, without the flashing watch (`--exit-after-transfer`).
    Exit,
}

impl AfterTransfer {
    /// `--exit-after-transfer` given or not.
    pub fn from_flag(exit: bool) -> Self {
        if exit { Self::Exit } else { Self::Watch }
    }
}

/// What the run does when the host firewall would drop the router's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirewallPolicy {
    /// Leave it as it is: preflight reports it, the technician fixes it.
    #[default]
    Leave,
    /// Let UDP from the router's subnet in on the port for the run, with consent, and take
    /// the rule out again at the end (`--allow-firewall`).
    OpenForRun,
}

impl FirewallPolicy {
    /// `--allow-firewall` given or not.
    pub fn from_flag(allow: bool) -> Self {
        if allow { Self::OpenForRun } else { Self::Leave }
    }
}

/// What a DHCP/BOOTP run does when another DHCP server answers its probe on the port, before
/// the router is switched on (the router may take that server's lease and never ask ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtherDhcp {
    /// Stop before the router is switched on.
    #[default]
    Stop,
    /// Warn and go on (`--allow-other-dhcp`).
    Warn,
}

impl OtherDhcp {
    /// `--allow-other-dhcp` given or not.
    pub fn from_flag(allow: bool) -> Self {
        if allow { Self::Warn } else { Self::Stop }
    }
}

/// What the serial console does once the bootloader's CRC-32 proved the image in RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterProof {
    /// Write the flash with the profile's recipe once the technician says yes, asked then;
    /// without a yes nothing is written.
    #[default]
    AskToWrite,
    /// Write the flash with the profile's recipe without asking (`--yes`).
    Write,
    /// Boot the image from RAM and write nothing (`--ram-boot`).
    BootFromRam,
}

impl AfterProof {
    /// `--ram-boot` and `--yes` as given: booting from RAM writes nothing, so `--yes` has
    /// nothing to allow then.
    pub fn from_flags(ram_boot: bool, yes: bool) -> Self {
        match (ram_boot, yes) {
            (true, _) => Self::BootFromRam,
            (false, true) => Self::Write,
            (false, false) => Self::AskToWrite,
        }
    }
}

/// Whether the network changes still need the technician's yes when the run reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkConsent {
    /// Ask with `Event::ConsentNeeded` and wait for `Command::Approve` or `Command::Refuse`.
    #[default]
    Ask,
    /// Given already (`--yes`, or the wizard's network screen).
    Given,
}

impl NetworkConsent {
    /// `--yes` given or not.
    pub fn from_flag(yes: bool) -> Self {
        if yes { Self::Given } else { Self::Ask }
    }
}

/// What the run does when the router asks for another server address than the profile's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerAddress {
    /// Report it with the remedy, and add the address when the technician says so.
    #[default]
    Suggest,
    /// Add it to the port for the rest of the run at once (`--adopt`; undone at the end).
    Adopt,
}

impl ServerAddress {
    /// `--adopt` given or not.
    pub fn from_flag(adopt: bool) -> Self {
        if adopt { Self::Adopt } else { Self::Suggest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_picks_the_decision_it_names() {
        assert_eq!(AfterTransfer::from_flag(true), AfterTransfer::Exit);
        assert_eq!(AfterTransfer::from_flag(false), AfterTransfer::Watch);
        assert_eq!(FirewallPolicy::from_flag(true), FirewallPolicy::OpenForRun);
        assert_eq!(FirewallPolicy::from_flag(false), FirewallPolicy::Leave);
        assert_eq!(OtherDhcp::from_flag(true), OtherDhcp::Warn);
        assert_eq!(OtherDhcp::from_flag(false), OtherDhcp::Stop);
        assert_eq!(NetworkConsent::from_flag(true), NetworkConsent::Given);
        assert_eq!(NetworkConsent::from_flag(false), NetworkConsent::Ask);
        assert_eq!(ServerAddress::from_flag(true), ServerAddress::Adopt);
        assert_eq!(ServerAddress::from_flag(false), ServerAddress::Suggest);
    }

    #[test]
    fn booting_from_ram_wins_over_yes_and_yes_writes_without_asking() {
        assert_eq!(AfterProof::from_flags(true, true), AfterProof::BootFromRam);
        assert_eq!(AfterProof::from_flags(true, false), AfterProof::BootFromRam);
        assert_eq!(AfterProof::from_flags(false, true), AfterProof::Write);
        assert_eq!(AfterProof::from_flags(false, false), AfterProof::AskToWrite);
    }
}
