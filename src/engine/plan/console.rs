//! The serial-console method's part of the plan: the console leg, when `--serial` is given.

use super::{AfterProof, ConsolePlan, PlanError, Serial, Transfer};
use crate::profile::{Method, Profile};

/// The console leg for `profile` when the technician gave `--serial` (a profile whose method
/// is `console` needs it): only a pull (the console types `tftpboot` to fetch from our
/// server). Without a load address in the profile the bootloader is asked for its own.
/// `baud` is the rate layered from `--baud`, the profile's and the default.
pub(super) fn console_plan(
    profile: &Profile,
    serial: Option<&Serial>,
    baud: u32,
    transfer: &Transfer,
    image_size: u64,
) -> Result<Option<ConsolePlan>, PlanError> {
    let Some(serial) = serial else {
        if profile.method == Method::Console {
            return Err(PlanError::ConsoleNeedsPort {
                id: profile.id.clone(),
            });
        }
        return Ok(None);
    };
    if !matches!(transfer, Transfer::Serve { .. }) {
        return Err(PlanError::ConsoleNeedsPull {
            id: profile.id.clone(),
            method: profile.method,
        });
    }
    if profile.router.is_none() {
        return Err(PlanError::Incomplete {
            id: profile.id.clone(),
            what: "router address the console types as `setenv ipaddr`",
            field: "router",
        });
    }
    let console = profile.console.clone().unwrap_or_default();
    let ram_boot = console
        .ram_boot
        .as_ref()
        .map(crate::console::RamBoot::from_profile);
    let boots_from_ram = serial.after_proof == AfterProof::BootFromRam;
    if boots_from_ram && ram_boot.is_none() {
        return Err(PlanError::NoRamBoot {
            id: profile.id.clone(),
        });
    }
    // Booting from RAM writes nothing: the recipe is left out, and with it the region check.
    let flash = console.flash.as_ref().filter(|_| !boots_from_ram);
    if let Some(flash) = flash
        && let Some(region) = flash.size.filter(|&region| image_size > region)
    {
        return Err(PlanError::ImageExceedsRegion {
            id: profile.id.clone(),
            size: image_size,
            region,
            offset: flash.offset,
        });
    }
    Ok(Some(ConsolePlan {
        port: serial.port.clone(),
        baud,
        stop_token: console.stop_token,
        prompt: console.prompt,
        load_addr: console.load_address,
        recipe: flash.map(crate::console::Recipe::from_profile),
        after_proof: serial.after_proof,
        // Chosen (`--ram-boot`), or offered beside the write question; without a recipe and
        // unchosen it stays out, so that nothing boots that nobody asked for.
        ram_boot: ram_boot.filter(|_| boots_from_ram || flash.is_some()),
    }))
}
