//! Every JSON example of access.md decodes to the right typed message, round-trips, and splits from a stream.

use access_proto::*;
use bytes::{Bytes, BytesMut};

const SESSION: &str = "de6a6236-db52-11e9-aaa8-00e04c110030";

const NAMES: [&str; 12] = [
    "get_device_info_request.json",
    "get_device_info_response.json",
    "set_device_info_request.json",
    "set_device_info_response.json",
    "download_person_request.json",
    "download_person_response.json",
    "upload_access_info_request.json",
    "upload_access_info_response.json",
    "send_user_command_request.json",
    "send_user_command_response.json",
    "send_device_command_request.json",
    "send_device_command_response.json",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode(name: &str) -> Message {
    let msg = Message::from_json(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = Message::from_json(&msg.to_json().unwrap()).unwrap();
    assert_eq!(again, msg, "{name} does not round-trip");
    assert_eq!(msg.session_id().as_str(), SESSION, "{name}");
    msg
}

fn request(name: &str) -> RequestBody {
    match decode(name) {
        Message::Request(r) => r.body,
        other => panic!("{name}: expected a request, got {other:?}"),
    }
}

fn response(name: &str) -> Response {
    match decode(name) {
        Message::Response(r) => r,
        other => panic!("{name}: expected a response, got {other:?}"),
    }
}

#[test]
fn every_fixture_is_listed() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed = NAMES.map(String::from).to_vec();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn device_info() {
    assert_eq!(
        request("get_device_info_request.json"),
        RequestBody::GetDeviceInfo
    );
    let reply = response("get_device_info_response.json");
    assert_eq!((reply.code, reply.message.as_str()), (Code::Success, ""));
    assert_eq!(
        reply.body,
        ResponseBody::GetDeviceInfo(DeviceInfoReply {
            device_info: Some(DeviceInfo {
                uuid: Some("31231412332".into()),
                device_ip: Some("192.168.1.156".into()),
                device_port: Some(1545),
                server_ip: Some("192.168.1.166".into()),
                server_port: Some(49003),
                address: Some("公司门口".into()),
                community_code: Some("1312312".into()),
                software_version: Some("V3.2.1".into()),
                hardware_version: Some("V5.8.9".into()),
            }),
        })
    );

    // The spec prints a trailing comma here; the lenient retry accepts it.
    assert_eq!(
        request("set_device_info_request.json"),
        RequestBody::SetDeviceInfo(SetDeviceInfo {
            device_info: DeviceInfo {
                uuid: Some("123119823234342".into()),
                device_ip: Some("192.168.1.156".into()),
                device_port: Some(1545),
                server_ip: Some("192.168.1.166".into()),
                server_port: Some(39877),
                address: Some("门口考勤机器".into()),
                community_code: Some("1312123312".into()),
                software_version: None,
                hardware_version: None,
            },
        })
    );
    let reply = response("set_device_info_response.json");
    assert_eq!(
        (reply.code, reply.body),
        (Code::Success, ResponseBody::SetDeviceInfo)
    );
}

#[test]
fn download_person() {
    let image = |text: &'static str| Image {
        width: 520,
        height: 690,
        format: ImageFormat(2),
        data: Bytes::from_static(text.as_bytes()),
    };
    let code = FeatureCode {
        data: Bytes::from_static(b"BASE64 code data"),
    };
    assert_eq!(
        request("download_person_request.json"),
        RequestBody::DownloadPerson(DownloadPerson {
            person_info: PersonInfo {
                person_id: "3413123123".into(),
                person_name: Some("张飒".into()),
                id_number: Some("1545123".into()),
                card_number: Some("123123123".into()),
                key_number: Some("1231233".into()),
                department_number: Some("111111111222".into()),
                role: Some(Role(12)),
                face: Some(image("BASE64 face data")),
                left_image: Some(image("BASE64 image data")),
                left_code: Some(code.clone()),
                right_image: Some(image("BASE64 image data")),
                right_code: Some(code),
            },
        })
    );
    let reply = response("download_person_response.json");
    assert_eq!(
        (reply.code, reply.body),
        (Code::Success, ResponseBody::DownloadPerson)
    );
}

#[test]
fn download_person_as_printed_is_refused_naming_the_blob() {
    // The spec's own placeholders: not base64, and a length no data matches.
    let text = String::from_utf8(fixture("download_person_request.json"))
        .unwrap()
        .replacen(
            "\"length\":16,\n\t\t\"data\":\"QkFTRTY0IGZhY2UgZGF0YQ==\"",
            "\"length\":123221,\n\t\t\"data\":\"BASE64 face data\"",
            1,
        );
    assert!(text.contains("BASE64 face data"));
    let err = Message::from_json(text.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `download_person` message: at `person_info.face.data`: not standard base64: Invalid symbol 32, offset 6. at line 20 column 27"
    );
    let text = text.replace(
        "\"data\":\"BASE64 face data\"",
        "\"data\":\"QkFTRTY0IGZhY2UgZGF0YQ==\"",
    );
    let err = Message::from_json(text.as_bytes()).unwrap_err();
    let DecodeError::Json { name, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (name.as_str(), source.path()),
        ("download_person", "person_info.face")
    );
    assert!(
        err.to_string()
            .contains("`length` is 123221 but `data` decodes to 16 bytes"),
        "{err}"
    );
}

#[test]
fn access_records() {
    let RequestBody::UploadAccessInfo(upload) = request("upload_access_info_request.json") else {
        panic!("not an upload");
    };
    assert_eq!(
        upload.access_info,
        AccessInfo {
            person_id: Some("3413123123".into()),
            time: LocalTimestamp::from_ymd_hms(2019, 8, 23, 12, 34, 35).unwrap(),
            id_number: Some("1545123".into()),
            card_number: Some("123123123".into()),
            role: Some(Role(12)),
            open_door_type: Some(OpenDoorType(2)),
            in_out_type: Some(InOutType(2)),
            community_code: Some("1231321".into()),
        }
    );
    let reply = response("upload_access_info_response.json");
    assert_eq!(
        (reply.code, reply.body),
        (Code::Success, ResponseBody::UploadAccessInfo)
    );
}

#[test]
fn commands() {
    let command = Command {
        command_type: CommandType(2),
        command_value: "test!".into(),
    };
    assert_eq!(
        request("send_user_command_request.json"),
        RequestBody::SendUserCommand(command.clone())
    );
    assert_eq!(
        request("send_device_command_request.json"),
        RequestBody::SendDeviceCommand(command)
    );
    let reply = response("send_user_command_response.json");
    assert_eq!(
        (reply.code, reply.body),
        (Code::Success, ResponseBody::SendUserCommand)
    );
    let reply = response("send_device_command_response.json");
    assert_eq!(
        (reply.code, reply.body),
        (Code::Success, ResponseBody::SendDeviceCommand)
    );
}

#[test]
fn every_response_answers_its_request() {
    for pair in NAMES.chunks(2) {
        let (Message::Request(request), Message::Response(response)) =
            (decode(pair[0]), decode(pair[1]))
        else {
            panic!("{pair:?}");
        };
        assert!(response.answers(&request), "{pair:?}");
        assert_eq!(response.pair_key(), request.pair_key());
    }
}

/// The fixtures as one TCP stream, as printed (pretty, tabs, a trailing comma), back to back.
fn stream() -> (Vec<u8>, Vec<Message>) {
    let mut wire = Vec::new();
    let mut messages = Vec::new();
    for name in NAMES {
        wire.extend_from_slice(&fixture(name));
        messages.push(decode(name));
    }
    (wire, messages)
}

#[test]
fn the_fixture_stream_splits_at_every_byte() {
    let (wire, messages) = stream();
    for cut in 0..=wire.len() {
        let mut codec = Codec::default();
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut got = Vec::new();
        while let Some(m) = codec.decode(&mut buf).unwrap() {
            got.push(m);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(m) = codec.decode_eof(&mut buf).unwrap() {
            got.push(m);
        }
        assert_eq!(got, messages, "cut at {cut}");
        assert!(buf.is_empty());
    }
}

#[test]
fn the_encoded_stream_is_one_line_per_message() {
    let (_, messages) = stream();
    let mut codec = Codec::default();
    let mut wire = BytesMut::new();
    for m in &messages {
        codec.encode(m, &mut wire).unwrap();
    }
    let text = std::str::from_utf8(&wire).unwrap();
    assert_eq!(text.lines().count(), messages.len());
    assert!(text.ends_with("}\n"));
    let decoded: Vec<Message> = JsonSplitter::split_all(&wire, codec.config())
        .map(|frame| Message::from_json(frame.unwrap()).unwrap())
        .collect();
    assert_eq!(decoded, messages);
}
