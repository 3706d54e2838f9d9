//! Property tests: every message type survives `decode(encode(m)) == m`; arbitrary bytes never panic.

use best_proto::*;
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

/// One message through the codec, for messages of `M`'s direction.
fn decode<M: Body>(input: &[u8], config: &CodecConfig) -> Result<Envelope<M>, DecodeError> {
    Codec::<M, M>::new(*config).decode_text(input)
}

/// One message through the codec, for messages of `M`'s direction.
fn encode<M: Body>(envelope: &Envelope<M>, config: &CodecConfig) -> Result<Vec<u8>, EncodeError> {
    Codec::<M, M>::new(*config).encode_text(envelope)
}

fn s() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.中]{0,8}"
}

/// Non-empty: optional fields read `""` as absent.
fn ne() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.]{1,8}"
}

fn file_id() -> impl Strategy<Value = FileId> {
    "[a-zA-Z0-9]{1,64}".prop_map(|s| FileId::new(s).unwrap())
}

fn blob() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

fn ne_blob() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 1..64).prop_map(Bytes::from)
}

fn time() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (
        0i64..4_102_444_800,
        -(14 * 60)..=(14 * 60i32),
        prop_oneof![Just(0u32), 1u32..1000],
    )
        .prop_map(|(secs, offset_min, ms)| {
            let tz = FixedOffset::east_opt(offset_min * 60).unwrap();
            tz.timestamp_opt(secs, ms * 1_000_000).unwrap()
        })
}

fn offset() -> impl Strategy<Value = FixedOffset> {
    (-(23 * 60 + 59)..=(23 * 60 + 59i32)).prop_map(|m| FixedOffset::east_opt(m * 60).unwrap())
}

fn temp() -> impl Strategy<Value = f64> {
    (-10_000i32..10_000).prop_map(|n| f64::from(n) / 100.0)
}

fn bio_bools() -> impl Strategy<Value = BioVector<bool>> {
    vec(any::<bool>(), 1..12).prop_map(BioVector)
}

fn bio_counts() -> impl Strategy<Value = BioVector<u32>> {
    vec(any::<u32>(), 1..12).prop_map(BioVector)
}

fn bits(min: usize) -> impl Strategy<Value = BitString> {
    vec(any::<bool>(), min..20).prop_map(BitString)
}

fn code() -> impl Strategy<Value = Code> {
    prop_oneof![
        Just(Code::Success),
        Just(Code::FileOffsetMismatch),
        "[0-9A-Za-z]{1,10}".prop_map(|s| Code::from(s.as_str()))
    ]
}

fn func_id() -> impl Strategy<Value = FuncId> {
    prop_oneof![
        Just(FuncId::Report),
        Just(FuncId::UpdateUser),
        "[a-z.]{1,12}".prop_map(|s| FuncId::from(s.as_str()))
    ]
}

fn bio_type() -> impl Strategy<Value = BioType> {
    prop_oneof![0u32..12, any::<u32>()].prop_map(BioType::from)
}

prop_compose! {
    fn register()(prot in s(), ver in s(), product in of(s()), key in s(), dev in s()) -> Register {
        Register {
            prot_type: ProtType::from(prot.as_str()),
            prot_ver: ver,
            product_id: product,
            dev_key: key,
            dev_type: DevType::from(dev.as_str()),
        }
    }
}

prop_compose! {
    fn report_a()(
        fw in s(), model in s(), comm in s(), ip in s(), mask in s(), gw in s(), mac in s(),
        counts in any::<[u32; 5]>(),
        enroll in of(bio_bools()), data in bio_bools(), photo in of(bio_bools()),
        ver in vec("[0-9.]{1,5}", 1..12), data_count in bio_counts(), photo_count in of(bio_counts()),
        max_data in bio_counts(), max_photo in of(bio_counts()),
    ) -> Report {
        Report {
            fw_ver: fw, dev_model: model, comm_type: CommType::from(comm.as_str()), ip, netmask: mask,
            gateway: gw, mac, lock_count: counts[0], user_count: counts[1], max_user_count: counts[2],
            transaction_count: counts[3], max_transaction_count: counts[4],
            multi_bio_enroll_support: enroll, multi_bio_data_support: data, multi_bio_photo_support: photo,
            multi_bio_ver: BioVector(ver), multi_bio_data_count: data_count, multi_bio_photo_count: photo_count,
            max_multi_bio_data_count: max_data, max_multi_bio_photo_count: max_photo,
            max_package_size: None, qr_code_support: None, qr_code_on: None, qr_code_decrypt_fun_list: None,
            capture_pic: None, enable_bio_test: None, voice_on: None, key_pad_beep_on: None, volume: None,
            ir_temp_detection_on: None, max_temperature: None, min_temperature: None, ir_temp_unit: None,
            mask_detection_on: None, mask_on: None, temperature_on: None, ir_temp_detection_fun_on: None,
            camera_on: None, att_photo_fun_on: None, mask_detection_fun_on: None, max_pending_cmd_count: None,
            scene: None, verify_styles: BitString::default(), sip_on: None, ad_on: None, func_ids: Vec::new(),
        }
    }
}

