//! Framing: bytes <-> bodies, and bodies <-> typed messages.
//!
//! ```text
//!  0        4                12                       length
//!  +--------+----------------+--------------------------+
//!  | length |    padding     |   body: UTF-8 JSON        |
//!  | 4 ASCII|  8 ASCII bytes |   object with "cmd"       |
//!  | digits |  ("00000000")  |                           |
//!  +--------+----------------+--------------------------+
//! ```
//!
//! `length` is the whole packet, head included, in decimal, zero-padded (`0045`); space padding (`  45`) is
//! accepted on decode. A packet is 12..=9999 bytes. The padding's content is ignored on decode.

use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use proto_common::codec::{Decoder, Encoder};

use crate::config::{CodecConfig, HEAD_LEN};
use crate::error::{DecodeError, EncodeError};
use crate::message::{MachineMessage, ServerMessage, WireMessage};

/// Padding written by encoders.
const PADDING: &[u8; 8] = b"00000000";

/// Parses the 4-byte length head: optional leading spaces, then at least one decimal digit.
///
/// # Errors
/// [`DecodeError::BadLengthHead`] naming the bytes seen.
#[inline]
pub fn parse_length_head(head: [u8; 4]) -> Result<usize, DecodeError> {
    // Zero-padded, as every encoder writes it: no per-byte state to keep.
    if head.iter().all(u8::is_ascii_digit) {
        return Ok(head
            .iter()
            .fold(0, |len, &b| len * 10 + usize::from(b - b'0')));
    }
    parse_padded_length_head(head)
}

/// [`parse_length_head`] for a head that is not four digits: leading spaces, or an error.
#[cold]
fn parse_padded_length_head(head: [u8; 4]) -> Result<usize, DecodeError> {
    let mut len = 0usize;
    let mut digits = 0;
    for b in head {
        match b {
            b' ' if digits == 0 => {}
            b'0'..=b'9' => {
                len = len * 10 + usize::from(b - b'0');
                digits += 1;
            }
            _ => return Err(DecodeError::BadLengthHead { found: head }),
        }
    }
    if digits == 0 {
        return Err(DecodeError::BadLengthHead { found: head });
    }
    Ok(len)
}

/// The length of the packet at the front of `src`, once all of it is buffered.
///
/// Returns `Ok(None)` while the packet is incomplete, reserving room for the rest. The length head is checked
/// against the limits as soon as its 4 bytes are in, before any body is buffered.
///
/// # Errors
/// A fatal framing error ([`DecodeError::is_fatal`]).
#[inline]
pub fn complete_packet_len(
    config: &CodecConfig,
    src: &mut BytesMut,
) -> Result<Option<usize>, DecodeError> {
    let Some(&[a, b, c, d]) = src.get(..4) else {
        return Ok(None);
    };
    let len = parse_length_head([a, b, c, d])?;
    if len < HEAD_LEN {
        return Err(DecodeError::PacketTooShort { len, min: HEAD_LEN });
    }
    let max = config.effective_max();
    if len > max {
        return Err(DecodeError::PacketTooLarge { len, max });
    }
    if src.len() < len {
        src.reserve(len - src.len());
        return Ok(None);
    }
    Ok(Some(len))
}

/// Takes one whole packet off the front of `src` and returns its body.
///
/// Returns `Ok(None)` while the packet is incomplete, consuming nothing. The length head is checked against
/// the limits as soon as its 4 bytes are in, before any body is buffered.
///
/// # Errors
/// A fatal framing error ([`DecodeError::is_fatal`]); `src` is left as it was.
pub fn decode_frame(
    config: &CodecConfig,
    src: &mut BytesMut,
) -> Result<Option<Bytes>, DecodeError> {
    let Some(len) = complete_packet_len(config, src)? else {
        return Ok(None);
    };
    let mut packet = src.split_to(len).freeze();
    Ok(Some(packet.split_off(HEAD_LEN)))
}

/// Appends one packet carrying `body` to `dst`.
///
/// # Errors
/// [`EncodeError::BodyTooLarge`] when the packet would exceed the configured maximum; `dst` is unchanged.
pub fn encode_frame(
    config: &CodecConfig,
    body: &[u8],
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let max_body = config.effective_max() - HEAD_LEN;
    if body.len() > max_body {
        return Err(EncodeError::BodyTooLarge {
            len: body.len(),
            max: max_body,
        });
    }
    dst.reserve(HEAD_LEN + body.len());
    dst.put_slice(format!("{:04}", HEAD_LEN + body.len()).as_bytes());
    dst.put_slice(PADDING);
    dst.put_slice(body);
    Ok(())
}

