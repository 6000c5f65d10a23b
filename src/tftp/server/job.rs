//! One transfer's work, on its own thread: opens the file or the upload, negotiates the
//! options, runs the read (RRQ) or write (WRQ) side of the session, and lands an upload in
//! place within the upload quota.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::files::to_hex;
use super::files::{
    FileBlocks, Served, checked_name, locate, netascii_copy, open_located, plain_file_name,
    sha256_of,
};
use super::shelf::Keeping;
use super::{Refused, Shared, Source, WritePolicy, lock};
use crate::tftp::event::{RequestKind, TransferEvent, TransferId};
use crate::tftp::landing::{NotPlaced, move_into_place};
use crate::tftp::netascii;
use crate::tftp::options::{Direction, Negotiation, negotiate};
use crate::tftp::packet::{ErrorCode, Mode, Packet, Request, error_datagram, escape_name};
use crate::tftp::session::{Opening, Receiver, Sender, Status, TransferFailure};
use crate::tftp::transfer::{Ended, Link, Machine, drive, linger};

/// One transfer's work, run on its own thread.
pub(super) struct Job {
    pub(super) shared: Arc<Shared>,
    pub(super) id: TransferId,
    pub(super) peer: SocketAddr,
    pub(super) local: IpAddr,
    pub(super) kind: RequestKind,
    pub(super) request: Request,
    pub(super) mtu_blksize: Option<u16>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) last_heard: Arc<AtomicU64>,
}

impl Job {
    pub(super) fn run(self) {
        let started = Instant::now();
        let socket = match StdUdpSocket::bind(SocketAddr::new(self.local, 0)) {
            Ok(socket) => socket,
            Err(err) => {
                self.failed(format!(
                    "cannot open a transfer socket on {}: {err}",
                    self.local
                ));
                return self.finish();
            }
        };
        let outcome = match self.kind {
            RequestKind::Read => self.serve_read(&socket, started),
            RequestKind::Write => self.serve_write(&socket, started),
        };
        if let Err(refused) = outcome {
            // Off the books before answering, so the client's next request (often from the
            // same port, right after this ERROR) is not taken for a repeat of this one.
            // The event goes out before the ERROR, so whoever reacts to the ERROR finds it.
            self.finish();
            let datagram = error_datagram(refused.code, &refused.message);
            let _ = self.shared.events.send(TransferEvent::RequestRefused {
                peer: self.peer,
                name: self.request.display_name(),
                code: refused.code,
                reason: refused.reason,
            });
            let _ = socket.send_to(&datagram, self.peer);
        }
        self.finish();
    }

    /// The transfer's side of the socket loop.
    fn link<'a>(&'a self, socket: &'a StdUdpSocket, total: Option<u64>) -> Link<'a> {
        Link {
            socket,
            peer: self.peer,
            id: self.id,
            events: &self.shared.events,
            stop: &self.stop,
            total,
            heard: Some((&self.last_heard, self.shared.epoch)),
        }
    }

    fn finish(&self) {
        lock(&self.shared.active).remove(&self.id);
    }

    fn failed(&self, reason: String) {
        let _ = self.shared.events.send(TransferEvent::Failed {
            id: self.id,
            peer: self.peer,
            name: self.request.display_name(),
            reason,
        });
    }

    fn check_mode(&self) -> Result<bool, Refused> {
        match &self.request.mode {
            Mode::Octet => Ok(false),
            Mode::Netascii => Ok(true),
            Mode::Mail => Err(Refused::new(
                ErrorCode::ILLEGAL_OPERATION,
                "mail mode is not supported",
                "the client asked for the obsolete mail mode",
            )),
            // Old clients send `binary` (the RFC 2348 example does): it means octet.
            Mode::Other(raw) if raw.eq_ignore_ascii_case(b"binary") => Ok(false),
            Mode::Other(raw) => Err(Refused::new(
                ErrorCode::ILLEGAL_OPERATION,
                "unknown transfer mode",
                format!("unknown transfer mode {:?}", escape_name(raw)),
            )),
        }
    }

