//! Uploads to `rescue-wizard serve --allow-write`: a file appears under its final name only
//! when it is whole (a server killed mid-upload leaves none), and all uploads of a run
//! together are held to a quota whose refusal names the option that raises it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use rescue_wizard::tftp::packet::{ErrorCode, Packet};

mod support;

const WAIT: Duration = Duration::from_secs(10);

fn wrq(name: &str) -> Vec<u8> {
    let mut d = b"\x00\x02".to_vec();
    d.extend_from_slice(name.as_bytes());
    d.extend_from_slice(b"\x00octet\x00");
    d
}

/// DATA `block`, 512 bytes.
fn data_block(block: u16) -> Vec<u8> {
    let mut data = vec![0, 3];
    data.extend_from_slice(&block.to_be_bytes());
    data.extend_from_slice(&[block as u8; 512]);
    data
}

/// Uploads `blocks` full 512-byte blocks of `name` by hand, each acknowledged, and leaves
/// the upload open (the last block is full, so the server waits for more). Returns the
/// socket and the transfer's port.
fn upload_unfinished(server: SocketAddr, name: &str, blocks: u16) -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket.send_to(&wrq(name), server).unwrap();
    let mut buf = [0u8; 1024];
    let (len, port) = socket.recv_from(&mut buf).expect("ACK 0");
    assert_eq!(&buf[..len], b"\x00\x04\x00\x00", "ACK 0");
    for block in 1..=blocks {
        socket.send_to(&data_block(block), port).unwrap();
        let (len, _) = socket.recv_from(&mut buf).expect("an ACK");
        assert_eq!(
            Packet::parse(&buf[..len]).ok(),
            Some(Packet::Ack { block }),
            "ACK {block}"
        );
    }
    (socket, port)
}

#[test]
fn a_server_killed_mid_upload_leaves_nothing_under_the_final_name() {
    // Issue 12 item 4: the upload went to its final name from the first block, so a SIGKILL
    // mid-upload left a partial file that looked like a finished one.
    let Some(tftp) = support::Peer::TftpHpa.require() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = support::make_file(dir.path(), "fw.bin", 3000);
    let uploads = dir.path().join("uploads");
    std::fs::create_dir(&uploads).unwrap();
    let mut server =
        support::Server::start(&image, &["--allow-write".as_ref(), uploads.as_os_str()]);
    let (open, _) = upload_unfinished(server.addr, "backup.bin", 40);
    assert!(
        !uploads.join("backup.bin").exists(),
        "an unfinished upload is under its final name: {:?}",
        support::names_in(&uploads)
    );
    assert!(
        uploads.join("backup.bin.part").exists(),
        "{:?}",
        support::names_in(&uploads)
    );
    server.proc.kill();
    drop(open);
    assert!(
        !uploads.join("backup.bin").exists(),
        "SIGKILL left a partial file under the final name"
    );

    // A whole upload lands under its name, and no .part is left beside it.
    let server = support::Server::start(&image, &["--allow-write".as_ref(), uploads.as_os_str()]);
    let source = support::make_file(dir.path(), "config.bin", 70_000);
    let mut cmd = support::Peer::TftpHpa.put_command(&tftp, server.addr, &source, "config.bin");
    support::run_ok(&mut cmd, WAIT);
    server.summary(WAIT);
    support::assert_same_file(&source, &uploads.join("config.bin"), "the upload");
    assert!(!uploads.join("config.bin.part").exists());
    assert!(server.stop().success());
}

#[test]
fn uploads_together_are_held_to_a_quota_that_names_its_option() {
    // Issue 12 item 4: uploads had no total quota; each was bounded alone, so a client could
    // fill the disk one upload at a time. Quota 100,000 bytes: a 70,000-byte upload lands,
    // the next one is refused when it passes the quota, with the option that raises it.
    let Some(tftp) = support::Peer::TftpHpa.require() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = support::make_file(dir.path(), "fw.bin", 3000);
    let uploads = dir.path().join("uploads");
    std::fs::create_dir(&uploads).unwrap();
    let server = support::Server::start(
        &image,
        &[
            "--allow-write".as_ref(),
            uploads.as_os_str(),
            "--write-quota".as_ref(),
            "100000".as_ref(),
        ],
    );
    let first = support::make_file(dir.path(), "one.bin", 70_000);
    let mut cmd = support::Peer::TftpHpa.put_command(&tftp, server.addr, &first, "one.bin");
    support::run_ok(&mut cmd, WAIT);
    server.summary(WAIT);
    // By hand, to see the ERROR: the second upload passes the quota with its 59th block
    // (70,000 + 59 x 512 > 100,000).
    let (socket, port) = upload_unfinished(server.addr, "two.bin", 58);
    socket.send_to(&data_block(59), port).unwrap();
    let mut buf = [0u8; 1024];
    let (len, _) = socket.recv_from(&mut buf).expect("an answer to block 59");
    match Packet::parse(&buf[..len]) {
        Ok(Packet::Error { code, .. }) => assert_eq!(code, ErrorCode::DISK_FULL),
        other => panic!("expected ERROR 3 at block 59, got {other:?}"),
    }
    let said = server.summary(WAIT);
    assert!(
        said.contains("--write-quota"),
        "the refusal names its option: {said}"
    );
    assert!(
        said.contains("100000"),
        "the refusal says the quota: {said}"
    );
    assert_eq!(
        support::names_in(&uploads),
        ["one.bin"],
        "nothing kept of the refused upload"
    );
    assert!(server.stop().success());
}
