//! tokio-util `Decoder`/`Encoder` for [`Codec`] over newline-delimited messages, behind the `tokio-util`
//! feature.
//!
//! On the wire aliscan rides WebSocket text frames, which delimit messages themselves: there, call
//! [`Codec::decode`] per frame. This impl serves byte streams that carry one message per line, as captures and
//! the `inspect` tool do: each message is followed by `\n` (a `\r` before it is dropped), blank lines are
//! skipped, and a line longer than [`CodecConfig::max_message_len`] is refused as soon as that many bytes
//! are buffered without a newline.
//!
//! [`CodecConfig::max_message_len`]: crate::CodecConfig::max_message_len

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{check_len, Codec};
use crate::error::{DecodeError, EncodeError};
use crate::message::WireMessage;

/// What a line-delimited aliscan stream can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramedError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An incoming line did not decode. [`DecodeError::MessageTooLarge`] leaves the buffer as it was (the
    /// stream cannot be resynchronised); any other error consumed its line, so decoding can go on.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An outgoing message did not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl<In: WireMessage, Out: WireMessage> Decoder for Codec<In, Out> {
    type Item = In;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FramedError> {
        loop {
            let max = self.config().max_message_len;
            // A message of `max` bytes may be followed by "\r\n": look no further than that.
            let window = src.len().min(max.saturating_add(2));
            let Some(newline) = src[..window].iter().position(|&b| b == b'\n') else {
                if src.len() > max.saturating_add(1) {
                    check_len(self.config(), src.len())?;
                }
                return Ok(None);
            };
            let line = src.split_to(newline + 1);
            let mut text = &line[..newline];
            if let [rest @ .., b'\r'] = text {
                text = rest;
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(Codec::decode(self, text)?));
        }
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<&Out> for Codec<In, Out> {
    type Error = FramedError;

    fn encode(&mut self, msg: &Out, dst: &mut BytesMut) -> Result<(), FramedError> {
        let text = Codec::encode(self, msg)?;
        dst.reserve(text.len() + 1);
        dst.put_slice(text.as_bytes());
        dst.put_u8(b'\n');
        Ok(())
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<Out> for Codec<In, Out> {
    type Error = FramedError;

    fn encode(&mut self, msg: Out, dst: &mut BytesMut) -> Result<(), FramedError> {
        Encoder::<&Out>::encode(self, &msg, dst)
    }
}
