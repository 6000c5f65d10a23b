//! What is typed at the bootloader's prompt, one command at a time, and how each answer is
//! judged. The safe part (addresses, `tftpboot`, `crc32` of what was loaded) touches no flash;
//! the flash part comes only from a recipe (a profile's `console:` section) and only after the
//! safe part proved the loaded bytes are ours.
//!
//! Sizes and addresses are typed in hex with `0x`, which U-Boot 1.1.x and mainline both read
//! (`simple_strtoul(.., 16)`); the size is the image's own, already checked against
//! "Bytes transferred".

use std::fmt;
use std::net::Ipv4Addr;

use crate::profile::schema::{ConsoleFlash, ConsoleFlashKind};

/// How an answer is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerCheck {
    /// None of the bootloader's error words.
    Quiet,
    /// `tftpboot`: "Bytes transferred = N" with N the image's size.
    Loaded {
        /// The image's size.
        size: u64,
    },
    /// `crc32`: "==> xxxxxxxx" equal to ours.
    Crc {
        /// Where the bytes are.
        region: ImageCopy,
        /// The image's CRC-32 (IEEE, as U-Boot's `crc32` computes it).
        crc: u32,
    },
    /// The answer holds this text (and none of the error words).
    Says(String),
    /// The answer names where to load the image, as the bootloader itself would.
    LoadAddress(LoadAddressProbe),
    /// A boot from RAM: the bootloader prints this as it hands over to the image; its prompt
    /// coming back instead means the image did not start.
    Started(String),
}

/// How the load address is asked of the bootloader when the profile names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadAddressProbe {
    /// `printenv loadaddr`: U-Boot's own default for `tftpboot` (`loadaddr=0x40200000`).
    Env,
    /// `bdinfo`: the RAM's start, plus [`LOAD_OFFSET`].
    Bdinfo,
}

impl LoadAddressProbe {
    /// The command typed.
    pub fn command(self) -> &'static str {
        match self {
            LoadAddressProbe::Env => "printenv loadaddr",
            LoadAddressProbe::Bdinfo => "bdinfo",
        }
    }
}

/// Where in RAM an image goes when only the RAM's start is known: 16 MiB in, as TP-Link's
/// U-Boot 1.1.4 loads at 0x81000000 over RAM at 0x80000000 (OpenWrt wiki, "Generic flashing
/// over the Serial port"), past what a kernel or the bootloader's own data use low in RAM.
pub const LOAD_OFFSET: u64 = 16 << 20;

/// Room left at the top of RAM when the bootloader does not say where it sits: U-Boot
/// relocates itself there with its heap and stack (`board_init_f`).
pub const TOP_RESERVE: u64 = 8 << 20;

/// Which copy of the image a `crc32` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCopy {
    /// What `tftpboot` loaded into RAM.
    Loaded,
    /// What was written to flash, read back.
    Flash,
}

impl fmt::Display for ImageCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageCopy::Loaded => "the loaded image",
            ImageCopy::Flash => "the flash region",
        })
    }
}

/// What a step does to the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Nothing.
    None,
    /// Erases it.
    Erase,
    /// Writes it.
    Write,
}

/// One command and how its answer is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The line typed (without the Enter).
    pub command: String,
    /// How its answer is judged.
    pub check: AnswerCheck,
    /// What it does to the flash.
    pub touch: Touch,
    /// Whether the bootloader leaves (`reset`, `bootm`): no prompt follows.
    pub leaves: bool,
}

impl Step {
    fn safe(command: String, check: AnswerCheck) -> Self {
        Self {
            command,
            check,
            touch: Touch::None,
            leaves: false,
        }
    }
}

