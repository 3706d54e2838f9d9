//! The JSON rules every devproto JSON protocol shares.
//!
//! - Parse strictly first; only when that fails, retry once with trailing commas outside strings removed (the
//!   vendor documents print examples such as `{"a":1,}`). Encoders always write strict JSON.
//! - A failed parse reports the JSON path of the field that failed ([`JsonError::path`]), found by re-running the
//!   parse with path tracking on the error path only, so the success path pays nothing for it.
//! - Objects tagged by a field (`cmd`, `topic`, `mod`, ...) are dispatched by [`deserialize_tagged`] in one pass
//!   when the tag is the first field, as every vendor writes it, and through a buffered map otherwise.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A JSON document that did not parse into the expected type.
#[derive(Debug)]
pub struct JsonError {
    path: String,
    source: serde_json::Error,
}

impl JsonError {
    /// The JSON path of the value that failed (`price[3][1]`, `data.userInfo.sex`), or `.` for the document.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The underlying `serde_json` error, with line and column.
    #[must_use]
    pub fn json_error(&self) -> &serde_json::Error {
        &self.source
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "." {
            write!(f, "{}", self.source)
        } else {
            write!(f, "at `{}`: {}", self.path, self.source)
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Removes every comma, outside strings, that is followed (after whitespace) by `}` or `]`.
///
/// Returns `None` when there is none, so callers can tell that a retry would change nothing.
#[must_use]
pub fn strip_trailing_commas(input: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in input.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b',' {
            let next = input[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            if matches!(next, Some(b'}' | b']')) {
                // First removal: copy everything before it; later bytes are pushed one by one below.
                out.get_or_insert_with(|| input[..i].to_vec());
                continue;
            }
        }
        if let Some(o) = out.as_mut() {
            o.push(b);
        }
    }
    out
}

/// Parses `input` as `T` under the strict-then-lenient rule, naming the failing field on error.
///
/// # Errors
/// [`JsonError`] when neither the strict nor the repaired document parses; it describes the repaired document
/// when a repair was made, since that is the one that came closest.
pub fn from_slice_lenient<T: DeserializeOwned>(input: &[u8]) -> Result<T, JsonError> {
    match serde_json::from_slice(input) {
        Ok(value) => Ok(value),
        Err(strict) => {
            let repaired = strip_trailing_commas(input);
            if let Some(fixed) = &repaired {
                if let Ok(value) = serde_json::from_slice(fixed) {
                    return Ok(value);
                }
            }
            Err(locate::<T>(repaired.as_deref().unwrap_or(input), strict))
        }
    }
}

/// Re-runs a failed parse with path tracking to find where it failed.
fn locate<T: DeserializeOwned>(input: &[u8], fallback: serde_json::Error) -> JsonError {
    let mut de = serde_json::Deserializer::from_slice(input);
    let outcome = serde_path_to_error::deserialize::<_, T>(&mut de);
    match outcome {
        Err(e) => JsonError {
            path: e.path().to_string(),
            source: e.into_inner(),
        },
        Ok(_) => match de.end() {
            Err(source) => JsonError {
                path: ".".into(),
                source,
            },
            Ok(()) => JsonError {
                path: ".".into(),
                source: fallback,
            },
        },
    }
}

/// The string value of the top-level field `key` of a JSON object, if the input is one (lenient rule applies).
///
/// Meant for error paths: it parses the whole document into a [`Value`].
#[must_use]
pub fn peek_tag(input: &[u8], key: &str) -> Option<String> {
    let value: Value = from_slice_lenient(input).ok()?;
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A message family whose JSON objects are told apart by one string field, the tag.
pub trait TaggedMessage: Sized {
    /// The wire name of the tag field, e.g. `cmd`.
    const TAG: &'static str;

    /// Reads the rest of the object (the tag field already consumed) as the message named `tag`.
    ///
    /// Implementations wrap `body` in [`serde::de::value::MapAccessDeserializer`] for known tags and use
    /// [`collect_unknown`] for the others.
    ///
    /// # Errors
    /// Whatever the body's deserializer reports.
    fn deserialize_body<'de, A: MapAccess<'de>>(tag: &str, body: A) -> Result<Self, A::Error>;
}

/// Deserializes a [`TaggedMessage`] from any self-describing deserializer.
///
/// # Errors
/// The input is not an object, has no string tag, or its body does not fit the tagged message.
pub fn deserialize_tagged<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TaggedMessage,
{
    deserializer.deserialize_map(TaggedVisitor::<T>(PhantomData))
}

/// Collects the rest of an object into a [`Value`] with the tag field put back, for unknown messages.
///
/// A repeated tag field is dropped: the first tag names the message, as it does for known messages.
///
/// # Errors
/// Whatever the body's deserializer reports.
pub fn collect_unknown<'de, A: MapAccess<'de>>(
    tag_key: &str,
    tag: &str,
    mut body: A,
) -> Result<Value, A::Error> {
    let mut fields = Map::new();
    fields.insert(tag_key.to_owned(), Value::String(tag.to_owned()));
    while let Some((key, value)) = body.next_entry::<String, Value>()? {
        if key != tag_key {
            fields.insert(key, value);
        }
    }
    Ok(Value::Object(fields))
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: TaggedMessage> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object with a string `{}` field", T::TAG)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let Some(first) = map.next_key::<Key<'de>>()? else {
            return Err(de::Error::missing_field(T::TAG));
        };
        if first.0 == T::TAG {
            let tag: Key<'de> = map.next_value()?;
            return T::deserialize_body(&tag.0, map);
        }
        // The tag is not first: buffer the object, then dispatch from the buffer.
        let mut fields = Map::new();
        fields.insert(first.0.into_owned(), map.next_value::<Value>()?);
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            // As on the fast path, the first tag names the message; a repeated tag is dropped.
            if key == T::TAG && fields.contains_key(T::TAG) {
                continue;
            }
            fields.insert(key, value);
        }
        let tag = match fields.remove(T::TAG) {
            Some(Value::String(tag)) => tag,
            Some(other) => {
                return Err(de::Error::custom(format_args!(
                    "`{}` must be a string, found {other}",
                    T::TAG
                )))
            }
            None => return Err(de::Error::missing_field(T::TAG)),
        };
        let body = de::value::MapDeserializer::<_, serde_json::Error>::new(fields.into_iter());
        T::deserialize_body(&tag, body).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::MapAccessDeserializer;

    #[test]
    fn strip_removes_only_trailing_commas_outside_strings() {
        assert_eq!(strip_trailing_commas(br#"{"a":1}"#), None);
        assert_eq!(
            strip_trailing_commas(b"{\"a\":[1,2 , ],\n}").unwrap(),
            b"{\"a\":[1,2  ]\n}".to_vec()
        );
        // Commas inside strings, escaped quotes included, are content.
        assert_eq!(strip_trailing_commas(br#"{"a":",}","b":"\",]"}"#), None);
        assert_eq!(
            strip_trailing_commas(br#"{"a":"\\",}"#).unwrap(),
            br#"{"a":"\\"}"#.to_vec()
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Point {
        x: u8,
        y: u8,
    }

    #[test]
    fn lenient_parse_retries_once_and_names_the_field() {
        let p: Point = from_slice_lenient(br#"{"x":1,"y":2,}"#).unwrap();
        assert_eq!(p, Point { x: 1, y: 2 });
        let err = from_slice_lenient::<Point>(br#"{"x":1,"y":300,}"#).unwrap_err();
        assert_eq!(err.path(), "y");
        assert!(
            err.to_string().starts_with("at `y`: invalid value"),
            "{err}"
        );
        let err = from_slice_lenient::<Point>(br#"{"x":1"#).unwrap_err();
        assert!(err.to_string().contains("EOF"), "{err}");
        let err = from_slice_lenient::<Point>(br#"{"x":1,"y":2} x"#).unwrap_err();
        assert!(err.to_string().contains("trailing characters"), "{err}");
    }

    #[derive(Debug, PartialEq)]
    enum Msg {
        Point(Point),
        Unknown(Value),
    }

    impl TaggedMessage for Msg {
        const TAG: &'static str = "cmd";
        fn deserialize_body<'de, A: MapAccess<'de>>(tag: &str, body: A) -> Result<Self, A::Error> {
            match tag {
                "point" => Point::deserialize(MapAccessDeserializer::new(body)).map(Msg::Point),
                other => collect_unknown(Self::TAG, other, body).map(Msg::Unknown),
            }
        }
    }

    impl<'de> Deserialize<'de> for Msg {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_tagged(d)
        }
    }

    #[test]
    fn tagged_dispatch_with_tag_first_or_later() {
        let first: Msg = serde_json::from_str(r#"{"cmd":"point","x":1,"y":2}"#).unwrap();
        let later: Msg = serde_json::from_str(r#"{"x":1,"cmd":"point","y":2}"#).unwrap();
        assert_eq!(first, Msg::Point(Point { x: 1, y: 2 }));
        assert_eq!(later, first);
        let unknown: Msg = serde_json::from_str(r#"{"cmd":"zap","z":[1],"cmd":0}"#).unwrap();
        assert_eq!(
            unknown,
            Msg::Unknown(serde_json::json!({"cmd":"zap","z":[1]})),
            "the first tag wins"
        );
        let unknown: Msg = serde_json::from_str(r#"{"z":[1],"cmd":"zap"}"#).unwrap();
        assert_eq!(
            unknown,
            Msg::Unknown(serde_json::json!({"cmd":"zap","z":[1]}))
        );
        let later_twice: Msg =
            serde_json::from_str(r#"{"z":0,"cmd":"zap","cmd":"point"}"#).unwrap();
        assert_eq!(
            later_twice,
            Msg::Unknown(serde_json::json!({"cmd":"zap","z":0}))
        );
        let escaped: Msg = serde_json::from_str(r#"{"c\u006dd":"point","x":1,"y":2}"#).unwrap();
        assert_eq!(escaped, first);
    }

    #[test]
    fn tagged_dispatch_errors_are_clear() {
        let e = serde_json::from_str::<Msg>(r#"{}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `cmd`"), "{e}");
        let e = serde_json::from_str::<Msg>(r#"{"x":1,"cmd":5}"#).unwrap_err();
        assert!(e.to_string().contains("`cmd` must be a string"), "{e}");
        let e = serde_json::from_str::<Msg>(r#"{"cmd":7}"#).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<Msg>(r#"[1]"#).unwrap_err();
        assert!(e.to_string().contains("string `cmd` field"), "{e}");
        let e = from_slice_lenient::<Msg>(br#"{"cmd":"point","x":1,"y":"2"}"#).unwrap_err();
        assert_eq!(e.path(), "y");
    }

    #[test]
    fn peek_tag_reads_the_tag_of_any_object() {
        assert_eq!(
            peek_tag(br#"{"x":1,"cmd":"a",}"#, "cmd").as_deref(),
            Some("a")
        );
        assert_eq!(peek_tag(br#"{"cmd":3}"#, "cmd").as_deref(), Some("3"));
        assert_eq!(peek_tag(br#"[1]"#, "cmd"), None);
    }

    proptest::proptest! {
        #[test]
        fn strip_never_panics_and_only_removes_commas(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            if let Some(out) = strip_trailing_commas(&input) {
                proptest::prop_assert!(out.len() < input.len());
                let removed = input.iter().filter(|&&b| b == b',').count() - out.iter().filter(|&&b| b == b',').count();
                proptest::prop_assert_eq!(removed, input.len() - out.len());
            }
        }
    }
}
