//! Declarative helpers the protocol crates share.

/// Declares a wire string enum with a catch-all `Other(String)` that keeps unknown values as sent.
///
/// The enum gets `KNOWN` (every known wire string, in declaration order), `as_str`, `From<&str>`, `Display`,
/// and `Serialize`/`Deserialize` as a JSON string. Decoding never yields `Other` for a known string, so every
/// value has one representation. Options, written before the enum:
///
/// - `lenient_whitespace;` known values are matched after trimming ASCII whitespace (some vendor documents
///   print `" wx_pub "`); they are written back without it, `Other` keeps the value exactly as sent.
/// - `without_serde;` no `Serialize`/`Deserialize`, for crates that (de)serialize through their own trait.
///
/// ```
/// proto_common::string_enum! {
///     /// How a cup is paid for.
///     PayKind {
///         /// `cash` - coins or notes.
///         Cash = "cash",
///         /// `card` - a bank card.
///         Card = "card",
///     }
/// }
///
/// assert_eq!(PayKind::from("card"), PayKind::Card);
/// assert_eq!(PayKind::from("qr"), PayKind::Other("qr".into()));
/// assert_eq!(PayKind::KNOWN, &["cash", "card"]);
/// assert_eq!(serde_json::to_string(&PayKind::Cash).unwrap(), r#""cash""#);
/// assert_eq!(serde_json::from_str::<PayKind>(r#""qr""#).unwrap().as_str(), "qr");
/// ```
#[macro_export]
macro_rules! string_enum {
    (lenient_whitespace; $($rest:tt)*) => {
        $crate::string_enum!(@declare trim, serde; $($rest)*);
    };
    (without_serde; $($rest:tt)*) => {
        $crate::string_enum!(@declare exact, none; $($rest)*);
    };
    (@key exact, $s:ident) => { $s };
    (@key trim, $s:ident) => { $s.trim_matches(|c: char| c.is_ascii_whitespace()) };
    (@serde none, $name:ident) => {};
    (@serde serde, $name:ident) => {
        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> $crate::__private::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " string"))
                    }
                    fn visit_str<E: $crate::__private::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
    (@declare $key:ident, $serde:ident;
        $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this crate does not know, kept exactly as sent.
            Other(String),
        }

        impl $name {
            /// Every known wire string, in spec order.
            pub const KNOWN: &'static [&'static str] = &[$($wire,)*];

            /// The wire string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match $crate::string_enum!(@key $key, s) {
                    $($wire => Self::$variant,)*
                    _ => Self::Other(s.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::string_enum!(@serde $serde, $name);
    };
    ($($rest:tt)*) => {
        $crate::string_enum!(@declare exact, serde; $($rest)*);
    };
}

