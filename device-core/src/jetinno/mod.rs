//! Jetinno sessions: the coffee machine (TCP client) and the operator server (one session per connection).
//!
//! Liveness per DECISIONS.md: the machine sends `hb` every 20 s, the server answers each one, and either side
//! declares the link dead after 120 s without a frame from its peer; the machine then reconnects with backoff
//! and logs in again.

mod machine;
mod server;

pub use machine::{MachineCommand, MachineConfig, MachineEvent, MachineSession};
pub use server::{
    LoginFailure, MachineRegistry, ServerCommand, ServerConfig, ServerEvent, ServerSession,
    LOGIN_BAD_SIGN, LOGIN_UNKNOWN_MACHINE,
};

use std::time::Duration;

/// Machine heartbeat interval (jetinno.md 3.1: every 20 s).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);

/// Silence after which either side declares the link dead (jetinno.md 3.1: 2 minutes).
pub const PEER_TIMEOUT: Duration = Duration::from_secs(120);

use bytes::BytesMut;
use jetinno_proto::{Codec, CodecConfig, Decoder, Encoder, WireMessage};

/// One step of reading the receive buffer.
enum Step<M> {
    /// A whole message.
    Message(M),
    /// A whole packet whose body did not decode; the stream goes on.
    Malformed(String),
    /// The framing broke; the connection must close.
    Fatal(String),
    /// More bytes are needed.
    NeedMore,
}

/// Takes the next packet off `rx` and decodes it as `M`.
fn next_message<M: WireMessage>(config: &CodecConfig, rx: &mut BytesMut) -> Step<M> {
    match Codec::<M, M>::new(*config).decode(rx) {
        Ok(Some(m)) => Step::Message(m),
        Ok(None) => Step::NeedMore,
        // A framing error leaves `rx` as it was; a body error consumed its packet.
        Err(e) if e.is_fatal() => Step::Fatal(e.to_string()),
        Err(e) => Step::Malformed(e.to_string()),
    }
}

/// Encodes one message as a whole packet.
fn encode_packet<M: WireMessage>(
    config: &CodecConfig,
    msg: &M,
) -> Result<bytes::Bytes, crate::SendError> {
    let mut buf = BytesMut::new();
    Codec::<M, M>::new(*config)
        .encode(msg, &mut buf)
        .map_err(|e| crate::SendError::Encode(e.to_string()))?;
    Ok(buf.freeze())
}

/// A jetinno packet is about 200 bytes (a login, a status report); transports size their buffers from this.
pub const TYPICAL_PACKET_LEN: usize = 512;

/// jetinno's transport facts: a TCP byte stream of packets up to the codec's maximum (DECISIONS.md, jetinno).
pub(crate) fn wire(codec: &CodecConfig) -> crate::Wire {
    crate::Wire::stream(codec.max_packet_len, TYPICAL_PACKET_LEN)
}
