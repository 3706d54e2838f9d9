//! The access stream splitter on arbitrary bytes.
//!
//! Invariants: no panic; the splitter never consumes more than it was fed, and what it consumed is exactly the
//! frames plus the whitespace between them; every frame is a `{...}` slice of the input within the limit; the
//! incremental splitter (fed in pieces whose size the input chooses) and the whole-input splitter agree; and
//! the messages that decode, encoded back to back (with and without the `\n`), split at any piece size,
//! give back the same messages.
#![no_main]

use access_proto::{Codec, CodecConfig, Decoder, Encoder, JsonSplitter, Message};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

/// A small limit so that the over-limit path is reached too.
const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece % 64) + 1;
    let config = CodecConfig::default().max_message_len(MAX);

    let mut splitter = JsonSplitter::new(&config);
    let mut buf = BytesMut::new();
    let (mut fed, mut consumed, mut frames) = (0usize, 0usize, Vec::new());
    let mut ranges = Vec::new();
    let mut failed = false;
    'feed: for chunk in input.chunks(piece) {
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        loop {
            let before = buf.len();
            let step = splitter.decode(&mut buf);
            consumed += before - buf.len();
            match step {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= MAX);
                    assert_eq!((frame.first(), frame.last()), (Some(&b'{'), Some(&b'}')));
                    let end = usize::try_from(splitter.stream_offset()).unwrap();
                    assert_eq!(&input[end - frame.len()..end], &frame[..]);
                    ranges.push((end - frame.len(), end));
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(e.is_fatal());
                    failed = true;
                    break 'feed;
                }
            }
        }
    }
    assert!(consumed <= fed);
    assert_eq!(u64::try_from(consumed).unwrap(), splitter.stream_offset());
    // Between and around the frames, only whitespace was consumed.
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut cursor = 0;
    for &(start, end) in &ranges {
        assert!(input[cursor..start].iter().all(is_ws));
        cursor = end;
    }
    assert!(input[cursor..consumed].iter().all(is_ws));

    let whole: Vec<_> = JsonSplitter::split_all(input, &config).collect();
    let whole_frames: Vec<&[u8]> = whole
        .iter()
        .filter_map(|f| f.as_ref().ok().copied())
        .collect();
    assert_eq!(whole_frames.len(), frames.len());
    for (a, b) in whole_frames.iter().zip(&frames) {
        assert_eq!(*a, &b[..]);
    }
    if !failed {
        // Without a framing error the whole-input splitter ends cleanly or with the unfinished tail.
        match whole.last() {
            Some(Err(e)) => assert_eq!(
                e.to_string(),
                format!(
                    "stream ended inside a message ({} bytes of an unfinished JSON object)",
                    buf.len()
                )
            ),
            _ => assert!(buf.is_empty()),
        }
    }

    // Re-encode what decoded and split the re-encoded stream at the same piece size.
    let messages: Vec<Message> = frames
        .iter()
        .filter_map(|f| Message::from_json(f).ok())
        .collect();
    let mut codec = Codec::new(CodecConfig::default());
    for newline in [true, false] {
        let mut wire = BytesMut::new();
        for m in &messages {
            codec
                .encode(m, &mut wire)
                .expect("a decoded message encodes");
            if !newline {
                wire.truncate(wire.len() - 1);
            }
        }
        let mut rx = Codec::default();
        let mut buf = BytesMut::new();
        let mut again = Vec::new();
        for chunk in wire.chunks(piece) {
            buf.extend_from_slice(chunk);
            while let Some(m) = rx.decode(&mut buf).expect("an encoded message decodes") {
                again.push(m);
            }
        }
        assert_eq!(rx.decode_eof(&mut buf).unwrap(), None);
        assert_eq!(again, messages);
    }
});
