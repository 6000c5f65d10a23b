//! The built-in catalogue: each fact corrected against a primary source keeps its value and
//! names that source; the generated profiles are what the generator makes of its pinned
//! inputs; no two profiles claim one name; and the popular models are found as people type
//! them.

// A failed expectation in a test should stop it with the reason; that is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use rescue_wizard::profile::{Catalogue, Confidence, Profile};

/// The built-in profile `id`.
fn profile(id: &str) -> Profile {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    catalogue
        .get(id)
        .unwrap_or_else(|err| panic!("{err}"))
        .profile
        .clone()
}

/// Asserts that `profile` cites `source` among its sources.
fn assert_cites(profile: &Profile, source: &str) {
    assert!(
        profile.sources.iter().any(|s| s == source),
        "{}: the corrected fact's source {source} is missing from {:?}",
        profile.id,
        profile.sources
    );
}

/// Every step's text of `profile`, lower-cased, one string.
fn procedure(profile: &Profile) -> String {
    profile
        .steps
        .iter()
        .map(|step| step.action.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n")
}

const OPENWRT: &str = "https://github.com/openwrt/openwrt/commit/";

#[test]
fn archer_c7_v5_writes_for_150_seconds() {
    let p = profile("archer-c7-v5");
    assert_eq!(p.flash_seconds, Some(150));
    assert_eq!(p.steps.last().and_then(|s| s.seconds), Some(150));
    assert!(p.steps.iter().all(|s| s.seconds != Some(30)));
    assert_cites(
        &p,
        &format!("{OPENWRT}8471944325db80ca37f7c756130070d0add58ff6"),
    );
}

#[test]
fn tl_wr841n_v12_asks_for_the_v11_file_name() {
    let p = profile("tl-wr841n-v12");
    assert_eq!(p.filename.as_deref(), Some("wr841nv11_tp_recovery.bin"));
    assert!(
        !p.alternate_filenames
            .iter()
            .any(|name| name.contains("v12") || name.contains("v10")),
        "{:?}",
        p.alternate_filenames
    );
    assert_cites(
        &p,
        &format!("{OPENWRT}8b76c6695b9274e3c12fdf80bcad7dc0c7202585"),
    );
}

#[test]
fn tl_wr841n_v11_file_name_is_sourced() {
    let p = profile("tl-wr841n-v11");
    assert_eq!(p.filename.as_deref(), Some("wr841nv11_tp_recovery.bin"));
    assert!(p.alternate_filenames.is_empty(), "no unsourced alternate");
    assert!(!p.notes.as_deref().unwrap_or("").contains("[?]"));
    assert_cites(
        &p,
        &format!("{OPENWRT}8b76c6695b9274e3c12fdf80bcad7dc0c7202585"),
    );
    assert_cites(&p, "https://github.com/freifunklippe/fflip-debricker");
}

#[test]
fn archer_c7_v2_comes_back_on_stock_address_too() {
    let p = profile("archer-c7-v2");
    assert_eq!(p.after, Some(Ipv4Addr::new(192, 168, 1, 1)));
    assert_eq!(p.after_alternates, [Ipv4Addr::new(192, 168, 0, 1)]);
    assert_cites(
        &p,
        "https://forum.openwrt.org/t/archer-c7-v2-tftp-flash-failing/16773",
    );
}

#[test]
fn dlink_dir_878_and_dir_1260_write_for_minutes_after_waiting_for_the_page() {
    for id in ["dlink-dir-878-a1", "dlink-dir-1260"] {
        let p = profile(id);
        assert_eq!(p.flash_seconds, Some(240), "{id}");
        assert_eq!(p.steps.last().and_then(|s| s.seconds), Some(240), "{id}");
        let page = p
            .steps
            .iter()
            .position(|s| s.action.contains("recovery page to start"))
            .unwrap_or_else(|| panic!("{id}: no wait for the recovery page"));
        let upload = p
            .steps
            .iter()
            .position(|s| s.action.contains("http://192.168.0.1"))
            .expect("an upload step");
        assert!(page < upload, "{id}: wait for the page before browsing");
        assert_eq!(p.steps[page].seconds, Some(30), "{id}");
        assert!(procedure(&p).contains("firmware=@"), "{id}: the curl path");
        assert_cites(&p, "https://github.com/openwrt/openwrt/pull/2588");
        assert_cites(&p, "https://github.com/openwrt/openwrt/pull/3029");
    }
}

#[test]
fn linksys_wrt54g_needs_no_boot_wait_once_the_image_is_broken() {
    for id in ["linksys-wrt54g", "linksys-wrt54gl"] {
        let p = profile(id);
        let steps = procedure(&p);
        assert!(!steps.contains("must have boot_wait"), "{id}: {steps}");
        assert!(steps.contains("broken image"), "{id}: {steps}");
        let notes = p.notes.as_deref().unwrap_or("");
        assert!(notes.contains("needs no `boot_wait`"), "{id}: {notes}");
        assert_cites(
            &p,
            "https://web.archive.org/web/2010/http://nuwiki.openwrt.org/oldwiki/OpenWrtDocs/BootWait",
        );
    }
}

#[test]
fn dlink_dap_1330_recovers_at_192_168_0_50() {
    let p = profile("dlink-dap-1330-a1");
    assert_eq!(p.router, Some(Ipv4Addr::new(192, 168, 0, 50)));
    let steps = procedure(&p);
    assert!(steps.contains("http://192.168.0.50"), "{steps}");
    assert!(!steps.contains("192.168.1.1"), "{steps}");
    assert!(steps.contains("flashes red"), "{steps}");
    assert_cites(
        &p,
        &format!("{OPENWRT}361c670a468cac8def368ed95487c72cfdb4a3fa"),
    );
}

#[test]
fn tl_wr1043n_v5_is_held_while_powering_on_and_its_addresses_are_sourced() {
    let p = profile("tl-wr1043n-v5");
    let steps = procedure(&p);
    assert!(!steps.contains("just after power-on"), "{steps}");
    assert!(
        steps.contains("hold the reset button and power the router on"),
        "{steps}"
    );
    assert_eq!(p.filename.as_deref(), Some("WR1043v5_tp_recovery.bin"));
    assert_eq!(p.alternate_filenames, ["wr1043v5_tp_recovery.bin"]);
    assert_eq!(
        p.host.map(|h| h.address),
        Some(Ipv4Addr::new(192, 168, 0, 66))
    );
    assert_eq!(p.router, Some(Ipv4Addr::new(192, 168, 0, 86)));
    assert_eq!(p.confidence, Confidence::Reported);
    assert_cites(
        &p,
        &format!("{OPENWRT}d4b89b7170ab82530cfaf21e5f00bee7088432e2"),
    );
}

#[test]
fn tl_wr841n_v13_laptop_is_192_168_0_66() {
    let p = profile("tl-wr841n-v13");
    assert_eq!(
        p.host.map(|h| h.address),
        Some(Ipv4Addr::new(192, 168, 0, 66))
    );
    assert!(!p.notes.as_deref().unwrap_or("").contains(".225"));
    assert_cites(
        &p,
        &format!("{OPENWRT}24043a0d2e01b9843c0dc529205b3b0bc7ecbbf9"),
    );
}

#[test]
fn tl_mr3020_v3_laptop_is_192_168_0_225() {
    let p = profile("tl-mr3020-v3");
    assert_eq!(
        p.host.map(|h| h.address),
        Some(Ipv4Addr::new(192, 168, 0, 225))
    );
    assert_cites(
        &p,
        &format!("{OPENWRT}6bbb2202551be394fead2efd99eb946f846fc63d"),
    );
}

#[test]
fn unifi_ap_hold_is_10_seconds_and_the_write_2_minutes() {
    let p = profile("ubiquiti-unifi-ap");
    assert_eq!(p.steps[1].seconds, Some(10));
    assert_eq!(p.flash_seconds, Some(120));
    assert!(!p.notes.as_deref().unwrap_or("").contains("[?]"));
    assert_cites(
        &p,
        &format!("{OPENWRT}b7da0d294465d5ab8d923f3b8265ece0a5847ac3"),
    );
}

#[test]
fn mikrotik_hold_is_until_the_led_turns_off() {
    let p = profile("mikrotik-routerboard");
    let hold = p
        .steps
        .iter()
        .find(|s| s.action.contains("hold reset"))
        .expect("a hold step");
    assert_eq!(hold.seconds, Some(5));
    assert_eq!(hold.led.as_deref(), Some("LED flashes, then turns off"));
    assert!(
        !p.notes
            .as_deref()
            .unwrap_or("")
            .contains("before it etherboots varies")
    );
    assert_cites(
        &p,
        "https://help.mikrotik.com/docs/display/ROS/Reset+Button",
    );
}

#[test]
fn xiaomi_recoveries_serve_test_bin() {
    for id in [
        "xiaomi-mi-router-4a-gigabit",
        "xiaomi-mi-router-3g",
        "xiaomi-rb03",
    ] {
        let p = profile(id);
        assert_eq!(p.filename.as_deref(), Some("test.bin"), "{id}");
        assert_cites(
            &p,
            &format!("{OPENWRT}39e4f03fd335d5b5d1259d74fc3f00ad09e7796c"),
        );
    }
}

#[test]
fn nmrp_addresses_are_said_to_be_nmrpflash_defaults() {
    for id in [
        "netgear-r6220",
        "netgear-r6350",
        "netgear-r6400",
        "netgear-wndr4300",
        "netgear-orbi-rbr50",
    ] {
        let p = profile(id);
        assert_eq!(
            p.host.map(|h| h.address),
            Some(Ipv4Addr::new(10, 164, 183, 252)),
            "{id}"
        );
        let notes = p.notes.as_deref().unwrap_or("");
        assert!(notes.contains("since 0.9.17"), "{id}: {notes}");
        assert_cites(&p, "https://github.com/jclehner/nmrpflash/commit/4fa5166");
    }
}

#[test]
fn cpe_revisions_are_named_from_their_support_commits() {
    assert_cites(
        &profile("tp-link-cpe210"),
        &format!("{OPENWRT}08857e69becc214336ba073bca6f626bfaa67781"),
    );
    let cpe510 = profile("tp-link-cpe510");
    assert_cites(
        &cpe510,
        &format!("{OPENWRT}0104eed1e5ca93a1c912e2d9b70e800b8d3099ad"),
    );
    assert_cites(
        &cpe510,
        &format!("{OPENWRT}cad4132e003cecc386d791d552ddba42c182c216"),
    );
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first line of every file tools/catalogue/catalogue.py writes.
const GENERATED_MARK: &str = "# Generated by tools/catalogue/catalogue.py";

/// The generated profiles in `dir`: file name and text.
fn generated_files(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .expect("readable folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter_map(|path| {
            let text = fs::read_to_string(&path).expect("readable profile");
            let name = path.file_name()?.to_str()?.to_owned();
            text.starts_with(GENERATED_MARK).then_some((name, text))
        })
        .collect()
}

#[test]
fn the_generator_reproduces_the_committed_profiles_from_its_pinned_inputs() {
    let Some(python) = support::which("python3") else {
        support::skip_or_fail("python3 is not installed: the catalogue generator needs it");
        return;
    };
    let out = tempfile::tempdir().expect("temp dir");
    let run = Command::new(python)
        .arg(manifest().join("tools/catalogue/catalogue.py"))
        .args(["render", "--out"])
        .arg(out.path())
        .output()
        .expect("the generator runs");
    assert!(
        run.status.success(),
        "the generator failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let fresh = generated_files(out.path());
    let committed = generated_files(&manifest().join("devices"));
    assert!(
        fresh.len() >= 200,
        "the generator wrote only {} profiles",
        fresh.len()
    );
    let fresh_names: BTreeSet<&String> = fresh.keys().collect();
    let committed_names: BTreeSet<&String> = committed.keys().collect();
    assert_eq!(
        fresh_names, committed_names,
        "devices/ and the generator disagree on which generated profiles exist; rerun \
         `python3 tools/catalogue/catalogue.py render`"
    );
    for (name, text) in &fresh {
        assert!(
            committed[name] == *text,
            "devices/{name} differs from what the generator makes of its pinned inputs; rerun \
             `python3 tools/catalogue/catalogue.py render` or change the generator"
        );
    }
}

#[test]
fn every_generated_fact_names_its_commit() {
    let committed = generated_files(&manifest().join("devices"));
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    for name in committed.keys() {
        let id = name.trim_end_matches(".yaml");
        let p = &catalogue
            .get(id)
            .expect("a generated profile is embedded")
            .profile;
        assert!(
            p.sources.iter().any(|s| {
                let commit = s
                    .strip_prefix("https://github.com/openwrt/openwrt/commit/")
                    .or_else(|| {
                        s.strip_prefix("https://github.com/openwrt/openwrt/blob/")
                            .and_then(|rest| rest.split('/').next())
                    });
                commit.is_some_and(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            }),
            "{id}: no source names an OpenWrt commit: {:?}",
            p.sources
        );
    }
}

/// A web address, or a bare git commit id (7 to 40 hex digits).
fn is_url_or_commit(source: &str) -> bool {
    let commit = (7..=40).contains(&source.len()) && source.bytes().all(|b| b.is_ascii_hexdigit());
    commit || source.starts_with("https://") || source.starts_with("http://")
}

#[test]
fn every_profile_validates_cites_urls_or_commits_and_claims_its_own_names() {
    let catalogue = Catalogue::builtin().expect("every embedded profile validates");
    let files = fs::read_dir(manifest().join("devices"))
        .expect("devices/")
        .count();
    assert_eq!(catalogue.len(), files, "two files claim one id");
    // Each name a search treats as exact (id, alias) belongs to one profile only.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for entry in catalogue.entries() {
        let p = &entry.profile;
        assert!(!p.sources.is_empty(), "{}: no sources", p.id);
        for source in &p.sources {
            assert!(is_url_or_commit(source), "{}: source `{source}`", p.id);
        }
        let mut names: BTreeSet<String> = p.aliases.iter().map(|a| squash(a)).collect();
        names.insert(squash(&p.id));
        for name in names {
            if let Some(first) = owner.insert(name.clone(), p.id.clone()) {
                clashes.push(format!("`{name}`: {first} and {}", p.id));
            }
        }
    }
    assert!(
        clashes.is_empty(),
        "names claimed twice:\n{}",
        clashes.join("\n")
    );
}

fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[test]
fn the_catalogue_holds_300_devices_and_says_how_they_split() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    let mut vendors: BTreeMap<&str, usize> = BTreeMap::new();
    let mut methods: BTreeMap<&str, usize> = BTreeMap::new();
    let mut confidence: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in catalogue.entries() {
        let p = &entry.profile;
        *vendors.entry(p.vendor.as_str()).or_default() += 1;
        *methods.entry(p.method.as_str()).or_default() += 1;
        *confidence.entry(p.confidence.as_str()).or_default() += 1;
    }
    eprintln!("{} devices", catalogue.len());
    eprintln!("by vendor: {vendors:?}");
    eprintln!("by method: {methods:?}");
    eprintln!("by confidence: {confidence:?}");
    assert!(catalogue.len() >= 300, "only {} devices", catalogue.len());
    for counts in [&vendors, &methods, &confidence] {
        assert_eq!(counts.values().sum::<usize>(), catalogue.len());
    }
}

/// What people type from a router's label, and the profile that must come first.
const POPULAR: &[(&str, &str)] = &[
    ("Archer A7 v5", "archer-a7-v5"),
    ("Archer C7 v5", "archer-c7-v5"),
    ("wr841 v11", "tl-wr841n-v11"),
    ("TL-WR940N v4", "tl-wr940n-v4"),
    ("wr941nd v6", "tl-wr941nd-v6"),
    ("wr840n v4", "tl-wr840n-v4"),
    ("Archer C50 v3", "archer-c50-v3"),
    ("archer c20 v4", "archer-c20-v4"),
    ("TL-WDR3500 v1", "tl-wdr3500-v1"),
    ("wr1043n v5", "tl-wr1043n-v5"),
    ("TL-WR842N v5", "tl-wr842n-v5"),
    ("mr3420 v5", "tl-mr3420-v5"),
    ("TL-WA901ND v5", "tl-wa901nd-v4-v5"),
    ("mr6400 v5", "tl-mr6400-v5"),
    ("R7800", "netgear-r7800"),
    ("WNDR3800", "netgear-wndr3800"),
    ("wndr3700 v4", "netgear-wndr3700-v4"),
    ("R6800", "netgear-r6800"),
    ("unifi ap pro", "ubiquiti-unifi-ap-pro"),
    ("NanoStation M", "ubiquiti-nanostation-m"),
    ("Redmi AC2100", "xiaomi-redmi-router-ac2100"),
    ("mi router 4a gigabit", "xiaomi-mi-router-4a-gigabit"),
    ("RT-AC51U", "asus-rt-ac51u"),
    ("dir 878", "dlink-dir-878-a1"),
    ("Cudy X6", "cudy-x6"),
    ("GL-AR750S", "glinet-gl-ar750s"),
    ("gl-ar300m", "glinet-gl-ar300m"),
    ("Netgear WN3000RP v3", "netgear-wn3000rp-v3"),
    ("WDR4300", "tl-wdr4300-v1"),
    ("TL-WDR3600", "tl-wdr3600-v1"),
    ("TL-WR1043ND v2", "tl-wr1043nd-v2"),
    ("TL-WR1043ND v3", "tl-wr1043nd-v3"),
    ("wr1043nd v4", "tl-wr1043nd-v4"),
    ("TL-WR842N v3", "tl-wr842n-v3"),
    ("UniFi AC Lite", "ubiquiti-unifi-ac-lite"),
    ("UAP-AC-LR", "ubiquiti-unifi-ac-lr"),
    ("UniFi AC Pro", "ubiquiti-unifi-ac-pro"),
    ("Rocket M5", "ubiquiti-rocket-m-xw"),
    ("Mi Router 4C", "xiaomi-mi-router-4c"),
    ("Mi Router 4A 100M", "xiaomi-mi-router-4a-100m"),
    ("MiWiFi 3A", "xiaomi-miwifi-3a"),
    ("AX3000T", "xiaomi-mi-router-ax3000t"),
    ("RT-AC58U", "asus-rt-ac58u"),
    ("RT-AC86U", "asus-rt-ac86u"),
    ("RT-N56U B1", "asus-rt-n56u-b1"),
    ("DIR-882", "dlink-dir-882-a1"),
    ("DIR-882 R1", "dlink-dir-882-r1"),
    ("DIR-1960", "dlink-dir-1960-a1"),
    ("DIR-860L", "dlink-dir-860l-b1"),
    ("Talon AD7200", "tp-link-talon-ad7200"),
];

#[test]
fn popular_models_come_first_as_people_type_them() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    let mut wrong = Vec::new();
    for (query, want) in POPULAR {
        assert!(catalogue.get(want).is_ok(), "`{want}` is not catalogued");
        let hits = catalogue.search(query);
        let first = hits.first().map(|e| e.profile.id.as_str());
        if first != Some(*want) {
            wrong.push(format!("`{query}`: {first:?} first, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Labels print the revision as `Ver:9.0`, add a region in brackets and a minor revision
/// (`v9.2`); people type them that way.
const LABEL_SPELLINGS: &[(&str, &str)] = &[
    ("TL-WR841N Ver:9.0", "tl-wr841n-v9"),
    ("Archer A7(US) Ver:5.0", "archer-a7-v5"),
    ("TL-WR940N(EU) Ver:4.0", "tl-wr940n-v4"),
    ("wr841n v9.2", "tl-wr841n-v9"),
    ("TL-WR1043ND(EU) Ver:3.0", "tl-wr1043nd-v3"),
    ("TL-WDR4300 Ver:1.7", "tl-wdr4300-v1"),
];

#[test]
fn label_spellings_find_the_model_and_revision() {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    for (query, want) in LABEL_SPELLINGS {
        let hits = catalogue.search(query);
        assert_eq!(
            hits.first().map(|e| e.profile.id.as_str()),
            Some(*want),
            "`{query}`"
        );
    }
}

#[test]
fn tp_link_flash_sizes_come_from_the_image_makefiles() {
    const MIB: u64 = 1024 * 1024;
    let makefiles = "https://github.com/openwrt/openwrt/blob/3d1645ee26d6a2e20be71d7fa1716721bac78e53/target/linux/";
    for (id, mib, makefile) in [
        ("tl-wr841n-v9", 4, "ath79/image/tiny-tp-link.mk"),
        ("tl-wr841n-v12", 4, "ath79/image/tiny-tp-link.mk"),
        ("tl-wr841n-v13", 8, "ramips/image/mt76x8.mk"),
        ("tl-wr841n-v14", 4, "ramips/image/mt76x8.mk"),
        ("tl-wr740n-v4", 4, "ath79/image/tiny-tp-link.mk"),
        ("tl-mr3020-v3", 8, "ramips/image/mt76x8.mk"),
        ("archer-c7-v2", 16, "ath79/image/generic-tp-link.mk"),
        ("tl-wr940n-v4", 4, "ath79/image/tiny-tp-link.mk"),
        ("tl-wr840n-v4", 8, "ramips/image/mt76x8.mk"),
    ] {
        let p = profile(id);
        assert_eq!(p.flash_size, Some(mib * MIB), "{id}");
        assert_cites(&p, &format!("{makefiles}{makefile}"));
    }
}

#[test]
fn wdr4300_and_wdr3600_recover_as_their_captured_requests_show() {
    for (id, file, source) in [
        (
            "tl-wdr4300-v1",
            "wdr4300v1_tp_recovery.bin",
            "https://blog.rpanachi.com/howto-unbrick-wifi-router-after-bad-openwrt-firmware-flashing",
        ),
        (
            "tl-wdr3600-v1",
            "wdr3600v1_tp_recovery.bin",
            "https://openwrt.org/toh/tp-link/tl-wdr3600",
        ),
    ] {
        let p = profile(id);
        assert_eq!(p.filename.as_deref(), Some(file), "{id}");
        assert_eq!(
            p.host.map(|h| h.address),
            Some(Ipv4Addr::new(192, 168, 0, 66)),
            "{id}"
        );
        assert_eq!(p.router, Some(Ipv4Addr::new(192, 168, 0, 86)), "{id}");
        assert_eq!(p.confidence, Confidence::Reported, "{id}");
        assert_cites(&p, source);
    }
}

#[test]
fn tl_wr1043nd_v4_file_name_is_said_to_be_unresolved() {
    let p = profile("tl-wr1043nd-v4");
    assert_eq!(p.confidence, Confidence::Unverified);
    let mut names: Vec<&str> = p.alternate_filenames.iter().map(String::as_str).collect();
    names.extend(p.filename.as_deref());
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "wr1043ndv4_tp_recovery.bin",
            "wr1043nv4_tp_recovery.bin",
            "wr1043v4_tp_recovery.bin"
        ]
    );
    let notes = p.notes.as_deref().unwrap_or("");
    assert!(notes.contains("not resolved [?]"), "{notes}");
    assert!(
        procedure(&p).contains("just after"),
        "pull request 1096's timing"
    );
    assert_cites(&p, "https://github.com/openwrt/openwrt/pull/1096");
}

#[test]
fn xiaomi_ax3000t_says_its_recovery_may_differ() {
    let p = profile("xiaomi-mi-router-ax3000t");
    assert_eq!(p.confidence, Confidence::Unverified);
    let notes = p.notes.as_deref().unwrap_or("");
    assert!(notes.contains("may differ"), "{notes}");
    assert!(notes.contains("ubootmod"), "{notes}");
    assert_eq!(p.flash_seconds, None, "no write time is known for it");
    assert_cites(
        &p,
        &format!("{OPENWRT}f11e6e221ea14e4d8e7261f58815b246828197b7"),
    );
}

#[test]
fn rocket_m_xw_takes_the_bullet_m_xw_recovery() {
    let rocket = profile("ubiquiti-rocket-m-xw");
    let bullet = profile("ubiquiti-bullet-m");
    assert_eq!(rocket.router, bullet.router);
    assert_eq!(rocket.host, bullet.host);
    assert_eq!(rocket.flash_size, bullet.flash_size);
    assert!(procedure(&rocket).contains("up to 25 seconds"));
    assert_cites(
        &rocket,
        &format!("{OPENWRT}228cf39d92f5ab0902e51be88b05f607f3ec5f1c"),
    );
}

/// The rows of one of the generator's pinned tab-separated inputs, by column name.
fn pinned_rows(name: &str) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(manifest().join("tools/catalogue/inputs").join(name))
        .expect("readable pinned input");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            head.iter()
                .map(|column| (*column).to_owned())
                .zip(line.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn the_netgear_evidence_table_names_known_devices_and_sources() {
    let devices: BTreeSet<String> = pinned_rows("openwrt-netgear-devices.tsv")
        .into_iter()
        .map(|row| row["device"].clone())
        .collect();
    let rows = pinned_rows("netgear-recovery-sources.tsv");
    assert!(rows.len() >= 50, "only {} rows", rows.len());
    for row in &rows {
        assert!(
            devices.contains(&row["device"]),
            "{}: not a Netgear row of OpenWrt's image makefiles",
            row["device"]
        );
        assert!(
            ["nmrp", "tftp", "sibling"].contains(&row["kind"].as_str()),
            "{}: kind `{}`",
            row["device"],
            row["kind"]
        );
        assert!(row["source"].starts_with("https://"), "{row:?}");
        assert!(!row["words"].trim().is_empty(), "{row:?}");
    }
}

/// The generated Netgear NMRP profiles.
fn generated_nmrp_profiles() -> Vec<Profile> {
    let catalogue = Catalogue::builtin().expect("the embedded catalogue loads");
    generated_files(&manifest().join("devices"))
        .keys()
        .map(|name| {
            catalogue
                .get(name.trim_end_matches(".yaml"))
                .expect("embedded")
                .profile
                .clone()
        })
        .filter(|p| p.vendor == "Netgear" && p.method.as_str() == "nmrp")
        .collect()
}

#[test]
fn a_generated_nmrp_profile_is_reported_only_with_a_source_for_its_model() {
    let profiles = generated_nmrp_profiles();
    assert!(profiles.len() >= 50, "only {} profiles", profiles.len());
    for p in &profiles {
        let notes = p.notes.as_deref().unwrap_or("");
        let per_model = p.sources.iter().any(|s| {
            s.starts_with(OPENWRT)
                || s.starts_with("https://github.com/jclehner/nmrpflash/issues/")
                || s.starts_with(
                    "https://github.com/jclehner/nmrpflash/blob/17cacef78027b1b801b172f3d7e7edaffbd277a4/",
                )
        });
        if p.confidence == Confidence::Reported {
            assert!(per_model, "{}: reported without a source for it", p.id);
            assert!(!notes.contains("[?]"), "{}: {notes}", p.id);
            assert!(
                notes.contains("NMRP for this model")
                    || notes.contains("nmrpflash's README names")
                    || notes.contains("From OpenWrt's support commit"),
                "{}: the notes do not say which source names the model: {notes}",
                p.id
            );
        } else {
            assert!(notes.contains("[?]"), "{}: {notes}", p.id);
            assert!(
                notes.contains("Inferred from the")
                    || notes.contains("also takes an image by TFTP"),
                "{}: the notes do not say what the profile is inferred from: {notes}",
                p.id
            );
        }
    }
}

#[test]
fn netgear_nmrp_sources_found_per_model_are_cited() {
    for (id, source) in [
        ("netgear-lbr20", "07b9186e88a2e5b2bd842b87d7063645a23e3fcb"),
        ("netgear-rbr350", "67e6baf05e3922568e366915233bd63f3884256d"),
        ("netgear-rbs750", "d0bd7ad1a2e2a95945c120e760bae65b70c890ab"),
        ("netgear-srs60", "2cb24b3f3cd89692f3c0bd137f3f560ada359bfa"),
        ("netgear-sxr80", "0f5c28b96b4e04332b6e9f31280c57b03c672cfd"),
        (
            "netgear-wndr3700-v5",
            "2fdd02cc7c3516c2cce2ace2c7b539e0821ecbe8",
        ),
        ("netgear-ex6130", "0cbd2c74d0c9f41d07757907226e5cfeaf16e06a"),
    ] {
        let p = profile(id);
        assert_eq!(p.confidence, Confidence::Reported, "{id}");
        assert_cites(&p, &format!("{OPENWRT}{source}"));
    }
    for (id, issue) in [
        ("netgear-rbr40-v1", 149),
        ("netgear-r6900-v2", 146),
        ("netgear-r6700-v2", 170),
    ] {
        let p = profile(id);
        assert_eq!(p.confidence, Confidence::Reported, "{id}");
        assert_cites(
            &p,
            &format!("https://github.com/jclehner/nmrpflash/issues/{issue}"),
        );
    }
    let r7450 = profile("netgear-r7450");
    assert_eq!(r7450.confidence, Confidence::Unverified);
    assert!(
        r7450
            .notes
            .as_deref()
            .unwrap_or("")
            .contains("Inferred from the R6700v2")
    );
}

#[test]
fn netgear_tftp_recoveries_from_their_support_commits() {
    for (id, router, commit, led) in [
        (
            "netgear-dm200",
            Ipv4Addr::new(192, 168, 0, 1),
            "50e3659703113df036e755e0d483172c3b809242",
            "power light flashes green",
        ),
        (
            "netgear-wndr4300sw",
            Ipv4Addr::new(192, 168, 1, 1),
            "9a1f4b2f83ef581edca1de6f07e0d84816610f6a",
            "power LED flashes orange, then green",
        ),
        (
            "netgear-wndr4300tn",
            Ipv4Addr::new(192, 168, 1, 1),
            "394f54ee6201542cf0a69d307b13ffda233dd87a",
            "power LED flashes orange, then green",
        ),
    ] {
        let p = profile(id);
        assert_eq!(p.method.as_str(), "tftp-client", "{id}");
        assert_eq!(p.router, Some(router), "{id}");
        assert_eq!(p.confidence, Confidence::Reported, "{id}");
        assert!(
            p.steps.iter().any(|s| s.led.as_deref() == Some(led)),
            "{id}"
        );
        assert_cites(&p, &format!("{OPENWRT}{commit}"));
    }
    for (id, commit) in [
        (
            "netgear-nighthawk-pro-gaming-xr500",
            "70c12d26ca6eb01a938feb38f89720d78df0ca6d",
        ),
        (
            "netgear-nighthawk-pro-gaming-xr450",
            "f2e1d373817c05aa9feac7fd67262010b4064d23",
        ),
    ] {
        let p = profile(id);
        assert_eq!(p.method.as_str(), "tftp-client", "{id}: not a web page");
        assert_eq!(p.router, Some(Ipv4Addr::new(192, 168, 1, 1)), "{id}");
        assert!(
            p.steps
                .iter()
                .any(|s| s.led.as_deref() == Some("power LED flashes orange, then white")),
            "{id}"
        );
        assert_cites(&p, &format!("{OPENWRT}{commit}"));
    }
    let r7800 = profile("netgear-r7800");
    assert_eq!(r7800.method.as_str(), "tftp-client");
    assert_eq!(r7800.router, Some(Ipv4Addr::new(192, 168, 1, 1)));
    assert_eq!(
        r7800.host.map(|h| h.address),
        Some(Ipv4Addr::new(192, 168, 1, 10))
    );
    assert_eq!(r7800.image.model_id.as_deref(), Some("R7800"));
    assert_cites(
        &r7800,
        "https://forum.openwrt.org/t/netgear-r7800-hw-id-tftp-no-recovery/66002",
    );
    assert_cites(
        &r7800,
        &format!("{OPENWRT}f2e1d373817c05aa9feac7fd67262010b4064d23"),
    );
}

#[test]
fn version_2_header_tp_links_say_where_the_hardware_id_is() {
    for (id, inside) in [
        ("tl-wr841n-v13", "0x20034"),
        ("tl-wr841n-v14", "0x10034"),
        ("tl-mr3020-v3", "0x20034"),
        ("tl-wr840n-v4", "0x20034"),
    ] {
        let p = profile(id);
        let notes = p.notes.as_deref().unwrap_or("").replace('\n', " ");
        assert!(
            notes.contains("at 0x34 of the factory image"),
            "{id}: {notes}"
        );
        assert!(notes.contains(inside), "{id}: {notes}");
    }
    let v14 = profile("tl-wr841n-v14");
    assert!(
        v14.steps
            .iter()
            .any(|s| s.seconds == Some(6) && s.led.as_deref() == Some("the orange LED blinks"))
    );
    assert_cites(&v14, "https://github.com/openwrt/openwrt/pull/1577");
}

#[test]
fn netgear_flash_sizes_come_from_their_sources() {
    const MIB: u64 = 1024 * 1024;
    for (id, mib) in [
        ("netgear-dm200", 8),
        ("netgear-wndr4300sw", 128),
        ("netgear-wndr4300tn", 128),
        ("netgear-nighthawk-pro-gaming-xr500", 256),
        ("netgear-r7800", 128),
    ] {
        assert_eq!(profile(id).flash_size, Some(mib * MIB), "{id}");
    }
    assert_cites(
        &profile("netgear-r7800"),
        "https://forum.openwrt.org/t/r7800-flashing-openwrt-causes-bootloop-bad-block-in-kernel-area/49608/61",
    );
}

#[test]
fn broadcom_cfe_netgears_cite_their_nmrp_reports() {
    for (id, issue) in [
        ("netgear-r7000", 6),
        ("netgear-r8000", 43),
        ("netgear-r8500", 49),
    ] {
        let p = profile(id);
        assert_cites(
            &p,
            "https://github.com/jclehner/nmrpflash/blob/17cacef78027b1b801b172f3d7e7edaffbd277a4/README.md",
        );
        assert_cites(
            &p,
            &format!("https://github.com/jclehner/nmrpflash/issues/{issue}"),
        );
        assert!(
            p.notes
                .as_deref()
                .unwrap_or("")
                .contains("Its bootloader also speaks NMRP"),
            "{id}"
        );
    }
}

#[test]
fn tl_mr3020_v3_holds_as_its_support_commit_says_and_claims_no_router_address() {
    let p = profile("tl-mr3020-v3");
    assert_eq!(p.confidence, Confidence::Reported);
    assert_eq!(p.router, None, "no source gives it");
    assert!(!p.notes.as_deref().unwrap_or("").contains("[?]"));
    assert!(
        p.steps
            .iter()
            .any(|s| s.seconds == Some(7) && s.led.as_deref() == Some("3G/WAN LED flashes"))
    );
    assert_cites(
        &p,
        &format!("{OPENWRT}6bbb2202551be394fead2efd99eb946f846fc63d"),
    );
}