    /// The image's path, when the name asked for is one it is served under.
    fn image_path(&self, path: &Path, any_name: bool) -> Result<PathBuf, Refused> {
        let own = path
            .file_name()
            .map(|n| n.as_encoded_bytes().to_vec())
            .unwrap_or_default();
        if any_name || self.request.filename == own {
            Ok(path.to_path_buf())
        } else {
            Err(Refused::new(
                ErrorCode::FILE_NOT_FOUND,
                "File not found",
                format!(
                    "the device asked for \"{}\" but the image is \"{}\"; serve it under any name with --any-name",
                    self.request.display_name(),
                    escape_name(&own)
                ),
            ))
        }
    }

    /// What a read request is served, and the path that names it: the held image; the copy
    /// on the shelf of the file found, when it is the same file unchanged; or the file found
    /// and opened on its reader thread (in netascii, its converted form). With the file, the
    /// right to keep a copy of it as it is read, when this transfer holds it.
    fn open_served(
        &self,
        netascii_mode: bool,
    ) -> Result<(Served, PathBuf, Option<Keeping<'_>>), Refused> {
        let config = &self.shared.config;
        let keeping = if netascii_mode {
            None
        } else {
            self.shared.shelf.start_keeping()
        };
        let keep = keeping.as_ref().map(Keeping::keep);
        let (file, meta, path) = match &config.source {
            Source::Image { path, any_name } => {
                let path = self.image_path(path, *any_name)?;
                if let Some(held) = config.held_image() {
                    let served = if netascii_mode {
                        Served::Converted {
                            text: netascii::encode(&held.bytes).into(),
                            from: None,
                        }
                    } else {
                        Served::Held(held.clone())
                    };
                    return Ok((served, path, None));
                }
                let asked = path.display().to_string();
                open_located("the image file", &asked, keep, move || Ok(path))?
            }
            Source::Directory(_) => {
                let root = self
                    .shared
                    .root
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/nonexistent"));
                let name = checked_name(&self.request.filename)?.to_owned();
                let asked = format!("\"{name}\" in {}", root.display());
                open_located("the file", &asked, keep, move || locate(&root, &name))?
            }
        };
        let kept = self.shared.shelf.find(&path, &meta);
        let file = Arc::new(FileBlocks::new(file, &meta));
        let served = if netascii_mode {
            Served::Converted {
                text: netascii_copy(&file, &path)?,
                from: Some(file),
            }
        } else if let Some(kept) = kept {
            // Served from memory: nothing to keep.
            return Ok((Served::Kept { kept, file }, path, None));
        } else {
            if let Some(keeping) = &keeping {
                keeping.make_room();
            }
            Served::File(file)
        };
        Ok((served, path, keeping))
    }

