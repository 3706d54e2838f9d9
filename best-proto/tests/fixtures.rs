//! Every JSON example of best.md decodes to the right typed message and round-trips.

use best_proto::broker::LookupReply;
use best_proto::*;
use bytes::Bytes;
use chrono::{DateTime, FixedOffset};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{DIR}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes a fixture of either direction and checks that encoding and decoding again gives the same value.
fn any(name: &str) -> Envelope {
    let env: Envelope =
        Envelope::from_json(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: Envelope = Envelope::from_json(&env.to_json().unwrap()).unwrap();
    assert_eq!(again, env, "{name} does not round-trip");
    env
}

fn device(name: &str) -> (Envelope<DeviceMessage>, DeviceMessage) {
    let env = any(name);
    let Message::Device(m) = env.message.clone() else {
        panic!("{name} is not a device message: {env:?}")
    };
    // The one-direction decoder agrees.
    let one: Envelope<DeviceMessage> = Envelope::from_json(&fixture(name)).unwrap();
    assert_eq!(one.message, m);
    (env.map(|_| m.clone()), m)
}

fn platform(name: &str) -> (Envelope<PlatformMessage>, PlatformMessage) {
    let env = any(name);
    let Message::Platform(m) = env.message.clone() else {
        panic!("{name} is not a platform message: {env:?}")
    };
    let one: Envelope<PlatformMessage> = Envelope::from_json(&fixture(name)).unwrap();
    assert_eq!(one.message, m);
    (env.map(|_| m.clone()), m)
}

fn time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn bools(s: &str) -> BioVector<bool> {
    s.parse().unwrap()
}

/// A reply with only `code`, `message` and `mid` (`"xxxx"` each).
fn short_reply(name: &str) {
    let (env, m) = platform(name);
    assert_eq!(env.mid, "xxxx");
    assert_eq!(
        m,
        PlatformMessage::Response(Response {
            code: Code::Other("xxxx".into()),
            message: Some("xxxx".into()),
            results: None,
        })
    );
}

/// The device's `dev.cmd.response` printed after every command.
fn cmd_reply(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.mid, "xxxx");
    assert_eq!(
        m,
        DeviceMessage::CmdResponse(CmdResponse {
            code: Code::Other("xxxx".into()),
            message: Some("xxxx".into()),
            cmd_id: "xxxx".into(),
        })
    );
}

fn xxxx3() -> Vec<String> {
    vec!["xxxx".into(); 3]
}

/// Every fixture file and the check it gets; the test below fails on a file missing from this list.
/// A check run on the fixture of that name.
type Check = fn(&str);

