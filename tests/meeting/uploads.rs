//! Chunked uploads: a photo cut off midway resumes at the platform's offset on the next connection (each
//! transport), across a platform restart too; the file is listed and downloadable at `/api/files`; bad upload
//! messages get the protocol's codes.

use std::time::Duration;

use best_proto::{
    Checksum, Code, DeviceMessage, FileId, FileUploadEnd, FileUploadPackage, FileUploadStart,
};
use bytes::Bytes;

use crate::{mosquitto, sim, Harness, WAIT};

/// A file of `len` bytes that is not all one value.
fn photo(len: usize, salt: u8) -> Bytes {
    (0..len)
        .map(|i| u8::try_from((i * 7 + usize::from(salt)) % 253).unwrap())
        .collect::<Vec<_>>()
        .into()
}

/// The platform's row of terminal `sn`'s `file_id`, once it is complete.
async fn complete(h: &Harness, sn: &str, file_id: &str) -> serde_json::Value {
    let list = h
        .poll("/api/files?limit=1000", |l| {
            l["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["sn"] == sn && f["file_id"] == file_id && f["state"] == "complete")
        })
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["sn"] == sn && f["file_id"] == file_id && f["state"] == "complete")
        .unwrap()
        .clone()
}

/// Checks the listed file and its download against `data`.
async fn check_download(h: &Harness, file: &serde_json::Value, data: &[u8]) {
    assert_eq!(file["size"], data.len());
    assert_eq!(file["received"], data.len());
    assert_eq!(file["md5"], hex::encode(Checksum::of(data).0));
    let id = file["id"].as_i64().unwrap();
    let r = h
        .api
        .get(&format!("/api/files/{id}/content"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, data, "downloaded bytes differ");
}

async fn resumed_events(h: &Harness, sn: &str) -> Vec<serde_json::Value> {
    let r = h
        .api
        .get(&format!("/api/events?device={sn}&kind=upload_resumed"))
        .await
        .unwrap();
    r.json()["items"].as_array().unwrap().clone()
}

async fn cut_and_resume(h: &Harness, transport: sim::Transport, prefix: &str) {
    h.provision(prefix, 1, 1).await;
    let s = h.terminals(prefix, 1, 1, transport).await;
    let sn = sim::sn(prefix, 1);
    let t = s.terminal(&sn).unwrap();
    let data = photo(300 * 1024 + 11, 3);
    let report = t
        .upload("photo1", data.clone(), Some(128 * 1024), WAIT)
        .await
        .unwrap();
    assert_eq!(report.code, Code::Success, "{report:?}");
    assert_eq!(report.attempts, 2, "one cut, one resume: {report:?}");
    assert!(
        report.resumed_at >= 128 * 1024 && report.resumed_at < data.len() as u64,
        "{report:?}"
    );
    assert!(t.local().logins >= 2, "the cut made a second login");
    let file = complete(h, &sn, "photo1").await;
    check_download(h, &file, &data).await;
    // The platform saw the resume at the offset it held.
    let events = resumed_events(h, &sn).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["offset"], report.resumed_at);
    // An upload without a cut takes one connection.
    let small = photo(5000, 9);
    let report = t.upload("photo2", small.clone(), None, WAIT).await.unwrap();
    assert_eq!((report.code, report.attempts), (Code::Success, 1));
    check_download(h, &complete(h, &sn, "photo2").await, &small).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_cut_off_midway_resumes_over_websocket_and_mqtt() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    cut_and_resume(&h, sim::Transport::Ws, "UW").await;
    cut_and_resume(&h, sim::Transport::Mqtt, "UM").await;
    h.platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_cut_off_midway_resumes_through_mosquitto() {
    if !mosquitto() {
        eprintln!("no MQTT broker on {}: skipped", crate::MOSQUITTO);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), Some(format!("mqtt://{}", crate::MOSQUITTO))).await;
    cut_and_resume(
        &h,
        sim::Transport::Mqtt,
        &format!("UQ{}", std::process::id() % 1000),
    )
    .await;
    h.platform.shutdown().await;
}

