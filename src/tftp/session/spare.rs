//! The DATA datagrams a [`super::Sender`] sends, built in buffers it gets back once they are
//! sent, so a transfer in its steady state allocates nothing per block or per window, and
//! each block is read straight into the datagram that carries it (one copy from the file's
//! chunk or the image in memory, none through a scratch block).
//!
//! Measured on loopback before this pool (docs/performance-history.md, 2026-12-01): a 32 MiB fetch
//! at blksize 1468 allocated and freed one datagram per block, after reading the block into
//! a scratch buffer and copying it again into the datagram.

use crate::tftp::packet::OP_DATA;

/// Spare datagram buffers, each with room for one DATA at the transfer's block size.
#[derive(Debug)]
pub(super) struct Spares {
    buffers: Vec<Vec<u8>>,
    /// Bytes a DATA datagram may take: the 4-byte header and one block.
    room: usize,
    /// Most buffers kept: one window, and the blocks a resend sends ahead.
    keep: usize,
}

impl Spares {
    /// A pool for DATA of up to `blksize` bytes, keeping up to `keep` buffers.
    pub(super) fn new(blksize: usize, keep: usize) -> Self {
        Self {
            buffers: Vec::with_capacity(keep),
            room: 4 + blksize,
            keep,
        }
    }

    /// A DATA datagram for block number `wire` with `len` payload bytes, zeroed, for the
    /// caller to fill at `[4..]`. `len` is at most the block size.
    pub(super) fn data(&mut self, wire: u16, len: usize) -> Vec<u8> {
        let mut datagram = self
            .buffers
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.room));
        datagram.clear();
        // RFC 1350 §5: opcode 3, the block number, then the data.
        datagram.extend_from_slice(&OP_DATA.to_be_bytes());
        datagram.extend_from_slice(&wire.to_be_bytes());
        datagram.resize(4 + len, 0);
        datagram
    }

    /// Takes back a datagram that was sent. Only buffers with room for a whole DATA are
    /// kept (an ACK, an OACK or an ERROR is dropped), and no more than the pool keeps.
    pub(super) fn recycle(&mut self, datagram: Vec<u8>) {
        if self.buffers.len() < self.keep && datagram.capacity() >= self.room {
            self.buffers.push(datagram);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_is_used_again_for_the_next_block() {
        let mut spares = Spares::new(512, 4);
        let first = spares.data(1, 512);
        assert_eq!(&first[..4], &[0, 3, 0, 1]);
        assert_eq!(first.len(), 516);
        let address = first.as_ptr();
        spares.recycle(first);
        let second = spares.data(2, 100);
        assert_eq!(second.as_ptr(), address, "the same buffer, not a new one");
        assert_eq!(&second[..4], &[0, 3, 0, 2]);
        assert_eq!(second.len(), 104);
        assert!(second[4..].iter().all(|&b| b == 0), "the old block is gone");
    }

    #[test]
    fn the_pool_keeps_only_whole_data_buffers_and_no_more_than_it_may() {
        let mut spares = Spares::new(512, 2);
        spares.recycle(vec![0, 4, 0, 1]);
        assert!(spares.buffers.is_empty(), "an ACK's buffer is too small");
        for block in 1..=3 {
            let datagram = spares.data(block, 512);
            spares.recycle(datagram);
        }
        let held: Vec<_> = (1..=3).map(|b| spares.data(b, 512)).collect();
        for datagram in held {
            spares.recycle(datagram);
        }
        assert_eq!(spares.buffers.len(), 2);
    }
}
