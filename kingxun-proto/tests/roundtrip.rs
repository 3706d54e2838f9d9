//! proptest: every message round-trips through the wire (sealed and plain) and through its JSON form;
//! arbitrary bytes never panic the decoders and never consume more than they were given.

use bytes::{Bytes, BytesMut};
use kingxun_proto::*;
use proptest::prelude::*;

fn cipher(key: [u8; 16], iv: [u8; 16]) -> LinkCipher {
    LinkCipher::new(key, iv)
}

/// UTF-8 strings of at most 32 bytes without NUL, for `svrHost` / `FileName`.
fn fixed_string() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}".prop_filter("fits 32 bytes", |s| s.len() <= 32)
}

fn prefix() -> impl Strategy<Value = (u32, u8, u64, u32)> {
    (any::<u32>(), any::<u8>(), any::<u64>(), any::<u32>())
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u64>(), fixed_string()).prop_map(|(timestamp, svr_host)| Connect {
            timestamp,
            svr_host
        }
        .into()),
        (any::<u64>(), fixed_string()).prop_map(|(timestamp, svr_host)| Heartbeat {
            timestamp,
            svr_host
        }
        .into()),
        (prefix(), any::<u16>(), any::<u8>(), any::<u32>()).prop_map(|((d, t, ts, u), a, l, f)| {
            Unlock {
                dev_id: d,
                dev_type: t,
                timestamp: ts,
                usr_id: u,
                allow_time: a,
                lowest_soc_p: l,
                farthest_dist: f,
            }
            .into()
        }),
        (prefix(), any::<u8>()).prop_map(|((d, t, ts, u), voice)| Lock {
            dev_id: d,
            dev_type: t,
            timestamp: ts,
            usr_id: u,
            voice
        }
        .into()),
        (prefix(), any::<u8>(), any::<u16>(), any::<u8>()).prop_map(|((d, t, ts, u), m, s, w)| {
            Guard {
                dev_id: d,
                dev_type: t,
                timestamp: ts,
                usr_id: u,
                motor_power: m.into(),
                max_speed: s,
                warning_voice: w,
            }
            .into()
        }),
        (prefix(), any::<u8>(), any::<u8>()).prop_map(|((d, t, ts, u), l, w)| OpenElecLock {
            dev_id: d,
            dev_type: t,
            timestamp: ts,
            usr_id: u,
            lock_flag: ElecLockFlags::from_bits_retain(l),
            warning_voice: w
        }
        .into()),
        (prefix(), any::<u16>()).prop_map(|((d, t, ts, u), l)| LightCtrl {
            dev_id: d,
            dev_type: t,
            timestamp: ts,
            usr_id: u,
            light_flag: LightFlags::from_bits_retain(l)
        }
        .into()),
        (
            prefix(),
            any::<u8>(),
            fixed_string(),
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|((d, t, ts, u), ft, name, data)| FileDeliver::new(
                d,
                t,
                ts,
                u,
                ft.into(),
                name,
                Bytes::from(data)
            )
            .into()),
        (prefix(), any::<u8>(), any::<u8>()).prop_map(|((d, t, ts, u), s, r)| SetPacketLog {
            dev_id: d,
            dev_type: t,
            timestamp: ts,
            sys_usr_id: u,
            log_send: s.into(),
            log_recv: r.into()
        }
        .into()),
        (prefix(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|((d, t, ts, u), s, r, l)| {
            SetLogLevel {
                dev_id: d,
                dev_type: t,
                timestamp: ts,
                sys_usr_id: u,
                log_send: s.into(),
                log_recv: r.into(),
                log_level: LogLevel::from_bits_retain(l),
            }
            .into()
        }),
        (
            0u16..4000,
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(id, sealed, body)| {
                Request::Unknown(RawRequest {
                    msg_id: id,
                    crypt: if sealed {
                        CryptFlag::Aes
                    } else {
                        CryptFlag::Plain
                    },
                    body: Bytes::from(body),
                })
            }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let code = any::<u8>().prop_map(RespCode::from);
    prop_oneof![
        (
            code.clone(),
            proptest::option::of((any::<u32>(), any::<[u8; 16]>(), any::<u64>()))
        )
            .prop_map(|(code, session)| Reply::Connect(ConnectReply {
                code,
                session: session.map(|(session_id, new_iv, timestamp)| ConnectSession {
                    session_id,
                    new_iv,
                    timestamp
                })
            })),
        (
            code.clone(),
            proptest::option::of((any::<u32>(), any::<u64>()))
        )
            .prop_map(|(code, status)| {
                Reply::Heartbeat(HeartbeatReply {
                    code,
                    status: status.map(|(total_dev_count, svr_start_time)| HeartbeatStatus {
                        total_dev_count,
                        svr_start_time,
                    }),
                })
            }),
        (
            prop::sample::select(vec![4001u16, 4002, 4003, 4004, 4005, 4020, 4040, 4041]),
            code.clone()
        )
            .prop_map(|(id, code)| Reply::ack(MsgId::from(id), code).unwrap()),
        (
            5000u16..6000,
            any::<bool>(),
            code,
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(id, sealed, code, rest)| Reply::Unknown(RawReply {
                msg_id: id,
                crypt: if sealed {
                    CryptFlag::Aes
                } else {
                    CryptFlag::Plain
                },
                code,
                rest: Bytes::from(rest),
            })),
    ]
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (any::<u32>(), request()).prop_map(|(seq, r)| Packet::request(seq, r)),
        (any::<u32>(), any::<u32>(), reply()).prop_map(|(dev, seq, r)| {
            let dev = r.expected_dev_id().unwrap_or(dev);
            Packet::new(dev, seq, r)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn packets_round_trip_through_the_wire(p in packet(), key in any::<[u8; 16]>(), iv in any::<[u8; 16]>()) {
        let cipher = cipher(key, iv);
        let mut wire = BytesMut::new();
        p.encode(Some(&cipher), &CodecConfig::default(), &mut wire).unwrap();
        let encoded = wire.clone();
        let frame = decode_frame(&CodecConfig::default(), &mut wire).unwrap().unwrap();
        prop_assert!(wire.is_empty());
        prop_assert_eq!(frame.header, p.header());
        let decoded = Packet::decode(&frame, Some(&cipher)).unwrap();
        prop_assert_eq!(&decoded, &p);
        // Sealed bodies never show their plaintext.
        if p.message.crypt_flag() == CryptFlag::Aes && p.message.is_known() && frame.body.len() > 1 {
            let plain = p.to_frame(None, &CodecConfig::default());
            prop_assert!(plain.is_err(), "a sealed message needs the cipher");
        }
        // Re-encoding is byte-exact.
        let mut again = BytesMut::new();
        decoded.encode(Some(&cipher), &CodecConfig::default(), &mut again).unwrap();
        prop_assert_eq!(again, encoded);
    }

    #[test]
    fn packets_round_trip_through_json(p in packet()) {
        let json = serde_json::to_string(&p).unwrap();
        let back: Packet = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, p);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_overconsume(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut src = BytesMut::from(&input[..]);
        let mut codec = Codec::new(CodecConfig::default().max_body_len(1024)).with_cipher(cipher([1; 16], [2; 16]));
        let mut consumed = 0;
        loop {
            let before = src.len();
            let outcome = codec.decode(&mut src);
            consumed += before - src.len();
            prop_assert!(consumed <= input.len());
            match outcome {
                Ok(Some(packet)) => {
                    let mut again = BytesMut::new();
                    packet.encode(codec.cipher(), codec.config(), &mut again).unwrap();
                    prop_assert_eq!(&again[..], &input[consumed - again.len()..consumed]);
                }
                Ok(None) => break,
                Err(e) if e.is_fatal() => {
                    prop_assert_eq!(before, src.len(), "fatal errors consume nothing");
                    break;
                }
                Err(_) => {}
            }
        }
    }

    #[test]
    fn arbitrary_header_plus_body_frames_never_panic(
        msg_id in prop::sample::select(vec![9001u16, 9002, 4001, 4002, 4003, 4004, 4005, 4020, 4040, 4041, 7]),
        reply in any::<bool>(),
        crypt in 0u8..2,
        dev in prop::sample::select(vec![0u32, 1001]),
        body in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(b"KX\x01");
        wire.extend_from_slice(&[u8::from(reply)]);
        wire.extend_from_slice(&msg_id.to_be_bytes());
        wire.extend_from_slice(&[crypt]);
        wire.extend_from_slice(&dev.to_be_bytes());
        wire.extend_from_slice(&3u32.to_be_bytes());
        wire.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        wire.extend_from_slice(&body);
        let original = wire.clone();
        let frame = decode_frame(&CodecConfig::default(), &mut wire).unwrap().unwrap();
        let cipher = cipher([0; 16], [0; 16]);
        if let Ok(packet) = Packet::decode(&frame, Some(&cipher)) {
            let mut again = BytesMut::new();
            packet.encode(Some(&cipher), &CodecConfig::default(), &mut again).unwrap();
            prop_assert_eq!(again, original);
        }
    }

    #[test]
    fn sealing_round_trips_any_plaintext(plain in proptest::collection::vec(any::<u8>(), 0..200), key in any::<[u8; 16]>(), iv in any::<[u8; 16]>()) {
        let c = cipher(key, iv);
        let sealed = c.seal(&plain).unwrap();
        prop_assert_eq!(sealed.len(), LinkCipher::sealed_len(plain.len()).unwrap());
        prop_assert_eq!(sealed.len() % 16, 6);
        prop_assert_eq!(c.open(&sealed).unwrap(), plain);
    }
}

/// Every single-bit flip of fixed seals (each length class) is refused with the one error. Deterministic: a
/// flip garbles a whole block, so a random-input version would accept a CRC collision once in ~65536 cases.
#[test]
fn every_single_bit_flip_of_a_seal_is_refused() {
    let c = cipher([3; 16], [4; 16]);
    for len in [0usize, 1, 15, 16, 17, 24, 40] {
        let plain: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i * 7 % 256).unwrap())
            .collect();
        let sealed = c.seal(&plain).unwrap();
        for bit in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(c.open(&bad), Err(OpenError), "len {len}, bit {bit}");
        }
    }
}
