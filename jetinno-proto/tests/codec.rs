//! Framing cases of STYLE.md, body errors, and property tests.

use bytes::BytesMut;
use jetinno_proto::*;
use proptest::prelude::*;

/// `0039` length (12-byte head + 27-byte body), `00000000` padding, then the body.
const HB: &[u8] = b"003900000000{\"cmd\":\"hb\",\"vmc_no\":33232}";

fn server() -> ServerCodec {
    ServerCodec::default()
}

#[test]
fn head_fragment_then_partial_body_then_exact_frame() {
    let mut codec = server();
    for cut in [0, 2, 4, 11, 12, 20, HB.len() - 1] {
        let mut buf = BytesMut::from(&HB[..cut]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None, "cut {cut}");
        assert_eq!(buf.len(), cut, "nothing consumed at cut {cut}");
    }
    let mut buf = BytesMut::from(HB);
    let msg = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(msg, MachineHeartbeat { vmc_no: 33232 }.into());
    assert!(buf.is_empty());
}

#[test]
fn two_frames_in_one_buffer() {
    let mut buf = BytesMut::from(HB);
    buf.extend_from_slice(HB);
    let mut codec = server();
    assert!(codec.decode(&mut buf).unwrap().is_some());
    assert_eq!(buf.len(), HB.len());
    assert!(codec.decode(&mut buf).unwrap().is_some());
    assert!(buf.is_empty());
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
}

#[test]
fn frame_then_trailing_garbage() {
    let mut buf = BytesMut::from(HB);
    buf.extend_from_slice(b"zz!!more");
    let mut codec = server();
    assert!(codec.decode(&mut buf).unwrap().is_some());
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(err.is_fatal());
    assert!(matches!(err, DecodeError::BadLengthHead { found } if &found == b"zz!!"));
    assert_eq!(
        err.to_string(),
        "bad length head \"zz!!\" (expected 4 ASCII digits, zero- or space-padded)"
    );
    assert_eq!(&buf[..], b"zz!!more", "a fatal error consumes nothing");
}

#[test]
fn space_padded_heads_are_accepted_other_heads_refused() {
    let mut buf = BytesMut::from(&b"  3900000000{\"cmd\":\"hb\",\"vmc_no\":33232}"[..]);
    assert!(server().decode(&mut buf).unwrap().is_some());
    for bad in [
        &b"38  "[..],
        b" 3 8",
        b"    ",
        b"-038",
        b"+038",
        b"0x26",
        b"\0\0\x002",
    ] {
        let mut buf = BytesMut::from(bad);
        let err = server().decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, DecodeError::BadLengthHead { .. }),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn limits_are_checked_on_the_head_before_buffering() {
    let mut buf = BytesMut::from(&b"0011"[..]);
    let err = server().decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::PacketTooShort { len: 11, min: 12 }
    ));

    let mut small = ServerCodec::new(CodecConfig::default().max_packet_len(100));
    let mut buf = BytesMut::from(&b"0101"[..]);
    let err = small.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::PacketTooLarge { len: 101, max: 100 }
    ));
    assert_eq!(
        err.to_string(),
        "packet length 101 exceeds the maximum of 100 bytes"
    );

    // 9999 is the ceiling: a 9999-byte packet is fine when it arrives in full.
    let body = format!(
        "{{\"cmd\":\"x\",\"pad\":\"{}\"}}",
        "a".repeat(9999 - 12 - 20)
    );
    assert_eq!(body.len(), 9999 - 12);
    let mut buf = BytesMut::new();
    encode_frame(&CodecConfig::default(), body.as_bytes(), &mut buf).unwrap();
    assert_eq!(&buf[..4], b"9999");
    let msg = server().decode(&mut buf).unwrap().unwrap();
    assert!(!msg.is_known());
}

#[test]
fn encoder_refuses_oversized_bodies_and_leaves_the_buffer_alone() {
    let config = CodecConfig::default();
    let mut buf = BytesMut::from(&b"keep"[..]);
    let err = encode_frame(&config, &[b' '; 9988], &mut buf).unwrap_err();
    assert!(matches!(
        err,
        EncodeError::BodyTooLarge {
            len: 9988,
            max: 9987
        }
    ));
    assert_eq!(&buf[..], b"keep");

    let prices = PriceSet {
        vmc_no: 1,
        price: (0..2000).map(|i| PriceEntry::from((i, i, 1))).collect(),
    };
    let err = server().encode(&prices.into(), &mut buf).unwrap_err();
    assert!(
        matches!(err, EncodeError::BodyTooLarge { max: 9987, .. }),
        "{err}"
    );
    assert_eq!(&buf[..], b"keep");

    let mut small = ServerCodec::new(CodecConfig::default().max_packet_len(40));
    let err = small
        .encode(
            &PriceSet {
                vmc_no: 1,
                price: vec![(1, 2, 3).into()],
            }
            .into(),
            &mut buf,
        )
        .unwrap_err();
    assert!(
        matches!(err, EncodeError::BodyTooLarge { max: 28, .. }),
        "{err}"
    );
    assert_eq!(&buf[..], b"keep");
}