const CHECKS: &[(&str, Check)] = &[
    ("3.1-getBrokerServer.reply.json", broker_reply),
    ("3.1-getBrokerServer.error.json", broker_error),
    ("2.1-device.exchange.publicKey.json", public_key),
    ("2.1-device.exchange.publicKey.reply.json", public_key_reply),
    ("2.2-device.exchange.factor.json", factor),
    ("2.2-device.exchange.factor.reply.json", factor_reply),
    ("3.2-dev.register.json", register),
    ("3.2-dev.register.reply.json", register_reply),
    ("3.3-dev.accredit.json", accredit),
    ("3.3-dev.accredit.reply.json", accredit_reply),
    ("3.4-dev.login.json", login),
    ("3.4-dev.login.reply.json", login_reply),
    ("3.5-dev.report.json", report),
    ("3.5-dev.report.reply.json", report_reply),
    ("3.6-dev.heartbeat.json", heartbeat),
    ("3.6-dev.heartbeat.reply.json", heartbeat_reply),
    ("3.7-dev.file.upload.start.json", upload_start),
    ("3.7-dev.file.upload.start.reply.json", short_reply),
    ("3.7-dev.file.upload.package.json", upload_package),
    ("3.7-dev.file.upload.package.reply.json", short_reply),
    ("3.7-dev.file.upload.end.json", upload_end),
    ("3.7-dev.file.upload.end.reply.json", short_reply),
    ("3.8-dev.data.upload.user.json", upload_user),
    ("3.8-dev.data.upload.user.joined.json", upload_user_joined),
    ("3.8-dev.data.upload.user.reply.json", short_reply),
    ("3.9-dev.data.upload.userPhoto.json", user_photo),
    ("3.9-dev.data.upload.userPhoto.reply.json", short_reply),
    ("3.10-dev.data.upload.bioPhoto.json", bio_photo),
    ("3.10-dev.data.upload.bioPhoto.reply.json", short_reply),
    ("3.11-dev.data.upload.multiCard.json", upload_cards),
    ("3.11-dev.data.upload.multiCard.reply.json", short_reply),
    ("3.12-dev.data.upload.verifyLog.json", verify_log),
    ("3.12-dev.data.upload.verifyLog.reply.json", short_reply),
    ("3.13-dev.data.upload.verifyPhoto.json", verify_photo),
    ("3.13-dev.data.upload.verifyPhoto.reply.json", short_reply),
    ("3.14-cmd.data.update.user.json", update_user),
    ("3.14-cmd.data.update.user.reply.json", cmd_reply),
    ("3.15-cmd.data.update.meeting.json", update_meeting),
    ("3.15-cmd.data.update.meeting.reply.json", cmd_reply),
    ("3.16-cmd.data.update.meetingMember.json", update_members),
    ("3.16-cmd.data.update.meetingMember.reply.json", cmd_reply),
    ("3.17-cmd.data.update.multiCard.json", update_cards),
    ("3.17-cmd.data.update.multiCard.reply.json", cmd_reply),
    ("3.18-cmd.data.update.bioPhoto.json", update_bio_photo),
    ("3.18-cmd.data.update.bioPhoto.reply.json", cmd_reply),
    ("3.19-cmd.data.delete.user.json", delete_user),
    ("3.19-cmd.data.delete.user.reply.json", cmd_reply),
    ("3.20-cmd.data.delete.bioPhoto.json", delete_bio_photo),
    ("3.20-cmd.data.delete.bioPhoto.reply.json", cmd_reply),
    ("3.21-cmd.data.delete.multiCard.json", delete_cards),
    ("3.21-cmd.data.delete.multiCard.reply.json", cmd_reply),
    ("3.22-cmd.data.delete.meeting.json", delete_meeting),
    ("3.22-cmd.data.delete.meeting.reply.json", cmd_reply),
    ("3.23-cmd.data.delete.meetingMember.json", delete_members),
    ("3.23-cmd.data.delete.meetingMember.reply.json", cmd_reply),
    ("3.24-cmd.data.delete.userPhoto.json", delete_user_photo),
    ("3.24-cmd.data.delete.userPhoto.reply.json", cmd_reply),
    ("3.25-cmd.data.query.user.json", query_user),
    ("3.25-cmd.data.query.user.reply.json", cmd_reply),
    ("3.25b-cmd.data.clear.user.json", clear_user),
    ("3.25b-cmd.data.clear.user.reply.json", cmd_reply),
    ("3.26-cmd.data.clear.multiCard.json", clear_cards),
    ("3.26-cmd.data.clear.multiCard.reply.json", cmd_reply),
    ("3.27-cmd.data.clear.all.json", clear_all),
    ("3.27-cmd.data.clear.all.reply.json", cmd_reply),
    ("3.28-cmd.option.set.json", option_set),
    ("3.28-cmd.option.set.reply.json", cmd_reply),
    ("3.29-cmd.control.reboot.json", reboot),
    ("3.30-cmd.system.sync.time.json", sync_time_cmd),
    ("3.30-dev.system.sync.time.json", sync_time_dev),
    ("4.2.1-platform-request-format.json", platform_format),
    ("4.2.2-device-request-format.json", device_format),
    ("4.3.1-platform-reply-format.json", reply_format),
];

#[test]
fn every_fixture_decodes_to_its_typed_message() {
    for (name, check) in CHECKS {
        check(name);
    }
}

#[test]
fn every_fixture_file_is_checked() {
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut checked: Vec<String> = CHECKS.iter().map(|(n, _)| (*n).to_owned()).collect();
    checked.sort();
    assert_eq!(files, checked);
}

