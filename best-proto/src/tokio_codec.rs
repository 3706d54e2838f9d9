//! tokio-util `Decoder`/`Encoder` for newline-delimited BEST messages (one JSON object per line: logs, pipes,
//! test harnesses). WebSocket and MQTT carry one message per frame and need no framing of their own: use
//! [`decode`](crate::codec::decode) on each frame.

use std::marker::PhantomData;

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Body, Envelope};

/// What a framed BEST line stream can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramedError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Incoming bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An outgoing message did not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Splits a byte stream into lines and decodes each as a message of `M`.
///
/// A line longer than [`CodecConfig::max_message_len`] is a fatal [`DecodeError::LineTooLong`], reported as
/// soon as that many bytes are buffered without a newline. A line that does not decode is consumed before its
/// error is returned, so decoding can go on with the next line. Empty lines are skipped; a trailing `\r` is
/// removed.
#[derive(Debug)]
pub struct LineCodec<M> {
    config: CodecConfig,
    /// How far the buffer was already searched for a newline.
    scanned: usize,
    _message: PhantomData<fn() -> M>,
}

impl<M> LineCodec<M> {
    /// A codec with the given limits.
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self {
            config,
            scanned: 0,
            _message: PhantomData,
        }
    }
}

impl<M> Default for LineCodec<M> {
    fn default() -> Self {
        Self::new(CodecConfig::default())
    }
}

impl<M: Body> Decoder for LineCodec<M> {
    type Item = Envelope<M>;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FramedError> {
        loop {
            let Some(pos) = src[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = src.len();
                // A line may be `max` bytes plus its `\r`.
                let max = self.config.max_message_len.saturating_add(1);
                if src.len() > max {
                    return Err(DecodeError::LineTooLong {
                        len: src.len(),
                        max: self.config.max_message_len,
                    }
                    .into());
                }
                return Ok(None);
            };
            let line = src.split_to(self.scanned + pos + 1);
            self.scanned = 0;
            let mut body = &line[..line.len() - 1];
            if let Some(stripped) = body.strip_suffix(b"\r") {
                body = stripped;
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return crate::codec::decode(body, &self.config)
                .map(Some)
                .map_err(FramedError::from);
        }
    }
}

impl<M: Body> Encoder<&Envelope<M>> for LineCodec<M> {
    type Error = FramedError;

    fn encode(&mut self, item: &Envelope<M>, dst: &mut BytesMut) -> Result<(), FramedError> {
        let json = crate::codec::encode(item, &self.config)?;
        dst.reserve(json.len() + 1);
        dst.put_slice(&json);
        dst.put_u8(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DeviceMessage, Heartbeat};

    const HB: &[u8] =
        br#"{"funcId":"dev.heartbeat","mid":"1","payload":{"params":{"isFree":"1"}}}"#;

    fn hb() -> Envelope<DeviceMessage> {
        Envelope::new(
            "1",
            Heartbeat {
                is_free: Some(true),
            },
        )
    }

    #[test]
    fn decodes_at_every_split_point() {
        let mut wire = HB.to_vec();
        wire.extend_from_slice(b"\r\n");
        for split in 0..wire.len() {
            let mut codec = LineCodec::<DeviceMessage>::default();
            let mut buf = BytesMut::from(&wire[..split]);
            assert!(codec.decode(&mut buf).unwrap().is_none(), "split {split}");
            buf.extend_from_slice(&wire[split..]);
            assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb()), "split {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn two_lines_blank_lines_and_a_bad_line_in_one_buffer() {
        let mut codec = LineCodec::<DeviceMessage>::default();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"\n  \n");
        buf.extend_from_slice(HB);
        buf.extend_from_slice(b"\n{\"funcId\":\"dev.heartbeat\"}\n");
        buf.extend_from_slice(HB);
        buf.extend_from_slice(b"\n{\"fu");
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb()));
        let e = codec.decode(&mut buf).unwrap_err();
        assert!(e.to_string().contains("missing field `mid`"), "{e}");
        // The bad line was consumed: the next one decodes.
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb()));
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(&buf[..], b"{\"fu");
    }

    #[test]
    fn an_overlong_line_is_refused_before_it_is_buffered_whole() {
        let mut codec = LineCodec::<DeviceMessage>::new(CodecConfig::default().max_message_len(16));
        let mut buf = BytesMut::from(&b"0123456789abcdef"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"\r");
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"x");
        let e = codec.decode(&mut buf).unwrap_err();
        assert!(
            matches!(
                e,
                FramedError::Decode(DecodeError::LineTooLong { len: 18, max: 16 })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn encodes_one_line_per_message() {
        let mut codec = LineCodec::<DeviceMessage>::default();
        let mut buf = BytesMut::new();
        codec.encode(&hb(), &mut buf).unwrap();
        codec.encode(&hb(), &mut buf).unwrap();
        let mut expected = HB.to_vec();
        expected.push(b'\n');
        expected.extend_from_slice(HB);
        expected.push(b'\n');
        assert_eq!(&buf[..], &expected[..]);
        let mut small = LineCodec::<DeviceMessage>::new(CodecConfig::default().max_message_len(10));
        assert!(matches!(
            small.encode(&hb(), &mut BytesMut::new()),
            Err(FramedError::Encode(EncodeError::MessageTooLarge { .. }))
        ));
    }
}
