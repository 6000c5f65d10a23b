//! Device profiles: the catalogue, the messages users see for broken files, user overrides,
//! and the `devices` command, run as the real binary.

// A failed expectation in a test should stop it with the reason; that is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rescue_wizard::profile::{
    Catalogue, Confidence, Method, Origin, ProfileError, RolloverPolicy, parse_profile, render,
};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    manifest().join("tests/fixtures/profiles")
}

/// The binary, with a config folder of its own so no test ever reads the real home.
fn rescue_wizard(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rescue-wizard"));
    command.env("RESCUE_WIZARD_CONFIG_DIR", config);
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the binary runs");
    (
        status.code().expect("exited normally"),
        String::from_utf8(stdout).expect("UTF-8 stdout"),
        String::from_utf8(stderr).expect("UTF-8 stderr"),
    )
}

/// Compares `actual` with a checked-in file, or rewrites the file when `env_var` is set.
fn assert_matches_file(actual: &str, path: &Path, env_var: &str) {
    if std::env::var_os(env_var).is_some() {
        fs::write(path, actual).expect("write expected file");
        return;
    }
    let expected = fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is out of date.\nRegenerate it with: {env_var}=1 cargo test --test profiles\n\
         --- expected ---\n{expected}\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn every_catalogue_file_parses_and_validates() {
    let dir = manifest().join("devices");
    let mut count = 0;
    for entry in fs::read_dir(&dir).expect("devices/ exists") {
        let path = entry.expect("readable entry").path();
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml"),
            "{}: devices/ holds only .yaml profiles",
            path.display()
        );
        let text = fs::read_to_string(&path).expect("readable profile");
        let origin = path.display().to_string();
        let profile = parse_profile(&text, &origin).unwrap_or_else(|err| panic!("{err}"));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 name");
        assert_eq!(profile.id, stem, "{origin}: the file is named after its id");
        assert!(
            !profile.sources.is_empty(),
            "{origin}: a built-in profile cites its sources"
        );
        assert!(
            profile.sources.iter().all(|s| s.starts_with("https://")),
            "{origin}: sources are https URLs"
        );
        count += 1;
    }
    let builtin = Catalogue::builtin().expect("the embedded catalogue loads");
    assert_eq!(
        builtin.len(),
        count,
        "every file in devices/ is embedded, ids are unique"
    );
}

#[test]
fn catalogue_covers_the_devices_the_issue_names() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    assert!(catalogue.len() >= 30, "only {} devices", catalogue.len());
    let required = [
        "tl-wr841n-v8",
        "tl-wr841n-v9",
        "tl-wr841n-v10",
        "tl-wr841n-v11",
        "tl-wr841n-v12",
        "tl-wr841n-v13",
        "tl-wr841n-v14",
        "tl-wr740n-v4",
        "tl-wr1043n-v5",
        "archer-c7-v2",
        "archer-c7-v4",
        "archer-c7-v5",
        "archer-c6-v2",
        "archer-a6-v2",
        "tl-mr3020-v3",
        "tp-link-cpe210",
        "tp-link-cpe510",
        "netgear-wndr3700",
        "netgear-r7000",
        "ubiquiti-unifi-ap",
        "ubiquiti-edgerouter-x",
        "asus-rt-ac66u",
        "asus-rt-ac68u",
        "asus-rt-n16",
        "linksys-wrt54gl",
    ];
    for id in required {
        assert!(catalogue.get(id).is_ok(), "missing device `{id}`");
    }
    // The not-yet-automated families are catalogued with their manual procedure.
    for (vendor, method) in [
        ("Netgear", Method::Nmrp),
        ("Xiaomi", Method::DhcpTftp),
        ("MikroTik", Method::BootpTftp),
        ("D-Link", Method::Http),
        ("GL.iNet", Method::Http),
    ] {
        assert!(
            catalogue
                .entries()
                .any(|e| e.profile.vendor == vendor && e.profile.method == method),
            "no {vendor} device with method {method}"
        );
    }
    for entry in catalogue.entries() {
        let p = &entry.profile;
        if !p.is_automated() {
            assert!(
                p.steps.len() >= 2,
                "{}: a manual method needs its steps",
                p.id
            );
        }
    }
}

