//! Handshake, registration, login, report and heartbeat (best.md 2 and 3.2 to 3.6), both directions.

use chrono::FixedOffset;
use serde::{Deserialize, Serialize};

use super::types::{
    CaptureMode, CommType, DevType, FuncId, ProtType, Scene, TempUnit, VerifyStyle,
};
use crate::config::DEFAULT_MAX_PACKAGE_KB;
use crate::value::{opt, wire, BioVector, BitString};

/// `device.exchange.publicKey` params, and the platform's reply results: a public key, carried opaquely.
///
/// The spec names no algorithm; the reference peers use base64 X25519 public keys (DECISIONS.md, best).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublicKey {
    /// `publicKey`.
    #[serde(rename = "publicKey")]
    pub public_key: String,
}

/// `device.exchange.factor` params, and the platform's reply results: an encryption factor, carried opaquely.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Factor {
    /// `factor` (the reference peers use 16 random bytes in hex).
    pub factor: String,
}

/// `dev.register` params (the device's `sn` travels in the envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// `protType` - the transport.
    #[serde(rename = "protType")]
    pub prot_type: ProtType,
    /// `protVer` - protocol version, e.g. `1.0.0`.
    #[serde(rename = "protVer")]
    pub prot_ver: String,
    /// `productId` - required except over publish/subscribe transports (best-m).
    #[serde(rename = "productId", default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// `devKey` - [`dev_key`](crate::crypto::dev_key) of the device secret and `productId`.
    #[serde(rename = "devKey")]
    pub dev_key: String,
    /// `devType` - the kind of device.
    #[serde(rename = "devType")]
    pub dev_type: DevType,
}

/// Results of the reply to `dev.register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResults {
    /// `authCode` - the authorisation code for `dev.accredit` and `dev.login`.
    #[serde(rename = "authCode")]
    pub auth_code: String,
}

/// `dev.accredit` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accredit {
    /// `productId` - as in [`Register`].
    #[serde(rename = "productId", default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// `devKey` - as in [`Register`].
    #[serde(rename = "devKey")]
    pub dev_key: String,
    /// `authCode` - from the `dev.register` reply.
    #[serde(rename = "authCode")]
    pub auth_code: String,
}

/// Results of the reply to `dev.accredit`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccreditResults {
    /// `secret` - the device's login password.
    pub secret: String,
}

impl std::fmt::Debug for AccreditResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccreditResults")
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

/// `dev.login` params.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// `productId` - as in [`Register`].
    #[serde(rename = "productId", default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// `devKey` - as in [`Register`].
    #[serde(rename = "devKey")]
    pub dev_key: String,
    /// `authCode` - from the `dev.register` reply.
    #[serde(rename = "authCode")]
    pub auth_code: String,
    /// `secret` - from the `dev.accredit` reply.
    pub secret: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("product_id", &self.product_id)
            .field("dev_key", &self.dev_key)
            .field("auth_code", &self.auth_code)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

