//! Image preflight on files in a temporary folder, against built-in profiles and fixtures:
//! the checks a user sees before a transfer, and the stripped copy written beside the image.

// A failed expectation in a test should stop it with the reason; that is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use rescue_wizard::image::{
    Format, ImageError, ImageFinding, ImageVerdict, Inspection, Severity, inspect, sample,
    write_stripped,
};
use rescue_wizard::profile::{Catalogue, Profile, read_profile_file};
use sha2::{Digest, Sha256};

mod support;

/// A built-in profile. `Catalogue::builtin` rather than `load_default`, so no test depends on
/// profiles in the home folder of whoever runs it.
fn builtin(id: &str) -> Profile {
    let catalogue = Catalogue::builtin().expect("built-in profiles load");
    catalogue.get(id).expect("profile exists").profile.clone()
}

fn fixture(name: &str) -> Profile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/images")
        .join(name);
    read_profile_file(&path).expect("fixture parses")
}

/// An `OpenWrt` factory image for a 4 MiB TP-Link: header, then 0x3c0000 bytes in all, every
/// length and the MD5 right.
fn factory_image(hardware_id: u32) -> Vec<u8> {
    sample::tp_link_firmware(hardware_id, 0x3c_0000)
}

/// A TP-Link stock image "with boot": outer header, 128 KiB of bootloader, then the firmware
/// with its own header.
fn stock_image_with_bootloader(hardware_id: u32) -> Vec<u8> {
    sample::tp_link_stock_with_bootloader(hardware_id, 0x3c_0000)
}

/// A ustar archive as `OpenWrt` sysupgrade images are, for the TL-WR841N v9.
fn sysupgrade_tar() -> Vec<u8> {
    sample::sysupgrade_tar("tplink_tl-wr841-v9", 10_240)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).expect("write image");
    path
}

fn with_severity(inspection: &Inspection, severity: Severity) -> Vec<&ImageFinding> {
    inspection
        .findings
        .iter()
        .filter(|finding| finding.severity == severity)
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

#[test]
fn a_factory_image_for_the_device_passes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = factory_image(0x0841_0009);
    let path = write(
        dir.path(),
        "openwrt-ath79-tiny-tplink_tl-wr841-v9-squashfs-factory.bin",
        &bytes,
    );
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    assert_eq!(
        inspection.verdict(),
        ImageVerdict::Ready,
        "{:#?}",
        inspection.findings
    );
    assert_eq!(inspection.size, 0x3c_0000);
    assert_eq!(inspection.sha256, sha256(&bytes));
    assert!(inspection.strip.is_none());
    assert!(matches!(
        inspection.format,
        Format::TpLink {
            hardware_id: 0x0841_0009,
            carries_bootloader: false,
            ..
        }
    ));
    let header = &inspection.findings[0];
    assert_eq!(
        header.what,
        "header matches: TP-Link hardware id 0x08410009 (TL-WR841N v9) (at offset 0x40)"
    );
    // 0x3c0000 bytes are 7680 blocks of 512: far from the block-number limit.
    assert_eq!(inspection.blocks(512), 7681);
    let json = serde_json::to_value(&inspection).unwrap();
    assert_eq!(json["format"]["format"], "tp-link");
    assert_eq!(json["findings"][0]["severity"], "ok");
}