#[test]
fn unverified_facts_stay_marked() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    let mut marked = 0;
    for entry in catalogue.entries() {
        let p = &entry.profile;
        let notes = p.notes.as_deref().unwrap_or("");
        if notes.contains("[?]") {
            marked += 1;
            assert_eq!(
                p.confidence,
                Confidence::Unverified,
                "{}: notes flag a fact as unverified, so the profile must say so",
                p.id
            );
        }
        if p.confidence == Confidence::Unverified {
            assert!(
                notes.contains("[?]"),
                "{}: say in the notes which fact is unsure",
                p.id
            );
        }
    }
    assert!(marked > 0, "the research marks several facts [?]");
}

/// Every broken fixture and the exact message `devices check` prints for it.
const INVALID: &[(&str, &str)] = &[
    (
        "bad-address",
        "invalid/bad-address.yaml:8:9: in `router`: invalid IPv4 address
  fix: write four numbers from 0 to 255 separated by dots, e.g. 192.168.0.66",
    ),
    (
        "bad-hex",
        "invalid/bad-hex.yaml:12:5: in `image.header`: invalid hex bytes `48 44 5`
  fix: write pairs of hex digits, e.g. \"48 44 52 30\"",
    ),
    (
        "bad-rollover",
        "invalid/bad-rollover.yaml:11:13: in `tftp.rollover`: invalid value: integer `2`, expected 0, 1 or `no`
  fix: write 0 (wraps to block 0), 1 (wraps to block 1) or `no` (cannot pass block 65535)",
    ),
    (
        "control-in-filename",
        "invalid/control-in-filename.yaml:4:1: `aliases` \"router\\r1\" contains the control character U+000D
  fix: remove it: names are printed on the terminal, where control characters move the cursor or change colours; write the name as it is printed on the label or the download page
invalid/control-in-filename.yaml:9:1: `filename` \"recovery.bin\\u{7}\" contains the control character U+0007
  fix: remove it: names are printed on the terminal, where control characters move the cursor or change colours; write the name as it is printed on the label or the download page",
    ),
    (
        "control-in-model",
        "invalid/control-in-model.yaml:3:1: `model` \"Router 1\\u{1b}[2J\" contains the control character U+001B
  fix: remove it: names are printed on the terminal, where control characters move the cursor or change colours; write the name as it is printed on the label or the download page",
    ),
    (
        "dhcp-bad-mac",
        "invalid/dhcp-bad-mac.yaml:10:3: `dhcp.client-mac` \"8c:de:f9:12:34\" is not a hardware address
  fix: write six pairs of hex digits separated by colons, e.g. 8c:de:f9:12:34:56 (the router's label shows it)",
    ),
    (
        "dhcp-pool-backwards",
        "invalid/dhcp-pool-backwards.yaml:9:3: `dhcp.pool` 192.168.1.30 to 192.168.1.20 ends before it starts
  fix: give the lower address as `first`: first: 192.168.1.20, last: 192.168.1.30",
    ),
    (
        "dhcp-pool-other-subnet",
        "invalid/dhcp-pool-other-subnet.yaml:9:3: `dhcp.pool` address 192.168.32.1 is not in the laptop's subnet 192.168.31.0/24 (host 192.168.31.1/24)
  fix: lease addresses of 192.168.31.0/24, where the router can reach the laptop",
    ),
    (
        "dhcp-pool-too-big",
        "invalid/dhcp-pool-too-big.yaml:9:3: `dhcp.pool` 10.0.1.1 to 10.0.2.1 holds 257 addresses; a rescue pool holds at most 64
  fix: one router is on the cable: a few addresses are enough, e.g. last: 10.0.1.10",
    ),
    (
        "dhcp-with-tftp-server",
        "invalid/dhcp-with-tftp-server.yaml:9:1: `dhcp:` describes what a DHCP/BOOTP bootloader is given, but the method is `tftp-server`
  fix: remove `dhcp:`, or set `method: dhcp-tftp` (or `bootp-tftp`) if the bootloader asks for an address first
invalid/dhcp-with-tftp-server.yaml:10:3: `dhcp.images-by-vendor-class.Mips_boot` `mips/test.bin` contains a path separator
  fix: give the bare file name the bootloader uses, e.g. `test.bin`",
    ),
    (
        "filename-empty",
        "invalid/filename-empty.yaml:9:1: `filename` is empty
  fix: give the file name the bootloader asks for (its TFTP request shows it), or remove the field",
    ),
    (
        "filename-with-path",
        "invalid/filename-with-path.yaml:9:1: `filename` `firmware/recovery.bin` contains a path separator
  fix: give the bare file name the bootloader uses, e.g. `recovery.bin`",
    ),
    (
        "missing-vendor",
        "invalid/missing-vendor.yaml:1:1: missing field `vendor`
  fix: add `vendor:`; docs/profiles.md describes it with an example",
    ),
    (
        "negative-size",
        "invalid/negative-size.yaml:12:15: in `image.strip-head`: invalid type: integer `-1`, expected u64
  fix: write a whole number of 0 or more; hex such as 0x20200 is fine",
    ),
    (
        "no-steps",
        "invalid/no-steps.yaml: the profile has no `steps`
  fix: add `steps:` with one `- do: ...` item per thing the technician does, in order",
    ),
    (
        "not-a-slug",
        "invalid/not-a-slug.yaml:1:1: id `TL WR841N v9` is not a slug
  fix: use lower-case letters, digits and single dashes, e.g. `tl-wr841n-v9`",
    ),
    (
        "prefix-out-of-range",
        "invalid/prefix-out-of-range.yaml:7:3: host prefix /31 is outside 8..=30
  fix: use the prefix of the bootloader's network, usually 24 (255.255.255.0)",
    ),
    (
        "prefix-too-big",
        "invalid/prefix-too-big.yaml:7:11: in `host.prefix`: invalid value: integer `300`, expected u8
  fix: use a prefix from 8 to 30, usually 24 (255.255.255.0)",
    ),
    (
        "pull-without-filename",
        "invalid/pull-without-filename.yaml:4:1: method `tftp-server` needs `filename`: the name the router asks for
  fix: add `filename:`; the router's TFTP read request shows it, e.g. `tp_recovery.bin`",
    ),
    (
        "push-without-router",
        "invalid/push-without-router.yaml:4:1: method `tftp-client` needs `router`: the address to push the image to
  fix: add `router:` with the bootloader's address, e.g. 192.168.1.1",
    ),
    (
        "reserved-id",
        "invalid/reserved-id.yaml:1:1: id `show` is a word of the `devices` command
  fix: pick another id, e.g. `show-router`",
    ),
    (
        "router-is-host",
        "invalid/router-is-host.yaml:8:1: host and router are both 192.168.0.66
  fix: give the laptop its own address in 192.168.0.0/24, one the router does not use",
    ),
    (
        "router-other-subnet",
        "invalid/router-other-subnet.yaml:8:1: router 192.168.1.86 is not in the laptop's subnet 192.168.0.0/24 (host 192.168.0.66/24)
  fix: put host and router in one subnet: change one address, or the host prefix",
    ),
    (
        "source-not-url",
        "invalid/source-not-url.yaml:12:1: source `forum.openwrt.org/t/33670` is not a web address
  fix: write each source as a full URL starting with https://",
    ),
    (
        "tab-indent",
        "invalid/tab-indent.yaml:2:1: YAML syntax: found a tab character that violates indentation, while scanning a plain scalar
  fix: check the indentation here (spaces, not tabs), and that quotes and brackets are closed",
    ),
    (
        "too-deep",
        "invalid/too-deep.yaml:4:25: lists and maps nest deeper than 16 levels here
  fix: a device profile nests three levels at most (`steps`, a step, its fields): close the brackets and lists opened before this point, or check that the file is a device profile",
    ),
    (
        "unclosed-quote",
        "invalid/unclosed-quote.yaml:13:1: YAML syntax: found unexpected end of stream, while scanning a quoted scalar
  fix: check the indentation here (spaces, not tabs), and that quotes and brackets are closed",
    ),
    (
        "unknown-field",
        "invalid/unknown-field.yaml:9:1: unknown field `filenmae`, did you mean `filename`?
  fix: rename `filenmae` to `filename`",
    ),
    (
        "unknown-method",
        "invalid/unknown-method.yaml:4:9: in `method`: unknown value `tftp-sever`, did you mean `tftp-server`?
  fix: write `tftp-server`; the values allowed here are `tftp-server`, `tftp-client`, `nmrp`, `dhcp-tftp`, `bootp-tftp`, `http`, `console`",
    ),
    (
        "unknown-nested-field",
        "invalid/unknown-nested-field.yaml:11:3: in `tftp`: unknown field `blksize`, did you mean `max-blksize`?
  fix: rename `blksize` to `max-blksize`",
    ),
    (
        "zero-sizes",
        "invalid/zero-sizes.yaml:11:3: `image.max-size` is 0
  fix: give a positive number of bytes (e.g. 0x20200), or remove the field
invalid/zero-sizes.yaml:12:1: `flash-seconds` is 0
  fix: give how many seconds the router writes flash, e.g. 120, or remove the field",
    ),
];

#[test]
fn each_broken_fixture_prints_its_exact_message_and_exits_2() {
    let config = tempfile::tempdir().expect("temp dir");
    for (name, message) in INVALID {
        let file = format!("invalid/{name}.yaml");
        let (code, stdout, stderr) = run(rescue_wizard(config.path())
            .current_dir(fixtures())
            .args(["devices", "check", &file]));
        assert_eq!(code, 2, "{file}: exit status");
        assert_eq!(stdout, "", "{file}: nothing on stdout");
        assert_eq!(
            stderr,
            format!("{message}\n1 of 1 profile file is invalid\n"),
            "{file}: message"
        );
    }
}

/// Runs `devices check` on `path` and returns its exit code, stderr and how long it took.
fn check_timed(path: &Path) -> (i32, String, std::time::Duration) {
    let config = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(rescue_wizard(config.path())
        .args(["devices", "check"])
        .arg(path));
    (code, stderr, started.elapsed())
}

#[test]
fn a_profile_nested_100k_deep_is_refused_before_the_yaml_parser() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The attack as filed: 100k `[` are more bytes than a profile may have.
    let path = dir.path().join("deep.yaml");
    let text = format!("id: deep\nsteps: {}\n", "[".repeat(100_000));
    fs::write(&path, &text).expect("write");
    let started = std::time::Instant::now();
    let err = rescue_wizard::profile::read_profile_file(&path).expect_err("refused");
    let took = started.elapsed();
    println!("100k-deep profile refused by the library in {took:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: the file is 100017 bytes (0.1 MiB); a profile may be at most 65536 bytes",
            path.display()
        )),
        "{err}"
    );
    // The YAML parser took 37 s on this document.
    assert!(took.as_millis() < 500, "took {took:?}");

    // Within the size cap, the nesting cap refuses it: the scan stops at the 17th level.
    let path = dir.path().join("deep-small.yaml");
    fs::write(&path, format!("id: deep\nsteps: {}\n", "[".repeat(60_000))).expect("write");
    let started = std::time::Instant::now();
    let err = rescue_wizard::profile::read_profile_file(&path).expect_err("refused");
    let took = started.elapsed();
    println!("60k-deep profile refused by the library in {took:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:23: lists and maps nest deeper than 16 levels here\n  fix: a device profile \
             nests three levels at most (`steps`, a step, its fields): close the brackets and \
             lists opened before this point, or check that the file is a device profile",
            path.display()
        )
    );
    assert!(took.as_millis() < 500, "took {took:?}");

    let (code, stderr, took) = check_timed(&path);
    println!("60k-deep profile refused by `devices check` in {took:?}");
    assert_eq!(code, 2);
    assert!(
        stderr.contains(":2:23: lists and maps nest deeper than 16 levels here"),
        "{stderr}"
    );
}

