//! The image check for NMRP devices (`method: nmrp`): a Netgear .chk is checked against the
//! profile's board id, a .chk for another board is refused with that board named, a .trx gets
//! the ".chk needed" explanation, and another vendor's image is refused.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;

use rescue_wizard::image::{ImageVerdict, Inspection, Severity, inspect, sample};
use rescue_wizard::profile::{Catalogue, Profile};

fn builtin(id: &str) -> Profile {
    let catalogue = Catalogue::builtin().expect("built-in profiles load");
    catalogue.get(id).expect("profile exists").profile.clone()
}

fn checked(dir: &tempfile::TempDir, name: &str, bytes: &[u8], device: &str) -> Inspection {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    inspect(&path, Some(&builtin(device))).unwrap()
}

fn said(inspection: &Inspection, severity: Severity) -> Vec<String> {
    inspection
        .findings
        .iter()
        .filter(|f| f.severity == severity)
        .map(|f| format!("{} / fix: {}", f.what, f.fix.as_deref().unwrap_or("")))
        .collect()
}

#[test]
fn a_chk_for_the_profiles_board_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let image = sample::netgear_chk("LBR20", 300_000, 700_000);
    let inspection = checked(&dir, "LBR20-V1.0.2.94.chk", &image, "netgear-lbr20");
    assert_eq!(
        inspection.verdict(),
        ImageVerdict::Ready,
        "{:?}",
        inspection.findings
    );
    assert!(
        said(&inspection, Severity::Ok)
            .iter()
            .any(|s| s.contains("board \"LBR20\"")),
        "{:?}",
        inspection.findings
    );
}

#[test]
fn a_chk_for_another_board_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A board no profile claims: the NMRP rule names it.
    let image = sample::netgear_chk("U12H999T00_NETGEAR", 300_000, 700_000);
    let inspection = checked(&dir, "other.chk", &image, "netgear-lbr20");
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    let fails = said(&inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(
        fails[0].contains("board \"U12H999T00_NETGEAR\""),
        "{fails:?}"
    );
    assert!(fails[0].contains("board \"LBR20\""), "{fails:?}");
    assert!(fails[0].contains("devices show netgear-lbr20"), "{fails:?}");
    // A board another profile claims: named once, with its device.
    let image = sample::netgear_chk("D7800", 300_000, 700_000);
    let inspection = checked(&dir, "D7800.chk", &image, "netgear-lbr20");
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    let fails = said(&inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert!(fails[0].contains("D7800"), "{fails:?}");
}

#[test]
fn a_trx_gets_the_chk_needed_explanation() {
    let dir = tempfile::tempdir().unwrap();
    let inspection = checked(&dir, "openwrt.trx", &sample::trx(600_000), "netgear-lbr20");
    let warnings = said(&inspection, Severity::Warning);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(".trx") && w.contains("wants Netgear's .chk")),
        "{warnings:?}"
    );
}

#[test]
fn another_vendors_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = sample::tp_link_firmware(0x0841_0009, 8192);
    let inspection = checked(&dir, "factory.bin", &image, "netgear-r6220");
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    let fails = said(&inspection, Severity::Fail);
    assert!(
        fails
            .iter()
            .any(|f| f.contains("TP-Link image") && f.contains(".chk")),
        "{fails:?}"
    );
}
