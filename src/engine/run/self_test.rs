//! The self-test: proves, in a few blocks, that our server answers through the rescue address
//! with the snapshot's bytes. It asks for a name no bootloader uses, takes the first block
//! (and the size the server announces, when options are allowed), compares them with the
//! snapshot, and ends the transfer with an error (RFC 1350 §7); the last block is compared in
//! the copy the server reads. Well under 100 ms for any image size, instead of a whole fetch
//! during which a router's request could be missed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::machine::SelfTested;
use super::snapshot::Snapshot;
use crate::tftp::packet::{
    ErrorCode, Mode, Packet, RawOption, Request, ack_datagram, error_datagram,
};

/// How long the server has to answer, over every resend of the request.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Resend the request this often until the server answers (our own server, on this host).
const RESEND: Duration = Duration::from_millis(500);

/// Asks our server at `target` for `name` and checks what it hands out against `snapshot`.
pub fn probe(
    target: SocketAddr,
    name: &str,
    snapshot: &Snapshot,
    options: bool,
) -> Result<SelfTested, String> {
    let started = Instant::now();
    let bytes = snapshot.bytes();
    let local = match target.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = UdpSocket::bind(local).map_err(|e| format!("no socket for the self-test: {e}"))?;
    let request = Packet::Rrq(Request {
        filename: name.as_bytes().to_vec(),
        mode: Mode::Octet,
        // RFC 2349: tsize 0 in a read request asks the server for the file's size.
        options: if options {
            vec![RawOption::new("tsize", "0")]
        } else {
            Vec::new()
        },
    })
    .to_bytes();
    let deadline = started + PATIENCE;
    let mut buf = vec![0u8; 65_536];
    let mut next_send = started;
    let mut server: Option<SocketAddr> = None;
    let first = loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "our own server did not answer at {target} within {} s: a firewall on this computer, or the rescue address is not on the port",
                PATIENCE.as_secs()
            ));
        }
        if server.is_none() && now >= next_send {
            socket
                .send_to(&request, target)
                .map_err(|e| format!("cannot send to our own server at {target}: {e}"))?;
            next_send = now + RESEND;
        }
        let wait = deadline.min(next_send).saturating_duration_since(now);
        socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(format!("the self-test's socket failed: {e}")),
        };
        if from.ip() != target.ip() || server.is_some_and(|s| s != from) {
            continue;
        }
        match Packet::parse(&buf[..len]) {
            Ok(Packet::Oack { options }) => {
                if let Some(size) = options.iter().find(|o| o.is("tsize")) {
                    let announced: u64 = size.value.parse().unwrap_or(u64::MAX);
                    if announced != bytes.len() as u64 {
                        let _ =
                            socket.send_to(&error_datagram(ErrorCode(0), "self-test done"), from);
                        return Err(format!(
                            "our server announced {announced} bytes, not the image's {}: it is not serving the image that was checked",
                            bytes.len()
                        ));
                    }
                }
                server = Some(from);
                let _ = socket.send_to(&ack_datagram(0), from);
            }
            Ok(Packet::Data { block: 1, data }) => {
                server = Some(from);
                break data.to_vec();
            }
            Ok(Packet::Error { message, .. }) => {
                return Err(format!("our own server refused the self-test: {message}"));
            }
            _ => {}
        }
    };
    // The first block is all we need: end the transfer here (RFC 1350 §7, an error ends it).
    if let Some(from) = server {
        let _ = socket.send_to(&error_datagram(ErrorCode(0), "self-test done"), from);
    }
    if !bytes.starts_with(&first) || (first.is_empty() && !bytes.is_empty()) {
        return Err(format!(
            "the first block our server handed out ({} bytes) differs from the image's: it is not serving the image that was checked",
            first.len()
        ));
    }
    last_block_matches(snapshot)?;
    Ok(SelfTested {
        bytes: first.len() as u64,
        took: started.elapsed(),
    })
}

/// The last block as the server will read it, from the copy it serves.
fn last_block_matches(snapshot: &Snapshot) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let bytes = snapshot.bytes();
    let tail = bytes.len().min(512);
    let mut file = std::fs::File::open(snapshot.path()).map_err(|e| {
        format!(
            "cannot open the image's copy {}: {e}",
            snapshot.path().display()
        )
    })?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len != bytes.len() as u64 {
        return Err(format!(
            "the image's copy {} has {len} bytes, not {}",
            snapshot.path().display(),
            bytes.len()
        ));
    }
    let mut last = vec![0u8; tail];
    file.seek(SeekFrom::End(-(tail as i64)))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| format!("cannot read the image's copy: {e}"))?;
    if last[..] == bytes[bytes.len() - tail..] {
        Ok(())
    } else {
        Err("the last block of the copy served differs from the image's".into())
    }
}