#[test]
fn a_stock_image_with_bootloader_gets_a_stripped_copy_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = stock_image_with_bootloader(0x0841_0009);
    let path = write(dir.path(), "wr841nv9_boot.bin", &bytes);
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();

    let offer = inspection.strip.as_ref().expect("a strip offer");
    let copy = dir.path().join("wr841nv9_boot-stripped.bin");
    assert_eq!(offer.offset, 0x20200);
    assert_eq!(offer.copy, copy);
    assert_eq!(inspection.verdict(), ImageVerdict::Doubtful);
    let warnings = with_severity(&inspection, Severity::Warning);
    assert_eq!(warnings.len(), 1, "{:#?}", inspection.findings);
    assert!(warnings[0].what.contains("carries the bootloader"));
    assert!(warnings[0].what.contains("must not be flashed as is"));
    let fix = warnings[0].fix.as_deref().unwrap();
    assert!(fix.starts_with("use the stripped copy"), "{fix}");
    assert!(fix.contains(&copy.display().to_string()), "{fix}");
    // The header is checked where the bootloader will see it: in the stripped data.
    assert!(inspection.findings.iter().any(|finding| {
        finding.severity == Severity::Ok
            && finding.what.starts_with("header matches")
            && finding.what.contains("after the first 0x20200 bytes")
    }));

    let written = write_stripped(&inspection).unwrap();
    assert_eq!(written, copy);
    assert_eq!(fs::read(&copy).unwrap(), &bytes[0x20200..]);
    assert_eq!(fs::read(&path).unwrap(), bytes, "the original is unchanged");
    assert!(!dir.path().join("wr841nv9_boot-stripped.bin.part").exists());

    // A second run finds the copy it made and uses it again.
    let again = write_stripped(&inspection).unwrap();
    assert_eq!(again, copy);
    assert_eq!(fs::read(&copy).unwrap(), &bytes[0x20200..]);

    // A different file under that name is never overwritten.
    fs::write(&copy, b"someone else's file").unwrap();
    let err = write_stripped(&inspection).unwrap_err();
    assert!(matches!(err, ImageError::CopyDiffers { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&copy.display().to_string()), "{message}");
    assert!(message.contains("fix: move"), "{message}");
    assert_eq!(fs::read(&copy).unwrap(), b"someone else's file");
    assert_eq!(fs::read(&path).unwrap(), bytes, "the original is unchanged");
}

#[test]
fn a_stripped_copy_of_the_same_length_but_other_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = stock_image_with_bootloader(0x0841_0009);
    let path = write(dir.path(), "wr841nv9_boot.bin", &bytes);
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    let mut other = bytes[0x20200..].to_vec();
    let last = other.len() - 1;
    other[last] ^= 1;
    write(dir.path(), "wr841nv9_boot-stripped.bin", &other);
    let err = write_stripped(&inspection).unwrap_err();
    assert!(matches!(err, ImageError::CopyDiffers { .. }), "{err:?}");
}

#[test]
fn an_image_changed_after_the_check_is_not_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = stock_image_with_bootloader(0x0841_0009);
    let path = write(dir.path(), "wr841nv9_boot.bin", &bytes);
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    bytes[0x30000] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let err = write_stripped(&inspection).unwrap_err();
    assert!(matches!(err, ImageError::Changed { .. }), "{err:?}");
    assert!(!dir.path().join("wr841nv9_boot-stripped.bin").exists());
    assert!(!dir.path().join("wr841nv9_boot-stripped.bin.part").exists());
}

