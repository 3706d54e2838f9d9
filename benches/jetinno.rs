//! jetinno: framed typed decode and encode against two baselines measured in the same run:
//! `serde_json::from_slice` of the bare body into the same struct, and a decode through `serde_json::Value`
//! with the fields picked by hand.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use devproto::jetinno::{
    Decoder, Encoder, Login, MachineCodec, MachineHeartbeat, MachineMessage, PayType, PriceEntry,
    PriceSet, ProductDone, ServerCodec, ServerMessage,
};
use serde_json::Value;

fn frame_of<T: Into<MachineMessage>>(m: T) -> (Vec<u8>, Vec<u8>) {
    let mut buf = BytesMut::new();
    MachineCodec::default().encode(&m.into(), &mut buf).unwrap();
    (buf.to_vec(), buf[12..].to_vec())
}

fn server_frame(m: ServerMessage) -> (Vec<u8>, Vec<u8>) {
    let mut buf = BytesMut::new();
    ServerCodec::default().encode(&m, &mut buf).unwrap();
    (buf.to_vec(), buf[12..].to_vec())
}

fn hb_by_hand(v: &Value) -> Option<MachineHeartbeat> {
    Some(MachineHeartbeat {
        vmc_no: v.get("vmc_no")?.as_u64()?,
    })
}

fn login_by_hand(v: &Value) -> Option<Login> {
    Some(Login {
        vmc_no: v.get("vmc_no")?.as_u64()?,
        timestamp: u32::try_from(v.get("timestamp")?.as_u64()?).ok()?,
        sign: v.get("sign")?.as_str()?.to_owned(),
        version: v.get("version")?.as_str()?.to_owned(),
        linux_driver_version: v
            .get("linuxDriverVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn productdone_by_hand(v: &Value) -> Option<ProductDone> {
    Some(ProductDone {
        vmc_no: v.get("vmc_no")?.as_u64()?,
        product_name: v.get("ProductName")?.as_str()?.to_owned(),
        product_id: u32::try_from(v.get("ProductId")?.as_u64()?).ok()?,
        product_amount: u32::try_from(v.get("ProductAmount")?.as_u64()?).ok()?,
        pay_type: PayType::from(v.get("PayType")?.as_str()?),
        is_ok: v.get("isok")?.as_bool()?,
        order_no: v.get("order_no")?.as_str()?.to_owned(),
    })
}

fn priceset_by_hand(v: &Value) -> Option<PriceSet> {
    let triple = |t: &Value| -> Option<PriceEntry> {
        let n = |i: usize| t.get(i)?.as_u64().and_then(|x| u32::try_from(x).ok());
        Some(PriceEntry::from((n(0)?, n(1)?, n(2)?)))
    };
    Some(PriceSet {
        vmc_no: v.get("vmc_no")?.as_u64()?,
        price: v
            .get("price")?
            .as_array()?
            .iter()
            .map(triple)
            .collect::<Option<_>>()?,
    })
}

macro_rules! bench_case {
    ($c:expr, $name:literal, $frames:expr, $ty:ty, $by_hand:expr, $codec:ty, $msg:expr, $enc:ty) => {{
        let (frame, body) = $frames;
        let mut g = $c.benchmark_group(concat!("jetinno/", $name));
        // As on a connection: the bytes land in the codec's reused receive buffer, then one packet is decoded.
        g.bench_function("framed_typed_decode", |b| {
            let mut codec = <$codec>::default();
            let mut buf = BytesMut::with_capacity(frame.len());
            b.iter(|| {
                buf.extend_from_slice(black_box(&frame));
                let msg = codec.decode(&mut buf).unwrap().unwrap();
                black_box(&msg);
            })
        });
        // Every case hands the decoded value to `black_box` by reference: passed by value, a 96-byte message
        // enum would be copied whole once more (a cost of its size, not of decoding), the bare structs not.
        g.bench_function("baseline_struct_from_slice", |b| {
            b.iter(|| {
                let msg = serde_json::from_slice::<$ty>(black_box(&body)).unwrap();
                black_box(&msg);
            })
        });
        g.bench_function("baseline_value_by_hand", |b| {
            b.iter(|| {
                let v: Value = serde_json::from_slice(black_box(&body)).unwrap();
                let msg = $by_hand(&v).unwrap();
                black_box(&msg);
            })
        });
        let msg = $msg;
        g.bench_function("framed_encode", |b| {
            let mut codec = <$enc>::default();
            let mut buf = BytesMut::with_capacity(frame.len());
            b.iter(|| {
                buf.clear();
                codec.encode(black_box(&msg), &mut buf).unwrap();
                black_box(buf.len())
            })
        });
        g.finish();
    }};
}

fn jetinno(c: &mut Criterion) {
    let hb = MachineHeartbeat { vmc_no: 33232 };
    let login = Login {
        vmc_no: 33232,
        timestamp: 20150624,
        sign: "d3c1e46a62b0b93bfe63b413b226aa72".into(),
        version: "1.2.8.8".into(),
        linux_driver_version: Some("1.3".into()),
    };
    let done = ProductDone {
        vmc_no: 33232,
        product_name: "Hot milk".into(),
        product_id: 701,
        product_amount: 1000,
        pay_type: PayType::QrPay,
        is_ok: true,
        order_no: "bc114ddb5370a97a9012ca695f7ffa25".into(),
    };
    let prices = PriceSet {
        vmc_no: 33232,
        price: (0..100)
            .map(|i| PriceEntry::from((800 + i, 1000 + 10 * i, 1)))
            .collect(),
    };
    bench_case!(
        c,
        "hb",
        frame_of(hb.clone()),
        MachineHeartbeat,
        hb_by_hand,
        ServerCodec,
        MachineMessage::from(hb),
        MachineCodec
    );
    bench_case!(
        c,
        "login",
        frame_of(login.clone()),
        Login,
        login_by_hand,
        ServerCodec,
        MachineMessage::from(login),
        MachineCodec
    );
    bench_case!(
        c,
        "productdone",
        frame_of(done.clone()),
        ProductDone,
        productdone_by_hand,
        ServerCodec,
        MachineMessage::from(done),
        MachineCodec
    );
    bench_case!(
        c,
        "priceset_100",
        server_frame(prices.clone().into()),
        PriceSet,
        priceset_by_hand,
        MachineCodec,
        ServerMessage::from(prices),
        ServerCodec
    );
}

criterion_group!(benches, jetinno);
criterion_main!(benches);