fn broker_reply(name: &str) {
    let reply = LookupReply::from_json(&fixture(name)).unwrap();
    assert_eq!(reply.code, Code::Success);
    assert_eq!(reply.message.as_deref(), Some("success"));
    let info = &reply.payload.as_ref().unwrap().results;
    assert_eq!(info.url, "mqtts://xxxx:port");
    assert_eq!(info.root_ca.as_deref(), Some("string"));
    assert_eq!(info.private_key.as_deref(), Some("string"));
    assert_eq!(info.site_id.as_deref(), Some("string"));
    assert_eq!(LookupReply::from_json(&reply.to_json()).unwrap(), reply);
}

fn broker_error(name: &str) {
    let reply = LookupReply::from_json(&fixture(name)).unwrap();
    assert_eq!(reply.code, Code::Other("其他不等于00000000的错误码".into()));
    assert!(!reply.code.is_success());
    assert_eq!(reply.message.as_deref(), Some("错误描述"));
    assert_eq!(reply.payload, None);
}

fn public_key(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.mid, "xxxxxx");
    assert_eq!(
        m,
        DeviceMessage::ExchangePublicKey(PublicKey {
            public_key: "固件端公钥".into()
        })
    );
}

fn public_key_reply(name: &str) {
    let (env, m) = platform(name);
    assert_eq!(env.mid, "xxxxxxx");
    assert_eq!(
        m,
        PlatformMessage::Response(Response {
            code: Code::Success,
            message: Some("消息内容".into()),
            results: Some(Results::PublicKey(PublicKey {
                public_key: "服务端公钥".into()
            })),
        })
    );
}

fn factor(name: &str) {
    let (_, m) = device(name);
    assert_eq!(
        m,
        DeviceMessage::ExchangeFactor(Factor {
            factor: "固件端加密因子".into()
        })
    );
}

fn factor_reply(name: &str) {
    let (_, m) = platform(name);
    let PlatformMessage::Response(r) = m else {
        panic!()
    };
    assert!(r.code.is_success());
    assert_eq!(
        r.results,
        Some(Results::Factor(Factor {
            factor: "服务端加密因子".into()
        }))
    );
}

fn register(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.sn.as_deref(), Some("xxxx"));
    assert_eq!(
        m,
        DeviceMessage::Register(Register {
            prot_type: ProtType::BestW,
            prot_ver: "1.0.0".into(),
            product_id: Some("xxxxxxx".into()),
            dev_key: "xxxx".into(),
            dev_type: DevType::Access,
        })
    );
}

fn register_reply(name: &str) {
    let (env, m) = platform(name);
    assert_eq!(env.mid, "xxxxxxxx");
    let PlatformMessage::Response(r) = m else {
        panic!()
    };
    assert_eq!(
        r.results,
        Some(Results::Register(RegisterResults {
            auth_code: "xxxxx".into()
        }))
    );
}

fn accredit(name: &str) {
    let (_, m) = device(name);
    assert_eq!(
        m,
        DeviceMessage::Accredit(Accredit {
            product_id: Some("xxxxxxx".into()),
            dev_key: "xxxx".into(),
            auth_code: "xxxx".into(),
        })
    );
}

fn accredit_reply(name: &str) {
    let (_, m) = platform(name);
    let PlatformMessage::Response(r) = m else {
        panic!()
    };
    let Some(Results::Accredit(a)) = &r.results else {
        panic!("{r:?}")
    };
    assert_eq!(a.secret, "xxxxxxxx");
    assert!(
        !format!("{a:?}").contains("xxxxxxxx"),
        "secret printed by Debug"
    );
}

fn login(name: &str) {
    let (_, m) = device(name);
    let DeviceMessage::Login(l) = m else { panic!() };
    assert_eq!(l.product_id.as_deref(), Some("xxxxxxxx"));
    assert_eq!(
        (l.dev_key.as_str(), l.auth_code.as_str(), l.secret.as_str()),
        ("xxxx", "xxxx", "xxxx")
    );
}

fn login_reply(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::Response(Response {
            code: Code::Other("xxxxxxxx".into()),
            message: Some("消息内容".into()),
            results: None,
        })
    );
}

