//! aliscan: decode and encode of a `files/scan/status` page of 10 full records, against two baselines measured
//! in the same run: `serde_json` straight into a plain struct holding the same payload type (no topic
//! dispatch, no limits, no lenient retry), and `serde_json::Value`.
//!
//! Each Value baseline times the steps a codec working through a `Value` cannot skip:
//! - decode: `serde_json::from_slice::<Value>` of the bytes, parsing into the tree. Reading the fields back
//!   out of it (and base64-decoding each `qrData`, which the other two cases do) is not timed, which favours
//!   the baseline.
//! - encode: `serde_json::to_value` of the data (the same `PlainPage` the struct baseline writes), then
//!   `serde_json::to_string` of that `Value`. An encoder starts from its data, not from a finished tree: the
//!   tree must be built (records turned into maps, `qrData` into its base64 string) before it can be written.
//!
//! `reference_prebuilt_value_write` times only the second encode step, `to_string` of a `Value` built before
//! the loop: a tree walk over data that is already formatted (the 1 KiB `qrData` of each record is a finished
//! base64 string there, while every other case base64-encodes it per call). It is kept as a reference, not as
//! a baseline.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{black_box, criterion_main, Criterion};
use devproto::aliscan::{
    Blob, Envelope, ErrorCode, ErrorInfo, FootFeature, Measurements, PadCodec, RecordStatus,
    ScanPage, ScanRecord, Sex, StationCodec, StationMessage, StationTime, SubmitStatus,
    UploadBlock, UploadStatus, UserInfo,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The struct baseline: the same message as a plain serde struct.
#[derive(Serialize, Deserialize)]
struct PlainPage {
    topic: String,
    #[serde(rename = "padId")]
    pad_id: String,
    data: ScanPage,
}

fn upload(i: usize, kind: &str) -> UploadBlock {
    UploadBlock {
        status: Some(UploadStatus::Uploaded),
        path: Some(format!("D:/aliscan/data/FS0042-20191105-0930{i:02}/{kind}")),
        save_name: Some(format!("{kind}_{i}.stl")),
        oss_url: Some(format!(
            "https://oss.example.com/scan/FS0042-20191105-0930{i:02}/{kind}_{i}.stl"
        )),
        last_upload_time: Some("2019-11-05 09:41:07".parse().unwrap()),
        upload_num: Some(1),
        error: Some(ErrorInfo::ok()),
    }
}

fn record(i: usize) -> ScanRecord {
    let mut result = Measurements::default();
    for (n, name) in Measurements::WIRE_NAMES.iter().enumerate() {
        // Whole numbers for the size and class fields, millimetres with two decimals for the rest.
        let value = if n < 15 {
            (n % 5) as f64
        } else {
            30.0 + n as f64 * 3.17 + i as f64 * 0.01
        };
        *result.get_mut(name).unwrap() = Some(value);
    }
    let time: StationTime = format!("2019-11-05 09:30:{i:02}").parse().unwrap();
    ScanRecord {
        scan_id: Some(format!("FS0042-20191105-0930{i:02}")),
        request_id: Some(format!("req-7f3a9c2e-{i:04}")),
        create_pad_id: Some("pad-7c2b9e".into()),
        update_pad_id: Some("pad-7c2b9e".into()),
        save_path: Some(format!("D:/aliscan/data/FS0042-20191105-0930{i:02}")),
        qr_tag: Some(format!(
            "https://m.example.com/foot?scan=FS0042-20191105-0930{i:02}"
        )),
        foot_features: Some(
            (0..3)
                .map(|k| FootFeature {
                    images: Some(format!("/f/FS0042-20191105-0930{i:02}/feature{k}.png")),
                    text: Some(
                        "足弓偏高，建议选择支撑性好的鞋 (high arch: choose supportive shoes)"
                            .into(),
                    ),
                })
                .collect(),
        ),
        advise2: Some("建议选择鞋头宽松的款式。Choose a roomy toe box.".into()),
        advise1: Some(vec!["足弓支撑".into(), "宽楦".into(), "软底".into()]),
        user_info: Some(UserInfo {
            telephone: Some("13800138000".into()),
            member_num: Some(format!("M{i:08}")),
            name: Some("张三".into()),
            operator: Some("店员01".into()),
            birthday: Some("1990-01-01".into()),
            status: Some(SubmitStatus::Complete),
        }),
        sex: Some(if i.is_multiple_of(2) {
            Sex::Female
        } else {
            Sex::Male
        }),
        create_time: Some(time),
        update_time: Some(time),
        mini: Some(upload(i, "mini")),
        scan: Some(upload(i, "scan")),
        // A QR code PNG of about 1 KiB, as the station embeds it.
        qr_data: Some(Blob(Bytes::from(
            (0..1024u32)
                .map(|b| u8::try_from(b * 31 % 251).unwrap())
                .collect::<Vec<u8>>(),
        ))),
        result: Some(result),
        result_status: Some(SubmitStatus::Complete),
        result_pri_status: Some(SubmitStatus::Init),
        status: Some(RecordStatus::Enable),
        error: Some(ErrorInfo::from_code(ErrorCode::OK)),
    }
}

fn page() -> StationMessage {
    StationMessage::FilesStatus(Envelope::new(
        "pad-7c2b9e",
        ScanPage {
            count: 57,
            page: 1,
            page_size: 10,
            list: (0..10).map(record).collect(),
        },
    ))
}

fn bench(c: &mut Criterion) {
    let message = page();
    let station = StationCodec::default();
    let pad = PadCodec::default();
    let text = station.encode_text(&message).unwrap();
    let bytes = text.as_bytes();
    let plain: PlainPage = serde_json::from_slice(bytes).unwrap();
    let value: Value = serde_json::from_slice(bytes).unwrap();
    // Both baselines see exactly the bytes the codec writes.
    assert_eq!(serde_json::to_string(&plain).unwrap(), text);
    assert_eq!(serde_json::to_value(&plain).unwrap(), value);
    // A `Value` object keeps its keys sorted (serde_json without `preserve_order`): it writes the same
    // members, in another order, so the same number of bytes.
    assert_eq!(serde_json::to_string(&value).unwrap().len(), text.len());
    assert_eq!(pad.decode_text(bytes).unwrap(), message);

    let mut g = c.benchmark_group("aliscan/files_scan_status_10_records/decode");
    g.throughput(criterion::Throughput::Bytes(bytes.len() as u64));
    g.bench_function("codec_typed", |b| {
        b.iter(|| pad.decode_text(black_box(bytes)).unwrap())
    });
    g.bench_function("baseline_struct", |b| {
        b.iter(|| serde_json::from_slice::<PlainPage>(black_box(bytes)).unwrap())
    });
    g.bench_function("baseline_value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(bytes)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("aliscan/files_scan_status_10_records/encode");
    g.throughput(criterion::Throughput::Bytes(bytes.len() as u64));
    g.bench_function("codec_typed", |b| {
        b.iter(|| station.encode_text(black_box(&message)).unwrap())
    });
    g.bench_function("baseline_struct", |b| {
        b.iter(|| serde_json::to_string(black_box(&plain)).unwrap())
    });
    g.bench_function("baseline_value", |b| {
        b.iter(|| {
            let tree = serde_json::to_value(black_box(&plain)).unwrap();
            serde_json::to_string(&tree).unwrap()
        })
    });
    g.bench_function("reference_prebuilt_value_write", |b| {
        b.iter(|| serde_json::to_string(black_box(&value)).unwrap())
    });
    g.finish();
}

/// The group lives in a private module: `criterion_group!` declares an undocumented `pub fn`.
mod group {
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
