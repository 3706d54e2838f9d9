//! proptest: every message type survives `decode(encode(m)) == m`; arbitrary input never panics.

use aliscan_proto::*;
use bytes::Bytes;
use chrono::NaiveDate;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// Text with JSON-escaped characters, non-ASCII and control characters.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _/\\-\"\\\\\u{7}\n\u{e9}\u{4e2d}\u{1f600}]{0,10}"
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

/// A wire enum: a known value, or any other string (which decoding keeps as `Other`).
fn wire_enum<T>(known: &'static [&'static str]) -> impl Strategy<Value = T>
where
    T: for<'a> From<&'a str> + std::fmt::Debug + Clone,
{
    prop_oneof![
        select(known).prop_map(T::from),
        "[a-zA-Z0-9]{0,6}".prop_map(|s| T::from(s.as_str())),
    ]
}

fn error_info() -> impl Strategy<Value = ErrorInfo> {
    (any::<i64>(), text(), text()).prop_map(|(code, msg_cn, msg_en)| ErrorInfo {
        code: ErrorCode::new(code),
        message: ErrorText { msg_cn, msg_en },
    })
}

fn outcome_status() -> impl Strategy<Value = OutcomeStatus> {
    wire_enum(OutcomeStatus::KNOWN)
}

fn outcome() -> impl Strategy<Value = Outcome> {
    (outcome_status(), error_info()).prop_map(|(status, error)| Outcome { status, error })
}

fn sex() -> impl Strategy<Value = Sex> {
    prop_oneof![
        Just(Sex::Female),
        Just(Sex::Male),
        (2i64..1000).prop_map(|n| Sex::Other(n.to_string())),
        (i64::MIN..0).prop_map(|n| Sex::Other(n.to_string())),
        "[a-z]{0,3}".prop_map(Sex::Other),
    ]
}

fn station_time() -> impl Strategy<Value = StationTime> {
    (
        0i32..=9999,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            let t = NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, s)
                .unwrap();
            StationTime::new(t).unwrap()
        })
}

/// Measurements: as the station writes them (a few decimals), and any finite float.
fn measure() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000_000i64..10_000_000, 0i32..4).prop_map(|(n, k)| n as f64 / 10f64.powi(k)),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |v| v.is_finite()),
    ]
}

fn measurements() -> impl Strategy<Value = Measurements> {
    vec(opt(measure()), Measurements::WIRE_NAMES.len()).prop_map(|values| {
        let mut m = Measurements::default();
        for (name, v) in Measurements::WIRE_NAMES.iter().zip(values) {
            *m.get_mut(name).unwrap() = v;
        }
        m
    })
}

fn upload_block() -> impl Strategy<Value = UploadBlock> {
    (
        opt(wire_enum(UploadStatus::KNOWN)),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(station_time()),
        opt(any::<u32>()),
        opt(error_info()),
    )
        .prop_map(
            |(status, path, save_name, oss_url, last_upload_time, upload_num, error)| UploadBlock {
                status,
                path,
                save_name,
                oss_url,
                last_upload_time,
                upload_num,
                error,
            },
        )
}

fn user_info() -> impl Strategy<Value = UserInfo> {
    (
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(wire_enum(SubmitStatus::KNOWN)),
    )
        .prop_map(
            |(telephone, member_num, name, operator, birthday, status)| UserInfo {
                telephone,
                member_num,
                name,
                operator,
                birthday,
                status,
            },
        )
}

