//! Byte-level helpers: a bounds-checked reader, fixed-size NUL-padded strings, and the fixed-body trait.

use bytes::BufMut;

use super::MsgId;
use crate::error::{DecodeError, EncodeError};

/// Reads big-endian fields off a byte slice whose length was already checked; never panics.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    msg_id: MsgId,
    part: &'static str,
    expected: usize,
    found: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(bytes: &'a [u8], msg_id: MsgId, part: &'static str, expected: usize) -> Self {
        Self {
            rest: bytes,
            msg_id,
            part,
            expected,
            found: bytes.len(),
        }
    }

    fn short(&self) -> DecodeError {
        DecodeError::BodyLength {
            msg_id: self.msg_id,
            part: self.part,
            expected: self.expected,
            found: self.found,
        }
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or_else(|| self.short())?;
        self.rest = rest;
        Ok(*head)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array::<1>().map(|[b]| b)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    /// A `N`-byte UTF-8 string right-padded with NUL.
    pub(crate) fn fixed_str<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<String, DecodeError> {
        let bytes = self.array::<N>()?;
        decode_fixed_str(field, &bytes)
    }
}

/// Decodes a NUL-padded string: the bytes before the first NUL, which must be UTF-8, and only NULs after it.
pub(crate) fn decode_fixed_str(field: &'static str, bytes: &[u8]) -> Result<String, DecodeError> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (text, padding) = bytes.split_at(end);
    if padding.iter().any(|&b| b != 0) {
        return Err(DecodeError::FieldPadding {
            field,
            bytes: bytes.to_vec(),
        });
    }
    match std::str::from_utf8(text) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(DecodeError::FieldNotUtf8 {
            field,
            bytes: text.to_vec(),
        }),
    }
}

/// Checks that `value` fits a `max`-byte NUL-padded field and has no NUL of its own.
pub(crate) fn check_fixed_str(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), EncodeError> {
    if value.len() > max {
        return Err(EncodeError::FieldTooLong {
            field,
            len: value.len(),
            max,
        });
    }
    if value.as_bytes().contains(&0) {
        return Err(EncodeError::FieldHasNul { field });
    }
    Ok(())
}

/// Writes `value` right-padded with NUL to `N` bytes; [`check_fixed_str`] must have passed.
pub(crate) fn put_fixed_str<const N: usize>(dst: &mut impl BufMut, value: &str) {
    let bytes = value.as_bytes();
    let len = bytes.len().min(N);
    dst.put_slice(&bytes[..len]);
    dst.put_bytes(0, N - len);
}

/// A body (or sealed part) of fixed length.
pub(crate) trait FixedBody: Sized {
    /// Its length in bytes.
    const LEN: usize;
    /// Checks what the type system cannot (string fields).
    fn check(&self) -> Result<(), EncodeError> {
        Ok(())
    }
    /// Appends the fields in wire order; [`FixedBody::check`] must have passed.
    fn put<B: BufMut>(&self, dst: &mut B);
    /// Reads the fields in wire order.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Size of the stack buffer fixed bodies are written into (the largest, 9001/9002, is 40 bytes).
pub(crate) const STACK_BODY_LEN: usize = 48;

/// Writes `body` into a stack buffer and hands the bytes to `f`: one copy into the output instead of one
/// bounds-checked append per field.
pub(crate) fn with_bytes<T: FixedBody, R>(body: &T, f: impl FnOnce(&[u8]) -> R) -> R {
    if T::LEN <= STACK_BODY_LEN {
        let mut buf = [0u8; STACK_BODY_LEN];
        let mut tail = &mut buf[..T::LEN];
        body.put(&mut tail);
        f(&buf[..T::LEN])
    } else {
        let mut buf = Vec::with_capacity(T::LEN);
        body.put(&mut buf);
        f(&buf)
    }
}

/// Decodes `bytes` as exactly one `T`, naming the MsgId and part when the length is wrong.
#[inline]
pub(crate) fn read_exact<T: FixedBody>(
    msg_id: MsgId,
    part: &'static str,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    if bytes.len() != T::LEN {
        return Err(DecodeError::BodyLength {
            msg_id,
            part,
            expected: T::LEN,
            found: bytes.len(),
        });
    }
    T::read(&mut Reader::new(bytes, msg_id, part, T::LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_strings_strip_padding_and_refuse_garbage() {
        let mut field = [0u8; 32];
        field[..12].copy_from_slice(b"kingxun.site");
        assert_eq!(decode_fixed_str("svrHost", &field).unwrap(), "kingxun.site");
        assert_eq!(decode_fixed_str("svrHost", &[0; 32]).unwrap(), "");
        assert_eq!(
            decode_fixed_str("svrHost", &[b'a'; 32]).unwrap(),
            "a".repeat(32)
        );
        field[20] = b'x';
        let e = decode_fixed_str("svrHost", &field).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::FieldPadding {
                    field: "svrHost",
                    ..
                }
            ),
            "{e}"
        );
        let e = decode_fixed_str("FileName", &[0xff, 0xfe, 0]).unwrap_err();
        assert_eq!(e.to_string(), "field `FileName` is not UTF-8: [ff, fe]");
    }

    #[test]
    fn fixed_strings_refuse_overlong_or_nul_on_encode() {
        assert!(check_fixed_str("FileName", &"é".repeat(16), 32).is_ok()); // 32 bytes
        let e = check_fixed_str("FileName", &"é".repeat(17), 32).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field `FileName` is 34 bytes long, the maximum is 32"
        );
        let e = check_fixed_str("svrHost", "a\0b", 32).unwrap_err();
        assert!(matches!(e, EncodeError::FieldHasNul { field: "svrHost" }));
        let mut out = bytes::BytesMut::new();
        put_fixed_str::<8>(&mut out, "bms");
        assert_eq!(&out[..], b"bms\0\0\0\0\0");
    }
}
