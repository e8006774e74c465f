//! QR codes as PNG images, for TOTP enrolment: `qrcodegen` makes the
//! modules, and a minimal PNG writer (1-bit greyscale, stored deflate
//! blocks) turns them into an image any browser and authenticator shows.
//! Written here because an image crate would add a large dependency tree
//! for one small picture.

use qrcodegen::{QrCode, QrCodeEcc};

/// Pixels per module and quiet-zone modules around the code.
const SCALE: usize = 6;
const BORDER: usize = 4;

/// The PNG of a QR code holding `text`; `None` if it is too long for a QR code.
pub(crate) fn qr_png(text: &str) -> Option<Vec<u8>> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let modules = usize::try_from(code.size()).ok()?;
    let side = (modules + 2 * BORDER) * SCALE;
    let row_bytes = side.div_ceil(8);
    // Each scanline: filter byte 0, then 1 bit per pixel, 1 = white.
    let mut raw = Vec::with_capacity((row_bytes + 1) * side);
    for y in 0..side {
        raw.push(0);
        let mut line = vec![0xffu8; row_bytes];
        for x in 0..side {
            let (mx, my) = ((x / SCALE) as i32 - BORDER as i32, (y / SCALE) as i32 - BORDER as i32);
            if code.get_module(mx, my) {
                line[x / 8] &= !(0x80 >> (x % 8));
            }
        }
        raw.extend_from_slice(&line);
    }
    let width = u32::try_from(side).ok()?;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&[1, 0, 0, 0, 0]); // bit depth 1, greyscale, deflate, no filter, no interlace
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    Some(png)
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut checked = kind.to_vec();
    checked.extend_from_slice(data);
    png.extend_from_slice(&crc32(&checked).to_be_bytes());
}

/// A zlib stream of uncompressed ("stored") deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let length = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    if blocks.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn a_png_with_a_valid_structure_comes_out() {
        let png = qr_png("otpauth://totp/Strongroom:ann?secret=JBSWY3DPEHPK3PXP&issuer=Strongroom").unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        assert!(qr_png(&"x".repeat(5000)).is_none());
    }
}
