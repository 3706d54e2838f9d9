//! Serde helpers: byte strings as lowercase hex in the JSON form.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// `[u8; N]` as lowercase hex.
pub(crate) mod array {
    use super::*;

    pub(crate) fn serialize<S: Serializer, const N: usize>(
        value: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        let mut out = [0u8; N];
        hex::decode_to_slice(text.as_bytes(), &mut out).map_err(|e| {
            D::Error::custom(format_args!(
                "expected {N} bytes as {} hex digits: {e}",
                2 * N
            ))
        })?;
        Ok(out)
    }
}

/// `bytes::Bytes` (or any byte string, when serializing) as lowercase hex.
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer, T: AsRef<[u8]>>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(value.as_ref()))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<::bytes::Bytes, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        hex::decode(text.as_bytes())
            .map(::bytes::Bytes::from)
            .map_err(|e| D::Error::custom(format_args!("expected hex digits: {e}")))
    }
}