#[test]
fn encoder_writes_zero_padded_head_and_padding() {
    let mut buf = BytesMut::new();
    MachineCodec::default()
        .encode(&MachineHeartbeat { vmc_no: 33232 }.into(), &mut buf)
        .unwrap();
    assert_eq!(&buf[..], HB);
}

#[test]
fn padding_content_is_ignored() {
    let mut buf = BytesMut::from(&b"0039abcdefgh{\"cmd\":\"hb\",\"vmc_no\":33232}"[..]);
    assert!(server().decode(&mut buf).unwrap().is_some());
}

#[test]
fn a_bad_body_consumes_its_frame_and_names_cmd_and_field() {
    let body = br#"{"cmd":"qrcode","vmc_no":1,"qr_type":"all","product_id":"810","Amount":1,"order_no":"o"}"#;
    let mut buf = BytesMut::new();
    encode_frame(&CodecConfig::default(), body, &mut buf).unwrap();
    buf.extend_from_slice(HB);
    let mut codec = server();
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(!err.is_fatal());
    let text = err.to_string();
    assert!(
        text.starts_with("invalid `qrcode` message: at `product_id`: invalid type: string \"810\""),
        "{text}"
    );
    // The stream goes on with the next frame.
    assert!(codec.decode(&mut buf).unwrap().is_some());
    assert!(buf.is_empty());
}

