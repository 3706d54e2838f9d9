//! Fast path for `dev.file.upload.package`, whose base64 `content` (up to 64 KiB raw by default) is nearly
//! the whole message.
//!
//! The ordinary decoder scans that string as JSON text byte by byte (looking for its end and for escapes,
//! checking UTF-8), then base64-decodes it. Here the closing quote is found with a vectorised search
//! (`memchr`), the text is base64-decoded straight from the input with the same decoder as every other
//! base64 field (base64 is ASCII, so no UTF-8 check is needed), and the rest of the message, with `content` replaced by `""`, goes through the ordinary decoder, so every
//! other field is read and checked exactly as usual.
//!
//! It only answers when the result is certain to be the ordinary decoder's: `funcId` first and spelled
//! plainly, no escapes in the keys on the way to `payload.params.content`, no duplicate keys on that way, a
//! `content` of base64 symbols only that decodes, and a remainder the strict parser accepts. Anything else
//! returns `None` and the caller runs the ordinary decoder, which accepts or reports the input as before.
//! Replacing a string of base64 symbols by `""` changes no token but that string, so the strict parse of the
//! remainder succeeds exactly when the strict parse of the message does, with the same fields.

use bytes::Bytes;

use crate::message::{DeviceMessage, Envelope, Message};

/// The message, if it is a `dev.file.upload.package` this path can decode; `None` means "use the ordinary
/// decoder", never "invalid".
pub(super) fn decode(input: &[u8]) -> Option<Envelope<Message>> {
    let content = locate_content(input)?;
    let mut rest = Vec::with_capacity(input.len() - (content.end - content.start));
    rest.extend_from_slice(&input[..content.start]);
    rest.extend_from_slice(&input[content.end..]);
    let mut envelope: Envelope<Message> = serde_json::from_slice(&rest).ok()?;
    match &mut envelope.message {
        // The emptied string is the `content` the parser read (it decodes to no bytes): put the bytes back.
        Message::Device(DeviceMessage::FileUploadPackage(p)) if p.content.is_empty() => {
            p.content = Bytes::from(content.bytes);
        }
        _ => return None,
    }
    Some(envelope)
}

/// `payload.params.content`: where its text lies in the input and what it decodes to.
struct Content {
    /// First byte after the opening quote.
    start: usize,
    /// The closing quote.
    end: usize,
    bytes: Vec<u8>,
}

/// Finds and decodes `payload.params.content` of a `dev.file.upload.package` message. Only the structure is
/// followed here (where values begin and end); the strict parse of the remainder validates everything else.
fn locate_content(input: &[u8]) -> Option<Content> {
    const FUNC_ID: &[u8] = b"\"dev.file.upload.package\"";
    let mut p = Reader { input, pos: 0 };
    let mut first = true;
    let mut payload = None;
    p.object(|p, key| {
        match key {
            b"funcId" if first => p.literal(FUNC_ID)?,
            // `funcId` not first, or twice: leave it to the ordinary decoder.
            _ if first => return None,
            b"funcId" => return None,
            b"payload" if payload.is_some() => return None,
            b"payload" => payload = Some(p.payload()?),
            _ => p.skip_value()?,
        }
        first = false;
        Some(())
    })?;
    payload
}

