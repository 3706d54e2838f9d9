//! The codec contract every devproto protocol crate implements, shaped like tokio-util's
//! `codec::{Decoder, Encoder}` but with no I/O and no tokio in it.
//!
//! A codec turns bytes into typed items and typed items into bytes. The same two traits serve both kinds of
//! transport the protocols ride:
//!
//! - **Byte streams** (TCP: jetinno's length head, access's brace splitter, kingxun's binary frames). The caller
//!   appends what it reads to one growing [`BytesMut`] and calls [`Decoder::decode`] until it returns
//!   `Ok(None)`. A codec consumes bytes only when an item is complete (or keeps its progress in its own state),
//!   and `Ok(None)` means "more bytes are needed": a partial input is never an error.
//! - **Message transports** (WebSocket text frames, MQTT payloads: aliscan, best, access over WebSocket). The
//!   transport already delimits messages, so the whole frame is the buffer: [`Decoder::decode`] consumes all of
//!   it and returns the message, or an error when the frame does not decode. A complete frame is never
//!   `Ok(None)`, not even an empty one: such a codec has no notion of "more bytes". To carry such messages over a
//!   byte stream, one per line, wrap the codec in [`Lines`].
//!
//! ```
//! use bytes::BytesMut;
//! use proto_common::codec::{Decoder, Encoder, Lines, LineTooLong};
//!
//! /// A message codec: one frame = one UTF-8 text.
//! struct Text;
//!
//! #[derive(Debug, PartialEq)]
//! enum Error { TooLong, NotUtf8 }
//!
//! impl From<LineTooLong> for Error {
//!     fn from(_: LineTooLong) -> Self { Error::TooLong }
//! }
//!
//! impl Decoder for Text {
//!     type Item = String;
//!     type Error = Error;
//!     fn decode(&mut self, src: &mut BytesMut) -> Result<Option<String>, Error> {
//!         let frame = src.split();
//!         String::from_utf8(frame.to_vec()).map(Some).map_err(|_| Error::NotUtf8)
//!     }
//! }
//!
//! impl Encoder<&str> for Text {
//!     type Error = Error;
//!     fn encode(&mut self, item: &str, dst: &mut BytesMut) -> Result<(), Error> {
//!         dst.extend_from_slice(item.as_bytes());
//!         Ok(())
//!     }
//! }
//!
//! // A message transport hands over whole frames.
//! let mut frame = BytesMut::from(&b"hello"[..]);
//! assert_eq!(Text.decode(&mut frame), Ok(Some("hello".to_owned())));
//! assert!(frame.is_empty());
//!
//! // Over a byte stream, one message per line.
//! let mut lines = Lines::new(Text, 64);
//! let mut wire = BytesMut::new();
//! lines.encode("a", &mut wire).unwrap();
//! lines.encode("b", &mut wire).unwrap();
//! assert_eq!(&wire[..], b"a\nb\n");
//! wire.extend_from_slice(b"c");
//! assert_eq!(lines.decode(&mut wire), Ok(Some("a".to_owned())));
//! assert_eq!(lines.decode(&mut wire), Ok(Some("b".to_owned())));
//! assert_eq!(lines.decode(&mut wire), Ok(None)); // "c" has no newline yet
//! assert_eq!(&wire[..], b"c");
//! ```

use bytes::{BufMut, BytesMut};

/// Decodes items from bytes: one step of reading a byte stream, or one whole frame of a message transport.
///
/// See the [module documentation](self) for the two ways a transport uses it.
pub trait Decoder {
    /// What one call yields.
    type Item;
    /// Why bytes did not decode.
    type Error;

    /// Decodes the next item from the front of `src`.
    ///
    /// Stream codecs return `Ok(None)` when `src` does not yet hold a whole item, consuming nothing they would
    /// need again (they may reserve room for the rest). Message codecs consume the whole of `src` and return
    /// `Ok(Some(_))` or an error, never `Ok(None)`.
    ///
    /// # Errors
    /// The codec's decode error. Each codec documents which errors leave the stream usable (the bad item
    /// consumed) and which are fatal (the stream cannot be resynchronised).
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error>;

