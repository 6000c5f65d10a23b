//! Real TFTP clients from Debian (tftp-hpa, atftp, curl, busybox) against
//! `rescue-wizard serve` on loopback; every file compared byte for byte.
//!
//! `interop_control` runs the same client invocations against tftpd-hpa and atftpd: when it
//! passes and a test here fails, the fault is rescue-wizard's.

#![allow(clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::{
    AtftpTrace, CURL_OPTION_SIZES, EDGE_SIZES, Peer, ROLLOVER_EXACT, ROLLOVER_PAST, Server,
};
use tempfile::TempDir;

/// Largest block size the tests let the server grant (loopback carries 64 KiB datagrams).
const MAX_BLKSIZE: &str = "65464";

/// A folder holding one file per size, named by [`support::sized_name`].
fn folder_of(sizes: &[usize]) -> TempDir {
    let root = tempfile::tempdir().expect("temporary folder");
    for &size in sizes {
        support::make_file(root.path(), &support::sized_name(size), size);
    }
    root
}

/// Serves `root` with large blocks allowed, plus `extra` flags.
fn serve(root: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--max-blksize", MAX_BLKSIZE];
    args.extend_from_slice(extra);
    Server::start(root, &args)
}

/// Fetches each size with `peer` from a fresh server and compares byte for byte.
fn fetch_sizes(peer: Peer, sizes: &[usize], extra: &[&str]) {
    let Some(bin) = peer.require() else { return };
    let root = folder_of(sizes);
    let out = tempfile::tempdir().expect("temporary folder");
    let server = serve(root.path(), extra);
    for &size in sizes {
        let name = support::sized_name(size);
        let local = out.path().join(&name);
        support::fetch(peer, &bin, server.addr, &name, &local, size);
        support::assert_same_file(
            &root.path().join(&name),
            &local,
            &format!("{} fetching {size} bytes", peer.label()),
        );
    }
    let status = server.stop();
    assert!(status.success(), "serve did not stop cleanly: {status}");
}

/// Runs atftp with `--trace` and returns what the trace shows.
fn atftp_traced(bin: &Path, server: &Server, peer: Peer, name: &str, local: &Path) -> AtftpTrace {
    let mut cmd = peer.get_command(bin, server.addr, name, local);
    cmd.arg("--trace");
    let output = support::run_ok(&mut cmd, support::LONG_DEADLINE);
    AtftpTrace::parse(&String::from_utf8_lossy(&output.stderr))
}

#[test]
fn tftp_hpa_fetches_every_size_in_lock_step_across_the_rollover() {
    let mut sizes = EDGE_SIZES.to_vec();
    sizes.extend([ROLLOVER_EXACT, ROLLOVER_PAST]);
    fetch_sizes(Peer::TftpHpa, &sizes, &[]);
}