fn report(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.sn.as_deref(), Some("xxxx"));
    let DeviceMessage::Report(r) = m else {
        panic!()
    };
    assert_eq!(r.fw_ver, "ZAM170-NF-Ver1.1.21");
    assert_eq!(r.dev_model, "TDB08Z-PLUS");
    assert_eq!(r.comm_type, CommType::Ethernet);
    assert_eq!(r.ip, "192.168.213.55");
    assert_eq!(r.mac, "00:17:61:12:e5:07");
    assert_eq!(
        (
            r.lock_count,
            r.user_count,
            r.max_user_count,
            r.transaction_count,
            r.max_transaction_count
        ),
        (1, 50, 30000, 115, 50000)
    );
    assert_eq!(r.multi_bio_data_support, bools("0:1:1:0:0:0:0:0:0:0"));
    assert_eq!(
        r.multi_bio_data_support.get(BioType::Fingerprint),
        Some(&true)
    );
    assert_eq!(r.multi_bio_data_support.get(BioType::NirFace), Some(&true));
    assert_eq!(
        r.multi_bio_data_support.get(BioType::VisibleFace),
        Some(&false)
    );
    assert_eq!(r.multi_bio_enroll_support, None);
    assert_eq!(
        r.multi_bio_ver
            .get(BioType::Fingerprint)
            .map(String::as_str),
        Some("10.0")
    );
    assert_eq!(
        r.multi_bio_ver.get(BioType::NirFace).map(String::as_str),
        Some("7.0")
    );
    assert_eq!(r.multi_bio_data_count.0, [0, 100, 200, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        r.max_multi_bio_data_count.get(BioType::Fingerprint),
        Some(&10000)
    );
    assert_eq!(
        r.max_multi_bio_photo_count
            .as_ref()
            .unwrap()
            .get(BioType::NirFace),
        Some(&2000)
    );
    assert_eq!(r.max_package_size, Some(64));
    assert_eq!(r.max_package_kb(), 64);
    assert_eq!((r.qr_code_support, r.qr_code_on), (Some(true), Some(true)));
    let schemes = r.qr_code_decrypt_fun_list.as_ref().unwrap();
    assert!(!schemes.get(0) && schemes.get(1));
    assert_eq!(r.capture_pic, Some(CaptureMode::CaptureAndSave));
    assert_eq!(r.volume, Some(50));
    assert_eq!(r.max_temperature, Some(37.0));
    assert_eq!(r.min_temperature, Some(32.1));
    assert_eq!(r.ir_temp_unit, Some(TempUnit::Fahrenheit));
    assert_eq!(r.max_pending_cmd_count, Some(20));
    assert_eq!(r.scene, Some(Scene::AccessControl));
    assert!(r.supports(VerifyStyle(0)) && r.supports(VerifyStyle(10)));
    assert!(
        !r.supports(VerifyStyle(1)) && !r.supports(VerifyStyle(11)) && !r.supports(VerifyStyle(40))
    );
    assert_eq!(
        (r.sip_on, r.ad_on, r.camera_on),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(
        r.func_ids,
        [
            FuncId::Other("dev.option.upload".into()),
            FuncId::UploadUser,
            FuncId::Other("xxxxx".into())
        ]
    );
}

fn report_reply(name: &str) {
    let (_, m) = platform(name);
    let PlatformMessage::Response(r) = m else {
        panic!()
    };
    assert_eq!(r.code, Code::Other("xxxx".into()));
    let Some(Results::Report(rr)) = r.results else {
        panic!()
    };
    assert_eq!(rr.timezone_or_default().local_minus_utc(), 8 * 3600);
    assert_eq!(rr.timezone, FixedOffset::east_opt(8 * 3600));
    assert_eq!(rr.support_heartbeat, Some(false));
    assert_eq!(rr.heartbeat_interval_or_default().as_secs(), 60);
    assert_eq!(rr.multi_bio_data_support, Some(bools("0:1:1:0:0:0:0:0:0")));
    assert_eq!(rr.multi_bio_photo_support, Some(bools("0:1:1:0:0:0:0:0:0")));
    assert_eq!(
        rr.func_ids,
        Some(vec![
            FuncId::Other("xxxx".into()),
            FuncId::Other("xxxx".into())
        ])
    );
}

fn heartbeat(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.imme, Some(Imme::Other("xxxx".into())));
    assert_eq!(
        m,
        DeviceMessage::Heartbeat(Heartbeat {
            is_free: Some(true)
        })
    );
}