/// What the bootloader prints when a command failed, in any case (U-Boot 1.1.x and mainline:
/// "Unknown command", "Usage:", "Error: start address not on sector boundary", "Can't write to
/// protected Flash sectors", "Flash not Erased", "Retry count exceeded"; the `MediaTek` and CFE
/// shells use the same words).
const ERROR_WORDS: &[&str] = &[
    "unknown command",
    "usage:",
    "error",
    "can't",
    "cannot",
    "fail",
    "not erased",
    "protected",
    "retry count exceeded",
    "not set",
    "abort",
    "bad ",
];

/// Why an answer does not pass its check, or `Ok` with what it showed.
pub fn judge(check: &AnswerCheck, answer: &str) -> Result<Judged, String> {
    let lower = answer.to_ascii_lowercase();
    let error = ERROR_WORDS.iter().find(|w| lower.contains(*w));
    match check {
        AnswerCheck::Loaded { size } => match bytes_transferred(answer) {
            Some(got) if got == *size => Ok(Judged::Loaded(got)),
            Some(got) => Err(format!(
                "the bootloader loaded {got} bytes, the image has {size}"
            )),
            None => Err(format!(
                "the bootloader did not load the image: {}",
                last_line(answer)
            )),
        },
        AnswerCheck::Crc { region, crc } => match crc32_answer(answer) {
            Some(theirs) => Ok(Judged::Crc {
                region: *region,
                ours: *crc,
                theirs,
            }),
            None => Err(format!(
                "the bootloader gave no CRC-32 of {region}: {}",
                last_line(answer)
            )),
        },
        AnswerCheck::Quiet => match error {
            Some(_) => Err(format!("the bootloader said: {}", error_line(answer))),
            None => Ok(Judged::Fine),
        },
        AnswerCheck::LoadAddress(probe) => load_address(*probe, answer),
        // Judged only when the prompt came back: the start line would have ended the wait.
        AnswerCheck::Started(text) => Err(format!(
            "the bootloader came back to its prompt without {text:?}: {}",
            if error.is_some() {
                error_line(answer)
            } else {
                last_line(answer)
            }
        )),
        AnswerCheck::Says(text) => match error {
            Some(_) => Err(format!("the bootloader said: {}", error_line(answer))),
            None if answer.contains(text.as_str()) => Ok(Judged::Fine),
            None => Err(format!(
                "expected {text:?} in the answer, got: {}",
                last_line(answer)
            )),
        },
    }
}

/// Where the bootloader would load, from `probe`'s answer, and where that came from.
fn load_address(probe: LoadAddressProbe, answer: &str) -> Result<Judged, String> {
    match probe {
        LoadAddressProbe::Env => env_hex(answer, "loadaddr")
            .map(|addr| Judged::LoadAddress {
                addr,
                from: "U-Boot's `loadaddr` (printenv loadaddr)".to_owned(),
                ends_before: None,
            })
            .ok_or_else(|| format!("no `loadaddr`: {}", last_line(answer))),
        LoadAddressProbe::Bdinfo => {
            let ram = ram(answer)
                .ok_or_else(|| format!("`bdinfo` shows no RAM start: {}", last_line(answer)))?;
            let ends_before = reserved_start(answer)
                .or_else(|| bd_value(answer, "relocaddr"))
                .or_else(|| ram.1.map(|size| (ram.0 + size).saturating_sub(TOP_RESERVE)));
            Ok(Judged::LoadAddress {
                addr: ram.0 + LOAD_OFFSET,
                from: format!(
                    "`bdinfo`: RAM starts at {}, plus {} MiB",
                    hex(ram.0),
                    LOAD_OFFSET >> 20
                ),
                ends_before,
            })
        }
    }
}

/// `name=0x40200000` (or without the `0x`: U-Boot reads addresses in hex) from `printenv`.
pub fn env_hex(answer: &str, name: &str) -> Option<u64> {
    answer.lines().find_map(|line| {
        let value = line.trim().strip_prefix(name)?.strip_prefix('=')?;
        parse_hex(value)
    })
}

