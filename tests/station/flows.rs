//! Pad flows over WebSocket with device-core's pad session.

use aliscan_proto::{
    CalibrationStep, ErrorCode, Measurements, OutcomeStatus, Sex, StationMessage, StationStatus,
    UserInfoUpdate,
};
use device_core::aliscan::{PadCommand, PadEvent, PadReply};

use crate::station::records::fully_uploaded;
use crate::{call, fast_settings, pad, start, until, wait_for};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_the_upload_states_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    // No cloud: records stay pending.
    settings.cloud_sim = false;
    settings.upload.cloud = None;
    let running = start(settings).await;
    let mut a = pad(&running, "pad-a").await;
    for _ in 0..3 {
        assert!(matches!(
            call(&a, PadCommand::Scan { sex: Sex::Male }).await,
            PadReply::ScanStarted(s) if !s.scan_id.is_empty()
        ));
        wait_for(&mut a.1, |e| {
            matches!(e, PadEvent::ScanFinished(_)).then_some(())
        })
        .await;
        // scanId has a one-second resolution: the next scan waits for the next second.
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    }
    let stats = match call(&a, PadCommand::Statistics).await {
        PadReply::Statistics(s) => s,
        other => panic!("{other:?}"),
    };
    // Counted independently from the records' own states.
    let all = running.records.all();
    assert_eq!(all.len(), 3);
    assert_eq!(stats.total, 3);
    assert_eq!(stats.uncomplete, 3);
    assert_eq!(stats.scan_uncomplete, 3);
    assert_eq!(stats.mini_uncomplete, 3);
    assert_eq!(stats.scan_fail, 0);
    // The same numbers over HTTP.
    assert_eq!(running.records.statistics().await.unwrap(), stats);
    // A deleted record leaves the counts and the list.
    let first = all[0].scan_id.clone().unwrap();
    let del = aliscan_proto::PadMessage::FilesAction(aliscan_proto::Envelope::new(
        "pad-a",
        aliscan_proto::FilesAction {
            action: aliscan_proto::FileAction::Delete,
            scan_ids: Some(vec![first.clone()]),
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
    assert_eq!(update.scan_id, first);
    match call(&a, PadCommand::Statistics).await {
        PadReply::Statistics(s) => assert_eq!(s.total, 2),
        other => panic!("{other:?}"),
    }
    match call(
        &a,
        PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        },
    )
    .await
    {
        PadReply::Records(p) => assert_eq!(p.count, 2),
        other => panic!("{other:?}"),
    }
    a.0.shutdown().await.unwrap();
    running.shutdown().await;
}

async fn call_send(pad: &crate::Pad, message: aliscan_proto::PadMessage) {
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
