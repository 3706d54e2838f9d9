//! best: the upload receiver driven by arbitrary sequences of start/package/end messages (through JSON),
//! idle time and aborts, checked against a model of the bytes it accepted.
//!
//! Invariants: never more uploads than allowed; a completed file is exactly the accepted chunks, of the
//! announced size, with the announced checksum; an offset error names the model's offset.

#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use best_proto::upload::{UploadError, UploadEvent, UploadReceiver};
use best_proto::{
    Checksum, Codec, DeviceMessage, Envelope, FileId, FileUploadEnd, FileUploadPackage,
    FileUploadStart, UploadConfig,
};
use libfuzzer_sys::fuzz_target;

const MAX_CONCURRENT: usize = 2;

struct Model {
    size: u64,
    checksum: Option<Checksum>,
    data: Vec<u8>,
}

fn through_json(m: DeviceMessage) -> DeviceMessage {
    let codec = Codec::<DeviceMessage, DeviceMessage>::default();
    let wire = codec
        .encode_text(&Envelope::<DeviceMessage>::new("m", m))
        .unwrap();
    codec.decode_text(&wire).unwrap().message
}

fuzz_target!(|data: &[u8]| {
    let config = UploadConfig::default()
        .max_file_size(4096)
        .max_concurrent(MAX_CONCURRENT)
        .max_package_kb(1)
        .idle_timeout(Duration::from_secs(10));
    let mut rx = UploadReceiver::new(config);
    let mut now = Instant::now();
    let ids: Vec<FileId> = ["a", "b", "c"]
        .iter()
        .map(|s| FileId::new(*s).unwrap())
        .collect();
    let mut model: HashMap<FileId, Model> = HashMap::new();
    let mut ops = data.chunks_exact(6);
    for op in &mut ops {
        let id = ids[usize::from(op[1]) % ids.len()].clone();
        let n = u16::from_le_bytes([op[2], op[3]]);
        let message = match op[0] % 6 {
            0 => {
                // A checksum of the bytes a well-behaved sender would send, or a wrong one, or none.
                let size = u64::from(n % 5000);
                let checksum = match op[4] % 3 {
                    0 => None,
                    1 => Some(Checksum::of(&vec![op[5]; size as usize])),
                    _ => Some(Checksum([op[5]; 16])),
                };
                DeviceMessage::FileUploadStart(FileUploadStart {
                    file_id: id.clone(),
                    size,
                    checksum,
                })
            }
            1 | 2 => {
                // Mostly at the expected offset, sometimes anywhere.
                let offset = match (op[0] % 6, rx.received(&id)) {
                    (1, Some(r)) => r,
                    _ => u64::from(n),
                };
                let len = usize::from(op[4]) * 5;
                DeviceMessage::FileUploadPackage(FileUploadPackage {
                    file_id: id.clone(),
                    offset,
                    content: vec![op[5]; len].into(),
                })
            }
            3 => DeviceMessage::FileUploadEnd(FileUploadEnd {
                file_id: id.clone(),
            }),
            4 => {
                now += Duration::from_secs(u64::from(op[2] % 16));
                for expired in rx.expire(now) {
                    assert!(model.remove(&expired).is_some());
                }
                continue;
            }
            _ => {
                assert_eq!(rx.abort(&id), model.remove(&id).is_some());
                continue;
            }
        };
        let message = through_json(message);
        let outcome = rx.handle(now, &message).expect("an upload message");
        match (&message, outcome) {
            (DeviceMessage::FileUploadStart(s), Ok(UploadEvent::Started { received, .. })) => {
                if received == 0 {
                    model.insert(
                        id.clone(),
                        Model {
                            size: s.size,
                            checksum: s.checksum,
                            data: Vec::new(),
                        },
                    );
                } else {
                    assert_eq!(received, model[&id].data.len() as u64);
                }
            }
            (DeviceMessage::FileUploadPackage(p), Ok(UploadEvent::Progress { received, .. })) => {
                let m = model.get_mut(&id).expect("progress on a known upload");
                assert_eq!(p.offset, m.data.len() as u64);
                m.data.extend_from_slice(&p.content);
                assert_eq!(received, m.data.len() as u64);
                assert!(received <= m.size);
            }
            (DeviceMessage::FileUploadEnd(_), Ok(UploadEvent::Completed(f))) => {
                let m = model.remove(&id).expect("completion of a known upload");
                assert_eq!(f.data, m.data);
                assert_eq!(f.data.len() as u64, m.size);
                assert_eq!(f.checksum, Checksum::of(&m.data));
                if let Some(c) = m.checksum {
                    assert_eq!(c, f.checksum);
                }
            }
            (_, Err(UploadError::UnknownFileId { .. })) => assert!(!model.contains_key(&id)),
            (_, Err(e @ (UploadError::OffsetMismatch { .. } | UploadError::Incomplete { .. }))) => {
                assert_eq!(e.expected_offset(), Some(model[&id].data.len() as u64));
                assert_eq!(e.to_response().expected_offset(), e.expected_offset());
            }
            (_, Err(UploadError::ChecksumMismatch { .. })) => {
                let m = model.remove(&id).expect("a known upload");
                assert_ne!(m.checksum, Some(Checksum::of(&m.data)));
            }
            (_, Err(UploadError::TooManyUploads { .. })) => assert!(!model.contains_key(&id)),
            (_, Err(_)) => {}
            (m, Ok(e)) => panic!("{m:?} gave {e:?}"),
        }
        assert!(rx.in_progress() <= MAX_CONCURRENT);
        assert_eq!(rx.in_progress(), model.len());
    }
});
