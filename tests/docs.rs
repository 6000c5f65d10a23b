//! The README and docs/ agree with the program: every `rescue-wizard` command they show, in a
//! code block or inline, is parsed by the real command-line definition, so a renamed or
//! removed flag fails here. Parsing runs nothing: no network, no root, no router.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use clap::Parser;
use rescue_wizard::cli::Cli;

/// README.md and every Markdown file in docs/.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// One command as the documents show it, and where.
#[derive(Debug)]
struct Shown {
    place: String,
    text: String,
    /// Inline in prose, where a command may name a flag without its required arguments
    /// ("`rescue-wizard serve --next-block`"); a code block is a whole command.
    inline: bool,
}

/// The ways documents start rescue-wizard, each read as `rescue-wizard`.
const STARTS: [&str; 4] = [
    "sudo target/release/rescue-wizard",
    "target/release/rescue-wizard",
    "cargo run --release --",
    "sudo rescue-wizard",
];

/// A command line as `rescue-wizard ...`, or `None` when the line starts something else.
fn as_command(line: &str) -> Option<String> {
    let line = line.trim().trim_start_matches("$ ");
    for start in STARTS {
        if let Some(rest) = line.strip_prefix(start)
            && (rest.is_empty() || rest.starts_with(' '))
        {
            return Some(format!("rescue-wizard{rest}"));
        }
    }
    (line == "rescue-wizard" || line.starts_with("rescue-wizard ")).then(|| line.to_owned())
}

/// Every command in a Markdown text: lines of fenced `sh` blocks and inline code spans.
fn commands_in(file: &Path) -> Vec<Shown> {
    let text = std::fs::read_to_string(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let mut shown = Vec::new();
    let mut fence: Option<String> = None;
    // A fenced line ending in `\` goes on on the next line: (where it began, the text so far).
    let mut continued: Option<(String, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let mut place = format!("{name}:{}", n + 1);
        if let Some(info) = line.trim_start().strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim().to_owned()),
            };
            continue;
        }
        match fence.as_deref() {
            Some("sh" | "bash" | "console" | "shell") => {
                // A comment ends the command; a line ending in `\` goes on.
                let code = line.split(" #").next().unwrap_or_default();
                let code = match continued.take() {
                    Some((began, before)) => {
                        place = began;
                        format!("{before} {}", code.trim_start())
                    }
                    None => code.to_owned(),
                };
                if let Some(head) = code.trim_end().strip_suffix('\\') {
                    continued = Some((place, head.trim_end().to_owned()));
                    continue;
                }
                if let Some(command) = as_command(&code) {
                    shown.push(Shown {
                        place,
                        text: command,
                        inline: false,
                    });
                }
            }
            Some(_) => {}
            None => {
                for (i, span) in line.split('`').enumerate() {
                    if i % 2 == 1
                        && let Some(command) = as_command(span)
                    {
                        shown.push(Shown {
                            place: place.clone(),
                            text: command,
                            inline: true,
                        });
                    }
                }
            }
        }
    }
    shown
}

/// Splits a command line into words as a POSIX shell would for these simple lines: spaces,
/// single and double quotes, redirections and pipes end the command.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ') => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (None, '>' | '|' | ';' | '&') => break,
            // Inside quotes everything is the word's; outside, the rest is too.
            (_, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Placeholders the documents write for a value the reader fills in, with a value of the
/// right type to parse in their place.
fn filled(word: &str) -> String {
    // A synopsis marks optional parts with brackets: `[--interface IF]`.
    let word = word.trim_start_matches('[').trim_end_matches(']');
    match word {
        "ID" | "DEVICE" => "tl-wr841n-v9".to_owned(),
        "IMAGE" | "FILE" | "FILE..." | "IMAGE_OR_FOLDER" => "openwrt-factory.bin".to_owned(),
        "INTERFACE" | "IF" => "eth0".to_owned(),
        "SECONDS" | "COUNT" | "N" => "10".to_owned(),
        "ADDRESS" => "192.168.1.1".to_owned(),
        "QUERY" | "WORDS" => "wr841".to_owned(),
        "SHELL" => "bash".to_owned(),
        other => other.to_owned(),
    }
}

fn parse(shown: &Shown) -> Result<(), String> {
    let argv: Vec<String> = words(&shown.text).iter().map(|w| filled(w)).collect();
    match Cli::try_parse_from(&argv) {
        Ok(_) => Ok(()),
        // `--help` and `--version` are documented on purpose: clap answers them.
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) if shown.inline && e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
            Ok(())
        }
        Err(e) => Err(format!("{}: `{}`\n{}", shown.place, shown.text, e.render())),
    }
}

#[test]
fn every_documented_command_parses() {
    let shown: Vec<Shown> = documents().iter().flat_map(|f| commands_in(f)).collect();
    // The README alone shows more than a dozen; finding few means the extraction broke.
    assert!(shown.len() > 30, "found only {shown:#?}");
    let broken: Vec<String> = shown.iter().filter_map(|s| parse(s).err()).collect();
    assert!(
        broken.is_empty(),
        "{} documented commands do not parse:\n\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn the_extraction_reads_blocks_inline_code_and_quotes() {
    assert_eq!(
        as_command("sudo target/release/rescue-wizard serve x.bin").as_deref(),
        Some("rescue-wizard serve x.bin")
    );
    assert_eq!(
        as_command("cargo run --release -- demo").as_deref(),
        Some("rescue-wizard demo")
    );
    assert_eq!(as_command("cargo test --release"), None);
    assert_eq!(
        words(r#"rescue-wizard devices show "wr841n v9" > out.txt"#),
        ["rescue-wizard", "devices", "show", "wr841n v9"]
    );
    // A renamed flag is caught.
    let renamed = Shown {
        place: "here".into(),
        text: "rescue-wizard push x.bin --to 192.168.1.1 --retry-for 5".into(),
        inline: true,
    };
    assert!(parse(&renamed).unwrap_err().contains("--retry-for"));
}