fn heartbeat_reply(name: &str) {
    let (env, m) = platform(name);
    assert_eq!(env.imme, Some(Imme::Other("xxxx".into())));
    assert!(matches!(
        m,
        PlatformMessage::Response(Response { results: None, .. })
    ));
}

fn file_id() -> FileId {
    FileId::new("e78dc2cef23d495ab4f890fe3362bee9").unwrap()
}

fn upload_start(name: &str) {
    let (_, m) = device(name);
    assert_eq!(
        m,
        DeviceMessage::FileUploadStart(FileUploadStart {
            file_id: file_id(),
            size: 1208,
            checksum: None,
        })
    );
}

fn upload_package(name: &str) {
    let (_, m) = device(name);
    let DeviceMessage::FileUploadPackage(p) = m else {
        panic!()
    };
    assert_eq!(p.file_id, file_id());
    assert_eq!(p.offset, 215);
    // "xxxxxxxxxxxxxxxx" is valid base64: 16 characters, 12 bytes.
    assert_eq!(p.content.len(), 12);
    assert_eq!(&p.content[..], &[0xc7, 0x1c, 0x71].repeat(4)[..]);
}

fn upload_end(name: &str) {
    let (_, m) = device(name);
    assert_eq!(
        m,
        DeviceMessage::FileUploadEnd(FileUploadEnd { file_id: file_id() })
    );
}

fn spec_upload_user() -> User {
    User {
        password: Some("fbfe82e76c06ea568e3301ab17a9d4677c1481b8a4f1ca137411e10153deabc3".into()),
        password_salt: Some("c09eb7463827cda245f3a398bd453c42".into()),
        group: Some("xxxx".into()),
        id_num: Some("xxxx".into()),
        start_time: Some(time("2020-01-01T00:00:00+08:00")),
        end_time: Some(time("2020-12-31T23:59:59+08:00")),
        last_name: Some("xxxx".into()),
        ..User::new("2956", "xxxx")
    }
}

fn spec_bio_data() -> BioData {
    BioData {
        no: Some(0),
        index: Some(0),
        valid: Some(true),
        duress: Some(false),
        bio_type: BioType::NirFace,
        major_ver: 10,
        minor_ver: 1,
        fmt: TemplateFormat::Zk,
        tmp: "xxxxxxxxxxxxxxxxxxxxxx".into(),
    }
}

fn upload_user(name: &str) {
    let (_, m) = device(name);
    assert_eq!(
        m,
        DeviceMessage::UploadUsers(UploadUsers {
            users: vec![spec_upload_user()]
        })
    );
}

fn upload_user_joined(name: &str) {
    let (_, m) = device(name);
    let expected = User {
        threat_level_group_num: Some(String::new()),
        bio_datas: vec![spec_bio_data()],
        ..spec_upload_user()
    };
    assert_eq!(
        m,
        DeviceMessage::UploadUsers(UploadUsers {
            users: vec![expected]
        })
    );
}

fn user_photo(name: &str) {
    let (_, m) = device(name);
    let DeviceMessage::UploadUserPhotos(p) = m else {
        panic!()
    };
    let photo = &p.user_photos[0];
    assert_eq!(photo.pin, "xxxx");
    assert_eq!(photo.extension.as_deref(), Some("xxxx"));
    assert_eq!(photo.content.as_ref().map(Bytes::len), Some(3));
    assert_eq!(photo.content_file_id, Some(FileId::new("xxxx").unwrap()));
}

fn bio_photo(name: &str) {
    let (_, m) = device(name);
    let DeviceMessage::UploadBioPhotos(p) = m else {
        panic!()
    };
    let photo = &p.bio_photos[0];
    assert_eq!(
        (photo.no, photo.index, photo.bio_type),
        (Some(0), Some(0), BioType::VisibleFace)
    );
    // Printed with the spec's other spelling `contentFileDialog`.
    assert_eq!(photo.content_file_id, Some(FileId::new("xxxx").unwrap()));
    assert!(photo.content.is_some());
}

