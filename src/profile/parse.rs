//! Reading one profile: YAML syntax, the schema, then the rules the schema cannot express.
//!
//! Every problem is turned into a [`Problem`] with a line, a column and a fix. Schema errors
//! come from serde with a position; semantic ones get theirs by finding the key in the text.

use std::net::Ipv4Addr;

use super::error::{Problem, Problems, ProfileError};
use super::schema::{Host, Method, Profile};

/// Ids that are words of the `devices` command line, so a device can never be mistaken for one.
pub const RESERVED_IDS: [&str; 3] = ["show", "check", "help"];

/// Parses and validates one profile. `origin` names the file in messages.
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, ProfileError> {
    let invalid = |list| {
        ProfileError::Invalid(Problems {
            origin: origin.to_owned(),
            list,
        })
    };
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

/// A semantic problem and the key it belongs to.
struct Finding {
    path: &'static [&'static str],
    what: String,
    fix: String,
}

fn finding(path: &'static [&'static str], what: String, fix: impl Into<String>) -> Finding {
    Finding {
        path,
        what,
        fix: fix.into(),
    }
}

/// The rules the schema cannot express. Each finding quotes the profile's value.
#[allow(clippy::too_many_lines)] // one flat list of rules reads better than a split
fn validate(profile: &Profile) -> Vec<Finding> {
    let mut found = Vec::new();
    check_id(&profile.id, &mut found);
    if profile.vendor.trim().is_empty() {
        found.push(finding(
            &["vendor"],
            "`vendor` is empty".to_owned(),
            "name the maker, e.g. `vendor: TP-Link`",
        ));
    }
    if profile.model.trim().is_empty() {
        found.push(finding(
            &["model"],
            "`model` is empty".to_owned(),
            "name the model as printed on the label, e.g. `model: TL-WR841N`",
        ));
    }
    if let Some(host) = profile.host {
        check_host(host, profile.router, &mut found);
    }
    match profile.method {
        Method::TftpServer => {
            if profile.host.is_none() {
                found.push(finding(
                    &["method"],
                    "method `tftp-server` needs `host`: the address the router sends its request to"
                        .to_owned(),
                    "add `host:` with `address:` and `prefix:`, e.g. 192.168.0.66 and 24",
                ));
            }
            if profile.filename.is_none() {
                found.push(finding(
                    &["method"],
                    "method `tftp-server` needs `filename`: the name the router asks for".to_owned(),
                    "add `filename:`; the router's TFTP read request shows it, e.g. `tp_recovery.bin`",
                ));
            }
        }
        Method::TftpClient => {
            if profile.host.is_none() {
                found.push(finding(
                    &["method"],
                    "method `tftp-client` needs `host`: the laptop's address next to the router"
                        .to_owned(),
                    "add `host:` with `address:` and `prefix:`, e.g. 192.168.1.2 and 24",
                ));
            }
            if profile.router.is_none() {
                found.push(finding(
                    &["method"],
                    "method `tftp-client` needs `router`: the address to push the image to"
                        .to_owned(),
                    "add `router:` with the bootloader's address, e.g. 192.168.1.1",
                ));
            }
        }
        Method::Nmrp | Method::DhcpTftp | Method::BootpTftp | Method::Http => {}
    }
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
        found.push(finding(
            &["tftp", "max-blksize"],
            format!("`tftp.max-blksize` {blksize} is outside 8..=65464 (RFC 2348)"),
            "use a block size from 8 to 65464; 1468 keeps Ethernet frames whole",
        ));
    }
    if profile.tftp.max_windowsize == Some(0) {
        found.push(finding(
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
            found.push(finding(
                path,
                format!("`{name}` is 0"),
                "give a positive number of bytes (e.g. 0x20200), or remove the field",
            ));
        }
    }
    if profile.flash_seconds == Some(0) {
        found.push(finding(
            &["flash-seconds"],
            "`flash-seconds` is 0".to_owned(),
            "give how many seconds the router writes flash, e.g. 120, or remove the field",
        ));
    }
    if profile.steps.is_empty() {
        found.push(finding(
            &["steps"],
            "the profile has no `steps`".to_owned(),
            "add `steps:` with one `- do: ...` item per thing the technician does, in order",
        ));
    }
    for (number, step) in profile.steps.iter().enumerate() {
        if step.action.trim().is_empty() {
            found.push(finding(
                &["steps"],
                format!("step {} has an empty `do`", number + 1),
                "say what to do in that step, e.g. `do: Hold the reset button`",
            ));
        }
        if step.seconds == Some(0) {
            found.push(finding(
                &["steps"],
                format!("step {} lasts 0 `seconds`", number + 1),
                "give a positive number of seconds, or remove `seconds` from that step",
            ));
        }
    }
    for source in &profile.sources {
        if !(source.starts_with("https://") || source.starts_with("http://")) {
            found.push(finding(
                &["sources"],
                format!("source `{source}` is not a web address"),
                "write each source as a full URL starting with https://",
            ));
        }
    }
    found
}

fn check_id(id: &str, found: &mut Vec<Finding>) {
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
        found.push(finding(
            &["id"],
            format!("id `{id}` is not a slug"),
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
        found.push(finding(
            &["id"],
            format!("id `{id}` is a word of the `devices` command"),
            format!("pick another id, e.g. `{id}-router`"),
        ));
    }
}

fn check_host(host: Host, router: Option<Ipv4Addr>, found: &mut Vec<Finding>) {
    if !(8..=30).contains(&host.prefix) {
        found.push(finding(
            &["host", "prefix"],
            format!("host prefix /{} is outside 8..=30", host.prefix),
            "use the prefix of the bootloader's network, usually 24 (255.255.255.0)",
        ));
        // The subnet checks below would only repeat this problem.
        return;
    }
    let mask = u32::from(host.netmask());
    let network = u32::from(host.address) & mask;
    let broadcast = network | !mask;
    let subnet = format!("{}/{}", Ipv4Addr::from(network), host.prefix);
    let address = u32::from(host.address);
    if address == network || address == broadcast {
        found.push(finding(
            &["host", "address"],
            format!("host address {} is not usable in {subnet}", host.address),
            format!(
                "pick an address inside {subnet} other than its first and last, e.g. {}",
                Ipv4Addr::from(network + 2)
            ),
        ));
    }
    let Some(router) = router else { return };
    if router == host.address {
        found.push(finding(
            &["router"],
            format!("host and router are both {router}"),
            format!("give the laptop its own address in {subnet}, one the router does not use"),
        ));
    } else if !host.contains(router) {
        found.push(finding(
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
    found: &mut Vec<Finding>,
) {
    if value.trim().is_empty() {
        found.push(finding(
            path,
            format!("`{name}` is empty"),
            "give the file name the bootloader asks for (its TFTP request shows it), or remove the field",
        ));
    } else if value.contains(['/', '\\']) {
        let bare = value.rsplit(['/', '\\']).next().unwrap_or(value);
        found.push(finding(
            path,
            format!("`{name}` `{value}` contains a path separator"),
            format!("give the bare file name the bootloader uses, e.g. `{bare}`"),
        ));
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

    #[test]
    fn nearest_suggests_only_typos() {
        let fields = ["filename", "flash-seconds", "host"];
        assert_eq!(nearest("filenmae", &fields), Some("filename"));
        assert_eq!(nearest("colour", &fields), None);
        assert_eq!(nearest("seconds", &fields), Some("flash-seconds"));
    }
}
