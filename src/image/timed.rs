//! Reading a file that may sit on a mount that never answers.
//!
//! A file on a hung network mount (NFS, SMB, sshfs with the server gone) opens, and may even
//! answer `stat`, and then blocks the first `read(2)` for as long as the mount is hung, in a
//! wait no deadline of ours can cut short. So every read here happens on a reader thread of
//! the file's own, and the caller waits for its answer with a deadline: past it, the caller
//! gets a clear error and the reader thread is abandoned where it is stuck. Abandoned threads
//! are counted across the process and bounded ([`MAX_STUCK`]): past that, nothing more is
//! opened or read until some of them come back, so a hung mount cannot pile up threads.
//!
//! Reads are served from the chunk the reader thread last fetched, and the next chunk is
//! asked for as soon as one arrives, so a file read block by block (TFTP's 512 bytes) costs
//! one hand-over between threads per [`CHUNK`], not one per block.
//!
//! A file opened by [`TimedFile::open`] (a served file) is also hashed (SHA-256) on its
//! reader thread, chunk by chunk as the reads reach further in order, so the transfer thread
//! that sends its blocks never hashes: on loopback the hash had been a fifth of the server's
//! CPU, on the path from an ACK to the next DATA (docs/performance-history.md, 2026-12-01).

use std::collections::VecDeque;
use std::fs::{File, Metadata};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How long one read (or open) may take before the file counts as not answering: a local
/// disk, or a working network mount, answers a 64 KiB read in far less.
pub const READ_DEADLINE: Duration = Duration::from_secs(5);

/// Most threads left stuck in the file system at once (reads and opens that never came
/// back). Each holds a thread's stack and an open file; past this many, a hung mount is
/// refused at once rather than given another thread.
pub const MAX_STUCK: usize = 16;

/// Bytes the reader thread fetches at a time.
pub const CHUNK: usize = 64 * 1024;

/// Chunks read ahead of the one a transfer sends from, when the file's size is known: 256 KiB,
/// some 11 windows of 16 blocks of 1468 bytes.
pub const READ_AHEAD: usize = 4;

/// Threads abandoned in a read or an open that has not returned yet, across the process.
static STUCK: AtomicUsize = AtomicUsize::new(0);

/// How many threads are stuck in a read or an open that has not returned (see [`MAX_STUCK`]).
pub fn stuck() -> usize {
    STUCK.load(Ordering::SeqCst)
}

/// Why a wait with a deadline gave up.
#[derive(Debug)]
pub enum Late {
    /// The answer did not come within the deadline; the thread waited on is left behind.
    TimedOut(Duration),
    /// Too many threads are stuck already: nothing was started.
    Crowded(usize),
    /// No thread could be started.
    NoThread(io::Error),
}

impl Late {
    /// The error for the technician: `what` names the file ("the image file"), `op` the
    /// operation ("a read", "the open").
    pub fn explain(&self, what: &str, op: &str) -> io::Error {
        match self {
            Late::TimedOut(deadline) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{what} did not answer {op} in {} s (a hung network mount?)",
                    deadline.as_secs()
                ),
            ),
            Late::Crowded(stuck) => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{what} was not touched: {stuck} earlier reads or opens are still stuck on files that do not answer (a hung network mount?)"
                ),
            ),
            Late::NoThread(err) => io::Error::new(
                err.kind(),
                format!("cannot start a thread to read {what}: {err}"),
            ),
        }
    }
}

/// One piece of file-system work done on a thread of its own for a caller that waits with a
/// deadline. Whoever of the two finishes second settles the count of stuck threads: the
/// caller counts the thread as stuck only when it gives up while the work is still under
/// way, and the thread uncounts itself when it comes back after that.
#[derive(Debug, Clone)]
struct Errand(Arc<AtomicU8>);

const UNDER_WAY: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

impl Errand {
    /// A new errand, unless too many threads are stuck already.
    fn start() -> Result<Self, Late> {
        let stuck = stuck();
        if stuck >= MAX_STUCK {
            return Err(Late::Crowded(stuck));
        }
        Ok(Self(Arc::new(AtomicU8::new(UNDER_WAY))))
    }

