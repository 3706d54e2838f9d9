//! Server -> machine messages (jetinno.md section 3).

use serde::{Deserialize, Serialize};

use super::types::{FastCode, PayType, PriceEntry, QrType};

/// `hb`: the server's answer to each machine heartbeat (3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerHeartbeat {
    /// Machine number; the spec's example has none, so it is written only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmc_no: Option<u64>,
}

/// `login_r`: the login result (3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginReply {
    /// Machine number; listed by the spec but absent from its example, so optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmc_no: Option<u64>,
    /// Server time, `yyyy-MM-dd HH:mm:ss`.
    pub date_time: String,
    /// `0` success; any other value is the failure code.
    pub ret: i32,
}

impl LoginReply {
    /// The `ret` value of a successful login.
    pub const OK: i32 = 0;

    /// Whether the login succeeded.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.ret == Self::OK
    }
}

/// `qrcode_r`: the QR code for an order (3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCodeReply {
    /// Machine number.
    pub vmc_no: u64,
    /// Which QR code this is.
    pub qr_type: QrType,
    /// The QR code content.
    pub qrcode: String,
    /// The order number of the request.
    pub order_no: String,
}

/// `pay_done`: payment result for an order (3.6; one object per DECISIONS.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayDone {
    /// Machine number.
    pub vmc_no: u64,
    /// Amount paid in fen.
    pub product_amount: u32,
    /// The order number of the request.
    pub order_no: String,
    /// Whether the payment succeeded.
    pub paydone: bool,
    /// How it was paid.
    pub paytype: PayType,
}

/// `products`: make a product without a payment flow, with a taste code (3.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Products {
    /// Machine number.
    pub vmc_no: u64,
    /// Product id.
    pub product_id: u32,
    /// Strength, milk and sugar levels.
    pub fastcode: FastCode,
    /// Whether the product counts as paid.
    pub paydone: bool,
    /// Payment kind, `fastcode` in the spec.
    pub paytype: PayType,
}

/// `reboot`: remote reboot (3.9 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reboot {
    /// Machine number.
    pub vmc_no: u64,
}

/// `opendoor`: remote door opening (3.9 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDoor {
    /// Machine number.
    pub vmc_no: u64,
}

/// `upgrade`: fetch `<dir>/update.xml` over HTTP and install the package it names (3.9 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    /// Machine number.
    pub vmc_no: u64,
    /// Base URL of the update server, as sent (the spec's example ends in a space).
    pub dir: String,
}

/// `rinsing`: remote rinse (3.9 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rinsing {
    /// Machine number.
    pub vmc_no: u64,
}

/// `priceset`: new prices (3.9 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSet {
    /// Machine number.
    pub vmc_no: u64,
    /// `[product_id, price, type]` triples.
    pub price: Vec<PriceEntry>,
}

/// `discount`: set the discount (3.9 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    /// Machine number.
    pub vmc_no: u64,
    /// The discount as sent; the spec's example `80` reads as 80 % of the list price.
    pub discount: u32,
}
