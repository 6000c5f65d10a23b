//! Text for people: the device table, one device's full procedure, and docs/devices.md.
//!
//! Pure functions from profiles to strings, so the output is tested byte for byte.

use std::fmt::Write as _;

use super::catalogue::{Catalogue, Entry};
use super::schema::{Method, Profile};

/// "TP-Link TL-WR841N/ND v9": vendor, model and revisions.
pub fn device_name(profile: &Profile) -> String {
    let mut name = format!("{} {}", profile.vendor, profile.model);
    if !profile.revisions.is_empty() {
        name.push(' ');
        name.push_str(&profile.revisions.join("/"));
    }
    name
}

/// The method as the table shows it: a recovery rescue-wizard cannot carry out says so.
pub fn method_label(profile: &Profile) -> String {
    let method = profile.method;
    if profile.is_automated() {
        method.as_str().to_owned()
    } else {
        format!("{} (manual)", profile.method)
    }
}

/// The file name column: what the router asks for, or what is pushed.
pub fn file_label(profile: &Profile) -> String {
    if let Some(name) = &profile.filename {
        return name.clone();
    }
    if let Some(name) = &profile.tftp.remote_name {
        return name.clone();
    }
    if profile.method == Method::TftpClient {
        "(the image's name)".to_owned()
    } else {
        "-".to_owned()
    }
}

/// The laptop address column.
pub fn host_label(profile: &Profile) -> String {
    profile
        .host
        .map_or_else(|| "-".to_owned(), |host| host.to_string())
}

