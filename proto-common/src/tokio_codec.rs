//! tokio-util `Decoder`/`Encoder` for any [`codec`](crate::codec) codec, behind the `tokio-util` feature.
//!
//! [`TokioCodec`] wraps a codec so it can drive `tokio_util::codec::Framed` (or `FramedRead`/`FramedWrite`).
//! Use it with stream codecs (or a message codec wrapped in [`Lines`](crate::codec::Lines)); a bare message
//! codec has no framing of its own for a byte stream.
//!
//! ```
//! use bytes::BytesMut;
//! use proto_common::codec::{Decoder, Encoder, LineTooLong, Lines};
//! use proto_common::tokio_codec::{FramedError, TokioCodec};
//!
//! struct Text;
//! #[derive(Debug)]
//! struct TooLong;
//! impl From<LineTooLong> for TooLong {
//!     fn from(_: LineTooLong) -> Self { TooLong }
//! }
//! impl Decoder for Text {
//!     type Item = BytesMut;
//!     type Error = TooLong;
//!     fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, TooLong> {
//!         Ok(Some(src.split()))
//!     }
//! }
//!
//! let mut framed = TokioCodec::new(Lines::new(Text, 16));
//! let mut wire = BytesMut::from(&b"one\ntw"[..]);
//! let line = tokio_util::codec::Decoder::decode(&mut framed, &mut wire).unwrap();
//! assert_eq!(&line.unwrap()[..], b"one");
//! // The stream ends inside a line.
//! let end = tokio_util::codec::Decoder::decode_eof(&mut framed, &mut wire);
//! assert!(matches!(end, Err(FramedError::Truncated { len: 2 })));
//! ```

use std::io;

use bytes::BytesMut;

use crate::codec::{Decoder, Encoder};

/// What a framed stream can fail with: the transport, the end of the stream, or the codec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramedError<E> {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The stream ended with bytes of an unfinished item left over.
    #[error("stream ended inside an item, {len} bytes left over")]
    Truncated {
        /// Bytes left in the read buffer.
        len: usize,
    },
    /// The codec refused the bytes (decoding) or the item (encoding).
    #[error(transparent)]
    Codec(E),
}

/// A [`codec`](crate::codec) codec as a `tokio_util::codec::{Decoder, Encoder}`.
///
/// Decode errors are `FramedError<C::Error>` of the codec's [`Decoder`], encode errors `FramedError<E>` of
/// its [`Encoder`]. `decode_eof` is the codec's [`Decoder::decode_eof`]; bytes it leaves behind are
/// [`FramedError::Truncated`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokioCodec<C> {
    inner: C,
}

impl<C> TokioCodec<C> {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: C) -> Self {
        Self { inner }
    }

    /// The wrapped codec.
    #[must_use]
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped codec, mutably (for codecs with state a caller may change, such as a cipher).
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// The wrapped codec, consuming the adapter.
    #[must_use]
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C> From<C> for TokioCodec<C> {
    fn from(inner: C) -> Self {
        Self::new(inner)
    }
}

impl<C: Decoder> tokio_util::codec::Decoder for TokioCodec<C> {
    type Item = C::Item;
    type Error = FramedError<C::Error>;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, Self::Error> {
        self.inner.decode(src).map_err(FramedError::Codec)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, Self::Error> {
        match self.inner.decode_eof(src).map_err(FramedError::Codec)? {
            Some(item) => Ok(Some(item)),
            None if src.is_empty() => Ok(None),
            None => Err(FramedError::Truncated { len: src.len() }),
        }
    }
}

impl<C: Encoder<I>, I> tokio_util::codec::Encoder<I> for TokioCodec<C> {
    type Error = FramedError<C::Error>;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), Self::Error> {
        self.inner.encode(item, dst).map_err(FramedError::Codec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two-byte big-endian length, then that many bytes; a length over 8 is refused.
    #[derive(Debug, Default)]
    struct Short;

    #[derive(Debug, PartialEq, thiserror::Error)]
    #[error("length {0} over 8")]
    struct TooLong(usize);

    impl Decoder for Short {
        type Item = Vec<u8>;
        type Error = TooLong;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, TooLong> {
            let Some(&[a, b]) = src.get(..2) else {
                return Ok(None);
            };
            let len = usize::from(u16::from_be_bytes([a, b]));
            if len > 8 {
                return Err(TooLong(len));
            }
            if src.len() < 2 + len {
                return Ok(None);
            }
            let frame = src.split_to(2 + len);
            Ok(Some(frame[2..].to_vec()))
        }
    }

    impl Encoder<&[u8]> for Short {
        type Error = TooLong;

        fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), TooLong> {
            let len = u16::try_from(item.len())
                .ok()
                .filter(|&l| l <= 8)
                .ok_or(TooLong(item.len()))?;
            dst.extend_from_slice(&len.to_be_bytes());
            dst.extend_from_slice(item);
            Ok(())
        }
    }

    #[test]
    fn the_adapter_delegates_and_reports_what_the_stream_cut_off() {
        use tokio_util::codec::{Decoder as _, Encoder as _};

        let mut codec = TokioCodec::new(Short);
        let mut wire = BytesMut::new();
        codec.encode(&b"abc"[..], &mut wire).unwrap();
        codec.encode(&b""[..], &mut wire).unwrap();
        let err = codec.encode(&[0u8; 9][..], &mut wire).unwrap_err();
        assert!(matches!(err, FramedError::Codec(TooLong(9))), "{err}");
        assert_eq!(&wire[..], b"\x00\x03abc\x00\x00");
        wire.extend_from_slice(b"\x00\x05ab");
        assert_eq!(codec.decode(&mut wire).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(codec.decode_eof(&mut wire).unwrap(), Some(Vec::new()));
        assert_eq!(codec.decode(&mut wire).unwrap(), None);
        let err = codec.decode_eof(&mut wire).unwrap_err();
        assert!(matches!(err, FramedError::Truncated { len: 4 }), "{err}");
        let mut empty = BytesMut::new();
        assert_eq!(codec.decode_eof(&mut empty).unwrap(), None);
        let mut bad = BytesMut::from(&b"\x01\x00"[..]);
        let err = codec.decode(&mut bad).unwrap_err();
        assert_eq!(err.to_string(), "length 256 over 8");
        assert!(codec
            .get_mut()
            .decode(&mut BytesMut::new())
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn framed_reads_and_writes_through_the_adapter() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_util::codec::Framed;

        let (a, b) = tokio::io::duplex(64);
        let mut left = Framed::new(a, TokioCodec::new(Short));
        let mut right = Framed::new(b, TokioCodec::new(Short));
        left.send(&b"ping"[..]).await.unwrap();
        left.send(&b"pong!"[..]).await.unwrap();
        assert_eq!(right.next().await.unwrap().unwrap(), b"ping");
        assert_eq!(right.next().await.unwrap().unwrap(), b"pong!");
        drop(left);
        assert!(right.next().await.is_none());
    }
}