/// `name = 0x40000000` (spaces around `=` as `bdinfo` aligns them) from `bdinfo`.
fn bd_value(answer: &str, name: &str) -> Option<u64> {
    answer.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        let key = key.trim().trim_start_matches("->").trim();
        (key == name).then(|| parse_hex(value)).flatten()
    })
}

/// The RAM's start and size from `bdinfo`: mainline prints "-> start = 0x40000000" and
/// "-> size = 0x10000000" under "DRAM bank" (`cmd/bdinfo.c`), U-Boot 1.1.4 "memstart =
/// 0x80000000" and "memsize = 0x02000000" (`common/cmd_bdinfo.c`).
pub fn ram(answer: &str) -> Option<(u64, Option<u64>)> {
    bd_value(answer, "start")
        .map(|start| (start, bd_value(answer, "size")))
        .or_else(|| bd_value(answer, "memstart").map(|start| (start, bd_value(answer, "memsize"))))
}

/// The lowest block mainline's `bdinfo` lists as reserved (" reserved[0]\t[0x4ddf3000-..."):
/// U-Boot's own code, heap, stack and device tree, which an image must stay below.
fn reserved_start(answer: &str) -> Option<u64> {
    answer
        .lines()
        .filter(|l| l.trim_start().starts_with("reserved["))
        .filter_map(|l| {
            let from = l.find("[0x")?;
            parse_hex(l[from + 1..].split('-').next()?)
        })
        .min()
}

fn parse_hex(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .unwrap_or(value);
    let digits: String = value.chars().take_while(char::is_ascii_hexdigit).collect();
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(&digits, 16).ok()
}

/// What a passed check showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Nothing to report.
    Fine,
    /// The bytes `tftpboot` loaded.
    Loaded(u64),
    /// A CRC-32 compared (equal or not: the caller decides).
    Crc {
        /// Which copy.
        region: ImageCopy,
        /// Ours.
        ours: u32,
        /// The bootloader's.
        theirs: u32,
    },
    /// Where the bootloader would load.
    LoadAddress {
        /// The address.
        addr: u64,
        /// Where it came from, in words.
        from: String,
        /// Where the bootloader's own memory begins, when it shows it: the image must end
        /// before.
        ends_before: Option<u64>,
    },
}

/// N from "Bytes transferred = N (hex)" (U-Boot's `net/net.c` and 1.1.4's `NetLoop`).
pub fn bytes_transferred(answer: &str) -> Option<u64> {
    let at = answer.rfind("Bytes transferred = ")?;
    let digits: String = answer[at + "Bytes transferred = ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The CRC from "crc32 for 40200000 ... 4022ffff ==> dbc3e28f" (mainline `cmd/mem.c`) or
/// "CRC32 for 80800000 ... 8081ebff ==> 0x1a2b3c4d" (older trees print the `0x`).
pub fn crc32_answer(answer: &str) -> Option<u32> {
    let at = answer.rfind("==> ")?;
    u32::try_from(parse_hex(&answer[at + 4..])?).ok()
}

fn last_line(answer: &str) -> String {
    answer
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("(nothing)")
        .to_owned()
}

fn error_line(answer: &str) -> String {
    answer
        .lines()
        .map(str::trim)
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            ERROR_WORDS.iter().any(|w| lower.contains(w))
        })
        .unwrap_or("(nothing)")
        .to_owned()
}

/// The kind of flash a recipe writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    /// Parallel NOR mapped into memory (`erase`, `cp.b`; read back with `crc32` at its
    /// address): QCA/Atheros, QEMU `virt`'s CFI banks.
    Nor,
    /// SPI NOR behind `sf` (`sf probe`, `sf erase`, `sf write`; read back with `sf read`).
    Spi,
    /// NAND behind `nand` (`nand erase`, `nand write`; read back with `nand read`).
    Nand,
}

impl FlashKind {
    /// Its name in profiles and messages.
    pub fn name(self) -> &'static str {
        match self {
            FlashKind::Nor => "NOR",
            FlashKind::Spi => "SPI",
            FlashKind::Nand => "NAND",
        }
    }
}