    fn serve_read(&self, socket: &StdUdpSocket, started: Instant) -> Result<(), Refused> {
        let netascii_mode = self.check_mode()?;
        let opened = SystemTime::now();
        let _running = self.shared.shelf.enter();
        let (served, path, keeping) = self.open_served(netascii_mode)?;
        let data = served.blocks();
        let size = data.size();
        let config = &self.shared.config;
        let negotiation = negotiate(
            &self.request.options,
            Direction::Read { size },
            &config.options,
            self.mtu_blksize,
        )
        .map_err(|r| Refused::new(r.code, &r.message, r.message.clone()))?;
        self.report_options(&negotiation);
        let opening = if negotiation.oack.is_empty() {
            Opening::Data
        } else {
            Opening::Oack(
                Packet::Oack {
                    options: negotiation.oack.clone(),
                }
                .to_bytes(),
            )
        };
        let mut initial = Vec::new();
        let sender = Sender::start_from(
            Arc::clone(&data),
            &negotiation.agreed,
            config.rollover,
            opening,
            config.timing,
            Instant::now(),
            &mut initial,
        );
        let link = self.link(socket, Some(size));
        let (ended, _) = drive(&link, Machine::Send(sender), initial);
        let status = match ended.status {
            Status::Complete | Status::Unconfirmed if served.changed() => {
                Status::Failed(TransferFailure::ChangedOnDisk { path: path.clone() })
            }
            other => other,
        };
        match status {
            Status::Complete | Status::Unconfirmed => {
                let sha256 = match served.sha256() {
                    Some(sha256) => sha256,
                    None => sha256_of(data.as_ref()).map_err(|err| {
                        Refused::new(
                            ErrorCode::NOT_DEFINED,
                            "cannot read the file",
                            format!("cannot read {}: {err}", path.display()),
                        )
                    })?,
                };
                // Sent whole and unchanged: the copy kept as it was read is shelved.
                if let (Some(keeping), Served::File(file)) = (keeping, &served)
                    && let Some(kept) = file.kept(&path, opened, config.keep_settled)
                {
                    keeping.shelve(kept);
                }
                let _ = self.shared.events.send(TransferEvent::Finished {
                    id: self.id,
                    peer: self.peer,
                    name: self.request.display_name(),
                    bytes: size,
                    elapsed: started.elapsed(),
                    sha256,
                    confirmed: status == Status::Complete,
                    stats: ended.stats,
                    kept: matches!(served, Served::Kept { .. }),
                });
            }
            Status::OptionsRefused => {
                let _ = self.shared.events.send(TransferEvent::OptionsRefused {
                    id: self.id,
                    peer: self.peer,
                });
            }
            Status::Failed(reason) => self.failed(reason.to_string()),
            Status::Running => self.failed("stopped".into()),
        }
        Ok(())
    }

    fn report_options(&self, negotiation: &Negotiation) {
        let _ = self.shared.events.send(TransferEvent::OptionsAgreed {
            id: self.id,
            blksize: negotiation.agreed.blksize,
            windowsize: negotiation.agreed.windowsize,
            timeout: negotiation.agreed.timeout,
            tsize: negotiation.agreed.tsize,
            ignored: negotiation
                .ignored
                .iter()
                .map(|(o, why)| (o.shown(), (*why).to_owned()))
                .collect(),
        });
    }

    /// The write side (WRQ): checks the upload, receives it into `NAME.part`, lands it
    /// under its name, and reports the outcome.
    fn serve_write(&self, socket: &StdUdpSocket, started: Instant) -> Result<(), Refused> {
        let write = self.write_policy()?;
        let netascii_mode = self.check_mode()?;
        let name = plain_file_name(&self.request.filename)?;
        let negotiation = self.negotiate_write(write)?;
        let quota = Quota {
            used: &self.shared.uploaded,
            limit: write.quota,
        };
        if let Some(announced) = negotiation.agreed.tsize {
            quota.check(announced)?;
        }
        let (landing, file) = Landing::open(&write.dir, &name)?;
        self.report_options(&negotiation);
        let link = self.link(socket, negotiation.agreed.tsize);
        let mut store = Store::new(file, netascii_mode);
        let mut counted = 0u64;
        let mut sink = |data: &[u8]| {
            quota.take(data.len() as u64, &mut counted)?;
            store.write(data)
        };
        let (ended, receiver) = self.receive_upload(&link, &negotiation, write, &mut sink);
        let finished = match &ended.status {
            Status::Complete => store.finish().and_then(|sha256| landing.publish(sha256)),
            Status::Failed(_) if ended.bytes > write.max_size => Err(format!(
                "the upload passed the limit of {} bytes for one upload; raise it with --max-write-size",
                write.max_size
            )),
            Status::Failed(reason) => Err(reason.to_string()),
            _ => Err("stopped".into()),
        };
        match finished {
            Ok(sha256) => {
                self.upload_finished(&ended, sha256, started);
                // The final ACK may be lost: keep answering the final DATA for a while,
                // after the outcome is out.
                if let Some(receiver) = receiver {
                    linger(&link, receiver);
                }
            }
            Err(reason) => {
                // A partial upload is never left behind, and no longer counts.
                landing.discard();
                quota.give_back(counted);
                self.failed(reason);
            }
        }
        Ok(())
    }

