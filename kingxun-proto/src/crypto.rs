//! Sealed bodies: AES-128-CBC with zero padding, `nDataLen` and CRC-16/MODBUS (DECISIONS.md, kingxun).
//!
//! ```text
//!  +----------------------------------------------+-----------------+-----------+
//!  | AES-128-CBC(plaintext || 0x00 * pad)          | nDataLen u32 BE | crc16 BE  |
//!  | pad: 0..=15 bytes, none when already aligned  | plaintext len   | of plaintext
//!  +----------------------------------------------+-----------------+-----------+
//! ```
//!
//! A receiver accepts the seal only when the ciphertext is a whole number of blocks,
//! `ciphertext_len - 16 < nDataLen <= ciphertext_len`, the CRC-16/MODBUS of the first `nDataLen` plaintext
//! bytes matches, and the padding bytes are zero. Any failure is the one [`OpenError`], which says nothing
//! about which check failed.

use std::fmt;

use aes::{Aes128Dec, Aes128Enc};
use bytes::{BufMut, BytesMut};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};

use crate::error::EncodeError;

/// AES block size, and so the sealing granularity.
pub const BLOCK_LEN: usize = 16;

/// Bytes after the ciphertext: `nDataLen` (u32) and `crc16` (u16).
pub const SEAL_TRAILER_LEN: usize = 6;

/// Plaintexts up to this length are opened in a stack buffer.
const STACK_OPEN_LEN: usize = 64;

/// Plaintexts up to this length are sealed in a stack buffer (a multiple of the block size).
const STACK_SEAL_LEN: usize = 64;

/// A `static`, not a `const`: the 8 KiB slice-by-16 table must not be copied at each use.
static CRC16_MODBUS: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_MODBUS);

/// CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF) of `data`; check value `123456789` -> 0x4B37.
///
/// ```
/// assert_eq!(kingxun_proto::crc16(b"123456789"), 0x4b37);
/// ```
#[must_use]
pub fn crc16(data: &[u8]) -> u16 {
    CRC16_MODBUS.checksum(data)
}

/// A sealed body failed to open: bad length, `nDataLen`, CRC or padding; deliberately not saying which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed body failed to open (length or crc check)")]
pub struct OpenError;

/// The cipher state of one link: the KEY (expanded once) and the current IV.
///
/// It starts from the configured initial KEY and IV; after a successful 9001 reply both ends switch to the
/// reply's `newIV` with [`LinkCipher::set_iv`] ([`crate::Codec`] does it by itself). Every sealed body is
/// encrypted from the same IV: the protocol chains nothing across frames.
///
/// `Debug` never prints the key or the IV, and the expanded key is zeroed when the cipher is dropped.
///
/// ```
/// use kingxun_proto::LinkCipher;
///
/// let key: [u8; 16] = std::array::from_fn(|i| i as u8);
/// let iv: [u8; 16] = std::array::from_fn(|i| 16 + i as u8);
/// let cipher = LinkCipher::new(key, iv);
/// let sealed = cipher.seal(b"hello").unwrap();
/// assert_eq!(sealed.len(), 16 + 4 + 2);
/// assert_eq!(cipher.open(&sealed).unwrap(), b"hello");
/// assert_eq!(format!("{cipher:?}"), "LinkCipher { key: <redacted>, iv: <redacted> }");
/// ```
#[derive(Clone)]
pub struct LinkCipher {
    enc: Aes128Enc,
    dec: Aes128Dec,
    iv: [u8; BLOCK_LEN],
}

impl fmt::Debug for LinkCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCipher { key: <redacted>, iv: <redacted> }")
    }
}

impl LinkCipher {
    /// A cipher state from a 16-byte KEY and IV.
    #[must_use]
    pub fn new(key: [u8; 16], iv: [u8; 16]) -> Self {
        let key = GenericArray::from(key);
        Self {
            enc: Aes128Enc::new(&key),
            dec: Aes128Dec::new(&key),
            iv,
        }
    }

    /// Switches to a new IV (the 9001 reply's `newIV`); the KEY stays.
    pub fn set_iv(&mut self, iv: [u8; 16]) {
        self.iv = iv;
    }

    /// Length of the sealed form of a `plain_len`-byte plaintext, or `None` when `nDataLen` (u32) cannot say it.
    #[must_use]
    pub fn sealed_len(plain_len: usize) -> Option<usize> {
        u32::try_from(plain_len).ok()?;
        plain_len
            .checked_next_multiple_of(BLOCK_LEN)?
            .checked_add(SEAL_TRAILER_LEN)
    }

