//! Reading one profile: YAML syntax, the schema, then the rules the schema cannot express.
//!
//! Every problem is turned into a [`Problem`] with a line, a column and a fix. Schema errors
//! come from serde with a position; semantic ones get theirs by finding the key in the text.

use std::fs::File;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::Path;

mod sections;

use super::error::{Problem, Problems, ProfileError};
use super::schema::{Host, Method, Profile};

/// Ids that are words of the `devices` command line, so a device can never be mistaken for one.
pub const RESERVED_IDS: [&str; 3] = ["show", "check", "help"];

/// Largest profile accepted, in bytes. A profile is a page of YAML (the largest built-in one
/// is under 2 KiB); the cap keeps a wrong file, or a hostile one, away from the YAML parser,
/// whose memory grows with the document.
pub const MAX_PROFILE_BYTES: u64 = 64 * 1024;

/// Deepest nesting of lists and maps accepted. The schema nests three levels (`steps`, a
/// step, its fields); the YAML parser recurses once per level, so a document of 100,000 `[`
/// would take it seconds and a deep stack before any schema rule could refuse it.
pub const MAX_PROFILE_DEPTH: usize = 16;

/// Parses and validates one profile. `origin` names the file in messages.
///
/// The size and nesting limits ([`MAX_PROFILE_BYTES`], [`MAX_PROFILE_DEPTH`]) are checked on
/// the text first, so an oversized or deeply nested document never reaches the YAML parser.
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, ProfileError> {
    let invalid = |list| {
        ProfileError::Invalid(Problems {
            origin: origin.to_owned(),
            list,
        })
    };
    if let Some(problem) = too_large(text.len() as u64, origin) {
        return Err(invalid(vec![problem]));
    }
    if let Some(problem) = too_deep(text) {
        return Err(invalid(vec![problem]));
    }
    let profile: Profile =
        serde_yaml::from_str(text).map_err(|err| invalid(vec![explain(&err)]))?;
    let problems: Vec<Problem> = validate(&profile)
        .into_iter()
        .map(|finding| {
            let (line, column) = locate(text, finding.path).unzip();
            Problem {
                line,
                column,
                what: finding.what,
                fix: finding.fix,
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(profile)
    } else {
        Err(invalid(problems))
    }
}

/// Reads the profile file at `path` as text, refusing one larger than [`MAX_PROFILE_BYTES`]
/// by its length, before reading it: a 50 MB file is refused without being read.
pub fn read_profile_text(path: &Path) -> Result<String, ProfileError> {
    let unreadable = |source| ProfileError::Read {
        path: path.to_owned(),
        source,
    };
    let origin = path.display().to_string();
    let invalid = |problem| {
        ProfileError::Invalid(Problems {
            origin: origin.clone(),
            list: vec![problem],
        })
    };
    let file = File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    if let Some(problem) = too_large(len, &origin) {
        return Err(invalid(problem));
    }
    // The length can lie (a file still growing, a pipe): read one byte past the cap at most.
    let mut text = String::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if let Some(problem) = too_large(text.len() as u64, &origin) {
        return Err(invalid(problem));
    }
    Ok(text)
}

/// The problem with a profile of `len` bytes, when that is over [`MAX_PROFILE_BYTES`].
fn too_large(len: u64, origin: &str) -> Option<Problem> {
    (len > MAX_PROFILE_BYTES).then(|| {
        Problem::new(
            format!(
                "the file is {len} bytes ({:.1} MiB); a profile may be at most \
                 {MAX_PROFILE_BYTES} bytes ({} KiB)",
                len as f64 / (1024.0 * 1024.0),
                MAX_PROFILE_BYTES / 1024
            ),
            format!(
                "a device profile is a page of YAML (the built-in ones are under 2 KiB): check \
                 that {origin} is the profile you meant, not a firmware image or a log"
            ),
        )
    })
}

/// The problem with `text` when its lists and maps nest deeper than [`MAX_PROFILE_DEPTH`],
/// found by a scan of the text that the YAML parser never sees when it fails.
///
/// The scan counts, on each line, the block levels open at its indentation, the `- ` items
/// that start on it, and the flow collections (`[`, `{`) open at each character; quoted
/// text, comments and block scalars (`|`, `>`) are skipped. It may count a level more than
/// the parser would build, never fewer.
fn too_deep(text: &str) -> Option<Problem> {
    let mut scan = DepthScan::default();
    for (number, line) in text.lines().enumerate() {
        if let Some(column) = scan.line(line) {
            let mut problem = Problem::new(
                format!("lists and maps nest deeper than {MAX_PROFILE_DEPTH} levels here"),
                "a device profile nests three levels at most (`steps`, a step, its fields): \
                 close the brackets and lists opened before this point, or check that the \
                 file is a device profile",
            );
            problem.line = Some(number + 1);
            problem.column = Some(column);
            return Some(problem);
        }
    }
    None
}

/// The state of [`too_deep`]'s scan between lines.
#[derive(Debug, Default)]
struct DepthScan {
    /// Indentation of each open block collection, outermost first.
    block: Vec<usize>,
    /// Open flow collections (`[`, `{`), which may span lines.
    flow: usize,
    /// The quote character of a quoted scalar still open at the end of the last line.
    quote: Option<char>,
    /// Inside a block scalar: lines indented more than this are its text.
    scalar_above: Option<usize>,
}

impl DepthScan {
    /// Scans one line; the 1-based column where the nesting passes the limit, if it does.
    fn line(&mut self, line: &str) -> Option<usize> {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if let Some(parent) = self.scalar_above {
            if trimmed.is_empty() || indent > parent {
                return None;
            }
            self.scalar_above = None;
        }
        if self.quote.is_none() && self.flow == 0 {
            if trimmed.is_empty() || trimmed.starts_with('#') {
                return None;
            }
            while self.block.last().is_some_and(|&top| top > indent) {
                self.block.pop();
            }
            if self.block.last() != Some(&indent) {
                self.block.push(indent);
                if self.block.len() > MAX_PROFILE_DEPTH {
                    return Some(indent + 1);
                }
            }
        }
        let mut items = 0;
        // Whether the next character starts a value, where `[`, `{`, quotes, `- ` and block
        // scalar indicators mean something (YAML 1.2 section 7.4 and 8.1).
        let mut value_start = true;
        let mut previous = ' ';
        let mut chars = trimmed.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let column = indent + at + 1;
            if let Some(quote) = self.quote {
                if c == '\\' && quote == '"' {
                    chars.next();
                } else if c == quote {
                    // A doubled single quote is an escaped quote, not the end.
                    if quote == '\'' && chars.peek().is_some_and(|&(_, next)| next == '\'') {
                        chars.next();
                    } else {
                        self.quote = None;
                        value_start = false;
                    }
                }
                previous = c;
                continue;
            }
            let next_is_space = chars.peek().is_none_or(|&(_, next)| next == ' ');
            match c {
                '#' if previous == ' ' || at == 0 => break,
                ' ' => {}
                '"' | '\'' if value_start => self.quote = Some(c),
                '[' | '{' if value_start || self.flow > 0 => {
                    self.flow += 1;
                    if self.block.len() + items + self.flow > MAX_PROFILE_DEPTH {
                        return Some(column);
                    }
                    value_start = true;
                }
                ']' | '}' if self.flow > 0 => {
                    self.flow -= 1;
                    value_start = false;
                }
                ',' if self.flow > 0 => value_start = true,
                '-' | '?' if value_start && self.flow == 0 && next_is_space => {
                    items += 1;
                    if self.block.len() + items > MAX_PROFILE_DEPTH {
                        return Some(column);
                    }
                }
                ':' if next_is_space => value_start = true,
                '|' | '>' if value_start && self.flow == 0 => {
                    self.scalar_above = Some(indent);
                    break;
                }
                _ => value_start = false,
            }
            previous = c;
        }
        None
    }
}

/// `value` with control characters written as escapes (`\u{1b}`), so a message quoting it
/// cannot move the cursor or recolour the terminal.
fn shown(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A control character in a name, with the field it is in; names are printed on terminals.
fn check_printable(
    name: &str,
    value: &str,
    path: &'static [&'static str],
    found: &mut Vec<ProfileFault>,
) {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        found.push(fault(
            path,
            format!(
                "`{name}` \"{}\" contains the control character U+{:04X}",
                shown(value),
                u32::from(c)
            ),
            "remove it: names are printed on the terminal, where control characters move the \
             cursor or change colours; write the name as it is printed on the label or the \
             download page",
        ));
    }
}

