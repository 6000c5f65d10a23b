//! Our client against hostile servers: oversized blocks, forged error texts and options, more
//! than announced, a dangling symlink where the file lands.
//!
//! The numbered cases in comments (`Case 58`, `Cases 27 and 55`) are those of tests/CASES.md.

use super::*;

#[test]
fn our_client_refuses_an_oversized_block_after_oack() {
    // Case 56: OACK blksize 8 then a 516-byte DATA: refused, no overrun.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(WAIT)).unwrap();
    let addr = fake.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got.bin");
    let rt = Runtime::new().unwrap();
    let (events, _keep) = mpsc::unbounded_channel();
    let config = rescue_wizard::tftp::client::ClientConfig {
        options: rescue_wizard::tftp::options::ClientOptions {
            blksize: Some(8),
            ..Default::default()
        },
        wait: Duration::from_secs(5),
        ..Default::default()
    };
    let task = rt.spawn(rescue_wizard::tftp::client::get(
        addr,
        "fw.bin".into(),
        out.clone(),
        config,
        events,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    ));
    let (_, client_addr) = recv(&fake).unwrap();
    fake.send_to(b"\x00\x06blksize\x008\x00", client_addr)
        .unwrap();
    let (ack, _) = recv(&fake).unwrap();
    assert_eq!(ack, b"\x00\x04\x00\x00");
    let mut big = b"\x00\x03\x00\x01".to_vec();
    big.extend_from_slice(&[1u8; 512]);
    fake.send_to(&big, client_addr).unwrap();
    let (reply, _) = recv(&fake).unwrap();
    assert_eq!(error_code(&reply), Some(ErrorCode::ILLEGAL_OPERATION));
    let result = rt.block_on(task).unwrap();
    assert!(result.is_err());
    assert!(!out.exists(), "nothing left behind");
}

/// A scripted hostile TFTP server: takes one request at its port and plays `script` from a
/// transfer port of its own, with the client's address. Bounded by the socket timeouts.
struct Fake {
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    fn start(script: impl FnOnce(&UdpSocket, SocketAddr) + Send + 'static) -> Self {
        let listen = client();
        let addr = listen.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let Some((_, peer)) = recv(&listen) else {
                return;
            };
            script(&client(), peer);
        });
        Self {
            addr,
            thread: Some(thread),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        // The script's own assertions fail the test.
        if let Some(thread) = self.thread.take()
            && let Err(panic) = thread.join()
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Full 512-byte blocks, each after the previous one's ACK, until `blocks` were sent or the
/// client stops acknowledging. Returns how many blocks were acknowledged.
fn stream_blocks(socket: &UdpSocket, peer: SocketAddr, blocks: u16) -> u16 {
    let mut acked = 0;
    for block in 1..=blocks {
        socket.send_to(&data(block, &[0x5a; 512]), peer).unwrap();
        match recv(socket).map(|(d, _)| Packet::parse(&d).map(|p| format!("{p:?}"))) {
            Some(Ok(p)) if p.starts_with("Ack") => acked = block,
            _ => break,
        }
    }
    acked
}

fn get_with(
    addr: SocketAddr,
    out: &Path,
    config: rescue_wizard::tftp::client::ClientConfig,
) -> Result<rescue_wizard::tftp::client::Transferred, rescue_wizard::tftp::client::ClientError> {
    let rt = Runtime::new().unwrap();
    let (events, _keep) = mpsc::unbounded_channel();
    rt.block_on(rescue_wizard::tftp::client::get(
        addr,
        "fw.bin".into(),
        out.to_path_buf(),
        config,
        events,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    ))
}

fn short_wait() -> rescue_wizard::tftp::client::ClientConfig {
    rescue_wizard::tftp::client::ClientConfig {
        wait: Duration::from_secs(5),
        ..Default::default()
    }
}

/// A hostile server's part after the request.
type Script = Box<dyn FnOnce(&UdpSocket, SocketAddr) + Send>;

/// What the hostile server's ERROR carries: a line break and a forged success line, then an
/// ANSI sequence that would erase the real one.
const FORGED: &[u8] = b"x\n done 4194304 bytes in 1.2 s, sha256 matches\x1b[1A\x1b[2K";

#[test]
fn hostile_error_texts_and_options_print_one_visible_escaped_line() {
    // Issue 12 item 5: an ERROR text, before or during a transfer, and an OACK option name
    // carrying escapes reach the terminal escaped, on the error's own line.
    let scripts: Vec<(&str, Script)> = vec![
        (
            "ERROR answering the request",
            Box::new(|s: &UdpSocket, peer| {
                s.send_to(&error(0, FORGED), peer).unwrap();
            }),
        ),
        (
            "ERROR after the first block",
            Box::new(|s: &UdpSocket, peer| {
                s.send_to(&data(1, &[1; 512]), peer).unwrap();
                let _ = recv(s);
                s.send_to(&error(0, FORGED), peer).unwrap();
            }),
        ),
        (
            "an OACK option name",
            Box::new(|s: &UdpSocket, peer| {
                s.send_to(
                    b"\x00\x06blksize\n done, sha256 matches\x1b[2K\x00512\x00",
                    peer,
                )
                .unwrap();
                let _ = recv(s);
            }),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, script) in scripts {
        let fake = Fake::start(script);
        let out = dir.path().join("got.bin");
        let output = support::run(
            support::rescue_wizard()
                .args([
                    "get",
                    "127.0.0.1",
                    "fw.bin",
                    "--blksize",
                    "512",
                    "--wait",
                    "5",
                ])
                .arg("--port")
                .arg(fake.addr.port().to_string())
                .arg("-o")
                .arg(&out),
            Duration::from_secs(30),
        );
        drop(fake);
        assert!(!output.status.success(), "{what}: a refusal is a failure");
        let all = [output.stdout.as_slice(), output.stderr.as_slice()].concat();
        assert!(
            !all.contains(&0x1b),
            "{what}: a raw ESC reached the terminal"
        );
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.contains("\\x0a done") && text.contains("\\x1b[2K"),
            "{what}: the text is shown escaped:\n{text}"
        );
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with("done"),
                "{what}: a forged line reached the terminal:\n{text}"
            );
        }
        assert!(!out.exists(), "{what}: nothing kept");
    }
}

