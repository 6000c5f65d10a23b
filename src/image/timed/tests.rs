//! The reader thread and the deadline: reads across chunk edges and past the end, the count
//! of stuck threads and its bound. A read that really hangs (a FUSE mount that never answers)
//! is in `tests/hung_mount.rs`.

use std::io::Write as _;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;

fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(bytes).unwrap();
    tmp.flush().unwrap();
    let file = File::open(tmp.path()).unwrap();
    (tmp, file)
}

/// A file holding `content`, opened by [`TimedFile::open`] as the server opens what it serves.
fn opened_on_its_reader_thread(content: &[u8]) -> (tempfile::NamedTempFile, TimedFile, Metadata) {
    let (tmp, _) = file_with(content);
    let path = tmp.path().to_owned();
    let (timed, meta) = TimedFile::open("the file", READ_DEADLINE, move || {
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        Ok((file, meta))
    })
    .unwrap()
    .unwrap();
    (tmp, timed, meta)
}

#[test]
fn blocks_across_chunk_edges_and_past_the_end_read_as_the_file_holds() {
    let content: Vec<u8> = (0..(2 * CHUNK + 1000))
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let (_tmp, file) = file_with(&content);
    let timed = TimedFile::new(file, "the file", READ_DEADLINE).unwrap();
    reads_as_the_file_holds(&timed, &content);
    assert_eq!(
        timed.sha256_in_order().unwrap(),
        None,
        "only a served file is hashed"
    );
}

#[test]
fn the_in_order_hash_stops_where_the_reads_stopped() {
    let chunks = READ_AHEAD + 3;
    let content: Vec<u8> = (0..(chunks * CHUNK)).map(|i| (i * 5 % 251) as u8).collect();
    let (_tmp, timed, _) = opened_on_its_reader_thread(&content);
    // One block of the first chunk: only the first chunk is read, until the reader is told
    // to read ahead (a transfer does once its datagrams are sent); then READ_AHEAD more.
    timed.read_exact_at(0, &mut [0u8; 512]).unwrap();
    let hashed = timed.sha256_in_order().unwrap().unwrap();
    assert_eq!(
        hashed.bytes, CHUNK as u64,
        "read ahead before it was asked to"
    );
    timed.read_ahead().unwrap();
    let read = (1 + READ_AHEAD) * CHUNK;
    let hashed = timed.sha256_in_order().unwrap().unwrap();
    assert_eq!(hashed.bytes, read as u64);
    assert_eq!(
        hashed.sha256,
        <[u8; 32]>::from(Sha256::digest(&content[..read]))
    );
    // A block of each chunk in turn, as a transfer goes: every chunk read in order, hashed
    // once.
    for k in 1..chunks {
        timed
            .read_exact_at((k * CHUNK) as u64, &mut [0u8; 512])
            .unwrap();
        timed.read_ahead().unwrap();
    }
    let hashed = timed.sha256_in_order().unwrap().unwrap();
    assert_eq!(hashed.bytes, content.len() as u64);
    assert_eq!(hashed.sha256, <[u8; 32]>::from(Sha256::digest(&content)));
}

/// Reads `timed` as a TFTP transfer does and checks every byte against `content`.
fn reads_as_the_file_holds(timed: &TimedFile, content: &[u8]) {
    // 512-byte blocks in order, as a TFTP transfer reads them, then a resend going back
    // over a chunk edge, then one straddling an edge.
    let mut served = Vec::new();
    let mut block = [0u8; 512];
    let mut offset = 0u64;
    loop {
        let n = timed.read_at(offset, &mut block).unwrap();
        if n == 0 {
            break;
        }
        served.extend_from_slice(&block[..n]);
        offset += n as u64;
    }
    assert_eq!(served, content);
    let mut back = [0u8; 512];
    timed.read_exact_at(CHUNK as u64 - 512, &mut back).unwrap();
    assert_eq!(&back[..], &content[CHUNK - 512..CHUNK]);
    let mut straddle = vec![0u8; 3000];
    timed
        .read_exact_at(CHUNK as u64 - 1000, &mut straddle)
        .unwrap();
    assert_eq!(straddle, content[CHUNK - 1000..CHUNK + 2000]);
    let err = timed
        .read_exact_at(content.len() as u64 - 10, &mut [0u8; 11])
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(timed.read_at(10 * CHUNK as u64, &mut block).unwrap(), 0);
    assert_eq!(timed.metadata().unwrap().len(), content.len() as u64);
}

