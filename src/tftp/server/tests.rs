use super::files::plain_file_name;
use super::*;

#[test]
fn a_taken_port_69_is_never_fixed_by_another_port() {
    let taken = |port| {
        bind_error(
            SocketAddr::from(([127, 0, 0, 1], port)),
            io::Error::from(io::ErrorKind::AddrInUse),
        )
        .to_string()
    };
    let on_69 = taken(crate::tftp::DEFAULT_PORT);
    assert!(on_69.contains("sudo systemctl stop tftpd-hpa"), "{on_69}");
    assert!(on_69.contains("only ever asks port 69"), "{on_69}");
    assert!(!on_69.contains("--port"), "{on_69}");
    let elsewhere = taken(6969);
    assert!(elsewhere.contains("--port"), "{elsewhere}");
}

#[test]
fn confinement() {
    let dir = tempfile::tempdir().unwrap();
    let root_parent = dir.path().canonicalize().unwrap();
    let root = root_parent.join("root");
    fs::create_dir(&root).unwrap();
    fs::create_dir(root_parent.join("root-private")).unwrap();
    fs::write(root_parent.join("root-private/secret"), b"s").unwrap();
    fs::write(root_parent.join("outside"), b"o").unwrap();
    fs::write(root.join("fw.bin"), b"fw").unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/x.bin"), b"x").unwrap();
    std::os::unix::fs::symlink(root_parent.join("outside"), root.join("link")).unwrap();
    assert_eq!(confine(&root, b"fw.bin").ok(), Some(root.join("fw.bin")));
    assert_eq!(
        confine(&root, b"sub/x.bin").ok(),
        Some(root.join("sub/x.bin"))
    );
    for (name, code) in [
        (&b"../outside"[..], ErrorCode::ACCESS_VIOLATION),
        (b"../../etc/passwd", ErrorCode::ACCESS_VIOLATION),
        (b"..\\..\\win.ini", ErrorCode::ACCESS_VIOLATION),
        (b"..%2f..%2fx", ErrorCode::FILE_NOT_FOUND),
        (b"....//x", ErrorCode::ACCESS_VIOLATION),
        (b"..%c0%afx", ErrorCode::FILE_NOT_FOUND),
        (
            "\u{ff0e}\u{ff0e}\u{ff0f}x".as_bytes(),
            ErrorCode::ACCESS_VIOLATION,
        ),
        ("..\u{2215}x".as_bytes(), ErrorCode::ACCESS_VIOLATION),
        (b"/etc/passwd", ErrorCode::ACCESS_VIOLATION),
        (b"C:\\x", ErrorCode::ACCESS_VIOLATION),
        (b"\\\\host\\share\\x", ErrorCode::ACCESS_VIOLATION),
        (b"link", ErrorCode::ACCESS_VIOLATION),
        (b"../root-private/secret", ErrorCode::ACCESS_VIOLATION),
        (b"sub", ErrorCode::FILE_NOT_FOUND),
        (b"missing.bin", ErrorCode::FILE_NOT_FOUND),
        (b"", ErrorCode::ACCESS_VIOLATION),
        (b"fw.bin\x1b[2J", ErrorCode::ACCESS_VIOLATION),
    ] {
        let refused = confine(&root, name)
            .err()
            .unwrap_or_else(|| panic!("{name:?} was served"));
        assert_eq!(refused.code, code, "{name:?}: {}", refused.reason);
    }
}

#[test]
fn upload_names_are_plain() {
    assert!(plain_file_name(b"backup.bin").is_ok());
    for bad in [
        &b"../x"[..],
        b"a/b",
        b"..",
        b".",
        b"",
        b"a\\b",
        b"a b",
        b"\xff",
    ] {
        assert!(plain_file_name(bad).is_err(), "{bad:?}");
    }
}
