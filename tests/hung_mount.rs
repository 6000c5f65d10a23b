//! A file on a mount that never answers (issue 12, item 3): a real FUSE mount whose server,
//! written here on the raw `/dev/fuse` protocol, answers INIT, LOOKUP, GETATTR, OPEN, FLUSH
//! and RELEASE, and never READ; and never the LOOKUP of one name, whose look-up itself hangs
//! (a hung NFS server takes `stat` down too). It is mounted with mount(2) in a private mount
//! namespace of the test's own thread (the processes started from that thread see it, the
//! machine does not), and always lazily unmounted, even when the test fails.
//!
//! Before the fix, the read after a successful open blocked the transfer's thread silently
//! (no ERROR, no message, until the client gave up), and the main run's image check waited
//! for good.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::signal::Signal;
use rescue_wizard::tftp::packet::{ErrorCode, Packet};

mod support;

/// The deadline the server and the image check give one read (`image::timed::READ_DEADLINE`).
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// The hung file's size, as GETATTR reports it.
const HUNG_SIZE: u64 = 1 << 20;
/// The hung file's name in the mount.
const HUNG_NAME: &str = "image.bin";
/// A name whose very look-up is never answered: the mount is hung even for `stat`, as a hung
/// NFS server leaves it.
const STUCK_NAME: &str = "stuck.bin";

// FUSE opcodes and constants (linux/fuse.h).
const FUSE_LOOKUP: u32 = 1;
const FUSE_FORGET: u32 = 2;
const FUSE_GETATTR: u32 = 3;
const FUSE_OPEN: u32 = 14;
const FUSE_READ: u32 = 15;
const FUSE_RELEASE: u32 = 18;
const FUSE_FLUSH: u32 = 25;
const FUSE_INIT: u32 = 26;
const FUSE_INTERRUPT: u32 = 36;
const FUSE_BATCH_FORGET: u32 = 42;
/// Reads are sent to the server in the background and the reading thread waits on the page
/// in a killable sleep, as it does on a hung NFS mount: the process can still be killed.
const FUSE_ASYNC_READ: u32 = 1;
const ROOT: u64 = 1;
const HUNG_NODE: u64 = 2;
const ENOENT: i32 = 2;
const EINTR: i32 = 4;
const ENOSYS: i32 = 38;

/// A FUSE mount whose one file, `image.bin`, opens and never answers a read.
struct HungMount {
    dir: tempfile::TempDir,
    /// Held so the connection lives as long as the mount is used.
    _device: Arc<File>,
    server: Option<JoinHandle<()>>,
    reads: Arc<AtomicUsize>,
    read_seen: Receiver<()>,
}

impl HungMount {
    /// Mounts it on a new temporary folder, in the calling thread's mount namespace.
    fn mount() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let device = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .map_err(|e| format!("cannot open /dev/fuse: {e}"))?;
        let options = format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            device.as_raw_fd()
        );
        nix::mount::mount(
            Some("rescue-wizard-hung"),
            dir.path(),
            Some("fuse"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(options.as_str()),
        )
        .map_err(|e| format!("mount -t fuse on {}: {e}", dir.path().display()))?;
        let device = Arc::new(device);
        let reads = Arc::new(AtomicUsize::new(0));
        let (seen_tx, read_seen) = mpsc::channel();
        let server = {
            let device = Arc::clone(&device);
            let reads = Arc::clone(&reads);
            std::thread::Builder::new()
                .name("fuse-hung".into())
                .spawn(move || serve_fuse(&device, &reads, &seen_tx))
                .map_err(|e| e.to_string())?
        };
        Ok(Self {
            dir,
            _device: device,
            server: Some(server),
            reads,
            read_seen,
        })
    }

    fn hung_file(&self) -> PathBuf {
        self.dir.path().join(HUNG_NAME)
    }

    /// The mount bound at `folder/hung` (a served folder with the hung mount inside it).
    fn bind_into(&self, folder: &Path) -> PathBuf {
        let hung_dir = folder.join("hung");
        std::fs::create_dir(&hung_dir).unwrap();
        nix::mount::mount(
            Some(self.dir.path()),
            &hung_dir,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        hung_dir
    }

    fn stuck_file(&self) -> PathBuf {
        self.dir.path().join(STUCK_NAME)
    }

    /// READ requests received (and never answered) so far.
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        // Lazily: a process still holding the file must not keep the mount from going.
        let _ = nix::mount::umount2(self.dir.path(), MntFlags::MNT_DETACH);
        // Once nothing holds the file system, the kernel ends the connection and the
        // server's read of /dev/fuse returns; it is not waited for past a deadline.
        if let Some(server) = self.server.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !server.is_finished() && Instant::now() < deadline {
                std::thread::yield_now();
            }
            if server.is_finished() {
                let _ = server.join();
            }
        }
    }
}