prop_compose! {
    fn report()(
        base in report_a(),
        package in of(any::<u32>()), switches in vec(of(any::<bool>()), 17), qr in of(bits(1)),
        capture in of(any::<u32>()), volume in of(any::<u8>()), max_t in of(temp()), min_t in of(temp()),
        unit in of(any::<u32>()), pending in of(any::<u32>()), scene in of(any::<u32>()),
        styles in bits(0), func_ids in vec(func_id(), 0..4),
    ) -> Report {
        Report {
            max_package_size: package, qr_code_support: switches[0], qr_code_on: switches[1],
            qr_code_decrypt_fun_list: qr, capture_pic: capture.map(CaptureMode::from),
            enable_bio_test: switches[2], voice_on: switches[3], key_pad_beep_on: switches[4], volume,
            ir_temp_detection_on: switches[5], max_temperature: max_t, min_temperature: min_t,
            ir_temp_unit: unit.map(TempUnit::from), mask_detection_on: switches[6], mask_on: switches[7],
            temperature_on: switches[8], ir_temp_detection_fun_on: switches[9], camera_on: switches[10],
            att_photo_fun_on: switches[11], mask_detection_fun_on: switches[12],
            max_pending_cmd_count: pending, scene: scene.map(Scene::from), verify_styles: styles,
            sip_on: switches[13], ad_on: switches[14], func_ids,
            ..base
        }
    }
}

prop_compose! {
    fn bio_data()(
        no in of(any::<u32>()), index in of(any::<u32>()), valid in of(any::<bool>()), duress in of(any::<bool>()),
        t in bio_type(), major in any::<u32>(), minor in any::<u32>(), fmt in any::<u32>(), tmp in s(),
    ) -> BioData {
        BioData { no, index, valid, duress, bio_type: t, major_ver: major, minor_ver: minor,
            fmt: TemplateFormat::from(fmt), tmp }
    }
}

prop_compose! {
    fn user()(
        pin in s(), role in of(s()), pw in of(s()), salt in of(s()), group in of(s()), id_num in of(s()),
        start in of(time()), end in of(time()), first in s(), last in of(s()), fun in any::<u32>(),
        disable in any::<bool>(), threat in of(s()), bio in vec(bio_data(), 0..3), rule in of(any::<u32>()),
    ) -> User {
        User { pin, role, password: pw, password_salt: salt, group, id_num, start_time: start, end_time: end,
            first_name: first, last_name: last, fun_switch: FunSwitch::from_bits_retain(fun), disable,
            threat_level_group_num: threat, bio_datas: bio, rule_type: rule.map(RuleType::from) }
    }
}

/// `content` and/or `contentFileId`, never neither.
fn photo_source() -> impl Strategy<Value = (Option<Bytes>, Option<FileId>)> {
    prop_oneof![
        ne_blob().prop_map(|b| (Some(b), None)),
        file_id().prop_map(|f| (None, Some(f))),
        (ne_blob(), file_id()).prop_map(|(b, f)| (Some(b), Some(f))),
    ]
}

prop_compose! {
    fn card()(pin in s(), card in s(), t in of(any::<u32>()), lost in of(any::<bool>())) -> Card {
        Card { pin, card, card_type: t.map(CardType::from), loss_flag: lost }
    }
}

