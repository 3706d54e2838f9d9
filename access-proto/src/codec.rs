//! Framing on raw TCP: a stream of JSON objects, split by tracking braces, strings and escapes.
//!
//! ```text
//!  {"mod":"…","session_id":"…","type":1,…} \n {"mod":"…",…}{"mod":"…",…} \r\n …
//!  |<------------ one message ------------>|ws |<- message ->||<- message ->|ws
//! ```
//!
//! A message is one JSON object; senders write `\n` after each, receivers accept objects back to back with or
//! without whitespace (space, tab, CR, LF) between them. Newlines are not delimiters: an object ends at the `}`
//! that closes its first `{`, braces inside strings (and escaped quotes inside strings) not counted. Anything
//! else between objects is an error naming the byte. An object longer than
//! [`CodecConfig::max_message_len`] (default 16 MiB) is refused as soon as the limit is passed, without waiting
//! for its end.
//!
//! [`JsonSplitter`] keeps its scanning state between calls, so every byte is looked at once however the
//! stream is cut into reads: a 16 MiB message arriving one byte at a time costs linear time.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use proto_common::codec::{Decoder, Encoder};

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};
use crate::message::Message;

/// JSON whitespace, the only bytes allowed between objects.
fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where a scan stands inside an object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ScanState {
    /// Open braces; 0 between objects.
    depth: usize,
    /// Inside a string.
    in_string: bool,
    /// Inside a string, right after a backslash: the next byte is taken as is.
    escaped: bool,
}

/// Bytes classified at once by the block scan.
const BLOCK: usize = 32;

/// Bit `k` set where `block[k] == byte`. Written so that the compiler turns it into vector compares and a
/// byte mask extraction (no `unsafe` intrinsics needed).
#[inline(always)]
fn bits(block: &[u8; BLOCK], byte: u8) -> u32 {
    let mut mask = 0u32;
    for (k, &b) in block.iter().enumerate() {
        mask |= u32::from(b == byte) << k;
    }
    mask
}

/// Bit `k` = XOR of bits `0..=k`: given the quote positions, the bytes inside strings that opened in the block
/// (an opening quote counts as inside, a closing quote as outside).
fn prefix_xor(mut mask: u32) -> u32 {
    for shift in [1, 2, 4, 8, 16] {
        mask ^= mask << shift;
    }
    mask
}