#[test]
fn an_image_for_another_hardware_id_fails_with_both_ids() {
    let dir = tempfile::tempdir().unwrap();
    // The v13 profile names its hardware id as `model-id: "0x08410013"`.
    let path = write(
        dir.path(),
        "wr841nv9-factory.bin",
        &factory_image(0x0841_0009),
    );
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v13"))).unwrap();
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    let fails = with_severity(&inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{:#?}", inspection.findings);
    assert!(fails[0].what.contains("0x08410009"), "{}", fails[0].what);
    assert!(fails[0].what.contains("0x08410013"), "{}", fails[0].what);
    let fix = fails[0].fix.as_deref().unwrap();
    assert!(
        fix.contains("0x08410013") && fix.contains("wr841nv9-factory.bin"),
        "{fix}"
    );

    // The v9 profile checks the id as header bytes at 0x40: both shown in hex.
    let path = write(
        dir.path(),
        "wr841nv10-factory.bin",
        &factory_image(0x0841_0010),
    );
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    let fails = with_severity(&inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{:#?}", inspection.findings);
    assert!(
        fails[0]
            .what
            .contains("at offset 0x40 it has 08 41 00 10, expected 08 41 00 09"),
        "{}",
        fails[0].what
    );
}

#[test]
fn an_oversized_image_fails_with_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    // One byte over, with a header that says so: only the size is wrong.
    let bytes = sample::tp_link_firmware(0x0841_0009, 0x3c_0001);
    let path = write(dir.path(), "too-big.bin", &bytes);
    let inspection = inspect(&path, Some(&fixture("max-size.yaml"))).unwrap();
    let fails = with_severity(&inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{:#?}", inspection.findings);
    assert!(
        fails[0].what.contains("3932161 bytes (3.75 MiB)"),
        "{}",
        fails[0].what
    );
    assert!(
        fails[0].what.contains("at most 3932160 bytes"),
        "{}",
        fails[0].what
    );
    assert!(
        fails[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("1 bytes too large"),
        "{:?}",
        fails[0].fix
    );
}

#[test]
fn past_block_65535_fails_where_the_bootloader_cannot_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.bin");
    let file = fs::File::create(&path).unwrap();
    // 65535 full blocks of 512: the transfer must end with an empty block 65536.
    file.set_len(65_535 * 512).unwrap();
    let profile = fixture("rollover-no.yaml");
    let inspection = inspect(&path, Some(&profile)).unwrap();
    let fails = with_severity(&inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{:#?}", inspection.findings);
    assert!(
        fails[0]
            .what
            .starts_with("the bootloader cannot count past block 65535"),
        "{}",
        fails[0].what
    );
    assert!(fails[0].what.contains("65536 blocks of 512 bytes"));
    assert!(
        fails[0]
            .what
            .contains("the largest image it can take is 33553919 bytes")
    );
    // One byte less ends with a short block 65535.
    file.set_len(65_535 * 512 - 1).unwrap();
    let inspection = inspect(&path, Some(&profile)).unwrap();
    assert_eq!(
        inspection.verdict(),
        ImageVerdict::Ready,
        "{:#?}",
        inspection.findings
    );
}

#[test]
fn a_sysupgrade_image_for_a_factory_recovery_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "openwrt-ath79-tiny-tplink_tl-wr841-v9-squashfs-sysupgrade.bin",
        &sysupgrade_tar(),
    );
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    assert_eq!(
        inspection.format,
        Format::SysupgradeTar {
            board: Some("tplink_tl-wr841-v9".to_owned())
        }
    );
    let kind = &inspection.findings[0];
    assert_eq!(kind.severity, Severity::Fail);
    assert!(kind.what.contains("sysupgrade image"), "{}", kind.what);
    assert!(
        kind.fix
            .as_deref()
            .unwrap()
            .starts_with("download the factory image instead")
    );
}

#[test]
fn a_folder_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let err = inspect(dir.path(), Some(&builtin("tl-wr841n-v9"))).unwrap_err();
    assert!(matches!(err, ImageError::Folder { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "{} is a folder, give the image file inside it",
            dir.path().display()
        )),
        "{message}"
    );
}

#[test]
fn a_missing_file_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wr841nv9_tp_recovery.bin");
    let err = inspect(&path, None).unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("`ls {}`", dir.path().display())),
        "{message}"
    );
}

#[test]
fn without_a_profile_only_the_file_itself_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "anything.bin", &factory_image(0x0841_0010));
    let inspection = inspect(&path, None).unwrap();
    assert!(inspection.findings.is_empty());
    assert!(inspection.strip.is_none());
    assert!(matches!(inspection.format, Format::TpLink { .. }));

    let empty = write(dir.path(), "empty.bin", b"");
    let inspection = inspect(&empty, None).unwrap();
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    assert_eq!(inspection.format, Format::Unknown);
    assert_eq!(
        inspection.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let fix = inspection.findings[0].fix.as_deref().unwrap();
    assert!(fix.contains(&empty.display().to_string()), "{fix}");
}

#[test]
fn write_stripped_without_an_offer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "factory.bin", &factory_image(0x0841_0009));
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    let err = write_stripped(&inspection).unwrap_err();
    assert!(matches!(err, ImageError::NothingToStrip { .. }), "{err:?}");
}

/// The one failing finding of `inspection`, or a panic listing them all.
fn the_failure(inspection: &Inspection) -> &ImageFinding {
    let fails = with_severity(inspection, Severity::Fail);
    assert_eq!(fails.len(), 1, "{:#?}", inspection.findings);
    fails[0]
}