/// Turns a YAML or serde error into a problem a person can act on.
fn explain(err: &serde_yaml::Error) -> Problem {
    let (line, column) = err.location().map(|at| (at.line(), at.column())).unzip();
    // The crate writes positions into its message; we print them in front instead.
    let message = strip_positions(&err.to_string());
    // Nested errors start with the path to the value, e.g. "tftp: ".
    let (place, body) = split_path(&message);
    let (what, fix) = describe_serde_message(place, body);
    let what = match place {
        Some(place) => format!("in `{place}`: {what}"),
        None => what,
    };
    Problem {
        line,
        column,
        what,
        fix,
    }
}

/// Removes every " at line N column M" and " at position N" from a message.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let skipped = skip_position(after);
        if skipped.len() == after.len() {
            out.push_str(" at ");
        }
        rest = skipped;
    }
    out.push_str(rest);
    out
}

/// `text` past a leading "line N column M" or "position N", or `text` itself.
fn skip_position(text: &str) -> &str {
    let digits = |s: &str| s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if let Some(tail) = text.strip_prefix("line ") {
        let after_line = &tail[tail.len() - digits(tail)..];
        if after_line.len() < tail.len()
            && let Some(tail) = after_line.strip_prefix(" column ")
        {
            let rest = digits(tail);
            if rest < tail.len() {
                return &tail[tail.len() - rest..];
            }
        }
    } else if let Some(tail) = text.strip_prefix("position ") {
        let rest = digits(tail);
        if rest < tail.len() {
            return &tail[tail.len() - rest..];
        }
    }
    text
}

