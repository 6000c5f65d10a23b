//! The TFTP client: push an image to a bootloader's TFTP server (write request) or fetch a
//! file (read request).
//!
//! Bootloader servers are literal: the client asks for no options unless told to, sends the
//! mode in lower case, accepts the first reply from any port of the server's address
//! (`RedBoot` and lwIP answer from port 69) and then sticks to it, and keeps repeating its
//! request until a deadline so it can be started before the router is up.

use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::event::{EventSender, TransferEvent, TransferId};
use super::landing::{self, NotPlaced};
use super::options::{Agreed, ClientOptions};
use super::packet::{
    ErrorCode, MAX_DATAGRAM, Mode, Packet, RawOption, Request, error_datagram, escape_text,
    plain_text,
};
use super::server::{Store, hex_sha256};
use super::session::{Opening, Receiver, RolloverTo, Sender, Stats, Status, Timing};
use super::transfer::{Ended, Link, Machine, drive, linger};

/// How the client behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientConfig {
    /// Options to ask for (none by default: what bootloader servers expect).
    pub options: ClientOptions,
    /// Retransmission and patience once the transfer runs.
    pub timing: Timing,
    /// Block numbering past 65535.
    pub rollover: RolloverTo,
    /// Keep repeating the first request this long before giving up.
    pub wait: Duration,
    /// Repeat the first request this often while there is no answer.
    pub request_interval: Duration,
    /// The largest file `get` accepts, in bytes: a larger announced size (tsize) is refused
    /// before any data is stored, and a server that sends more is stopped.
    pub max_size: u64,
}

/// The default of [`ClientConfig::max_size`]: larger than any router image (the largest
/// factory images are a few tens of MiB), small enough that a hostile server cannot fill a
/// laptop's disk.
pub const DEFAULT_MAX_GET_SIZE: u64 = 256 * 1024 * 1024;

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            options: ClientOptions::default(),
            timing: Timing {
                // After our final ACK, a short dally repairs a lost final ACK without making
                // the command wait long.
                dally: Duration::from_millis(300),
                ..Timing::default()
            },
            rollover: RolloverTo::Zero,
            wait: Duration::from_mins(1),
            request_interval: Duration::from_secs(1),
            max_size: DEFAULT_MAX_GET_SIZE,
        }
    }
}

/// Why a client transfer did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered the request before the deadline.
    #[error(
        "no answer from the TFTP server at {server} after {waited} s.\n  fix: check that the router is in recovery mode (see its steps), that the cable is in the right port, and that this computer has an address in the router's subnet; `ping {ip}` should answer"
    )]
    NoAnswer {
        /// Where the request went.
        server: SocketAddr,
        /// The server's address, for the ping hint.
        ip: IpAddr,
        /// Seconds waited.
        waited: u64,
    },
    /// The server answered the request with an error.
    #[error("the server at {server} refused \"{name}\": {code}: {message}{hint}")]
    Refused {
        /// Where the request went.
        server: SocketAddr,
        /// The file name asked for.
        name: String,
        /// The error code it sent.
        code: ErrorCode,
        /// Its message, escaped and capped for display.
        message: String,
        /// A fix, when the code suggests one.
        hint: String,
    },
    /// The server answered in plain text instead of TFTP: a bootloader's own words, which
    /// end the push (Netgear's EX2700 says so when the image's checksum fails).
    #[error(
        "the router at {server} said: \"{text}\" (plain text instead of a TFTP answer: it turned the image down)"
    )]
    PeerSaid {
        /// Who said it.
        server: SocketAddr,
        /// Its words, escaped and capped for display ([`super::packet::plain_text`]).
        text: String,
    },
    /// The server's OACK could not be accepted.
    #[error(
        "the server at {server} answered with options that cannot be used: {reason}.\n  fix: retry without --blksize/--windowsize"
    )]
    BadOptions {
        /// Where the request went.
        server: SocketAddr,
        /// What was wrong with them.
        reason: String,
    },
    /// The transfer started and then failed.
    #[error("the transfer with {server} failed: {reason}")]
    Failed {
        /// The server.
        server: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The file is larger than `get` accepts, or larger than the server announced.
    #[error(
        "refused the file from {server}: {reason}.\n  fix: if the file is really this large, raise the limit with --max-size; nothing was kept"
    )]
    TooLarge {
        /// The server.
        server: SocketAddr,
        /// The size announced or reached, and the limit.
        reason: String,
    },
    /// The output file cannot be written, or exists already.
    #[error("{0}")]
    Output(String),
    /// A local socket problem.
    #[error("network error: {0}")]
    Io(#[from] io::Error),
}

