//! The bootloader families a console can show, as data: the text by which each one announces
//! its autoboot window, what stops it, and what its prompt looks like. Sources per family are
//! in ../docs/console.md and in the fixtures under `tests/fixtures/console/`.

/// A bootloader family, recognised from what it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Qualcomm Atheros U-Boot 1.1.4 as TP-Link ships it: "Autobooting in 1 seconds", and only
    /// `tpl` typed inside that second stops it (OpenWrt forum logs; pepe2k/u-boot_mod README).
    TpLink,
    /// A U-Boot that names its stop key: `Hit "gl" key to stop booting` (`GL.iNet` `IPQ40xx`,
    /// `gl-inet/uboot-ipq40xx:uboot/common/main.c`, `abortboot`, key `CONFIG_BOOTSTOPKEY`), or
    /// u-boot_mod's `bootstopkey`. The key is compared once: a wrong first try disables it.
    NamedKey,
    /// Any U-Boot that stops on any key: "Hit any key to stop autoboot" (mainline, Lantiq) or
    /// "Hit any key to stop booting" (u-boot_mod without `bootstopkey`).
    AnyKey,
    /// Ralink/`MediaTek` U-Boot 1.1.3's numbered menu ("Please choose the operation:"): a digit
    /// typed during its countdown picks the entry; `4` is the command line.
    MediaTekMenu,
    /// Broadcom CFE: Ctrl-C held while it starts gives `CFE>` (OpenWrt wiki, "Using the CFE").
    Cfe,
    /// Realtek `RTL819x` bootcode: ESC within its 3-second countdown gives `<RealTek>`, at 38400
    /// baud (RTL8196E bootloader command reference).
    Realtek,
}

impl Family {
    /// Every family, in the order they are looked for.
    pub const ALL: [Family; 6] = [
        Family::TpLink,
        Family::NamedKey,
        Family::AnyKey,
        Family::MediaTekMenu,
        Family::Cfe,
        Family::Realtek,
    ];

    /// Its name in events and reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::TpLink => "TP-Link U-Boot 1.1.4",
            Family::NamedKey => "U-Boot with a stop key",
            Family::AnyKey => "U-Boot",
            Family::MediaTekMenu => "MediaTek U-Boot menu",
            Family::Cfe => "Broadcom CFE",
            Family::Realtek => "Realtek bootcode",
        }
    }

    /// The baud rate its consoles usually run at.
    pub fn usual_baud(self) -> u32 {
        match self {
            // `baudrate=57600` in MT7621 environment dumps; some Xiaomi units use 115200.
            Family::MediaTekMenu => 57_600,
            Family::Realtek => 38_400,
            _ => 115_200,
        }
    }

    /// The text that announces this family's window to stop autoboot.
    fn markers(self) -> &'static [&'static str] {
        match self {
            Family::TpLink => &["Autobooting in"],
            Family::NamedKey => &["key to stop booting", "to stop booting:"],
            Family::AnyKey => &[
                "Hit any key to stop autoboot",
                "Hit any key to stop booting",
            ],
            Family::MediaTekMenu => &["Please choose the operation:"],
            Family::Cfe => &["CFE version"],
            Family::Realtek => &["RTL819", "---RealTek"],
        }
    }

    /// The family whose marker `text` holds, and where the line holding the marker begins.
    pub fn recognise(text: &str) -> Option<(Family, usize)> {
        Family::ALL
            .iter()
            .filter_map(|&family| {
                family
                    .markers()
                    .iter()
                    .filter_map(|m| text.find(m))
                    .min()
                    .map(|at| (at, family))
            })
            .min_by_key(|&(at, _)| at)
            .map(|(at, family)| (family, text[..at].rfind('\n').map_or(0, |nl| nl + 1)))
    }

    /// What to type to stop autoboot, read from what the bootloader printed, once the window
    /// is open; `None` while the window is not open yet (the `MediaTek` menu reads its digit only
    /// once the whole menu is printed and its countdown runs).
    pub fn stop_token(self, seen: &str) -> Option<String> {
        match self {
            Family::TpLink => Some("tpl".to_owned()),
            Family::NamedKey => named_key(seen),
            // Any key: a space, which the bootloader consumes (`abortboot` reads it with
            // `getc`) and which means nothing at a prompt if it arrives late.
            Family::AnyKey => Some(" ".to_owned()),
            Family::MediaTekMenu => seen.contains("default:").then(|| "4".to_owned()),
            Family::Cfe => Some("\u{3}".to_owned()),
            Family::Realtek => Some("\u{1b}".to_owned()),
        }
    }

    /// Whether the stop token may be typed again while no prompt came: CFE is stopped by Ctrl-C
    /// held down, so it is repeated (bounded); every other family compares its key once.
    pub fn repeats_stop(self) -> bool {
        matches!(self, Family::Cfe)
    }
}