fn split_path(message: &str) -> (Option<&str>, &str) {
    const STARTS: [&str; 7] = [
        "unknown field",
        "unknown variant",
        "missing field",
        "invalid type",
        "invalid value",
        "invalid length",
        "invalid",
    ];
    if let Some((head, tail)) = message.split_once(": ") {
        let is_path = !head.contains(' ') && STARTS.iter().any(|s| tail.starts_with(s));
        if is_path {
            return (Some(head), tail);
        }
    }
    (None, message)
}

/// Words between the first pair of backticks after `marker`.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('`')?;
    Some(&rest[start..start + len])
}

/// Every backtick-quoted word after `marker`: the names serde says it expected.
fn expected_names<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let Some(at) = text.find(marker) else {
        return Vec::new();
    };
    text[at + marker.len()..]
        .split('`')
        .skip(1)
        .step_by(2)
        .collect()
}

fn describe_serde_message(place: Option<&str>, body: &str) -> (String, String) {
    if let Some(field) = quoted_after(body, "unknown field") {
        let allowed = expected_names(body, "expected");
        return match nearest(field, &allowed) {
            Some(best) => (
                format!("unknown field `{field}`, did you mean `{best}`?"),
                format!("rename `{field}` to `{best}`"),
            ),
            None => (
                format!("unknown field `{field}`"),
                format!(
                    "remove it; the fields allowed here are {}",
                    quote_list(&allowed)
                ),
            ),
        };
    }
    if let Some(variant) = quoted_after(body, "unknown variant") {
        let allowed = expected_names(body, "expected");
        return match nearest(variant, &allowed) {
            Some(best) => (
                format!("unknown value `{variant}`, did you mean `{best}`?"),
                format!(
                    "write `{best}`; the values allowed here are {}",
                    quote_list(&allowed)
                ),
            ),
            None => (
                format!("unknown value `{variant}`"),
                format!("use one of {}", quote_list(&allowed)),
            ),
        };
    }
    if let Some(field) = quoted_after(body, "missing field") {
        return (
            format!("missing field `{field}`"),
            format!("add `{field}:`; docs/profiles.md describes it with an example"),
        );
    }
    if body.contains("invalid IPv4 address syntax") {
        return (
            "invalid IPv4 address".to_owned(),
            "write four numbers from 0 to 255 separated by dots, e.g. 192.168.0.66".to_owned(),
        );
    }
    if body.starts_with("invalid hex bytes") {
        let (what, fix) = body
            .split_once(": ")
            .unwrap_or((body, "write pairs of hex digits"));
        return (what.to_owned(), fix.to_owned());
    }
    if body.starts_with("invalid type") || body.starts_with("invalid value") {
        return (body.to_owned(), fix_for_expected(place, body).to_owned());
    }
    // YAML syntax errors: the parser's own words are the most precise description.
    (
        format!("YAML syntax: {body}"),
        "check the indentation here (spaces, not tabs), and that quotes and brackets are closed"
            .to_owned(),
    )
}