/// A finished client transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// The server's address and port as it answered (its TID).
    pub peer: SocketAddr,
    /// Bytes moved.
    pub bytes: u64,
    /// SHA-256 of the data, hex.
    pub sha256: String,
    /// False when every block was sent but the last ACK never came (push only).
    pub confirmed: bool,
    /// What was agreed.
    pub blksize: u16,
    /// Blocks per window.
    pub windowsize: u16,
    /// Counters.
    pub stats: Stats,
    /// From first request to the end.
    pub elapsed: Duration,
}

/// Pushes `data` to the TFTP server at `server` under `remote_name` (a write request).
pub async fn push(
    server: SocketAddr,
    remote_name: String,
    data: Arc<[u8]>,
    config: ClientConfig,
    events: EventSender,
    stop: Arc<AtomicBool>,
) -> Result<Transferred, ClientError> {
    tokio::task::spawn_blocking(move || {
        push_blocking(server, &remote_name, &data, &config, &events, &stop)
    })
    .await
    .map_err(|e| ClientError::Io(io::Error::other(e)))?
}

/// Fetches `remote_name` from the TFTP server at `server` into `output` (a read request).
/// The file appears only when the whole transfer succeeded; an existing file is never
/// overwritten.
pub async fn get(
    server: SocketAddr,
    remote_name: String,
    output: PathBuf,
    config: ClientConfig,
    events: EventSender,
    stop: Arc<AtomicBool>,
) -> Result<Transferred, ClientError> {
    tokio::task::spawn_blocking(move || {
        get_blocking(server, &remote_name, &output, &config, &events, &stop)
    })
    .await
    .map_err(|e| ClientError::Io(io::Error::other(e)))?
}

/// The first answer to a request.
enum Answer {
    /// An OACK, already checked.
    Oack(Agreed),
    /// ACK 0 (write) or DATA 1 (read) without options, with the datagram for the latter.
    Plain(Vec<u8>),
}

fn local_socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let any = match server {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    UdpSocket::bind(SocketAddr::new(any, 0))
}

/// Sends the request until the server answers or the deadline passes; returns the answer and
/// the port it came from.
fn request(
    socket: &UdpSocket,
    server: SocketAddr,
    request: &Packet<'_>,
    options: &ClientOptions,
    config: &ClientConfig,
    stop: &AtomicBool,
    started: Instant,
) -> Result<(SocketAddr, Answer), ClientError> {
    let datagram = request.to_bytes();
    let deadline = started + config.wait;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut next_send = Instant::now();
    let is_write = matches!(request, Packet::Wrq(_));
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) {
            return Err(ClientError::Failed {
                server,
                reason: "stopped".into(),
            });
        }
        if now >= deadline {
            return Err(ClientError::NoAnswer {
                server,
                ip: server.ip(),
                waited: config.wait.as_secs(),
            });
        }
        if now >= next_send {
            // A send error (no route yet, link down) is a lost request: keep trying.
            let _ = socket.send_to(&datagram, server);
            next_send = now + config.request_interval;
        }
        let wait = next_send
            .min(deadline)
            .saturating_duration_since(Instant::now());
        socket.set_read_timeout(Some(
            wait.clamp(Duration::from_millis(1), Duration::from_millis(200)),
        ))?;
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        // The answer may come from any port of the server's address, 69 included.
        if from.ip() != server.ip() {
            continue;
        }
        // A bootloader that turns the request down in words rather than TFTP (EX2700): only
        // a push heeds them, as its sender does during the transfer.
        if is_write && let Some(text) = plain_text(&buf[..len]) {
            return Err(ClientError::PeerSaid { server, text });
        }
        match Packet::parse(&buf[..len]) {
            Ok(Packet::Oack { options: oack }) => {
                return match options.accept_oack(&oack) {
                    Ok(agreed) => Ok((from, Answer::Oack(agreed))),
                    Err(reason) => {
                        let _ = socket.send_to(
                            &error_datagram(ErrorCode::OPTION_NEGOTIATION, &reason),
                            from,
                        );
                        Err(ClientError::BadOptions { server, reason })
                    }
                };
            }
            Ok(Packet::Ack { block: 0 }) if is_write => {
                return Ok((from, Answer::Plain(Vec::new())));
            }
            Ok(Packet::Data { block: 1, .. }) if !is_write => {
                return Ok((from, Answer::Plain(buf[..len].to_vec())));
            }
            Ok(Packet::Error { code, message }) => {
                let name = match request {
                    Packet::Rrq(r) | Packet::Wrq(r) => r.display_name(),
                    _ => String::new(),
                };
                return Err(ClientError::Refused {
                    server,
                    name,
                    code,
                    hint: refusal_hint(code, is_write),
                    message: escape_text(&message),
                });
            }
            // Anything else before the transfer starts is noise.
            _ => {}
        }
    }
}

