//! What the console dialogue tells (past tense, plain data): where the flash stands and what
//! happened on the console, each said in words for the plain output and the report.

use std::fmt;

use super::family::Family;
use super::script::{ImageCopy, hex};

/// Where the flash stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashState {
    /// Nothing erased or written.
    Untouched,
    /// An erase was typed and did not answer as expected: part of the region may be erased.
    Erasing,
    /// The region is erased; nothing written yet.
    Erased,
    /// A write was typed and did not answer as expected: the region holds part of the image.
    Writing,
    /// Written, not yet read back.
    Written,
    /// Written, and the CRC-32 read back equals ours.
    Verified,
    /// Written, and the CRC-32 read back differs from ours.
    Differs,
}

impl FlashState {
    /// Whether the router's flash was changed.
    pub fn changed(self) -> bool {
        self != FlashState::Untouched
    }
}

/// What happened on the console (past tense, plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// The bootloader printed its first bytes.
    Spoke,
    /// Its family was recognised from its autoboot window.
    Recognised {
        /// The family.
        family: Family,
    },
    /// The stop token was typed (shown escaped).
    StopTyped {
        /// The token as shown, `^C` and `ESC` for control keys.
        token: String,
    },
    /// The bootloader booted on: the window was missed. The next window is waited for.
    WindowMissed {
        /// What it printed that shows it.
        seen: String,
    },
    /// The prompt came.
    PromptReached {
        /// The prompt.
        prompt: String,
    },
    /// A command was typed whole and entered.
    CommandTyped {
        /// The command.
        command: String,
    },
    /// A command's echo differed (a lost character): the line was cancelled and typed again.
    Retyped {
        /// The command.
        command: String,
        /// Which try comes now.
        attempt: u32,
    },
    /// A command answered.
    Answered {
        /// The command.
        command: String,
        /// Its answer, without the prompt.
        answer: String,
    },
    /// The profile names no load address: the bootloader's own is used.
    LoadAddressFound {
        /// The address `tftpboot` loads to.
        addr: u64,
        /// Where it came from, in words.
        from: String,
    },
    /// `tftpboot` loaded this many bytes, the image's size.
    Loaded {
        /// Bytes.
        bytes: u64,
    },
    /// The bootloader's CRC-32 of a copy of the image, and ours.
    CrcCompared {
        /// Which copy.
        region: ImageCopy,
        /// Ours.
        ours: u32,
        /// The bootloader's.
        theirs: u32,
    },
    /// The loaded image is proven; writing it needs the technician's go.
    ConfirmationAsked {
        /// The commands that would be typed.
        commands: Vec<String>,
        /// The first byte of the flash region the erase covers.
        erase_from: u64,
        /// The first byte after it.
        erase_to: u64,
        /// The CRC-32 the loaded image was proven by (the bootloader's equals ours).
        crc: u32,
    },
    /// What arrived looks like a wrong baud rate.
    WrongBaud {
        /// Percent of the bytes that are not text.
        garbage_percent: u32,
        /// Rates to try, most likely first.
        suggestions: Vec<u32>,
    },
    /// The dialogue ended as planned.
    Finished {
        /// Where the flash stands.
        flash: FlashState,
        /// The same in words.
        note: String,
    },
    /// The dialogue stopped.
    Failed {
        /// Why, in words.
        reason: String,
        /// Where the flash stands.
        flash: FlashState,
        /// The same in words, with the addresses.
        note: String,
    },
    /// A boot from RAM: offered beside the write (`chosen: false`), or chosen and about to be
    /// typed (`chosen: true`). Nothing is written on that path.
    RamBoot {
        /// The boot command, filled in.
        command: String,
        /// Whether it is the path taken now.
        chosen: bool,
    },
    /// The bootloader printed its start line: the image runs from RAM.
    Started {
        /// That line.
        line: String,
    },
    /// What the dialogue waits for now, and the command it is about to type (before its
    /// first character goes out), so a front-end can show it before it happens.
    Awaiting {
        /// The command about to be typed, if one is.
        next: Option<String>,
        /// What is awaited: the prompt, or the answer that command must give.
        what: String,
    },
}

