use super::*;

fn address(ifname: &str) -> Change {
    Change::Address {
        ifindex: 7,
        ifname: ifname.into(),
        mac: Some("02:00:00:00:00:07".into()),
        cidr: Ipv4Cidr::new(Ipv4Addr::new(192, 168, 0, 66), 24),
        label: Some("eth0:rw".into()),
        was_absent: true,
    }
}

#[test]
fn records_survive_and_are_struck_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::create(dir.path()).unwrap();
    let change = address("eth0");
    journal.record(&change).unwrap();
    journal
        .record(&Change::LinkUp {
            ifindex: 7,
            ifname: "eth0".into(),
            mac: None,
        })
        .unwrap();
    let text = std::fs::read_to_string(journal.path()).unwrap();
    assert!(
        text.contains("\"change\":\"address\"")
            && text.contains("192.168.0.66")
            && text.contains("02:00:00:00:00:07")
            && text.contains("\"was_absent\":true"),
        "{text}"
    );
    let decoded = decode(text.as_bytes());
    assert_eq!(decoded.run.as_ref(), Some(journal.run()));
    assert_eq!(decoded.changes.len(), 2);
    assert_eq!(decoded.changes[0], change);
    assert!(decoded.damage.is_none());
    journal.forget(&change).unwrap();
    assert_eq!(journal.changes().len(), 1);
    journal.forget(&journal.changes()[0].clone()).unwrap();
    let path = journal.path();
    journal.close().unwrap();
    assert!(!path.exists());
}

/// Lines as the previous version wrote them: the firewall rule as an untyped value, the
/// NetworkManager change by name alone. They read as the typed changes, with no recorded
/// interface, so undo goes as that version's did (by name, by comment and subnet).
#[test]
fn a_previous_versions_lines_still_read() {
    let run = serde_json::to_string(&Header {
        version: VERSION,
        run: RunId::this(),
    })
    .unwrap();
    let text = format!(
        "{run}\n{}\n{}\n",
        r#"{"change":"network-manager-unmanaged","ifname":"eth0"}"#,
        r#"{"change":"firewall-rule","rule":{"subnet":"192.168.0.0/24","iface":"eth0","rules":[{"backend":"nftables","family":"inet","table":"filter","chain":"input","handle":7}],"manual":[]}}"#
    );
    let decoded = decode(text.as_bytes());
    assert!(decoded.damage.is_none(), "{decoded:?}");
    let [nm, fw] = decoded.changes.as_slice() else {
        panic!("{decoded:?}");
    };
    assert_eq!(nm.recorded_port(), None);
    assert_eq!(fw.recorded_port(), None);
    assert_eq!(
        fw.to_string(),
        "firewall rule accepting UDP from 192.168.0.0/24 on eth0"
    );
    let Change::FirewallRule { rule, .. } = fw else {
        panic!("{fw:?}");
    };
    assert_eq!(
        rule.removal_commands(),
        vec!["nft delete rule inet filter input handle 7".to_owned()]
    );
    // Written now, with the interface: the fields are there and read back.
    let recorded = Change::NetworkManagerUnmanaged {
        ifname: "eth0".into(),
        ifindex: Some(3),
        mac: Some("02:00:00:00:00:03".into()),
    };
    let line = serde_json::to_string(&recorded).unwrap();
    assert!(line.contains(r#""ifindex":3"#), "{line}");
    assert_eq!(serde_json::from_str::<Change>(&line).unwrap(), recorded);
    assert_eq!(recorded.recorded_port().unwrap().index, 3);
}

#[test]
fn this_process_is_alive_and_a_reused_pid_is_not() {
    let me = RunId::this();
    assert!(me.start_time > 0, "{me:?}");
    assert!(me.alive());
    // Same pid, another start time: the pid was reused by another process.
    let reused = RunId {
        start_time: me.start_time + 1,
        ..me.clone()
    };
    assert!(!reused.alive());
    let other_boot = RunId {
        boot_id: "another-boot".into(),
        ..me
    };
    assert!(!other_boot.alive());
}

#[test]
fn stat_fields_are_counted_after_the_command_name() {
    // A command name with spaces and parentheses (a renamed binary) shifts nothing.
    let stat =
        "4242 (rw) x (y) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
    assert_eq!(parse_stat(stat), (Some('R'), Some(987_654)));
}

#[test]
fn a_damaged_journal_gives_back_what_it_can() {
    let run = RunId::this();
    let mut bytes = encode(&run, &[address("eth0"), address("eth1")]).unwrap();
    // Cut in the middle of the last change, then garbage.
    bytes.truncate(bytes.len() - 20);
    bytes.extend_from_slice(b"\n{not json\n");
    let decoded = decode(&bytes);
    assert_eq!(decoded.run, Some(run));
    assert_eq!(decoded.changes, vec![address("eth0")]);
    let damage = decoded.damage.unwrap();
    assert!(
        damage.contains("line 3") && damage.contains("line 4"),
        "{damage}"
    );
    let headless = decode(b"\x00\x01garbage\n");
    assert!(headless.run.is_none() && headless.damage.is_some());
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_is_not_written_through() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"keep me").unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let stem = format!("{}planted", RunId::this().prefix());
    let create = || Journal::create_as(&state, RunId::this(), stem.clone());
    // The names this run opens: its temporary file and its lock.
    for name in [format!(".{stem}.tmp"), format!("{stem}.lock")] {
        symlink(&target, state.join(&name)).unwrap();
        let err = create().unwrap_err();
        assert!(
            err.raw_os_error() == Some(nix::libc::ELOOP),
            "{name}: {err}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me", "{name}");
        std::fs::remove_file(state.join(&name)).unwrap();
    }
    // The journal's own name is only ever renamed over: the link is replaced, not followed.
    symlink(&target, state.join(format!("{stem}.json"))).unwrap();
    let journal = create().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert!(!journal.path().is_symlink());
    journal.close().unwrap();
    // The folder itself a link: refused, nothing written through it.
    let link = dir.path().join("link");
    symlink(&state, &link).unwrap();
    let err = Journal::create(&link).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_folder_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Journal::create(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("writable by other users")
            && err.to_string().contains("chmod go-w"),
        "{err}"
    );
}