/// The bytes received before a platform restart are kept: the upload resumes on the new platform.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_after_a_platform_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.provision("UR", 1, 1).await;
    let sn = sim::sn("UR", 1);
    let data = photo(200 * 1024, 5);
    let file_id = FileId::new("restart1").unwrap();
    // A terminal sends the start and two chunks, then the platform stops.
    let files = &h.platform.files;
    let start = FileUploadStart {
        file_id: file_id.clone(),
        size: data.len() as u64,
        checksum: Some(Checksum::of(&data)),
    };
    let ok = |r: Option<best_proto::Response>| assert_eq!(r.unwrap().code, Code::Success);
    ok(files
        .handle(&sn, &DeviceMessage::FileUploadStart(start.clone()))
        .await);
    for offset in [0usize, 65536] {
        let package = FileUploadPackage {
            file_id: file_id.clone(),
            offset: offset as u64,
            content: data.slice(offset..offset + 65536),
        };
        ok(files
            .handle(&sn, &DeviceMessage::FileUploadPackage(package))
            .await);
    }
    h.platform.shutdown().await;
    // The new platform on the same data directory: the terminal announces the file again and resumes.
    let h = Harness::start_existing(dir.path()).await;
    let s = h.terminals("UR", 1, 1, sim::Transport::Ws).await;
    let report = s
        .terminal(&sn)
        .unwrap()
        .upload("restart1", data.clone(), None, WAIT)
        .await
        .unwrap();
    assert_eq!(report.code, Code::Success);
    let file = complete(&h, &sn, "restart1").await;
    check_download(&h, &file, &data).await;
    let events = resumed_events(&h, &sn).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["offset"], 131_072);
    h.platform.shutdown().await;
}

/// Each bad upload message gets its code, and the message names what was wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_upload_messages_are_answered_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir.path(), None, |c| {
        c.files.max_file_size = 1024 * 1024;
        c.files.max_uploads_per_terminal = 2;
    })
    .await;
    let files = &h.platform.files;
    let sn = "BAD0001";
    let id = |s: &str| FileId::new(s).unwrap();
    let data = photo(100_000, 1);
    let answer = |m: DeviceMessage| async move { files.handle(sn, &m).await.unwrap() };
    let start = |f: &str, size: u64, checksum: Option<Checksum>| {
        DeviceMessage::FileUploadStart(FileUploadStart {
            file_id: id(f),
            size,
            checksum,
        })
    };
    let package = |f: &str, offset: u64, content: Bytes| {
        DeviceMessage::FileUploadPackage(FileUploadPackage {
            file_id: id(f),
            offset,
            content,
        })
    };
    let end = |f: &str| DeviceMessage::FileUploadEnd(FileUploadEnd { file_id: id(f) });

    // Too large for the platform.
    let r = answer(start("big", 2 * 1024 * 1024, None)).await;
    assert_eq!(r.code, Code::MalformedParams);
    assert!(r.message.unwrap().contains("exceeds the maximum"));
    // A chunk for a file never started.
    let r = answer(package("nothing", 0, data.slice(0..10))).await;
    assert_eq!(r.code, Code::UnknownFileId);
    // The wrong offset: the answer names the expected one.
    let wrong = Checksum::of(b"something else");
    assert_eq!(
        answer(start("f1", data.len() as u64, Some(wrong)))
            .await
            .code,
        Code::Success
    );
    assert_eq!(
        answer(package("f1", 0, data.slice(0..60_000))).await.code,
        Code::Success
    );
    let r = answer(package("f1", 10, data.slice(10..20))).await;
    assert_eq!(r.code, Code::FileOffsetMismatch);
    assert_eq!(r.expected_offset(), Some(60_000));
    // A chunk over the limit, and one past the announced size.
    let r = answer(package("f1", 60_000, Bytes::from(vec![0u8; 70_000]))).await;
    assert_eq!(r.code, Code::MalformedParams);
    assert!(r.message.unwrap().contains("chunk of 70000 bytes"));
    // An early end keeps the upload and says where to go on.
    let r = answer(end("f1")).await;
    assert_eq!(r.code, Code::FileOffsetMismatch);
    assert_eq!(r.expected_offset(), Some(60_000));
    // At most two uploads at once for this terminal.
    assert_eq!(answer(start("f2", 10, None)).await.code, Code::Success);
    let r = answer(start("f3", 10, None)).await;
    assert_eq!(r.code, Code::MalformedParams);
    assert!(r.message.unwrap().contains("2 uploads already"));
    // The rest of f1, then an end whose checksum is wrong: refused and dropped.
    assert_eq!(
        answer(package("f1", 60_000, data.slice(60_000..)))
            .await
            .code,
        Code::Success
    );
    let r = answer(end("f1")).await;
    assert_eq!(r.code, Code::FileChecksumMismatch);
    assert_eq!(answer(end("f1")).await.code, Code::UnknownFileId);
    let list = h.api.get("/api/files").await.unwrap().json();
    let f1 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_id"] == "f1")
        .unwrap()
        .clone();
    assert_eq!(f1["state"], "failed");
    assert!(f1["error"].as_str().unwrap().contains("checksum"));
    // A failed or unfinished upload has no content to download; an unknown id is 404.
    let r = h
        .api
        .get(&format!("/api/files/{}/content", f1["id"]))
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(h.api.get("/api/files/999999").await.unwrap().status, 404);
    // Not a terminal's message: not an upload.
    assert!(files.handle(sn, &DeviceMessage::SyncTime).await.is_none());
    tokio::time::sleep(Duration::from_millis(10)).await;
    h.platform.shutdown().await;
}