#[test]
fn a_file_opened_on_its_reader_thread_reads_as_the_file_holds() {
    let content: Vec<u8> = (0..(2 * CHUNK + 1000))
        .map(|i| (i * 13 % 251) as u8)
        .collect();
    let (tmp, timed, meta) = opened_on_its_reader_thread(&content);
    assert_eq!(meta.len(), content.len() as u64);
    reads_as_the_file_holds(&timed, &content);
    // Its reader thread hashed what it read, in order, once each: the whole file.
    let hashed = timed.sha256_in_order().unwrap().unwrap();
    assert_eq!(hashed.bytes, content.len() as u64);
    assert_eq!(hashed.sha256, <[u8; 32]>::from(Sha256::digest(&content)));
    // The open's own error comes back as it is.
    let missing = tmp.path().with_extension("missing");
    let err = TimedFile::open("the file", READ_DEADLINE, move || {
        let file = File::open(&missing)?;
        let meta = file.metadata()?;
        Ok((file, meta))
    })
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn an_empty_file_reads_nothing() {
    let (_tmp, file) = file_with(b"");
    let timed = TimedFile::new(file, "the file", READ_DEADLINE).unwrap();
    assert_eq!(timed.read_at(0, &mut [0u8; 512]).unwrap(), 0);
    timed.read_exact_at(0, &mut []).unwrap();
}

/// Waits (with a deadline, never a sleep) until the count of stuck threads is `want`.
fn until_stuck(want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while stuck() != want {
        assert!(
            Instant::now() < deadline,
            "stuck() stayed {} (want {want})",
            stuck()
        );
        std::thread::yield_now();
    }
}

#[test]
fn threads_given_up_on_are_counted_bounded_and_uncounted_when_they_return() {
    // The only test here that leaves threads stuck, so the process-wide count is its own.
    let short = Duration::from_millis(20);
    let mut releases = Vec::new();
    for n in 0..MAX_STUCK {
        let (release, wait) = mpsc::channel::<()>();
        releases.push(release);
        let late = if n + 1 < MAX_STUCK {
            within(short, "test-stuck", move || wait.recv().is_ok()).unwrap_err()
        } else {
            // The last one an open on the reader thread that does not answer (a hung
            // mount's open): given up at its deadline and counted the same way.
            let (_tmp, file) = file_with(b"late");
            let opened = TimedFile::open("the file", short, move || {
                let _ = wait.recv();
                let meta = file.metadata()?;
                Ok((file, meta))
            });
            opened.map(|_| ()).unwrap_err()
        };
        assert!(matches!(late, Late::TimedOut(d) if d == short), "{late:?}");
        assert_eq!(stuck(), n + 1);
    }
    let message = late_message(&Late::TimedOut(READ_DEADLINE));
    assert_eq!(
        message,
        "the image file did not answer a read in 5 s (a hung network mount?)"
    );
    // At the bound, nothing new is started: no thread, no file.
    let started = Instant::now();
    let crowded = within(READ_DEADLINE, "test-crowded", || ()).unwrap_err();
    assert!(
        matches!(crowded, Late::Crowded(n) if n == MAX_STUCK),
        "{crowded:?}"
    );
    assert!(started.elapsed() < READ_DEADLINE, "refused at once");
    let (_tmp, file) = file_with(b"x");
    assert!(matches!(
        TimedFile::new(file, "the file", READ_DEADLINE),
        Err(Late::Crowded(_))
    ));
    let opened = TimedFile::open("the file", READ_DEADLINE, || {
        Err(io::Error::other("never called"))
    });
    assert!(matches!(opened, Err(Late::Crowded(_))));
    // The stuck reads come back: the count goes down, and work is taken again.
    for release in releases {
        release.send(()).unwrap();
    }
    until_stuck(0);
    assert_eq!(within(READ_DEADLINE, "test-after", || 7).unwrap(), 7);
    assert_eq!(stuck(), 0);
}

fn late_message(late: &Late) -> String {
    late.explain("the image file", "a read").to_string()
}