#[test]
fn a_50_mb_profile_is_refused_by_its_length_unread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huge.yaml");
    let step = "  - do: Hold the reset button.\n";
    let mut text = String::from("id: huge\nsteps:\n");
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(step);
    }
    fs::write(&path, &text).expect("write");
    let len = text.len();
    drop(text);

    let started = std::time::Instant::now();
    let err = rescue_wizard::profile::read_profile_file(&path).expect_err("refused");
    let took = started.elapsed();
    println!("50 MB profile refused by the library in {took:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{path}: the file is {len} bytes (50.0 MiB); a profile may be at most 65536 bytes \
             (64 KiB)\n  fix: a device profile is a page of YAML (the built-in ones are under \
             2 KiB): check that {path} is the profile you meant, not a firmware image or a log",
            path = path.display()
        )
    );
    assert!(took.as_millis() < 500, "took {took:?}");

    let (code, stderr, took) = check_timed(&path);
    println!("50 MB profile refused by `devices check` in {took:?}");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("a profile may be at most 65536 bytes"),
        "{stderr}"
    );
}

#[test]
fn every_broken_fixture_has_an_expected_message() {
    let mut names: Vec<String> = fs::read_dir(fixtures().join("invalid"))
        .expect("fixtures")
        .map(|e| {
            let path = e.expect("entry").path();
            path.file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 name")
                .to_owned()
        })
        .collect();
    names.sort();
    let covered: Vec<String> = INVALID.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(names, covered);
}

