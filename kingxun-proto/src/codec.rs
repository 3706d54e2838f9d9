//! Framing: bytes <-> [`Frame`] (header + body, laid out in [`crate::frame`]), and the typed [`Codec`] over it.
//!
//! ```text
//!  0    2    3     4      6      7        11      15        19
//!  +----+----+-----+------+------+--------+-------+---------+----------------------+
//!  | KX | 01 |flags| MsgId| Crypt| devId  | seq   | bodyLen | body (bodyLen bytes) |
//!  |4b58|    |bit0 | u16  | Flag | u32    | u32   | u32     | fields, or sealed    |
//!  |    |    |reply|      | 0/1  |        |       |         | fields (see crypto)  |
//!  +----+----+-----+------+------+--------+-------+---------+----------------------+
//! ```
//!
//! All integers are big-endian. The header is validated as soon as it is in, before any body is buffered:
//! magic, version, reserved flag bits, CryptFlag and the body length limit. The frame has no resynchronisation
//! point, so every header error is fatal ([`DecodeError::is_fatal`]): the connection must be closed. The magic
//! (two bytes) and version are checked as soon as they arrive, so a wrong stream fails on its first bytes.

use bytes::{Buf, BufMut, BytesMut};

use proto_common::codec::{Decoder, Encoder};

use crate::config::CodecConfig;
use crate::crypto::LinkCipher;
use crate::error::{DecodeError, EncodeError};
use crate::frame::{CryptFlag, Frame, Header, MsgId, FLAG_REPLY, HEADER_LEN, MAGIC, VERSION};
use crate::message::{BodyRef, Message, Packet, Reply};

impl Header {
    /// Parses and validates a 19-byte header, returning it with its `bodyLen`.
    ///
    /// # Errors
    /// [`DecodeError::BadMagic`], [`DecodeError::BadVersion`], [`DecodeError::BadFlags`],
    /// [`DecodeError::BadCryptFlag`], or [`DecodeError::FrameTooLarge`] when `bodyLen > max_body_len`.
    #[inline]
    pub fn parse(bytes: &[u8; HEADER_LEN], max_body_len: u32) -> Result<(Self, u32), DecodeError> {
        let [m0, m1, version, flags, i0, i1, crypt, d0, d1, d2, d3, s0, s1, s2, s3, l0, l1, l2, l3] =
            *bytes;
        if [m0, m1] != MAGIC {
            return Err(DecodeError::BadMagic { found: [m0, m1] });
        }
        if version != VERSION {
            return Err(DecodeError::BadVersion { found: version });
        }
        if flags & !FLAG_REPLY != 0 {
            return Err(DecodeError::BadFlags { found: flags });
        }
        // `let else`, not `ok_or`: an eagerly built error would be dropped on the success path.
        let Some(crypt) = CryptFlag::from_u8(crypt) else {
            return Err(DecodeError::BadCryptFlag { found: crypt });
        };
        let body_len = u32::from_be_bytes([l0, l1, l2, l3]);
        if body_len > max_body_len {
            return Err(DecodeError::FrameTooLarge {
                len: body_len,
                max: max_body_len,
            });
        }
        let header = Self {
            reply: flags & FLAG_REPLY != 0,
            msg_id: MsgId::from(u16::from_be_bytes([i0, i1])),
            crypt,
            dev_id: u32::from_be_bytes([d0, d1, d2, d3]),
            seq: u32::from_be_bytes([s0, s1, s2, s3]),
        };
        Ok((header, body_len))
    }
}

/// Checks the bytes of the magic and version that have arrived so far.
fn check_prefix(src: &[u8]) -> Result<(), DecodeError> {
    if let Some(&magic) = src.first_chunk::<2>() {
        if magic != MAGIC {
            return Err(DecodeError::BadMagic { found: magic });
        }
    }
    match src.get(2) {
        Some(&version) if version != VERSION => Err(DecodeError::BadVersion { found: version }),
        _ => Ok(()),
    }
}

