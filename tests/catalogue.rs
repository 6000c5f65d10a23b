//! The built-in catalogue's facts: each fact corrected against a primary source keeps its value
//! and names that source.

// A failed expectation in a test should stop it with the reason; that is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::Ipv4Addr;

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