    /// Seals `plaintext` into a new buffer.
    ///
    /// # Errors
    /// [`EncodeError::PlaintextTooLarge`] when the length does not fit `nDataLen` (u32).
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let mut out = BytesMut::with_capacity(Self::sealed_len(plaintext.len()).unwrap_or(0));
        self.seal_into(plaintext, &mut out)?;
        Ok(out.to_vec())
    }

    /// Appends the sealed form of `plaintext` to `dst`.
    ///
    /// # Errors
    /// [`EncodeError::PlaintextTooLarge`] when the length does not fit `nDataLen` (u32); `dst` is unchanged.
    pub fn seal_into(&self, plaintext: &[u8], dst: &mut BytesMut) -> Result<(), EncodeError> {
        let Some(sealed_len) = Self::sealed_len(plaintext.len()) else {
            return Err(EncodeError::PlaintextTooLarge {
                len: plaintext.len(),
            });
        };
        if plaintext.len() <= STACK_SEAL_LEN {
            // Small plaintexts (every known message) are sealed on the stack and copied out once.
            let mut buf = [0u8; STACK_SEAL_LEN + SEAL_TRAILER_LEN];
            let padded = sealed_len - SEAL_TRAILER_LEN;
            buf[..plaintext.len()].copy_from_slice(plaintext);
            self.encrypt_in_place(&mut buf[..padded]);
            let n_data_len = u32::try_from(plaintext.len()).unwrap_or(u32::MAX);
            buf[padded..padded + 4].copy_from_slice(&n_data_len.to_be_bytes());
            buf[padded + 4..sealed_len].copy_from_slice(&crc16(plaintext).to_be_bytes());
            dst.put_slice(&buf[..sealed_len]);
            return Ok(());
        }
        dst.reserve(sealed_len);
        let start = dst.len();
        dst.put_slice(plaintext);
        self.seal_tail(dst, start)
    }

    /// CBC-encrypts whole blocks in place.
    fn encrypt_in_place(&self, blocks: &mut [u8]) {
        // CBC over a borrowed key schedule: nothing is copied per frame.
        let mut cbc = cbc::Encryptor::<&Aes128Enc>::inner_iv_init(&self.enc, &self.iv.into());
        for block in blocks.chunks_exact_mut(BLOCK_LEN) {
            cbc.encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
    }

    /// Seals, in place, the plaintext that `dst` holds from `start` on: pads, encrypts, appends the trailer.
    pub(crate) fn seal_tail(&self, dst: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
        let plain_len = dst.len().saturating_sub(start);
        let n_data_len = match u32::try_from(plain_len) {
            Ok(n) => n,
            Err(_) => {
                dst.truncate(start);
                return Err(EncodeError::PlaintextTooLarge { len: plain_len });
            }
        };
        let crc = crc16(&dst[start..]);
        let padded = plain_len.next_multiple_of(BLOCK_LEN);
        dst.resize(start + padded, 0);
        self.encrypt_in_place(&mut dst[start..]);
        dst.put_u32(n_data_len);
        dst.put_u16(crc);
        Ok(())
    }

    /// Opens a sealed body and returns its plaintext.
    ///
    /// # Errors
    /// [`OpenError`] for any length, `nDataLen`, CRC or padding failure.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.open_with(sealed, <[u8]>::to_vec)
    }

    /// Opens a sealed body and hands its plaintext to `f` (small plaintexts never touch the heap).
    #[inline]
    pub(crate) fn open_with<R>(
        &self,
        sealed: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, OpenError> {
        let ct_len = sealed
            .len()
            .checked_sub(SEAL_TRAILER_LEN)
            .ok_or(OpenError)?;
        let (ciphertext, trailer) = sealed.split_at(ct_len);
        let [l0, l1, l2, l3, c0, c1] = *trailer else {
            return Err(OpenError);
        };
        let n = usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])).map_err(|_| OpenError)?;
        let crc = u16::from_be_bytes([c0, c1]);
        // Whole blocks, and nDataLen in (ct_len - 16, ct_len]: the padding is 0..=15 bytes.
        if ct_len % BLOCK_LEN != 0 || n > ct_len || ct_len - n >= BLOCK_LEN {
            return Err(OpenError);
        }
        let mut stack = [0u8; STACK_OPEN_LEN];
        let mut heap = Vec::new();
        let buf: &mut [u8] = if ct_len <= STACK_OPEN_LEN {
            &mut stack[..ct_len]
        } else {
            heap.resize(ct_len, 0);
            &mut heap
        };
        let cbc = cbc::Decryptor::<&Aes128Dec>::inner_iv_init(&self.dec, &self.iv.into());
        let plain = cbc
            .decrypt_padded_b2b_mut::<NoPadding>(ciphertext, buf)
            .map_err(|_| OpenError)?;
        let (data, padding) = plain.split_at(n);
        // Both checks always run, and fail alike.
        let crc_ok = crc16(data) == crc;
        let padding_ok = padding.iter().fold(0u8, |acc, b| acc | b) == 0;
        if crc_ok & padding_ok {
            Ok(f(data))
        } else {
            Err(OpenError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_cipher() -> LinkCipher {
        LinkCipher::new(
            std::array::from_fn(|i| u8::try_from(i).unwrap()),
            std::array::from_fn(|i| u8::try_from(16 + i).unwrap()),
        )
    }

    #[test]
    fn the_expanded_key_is_zeroed_on_drop() {
        fn zeroed_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroed_on_drop::<Aes128Enc>();
        zeroed_on_drop::<Aes128Dec>();
    }

    #[test]
    fn crc16_modbus_check_value() {
        // DECISIONS.md vector: CRC-16/MODBUS("123456789") = 4b37.
        assert_eq!(crc16(b"123456789"), 0x4b37);
        assert_eq!(crc16(b""), 0xffff);
    }

    #[test]
    fn seals_the_decisions_4001_plaintext_byte_for_byte() {
        let plain = hex::decode("000003e9010000018bcfe568000000002a001e1400001388").unwrap();
        let sealed = vector_cipher().seal(&plain).unwrap();
        assert_eq!(
            hex::encode(&sealed),
            concat!(
                "182f970abaece89d1e1a13c32dcb73de2c8eedfc90a109032a03caf202f44c19", // ciphertext
                "00000018",                                                         // nDataLen = 24
                "d665" // crc16 of the plaintext
            )
        );
        assert_eq!(vector_cipher().open(&sealed).unwrap(), plain);
    }

    #[test]
    fn plaintext_edge_lengths_round_trip_with_minimal_padding() {
        let cipher = vector_cipher();
        for (len, ct_len) in [
            (0, 0),
            (1, 16),
            (15, 16),
            (16, 16),
            (17, 32),
            (32, 32),
            (33, 48),
            (100, 112),
        ] {
            let plain: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let sealed = cipher.seal(&plain).unwrap();
            assert_eq!(
                sealed.len(),
                ct_len + SEAL_TRAILER_LEN,
                "plaintext of {len} bytes"
            );
            assert_eq!(LinkCipher::sealed_len(len), Some(sealed.len()));
            assert_eq!(
                &sealed[ct_len..ct_len + 4],
                &u32::try_from(len).unwrap().to_be_bytes()
            );
            assert_eq!(
                cipher.open(&sealed).unwrap(),
                plain,
                "plaintext of {len} bytes"
            );
        }
    }

    #[test]
    fn every_tampering_is_the_same_error() {
        let cipher = vector_cipher();
        let sealed = cipher.seal(b"0123456789abcdefXYZ").unwrap(); // 19 bytes -> 32 ciphertext
        assert_eq!(sealed.len(), 38);
        // Each ciphertext byte, each nDataLen byte and each CRC byte flipped.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(cipher.open(&bad), Err(OpenError), "byte {i} flipped");
        }
        // nDataLen values outside (ct_len - 16, ct_len], and a consistent-looking but wrong one.
        for n in [0u32, 16, 33, 1000, u32::MAX] {
            let mut bad = sealed.clone();
            bad[32..36].copy_from_slice(&n.to_be_bytes());
            assert_eq!(cipher.open(&bad), Err(OpenError), "nDataLen {n}");
        }
        // Truncated: not whole blocks, or no trailer at all.
        for len in [0, 5, 6, 7, 21, 37] {
            assert_eq!(cipher.open(&sealed[..len]), Err(OpenError), "{len} bytes");
        }
        // An extra block.
        let mut longer = sealed[..32].to_vec();
        longer.extend_from_slice(&[0; 16]);
        longer.extend_from_slice(&sealed[32..]);
        assert_eq!(cipher.open(&longer), Err(OpenError));
        // The wrong IV.
        let mut other = cipher.clone();
        other.set_iv([0; 16]);
        assert_eq!(other.open(&sealed), Err(OpenError));
    }

    #[test]
    fn nonzero_padding_is_rejected() {
        // Seal 17 bytes, then claim nDataLen 16 with the CRC of the first 16: byte 17 becomes non-zero padding.
        let cipher = vector_cipher();
        let plain = *b"0123456789abcdefX";
        let mut sealed = cipher.seal(&plain).unwrap();
        sealed[32..36].copy_from_slice(&16u32.to_be_bytes());
        sealed[36..38].copy_from_slice(&crc16(&plain[..16]).to_be_bytes());
        assert_eq!(cipher.open(&sealed), Err(OpenError));
    }

    #[test]
    fn large_plaintexts_use_the_heap_path() {
        let cipher = vector_cipher();
        let plain = vec![0xa5u8; 1000];
        assert_eq!(cipher.open(&cipher.seal(&plain).unwrap()).unwrap(), plain);
    }
}
