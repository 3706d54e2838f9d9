//! Round trips of every message type and splitter invariants on arbitrary input.

use access_proto::*;
use bytes::{Bytes, BytesMut};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn text() -> impl Strategy<Value = String> {
    // Arbitrary Unicode, control characters and quotes included: the encoder must escape them.
    prop_oneof![".{0,12}", "[\"\\\\{}\\[\\] a-z]{0,12}"]
}

fn time() -> impl Strategy<Value = LocalTimestamp> {
    (
        0..=9999i32,
        1..=12u32,
        1..=28u32,
        0..24u32,
        0..60u32,
        0..60u32,
    )
        .prop_map(|(y, mo, d, h, mi, s)| LocalTimestamp::from_ymd_hms(y, mo, d, h, mi, s).unwrap())
}

fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

fn image() -> impl Strategy<Value = Image> {
    (any::<u32>(), any::<u32>(), any::<i64>(), bytes()).prop_map(|(width, height, format, data)| {
        Image {
            width,
            height,
            format: ImageFormat(format),
            data,
        }
    })
}

fn feature_code() -> impl Strategy<Value = FeatureCode> {
    bytes().prop_map(|data| FeatureCode { data })
}

fn device_info() -> impl Strategy<Value = DeviceInfo> {
    (
        of(text()),
        of(text()),
        of(any::<u16>()),
        of(text()),
        of(any::<u16>()),
        of(text()),
        of(text()),
        of(text()),
        of(text()),
    )
        .prop_map(
            |(
                uuid,
                device_ip,
                device_port,
                server_ip,
                server_port,
                address,
                community_code,
                sw,
                hw,
            )| {
                DeviceInfo {
                    uuid,
                    device_ip,
                    device_port,
                    server_ip,
                    server_port,
                    address,
                    community_code,
                    software_version: sw,
                    hardware_version: hw,
                }
            },
        )
}

fn person_info() -> impl Strategy<Value = PersonInfo> {
    (
        text(),
        of(text()),
        of(text()),
        of(text()),
        of(text()),
        of(text()),
        of(any::<i64>().prop_map(Role)),
        of(image()),
        of(image()),
        of(feature_code()),
        of(image()),
        of(feature_code()),
    )
        .prop_map(
            |(
                person_id,
                person_name,
                id_number,
                card_number,
                key_number,
                department_number,
                role,
                face,
                li,
                lc,
                ri,
                rc,
            )| {
                PersonInfo {
                    person_id,
                    person_name,
                    id_number,
                    card_number,
                    key_number,
                    department_number,
                    role,
                    face,
                    left_image: li,
                    left_code: lc,
                    right_image: ri,
                    right_code: rc,
                }
            },
        )
}