impl ScanState {
    /// Scans `window[from..]` of an object that starts at `window[0]`.
    ///
    /// `Ok(end)`: the object is `window[..end]`. `Err(scanned)`: it goes on past the window; the state is kept
    /// so that the next scan starts at `scanned`.
    ///
    /// 32 bytes at a time: bit masks of quotes and braces, the running parity of the quotes tells which bytes
    /// are inside strings, and only the braces outside strings are looked at one by one. A block with a
    /// backslash is scanned byte by byte. A string that fills a whole block (a base64 blob) is skipped to its
    /// next quote or backslash with `memchr2`.
    fn scan(&mut self, window: &[u8], from: usize) -> Result<usize, usize> {
        let n = window.len();
        let mut i = from;
        // Locals, not fields, in the loop: they stay in registers.
        let (mut depth, mut in_string, mut escaped) = (self.depth, self.in_string, self.escaped);
        let outcome = 'scan: loop {
            if i >= n {
                // The end of the window (`from` may even lie past a window cut short by the size limit).
                break Err(i.max(n));
            }
            if !escaped {
                if let Some(block) = window.get(i..).and_then(|rest| rest.first_chunk::<BLOCK>()) {
                    if bits(block, b'\\') == 0 {
                        let quotes = bits(block, b'"');
                        let mut inside = prefix_xor(quotes);
                        if in_string {
                            inside = !inside;
                        }
                        let opens = bits(block, b'{') & !inside;
                        let mut braces = opens | (bits(block, b'}') & !inside);
                        while braces != 0 {
                            let lowest = braces & braces.wrapping_neg();
                            if opens & lowest != 0 {
                                // Bounded by the buffer length, so it cannot overflow.
                                depth += 1;
                            } else {
                                depth -= 1;
                                if depth == 0 {
                                    let k = usize::try_from(lowest.trailing_zeros())
                                        .unwrap_or(BLOCK - 1);
                                    break 'scan Ok(i + k + 1);
                                }
                            }
                            braces ^= lowest;
                        }
                        in_string = inside >> (BLOCK - 1) == 1;
                        i += BLOCK;
                        if in_string && quotes == 0 {
                            match memchr::memchr2(b'"', b'\\', &window[i..]) {
                                Some(p) => i += p,
                                None => break Err(n),
                            }
                        }
                        continue;
                    }
                }
            }
            // A block with a backslash, or the tail: byte by byte.
            let end = n.min(i + BLOCK);
            while i < end {
                let b = window[i];
                i += 1;
                if escaped {
                    escaped = false;
                } else if in_string {
                    match b {
                        b'\\' => escaped = true,
                        b'"' => in_string = false,
                        _ => {}
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                break 'scan Ok(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
        };
        *self = Self {
            depth,
            in_string,
            escaped,
        };
        outcome
    }
}

/// What one scan of the buffer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Drop this many leading whitespace bytes, then scan again.
    Skip(usize),
    /// The first this many bytes are one whole object.
    Frame(usize),
    /// The object goes on past the end of the buffer.
    NeedMore,
}

/// Splits a byte stream into JSON objects, one per message, without parsing them.
///
/// Feed it the same growing buffer (bytes appended at the end, frames taken off the front by the splitter
/// itself): it remembers how far it scanned and where it is (object depth, inside a string, after a
/// backslash), so it never looks at a byte twice.
///
/// ```
/// use access_proto::{CodecConfig, Decoder, JsonSplitter};
/// use bytes::BytesMut;
///
/// let mut splitter = JsonSplitter::new(&CodecConfig::default());
/// let mut buf = BytesMut::from(&b"{\"a\":\"}\"}\n{\"b\""[..]);
/// assert_eq!(&splitter.decode(&mut buf).unwrap().unwrap()[..], b"{\"a\":\"}\"}");
/// assert_eq!(splitter.decode(&mut buf).unwrap(), None); // the second object is not complete
/// buf.extend_from_slice(b":{}}");
/// assert_eq!(&splitter.decode(&mut buf).unwrap().unwrap()[..], b"{\"b\":{}}");
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct JsonSplitter {
    max: usize,
    /// Where the scan stands inside the current object.
    state: ScanState,
    /// Bytes of the current object already scanned (the buffer starts at its `{`).
    scanned: usize,
    /// Stream offset of the first byte of the buffer, for error messages.
    offset: u64,
}

impl Default for JsonSplitter {
    fn default() -> Self {
        Self::new(&CodecConfig::default())
    }
}

impl JsonSplitter {
    /// A splitter refusing objects over `config.max_message_len` bytes.
    #[must_use]
    pub fn new(config: &CodecConfig) -> Self {
        Self {
            max: config.max_message_len,
            state: ScanState::default(),
            scanned: 0,
            offset: 0,
        }
    }

    /// Offset in the stream of the first byte not yet taken off the buffer.
    #[must_use]
    pub fn stream_offset(&self) -> u64 {
        self.offset
    }

    /// Whether the splitter is inside an object (some of its bytes are buffered).
    #[must_use]
    pub fn in_object(&self) -> bool {
        self.state.depth > 0
    }

    fn advance_offset(&mut self, n: usize) {
        self.offset = self
            .offset
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// Scans `buf`, which starts at the current object's `{` (or, between objects, at unconsumed bytes).
    fn step(&mut self, buf: &[u8]) -> Result<Step, DecodeError> {
        if self.state.depth == 0 {
            match buf.iter().position(|&b| !is_whitespace(b)) {
                None if buf.is_empty() => return Ok(Step::NeedMore),
                None => return Ok(Step::Skip(buf.len())),
                Some(0) if buf[0] == b'{' => {
                    self.state.depth = 1;
                    self.scanned = 1;
                }
                Some(0) => {
                    return Err(DecodeError::Garbage {
                        byte: buf[0],
                        offset: self.offset,
                    })
                }
                Some(n) => return Ok(Step::Skip(n)),
            }
        }
        // An object may be at most `max` bytes: its closing brace must lie within the first `max`.
        let window = &buf[..buf.len().min(self.max)];
        match self.state.scan(window, self.scanned) {
            Ok(end) => {
                self.reset();
                return Ok(Step::Frame(end));
            }
            Err(scanned) => self.scanned = scanned,
        }
        if buf.len() > self.max {
            return Err(DecodeError::MessageTooLarge {
                len: buf.len(),
                max: self.max,
            });
        }
        Ok(Step::NeedMore)
    }

    fn reset(&mut self) {
        self.state = ScanState::default();
        self.scanned = 0;
    }

    /// Splits a whole captured stream (no more bytes to come) into objects, borrowing from `input`.
    ///
    /// The iterator ends after the last object, or after the first error (a framing error or
    /// [`DecodeError::Truncated`]).
    ///
    /// ```
    /// use access_proto::{CodecConfig, JsonSplitter};
    ///
    /// let frames: Vec<_> = JsonSplitter::split_all(b" {}{\"a\":1}\n", &CodecConfig::default()).collect();
    /// assert_eq!(frames.len(), 2);
    /// assert_eq!(frames[1].as_ref().unwrap(), &&b"{\"a\":1}"[..]);
    /// ```
    #[must_use]
    pub fn split_all<'a>(input: &'a [u8], config: &CodecConfig) -> SplitAll<'a> {
        SplitAll {
            splitter: Self::new(config),
            rest: input,
            done: false,
        }
    }
}