fn scan_record() -> impl Strategy<Value = ScanRecord> {
    let ids = (
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
    );
    let texts = (
        opt(vec(
            (opt(text()), opt(text())).prop_map(|(images, text)| FootFeature { images, text }),
            0..3,
        )),
        opt(text()),
        opt(vec(text(), 0..3)),
        opt(user_info()),
        opt(sex()),
        opt(station_time()),
        opt(station_time()),
    );
    let blocks = (
        opt(upload_block()),
        opt(upload_block()),
        opt(vec(any::<u8>(), 0..40).prop_map(|b| Blob(Bytes::from(b)))),
        opt(measurements()),
        opt(wire_enum(SubmitStatus::KNOWN)),
        opt(wire_enum(SubmitStatus::KNOWN)),
        opt(wire_enum(RecordStatus::KNOWN)),
        opt(error_info()),
    );
    (ids, texts, blocks).prop_map(
        |(
            (scan_id, request_id, create_pad_id, update_pad_id, save_path, qr_tag),
            (foot_features, advise2, advise1, user_info, sex, create_time, update_time),
            (mini, scan, qr_data, result, result_status, result_pri_status, status, error),
        )| ScanRecord {
            scan_id,
            request_id,
            create_pad_id,
            update_pad_id,
            save_path,
            qr_tag,
            foot_features,
            advise2,
            advise1,
            user_info,
            sex,
            create_time,
            update_time,
            mini,
            scan,
            qr_data,
            result,
            result_status,
            result_pri_status,
            status,
            error,
        },
    )
}

fn envelope<D: std::fmt::Debug + Clone>(
    data: impl Strategy<Value = D>,
) -> impl Strategy<Value = Envelope<D>> {
    (opt(text()), data).prop_map(|(pad_id, data)| Envelope { pad_id, data })
}

fn versions() -> impl Strategy<Value = Versions> {
    (
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
        opt(text()),
    )
        .prop_map(
            |(
                version,
                algorithm_ver,
                sdk_ver,
                community_ver,
                firmware_ver,
                front_ver,
                create_on,
            )| Versions {
                version,
                algorithm_ver,
                sdk_ver,
                community_ver,
                firmware_ver,
                front_ver,
                create_on,
            },
        )
}

fn upgrade_info() -> impl Strategy<Value = UpgradeInfo> {
    (
        (opt(text()), opt(text()), opt(text()), opt(text())),
        (
            opt(wire_enum(PackageType::KNOWN)),
            opt(wire_enum(UpgradeEnv::KNOWN)),
            opt(wire_enum(Overwrite::KNOWN)),
        ),
        (
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
        ),
    )
        .prop_map(
            |(
                (adaptive_model, adaptive_modular, file, lang),
                (package_type, env, overwrite),
                (max_version, min_version, os, version, version_cn_log, version_log),
            )| UpgradeInfo {
                adaptive_model,
                adaptive_modular,
                file,
                lang,
                package_type,
                env,
                max_version,
                min_version,
                os,
                version,
                overwrite,
                version_cn_log,
                version_log,
            },
        )
}

/// An unknown message: any object whose topic is not `known`.
fn unknown(known: fn(&str) -> bool) -> impl Strategy<Value = UnknownMessage> {
    ("[a-z/]{0,12}", vec(("[a-zA-Z]{1,6}", text()), 0..4)).prop_filter_map(
        "known topic",
        move |(topic, fields)| {
            if known(&topic) {
                return None;
            }
            let mut raw = serde_json::Map::new();
            for (k, v) in fields {
                raw.insert(k, serde_json::Value::String(v));
            }
            raw.insert("topic".into(), serde_json::Value::String(topic.clone()));
            Some(UnknownMessage {
                topic,
                raw: raw.into(),
            })
        },
    )
}