/// A device's documented way to write the image, with the numbers typed into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The kind of flash.
    pub kind: FlashKind,
    /// Where the image goes: the flash address (NOR) or offset (SPI, NAND).
    pub offset: u64,
    /// The erase block: erases are rounded up to it.
    pub erase_size: u64,
    /// Where a read-back goes in RAM (SPI, NAND); for NOR the flash is read where it is.
    pub scratch: Option<u64>,
    /// The commands, each `{loadaddr}`, `{offset}`, `{size}`, `{erase_size}`, `{scratch}`
    /// filled in (`$filesize` is left for the bootloader). Empty: the kind's defaults.
    pub commands: Vec<RecipeCommand>,
    /// Reset the board when the flash is proven.
    pub reset: bool,
}

/// One command of a recipe and what its answer must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeCommand {
    /// The template.
    pub template: String,
    /// Text the answer must hold; `None`: no error words is enough.
    pub expect: Option<String>,
    /// What it does to the flash.
    pub touch: Touch,
}

impl RecipeCommand {
    fn new(template: &str, expect: Option<&str>, touch: Touch) -> Self {
        Self {
            template: template.to_owned(),
            expect: expect.map(str::to_owned),
            touch,
        }
    }
}

impl Recipe {
    /// The kind's commands when the recipe names none: the sequences of the OpenWrt wiki's
    /// "Generic flashing over the Serial port" and the U-Boot `sf`/`nand` documentation.
    pub fn default_commands(kind: FlashKind) -> Vec<RecipeCommand> {
        match kind {
            FlashKind::Nor => vec![
                // Mainline and 1.1.4 both end a good erase with "Erased N sectors" and a good
                // copy with "done" ("Copy to Flash... done").
                RecipeCommand::new("erase {offset} +{erase_size}", Some("Erased"), Touch::Erase),
                RecipeCommand::new(
                    "cp.b {loadaddr} {offset} {size}",
                    Some("done"),
                    Touch::Write,
                ),
            ],
            FlashKind::Spi => vec![
                RecipeCommand::new("sf probe 0", Some("SF:"), Touch::None),
                RecipeCommand::new("sf erase {offset} {erase_size}", Some("OK"), Touch::Erase),
                RecipeCommand::new(
                    "sf write {loadaddr} {offset} {size}",
                    Some("OK"),
                    Touch::Write,
                ),
            ],
            FlashKind::Nand => vec![
                RecipeCommand::new("nand erase {offset} {erase_size}", Some("OK"), Touch::Erase),
                RecipeCommand::new(
                    "nand write {loadaddr} {offset} {size}",
                    Some("OK"),
                    Touch::Write,
                ),
            ],
        }
    }

    /// The read-back: where `crc32` reads the written bytes, after what command (if any).
    fn read_back(&self, size: u64) -> Option<(Option<String>, u64)> {
        match self.kind {
            FlashKind::Nor => Some((None, self.offset)),
            FlashKind::Spi => self.scratch.map(|s| {
                (
                    Some(format!(
                        "sf read {} {} {}",
                        hex(s),
                        hex(self.offset),
                        hex(size)
                    )),
                    s,
                )
            }),
            FlashKind::Nand => self.scratch.map(|s| {
                (
                    Some(format!(
                        "nand read {} {} {}",
                        hex(s),
                        hex(self.offset),
                        hex(size)
                    )),
                    s,
                )
            }),
        }
    }
}