fn device_message() -> impl Strategy<Value = DeviceMessage> {
    prop_oneof![
        s().prop_map(|k| DeviceMessage::ExchangePublicKey(PublicKey { public_key: k })),
        s().prop_map(|f| DeviceMessage::ExchangeFactor(Factor { factor: f })),
        register().prop_map(DeviceMessage::Register),
        (of(s()), s(), s()).prop_map(|(p, k, a)| DeviceMessage::Accredit(Accredit {
            product_id: p,
            dev_key: k,
            auth_code: a
        })),
        (of(s()), s(), s(), s()).prop_map(|(p, k, a, x)| DeviceMessage::Login(Login {
            product_id: p,
            dev_key: k,
            auth_code: a,
            secret: x
        })),
        report().prop_map(|r| DeviceMessage::Report(Box::new(r))),
        of(any::<bool>()).prop_map(|f| DeviceMessage::Heartbeat(Heartbeat { is_free: f })),
        (file_id(), any::<u64>(), of(any::<[u8; 16]>())).prop_map(|(f, size, c)| {
            DeviceMessage::FileUploadStart(FileUploadStart {
                file_id: f,
                size,
                checksum: c.map(Checksum),
            })
        }),
        (file_id(), any::<u64>(), blob()).prop_map(|(f, offset, content)| {
            DeviceMessage::FileUploadPackage(FileUploadPackage {
                file_id: f,
                offset,
                content,
            })
        }),
        file_id().prop_map(|f| DeviceMessage::FileUploadEnd(FileUploadEnd { file_id: f })),
        vec(user(), 0..3).prop_map(|users| DeviceMessage::UploadUsers(UploadUsers { users })),
        vec((s(), of(s()), photo_source()), 0..3).prop_map(|v| {
            DeviceMessage::UploadUserPhotos(UploadUserPhotos {
                user_photos: v
                    .into_iter()
                    .map(|(pin, extension, (content, content_file_id))| UserPhoto {
                        pin,
                        extension,
                        content,
                        content_file_id,
                    })
                    .collect(),
            })
        }),
        vec(
            (
                s(),
                of(any::<u32>()),
                of(any::<u32>()),
                bio_type(),
                of(s()),
                photo_source()
            ),
            0..3
        )
        .prop_map(|v| {
            DeviceMessage::UploadBioPhotos(UploadBioPhotos {
                bio_photos: v
                    .into_iter()
                    .map(
                        |(pin, no, index, t, extension, (content, content_file_id))| BioPhoto {
                            pin,
                            no,
                            index,
                            bio_type: t,
                            extension,
                            content,
                            content_file_id,
                        },
                    )
                    .collect(),
            })
        }),
        vec(card(), 0..3)
            .prop_map(|c| DeviceMessage::UploadMultiCards(UploadMultiCards { multi_cards: c })),
        vec((s(), s(), time(), any::<[u32; 4]>(), s()), 0..3).prop_map(|v| {
            DeviceMessage::UploadVerifyLogs(UploadVerifyLogs {
                verify_logs: v
                    .into_iter()
                    .map(|(pin, meet, t, n, log)| VerifyLog {
                        pin,
                        meet_code: meet,
                        verify_time: t,
                        verify_style: VerifyStyle(n[0]),
                        status: VerifyStatus::from(n[1]),
                        category: UserCategory::from(n[2]),
                        log_id: log,
                        record_type: RecordType::from(n[3]),
                    })
                    .collect(),
            })
        }),
        vec(
            (s(), s(), of(time()), of(s()), of(s()), photo_source()),
            0..3
        )
        .prop_map(|v| {
            DeviceMessage::UploadVerifyPhotos(UploadVerifyPhotos {
                verify_photos: v
                    .into_iter()
                    .map(
                        |(pin, meet, t, ext, log, (content, content_file_id))| VerifyPhoto {
                            pin,
                            meet_code: meet,
                            photo_time: t,
                            extension: ext,
                            log_id: log,
                            content,
                            content_file_id,
                        },
                    )
                    .collect(),
            })
        }),
        Just(DeviceMessage::SyncTime),
        (code(), of(s()), s()).prop_map(|(code, message, cmd_id)| DeviceMessage::CmdResponse(
            CmdResponse {
                code,
                message,
                cmd_id
            }
        )),
    ]
}

