//! Large file upload: sender and receiver, over the wire, with the failure cases of DECISIONS.md.

use std::time::{Duration, Instant};

use best_proto::upload::{UploadError, UploadEvent, UploadReceiver, UploadSender};
use best_proto::*;
use bytes::Bytes;

/// One message through the codec, for messages of `M`'s direction.
fn decode<M: Body>(input: &[u8], config: &CodecConfig) -> Result<Envelope<M>, DecodeError> {
    Codec::<M, M>::new(*config).decode_text(input)
}

/// One message through the codec, for messages of `M`'s direction.
fn encode<M: Body>(envelope: &Envelope<M>, config: &CodecConfig) -> Result<Vec<u8>, EncodeError> {
    Codec::<M, M>::new(*config).encode_text(envelope)
}

fn file(len: usize) -> Bytes {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn id(s: &str) -> FileId {
    FileId::new(s).unwrap()
}

/// Sends a device message through JSON and back, as the platform would receive it.
fn over_the_wire(m: DeviceMessage) -> DeviceMessage {
    let env = Envelope::<DeviceMessage>::new("m", m);
    let wire = encode(&env, &CodecConfig::default()).unwrap();
    decode::<DeviceMessage>(&wire, &CodecConfig::default())
        .unwrap()
        .message
}

#[test]
fn a_file_travels_in_chunks_of_max_package_size() {
    let data = file(150 * 1024 + 7);
    let sender = UploadSender::new(id("f1"), data.clone(), 64);
    let messages: Vec<DeviceMessage> = sender.messages().map(over_the_wire).collect();
    // start, 64 KiB, 64 KiB, 22 KiB + 7, end
    assert_eq!(messages.len(), 5);
    let DeviceMessage::FileUploadStart(start) = &messages[0] else {
        panic!()
    };
    assert_eq!(start.size, data.len() as u64);
    assert_eq!(start.checksum, Some(Checksum::of(&data)));
    let offsets: Vec<(u64, usize)> = messages
        .iter()
        .filter_map(|m| match m {
            DeviceMessage::FileUploadPackage(p) => Some((p.offset, p.content.len())),
            _ => None,
        })
        .collect();
    assert_eq!(offsets, [(0, 65536), (65536, 65536), (131072, 22535)]);

    let mut rx = UploadReceiver::new(UploadConfig::default());
    let now = Instant::now();
    let mut completed = None;
    for m in &messages {
        let outcome = rx.handle(now, m).unwrap();
        assert!(
            UploadReceiver::reply(&outcome).code.is_success(),
            "{outcome:?}"
        );
        if let Ok(UploadEvent::Completed(f)) = outcome {
            completed = Some(f);
        }
    }
    let f = completed.unwrap();
    assert_eq!(f.data, data);
    assert_eq!(f.checksum, sender.checksum());
    assert_eq!(rx.in_progress(), 0);
}

#[test]
fn a_wrong_offset_is_answered_with_the_expected_one_and_the_device_resumes() {
    let data = file(5000);
    let sender = UploadSender::new(id("f2"), data.clone(), 1);
    let mut rx = UploadReceiver::new(UploadConfig::default().max_package_kb(1));
    let now = Instant::now();
    rx.start(now, &sender.start()).unwrap();
    rx.package(now, &sender.package_at(0).unwrap()).unwrap();
    rx.package(now, &sender.package_at(1024).unwrap()).unwrap();
    // The device lost track and resends from 1024 again.
    let err = rx
        .package(now, &sender.package_at(1024).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        UploadError::OffsetMismatch {
            file_id: id("f2"),
            expected: 2048,
            found: 1024
        }
    );
    let reply = err.to_response();
    assert_eq!(reply.code, Code::FileOffsetMismatch);
    assert_eq!(reply.code.as_str(), "30000002");
    // The reply travels to the device, which reads the offset and resumes from there.
    let wire = encode(
        &Envelope::<PlatformMessage>::new("m", reply),
        &CodecConfig::default(),
    )
    .unwrap();
    let PlatformMessage::Response(received) =
        decode::<PlatformMessage>(&wire, &CodecConfig::default())
            .unwrap()
            .message
    else {
        panic!()
    };
    let resume = received.expected_offset().unwrap();
    assert_eq!(resume, 2048);
    for p in sender.packages_from(resume) {
        rx.package(now, &p).unwrap();
    }
    let done = rx.end(now, &sender.end()).unwrap();
    assert_eq!(done.data, data);
}

#[test]
fn an_early_end_says_where_to_resume_and_keeps_the_upload() {
    let data = file(3000);
    let sender = UploadSender::new(id("f3"), data.clone(), 1);
    let mut rx = UploadReceiver::new(UploadConfig::default());
    let now = Instant::now();
    rx.start(now, &sender.start()).unwrap();
    rx.package(now, &sender.package_at(0).unwrap()).unwrap();
    let err = rx.end(now, &sender.end()).unwrap_err();
    assert_eq!(err.code(), Code::FileOffsetMismatch);
    assert_eq!(err.expected_offset(), Some(1024));
    assert_eq!(err.to_response().expected_offset(), Some(1024));
    assert_eq!(rx.received(&id("f3")), Some(1024));
    for p in sender.packages_from(1024) {
        rx.package(now, &p).unwrap();
    }
    assert_eq!(rx.end(now, &sender.end()).unwrap().data, data);
}

#[test]
fn a_corrupted_chunk_fails_the_checksum_and_drops_the_upload() {
    let data = file(2000);
    let sender = UploadSender::new(id("f4"), data, 1);
    let mut rx = UploadReceiver::new(UploadConfig::default());
    let now = Instant::now();
    rx.start(now, &sender.start()).unwrap();
    for (i, mut p) in sender.packages_from(0).enumerate() {
        if i == 1 {
            let mut bytes = p.content.to_vec();
            bytes[10] ^= 0xff;
            p.content = bytes.into();
        }
        rx.package(now, &p).unwrap();
    }
    let err = rx.end(now, &sender.end()).unwrap_err();
    assert!(
        matches!(&err, UploadError::ChecksumMismatch { expected, .. } if *expected == sender.checksum())
    );
    assert_eq!(err.code().as_str(), "30000001");
    assert_eq!(rx.in_progress(), 0);
    // Further messages for it are for an unknown file.
    let err = rx.end(now, &sender.end()).unwrap_err();
    assert_eq!(err.code().as_str(), "30000003");
}

#[test]
fn without_a_checksum_only_the_size_is_checked() {
    let mut rx = UploadReceiver::new(UploadConfig::default());
    let now = Instant::now();
    let start = FileUploadStart {
        file_id: id("f5"),
        size: 3,
        checksum: None,
    };
    rx.start(now, &start).unwrap();
    let p = FileUploadPackage {
        file_id: id("f5"),
        offset: 0,
        content: Bytes::from_static(b"abc"),
    };
    rx.package(now, &p).unwrap();
    let done = rx.end(now, &FileUploadEnd { file_id: id("f5") }).unwrap();
    assert_eq!(&done.data[..], b"abc");
    assert_eq!(done.checksum, Checksum::of(b"abc"));
}

#[test]
fn a_missing_end_expires_after_the_idle_timeout() {
    let config = UploadConfig::default()
        .idle_timeout(Duration::from_secs(60))
        .max_concurrent(1);
    let mut rx = UploadReceiver::new(config);
    let t0 = Instant::now();
    let sender = UploadSender::new(id("f6"), file(100), 64);
    rx.start(t0, &sender.start()).unwrap();
    rx.package(t0, &sender.package_at(0).unwrap()).unwrap();
    // No end: the slot stays taken.
    let other = UploadSender::new(id("f7"), file(10), 64);
    let err = rx.start(t0, &other.start()).unwrap_err();
    assert_eq!(err, UploadError::TooManyUploads { max: 1 });
    assert_eq!(err.code(), Code::MalformedParams);
    assert!(rx.expire(t0 + Duration::from_secs(59)).is_empty());
    assert_eq!(rx.expire(t0 + Duration::from_secs(60)), vec![id("f6")]);
    assert!(rx
        .start(t0 + Duration::from_secs(60), &other.start())
        .is_ok());
    let err = rx.end(t0, &sender.end()).unwrap_err();
    assert_eq!(err, UploadError::UnknownFileId { file_id: id("f6") });
}

#[test]
fn oversized_files_and_chunks_are_refused() {
    let mut rx = UploadReceiver::new(
        UploadConfig::default()
            .max_file_size(1000)
            .max_package_kb(1),
    );
    let now = Instant::now();
    let big = FileUploadStart {
        file_id: id("big"),
        size: 1001,
        checksum: None,
    };
    assert_eq!(
        rx.start(now, &big).unwrap_err(),
        UploadError::FileTooLarge {
            file_id: id("big"),
            size: 1001,
            max: 1000
        }
    );
    assert_eq!(rx.in_progress(), 0);

    let ok = FileUploadStart {
        file_id: id("ok"),
        size: 1000,
        checksum: None,
    };
    rx.start(now, &ok).unwrap();
    let chunk = |offset: u64, len: usize| FileUploadPackage {
        file_id: id("ok"),
        offset,
        content: vec![1u8; len].into(),
    };
    assert_eq!(
        rx.package(now, &chunk(0, 1025)).unwrap_err(),
        UploadError::ChunkTooLarge {
            file_id: id("ok"),
            len: 1025,
            max: 1024
        }
    );
    rx.package(now, &chunk(0, 900)).unwrap();
    assert_eq!(
        rx.package(now, &chunk(900, 101)).unwrap_err(),
        UploadError::BeyondSize {
            file_id: id("ok"),
            end: 1001,
            size: 1000
        }
    );
    // Refusals keep the upload: the right chunk still completes it.
    rx.package(now, &chunk(900, 100)).unwrap();
    assert_eq!(
        rx.end(now, &FileUploadEnd { file_id: id("ok") })
            .unwrap()
            .data
            .len(),
        1000
    );
}

#[test]
fn announcing_an_upload_again_keeps_or_restarts_it() {
    let sender = UploadSender::new(id("f8"), file(3000), 1);
    let mut rx = UploadReceiver::new(UploadConfig::default());
    let now = Instant::now();
    rx.start(now, &sender.start()).unwrap();
    rx.package(now, &sender.package_at(0).unwrap()).unwrap();
    assert_eq!(
        rx.start(now, &sender.start()).unwrap(),
        UploadEvent::Started {
            file_id: id("f8"),
            received: 1024
        }
    );
    let mut changed = sender.start();
    changed.size += 1;
    assert_eq!(
        rx.start(now, &changed).unwrap(),
        UploadEvent::Started {
            file_id: id("f8"),
            received: 0
        }
    );
}

#[test]
fn an_empty_file_completes() {
    let sender = UploadSender::new(id("empty"), Bytes::new(), 64);
    let mut rx = UploadReceiver::new(UploadConfig::default());
    let now = Instant::now();
    let outcomes: Vec<_> = sender
        .messages()
        .map(|m| rx.handle(now, &m).unwrap())
        .collect();
    assert_eq!(outcomes.len(), 2);
    let Ok(UploadEvent::Completed(f)) = &outcomes[1] else {
        panic!("{outcomes:?}")
    };
    assert!(f.data.is_empty());
    assert_eq!(rx.handle(now, &DeviceMessage::SyncTime), None);
}