fn refusal_hint(code: ErrorCode, is_write: bool) -> String {
    match code {
        ErrorCode::FILE_NOT_FOUND if !is_write => "\n  fix: check the file name on the server".into(),
        ErrorCode::ACCESS_VIOLATION if is_write => {
            "\n  fix: the server does not accept uploads (or this name); for a bootloader, check that it is in recovery mode".into()
        }
        ErrorCode::ILLEGAL_OPERATION if is_write => {
            "\n  fix: this server does not accept uploads at all (dnsmasq refuses write requests)".into()
        }
        ErrorCode::FILE_EXISTS => "\n  fix: choose another --remote-name".into(),
        ErrorCode::DISK_FULL => "\n  fix: the image is larger than the server accepts".into(),
        _ => String::new(),
    }
}

fn make_request(write: bool, name: &str, options: &ClientOptions) -> Packet<'static> {
    let request = Request {
        filename: name.as_bytes().to_vec(),
        mode: Mode::Octet,
        options: options.to_raw(),
    };
    if write {
        Packet::Wrq(request)
    } else {
        Packet::Rrq(request)
    }
}

/// Sends the request, and once without options if the server refused them (RFC 2347 lets a
/// client try again without options after ERROR 8).
fn open(
    socket: &UdpSocket,
    server: SocketAddr,
    write: bool,
    name: &str,
    config: &ClientConfig,
    stop: &AtomicBool,
    started: Instant,
) -> Result<(SocketAddr, Answer), ClientError> {
    let options = config.options;
    match request(
        socket,
        server,
        &make_request(write, name, &options),
        &options,
        config,
        stop,
        started,
    ) {
        Err(ClientError::Refused {
            code: ErrorCode::OPTION_NEGOTIATION,
            ..
        }) if options.any() => {
            let none = ClientOptions::default();
            request(
                socket,
                server,
                &make_request(write, name, &none),
                &none,
                config,
                stop,
                started,
            )
        }
        other => other,
    }
}

fn push_blocking(
    server: SocketAddr,
    name: &str,
    data: &Arc<[u8]>,
    config: &ClientConfig,
    events: &EventSender,
    stop: &AtomicBool,
) -> Result<Transferred, ClientError> {
    let started = Instant::now();
    let socket = local_socket(server)?;
    let mut config = *config;
    if let Some(tsize) = config.options.tsize.as_mut() {
        *tsize = data.len() as u64;
    }
    let (peer, answer) = open(&socket, server, true, name, &config, stop, started)?;
    let agreed = match answer {
        Answer::Oack(agreed) => agreed,
        // ACK 0 to a request with options: the server ignored them, 512-byte blocks it is.
        Answer::Plain(_) => Agreed::default(),
    };
    report_agreed(events, &agreed);
    let mut initial = Vec::new();
    let mut sender = Sender::start(
        Arc::clone(data),
        &agreed,
        config.rollover,
        Opening::Confirmed,
        config.timing,
        Instant::now(),
        &mut initial,
    );
    sender.heed_plain_text();
    let link = client_link(&socket, peer, events, stop, Some(data.len() as u64));
    let (ended, machine) = drive(&link, Machine::Send(sender), initial);
    if let Some(text) = machine.peer_said() {
        return Err(ClientError::PeerSaid {
            server: peer,
            text: text.to_owned(),
        });
    }
    let confirmed = match &ended.status {
        Status::Complete => true,
        Status::Unconfirmed => false,
        other => return Err(transfer_failed(peer, other)),
    };
    let result = Transferred {
        peer,
        bytes: data.len() as u64,
        sha256: hex_sha256(data),
        confirmed,
        blksize: agreed.blksize,
        windowsize: agreed.windowsize,
        stats: ended.stats,
        elapsed: started.elapsed(),
    };
    report_finished(events, name, &result);
    Ok(result)
}

