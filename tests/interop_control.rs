//! The control group for `interop_server`: the very same client invocations against tftpd-hpa
//! and atftpd. When these pass and `interop_server` fails, the fault is in rescue-wizard, not in
//! the peer, its flags, or the test rig.

#![allow(clippy::expect_used)]

mod support;

use support::{Daemon, EDGE_SIZES, Peer, ROLLOVER_PAST};

/// Fetches every size in `sizes` with `peer` from both daemons and compares byte for byte.
fn fetch_from_daemons(peer: Peer, sizes: &[usize]) {
    let Some(bin) = peer.require() else { return };
    let root = tempfile::tempdir().expect("temporary folder");
    let out = tempfile::tempdir().expect("temporary folder");
    for &size in sizes {
        support::make_file(root.path(), &support::sized_name(size), size);
    }
    let daemons = [
        Daemon::tftpd_hpa::<&str>(root.path(), &[]),
        Daemon::atftpd::<&str>(root.path(), &[]),
    ];
    for daemon in daemons.iter().flatten() {
        for &size in sizes {
            let name = support::sized_name(size);
            let local = out.path().join(format!("{:?}-{name}", daemon.kind));
            support::fetch(peer, &bin, daemon.addr, &name, &local, size);
            support::assert_same_file(
                &root.path().join(&name),
                &local,
                &format!("{} from {:?}", peer.label(), daemon.kind),
            );
        }
    }
}

fn uploads_to_daemons(peer: Peer) {
    let Some(bin) = peer.require() else { return };
    let src = tempfile::tempdir().expect("temporary folder");
    let size = 70_000;
    let local = support::make_file(src.path(), "upload.bin", size);
    let roots = [
        tempfile::tempdir().expect("temporary folder"),
        tempfile::tempdir().expect("temporary folder"),
    ];
    let daemons = [
        Daemon::tftpd_hpa(roots[0].path(), &["-c"]),
        Daemon::atftpd_logged::<&str>(roots[1].path(), &[]),
    ];
    for (daemon, root) in daemons.into_iter().zip(&roots) {
        let Some(mut daemon) = daemon else { continue };
        let mut cmd = peer.put_command(&bin, daemon.addr, &local, "upload.bin");
        support::run_ok(&mut cmd, support::SHORT_DEADLINE);
        daemon.wait_transfers(1, support::SHORT_DEADLINE);
        let stored = root.path().join("upload.bin");
        support::assert_same_file(
            &local,
            &stored,
            &format!("{} to {:?}", peer.label(), daemon.kind),
        );
    }
}

#[test]
fn tftp_hpa_fetches_from_daemons() {
    let mut sizes = EDGE_SIZES.to_vec();
    sizes.push(ROLLOVER_PAST);
    fetch_from_daemons(Peer::TftpHpa, &sizes);
}

#[test]
fn atftp_fetches_from_daemons_with_options() {
    fetch_from_daemons(
        Peer::Atftp {
            blksize: Some(1468),
            windowsize: Some(16),
        },
        EDGE_SIZES,
    );
    fetch_from_daemons(
        Peer::Atftp {
            blksize: None,
            windowsize: None,
        },
        &[0, 513],
    );
}

#[test]
fn curl_fetches_from_daemons() {
    fetch_from_daemons(
        Peer::Curl {
            blksize: Some(1468),
            no_options: false,
        },
        support::CURL_OPTION_SIZES,
    );
    fetch_from_daemons(
        Peer::Curl {
            blksize: None,
            no_options: true,
        },
        &[0, 512, 513],
    );
}

#[test]
fn busybox_fetches_from_daemons() {
    fetch_from_daemons(Peer::Busybox { blksize: None }, EDGE_SIZES);
    fetch_from_daemons(
        Peer::Busybox {
            blksize: Some(1468),
        },
        &[0, 1468, 100_000],
    );
}

#[test]
fn clients_upload_to_daemons() {
    uploads_to_daemons(Peer::TftpHpa);
    uploads_to_daemons(Peer::Curl {
        blksize: None,
        no_options: false,
    });
    uploads_to_daemons(Peer::Atftp {
        blksize: Some(1468),
        windowsize: None,
    });
    uploads_to_daemons(Peer::Busybox { blksize: None });
}
