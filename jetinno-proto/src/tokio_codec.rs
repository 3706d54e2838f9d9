//! tokio-util `Decoder`/`Encoder` for [`Codec`], behind the `tokio-util` feature.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::Codec;
use crate::error::{DecodeError, EncodeError};
use crate::message::WireMessage;

/// What a framed jetinno stream can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramedError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Incoming bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An outgoing message did not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl<In: WireMessage, Out: WireMessage> Decoder for Codec<In, Out> {
    type Item = In;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FramedError> {
        Codec::decode(self, src).map_err(FramedError::from)
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<Out> for Codec<In, Out> {
    type Error = FramedError;

    fn encode(&mut self, msg: Out, dst: &mut BytesMut) -> Result<(), FramedError> {
        Codec::encode(self, &msg, dst).map_err(FramedError::from)
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<&Out> for Codec<In, Out> {
    type Error = FramedError;

    fn encode(&mut self, msg: &Out, dst: &mut BytesMut) -> Result<(), FramedError> {
        Codec::encode(self, msg, dst).map_err(FramedError::from)
    }
}
