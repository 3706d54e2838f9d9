//! The uploader against the simulated cloud: failures, retries, a restart, recovery, file expiry; and the
//! `.server.json` intervals.

use std::collections::BTreeSet;
use std::time::Duration;

use aliscan_proto::{ErrorCode, Sex, StationMessage, UploadStatus};
use device_core::aliscan::{PadCommand, PadEvent, PadReply};

use crate::station::records::fully_uploaded;
use crate::{call, fast_settings, next_event, pad, start, until, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_fails_and_recovers_across_a_restart_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(fast_settings(dir.path())).await;
    let cloud = running.cloud.clone().unwrap();
    let mut a = pad(&running, "pad-a").await;
    // The cloud is reachable, then fails.
    until("reachability known", || running.reach.get() == Some(true)).await;
    cloud.set_failing(true);
    let started = call(&a, PadCommand::Scan { sex: Sex::Male }).await;
    let scan_id = match started {
        PadReply::ScanStarted(s) => s.scan_id,
        other => panic!("{other:?}"),
    };
    // Pads are told the cloud is unreachable, and the record's failed upload.
    wait_for(&mut a.1, |e| match e {
        PadEvent::Message(m) => {
            matches!(m.as_ref(), StationMessage::NetResult(env) if !env.data).then_some(())
        }
        _ => None,
    })
    .await;
    let failed = wait_for(&mut a.1, |e| match e {
        PadEvent::Message(m) => match m.as_ref() {
            StationMessage::FilesUpdate(u) if u.scan_id == scan_id => Some(u.data.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    let scan = failed.scan.clone().unwrap();
    assert_eq!(scan.status, Some(UploadStatus::Fail));
    assert_eq!(scan.error.unwrap().code, ErrorCode::OSS_UPLOAD_FAILED);
    // Retried at the retry interval (400 ms here): several refused attempts.
    let before = cloud.refused();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(cloud.refused() > before, "no retry happened");
    match call(&a, PadCommand::Statistics).await {
        PadReply::Statistics(s) => {
            assert_eq!(s.total, 1);
            assert_eq!(s.scan_fail, 1);
            assert_eq!(s.mini_fail, 1);
            assert_eq!(s.uncomplete, 1);
        }
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
    assert!(cloud
        .records()
        .get(&scan_id)
        .is_none_or(|r| r.record.is_none()));

    // While the station is down, the store holds the record as pending.
    {
        let store = crate::station::open_store(&fast_settings(dir.path()))
            .await
            .unwrap();
        let (records, writer) = crate::station::records::Records::open(store.clone(), dir.path())
            .await
            .unwrap();
        let pending = records
            .get(&scan_id)
            .expect("the record survived the restart");
        assert!(!fully_uploaded(&pending));
        assert_eq!(records.statistics().await.unwrap().scan_fail, 1);
        drop(records);
        writer.await.unwrap();
        store.close().await;
    }
    // After a restart on the same store it goes up, the cloud having recovered.
    let running = start(fast_settings(dir.path())).await;
    let cloud = running.cloud.clone().unwrap();
    until("the record is uploaded", || {
        running
            .records
            .get(&scan_id)
            .is_some_and(|r| fully_uploaded(&r))
    })
    .await;
    let got = cloud.records();
    let got = &got[&scan_id];
    assert_eq!(got.record.as_ref().unwrap()["scanId"], scan_id.as_str());
    assert_eq!(got.files.len(), 3);
    let r = running.records.get(&scan_id).unwrap();
    let scan = r.scan.unwrap();
    assert!(scan.upload_num.unwrap() >= 2, "{scan:?}");
    assert!(scan.oss_url.unwrap().contains(&scan_id));
    assert_eq!(running.reach.get(), Some(true));
    let stats = running.records.statistics().await.unwrap();
    assert_eq!((stats.total, stats.uncomplete, stats.scan_fail), (1, 0, 0));
    running.shutdown().await;
}

/// What a pad heard while the cloud failed.
#[derive(Default)]
struct Failing {
    /// `equipment/net/result` false arrived.
    unreachable: bool,
    /// The records whose failed upload was pushed.
    failed: BTreeSet<String>,
}

impl Failing {
    /// Takes one event in; the `scanId` of a finished scan.
    fn note(&mut self, event: PadEvent) -> Option<String> {
        match event {
            PadEvent::ScanFinished(r) => return Some(r.scan_id.clone()),
            PadEvent::Message(m) => match *m {
                StationMessage::NetResult(env) => {
                    assert!(!env.data, "the cloud reported reachable while failing");
                    self.unreachable = true;
                }
                StationMessage::FilesUpdate(u) => {
                    let scan = u.data.scan.clone().unwrap();
                    assert_eq!(scan.status, Some(UploadStatus::Fail), "{}", u.scan_id);
                    assert_eq!(
                        scan.error.unwrap().code,
                        ErrorCode::OSS_UPLOAD_FAILED,
                        "{}",
                        u.scan_id
                    );
                    self.failed.insert(u.scan_id);
                }
                _ => {}
            },
            _ => {}
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_fails_and_recovers_while_the_station_runs_and_each_record_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    // retryUploadInterval: a failed record is tried again this long after.
    settings.upload.retry = Some(Duration::from_millis(300));
    let running = start(settings).await;
    let cloud = running.cloud.clone().unwrap();
    let mut a = pad(&running, "pad-a").await;
    until("reachability known", || running.reach.get() == Some(true)).await;
    cloud.set_failing(true);

    // Three scans while the cloud refuses everything. The pad is told the cloud is unreachable, and every
    // record's failed upload (some of it while the next scan runs).
    let mut ids = Vec::new();
    let mut seen = Failing::default();
    for i in 0..3 {
        if i > 0 {
            // scanId has a one-second resolution: the next scan waits for the next second.
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        let scan_id = match call(&a, PadCommand::Scan { sex: Sex::Female }).await {
            PadReply::ScanStarted(s) if !s.scan_id.is_empty() => s.scan_id,
            other => panic!("scan {i} did not start: {other:?}"),
        };
        while seen.note(next_event(&mut a.1).await).as_deref() != Some(scan_id.as_str()) {}
        ids.push(scan_id);
    }
    while !seen.unreachable || seen.failed.len() < ids.len() {
        seen.note(next_event(&mut a.1).await);
    }
    assert_eq!(seen.failed, ids.iter().cloned().collect::<BTreeSet<_>>());
    for id in &ids {
        assert!(!fully_uploaded(&running.records.get(id).unwrap()), "{id}");
    }
    assert_eq!(running.reach.get(), Some(false));
    assert!(
        cloud.records().is_empty(),
        "the failing cloud kept something: {:?}",
        cloud.records()
    );

    // The cloud recovers in the same run: the pad hears it is reachable again, every record goes up.
    cloud.set_failing(false);
    let mut reachable = false;
    let mut uploaded = BTreeSet::new();
    while !reachable || uploaded.len() < ids.len() {
        let PadEvent::Message(m) = next_event(&mut a.1).await else {
            continue;
        };
        match *m {
            StationMessage::NetResult(env) if env.data => reachable = true,
            StationMessage::FilesUpdate(u)
                if u.data.scan.as_ref().and_then(|b| b.status.clone())
                    == Some(UploadStatus::Uploaded) =>
            {
                assert!(fully_uploaded(&u.data), "{}: {:?}", u.scan_id, u.data);
                uploaded.insert(u.scan_id);
            }
            _ => {}
        }
    }
    assert_eq!(uploaded, ids.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(running.reach.get(), Some(true));
    // Nothing lost, nothing doubled: each record and each of its files accepted exactly once.
    let received = cloud.records();
    assert_eq!(
        received.keys().cloned().collect::<Vec<_>>(),
        ids,
        "the cloud has other records than the scans"
    );
    for id in &ids {
        let got = &received[id];
        assert_eq!(
            got.record_posts, 1,
            "{id}: record sent {} times",
            got.record_posts
        );
        assert_eq!(got.record.as_ref().unwrap()["scanId"], id.as_str());
        let saved = std::path::PathBuf::from(running.records.get(id).unwrap().save_path.unwrap());
        for name in ["mini.stl", "scan.stl", "cloud.xyz"] {
            assert_eq!(got.file_posts.get(name), Some(&1), "{id}: {name} posts");
            assert_eq!(
                got.files[name] as u64,
                std::fs::metadata(saved.join(name)).unwrap().len(),
                "{id}: {name} size"
            );
        }
        assert_eq!(got.files.len(), 3, "{id}: {:?}", got.files);
        let r = running.records.get(id).unwrap();
        assert!(fully_uploaded(&r), "{id}");
        // Tried at least once while failing, then once more.
        assert!(r.scan.unwrap().upload_num.unwrap() >= 2, "{id}");
    }
    // Still once each a few retry intervals later: an uploaded record is not sent again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(cloud.records().values().all(|r| r.record_posts == 1));
    match call(&a, PadCommand::Statistics).await {
        PadReply::Statistics(s) => assert_eq!((s.total, s.uncomplete, s.scan_fail), (3, 0, 0)),
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_are_deleted_delete_life_after_their_upload_and_the_record_stays_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    settings.upload.delete_life = Some(Duration::from_secs(1));
    let running = start(settings).await;
    let mut a = pad(&running, "pad-a").await;
    call(&a, PadCommand::Scan { sex: Sex::Female }).await;
    let record = wait_for(&mut a.1, |e| match e {
        PadEvent::ScanFinished(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    let dir = std::path::PathBuf::from(record.data.save_path.clone().unwrap());
    assert!(dir.join("scan.stl").exists());
    until("the files are deleted", || !dir.exists()).await;
    let r = running.records.get(&record.scan_id).unwrap();
    assert!(fully_uploaded(&r));
    match call(
        &a,
        PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        },
    )
    .await
    {
        PadReply::Records(p) => assert_eq!(p.count, 1),
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[test]
fn server_json_intervals_follow_the_spec_grammar() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".server.json"),
        r#"{
            "qrCode": {"size": 300, "urlPrefix": "https://r.example.com/"},
            "localFile": {"retryUploadInterval": "30s", "deleteLife": 2, "validBookPeriod": "never"},
            "cron": {"statistics": "@every 5m"},
        }"#,
    )
    .unwrap();
    let mut s = crate::station::Settings::default();
    s.read_config_dir(dir.path()).unwrap();
    assert_eq!(s.upload.retry, Some(Duration::from_secs(30)));
    // A bare number is hours.
    assert_eq!(s.upload.delete_life, Some(Duration::from_secs(2 * 3600)));
    // Anything else is "never reached".
    assert_eq!(s.book_period, None);
    assert_eq!(s.statistics_every, Some(Duration::from_secs(300)));
    assert_eq!(s.scanner.qr_size, 300);
    assert_eq!(s.scanner.qr_prefix, "https://r.example.com/");
    // A value of the wrong type is an error naming its key.
    std::fs::write(
        dir.path().join(".server.json"),
        r#"{"qrCode": {"size": "big"}}"#,
    )
    .unwrap();
    let err = s.read_config_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("qrCode.size"), "{err}");
    // A missing file names the path.
    let err = s
        .read_config_dir(&dir.path().join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(".server.json"), "{err}");
}