impl Recipe {
    /// The recipe a profile's `console: flash:` section describes.
    pub fn from_profile(flash: &ConsoleFlash) -> Self {
        let kind = match flash.kind {
            ConsoleFlashKind::Nor => FlashKind::Nor,
            ConsoleFlashKind::Spi => FlashKind::Spi,
            ConsoleFlashKind::Nand => FlashKind::Nand,
        };
        let mut commands = Recipe::default_commands(kind);
        for command in &mut commands {
            let custom = match command.touch {
                Touch::Erase => &flash.erase,
                Touch::Write => &flash.write,
                Touch::None => &None,
            };
            if let Some(custom) = custom {
                // The kind's expected answer is kept: a custom `erase.linux` still says
                // "Erased" or it is not trusted.
                command.template.clone_from(custom);
            }
        }
        Self {
            kind,
            offset: flash.offset,
            erase_size: flash.erase_size,
            scratch: flash.scratch,
            commands,
            reset: flash.reset.unwrap_or(true),
        }
    }
}

/// What the dialogue is to do once at the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The router's address while it loads (`ipaddr`).
    pub router_ip: Ipv4Addr,
    /// Our TFTP server (`serverip`).
    pub server_ip: Ipv4Addr,
    /// The name asked for.
    pub file: String,
    /// Where `tftpboot` loads the image in RAM; `None`: ask the bootloader first
    /// (`printenv loadaddr`, else `bdinfo`).
    pub load_addr: Option<u64>,
    /// The image's size.
    pub size: u64,
    /// The image's CRC-32.
    pub crc: u32,
    /// How to write it, if the device has a documented way.
    pub recipe: Option<Recipe>,
}

/// `0x` and lower-case hex, as typed.
pub fn hex(n: u64) -> String {
    format!("{n:#x}")
}

/// `n` rounded up to a multiple of `to`.
pub fn round_up(n: u64, to: u64) -> u64 {
    if to == 0 { n } else { n.div_ceil(to) * to }
}

impl Job {
    /// The commands, in order: the safe part, then the recipe's (if any), its read-back, and
    /// the reset.
    /// Without a load address, the one step is asking the bootloader for it
    /// ([`Job::probe`]); the dialogue asks again once it knows.
    pub fn steps(&self) -> Vec<Step> {
        let Some(load_addr) = self.load_addr else {
            return vec![Job::probe(LoadAddressProbe::Env)];
        };
        let mut steps = vec![
            Step::safe(
                format!("setenv ipaddr {}", self.router_ip),
                AnswerCheck::Quiet,
            ),
            Step::safe(
                format!("setenv serverip {}", self.server_ip),
                AnswerCheck::Quiet,
            ),
            Step::safe(
                format!("tftpboot {} {}", hex(load_addr), self.file),
                AnswerCheck::Loaded { size: self.size },
            ),
            Step::safe(
                format!("crc32 {} {}", hex(load_addr), hex(self.size)),
                AnswerCheck::Crc {
                    region: ImageCopy::Loaded,
                    crc: self.crc,
                },
            ),
        ];
        let Some(recipe) = &self.recipe else {
            return steps;
        };
        let commands = if recipe.commands.is_empty() {
            Recipe::default_commands(recipe.kind)
        } else {
            recipe.commands.clone()
        };
        for command in &commands {
            steps.push(Step {
                command: self.fill(recipe, load_addr, &command.template),
                check: command
                    .expect
                    .clone()
                    .map_or(AnswerCheck::Quiet, AnswerCheck::Says),
                touch: command.touch,
                leaves: false,
            });
        }
        if let Some((read, at)) = recipe.read_back(self.size) {
            if let Some(read) = read {
                steps.push(Step::safe(read, AnswerCheck::Quiet));
            }
            steps.push(Step::safe(
                format!("crc32 {} {}", hex(at), hex(self.size)),
                AnswerCheck::Crc {
                    region: ImageCopy::Flash,
                    crc: self.crc,
                },
            ));
        }
        if recipe.reset {
            steps.push(Step {
                command: "reset".to_owned(),
                check: AnswerCheck::Quiet,
                touch: Touch::None,
                leaves: true,
            });
        }
        steps
    }

    /// The step that asks the bootloader where it loads.
    pub fn probe(probe: LoadAddressProbe) -> Step {
        Step::safe(probe.command().to_owned(), AnswerCheck::LoadAddress(probe))
    }

