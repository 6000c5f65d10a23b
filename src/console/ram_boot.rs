//! The safer path: boot the proven image from RAM instead of writing it. An `OpenWrt`
//! initramfs image carries its root filesystem inside the kernel, so it runs from RAM alone;
//! from there the firmware is written by `sysupgrade`, with the running system's own checks,
//! and the console never types an erase or a write ("Safer path ... TFTP an initramfs to RAM
//! and `bootm` it, then flash from Linux", research notes §3.2, forum.openwrt.org t/58033).
//!
//! The step typed is the profile's `console: ram-boot: command` (`bootm {loadaddr}` when it
//! names none), after the same proof as a write: "Bytes transferred" and the bootloader's own
//! CRC-32 of the loaded bytes. It succeeds when the bootloader prints its start line
//! ("Starting kernel") and fails when the prompt comes back instead.

use super::script::{AnswerCheck, Step, Touch, hex};
use crate::image::Format;
use crate::profile::schema::{ConsoleRamBoot, RAM_BOOT_COMMAND, RAM_BOOT_STARTED};

/// The flattened device tree's magic, big-endian at offset 0 (Devicetree Specification v0.4,
/// §5.2 `fdt_header.magic`): a FIT image (`.itb`, `OpenWrt`'s `initramfs-recovery.itb`) is one.
const FDT_MAGIC: [u8; 4] = [0xd0, 0x0d, 0xfe, 0xed];

/// How a device boots a loaded image from RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamBoot {
    /// The command template (`{loadaddr}`, `{size}`; `${name}` is left for the bootloader).
    pub command: String,
    /// What the bootloader prints when it hands over to the image.
    pub started: String,
}

impl Default for RamBoot {
    fn default() -> Self {
        Self {
            command: RAM_BOOT_COMMAND.to_owned(),
            started: RAM_BOOT_STARTED.to_owned(),
        }
    }
}

impl RamBoot {
    /// The RAM boot a profile's `console: ram-boot:` section describes, defaults filled in.
    pub fn from_profile(boot: &ConsoleRamBoot) -> Self {
        let default = Self::default();
        Self {
            command: boot.command.clone().unwrap_or(default.command),
            started: boot.started.clone().unwrap_or(default.started),
        }
    }

    /// The command as typed for an image of `size` bytes loaded at `load_addr`.
    pub fn command_at(&self, load_addr: u64, size: u64) -> String {
        self.command
            .replace("{loadaddr}", &hex(load_addr))
            .replace("{size}", &hex(size))
    }

    /// The step typed once the loaded image is proven: it touches no flash, and its answer is
    /// the start line, not a prompt.
    pub fn step(&self, load_addr: u64, size: u64) -> Step {
        Step {
            command: self.command_at(load_addr, size),
            check: AnswerCheck::Started(self.started.clone()),
            touch: Touch::None,
            leaves: false,
        }
    }
}

/// Whether `bootm` can start the image, judged by its header: a legacy uImage
/// (`27 05 19 56`) or a FIT (a device tree, `d0 0d fe ed`). A factory image with a vendor
/// header, a sysupgrade tar or a raw kernel cannot be booted by `bootm`; the error says which
/// image to give instead.
pub fn bootable(format: &Format, head: &[u8]) -> Result<(), String> {
    if matches!(format, Format::UImage { .. }) || head.starts_with(&FDT_MAGIC) {
        return Ok(());
    }
    let shown: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Err(format!(
        "booting from RAM needs an initramfs image that `bootm` starts (a U-Boot image, 27 05 19 56, or a FIT, d0 0d fe ed), and this one begins {} ({format})",
        shown.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_without_fields_boots_with_bootm_at_the_load_address() {
        let boot = RamBoot::from_profile(&ConsoleRamBoot::default());
        let step = boot.step(0x8100_0000, 0x30_0000);
        assert_eq!(step.command, "bootm 0x81000000");
        assert_eq!(step.check, AnswerCheck::Started("Starting kernel".into()));
        assert_eq!(step.touch, Touch::None);
        let fdt = RamBoot {
            command: "bootm {loadaddr} - ${fdtcontroladdr}".into(),
            started: "Starting kernel".into(),
        };
        assert_eq!(
            fdt.command_at(0x4020_0000, 1),
            "bootm 0x40200000 - ${fdtcontroladdr}"
        );
    }

    #[test]
    fn only_a_uimage_or_a_fit_is_bootable() {
        let uimage = crate::image::sample::uimage(4096);
        let format = Format::UImage {
            name: "MIPS OpenWrt Linux-6.6".into(),
            os: "Linux".into(),
            arch: "MIPS".into(),
            image_type: "kernel".into(),
            data_size: 4096,
        };
        assert_eq!(bootable(&format, &uimage), Ok(()));
        let fit = [0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0x10, 0];
        assert_eq!(bootable(&Format::Unknown, &fit), Ok(()));
        let tar = b"openwrt-sysupgrade";
        let err = bootable(&Format::Unknown, tar).unwrap_err();
        assert!(err.contains("begins 6f 70 65 6e"), "{err}");
        assert!(err.contains("needs an initramfs image"), "{err}");
    }
}