    /// Called by the thread when its work is over.
    fn done(&self) {
        if self
            .0
            .compare_exchange(UNDER_WAY, DONE, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // The caller gave up on this thread and counted it: it is no longer stuck.
            STUCK.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Called by the caller when its deadline passed: true when the thread is still at it
    /// (now counted as stuck), false when it finished meanwhile.
    fn abandon(&self) -> bool {
        let abandoned = self
            .0
            .compare_exchange(UNDER_WAY, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if abandoned {
            STUCK.fetch_add(1, Ordering::SeqCst);
        }
        abandoned
    }
}

/// A look-up of `path` (`stat`, `canonicalize`, an open) on a thread of its own, given
/// [`READ_DEADLINE`]: a mount that stops answering even a look-up (a hung NFS server takes
/// `stat` down with it) gives the caller an error naming `what` instead of a wait for good.
///
/// # Errors
/// The look-up's own error, or one of kind `TimedOut` ("did not answer a look-up in 5 s (a
/// hung network mount?)") or `WouldBlock` (too many threads stuck already).
pub fn look_up<T: Send + 'static>(
    path: &std::path::Path,
    what: &str,
    job: impl FnOnce(&std::path::Path) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let owned = path.to_owned();
    within(READ_DEADLINE, "look-up", move || job(&owned))
        .unwrap_or_else(|late| Err(late.explain(what, "a look-up")))
}

/// Whether `err` says the file system did not answer in time (see [`look_up`]).
pub fn is_late(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Runs `job` on a thread named `name` and waits for it up to `deadline`. Past it, the thread
/// is left behind (counted; see [`MAX_STUCK`]) and [`Late::TimedOut`] is returned.
pub fn within<T: Send + 'static>(
    deadline: Duration,
    name: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Late> {
    let errand = Errand::start()?;
    let worker = errand.clone();
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _ = tx.send(job());
            worker.done();
        })
        .map_err(Late::NoThread)?;
    match rx.recv_timeout(deadline) {
        Ok(value) => Ok(value),
        Err(RecvTimeoutError::Timeout) => {
            if errand.abandon() {
                Err(Late::TimedOut(deadline))
            } else {
                // It finished as the deadline passed: its answer is in the channel.
                rx.recv()
                    .map_err(|_| Late::NoThread(io::Error::other("the thread ended early")))
            }
        }
        Err(RecvTimeoutError::Disconnected) => Err(Late::NoThread(io::Error::other(
            "the thread ended without an answer",
        ))),
    }
}

/// What the reader thread is asked for.
enum Ask {
    /// Up to `len` bytes from `offset` (fewer only at the end of the file).
    Read { offset: u64, len: usize },
    /// The file's metadata (`fstat`).
    Stat,
    /// How far the in-order hash has got, and the SHA-256 of those bytes.
    Digest,
    /// The bytes kept as they were hashed ([`TimedFile::open_keeping`]), handed over.
    Kept,
}

/// The reader thread's answers, in the order asked.
enum Answer {
    Read(io::Result<Vec<u8>>),
    Stat(io::Result<Metadata>),
    Digest(Option<InOrder>),
    Kept(Option<Whole>),
    /// The open done on the reader thread itself ([`TimedFile::open`]), always its first
    /// answer.
    Opened(io::Result<Metadata>),
}

/// The SHA-256 of a file's bytes from its start, as far as its reader thread has read them
/// in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InOrder {
    /// Bytes hashed, from offset 0.
    pub bytes: u64,
    /// Their SHA-256.
    pub sha256: [u8; 32],
}

/// A file's bytes from its start, in the chunks its reader thread read them in (each
/// [`CHUNK`] long but the last), with their SHA-256: the very bytes that were hashed.
#[derive(Debug)]
pub struct Whole {
    /// The chunks, in order.
    pub chunks: Vec<Vec<u8>>,
    /// How far the hash and the chunks reach, from offset 0.
    pub hashed: InOrder,
}

/// The reader thread's running hash: each chunk read at the offset the hash has reached
/// extends it; a chunk read again, or out of order, does not. While the file is kept
/// ([`TimedFile::open_keeping`]), each chunk that extends the hash is also kept, until the
/// keeper's flag is cleared: then the copy is dropped and nothing more is kept.
#[derive(Debug, Default)]
struct Hashing {
    bytes: u64,
    hasher: Sha256,
    kept: Option<(Vec<Vec<u8>>, Arc<AtomicBool>)>,
}

