//! netascii (RFC 1350 §1, Telnet's NVT rules): LF travels as CR LF and a bare CR as CR NUL.
//!
//! Only old clients ask for it (bootloaders send `octet`), but tftp-hpa's client defaults to
//! it, and a technician who forgets `binary` must still get the exact image.

/// Encodes bytes for the wire. The result's length is the exact `tsize` of the transfer.
pub fn encode(raw: &[u8]) -> Vec<u8> {
    let extra = raw.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    let mut out = Vec::with_capacity(raw.len() + extra);
    for &byte in raw {
        match byte {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            other => out.push(other),
        }
    }
    out
}

/// Decodes a netascii stream that arrives in pieces; a CR at the end of one block is carried
/// into the next (tftp-hpa's suite checks exactly this boundary).
#[derive(Debug, Default)]
pub struct Decoder {
    pending_cr: bool,
}

impl Decoder {
    /// Decodes one piece, appending the original bytes to `out`.
    pub fn feed(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        for &byte in piece {
            if self.pending_cr {
                self.pending_cr = false;
                match byte {
                    b'\n' => out.push(b'\n'),
                    0 => out.push(b'\r'),
                    // Not valid netascii; keep both bytes rather than lose data.
                    b'\r' => {
                        out.push(b'\r');
                        self.pending_cr = true;
                    }
                    other => out.extend_from_slice(&[b'\r', other]),
                }
            } else if byte == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(byte);
            }
        }
    }

    /// Ends the stream: a dangling CR is kept as it was.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_rules() {
        assert_eq!(encode(b"a\nb\rc\r\n"), b"a\r\nb\r\0c\r\0\r\n");
    }

    #[test]
    fn round_trip_across_every_split() {
        let raw = b"line\none\r\nbare\rcr\n\n\r\r\0end\r".to_vec();
        let wire = encode(&raw);
        for split in 0..=wire.len() {
            let mut decoder = Decoder::default();
            let mut out = Vec::new();
            decoder.feed(&wire[..split], &mut out);
            decoder.feed(&wire[split..], &mut out);
            decoder.finish(&mut out);
            assert_eq!(out, raw, "split at {split}");
        }
    }
}