/// Frames only: each item is one JSON object's bytes, for callers that parse messages themselves (and so keep
/// a connection open after a message that does not decode).
impl Decoder for JsonSplitter {
    type Item = Bytes;
    type Error = DecodeError;

    /// Takes the next whole object off the front of `buf`, dropping whitespace before it.
    ///
    /// `Ok(None)` means more bytes are needed; the bytes of an unfinished object stay in `buf` and are not
    /// scanned again on the next call.
    ///
    /// # Errors
    /// [`DecodeError::Garbage`] (the offending byte is left at the front of `buf`) or
    /// [`DecodeError::MessageTooLarge`]. Both are fatal: the stream cannot be split any further.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        loop {
            match self.step(buf)? {
                Step::Skip(n) => {
                    buf.advance(n);
                    self.advance_offset(n);
                }
                Step::Frame(len) => {
                    self.advance_offset(len);
                    return Ok(Some(buf.split_to(len).freeze()));
                }
                Step::NeedMore => return Ok(None),
            }
        }
    }

    /// [`Decoder::decode`] at the end of the stream: an unfinished object is an error.
    ///
    /// # Errors
    /// As [`Decoder::decode`], and [`DecodeError::Truncated`] when the stream ends inside an object.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None => Err(DecodeError::Truncated { len: buf.len() }),
        }
    }
}

/// The objects of a whole stream, from [`JsonSplitter::split_all`].
#[derive(Debug, Clone)]
pub struct SplitAll<'a> {
    splitter: JsonSplitter,
    rest: &'a [u8],
    done: bool,
}

impl<'a> SplitAll<'a> {
    /// The bytes not yet split off (after an error: the offending byte onwards).
    #[must_use]
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for SplitAll<'a> {
    type Item = Result<&'a [u8], DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.splitter.step(self.rest) {
                Ok(Step::Skip(n)) => {
                    self.rest = &self.rest[n..];
                    self.splitter.advance_offset(n);
                }
                Ok(Step::Frame(len)) => {
                    let (frame, rest) = self.rest.split_at(len);
                    self.rest = rest;
                    self.splitter.advance_offset(len);
                    return Some(Ok(frame));
                }
                Ok(Step::NeedMore) => {
                    self.done = true;
                    if !self.rest.is_empty() {
                        return Some(Err(DecodeError::Truncated {
                            len: self.rest.len(),
                        }));
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// The stream codec: [`JsonSplitter`] framing plus typed [`Message`]s, for either peer (TCP). Over WebSocket,
/// where each text frame is one message, use [`MessageCodec`].
///
/// Both implement the [`proto_common::codec`] contract; wrap one in `proto_common::tokio_codec::TokioCodec`
/// (feature `tokio-util`) for a tokio-util `Framed` stream.
///
/// ```
/// use access_proto::{Codec, Code, Decoder, Encoder, Message, Request, RequestBody};
/// use bytes::BytesMut;
///
/// let mut codec = Codec::default();
/// let request = Request::new("de6a6236-db52-11e9-aaa8-00e04c110030", RequestBody::GetDeviceInfo);
/// let mut wire = BytesMut::new();
/// codec.encode(&request.clone().into(), &mut wire).unwrap();
/// assert_eq!(
///     &wire[..],
///     &b"{\"mod\":\"get_device_info\",\"session_id\":\"de6a6236-db52-11e9-aaa8-00e04c110030\",\"type\":1}\n"[..]
/// );
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Message::Request(request)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Codec {
    config: CodecConfig,
    splitter: JsonSplitter,
}

impl Codec {
    /// A codec with the given limits.
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self {
            config,
            splitter: JsonSplitter::new(&config),
        }
    }

    /// The codec's limits.
    #[must_use]
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }
}

impl Decoder for Codec {
    type Item = Message;
    type Error = DecodeError;

