//! Envelope decoding and encoding: errors, limits, directions, unknown messages.

use best_proto::*;

/// One message through the codec, for messages of `M`'s direction.
fn decode<M: Body>(input: &[u8], config: &CodecConfig) -> Result<Envelope<M>, DecodeError> {
    Codec::<M, M>::new(*config).decode_text(input)
}

/// One message through the codec, for messages of `M`'s direction.
fn encode<M: Body>(envelope: &Envelope<M>, config: &CodecConfig) -> Result<Vec<u8>, EncodeError> {
    Codec::<M, M>::new(*config).encode_text(envelope)
}

fn config() -> CodecConfig {
    CodecConfig::default()
}

#[test]
fn values_are_written_as_strings_and_read_from_numbers() {
    let wire = br#"{"funcId":"dev.file.upload.start","mid":"1","imme":1,"payload":{"params":{"fileId":"f1","size":1208}}}"#;
    let env: Envelope<DeviceMessage> = decode(wire, &config()).unwrap();
    assert_eq!(env.imme, Some(Imme::Urgent));
    let out = String::from_utf8(encode(&env, &config()).unwrap()).unwrap();
    assert_eq!(
        out,
        r#"{"funcId":"dev.file.upload.start","mid":"1","imme":"1","payload":{"params":{"fileId":"f1","size":"1208"}}}"#
    );
}

#[test]
fn payload_before_func_id_is_typed_afterwards() {
    let wire = br#"{"payload":{"params":{"cmdId":"9","pins":["1"]}},"mid":"m","funcId":"cmd.data.delete.user"}"#;
    let env: Envelope<PlatformMessage> = decode(wire, &config()).unwrap();
    assert_eq!(
        env.message,
        PlatformMessage::DeleteUsers(PinsCommand {
            cmd_id: "9".into(),
            pins: vec!["1".into()]
        })
    );
    // The same with a typing error: the error still names the field.
    let wire = br#"{"payload":{"params":{"cmdId":"9","pins":"1"}},"mid":"m","funcId":"cmd.data.delete.user"}"#;
    let e = decode::<Message>(wire, &config()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid `cmd.data.delete.user` message"),
        "{e}"
    );
    assert!(e.to_string().contains("pins"), "{e}");
}