/// Reads and validates the header at the front of `src`: `Ok(None)` until the whole frame is in (reserving
/// room for the announced body once the header is), then the header and the frame's total length.
// Always inlined: returned through memory, the header's small fields cost store-forwarding stalls.
#[inline(always)]
fn peek_frame(
    config: &CodecConfig,
    src: &mut BytesMut,
) -> Result<Option<(Header, usize)>, DecodeError> {
    let Some(head) = src.first_chunk::<HEADER_LEN>() else {
        check_prefix(src)?;
        return Ok(None);
    };
    let (header, body_len) = Header::parse(head, config.max_body_len)?;
    let Some(total) = usize::try_from(body_len)
        .ok()
        .and_then(|len| len.checked_add(HEADER_LEN))
    else {
        return Err(DecodeError::FrameTooLarge {
            len: body_len,
            max: config.max_body_len,
        });
    };
    if src.len() < total {
        src.reserve(total - src.len());
        return Ok(None);
    }
    Ok(Some((header, total)))
}

/// Splits a whole frame of `total` bytes off `src` (after [`peek_frame`]).
fn take_frame(src: &mut BytesMut, header: Header, total: usize) -> Frame {
    // Dropping the header bytes moves a pointer; only the body is split off (one refcount, no copy).
    src.advance(HEADER_LEN);
    let body = src.split_to(total - HEADER_LEN).freeze();
    Frame { header, body }
}

/// Takes one whole frame off the front of `src`.
///
/// Returns `Ok(None)` while the frame is incomplete, consuming nothing (but reserving room for the announced
/// body once the header is in).
///
/// # Errors
/// A fatal framing error ([`DecodeError::is_fatal`]); `src` is left as it was.
pub fn decode_frame(
    config: &CodecConfig,
    src: &mut BytesMut,
) -> Result<Option<Frame>, DecodeError> {
    Ok(peek_frame(config, src)?.map(|(header, total)| take_frame(src, header, total)))
}

/// Appends `frame` to `dst`.
///
/// # Errors
/// [`EncodeError::FrameTooLarge`] when the body exceeds the configured maximum; `dst` is unchanged.
pub fn encode_frame(
    config: &CodecConfig,
    frame: &Frame,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let too_large = || EncodeError::FrameTooLarge {
        len: frame.body.len(),
        max: config.max_body_len,
    };
    let body_len = u32::try_from(frame.body.len()).map_err(|_| too_large())?;
    if body_len > config.max_body_len {
        return Err(too_large());
    }
    dst.reserve(HEADER_LEN + frame.body.len());
    frame.header.put(body_len, dst);
    dst.put_slice(&frame.body);
    Ok(())
}

/// Advances the read buffer past a frame when dropped, that is after the frame's result has been returned.
struct Consume<'a> {
    src: &'a mut BytesMut,
    len: usize,
}

impl Drop for Consume<'_> {
    fn drop(&mut self) {
        self.src.advance(self.len);
    }
}

/// The frame-level codec: bytes <-> [`Frame`], no cipher involved. A stream codec of the
/// [`proto_common::codec`] contract.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCodec {
    config: CodecConfig,
}

impl FrameCodec {
    /// A frame codec with the given limits.
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self { config }
    }

    /// The codec's limits.
    #[must_use]
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = DecodeError;

    /// Decodes the next frame; see [`decode_frame`].
    ///
    /// # Errors
    /// As [`decode_frame`].
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        decode_frame(&self.config, src)
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = EncodeError;

    /// Encodes one frame; see [`encode_frame`].
    ///
    /// # Errors
    /// As [`encode_frame`].
    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        encode_frame(&self.config, frame, dst)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = EncodeError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        encode_frame(&self.config, &frame, dst)
    }
}

