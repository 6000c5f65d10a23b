//! `rescue-wizard push` and `rescue-wizard get` against real daemons from Debian, tftpd-hpa
//! (`in.tftpd`) and atftpd, on loopback; every file compared byte for byte.

#![allow(clippy::expect_used)]

mod support;

use std::path::Path;

use support::{Daemon, DaemonKind, EDGE_SIZES, ROLLOVER_EXACT, ROLLOVER_PAST};
use tempfile::TempDir;

/// A folder holding one file per size, named by [`support::sized_name`].
fn folder_of(sizes: &[usize]) -> TempDir {
    let root = tempfile::tempdir().expect("temporary folder");
    for &size in sizes {
        support::make_file(root.path(), &support::sized_name(size), size);
    }
    root
}

fn start(kind: DaemonKind, root: &Path, extra: &[&str]) -> Option<Daemon> {
    match kind {
        // -c: let uploads create files.
        DaemonKind::TftpdHpa => Daemon::tftpd_hpa(root, &[&["-c"], extra].concat()),
        DaemonKind::Atftpd => Daemon::atftpd_logged(root, extra),
    }
}

/// `--blksize N` / `--windowsize N` as our client flags.
fn option_flags(blksize: Option<u16>, windowsize: Option<u16>) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(size) = blksize {
        flags.extend(["--blksize".to_owned(), size.to_string()]);
    }
    if let Some(size) = windowsize {
        flags.extend(["--windowsize".to_owned(), size.to_string()]);
    }
    flags
}

/// Pushes every size to a fresh daemon of `kind` started with `daemon_flags`, asking for the
/// given options, and compares what the daemon stored.
fn push_sizes(
    kind: DaemonKind,
    daemon_flags: &[&str],
    blksize: Option<u16>,
    windowsize: Option<u16>,
    sizes: &[usize],
) {
    let src = folder_of(sizes);
    let incoming = tempfile::tempdir().expect("temporary folder");
    let Some(mut daemon) = start(kind, incoming.path(), daemon_flags) else {
        return;
    };
    for (done, &size) in sizes.iter().enumerate() {
        let name = support::sized_name(size);
        let image = src.path().join(&name);
        let mut cmd = support::rescue_wizard();
        cmd.arg("push")
            .arg(&image)
            .args([
                "--to",
                "127.0.0.1",
                "--port",
                &daemon.addr.port().to_string(),
            ])
            .args(["--wait", "10"])
            .args(option_flags(blksize, windowsize));
        support::run_ok(&mut cmd, support::deadline_for(size));
        daemon.wait_transfers(done + 1, support::SHORT_DEADLINE);
        support::assert_same_file(
            &image,
            &incoming.path().join(&name),
            &format!(
                "push of {size} bytes to {kind:?} {daemon_flags:?}, blksize {blksize:?}, \
                 windowsize {windowsize:?}"
            ),
        );
    }
}

/// Fetches every size from a fresh daemon of `kind` with `rescue-wizard get` and compares.
fn get_sizes(
    kind: DaemonKind,
    daemon_flags: &[&str],
    blksize: Option<u16>,
    windowsize: Option<u16>,
    sizes: &[usize],
) {
    let root = folder_of(sizes);
    let out = tempfile::tempdir().expect("temporary folder");
    let Some(daemon) = start(kind, root.path(), daemon_flags) else {
        return;
    };
    for &size in sizes {
        let name = support::sized_name(size);
        let local = out.path().join(&name);
        let mut cmd = support::rescue_wizard();
        cmd.args([
            "get",
            "127.0.0.1",
            &name,
            "--port",
            &daemon.addr.port().to_string(),
        ])
        .arg("-o")
        .arg(&local)
        .args(option_flags(blksize, windowsize));
        support::run_ok(&mut cmd, support::deadline_for(size));
        support::assert_same_file(
            &root.path().join(&name),
            &local,
            &format!(
                "get of {size} bytes from {kind:?} {daemon_flags:?}, blksize {blksize:?}, \
                 windowsize {windowsize:?}"
            ),
        );
    }
}

fn every_size() -> Vec<usize> {
    let mut sizes = EDGE_SIZES.to_vec();
    sizes.extend([ROLLOVER_EXACT, ROLLOVER_PAST]);
    sizes
}

#[test]
fn push_to_tftpd_hpa_every_size_across_the_rollover() {
    push_sizes(DaemonKind::TftpdHpa, &[], None, None, &every_size());
}

#[test]
fn push_to_tftpd_hpa_with_blksize_1468() {
    push_sizes(
        DaemonKind::TftpdHpa,
        &["--blocksize", "1468"],
        Some(1468),
        None,
        EDGE_SIZES,
    );
    // Asking for more than the daemon allows: it grants 1468, and we must use that.
    push_sizes(
        DaemonKind::TftpdHpa,
        &["--blocksize", "1468"],
        Some(8192),
        None,
        &[0, 1468, 100_000],
    );
}

#[test]
fn push_to_tftpd_hpa_refusing_blksize_falls_back_to_512() {
    push_sizes(
        DaemonKind::TftpdHpa,
        &["--refuse", "blksize"],
        Some(1468),
        None,
        &[0, 511, 512, 513, 3 * 1024 * 1024 + 7],
    );
}

