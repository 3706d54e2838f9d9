//! The record's QR code as the PNG image `qrData` carries (aliscan.md: "上报的数据url形成的png格式的[]byte"):
//! the matrix from the `qrcode` crate, written as a 1-bit grayscale PNG (stored deflate blocks, so no
//! compressor is needed; a QR image is a few kilobytes either way).

use qrcode::{Color, QrCode};

/// Modules of white border around the code (the QR standard's quiet zone).
const QUIET: usize = 4;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The PNG of the QR code of `text`, about `size` pixels square (`qrCode.size` of `.server.json`).
///
/// # Errors
/// The text does not fit in a QR code.
pub fn png(text: &str, size: u32) -> Result<Vec<u8>, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| format!("qr code of {text:?}: {e}"))?;
    let width = code.width();
    let colors = code.to_colors();
    let modules = width + 2 * QUIET;
    let scale = (usize::try_from(size).unwrap_or(256) / modules).clamp(1, 16);
    let side = modules * scale;
    // Raw scanlines, 1 bit per pixel (1 = white), most significant bit first: a filter byte (0 = none) and
    // `ceil(side / 8)` bytes per row. One bit keeps a list of records with their QR codes small on the wire.
    let row_bytes = side.div_ceil(8);
    let mut raw = Vec::with_capacity(side * (row_bytes + 1));
    for y in 0..side {
        raw.push(0);
        let my = y / scale;
        let mut row = vec![0u8; row_bytes];
        for x in 0..side {
            let mx = x / scale;
            let dark = my >= QUIET
                && mx >= QUIET
                && my - QUIET < width
                && mx - QUIET < width
                && colors[(my - QUIET) * width + (mx - QUIET)] == Color::Dark;
            if !dark {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
        raw.extend_from_slice(&row);
    }
    let side = u32::try_from(side).map_err(|_| "qr image too large".to_owned())?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // 1-bit, grayscale, deflate, no filter set, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    let mut digest = CRC32.digest();
    digest.update(kind);
    digest.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&digest.finalize().to_be_bytes());
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    if blocks.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_png_has_its_signature_size_and_valid_checksums() {
        let png = super::png("https://scan.example.com/r/DEV1-20260101-120000", 256).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let side = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert!((200..=256).contains(&side), "side {side}");
        // Every chunk's CRC matches.
        let mut at = 8;
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let body = &png[at + 4..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(super::CRC32.checksum(body), crc);
            at += 12 + len;
        }
        assert_eq!(at, png.len());
        // 1-bit rows: small enough for a page of 100 records in one message.
        assert!(png.len() < 12_000, "{} bytes", png.len());
    }
}