/// Gets `name` from `server` into `output`: asks for it, receives it into `OUTPUT.part`,
/// then gives it its name.
fn get_blocking(
    server: SocketAddr,
    name: &str,
    output: &Path,
    config: &ClientConfig,
    events: &EventSender,
    stop: &AtomicBool,
) -> Result<Transferred, ClientError> {
    let started = Instant::now();
    refuse_existing_output(output)?;
    let partial = partial_path(output);
    let socket = local_socket(server)?;
    let mut config = *config;
    if config.options.any() && config.options.tsize.is_none() {
        config.options.tsize = Some(0);
    }
    let (peer, answer) = open(&socket, server, false, name, &config, stop, started)?;
    refuse_announced_size(&socket, peer, &answer, config.max_size)?;
    // O_EXCL: an existing `.part` (or a symlink planted in its place) is never opened.
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| ClientError::Output(format!("cannot create {}: {e}", partial.display())))?;
    let mut store = Store::new(file, false);
    let (agreed, first, pending) = match answer {
        Answer::Oack(agreed) => (agreed, Some(super::packet::ack_datagram(0)), None),
        Answer::Plain(datagram) => (Agreed::default(), None, Some(datagram)),
    };
    report_agreed(events, &agreed);
    // RFC 2349: the announced size is the file's size; a server sending more is not
    // sending what it announced.
    let limit = agreed
        .tsize
        .map_or(config.max_size, |t| t.min(config.max_size));
    let mut initial = Vec::new();
    let receiver = Receiver::start(
        &agreed,
        config.rollover,
        first,
        Some(limit),
        config.timing,
        Instant::now(),
        &mut initial,
    );
    let link = client_link(&socket, peer, events, stop, agreed.tsize);
    let (ended, receiver) = receive_into(&link, receiver, initial, pending.as_deref(), &mut store)
        .map_err(|err| {
            let _ = fs::remove_file(&partial);
            ClientError::Output(format!("cannot write {}: {err}", partial.display()))
        })?;
    let outcome = match &ended.status {
        Status::Complete => store.finish().map_err(|reason| {
            ClientError::Output(format!("cannot write {}: {reason}", partial.display()))
        }),
        Status::Failed(_) if ended.bytes > limit => Err(ClientError::TooLarge {
            server: peer,
            reason: oversent(agreed.tsize, config.max_size, limit),
        }),
        other => Err(transfer_failed(peer, other)),
    };
    let sha256 = outcome.inspect_err(|_| {
        let _ = fs::remove_file(&partial);
    })?;
    move_into_place(&partial, output)?;
    let result = Transferred {
        peer,
        bytes: ended.bytes,
        sha256,
        confirmed: true,
        blksize: agreed.blksize,
        windowsize: agreed.windowsize,
        stats: ended.stats,
        elapsed: started.elapsed(),
    };
    report_finished(events, name, &result);
    if let Some(receiver) = receiver {
        linger(&link, receiver);
    }
    Ok(result)
}

/// Refuses an `output` that exists: a get never overwrites.
fn refuse_existing_output(output: &Path) -> Result<(), ClientError> {
    // `symlink_metadata`, not `exists`: a dangling symlink "does not exist" for `exists`,
    // and renaming onto it would replace it.
    if fs::symlink_metadata(output).is_ok() {
        return Err(ClientError::Output(format!(
            "{} already exists and is not overwritten.\n  fix: choose another name with -o, or move the file away",
            output.display()
        )));
    }
    Ok(())
}