/// The typed codec of one link: bytes <-> [`Packet`], sealing and opening with the link's [`LinkCipher`].
///
/// The cipher follows the link: when the codec decodes or encodes an accepting 9001 reply (RespCode 0 with a
/// sealed part), it switches to the reply's `newIV` for every later frame, in both directions, as both ends
/// must. The 9001 reply itself is sealed with the IV in force before it. Session rules (no frame before a
/// successful 9001, replay window, heartbeat timing) belong to the session layer.
///
/// A stream codec of the [`proto_common::codec`] contract; wrap it in `proto_common::tokio_codec::TokioCodec`
/// (feature `tokio-util`) for a tokio-util `Framed` stream.
///
/// ```
/// use bytes::BytesMut;
/// use kingxun_proto::{Codec, CodecConfig, Decoder, Encoder, LinkCipher, Packet, Unlock};
///
/// let key: [u8; 16] = std::array::from_fn(|i| i as u8);
/// let iv: [u8; 16] = std::array::from_fn(|i| 16 + i as u8);
/// let mut websvr = Codec::new(CodecConfig::default()).with_cipher(LinkCipher::new(key, iv));
/// let mut instance = Codec::new(CodecConfig::default()).with_cipher(LinkCipher::new(key, iv));
///
/// let unlock = Unlock {
///     dev_id: 1001, dev_type: 1, timestamp: 1_700_000_000_000, usr_id: 42,
///     allow_time: 30, lowest_soc_p: 20, farthest_dist: 5000,
/// };
/// let mut wire = BytesMut::new();
/// websvr.encode(&Packet::request(7, unlock.clone()), &mut wire).unwrap();
/// // The DECISIONS.md vector, byte for byte.
/// assert_eq!(hex::encode(&wire), concat!(
///     "4b5801000fa101000003e90000000700000026",
///     "182f970abaece89d1e1a13c32dcb73de2c8eedfc90a109032a03caf202f44c1900000018d665"));
/// let packet = instance.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(packet, Packet::request(7, unlock));
/// assert!(wire.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Codec {
    config: CodecConfig,
    cipher: Option<LinkCipher>,
}

impl Codec {
    /// A codec with the given limits and no cipher (only plain MsgIds can pass until one is set).
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self {
            config,
            cipher: None,
        }
    }

    /// Sets the link cipher (the initial KEY and IV).
    #[must_use]
    pub fn with_cipher(mut self, cipher: LinkCipher) -> Self {
        self.cipher = Some(cipher);
        self
    }

    /// The codec's limits.
    #[must_use]
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// The current cipher state.
    #[must_use]
    pub fn cipher(&self) -> Option<&LinkCipher> {
        self.cipher.as_ref()
    }

    /// The current cipher state, to change it by hand.
    pub fn cipher_mut(&mut self) -> Option<&mut LinkCipher> {
        self.cipher.as_mut()
    }

    /// Switches to `newIV` after an accepting 9001 reply.
    fn follow(&mut self, packet: &Packet) {
        if let (Message::Reply(Reply::Connect(reply)), Some(cipher)) =
            (&packet.message, self.cipher.as_mut())
        {
            if let Some(iv) = reply.new_iv() {
                cipher.set_iv(iv);
            }
        }
    }
}

impl Decoder for Codec {
    type Item = Packet;
    type Error = DecodeError;

    /// Decodes the next packet; `Ok(None)` means more bytes are needed.
    ///
    /// # Errors
    /// A fatal framing error (nothing consumed), or an error in one frame's body (that frame consumed); see
    /// [`DecodeError::is_fatal`].
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some((header, total)) = peek_frame(&self.config, src)? else {
            return Ok(None);
        };
        if BodyRef::needed_for(&header) {
            let frame = take_frame(src, header, total);
            let result = Packet::decode(&frame, self.cipher.as_ref());
            if let Ok(packet) = &result {
                self.follow(packet);
            }
            return result.map(Some);
        }
        // Decoded straight from the read buffer (no refcounted split for small frames), which the guard consumes
        // only once the packet is in the caller's hands: no call in between forces the packet through the stack.
        let consume = Consume { src, len: total };
        let body = BodyRef::Borrowed(&consume.src[HEADER_LEN..total]);
        let result = Packet::decode_parts(&header, body, self.cipher.as_ref());
        if let Ok(packet) = &result {
            self.follow(packet);
        }
        result.map(Some)
    }
}