    /// [`Decoder::decode`] once the stream has ended: no more bytes will come.
    ///
    /// The default is `decode`; codecs that can name what was cut off (an unfinished object) return their own
    /// error instead. Bytes still left in `src` after a final `Ok(None)` are an unfinished item; the tokio-util
    /// adapter reports them as an error.
    ///
    /// # Errors
    /// As [`Decoder::decode`], and the codec's error for an unfinished item.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        self.decode(src)
    }
}

/// Encodes items into bytes: appends one whole item (a packet, a frame, a message) to `dst`.
///
/// Protocol codecs implement it for `&Message` (no copy of the message needed) and for `Message`.
pub trait Encoder<Item> {
    /// Why an item could not be encoded.
    type Error;

    /// Appends `item` to `dst`.
    ///
    /// # Errors
    /// The codec's encode error (an item over a limit, a value that cannot be written); `dst` is left as it was.
    fn encode(&mut self, item: Item, dst: &mut BytesMut) -> Result<(), Self::Error>;
}

impl<D: Decoder + ?Sized> Decoder for &mut D {
    type Item = D::Item;
    type Error = D::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        (**self).decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        (**self).decode_eof(src)
    }
}

impl<I, E: Encoder<I> + ?Sized> Encoder<I> for &mut E {
    type Error = E::Error;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), Self::Error> {
        (**self).encode(item, dst)
    }
}

/// A line longer than the limit of a [`Lines`] codec. Inner codecs' errors convert from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line of at least {len} bytes exceeds the maximum of {max} bytes")]
#[non_exhaustive]
pub struct LineTooLong {
    /// Bytes buffered without a newline within the limit (the line is at least this long).
    pub len: usize,
    /// The maximum line length, its `\r\n` not counted.
    pub max: usize,
}

/// Newline-delimited messages over a byte stream, each line decoded by a message codec `C`.
///
/// ```text
///  message \n message \r\n \n message \n ...
/// ```
///
/// On decode a trailing `\r` is dropped and blank lines (ASCII whitespace only) are skipped. A line longer than
/// `max_line_len` is refused with [`LineTooLong`] as soon as that many bytes are buffered without a newline,
/// nothing consumed: the stream cannot be resynchronised. A line that does not decode is consumed before its
/// error is returned, so decoding can go on with the next line. Every byte is scanned once, however the stream
/// is cut into reads. On encode the inner codec writes the message and `\n` follows it.
#[derive(Debug, Clone)]
pub struct Lines<C> {
    inner: C,
    max_line_len: usize,
    /// How far the buffer was already searched for a newline.
    scanned: usize,
}

impl<C> Lines<C> {
    /// Lines of at most `max_line_len` bytes (not counting `\r\n`), each decoded by `inner`.
    #[must_use]
    pub fn new(inner: C, max_line_len: usize) -> Self {
        Self {
            inner,
            max_line_len,
            scanned: 0,
        }
    }