    /// Decodes the next message from the front of `src`; `Ok(None)` means more bytes are needed.
    ///
    /// # Errors
    /// A fatal framing error ([`DecodeError::is_fatal`]), or [`DecodeError::Json`] for a message that did not
    /// decode: its bytes were consumed, so decoding can go on with the next one.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        match self.splitter.decode(src)? {
            Some(frame) => Message::from_json(&frame).map(Some),
            None => Ok(None),
        }
    }

    /// [`Decoder::decode`] at the end of the stream.
    ///
    /// # Errors
    /// As [`Decoder::decode`], and [`DecodeError::Truncated`] when the stream ends inside an object.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        match self.splitter.decode_eof(src)? {
            Some(frame) => Message::from_json(&frame).map(Some),
            None => Ok(None),
        }
    }
}

impl Encoder<&Message> for Codec {
    type Error = EncodeError;

    /// Appends `msg` as compact JSON followed by `\n` to `dst`, serializing straight into the buffer.
    ///
    /// # Errors
    /// [`EncodeError::MessageTooLarge`] (never truncates) or an error of [`Message::write_json`]; `dst` is
    /// unchanged on error.
    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
        encode_message(&self.config, msg, dst)
    }
}

impl Encoder<Message> for Codec {
    type Error = EncodeError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
        encode_message(&self.config, &msg, dst)
    }
}

/// The message codec for transports that delimit messages themselves (WebSocket text frames): one buffer is
/// one message, for either peer.
///
/// [`Decoder::decode`] takes the whole buffer as one frame, whitespace around the object allowed, checks the
/// length limit before parsing, and returns the message or an error (never `Ok(None)`); the frame is consumed
/// either way. [`DecodeError::MessageTooLarge`] is fatal as on a stream; any other error concerns that frame
/// only. [`Encoder::encode`] appends the compact JSON object, no newline.
///
/// ```
/// use access_proto::{Decoder, Encoder, Message, MessageCodec, Request, RequestBody};
/// use bytes::BytesMut;
///
/// let mut codec = MessageCodec::default();
/// let request: Message = Request::new("s-1", RequestBody::GetDeviceInfo).into();
/// let mut frame = BytesMut::new();
/// codec.encode(&request, &mut frame).unwrap();
/// assert_eq!(&frame[..], br#"{"mod":"get_device_info","session_id":"s-1","type":1}"#);
/// assert_eq!(codec.decode(&mut frame).unwrap(), Some(request));
/// assert!(frame.is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageCodec {
    config: CodecConfig,
}

impl MessageCodec {
    /// A codec with the given limits.
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self { config }
    }

    /// The codec's limits.
    #[must_use]
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// Decodes one message from one frame's payload, without copying it into a buffer: what
    /// [`Decoder::decode`] does with a buffer holding `frame`.
    ///
    /// # Errors
    /// [`DecodeError::MessageTooLarge`] before any parsing, or [`DecodeError::Json`].
    pub fn decode_text(&self, frame: &[u8]) -> Result<Message, DecodeError> {
        let json = frame.trim_ascii();
        let max = self.config.max_message_len;
        if json.len() > max {
            return Err(DecodeError::MessageTooLarge {
                len: json.len(),
                max,
            });
        }
        Message::from_json(json)
    }

    /// Encodes one message as the payload of a text frame: what [`Encoder::encode`] appends to its buffer.
    ///
    /// # Errors
    /// As [`Message::to_text_with`].
    pub fn encode_text(&self, msg: &Message) -> Result<String, EncodeError> {
        msg.to_text_with(&self.config)
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        let message = self.decode_text(src);
        src.clear();
        message.map(Some)
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = EncodeError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let text = self.encode_text(msg)?;
        dst.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = EncodeError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
        Encoder::<&Message>::encode(self, &msg, dst)
    }
}

