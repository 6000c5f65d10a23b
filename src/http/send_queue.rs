//! How many bytes of a TCP connection are written and not acknowledged yet (`write_seq -
//! snd_una`, the figure `SIOCOUTQ` gives), asked of the kernel's socket diagnostics
//! (`sock_diag(7)`, `NETLINK_SOCK_DIAG`) for that one connection: one request, one answer.
//!
//! This crate forbids `unsafe`, and so the ioctl itself. The socket table of
//! `/proc/net/tcp` has the same figure (`tx_queue`), but reading it walks every socket of the
//! namespace: six reads of about 1 ms each per look, which held the uploader to two segments
//! per 8 ms (docs/performance.md, "HTTP upload against curl"). An exact look-up by address and
//! port (no dump) costs one netlink round trip. A kernel without socket diagnostics
//! (`inet_diag`/`tcp_diag` neither built in nor loadable) still has the table: a look-up
//! that fails is asked of the table, and the table is used from then on.

use std::io;
#[cfg(target_os = "linux")]
use std::net::SocketAddr;
use std::net::TcpStream;

/// Reads the send queue of connections, through one netlink socket of its own.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub struct SendQueue {
    /// `None` once socket diagnostics failed: the socket table answers instead.
    socket: Option<netlink_sys::Socket>,
    seq: u32,
}

/// `SOCK_DIAG_BY_FAMILY` (`linux/sock_diag.h`).
#[cfg(target_os = "linux")]
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLMSG_ERROR` (`linux/netlink.h`).
#[cfg(target_os = "linux")]
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST` (`linux/netlink.h`).
#[cfg(target_os = "linux")]
const NLM_F_REQUEST: u16 = 1;
/// The netlink header's length (`struct nlmsghdr`).
#[cfg(target_os = "linux")]
const HEADER: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, extensions, pad, states, then the socket id.
#[cfg(target_os = "linux")]
const REQUEST: usize = 8 + SOCKET_ID;
/// `struct inet_diag_sockid`: ports, two 16-byte addresses, interface, cookie.
#[cfg(target_os = "linux")]
const SOCKET_ID: usize = 4 + 16 + 16 + 4 + 8;
/// Where `idiag_wqueue` sits in `struct inet_diag_msg`: family, state, timer, retransmits,
/// the socket id, `idiag_expires`, `idiag_rqueue`, then it.
#[cfg(target_os = "linux")]
const WQUEUE_AT: usize = 4 + SOCKET_ID + 4 + 4;

impl Default for SendQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_os = "linux")]
impl SendQueue {
    /// A netlink socket for the look-ups, in the calling thread's network namespace (that of
    /// the connections it will be asked about); the socket table when none can be made.
    pub fn new() -> Self {
        let socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_SOCK_DIAG).ok();
        Self { socket, seq: 0 }
    }

    /// Bytes written on `stream` and not acknowledged yet.
    ///
    /// # Errors
    /// `NotConnected` when the kernel no longer has the connection; the socket's own error
    /// otherwise.
    pub fn of(&mut self, stream: &TcpStream) -> io::Result<u64> {
        let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
        if let Some(socket) = &self.socket {
            self.seq = self.seq.wrapping_add(1);
            if let Ok(queue) = diagnose(socket, local, peer, self.seq) {
                return Ok(queue);
            }
            // A connection the table has is one diagnostics should have found: they do not
            // work here (no `tcp_diag`), and the table is asked from now on.
            let in_table = from_table(local, peer);
            if in_table.is_ok() {
                self.socket = None;
            }
            return in_table;
        }
        from_table(local, peer)
    }
}

/// One exact look-up through `socket`.
#[cfg(target_os = "linux")]
fn diagnose(
    socket: &netlink_sys::Socket,
    local: SocketAddr,
    peer: SocketAddr,
    seq: u32,
) -> io::Result<u64> {
    let request = request(local, peer, seq);
    socket.send_to(&request, &netlink_sys::SocketAddr::new(0, 0), 0)?;
    let mut answer = Vec::with_capacity(1024);
    loop {
        answer.clear();
        let (n, _) = socket.recv_from(&mut answer, 0)?;
        if let Some(found) = read_answer(&answer[..n], seq) {
            return found;
        }
        // An answer to an earlier look-up that was given up on: read on.
    }
}

/// The connection's send queue from the kernel's socket table (`tx_queue` of
/// `/proc/thread-self/net/tcp`: the calling thread's own namespace, which a thread that
/// entered another one with setns(2) does not share with its process's `/proc/net`).
#[cfg(target_os = "linux")]
fn from_table(local: SocketAddr, peer: SocketAddr) -> io::Result<u64> {
    let table = match local {
        SocketAddr::V4(_) => "/proc/thread-self/net/tcp",
        SocketAddr::V6(_) => "/proc/thread-self/net/tcp6",
    };
    let text = std::fs::read_to_string(table)?;
    let (l, p) = (table_addr(local), table_addr(peer));
    text.lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&l.as_str()) && fields.get(2) == Some(&p.as_str()))
                .then(|| fields.get(4).copied())
                .flatten()
        })
        .and_then(|queues| queues.split(':').next())
        .and_then(|tx| u64::from_str_radix(tx, 16).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the connection is gone"))
}

/// An address as the kernel's socket table prints it: each 32-bit word of the address in
/// the machine's byte order, then the port, in hex (`net/ipv4/tcp_ipv4.c`, `get_tcp4_sock`).
#[cfg(target_os = "linux")]
fn table_addr(addr: SocketAddr) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match addr {
        SocketAddr::V4(a) => {
            let _ = write!(out, "{:08X}", u32::from_ne_bytes(a.ip().octets()));
        }
        SocketAddr::V6(a) => {
            for word in a.ip().octets().chunks_exact(4) {
                let _ = write!(
                    out,
                    "{:08X}",
                    u32::from_ne_bytes([word[0], word[1], word[2], word[3]])
                );
            }
        }
    }
    let _ = write!(out, ":{:04X}", addr.port());
    out
}

