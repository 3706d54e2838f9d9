//! The kingxun frame decoder, then the typed decode with sealed bodies opened under a fixed key (the
//! DECISIONS.md KEY and IV, so the committed seeds open).
//!
//! Invariants: no panic; consumed <= input; a frame that decodes to a packet re-encodes, with the same cipher,
//! to exactly the frame's bytes, and that encoding decodes back to the same packet; a packet's JSON form reads
//! back to the same packet.
#![no_main]

use bytes::BytesMut;
use kingxun_proto::{decode_frame, CodecConfig, LinkCipher, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = CodecConfig::default().max_body_len(1 << 16);
    let cipher = LinkCipher::new(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [
            16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
        ],
    );
    let mut buf = BytesMut::from(data);
    let mut consumed = 0usize;
    while let Ok(Some(frame)) = decode_frame(&config, &mut buf) {
        let start = consumed;
        consumed = data.len() - buf.len();
        assert!(consumed <= data.len());
        let Ok(packet) = Packet::decode(&frame, Some(&cipher)) else {
            continue;
        };
        let mut again = BytesMut::new();
        packet
            .encode(Some(&cipher), &config, &mut again)
            .expect("a decoded packet re-encodes");
        assert_eq!(
            &again[..],
            &data[start..consumed],
            "re-encoding is byte-exact"
        );
        let frame = decode_frame(&config, &mut again).unwrap().unwrap();
        assert_eq!(Packet::decode(&frame, Some(&cipher)).unwrap(), packet);
        let json = serde_json::to_vec(&packet).unwrap();
        let back: Packet = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, packet);
    }
});