/// The fix for a value of the wrong kind, from what serde says it expected.
fn fix_for_expected(place: Option<&str>, body: &str) -> &'static str {
    let expected = body.rsplit_once("expected ").map_or("", |(_, e)| e);
    if place == Some("host.prefix") {
        "use a prefix from 8 to 30, usually 24 (255.255.255.0)"
    } else if place == Some("tftp.rollover") {
        "write 0 (wraps to block 0), 1 (wraps to block 1) or `no` (cannot pass block 65535)"
    } else if expected.starts_with('u') && expected[1..].chars().all(|c| c.is_ascii_digit()) {
        match expected {
            "u8" => "write a whole number from 0 to 255",
            "u16" => "write a whole number from 0 to 65535",
            _ => "write a whole number of 0 or more; hex such as 0x20200 is fine",
        }
    } else if expected.contains("string") {
        "write text here; put it in quotes if it starts with [ { * & ! | > ' \" % @ or `"
    } else if expected.contains("sequence") {
        "write a list here: `[a, b]`, or one `- item` per line"
    } else if expected.contains("struct") || expected.contains("map") {
        "write `key: value` lines here, indented under this key"
    } else {
        "give a value of the kind named after `expected`; docs/profiles.md has an example"
    }
}

fn quote_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo, or
/// else the one candidate that contains `word` (`blksize` -> `max-blksize`).
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    let typo = candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c);
    typo.or_else(|| {
        let mut containing = candidates
            .iter()
            .filter(|c| word.len() >= 3 && c.contains(word));
        match (containing.next(), containing.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

/// A semantic fault in a profile (a rule the schema cannot express) and the key it belongs
/// to.
struct ProfileFault {
    path: &'static [&'static str],
    what: String,
    fix: String,
}

fn fault(path: &'static [&'static str], what: String, fix: impl Into<String>) -> ProfileFault {
    ProfileFault {
        path,
        what,
        fix: fix.into(),
    }
}

/// The rules the schema cannot express. Each finding quotes the profile's value.
#[expect(
    clippy::too_many_lines,
    reason = "one flat list of rules, each a check and its message; a split scatters the list"
)]
fn validate(profile: &Profile) -> Vec<ProfileFault> {
    let mut found = Vec::new();
    check_id(&profile.id, &mut found);
    if profile.vendor.trim().is_empty() {
        found.push(fault(
            &["vendor"],
            "`vendor` is empty".to_owned(),
            "name the maker, e.g. `vendor: TP-Link`",
        ));
    }
    if profile.model.trim().is_empty() {
        found.push(fault(
            &["model"],
            "`model` is empty".to_owned(),
            "name the model as printed on the label, e.g. `model: TL-WR841N`",
        ));
    }
    check_printable("vendor", &profile.vendor, &["vendor"], &mut found);
    check_printable("model", &profile.model, &["model"], &mut found);
    for revision in &profile.revisions {
        check_printable("revisions", revision, &["revisions"], &mut found);
    }
    for alias in &profile.aliases {
        check_printable("aliases", alias, &["aliases"], &mut found);
    }
    if let Some(host) = profile.host {
        check_host(host, profile.router, &mut found);
    }
    match profile.method {
        Method::TftpServer => {
            if profile.host.is_none() {
                found.push(fault(
                    &["method"],
                    "method `tftp-server` needs `host`: the address the router sends its request to"
                        .to_owned(),
                    "add `host:` with `address:` and `prefix:`, e.g. 192.168.0.66 and 24",
                ));
            }
            if profile.filename.is_none() {
                found.push(fault(
                    &["method"],
                    "method `tftp-server` needs `filename`: the name the router asks for".to_owned(),
                    "add `filename:`; the router's TFTP read request shows it, e.g. `tp_recovery.bin`",
                ));
            }
        }
        Method::TftpClient => {
            if profile.host.is_none() {
                found.push(fault(
                    &["method"],
                    "method `tftp-client` needs `host`: the laptop's address next to the router"
                        .to_owned(),
                    "add `host:` with `address:` and `prefix:`, e.g. 192.168.1.2 and 24",
                ));
            }
            if profile.router.is_none() {
                found.push(fault(
                    &["method"],
                    "method `tftp-client` needs `router`: the address to push the image to"
                        .to_owned(),
                    "add `router:` with the bootloader's address, e.g. 192.168.1.1",
                ));
            }
        }
        Method::Console => {
            if profile.host.is_none() {
                found.push(fault(
                    &["method"],
                    "method `console` needs `host`: the laptop's address, typed as `serverip`"
                        .to_owned(),
                    "add `host:` with `address:` and `prefix:`, e.g. 192.168.1.10 and 24",
                ));
            }
            if profile.router.is_none() {
                found.push(fault(
                    &["method"],
                    "method `console` needs `router`: the address the bootloader takes, typed as `ipaddr`"
                        .to_owned(),
                    "add `router:` with an address in the host's subnet, e.g. 192.168.1.1",
                ));
            }
        }
        Method::Nmrp | Method::DhcpTftp | Method::BootpTftp | Method::Http => {}
    }
    if let Some(region) = &profile.nmrp.region
        && !super::schema::Nmrp::knows_region(region)
    {
        found.push(fault(
            &["nmrp", "region"],
            format!("`nmrp.region` \"{region}\" is not a region a Netgear bootloader knows"),
            "use one of NA, WW, GR, PR, RU, BZ, IN, KO, JP, AU (the region on the router's label or download page)",
        ));
    }
    sections::check_http(profile, &mut found);
    sections::check_dhcp(profile, &mut found);
    sections::check_console(profile, &mut found);
    if let Some(name) = &profile.filename {
        check_file_name("filename", name, &["filename"], &mut found);
    }
    for name in &profile.alternate_filenames {
        check_file_name(
            "alternate-filenames",
            name,
            &["alternate-filenames"],
            &mut found,
        );
    }
    if let Some(name) = &profile.tftp.remote_name {
        check_file_name(
            "tftp.remote-name",
            name,
            &["tftp", "remote-name"],
            &mut found,
        );
    }
    if let Some(blksize) = profile.tftp.max_blksize
        && !(8..=65464).contains(&blksize)
    {
        found.push(fault(
            &["tftp", "max-blksize"],
            format!("`tftp.max-blksize` {blksize} is outside 8..=65464 (RFC 2348)"),
            "use a block size from 8 to 65464; 1468 keeps Ethernet frames whole",
        ));
    }
    if profile.tftp.max_windowsize == Some(0) {
        found.push(fault(
            &["tftp", "max-windowsize"],
            "`tftp.max-windowsize` is 0".to_owned(),
            "give a window of at least 1 block (1 means no windowing), or remove the field",
        ));
    }
    let sizes: [(&'static [&'static str], &str, Option<u64>); 3] = [
        (
            &["image", "max-size"],
            "image.max-size",
            profile.image.max_size,
        ),
        (
            &["image", "strip-head"],
            "image.strip-head",
            profile.image.strip_head,
        ),
        (
            &["image", "pad-head"],
            "image.pad-head",
            profile.image.pad_head,
        ),
    ];
    for (path, name, value) in sizes {
        if value == Some(0) {
            found.push(fault(
                path,
                format!("`{name}` is 0"),
                "give a positive number of bytes (e.g. 0x20200), or remove the field",
            ));
        }
    }
    if profile.flash_seconds == Some(0) {
        found.push(fault(
            &["flash-seconds"],
            "`flash-seconds` is 0".to_owned(),
            "give how many seconds the router writes flash, e.g. 120, or remove the field",
        ));
    }
    if profile.steps.is_empty() {
        found.push(fault(
            &["steps"],
            "the profile has no `steps`".to_owned(),
            "add `steps:` with one `- do: ...` item per thing the technician does, in order",
        ));
    }
    for (number, step) in profile.steps.iter().enumerate() {
        if step.action.trim().is_empty() {
            found.push(fault(
                &["steps"],
                format!("step {} has an empty `do`", number + 1),
                "say what to do in that step, e.g. `do: Hold the reset button`",
            ));
        }
        if step.seconds == Some(0) {
            found.push(fault(
                &["steps"],
                format!("step {} lasts 0 `seconds`", number + 1),
                "give a positive number of seconds, or remove `seconds` from that step",
            ));
        }
    }
    for source in &profile.sources {
        if !(source.starts_with("https://") || source.starts_with("http://")) {
            found.push(fault(
                &["sources"],
                format!("source `{source}` is not a web address"),
                "write each source as a full URL starting with https://",
            ));
        }
    }
    found
}