fn results() -> impl Strategy<Value = Results> {
    prop_oneof![
        s().prop_map(|k| Results::PublicKey(PublicKey { public_key: k })),
        s().prop_map(|f| Results::Factor(Factor { factor: f })),
        s().prop_map(|a| Results::Register(RegisterResults { auth_code: a })),
        s().prop_map(|x| Results::Accredit(AccreditResults { secret: x })),
        (
            of(offset()),
            of(any::<bool>()),
            any::<u32>(),
            of(bio_bools()),
            of(bio_bools()),
            of(vec(func_id(), 0..3))
        )
            .prop_map(|(tz, hb, interval, data, photo, ids)| {
                Results::Report(ReportResults {
                    timezone: tz,
                    support_heartbeat: hb,
                    heartbeat_interval: Some(interval),
                    multi_bio_data_support: data,
                    multi_bio_photo_support: photo,
                    func_ids: ids,
                })
            }),
        proptest::collection::btree_map("k[0-9]{1,3}", s(), 0..3).prop_map(|m| {
            Results::Other(
                m.into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
            )
        }),
    ]
}

fn meeting() -> impl Strategy<Value = Meeting> {
    (
        s(),
        of(time()),
        of(time()),
        of(time()),
        time(),
        s(),
        time(),
        time(),
        s(),
    )
        .prop_map(|(name, a, b, c, d, id, start, end, applicant)| Meeting {
            name,
            start_sign_in_time: a,
            last_sign_in_time: b,
            earliest_sign_out_time: c,
            last_sign_out_time: d,
            id,
            start_time: start,
            end_time: end,
            applicant,
        })
}

fn platform_message() -> impl Strategy<Value = PlatformMessage> {
    let cmd = || s().prop_map(|cmd_id| Command { cmd_id });
    let pins = || (s(), vec(s(), 0..3)).prop_map(|(cmd_id, pins)| PinsCommand { cmd_id, pins });
    prop_oneof![
        (code(), of(s()), of(results())).prop_map(|(code, message, results)| {
            PlatformMessage::Response(Response {
                code,
                message,
                results,
            })
        }),
        (s(), vec(user(), 0..3))
            .prop_map(|(c, users)| PlatformMessage::UpdateUsers(UpdateUsers { cmd_id: c, users })),
        (s(), vec(meeting(), 0..3)).prop_map(|(c, meetings)| PlatformMessage::UpdateMeetings(
            UpdateMeetings {
                cmd_id: c,
                meetings
            }
        )),
        (s(), vec((s(), vec(s(), 0..3)), 0..3)).prop_map(|(c, m)| {
            PlatformMessage::UpdateMeetingMembers(UpdateMeetingMembers {
                cmd_id: c,
                members: m
                    .into_iter()
                    .map(|(meeting_id, pins)| MeetingMembers { meeting_id, pins })
                    .collect(),
            })
        }),
        (s(), vec(card(), 0..3)).prop_map(|(c, cards)| PlatformMessage::UpdateMultiCards(
            UpdateMultiCards {
                cmd_id: c,
                multi_cards: cards
            }
        )),
        (
            s(),
            vec(
                (s(), of(any::<u32>()), of(any::<u32>()), bio_type(), s()),
                0..3
            )
        )
            .prop_map(|(c, v)| {
                PlatformMessage::UpdateBioPhotos(UpdateBioPhotos {
                    cmd_id: c,
                    bio_photos: v
                        .into_iter()
                        .map(|(pin, no, index, t, url)| BioPhotoUrl {
                            pin,
                            no,
                            index,
                            bio_type: t,
                            url,
                        })
                        .collect(),
                })
            }),
        pins().prop_map(PlatformMessage::DeleteUsers),
        (s(), vec((of(bio_type()), of(s()), of(any::<u32>())), 0..3)).prop_map(|(c, v)| {
            PlatformMessage::DeleteBioPhotos(DeleteBioPhotos {
                cmd_id: c,
                bio_photos: v
                    .into_iter()
                    .map(|(t, pin, no)| BioPhotoSelector {
                        bio_type: t,
                        pin,
                        no,
                    })
                    .collect(),
            })
        }),
        pins().prop_map(PlatformMessage::DeleteMultiCards),
        (s(), vec(s(), 0..3)).prop_map(|(c, m)| PlatformMessage::DeleteMeetings(DeleteMeetings {
            cmd_id: c,
            meetings: m
        })),
        (s(), s(), vec(s(), 0..3)).prop_map(|(c, m, p)| PlatformMessage::DeleteMeetingMembers(
            DeleteMeetingMembers {
                cmd_id: c,
                meeting_id: m,
                pins: p
            }
        )),
        pins().prop_map(PlatformMessage::DeleteUserPhotos),
        (s(), of(ne()))
            .prop_map(|(c, pin)| PlatformMessage::QueryUsers(QueryUsers { cmd_id: c, pin })),
        cmd().prop_map(PlatformMessage::ClearUsers),
        cmd().prop_map(PlatformMessage::ClearMultiCards),
        cmd().prop_map(PlatformMessage::ClearAll),
        (s(), s(), of(s()), of(s()), any::<u32>(), of(s())).prop_map(
            |(c, name, m, l, cap, pin)| {
                PlatformMessage::SetOptions(SetOptions {
                    cmd_id: c,
                    option: RoomOptions {
                        name,
                        manager: m,
                        location: l,
                        capacity: cap,
                        manager_pin: pin,
                    },
                })
            }
        ),
        (s(), of(s())).prop_map(|(c, operator)| PlatformMessage::Reboot(Reboot {
            cmd_id: c,
            operator
        })),
        cmd().prop_map(PlatformMessage::SyncTime),
    ]
}