fn pad_message() -> impl Strategy<Value = PadMessage> {
    let bare = || opt(text()).prop_map(|pad_id| Bare { pad_id });
    prop_oneof![
        envelope(Just(Empty)).prop_map(PadMessage::WifiList),
        envelope(Just(Empty)).prop_map(PadMessage::WifiQuery),
        envelope((text(), text()).prop_map(|(ssid, pwd)| WifiConnect { ssid, pwd }))
            .prop_map(PadMessage::WifiConnect),
        envelope(Just(Empty)).prop_map(PadMessage::WifiDisconnect),
        envelope((sex(), text()).prop_map(|(sex, request_id)| ScanNew { sex, request_id }))
            .prop_map(PadMessage::ScanNew),
        envelope(wire_enum(CalibrationStep::KNOWN).prop_map(|step| CalibrationNew { step }))
            .prop_map(PadMessage::CalibrationNew),
        bare().prop_map(PadMessage::StoreBrand),
        envelope(
            (
                text(),
                text(),
                text(),
                opt(any::<u32>()),
                opt(any::<u32>()),
                opt(any::<i64>())
            )
                .prop_map(|(province, city, region, page, page_size, environment)| {
                    StoreListQuery {
                        province,
                        city,
                        region,
                        page,
                        page_size,
                        environment,
                    }
                })
        )
        .prop_map(PadMessage::StoreList),
        envelope(
            (text(), opt(any::<i64>())).prop_map(|(number, environment)| StoreGet {
                number,
                environment
            })
        )
        .prop_map(PadMessage::StoreGet),
        envelope(
            (text(), text()).prop_map(|(store_id, store_name)| StoreBind {
                store_id,
                store_name
            })
        )
        .prop_map(PadMessage::StoreBind),
        bare().prop_map(PadMessage::StoreUnbind),
        envelope(wire_enum(ScanAction::KNOWN).prop_map(|action| EquipmentAction { action }))
            .prop_map(PadMessage::ScanAction),
        envelope(
            (any::<u32>(), any::<u32>())
                .prop_map(|(page, page_size)| FilesList { page, page_size })
        )
        .prop_map(PadMessage::FilesList),
        envelope(
            (
                text(),
                opt(text()),
                opt(text()),
                opt(text()),
                opt(text()),
                opt(text())
            )
                .prop_map(
                    |(scan_id, telephone, member_num, operator, birthday, name)| UserInfoUpdate {
                        scan_id,
                        telephone,
                        member_num,
                        operator,
                        birthday,
                        name
                    }
                )
        )
        .prop_map(PadMessage::UserInfoUpdate),
        envelope(
            (wire_enum(FileAction::KNOWN), opt(vec(text(), 0..3)))
                .prop_map(|(action, scan_ids)| FilesAction { action, scan_ids })
        )
        .prop_map(PadMessage::FilesAction),
        envelope(
            (text(), wire_enum(UpgradeSource::KNOWN), any::<bool>()).prop_map(
                |(id, source, upgrade)| UpgradeResponse {
                    id,
                    source,
                    upgrade
                }
            )
        )
        .prop_map(PadMessage::UpgradeResponse),
        envelope(Just(Empty)).prop_map(PadMessage::DeviceInfo),
        envelope(any::<bool>().prop_map(|enable| DebugEnable { enable }))
            .prop_map(PadMessage::DebugEnable),
        envelope(Just(Empty)).prop_map(PadMessage::CheckUDisk),
        envelope(Just(Empty)).prop_map(PadMessage::CopyLog),
        envelope(Just(Empty)).prop_map(PadMessage::UploadLog),
        envelope(Just(Empty)).prop_map(PadMessage::InfoUpdate),
        envelope(text().prop_map(|request_id| FilesRequest { request_id }))
            .prop_map(PadMessage::FilesRequest),
        envelope(Just(Empty)).prop_map(PadMessage::NetQuery),
        unknown(PadMessage::knows).prop_map(PadMessage::Unknown),
    ]
}

