//! The journal an earlier version left (`undo-journal.json`, one file for every run) is never
//! silently ignored: the cleanup at start names it, lists what it holds and gives the fix,
//! and leaves the file as it was (its interfaces are named by index alone, which the next
//! interface created may have taken).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use rescue_wizard::net::addr::cleanup;
use rescue_wizard::net::journal::LEGACY_JOURNAL;

/// A state folder of our own (mode 0700, as the journal requires).
fn state_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

#[test]
fn an_earlier_versions_journal_is_named_with_its_fix_and_left_alone() {
    let dir = state_folder();
    let legacy = dir.path().join(LEGACY_JOURNAL);
    // As the single-file journal wrote it: pretty JSON, interfaces by index.
    let written = br#"{
  "pid": 4242,
  "changes": [
    {
      "change": "address",
      "ifindex": 7,
      "ifname": "enx00e04c680001",
      "cidr": "192.168.0.66/24",
      "label": null
    }
  ]
}"#;
    std::fs::write(&legacy, written).unwrap();
    std::fs::set_permissions(&legacy, std::fs::Permissions::from_mode(0o600)).unwrap();

    let report = cleanup(dir.path()).unwrap();

    assert!(report.undone.is_empty(), "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    let [note] = report.notes.as_slice() else {
        panic!("one note expected: {report:?}");
    };
    let path = legacy.display().to_string();
    assert!(note.contains(&path), "{note}");
    assert!(
        note.contains("192.168.0.66/24") && note.contains("enx00e04c680001"),
        "{note}"
    );
    assert!(
        note.contains("fix:") && note.contains(&format!("rm {path}")),
        "{note}"
    );
    assert_eq!(std::fs::read(&legacy).unwrap(), written);
}

#[test]
fn a_damaged_earlier_journal_is_named_too() {
    let dir = state_folder();
    let legacy = dir.path().join(LEGACY_JOURNAL);
    std::fs::write(&legacy, b"{\"pid\": 1, \"changes\": [").unwrap();
    std::fs::set_permissions(&legacy, std::fs::Permissions::from_mode(0o600)).unwrap();

    let report = cleanup(dir.path()).unwrap();

    let [note] = report.notes.as_slice() else {
        panic!("one note expected: {report:?}");
    };
    assert!(
        note.contains(&legacy.display().to_string()) && note.contains("unreadable"),
        "{note}"
    );
}

#[test]
fn an_earlier_journal_others_could_write_is_named_not_trusted() {
    let dir = state_folder();
    let legacy = dir.path().join(LEGACY_JOURNAL);
    std::fs::write(&legacy, b"{\"pid\": 1, \"changes\": []}").unwrap();
    std::fs::set_permissions(&legacy, std::fs::Permissions::from_mode(0o666)).unwrap();

    let report = cleanup(dir.path()).unwrap();

    let [note] = report.notes.as_slice() else {
        panic!("one note expected: {report:?}");
    };
    assert!(
        note.starts_with("not replayed: ") && note.contains(&legacy.display().to_string()),
        "{note}"
    );
}