fn check_id(id: &str, found: &mut Vec<ProfileFault>) {
    let is_slug = !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !is_slug {
        let suggestion: String = id
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        found.push(fault(
            &["id"],
            format!("id `{}` is not a slug", shown(id)),
            format!(
                "use lower-case letters, digits and single dashes, e.g. `{}`",
                if suggestion.is_empty() {
                    "my-router-v1"
                } else {
                    &suggestion
                }
            ),
        ));
    } else if RESERVED_IDS.contains(&id) {
        found.push(fault(
            &["id"],
            format!("id `{id}` is a word of the `devices` command"),
            format!("pick another id, e.g. `{id}-router`"),
        ));
    }
}

fn check_host(host: Host, router: Option<Ipv4Addr>, found: &mut Vec<ProfileFault>) {
    if !(8..=30).contains(&host.prefix) {
        found.push(fault(
            &["host", "prefix"],
            format!("host prefix /{} is outside 8..=30", host.prefix),
            "use the prefix of the bootloader's network, usually 24 (255.255.255.0)",
        ));
        // The subnet checks below would only repeat this problem.
        return;
    }
    let subnet = host.subnet();
    if host.address == subnet.network() || host.address == subnet.broadcast() {
        found.push(fault(
            &["host", "address"],
            format!("host address {} is not usable in {subnet}", host.address),
            format!(
                "pick an address inside {subnet} other than its first and last, e.g. {}",
                Ipv4Addr::from(u32::from(subnet.network()) + 2)
            ),
        ));
    }
    let Some(router) = router else { return };
    if router == host.address {
        found.push(fault(
            &["router"],
            format!("host and router are both {router}"),
            format!("give the laptop its own address in {subnet}, one the router does not use"),
        ));
    } else if !host.contains(router) {
        found.push(fault(
            &["router"],
            format!("router {router} is not in the laptop's subnet {subnet} (host {host})"),
            "put host and router in one subnet: change one address, or the host prefix",
        ));
    }
}