/// The key a U-Boot names in `Hit "gl" key to stop booting` or `Enter 'x' to stop booting`.
fn named_key(seen: &str) -> Option<String> {
    for (open, close) in [("Hit \"", "\" key"), ("Enter '", "' to stop")] {
        if let Some(start) = seen.rfind(open) {
            let rest = &seen[start + open.len()..];
            if let Some(end) = rest.find(close) {
                let key = &rest[..end];
                if !key.is_empty() && key.len() <= 16 {
                    return Some(key.to_owned());
                }
            }
        }
    }
    None
}

/// Text that says the bootloader went on booting: the window was missed.
pub const BOOTING_ON: &[&str] = &[
    "## Booting",
    "Booting image",
    "Starting kernel",
    "Uncompressing Kernel",
    "You choosed 3",
    "Starting program at",
    "Decompressing kernel",
    "Jump to ",
];

/// Whether the last line of `text` (what follows its last newline) looks like a bootloader's
/// prompt: short, and ending the way prompts end (`=> `, `hornet> `, `(IPQ40xx) # `,
/// `MT7621 # `, `CFE> `, `<RealTek>`).
pub fn looks_like_prompt(text: &str) -> Option<&str> {
    let line = text.rsplit('\n').next().unwrap_or(text);
    let line = line.trim_start_matches('\r');
    let fits = !line.is_empty()
        && line.len() <= 24
        && !line.contains("##")
        && (line.ends_with("> ") || line.ends_with("# ") || line == "<RealTek>");
    fits.then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_keys_are_read_from_the_countdown() {
        assert_eq!(
            named_key("Hit \"gl\" key to stop booting:  2").as_deref(),
            Some("gl")
        );
        assert_eq!(
            named_key("Enter 'x1' to stop booting:  1").as_deref(),
            Some("x1")
        );
        assert_eq!(named_key("Hit any key to stop booting"), None);
    }

    #[test]
    fn the_first_marker_printed_decides_the_family() {
        let (family, _) = Family::recognise("Net: eth0\nHit any key to stop autoboot:  2").unwrap();
        assert_eq!(family, Family::AnyKey);
        let (family, _) = Family::recognise("eth0 up\nAutobooting in 1 seconds").unwrap();
        assert_eq!(family, Family::TpLink);
        assert_eq!(Family::recognise("DRAM:  32 MB\nFlash:  4 MB\n"), None);
    }

    #[test]
    fn prompts_are_short_last_lines() {
        for prompt in [
            "=> ",
            "hornet> ",
            "(IPQ40xx) # ",
            "MT7628 # ",
            "CFE> ",
            "<RealTek>",
        ] {
            assert_eq!(looks_like_prompt(&format!("x\r\n{prompt}")), Some(prompt));
        }
        assert_eq!(looks_like_prompt("Loading: ################# "), None);
        assert_eq!(looks_like_prompt("Erased 2 sectors\r\n"), None);
    }
}