#[test]
fn an_80_byte_tp_link_header_stub_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stub = &factory_image(0x0841_0009)[..80];
    let path = write(dir.path(), "wr841nv9-factory.bin", stub);
    for profile in [Some(builtin("tl-wr841n-v9")), None] {
        let inspection = inspect(&path, profile.as_ref()).unwrap();
        assert_eq!(inspection.verdict(), ImageVerdict::Refused);
        let fail = the_failure(&inspection);
        assert_eq!(
            fail.what,
            format!(
                "{} is cut short: it starts like a TP-Link firmware header, which alone is 512 \
                 bytes, and the file has only 80",
                path.display()
            )
        );
        assert!(
            fail.fix.as_deref().unwrap().starts_with(
                "download the image again, completely: this file is a truncated download"
            ),
            "{fail}"
        );
    }
}

#[test]
fn the_first_2_mib_of_a_3_75_mib_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let whole = factory_image(0x0841_0009);
    let path = write(
        dir.path(),
        "wr841nv9-factory.bin",
        &whole[..2 * 1024 * 1024],
    );
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    let fail = the_failure(&inspection);
    assert_eq!(
        fail.what,
        format!(
            "{} is cut short: its TP-Link header says the rootfs (`rootfs_ofs` 0x1e0100 + \
             `rootfs_len` 0x1dff00) reaches byte 3932160, but the file has only 2097152 bytes \
             (2.00 MiB)",
            path.display()
        )
    );
    // The header itself is fine, and still says so.
    assert!(inspection.findings[0].what.starts_with("header matches"));
}

#[test]
fn a_trx_whose_header_length_and_crc_disagree_with_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let profile = builtin("asus-rt-ac66u");
    let trx = sample::trx(0x10_0000);
    let path = write(dir.path(), "RT-AC66U.trx", &trx);
    let inspection = inspect(&path, Some(&profile)).unwrap();
    assert_eq!(
        inspection.verdict(),
        ImageVerdict::Ready,
        "{:#?}",
        inspection.findings
    );
    assert!(inspection.findings.iter().any(|finding| finding.what
        == format!(
            "{} checked whole against its TRX header: the lengths fit the file, every checksum \
             matches (CRC32 `crc32` at 8)",
            path.display()
        )));

    // Cut: the header's length passes the end of the file.
    let cut = write(dir.path(), "cut.trx", &trx[..0x8_0000]);
    let inspection = inspect(&cut, Some(&profile)).unwrap();
    assert_eq!(
        the_failure(&inspection).what,
        format!(
            "{} is cut short: its TRX header says the image (`len` 0x100000) reaches byte \
             1048576, but the file has only 524288 bytes (0.50 MiB)",
            cut.display()
        )
    );

    // Same length, one byte changed: the CRC disagrees.
    let mut changed = trx.clone();
    changed[0x9_0000] ^= 1;
    let changed_path = write(dir.path(), "changed.trx", &changed);
    let inspection = inspect(&changed_path, Some(&profile)).unwrap();
    let fail = the_failure(&inspection);
    assert!(
        fail.what.starts_with(&format!(
            "{} does not match its TRX header: the CRC32 `crc32` at 8 is {:08x}, computed over \
             bytes 12 to 1048576 it is ",
            changed_path.display(),
            // The CRC as a number: stored little-endian.
            u32::from_le_bytes(trx[8..12].try_into().unwrap())
        )),
        "{}",
        fail.what
    );
    assert!(
        fail.fix
            .as_deref()
            .unwrap()
            .starts_with("download the image again")
    );
}