#[test]
fn errors_name_the_func_id_and_the_field() {
    let wire = br#"{"funcId":"dev.data.upload.user","mid":"1","payload":{"params":{"users":[{"pin":"1","firstName":"a","funSwitch":"0","disable":"0","startTime":"yesterday"}]}}}"#;
    let e = decode::<DeviceMessage>(wire, &config()).unwrap_err();
    let DecodeError::Json { name, source } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(name, "dev.data.upload.user");
    assert_eq!(source.path(), "payload.params.users[0].startTime");
    assert!(e.to_string().contains("ISO-8601"), "{e}");

    let wire = br#"{"funcId":"dev.report","mid":"1","payload":{"params":{"fwVer":"1"}}}"#;
    let e = decode::<DeviceMessage>(wire, &config()).unwrap_err();
    assert!(e.to_string().contains("missing field `devModel`"), "{e}");

    let e = decode::<Message>(br#"{"funcId":"dev.heartbeat"}"#, &config()).unwrap_err();
    assert!(e.to_string().contains("missing field `mid`"), "{e}");
    let e = decode::<Message>(br#"{"mid":"1"}"#, &config()).unwrap_err();
    assert!(e.to_string().contains("missing field `funcId`"), "{e}");
    let e = decode::<Message>(br#"[1,2]"#, &config()).unwrap_err();
    assert!(
        matches!(e, DecodeError::Json { ref name, .. } if name == "?"),
        "{e}"
    );
    let e =
        decode::<Message>(br#"{"funcId":"cmd.dev.response","mid":"1"}"#, &config()).unwrap_err();
    assert!(e.to_string().contains("missing field `code`"), "{e}");
    let e =
        decode::<Message>(br#"{"funcId":"cmd.data.clear.all","mid":"1"}"#, &config()).unwrap_err();
    assert!(e.to_string().contains("missing field `cmdId`"), "{e}");
}

#[test]
fn a_message_without_payload_decodes_when_its_params_are_optional() {
    let env: Envelope<DeviceMessage> =
        decode(br#"{"funcId":"dev.heartbeat","mid":"1"}"#, &config()).unwrap();
    assert_eq!(env.message, DeviceMessage::Heartbeat(Heartbeat::default()));
    let env: Envelope<DeviceMessage> = decode(
        br#"{"funcId":"dev.heartbeat","mid":"1","payload":null}"#,
        &config(),
    )
    .unwrap();
    assert_eq!(env.message, DeviceMessage::Heartbeat(Heartbeat::default()));
}

#[test]
fn extra_fields_are_ignored() {
    let wire = br#"{"funcId":"cmd.control.reboot","x":[1,{"y":2}],"mid":"1","payload":{"extra":1,"params":{"cmdId":"c","delay":"5"}}}"#;
    let env: Envelope<PlatformMessage> = decode(wire, &config()).unwrap();
    assert_eq!(
        env.message,
        PlatformMessage::Reboot(Reboot {
            cmd_id: "c".into(),
            operator: None
        })
    );
}

#[test]
fn unknown_func_ids_keep_the_raw_message_and_round_trip() {
    let wire = br#"{"funcId":"dev.option.upload","mid":"7","sn":"S","code":{"odd":true},"payload":{"params":{"a":[1,"2"]}},"z":null}"#;
    let env: Envelope = decode(wire, &config()).unwrap();
    let Message::Device(DeviceMessage::Unknown(u)) = &env.message else {
        panic!("{env:?}")
    };
    assert_eq!(u.func_id, "dev.option.upload");
    assert_eq!(u.raw["code"]["odd"], true);
    assert_eq!(u.raw["payload"]["params"]["a"][1], "2");
    assert_eq!(env.sn.as_deref(), Some("S"));
    let again: Envelope = decode(&encode(&env, &config()).unwrap(), &config()).unwrap();
    assert_eq!(again, env);
    let original: serde_json::Value = serde_json::from_slice(wire).unwrap();
    let encoded: serde_json::Value =
        serde_json::from_slice(&encode(&env, &config()).unwrap()).unwrap();
    assert_eq!(encoded, original);
}

#[test]
fn one_direction_decoders_refuse_the_other_direction() {
    let wire = br#"{"funcId":"cmd.data.clear.all","mid":"1","payload":{"params":{"cmdId":"c"}}}"#;
    let e = decode::<DeviceMessage>(wire, &config()).unwrap_err();
    assert!(
        matches!(&e, DecodeError::WrongDirection { name, expected } if name == "cmd.data.clear.all" && *expected == "device -> platform"),
        "{e:?}"
    );
    assert!(decode::<PlatformMessage>(wire, &config()).is_ok());
}

#[test]
fn limits_are_enforced_both_ways() {
    let small = CodecConfig::default().max_message_len(60);
    let wire = br#"{"funcId":"dev.heartbeat","mid":"1","payload":{"params":{"isFree":"1"}}}"#;
    let e = decode::<Message>(wire, &small).unwrap_err();
    assert!(
        matches!(e, DecodeError::MessageTooLarge { len: 72, max: 60 }),
        "{e:?}"
    );
    let env = Envelope::<DeviceMessage>::new(
        "1",
        Heartbeat {
            is_free: Some(true),
        },
    );
    let e = encode(&env, &small).unwrap_err();
    assert!(
        matches!(
            e,
            EncodeError::MessageTooLarge {
                len: 72,
                max: 60,
                ..
            }
        ),
        "{e:?}"
    );

    let long_mid = "m".repeat(33);
    let wire = format!(r#"{{"funcId":"dev.heartbeat","mid":"{long_mid}"}}"#);
    let e = decode::<Message>(wire.as_bytes(), &config()).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::MidTooLong {
                len: 33,
                max: 32,
                ..
            }
        ),
        "{e:?}"
    );
    let env = Envelope::<DeviceMessage>::new(long_mid, Heartbeat::default());
    assert!(matches!(
        encode(&env, &config()).unwrap_err(),
        EncodeError::MidTooLong { len: 33, .. }
    ));
}

#[test]
fn photos_need_content_or_a_file_id_under_either_spelling() {
    let photo = |fields: &str| {
        format!(
            r#"{{"funcId":"dev.data.upload.userPhoto","mid":"1","payload":{{"params":{{"userPhotos":[{{"pin":"1"{fields}}}]}}}}}}"#
        )
    };
    let e = decode::<DeviceMessage>(photo("").as_bytes(), &config()).unwrap_err();
    assert!(
        e.to_string()
            .contains("neither `content` nor `contentFileId`"),
        "{e}"
    );
    let e = decode::<DeviceMessage>(photo(r#","content":"""#).as_bytes(), &config()).unwrap_err();
    assert!(e.to_string().contains("neither"), "{e}");
    for key in ["contentFileId", "contentFileDialog"] {
        let env: Envelope<DeviceMessage> = decode(
            photo(&format!(r#","{key}":"abc123""#)).as_bytes(),
            &config(),
        )
        .unwrap();
        let DeviceMessage::UploadUserPhotos(p) = &env.message else {
            panic!()
        };
        assert_eq!(
            p.user_photos[0].content_file_id,
            Some(FileId::new("abc123").unwrap())
        );
        // Encoders write `contentFileId`.
        let out = String::from_utf8(encode(&env, &config()).unwrap()).unwrap();
        assert!(out.contains(r#""contentFileId":"abc123""#), "{out}");
    }
    let e = decode::<DeviceMessage>(photo(r#","content":"not base64!""#).as_bytes(), &config())
        .unwrap_err();
    assert!(e.to_string().contains("base64"), "{e}");
}

#[test]
fn replies_carry_code_message_and_results() {
    let reply = Envelope::<PlatformMessage>::new(
        "m9",
        Response::ok(Some(Results::Register(RegisterResults {
            auth_code: "A1".into(),
        }))),
    );
    let out = String::from_utf8(encode(&reply, &config()).unwrap()).unwrap();
    assert_eq!(
        out,
        r#"{"funcId":"cmd.dev.response","mid":"m9","code":"00000000","message":"success","payload":{"results":{"authCode":"A1"}}}"#
    );
    let answer = Envelope::<DeviceMessage>::new("c7", CmdResponse::ok("1001"));
    let out = String::from_utf8(encode(&answer, &config()).unwrap()).unwrap();
    assert_eq!(
        out,
        r#"{"funcId":"dev.cmd.response","mid":"c7","code":"00000000","message":"success","payload":{"params":{"cmdId":"1001"}}}"#
    );
    // A reply without funcId decodes as cmd.dev.response and is written with it.
    let bare: Envelope = decode(
        br#"{"code":"30000003","message":"unknown file","mid":"m"}"#,
        &config(),
    )
    .unwrap();
    assert_eq!(bare.message.name(), "cmd.dev.response");
    let Message::Platform(PlatformMessage::Response(r)) = &bare.message else {
        panic!()
    };
    assert_eq!(r.code, Code::UnknownFileId);
}

#[test]
fn upload_chunks_decode_the_same_in_every_spelling() {
    let package = |content: &str, extra: &str| {
        format!(
            r#"{{"funcId":"dev.file.upload.package","mid":"1"{extra},"payload":{{"params":{{"fileId":"f1","offset":"0","content":{content}}}}}}}"#
        )
    };
    let chunk: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i * 7 % 256).to_le_bytes()[0])
        .collect();
    let env = Envelope::<DeviceMessage>::new(
        "1",
        DeviceMessage::FileUploadPackage(FileUploadPackage {
            file_id: FileId::new("f1").unwrap(),
            offset: 0,
            content: chunk.into(),
        }),
    );
    let wire = encode(&env, &config()).unwrap();
    assert_eq!(decode::<DeviceMessage>(&wire, &config()).unwrap(), env);
    // Escaped symbols, a trailing comma and another key order read the same bytes.
    let abc = |wire: &str| match decode::<DeviceMessage>(wire.as_bytes(), &config())
        .unwrap()
        .message
    {
        DeviceMessage::FileUploadPackage(p) => p.content,
        other => panic!("{other:?}"),
    };
    assert_eq!(abc(&package(r#""QUJD""#, "")), &b"ABC"[..]);
    assert_eq!(abc(&package(r#""QUJ\u0044""#, "")), &b"ABC"[..]);
    assert_eq!(abc(&package(r#""QUJD""#, r#","sn":"x""#)), &b"ABC"[..]);
    assert_eq!(
        abc(&package(r#""QUJD""#, "").replace("}}}", ",}}}")),
        &b"ABC"[..]
    );
    let moved = r#"{"mid":"1","payload":{"params":{"content":"QUJD","fileId":"f1","offset":0}},"funcId":"dev.file.upload.package"}"#;
    assert_eq!(abc(moved), &b"ABC"[..]);
    // Invalid base64 is named as such, with the field; so is a chunk that is not a string.
    for content in [r#""QUJ""#, r#""QUJ=""#, r#""QU=D""#, r#""QUJ\"""#, "7"] {
        let e = decode::<DeviceMessage>(package(content, "").as_bytes(), &config()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("dev.file.upload.package"), "{text}");
        assert!(
            text.contains("content") && text.contains("base64"),
            "{text}"
        );
    }
}

mod contract {
    use super::*;
    use bytes::BytesMut;
    use proto_common::codec::Lines;

    const HB: &[u8] =
        br#"{"funcId":"dev.heartbeat","mid":"1","payload":{"params":{"isFree":"1"}}}"#;

    fn hb() -> Envelope<DeviceMessage> {
        Envelope::new(
            "1",
            Heartbeat {
                is_free: Some(true),
            },
        )
    }

    fn lines() -> Lines<PlatformCodec> {
        PlatformCodec::default().lines()
    }

    #[test]
    fn one_buffer_is_one_frame_consumed_whether_it_decodes_or_not() {
        let mut codec = PlatformCodec::default();
        let mut frame = BytesMut::from(HB);
        assert_eq!(codec.decode(&mut frame).unwrap(), Some(hb()));
        assert!(frame.is_empty());
        let mut frame = BytesMut::from(&HB[..HB.len() - 1]);
        assert!(matches!(
            codec.decode(&mut frame),
            Err(DecodeError::Json { .. })
        ));
        assert!(frame.is_empty());
        // A platform codec refuses a device's own message.
        let mut frame = BytesMut::new();
        DeviceCodec::default().encode(hb(), &mut frame).unwrap();
        assert!(matches!(
            DeviceCodec::default().decode(&mut frame),
            Err(DecodeError::WrongDirection { .. })
        ));
    }

    #[test]
    fn lines_decode_at_every_split_point() {
        let mut wire = HB.to_vec();
        wire.extend_from_slice(b"\r\n");
        for split in 0..wire.len() {
            let mut codec = lines();
            let mut buf = BytesMut::from(&wire[..split]);
            assert!(codec.decode(&mut buf).unwrap().is_none(), "split {split}");
            buf.extend_from_slice(&wire[split..]);
            assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb()), "split {split}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn two_lines_blank_lines_and_a_bad_line_in_one_buffer() {
        let mut codec = lines();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"\n  \n");
        buf.extend_from_slice(HB);
        buf.extend_from_slice(b"\n{\"funcId\":\"dev.heartbeat\"}\n");
        buf.extend_from_slice(HB);
        buf.extend_from_slice(b"\n{\"fu");
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb()));
        let e = codec.decode(&mut buf).unwrap_err();
        assert!(e.to_string().contains("missing field `mid`"), "{e}");
        // The bad line was consumed: the next one decodes.
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb()));
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(&buf[..], b"{\"fu");
    }

    #[test]
    fn an_overlong_line_is_refused_before_it_is_buffered_whole() {
        let mut codec = PlatformCodec::new(CodecConfig::default().max_message_len(16)).lines();
        let mut buf = BytesMut::from(&b"0123456789abcdef"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"\r");
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"x");
        let e = codec.decode(&mut buf).unwrap_err();
        assert!(
            matches!(e, DecodeError::LineTooLong { len: 18, max: 16 }),
            "{e:?}"
        );
        assert_eq!(buf.len(), 18, "nothing consumed");
    }

    #[test]
    fn encodes_one_line_per_message() {
        let mut codec = DeviceCodec::default().lines();
        let mut buf = BytesMut::new();
        codec.encode(&hb(), &mut buf).unwrap();
        codec.encode(hb(), &mut buf).unwrap();
        let mut expected = HB.to_vec();
        expected.push(b'\n');
        expected.extend_from_slice(HB);
        expected.push(b'\n');
        assert_eq!(&buf[..], &expected[..]);
        let mut small = DeviceCodec::new(CodecConfig::default().max_message_len(10)).lines();
        assert!(matches!(
            small.encode(&hb(), &mut buf),
            Err(EncodeError::MessageTooLarge { .. })
        ));
        assert_eq!(buf.len(), expected.len(), "nothing written on error");
    }

    #[cfg(feature = "tokio-util")]
    #[test]
    fn lines_drive_tokio_util_through_the_adapter() {
        use proto_common::tokio_codec::{FramedError, TokioCodec};
        use tokio_util::codec::{Decoder as _, Encoder as _};

        let mut framed = TokioCodec::new(DeviceCodec::default().lines());
        let mut buf = BytesMut::new();
        framed.encode(&hb(), &mut buf).unwrap();
        let mut platform = TokioCodec::new(lines());
        buf.extend_from_slice(b"{\"funcId\"");
        assert_eq!(platform.decode(&mut buf).unwrap(), Some(hb()));
        assert!(matches!(
            platform.decode_eof(&mut buf),
            Err(FramedError::Truncated { len: 9 })
        ));
        let mut small =
            TokioCodec::new(PlatformCodec::new(CodecConfig::default().max_message_len(4)).lines());
        let mut long = BytesMut::from(&b"{\"funcId\":1}"[..]);
        assert!(matches!(
            small.decode(&mut long),
            Err(FramedError::Codec(DecodeError::LineTooLong {
                len: 12,
                max: 4
            }))
        ));
    }
}