#[test]
fn check_accepts_valid_files_and_says_what_they_replace() {
    let config = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = run(rescue_wizard(config.path()).current_dir(fixtures()).args([
        "devices",
        "check",
        "valid/minimal.yaml",
        "valid/full.yaml",
        "valid/override-c7v5.yaml",
    ]));
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "ok: valid/minimal.yaml (test-router)\n\
         ok: valid/full.yaml (every-field)\n\
         ok: valid/override-c7v5.yaml (archer-c7-v5), replaces the built-in profile `archer-c7-v5`\n"
    );
}

#[test]
fn check_with_one_bad_file_among_good_ones_exits_2() {
    let config = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = run(rescue_wizard(config.path()).current_dir(fixtures()).args([
        "devices",
        "check",
        "valid/minimal.yaml",
        "invalid/unknown-field.yaml",
        "missing.yaml",
    ]));
    assert_eq!(code, 2);
    assert_eq!(stdout, "ok: valid/minimal.yaml (test-router)\n");
    assert!(stderr.starts_with("invalid/unknown-field.yaml:9:1: unknown field `filenmae`"));
    assert!(stderr.contains("cannot read profile missing.yaml: "));
    assert!(
        stderr.ends_with("2 of 3 profile files are invalid\n"),
        "{stderr}"
    );
}