fn station_message() -> impl Strategy<Value = StationMessage> {
    let record_push = || {
        (opt(text()), text(), scan_record()).prop_map(|(pad_id, scan_id, data)| RecordPush {
            pad_id,
            scan_id,
            data: Box::new(data),
        })
    };
    let wifi_network = (text(), any::<i32>(), any::<bool>(), any::<bool>()).prop_map(
        |(ssid, rssi, is_current, is_our_ap)| WifiNetwork {
            ssid,
            rssi: Rssi(rssi),
            is_current,
            is_our_ap,
        },
    );
    let brand = (
        (outcome_status(), error_info(), text(), text()),
        (
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
        ),
    )
        .prop_map(
            |(
                (status, error, store_name, brand_name),
                (
                    logo,
                    source_logo,
                    big_logo,
                    small_logo,
                    report_title,
                    report_sub_title,
                    footer_content,
                ),
            )| BrandInfo {
                status,
                error,
                logo,
                source_logo,
                big_logo,
                small_logo,
                report_title,
                report_sub_title,
                footer_content,
                store_name,
                brand_name,
            },
        );
    let statistics = vec(any::<u64>(), 14).prop_map(|v| Statistics {
        total: v[0],
        uncomplete: v[1],
        user_uncomplete: v[2],
        user_fail: v[3],
        json_uncomplete: v[4],
        json_fail: v[5],
        json_pri_uncomplete: v[6],
        json_pri_fail: v[7],
        cloud_uncomplete: v[8],
        cloud_fail: v[9],
        mini_uncomplete: v[10],
        mini_fail: v[11],
        scan_uncomplete: v[12],
        scan_fail: v[13],
    });
    let device_info = (
        (outcome_status(), error_info()),
        (
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
            opt(text()),
        ),
        (versions(), opt(versions())),
    )
        .prop_map(
            |((status, error), (model_name, sn, ssid, ap, device_id), (versions, prev))| {
                DeviceInfo {
                    status,
                    error,
                    model_name,
                    sn,
                    ssid,
                    ap,
                    device_id,
                    versions,
                    prev,
                }
            },
        );
    prop_oneof![
        envelope(
            (any::<u32>(), vec(wifi_network, 0..3))
                .prop_map(|(count, list)| WifiList { count, list })
        )
        .prop_map(StationMessage::WifiResult),
        envelope(
            (wire_enum(WifiStatus::KNOWN), error_info())
                .prop_map(|(status, error)| WifiState { status, error })
        )
        .prop_map(StationMessage::WifiStatus),
        envelope(
            (wire_enum(StationStatus::KNOWN), opt(text()), error_info()).prop_map(
                |(status, current_pad, error)| StationState {
                    status,
                    current_pad,
                    error
                }
            )
        )
        .prop_map(StationMessage::ScanStatus),
        (opt(text()), text()).prop_map(|(pad_id, scan_id)| StationMessage::ScanResult(
            ScanStarted { pad_id, scan_id }
        )),
        envelope(
            (
                outcome_status(),
                error_info(),
                wire_enum(CalibrationStep::KNOWN)
            )
                .prop_map(|(status, error, step)| CalibrationResult {
                    status,
                    error,
                    step
                })
        )
        .prop_map(StationMessage::CalibrationResult),
        envelope(brand).prop_map(StationMessage::StoreBrandResult),
        envelope(
            (
                outcome_status(),
                error_info(),
                opt(any::<u64>()),
                opt(any::<u32>()),
                opt(any::<u32>()),
                vec(
                    (text(), text()).prop_map(|(name, number)| Store { name, number }),
                    0..3
                )
            )
                .prop_map(|(status, error, count, page_size, page, list)| StoreList {
                    status,
                    error,
                    count,
                    page_size,
                    page,
                    list
                })
        )
        .prop_map(StationMessage::StoreListResult),
        envelope(
            (outcome_status(), error_info(), opt(text()), opt(text())).prop_map(
                |(status, error, name, number)| StoreInfo {
                    status,
                    error,
                    name,
                    number
                }
            )
        )
        .prop_map(StationMessage::StoreGetResult),
        envelope(outcome()).prop_map(StationMessage::StoreResult),
        envelope(outcome()).prop_map(StationMessage::UserInfoResult),
        envelope(
            (
                any::<u64>(),
                any::<u32>(),
                any::<u32>(),
                vec(scan_record(), 0..3)
            )
                .prop_map(|(count, page, page_size, list)| ScanPage {
                    count,
                    page,
                    page_size,
                    list
                })
        )
        .prop_map(StationMessage::FilesStatus),
        record_push().prop_map(StationMessage::FilesResult),
        record_push().prop_map(StationMessage::FilesUpdate),
        envelope(statistics).prop_map(StationMessage::FilesStatistics),
        (
            opt(text()),
            wire_enum(UpgradeSource::KNOWN),
            text(),
            upgrade_info()
        )
            .prop_map(|(pad_id, source, id, info)| {
                StationMessage::UpgradeInform(UpgradeInform {
                    pad_id,
                    source,
                    data: UpgradeOffer { id, info },
                })
            }),
        envelope(
            (text(), wire_enum(UpgradeSource::KNOWN))
                .prop_map(|(id, source)| Upgrading { id, source })
        )
        .prop_map(StationMessage::Upgrading),
        envelope(device_info).prop_map(StationMessage::DeviceInfoResult),
        envelope(
            (
                outcome_status(),
                error_info(),
                opt(text()),
                opt(any::<u64>()),
                opt(any::<u64>()),
                opt(any::<u64>())
            )
                .prop_map(|(status, error, name, size, free, log_size)| UDiskInfo {
                    status,
                    error,
                    name,
                    size,
                    free,
                    log_size
                })
        )
        .prop_map(StationMessage::CheckUDiskResult),
        envelope(outcome()).prop_map(StationMessage::CopyLogResult),
        envelope(outcome()).prop_map(StationMessage::UploadLogResult),
        envelope(any::<bool>()).prop_map(StationMessage::NetResult),
        envelope(any::<i64>()).prop_map(StationMessage::BrandError),
        unknown(StationMessage::knows).prop_map(StationMessage::Unknown),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pad_messages_round_trip(m in pad_message()) {
        let text = PadCodec::default().encode_text(&m).unwrap();
        prop_assert_eq!(&StationCodec::default().decode_text(text.as_bytes()).unwrap(), &m);
        let any = Message::from_json(text.as_bytes()).unwrap();
        match (&m, &any) {
            (PadMessage::Unknown(u), Message::Unknown(v)) => prop_assert_eq!(u, v),
            (_, Message::Pad(p)) => prop_assert_eq!(p, &m),
            _ => prop_assert!(false, "direction lost: {:?}", any),
        }
    }

    #[test]
    fn station_messages_round_trip(m in station_message()) {
        let text = StationCodec::default().encode_text(&m).unwrap();
        // The codec writes exactly serde_json's bytes of the message.
        prop_assert_eq!(&text, &serde_json::to_string(&m).unwrap());
        prop_assert_eq!(&PadCodec::default().decode_text(text.as_bytes()).unwrap(), &m);
        let any = Message::from_json(text.as_bytes()).unwrap();
        match (&m, &any) {
            (StationMessage::Unknown(u), Message::Unknown(v)) => prop_assert_eq!(u, v),
            (_, Message::Station(s)) => prop_assert_eq!(s, &m),
            _ => prop_assert!(false, "direction lost: {:?}", any),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        if let Ok(m) = Message::from_json(&bytes) {
            let text = m.to_json().unwrap();
            prop_assert_eq!(Message::from_json(text.as_bytes()).unwrap(), m);
        }
    }

    #[test]
    fn arbitrary_data_under_known_topics_never_panics(
        topic in select([PadMessage::KNOWN, StationMessage::KNOWN].concat()),
        data in "[\\[\\]{}\",:0-9a-z ]{0,40}",
    ) {
        let text = format!(r#"{{"topic":"{topic}","padId":"p","scanId":"s","source":"ota","data":{data}}}"#);
        match Message::from_json(text.as_bytes()) {
            Ok(m) => {
                prop_assert_eq!(m.topic(), topic);
                let again = m.to_json().unwrap();
                prop_assert_eq!(Message::from_json(again.as_bytes()).unwrap(), m);
            }
            Err(e) => prop_assert!(e.to_string().contains(topic), "{}", e),
        }
    }

    #[test]
    fn interval_text_is_kept_and_periods_format_back(text in "[0-9]{0,3}[yMwhmsd]?|\\PC{0,6}") {
        let i = Interval::new(text.clone());
        prop_assert_eq!(i.as_str(), text.as_str());
        if let Some(p) = i.period() {
            prop_assert_eq!(Period::parse(&p.to_string()), Some(p));
        }
    }
}