#[test]
fn uimage_chk_and_tar_checksums_are_compared_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, usize, &str); 4] = [
        (
            "kernel.uimage",
            sample::uimage(0x4000),
            10,
            "header CRC32 `ih_hcrc` at 4",
        ),
        (
            "kernel2.uimage",
            sample::uimage(0x4000),
            0x1000,
            "data CRC32 `ih_dcrc` at 24",
        ),
        (
            "R7000.chk",
            sample::netgear_chk("U12H270T00_NETGEAR", 0x2000, 0x2000),
            0x3000,
            "rootfs checksum at 20",
        ),
        (
            "sysupgrade.bin",
            sample::sysupgrade_tar("tplink_tl-wr841-v9", 4000),
            // The second entry's header: CONTROL's header and data come first.
            1024 + 10,
            "has a damaged tar header at byte 1024",
        ),
    ];
    for (name, image, flip, field) in cases {
        let good = write(dir.path(), name, &image);
        let inspection = inspect(&good, None).unwrap();
        assert!(
            inspection.findings.is_empty(),
            "{name}: {:#?}",
            inspection.findings
        );
        let mut bad = image.clone();
        bad[flip] ^= 0x20;
        let path = write(dir.path(), &format!("bad-{name}"), &bad);
        let inspection = inspect(&path, None).unwrap();
        assert_eq!(inspection.verdict(), ImageVerdict::Refused, "{name}");
        // A changed rootfs byte fails the rootfs and the image checksum of a .chk alike.
        let fails = with_severity(&inspection, Severity::Fail);
        assert!(
            fails.iter().any(|fail| fail.what.contains(field)),
            "{name}: {fails:#?}"
        );
        // Cut in half, each is a truncated download.
        let half = write(
            dir.path(),
            &format!("half-{name}"),
            &image[..image.len() / 2],
        );
        let inspection = inspect(&half, None).unwrap();
        let what = &the_failure(&inspection).what;
        assert!(what.contains(" is cut short: "), "{name}: {what}");
    }
}

#[test]
fn an_8_mib_image_for_a_4_mib_flash_device_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "8m-factory.bin",
        &sample::tp_link_firmware(0x0841_0009, 8 * 1024 * 1024),
    );
    let inspection = inspect(&path, Some(&fixture("flash-4m.yaml"))).unwrap();
    assert_eq!(inspection.verdict(), ImageVerdict::Refused);
    let fail = the_failure(&inspection);
    assert_eq!(
        fail.what,
        format!(
            "{} is 8388608 bytes (8.00 MiB); the TP-Link TL-TEST v1 has 4194304 bytes (4.00 \
             MiB) of flash: the image cannot be written whole",
            path.display()
        )
    );
    assert_eq!(
        fail.fix.as_deref(),
        Some(
            "use the image made for the TP-Link TL-TEST v1: 8m-factory.bin is 4194304 bytes \
             larger than its flash, an image for a device with more flash"
        )
    );
    // A 4 MiB image fits.
    let fits = write(
        dir.path(),
        "4m-factory.bin",
        &sample::tp_link_firmware(0x0841_0009, 4 * 1024 * 1024),
    );
    let inspection = inspect(&fits, Some(&fixture("flash-4m.yaml"))).unwrap();
    assert_eq!(
        inspection.verdict(),
        ImageVerdict::Ready,
        "{:#?}",
        inspection.findings
    );
}

#[test]
fn an_image_for_another_catalogued_device_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "wr841nv10-factory.bin",
        &factory_image(0x0841_0010),
    );
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    let fail = the_failure(&inspection);
    assert!(
        fail.what.ends_with(
            "; this image is for the TP-Link TL-WR841N/ND v10 (tl-wr841n-v10), not the TP-Link \
             TL-WR841N/ND v9"
        ),
        "{}",
        fail.what
    );
    // A hardware id no profile claims stays a raw id.
    let path = write(dir.path(), "other.bin", &factory_image(0x0841_0099));
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v13"))).unwrap();
    let what = &the_failure(&inspection).what;
    assert!(
        what.contains("0x08410099") && !what.contains("this image is for"),
        "{what}"
    );
}

#[test]
fn a_64_mib_image_is_checked_whole_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "big.bin",
        &sample::tp_link_firmware(0x0841_0009, 64 * 1024 * 1024),
    );
    let started = std::time::Instant::now();
    let inspection = inspect(&path, Some(&builtin("tl-wr841n-v9"))).unwrap();
    println!("64 MiB image checked whole in {:?}", started.elapsed());
    assert!(
        inspection
            .findings
            .iter()
            .any(|finding| finding.severity == Severity::Ok
                && finding
                    .what
                    .contains("checked whole against its TP-Link header")),
        "{:#?}",
        inspection.findings
    );
}

