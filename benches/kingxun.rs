//! kingxun: the sealed link against bare primitives measured in the same run.
//!
//! - `4001_seal_encode`: `Packet::encode` of a 4001 unlock (header + fields + CRC-16 + AES-128-CBC + trailer)
//!   against bare `cbc` encryption of the same 32 padded bytes, with the key expanded per call (`cbc::new`, what
//!   a naive caller does) and pre-expanded (`cbc::inner_iv_init`, the tight baseline).
//! - `4001_decode_open`: `Codec::decode` of the same frame (header checks, length and CRC checks, field
//!   parse), 256 frames back to back in one buffer as a stream read delivers them, against bare `cbc`
//!   decryption of its 32 ciphertext bytes, both ways; `packet_decode_only` is `Packet::decode` of a frame
//!   already split off.
//! - `4020_1MiB_decode`: `decode_frame` + `Packet::decode` of a 4020 carrying 1 MiB, MD5 verification
//!   included, against bare MD5 of the same 1 MiB.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use aes::{Aes128, Aes128Dec, Aes128Enc};
use bytes::{Bytes, BytesMut};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit, KeyIvInit};
use criterion::{black_box, criterion_main, BatchSize, Criterion, Throughput};
use devproto::kingxun::{
    decode_frame, Codec, CodecConfig, Decoder, FileDeliver, FileType, LinkCipher, Packet, Unlock,
};
use md5::{Digest, Md5};

const KEY: [u8; 16] = [0x11; 16];
const IV: [u8; 16] = [0x22; 16];

/// Frames per decode batch.
const FRAMES: usize = 256;

fn unlock() -> Packet {
    Packet::request(
        7,
        Unlock {
            dev_id: 1001,
            dev_type: 1,
            timestamp: 1_700_000_000_000,
            usr_id: 42,
            allow_time: 30,
            lowest_soc_p: 20,
            farthest_dist: 5000,
        },
    )
}

fn unlock_4001(c: &mut Criterion) {
    let cipher = LinkCipher::new(KEY, IV);
    let config = CodecConfig::default();
    let packet = unlock();
    let mut wire = BytesMut::new();
    packet.encode(Some(&cipher), &config, &mut wire).unwrap();
    let wire = wire.freeze();
    // The same 24 plaintext bytes, zero-padded to 32.
    let mut padded = [0u8; 32];
    padded[..24].copy_from_slice(&cipher.open(&wire[19..]).unwrap());
    let ciphertext: [u8; 32] = wire[19..51].try_into().unwrap();
    let enc = Aes128Enc::new(&KEY.into());
    let dec = Aes128Dec::new(&KEY.into());

    let mut g = c.benchmark_group("kingxun/4001_seal_encode");
    g.bench_function("packet_encode", |b| {
        let mut out = BytesMut::with_capacity(64);
        b.iter(|| {
            out.clear();
            black_box(&packet)
                .encode(Some(&cipher), &config, &mut out)
                .unwrap();
            black_box(&out);
        });
    });
    g.bench_function("baseline_cbc_new", |b| {
        b.iter(|| {
            let mut buf = black_box(padded);
            cbc::Encryptor::<Aes128>::new(&KEY.into(), &IV.into())
                .encrypt_padded_mut::<NoPadding>(&mut buf, 32)
                .unwrap();
            black_box(buf);
        });
    });
    g.bench_function("baseline_cbc_preexpanded", |b| {
        b.iter(|| {
            let mut buf = black_box(padded);
            cbc::Encryptor::<&Aes128Enc>::inner_iv_init(&enc, &IV.into())
                .encrypt_padded_mut::<NoPadding>(&mut buf, 32)
                .unwrap();
            black_box(buf);
        });
    });
    g.finish();

    // A stream buffer holding FRAMES frames back to back, as a TCP read would; times are per frame.
    let mut stream = BytesMut::new();
    for _ in 0..FRAMES {
        stream.extend_from_slice(&wire);
    }
    let frame = decode_frame(&config, &mut BytesMut::from(&wire[..]))
        .unwrap()
        .unwrap();
    let mut g = c.benchmark_group("kingxun/4001_decode_open");
    g.throughput(Throughput::Elements(FRAMES as u64));
    g.bench_function("codec_decode", |b| {
        b.iter_batched(
            || {
                let codec = Codec::new(config).with_cipher(cipher.clone());
                (codec, stream.clone())
            },
            |(mut codec, mut src)| {
                while let Some(packet) = codec.decode(&mut src).unwrap() {
                    black_box(packet);
                }
                src
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("packet_decode_only", |b| {
        b.iter(|| {
            for _ in 0..FRAMES {
                black_box(Packet::decode(black_box(&frame), Some(&cipher)).unwrap());
            }
        });
    });
    g.bench_function("baseline_cbc_new", |b| {
        b.iter(|| {
            for _ in 0..FRAMES {
                let mut out = [0u8; 32];
                cbc::Decryptor::<Aes128>::new(&KEY.into(), &IV.into())
                    .decrypt_padded_b2b_mut::<NoPadding>(black_box(&ciphertext), &mut out)
                    .unwrap();
                black_box(out);
            }
        });
    });
    g.bench_function("baseline_cbc_preexpanded", |b| {
        b.iter(|| {
            for _ in 0..FRAMES {
                let mut out = [0u8; 32];
                cbc::Decryptor::<&Aes128Dec>::inner_iv_init(&dec, &IV.into())
                    .decrypt_padded_b2b_mut::<NoPadding>(black_box(&ciphertext), &mut out)
                    .unwrap();
                black_box(out);
            }
        });
    });
    g.finish();
}

fn file_4020(c: &mut Criterion) {
    let config = CodecConfig::default();
    let data: Bytes = (0..1u32 << 20)
        .map(|i| i.wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    let packet = Packet::request(
        1,
        FileDeliver::new(
            1001,
            1,
            1_700_000_000_000,
            7,
            FileType::System,
            "maincontrol",
            data.clone(),
        ),
    );
    let mut wire = BytesMut::new();
    packet.encode(None, &config, &mut wire).unwrap();

    let mut g = c.benchmark_group("kingxun/4020_1MiB_decode");
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("frame_and_packet_decode_with_md5", |b| {
        b.iter_batched(
            || wire.clone(),
            |mut src| {
                let frame = decode_frame(&config, &mut src).unwrap().unwrap();
                black_box(Packet::decode(&frame, None).unwrap())
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("baseline_md5", |b| {
        b.iter(|| black_box(Md5::digest(black_box(&data[..]))));
    });
    g.finish();
}

/// The group lives in a private module: `criterion_group!` declares an undocumented `pub fn`.
mod group {
    criterion::criterion_group!(benches, super::unlock_4001, super::file_4020);
}

criterion_main!(group::benches);