fn upload_cards(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.mid, "xxxxxxxxxxxxxxxxxx");
    assert_eq!(
        m,
        DeviceMessage::UploadMultiCards(UploadMultiCards {
            multi_cards: vec![Card {
                pin: "1001".into(),
                card: "CC11000001xxx".into(),
                card_type: Some(CardType::Main),
                loss_flag: Some(false),
            }]
        })
    );
}

fn verify_log(name: &str) {
    let (_, m) = device(name);
    assert_eq!(
        m,
        DeviceMessage::UploadVerifyLogs(UploadVerifyLogs {
            verify_logs: vec![VerifyLog {
                pin: "1".into(),
                meet_code: "123".into(),
                verify_time: time("2024-06-26T00:00:00+08:00"),
                verify_style: VerifyStyle(1),
                status: VerifyStatus::SignInWindow,
                category: UserCategory::Other(1),
                log_id: "1".into(),
                record_type: RecordType::SignOut,
            }]
        })
    );
}

fn verify_photo(name: &str) {
    let (_, m) = device(name);
    let DeviceMessage::UploadVerifyPhotos(p) = m else {
        panic!()
    };
    let photo = &p.verify_photos[0];
    assert_eq!(photo.meet_code, "123");
    assert_eq!(photo.photo_time, Some(time("2024-06-26T00:00:00+08:00")));
    assert_eq!(photo.log_id.as_deref(), Some("1"));
    assert_eq!(photo.content_file_id, Some(FileId::new("xxxx").unwrap()));
}

fn update_user(name: &str) {
    let (_, m) = platform(name);
    let expected = User {
        role: Some("1".into()),
        password: Some("fbfe82e76c06ea568e3301ab17a9d4677c1481b8a4f1ca137411e10153deabc3".into()),
        password_salt: Some("c09eb7463827cda245f3a398bd453c42".into()),
        start_time: Some(time("2020-01-01T00:00:00+08:00")),
        end_time: Some(time("2020-12-31T23:59:59+08:00")),
        last_name: Some("lin".into()),
        bio_datas: vec![spec_bio_data()],
        rule_type: Some(RuleType::Access),
        ..User::new("2956", "huiwu")
    };
    assert_eq!(
        m,
        PlatformMessage::UpdateUsers(UpdateUsers {
            cmd_id: "xxxx".into(),
            users: vec![expected]
        })
    );
    assert_eq!(m.cmd_id(), Some("xxxx"));
}

fn update_meeting(name: &str) {
    let (_, m) = platform(name);
    let t = time("2020-12-31T23:59:59+08:00");
    assert_eq!(
        m,
        PlatformMessage::UpdateMeetings(UpdateMeetings {
            cmd_id: "xxxx".into(),
            meetings: vec![Meeting {
                name: "会议名称".into(),
                start_sign_in_time: Some(t),
                last_sign_in_time: Some(t),
                earliest_sign_out_time: Some(t),
                last_sign_out_time: t,
                id: "123".into(),
                start_time: t,
                end_time: t,
                applicant: "会议申请人".into(),
            }]
        })
    );
}

fn update_members(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::UpdateMeetingMembers(UpdateMeetingMembers {
            cmd_id: "xxxx".into(),
            members: vec![MeetingMembers {
                meeting_id: "123".into(),
                pins: vec!["xxx".into(), "xxx".into()]
            }]
        })
    );
}

fn update_cards(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::UpdateMultiCards(UpdateMultiCards {
            cmd_id: "xxxx".into(),
            multi_cards: vec![Card {
                pin: "2956".into(),
                card: "C100001".into(),
                card_type: Some(CardType::Main),
                loss_flag: Some(false),
            }]
        })
    );
}

fn update_bio_photo(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::UpdateBioPhotos(UpdateBioPhotos {
            cmd_id: "xxxx".into(),
            bio_photos: vec![BioPhotoUrl {
                pin: "2956".into(),
                no: Some(0),
                index: Some(0),
                bio_type: BioType::VisibleFace,
                url: "https://xxxxxxxxxx.jpg".into(),
            }]
        })
    );
}