#[test]
fn every_field_of_the_reference_example_is_read() {
    let text = fs::read_to_string(fixtures().join("valid/full.yaml")).expect("fixture");
    let p = parse_profile(&text, "full.yaml").expect("valid");
    assert_eq!(p.method, Method::TftpClient);
    assert_eq!(
        p.host.map(|h| h.to_string()).as_deref(),
        Some("192.168.1.2/24")
    );
    assert_eq!(p.tftp.max_blksize, Some(1468));
    assert_eq!(p.tftp.rollover.map(RolloverPolicy::as_str), Some("no"));
    assert_eq!(p.tftp.password.as_deref(), Some("admin"));
    assert_eq!(p.image.strip_head, Some(0x20200));
    assert_eq!(p.image.pad_head, Some(0x10000));
    let header = p.image.header.expect("header");
    assert_eq!(header.magic.0, b"HDR0");
    assert_eq!(p.steps[1].seconds, Some(10));
    assert_eq!(p.flash_seconds, Some(120));
}

#[test]
fn listing_matches_its_snapshot() {
    let config = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = run(rescue_wizard(config.path()).arg("devices"));
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_matches_file(
        &stdout,
        &fixtures().join("devices-list.txt"),
        "UPDATE_SNAPSHOTS",
    );
}

#[test]
fn docs_devices_md_is_in_sync() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    assert_matches_file(
        &render::devices_markdown(&catalogue),
        &manifest().join("docs/devices.md"),
        "UPDATE_DOCS",
    );
}

fn ids(entries: &[&rescue_wizard::profile::Entry]) -> Vec<String> {
    entries.iter().map(|e| e.profile.id.clone()).collect()
}

#[test]
fn search_ignores_case_and_punctuation() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    assert_eq!(ids(&catalogue.search("wr841 v9")), ["tl-wr841n-v9"]);
    assert_eq!(ids(&catalogue.search("TL-WR841N/ND V9")), ["tl-wr841n-v9"]);
    assert_eq!(
        ids(&catalogue.search("archer c7")),
        ["archer-c7-v2", "archer-c7-v4", "archer-c7-v5"]
    );
    assert_eq!(ids(&catalogue.search("Archer_C7 (v5)"))[0], "archer-c7-v5");
    assert!(catalogue.search("no such router").is_empty());
    assert!(catalogue.search("  --  ").is_empty());
}

#[test]
fn search_from_the_command_line_takes_several_words() {
    let config = tempfile::tempdir().expect("temp dir");
    let (code, stdout, _) = run(rescue_wizard(config.path()).args(["devices", "wr841", "v9"]));
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("ID "), "{stdout}");
    assert!(lines[1].starts_with("tl-wr841n-v9 "), "{stdout}");
    assert_eq!(lines[2], "");
    assert!(lines[3].starts_with("1 device."), "{stdout}");

    // A near miss is suggested, and still exits 2: nothing matched.
    let (code, stdout, _) = run(rescue_wizard(config.path()).args(["devices", "wr8411"]));
    assert_eq!(code, 2);
    assert!(
        stdout.starts_with("No device matches `wr8411`.\nNearest ids: "),
        "{stdout}"
    );
}