/// The FUSE server's loop: one request per read of `/dev/fuse`, until the connection ends.
fn serve_fuse(device: &File, reads: &AtomicUsize, read_seen: &mpsc::Sender<()>) {
    let mut buf = vec![0u8; (1 << 20) + 4096];
    loop {
        let n = match (&*device).read(&mut buf) {
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // ENODEV: unmounted; anything else: the connection is gone too.
            Err(_) => return,
        };
        if n < 40 {
            return;
        }
        let request = &buf[..n];
        let opcode = u32_at(request, 4);
        let unique = u64_at(request, 8);
        let node = u64_at(request, 16);
        let body = &request[40..];
        let reply: Option<Result<Vec<u8>, i32>> = match opcode {
            FUSE_INIT => Some(Ok(init_out(u32_at(body, 8)))),
            FUSE_LOOKUP => {
                let name = body.split(|&b| b == 0).next().unwrap_or_default();
                if node == ROOT && name == HUNG_NAME.as_bytes() {
                    Some(Ok(entry_out(HUNG_NODE)))
                } else if node == ROOT && name == STUCK_NAME.as_bytes() {
                    // Never answered: the look-up itself hangs.
                    None
                } else {
                    Some(Err(ENOENT))
                }
            }
            FUSE_GETATTR => Some(Ok(attr_out(node))),
            FUSE_OPEN => Some(Ok(open_out())),
            FUSE_READ => {
                // Never answered: the mount is hung for reads.
                reads.fetch_add(1, Ordering::SeqCst);
                let _ = read_seen.send(());
                None
            }
            FUSE_FLUSH | FUSE_RELEASE => Some(Ok(Vec::new())),
            FUSE_INTERRUPT => {
                // The waiting thread was signalled (its process is ending): its request ends
                // with EINTR, as a hung NFS mount lets a killed process go. A request the
                // kernel has sent is otherwise waited for even by a killed process.
                let interrupted = u64_at(body, 0);
                let mut out = Vec::with_capacity(16);
                out.extend_from_slice(&16u32.to_le_bytes());
                out.extend_from_slice(&(-EINTR).to_le_bytes());
                out.extend_from_slice(&interrupted.to_le_bytes());
                let _ = (&*device).write_all(&out);
                None
            }
            FUSE_FORGET | FUSE_BATCH_FORGET => None,
            _ => Some(Err(ENOSYS)),
        };
        let Some(reply) = reply else { continue };
        let (error, payload) = match reply {
            Ok(payload) => (0, payload),
            Err(errno) => (-errno, Vec::new()),
        };
        let mut out = Vec::with_capacity(16 + payload.len());
        out.extend_from_slice(&(16 + payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&error.to_le_bytes());
        out.extend_from_slice(&unique.to_le_bytes());
        out.extend_from_slice(&payload);
        if (&*device).write_all(&out).is_err() && opcode == FUSE_INIT {
            return;
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
}

/// `fuse_init_out` (64 bytes, protocol 7.31): reads in the background.
fn init_out(max_readahead: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&7u32.to_le_bytes());
    out.extend_from_slice(&31u32.to_le_bytes());
    out.extend_from_slice(&max_readahead.to_le_bytes());
    out.extend_from_slice(&FUSE_ASYNC_READ.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // max_background: the default
    out.extend_from_slice(&0u16.to_le_bytes()); // congestion_threshold: the default
    out.extend_from_slice(&4096u32.to_le_bytes()); // max_write
    out.extend_from_slice(&1u32.to_le_bytes()); // time_gran
    out.resize(64, 0);
    out
}

/// `fuse_attr` (88 bytes) of the root folder or of the hung file.
fn attr(node: u64) -> Vec<u8> {
    let (size, mode, nlink) = if node == ROOT {
        (0, 0o040_755u32, 2u32)
    } else {
        (HUNG_SIZE, 0o100_644, 1)
    };
    let mut out = Vec::new();
    out.extend_from_slice(&node.to_le_bytes()); // ino
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.div_ceil(512).to_le_bytes()); // blocks
    out.extend_from_slice(&[0; 24]); // atime, mtime, ctime
    out.extend_from_slice(&[0; 12]); // their nanoseconds
    out.extend_from_slice(&mode.to_le_bytes());
    out.extend_from_slice(&nlink.to_le_bytes());
    out.extend_from_slice(&[0; 12]); // uid, gid, rdev
    out.extend_from_slice(&4096u32.to_le_bytes()); // blksize
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    assert_eq!(out.len(), 88);
    out
}

/// `fuse_entry_out`: the node, valid for a minute.
fn entry_out(node: u64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&node.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // generation
    out.extend_from_slice(&60u64.to_le_bytes()); // entry_valid
    out.extend_from_slice(&60u64.to_le_bytes()); // attr_valid
    out.extend_from_slice(&[0; 8]); // their nanoseconds
    out.extend_from_slice(&attr(node));
    out
}

/// `fuse_attr_out`: the attributes, valid for a minute.
fn attr_out(node: u64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&60u64.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // nanoseconds, dummy
    out.extend_from_slice(&attr(node));
    out
}

/// `fuse_open_out`: file handle 1, through the page cache.
fn open_out() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&1u64.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // open_flags, padding
    out
}

/// Runs `body` in a private mount namespace holding a [`HungMount`] (processes it starts see
/// the mount; the machine does not). `None` after saying why, when this machine cannot (not
/// root, no /dev/fuse): a skip by hand, a failure under CI.
fn with_hung_mount(body: impl FnOnce(&HungMount) + Send) -> Option<()> {
    if !Path::new("/dev/fuse").exists() {
        support::skip_or_fail("needs /dev/fuse (the fuse kernel module)");
        return None;
    }
    support::in_private_mount_namespace(HungMount::mount, body)
}

/// `rescue-wizard --device tl-wr841n-v9 IMAGE` given 3 read deadlines: its exit status (none
/// if it was still running and was killed), its standard error, and how long it took.
fn main_run_on(image: &Path) -> (Option<std::process::ExitStatus>, String, Duration) {
    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut run = support::Proc::spawn(
        support::rescue_wizard()
            .args(["--device", "tl-wr841n-v9"])
            .arg(image)
            .env("RESCUE_WIZARD_STATE_DIR", state.path())
            .env("RESCUE_WIZARD_CONFIG_DIR", state.path().join("config"))
            .stdin(std::process::Stdio::null()),
    );
    let status = run.wait_deadline(READ_DEADLINE * 3);
    let took = started.elapsed();
    if status.is_none() {
        run.kill();
    }
    (status, run.stderr_text(), took)
}

fn rrq(name: &str) -> Vec<u8> {
    let mut d = b"\x00\x01".to_vec();
    d.extend_from_slice(name.as_bytes());
    d.extend_from_slice(b"\x00octet\x00");
    d
}

/// Fetches `name` from `server` in lock-step without options, within `deadline`.
fn fetch(server: SocketAddr, name: &str, deadline: Duration) -> Vec<u8> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(deadline)).unwrap();
    socket.send_to(&rrq(name), server).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1024];
    let mut next: u16 = 1;
    loop {
        let (n, from) = socket.recv_from(&mut buf).expect("a DATA block in time");
        match Packet::parse(&buf[..n]).unwrap() {
            Packet::Data {
                block,
                data: payload,
            } => {
                // A resent block (our ACK was late) is acknowledged again, not kept twice.
                socket
                    .send_to(&Packet::Ack { block }.to_bytes(), from)
                    .unwrap();
                if block != next {
                    continue;
                }
                next = next.wrapping_add(1);
                got.extend_from_slice(payload);
                if payload.len() < 512 {
                    return got;
                }
            }
            other => panic!("fetching {name}: {other:?}"),
        }
    }
}