/// `dev.report` params: the device's capabilities and settings, sent after login.
///
/// Vectors are indexed by [`BioType`](crate::BioType) position. Switches are `bool` (`"0"`/`"1"` on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `fwVer` - firmware version.
    #[serde(rename = "fwVer")]
    pub fw_ver: String,
    /// `devModel` - device model.
    #[serde(rename = "devModel")]
    pub dev_model: String,
    /// `commType` - the network interface in use.
    #[serde(rename = "commType")]
    pub comm_type: CommType,
    /// `ip` of that interface.
    pub ip: String,
    /// `netmask` of that interface.
    pub netmask: String,
    /// `gateway` of that interface.
    pub gateway: String,
    /// `mac` of that interface.
    pub mac: String,
    /// `lockCount` - number of doors.
    #[serde(rename = "lockCount", with = "wire")]
    pub lock_count: u32,
    /// `userCount` - users stored.
    #[serde(rename = "userCount", with = "wire")]
    pub user_count: u32,
    /// `maxUserCount` - user capacity.
    #[serde(rename = "maxUserCount", with = "wire")]
    pub max_user_count: u32,
    /// `transactionCount` - records stored.
    #[serde(rename = "transactionCount", with = "wire")]
    pub transaction_count: u32,
    /// `maxTransactionCount` - record capacity.
    #[serde(rename = "maxTransactionCount", with = "wire")]
    pub max_transaction_count: u32,
    /// `multiBioEnrollSupport` - remote enrolment support per bio type.
    #[serde(
        rename = "multiBioEnrollSupport",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub multi_bio_enroll_support: Option<BioVector<bool>>,
    /// `multiBioDataSupport` - template support per bio type.
    #[serde(rename = "multiBioDataSupport")]
    pub multi_bio_data_support: BioVector<bool>,
    /// `multiBioPhotoSupport` - photo support per bio type.
    #[serde(
        rename = "multiBioPhotoSupport",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub multi_bio_photo_support: Option<BioVector<bool>>,
    /// `multiBioVer` - algorithm version per bio type (`0` none, `10.0`, ...).
    #[serde(rename = "multiBioVer")]
    pub multi_bio_ver: BioVector<String>,
    /// `multiBioDataCount` - templates stored per bio type.
    #[serde(rename = "multiBioDataCount")]
    pub multi_bio_data_count: BioVector<u32>,
    /// `multiBioPhotoCount` - photos stored per bio type.
    #[serde(
        rename = "multiBioPhotoCount",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub multi_bio_photo_count: Option<BioVector<u32>>,
    /// `maxMultiBioDataCount` - template capacity per bio type.
    #[serde(rename = "maxMultiBioDataCount")]
    pub max_multi_bio_data_count: BioVector<u32>,
    /// `maxMultiBioPhotoCount` - photo capacity per bio type.
    #[serde(
        rename = "maxMultiBioPhotoCount",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub max_multi_bio_photo_count: Option<BioVector<u32>>,
    /// `maxPackageSize` - largest data packet in KB (default 64); see [`Report::max_package_kb`].
    #[serde(
        rename = "maxPackageSize",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub max_package_size: Option<u32>,
    /// `qrCodeSupport` - QR codes supported.
    #[serde(
        rename = "qrCodeSupport",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub qr_code_support: Option<bool>,
    /// `qrCodeOn` - QR code function on.
    #[serde(
        rename = "qrCodeOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub qr_code_on: Option<bool>,
    /// `qrCodeDecryptFunList` - supported QR decryption schemes, from the left: scheme 1, scheme 2, ...
    #[serde(
        rename = "qrCodeDecryptFunList",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub qr_code_decrypt_fun_list: Option<BitString>,
    /// `capturePic` - photo capture mode.
    #[serde(
        rename = "capturePic",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub capture_pic: Option<CaptureMode>,
    /// `enableBioTest` - liveness detection on.
    #[serde(
        rename = "enableBioTest",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub enable_bio_test: Option<bool>,
    /// `voiceOn` - voice prompts on.
    #[serde(
        rename = "voiceOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub voice_on: Option<bool>,
    /// `keyPadBeepOn` - touch beep on.
    #[serde(
        rename = "keyPadBeepOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub key_pad_beep_on: Option<bool>,
    /// `volume` - 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub volume: Option<u8>,
    /// `irTempDetectionOn` - infrared temperature detection on.
    #[serde(
        rename = "irTempDetectionOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub ir_temp_detection_on: Option<bool>,
    /// `maxTemperature` - high temperature alarm threshold.
    #[serde(
        rename = "maxTemperature",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub max_temperature: Option<f64>,
    /// `minTemperature` - low temperature alarm threshold.
    #[serde(
        rename = "minTemperature",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub min_temperature: Option<f64>,
    /// `irTempUnit` - temperature unit.
    #[serde(
        rename = "irTempUnit",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub ir_temp_unit: Option<TempUnit>,
    /// `maskDetectionOn` - mask detection on.
    #[serde(
        rename = "maskDetectionOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub mask_detection_on: Option<bool>,
    /// `maskOn` - refuse passage without a mask.
    #[serde(
        rename = "maskOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub mask_on: Option<bool>,
    /// `temperatureOn` - refuse passage on an abnormal temperature.
    #[serde(
        rename = "temperatureOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub temperature_on: Option<bool>,
    /// `irTempDetectionFunOn` - infrared temperature detection supported.
    #[serde(
        rename = "irTempDetectionFunOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub ir_temp_detection_fun_on: Option<bool>,
    /// `cameraOn` - camera on.
    #[serde(
        rename = "cameraOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub camera_on: Option<bool>,
    /// `attPhotoFunOn` - attendance photos supported.
    #[serde(
        rename = "attPhotoFunOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub att_photo_fun_on: Option<bool>,
    /// `maskDetectionFunOn` - mask detection supported.
    #[serde(
        rename = "maskDetectionFunOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub mask_detection_fun_on: Option<bool>,
    /// `maxPendingCmdCount` - most commands the device takes in one batch.
    #[serde(
        rename = "maxPendingCmdCount",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub max_pending_cmd_count: Option<u32>,
    /// `scene` - scene mode.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub scene: Option<Scene>,
    /// `verifyStyles` - supported verify styles, character `i` for code `i`; see [`Report::supports`].
    #[serde(rename = "verifyStyles")]
    pub verify_styles: BitString,
    /// `sipOn` - SIP supported.
    #[serde(
        rename = "sipOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub sip_on: Option<bool>,
    /// `adOn` - advertising supported.
    #[serde(
        rename = "adOn",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub ad_on: Option<bool>,
    /// `funcIds` - the funcIds the device supports.
    #[serde(rename = "funcIds")]
    pub func_ids: Vec<FuncId>,
}