impl fmt::Display for ConsoleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleEvent::Spoke => write!(f, "the bootloader speaks"),
            ConsoleEvent::Recognised { family } => write!(f, "recognised {}", family.name()),
            ConsoleEvent::StopTyped { token } => write!(f, "typed {token} to stop autoboot"),
            ConsoleEvent::WindowMissed { seen } => write!(
                f,
                "the bootloader booted on ({seen}): switch the router off and on again"
            ),
            ConsoleEvent::PromptReached { prompt } => {
                write!(f, "at the prompt {:?}", prompt.trim_end())
            }
            ConsoleEvent::CommandTyped { command } => write!(f, "typed `{command}`"),
            ConsoleEvent::Retyped { command, attempt } => write!(
                f,
                "the echo of `{command}` differed: cancelled, typing it again (try {attempt})"
            ),
            ConsoleEvent::Answered { command, .. } => write!(f, "`{command}` answered"),
            ConsoleEvent::LoadAddressFound { addr, from } => {
                write!(f, "loading the image at {}, from {from}", hex(*addr))
            }
            ConsoleEvent::Loaded { bytes } => write!(f, "the bootloader loaded {bytes} bytes"),
            ConsoleEvent::CrcCompared {
                region,
                ours,
                theirs,
            } => {
                let verdict = if ours == theirs { "equal" } else { "DIFFERENT" };
                write!(
                    f,
                    "CRC-32 of {region}: bootloader {theirs:08x}, ours {ours:08x}: {verdict}"
                )
            }
            ConsoleEvent::ConfirmationAsked {
                erase_from,
                erase_to,
                crc,
                ..
            } => write!(
                f,
                "erase {}..{} ({}) and write the image proven by CRC-32 {crc:#010x}",
                hex(*erase_from),
                hex(*erase_to),
                size_words(erase_to.saturating_sub(*erase_from))
            ),
            ConsoleEvent::WrongBaud {
                garbage_percent,
                suggestions,
            } => {
                let rates: Vec<String> = suggestions.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "{garbage_percent}% of what arrives is not text: the baud rate is likely wrong; try --baud {}",
                    rates.join(" or --baud ")
                )
            }
            ConsoleEvent::Finished { note, .. } => write!(f, "done: {note}"),
            ConsoleEvent::Failed { reason, note, .. } => write!(f, "stopped: {reason}. {note}"),
            ConsoleEvent::RamBoot {
                command,
                chosen: true,
            } => write!(
                f,
                "booting the proven image from RAM with `{command}`: nothing is erased or written"
            ),
            ConsoleEvent::RamBoot {
                command,
                chosen: false,
            } => write!(
                f,
                "or boot the proven image from RAM instead with `{command}` (nothing written)"
            ),
            ConsoleEvent::Started { line } => {
                write!(f, "the image started from RAM: {line:?}")
            }
            ConsoleEvent::Awaiting {
                next: Some(command),
                what,
            } => write!(f, "about to type `{command}`, then waiting for {what}"),
            ConsoleEvent::Awaiting { next: None, what } => write!(f, "waiting for {what}"),
        }
    }
}

/// A size as people read it: `3.75 MiB`, `256 KiB`, `512 bytes` (at most two decimals).
pub fn size_words(bytes: u64) -> String {
    #[expect(
        clippy::cast_precision_loss,
        reason = "a size shown with two decimals; flash regions are far below 2^52"
    )]
    let n = bytes as f64;
    let (value, unit) = if bytes >= 1 << 20 {
        (n / f64::from(1u32 << 20), "MiB")
    } else if bytes >= 1 << 10 {
        (n / 1024.0, "KiB")
    } else {
        return format!("{bytes} bytes");
    };
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}
