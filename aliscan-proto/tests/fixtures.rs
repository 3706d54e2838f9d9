//! Every JSON example of the spec decodes to the right typed message and encodes back to the same JSON.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use aliscan_proto::*;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Numbers compared as f64: the crate writes measurements as floats (`0.0`) where the spec prints `0`.
fn normalize(v: Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}

/// Decodes a fixture as either direction, checks that the direction-specific decoder agrees, and that the
/// message encodes back to the fixture's JSON (same keys, same values).
fn decode(name: &str) -> Message {
    let bytes = load(name);
    let msg = Message::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    match &msg {
        Message::Pad(m) => assert_eq!(
            &StationCodec::default().decode_text(&bytes).unwrap(),
            m,
            "{name}"
        ),
        Message::Station(m) => {
            assert_eq!(
                &PadCodec::default().decode_text(&bytes).unwrap(),
                m,
                "{name}"
            )
        }
        _ => {}
    }
    let original: Value = proto_common::json::from_slice_lenient(&bytes).unwrap();
    let encoded = msg.to_json().unwrap();
    let back: Value = serde_json::from_str(&encoded).unwrap();
    assert_eq!(
        normalize(back),
        normalize(original),
        "{name}: round trip changed the JSON"
    );
    assert_eq!(
        Message::from_json(encoded.as_bytes()).unwrap(),
        msg,
        "{name}"
    );
    msg
}

fn pad(name: &str) -> PadMessage {
    match decode(name) {
        Message::Pad(m) => m,
        other => panic!("{name}: expected a pad message, got {other:?}"),
    }
}

fn station(name: &str) -> StationMessage {
    match decode(name) {
        Message::Station(m) => m,
        other => panic!("{name}: expected a station message, got {other:?}"),
    }
}

fn xxx_error() -> ErrorInfo {
    ErrorInfo {
        code: ErrorCode::OK,
        message: ErrorText {
            msg_cn: "xxx".into(),
            msg_en: "xxx".into(),
        },
    }
}

fn empty_pad() -> Option<String> {
    Some(String::new())
}

#[test]
fn every_topic_has_a_fixture_and_every_fixture_is_tested() {
    let mut files: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| f.strip_suffix(".json").map(str::to_owned))
        .collect();
    for topic in PadMessage::KNOWN.iter().chain(StationMessage::KNOWN) {
        let name = topic.replace('/', "_");
        assert!(files.remove(&name), "no fixture for `{topic}`");
    }
    for other in ["socket_message", "server_config", "package_version"] {
        assert!(files.remove(other), "{other}");
    }
    assert!(files.is_empty(), "fixtures for no known topic: {files:?}");
    assert_eq!(PadMessage::KNOWN.len(), 24);
    assert_eq!(StationMessage::KNOWN.len(), 22);
    // No topic is known in both directions: the direction of a message follows from its topic.
    assert!(PadMessage::KNOWN.iter().all(|t| !StationMessage::knows(t)));
}

