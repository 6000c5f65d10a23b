//! A wrong baud rate, told from the bytes: read at the wrong rate, a bootloader's banner comes
//! out as framing garbage, mostly bytes that are not text (high bytes and control codes).

/// The rates bootloader consoles use, most common first (../docs/console.md: 115200 for
/// U-Boot and CFE, 57600 for `MediaTek`, 38400 for Realtek).
pub const COMMON: [u32; 5] = [115_200, 57_600, 38_400, 19_200, 9_600];

/// Bytes to see before judging.
const SAMPLE: usize = 48;
/// Above this share of non-text, the rate is called wrong.
const GARBAGE_PERCENT: usize = 30;

/// Whether a byte is what a console prints as text: printable ASCII, CR, LF, tab, backspace.
pub fn is_text(byte: u8) -> bool {
    matches!(byte, 0x20..=0x7e | b'\r' | b'\n' | b'\t' | 0x08)
}

/// The percentage of garbage, once enough bytes came and too many are garbage.
pub fn garbage_percent(heard: usize, garbage: usize) -> Option<u32> {
    (heard >= SAMPLE && garbage * 100 > heard * GARBAGE_PERCENT)
        .then(|| (garbage * 100 / heard) as u32)
}

/// The rates to try instead of `current`, most likely first.
pub fn suggestions(current: u32) -> Vec<u32> {
    COMMON.into_iter().filter(|&r| r != current).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_banner_is_text_and_framing_garbage_is_not() {
        let banner =
            b"U-Boot 1.1.4 (Aug  4 2010 - 20:06:51)\r\n\r\nAP83 (ar9100) U-boot 0.0.11\r\n";
        let garbage = banner.iter().filter(|&&b| !is_text(b)).count();
        assert_eq!(garbage_percent(banner.len(), garbage), None);
        // 57600 read at 115200: every bit seen twice, bytes split in two, mostly high bits.
        let wrong: Vec<u8> = (0..64u8).map(|i| 0x80 | i.wrapping_mul(37)).collect();
        let garbage = wrong.iter().filter(|&&b| !is_text(b)).count();
        assert_eq!(garbage_percent(wrong.len(), garbage), Some(100));
        assert_eq!(suggestions(115_200), [57_600, 38_400, 19_200, 9_600]);
    }
}