#[test]
fn show_prints_numbered_steps_and_sources() {
    let config = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) =
        run(rescue_wizard(config.path()).args(["devices", "show", "archer-c7-v5"]));
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert!(
        stdout.starts_with("TP-Link Archer C7 v5 (archer-c7-v5)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("File name:     ArcherC7v5_tp_recovery.bin\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nProcedure:\n   1. "), "{stdout}");
    assert!(stdout.contains("\n   2. Hold the reset button"), "{stdout}");
    assert!(stdout.contains("  - https://github.com/openwrt/openwrt/pull/893\n"));
    assert!(stdout.ends_with("Profile: built in (devices/archer-c7-v5.yaml)\n"));
}

#[test]
fn show_says_when_the_procedure_is_manual() {
    let config = tempfile::tempdir().expect("temp dir");
    // A device whose method rescue-wizard does not carry out itself.
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    let manual = catalogue
        .entries()
        .find(|e| !e.profile.is_automated())
        .map(|e| e.profile.id.clone())
        .expect("a device recovered by hand");
    let (code, stdout, _) = run(rescue_wizard(config.path()).args(["devices", "show", &manual]));
    assert_eq!(code, 0);
    assert!(stdout.contains(
        "\nProcedure (by hand: rescue-wizard cannot do this recovery for you yet):\n   1. "
    ));
}

#[test]
fn an_unknown_id_suggests_the_nearest_and_exits_2() {
    let config = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) =
        run(rescue_wizard(config.path()).args(["devices", "show", "tl-wr841-v9"]));
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: no device profile has the id `tl-wr841-v9`; did you mean `tl-wr841n-v9`, `tl-wr841n-v8`, `tl-wr841n-v13`?\n  \
         fix: `rescue-wizard devices` lists every device; `rescue-wizard devices QUERY` searches them\n"
    );
}

/// Writes `files` into `<config>/devices/`.
fn user_profiles(files: &[(&str, &str)]) -> tempfile::TempDir {
    let config = tempfile::tempdir().expect("temp dir");
    let dir = config.path().join("devices");
    fs::create_dir(&dir).expect("devices dir");
    for (name, text) in files {
        fs::write(dir.join(name), text).expect("write profile");
    }
    config
}

fn fixture(name: &str) -> String {
    fs::read_to_string(fixtures().join(name)).expect("fixture")
}

#[test]
fn user_profiles_add_devices_and_override_by_id() {
    let config = user_profiles(&[
        ("mine.yaml", &fixture("valid/minimal.yaml")),
        ("c7.yaml", &fixture("valid/override-c7v5.yaml")),
        ("readme.txt", "not a profile"),
    ]);
    let dir = config.path().join("devices");
    let (catalogue, problems) = Catalogue::load(Some(&dir)).expect("built-ins load");
    assert!(problems.is_empty(), "{problems:?}");
    let builtin = Catalogue::builtin().expect("built-ins load");
    assert_eq!(catalogue.len(), builtin.len() + 1);
    let c7 = catalogue.get("archer-c7-v5").expect("present");
    assert_eq!(c7.profile.confidence, Confidence::Verified);
    assert_eq!(c7.origin, Origin::User(dir.join("c7.yaml")));
    assert!(c7.overrides_builtin);
    assert!(catalogue.get("test-router").is_ok());
}