#[test]
fn spec_topics_are_all_known() {
    // Every `"topic": "..."` the spec prints, read from the fixtures' raw text.
    let mut seen = 0;
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if let Some(rest) = text.split("\"topic\": \"").nth(1) {
            let topic = rest.split('"').next().unwrap();
            if !topic.is_empty() {
                assert!(Message::knows(topic), "`{topic}` unknown");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 46);
}

#[test]
fn wifi_fixtures() {
    for (name, expect) in [
        ("equipment_wifi_list", "equipment/wifi/list"),
        ("equipment_wifi_qst", "equipment/wifi/qst"),
        ("equipment_wifi_disconnect", "equipment/wifi/disconnect"),
    ] {
        let m = pad(name);
        assert_eq!(m.topic(), expect);
        assert_eq!(m.pad_id(), Some(""));
    }
    assert!(matches!(
        pad("equipment_wifi_list"),
        PadMessage::WifiList(Envelope { data: Empty, .. })
    ));
    assert!(matches!(
        pad("equipment_wifi_qst"),
        PadMessage::WifiQuery(_)
    ));
    assert!(matches!(
        pad("equipment_wifi_disconnect"),
        PadMessage::WifiDisconnect(_)
    ));
    assert_eq!(
        pad("equipment_wifi_connect"),
        PadMessage::WifiConnect(Envelope {
            pad_id: empty_pad(),
            data: WifiConnect {
                ssid: "XXX".into(),
                pwd: "XXX".into()
            }
        })
    );
    assert_eq!(
        station("equipment_wifi_result"),
        StationMessage::WifiResult(Envelope {
            pad_id: empty_pad(),
            data: WifiList {
                count: 12,
                list: vec![WifiNetwork {
                    ssid: "XXX".into(),
                    rssi: Rssi(-50),
                    is_current: false,
                    is_our_ap: false
                }]
            }
        })
    );
    assert_eq!(
        station("equipment_wifi_status"),
        StationMessage::WifiStatus(Envelope {
            pad_id: empty_pad(),
            data: WifiState {
                status: WifiStatus::Unconnected,
                error: xxx_error()
            }
        })
    );
}

#[test]
fn equipment_fixtures() {
    assert_eq!(
        station("equipment_scan_status"),
        StationMessage::ScanStatus(Envelope {
            pad_id: empty_pad(),
            data: StationState {
                status: StationStatus::Unready,
                current_pad: Some("xxx".into()),
                error: xxx_error()
            }
        })
    );
    assert_eq!(
        pad("equipment_scan_new"),
        PadMessage::ScanNew(Envelope {
            pad_id: empty_pad(),
            data: ScanNew {
                sex: Sex::Female,
                request_id: String::new()
            }
        })
    );
    let StationMessage::ScanResult(started) = station("equipment_scan_result") else {
        panic!()
    };
    assert_eq!(started.scan_id, "xxx");
    assert!(!started.failed());
    assert!(matches!(
        started.parse_scan_id(),
        Err(ScanIdError::Layout { .. })
    ));
    assert_eq!(
        pad("equipment_calibration_new"),
        PadMessage::CalibrationNew(Envelope {
            pad_id: empty_pad(),
            data: CalibrationNew {
                step: CalibrationStep::Left
            }
        })
    );
    assert_eq!(
        station("equipment_calibration_result"),
        StationMessage::CalibrationResult(Envelope {
            pad_id: empty_pad(),
            data: CalibrationResult {
                status: OutcomeStatus::Success,
                error: xxx_error(),
                step: CalibrationStep::Left
            }
        })
    );
    assert_eq!(
        pad("equipment_scan_action"),
        PadMessage::ScanAction(Envelope {
            pad_id: empty_pad(),
            data: EquipmentAction {
                action: ScanAction::Reset
            }
        })
    );
    let StationMessage::DeviceInfoResult(info) = station("equipment_deviceInfoResult") else {
        panic!()
    };
    assert_eq!(info.data.status, OutcomeStatus::Success);
    assert_eq!(info.data.model_name.as_deref(), Some(""));
    assert_eq!(info.data.versions.algorithm_ver.as_deref(), Some(""));
    let prev = info.data.prev.unwrap();
    assert_eq!(prev.create_on.as_deref(), Some(""));
    assert_eq!(prev.front_ver.as_deref(), Some(""));
    assert_eq!(
        pad("equipment_debugEnable"),
        PadMessage::DebugEnable(Envelope {
            pad_id: empty_pad(),
            data: DebugEnable { enable: true }
        })
    );
    assert_eq!(
        station("equipment_checkUDiskResult"),
        StationMessage::CheckUDiskResult(Envelope {
            pad_id: empty_pad(),
            data: UDiskInfo {
                status: OutcomeStatus::Success,
                error: xxx_error(),
                name: Some("xxx".into()),
                size: Some(3333),
                free: Some(444),
                log_size: Some(5555)
            }
        })
    );
    for (name, variant) in [
        ("equipment_deviceInfo", "DeviceInfo"),
        ("equipment_checkUDisk", "CheckUDisk"),
        ("equipment_copyLog", "CopyLog"),
        ("equipment_uploadLog", "UploadLog"),
        ("equipment_info_update", "InfoUpdate"),
        ("equipment_net_qst", "NetQuery"),
    ] {
        let m = pad(name);
        assert!(
            format!("{m:?}").starts_with(&format!("{variant}(Envelope {{")),
            "{name}: {m:?}"
        );
    }
    for (name, variant) in [
        ("equipment_copyLogResult", "CopyLogResult"),
        ("equipment_uploadLogResult", "UploadLogResult"),
    ] {
        let m = station(name);
        assert!(
            format!("{m:?}").starts_with(&format!("{variant}(")),
            "{name}: {m:?}"
        );
        let outcome = Outcome {
            status: OutcomeStatus::Success,
            error: xxx_error(),
        };
        assert!(format!("{m:?}").contains(&format!("{outcome:?}")), "{name}");
    }
    assert_eq!(
        station("equipment_net_result"),
        StationMessage::NetResult(Envelope {
            pad_id: empty_pad(),
            data: true
        })
    );
    assert_eq!(
        station("equipment_brand_error"),
        StationMessage::BrandError(Envelope {
            pad_id: empty_pad(),
            data: 22001
        })
    );
}

#[test]
fn store_fixtures() {
    assert_eq!(
        pad("equipment_store_brand"),
        PadMessage::StoreBrand(Bare {
            pad_id: empty_pad()
        })
    );
    assert_eq!(
        pad("equipment_store_unbind"),
        PadMessage::StoreUnbind(Bare {
            pad_id: empty_pad()
        })
    );
    let StationMessage::StoreBrandResult(brand) = station("equipment_store_brandresult") else {
        panic!()
    };
    assert_eq!(brand.data.store_name, "XXX");
    assert_eq!(brand.data.brand_name, "XXX");
    assert_eq!(brand.data.source_logo.as_deref(), Some("XXX"));
    assert_eq!(brand.data.footer_content.as_deref(), Some("XXX"));
    assert_eq!(
        pad("equipment_store_list"),
        PadMessage::StoreList(Envelope {
            pad_id: empty_pad(),
            data: StoreListQuery {
                province: "XXX".into(),
                city: "XXX".into(),
                region: "XXX".into(),
                page: Some(1),
                page_size: Some(1),
                environment: Some(1)
            }
        })
    );
    assert_eq!(
        station("equipment_store_listresult"),
        StationMessage::StoreListResult(Envelope {
            pad_id: empty_pad(),
            data: StoreList {
                status: OutcomeStatus::Success,
                error: xxx_error(),
                count: Some(100),
                page_size: Some(10),
                page: Some(1),
                list: vec![Store {
                    name: "storeName".into(),
                    number: "storeNumber".into()
                }]
            }
        })
    );
    assert_eq!(
        pad("equipment_store_get"),
        PadMessage::StoreGet(Envelope {
            pad_id: empty_pad(),
            data: StoreGet {
                number: "XXX".into(),
                environment: Some(1)
            }
        })
    );
    assert_eq!(
        station("equipment_store_getresult"),
        StationMessage::StoreGetResult(Envelope {
            pad_id: empty_pad(),
            data: StoreInfo {
                status: OutcomeStatus::Success,
                error: xxx_error(),
                name: Some("storeName".into()),
                number: Some("storeNumber".into())
            }
        })
    );
    assert_eq!(
        pad("equipment_store_bind"),
        PadMessage::StoreBind(Envelope {
            pad_id: empty_pad(),
            data: StoreBind {
                store_id: "xxx".into(),
                store_name: "xxx".into()
            }
        })
    );
    let ok = Outcome {
        status: OutcomeStatus::Success,
        error: xxx_error(),
    };
    assert_eq!(
        station("equipment_store_result"),
        StationMessage::StoreResult(Envelope {
            pad_id: empty_pad(),
            data: ok.clone()
        })
    );
    assert_eq!(
        station("files_scan_uinforesult"),
        StationMessage::UserInfoResult(Envelope {
            pad_id: empty_pad(),
            data: ok
        })
    );
}

#[test]
fn files_request_fixtures() {
    assert_eq!(
        pad("files_scan_list"),
        PadMessage::FilesList(Envelope {
            pad_id: empty_pad(),
            data: FilesList {
                page: 1,
                page_size: 10
            }
        })
    );
    assert_eq!(
        pad("files_scan_uinfo"),
        PadMessage::UserInfoUpdate(Envelope {
            pad_id: empty_pad(),
            data: UserInfoUpdate {
                scan_id: "xxx".into(),
                telephone: Some("xxx".into()),
                member_num: Some("xxx".into()),
                operator: Some("xxx".into()),
                birthday: Some("xxx".into()),
                name: Some("xxx".into())
            }
        })
    );
    assert_eq!(
        pad("files_scan_action"),
        PadMessage::FilesAction(Envelope {
            pad_id: empty_pad(),
            data: FilesAction {
                action: FileAction::Upload,
                scan_ids: Some(vec!["xxx".into()])
            }
        })
    );
    assert_eq!(
        pad("files_scan_request"),
        PadMessage::FilesRequest(Envelope {
            pad_id: empty_pad(),
            data: FilesRequest {
                request_id: "xxx".into()
            }
        })
    );
    let StationMessage::FilesStatistics(stats) = station("files_scan_statistics") else {
        panic!()
    };
    assert_eq!(
        stats.data,
        Statistics {
            total: 10,
            ..Statistics::default()
        }
    );
}

fn check_record(
    r: &ScanRecord,
    sex: Sex,
    status: RecordStatus,
    user: SubmitStatus,
    mini: UploadStatus,
    scan: UploadStatus,
) {
    assert_eq!(r.scan_id.as_deref(), Some("xxx"));
    assert_eq!(r.request_id.as_deref(), Some("xxx"));
    assert_eq!(r.create_pad_id.as_deref(), Some("xxx"));
    assert_eq!(r.qr_tag.as_deref(), Some("xxx"));
    assert_eq!(
        r.foot_features.as_deref(),
        Some(
            &[FootFeature {
                images: Some("xxx".into()),
                text: Some("xxx".into())
            }][..]
        )
    );
    assert_eq!(r.advise1.as_deref(), Some(&["xxx".to_owned()][..]));
    assert_eq!(r.advise2.as_deref(), Some("xxx"));
    let info = r.user_info.as_ref().unwrap();
    assert_eq!(info.telephone.as_deref(), Some("xxx"));
    assert_eq!(info.status, Some(user));
    assert_eq!(r.sex, Some(sex));
    let t: StationTime = "2018-10-10 22:00:01".parse().unwrap();
    assert_eq!(r.create_time, Some(t));
    assert_eq!(r.update_time, Some(t));
    let m = r.mini.as_ref().unwrap();
    assert_eq!(m.status, Some(mini));
    assert_eq!(m.last_upload_time, Some(t));
    assert_eq!(m.upload_num, Some(0));
    assert_eq!(m.error, Some(xxx_error()));
    assert_eq!(r.scan.as_ref().unwrap().status, Some(scan));
    assert_eq!(r.qr_data.as_ref().unwrap().0.as_ref(), b"\x89PNG\r\n\x1a\n");
    let result = r.result.as_ref().unwrap();
    assert_eq!(result.fit_size_cn, Some(0.0));
    assert_eq!(result.rft_zugong, Some(0.0));
    assert_eq!(result.lft_length, Some(1.0));
    assert_eq!(result.rlt_houtugao, Some(1.0));
    assert_eq!(result.right_pangshoujiao, Some(1.0));
    // Every measurement of the spec is typed: none is missing or misspelt.
    assert!(result.iter().all(|(_, v)| v.is_some()));
    assert_eq!(r.status, Some(status));
    assert_eq!(r.error, Some(xxx_error()));
}

#[test]
fn scan_record_fixtures() {
    let StationMessage::FilesStatus(page) = station("files_scan_status") else {
        panic!()
    };
    assert_eq!(
        (page.data.count, page.data.page, page.data.page_size),
        (1, 1, 10)
    );
    assert_eq!(page.data.list.len(), 1);
    let r = &page.data.list[0];
    check_record(
        r,
        Sex::Male,
        RecordStatus::Enable,
        SubmitStatus::Complete,
        UploadStatus::Uploaded,
        UploadStatus::Fail,
    );
    assert_eq!(r.result_status, Some(SubmitStatus::Complete));
    assert_eq!(r.result_pri_status, Some(SubmitStatus::Init));

    let StationMessage::FilesResult(push) = station("files_scan_result") else {
        panic!()
    };
    assert_eq!(push.scan_id, "");
    check_record(
        &push.data,
        Sex::Female,
        RecordStatus::Computing,
        SubmitStatus::Init,
        UploadStatus::Init,
        UploadStatus::Init,
    );
    assert_eq!(push.data.result_pri_status, Some(SubmitStatus::Fail));

    let StationMessage::FilesUpdate(push) = station("files_scan_update") else {
        panic!()
    };
    check_record(
        &push.data,
        Sex::Male,
        RecordStatus::Deleted,
        SubmitStatus::Fail,
        UploadStatus::Uploaded,
        UploadStatus::Uploaded,
    );
}

#[test]
fn measurement_names_match_the_spec() {
    let v: Value = serde_json::from_slice(&load("files_scan_status")).unwrap();
    let keys: Vec<&str> = v["data"]["list"][0]["result"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut spec: Vec<&str> = keys.clone();
    spec.sort_unstable();
    let mut ours = Measurements::WIRE_NAMES.to_vec();
    ours.sort_unstable();
    assert_eq!(ours, spec);
    assert_eq!(Measurements::WIRE_NAMES.len(), 75);
}

#[test]
fn upgrade_fixtures() {
    let StationMessage::UpgradeInform(inform) = station("inform_upgradeInform") else {
        panic!()
    };
    assert_eq!(inform.source, UpgradeSource::Ota);
    assert_eq!(inform.data.id, "xxxx");
    let info = &inform.data.info;
    assert_eq!(
        info.models().collect::<Vec<_>>(),
        ["einscan-pro", "einscan-plus"]
    );
    assert_eq!(info.file.as_deref(), Some("c:\\down\\aaa.exe"));
    assert_eq!(info.package_type, Some(PackageType::Other(String::new())));
    assert_eq!(info.env, Some(UpgradeEnv::Other(String::new())));
    assert_eq!(info.overwrite, Some(Overwrite::No));
    assert_eq!(info.version.as_deref(), Some("2.7.0.6"));
    assert_eq!(info.os.as_deref(), Some("win"));
    assert_eq!(
        pad("inform_upgradeResponse"),
        PadMessage::UpgradeResponse(Envelope {
            pad_id: empty_pad(),
            data: UpgradeResponse {
                id: "xxxx".into(),
                source: UpgradeSource::Ota,
                upgrade: true
            }
        })
    );
    assert_eq!(
        station("inform_upgrading"),
        StationMessage::Upgrading(Envelope {
            pad_id: empty_pad(),
            data: Upgrading {
                id: "xxxx".into(),
                source: UpgradeSource::Ota
            }
        })
    );
    let version: PackageVersion = serde_json::from_slice(&load("package_version")).unwrap();
    assert_eq!(version.version, "1.0.11");
    assert_eq!(version.change_log.cn, "xxx");
    assert_eq!(version.change_log.en, "xxx");
}

#[test]
fn generic_message_example_is_unknown_and_round_trips() {
    let Message::Unknown(u) = decode("socket_message") else {
        panic!()
    };
    assert_eq!(u.topic, "");
    assert_eq!(
        u.raw,
        serde_json::json!({"topic": "", "padId": "", "data": {}})
    );
    assert!(matches!(
        PadMessage::from_json(&load("socket_message")).unwrap(),
        PadMessage::Unknown(_)
    ));
}

#[test]
fn server_config_fixture() {
    let c = ServerConfig::from_json(&load("server_config")).unwrap();
    assert_eq!(c.log.path, "logs/fa.log");
    assert_eq!(c.log.max_age, 30);
    assert!(c.log.localtime);
    assert_eq!(c.http.port_number(), Some(80));
    assert_eq!(c.http.static_files.log_ol_url_prefix, "/ol");
    assert_eq!(c.http.fs_url, "xxx");
    assert_eq!(c.ws.url_prefix, "/aliscan");
    assert_eq!(c.api.taobao.url, "https://eco.taobao.com/router/rest");
    assert_eq!(c.api.taobao.token, "<redacted>");
    assert_eq!(c.qr_code.size, 256);
    assert_eq!(c.local_exe.ol_log_path, "../OnlineUpdate/logs");
    let lf = &c.local_file;
    assert_eq!(
        lf.retry_upload_interval.to_duration(),
        Some(Duration::from_secs(30 * 3600))
    );
    assert_eq!(
        lf.valid_book_period.to_duration(),
        Some(Duration::from_secs(3 * 3600))
    );
    assert_eq!(
        lf.log_interval.period(),
        Some(Period {
            count: 7,
            unit: IntervalUnit::Hour
        })
    );
    assert_eq!(c.mode, "dev");
    assert_eq!(
        c.cron.on_soft.every_duration(),
        Some(Duration::from_secs(5 * 3600))
    );
    assert_eq!(
        c.cron.on_status.every_duration(),
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        c.cron.on_soft_di.every_duration(),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        c.cron.statistics.every_duration(),
        Some(Duration::from_secs(600))
    );
    assert!(c.cron.inform_front);
    // Everything the example sets and the defaults agree on real values (placeholders aside).
    let back: ServerConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

/// Parses the spec's two tables: `code | description | Y?` rows, bold marks removed.
fn spec_error_rows() -> Vec<(i64, String, bool)> {
    let text = std::fs::read_to_string(fixture_dir().join("error_codes.md")).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<String> = line
            .split('|')
            .map(|c| c.replace("**", "").trim().to_owned())
            .collect();
        let Ok(code) = cells[0].parse::<i64>() else {
            continue;
        };
        let admin = cells.get(2).is_some_and(|c| c == "Y");
        rows.push((code, cells[1].clone(), admin));
    }
    rows
}

#[test]
fn catalogue_covers_every_code_of_the_spec_tables() {
    let rows = spec_error_rows();
    let (headings, codes): (Vec<_>, Vec<_>) =
        rows.iter().partition(|(c, _, _)| (1000..10000).contains(c));
    assert_eq!(headings.len(), 10);
    assert_eq!(codes.len(), 36);
    assert_eq!(CATALOGUE.len(), codes.len());
    for (code, description, admin) in &codes {
        let info = ErrorCode::new(*code)
            .info()
            .unwrap_or_else(|| panic!("{code} missing"));
        assert_eq!(info.description_cn, description, "{code}");
        assert_eq!(info.needs_admin, *admin, "{code}");
        assert!(!info.description_en.is_empty());
    }
    for (heading, description, _) in &headings {
        let category = ErrorCategory::from_heading(*heading).unwrap_or_else(|| panic!("{heading}"));
        assert_eq!(category.description_cn(), description, "{heading}");
    }
    assert_eq!(ErrorCategory::HEADINGS.len(), headings.len());
}