fn access_info() -> impl Strategy<Value = AccessInfo> {
    (
        of(text()),
        time(),
        of(text()),
        of(text()),
        of(any::<i64>().prop_map(Role)),
        of(any::<i64>().prop_map(OpenDoorType)),
        of(any::<i64>().prop_map(InOutType)),
        of(text()),
    )
        .prop_map(
            |(
                person_id,
                time,
                id_number,
                card_number,
                role,
                open_door_type,
                in_out_type,
                community_code,
            )| AccessInfo {
                person_id,
                time,
                id_number,
                card_number,
                role,
                open_door_type,
                in_out_type,
                community_code,
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    (any::<i64>(), text()).prop_map(|(t, command_value)| Command {
        command_type: CommandType(t),
        command_value,
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An unknown message: a name the spec does not use, fields that avoid `reserved`.
fn unknown(reserved: &'static [&'static str]) -> impl Strategy<Value = UnknownMessage> {
    (
        "x_[a-z_]{0,10}",
        btree_map("[a-z_]{1,10}", json_value(), 0..4),
    )
        .prop_map(move |(name, fields)| UnknownMessage {
            name,
            fields: fields
                .into_iter()
                .filter(|(k, _)| !reserved.contains(&k.as_str()))
                .collect::<Map<String, Value>>(),
        })
}

fn request_body() -> impl Strategy<Value = RequestBody> {
    prop_oneof![
        Just(RequestBody::GetDeviceInfo),
        device_info()
            .prop_map(|device_info| RequestBody::SetDeviceInfo(SetDeviceInfo { device_info })),
        person_info()
            .prop_map(|person_info| RequestBody::DownloadPerson(DownloadPerson { person_info })),
        access_info().prop_map(
            |access_info| RequestBody::UploadAccessInfo(UploadAccessInfo { access_info })
        ),
        command().prop_map(RequestBody::SendUserCommand),
        command().prop_map(RequestBody::SendDeviceCommand),
        unknown(&["mod", "session_id", "type"]).prop_map(RequestBody::Unknown),
    ]
}

fn response_body() -> impl Strategy<Value = ResponseBody> {
    prop_oneof![
        of(device_info())
            .prop_map(|device_info| ResponseBody::GetDeviceInfo(DeviceInfoReply { device_info })),
        Just(ResponseBody::SetDeviceInfo),
        Just(ResponseBody::DownloadPerson),
        Just(ResponseBody::UploadAccessInfo),
        Just(ResponseBody::SendUserCommand),
        Just(ResponseBody::SendDeviceCommand),
        unknown(&["mod", "session_id", "type", "code", "message"]).prop_map(ResponseBody::Unknown),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (text(), request_body()).prop_map(|(id, body)| Message::Request(Request::new(id, body))),
        (text(), any::<i64>(), text(), response_body()).prop_map(|(id, code, message, body)| {
            Message::Response(Response {
                session_id: id.into(),
                code: Code::from(code),
                message,
                body,
            })
        }),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips(m in message()) {
        let json = m.to_json().unwrap();
        prop_assert_eq!(&Message::from_json(&json).unwrap(), &m);
        let text = m.to_text().unwrap();
        prop_assert_eq!(&Message::from_text(&text).unwrap(), &m);
        let mut wire = BytesMut::new();
        Codec::default().encode(&m, &mut wire).unwrap();
        prop_assert_eq!(wire.last(), Some(&b'\n'));
        let mut codec = Codec::default();
        prop_assert_eq!(codec.decode(&mut wire).unwrap(), Some(m));
        // The newline is whitespace before the next object: dropped on the next call.
        prop_assert_eq!(&wire[..], b"\n");
        prop_assert_eq!(codec.decode(&mut wire).unwrap(), None);
        prop_assert!(wire.is_empty());
    }

    #[test]
    fn encoded_streams_split_anywhere_give_back_the_messages(
        messages in vec(message(), 1..6),
        gaps in vec("[ \t\r\n]{0,3}", 6),
        chunk in 1usize..64,
    ) {
        let mut wire = Vec::new();
        for (m, gap) in messages.iter().zip(&gaps) {
            let mut one = BytesMut::new();
            Codec::default().encode(m, &mut one).unwrap();
            // Encoders end with `\n`; receivers also accept objects back to back or other whitespace.
            wire.extend_from_slice(&one[..one.len() - 1]);
            wire.extend_from_slice(gap.as_bytes());
        }
        let mut codec = Codec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_frames_come_from_the_input(
        input in prop_oneof![
            vec(any::<u8>(), 0..256),
            vec(prop_oneof![Just(b'{'), Just(b'}'), Just(b'"'), Just(b'\\'), Just(b' '), Just(b'a')], 0..256),
        ],
        chunk in 1usize..32,
        max in 1usize..128,
    ) {
        let config = CodecConfig::default().max_message_len(max);
        let mut splitter = JsonSplitter::new(&config);
        let mut buf = BytesMut::new();
        let mut consumed = 0usize;
        let mut fed = 0usize;
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut failure = None;
        'feed: for piece in input.chunks(chunk) {
            buf.extend_from_slice(piece);
            fed += piece.len();
            loop {
                let before = buf.len();
                match splitter.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        prop_assert!(frame.len() <= max);
                        prop_assert_eq!(frame.first(), Some(&b'{'));
                        prop_assert_eq!(frame.last(), Some(&b'}'));
                        // The frame is the input's bytes at the position reached.
                        let at = usize::try_from(splitter.stream_offset()).unwrap() - frame.len();
                        prop_assert_eq!(&input[at..at + frame.len()], &frame[..]);
                        let _ = Message::from_json(&frame);
                        frames.push(frame.to_vec());
                    }
                    Ok(None) => {
                        consumed += before - buf.len();
                        break;
                    }
                    Err(e) => {
                        prop_assert!(e.is_fatal());
                        consumed += before - buf.len();
                        failure = Some(e);
                        break 'feed;
                    }
                }
                consumed += before - buf.len();
            }
        }
        prop_assert!(consumed <= fed);
        prop_assert_eq!(u64::try_from(consumed).unwrap(), splitter.stream_offset());
        // The borrowing splitter over the whole input finds the same objects and the same kind of failure.
        let all: Vec<_> = JsonSplitter::split_all(&input, &config).collect();
        let whole: Vec<Vec<u8>> = all.iter().filter_map(|f| f.as_ref().ok()).map(|f| f.to_vec()).collect();
        prop_assert_eq!(&whole, &frames);
        let last_error = all.last().and_then(|f| f.as_ref().err());
        match (&failure, last_error) {
            (Some(DecodeError::Garbage { byte: a, offset: x }), Some(DecodeError::Garbage { byte: b, offset: y })) => {
                prop_assert_eq!((a, x), (b, y));
            }
            (Some(DecodeError::MessageTooLarge { .. }), Some(DecodeError::MessageTooLarge { .. })) => {}
            (None, None) => prop_assert!(buf.is_empty()),
            (None, Some(DecodeError::Truncated { len })) => prop_assert_eq!(*len, buf.len()),
            (a, b) => prop_assert!(false, "incremental {:?}, whole {:?}", a, b),
        }
    }

    #[test]
    fn arbitrary_json_objects_decode_or_fail_cleanly(value in json_value(), name in prop_oneof![
        Just("get_device_info"), Just("set_device_info"), Just("download_person"),
        Just("upload_access_info"), Just("send_user_command"), Just("send_device_command"), Just("other"),
    ]) {
        let mut object = Map::new();
        object.insert("mod".into(), Value::from(name));
        object.insert("session_id".into(), Value::from("s"));
        if let Value::Object(fields) = value {
            object.extend(fields);
        }
        let bytes = serde_json::to_vec(&object).unwrap();
        if let Ok(m) = Message::from_json(&bytes) {
            prop_assert_eq!(m.name(), name);
            let again = Message::from_json(&m.to_json().unwrap()).unwrap();
            prop_assert_eq!(again, m);
        }
    }
}