#[test]
fn a_broken_user_profile_is_reported_and_skipped() {
    let config = user_profiles(&[
        ("a-broken.yaml", &fixture("invalid/unknown-field.yaml")),
        ("b-good.yaml", &fixture("valid/minimal.yaml")),
    ]);
    let dir = config.path().join("devices");
    let (catalogue, problems) = Catalogue::load(Some(&dir)).expect("built-ins load");
    assert!(
        catalogue.get("test-router").is_ok(),
        "the good profile still loads"
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].to_string(),
        format!(
            "{}:9:1: unknown field `filenmae`, did you mean `filename`?\n  fix: rename `filenmae` to `filename`",
            dir.join("a-broken.yaml").display()
        )
    );

    // The command line goes on too, and says what it skipped.
    let (code, stdout, stderr) = run(rescue_wizard(config.path()).args(["devices", "test router"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("test-router* "), "{stdout}");
    assert!(
        stdout.ends_with(&format!("* from {}\n", dir.display())),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("warning: skipped a user profile:\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a-broken.yaml:9:1: unknown field `filenmae`"),
        "{stderr}"
    );
}

#[test]
fn a_duplicate_user_id_names_both_files() {
    let minimal = fixture("valid/minimal.yaml");
    let config = user_profiles(&[("one.yaml", &minimal), ("two.yaml", &minimal)]);
    let dir = config.path().join("devices");
    let (catalogue, problems) = Catalogue::load(Some(&dir)).expect("built-ins load");
    let kept = catalogue.get("test-router").expect("the first one is kept");
    assert_eq!(kept.origin, Origin::User(dir.join("one.yaml")));
    assert_eq!(problems.len(), 1);
    assert!(matches!(problems[0], ProfileError::DuplicateId { .. }));
    assert_eq!(
        problems[0].to_string(),
        format!(
            "device id `test-router` is defined twice: in {} and in {}; the second is skipped\n  \
             fix: give one of them another `id`, or delete one",
            dir.join("one.yaml").display(),
            dir.join("two.yaml").display()
        )
    );
}

#[test]
fn a_missing_user_folder_is_no_problem() {
    let config = tempfile::tempdir().expect("temp dir");
    let (catalogue, problems) =
        Catalogue::load(Some(&config.path().join("devices"))).expect("built-ins load");
    assert!(problems.is_empty());
    assert_eq!(catalogue.len(), Catalogue::builtin().expect("loads").len());
}

#[test]
fn a_profile_for_one_run_replaces_the_built_in_one() {
    let mut catalogue = Catalogue::builtin().expect("built-ins load");
    let path = fixtures().join("valid/override-c7v5.yaml");
    let entry = catalogue.add_profile_file(&path).expect("valid");
    assert_eq!(entry.origin, Origin::OneRun(path.clone()));
    assert!(entry.overrides_builtin);
    let err = catalogue
        .add_profile_file(&fixtures().join("invalid/no-steps.yaml"))
        .expect_err("invalid");
    assert!(err.to_string().contains("the profile has no `steps`"));
}

#[test]
fn loading_and_checking_never_modify_the_users_files() {
    let broken = fixture("invalid/zero-sizes.yaml");
    let good = fixture("valid/override-c7v5.yaml");
    let config = user_profiles(&[("broken.yaml", &broken), ("good.yaml", &good)]);
    let dir = config.path().join("devices");
    let before: Vec<_> = ["broken.yaml", "good.yaml"]
        .iter()
        .map(|n| {
            let path = dir.join(n);
            let meta = fs::metadata(&path).expect("metadata");
            (
                fs::read(&path).expect("read"),
                meta.modified().expect("mtime"),
            )
        })
        .collect();
    let _ = Catalogue::load(Some(&dir)).expect("built-ins load");
    let _ = run(rescue_wizard(config.path())
        .arg("devices")
        .arg("check")
        .arg(dir.join("broken.yaml"))
        .arg(dir.join("good.yaml")));
    let _ = run(rescue_wizard(config.path()).args(["devices", "show", "archer-c7-v5"]));
    for (name, (bytes, mtime)) in ["broken.yaml", "good.yaml"].iter().zip(&before) {
        let path = dir.join(name);
        assert_eq!(&fs::read(&path).expect("read"), bytes, "{name} unchanged");
        assert_eq!(
            &fs::metadata(&path)
                .expect("metadata")
                .modified()
                .expect("mtime"),
            mtime,
            "{name} not rewritten"
        );
    }
    let names: Vec<_> = fs::read_dir(&dir).expect("dir").collect();
    assert_eq!(
        names.len(),
        2,
        "no file was added next to the user's profiles"
    );
}

#[test]
fn the_complete_example_in_docs_profiles_md_is_valid() {
    let doc = fs::read_to_string(manifest().join("docs/profiles.md")).expect("docs/profiles.md");
    let start = doc.find("```yaml\nid:").expect("a complete example") + "```yaml\n".len();
    let len = doc[start..].find("```").expect("the example ends");
    let profile = parse_profile(&doc[start..start + len], "docs/profiles.md").expect("valid");
    // Every optional section is present, so the example really shows every field.
    assert!(profile.tftp.options.is_some() && profile.tftp.rollover.is_some());
    assert!(profile.image.header.is_some() && profile.image.model_id.is_some());
    assert!(profile.flash_seconds.is_some() && profile.after.is_some());
}