#[test]
fn a_uimage_built_by_mkimage_passes_and_its_damaged_copies_name_the_field() {
    // Issue 12 item 1, cross-checked against the real tool: Debian's u-boot-tools `mkimage`
    // builds the uImage, so the header and data CRCs are U-Boot's own, not this crate's.
    let Some(mkimage) = support::require("mkimage") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..0x3_0000u32).map(|n| (n * 7 % 251) as u8).collect();
    let data = write(dir.path(), "payload.bin", &payload);
    let built = dir.path().join("kernel.uimage");
    let mut cmd = std::process::Command::new(mkimage);
    cmd.args(["-A", "arm", "-O", "linux", "-T", "kernel", "-C", "none"])
        .args([
            "-a",
            "0x80008000",
            "-e",
            "0x80008000",
            "-n",
            "rescue-wizard test",
            "-d",
        ])
        .arg(&data)
        .arg(&built);
    support::run_ok(&mut cmd, std::time::Duration::from_secs(30));
    let image = fs::read(&built).unwrap();
    assert_eq!(image.len(), 64 + payload.len(), "mkimage's 64-byte header");
    let inspection = inspect(&built, None).unwrap();
    assert!(inspection.findings.is_empty(), "{:#?}", inspection.findings);
    for (name, flip, field) in [
        // ih_time, covered by the header CRC.
        ("header.uimage", 10, "header CRC32 `ih_hcrc` at 4"),
        ("data.uimage", 64 + 0x1_2345, "data CRC32 `ih_dcrc` at 24"),
    ] {
        let mut bad = image.clone();
        bad[flip] ^= 0x01;
        let path = write(dir.path(), name, &bad);
        let inspection = inspect(&path, None).unwrap();
        assert_eq!(inspection.verdict(), ImageVerdict::Refused, "{name}");
        let fail = the_failure(&inspection);
        assert!(fail.what.contains(field), "{name}: {fail}");
    }
    let cut = write(dir.path(), "cut.uimage", &image[..image.len() - 1]);
    let inspection = inspect(&cut, None).unwrap();
    let what = &the_failure(&inspection).what;
    assert!(what.contains(" is cut short: "), "{what}");
}

/// A TRX image written here from the format (`OpenWrt` tools/firmware-utils `trx.c`): magic
/// "HDR0", the length, a CRC32 over everything from byte 12 (the flags and version field) to
/// the length, then three partition offsets; the range and layout are written here, not taken
/// from this crate.
fn trx_by_the_format(len: u32) -> Vec<u8> {
    let mut image = vec![0u8; len as usize];
    image[..4].copy_from_slice(b"HDR0");
    image[4..8].copy_from_slice(&len.to_le_bytes());
    image[12..16].copy_from_slice(&(1u32 << 16).to_le_bytes()); // flags 0, version 1
    image[16..20].copy_from_slice(&28u32.to_le_bytes());
    for (n, byte) in image.iter_mut().enumerate().skip(28) {
        *byte = (n * 13 % 241) as u8;
    }
    // trx.c's crc32buf starts from 0xffffffff and, unlike the usual CRC32, never inverts
    // the result: the complement of the standard CRC32.
    let crc = !crc32fast::hash(&image[12..]);
    image[8..12].copy_from_slice(&crc.to_le_bytes());
    image
}

#[test]
fn a_trx_built_from_the_format_passes_and_its_damaged_copies_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let image = trx_by_the_format(0x8_0000);
    let good = write(dir.path(), "by-format.trx", &image);
    let inspection = inspect(&good, None).unwrap();
    assert!(inspection.findings.is_empty(), "{:#?}", inspection.findings);
    let mut bad = image.clone();
    bad[0x4_0000] ^= 0x01;
    let path = write(dir.path(), "bad.trx", &bad);
    let inspection = inspect(&path, None).unwrap();
    let what = &the_failure(&inspection).what;
    assert!(what.contains("CRC32 `crc32` at 8"), "{what}");
    let cut = write(dir.path(), "cut.trx", &image[..0x4_0000]);
    let inspection = inspect(&cut, None).unwrap();
    let what = &the_failure(&inspection).what;
    assert!(
        what.contains(" is cut short: ") && what.contains("`len` 0x80000"),
        "{what}"
    );
}