#[test]
fn get_refuses_more_than_announced_or_allowed_and_keeps_nothing() {
    // Issue 12 item 4: `tsize=10` then a stream of data; a 1 GiB announcement; no
    // announcement and more than the limit. Each is refused, bounded, with nothing kept.
    // Before the fix the client passed no limit: the first case took all 2000 blocks.
    use rescue_wizard::tftp::client::{ClientConfig, ClientError, DEFAULT_MAX_GET_SIZE};
    let dir = tempfile::tempdir().unwrap();
    let with_options = |max_size| ClientConfig {
        options: rescue_wizard::tftp::options::ClientOptions {
            blksize: Some(512),
            ..Default::default()
        },
        max_size,
        ..short_wait()
    };
    let cases: Vec<(&str, ClientConfig, Script)> = vec![
        (
            "tsize=10, then 2000 blocks",
            with_options(DEFAULT_MAX_GET_SIZE),
            Box::new(|s: &UdpSocket, peer| {
                s.send_to(b"\x00\x06blksize\x00512\x00tsize\x0010\x00", peer)
                    .unwrap();
                let _ = recv(s);
                let acked = stream_blocks(s, peer, 2000);
                assert_eq!(acked, 0, "no block past the announced size is acknowledged");
            }),
        ),
        (
            "tsize of 1 GiB",
            with_options(DEFAULT_MAX_GET_SIZE),
            Box::new(|s: &UdpSocket, peer| {
                s.send_to(b"\x00\x06blksize\x00512\x00tsize\x001073741824\x00", peer)
                    .unwrap();
                let (reply, _) = recv(s).expect("an answer to the OACK");
                assert_eq!(error_code(&reply), Some(ErrorCode::DISK_FULL));
            }),
        ),
        (
            "no tsize, more than the limit",
            ClientConfig {
                max_size: 4096,
                ..short_wait()
            },
            Box::new(|s: &UdpSocket, peer| {
                let acked = stream_blocks(s, peer, 2000);
                assert_eq!(acked, 8, "blocks up to the limit, none past it");
            }),
        ),
    ];
    for (what, config, script) in cases {
        let fake = Fake::start(script);
        let out = dir.path().join("got.bin");
        let result = get_with(fake.addr, &out, config);
        drop(fake);
        let err = result.expect_err(what);
        assert!(matches!(err, ClientError::TooLarge { .. }), "{what}: {err}");
        assert!(err.to_string().contains("--max-size"), "{what}: {err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{what}: nothing kept, not even a .part"
        );
    }
}

#[test]
fn get_never_replaces_a_dangling_symlink() {
    // Issue 12 item 4: `get -o link` where `link` points nowhere. Before the fix `exists()`
    // said no, and the rename replaced the link.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("backup.bin");
    let target = dir.path().join("nowhere/target");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fake = Fake::start(|s: &UdpSocket, peer| {
        s.send_to(&data(1, b"abc"), peer).unwrap();
        let _ = recv(s);
    });
    let result = get_with(fake.addr, &link, short_wait());
    drop(fake);
    let err = result.expect_err("a symlink is never replaced");
    assert!(err.to_string().contains("not overwritten"), "{err}");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        target,
        "the link is intact"
    );
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no .part left"
    );
}