/// A typed codec: decodes `In` messages and encodes `Out` messages.
///
/// Use [`ServerCodec`] on the server and [`MachineCodec`] on the machine. It is a stream codec of the
/// [`proto_common::codec`] contract ([`Decoder`] for `In`, [`Encoder`] for `&Out` and `Out`); wrap it in
/// `proto_common::tokio_codec::TokioCodec` (feature `tokio-util`) for a tokio-util `Framed` stream.
///
/// ```
/// use bytes::BytesMut;
/// use jetinno_proto::{Decoder, Encoder, MachineCodec, MachineHeartbeat, MachineMessage, ServerCodec};
///
/// let mut wire = BytesMut::new();
/// MachineCodec::default()
///     .encode(&MachineHeartbeat { vmc_no: 33232 }.into(), &mut wire)
///     .unwrap();
/// assert_eq!(&wire[..], b"003900000000{\"cmd\":\"hb\",\"vmc_no\":33232}");
/// let msg = ServerCodec::default().decode(&mut wire).unwrap();
/// assert_eq!(msg, Some(MachineMessage::Heartbeat(MachineHeartbeat { vmc_no: 33232 })));
/// assert!(wire.is_empty());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Codec<In, Out> {
    config: CodecConfig,
    _messages: PhantomData<fn(Out) -> In>,
}

/// The server side: decodes [`MachineMessage`], encodes [`ServerMessage`].
pub type ServerCodec = Codec<MachineMessage, ServerMessage>;

/// The machine side: decodes [`ServerMessage`], encodes [`MachineMessage`].
pub type MachineCodec = Codec<ServerMessage, MachineMessage>;

impl<In, Out> Default for Codec<In, Out> {
    fn default() -> Self {
        Self::new(CodecConfig::default())
    }
}

impl<In, Out> Codec<In, Out> {
    /// A codec with the given limits.
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self {
            config,
            _messages: PhantomData,
        }
    }

    /// The codec's limits.
    #[must_use]
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }
}

impl<In: WireMessage, Out: WireMessage> Decoder for Codec<In, Out> {
    type Item = In;
    type Error = DecodeError;

    /// Decodes the next message from the front of `src`; `Ok(None)` means more bytes are needed.
    ///
    /// # Errors
    /// A fatal framing error (nothing consumed), or an error in one packet's body (that packet consumed, so
    /// decoding can go on); see [`DecodeError::is_fatal`].
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, DecodeError> {
        let Some(len) = complete_packet_len(&self.config, src)? else {
            return Ok(None);
        };
        // Parse in place, then drop the packet: no copy and no shared-buffer allocation.
        In::take_packet(src, len).map(Some)
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<&Out> for Codec<In, Out> {
    type Error = EncodeError;

    /// Appends `msg` as one packet to `dst`, serializing straight into the buffer.
    ///
    /// # Errors
    /// [`EncodeError::BodyTooLarge`] (never truncates) or a serializer error; `dst` is unchanged on error.
    fn encode(&mut self, msg: &Out, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let start = dst.len();
        dst.put_slice(b"0000");
        dst.put_slice(PADDING);
        let written = msg.write_json((&mut *dst).writer());
        let body_len = dst.len() - start - HEAD_LEN;
        let max_body = self.config.effective_max() - HEAD_LEN;
        let outcome = written.and(if body_len > max_body {
            Err(EncodeError::BodyTooLarge {
                len: body_len,
                max: max_body,
            })
        } else {
            Ok(())
        });
        match outcome {
            Ok(()) => {
                let head = format!("{:04}", HEAD_LEN + body_len);
                dst[start..start + 4].copy_from_slice(head.as_bytes());
                Ok(())
            }
            Err(e) => {
                dst.truncate(start);
                Err(e)
            }
        }
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<Out> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, msg: Out, dst: &mut BytesMut) -> Result<(), EncodeError> {
        Encoder::<&Out>::encode(self, &msg, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_all_digit_shortcut_reads_heads_as_the_general_parser_does() {
        let alphabet = b" 0159x";
        for &a in alphabet {
            for &b in alphabet {
                for &c in alphabet {
                    for &d in alphabet {
                        let head = [a, b, c, d];
                        assert_eq!(
                            format!("{:?}", parse_length_head(head)),
                            format!("{:?}", parse_padded_length_head(head)),
                            "{head:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(parse_length_head(*b"0039").unwrap(), 39);
        assert_eq!(parse_length_head(*b"9999").unwrap(), 9999);
        assert_eq!(parse_length_head(*b"  45").unwrap(), 45);
    }

    #[test]
    fn decoding_the_last_packet_empties_the_buffer_and_keeps_its_room() {
        let mut codec = ServerCodec::default();
        let frame = b"003900000000{\"cmd\":\"hb\",\"vmc_no\":33232}";
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(frame);
        buf.extend_from_slice(frame);
        buf.extend_from_slice(b"00");
        assert!(codec.decode(&mut buf).unwrap().is_some());
        assert_eq!(&buf[..], &[&frame[..], b"00"].concat()[..]);
        assert!(codec.decode(&mut buf).unwrap().is_some());
        assert_eq!(&buf[..], b"00");
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(frame);
        assert!(codec.decode(&mut buf).unwrap().is_some());
        assert!(buf.is_empty());
        assert!(buf.capacity() >= 64);
    }
}