/// A plain text table of devices, one per line, columns padded to fit.
pub fn table(entries: &[&Entry]) -> String {
    let header = ["ID", "DEVICE", "METHOD", "LAPTOP", "FILE NAME"].map(str::to_owned);
    let mut rows = vec![header];
    for entry in entries {
        let profile = &entry.profile;
        let mut id = profile.id.clone();
        if !matches!(entry.origin, super::Origin::BuiltIn(_)) {
            // Marks profiles that did not come with rescue-wizard; the footer explains the star.
            id.push('*');
        }
        rows.push([
            id,
            device_name(profile),
            method_label(profile),
            host_label(profile),
            file_label(profile),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{cell:<width$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Width of the labels on a device's page, fixed so every page lines up the same way
/// ("Writing flash:" is the longest).
const WIDTH: usize = 14;

/// One device's full procedure for a person, steps numbered.
pub fn show(entry: &Entry) -> String {
    let p = &entry.profile;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", device_name(p), p.id);
    if !p.aliases.is_empty() {
        let _ = writeln!(out, "Also known as: {}", p.aliases.join(", "));
    }
    out.push('\n');
    let mut facts: Vec<(&str, String)> = Vec::new();
    facts.push(("Method", format!("{} — {}", p.method, p.method.describe())));
    if let Some(host) = p.host {
        facts.push(("Laptop", format!("{host} (netmask {})", host.netmask())));
    }
    facts.push((
        "Router",
        p.router.map_or_else(
            || "not known; rescue-wizard learns it from the router's ARP request".to_owned(),
            |router| format!("{router} while in recovery"),
        ),
    ));
    if let Some(name) = &p.filename {
        facts.push(("File name", name.clone()));
    }
    if !p.alternate_filenames.is_empty() {
        facts.push(("Also seen", p.alternate_filenames.join(", ")));
    }
    if let Some(tftp) = tftp_line(p) {
        facts.push(("TFTP", tftp));
    }
    if let Some(image) = image_line(p) {
        facts.push(("Image", image));
    }
    if let Some(seconds) = p.flash_seconds {
        facts.push((
            "Writing flash",
            format!("about {} — do not power off", duration(seconds)),
        ));
    }
    if let Some(after) = p.after {
        facts.push(("Afterwards", format!("the router answers on {after}")));
    }
    facts.push(("Confidence", confidence_line(p)));
    for (key, value) in &facts {
        let label = format!("{key}:");
        for (i, line) in value.lines().enumerate() {
            let label = if i == 0 { label.as_str() } else { "" };
            let _ = writeln!(out, "{label:<WIDTH$} {line}");
        }
    }
    out.push_str("\nProcedure");
    if !p.is_automated() {
        out.push_str(" (by hand: rescue-wizard cannot do this recovery for you yet)");
    }
    out.push_str(":\n");
    for (number, step) in p.steps.iter().enumerate() {
        let _ = write!(out, "  {:>2}. {}", number + 1, step.action.trim());
        if let Some(seconds) = step.seconds {
            let _ = write!(out, " ({})", duration(seconds));
        }
        out.push('\n');
        if let Some(led) = &step.led {
            let _ = writeln!(out, "      LEDs: {}", led.trim());
        }
    }
    if let Some(notes) = &p.notes {
        out.push_str("\nNotes:\n");
        for line in wrap(notes.trim(), 92) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !p.sources.is_empty() {
        out.push_str("\nSources:\n");
        for source in &p.sources {
            let _ = writeln!(out, "  - {source}");
        }
    }
    let _ = write!(out, "\nProfile: {}", entry.origin);
    if entry.overrides_builtin {
        out.push_str(", replacing the built-in profile");
    }
    out.push('\n');
    out
}

fn confidence_line(p: &Profile) -> String {
    let meaning = match p.confidence {
        super::Confidence::Verified => "checked on hardware or in the bootloader's source",
        super::Confidence::Reported => "consistent reports; not checked by rescue-wizard",
        super::Confidence::Unverified => {
            "some facts are guesses or conflict: watch what the router does on the wire"
        }
    };
    format!("{} ({meaning})", p.confidence.as_str())
}

fn tftp_line(p: &Profile) -> Option<String> {
    let t = &p.tftp;
    let mut parts = Vec::new();
    if let Some(options) = t.options {
        parts.push(format!("options {}", options.as_str()));
    }
    if let Some(blksize) = t.max_blksize {
        parts.push(format!("block size at most {blksize}"));
    }
    if let Some(rollover) = t.rollover {
        parts.push(match rollover {
            super::RolloverPolicy::No => "cannot pass block 65535".to_owned(),
            other => format!("block numbers wrap to {}", other.as_str()),
        });
    }
    if let Some(window) = t.max_windowsize {
        parts.push(format!("window at most {window}"));
    }
    if let Some(name) = &t.remote_name {
        parts.push(format!("push as `{name}`"));
    }
    if t.password.is_some() {
        parts.push("needs a password (see the profile)".to_owned());
    }
    if t.next_block_on_resend == Some(false) {
        parts.push("never send a block ahead of the one it expects".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn image_line(p: &Profile) -> Option<String> {
    let i = &p.image;
    let mut parts = Vec::new();
    if !i.kinds.is_empty() {
        let kinds: Vec<&str> = i.kinds.iter().map(|k| k.as_str()).collect();
        parts.push(format!("takes {}", kinds.join(", ")));
    }
    if let Some(max) = i.max_size {
        parts.push(format!("at most {max} bytes"));
    }
    if let Some(header) = &i.header {
        let mut text = format!("bytes {} at offset {:#x}", header.magic, header.offset);
        if let Some(meaning) = &header.meaning {
            let _ = write!(text, " ({meaning})");
        }
        parts.push(text);
    }
    if let Some(model) = &i.model_id {
        parts.push(format!("model id {model}"));
    }
    if let Some(strip) = i.strip_head {
        parts.push(format!(
            "cut the first {strip:#x} bytes from stock images with a bootloader"
        ));
    }
    if let Some(pad) = i.pad_head {
        parts.push(format!("put {pad:#x} zero bytes in front"));
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// "90 s", "2 min 30 s", "15 min".
fn duration(seconds: u32) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Greedy word wrap; paragraphs (blank lines) are kept.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split("\n\n") {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// docs/devices.md: a generated table of every built-in device with its method and sources.
pub fn devices_markdown(catalogue: &Catalogue) -> String {
    let mut out = String::from(
        "# Devices\n\n\
         <!-- Generated from devices/*.yaml by the test `docs_devices_md_is_in_sync`.\n     \
         Regenerate with: UPDATE_DOCS=1 cargo test --test profiles docs_devices_md_is_in_sync -->\n\n\
         Every device rescue-wizard knows, from the profiles in `devices/`. `rescue-wizard devices show ID`\n\
         prints the full procedure; docs/profiles.md explains the fields. Methods marked *manual* are\n\
         not automated yet: rescue-wizard shows their procedure but cannot carry it out. Every `nmrp`\n\
         device (Netgear) runs end to end, `rescue-wizard --device ID IMAGE.chk`, with `--region WW`\n\
         to write a region, without nmrpflash (docs/usage.md, docs/nmrp.md).\n\n\
         The DHCP and BOOTP recoveries run end to end as a technician runs them (docs/dhcp.md):\n\
         `sudo rescue-wizard --device xiaomi-mi-router-4a-gigabit miwifi.bin` (Xiaomi, `dhcp-tftp`) and\n\
         `sudo rescue-wizard --device mikrotik-routerboard openwrt-initramfs.bin` (MikroTik etherboot of\n\
         an OpenWrt initramfs, `bootp-tftp`), each tested against U-Boot in QEMU (`tests/dhcp_run.rs`),\n\
         MikroTik's plain BOOTP also with a client that sends no DHCP message type (`tests/dhcp.rs`).\n\n",
    );
    let _ = writeln!(out, "{} devices.\n", catalogue.len());
    out.push_str("| ID | Device | Method | Laptop | Router | File name | Confidence | Sources |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for entry in catalogue.entries() {
        let p = &entry.profile;
        let method = if p.is_automated() {
            format!("`{}`", p.method)
        } else {
            format!("`{}` (manual)", p.method)
        };
        let router = p
            .router
            .map_or_else(|| "?".to_owned(), |router| router.to_string());
        let file = match file_label(p).as_str() {
            "-" => "-".to_owned(),
            name if name.starts_with('(') => name.to_owned(),
            name => format!("`{name}`"),
        };
        let sources: Vec<String> = p
            .sources
            .iter()
            .enumerate()
            .map(|(i, url)| format!("[{}]({url})", i + 1))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            p.id,
            escape_cell(&device_name(p)),
            method,
            host_label(p),
            router,
            file,
            p.confidence.as_str(),
            sources.join(" ")
        );
    }
    out
}

/// Keeps a value from breaking a Markdown table row.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(120), "2 min");
        assert_eq!(duration(150), "2 min 30 s");
    }

    #[test]
    fn wrap_keeps_words_and_paragraphs() {
        let lines = wrap("one two three\n\nfour", 7);
        assert_eq!(lines, ["one two", "three", "", "four"]);
    }
}