impl Encoder<&Packet> for Codec {
    type Error = EncodeError;

    /// Appends `packet` as one frame to `dst`.
    ///
    /// # Errors
    /// As [`Packet::encode`]; `dst` is unchanged on error.
    fn encode(&mut self, packet: &Packet, dst: &mut BytesMut) -> Result<(), EncodeError> {
        packet.encode(self.cipher.as_ref(), &self.config, dst)?;
        self.follow(packet);
        Ok(())
    }
}

impl Encoder<Packet> for Codec {
    type Error = EncodeError;

    fn encode(&mut self, packet: Packet, dst: &mut BytesMut) -> Result<(), EncodeError> {
        Encoder::<&Packet>::encode(self, &packet, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// DECISIONS.md vector: 9002 request, seq 1, timestamp 1700000000000.
    const HEARTBEAT: &str = concat!(
        "4b58",                                     // magic "KX"
        "01",                                       // version 1
        "00",                                       // flags: request
        "232a",                                     // MsgId 9002
        "00",                                       // CryptFlag 0
        "00000000",                                 // devId 0
        "00000001",                                 // seq 1
        "00000028",                                 // bodyLen 40
        "0000018bcfe56800",                         // timestamp 1700000000000
        "6b696e6778756e2e73697465",                 // svrHost "kingxun.site"
        "0000000000000000000000000000000000000000"  // NUL padding to 32 bytes
    );

    /// DECISIONS.md vector: 9002 reply, seq 1, totalDevCount 3, svrStartTime 1699999000000.
    const HEARTBEAT_REPLY: &str = concat!(
        "4b58",
        "01",
        "01", // magic, version, flags: reply
        "232a",
        "00", // MsgId 9002, CryptFlag 0
        "00000000",
        "00000001",
        "0000000d",         // devId 0, seq 1, bodyLen 13
        "00",               // RespCode 0
        "00000003",         // totalDevCount 3
        "0000018bcfd625c0"  // svrStartTime 1699999000000
    );

    fn bytes(hex_text: &str) -> BytesMut {
        BytesMut::from(&hex::decode(hex_text).unwrap()[..])
    }

    fn codec() -> FrameCodec {
        FrameCodec::default()
    }

    #[test]
    fn header_fragment_needs_more_and_consumes_nothing() {
        let wire = bytes(HEARTBEAT);
        for len in 0..HEADER_LEN {
            let mut src = BytesMut::from(&wire[..len]);
            assert_eq!(
                codec().decode(&mut src).unwrap(),
                None,
                "{len} header bytes"
            );
            assert_eq!(src.len(), len);
        }
    }

    #[test]
    fn partial_body_needs_more_and_reserves_the_body() {
        let wire = bytes(HEARTBEAT);
        let mut src = BytesMut::from(&wire[..HEADER_LEN + 10]);
        assert_eq!(codec().decode(&mut src).unwrap(), None);
        assert_eq!(src.len(), HEADER_LEN + 10);
        assert!(src.capacity() >= wire.len());
    }

    #[test]
    fn exact_frame_decodes_and_empties_the_buffer() {
        let mut src = bytes(HEARTBEAT);
        let frame = codec().decode(&mut src).unwrap().unwrap();
        assert!(src.is_empty());
        assert_eq!(
            frame.header,
            Header {
                reply: false,
                msg_id: MsgId::Heartbeat,
                crypt: CryptFlag::Plain,
                dev_id: 0,
                seq: 1
            }
        );
        assert_eq!(frame.body.len(), 40);
        assert_eq!(&frame.body[..8], &1_700_000_000_000u64.to_be_bytes());
        let mut out = BytesMut::new();
        codec().encode(&frame, &mut out).unwrap();
        assert_eq!(out, bytes(HEARTBEAT));
    }

    #[test]
    fn two_frames_in_one_buffer() {
        let mut src = bytes(HEARTBEAT);
        src.extend_from_slice(&bytes(HEARTBEAT_REPLY));
        let first = codec().decode(&mut src).unwrap().unwrap();
        assert!(!first.header.reply);
        assert_eq!(src.len(), 32);
        let second = codec().decode(&mut src).unwrap().unwrap();
        assert!(second.header.reply);
        assert_eq!(second.body[0], 0);
        assert!(src.is_empty());
        assert_eq!(codec().decode(&mut src).unwrap(), None);
    }

    #[test]
    fn frame_then_trailing_garbage_is_fatal_after_the_frame() {
        let mut src = bytes(HEARTBEAT);
        src.extend_from_slice(b"GARBAGE!");
        assert!(codec().decode(&mut src).unwrap().is_some());
        assert_eq!(&src[..], b"GARBAGE!");
        let e = codec().decode(&mut src).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::BadMagic {
                    found: [b'G', b'A']
                }
            ),
            "{e}"
        );
        assert!(e.is_fatal());
        assert_eq!(&src[..], b"GARBAGE!", "nothing consumed on error");
    }

