//! Made-up firmware images that carry real headers, with every length and checksum right as
//! their makers' tools compute them: the demo's image, and the images the tests check and
//! serve. Nothing a technician flashes comes from here.

use super::whole::seal;

/// Bytes that differ from block to block, so a lost or repeated block shows.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|n| ((n + seed) * 7 % 251) as u8).collect()
}

/// A TP-Link firmware of `len` bytes (at least 0x200): a version 1 header (`mktplinkfw`'s
/// layout) from vendor "TP-LINK", version "ver. 1.0.0", naming `hardware_id` revision 1, a
/// kernel and a rootfs filling the rest, `fw_length` the whole file and the salted MD5 right.
pub fn tp_link_firmware(hardware_id: u32, len: usize) -> Vec<u8> {
    let len = len.max(0x200);
    let mut image = pattern(len, 0);
    image[..0x200].fill(0);
    let word = |image: &mut Vec<u8>, at: usize, value: u32| {
        image[at..at + 4].copy_from_slice(&value.to_be_bytes());
    };
    word(&mut image, 0, 0x0100_0000);
    image[0x04..0x0b].copy_from_slice(b"TP-LINK");
    image[0x1c..0x26].copy_from_slice(b"ver. 1.0.0");
    word(&mut image, 0x40, hardware_id);
    word(&mut image, 0x44, 1);
    // kernel_la, kernel_ep as mktplinkfw's 4M layouts have them.
    word(&mut image, 0x74, 0x8006_0000);
    word(&mut image, 0x78, 0x8006_0000);
    let body = (len - 0x200) as u32;
    let kernel_len = body / 2;
    word(&mut image, 0x7c, len as u32);
    word(&mut image, 0x80, 0x200);
    word(&mut image, 0x84, kernel_len);
    word(&mut image, 0x88, 0x200 + kernel_len);
    word(&mut image, 0x8c, body - kernel_len);
    seal(&mut image);
    image
}

/// A TP-Link stock image "with boot": an outer header whose boot length is set, 128 KiB of
/// bootloader, then [`tp_link_firmware`] of `firmware_len` bytes at 0x20200, where the
/// bootloader-less image starts; the outer MD5 salted as for an image with a bootloader.
pub fn tp_link_stock_with_bootloader(hardware_id: u32, firmware_len: usize) -> Vec<u8> {
    let firmware = tp_link_firmware(hardware_id, firmware_len);
    let mut image = firmware[..0x200].to_vec();
    image[0x94..0x98].copy_from_slice(&0x2_0000u32.to_be_bytes());
    image.extend(std::iter::repeat_n(0xb0u8, 0x2_0000));
    image.extend_from_slice(&firmware);
    seal(&mut image);
    image
}

/// A Broadcom TRX image of `len` bytes (at least 28): header, then data; `len` and the CRC32
/// as `otrx` writes them.
pub fn trx(len: usize) -> Vec<u8> {
    let len = len.max(28);
    let mut image = pattern(len, 3);
    image[..4].copy_from_slice(b"HDR0");
    image[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    image[12..16].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    for (n, offset) in [28u32, 0, 0].into_iter().enumerate() {
        image[16 + 4 * n..20 + 4 * n].copy_from_slice(&offset.to_le_bytes());
    }
    seal(&mut image);
    image
}

/// A legacy U-Boot image: a 64-byte header (`mkimage`, Linux MIPS kernel) and `data_len`
/// bytes of data, both CRC32s right.
pub fn uimage(data_len: usize) -> Vec<u8> {
    let mut image = vec![0u8; 64];
    image[0..4].copy_from_slice(&0x2705_1956u32.to_be_bytes());
    image[12..16].copy_from_slice(&(data_len as u32).to_be_bytes());
    image[16..20].copy_from_slice(&0x8006_0000u32.to_be_bytes());
    image[20..24].copy_from_slice(&0x8006_0000u32.to_be_bytes());
    image[28..32].copy_from_slice(&[5, 5, 2, 3]);
    image[32..32 + 18].copy_from_slice(b"MIPS OpenWrt Linux");
    image.extend(pattern(data_len, 5));
    seal(&mut image);
    image
}

/// A Netgear .chk image for `board_id` (at most 64 bytes): `mkchkimg`'s header, a kernel and
/// a rootfs of the given lengths, every checksum right.
pub fn netgear_chk(board_id: &str, kernel_len: usize, rootfs_len: usize) -> Vec<u8> {
    let mut image = Vec::new();
    image.extend_from_slice(b"*#$^");
    image.extend_from_slice(&(40 + board_id.len() as u32).to_be_bytes());
    image.extend_from_slice(&[1, 1, 0, 99, 0, 0, 0, 0]);
    image.extend_from_slice(&[0; 8]);
    image.extend_from_slice(&(kernel_len as u32).to_be_bytes());
    image.extend_from_slice(&(rootfs_len as u32).to_be_bytes());
    image.extend_from_slice(&[0; 8]);
    image.extend_from_slice(board_id.as_bytes());
    image.extend(pattern(kernel_len + rootfs_len, 11));
    seal(&mut image);
    image
}

/// An `OpenWrt` sysupgrade archive for `board`: a ustar archive holding
/// `sysupgrade-<board>/CONTROL`, `kernel` and `root` (of `root_len` bytes), each header's
/// checksum right, ending with two zero blocks.
pub fn sysupgrade_tar(board: &str, root_len: usize) -> Vec<u8> {
    let control = format!("BOARD={board}\n");
    let mut tar = Vec::new();
    for (name, data) in [
        ("CONTROL", control.into_bytes()),
        ("kernel", pattern(3000, 1)),
        ("root", pattern(root_len, 2)),
    ] {
        tar.extend(tar_header(
            &format!("sysupgrade-{board}/{name}"),
            data.len(),
        ));
        tar.extend(data);
        let rest = tar.len() % 512;
        if rest != 0 {
            tar.resize(tar.len() + 512 - rest, 0);
        }
    }
    tar.resize(tar.len() + 1024, 0);
    tar
}

/// A ustar header for a regular file `name` of `size` bytes, its checksum right.
fn tar_header(name: &str, size: usize) -> Vec<u8> {
    let mut header = vec![0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    header[136..147].copy_from_slice(b"14707732000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum counts its own field as spaces (POSIX ustar).
    header[148..156].fill(b' ');
    let sum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Format;
    use crate::image::format::recognise;
    use crate::image::whole::{Outcome, Whole};

    fn checked(image: &[u8]) -> Outcome {
        let mut whole = Whole::new(image);
        // Fed in odd-sized chunks, as a file arrives.
        for (n, chunk) in image.chunks(7919).enumerate() {
            whole.feed((n * 7919) as u64, chunk);
        }
        whole.finish(image.len() as u64)
    }

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

    #[test]
    fn every_sample_passes_the_whole_check() {
        let samples = [
            tp_link_firmware(0x0841_0009, 0x3_0000),
            tp_link_stock_with_bootloader(0x0841_0009, 0x3_0000),
            trx(0x2_0000),
            uimage(0x1_0000),
            netgear_chk("U12H270T00_NETGEAR", 0x8000, 0x9001),
            sysupgrade_tar("tplink_tl-wr841-v9", 70_000),
        ];
        for image in samples {
            let outcome = checked(&image);
            assert!(
                matches!(outcome, Outcome::Matched(_)),
                "{:?}: {outcome:?}",
                recognise(&image, image.len() as u64)
            );
        }
    }
}