/// What [`TimedFile::open_keeping`] keeps: a regular file of at most `up_to` bytes, while
/// `while_set` stays set.
#[derive(Debug, Clone)]
pub struct Keep {
    /// The largest file kept.
    pub up_to: u64,
    /// Cleared by whoever needs the memory back (another transfer starting): the reader
    /// then drops its copy at its next read.
    pub while_set: Arc<AtomicBool>,
}

impl Hashing {
    fn read(&mut self, offset: u64, read: &io::Result<Vec<u8>>) {
        if let Ok(bytes) = read
            && offset == self.bytes
        {
            self.hasher.update(bytes);
            self.bytes += bytes.len() as u64;
            if self
                .kept
                .as_ref()
                .is_some_and(|(_, keep)| !keep.load(Ordering::Acquire))
            {
                self.kept = None;
            }
            if let Some((kept, _)) = &mut self.kept
                && !bytes.is_empty()
            {
                // A copy: the chunk itself goes to the transfer, which drops it once sent.
                // This runs on the reader thread, while the peer works on a window.
                kept.push(bytes.clone());
            }
        }
    }

    /// The kept chunks, handed over once (keeping stops).
    fn take_kept(&mut self) -> Option<Whole> {
        let (chunks, keep) = self.kept.take()?;
        if !keep.load(Ordering::Acquire) {
            return None;
        }
        Some(Whole {
            chunks,
            hashed: self.so_far(),
        })
    }

    fn so_far(&self) -> InOrder {
        InOrder {
            bytes: self.bytes,
            sha256: self.hasher.clone().finalize().into(),
        }
    }
}

/// One chunk of the file, as the reader thread read it.
#[derive(Debug, Default)]
struct Chunk {
    offset: u64,
    bytes: Vec<u8>,
}

impl Chunk {
    fn holds(&self, offset: u64) -> bool {
        offset >= self.offset && offset < self.offset + self.bytes.len() as u64
    }
}

/// The caller's side: the reader's answers, chunks at hand, the reads asked for ahead, and
/// whether the reader thread was given up on.
#[derive(Debug)]
struct Reading {
    answers: Receiver<Answer>,
    /// Chunks collected: the one last read from, the one before it (a window sent again
    /// may reach back into it) and those read ahead of it.
    chunks: VecDeque<Chunk>,
    /// Offsets of the chunks asked for and not collected yet, in the order asked (the reader
    /// answers in that order).
    ahead: VecDeque<u64>,
    /// Where the file ended when it was opened, when known: chunks are read ahead up to it,
    /// when [`TimedFile::read_ahead`] is called.
    end: Option<u64>,
    /// The chunk last read from, whose successors [`TimedFile::read_ahead`] asks for.
    origin: Option<u64>,
    /// Set when a wait timed out: the reader is stuck, every later call fails at once.
    stuck: Option<(io::ErrorKind, String)>,
}

/// A file read on a reader thread of its own, each answer waited for with a deadline (see the
/// module's notes). Dropping it lets the reader thread end (at once, or when its stuck read
/// returns); it is never waited for.
#[derive(Debug)]
pub struct TimedFile {
    asks: Sender<Ask>,
    errand: Errand,
    what: &'static str,
    deadline: Duration,
    // Only the transfer (or check) that owns this file takes the lock, so it never makes
    // another transfer wait, even while it waits on the reader.
    reading: Mutex<Reading>,
}

impl TimedFile {
    /// Hands `file` to a new reader thread. `what` names it in errors ("the image file").
    pub fn new(file: File, what: &'static str, deadline: Duration) -> Result<Self, Late> {
        let (errand, asks, answers) =
            spawn_reader(move |asked, answer| serve_asks(&file, &asked, &answer, None))?;
        Ok(Self::waiting_on(asks, answers, errand, what, deadline))
    }

    /// Opens a file on a new reader thread, which then stays its reader: `open` (an open and
    /// an `fstat`) runs there, waited for with `deadline` as a read is, and when it opened a
    /// regular file the first chunk is read at once, before anything asks for it. The first
    /// block of a transfer then costs one thread and, most often, no hand-over of its own,
    /// where an open on a helper thread followed by [`TimedFile::new`] cost two threads and
    /// three hand-overs before the first byte.
    ///
    /// # Errors
    /// `Ok(Err(_))`: the open's own error. `Err(_)`: the open did not answer within
    /// `deadline` (its thread is left behind and counted, as a stuck read's is), too many
    /// threads are stuck already, or no thread could be started.
    pub fn open(
        what: &'static str,
        deadline: Duration,
        open: impl FnOnce() -> io::Result<(File, Metadata)> + Send + 'static,
    ) -> Result<io::Result<(Self, Metadata)>, Late> {
        Self::open_keeping(what, deadline, None, open)
    }