/// The look-up of the connection from `local` to `peer`: an exact request (no dump), every
/// TCP state, no extensions, no cookie (`INET_DIAG_NOCOOKIE`).
#[cfg(target_os = "linux")]
fn request(local: SocketAddr, peer: SocketAddr, seq: u32) -> Vec<u8> {
    let len = HEADER + REQUEST;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    let family: u8 = if local.is_ipv4() { 2 } else { 10 };
    // family, IPPROTO_TCP, no extensions, pad; every state.
    m.extend_from_slice(&[family, 6, 0, 0]);
    m.extend_from_slice(&u32::MAX.to_ne_bytes());
    // The socket id from the socket's side: src is the local end (inet_diag.c looks it up
    // as the packet from the peer would be).
    m.extend_from_slice(&local.port().to_be_bytes());
    m.extend_from_slice(&peer.port().to_be_bytes());
    m.extend_from_slice(&address(local));
    m.extend_from_slice(&address(peer));
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0xff; 8]);
    m
}

/// An address as `inet_diag_sockid` holds it: network order, IPv4 in the first word.
#[cfg(target_os = "linux")]
fn address(addr: SocketAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        SocketAddr::V4(a) => out[..4].copy_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.copy_from_slice(&a.ip().octets()),
    }
    out
}

/// The send queue in an answer to look-up `seq`; `None` for an answer to another one.
#[cfg(target_os = "linux")]
fn read_answer(answer: &[u8], seq: u32) -> Option<io::Result<u64>> {
    let word = |at: usize| -> Option<u32> {
        answer
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    let kind = answer
        .get(4..6)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_ne_bytes);
    let (Some(kind), Some(answered)) = (kind, word(8)) else {
        return Some(Err(io::Error::other("a short answer from sock_diag")));
    };
    if answered != seq {
        return None;
    }
    Some(match kind {
        SOCK_DIAG_BY_FAMILY => word(HEADER + WQUEUE_AT)
            .map(u64::from)
            .ok_or_else(|| io::Error::other("a short answer from sock_diag")),
        NLMSG_ERROR => {
            // struct nlmsgerr: a negative errno, then the request.
            let errno = word(HEADER).map_or(0, |e| (e as i32).saturating_neg());
            if errno == 2 {
                Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the connection is gone",
                ))
            } else {
                Err(io::Error::from_raw_os_error(errno))
            }
        }
        other => Err(io::Error::other(format!(
            "an answer of type {other} from sock_diag"
        ))),
    })
}

/// Elsewhere the send queue is not read: what was written counts as acknowledged.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub struct SendQueue;

#[cfg(not(target_os = "linux"))]
impl SendQueue {
    /// Nothing to open.
    pub fn new() -> Self {
        Self
    }

    /// Always 0.
    pub fn of(&mut self, _stream: &TcpStream) -> io::Result<u64> {
        Ok(0)
    }
}

/// Bytes written on `stream` and not acknowledged yet, with a look-up socket of its own (see
/// [`SendQueue`], which keeps one for many looks).
pub fn send_queue(stream: &TcpStream) -> io::Result<u64> {
    SendQueue::new().of(stream)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    #[test]
    fn the_queue_of_a_connection_empties_once_the_peer_acknowledges() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_peer, _) = listener.accept().unwrap();
        let mut queue = SendQueue::new();
        assert!(queue.socket.is_some(), "no sock_diag socket on this kernel");
        assert_eq!(queue.of(&stream).unwrap(), 0, "nothing written yet");
        stream.write_all(&[7u8; 3000]).unwrap();
        // Loopback acknowledges at once; the look-up finds this one connection among any
        // others and reads its queue back to 0.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = queue.of(&stream).unwrap();
        while last != 0 && Instant::now() < deadline {
            last = queue.of(&stream).unwrap();
        }
        assert_eq!(last, 0);
        assert!(
            queue.socket.is_some(),
            "socket diagnostics fell back to the table"
        );
        // The table, where diagnostics are missing, finds the same connection.
        let (local, peer) = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
        assert_eq!(from_table(local, peer).unwrap(), 0);
        drop(stream);
        let gone = from_table(local, "127.0.0.1:9".parse().unwrap()).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotConnected);
    }

    #[test]
    fn a_request_names_the_connection_from_its_own_side() {
        let local: SocketAddr = "192.168.1.2:40000".parse().unwrap();
        let peer: SocketAddr = "192.168.1.1:80".parse().unwrap();
        let m = request(local, peer, 9);
        assert_eq!(m.len(), HEADER + REQUEST);
        assert_eq!(&m[HEADER..HEADER + 2], &[2, 6], "AF_INET, TCP");
        let id = HEADER + 8;
        assert_eq!(&m[id..id + 4], &[0x9c, 0x40, 0, 80], "ports, network order");
        assert_eq!(
            &m[id + 4..id + 8],
            &[192, 168, 1, 2],
            "src is the local end"
        );
        assert_eq!(&m[id + 20..id + 24], &[192, 168, 1, 1], "dst is the page");
    }

    #[test]
    fn a_connection_the_kernel_no_longer_has_is_not_connected() {
        let mut answer = vec![0u8; HEADER + 4];
        answer[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        answer[8..12].copy_from_slice(&5u32.to_ne_bytes());
        answer[HEADER..HEADER + 4].copy_from_slice(&(-2i32).to_ne_bytes());
        let err = read_answer(&answer, 5).unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert!(
            read_answer(&answer, 6).is_none(),
            "another look-up's answer"
        );
    }
}
