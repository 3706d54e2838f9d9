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
