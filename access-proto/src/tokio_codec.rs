//! tokio-util `Decoder`/`Encoder` for [`Codec`] and [`JsonSplitter`], behind the `tokio-util` feature.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::codec::{Codec, JsonSplitter};
use crate::error::{DecodeError, EncodeError};
use crate::message::Message;

/// What a framed access stream can fail with.
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

impl Decoder for Codec {
    type Item = Message;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FramedError> {
        Codec::decode(self, src).map_err(FramedError::from)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FramedError> {
        Codec::decode_eof(self, src).map_err(FramedError::from)
    }
}

impl Encoder<Message> for Codec {
    type Error = FramedError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), FramedError> {
        Codec::encode(self, &msg, dst).map_err(FramedError::from)
    }
}

impl Encoder<&Message> for Codec {
    type Error = FramedError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), FramedError> {
        Codec::encode(self, msg, dst).map_err(FramedError::from)
    }
}

/// Frames only: each item is one JSON object's bytes, for callers that parse messages themselves (and so keep
/// a connection open after a message that does not decode).
impl Decoder for JsonSplitter {
    type Item = Bytes;
    type Error = FramedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FramedError> {
        JsonSplitter::decode(self, src).map_err(FramedError::from)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FramedError> {
        JsonSplitter::decode_eof(self, src).map_err(FramedError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Request, RequestBody};

    #[test]
    fn framed_traits_delegate_to_the_codec() {
        let mut codec = Codec::default();
        let request = Request::new("s-1", RequestBody::GetDeviceInfo);
        let response: Message = request.reply(Code::Success, "").into();
        let mut wire = BytesMut::new();
        Encoder::encode(&mut codec, &Message::from(request.clone()), &mut wire).unwrap();
        Encoder::encode(&mut codec, response.clone(), &mut wire).unwrap();
        wire.extend_from_slice(b"{\"mod\"");
        assert_eq!(
            Decoder::decode(&mut codec, &mut wire).unwrap(),
            Some(request.into())
        );
        assert_eq!(
            Decoder::decode(&mut codec, &mut wire).unwrap(),
            Some(response)
        );
        assert_eq!(Decoder::decode(&mut codec, &mut wire).unwrap(), None);
        let err = Decoder::decode_eof(&mut codec, &mut wire).unwrap_err();
        assert!(
            matches!(err, FramedError::Decode(DecodeError::Truncated { len: 6 })),
            "{err}"
        );

        let mut splitter = JsonSplitter::default();
        let mut wire = BytesMut::from(&b" {}x"[..]);
        assert_eq!(
            &Decoder::decode(&mut splitter, &mut wire).unwrap().unwrap()[..],
            b"{}"
        );
        let err = Decoder::decode(&mut splitter, &mut wire).unwrap_err();
        assert!(
            matches!(
                err,
                FramedError::Decode(DecodeError::Garbage {
                    byte: b'x',
                    offset: 3
                })
            ),
            "{err}"
        );
    }
}
