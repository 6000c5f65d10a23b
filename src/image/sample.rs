//! Made-up firmware images that carry real headers: the demo's image, and the images the tests
//! check and serve. Nothing a technician flashes comes from here.

/// A TP-Link firmware of `len` bytes (at least 0x200): a version 1 header (`mktplinkfw`'s
/// layout) from vendor "TP-LINK", version "ver. 1.0.0", naming `hardware_id` revision 1, then
/// bytes that differ from block to block.
pub fn tp_link_firmware(hardware_id: u32, len: usize) -> Vec<u8> {
    let mut image: Vec<u8> = (0..len.max(0x200)).map(|n| (n * 7 % 251) as u8).collect();
    image[..0x200].fill(0);
    image[0..4].copy_from_slice(&0x0100_0000u32.to_be_bytes());
    image[0x04..0x0b].copy_from_slice(b"TP-LINK");
    image[0x1c..0x26].copy_from_slice(b"ver. 1.0.0");
    image[0x40..0x44].copy_from_slice(&hardware_id.to_be_bytes());
    image[0x44..0x48].copy_from_slice(&1u32.to_be_bytes());
    image
}

/// A TP-Link stock image "with boot": an outer header whose boot length is set, 128 KiB of
/// bootloader, then [`tp_link_firmware`] of `firmware_len` bytes at 0x20200, where the
/// bootloader-less image starts.
pub fn tp_link_stock_with_bootloader(hardware_id: u32, firmware_len: usize) -> Vec<u8> {
    let firmware = tp_link_firmware(hardware_id, firmware_len);
    let mut image = firmware[..0x200].to_vec();
    image[0x94..0x98].copy_from_slice(&0x2_0000u32.to_be_bytes());
    image.extend(std::iter::repeat_n(0xb0u8, 0x2_0000));
    image.extend_from_slice(&firmware);
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Format;
    use crate::image::format::recognise;

    #[test]
    fn the_samples_are_what_they_claim() {
        let firmware = tp_link_firmware(0x0841_0009, 4096);
        assert!(matches!(
            recognise(&firmware, 4096),
            Format::TpLink {
                hardware_id: 0x0841_0009,
                carries_bootloader: false,
                ..
            }
        ));
        let stock = tp_link_stock_with_bootloader(0x0841_0009, 4096);
        assert_eq!(&stock[0x20200..], &firmware[..]);
        assert!(matches!(
            recognise(&stock, stock.len() as u64),
            Format::TpLink {
                carries_bootloader: true,
                ..
            }
        ));
    }
}