    #[test]
    fn bad_header_bytes_are_fatal_and_named() {
        let cases: [(usize, u8, &str); 5] = [
            (0, b'k', "bad magic [6b, 58]: expected [4b, 58] (\"KX\")"),
            (2, 2, "unsupported frame version 2: expected 1"),
            (
                3,
                0x81,
                "reserved bits set in flags byte 0x81: only bit 0 (reply) is defined",
            ),
            (
                6,
                2,
                "unknown CryptFlag 2: expected 0 (plain) or 1 (AES-128-CBC)",
            ),
            (
                15,
                0x7f,
                "frame body of 2130706472 bytes exceeds the maximum of 16777216 bytes",
            ),
        ];
        for (offset, value, message) in cases {
            let mut src = bytes(HEARTBEAT);
            src[offset] = value;
            let e = codec().decode(&mut src).unwrap_err();
            assert_eq!(e.to_string(), message);
            assert!(e.is_fatal());
            assert_eq!(src.len(), 59);
        }
    }

    #[test]
    fn magic_and_version_fail_before_the_header_is_complete() {
        let e = codec().decode(&mut BytesMut::from(&b"GE"[..])).unwrap_err();
        assert!(matches!(e, DecodeError::BadMagic { .. }));
        let e = codec()
            .decode(&mut BytesMut::from(&b"KX\x02"[..]))
            .unwrap_err();
        assert!(matches!(e, DecodeError::BadVersion { found: 2 }));
        assert_eq!(
            codec().decode(&mut BytesMut::from(&b"K"[..])).unwrap(),
            None
        );
    }

    #[test]
    fn over_limit_is_refused_on_the_header_and_on_encode() {
        let config = CodecConfig::default().max_body_len(39);
        let mut src = BytesMut::from(&bytes(HEARTBEAT)[..HEADER_LEN]);
        let e = decode_frame(&config, &mut src).unwrap_err();
        assert!(
            matches!(e, DecodeError::FrameTooLarge { len: 40, max: 39 }),
            "{e}"
        );
        assert_eq!(src.len(), HEADER_LEN);
        assert!(
            src.capacity() < 59,
            "no body buffered for an over-limit frame"
        );

        let frame = decode_frame(&CodecConfig::default(), &mut bytes(HEARTBEAT))
            .unwrap()
            .unwrap();
        let mut out = BytesMut::from(&b"x"[..]);
        let e = encode_frame(&config, &frame, &mut out).unwrap_err();
        assert!(
            matches!(e, EncodeError::FrameTooLarge { len: 40, max: 39 }),
            "{e}"
        );
        assert_eq!(&out[..], b"x");
        // The limit is inclusive.
        let config = CodecConfig::default().max_body_len(40);
        assert!(decode_frame(&config, &mut bytes(HEARTBEAT))
            .unwrap()
            .is_some());
    }

