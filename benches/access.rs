//! access: splitting + decoding a TCP stream against two baselines measured in the same run:
//! `serde_json::from_slice` of the same messages already split (into the same typed `Message`), and
//! `serde_json::StreamDeserializer` over the whole stream. Plus the cost of 1-byte reads against one read for a
//! 16 MiB message (splitter only: the parse after it is the same either way).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_main, BatchSize, Criterion, Throughput};
use devproto::access::{
    AccessInfo, Code, Codec, CodecConfig, Decoder, DownloadPerson, Encoder, Image, ImageFormat,
    InOutType, JsonSplitter, LocalTimestamp, Message, OpenDoorType, PersonInfo, Request,
    RequestBody, Role, SessionId, UploadAccessInfo,
};

/// Deterministic filler bytes (xorshift), so images do not compress into a pattern.
fn noise(len: usize, mut seed: u64) -> Bytes {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn session(i: u64) -> SessionId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    bytes[8..].copy_from_slice(&(i * 7919).to_le_bytes());
    SessionId::from_random_bytes(bytes)
}

fn record(i: u64) -> Message {
    let mut access_info =
        AccessInfo::at(LocalTimestamp::from_ymd_hms(2019, 8, 23, 12, 34, 35).unwrap());
    access_info.person_id = Some(format!("{}", 3_413_123_123 + i));
    access_info.id_number = Some("1545123".into());
    access_info.card_number = Some(format!("{}", 123_123_123 + i));
    access_info.role = Some(Role(12));
    access_info.open_door_type = Some(OpenDoorType(2));
    access_info.in_out_type = Some(InOutType(i64::try_from(i % 2).unwrap() + 1));
    access_info.community_code = Some("1231321".into());
    Request::new(
        session(i),
        RequestBody::UploadAccessInfo(UploadAccessInfo { access_info }),
    )
    .into()
}

fn person(image_len: usize) -> Message {
    let image = |seed| Image {
        width: 520,
        height: 690,
        format: ImageFormat(2),
        data: noise(image_len, seed),
    };
    let person_info = PersonInfo {
        person_id: "3413123123".into(),
        person_name: Some("张飒".into()),
        face: Some(image(1)),
        left_image: Some(image(2)),
        right_image: Some(image(3)),
        ..PersonInfo::default()
    };
    Request::new(
        session(0),
        RequestBody::DownloadPerson(DownloadPerson { person_info }),
    )
    .into()
}

/// The messages as one TCP stream, and the same messages pre-split.
fn stream(messages: &[Message]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut codec = Codec::default();
    let mut wire = BytesMut::new();
    let mut split = Vec::new();
    for m in messages {
        let start = wire.len();
        codec.encode(m, &mut wire).unwrap();
        split.push(wire[start..wire.len() - 1].to_vec());
    }
    (wire.to_vec(), split)
}

fn compare(c: &mut Criterion, group: &str, messages: &[Message]) {
    let (wire, split) = stream(messages);
    let count = messages.len();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(u64::try_from(wire.len()).unwrap()));
    g.bench_function("codec: split + decode (one read)", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| {
                let mut codec = Codec::default();
                let mut n = 0;
                while let Some(m) = codec.decode(buf).unwrap() {
                    black_box(m);
                    n += 1;
                }
                assert_eq!(n, count);
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("split_all + Message::from_json", |b| {
        b.iter(|| {
            let mut n = 0;
            for frame in JsonSplitter::split_all(black_box(&wire), &CodecConfig::default()) {
                black_box(Message::from_json(frame.unwrap()).unwrap());
                n += 1;
            }
            assert_eq!(n, count);
        });
    });
    g.bench_function("split only (split_all)", |b| {
        b.iter(|| {
            let n = JsonSplitter::split_all(black_box(&wire), &CodecConfig::default())
                .map(Result::unwrap)
                .count();
            assert_eq!(n, count);
        });
    });
    g.bench_function("baseline: serde_json::from_slice pre-split", |b| {
        b.iter(|| {
            for frame in black_box(&split) {
                black_box(serde_json::from_slice::<Message>(frame).unwrap());
            }
        });
    });
    g.bench_function("baseline: serde_json::StreamDeserializer", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in serde_json::Deserializer::from_slice(black_box(&wire)).into_iter::<Message>() {
                black_box(m.unwrap());
                n += 1;
            }
            assert_eq!(n, count);
        });
    });
    g.finish();
}

fn access_records(c: &mut Criterion) {
    let messages: Vec<Message> = (0..1000).map(record).collect();
    compare(c, "access/1000 upload_access_info", &messages);
    // Responses are the other half of the traffic: the same comparison for their acknowledgements.
    let acks: Vec<Message> = (0..1000)
        .map(|i| match record(i) {
            Message::Request(r) => r.reply(Code::Success, "").into(),
            Message::Response(r) => r.into(),
        })
        .collect();
    compare(c, "access/1000 upload_access_info responses", &acks);
}

fn download_person(c: &mut Criterion) {
    compare(c, "access/download_person 3x120KB", &[person(120 * 1024)]);
}

/// Splitting one ~16 MiB message from 1-byte reads against 4 KiB reads and one read; 1 MiB shows the scaling.
fn read_sizes(c: &mut Criterion) {
    let mut g = c.benchmark_group("access/16MiB message reads");
    g.sample_size(10);
    // Three images of 4 MiB - 64 KiB make a message just under the default 16 MiB limit.
    for (label, image_len) in [("1 MiB", 256 * 1024), ("16 MiB", (4 * 1024 - 64) * 1024)] {
        let (wire, _) = stream(&[person(image_len)]);
        let config = CodecConfig::default();
        assert!(wire.len() <= config.max_message_len);
        g.throughput(Throughput::Bytes(u64::try_from(wire.len()).unwrap()));
        for read in [wire.len(), 4096, 1] {
            let name = match read {
                1 => format!("{label}: 1-byte reads"),
                4096 => format!("{label}: 4 KiB reads"),
                _ => format!("{label}: one read"),
            };
            if label == "1 MiB" && read != 1 {
                continue;
            }
            g.bench_function(name, |b| {
                b.iter(|| {
                    let mut splitter = JsonSplitter::new(&config);
                    let mut buf = BytesMut::with_capacity(wire.len());
                    let mut frames = 0;
                    for piece in wire.chunks(read) {
                        buf.extend_from_slice(piece);
                        if let Some(frame) = splitter.decode(&mut buf).unwrap() {
                            black_box(frame);
                            frames += 1;
                        }
                    }
                    assert_eq!(frames, 1);
                });
            });
        }
    }
    g.finish();
}

/// The group lives in a private module: `criterion_group!` declares an undocumented `pub fn`.
mod group {
    criterion::criterion_group!(
        benches,
        super::access_records,
        super::download_person,
        super::read_sizes
    );
}

criterion_main!(group::benches);