fn imme() -> impl Strategy<Value = Option<Imme>> {
    of(prop_oneof![
        Just(Imme::Normal),
        Just(Imme::Urgent),
        ne().prop_map(|s| match s.as_str() {
            "0" => Imme::Normal,
            "1" => Imme::Urgent,
            _ => Imme::Other(s),
        })
    ])
}

fn envelope<M: std::fmt::Debug>(m: impl Strategy<Value = M>) -> impl Strategy<Value = Envelope<M>> {
    ("[a-zA-Z0-9]{0,32}", imme(), of(s()), m).prop_map(|(mid, imme, sn, message)| Envelope {
        mid,
        imme,
        sn,
        message,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn device_messages_round_trip(env in envelope(device_message())) {
        let wire = encode(&env, &CodecConfig::default()).unwrap();
        let back: Envelope<DeviceMessage> = decode(&wire, &CodecConfig::default())
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&wire)));
        prop_assert_eq!(back, env);
    }

    #[test]
    fn platform_messages_round_trip(env in envelope(platform_message())) {
        let wire = encode(&env, &CodecConfig::default()).unwrap();
        let back: Envelope<PlatformMessage> = decode(&wire, &CodecConfig::default())
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&wire)));
        prop_assert_eq!(back, env);
    }

    #[test]
    fn unknown_messages_round_trip(
        name in prop_oneof!["cmd\\.zz[a-z]{0,4}", "dev\\.zz[a-z]{0,4}", "[a-y]{1,6}"],
        mid in "[a-z0-9]{1,8}",
        extra in proptest::collection::btree_map("x[a-z]{1,4}", any::<i32>(), 0..4),
    ) {
        let mut object = serde_json::Map::new();
        object.insert("funcId".into(), name.clone().into());
        object.insert("mid".into(), mid.into());
        for (k, v) in extra {
            object.entry(k).or_insert(v.into());
        }
        let wire = serde_json::to_vec(&object).unwrap();
        let env: Envelope = decode(&wire, &CodecConfig::default()).unwrap();
        prop_assert!(!best_proto::Body::is_known(&env.message));
        prop_assert_eq!(env.message.name(), name.as_str());
        let back: Envelope = decode(&encode(&env, &CodecConfig::default()).unwrap(), &CodecConfig::default()).unwrap();
        prop_assert_eq!(back, env);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(env) = decode::<Message>(&bytes, &CodecConfig::default()) {
            let again: Envelope = decode(&encode(&env, &CodecConfig::default()).unwrap(), &CodecConfig::default()).unwrap();
            prop_assert_eq!(again, env);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic_and_round_trip_when_they_decode(
        index in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.to_string_lossy().contains("getBroker"))
            .collect();
        files.sort();
        let mut bytes = std::fs::read(index.get(&files)).unwrap();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        if let Ok(env) = decode::<Message>(&bytes, &CodecConfig::default()) {
            let again: Envelope = decode(&encode(&env, &CodecConfig::default()).unwrap(), &CodecConfig::default()).unwrap();
            prop_assert_eq!(again, env);
        }
    }
}