    /// [`TimedFile::open`], and when the file opened is a regular file of at most `keep.up_to`
    /// bytes, the reader thread also keeps a copy of every chunk it hashes, in order (while
    /// `keep.while_set` stays set), for
    /// [`TimedFile::kept`]: a file read whole once can then be served again from memory
    /// without reading or hashing it again (`tftp::server`'s shelf).
    ///
    /// # Errors
    /// As [`TimedFile::open`].
    pub fn open_keeping(
        what: &'static str,
        deadline: Duration,
        keep: Option<Keep>,
        open: impl FnOnce() -> io::Result<(File, Metadata)> + Send + 'static,
    ) -> Result<io::Result<(Self, Metadata)>, Late> {
        let (errand, asks, answers) = spawn_reader(move |asked, answer| {
            match open() {
                Ok((file, meta)) => {
                    // Only a regular file is read ahead: a device or a FIFO is refused
                    // by the caller, never read.
                    // The open is answered before the read: a file that opens and
                    // then hangs its first read is a read that does not answer.
                    let regular = meta.is_file();
                    let mut hashing = Hashing::default();
                    if let Some(keep) = keep
                        && regular
                        && meta.len() <= keep.up_to
                    {
                        hashing.kept = Some((Vec::new(), keep.while_set));
                    }
                    let mut sent = answer.send(Answer::Opened(Ok(meta))).is_ok();
                    if sent && regular {
                        let first = read_up_to(&file, 0, CHUNK);
                        hashing.read(0, &first);
                        sent = answer.send(Answer::Read(first)).is_ok();
                    }
                    if sent {
                        serve_asks(&file, &asked, &answer, Some(&mut hashing));
                    }
                }
                Err(err) => {
                    let _ = answer.send(Answer::Opened(Err(err)));
                }
            }
        })?;
        let opened = match answers.recv_timeout(deadline) {
            Ok(Answer::Opened(opened)) => opened,
            Ok(_) => Err(io::Error::other("the reader answered out of turn")),
            Err(RecvTimeoutError::Timeout) => {
                if errand.abandon() {
                    return Err(Late::TimedOut(deadline));
                }
                // It answered as the deadline passed: the answer is in the channel.
                match answers.recv() {
                    Ok(Answer::Opened(opened)) => opened,
                    _ => Err(io::Error::other("the reader answered out of turn")),
                }
            }
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::other(
                "the reader thread ended without an answer",
            )),
        };
        Ok(opened.map(|meta| {
            let mut file = Self::waiting_on(asks, answers, errand, what, deadline);
            if meta.is_file() {
                let reading = file
                    .reading
                    .get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                reading.ahead.push_back(0);
                reading.end = Some(meta.len());
            }
            (file, meta)
        }))
    }

    fn waiting_on(
        asks: Sender<Ask>,
        answers: Receiver<Answer>,
        errand: Errand,
        what: &'static str,
        deadline: Duration,
    ) -> Self {
        Self {
            asks,
            errand,
            what,
            deadline,
            reading: Mutex::new(Reading {
                answers,
                chunks: VecDeque::new(),
                ahead: VecDeque::new(),
                end: None,
                origin: None,
                stuck: None,
            }),
        }
    }

    /// Up to `buf.len()` bytes from `offset`; fewer only where the file ends, 0 past its end.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut reading = self.lock();
        let chunk = self.chunk_at(&mut reading, offset)?;
        let Some(chunk) = chunk else {
            return Ok(0);
        };
        let from = (offset - chunk.offset) as usize;
        let n = buf.len().min(chunk.bytes.len() - from);
        buf[..n].copy_from_slice(&chunk.bytes[from..from + n]);
        Ok(n)
    }

    /// Fills `buf` from `offset`; `UnexpectedEof` when the file ends first.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.read_at(offset + done as u64, &mut buf[done..])? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => done += n,
            }
        }
        Ok(())
    }

    /// The file's metadata, asked of the reader thread (a hung mount can block `fstat` too).
    pub fn metadata(&self) -> io::Result<Metadata> {
        match self.in_turn(Ask::Stat)? {
            Answer::Stat(meta) => meta,
            _ => Err(out_of_turn()),
        }
    }

    /// The SHA-256 of the file's bytes from its start as far as they have been read in
    /// order, asked of the reader thread, which hashes them as it reads; `None` for a file
    /// not opened by [`TimedFile::open`] (nothing is hashed).
    pub fn sha256_in_order(&self) -> io::Result<Option<InOrder>> {
        match self.in_turn(Ask::Digest)? {
            Answer::Digest(digest) => Ok(digest),
            _ => Err(out_of_turn()),
        }
    }

    /// The chunks the reader thread kept as it hashed them, from the file's start as far as
    /// it read in order, with their hash; handed over once. `None` when the file was not
    /// opened to be kept ([`TimedFile::open_keeping`]) or was handed over already.
    pub fn kept(&self) -> io::Result<Option<Whole>> {
        match self.in_turn(Ask::Kept)? {
            Answer::Kept(whole) => Ok(whole),
            _ => Err(out_of_turn()),
        }
    }

    /// Asks the reader thread `ask` once every chunk asked for ahead is in (it answers in
    /// order), and waits for its answer with the deadline.
    fn in_turn(&self, ask: Ask) -> io::Result<Answer> {
        let mut reading = self.lock();
        self.collect_ahead(&mut reading)?;
        self.ask(&mut reading, ask)?;
        self.answer(&mut reading)
    }

    fn lock(&self) -> MutexGuard<'_, Reading> {
        self.reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The chunk holding `offset`, fetched when not at hand; `None` past the end of the file.
    /// When the file's end is not known, the chunk after a full one is asked for at once;
    /// when it is, [`TimedFile::read_ahead`] asks for the next ones.
    fn chunk_at<'a>(&self, reading: &'a mut Reading, offset: u64) -> io::Result<Option<&'a Chunk>> {
        if let Some((kind, message)) = &reading.stuck {
            return Err(io::Error::new(*kind, message.clone()));
        }
        let start = offset - offset % CHUNK as u64;
        let at_hand = |chunks: &VecDeque<Chunk>| chunks.iter().any(|c| c.offset == start);
        if !at_hand(&reading.chunks) {
            if !reading.ahead.contains(&start) {
                self.ask(
                    reading,
                    Ask::Read {
                        offset: start,
                        len: CHUNK,
                    },
                )?;
                reading.ahead.push_back(start);
            }
            while !at_hand(&reading.chunks) && !reading.ahead.is_empty() {
                self.collect_one(reading)?;
            }
        }
        // Kept: this chunk, the one before it and those read ahead; older ones go.
        reading.chunks.retain(|c| c.offset + CHUNK as u64 >= start);
        let Some(index) = reading.chunks.iter().position(|c| c.offset == start) else {
            return Err(io::Error::other("the reader answered out of turn"));
        };
        if reading.end.is_some() {
            reading.origin = Some(start);
        } else {
            self.read_ahead_of(reading, index)?;
        }
        Ok(reading
            .chunks
            .iter()
            .find(|c| c.offset == start)
            .filter(|c| c.holds(offset)))
    }

    /// Asks the reader thread for the chunks after the one last read from, up to
    /// [`READ_AHEAD`] of them (those neither at hand nor asked for already), when the file's
    /// size is known ([`TimedFile::open`]). A transfer calls it once the datagrams it built are
    /// sent: the reader thread then reads while the peer works on them, and is woken neither
    /// in the middle of a window nor while the next chunk is needed
    /// (docs/performance-history.md, "The windowed tail").
    pub fn read_ahead(&self) -> io::Result<()> {
        let mut reading = self.lock();
        let Some(origin) = reading.origin.take() else {
            return Ok(());
        };
        if reading.stuck.is_some() {
            return Ok(());
        }
        match reading.chunks.iter().position(|c| c.offset == origin) {
            Some(index) => self.read_ahead_of(&mut reading, index),
            None => Ok(()),
        }
    }

    /// Asks for the chunks after the one at `index` that are neither at hand nor asked for.
    fn read_ahead_of(&self, reading: &mut Reading, index: usize) -> io::Result<()> {
        let here = &reading.chunks[index];
        let (from, full) = (here.offset, here.bytes.len() == CHUNK);
        let depth = match reading.end {
            Some(_) => READ_AHEAD,
            None if full => 1,
            None => 0,
        };
        for k in 1..=depth as u64 {
            let next = from + k * CHUNK as u64;
            if reading.end.is_some_and(|end| next >= end) {
                break;
            }
            let known =
                reading.ahead.contains(&next) || reading.chunks.iter().any(|c| c.offset == next);
            if !known {
                self.ask(
                    reading,
                    Ask::Read {
                        offset: next,
                        len: CHUNK,
                    },
                )?;
                reading.ahead.push_back(next);
            }
        }
        Ok(())
    }

    /// Waits for every chunk asked for ahead: the reader answers in order, so anything else
    /// asked of it comes after them.
    fn collect_ahead(&self, reading: &mut Reading) -> io::Result<()> {
        while !reading.ahead.is_empty() {
            self.collect_one(reading)?;
        }
        Ok(())
    }

    /// Waits for the first chunk asked for ahead and keeps it at hand.
    fn collect_one(&self, reading: &mut Reading) -> io::Result<()> {
        let answer = self.answer(reading)?;
        let Some(offset) = reading.ahead.pop_front() else {
            return Err(io::Error::other("the reader answered out of turn"));
        };
        let bytes = match answer {
            Answer::Read(bytes) => bytes?,
            Answer::Stat(_) | Answer::Opened(_) | Answer::Digest(_) | Answer::Kept(_) => {
                return Err(io::Error::other("the reader answered out of turn"));
            }
        };
        reading.chunks.retain(|c| c.offset != offset);
        reading.chunks.push_back(Chunk { offset, bytes });
        Ok(())
    }

    fn ask(&self, reading: &mut Reading, ask: Ask) -> io::Result<()> {
        self.asks.send(ask).map_err(|_| {
            let err = io::Error::other(format!("the reader of {} is gone", self.what));
            reading.stuck = Some((err.kind(), err.to_string()));
            err
        })
    }

    /// The reader's next answer, within the deadline; past it, the reader is given up on.
    fn answer(&self, reading: &mut Reading) -> io::Result<Answer> {
        match reading.answers.recv_timeout(self.deadline) {
            Ok(answer) => Ok(answer),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.errand.abandon();
                let err = Late::TimedOut(self.deadline).explain(self.what, "a read");
                reading.stuck = Some((err.kind(), err.to_string()));
                Err(err)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let err = io::Error::other(format!("the reader of {} is gone", self.what));
                reading.stuck = Some((err.kind(), err.to_string()));
                Err(err)
            }
        }
    }
}