/// A position in the input.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn literal(&mut self, s: &[u8]) -> Option<()> {
        let found = self.input.get(self.pos..self.pos.checked_add(s.len())?)?;
        self.pos += s.len();
        (found == s).then_some(())
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A key without escapes (one with escapes could spell a key of interest another way).
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.next()? {
                b'"' => return Some(&self.input[start..self.pos - 1]),
                b'\\' => return None,
                _ => {}
            }
        }
    }

    /// An object, calling `member` for each key with the reader at the start of the value; `member` must
    /// read the value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.skip_ws();
        self.eat(b'{')?;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            let key = self.key()?;
            self.skip_ws();
            self.eat(b':')?;
            self.skip_ws();
            member(self, key)?;
            self.skip_ws();
            match self.next()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// `payload`: an object with one `params`.
    fn payload(&mut self) -> Option<Content> {
        let mut params = None;
        self.object(|p, key| {
            match key {
                b"params" if params.is_some() => return None,
                b"params" => params = Some(p.params()?),
                _ => p.skip_value()?,
            }
            Some(())
        })?;
        params
    }

    /// `params`: an object with one `content` string.
    fn params(&mut self) -> Option<Content> {
        let mut content = None;
        self.object(|p, key| {
            match key {
                b"content" if content.is_some() => return None,
                b"content" => {
                    p.eat(b'"')?;
                    let start = p.pos;
                    // Base64 symbols need no escape: a backslash before the closing quote means an escaped
                    // string, left to the ordinary decoder.
                    let text = &p.input[start..];
                    let len = memchr::memchr2(b'"', b'\\', text)?;
                    if text[len] != b'"' {
                        return None;
                    }
                    let bytes = base64_simd::STANDARD.decode_to_vec(&text[..len]).ok()?;
                    let end = start + len;
                    p.pos = end + 1;
                    content = Some(Content { start, end, bytes });
                }
                _ => p.skip_value()?,
            }
            Some(())
        })?;
        content
    }

    /// Steps over one value (structure only: strings, nesting, scalar extent).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => self.skip_string()?,
                        b'{' | b'[' => {
                            depth += 1;
                            self.pos += 1;
                        }
                        b'}' | b']' => {
                            depth -= 1;
                            self.pos += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        _ => self.pos += 1,
                    }
                }
            }
            _ => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
                (self.pos > start).then_some(())
            }
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => {
                    self.next()?;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{FileId, FileUploadPackage};
    use proptest::prelude::*;

    fn ordinary(input: &[u8]) -> Option<Envelope<Message>> {
        proto_common::json::from_slice_lenient(input).ok()
    }

    fn package(content: &[u8]) -> Vec<u8> {
        let m = DeviceMessage::FileUploadPackage(FileUploadPackage {
            file_id: FileId::new("e78dc2cef23d495ab4f890fe3362bee9").unwrap(),
            offset: 65536,
            content: Bytes::copy_from_slice(content),
        });
        serde_json::to_vec(&Envelope::<Message>::new("m1", Message::Device(m))).unwrap()
    }

    /// Whenever the fast path answers, it answers what the ordinary decoder does.
    fn check(input: &[u8]) -> bool {
        let fast = decode(input);
        if let Some(fast) = &fast {
            assert_eq!(
                Some(fast),
                ordinary(input).as_ref(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        fast.is_some()
    }

    #[test]
    fn decodes_what_the_encoder_writes() {
        for len in [0, 1, 2, 3, 4, 47, 48, 49, 64 * 1024] {
            let content: Vec<u8> = (0..len)
                .map(|i: u32| (i * 7 % 256).to_le_bytes()[0])
                .collect();
            assert!(check(&package(&content)), "{len}");
        }
    }

    #[test]
    fn same_answers_on_other_layouts() {
        let cases: &[(&str, bool)] = &[
            (
                r#" { "funcId" : "dev.file.upload.package" , "mid":"1", "sn": null, "x": [1, {"a": "]}\""}],
                 "payload" : { "other": {"content": "AAAA"}, "params" : { "fileId":"f", "offset":0,
                 "content" : "QUJD" , "y": -1.5e3 } , "z": true } , "imme": "1" } "#,
                true,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":""}}}"#,
                true,
            ),
            // Escapes in `content` or a key, another key order, duplicates, trailing commas, bad base64.
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJ\u0044"}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","cont\u0065nt":"QUJD"}}}"#,
                false,
            ),
            (
                r#"{"mid":"1","funcId":"dev.file.upload.package","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD"}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD","content":"QUJD"}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD"}},"payload":{"params":{"fileId":"f","offset":"0","content":""}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD"}},"funcId":"dev.heartbeat"}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD",}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJ"}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD"}}} x"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"offset":"0","content":"QUJD"}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.heartbeat","mid":"1","payload":{"params":{"content":"QUJD"}}}"#,
                false,
            ),
            (
                r#"{"funcId":"dev.file.upload.package","mid":"1","payload":{"params":{"fileId":"f","offset":"0","content":"QUJD"}}"#,
                false,
            ),
        ];
        for (input, fast) in cases {
            assert_eq!(check(input.as_bytes()), *fast, "{input}");
        }
    }

    proptest! {
        #[test]
        fn never_disagrees_on_mangled_messages(
            content in proptest::collection::vec(any::<u8>(), 0..40),
            edits in proptest::collection::vec((any::<usize>(), prop_oneof![
                Just(b'"'), Just(b'\\'), Just(b','), Just(b'}'), Just(b'{'), Just(b'='), Just(b' '), any::<u8>()
            ]), 0..3),
        ) {
            let mut input = package(&content);
            for (at, byte) in edits {
                let at = at % input.len();
                input[at] = byte;
            }
            check(&input);
        }
    }
}
