//! Machine -> server messages (jetinno.md section 3).

use serde::{Deserialize, Serialize};

use super::types::{MachineState, PayType, QrType};
use crate::sign::{login_sign, verify_login_sign, MachineCode};

/// `hb`: the machine's heartbeat, sent every 20 s (3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineHeartbeat {
    /// Machine number.
    pub vmc_no: u64,
}

/// `login`: sent right after the TCP connection opens (3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// Machine number.
    pub vmc_no: u64,
    /// The machine's date as the number `yyyyMMdd`, e.g. `20150624`.
    pub timestamp: u32,
    /// Lowercase hex MD5 of the 8 date digits followed by the machine's 8-character code.
    pub sign: String,
    /// Application version, e.g. `1.2.8.8`.
    pub version: String,
    /// Linux driver version, when the machine reports it.
    #[serde(
        rename = "linuxDriverVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub linux_driver_version: Option<String>,
}

impl Login {
    /// A login for `vmc_no` on date `timestamp` (`yyyyMMdd`), signed with the machine's code.
    #[must_use]
    pub fn signed(
        vmc_no: u64,
        timestamp: u32,
        code: &MachineCode,
        version: impl Into<String>,
    ) -> Self {
        Self {
            vmc_no,
            timestamp,
            sign: login_sign(timestamp, code),
            version: version.into(),
            linux_driver_version: None,
        }
    }

    /// Whether `sign` is right for this login's date and the machine's code (constant-time compare).
    #[must_use]
    pub fn verify(&self, code: &MachineCode) -> bool {
        verify_login_sign(self.timestamp, code, &self.sign)
    }
}

/// `machinestatus`: state report after login or whenever the state changes (3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineStatus {
    /// Machine number.
    pub vmc_no: u64,
    /// The reported state.
    pub status: MachineState,
}

/// `error`: an error or alarm being set or cleared (3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// Machine number.
    pub vmc_no: u64,
    /// Date of the event as sent, e.g. `20161212`.
    pub datetime: String,
    /// Error code, e.g. `EC_2`.
    pub error_code: String,
    /// Human-readable description.
    pub error_description: String,
    /// `true` sets the error, `false` clears it.
    #[serde(rename = "isSet")]
    pub is_set: bool,
    /// A fatal error puts the whole machine out of service; otherwise it is only recorded.
    pub is_fatal_error: bool,
    /// The error survives a power cycle until cleared by hand or by a clearing message.
    pub is_persistence_error: bool,
}

/// `qrcode`: asks for a payment QR code after a customer ordered (3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCodeRequest {
    /// Machine number.
    pub vmc_no: u64,
    /// Which QR code is wanted.
    pub qr_type: QrType,
    /// Product id.
    pub product_id: u32,
    /// Product price in fen.
    #[serde(rename = "Amount")]
    pub amount: u32,
    /// Order number, echoed by `qrcode_r` and `pay_done`.
    pub order_no: String,
}

/// `productdone`: a product was made (3.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDone {
    /// Machine number.
    pub vmc_no: u64,
    /// Product name.
    #[serde(rename = "ProductName")]
    pub product_name: String,
    /// Product id.
    #[serde(rename = "ProductId")]
    pub product_id: u32,
    /// Product price in fen.
    #[serde(rename = "ProductAmount")]
    pub product_amount: u32,
    /// How it was paid.
    #[serde(rename = "PayType")]
    pub pay_type: PayType,
    /// Whether the product was made successfully.
    #[serde(rename = "isok")]
    pub is_ok: bool,
    /// Order number.
    pub order_no: String,
}
