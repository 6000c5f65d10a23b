//! A window's datagrams in one system call (Linux's `sendmmsg(2)`).
//!
//! A window of 16 blocks sent by 16 `sendto` calls pays the system call's entry, the socket
//! lookup and the route 16 times; to U-Boot the turnaround from an ACK to the next window
//! was 41 µs against atftpd's 11 (docs/performance-history.md). One `sendmmsg` hands the
//! kernel the whole window at once. Each datagram is passed as a slice of the buffer the
//! session built: nothing is copied again on the way.

use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

/// Most datagrams handed to one `sendmmsg`; a larger window goes in several calls.
const MOST: usize = 64;

/// The message headers and the peer's address for `sendmmsg`, made once per transfer and
/// used for every window, so sending a window allocates nothing.
#[derive(Debug)]
pub(super) struct Batch {
    headers: MultiHeaders<SockaddrStorage>,
    addresses: Vec<Option<SockaddrStorage>>,
}

impl Batch {
    /// Headers for windows sent to `peer`.
    pub(super) fn new(peer: SocketAddr) -> Self {
        Self {
            headers: MultiHeaders::preallocate(MOST, None),
            addresses: vec![Some(SockaddrStorage::from(peer)); MOST],
        }
    }

    /// Sends `datagrams` in as few calls as it may; returns how many the kernel took, from
    /// the first on. The rest (none, unless a call failed part way: a full send buffer, a
    /// firewall's EPERM) are the caller's to send one by one, so their errors are reported.
    pub(super) fn send(&mut self, socket: &UdpSocket, datagrams: &[Vec<u8>]) -> usize {
        if datagrams.len() < 2 {
            return 0;
        }
        let no_control: [ControlMessage<'_>; 0] = [];
        let mut taken = 0;
        for group in datagrams.chunks(MOST) {
            let mut slices = [[IoSlice::new(&[])]; MOST];
            for (slice, datagram) in slices.iter_mut().zip(group) {
                *slice = [IoSlice::new(datagram)];
            }
            let took = sendmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                &slices[..group.len()],
                &self.addresses,
                no_control,
                MsgFlags::empty(),
            )
            .map_or(0, Iterator::count);
            taken += took;
            if took < group.len() {
                break;
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_arrives_whole_and_in_order() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let window: Vec<Vec<u8>> = (0u8..16)
            .map(|i| {
                let mut datagram = vec![0, 3, 0, i + 1];
                datagram.extend(std::iter::repeat_n(i, 1468));
                datagram
            })
            .collect();
        let mut batch = Batch::new(receiver.local_addr().unwrap());
        let sent = batch.send(&sender, &window);
        assert_eq!(sent, 16);
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 2000];
        for expected in &window {
            let (len, from) = receiver.recv_from(&mut buf).unwrap();
            assert_eq!(from, sender.local_addr().unwrap());
            assert_eq!(&buf[..len], expected.as_slice());
        }
    }

    #[test]
    fn windows_larger_than_one_call_and_one_after_another_arrive_whole() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut batch = Batch::new(receiver.local_addr().unwrap());
        let mut buf = [0u8; 64];
        // Two windows through the same headers: 70 blocks (two calls), then 3.
        for count in [MOST + 6, 3] {
            let window: Vec<Vec<u8>> = (0..count)
                .map(|i| vec![0, 3, (i >> 8) as u8, i as u8])
                .collect();
            assert_eq!(batch.send(&sender, &window), count);
            for expected in &window {
                let (len, _) = receiver.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..len], expected.as_slice());
            }
        }
    }

    #[test]
    fn a_single_datagram_is_left_to_the_caller() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = sender.local_addr().unwrap();
        assert_eq!(Batch::new(peer).send(&sender, &[vec![0, 4, 0, 1]]), 0);
    }
}