    /// The maximum line length.
    #[must_use]
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// The message codec.
    #[must_use]
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The message codec, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// The message codec, consuming the line codec.
    #[must_use]
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C> Decoder for Lines<C>
where
    C: Decoder,
    C::Error: From<LineTooLong>,
{
    type Item = C::Item;
    type Error = C::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, C::Error> {
        loop {
            // A line of `max` bytes may be followed by "\r\n": look no further than that.
            let window = src.len().min(self.max_line_len.saturating_add(2));
            let from = self.scanned.min(window);
            let Some(pos) = src[from..window].iter().position(|&b| b == b'\n') else {
                self.scanned = window;
                if src.len() > self.max_line_len.saturating_add(1) {
                    return Err(LineTooLong {
                        len: src.len(),
                        max: self.max_line_len,
                    }
                    .into());
                }
                return Ok(None);
            };
            let newline = from + pos;
            self.scanned = 0;
            let mut line = src.split_to(newline + 1);
            let mut end = newline;
            if end > 0 && line[end - 1] == b'\r' {
                end -= 1;
            }
            line.truncate(end);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return self.inner.decode(&mut line);
        }
    }
}

impl<C: Encoder<I>, I> Encoder<I> for Lines<C> {
    type Error = C::Error;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), C::Error> {
        self.inner.encode(item, dst)?;
        dst.put_u8(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message codec that yields each frame's bytes, refusing frames that start with `!`.
    #[derive(Debug, Default)]
    struct Raw;

    #[derive(Debug, PartialEq)]
    enum RawError {
        TooLong(LineTooLong),
        Bang,
    }

    impl From<LineTooLong> for RawError {
        fn from(e: LineTooLong) -> Self {
            Self::TooLong(e)
        }
    }

    impl Decoder for Raw {
        type Item = Vec<u8>;
        type Error = RawError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, RawError> {
            let frame = src.split();
            if frame.first() == Some(&b'!') {
                return Err(RawError::Bang);
            }
            Ok(Some(frame.to_vec()))
        }
    }

    impl Encoder<&[u8]> for Raw {
        type Error = RawError;

        fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), RawError> {
            if item.first() == Some(&b'!') {
                return Err(RawError::Bang);
            }
            dst.extend_from_slice(item);
            Ok(())
        }
    }

    fn decode_all(codec: &mut Lines<Raw>, buf: &mut BytesMut) -> Vec<Result<Vec<u8>, RawError>> {
        let mut out = Vec::new();
        loop {
            match codec.decode(buf) {
                Ok(Some(line)) => out.push(Ok(line)),
                Ok(None) => return out,
                Err(e @ RawError::TooLong(_)) => {
                    out.push(Err(e));
                    return out;
                }
                Err(e) => out.push(Err(e)),
            }
        }
    }

    #[test]
    fn lines_decode_the_same_at_every_split_point() {
        let wire = b"ab\r\n\n \t\r\n!x\ncd\nrest";
        let expected = vec![Ok(b"ab".to_vec()), Err(RawError::Bang), Ok(b"cd".to_vec())];
        for split in 0..=wire.len() {
            let mut codec = Lines::new(Raw, 8);
            let mut buf = BytesMut::from(&wire[..split]);
            let mut got = decode_all(&mut codec, &mut buf);
            buf.extend_from_slice(&wire[split..]);
            got.extend(decode_all(&mut codec, &mut buf));
            assert_eq!(got, expected, "split at {split}");
            assert_eq!(&buf[..], b"rest", "split at {split}");
        }
    }

    #[test]
    fn an_overlong_line_is_refused_before_its_newline_and_nothing_is_consumed() {
        let mut codec = Lines::new(Raw, 4);
        // Exactly the limit, with its "\r\n": accepted.
        let mut buf = BytesMut::from(&b"abcd\r\n"[..]);
        assert_eq!(codec.decode(&mut buf), Ok(Some(b"abcd".to_vec())));
        assert!(buf.is_empty());
        // The limit plus a possible '\r': still waiting.
        buf.extend_from_slice(b"abcd\r");
        assert_eq!(codec.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"x\n");
        assert_eq!(
            codec.decode(&mut buf),
            Err(RawError::TooLong(LineTooLong { len: 7, max: 4 }))
        );
        assert_eq!(&buf[..], b"abcd\rx\n");
    }

    #[test]
    fn lines_encode_one_line_per_item_and_nothing_on_error() {
        let mut codec = Lines::new(Raw, 8);
        let mut buf = BytesMut::new();
        codec.encode(&b"ab"[..], &mut buf).unwrap();
        assert_eq!(codec.encode(&b"!"[..], &mut buf), Err(RawError::Bang));
        codec.encode(&b"cd"[..], &mut buf).unwrap();
        assert_eq!(&buf[..], b"ab\ncd\n");
    }

    #[test]
    fn the_default_decode_eof_is_decode_and_references_delegate() {
        let mut codec = Lines::new(Raw, 8);
        let by_ref = &mut codec;
        let mut buf = BytesMut::from(&b"ab\ncd"[..]);
        assert_eq!(by_ref.decode_eof(&mut buf), Ok(Some(b"ab".to_vec())));
        assert_eq!(by_ref.decode_eof(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"cd");
        let mut out = BytesMut::new();
        by_ref.encode(&b"x"[..], &mut out).unwrap();
        assert_eq!(&out[..], b"x\n");
    }
}
