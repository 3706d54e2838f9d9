//! tokio-util `Decoder`/`Encoder` for [`Codec`] and [`FrameCodec`], behind the `tokio-util` feature.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{Codec, Frame, FrameCodec};
use crate::error::{DecodeError, EncodeError};
use crate::message::Packet;

/// What a framed kingxun stream can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramedError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Incoming bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An outgoing packet did not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl Decoder for Codec {
    type Item = Packet;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, FramedError> {
        Codec::decode(self, src).map_err(FramedError::from)
    }
}

impl Encoder<Packet> for Codec {
    type Error = FramedError;

    fn encode(&mut self, packet: Packet, dst: &mut BytesMut) -> Result<(), FramedError> {
        Codec::encode(self, &packet, dst).map_err(FramedError::from)
    }
}

impl Encoder<&Packet> for Codec {
    type Error = FramedError;

    fn encode(&mut self, packet: &Packet, dst: &mut BytesMut) -> Result<(), FramedError> {
        Codec::encode(self, packet, dst).map_err(FramedError::from)
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FramedError> {
        FrameCodec::decode(self, src).map_err(FramedError::from)
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = FramedError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FramedError> {
        FrameCodec::encode(self, frame, dst).map_err(FramedError::from)
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = FramedError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FramedError> {
        FrameCodec::encode(self, &frame, dst).map_err(FramedError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CodecConfig, Heartbeat, LinkCipher};

    #[test]
    fn codecs_work_through_the_tokio_util_traits() {
        let cipher = LinkCipher::new([1; 16], [2; 16]);
        let mut codec = Codec::new(CodecConfig::default()).with_cipher(cipher);
        let packet = Packet::request(5, Heartbeat::new(9));
        let mut wire = BytesMut::new();
        Encoder::encode(&mut codec, &packet, &mut wire).unwrap();
        Encoder::encode(&mut codec, packet.clone(), &mut wire).unwrap();
        let mut frames = FrameCodec::default();
        let mut copy = wire.clone();
        let frame = Decoder::decode(&mut frames, &mut copy).unwrap().unwrap();
        assert_eq!(frame.header, packet.header());
        assert_eq!(
            Decoder::decode(&mut codec, &mut wire).unwrap(),
            Some(packet.clone())
        );
        assert_eq!(
            Decoder::decode(&mut codec, &mut wire).unwrap(),
            Some(packet)
        );
        assert_eq!(Decoder::decode(&mut codec, &mut wire).unwrap(), None);
        let mut garbage = BytesMut::from(&b"HTTP/1.1 200"[..]);
        let e = Decoder::decode(&mut codec, &mut garbage).unwrap_err();
        assert!(
            matches!(e, FramedError::Decode(DecodeError::BadMagic { .. })),
            "{e}"
        );
        let mut out = BytesMut::new();
        Encoder::encode(&mut frames, &frame, &mut out).unwrap();
        Encoder::encode(&mut frames, frame, &mut out).unwrap();
        assert_eq!(out.len(), 2 * 59);
    }
}