/// Declares one direction's message enum of a JSON protocol whose objects are told apart by a tag field
/// (`cmd`, `topic`, ...), with what every such enum needs: the variants and `Unknown`, `KNOWN`, `knows`, the
/// tag accessor, `is_known`, `Serialize` (tag first), `Deserialize` and [`TaggedMessage`] (one-pass dispatch
/// on the tag).
///
/// The crate supplies, before the enum:
/// - `tag: TAG` - the `&str` constant naming the tag field;
/// - `accessor: name` - the method returning a message's tag;
/// - `field: cmd` - the tag's field, in the unknown type and in `with_tag`;
/// - `unknown: UnknownMessage` - the type of `Unknown`, with that field and `raw`;
/// - `collect_unknown: f` - `fn(tag: &str, body: impl MapAccess) -> Result<UnknownMessage, _>`, which reads the
///   rest of an unknown object (see [`json::collect_unknown`]);
/// - `with_tag: WithTag` - a `Serialize` struct with the tag field and a flattened `body`, through which known
///   messages are written tag first;
/// - optionally `body: Wrapper` - a `MapAccess` wrapper the rest of every object, known or not, is read
///   through (to refuse a second tag, say).
///
/// Crate-specific parts (the wire codec trait, fast paths, extra accessors) go in impls of their own.
///
/// [`TaggedMessage`]: crate::json::TaggedMessage
/// [`json::collect_unknown`]: crate::json::collect_unknown
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// const TAG: &str = "cmd";
///
/// #[derive(Debug, Clone, PartialEq)]
/// pub struct UnknownMessage { pub cmd: String, pub raw: serde_json::Value }
///
/// fn collect_unknown<'de, A: serde::de::MapAccess<'de>>(cmd: &str, body: A) -> Result<UnknownMessage, A::Error> {
///     let raw = proto_common::json::collect_unknown(TAG, cmd, body)?;
///     Ok(UnknownMessage { cmd: cmd.to_owned(), raw })
/// }
///
/// #[derive(Serialize)]
/// struct WithCmd<'a, T> { cmd: &'a str, #[serde(flatten)] body: &'a T }
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// pub struct Ping { pub n: u32 }
///
/// proto_common::message_enum! {
///     tag: TAG, accessor: name, field: cmd, unknown: UnknownMessage, collect_unknown: collect_unknown,
///     with_tag: WithCmd;
///     /// A message.
///     Msg {
///         /// `ping` - are you there.
///         Ping(Ping) = "ping",
///     }
/// }
///
/// let m: Msg = serde_json::from_str(r#"{"cmd":"ping","n":7}"#).unwrap();
/// assert_eq!(m, Msg::Ping(Ping { n: 7 }));
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"cmd":"ping","n":7}"#);
/// let u: Msg = serde_json::from_str(r#"{"n":1,"cmd":"pong"}"#).unwrap();
/// assert_eq!((u.name(), u.is_known(), Msg::knows("pong")), ("pong", false, false));
/// ```
#[macro_export]
macro_rules! message_enum {
    (
        tag: $tag:path, accessor: $accessor:ident, field: $field:ident, unknown: $unknown:ident,
        collect_unknown: $collect:path, with_tag: $with:ident $(, body: $wrap:path)?;
        $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident($ty:ty) = $wire:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant($ty),)*
            /// A message whose tag this crate does not know for this direction, kept raw.
            Unknown($unknown),
        }

        impl $name {
            /// Every tag this enum knows, in spec order.
            pub const KNOWN: &'static [&'static str] = &[$($wire,)*];

            /// Whether `tag` is one of [`Self::KNOWN`].
            #[must_use]
            pub fn knows(tag: &str) -> bool {
                matches!(tag, $($wire)|*)
            }

            /// The wire tag of this message.
            #[must_use]
            pub fn $accessor(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $wire,)*
                    Self::Unknown(u) => &u.$field,
                }
            }

            /// Whether this is a message the crate knows (not [`Self::Unknown`]).
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(m) => $crate::__private::serde::Serialize::serialize(
                        &$with { $field: $wire, body: m },
                        s,
                    ),)*
                    Self::Unknown(u) => $crate::__private::serde::Serialize::serialize(&u.raw, s),
                }
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::json::deserialize_tagged(d)
            }
        }

        impl $crate::json::TaggedMessage for $name {
            const TAG: &'static str = $tag;

            fn deserialize_body<'de, A: $crate::__private::serde::de::MapAccess<'de>>(
                tag: &str,
                body: A,
            ) -> Result<Self, A::Error> {
                $(let body = $wrap(body);)?
                match tag {
                    $($wire => {
                        let de = $crate::__private::serde::de::value::MapAccessDeserializer::new(body);
                        <$ty as $crate::__private::serde::Deserialize>::deserialize(de).map(Self::$variant)
                    })*
                    other => $collect(other, body).map(Self::Unknown),
                }
            }
        }
    };
}

#[cfg(test)]
// The macro declares `pub` enums, as every crate uses it; here they stay inside the test module.
#[allow(unreachable_pub)]
mod tests {
    crate::string_enum! {
        lenient_whitespace;
        /// Test enum.
        Padded {
            /// `a`.
            A = "a",
        }
    }

    crate::string_enum! {
        without_serde;
        /// Test enum.
        Bare {
            /// `b`.
            B = "b",
        }
    }

    crate::string_enum! {
        /// Test enum.
        Exact {
            /// `c`.
            C = "c",
        }
    }

    #[test]
    fn whitespace_is_trimmed_only_when_asked() {
        assert_eq!(Padded::from(" a\t"), Padded::A);
        assert_eq!(Padded::A.to_string(), "a");
        assert_eq!(Padded::from(" x "), Padded::Other(" x ".into()));
        assert_eq!(Exact::from(" c"), Exact::Other(" c".into()));
        assert_eq!(Exact::from("c"), Exact::C);
        assert_eq!(Bare::from("b").as_str(), "b");
        assert_eq!(Bare::KNOWN, ["b"]);
        assert_eq!((Padded::KNOWN, Exact::KNOWN), (&["a"][..], &["c"][..]));
    }

    #[test]
    fn serde_is_a_json_string_and_names_the_enum_on_error() {
        let padded: Padded = serde_json::from_str(r#"" a ""#).unwrap();
        assert_eq!(padded, Padded::A);
        let escaped: Exact = serde_json::from_str(r#""\u0063""#).unwrap();
        assert_eq!(escaped, Exact::C);
        assert_eq!(
            serde_json::to_string(&Exact::Other("z".into())).unwrap(),
            r#""z""#
        );
        let e = serde_json::from_str::<Exact>("1").unwrap_err();
        assert!(e.to_string().contains("expected a Exact string"), "{e}");
    }
}