#[test]
fn a_read_that_never_answers_fails_its_own_transfer_and_sigterm_still_ends_serve() {
    with_hung_mount(|mount| {
        // The served folder: a good file on the local disk, and the hung mount inside it.
        let root = tempfile::tempdir().unwrap();
        let good = support::make_file(root.path(), "good.bin", 300_000);
        let hung_dir = mount.bind_into(root.path());
        let mut server = support::Server::start(root.path(), &["--no-options"]);

        let hung = UdpSocket::bind("127.0.0.1:0").unwrap();
        hung.set_read_timeout(Some(READ_DEADLINE * 3)).unwrap();
        let asked = Instant::now();
        hung.send_to(&rrq(&format!("hung/{HUNG_NAME}")), server.addr)
            .unwrap();
        // The request reached the file: the mount saw the read it will never answer.
        mount
            .read_seen
            .recv_timeout(READ_DEADLINE)
            .expect("the server read the hung file");

        // Meanwhile another client is served whole.
        let got = fetch(server.addr, "good.bin", support::SHORT_DEADLINE);
        let want = std::fs::read(&good).unwrap();
        assert!(
            got == want,
            "good.bin not served whole: {} bytes, {} expected",
            got.len(),
            want.len()
        );
        let good_done = asked.elapsed();
        assert!(
            good_done < READ_DEADLINE,
            "good.bin took {good_done:?}: it waited on the hung read"
        );

        // The hung one gets an ERROR naming the cause within the deadline (and a margin).
        let mut buf = [0u8; 1024];
        let (n, _) = hung
            .recv_from(&mut buf)
            .expect("an ERROR for the hung file, not silence");
        let waited = asked.elapsed();
        let Ok(Packet::Error { code, message }) = Packet::parse(&buf[..n]) else {
            panic!("not an ERROR: {:?}", &buf[..n]);
        };
        assert_eq!(code, ErrorCode::NOT_DEFINED);
        assert!(
            message.contains("did not answer a read in 5 s (a hung network mount?)"),
            "{message:?}"
        );
        assert!(
            waited >= READ_DEADLINE && waited < READ_DEADLINE * 2,
            "the ERROR came after {waited:?}"
        );
        assert!(mount.reads() >= 1);
        // The technician is told which transfer failed and why (its summary line).
        let failed = loop {
            let line = server.proc.next_line(READ_DEADLINE).unwrap_or_else(|| {
                panic!(
                    "no summary line for the hung transfer\n{}",
                    server.proc.diagnostics()
                )
            });
            if line.starts_with("failed") {
                break line;
            }
        };
        assert!(
            failed.contains("hung/image.bin")
                && failed.contains("did not answer a read in 5 s (a hung network mount?)"),
            "{failed}"
        );

        // SIGTERM still ends the process, promptly, though a thread of it is stuck in the read.
        let stop = Instant::now();
        server.proc.signal(Signal::SIGTERM);
        let status = server.proc.wait_deadline(Duration::from_secs(10));
        let took = stop.elapsed();
        let out = server.proc.diagnostics();
        let _ = nix::mount::umount2(&hung_dir, MntFlags::MNT_DETACH);
        assert!(
            status.is_some(),
            "serve still running 10 s after SIGTERM\n{out}"
        );
        assert!(took < Duration::from_secs(5), "serve took {took:?} to end");
        println!(
            "hung read: ERROR after {:.2} s; good.bin (300 000 bytes) done after {:.2} s; SIGTERM to exit {:.2} s",
            waited.as_secs_f64(),
            good_done.as_secs_f64(),
            took.as_secs_f64()
        );
    });
}

