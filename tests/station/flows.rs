//! Pad flows over WebSocket with device-core's pad session.

use aliscan_proto::{
    CalibrationStep, Envelope, ErrorCode, FileAction, FilesAction, Measurements, OutcomeStatus,
    PadMessage, RecordStatus, ScanPage, ScanRecord, Sex, StationMessage, StationStatus, Statistics,
    SubmitStatus, UploadBlock, UploadStatus, UserInfoUpdate,
};
use device_core::aliscan::{PadCommand, PadEvent, PadReply};

use crate::station::records::fully_uploaded;
use crate::{call, fast_settings, http_get, pad, put_records, start, until, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booked_scan_goes_through_its_statuses_and_its_record_is_stored_listed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(fast_settings(dir.path())).await;
    let a = pad(&running, "pad-a").await;
    let mut b = pad(&running, "pad-b").await;

    let booked = call(&a, PadCommand::Book).await;
    assert!(matches!(&booked, PadReply::Status(s) if s.status == StationStatus::Booking));
    let who = wait_for(&mut b.1, |e| match e {
        PadEvent::Status(s) if s.status == StationStatus::Booking => s.current_pad.clone(),
        _ => None,
    })
    .await;
    assert_eq!(who, "pad-a");
    // The other pad is refused while pad-a holds the booking.
    assert!(matches!(
        call(&b, PadCommand::Book).await,
        PadReply::Status(s) if s.status == StationStatus::Booking && s.current_pad.as_deref() == Some("pad-a")
    ));
    assert!(matches!(
        call(&b, PadCommand::Scan { sex: Sex::Male }).await,
        PadReply::Refused(_)
    ));

    let mut a = a;
    let started = call(&a, PadCommand::Scan { sex: Sex::Female }).await;
    let scan_id = match started {
        PadReply::ScanStarted(s) => s.scan_id,
        other => panic!("{other:?}"),
    };
    assert!(scan_id.starts_with("DEV0001-"), "{scan_id}");
    // pad-b sees the statuses in the spec's order.
    for status in [
        StationStatus::Scanning,
        StationStatus::Computing,
        StationStatus::Free,
    ] {
        wait_for(&mut b.1, |e| {
            matches!(e, PadEvent::Status(s) if s.status == status).then_some(())
        })
        .await;
    }
    let pushed = wait_for(&mut a.1, |e| match e {
        PadEvent::ScanFinished(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    let record = pushed.data;
    assert_eq!(record.scan_id.as_deref(), Some(scan_id.as_str()));
    assert_eq!(record.create_pad_id.as_deref(), Some("pad-a"));
    // Every measurement field is there; the QR code is a PNG of the record's URL.
    let m = record.result.clone().unwrap();
    for (name, value) in m.iter() {
        assert!(value.is_some(), "measurement {name} missing");
    }
    assert_eq!(m.iter().count(), Measurements::WIRE_NAMES.len());
    let qr = record.qr_data.clone().unwrap();
    assert_eq!(&qr.0[..8], b"\x89PNG\r\n\x1a\n");
    assert!(record.qr_tag.as_deref().unwrap().ends_with(&scan_id));
    // The model files are on disk.
    let saved = std::path::PathBuf::from(record.save_path.clone().unwrap());
    for name in ["scan.stl", "mini.stl", "cloud.xyz"] {
        assert!(saved.join(name).exists(), "{name} missing");
    }

    // Fetched by requestId, listed, and its customer details updated.
    let request_id = record.request_id.clone().unwrap();
    match call(&a, PadCommand::FetchRecord { request_id }).await {
        PadReply::Record(r) => assert_eq!(r.scan_id, scan_id),
        other => panic!("{other:?}"),
    }
    let update = UserInfoUpdate {
        scan_id: scan_id.clone(),
        telephone: Some("13800000000".into()),
        member_num: None,
        operator: Some("Li".into()),
        birthday: None,
        name: Some("Wang Fang".into()),
    };
    match call(&a, PadCommand::UpdateUserInfo(update)).await {
        PadReply::UserInfo(o) => assert_eq!(o.status, OutcomeStatus::Success),
        other => panic!("{other:?}"),
    }
    match call(
        &b,
        PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        },
    )
    .await
    {
        PadReply::Records(page) => {
            assert_eq!(page.count, 1);
            assert_eq!(page.list[0].scan_id.as_deref(), Some(scan_id.as_str()));
            let name = page.list[0].user_info.as_ref().and_then(|u| u.name.clone());
            assert_eq!(name.as_deref(), Some("Wang Fang"));
        }
        other => panic!("{other:?}"),
    }
    // The search over the store finds it by the customer's name.
    let found = running.records.search("wang", 1, 10).await.unwrap();
    assert_eq!(found.count, 1);
    assert_eq!(
        running.records.search("nobody", 1, 10).await.unwrap().count,
        0
    );

    // The upload (with the new details) reaches the simulated cloud; the statistics say so.
    until("the record is uploaded", || {
        running
            .records
            .get(&scan_id)
            .is_some_and(|r| fully_uploaded(&r))
    })
    .await;
    let cloud = running.cloud.clone().unwrap();
    let received = cloud.records();
    let got = &received[&scan_id];
    assert_eq!(got.files.len(), 3);
    assert_eq!(
        got.files["scan.stl"] as u64,
        std::fs::metadata(saved.join("scan.stl")).unwrap().len()
    );
    match call(&a, PadCommand::Statistics).await {
        PadReply::Statistics(s) => {
            assert_eq!(s.total, 1);
            assert_eq!(s.uncomplete, 0);
            assert_eq!(s.scan_uncomplete, 0);
            assert_eq!(s.user_uncomplete, 0);
        }
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    b.0.shutdown().await.unwrap();
    running.shutdown().await;
}

/// The statistics the spec defines, counted here from the records' own upload states (not by the station's
/// SQL): a record is uncomplete while any part of it (either model, the point cloud that goes up with the
/// `scan` model, the customer's details, the result JSON or its private part) has not reached the cloud.
fn expected_statistics(records: &[ScanRecord]) -> Statistics {
    let mut s = Statistics::default();
    for r in records
        .iter()
        .filter(|r| r.status != Some(RecordStatus::Deleted))
    {
        let block = |b: &Option<UploadBlock>| b.as_ref().and_then(|b| b.status.clone());
        let (mini, scan) = (block(&r.mini), block(&r.scan));
        let cloud = scan.clone();
        let user = r.user_info.as_ref().and_then(|u| u.status.clone());
        let (json, pri) = (r.result_status.clone(), r.result_pri_status.clone());
        let up = |b: &Option<UploadStatus>| *b == Some(UploadStatus::Uploaded);
        let bad = |b: &Option<UploadStatus>| *b == Some(UploadStatus::Fail);
        let done = |t: &Option<SubmitStatus>| *t == Some(SubmitStatus::Complete);
        let failed = |t: &Option<SubmitStatus>| *t == Some(SubmitStatus::Fail);
        s.total += 1;
        let whole =
            up(&mini) && up(&scan) && up(&cloud) && done(&user) && done(&json) && done(&pri);
        s.uncomplete += u64::from(!whole);
        s.user_uncomplete += u64::from(!done(&user));
        s.user_fail += u64::from(failed(&user));
        s.json_uncomplete += u64::from(!done(&json));
        s.json_fail += u64::from(failed(&json));
        s.json_pri_uncomplete += u64::from(!done(&pri));
        s.json_pri_fail += u64::from(failed(&pri));
        s.cloud_uncomplete += u64::from(!up(&cloud));
        s.cloud_fail += u64::from(bad(&cloud));
        s.mini_uncomplete += u64::from(!up(&mini));
        s.mini_fail += u64::from(bad(&mini));
        s.scan_uncomplete += u64::from(!up(&scan));
        s.scan_fail += u64::from(bad(&scan));
    }
    s
}

/// Sets a record's upload states: mini, scan (and with it the point cloud), user details, JSON, private JSON.
fn set_states(
    r: &mut ScanRecord,
    (mini, scan): (UploadStatus, UploadStatus),
    (user, json, pri): (SubmitStatus, SubmitStatus, SubmitStatus),
) {
    r.mini.as_mut().unwrap().status = Some(mini);
    r.scan.as_mut().unwrap().status = Some(scan);
    r.user_info.as_mut().unwrap().status = Some(user);
    r.result_status = Some(json);
    r.result_pri_status = Some(pri);
}

/// The statistics over WebSocket and over HTTP (`GET /api/statistics`), which must agree.
async fn statistics_both_ways(running: &crate::station::Running, a: &crate::Pad) -> Statistics {
    let ws = match call(a, PadCommand::Statistics).await {
        PadReply::Statistics(s) => s,
        other => panic!("{other:?}"),
    };
    let (status, body) = http_get(running, "/api/statistics").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let http: Statistics = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("/api/statistics: {e}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(http, ws, "HTTP and WebSocket statistics differ");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_the_upload_states_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    // No cloud: every record keeps the upload states it is saved with.
    settings.cloud_sim = false;
    settings.upload.cloud = None;
    let running = start(settings).await;
    let mut a = pad(&running, "pad-a").await;
    // One record from a scan (nothing uploaded yet) ...
    assert!(matches!(
        call(&a, PadCommand::Scan { sex: Sex::Male }).await,
        PadReply::ScanStarted(s) if !s.scan_id.is_empty()
    ));
    wait_for(&mut a.1, |e| {
        matches!(e, PadEvent::ScanFinished(_)).then_some(())
    })
    .await;
    // ... and six in every mix of uploaded, failed and pending parts.
    use SubmitStatus::{Complete as C, Fail as SF, Init as SI};
    use UploadStatus::{Fail as F, Init as I, Uploaded as U};
    let put = put_records(&running, dir.path(), 6, |i, r| {
        let states = [
            ((U, U), (C, C, C)),
            ((F, F), (SF, SF, SF)),
            ((U, F), (SF, SF, C)),
            ((U, U), (SF, C, C)),
            ((U, U), (C, SI, SF)),
            ((I, I), (SI, SI, SI)),
        ];
        set_states(r, states[i].0.clone(), states[i].1.clone());
    })
    .await;

    let all = running.records.all();
    assert_eq!(all.len(), 7);
    let expected = expected_statistics(&all);
    // The counting above, checked by hand for these seven records.
    let by_hand = Statistics {
        total: 7,
        uncomplete: 6,
        user_uncomplete: 5,
        user_fail: 3,
        json_uncomplete: 5,
        json_fail: 2,
        json_pri_uncomplete: 4,
        json_pri_fail: 2,
        cloud_uncomplete: 4,
        cloud_fail: 2,
        mini_uncomplete: 3,
        mini_fail: 1,
        scan_uncomplete: 4,
        scan_fail: 2,
    };
    assert_eq!(expected, by_hand);
    assert_eq!(statistics_both_ways(&running, &a).await, expected);

    // A deleted record (the one that failed everywhere) leaves the counts and the list.
    let gone = put[1].scan_id.clone().unwrap();
    let del = PadMessage::FilesAction(Envelope::new(
        "pad-a",
        FilesAction {
            action: FileAction::Delete,
            scan_ids: Some(vec![gone.clone()]),
        },
    ));
    call_send(&a, del).await;
    let update = wait_for(&mut a.1, |e| match e {
        PadEvent::Message(m) => match m.as_ref() {
            StationMessage::FilesUpdate(u) => Some(u.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(update.scan_id, gone);
    assert_eq!(update.data.status, Some(RecordStatus::Deleted));
    let left = running.records.all();
    assert_eq!(left.len(), 6);
    let expected = expected_statistics(&left);
    assert_eq!(
        (
            expected.total,
            expected.user_fail,
            expected.json_fail,
            expected.mini_fail
        ),
        (6, 2, 1, 0)
    );
    assert_eq!(statistics_both_ways(&running, &a).await, expected);
    match call(
        &a,
        PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        },
    )
    .await
    {
        PadReply::Records(p) => {
            assert_eq!(p.count, 6);
            assert!(p.list.iter().all(|r| r.scan_id.as_deref() != Some(&gone)));
        }
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_status_answers_with_the_asked_records_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    settings.cloud_sim = false;
    settings.upload.cloud = None;
    let running = start(settings).await;
    let mut a = pad(&running, "pad-a").await;
    let put = put_records(&running, dir.path(), 3, |i, r| {
        r.user_info.as_mut().unwrap().name = Some(format!("customer {i}"));
        if i == 2 {
            r.scan.as_mut().unwrap().status = Some(UploadStatus::Fail);
        }
    })
    .await;
    let id = |i: usize| put[i].scan_id.clone().unwrap();
    // Two known records, asked in this order, and one unknown id.
    let ask = PadMessage::FilesAction(Envelope::new(
        "pad-a",
        FilesAction {
            action: FileAction::Status,
            scan_ids: Some(vec![id(2), "DEV0001-19990101-000000".into(), id(0)]),
        },
    ));
    call_send(&a, ask).await;
    let page = wait_for(&mut a.1, |e| match e {
        PadEvent::Message(m) => match m.as_ref() {
            StationMessage::FilesStatus(env) => Some(env.data.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(page.count, 2, "{page:?}");
    assert_eq!(page.page, 1);
    let ids: Vec<_> = page
        .list
        .iter()
        .map(|r| r.scan_id.clone().unwrap())
        .collect();
    assert_eq!(ids, vec![id(2), id(0)]);
    // Each as the store has it: its customer, its upload states, everything.
    assert_eq!(page.list[0], put[2]);
    assert_eq!(page.list[1], put[0]);
    assert_eq!(
        page.list[0].scan.as_ref().unwrap().status,
        Some(UploadStatus::Fail)
    );
    assert_eq!(
        page.list[1].user_info.as_ref().unwrap().name.as_deref(),
        Some("customer 0")
    );
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_list_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    settings.cloud_sim = false;
    settings.upload.cloud = None;
    let running = start(settings).await;
    let a = pad(&running, "pad-a").await;
    let put = put_records(&running, dir.path(), 13, |_, _| {}).await;
    let newest_first: Vec<String> = put
        .iter()
        .rev()
        .map(|r| r.scan_id.clone().unwrap())
        .collect();
    let list = |page| PadCommand::ListRecords {
        page,
        page_size: 10,
    };
    let ids = |p: &ScanPage| -> Vec<String> {
        p.list.iter().map(|r| r.scan_id.clone().unwrap()).collect()
    };
    match call(&a, list(1)).await {
        PadReply::Records(p) => {
            assert_eq!((p.count, p.page, p.page_size), (13, 1, 10));
            assert_eq!(ids(&p), newest_first[..10]);
        }
        other => panic!("{other:?}"),
    }
    match call(&a, list(2)).await {
        PadReply::Records(p) => {
            assert_eq!((p.count, p.page), (13, 2));
            assert_eq!(ids(&p), newest_first[10..]);
        }
        other => panic!("{other:?}"),
    }
    // Past the end: the count, no rows.
    match call(&a, list(3)).await {
        PadReply::Records(p) => {
            assert_eq!(p.count, 13);
            assert!(p.list.is_empty(), "{:?}", ids(&p));
        }
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

async fn call_send(pad: &crate::Pad, message: PadMessage) {
    let _ = tokio::time::timeout(crate::WAIT, pad.0.handle().call(PadCommand::Send(message)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_points_fail_the_scan_with_their_own_code_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    settings.scanner.points = Some(5_000);
    let running = start(settings).await;
    let mut a = pad(&running, "pad-a").await;
    assert!(matches!(
        call(&a, PadCommand::Scan { sex: Sex::Male }).await,
        PadReply::ScanStarted(s) if !s.scan_id.is_empty()
    ));
    let error = wait_for(&mut a.1, |e| match e {
        PadEvent::Status(s) if !s.error.is_ok() => Some(s.error.clone()),
        _ => None,
    })
    .await;
    assert_eq!(error.code, ErrorCode::POINT_COUNT_ABNORMAL);
    assert_eq!(error.message.msg_cn, "点数异常");
    assert!(!error.message.msg_en.is_empty());
    assert!(running.records.all().is_empty());
    // An invalid sex is refused by the device at once: an empty scanId.
    assert!(matches!(
        call(&a, PadCommand::Scan { sex: Sex::Other("2".into()) }).await,
        PadReply::ScanStarted(s) if s.scan_id.is_empty()
    ));
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_runs_in_the_spec_order_and_an_injected_step_fails_with_its_catalogue_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    settings.scanner.fail_step = Some(CalibrationStep::C3);
    let running = start(settings).await;
    let a = pad(&running, "pad-a").await;
    let step = |s: CalibrationStep| PadCommand::Calibrate(s);
    // Out of order: c2 before c1.
    match call(&a, step(CalibrationStep::C2)).await {
        PadReply::Calibration(r) => {
            assert_eq!(r.status, OutcomeStatus::Fail);
            assert_eq!(r.error.code, ErrorCode::BAD_PARAMETER);
        }
        other => panic!("{other:?}"),
    }
    for s in [
        CalibrationStep::Left,
        CalibrationStep::Right,
        CalibrationStep::Compute,
        CalibrationStep::C1,
        CalibrationStep::C2,
    ] {
        match call(&a, step(s.clone())).await {
            PadReply::Calibration(r) => {
                assert_eq!(r.status, OutcomeStatus::Success, "{s:?}");
                assert_eq!(r.step, s);
            }
            other => panic!("{other:?}"),
        }
    }
    match call(&a, step(CalibrationStep::C3)).await {
        PadReply::Calibration(r) => {
            assert_eq!(r.status, OutcomeStatus::Fail);
            assert_eq!(r.error.code, ErrorCode::IMAGE_CAPTURE_FAILED);
            assert_eq!(r.error.message.msg_cn, "采图失败");
            assert_eq!(r.error.message.msg_en, "image capture failed");
        }
        other => panic!("{other:?}"),
    }
    // After the failure c4 is out of order.
    match call(&a, step(CalibrationStep::C4)).await {
        PadReply::Calibration(r) => assert_eq!(r.error.code, ErrorCode::BAD_PARAMETER),
        other => panic!("{other:?}"),
    }
    assert_eq!(running.station.state().status, StationStatus::Free);
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wifi_store_and_device_info_are_answered_by_the_simulated_services() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(fast_settings(dir.path())).await;
    let a = pad(&running, "pad-a").await;
    match call(&a, PadCommand::WifiNetworks).await {
        PadReply::WifiNetworks(l) => assert_eq!(l.count, 3),
        other => panic!("{other:?}"),
    }
    let wrong = aliscan_proto::WifiConnect {
        ssid: "shop-5g".into(),
        pwd: "nope".into(),
    };
    match call(&a, PadCommand::WifiConnect(wrong)).await {
        PadReply::Wifi(w) => assert_eq!(w.error.code, ErrorCode::WIFI_WRONG_PASSWORD),
        other => panic!("{other:?}"),
    }
    let bind = aliscan_proto::StoreBind {
        store_id: "SH002".into(),
        store_name: "Shanghai Nanjing Rd".into(),
    };
    match call(&a, PadCommand::BindStore(bind)).await {
        PadReply::StoreBinding(o) => assert_eq!(o.status, OutcomeStatus::Success),
        other => panic!("{other:?}"),
    }
    match call(&a, PadCommand::Brand).await {
        PadReply::Brand(b) => assert_eq!(b.store_name, "Shanghai Nanjing Rd"),
        other => panic!("{other:?}"),
    }
    match call(&a, PadCommand::DeviceInfo).await {
        PadReply::DeviceInfo(d) => assert_eq!(d.device_id.as_deref(), Some("DEV0001")),
        other => panic!("{other:?}"),
    }
    match call(&a, PadCommand::NetQuery).await {
        PadReply::Net(up) => assert!(up, "the simulated cloud is reachable"),
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_statistics_in_postgresql_when_database_url_is_set() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: the station's records run on SQLite only");
        return;
    };
    let schema = format!("station_test_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let settings = || {
        let mut s = fast_settings(dir.path());
        s.database_url = Some(url.clone());
        s.database_schema = Some(schema.clone());
        s
    };
    let running = start(settings()).await;
    let mut a = pad(&running, "pad-a").await;
    call(&a, PadCommand::Scan { sex: Sex::Male }).await;
    let pushed = wait_for(&mut a.1, |e| match e {
        PadEvent::ScanFinished(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    until("the record is uploaded", || {
        running
            .records
            .get(&pushed.scan_id)
            .is_some_and(|r| fully_uploaded(&r))
    })
    .await;
    let stats = running.records.statistics().await.unwrap();
    assert_eq!((stats.total, stats.uncomplete), (1, 0));
    let found = running
        .records
        .search(&pushed.scan_id, 1, 10)
        .await
        .unwrap();
    assert_eq!(found.count, 1);
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
    // Kept across a restart.
    let running = start(settings()).await;
    assert!(running.records.get(&pushed.scan_id).is_some());
    running.shutdown().await;
    let admin = fleet::Store::connect(&url, None).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
}