/// Appends `msg` as compact JSON followed by `\n` to `dst`, refusing one over `config.max_message_len`; `dst`
/// is unchanged on error.
fn encode_message(
    config: &CodecConfig,
    msg: &Message,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = dst.len();
    let written = msg.write_json((&mut *dst).writer()).and_then(|()| {
        let len = dst.len() - start;
        if len > config.max_message_len {
            Err(EncodeError::MessageTooLarge {
                len,
                max: config.max_message_len,
            })
        } else {
            Ok(())
        }
    });
    match written {
        Ok(()) => {
            dst.put_u8(b'\n');
            Ok(())
        }
        Err(e) => {
            dst.truncate(start);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Request, RequestBody};

    fn config(max: usize) -> CodecConfig {
        CodecConfig::default().max_message_len(max)
    }

    /// Feeds `input` to a fresh splitter in pieces cut at `cuts`, collecting the frames and the first error.
    fn split_in_pieces(
        input: &[u8],
        cuts: &[usize],
        max: usize,
    ) -> (Vec<Vec<u8>>, Option<DecodeError>, BytesMut) {
        let mut splitter = JsonSplitter::new(&config(max));
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        let mut bounds = cuts.to_vec();
        bounds.push(input.len());
        let mut from = 0;
        for to in bounds {
            buf.extend_from_slice(&input[from..to]);
            from = to;
            loop {
                match splitter.decode(&mut buf) {
                    Ok(Some(frame)) => frames.push(frame.to_vec()),
                    Ok(None) => break,
                    Err(e) => return (frames, Some(e), buf),
                }
            }
        }
        let end = splitter.decode_eof(&mut buf);
        (frames, end.err(), buf)
    }

    const TRICKY: &[&[u8]] = &[
        br#"{"a":"}"}"#,                                   // closing brace inside a string
        br#"{"a":"{{{"}"#,                                 // opening braces inside a string
        br#"{"a":"say \"}\" twice"}"#,                     // escaped quotes around a brace
        br#"{"a":"ends in backslash \\"}"#, // escaped backslash right before the closing quote
        br#"{"a":"\\\"}"}"#,                // backslash, escaped quote, brace, in one string
        "{\"地址\":\"公司门口 }{ \u{1F600}\"}".as_bytes(), // multi-byte UTF-8 in keys and values
        br#"{"a":{"b":{"c":[{"d":{}}]}},"e":"\u007d"}"#, // nesting, and a brace written as an escape
        br#"{}"#,
        // Strings longer than a 32-byte block (skipped with memchr2), with escapes and braces far inside.
        br#"{"blob":"QkFTRTY0IGZhY2UgZGF0YQ==QkFTRTY0IGZhY2UgZGF0YQ==\/\/+\"}{\"+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\\","n":{"s":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}"#,
    ];

    #[test]
    fn tricky_objects_split_correctly_at_every_byte() {
        let mut stream = Vec::new();
        for (i, object) in TRICKY.iter().enumerate() {
            stream.extend_from_slice(object);
            // Back to back, or separated by each kind of whitespace.
            stream.extend_from_slice([&b""[..], b"\n", b" \t", b"\r\n"][i % 4]);
        }
        let expected: Vec<Vec<u8>> = TRICKY.iter().map(|o| o.to_vec()).collect();
        for cut in 0..=stream.len() {
            let (frames, err, rest) = split_in_pieces(&stream, &[cut], 1024);
            assert_eq!(frames, expected, "cut at {cut}");
            assert!(err.is_none(), "cut at {cut}: {err:?}");
            assert!(rest.is_empty());
        }
        // One byte per read.
        let cuts: Vec<usize> = (1..stream.len()).collect();
        let (frames, err, _) = split_in_pieces(&stream, &cuts, 1024);
        assert_eq!((frames, err.is_none()), (expected.clone(), true));
        // And the borrowing splitter over the whole stream.
        let all: Vec<&[u8]> = JsonSplitter::split_all(&stream, &config(1024))
            .map(Result::unwrap)
            .collect();
        assert_eq!(all, TRICKY);
    }

    /// The byte-by-byte definition the block scan must agree with.
    fn reference_end(object: &[u8]) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &b) in object.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if in_string {
                escaped = b == b'\\';
                in_string = b != b'"';
            } else if b == b'"' {
                in_string = true;
            } else if b == b'{' {
                depth += 1;
            } else if b == b'}' {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
        }
        None
    }

    proptest::proptest! {
        #[test]
        fn block_scan_agrees_with_the_byte_by_byte_definition(
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    60 => proptest::prelude::Just(b'a'),
                    4 => proptest::prelude::Just(b'"'),
                    3 => proptest::prelude::Just(b'{'),
                    3 => proptest::prelude::Just(b'}'),
                    2 => proptest::prelude::Just(b' '),
                    // Bytes the brace test lets through for a second look.
                    1 => proptest::prelude::Just(b'y'),
                    1 => proptest::prelude::Just(0x7f),
                    // Rare, so that many 32-byte blocks take the fast path.
                    1 => proptest::prelude::Just(b'\\'),
                ],
                0..600,
            ),
            cut in 0usize..600,
        ) {
            let object = [&b"{"[..], &body].concat();
            let expected = reference_end(&object);
            // In one scan, and resumed after a cut at any point.
            let mut state = ScanState { depth: 1, ..ScanState::default() };
            proptest::prop_assert_eq!(state.scan(&object, 1).ok(), expected);
            let cut = cut.min(object.len()).max(1);
            let mut state = ScanState { depth: 1, ..ScanState::default() };
            let got = match state.scan(&object[..cut], 1) {
                Ok(end) => Some(end),
                Err(scanned) => {
                    proptest::prop_assert_eq!(scanned, cut);
                    state.scan(&object, scanned).ok()
                }
            };
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn block_scan_handles_long_strings() {
        // Strings over many words (skipped with memchr2), with braces inside them.
        let mut object = b"{\"a\":\"".to_vec();
        object.extend(std::iter::repeat_n(b'}', 150));
        object.extend_from_slice(b"\",\"b\":{\"c\":{}},\"d\":\"");
        object.extend(std::iter::repeat_n(b'{', 70));
        object.extend_from_slice(b"\"}");
        assert_eq!(reference_end(&object), Some(object.len()));
        let mut state = ScanState {
            depth: 1,
            ..ScanState::default()
        };
        assert_eq!(state.scan(&object, 1), Ok(object.len()));
        let mut padded = object.clone();
        padded.extend_from_slice(&[b' '; 100]);
        let mut state = ScanState {
            depth: 1,
            ..ScanState::default()
        };
        assert_eq!(state.scan(&padded, 1), Ok(object.len()));
        // Resumed at every point.
        for cut in 1..object.len() {
            let mut state = ScanState {
                depth: 1,
                ..ScanState::default()
            };
            assert_eq!(state.scan(&object[..cut], 1), Err(cut));
            assert_eq!(state.scan(&object, cut), Ok(object.len()), "cut at {cut}");
        }
    }

    #[test]
    fn partial_object_needs_more_and_keeps_its_bytes() {
        let mut splitter = JsonSplitter::default();
        let mut buf = BytesMut::from(&b"  \n{\"mod\":\"x\""[..]);
        assert_eq!(splitter.decode(&mut buf).unwrap(), None);
        // Leading whitespace is dropped, the unfinished object stays.
        assert_eq!(&buf[..], b"{\"mod\":\"x\"");
        assert!(splitter.in_object());
        assert_eq!(splitter.stream_offset(), 3);
        buf.extend_from_slice(b"}{");
        assert_eq!(
            &splitter.decode(&mut buf).unwrap().unwrap()[..],
            b"{\"mod\":\"x\"}"
        );
        assert_eq!(splitter.decode(&mut buf).unwrap(), None);
        assert_eq!(&buf[..], b"{");
        assert_eq!(splitter.stream_offset(), 14);
    }

    #[test]
    fn only_whitespace_is_consumed_and_is_not_an_error() {
        let mut splitter = JsonSplitter::default();
        let mut buf = BytesMut::from(&b" \r\n\t "[..]);
        assert_eq!(splitter.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
        assert_eq!(splitter.decode_eof(&mut buf).unwrap(), None);
        assert!(!splitter.in_object());
    }

    #[test]
    fn several_objects_in_one_read() {
        let mut splitter = JsonSplitter::default();
        let mut buf = BytesMut::from(&b"{\"a\":1}{\"b\":2}\n{\"c\":3}\n"[..]);
        let mut frames = Vec::new();
        while let Some(frame) = splitter.decode(&mut buf).unwrap() {
            frames.push(frame);
        }
        assert_eq!(frames, [&b"{\"a\":1}"[..], b"{\"b\":2}", b"{\"c\":3}"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn garbage_between_objects_names_the_byte_and_its_offset() {
        let (frames, err, rest) = split_in_pieces(b"{\"a\":1}\n x{}", &[], 1024);
        assert_eq!(frames, [b"{\"a\":1}".to_vec()]);
        let err = err.unwrap();
        assert!(
            matches!(
                err,
                DecodeError::Garbage {
                    byte: b'x',
                    offset: 9
                }
            ),
            "{err:?}"
        );
        assert!(err.is_fatal());
        assert_eq!(
            err.to_string(),
            "unexpected byte 0x78 (`x`) at stream offset 9: expected whitespace or `{` between messages"
        );
        // The offending byte stays at the front of the buffer.
        assert_eq!(&rest[..], b"x{}");
        for (input, byte) in [
            (&b"]"[..], b']'),
            (b"}", b'}'),
            (b"\"a\"", b'"'),
            (b"\0", 0),
            (b"\xef\xbb\xbf{}", 0xef),
        ] {
            let err = JsonSplitter::split_all(input, &config(64))
                .next()
                .unwrap()
                .unwrap_err();
            assert!(
                matches!(err, DecodeError::Garbage { byte: b, offset: 0 } if b == byte),
                "{err:?}"
            );
        }
        let err = JsonSplitter::split_all(b"\0", &config(64))
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("0x00 (not printable)"), "{err}");
    }

    #[test]
    fn over_limit_is_refused_as_soon_as_it_is_passed() {
        // Exactly at the limit: accepted.
        let (frames, err, _) = split_in_pieces(b"{\"a\":\"xy\"}", &[], 10);
        assert_eq!((frames.len(), err.is_none()), (1, true));
        // One byte over, the end not even in sight yet: refused once byte 11 arrives.
        let mut splitter = JsonSplitter::new(&config(10));
        let mut buf = BytesMut::from(&b"{\"a\":\"xyz"[..]);
        assert_eq!(splitter.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"\"");
        assert_eq!(splitter.decode(&mut buf).unwrap(), None); // 10 bytes: still allowed
        buf.extend_from_slice(b"}");
        let err = splitter.decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, DecodeError::MessageTooLarge { len: 11, max: 10 }),
            "{err:?}"
        );
        assert!(err.is_fatal());
        assert_eq!(
            err.to_string(),
            "message longer than the maximum of 10 bytes (11 bytes buffered)"
        );
        // A large read is refused without scanning past the limit.
        let mut huge = b"{\"a\":\"".to_vec();
        huge.resize(1 << 20, b'a');
        let err = JsonSplitter::split_all(&huge, &config(1000))
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, DecodeError::MessageTooLarge { len, max: 1000 } if len == 1 << 20));
        // Whitespace before an object does not count.
        let (frames, err, _) = split_in_pieces(b"          {\"a\":\"xy\"}", &[], 10);
        assert_eq!((frames.len(), err.is_none()), (1, true));
        // A zero limit refuses every object.
        let (frames, err, _) = split_in_pieces(b"{}", &[], 0);
        assert!(frames.is_empty());
        assert!(
            matches!(err, Some(DecodeError::MessageTooLarge { len: 2, max: 0 })),
            "{err:?}"
        );
    }

    #[test]
    fn end_of_stream_inside_an_object_is_truncated() {
        let (frames, err, rest) = split_in_pieces(b"{}{\"a\":\"}", &[], 64);
        assert_eq!(frames, [b"{}".to_vec()]);
        assert!(
            matches!(err, Some(DecodeError::Truncated { len: 7 })),
            "{err:?}"
        );
        assert_eq!(&rest[..], b"{\"a\":\"}");
        let mut it = JsonSplitter::split_all(b"{}{", &config(64));
        assert_eq!(it.next().unwrap().unwrap(), b"{}");
        assert!(matches!(
            it.next(),
            Some(Err(DecodeError::Truncated { len: 1 }))
        ));
        assert_eq!(it.remainder(), b"{");
        assert!(it.next().is_none());
    }

    #[test]
    fn no_byte_is_scanned_twice() {
        // After every 1-byte read the scan position is the end of the buffer: the next call starts there.
        let object = br#"{"a":"x\"}{","b":{"c":"\\"},"d":[1,{}]}"#;
        let mut splitter = JsonSplitter::default();
        let mut buf = BytesMut::new();
        for (i, &b) in object.iter().enumerate() {
            buf.extend_from_slice(&[b]);
            let out = splitter.decode(&mut buf).unwrap();
            if i + 1 < object.len() {
                assert_eq!(out, None);
                assert_eq!(splitter.scanned, buf.len(), "after byte {i}");
            } else {
                assert_eq!(&out.unwrap()[..], &object[..]);
            }
        }
    }

    #[test]
    fn codec_decodes_messages_and_goes_on_after_a_bad_one() {
        let mut codec = Codec::default();
        let mut buf = BytesMut::from(
            &br#"{"mod":"get_device_info","session_id":"a","type":1}
{"mod":"get_device_info","session_id":7,"type":1}
{"mod":"get_device_info","session_id":"b","type":1}"#[..],
        );
        let first = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(first, Request::new("a", RequestBody::GetDeviceInfo).into());
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(!err.is_fatal());
        assert_eq!(
            err.to_string(),
            "invalid `get_device_info` message: at `session_id`: invalid type: integer `7`, expected a string at line 1 column 39"
        );
        let third = codec.decode_eof(&mut buf).unwrap().unwrap();
        assert_eq!(third.session_id().as_str(), "b");
        assert!(buf.is_empty());
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    }

    #[test]
    fn encoder_writes_a_newline_and_refuses_over_limit_messages() {
        let request: Message = Request::new("s", RequestBody::GetDeviceInfo).into();
        let json = request.to_json().unwrap();
        assert_eq!(
            json,
            br#"{"mod":"get_device_info","session_id":"s","type":1}"#
        );
        let mut dst = BytesMut::from(&b"prefix"[..]);
        let mut exact = Codec::new(config(json.len()));
        exact.encode(&request, &mut dst).unwrap();
        assert_eq!(&dst[6..], [&json[..], b"\n"].concat());
        let mut small = Codec::new(config(json.len() - 1));
        let err = small.encode(&request, &mut dst).unwrap_err();
        assert!(
            matches!(err, EncodeError::MessageTooLarge { len, max } if len == json.len() && max == json.len() - 1),
            "{err:?}"
        );
        // Nothing of the refused message is left behind.
        assert_eq!(&dst[6..], [&json[..], b"\n"].concat());
        assert_eq!(small.config().max_message_len, json.len() - 1);
        let reply: Message = Request::new("s", RequestBody::GetDeviceInfo)
            .reply(Code::Other(5), "x")
            .into();
        encode_message(&CodecConfig::default(), &reply, &mut dst).unwrap();
        assert!(dst.ends_with(b"\"code\":5,\"message\":\"x\"}\n"));
    }

    #[test]
    fn the_message_codec_takes_one_whole_frame_per_buffer() {
        let request: Message = Request::new("s-1", RequestBody::GetDeviceInfo).into();
        let text = br#"{"mod":"get_device_info","session_id":"s-1","type":1}"#;
        let mut codec = MessageCodec::new(config(text.len()));
        // Whitespace around the object is allowed and does not count against the limit.
        let mut frame = BytesMut::from(&b" \r\n"[..]);
        frame.extend_from_slice(text);
        frame.extend_from_slice(b"\n");
        assert_eq!(codec.decode(&mut frame).unwrap(), Some(request.clone()));
        assert!(frame.is_empty());
        // A frame that does not decode is an error for that frame only, and is consumed.
        let mut frame = BytesMut::from(&text[..text.len() - 1]);
        let err = codec.decode(&mut frame).unwrap_err();
        assert!(
            matches!(err, DecodeError::Json { .. }) && !err.is_fatal(),
            "{err}"
        );
        assert!(frame.is_empty());
        // Over the limit: refused before parsing, fatal as on a stream.
        let mut tight = MessageCodec::new(config(text.len() - 1));
        let err = tight.decode(&mut BytesMut::from(&text[..])).unwrap_err();
        assert!(
            matches!(err, DecodeError::MessageTooLarge { len, max } if len == text.len() && max == text.len() - 1),
            "{err}"
        );
        assert!(err.is_fatal());
        // Encoding appends the object without a newline, and nothing when refused.
        let mut out = BytesMut::new();
        codec.encode(request.clone(), &mut out).unwrap();
        assert_eq!(&out[..], &text[..]);
        assert!(matches!(
            tight.encode(&request, &mut out),
            Err(EncodeError::MessageTooLarge { .. })
        ));
        assert_eq!(&out[..], &text[..]);
    }
}