    /// Where uploads go, or the refusal when the server takes none.
    fn write_policy(&self) -> Result<&WritePolicy, Refused> {
        self.shared.config.write.as_ref().ok_or_else(|| {
            Refused::new(
                ErrorCode::ACCESS_VIOLATION,
                "writes are not allowed",
                "the client tried to upload; start the server with --allow-write DIR to accept uploads",
            )
        })
    }

    /// The options granted to an upload of at most `write.max_size` bytes; a refused size
    /// tells the technician which limit to raise.
    fn negotiate_write(&self, write: &WritePolicy) -> Result<Negotiation, Refused> {
        negotiate(
            &self.request.options,
            Direction::Write {
                limit: write.max_size,
            },
            &self.shared.config.options,
            self.mtu_blksize,
        )
        .map_err(|r| {
            let fix = if r.code == ErrorCode::DISK_FULL {
                format!(
                    "{}; raise the limit of one upload with --max-write-size",
                    r.message
                )
            } else {
                r.message.clone()
            };
            Refused::new(r.code, &r.message, fix)
        })
    }

    /// Runs the receive side until the upload is over, each block handed to `sink`. The
    /// receiver comes back when it should linger for a repeated final DATA.
    fn receive_upload(
        &self,
        link: &Link<'_>,
        negotiation: &Negotiation,
        write: &WritePolicy,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> (Ended, Option<Receiver>) {
        // No OACK to send: the upload starts with ACK 0 (RFC 1350 section 4; RFC 2347).
        let first = if negotiation.oack.is_empty() {
            crate::tftp::packet::ack_datagram(0)
        } else {
            Packet::Oack {
                options: negotiation.oack.clone(),
            }
            .to_bytes()
        };
        let config = &self.shared.config;
        let mut initial = Vec::new();
        let receiver = Receiver::start(
            &negotiation.agreed,
            config.rollover,
            Some(first),
            Some(write.max_size),
            config.timing,
            Instant::now(),
            &mut initial,
        );
        let (ended, machine) = drive(link, Machine::Receive(receiver, sink), initial);
        (ended, machine.into_receiver())
    }

    /// Reports a whole upload, stored under its name.
    fn upload_finished(&self, ended: &Ended, sha256: String, started: Instant) {
        let _ = self.shared.events.send(TransferEvent::Finished {
            id: self.id,
            peer: self.peer,
            name: self.request.display_name(),
            bytes: ended.bytes,
            elapsed: started.elapsed(),
            sha256,
            confirmed: true,
            stats: ended.stats,
            kept: false,
        });
    }
}

/// Where an upload lands: it arrives as `NAME.part` and takes its name only when whole, so
/// a run killed mid-upload never leaves a partial file under the final name.
struct Landing {
    /// The final name.
    path: PathBuf,
    /// The file the upload arrives in.
    part: PathBuf,
}

impl Landing {
    /// Creates `NAME.part` in `dir` for an upload of `name`. Create-only: an existing file
    /// is never overwritten, a symlink never followed.
    fn open(dir: &Path, name: &str) -> Result<(Self, File), Refused> {
        let path = dir.join(name);
        if fs::symlink_metadata(&path).is_ok() {
            return Err(Refused::new(
                ErrorCode::FILE_EXISTS,
                "File already exists",
                format!("{} already exists; it is not overwritten", path.display()),
            ));
        }
        let part = dir.join(format!("{name}.part"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(|err| {
                if err.kind() == io::ErrorKind::AlreadyExists {
                    Refused::new(
                        ErrorCode::FILE_EXISTS,
                        "File already exists",
                        format!(
                            "{} exists: another upload of {name} is under way, or one was cut off; remove it to upload {name} again",
                            part.display()
                        ),
                    )
                } else {
                    Refused::new(
                        ErrorCode::ACCESS_VIOLATION,
                        "cannot create the file",
                        format!("cannot create {}: {err}", part.display()),
                    )
                }
            })?;
        Ok((Self { path, part }, file))
    }

    /// Gives the whole upload its final name, never replacing anything that appeared there
    /// since; hands back the upload's `sha256`.
    fn publish(&self, sha256: String) -> Result<String, String> {
        move_into_place(&self.part, &self.path)
            .map(|()| sha256)
            .map_err(|not_placed| match not_placed {
                NotPlaced::Appeared => format!(
                    "{} appeared during the upload; it is not overwritten, the upload is not kept",
                    self.path.display()
                ),
                NotPlaced::Io(err) => {
                    format!("cannot name the upload {}: {err}", self.path.display())
                }
            })
    }

    /// Removes a partial upload.
    fn discard(&self) {
        let _ = fs::remove_file(&self.part);
    }
}

/// The upload quota of a run: the bytes all uploads store together.
struct Quota<'a> {
    used: &'a AtomicU64,
    limit: u64,
}

impl Quota<'_> {
    fn refusal(&self, more: u64) -> String {
        format!(
            "the upload would pass the total upload quota of {} bytes ({} already taken by this run's uploads, {more} more asked); raise it with --write-quota",
            self.limit,
            self.used.load(Ordering::Relaxed)
        )
    }