/// Refuses a file the server announces (tsize, RFC 2349) over `max_size`, telling the server
/// with `DISK_FULL` before any data is stored.
fn refuse_announced_size(
    socket: &UdpSocket,
    peer: SocketAddr,
    answer: &Answer,
    max_size: u64,
) -> Result<(), ClientError> {
    if let Answer::Oack(Agreed {
        tsize: Some(announced),
        ..
    }) = *answer
        && announced > max_size
    {
        let _ = socket.send_to(
            &error_datagram(ErrorCode::DISK_FULL, "file larger than the client accepts"),
            peer,
        );
        return Err(ClientError::TooLarge {
            server: peer,
            reason: format!(
                "it is announced as {announced} bytes (tsize), over the limit of {max_size} bytes"
            ),
        });
    }
    Ok(())
}

/// Receives the file into `store`: first the DATA already read when the server ignored the
/// options (`pending`), then the rest from the link. The receiver comes back when it should
/// linger for a repeated final DATA.
fn receive_into(
    link: &Link<'_>,
    mut receiver: Receiver,
    mut initial: Vec<Vec<u8>>,
    pending: Option<&[u8]>,
    store: &mut Store,
) -> io::Result<(Ended, Option<Receiver>)> {
    if let Some(datagram) = pending
        && let Ok(packet) = Packet::parse(datagram)
        && let Some(block) = receiver.on_packet(&packet, Instant::now(), &mut initial)
    {
        store.write(block)?;
    }
    let mut sink = |data: &[u8]| store.write(data);
    let (ended, machine) = drive(link, Machine::Receive(receiver, &mut sink), initial);
    Ok((ended, machine.into_receiver()))
}

/// Why a server that sent more than `limit` bytes is refused: more than it announced, or
/// more than the client takes.
fn oversent(announced: Option<u64>, max_size: u64, limit: u64) -> String {
    match announced {
        Some(announced) if announced <= max_size => {
            format!("it sent more than the {announced} bytes it announced (tsize)")
        }
        _ => format!("it sent more than the limit of {limit} bytes"),
    }
}

/// The failure of a transfer that ended in `status` (neither complete nor unconfirmed).
fn transfer_failed(server: SocketAddr, status: &Status) -> ClientError {
    let reason = match status {
        Status::Failed(reason) => reason.to_string(),
        other => format!("{other:?}"),
    };
    ClientError::Failed { server, reason }
}

/// The client's side of the socket loop: one transfer, no server bookkeeping.
fn client_link<'a>(
    socket: &'a UdpSocket,
    peer: SocketAddr,
    events: &'a EventSender,
    stop: &'a AtomicBool,
    total: Option<u64>,
) -> Link<'a> {
    Link {
        socket,
        peer,
        id: TransferId(0),
        events,
        stop,
        total,
        heard: None,
    }
}

/// Gives the finished `.part` file its final name without ever replacing anything there: a
/// file or a symlink (dangling or not) that appeared during the transfer stays, and the
/// `.part` is removed.
fn move_into_place(partial: &Path, output: &Path) -> Result<(), ClientError> {
    landing::move_into_place(partial, output).map_err(|not_placed| match not_placed {
        NotPlaced::Appeared => {
            let _ = fs::remove_file(partial);
            ClientError::Output(format!(
                "{} appeared during the transfer; not overwritten",
                output.display()
            ))
        }
        NotPlaced::Io(e) => {
            ClientError::Output(format!("cannot move {} into place: {e}", partial.display()))
        }
    })
}

fn partial_path(output: &Path) -> PathBuf {
    let mut name = output
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".part");
    output.with_file_name(name)
}

fn report_agreed(events: &EventSender, agreed: &Agreed) {
    let _ = events.send(TransferEvent::OptionsAgreed {
        id: TransferId(0),
        blksize: agreed.blksize,
        windowsize: agreed.windowsize,
        timeout: agreed.timeout,
        tsize: agreed.tsize,
        ignored: Vec::<(RawOption, String)>::new(),
    });
}

fn report_finished(events: &EventSender, name: &str, result: &Transferred) {
    let _ = events.send(TransferEvent::Finished {
        id: TransferId(0),
        peer: result.peer,
        name: name.to_owned(),
        bytes: result.bytes,
        elapsed: result.elapsed,
        sha256: result.sha256.clone(),
        confirmed: result.confirmed,
        stats: result.stats,
        kept: false,
    });
}
