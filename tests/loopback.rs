//! Server and client against each other over loopback: every edge size, both directions,
//! with and without options and windows, across the block-number rollover. Port 0 and the
//! server's own readiness (its bound address) only; no sleeps.
//!
//! The numbered cases in comments (`Case 58`, `Cases 27 and 55`) are those of tests/CASES.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rescue_wizard::tftp::client::{self, ClientConfig, ClientError};
use rescue_wizard::tftp::event::TransferEvent;
use rescue_wizard::tftp::options::{ClientOptions, MAX_BLKSIZE};
use rescue_wizard::tftp::server::{
    HeldImage, Server, ServerConfig, Source, WritePolicy, hex_sha256,
};
use tokio::sync::{mpsc, watch};

struct Running {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    events: mpsc::UnboundedReceiver<TransferEvent>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Waits (with a deadline) for the server to report the transfer of `name` finished;
    /// the SHA-256 it reported.
    async fn finished(&mut self, name: &str) -> String {
        self.finished_kept(name).await.0
    }

    /// As [`Running::finished`], with whether the bytes came from the server's kept copy.
    async fn finished_kept(&mut self, name: &str) -> (String, bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no Finished event for {name}"))
                .expect("server events ended");
            if let TransferEvent::Finished {
                name: n,
                sha256,
                kept,
                ..
            } = &event
                && n == name
            {
                return (sha256.clone(), *kept);
            }
            assert!(
                !matches!(&event, TransferEvent::Failed { name: n, .. } if n == name),
                "{event:?}"
            );
        }
    }

    /// Fetches `name` into `dir` with `config` and checks what came: `content`, the SHA-256
    /// the server reported for it, and whether it was sent from the server's kept copy.
    async fn fetch_kept(
        &mut self,
        name: &str,
        dir: &Path,
        config: ClientConfig,
        content: &[u8],
        kept: bool,
        what: &str,
    ) {
        let (got, _) = fetch(self.addr, name, dir, config).await.unwrap();
        assert!(got == content, "{what}: other bytes than the file's");
        assert_eq!(
            self.finished_kept(name).await,
            (hex_sha256(content), kept),
            "{what}: the hash reported, and whether the kept copy was sent"
        );
    }

    async fn stop(self) -> Vec<TransferEvent> {
        let _ = self.shutdown.send(true);
        self.task.await.unwrap().unwrap();
        let mut events = self.events;
        let mut all = Vec::new();
        while let Ok(event) = events.try_recv() {
            all.push(event);
        }
        all
    }
}

fn start(bind: IpAddr, config: ServerConfig) -> Running {
    let server = Server::bind(SocketAddr::new(bind, 0), config).unwrap();
    let addr = server.local_addr();
    let (events_tx, events) = mpsc::unbounded_channel();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(server.run(events_tx, shutdown_rx));
    Running {
        addr,
        shutdown,
        events,
        task,
    }
}

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

fn loose_server(source: Source) -> ServerConfig {
    let mut config = ServerConfig::new(source);
    config.options.max_blksize = MAX_BLKSIZE;
    config.options.max_windowsize = 64;
    config
}

