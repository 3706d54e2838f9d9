//! `download_person`: a person with face images and feature codes, and the base64 blobs that carry them.

use std::fmt;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde::ser::SerializeStruct;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// `role` of a person. The spec gives no list of values (its examples use 12), so the number is kept as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Role(pub i64);

/// `format` of an image. The spec gives no list of values (its examples use 2), so the number is kept as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageFormat(pub i64);

/// A picture: `face`, `left_image`, `right_image`.
///
/// On the wire `{"width","height","format","length","data"}`: `data` is standard base64 with padding and
/// `length` its decoded byte count; a decoder refuses a `length` that disagrees, an encoder writes
/// `data.len()`, so the two cannot disagree on what this crate sends.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Image {
    /// `width` in pixels.
    pub width: u32,
    /// `height` in pixels.
    pub height: u32,
    /// `format` of the encoded picture.
    pub format: ImageFormat,
    /// The picture's bytes (`data` decoded).
    pub data: Bytes,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// A feature code: `left_code`, `right_code`, opaque bytes whose algorithm the spec does not name.
///
/// On the wire `{"length","data"}` under the same rules as [`Image`].
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct FeatureCode {
    /// The code's bytes (`data` decoded).
    pub data: Bytes,
}

impl fmt::Debug for FeatureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeatureCode(<{} bytes>)", self.data.len())
    }
}

/// The person sent by `download_person`, the `person_info` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonInfo {
    /// `person_id` - the person's key in the management system.
    pub person_id: String,
    /// `person_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_name: Option<String>,
    /// `id_number` - identity document number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// `card_number` - access card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    /// `key_number` - key (PIN) number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_number: Option<String>,
    /// `department_number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_number: Option<String>,
    /// `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `face` - the face picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<Image>,
    /// `left_image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_image: Option<Image>,
    /// `left_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_code: Option<FeatureCode>,
    /// `right_image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_image: Option<Image>,
    /// `right_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_code: Option<FeatureCode>,
}

/// `download_person` request: add or update a person on the terminal (server -> terminal).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadPerson {
    /// `person_info`.
    pub person_info: PersonInfo,
}

impl Serialize for Image {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Image", 5)?;
        s.serialize_field("width", &self.width)?;
        s.serialize_field("height", &self.height)?;
        s.serialize_field("format", &self.format)?;
        s.serialize_field("length", &self.data.len())?;
        s.serialize_field("data", &Base64Field(&self.data))?;
        s.end()
    }
}

impl Serialize for FeatureCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("FeatureCode", 2)?;
        s.serialize_field("length", &self.data.len())?;
        s.serialize_field("data", &Base64Field(&self.data))?;
        s.end()
    }
}

/// Writes bytes as standard base64 without building the string first.
struct Base64Field<'a>(&'a [u8]);

impl Serialize for Base64Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// The `data` field: standard base64 with padding, decoded while parsing.
struct Base64Data(Bytes);

impl<'de> Deserialize<'de> for Base64Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Base64Data;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a standard base64 string with padding")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Base64Data, E> {
                STANDARD
                    .decode(v)
                    .map(|data| Base64Data(Bytes::from(data)))
                    .map_err(|e| E::custom(format_args!("not standard base64: {e}")))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Checks the declared `length` against the decoded `data`.
fn checked<E: de::Error>(length: u64, data: Base64Data) -> Result<Bytes, E> {
    let decoded = data.0;
    if u64::try_from(decoded.len()).ok() != Some(length) {
        return Err(E::custom(format_args!(
            "`length` is {length} but `data` decodes to {} bytes",
            decoded.len()
        )));
    }
    Ok(decoded)
}

#[derive(Deserialize)]
struct ImageWire {
    width: u32,
    height: u32,
    format: ImageFormat,
    length: u64,
    data: Base64Data,
}

#[derive(Deserialize)]
struct FeatureCodeWire {
    length: u64,
    data: Base64Data,
}

impl<'de> Deserialize<'de> for Image {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ImageWire::deserialize(deserializer)?;
        Ok(Self {
            width: wire.width,
            height: wire.height,
            format: wire.format,
            data: checked(wire.length, wire.data)?,
        })
    }
}

impl<'de> Deserialize<'de> for FeatureCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = FeatureCodeWire::deserialize(deserializer)?;
        Ok(Self {
            data: checked(wire.length, wire.data)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_write_their_own_length() {
        let image = Image {
            width: 520,
            height: 690,
            format: ImageFormat(2),
            data: Bytes::from_static(b"\x00\xffjpeg"),
        };
        let json = serde_json::to_string(&image).unwrap();
        assert_eq!(
            json,
            r#"{"width":520,"height":690,"format":2,"length":6,"data":"AP9qcGVn"}"#
        );
        assert_eq!(serde_json::from_str::<Image>(&json).unwrap(), image);
        let code = FeatureCode {
            data: Bytes::from_static(b"ab"),
        };
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            r#"{"length":2,"data":"YWI="}"#
        );
        let empty = FeatureCode::default();
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"length":0,"data":""}"#
        );
        assert_eq!(
            serde_json::from_str::<FeatureCode>(r#"{"data":"","length":0}"#).unwrap(),
            empty
        );
    }

    #[test]
    fn blob_debug_shows_lengths_not_bytes() {
        let code = FeatureCode {
            data: Bytes::from_static(b"secret"),
        };
        assert_eq!(format!("{code:?}"), "FeatureCode(<6 bytes>)");
        let image = Image {
            width: 1,
            height: 2,
            format: ImageFormat(2),
            data: Bytes::from_static(b"secret"),
        };
        let debug = format!("{image:?}");
        assert!(
            debug.contains("<6 bytes>") && !debug.contains("secret"),
            "{debug}"
        );
    }

    #[test]
    fn blob_errors_name_the_field_and_the_numbers() {
        let e = serde_json::from_str::<FeatureCode>(r#"{"length":3,"data":"YWI="}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`length` is 3 but `data` decodes to 2 bytes"),
            "{e}"
        );
        let e = serde_json::from_str::<FeatureCode>(r#"{"length":16,"data":"BASE64 code data"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("not standard base64"), "{e}");
        // Padding is required and must be canonical.
        assert!(serde_json::from_str::<FeatureCode>(r#"{"length":2,"data":"YWI"}"#).is_err());
        assert!(serde_json::from_str::<FeatureCode>(r#"{"length":2,"data":"YWJ="}"#).is_err());
        // URL-safe alphabet is not standard base64.
        assert!(serde_json::from_str::<FeatureCode>(r#"{"length":1,"data":"-w=="}"#).is_err());
        let e = serde_json::from_str::<Image>(
            r#"{"width":-1,"height":1,"format":2,"length":0,"data":""}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid value: integer `-1`"), "{e}");
        let e = serde_json::from_str::<Image>(r#"{"width":1,"height":1,"length":0,"data":""}"#)
            .unwrap_err();
        assert!(e.to_string().contains("missing field `format`"), "{e}");
    }

    #[test]
    fn escaped_slashes_in_base64_are_accepted() {
        // Some JSON writers escape `/` as `\/`; the string still decodes.
        let code: FeatureCode = serde_json::from_str(r#"{"length":3,"data":"\/\/\/\/"}"#).unwrap();
        assert_eq!(&code.data[..], &[0xff, 0xff, 0xff]);
    }
}
