//! Codec behaviour: limits, error reporting, wire forms, unknown topics, and the line codec.

use aliscan_proto::*;
use serde_json::json;

fn station() -> StationCodec {
    StationCodec::default()
}

fn pad() -> PadCodec {
    PadCodec::default()
}

fn json_error(e: DecodeError) -> (String, String, String) {
    match e {
        DecodeError::Json { topic, source } => {
            (topic, source.path().to_owned(), source.to_string())
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn size_limit_is_checked_before_parsing_on_both_sides() {
    let msg = br#"{"topic":"equipment/wifi/list","padId":"p","data":{}}"#;
    let exact = StationCodec::new(CodecConfig::default().max_message_len(msg.len()));
    assert!(matches!(
        exact.decode_text(msg).unwrap(),
        PadMessage::WifiList(_)
    ));
    let small = StationCodec::new(CodecConfig::default().max_message_len(msg.len() - 1));
    match small.decode_text(msg).unwrap_err() {
        DecodeError::MessageTooLarge { len, max } => {
            assert_eq!((len, max), (msg.len(), msg.len() - 1))
        }
        other => panic!("{other:?}"),
    }
    // Not even JSON: the limit is checked first.
    let err = small.decode_text(&vec![b'x'; msg.len()]).unwrap_err();
    assert!(err.to_string().contains("exceeds the maximum"), "{err}");

    let reply = StationMessage::NetResult(Envelope::new("p", true));
    let text = station().encode_text(&reply).unwrap();
    assert_eq!(
        text,
        r#"{"topic":"equipment/net/result","padId":"p","data":true}"#
    );
    let tight = StationCodec::new(CodecConfig::default().max_message_len(text.len() - 1));
    match tight.encode_text(&reply).unwrap_err() {
        EncodeError::MessageTooLarge { len, max } => {
            assert_eq!((len, max), (text.len(), text.len() - 1))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_name_the_topic_and_the_field() {
    let (topic, path, text) = json_error(
        pad()
            .decode_text(br#"{"topic":"files/scan/status","padId":"","data":{"count":1,"list":[{"sex":"1","createTime":"yesterday"}]}}"#)
            .unwrap_err(),
    );
    assert_eq!(topic, "files/scan/status");
    assert_eq!(path, "data.list[0].createTime");
    assert!(text.contains("found `yesterday`"), "{text}");

    let (_, path, _) = json_error(
        pad()
            .decode_text(br#"{"topic":"files/scan/result","scanId":"s","data":{"qrData":"XXX"}}"#)
            .unwrap_err(),
    );
    assert_eq!(path, "data.qrData");

    let e = station()
        .decode_text(br#"{"topic":"equipment/wifi/connect","padId":"p"}"#)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("invalid `equipment/wifi/connect` message")
            && e.to_string().contains("missing field `data`"),
        "{e}"
    );

    let (_, path, _) = json_error(
        station()
            .decode_text(br#"{"topic":"equipment/scan/new","padId":7,"data":{}}"#)
            .unwrap_err(),
    );
    assert_eq!(path, "padId");

    let (_, path, _) = json_error(
        pad()
            .decode_text(br#"{"topic":"equipment/scan/result","padId":""}"#)
            .unwrap_err(),
    );
    assert_eq!(path, ".");

    // The topic is named even when a later part of the message is malformed.
    let (topic, _, _) = json_error(
        station()
            .decode_text(br#"{"topic":"equipment/scan/new","data":{"sex":1,"#)
            .unwrap_err(),
    );
    assert_eq!(topic, "equipment/scan/new");
    let (topic, _, _) = json_error(station().decode_text(b"[1,2]").unwrap_err());
    assert_eq!(topic, "?");
    let (topic, _, text) = json_error(station().decode_text(br#"{"padId":"p"}"#).unwrap_err());
    assert_eq!(topic, "?");
    assert!(text.contains("missing field `topic`"), "{text}");
}

#[test]
fn a_second_topic_is_refused() {
    for text in [
        r#"{"topic":"equipment/wifi/list","padId":"p","data":{},"topic":"equipment/net/qst"}"#,
        r#"{"topic":"equipment/fan","topic":"equipment/fan2"}"#,
    ] {
        let e = station().decode_text(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("duplicate field `topic`"), "{e}");
        assert!(Message::from_json(text.as_bytes()).is_err());
    }
}

#[test]
fn non_utf8_is_reported_with_its_offset() {
    let mut msg = br#"{"topic":"equipment/wifi/list","padId":"p","data":{}}"#.to_vec();
    msg[40] = 0xff;
    match station().decode_text(&msg).unwrap_err() {
        DecodeError::NotUtf8 { offset } => assert_eq!(offset, 40),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sex_is_accepted_in_both_forms_and_written_as_the_spec_shows() {
    let m = station()
        .decode_text(
            br#"{"topic":"equipment/scan/new","padId":"p","data":{"sex":"1","requestId":"r"}}"#,
        )
        .unwrap();
    let PadMessage::ScanNew(scan) = &m else {
        panic!()
    };
    assert_eq!(scan.data.sex, Sex::Male);
    assert_eq!(
        pad().encode_text(&m).unwrap(),
        r#"{"topic":"equipment/scan/new","padId":"p","data":{"sex":1,"requestId":"r"}}"#
    );

    let m = pad()
        .decode_text(br#"{"topic":"files/scan/update","scanId":"s","data":{"sex":0}}"#)
        .unwrap();
    let StationMessage::FilesUpdate(push) = &m else {
        panic!()
    };
    assert_eq!(push.data.sex, Some(Sex::Female));
    assert_eq!(
        station().encode_text(&m).unwrap(),
        r#"{"topic":"files/scan/update","scanId":"s","data":{"sex":"0"}}"#
    );
}

#[test]
fn tolerant_reading_strict_writing() {
    // Topic not first, unknown fields at both levels, trailing commas.
    let m = station()
        .decode_text(br#"{"extra":[1,{"a":2}],"data":{"step":"8compute","x":null,},"padId":"p","topic":"equipment/calibration/new",}"#)
        .unwrap();
    assert_eq!(
        m,
        PadMessage::CalibrationNew(Envelope::new(
            "p",
            CalibrationNew {
                step: CalibrationStep::Compute8
            }
        ))
    );
    assert_eq!(
        pad().encode_text(&m).unwrap(),
        r#"{"topic":"equipment/calibration/new","padId":"p","data":{"step":"8compute"}}"#
    );

    // No padId: kept absent. Paging defaults.
    let m = station()
        .decode_text(br#"{"topic":"files/scan/list","data":{}}"#)
        .unwrap();
    assert_eq!(m.pad_id(), None);
    assert_eq!(
        m,
        PadMessage::FilesList(Envelope {
            pad_id: None,
            data: FilesList::default()
        })
    );
    assert_eq!(
        pad().encode_text(&m).unwrap(),
        r#"{"topic":"files/scan/list","data":{"page":1,"pageSize":10}}"#
    );

    // Unknown enum values are kept.
    let m = pad().decode_text(br#"{"topic":"equipment/scan/status","data":{"status":"sleeping","error":{"code":999,"message":{"msg_cn":"","msg_en":""}}}}"#).unwrap();
    let StationMessage::ScanStatus(s) = &m else {
        panic!()
    };
    assert_eq!(s.data.status, StationStatus::Other("sleeping".into()));
    assert_eq!(s.data.error.code.get(), 999);
    assert!(station()
        .encode_text(&m)
        .unwrap()
        .contains(r#""status":"sleeping""#));
}

#[test]
fn top_level_fields_and_bare_data() {
    let m = pad()
        .decode_text(br#"{"topic":"equipment/scan/result","padId":"p","scanId":""}"#)
        .unwrap();
    let StationMessage::ScanResult(r) = &m else {
        panic!()
    };
    assert!(r.failed());
    let ok = StationMessage::ScanResult(ScanStarted {
        pad_id: Some("p".into()),
        scan_id: "DEV1-20191105-093007".into(),
    });
    let text = station().encode_text(&ok).unwrap();
    assert_eq!(
        text,
        r#"{"topic":"equipment/scan/result","padId":"p","scanId":"DEV1-20191105-093007"}"#
    );
    let StationMessage::ScanResult(r) = pad().decode_text(text.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(r.parse_scan_id().unwrap().device_id(), "DEV1");

    let inform = StationMessage::UpgradeInform(UpgradeInform {
        pad_id: Some(String::new()),
        source: UpgradeSource::Online,
        data: UpgradeOffer {
            id: "u".into(),
            info: UpgradeInfo::default(),
        },
    });
    assert_eq!(
        station().encode_text(&inform).unwrap(),
        r#"{"topic":"inform/upgradeInform","padId":"","source":"online","data":{"id":"u","info":{}}}"#
    );
    assert_eq!(
        pad()
            .encode_text(&PadMessage::StoreUnbind(Bare::new("p")))
            .unwrap(),
        r#"{"topic":"equipment/store/unbind","padId":"p"}"#
    );
    let (_, path, _) = json_error(
        pad()
            .decode_text(br#"{"topic":"equipment/net/result","data":"yes"}"#)
            .unwrap_err(),
    );
    assert_eq!(path, "data");
    let StationMessage::BrandError(b) = pad()
        .decode_text(br#"{"topic":"equipment/brand/error","data":23001}"#)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(b.data, 23001);
}

#[test]
fn unknown_topics_are_kept_raw_and_checked_on_encode() {
    let text = br#"{"topic":"equipment/fan/speed","padId":"p","data":{"rpm":1200}}"#;
    let m = station().decode_text(text).unwrap();
    let PadMessage::Unknown(u) = &m else { panic!() };
    assert_eq!(u.topic, "equipment/fan/speed");
    assert_eq!(
        u.raw,
        json!({"topic":"equipment/fan/speed","padId":"p","data":{"rpm":1200}})
    );
    assert_eq!(m.pad_id(), Some("p"));
    assert!(!m.is_known());
    assert_eq!(
        station()
            .decode_text(pad().encode_text(&m).unwrap().as_bytes())
            .unwrap(),
        m
    );

    // A station topic is unknown to a pad-message decoder, and the other way round.
    let m = station()
        .decode_text(br#"{"topic":"equipment/net/result","data":true}"#)
        .unwrap();
    assert!(matches!(m, PadMessage::Unknown(_)));

    let known = PadMessage::Unknown(UnknownMessage {
        topic: "files/scan/list".into(),
        raw: json!({"topic":"files/scan/list"}),
    });
    assert!(
        matches!(pad().encode_text(&known).unwrap_err(), EncodeError::KnownTopic { topic } if topic == "files/scan/list")
    );
    let mismatched = PadMessage::Unknown(UnknownMessage {
        topic: "a".into(),
        raw: json!({"topic":"b"}),
    });
    assert!(matches!(
        pad().encode_text(&mismatched).unwrap_err(),
        EncodeError::NotAMessage { .. }
    ));
    let not_object = Message::Unknown(UnknownMessage {
        topic: "a".into(),
        raw: json!(["a"]),
    });
    assert!(matches!(
        not_object.to_json().unwrap_err(),
        EncodeError::NotAMessage { .. }
    ));
    let known_any = Message::Unknown(UnknownMessage {
        topic: "equipment/net/result".into(),
        raw: json!({"topic":"equipment/net/result"}),
    });
    assert!(matches!(
        known_any.to_json().unwrap_err(),
        EncodeError::KnownTopic { .. }
    ));
}

#[test]
fn error_info_from_the_catalogue() {
    let e = ErrorInfo::from_code(ErrorCode::WIFI_WRONG_PASSWORD);
    assert_eq!(e.code.get(), 600004);
    assert_eq!(e.message.msg_cn, "密码错误");
    assert_eq!(e.message.msg_en, "wrong password");
    assert!(!e.is_ok());
    let unknown = ErrorInfo::from_code(ErrorCode::new(42));
    assert_eq!(unknown.message, ErrorText::default());
    assert!(ErrorInfo::ok().is_ok());
    assert_eq!(
        serde_json::to_value(Outcome::success()).unwrap(),
        json!({"status":"success","error":{"code":0,"message":{"msg_cn":"","msg_en":""}}})
    );
}

#[cfg(feature = "tokio-util")]
mod lines {
    use super::*;
    use bytes::BytesMut;
    use proto_common::codec::Lines;
    use proto_common::tokio_codec::{FramedError, TokioCodec};
    use tokio_util::codec::{Decoder, Encoder};

    const A: &str = r#"{"topic":"equipment/wifi/list","padId":"a","data":{}}"#;
    const B: &str = r#"{"topic":"equipment/net/qst","padId":"b","data":{}}"#;

    type Framed<C> = TokioCodec<Lines<C>>;

    fn framed<In: WireMessage, Out: WireMessage>(codec: Codec<In, Out>) -> Framed<Codec<In, Out>> {
        TokioCodec::new(codec.lines())
    }

    fn station_lines() -> Framed<StationCodec> {
        TokioCodec::new(station().lines())
    }

    fn decode_all(codec: &mut Framed<StationCodec>, buf: &mut BytesMut) -> Vec<PadMessage> {
        let mut out = Vec::new();
        while let Some(m) = Decoder::decode(codec, buf).unwrap() {
            out.push(m);
        }
        out
    }

    #[test]
    fn every_split_point_gives_the_same_messages() {
        let wire = format!("{A}\r\n\n  \n{B}\n");
        let whole = decode_all(&mut station_lines(), &mut BytesMut::from(wire.as_bytes()));
        assert_eq!(
            whole.iter().map(PadMessage::pad_id).collect::<Vec<_>>(),
            [Some("a"), Some("b")]
        );
        for split in 0..=wire.len() {
            let mut codec = station_lines();
            let mut buf = BytesMut::from(&wire.as_bytes()[..split]);
            let mut got = decode_all(&mut codec, &mut buf);
            buf.extend_from_slice(&wire.as_bytes()[split..]);
            got.extend(decode_all(&mut codec, &mut buf));
            assert_eq!(got, whole, "split at {split}");
            assert!(buf.is_empty(), "split at {split}: {buf:?} left");
        }
    }

    #[test]
    fn partial_line_waits_and_bad_line_is_consumed() {
        let mut codec = station_lines();
        let mut buf = BytesMut::from(&A.as_bytes()[..10]);
        assert!(Decoder::decode(&mut codec, &mut buf).unwrap().is_none());
        assert_eq!(buf.len(), 10);
        // A line that is not a message is an error, consumed: the next line still decodes.
        let mut buf = BytesMut::from(format!("{{\"topic\":1}}\n{B}\ntrailing").as_bytes());
        assert!(matches!(
            Decoder::decode(&mut codec, &mut buf),
            Err(FramedError::Codec(DecodeError::Json { .. }))
        ));
        assert!(matches!(
            Decoder::decode(&mut codec, &mut buf).unwrap(),
            Some(PadMessage::NetQuery(_))
        ));
        assert_eq!(&buf[..], b"trailing");
        // At end of stream, leftover bytes that are not a line are an error.
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FramedError::Truncated { len: 8 })
        ));
    }

    #[test]
    fn over_limit_line_is_refused_before_its_newline_arrives() {
        let mut codec = framed(StationCodec::new(
            CodecConfig::default().max_message_len(A.len()),
        ));
        let mut buf = BytesMut::from(format!("{A}\r\n").as_bytes());
        assert!(Decoder::decode(&mut codec, &mut buf).unwrap().is_some());
        let mut buf = BytesMut::from(&[b' '; 64][..]);
        buf.extend_from_slice(A.as_bytes());
        let err = Decoder::decode(&mut codec, &mut buf).unwrap_err();
        assert!(err.to_string().contains("exceeds the maximum"), "{err}");
        assert!(
            matches!(err, FramedError::Codec(DecodeError::MessageTooLarge { len, max })
                if len == 64 + A.len() && max == A.len()),
            "{err:?}"
        );
        assert_eq!(buf.len(), 64 + A.len(), "nothing consumed");
    }

    #[test]
    fn encoder_writes_one_line_per_message() {
        let mut codec = framed(pad());
        let mut buf = BytesMut::new();
        Encoder::encode(
            &mut codec,
            &PadMessage::NetQuery(Envelope::new("b", Empty)),
            &mut buf,
        )
        .unwrap();
        Encoder::encode(
            &mut codec,
            PadMessage::WifiList(Envelope::new("a", Empty)),
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..], format!("{B}\n{A}\n").as_bytes());
        let mut tight = framed(PadCodec::new(CodecConfig::default().max_message_len(10)));
        assert!(matches!(
            Encoder::encode(
                &mut tight,
                &PadMessage::NetQuery(Envelope::new("b", Empty)),
                &mut buf
            ),
            Err(FramedError::Codec(EncodeError::MessageTooLarge { .. }))
        ));
        assert_eq!(buf.len(), A.len() + B.len() + 2, "nothing written on error");
    }
}

#[test]
fn measurements_round_trip_bit_for_bit() {
    // Values whose shortest decimal form has 17 significant digits or a large exponent.
    for v in [
        "1.8167140467407306e+24",
        "4.158000000000001e+47",
        "0.30000000000000004",
        "245.37000000000001",
        "5e-324",
    ] {
        let value: f64 = v.parse().unwrap();
        let result = Measurements {
            lft_length: Some(value),
            ..Measurements::default()
        };
        let m = StationMessage::FilesUpdate(RecordPush {
            pad_id: None,
            scan_id: "s".into(),
            data: Box::new(ScanRecord {
                result: Some(result),
                ..ScanRecord::default()
            }),
        });
        let again = pad()
            .decode_text(station().encode_text(&m).unwrap().as_bytes())
            .unwrap();
        assert_eq!(again, m, "{v}");
    }
}

#[test]
fn the_contract_takes_the_whole_buffer_as_one_frame() {
    let text = r#"{"topic":"equipment/net/qst","padId":"b","data":{}}"#;
    let mut frame = bytes::BytesMut::from(text.as_bytes());
    assert!(matches!(
        Decoder::decode(&mut station(), &mut frame).unwrap(),
        Some(PadMessage::NetQuery(_))
    ));
    assert!(frame.is_empty());
    // A frame that does not decode is an error and is consumed; an empty frame is no message.
    let mut frame = bytes::BytesMut::from(&text.as_bytes()[..20]);
    assert!(matches!(
        Decoder::decode(&mut station(), &mut frame),
        Err(DecodeError::Json { .. })
    ));
    assert!(frame.is_empty());
    assert!(Decoder::decode(&mut station(), &mut bytes::BytesMut::new()).is_err());
    // Encoding appends the text frame's payload, and nothing when refused.
    let mut out = bytes::BytesMut::from(&b"x"[..]);
    let m = PadMessage::NetQuery(Envelope::new("b", Empty));
    Encoder::encode(&mut pad(), m.clone(), &mut out).unwrap();
    assert_eq!(&out[1..], text.as_bytes());
    let mut tight = PadCodec::new(CodecConfig::default().max_message_len(10));
    assert!(Encoder::encode(&mut tight, &m, &mut out).is_err());
    assert_eq!(out.len(), 1 + text.len());
}