    #[test]
    fn bad_checksum_is_one_error_after_a_good_frame() {
        // DECISIONS.md 4001 vector with the CRC's last byte flipped: the frame is well delimited (consumed),
        // its sealed body does not open.
        let mut wire = bytes(concat!(
            "4b5801000fa101000003e90000000700000026",
            "182f970abaece89d1e1a13c32dcb73de2c8eedfc90a109032a03caf202f44c19",
            "00000018", // nDataLen 24
            "d664"      // crc16: d665 expected
        ));
        let key = std::array::from_fn(|i| u8::try_from(i).unwrap());
        let iv = std::array::from_fn(|i| u8::try_from(16 + i).unwrap());
        let mut codec = Codec::new(CodecConfig::default()).with_cipher(LinkCipher::new(key, iv));
        let e = codec.decode(&mut wire).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sealed body of MsgId 4001 failed to open (length or crc check)"
        );
        assert!(!e.is_fatal());
        assert!(wire.is_empty());
    }

    #[test]
    fn decodes_at_every_split_point() {
        let mut whole = bytes(HEARTBEAT);
        whole.extend_from_slice(&bytes(HEARTBEAT_REPLY));
        for split in 0..=whole.len() {
            let mut codec = codec();
            let mut src = BytesMut::from(&whole[..split]);
            let mut frames = Vec::new();
            while let Some(frame) = codec.decode(&mut src).unwrap() {
                frames.push(frame);
            }
            src.extend_from_slice(&whole[split..]);
            while let Some(frame) = codec.decode(&mut src).unwrap() {
                frames.push(frame);
            }
            assert_eq!(frames.len(), 2, "split at {split}");
            assert!(src.is_empty());
            assert_eq!(
                (frames[0].header.reply, frames[1].header.reply),
                (false, true)
            );
        }
    }

    #[test]
    fn typed_codec_decodes_borrowed_and_shared_bodies_at_every_split_point() {
        use crate::message::{FileDeliver, FileType, Heartbeat, RawRequest, Request, Unlock};
        let cipher = LinkCipher::new([9; 16], [8; 16]);
        let packets = [
            Packet::request(1, Heartbeat::new(5)),
            Packet::request(
                2,
                Unlock {
                    dev_id: 7,
                    dev_type: 1,
                    timestamp: 2,
                    usr_id: 3,
                    allow_time: 4,
                    lowest_soc_p: 5,
                    farthest_dist: 6,
                },
            ),
            Packet::request(
                3,
                FileDeliver::new(
                    7,
                    1,
                    2,
                    3,
                    FileType::Media,
                    "a.mp3",
                    Bytes::from_static(b"data"),
                ),
            ),
            Packet::new(
                7,
                4,
                Request::Unknown(RawRequest {
                    msg_id: 77,
                    crypt: CryptFlag::Aes,
                    body: Bytes::from_static(b"\x01\x02"),
                }),
            ),
        ];
        let mut whole = BytesMut::new();
        let mut codec = Codec::new(CodecConfig::default()).with_cipher(cipher.clone());
        for p in &packets {
            codec.encode(p, &mut whole).unwrap();
        }
        for split in 0..=whole.len() {
            let mut codec = Codec::new(CodecConfig::default()).with_cipher(cipher.clone());
            let mut src = BytesMut::from(&whole[..split]);
            let mut got = Vec::new();
            while let Some(p) = codec.decode(&mut src).unwrap() {
                got.push(p);
            }
            src.extend_from_slice(&whole[split..]);
            while let Some(p) = codec.decode(&mut src).unwrap() {
                got.push(p);
            }
            assert_eq!(got, packets, "split at {split}");
            assert!(src.is_empty());
        }
    }
}
