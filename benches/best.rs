//! best: typed decode of whole messages against two baselines measured in the same run:
//! `serde_json::from_slice` of the same message with the payload struct known in advance (no funcId dispatch),
//! and a decode through `serde_json::Value` converted into the same payload struct.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_main, Criterion};
use devproto::best::{
    self, CodecConfig, DeviceMessage, Envelope, FileId, FileUploadPackage, PlatformMessage, Report,
    UpdateUsers,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// The same message, typed without dispatch: the struct baseline. Fields are only deserialized, never read.
#[allow(dead_code)]
#[derive(Deserialize)]
struct Direct<P> {
    #[serde(rename = "funcId")]
    _func_id: String,
    #[serde(rename = "mid")]
    _mid: String,
    #[serde(rename = "sn", default)]
    _sn: Option<String>,
    payload: DirectPayload<P>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct DirectPayload<P> {
    params: P,
}

fn via_value<P: DeserializeOwned>(wire: &[u8]) -> P {
    let mut v: Value = serde_json::from_slice(wire).unwrap();
    serde_json::from_value(v["payload"]["params"].take()).unwrap()
}

const REPORT: &str = include_str!("../best-proto/tests/fixtures/3.5-dev.report.json");

fn users(n: usize) -> Vec<u8> {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "pin": format!("{}", 1000 + i), "role": "1",
                "password": best::crypto::user_password(&i.to_string(), "c09eb7463827cda245f3a398bd453c42").unwrap(),
                "passwordSalt": "c09eb7463827cda245f3a398bd453c42",
                "startTime": "2020-01-01T00:00:00+08:00", "endTime": "2020-12-31T23:59:59+08:00",
                "firstName": format!("user {i}"), "lastName": "lin", "funSwitch": "2", "disable": "0",
                "bioDatas": [{"no": "0", "index": "0", "valid": "1", "duress": "0", "type": "2",
                    "majorVer": "10", "minorVer": "1", "fmt": "0",
                    "tmp": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=".repeat(8)}],
                "ruleType": "2"
            })
        })
        .collect();
    let m = serde_json::json!({"funcId": "cmd.data.update.user", "mid": "m1",
        "payload": {"params": {"cmdId": "c1", "users": users}}});
    let wire = serde_json::to_vec(&m).unwrap();
    // Check that it is a valid message, and write it as the crate does.
    let codec = best::Codec::<PlatformMessage, PlatformMessage>::default();
    let env = codec.decode_text(&wire).unwrap();
    codec.encode_text(&env).unwrap()
}

fn package() -> Vec<u8> {
    let content: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i * 7 % 256).to_le_bytes()[0])
        .collect();
    let m = DeviceMessage::FileUploadPackage(FileUploadPackage {
        file_id: FileId::new("e78dc2cef23d495ab4f890fe3362bee9").unwrap(),
        offset: 65536,
        content: content.into(),
    });
    best::DeviceCodec::default()
        .encode_text(&Envelope::<DeviceMessage>::new("m1", m))
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let config = CodecConfig::default();
    let platform = best::PlatformCodec::new(config);
    let device = best::DeviceCodec::new(config);
    let report = REPORT.as_bytes().to_vec();
    let users = users(100);
    let package = package();

    let mut g = c.benchmark_group("best/dev.report");
    g.bench_function("Codec::decode_text", |b| {
        b.iter(|| platform.decode_text(black_box(&report)).unwrap())
    });
    g.bench_function("baseline serde_json struct", |b| {
        b.iter(|| serde_json::from_slice::<Direct<Report>>(black_box(&report)).unwrap())
    });
    g.bench_function("baseline serde_json Value", |b| {
        b.iter(|| via_value::<Report>(black_box(&report)))
    });
    g.finish();

    let mut g = c.benchmark_group("best/cmd.data.update.user x100");
    g.bench_function("Codec::decode_text", |b| {
        b.iter(|| device.decode_text(black_box(&users)).unwrap())
    });
    g.bench_function("baseline serde_json struct", |b| {
        b.iter(|| serde_json::from_slice::<Direct<UpdateUsers>>(black_box(&users)).unwrap())
    });
    g.bench_function("baseline serde_json Value", |b| {
        b.iter(|| via_value::<UpdateUsers>(black_box(&users)))
    });
    g.finish();

    let mut g = c.benchmark_group("best/dev.file.upload.package 64KiB");
    g.bench_function("Codec::decode_text", |b| {
        b.iter(|| platform.decode_text(black_box(&package)).unwrap())
    });
    g.bench_function("baseline serde_json struct", |b| {
        b.iter(|| serde_json::from_slice::<Direct<FileUploadPackage>>(black_box(&package)).unwrap())
    });
    g.bench_function("baseline serde_json Value", |b| {
        b.iter(|| via_value::<FileUploadPackage>(black_box(&package)))
    });
    g.finish();
}

/// The group lives in a private module: `criterion_group!` declares an undocumented `pub fn`.
mod group {
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
