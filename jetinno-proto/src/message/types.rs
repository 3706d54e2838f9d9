//! Value types shared by the messages: closed value sets, the fastcode taste code and price triples.

use proto_common::string_enum;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// The string enums match known values after trimming ASCII whitespace: the spec prints `" wx_pub "` and
// `"qr_pay "`.

string_enum! {
    lenient_whitespace;
    /// `machinestatus.status`: the state a machine reports after login or on a change.
    MachineState {
        /// `clearerror` - the machine cleared its errors.
        ClearError = "clearerror",
        /// `cupblock` - a cup is stuck.
        CupBlock = "cupblock",
        /// `dooropen` - the door is open.
        DoorOpen = "dooropen",
        /// `doorclose` - the door was closed.
        DoorClose = "doorclose",
        /// `supply` - material levels report (reserved by the spec).
        Supply = "supply",
    }
}

string_enum! {
    lenient_whitespace;
    /// `qr_type`: which payment QR code is requested or returned.
    QrType {
        /// `all` - every payment method the server offers.
        All = "all",
        /// `wx_pub` - WeChat Pay.
        WxPub = "wx_pub",
        /// `alipay` - Alipay.
        Alipay = "alipay",
    }
}

string_enum! {
    lenient_whitespace;
    /// `paytype` / `PayType`: how an order was paid.
    PayType {
        /// `wx_pub` - WeChat Pay.
        WxPub = "wx_pub",
        /// `alipay` - Alipay.
        Alipay = "alipay",
        /// `qr_pay` - paid through a QR code (as reported in `productdone`).
        QrPay = "qr_pay",
        /// `fastcode` - a server-ordered product with a taste code (`products`).
        FastCode = "fastcode",
    }
}

/// The taste code of `products.fastcode`: hundreds = coffee/tea strength, tens = milk, ones = sugar, each 0..=5.
///
/// ```
/// use jetinno_proto::FastCode;
/// let code = FastCode::new(2, 1, 3).unwrap();
/// assert_eq!(code.code(), 213);
/// assert_eq!(FastCode::try_from(213).unwrap(), code);
/// assert!(FastCode::try_from(263).is_err()); // milk 6 is out of range
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FastCode {
    strength: u8,
    milk: u8,
    sugar: u8,
}

/// A fastcode outside 0..=555 or with a digit above 5.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fastcode {code} is invalid: {reason}")]
pub struct FastCodeError {
    code: i64,
    reason: &'static str,
}

/// Highest level of each fastcode digit.
pub const FAST_CODE_MAX_LEVEL: u8 = 5;

impl FastCode {
    /// Builds a code from its three levels.
    ///
    /// # Errors
    /// A level above [`FAST_CODE_MAX_LEVEL`].
    pub fn new(strength: u8, milk: u8, sugar: u8) -> Result<Self, FastCodeError> {
        let code = i64::from(strength) * 100 + i64::from(milk) * 10 + i64::from(sugar);
        let check = |level: u8, reason| {
            if level > FAST_CODE_MAX_LEVEL {
                Err(FastCodeError { code, reason })
            } else {
                Ok(())
            }
        };
        check(strength, "strength (hundreds) digit is above 5")?;
        check(milk, "milk (tens) digit is above 5")?;
        check(sugar, "sugar (ones) digit is above 5")?;
        Ok(Self {
            strength,
            milk,
            sugar,
        })
    }

    /// Coffee or tea strength, 0..=5.
    #[must_use]
    pub fn strength(self) -> u8 {
        self.strength
    }

    /// Milk level, 0..=5.
    #[must_use]
    pub fn milk(self) -> u8 {
        self.milk
    }

    /// Sugar level, 0..=5.
    #[must_use]
    pub fn sugar(self) -> u8 {
        self.sugar
    }

    /// The wire integer, e.g. `213`.
    #[must_use]
    pub fn code(self) -> u16 {
        u16::from(self.strength) * 100 + u16::from(self.milk) * 10 + u16::from(self.sugar)
    }
}

impl TryFrom<i64> for FastCode {
    type Error = FastCodeError;

    fn try_from(code: i64) -> Result<Self, FastCodeError> {
        if !(0..=555).contains(&code) {
            return Err(FastCodeError {
                code,
                reason: "not in 0..=555",
            });
        }
        let digit = |n: i64| u8::try_from(n % 10).unwrap_or(u8::MAX);
        Self::new(digit(code / 100), digit(code / 10), digit(code))
    }
}

impl Serialize for FastCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for FastCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = i64::deserialize(d)?;
        Self::try_from(code).map_err(serde::de::Error::custom)
    }
}

/// One `[product_id, price, type]` triple of `priceset.price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "(u32, u32, u32)", into = "(u32, u32, u32)")]
pub struct PriceEntry {
    /// Product id.
    pub product_id: u32,
    /// Price in fen (1/100 yuan).
    pub price_fen: u32,
    /// The triple's third value, `type`; the spec does not define its values, so it is kept as a number.
    pub price_type: u32,
}

impl From<(u32, u32, u32)> for PriceEntry {
    fn from((product_id, price_fen, price_type): (u32, u32, u32)) -> Self {
        Self {
            product_id,
            price_fen,
            price_type,
        }
    }
}

impl From<PriceEntry> for (u32, u32, u32) {
    fn from(p: PriceEntry) -> Self {
        (p.product_id, p.price_fen, p.price_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_enums_trim_known_values_and_keep_unknown_ones() {
        assert_eq!(PayType::from(" wx_pub "), PayType::WxPub);
        assert_eq!(PayType::from("qr_pay "), PayType::QrPay);
        assert_eq!(PayType::from("cash"), PayType::Other("cash".into()));
        assert_eq!(PayType::Other(" x ".into()).as_str(), " x ");
        let s: MachineState = serde_json::from_str("\"cupblock\"").unwrap();
        assert_eq!(s, MachineState::CupBlock);
        assert_eq!(serde_json::to_string(&QrType::All).unwrap(), "\"all\"");
    }

    #[test]
    fn fastcode_digits_are_validated() {
        let code: FastCode = serde_json::from_str("213").unwrap();
        assert_eq!((code.strength(), code.milk(), code.sugar()), (2, 1, 3));
        assert_eq!(serde_json::to_string(&code).unwrap(), "213");
        assert_eq!(FastCode::try_from(0).unwrap(), FastCode::default());
        assert_eq!(FastCode::try_from(555).unwrap().code(), 555);
        for bad in [-1, 556, 600, 1000, 16, 160] {
            assert!(FastCode::try_from(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<FastCode>("263").unwrap_err();
        assert!(
            err.to_string().contains("fastcode 263 is invalid: milk"),
            "{err}"
        );
        assert!(FastCode::new(6, 0, 0).is_err());
    }

    #[test]
    fn price_entries_are_triples() {
        let p: PriceEntry = serde_json::from_str("[810, 1000, 1]").unwrap();
        assert_eq!(p, PriceEntry::from((810, 1000, 1)));
        assert_eq!(serde_json::to_string(&p).unwrap(), "[810,1000,1]");
        assert!(serde_json::from_str::<PriceEntry>("[810, 1000]").is_err());
        assert!(serde_json::from_str::<PriceEntry>("[810, -5, 1]").is_err());
    }
}
