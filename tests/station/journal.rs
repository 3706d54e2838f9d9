//! The records journal: a save acknowledged to the pad survives a crash before the store write.

use aliscan_proto::{Measurements, RecordStatus, ScanRecord, UploadBlock};
use device_core::aliscan::{PadCommand, PadReply, RecordStore};
use sqlx::Row;

use crate::station::records::{Records, StationRecords, JOURNAL_FILE};
use crate::{call, fast_settings, pad, start};

/// A record the pads are shown (a model and measurements).
fn record(scan_id: &str, request: &str) -> ScanRecord {
    ScanRecord {
        scan_id: Some(scan_id.to_owned()),
        request_id: Some(request.to_owned()),
        status: Some(RecordStatus::Enable),
        result: Some(Measurements::default()),
        scan: Some(UploadBlock {
            save_name: Some("scan.stl".to_owned()),
            ..UploadBlock::default()
        }),
        ..ScanRecord::default()
    }
}

async fn stored_ids(store: &fleet::Store) -> Vec<String> {
    sqlx::query("SELECT scan_id FROM station_records ORDER BY scan_id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect()
}

// Single-threaded, so that the writer task, aborted before the first await, never runs: the crash.
#[tokio::test]
async fn a_save_acknowledged_before_a_crash_is_in_the_store_and_listed_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = fast_settings(dir.path());
    {
        let store = crate::station::open_store(&settings).await.unwrap();
        let (records, writer) = Records::open(store.clone(), dir.path()).await.unwrap();
        writer.abort();
        let mut station = StationRecords(records.clone());
        station.save(&record("DEV0001-A", "req-1")).unwrap();
        // A second save of the same scan replaces the first.
        station.save(&record("DEV0001-A", "req-2")).unwrap();
        station.save(&record("DEV0001-B", "req-3")).unwrap();
        assert!(writer.await.unwrap_err().is_cancelled());
        drop((station, records));
        // The gap the journal closes: acknowledged, yet not in the store.
        assert!(stored_ids(&store).await.is_empty());
        store.close().await;
    }
    assert!(
        std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len()
            > 0
    );

    let running = start(fast_settings(dir.path())).await;
    assert_eq!(
        running
            .records
            .get("DEV0001-A")
            .unwrap()
            .request_id
            .as_deref(),
        Some("req-2")
    );
    let newest = running.records.newest_from_store(10).await.unwrap();
    let mut ids: Vec<_> = newest.iter().filter_map(|r| r.scan_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["DEV0001-A", "DEV0001-B"]);
    let a = pad(&running, "pad-a").await;
    match call(
        &a,
        PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        },
    )
    .await
    {
        PadReply::Records(page) => {
            assert_eq!(page.count, 2);
            let a = page
                .list
                .iter()
                .find(|r| r.scan_id.as_deref() == Some("DEV0001-A"));
            assert_eq!(a.unwrap().request_id.as_deref(), Some("req-2"));
        }
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
    // Everything is in the store: the journal is empty again.
    assert_eq!(
        std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn damaged_journal_lines_and_a_torn_last_line_are_skipped_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let line = |r: &ScanRecord| serde_json::to_string(r).unwrap();
    let torn = line(&record("DEV0001-C", "req-c"));
    let journal = format!(
        "{}\n{{\"scanId\": \"DEV0001-X\", not json\n\n{}\n{}",
        line(&record("DEV0001-A", "req-a")),
        line(&record("DEV0001-B", "req-b")),
        &torn[..torn.len() / 2],
    );
    std::fs::write(dir.path().join(JOURNAL_FILE), journal).unwrap();

    let store = crate::station::open_store(&fast_settings(dir.path()))
        .await
        .unwrap();
    let (records, writer) = Records::open(store.clone(), dir.path()).await.unwrap();
    assert_eq!(stored_ids(&store).await, ["DEV0001-A", "DEV0001-B"]);
    assert!(records.get("DEV0001-B").is_some());
    assert!(records.get("DEV0001-C").is_none());
    assert_eq!(
        std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len(),
        0
    );
    // Saving goes on as before, and reaches the store.
    records.put(&record("DEV0001-D", "req-d")).unwrap();
    records.flush().await;
    assert_eq!(
        stored_ids(&store).await,
        ["DEV0001-A", "DEV0001-B", "DEV0001-D"]
    );
    drop(records);
    writer.await.unwrap();
    assert_eq!(
        std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len(),
        0
    );
    store.close().await;
}

#[tokio::test]
async fn a_save_the_journal_cannot_take_is_refused_with_600101_and_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::station::open_store(&fast_settings(dir.path()))
        .await
        .unwrap();
    let (records, writer) = Records::open(store.clone(), dir.path()).await.unwrap();
    let mut station = StationRecords(records.clone());
    let mut huge = record("DEV0001-H", "req-h");
    huge.advise2 = Some("x".repeat(crate::station::records::JOURNAL_MAX_LINE));
    assert_eq!(
        station.save(&huge),
        Err(aliscan_proto::ErrorCode::LOCAL_STORAGE_FAILED)
    );
    assert!(station.get("DEV0001-H").is_none());
    // The journal is left as it was, and the next save goes through.
    assert_eq!(
        std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len(),
        0
    );
    station.save(&record("DEV0001-A", "req-a")).unwrap();
    records.flush().await;
    assert_eq!(stored_ids(&store).await, ["DEV0001-A"]);
    drop((station, records));
    writer.await.unwrap();
    store.close().await;
}