#[test]
fn body_errors_are_specific() {
    let cases: [(&[u8], &str); 6] = [
        (b"{\"cmd\":\"hb\",\"vmc_no\":\xff}", "body is not UTF-8 (invalid byte at offset 21)"),
        (b"not json", "invalid `?` message: expected ident at line 1 column 2"),
        (b"[1,2]", "invalid `?` message: invalid type: sequence"),
        (br#"{"vmc_no":1}"#, "invalid `?` message: missing field `cmd`"),
        (br#"{"cmd":"products","vmc_no":1,"product_id":1,"fastcode":263,"paydone":true,"paytype":"fastcode"}"#,
            "invalid `products` message: at `fastcode`: fastcode 263 is invalid: milk (tens) digit is above 5"),
        (br#"{"cmd":"reboot"}"#, "invalid `reboot` message: missing field `vmc_no`"),
    ];
    for (body, expected) in cases {
        let err = ServerMessage::from_json(body).unwrap_err();
        assert!(err.to_string().starts_with(expected), "{err} vs {expected}");
    }
}

#[test]
fn unknown_cmd_is_kept_raw_and_round_trips() {
    let body = br#"{"cmd":"coffee_beans","vmc_no":33232,"level":[1,2]}"#;
    let msg = MachineMessage::from_json(body).unwrap();
    let MachineMessage::Unknown(u) = &msg else {
        panic!("{msg:?}")
    };
    assert_eq!(u.cmd, "coffee_beans");
    assert_eq!(u.raw["level"][1], 2);
    assert_eq!(
        MachineMessage::from_json(&msg.to_json().unwrap()).unwrap(),
        msg
    );
    // An Unknown whose raw JSON does not carry its cmd cannot be encoded.
    let bad = MachineMessage::Unknown(UnknownMessage {
        cmd: "x".into(),
        raw: serde_json::json!({"cmd":"y"}),
    });
    assert!(matches!(bad.to_json(), Err(EncodeError::NotAMessage)));
}

#[test]
fn tag_order_and_extra_fields_do_not_matter() {
    let msg = MachineMessage::from_json(br#"{"vmc_no":7,"extra":{"a":[1]},"cmd":"hb"}"#).unwrap();
    assert_eq!(msg, MachineHeartbeat { vmc_no: 7 }.into());
}

fn decode_all(codec: &mut ServerCodec, buf: &mut BytesMut, out: &mut Vec<MachineMessage>) {
    while let Some(m) = codec.decode(buf).unwrap() {
        out.push(m);
    }
}

#[test]
fn decode_at_every_split_point() {
    let mut stream = BytesMut::new();
    let messages: Vec<MachineMessage> = vec![
        MachineHeartbeat { vmc_no: 1 }.into(),
        Login::signed(1, 20240101, &MachineCode::new("abcdefgh").unwrap(), "1.0").into(),
        MachineStatus {
            vmc_no: 1,
            status: MachineState::DoorOpen,
        }
        .into(),
    ];
    let mut tx = MachineCodec::default();
    for m in &messages {
        tx.encode(m, &mut stream).unwrap();
    }
    for split in 0..=stream.len() {
        let mut codec = server();
        let mut out = Vec::new();
        let mut buf = BytesMut::from(&stream[..split]);
        decode_all(&mut codec, &mut buf, &mut out);
        buf.extend_from_slice(&stream[split..]);
        decode_all(&mut codec, &mut buf, &mut out);
        assert_eq!(out, messages, "split at {split}");
        assert!(buf.is_empty());
    }
}

fn text() -> impl Strategy<Value = String> {
    "[ -~\u{4e00}-\u{4e20}]{0,24}"
}

fn pay_type() -> impl Strategy<Value = PayType> {
    prop_oneof![
        Just(PayType::WxPub),
        Just(PayType::Alipay),
        Just(PayType::QrPay),
        Just(PayType::FastCode),
        "[a-z]{1,8}".prop_filter_map("known", |s| match PayType::from(s.as_str()) {
            PayType::Other(_) => Some(PayType::Other(s)),
            _ => None,
        }),
    ]
}

fn qr_type() -> impl Strategy<Value = QrType> {
    prop_oneof![
        Just(QrType::All),
        Just(QrType::WxPub),
        Just(QrType::Alipay),
        "[a-z]{1,8}".prop_filter_map("known", |s| match QrType::from(s.as_str()) {
            QrType::Other(_) => Some(QrType::Other(s)),
            _ => None,
        }),
    ]
}

fn machine_state() -> impl Strategy<Value = MachineState> {
    prop_oneof![
        Just(MachineState::ClearError),
        Just(MachineState::CupBlock),
        Just(MachineState::DoorOpen),
        Just(MachineState::DoorClose),
        Just(MachineState::Supply),
        "[a-z]{1,8}".prop_filter_map("known", |s| match MachineState::from(s.as_str()) {
            MachineState::Other(_) => Some(MachineState::Other(s)),
            _ => None,
        }),
    ]
}

fn machine_message() -> impl Strategy<Value = MachineMessage> {
    let vmc = any::<u64>();
    prop_oneof![
        vmc.prop_map(|vmc_no| MachineHeartbeat { vmc_no }.into()),
        (
            vmc,
            any::<u32>(),
            text(),
            text(),
            proptest::option::of(text())
        )
            .prop_map(
                |(vmc_no, timestamp, sign, version, linux_driver_version)| Login {
                    vmc_no,
                    timestamp,
                    sign,
                    version,
                    linux_driver_version
                }
                .into()
            ),
        (vmc, machine_state()).prop_map(|(vmc_no, status)| MachineStatus { vmc_no, status }.into()),
        (vmc, text(), text(), text(), any::<[bool; 3]>()).prop_map(
            |(
                vmc_no,
                datetime,
                error_code,
                error_description,
                [is_set, is_fatal_error, is_persistence_error],
            )| {
                ErrorReport {
                    vmc_no,
                    datetime,
                    error_code,
                    error_description,
                    is_set,
                    is_fatal_error,
                    is_persistence_error,
                }
                .into()
            }
        ),
        (vmc, qr_type(), any::<u32>(), any::<u32>(), text()).prop_map(
            |(vmc_no, qr_type, product_id, amount, order_no)| QrCodeRequest {
                vmc_no,
                qr_type,
                product_id,
                amount,
                order_no
            }
            .into()
        ),
        (
            vmc,
            text(),
            any::<u32>(),
            any::<u32>(),
            pay_type(),
            any::<bool>(),
            text()
        )
            .prop_map(
                |(vmc_no, product_name, product_id, product_amount, pay_type, is_ok, order_no)| {
                    ProductDone {
                        vmc_no,
                        product_name,
                        product_id,
                        product_amount,
                        pay_type,
                        is_ok,
                        order_no,
                    }
                    .into()
                }
            ),
        ("[a-z_]{1,10}", vmc).prop_filter_map("unknown cmd", |(cmd, vmc_no)| {
            (!MachineMessage::KNOWN.contains(&cmd.as_str())).then(|| {
                MachineMessage::Unknown(UnknownMessage {
                    raw: serde_json::json!({"cmd": cmd, "vmc_no": vmc_no}),
                    cmd,
                })
            })
        }),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    let vmc = any::<u64>();
    let fast = (0u8..=5, 0u8..=5, 0u8..=5).prop_map(|(a, b, c)| FastCode::new(a, b, c).unwrap());
    prop_oneof![
        proptest::option::of(vmc).prop_map(|vmc_no| ServerHeartbeat { vmc_no }.into()),
        (proptest::option::of(vmc), text(), any::<i32>()).prop_map(|(vmc_no, date_time, ret)| {
            LoginReply {
                vmc_no,
                date_time,
                ret,
            }
            .into()
        }),
        (vmc, qr_type(), text(), text()).prop_map(|(vmc_no, qr_type, qrcode, order_no)| {
            QrCodeReply {
                vmc_no,
                qr_type,
                qrcode,
                order_no,
            }
            .into()
        }),
        (vmc, any::<u32>(), text(), any::<bool>(), pay_type()).prop_map(
            |(vmc_no, product_amount, order_no, paydone, paytype)| PayDone {
                vmc_no,
                product_amount,
                order_no,
                paydone,
                paytype
            }
            .into()
        ),
        (vmc, any::<u32>(), fast, any::<bool>(), pay_type()).prop_map(
            |(vmc_no, product_id, fastcode, paydone, paytype)| Products {
                vmc_no,
                product_id,
                fastcode,
                paydone,
                paytype
            }
            .into()
        ),
        vmc.prop_map(|vmc_no| Reboot { vmc_no }.into()),
        vmc.prop_map(|vmc_no| OpenDoor { vmc_no }.into()),
        (vmc, text()).prop_map(|(vmc_no, dir)| Upgrade { vmc_no, dir }.into()),
        vmc.prop_map(|vmc_no| Rinsing { vmc_no }.into()),
        (
            vmc,
            proptest::collection::vec(any::<(u32, u32, u32)>(), 0..40)
        )
            .prop_map(|(vmc_no, p)| PriceSet {
                vmc_no,
                price: p.into_iter().map(PriceEntry::from).collect()
            }
            .into()),
        (vmc, any::<u32>()).prop_map(|(vmc_no, discount)| Discount { vmc_no, discount }.into()),
    ]
}

proptest! {
    #[test]
    fn machine_messages_round_trip_through_the_codec(msg in machine_message()) {
        let mut buf = BytesMut::new();
        MachineCodec::default().encode(&msg, &mut buf).unwrap();
        prop_assert_eq!(server().decode(&mut buf).unwrap(), Some(msg));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn server_messages_round_trip_through_the_codec(msg in server_message()) {
        let mut buf = BytesMut::new();
        server().encode(&msg, &mut buf).unwrap();
        prop_assert_eq!(MachineCodec::default().decode(&mut buf).unwrap(), Some(msg.clone()));
        prop_assert!(buf.is_empty());
        // The any-direction view agrees, except for a server hb that carries vmc_no (read as a machine hb).
        let any = Message::from_json(&msg.to_json().unwrap()).unwrap();
        if !matches!(msg, ServerMessage::Heartbeat(ServerHeartbeat { vmc_no: Some(_) })) {
            prop_assert_eq!(any, Message::Server(msg));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_overconsume(
        input in proptest::collection::vec(any::<u8>(), 0..512),
        digits in "[0-9 ]{4}",
    ) {
        for bytes in [input.clone(), [digits.as_bytes(), b"00000000", &input].concat()] {
            let mut buf = BytesMut::from(&bytes[..]);
            let mut codec = server();
            loop {
                let before = buf.len();
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => prop_assert!(buf.len() < before),
                    Ok(None) => { prop_assert_eq!(buf.len(), before); break; }
                    Err(e) if e.is_fatal() => { prop_assert_eq!(buf.len(), before); break; }
                    Err(_) => prop_assert!(buf.len() < before),
                }
            }
        }
    }
}

#[test]
fn a_repeated_cmd_never_changes_the_message_name() {
    // Found by fuzzing: the first `cmd` names the message, in every view, and re-encoding keeps it.
    let body = br#"{"cmd":"login_r","date_time":"2026-11-22 08:00:01","cmd":0}"#;
    let any = Message::from_json(body).unwrap_err();
    assert!(any.to_string().contains("missing field `ret`"), "{any}");
    let unknown = Message::from_json(br#"{"cmd":"brew","cmd":0,"x":1}"#).unwrap();
    assert_eq!(unknown.name(), "brew");
    assert_eq!(
        Message::from_json(&unknown.to_json().unwrap()).unwrap(),
        unknown
    );
    let hb = Message::from_json(br#"{"cmd":"hb","cmd":"login"}"#).unwrap();
    assert_eq!(hb, Message::Server(ServerHeartbeat { vmc_no: None }.into()));
}