#[test]
fn push_to_tftpd_hpa_asking_for_a_window_it_does_not_grant() {
    // tftpd-hpa 5.2 knows no windowsize: it leaves it out of the OACK, so the window is 1.
    push_sizes(
        DaemonKind::TftpdHpa,
        &[],
        Some(1468),
        Some(16),
        &[0, 1468, 3 * 1024 * 1024 + 7],
    );
}

#[test]
fn get_from_tftpd_hpa_every_size_across_the_rollover() {
    get_sizes(DaemonKind::TftpdHpa, &[], None, None, &every_size());
}

#[test]
fn get_from_tftpd_hpa_with_blksize_1468() {
    get_sizes(
        DaemonKind::TftpdHpa,
        &["--blocksize", "1468"],
        Some(1468),
        None,
        EDGE_SIZES,
    );
    get_sizes(
        DaemonKind::TftpdHpa,
        &["--blocksize", "1468"],
        Some(8192),
        Some(16),
        &[0, 1468, 100_000],
    );
}

#[test]
fn get_from_tftpd_hpa_refusing_blksize_falls_back_to_512() {
    get_sizes(
        DaemonKind::TftpdHpa,
        &["--refuse", "blksize"],
        Some(1468),
        None,
        &[0, 511, 512, 513, 3 * 1024 * 1024 + 7],
    );
}

#[test]
fn push_to_atftpd_every_size_across_the_rollover() {
    push_sizes(DaemonKind::Atftpd, &[], None, None, &every_size());
}

#[test]
fn push_to_atftpd_with_blksize_and_window() {
    push_sizes(
        DaemonKind::Atftpd,
        &[],
        Some(1468),
        Some(16),
        &[0, 1, 1467, 1468, 1469, 3 * 1024 * 1024 + 7],
    );
    push_sizes(
        DaemonKind::Atftpd,
        &[],
        Some(512),
        Some(4),
        &[ROLLOVER_PAST],
    );
}

#[test]
fn get_from_atftpd_every_size_across_the_rollover() {
    get_sizes(DaemonKind::Atftpd, &[], None, None, &every_size());
}

#[test]
fn get_from_atftpd_with_blksize_and_window() {
    get_sizes(
        DaemonKind::Atftpd,
        &[],
        Some(1468),
        Some(16),
        &[0, 1, 1467, 1468, 1469, 3 * 1024 * 1024 + 7],
    );
    get_sizes(
        DaemonKind::Atftpd,
        &[],
        Some(512),
        Some(4),
        &[ROLLOVER_PAST],
    );
}

#[test]
fn blksize_8_rolls_over_twice_both_ways_with_atftpd() {
    // 1 MiB in 8-byte blocks: 131 072 full blocks and an empty one, numbers wrap twice.
    let size = [1024 * 1024];
    push_sizes(DaemonKind::Atftpd, &[], Some(8), None, &size);
    get_sizes(DaemonKind::Atftpd, &[], Some(8), None, &size);
}

#[test]
fn get_of_a_missing_file_fails_with_exit_code_1() {
    let root = tempfile::tempdir().expect("temporary folder");
    let out = tempfile::tempdir().expect("temporary folder");
    let Some(daemon) = Daemon::tftpd_hpa::<&str>(root.path(), &[]) else {
        return;
    };
    let local = out.path().join("missing.bin");
    let mut cmd = support::rescue_wizard();
    cmd.args([
        "get",
        "127.0.0.1",
        "missing.bin",
        "--port",
        &daemon.addr.port().to_string(),
    ])
    .arg("-o")
    .arg(&local);
    let output = support::run(&mut cmd, support::SHORT_DEADLINE);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing.bin"),
        "the error does not name the file: {stderr}"
    );
    assert!(!local.exists(), "a failed get left {}", local.display());
}

#[test]
fn push_of_a_missing_image_fails_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut cmd = support::rescue_wizard();
    cmd.arg("push")
        .arg(dir.path().join("no-such-image.bin"))
        .args(["--to", "127.0.0.1", "--port", "9", "--wait", "1"]);
    let output = support::run(&mut cmd, support::SHORT_DEADLINE);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no-such-image.bin"),
        "the error does not name the file: {stderr}"
    );
}

#[test]
fn push_to_a_silent_port_gives_up_after_wait_with_exit_code_1() {
    // A bound socket that never answers: no ICMP "port unreachable" either, just silence.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let port = silent.local_addr().expect("local address").port();
    let src = folder_of(&[513]);
    let mut cmd = support::rescue_wizard();
    cmd.arg("push")
        .arg(src.path().join(support::sized_name(513)))
        .args([
            "--to",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--wait",
            "2",
        ]);
    let output = support::run(&mut cmd, support::SHORT_DEADLINE);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let mut buf = [0; 1024];
    silent.set_nonblocking(true).expect("non-blocking socket");
    let (len, _) = silent
        .recv_from(&mut buf)
        .expect("the push sent no write request at all");
    assert_eq!(
        &buf[..2],
        &[0, 2],
        "the first packet is not a WRQ: {:?}",
        &buf[..len]
    );
}