fn options(blksize: Option<u16>, windowsize: Option<u16>) -> ClientConfig {
    ClientConfig {
        options: ClientOptions {
            blksize,
            windowsize,
            ..ClientOptions::default()
        },
        wait: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

async fn fetch(
    server: SocketAddr,
    name: &str,
    dir: &Path,
    config: ClientConfig,
) -> Result<(Vec<u8>, client::Transferred), ClientError> {
    let out = dir.join(format!("got-{}", fastrand::u64(..)));
    let (events, _keep) = mpsc::unbounded_channel();
    let result = client::get(
        server,
        name.to_owned(),
        out.clone(),
        config,
        events,
        Arc::new(AtomicBool::new(false)),
    )
    .await?;
    Ok((std::fs::read(&out).unwrap(), result))
}

async fn upload(
    server: SocketAddr,
    name: &str,
    data: &[u8],
    config: ClientConfig,
) -> Result<client::Transferred, ClientError> {
    let (events, _keep) = mpsc::unbounded_channel();
    client::push(
        server,
        name.to_owned(),
        data.to_vec().into(),
        config,
        events,
        Arc::new(AtomicBool::new(false)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_sizes_both_directions_with_and_without_options() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let uploads = dir.path().join("uploads");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&uploads).unwrap();
    let sizes = [0usize, 1, 511, 512, 513, 1468, 1469, 100_000];
    for &size in &sizes {
        std::fs::write(root.join(format!("f{size}")), payload(size, size as u64)).unwrap();
    }
    let mut config = loose_server(Source::Directory(root.clone()));
    config.write = Some(WritePolicy {
        dir: uploads.clone(),
        max_size: 10_000_000,
        quota: 1 << 30,
    });
    let mut server = start(IpAddr::V4(Ipv4Addr::LOCALHOST), config);
    let variants = [
        (None, None),
        (Some(1468), None),
        (Some(8), None),
        (Some(512), Some(4)),
        (Some(1468), Some(16)),
    ];
    for &size in &sizes {
        let expected = payload(size, size as u64);
        for (i, &(blksize, windowsize)) in variants.iter().enumerate() {
            let (got, result) = fetch(
                server.addr,
                &format!("f{size}"),
                dir.path(),
                options(blksize, windowsize),
            )
            .await
            .unwrap_or_else(|e| panic!("get f{size} {blksize:?}/{windowsize:?}: {e}"));
            assert_eq!(got, expected, "get f{size} {blksize:?}/{windowsize:?}");
            assert_eq!(result.blksize, blksize.unwrap_or(512));
            assert_eq!(result.sha256, hex_sha256(&expected));
            let name = format!("up{size}-{i}");
            let pushed = upload(server.addr, &name, &expected, options(blksize, windowsize))
                .await
                .unwrap_or_else(|e| panic!("push {name}: {e}"));
            assert!(pushed.confirmed);
            server.finished(&name).await;
            assert_eq!(
                std::fs::read(uploads.join(&name)).unwrap(),
                expected,
                "push {name}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rollover_both_directions() {
    // Cases 23 and 24: more than 65535 blocks at blksize 8 in both directions, and the exact
    // 65535 x 512 boundary whose final empty block carries number 0.
    let dir = tempfile::tempdir().unwrap();
    let uploads = dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let small_blocks = payload(70_000 * 8 + 3, 7);
    let boundary = payload(65_535 * 512, 8);
    std::fs::write(dir.path().join("small-blocks"), &small_blocks).unwrap();
    std::fs::write(dir.path().join("boundary"), &boundary).unwrap();
    let mut config = loose_server(Source::Directory(dir.path().to_path_buf()));
    config.write = Some(WritePolicy {
        dir: uploads.clone(),
        max_size: 100_000_000,
        quota: 1 << 30,
    });
    let mut server = start(IpAddr::V4(Ipv4Addr::LOCALHOST), config);
    let (got, _) = fetch(
        server.addr,
        "small-blocks",
        dir.path(),
        options(Some(8), None),
    )
    .await
    .unwrap();
    assert_eq!(got, small_blocks);
    let (got, _) = fetch(
        server.addr,
        "small-blocks",
        dir.path(),
        options(Some(8), Some(4)),
    )
    .await
    .unwrap();
    assert_eq!(got, small_blocks, "windowed, across the rollover");
    let (got, _) = fetch(server.addr, "boundary", dir.path(), options(None, None))
        .await
        .unwrap();
    assert_eq!(got, boundary);
    upload(
        server.addr,
        "small-up",
        &small_blocks,
        options(Some(8), Some(8)),
    )
    .await
    .unwrap();
    // The upload takes its name once stored whole, just before the server reports it.
    server.finished("small-up").await;
    assert_eq!(
        std::fs::read(uploads.join("small-up")).unwrap(),
        small_blocks
    );
    upload(server.addr, "boundary-up", &boundary, options(None, None))
        .await
        .unwrap();
    // The upload takes its name once stored whole, just before the server reports it.
    server.finished("boundary-up").await;
    assert_eq!(
        std::fs::read(uploads.join("boundary-up")).unwrap(),
        boundary
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_65535_blocks_at_512() {
    let dir = tempfile::tempdir().unwrap();
    let big = payload(65_536 * 512 + 100, 9);
    let image = dir.path().join("big.bin");
    std::fs::write(&image, &big).unwrap();
    let server = start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        ServerConfig::new(Source::Image {
            path: image,
            any_name: true,
        }),
    );
    let (got, result) = fetch(server.addr, "whatever.bin", dir.path(), options(None, None))
        .await
        .unwrap();
    assert_eq!(got.len(), big.len());
    assert_eq!(result.sha256, hex_sha256(&big));
    let events = server.stop().await;
    assert!(events.iter().any(|e| matches!(
        e,
        TransferEvent::RequestReceived { name, .. } if name == "whatever.bin"
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn reply_comes_from_the_address_asked_and_a_fresh_port() {
    // Case 17: a host with several addresses answers from the one the request was sent to,
    // and from a new port for every transfer.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("fw.bin");
    std::fs::write(&image, payload(3000, 1)).unwrap();
    let server = start(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ServerConfig::new(Source::Image {
            path: image,
            any_name: false,
        }),
    );
    let mut ports = Vec::new();
    for target in [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)] {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let to = SocketAddr::new(IpAddr::V4(target), server.addr.port());
        socket.send_to(b"\x00\x01fw.bin\x00octet\x00", to).unwrap();
        let mut buf = [0u8; 600];
        let (len, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..4], b"\x00\x03\x00\x01", "DATA 1");
        assert_eq!(len, 516);
        assert_eq!(
            from.ip(),
            IpAddr::V4(target),
            "reply from the address asked"
        );
        assert_ne!(from.port(), server.addr.port());
        ports.push(from.port());
        // Stop this transfer politely.
        socket.send_to(b"\x00\x05\x00\x00done\x00", from).unwrap();
    }
    assert_ne!(ports[0], ports[1]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_name_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("openwrt-factory.bin");
    std::fs::write(&image, payload(100, 1)).unwrap();
    let server = start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        ServerConfig::new(Source::Image {
            path: image,
            any_name: false,
        }),
    );
    let err = fetch(
        server.addr,
        "wr841nv9_tp_recovery.bin",
        dir.path(),
        options(None, None),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::Refused { .. }), "{err}");
    let events = server.stop().await;
    let reason = events
        .iter()
        .find_map(|e| match e {
            TransferEvent::RequestRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.contains("wr841nv9_tp_recovery.bin") && reason.contains("--any-name"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_clients_share_one_snapshot_and_a_changed_file_does_not_corrupt() {
    // Case 64: the file changes on disk while transfers run; each transfer hashes to the
    // snapshot it started with.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("fw.bin");
    let first = payload(2_000_000, 1);
    std::fs::write(&image, &first).unwrap();
    let server = start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        ServerConfig::new(Source::Image {
            path: image.clone(),
            any_name: true,
        }),
    );
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let addr = server.addr;
        let path = dir.path().to_path_buf();
        tasks.push(tokio::spawn(async move {
            fetch(addr, "fw.bin", &path, options(None, None)).await
        }));
    }
    // Rewrite the file while they run (a new file renamed over the old one, as an editor or
    // a download would).
    let second = payload(1_000_000, 2);
    let tmp = dir.path().join("fw.bin.new");
    std::fs::write(&tmp, &second).unwrap();
    std::fs::rename(&tmp, &image).unwrap();
    for task in tasks {
        let (got, _) = task.await.unwrap().unwrap();
        assert!(got == first || got == second, "a transfer got a mixture");
    }
    let (got, _) = fetch(server.addr, "fw.bin", dir.path(), options(None, None))
        .await
        .unwrap();
    assert_eq!(got, second, "a new transfer sees the new file");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_image_is_served_from_memory_whatever_the_file_on_disk_becomes() {
    // A run serves its snapshot's bytes: the file its copy sits in may be cut short, rewritten
    // or removed while transfers run, and each transfer still sends the bytes checked, in
    // octet and netascii, windowed or not, and reports their SHA-256.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("fw.bin");
    let held = payload(700_000, 3);
    std::fs::write(&image, payload(90_000, 4)).unwrap();
    let mut config = loose_server(Source::Image {
        path: image.clone(),
        any_name: true,
    });
    config.held = Some(HeldImage {
        bytes: held.clone().into(),
        sha256: hex_sha256(&held),
    });
    let mut server = start(IpAddr::V4(Ipv4Addr::LOCALHOST), config);
    std::fs::write(&image, b"cut short").unwrap();
    for (blksize, windowsize) in [(None, None), (Some(1468), Some(16))] {
        let (got, _) = fetch(
            server.addr,
            "fw.bin",
            dir.path(),
            options(blksize, windowsize),
        )
        .await
        .unwrap();
        assert!(
            got == held,
            "a transfer sent other bytes than the held image"
        );
        assert_eq!(server.finished("fw.bin").await, hex_sha256(&held));
    }
    std::fs::remove_file(&image).unwrap();
    // Netascii, by hand (our client fetches octet only): the first block is the held
    // image's netascii form, even with the file gone.
    let peer = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    peer.send_to(b"\x00\x01recovery.bin\x00netascii\x00", server.addr)
        .unwrap();
    let mut datagram = [0u8; 600];
    let (n, from) = peer.recv_from(&mut datagram).unwrap();
    let text = rescue_wizard::tftp::netascii::encode(&held);
    assert_eq!(&datagram[..4], b"\x00\x03\x00\x01", "not block 1");
    assert!(
        datagram[4..n] == text[..512],
        "netascii block 1 is not the held image's"
    );
    peer.send_to(b"\x00\x05\x00\x00stop\x00", from).unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_sent_whole_is_sent_again_from_memory_until_it_is_rewritten() {
    // A folder server keeps the copy of a file it sent whole; the next request for the same,
    // unchanged file gets it from memory, the same bytes and hash. A rewritten file is read
    // afresh, and its own copy kept in turn. (The wait for a file to settle, 3 s by default,
    // is set to none here; the next test keeps the default.)
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("srv");
    std::fs::create_dir(&root).unwrap();
    let first = payload(3 * 65_536 + 1_000, 5);
    std::fs::write(root.join("fw.bin"), &first).unwrap();
    let mut config = loose_server(Source::Directory(root.clone()));
    config.keep_settled = Duration::ZERO;
    let mut server = start(IpAddr::V4(Ipv4Addr::LOCALHOST), config);
    let second = payload(2 * 65_536 + 17, 6);
    for (content, rewrite) in [(&first, false), (&second, true)] {
        if rewrite {
            std::fs::write(root.join("fw.bin"), content).unwrap();
        }
        for (round, (blksize, windowsize)) in
            [(Some(1468), Some(16)), (None, None), (Some(1024), None)]
                .into_iter()
                .enumerate()
        {
            let config = options(blksize, windowsize);
            let what = format!("round {round}");
            server
                .fetch_kept("fw.bin", dir.path(), config, content, round > 0, &what)
                .await;
        }
    }
    // One copy at a time: another file sent whole takes the shelf's place.
    let other = payload(70_000, 8);
    std::fs::write(root.join("other.bin"), &other).unwrap();
    for (name, content, kept) in [
        ("other.bin", &other, false),
        ("fw.bin", &second, false),
        ("fw.bin", &second, true),
    ] {
        let config = options(Some(1468), Some(16));
        server
            .fetch_kept(name, dir.path(), config, content, kept, name)
            .await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_file_rewritten_in_place_with_the_same_size_is_read_afresh() {
    // The file changes under the server after its copy was kept: rewritten in place (the same
    // inode, the same size). Its modification time is set an hour back first, so the rewrite
    // moves it whatever the file system's timestamp granularity.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.bin");
    let before = payload(150_000, 9);
    let after = payload(150_000, 10);
    std::fs::write(&path, &before).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_hours(1))
        .unwrap();
    let mut config = loose_server(Source::Directory(dir.path().to_path_buf()));
    config.keep_settled = Duration::ZERO;
    let mut server = start(IpAddr::V4(Ipv4Addr::LOCALHOST), config);
    for (round, (content, kept)) in [(&before, false), (&before, true), (&after, false)]
        .into_iter()
        .enumerate()
    {
        if round == 2 {
            use std::io::Write as _;
            let mut file = std::fs::File::options().write(true).open(&path).unwrap();
            file.write_all(&after).unwrap();
        }
        let config = options(Some(1468), Some(16));
        let what = format!("round {round}");
        server
            .fetch_kept("fw.bin", dir.path(), config, content, kept, &what)
            .await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_written_just_before_it_was_sent_is_read_again_each_time() {
    // A write in the same tick of the file system's clock as the copy's read would leave its
    // times unchanged: a file written less than 3 s before its open is not kept.
    let dir = tempfile::tempdir().unwrap();
    let content = payload(200_000, 7);
    std::fs::write(dir.path().join("fw.bin"), &content).unwrap();
    let mut server = start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        loose_server(Source::Directory(dir.path().to_path_buf())),
    );
    for round in 0..2 {
        let config = options(Some(1468), Some(8));
        let what = format!("round {round}");
        server
            .fetch_kept("fw.bin", dir.path(), config, &content, false, &what)
            .await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_waits_for_a_server_that_starts_late_and_gives_up_at_its_deadline() {
    // Case 72: nothing listens; the client keeps asking until its deadline.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let config = ClientConfig {
        wait: Duration::from_secs(2),
        request_interval: Duration::from_millis(200),
        ..ClientConfig::default()
    };
    let started = std::time::Instant::now();
    let err = upload(addr, "fw.bin", b"data", config).await.unwrap_err();
    assert!(matches!(err, ClientError::NoAnswer { .. }), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    // It asked repeatedly meanwhile.
    silent.set_nonblocking(true).unwrap();
    let mut requests = 0;
    let mut buf = [0u8; 100];
    while silent.recv_from(&mut buf).is_ok() {
        requests += 1;
    }
    assert!(requests >= 5, "only {requests} requests");
}