/// Starts a reader thread doing `work` with the asks it is sent and the answers it sends
/// back, counted as an errand (see [`MAX_STUCK`]).
fn spawn_reader(
    work: impl FnOnce(Receiver<Ask>, Sender<Answer>) + Send + 'static,
) -> Result<(Errand, Sender<Ask>, Receiver<Answer>), Late> {
    let errand = Errand::start()?;
    let worker = errand.clone();
    let (asks, asked) = mpsc::channel::<Ask>();
    let (answer, answers) = mpsc::channel();
    std::thread::Builder::new()
        .name("file-reader".into())
        .spawn(move || {
            work(asked, answer);
            worker.done();
        })
        .map_err(Late::NoThread)?;
    Ok((errand, asks, answers))
}

/// The reader thread's work: answers each ask in turn until the file is dropped, hashing
/// what it reads in order when given a hash to extend.
fn serve_asks(
    file: &File,
    asked: &Receiver<Ask>,
    answer: &Sender<Answer>,
    mut hashing: Option<&mut Hashing>,
) {
    for ask in asked {
        let reply = match ask {
            Ask::Read { offset, len } => {
                let read = read_up_to(file, offset, len);
                if let Some(hashing) = hashing.as_deref_mut() {
                    hashing.read(offset, &read);
                }
                Answer::Read(read)
            }
            Ask::Stat => Answer::Stat(file.metadata()),
            Ask::Digest => Answer::Digest(hashing.as_deref().map(Hashing::so_far)),
            Ask::Kept => Answer::Kept(hashing.as_deref_mut().and_then(Hashing::take_kept)),
        };
        if answer.send(reply).is_err() {
            break;
        }
    }
}

/// The error for an answer that is not the one asked for.
fn out_of_turn() -> io::Error {
    io::Error::other("the reader answered out of turn")
}

/// Up to `len` bytes from `offset`, fewer only at the end of the file.
fn read_up_to(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match pread(file, &mut bytes[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    bytes.truncate(done);
    Ok(bytes)
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests;