fn delete_user(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::DeleteUsers(PinsCommand {
            cmd_id: "xxxx".into(),
            pins: xxxx3()
        })
    );
}

fn delete_bio_photo(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::DeleteBioPhotos(DeleteBioPhotos {
            cmd_id: "xxxx".into(),
            bio_photos: vec![BioPhotoSelector {
                bio_type: Some(BioType::Fingerprint),
                pin: Some("xxxx".into()),
                no: Some(0),
            }]
        })
    );
}

fn delete_cards(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::DeleteMultiCards(PinsCommand {
            cmd_id: "xxxx".into(),
            pins: xxxx3()
        })
    );
}

fn delete_meeting(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::DeleteMeetings(DeleteMeetings {
            cmd_id: "xxxx".into(),
            meetings: xxxx3()
        })
    );
}

fn delete_members(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::DeleteMeetingMembers(DeleteMeetingMembers {
            cmd_id: "xxxx".into(),
            meeting_id: "xxxx".into(),
            pins: xxxx3()
        })
    );
}

fn delete_user_photo(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::DeleteUserPhotos(PinsCommand {
            cmd_id: "xxxx".into(),
            pins: xxxx3()
        })
    );
}

fn query_user(name: &str) {
    let (env, m) = platform(name);
    assert!(env.imme.as_ref().unwrap().is_urgent());
    assert_eq!(
        m,
        PlatformMessage::QueryUsers(QueryUsers {
            cmd_id: "xxxx".into(),
            pin: Some("xxxx".into())
        })
    );
}

fn command() -> Command {
    Command {
        cmd_id: "xxxx".into(),
    }
}

fn clear_user(name: &str) {
    assert_eq!(platform(name).1, PlatformMessage::ClearUsers(command()));
}

fn clear_cards(name: &str) {
    assert_eq!(
        platform(name).1,
        PlatformMessage::ClearMultiCards(command())
    );
}

fn clear_all(name: &str) {
    assert_eq!(platform(name).1, PlatformMessage::ClearAll(command()));
}

fn option_set(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::SetOptions(SetOptions {
            cmd_id: "xxxx".into(),
            option: RoomOptions {
                name: "1".into(),
                manager: Some("2".into()),
                location: Some("3".into()),
                capacity: 4,
                manager_pin: Some("123".into()),
            }
        })
    );
}

fn reboot(name: &str) {
    let (env, m) = platform(name);
    assert_eq!(env.imme, Some(Imme::Urgent));
    assert_eq!(
        m,
        PlatformMessage::Reboot(Reboot {
            cmd_id: "1001".into(),
            operator: Some("luther".into())
        })
    );
}

fn sync_time_cmd(name: &str) {
    assert_eq!(platform(name).1, PlatformMessage::SyncTime(command()));
}

fn sync_time_dev(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.imme, Some(Imme::Other("xxxx".into())));
    assert_eq!(m, DeviceMessage::SyncTime);
}

fn platform_format(name: &str) {
    let (env, m) = platform(name);
    assert_eq!(env.imme, Some(Imme::Urgent));
    let PlatformMessage::Unknown(u) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(u.func_id, "cmd.xxxx");
    assert_eq!(u.raw["payload"]["params"]["cmdId"], "xxxx");
    assert_eq!(m.cmd_id(), Some("xxxx"));
}

fn device_format(name: &str) {
    let (env, m) = device(name);
    assert_eq!(env.sn.as_deref(), Some("xxxx"));
    let DeviceMessage::Unknown(u) = &m else {
        panic!("{m:?}")
    };
    assert_eq!(u.func_id, "dev.xxxx");
    assert_eq!(u.raw["imme"], "1");
}

fn reply_format(name: &str) {
    let (_, m) = platform(name);
    assert_eq!(
        m,
        PlatformMessage::Response(Response {
            code: Code::Other("xxxx".into()),
            message: Some("xxxx".into()),
            results: Some(Results::Other(serde_json::Map::new())),
        })
    );
}