impl Report {
    /// `maxPackageSize`, or its default of 64 KB when absent.
    #[must_use]
    pub fn max_package_kb(&self) -> u32 {
        self.max_package_size.unwrap_or(DEFAULT_MAX_PACKAGE_KB)
    }

    /// Whether `verifyStyles` marks `style` as supported.
    #[must_use]
    pub fn supports(&self, style: VerifyStyle) -> bool {
        usize::try_from(style.0).is_ok_and(|i| self.verify_styles.get(i))
    }
}

/// Results of the reply to `dev.report`: the platform's settings for the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReportResults {
    /// `timezone` - the device's time zone (default `+08:00`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub timezone: Option<FixedOffset>,
    /// `supportHeartbeat` - whether the device sends business heartbeats (default yes).
    #[serde(
        rename = "supportHeartbeat",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub support_heartbeat: Option<bool>,
    /// `heartbeatInterval` - heartbeat interval in seconds (default 60).
    #[serde(
        rename = "heartbeatInterval",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub heartbeat_interval: Option<u32>,
    /// `multiBioDataSupport` - template support per bio type the platform accepts.
    #[serde(
        rename = "multiBioDataSupport",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub multi_bio_data_support: Option<BioVector<bool>>,
    /// `multiBioPhotoSupport` - photo support per bio type the platform accepts.
    #[serde(
        rename = "multiBioPhotoSupport",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub multi_bio_photo_support: Option<BioVector<bool>>,
    /// `funcIds` - the funcIds the platform supports.
    #[serde(rename = "funcIds", default, skip_serializing_if = "Option::is_none")]
    pub func_ids: Option<Vec<FuncId>>,
}

impl ReportResults {
    /// `timezone`, or its default `+08:00`.
    #[must_use]
    pub fn timezone_or_default(&self) -> FixedOffset {
        self.timezone
            .unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).expect("+08:00 is in range"))
    }

    /// `heartbeatInterval`, or its default of 60 s.
    #[must_use]
    pub fn heartbeat_interval_or_default(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_interval.map_or(60, u64::from))
    }
}

/// `dev.heartbeat` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Heartbeat {
    /// `isFree` - `true` idle, `false` busy with commands (default idle).
    #[serde(
        rename = "isFree",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub is_free: Option<bool>,
}