    fn fill(&self, recipe: &Recipe, load_addr: u64, template: &str) -> String {
        template
            .replace("{loadaddr}", &hex(load_addr))
            .replace("{offset}", &hex(recipe.offset))
            .replace("{size}", &hex(self.size))
            .replace("{erase_size}", &hex(round_up(self.size, recipe.erase_size)))
            .replace("{scratch}", &recipe.scratch.map(hex).unwrap_or_default())
    }
}

/// The placeholders a recipe's template may use (the profile checks templates against them).
pub use crate::profile::schema::PLACEHOLDERS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_each_tree_prints_them() {
        assert_eq!(
            bytes_transferred("done\r\nBytes transferred = 125952 (1ec00 hex)\r\n"),
            Some(125_952)
        );
        assert_eq!(
            crc32_answer("crc32 for 40200000 ... 4022ffff ==> dbc3e28f\r\n"),
            Some(0xdbc3_e28f)
        );
        assert_eq!(
            crc32_answer("CRC32 for 80800000 ... 8081ebff ==> 0x1a2b3c4d\n"),
            Some(0x1a2b_3c4d)
        );
        assert_eq!(crc32_answer("Unknown command 'crc32'"), None);
    }

    #[test]
    fn a_warning_about_protected_sectors_fails_an_erase() {
        let check = AnswerCheck::Says("Erased".into());
        let answer =
            "- Warning: 1 protected sectors will not be erased!\r\n done\r\nErased 1 sectors";
        assert!(judge(&check, answer).is_err());
        assert_eq!(
            judge(&check, "\r\n.. done\r\nErased 2 sectors\r\n"),
            Ok(Judged::Fine)
        );
    }

    #[test]
    fn a_profile_recipe_keeps_the_kinds_checks_and_takes_its_commands() {
        let yaml = "kind: nor\noffset: 0x9f020000\nerase-size: 0x10000\nerase: erase.linux {offset} +{erase_size}\n";
        let flash: ConsoleFlash = serde_yaml::from_str(yaml).unwrap();
        let recipe = Recipe::from_profile(&flash);
        assert_eq!(recipe.offset, 0x9f02_0000);
        assert!(recipe.reset);
        assert_eq!(
            recipe.commands[0].template,
            "erase.linux {offset} +{erase_size}"
        );
        assert_eq!(recipe.commands[0].expect.as_deref(), Some("Erased"));
        assert_eq!(
            recipe.commands[1].template,
            "cp.b {loadaddr} {offset} {size}"
        );
        let wrong = serde_yaml::from_str::<ConsoleFlash>(
            "kind: nor\noffset: 1\nerase-size: 1\nerase-sise: 2\n",
        );
        assert!(wrong.unwrap_err().to_string().contains("erase-size"));
    }

    #[test]
    fn a_nor_recipe_rounds_the_erase_and_reads_the_flash_back() {
        let job = Job {
            router_ip: Ipv4Addr::new(10, 77, 0, 2),
            server_ip: Ipv4Addr::new(10, 77, 0, 1),
            file: "recovery.bin".into(),
            load_addr: Some(0x4020_0000),
            size: 0x3_0001,
            crc: 7,
            recipe: Some(Recipe {
                kind: FlashKind::Nor,
                offset: 0x0410_0000,
                erase_size: 0x2_0000,
                scratch: None,
                commands: Vec::new(),
                reset: true,
            }),
        };
        let lines: Vec<String> = job.steps().into_iter().map(|s| s.command).collect();
        assert_eq!(
            lines,
            [
                "setenv ipaddr 10.77.0.2",
                "setenv serverip 10.77.0.1",
                "tftpboot 0x40200000 recovery.bin",
                "crc32 0x40200000 0x30001",
                "erase 0x4100000 +0x40000",
                "cp.b 0x40200000 0x4100000 0x30001",
                "crc32 0x4100000 0x30001",
                "reset",
            ]
        );
    }
}