fn check_file_name(
    name: &str,
    value: &str,
    path: &'static [&'static str],
    found: &mut Vec<ProfileFault>,
) {
    if value.trim().is_empty() {
        found.push(fault(
            path,
            format!("`{name}` is empty"),
            "give the file name the bootloader asks for (its TFTP request shows it), or remove the field",
        ));
    } else if value.contains(['/', '\\']) {
        let bare = value.rsplit(['/', '\\']).next().unwrap_or(value);
        found.push(fault(
            path,
            format!("`{name}` `{}` contains a path separator", shown(value)),
            format!(
                "give the bare file name the bootloader uses, e.g. `{}`",
                shown(bare)
            ),
        ));
    } else {
        check_printable(name, value, path, found);
    }
}

/// The line and column of the key at `path` (e.g. `["image", "max-size"]`), found by reading
/// the text: serde keeps no positions once a value has been read.
pub fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    let mut lines = text.lines().enumerate();
    for key in path {
        let wanted = format!("{key}:");
        loop {
            let (number, line) = lines.next()?;
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(parent) = parent_indent
                && indent <= parent
            {
                // Left the parent's block without finding the key.
                return None;
            }
            let is_top_level = parent_indent.is_none() && indent == 0;
            if (is_top_level || parent_indent.is_some()) && trimmed.starts_with(&wanted) {
                parent_indent = Some(indent);
                found = Some((number + 1, indent + 1));
                break;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn locate_finds_nested_keys() {
        let text = "id: x\nimage:\n  kinds: [stock]\n  max-size: 0\ntftp:\n  max-size: 3\n";
        assert_eq!(locate(text, &["id"]), Some((1, 1)));
        assert_eq!(locate(text, &["image", "max-size"]), Some((4, 3)));
        assert_eq!(locate(text, &["tftp", "max-size"]), Some((6, 3)));
        assert_eq!(locate(text, &["tftp", "kinds"]), None);
    }

    #[test]
    fn positions_are_taken_out_of_messages() {
        assert_eq!(
            strip_positions("found a tab at line 2 column 1, while scanning at line 1 column 3"),
            "found a tab, while scanning"
        );
        assert_eq!(strip_positions("bad at position 12"), "bad");
        assert_eq!(strip_positions("look at this"), "look at this");
    }

    fn depth_problem(text: &str) -> Option<(usize, usize)> {
        too_deep(text).map(|problem| (problem.line.unwrap(), problem.column.unwrap()))
    }

    #[test]
    fn nesting_is_counted_in_flow_and_block_collections() {
        let flow = format!("id: x\nsteps: {}", "[".repeat(100_000));
        // The root map and 16 brackets make 17 levels: the 16th bracket is refused.
        assert_eq!(depth_problem(&flow), Some((2, 23)));
        let fine = format!("steps: {}{}", "[".repeat(15), "]".repeat(15));
        assert_eq!(depth_problem(&fine), None);
        let items = format!("steps:\n{}x\n", "- ".repeat(40));
        assert_eq!(depth_problem(&items), Some((2, 31)));
        let mut indented = String::new();
        for level in 0..20 {
            let _ = writeln!(indented, "{}k{level}:", "  ".repeat(level));
        }
        assert_eq!(depth_problem(&indented), Some((17, 33)));
    }

    #[test]
    fn brackets_in_text_are_not_nesting() {
        let brackets = "[".repeat(40);
        let text = format!(
            "id: x\nmodel: \"{brackets}\"\nvendor: 'it''s {brackets}'\n\
             # {brackets}\nnotes: >\n  {brackets}\n  more {brackets}\n\
             steps:\n  - do: Hold [reset] {brackets}\n"
        );
        assert_eq!(depth_problem(&text), None);
    }

    #[test]
    fn oversized_text_is_refused_before_parsing() {
        let text = "#".repeat(MAX_PROFILE_BYTES as usize + 1);
        let err = parse_profile(&text, "big.yaml").unwrap_err().to_string();
        assert!(
            err.starts_with("big.yaml: the file is 65537 bytes (0.1 MiB); a profile may be at most 65536 bytes (64 KiB)"),
            "{err}"
        );
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(shown("TL\u{1b}[2J\n"), "TL\\u{1b}[2J\\n");
        assert_eq!(shown("TL-WR841N/ND"), "TL-WR841N/ND");
    }

    /// A console profile whose `flash:` section ends with `flash`.
    fn console_profile(flash: &str) -> String {
        format!(
            "id: console-test\nvendor: Example\nmodel: Router 1\nmethod: tftp-server\n\
             host:\n  address: 192.168.0.66\n  prefix: 24\nrouter: 192.168.0.86\n\
             filename: recovery.bin\nsteps:\n  - do: Power the router on.\n\
             confidence: unverified\nconsole:\n  flash:\n    kind: nor\n{flash}"
        )
    }

    fn console_error(flash: &str) -> String {
        parse_profile(&console_profile(flash), "console.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_console_recipe_in_order_loads() {
        let profile = parse_profile(
            &console_profile(
                "    offset: 0x9f020000\n    erase-size: 0x10000\n    erase: erase {offset} +{erase_size}\n    write: cp.b {loadaddr} {offset} $filesize\n",
            ),
            "console.yaml",
        )
        .unwrap();
        assert!(profile.console.unwrap().flash.is_some());
    }

    #[test]
    fn a_zero_erase_size_is_refused_where_it_is_written() {
        let err = console_error("    offset: 0x9f020000\n    erase-size: 0\n");
        assert!(
            err.contains("console.yaml:17:5: `console.flash.erase-size` is 0")
                && err.contains("fix: give the flash's erase block"),
            "{err}"
        );
    }

    #[test]
    fn an_offset_off_the_erase_boundary_is_refused_with_the_nearest_boundaries() {
        let err = console_error("    offset: 0x9f020100\n    erase-size: 0x10000\n");
        assert!(
            err.contains(
                "`console.flash.offset` 0x9f020100 is not a multiple of `console.flash.erase-size` 0x10000"
            ) && err.contains("the nearest boundaries are 0x9f020000 and 0x9f030000"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_placeholder_is_refused_with_did_you_mean() {
        let err = console_error(
            "    offset: 0x9f020000\n    erase-size: 0x10000\n    write: cp.b {loadadr} {offset} {size}\n",
        );
        assert!(
            err.contains(
                "`console.flash.write` \"cp.b {loadadr} {offset} {size}\" uses `{loadadr}`, which rescue-wizard does not fill in"
            ) && err.contains("did you mean `{loadaddr}`?"),
            "{err}"
        );
    }

    #[test]
    fn a_template_missing_a_required_placeholder_is_refused() {
        let err = console_error(
            "    offset: 0x9f020000\n    erase-size: 0x10000\n    erase: erase 0x9f020000 +0x3c0000\n",
        );
        assert!(
            err.contains("`console.flash.erase` \"erase 0x9f020000 +0x3c0000\" lacks {offset}")
                && err.contains("fix: add {offset} where the command takes it"),
            "{err}"
        );
        let err = console_error(
            "    offset: 0x9f020000\n    erase-size: 0x10000\n    write: cp.b $loadaddr {offset} {size}\n",
        );
        assert!(err.contains("lacks {loadaddr}"), "{err}");
    }

    #[test]
    fn nearest_suggests_only_typos() {
        let fields = ["filename", "flash-seconds", "host"];
        assert_eq!(nearest("filenmae", &fields), Some("filename"));
        assert_eq!(nearest("colour", &fields), None);
        assert_eq!(nearest("seconds", &fields), Some("flash-seconds"));
    }
}