#[test]
fn the_main_run_refuses_an_image_that_never_answers_a_read() {
    with_hung_mount(|mount| {
        let (status, err, took) = main_run_on(&mount.hung_file());
        assert!(
            status.is_some(),
            "the run still waits after {took:?}\n{err}"
        );
        assert_eq!(status.unwrap().code(), Some(2), "{err}");
        assert!(
            err.contains("the image file did not answer a read in 5 s (a hung network mount?)"),
            "{err}"
        );
        assert!(err.contains("fix: copy the image to a local disk"), "{err}");
        assert!(mount.reads() >= 1, "the check never read the file");
        assert!(
            took >= READ_DEADLINE,
            "refused after {took:?}, before the deadline?"
        );
        println!(
            "main run on a hung image: refused after {:.2} s",
            took.as_secs_f64()
        );
    });
}

#[test]
fn a_look_up_that_never_answers_fails_its_own_transfer_and_the_main_run_says_so() {
    with_hung_mount(|mount| {
        // `serve DIR`: a name whose look-up never comes back gets an ERROR with the reason,
        // and another client is served meanwhile.
        let root = tempfile::tempdir().unwrap();
        let good = support::make_file(root.path(), "good.bin", 100_000);
        let hung_dir = mount.bind_into(root.path());
        let mut server = support::Server::start(root.path(), &["--no-options"]);
        let stuck = UdpSocket::bind("127.0.0.1:0").unwrap();
        stuck.set_read_timeout(Some(READ_DEADLINE * 3)).unwrap();
        let asked = Instant::now();
        stuck
            .send_to(&rrq(&format!("hung/{STUCK_NAME}")), server.addr)
            .unwrap();
        let got = fetch(server.addr, "good.bin", support::SHORT_DEADLINE);
        assert!(
            got == std::fs::read(&good).unwrap(),
            "good.bin not served whole"
        );
        let mut buf = [0u8; 1024];
        let (n, _) = stuck
            .recv_from(&mut buf)
            .expect("an ERROR for the stuck name, not silence");
        let waited = asked.elapsed();
        let Ok(Packet::Error { message, .. }) = Packet::parse(&buf[..n]) else {
            panic!("not an ERROR: {:?}", &buf[..n]);
        };
        assert!(
            message.contains("did not answer a look-up in 5 s (a hung network mount?)"),
            "{message:?}"
        );
        assert!(
            waited >= READ_DEADLINE && waited < READ_DEADLINE * 2,
            "the ERROR came after {waited:?}"
        );
        let stop = Instant::now();
        server.proc.signal(Signal::SIGTERM);
        let status = server.proc.wait_deadline(Duration::from_secs(10));
        let took = stop.elapsed();
        let _ = nix::mount::umount2(&hung_dir, MntFlags::MNT_DETACH);
        assert!(status.is_some(), "serve still running 10 s after SIGTERM");

        // The main run given an image whose look-up never answers: refused with the fix.
        let (status, err, run_took) = main_run_on(&mount.stuck_file());
        assert!(
            status.is_some(),
            "the run still waits after {run_took:?}\n{err}"
        );
        assert_eq!(status.unwrap().code(), Some(2), "{err}");
        assert!(
            err.contains("did not answer a look-up in 5 s (a hung network mount?)"),
            "{err}"
        );
        assert!(err.contains("fix: copy the image to a local disk"), "{err}");
        println!(
            "hung look-up: ERROR after {:.2} s; serve ended {:.2} s after SIGTERM; main run refused after {:.2} s",
            waited.as_secs_f64(),
            took.as_secs_f64(),
            run_took.as_secs_f64()
        );
    });
}