#[test]
fn atftp_fetches_with_every_blksize_and_windowsize() {
    let Some(bin) = support::require("atftp") else {
        return;
    };
    let sizes = [0, 1, 513, 4 * 1468, 3 * 1024 * 1024 + 7];
    let root = folder_of(&sizes);
    let out = tempfile::tempdir().expect("temporary folder");
    let server = serve(root.path(), &["--max-windowsize", "64"]);
    for blksize in [None, Some(512), Some(1468), Some(8192), Some(65464)] {
        for windowsize in [None, Some(1), Some(4), Some(16)] {
            for &size in &sizes {
                let name = support::sized_name(size);
                let local = out
                    .path()
                    .join(format!("{blksize:?}-{windowsize:?}-{name}"));
                let peer = Peer::Atftp {
                    blksize,
                    windowsize,
                };
                let trace = atftp_traced(&bin, &server, peer, &name, &local);
                let what = format!("{}, {size} bytes", peer.label());
                support::assert_same_file(&root.path().join(&name), &local, &what);
                let block = usize::from(blksize.unwrap_or(512));
                let blocks = size / block + 1;
                assert!(
                    trace.largest <= block,
                    "{what}: a block larger than agreed, {trace:?}"
                );
                let window = usize::from(windowsize.unwrap_or(1));
                if window * block <= 64 * 1024 {
                    // A clean loopback needs each block once: more DATA means needless resends.
                    assert_eq!(trace.data, blocks, "{what}: DATA received, {trace:?}");
                } else {
                    // A burst larger than the client's socket buffer may lose packets even on
                    // loopback; the repair must stay bounded.
                    assert!(
                        trace.data <= blocks + blocks / 2 + window,
                        "{what}: {blocks} blocks took {} DATA, {trace:?}",
                        trace.data
                    );
                }
            }
        }
    }
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn atftp_blksize_8_rolls_the_block_number_over_twice() {
    // 1 MiB in 8-byte blocks: 131 072 full blocks and an empty one, block numbers wrap twice.
    let size = 1024 * 1024;
    let Some(bin) = support::require("atftp") else {
        return;
    };
    let root = folder_of(&[size]);
    let out = tempfile::tempdir().expect("temporary folder");
    let server = serve(root.path(), &[]);
    let name = support::sized_name(size);
    let local = out.path().join(&name);
    let peer = Peer::Atftp {
        blksize: Some(8),
        windowsize: None,
    };
    let trace = atftp_traced(&bin, &server, peer, &name, &local);
    support::assert_same_file(&root.path().join(&name), &local, "atftp blksize 8, 1 MiB");
    assert_eq!(trace.data, size / 8 + 1, "DATA received: {trace:?}");
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn atftp_without_options_crosses_the_rollover() {
    fetch_sizes(
        Peer::Atftp {
            blksize: None,
            windowsize: None,
        },
        &[ROLLOVER_EXACT, ROLLOVER_PAST],
        &[],
    );
}

#[test]
fn atftp_with_a_window_crosses_the_rollover() {
    fetch_sizes(
        Peer::Atftp {
            blksize: None,
            windowsize: Some(16),
        },
        &[ROLLOVER_PAST],
        &["--max-windowsize", "64"],
    );
}

#[test]
fn curl_fetches_with_blksize_1468() {
    fetch_sizes(
        Peer::Curl {
            blksize: Some(1468),
            no_options: false,
        },
        CURL_OPTION_SIZES,
        &[],
    );
}

#[test]
fn curl_fetches_with_its_default_options_across_the_rollover() {
    fetch_sizes(
        Peer::Curl {
            blksize: None,
            no_options: false,
        },
        &[513, ROLLOVER_PAST],
        &[],
    );
}

#[test]
fn curl_fetches_without_options() {
    let mut sizes = EDGE_SIZES.to_vec();
    sizes.push(ROLLOVER_EXACT);
    fetch_sizes(
        Peer::Curl {
            blksize: None,
            no_options: true,
        },
        &sizes,
        &[],
    );
}

#[test]
fn busybox_fetches_every_size_across_the_rollover() {
    let mut sizes = EDGE_SIZES.to_vec();
    sizes.push(ROLLOVER_PAST);
    fetch_sizes(Peer::Busybox { blksize: None }, &sizes, &[]);
}

#[test]
fn busybox_fetches_with_blksize_1468() {
    fetch_sizes(
        Peer::Busybox {
            blksize: Some(1468),
        },
        &[0, 1, 1467, 1468, 1469, 3 * 1024 * 1024 + 7],
        &[],
    );
}

/// Uploads each size with `peer` into `--allow-write`, waiting for the server's summary line
/// before comparing (the file is complete on disk once the transfer is reported finished).
fn upload_sizes(peer: Peer, sizes: &[usize]) {
    let Some(bin) = peer.require() else { return };
    let shared = folder_of(&[1]);
    let src = folder_of(sizes);
    let incoming = tempfile::tempdir().expect("temporary folder");
    let incoming_arg = incoming.path().to_str().expect("temporary path is UTF-8");
    let server = serve(shared.path(), &["--allow-write", incoming_arg]);
    for &size in sizes {
        let name = support::sized_name(size);
        let mut cmd = peer.put_command(&bin, server.addr, &src.path().join(&name), &name);
        support::run_ok(&mut cmd, support::deadline_for(size));
        let summary = server.summary(support::SHORT_DEADLINE);
        support::assert_same_file(
            &src.path().join(&name),
            &incoming.path().join(&name),
            &format!(
                "{} uploading {size} bytes (summary {summary:?})",
                peer.label()
            ),
        );
    }
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn tftp_hpa_uploads_into_allow_write() {
    upload_sizes(
        Peer::TftpHpa,
        &[0, 1, 511, 512, 513, 3 * 1024 * 1024 + 7, ROLLOVER_PAST],
    );
}

#[test]
fn curl_uploads_into_allow_write() {
    upload_sizes(
        Peer::Curl {
            blksize: Some(1468),
            no_options: false,
        },
        CURL_OPTION_SIZES,
    );
    upload_sizes(
        Peer::Curl {
            blksize: None,
            no_options: true,
        },
        &[0, 512, 513],
    );
}

#[test]
fn atftp_uploads_with_a_window_into_allow_write() {
    upload_sizes(
        Peer::Atftp {
            blksize: Some(1468),
            windowsize: Some(8),
        },
        &[0, 1468, 3 * 1024 * 1024 + 7],
    );
}

#[test]
fn uploads_are_refused_without_allow_write() {
    let Some(bin) = support::require("tftp") else {
        return;
    };
    let root = folder_of(&[513]);
    let src = folder_of(&[700]);
    let server = serve(root.path(), &[]);
    let name = support::sized_name(700);
    let mut cmd = Peer::TftpHpa.put_command(&bin, server.addr, &src.path().join(&name), &name);
    let output = support::run(&mut cmd, support::SHORT_DEADLINE);
    // tftp-hpa exits 0 even on an ERROR packet, but prints it.
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        said.to_lowercase().contains("error"),
        "tftp-hpa said: {said:?}"
    );
    assert!(
        !root.path().join(&name).exists(),
        "the upload landed in the served folder"
    );
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn a_single_image_is_served_under_its_name_and_with_any_name_under_every_name() {
    let Some(bin) = support::require("tftp") else {
        return;
    };
    let dir = folder_of(&[100_000]);
    let image = dir.path().join(support::sized_name(100_000));
    let out = tempfile::tempdir().expect("temporary folder");

    let server = Server::start::<&str>(&image, &[]);
    let local = out.path().join("by-name.bin");
    support::fetch(
        Peer::TftpHpa,
        &bin,
        server.addr,
        &support::sized_name(100_000),
        &local,
        1,
    );
    support::assert_same_file(&image, &local, "the image under its own name");
    assert!(server.stop().success(), "serve did not stop cleanly");

    let server = Server::start(&image, &["--any-name"]);
    for asked in [
        "wdr4300v1_tp_recovery.bin",
        "vmlinux.bin",
        "openwrt-sysupgrade.bin",
    ] {
        let local = out.path().join(asked);
        support::fetch(Peer::TftpHpa, &bin, server.addr, asked, &local, 1);
        support::assert_same_file(&image, &local, &format!("--any-name asked for {asked}"));
    }
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn no_options_serves_plain_512_byte_blocks_to_a_client_asking_for_more() {
    let Some(bin) = support::require("atftp") else {
        return;
    };
    let size = 100_000;
    let root = folder_of(&[size]);
    let out = tempfile::tempdir().expect("temporary folder");
    let server = serve(root.path(), &["--no-options"]);
    let name = support::sized_name(size);
    let local = out.path().join(&name);
    let peer = Peer::Atftp {
        blksize: Some(1468),
        windowsize: Some(16),
    };
    let trace = atftp_traced(&bin, &server, peer, &name, &local);
    support::assert_same_file(
        &root.path().join(&name),
        &local,
        "atftp against --no-options",
    );
    assert_eq!(trace.largest, 512, "{trace:?}");
    assert_eq!(trace.data, size / 512 + 1, "{trace:?}");
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn exit_after_stops_the_server_once_that_many_transfers_finished() {
    let Some(bin) = support::require("tftp") else {
        return;
    };
    let root = folder_of(&[513]);
    let out = tempfile::tempdir().expect("temporary folder");
    let mut server = serve(root.path(), &["--exit-after", "2"]);
    let name = support::sized_name(513);
    for round in 0..2 {
        let local = out.path().join(format!("{round}.bin"));
        support::fetch(Peer::TftpHpa, &bin, server.addr, &name, &local, 513);
        support::assert_same_file(&root.path().join(&name), &local, "exit-after fetch");
    }
    let status = server.proc.wait_deadline(support::SHORT_DEADLINE);
    assert!(
        status.is_some_and(|s| s.success()),
        "--exit-after 2: exit status {status:?} after two transfers\n{}",
        server.proc.diagnostics()
    );
}

#[test]
fn serve_reports_a_missing_image_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let missing = dir.path().join("no-such-image.bin");
    let mut cmd = support::rescue_wizard();
    cmd.arg("serve")
        .arg(&missing)
        .args(["--bind", "127.0.0.1", "--port", "0"]);
    let output = support::run(&mut cmd, support::SHORT_DEADLINE);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no-such-image.bin"),
        "the error does not name the file: {stderr}"
    );
}

#[test]
fn tftp_hpa_fetches_over_ipv6_loopback() {
    let Some(bin) = support::require("tftp") else {
        return;
    };
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        support::skip_or_fail("this host has no IPv6 loopback");
        return;
    }
    let size = 70_000;
    let root = folder_of(&[size]);
    let out = tempfile::tempdir().expect("temporary folder");
    let server = Server::start_on("::1", root.path(), &[] as &[&str]);
    assert!(server.addr.is_ipv6(), "listening on {}", server.addr);
    let name = support::sized_name(size);
    let local = out.path().join(&name);
    let mut cmd = Command::new(&bin);
    cmd.args(["-6", "-m", "binary", "::1", &server.addr.port().to_string()])
        .args(["-c", "get", &name])
        .arg(&local);
    support::run_ok(&mut cmd, support::SHORT_DEADLINE);
    support::assert_same_file(&root.path().join(&name), &local, "tftp-hpa over ::1");
    assert!(server.stop().success(), "serve did not stop cleanly");
}

#[test]
fn concurrent_clients_share_one_copy_of_the_image() {
    // The image is read once as a snapshot shared by concurrent transfers, never copied per
    // client: 8 clients starting together on a 64 MiB image stay under 100 MiB resident.
    const CLIENTS: usize = 8;
    const SIZE: usize = 64 * 1024 * 1024;
    const LIMIT_KIB: u64 = 100 * 1024;
    let Some(bin) = support::require("atftp") else {
        return;
    };
    let root = folder_of(&[SIZE]);
    let out = tempfile::tempdir().expect("temporary folder");
    let server = serve(root.path(), &["--max-windowsize", "64"]);
    let name = support::sized_name(SIZE);
    let peer = Peer::Atftp {
        blksize: Some(1468),
        windowsize: Some(16),
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let local = out.path().join(format!("{n}.bin"));
            let mut cmd = peer.get_command(&bin, server.addr, &name, &local);
            cmd.stdin(std::process::Stdio::null());
            (local, support::Proc::spawn(&mut cmd))
        })
        .collect();
    for (local, mut client) in clients {
        let status = client.wait_deadline(support::LONG_DEADLINE);
        assert!(
            status.is_some_and(|s| s.success()),
            "a concurrent client failed: {status:?}\n{}",
            client.diagnostics()
        );
        support::assert_same_file(&root.path().join(&name), &local, "concurrent fetch");
    }
    let peak = support::peak_rss_kib(server.proc.pid()).expect("VmHWM of the server");
    assert!(
        peak < LIMIT_KIB,
        "serve peaked at {peak} KiB resident with {CLIENTS} clients on a {} MiB image (limit \
         {LIMIT_KIB} KiB)",
        SIZE >> 20
    );
    assert!(server.stop().success(), "serve did not stop cleanly");
}