    /// Refuses an upload whose announced size does not fit what is left.
    fn check(&self, announced: u64) -> Result<(), Refused> {
        if self.used.load(Ordering::Relaxed).saturating_add(announced) > self.limit {
            return Err(Refused::new(
                ErrorCode::DISK_FULL,
                "upload quota exceeded",
                self.refusal(announced),
            ));
        }
        Ok(())
    }

    /// Counts `bytes` more against the quota (adding them to `counted`), or refuses them.
    fn take(&self, bytes: u64, counted: &mut u64) -> io::Result<()> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(io::Error::other(self.refusal(bytes)));
        }
        *counted += bytes;
        Ok(())
    }

    /// Gives back what a failed upload had counted.
    fn give_back(&self, counted: u64) {
        self.used.fetch_sub(counted, Ordering::Relaxed);
    }
}

/// Where an upload's bytes go: the file, through the netascii decoder when asked, with the
/// hash of what was stored.
pub(crate) struct Store {
    writer: BufWriter<File>,
    decoder: Option<netascii::Decoder>,
    scratch: Vec<u8>,
    hasher: Sha256,
}

impl Store {
    pub(crate) fn new(file: File, netascii_mode: bool) -> Self {
        Self {
            writer: BufWriter::with_capacity(256 * 1024, file),
            decoder: netascii_mode.then(netascii::Decoder::default),
            scratch: Vec::new(),
            hasher: Sha256::new(),
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(decoder) = &mut self.decoder {
            self.scratch.clear();
            decoder.feed(data, &mut self.scratch);
            self.hasher.update(&self.scratch);
            self.writer.write_all(&self.scratch)
        } else {
            self.hasher.update(data);
            self.writer.write_all(data)
        }
    }

    /// Flushes to disk; returns the SHA-256 of what was stored.
    pub(crate) fn finish(mut self) -> Result<String, String> {
        if let Some(decoder) = &mut self.decoder {
            self.scratch.clear();
            decoder.finish(&mut self.scratch);
            self.hasher.update(&self.scratch);
            self.writer
                .write_all(&self.scratch)
                .map_err(|e| e.to_string())?;
        }
        let file = self
            .writer
            .into_inner()
            .map_err(|e| e.error().to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        Ok(to_hex(&self.hasher.finalize()))
    }
}
