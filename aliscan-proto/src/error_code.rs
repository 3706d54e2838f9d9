//! The station's error codes: the two tables at the end of the spec, as a typed catalogue.
//!
//! Codes are six digits whose first four name their category (`100201` is in category `1002`, scan and
//! calibration); `0` means no error and `1` an unknown error. The spec's first table lists the codes of the
//! station and scanner, the second the original codes of the 3D-model, storage, configuration, size and
//! parameter stages. Each code says whether it needs an administrator.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeInfo {
    /// The code.
    pub code: ErrorCode,
    /// The spec's description, in Chinese, as printed.
    pub description_cn: &'static str,
    /// An English rendering of the description.
    pub description_en: &'static str,
    /// Whether the spec marks the code as needing an administrator ("需要管理员处理异常" = Y).
    pub needs_admin: bool,
}

/// A code of the error object's `code` field (`error.code`).
///
/// A newtype rather than an enum so that every number has exactly one representation: a code missing from
/// the catalogue is kept as is, and [`ErrorCode::info`] tells whether the catalogue knows it.
///
/// ```
/// use aliscan_proto::{ErrorCategory, ErrorCode};
/// let code = ErrorCode::PROJECTION_FAILED;
/// assert_eq!(code.get(), 100201);
/// assert_eq!(code.category(), ErrorCategory::ScanCalibration);
/// assert!(code.needs_admin());
/// assert_eq!(code.description_en(), Some("light projection failed"));
/// assert!(ErrorCode::new(123456).info().is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(i64);

macro_rules! catalogue {
    ($($(#[$meta:meta])* $name:ident = $code:literal, $admin:literal, $cn:literal, $en:literal;)*) => {
        impl ErrorCode {
            $($(#[$meta])*
            #[doc = concat!("`", stringify!($code), "` - ", $en, " (", $cn, ")")]
            pub const $name: Self = Self($code);)*
        }

        /// Every code of the spec's two tables, in the spec's order (category headings excluded: see
        /// [`ErrorCategory`]).
        pub const CATALOGUE: &[CodeInfo] = &[
            $(CodeInfo {
                code: ErrorCode::$name,
                description_cn: $cn,
                description_en: $en,
                needs_admin: $admin,
            },)*
        ];
    };
}

catalogue! {
    OK = 0, false, "非异常，无需关注", "no error";
    UNKNOWN = 1, true, "未知异常", "unknown error";
    DEVICE_FAULT = 100001, true, "设备异常", "device fault";
    REMOTE_ACTIVATION_FAILED = 100002, true, "激活远程异常", "remote activation failed";
    PROJECTION_FAILED = 100201, true, "投光失败", "light projection failed";
    IMAGE_CAPTURE_FAILED = 100202, true, "采图失败", "image capture failed";
    POINT_CLOUD_FAILED = 100203, false, "点云生成异常", "point cloud generation failed";
    CALIBRATION_COMPUTE_FAILED = 100204, false, "计算失败(标定中发生)", "computation failed (during calibration)";
    POINT_COUNT_ABNORMAL = 100205, false, "点数异常", "too few points in the point cloud";
    WIFI_NO_PERMISSION = 600001, true, "无权限", "no permission";
    WIFI_TIMEOUT = 600002, true, "连接超时", "connection timed out";
    WIFI_OTHER = 600003, true, "其它未知异常", "other unknown error";
    WIFI_WRONG_PASSWORD = 600004, false, "密码错误", "wrong password";
    LOCAL_STORAGE_FAILED = 600101, true, "本地数据存储异常", "local data storage failed";
    TEMPLATE_SAVE_FAILED = 600102, true, "template.json 保存错误", "template.json could not be saved";
    LICENSE_FAILED = 600103, true, "授权失败", "license authorization failed";
    REPORT_NETWORK_DOWN = 600104, false, "数据上报网络不通", "network unreachable for data reporting";
    UDISK_FULL = 700101, false, "u盘内存不足", "not enough space on the USB drive";
    UDISK_REMOVED = 700102, false, "u盘中途拔出", "USB drive removed during the operation";
    UDISK_ERROR = 700103, false, "异常错误", "unexpected error";
    NO_LOGS = 700104, false, "无可处理日志", "no logs to process";
    MODEL_BUILD_FAILED = 200001, true, "3D模型生成失败", "3D model generation failed";
    SCAN_UPLOAD_FAILED = 300001, true, "3D 高精度模型上传失败", "high-precision 3D model upload failed";
    MINI_UPLOAD_FAILED = 300002, true, "3D 低精度模型上传失败", "low-precision 3D model upload failed";
    FOOT_JSON_UPLOAD_FAILED = 300003, true, "脚型解析json数据上传失败", "foot analysis JSON upload failed";
    PREVIEW_UPLOAD_FAILED = 300004, true, "扫描预览图上传失败", "scan preview image upload failed";
    UPLOAD_NETWORK_DOWN = 300010, false, "上传网络不通", "network unreachable for upload";
    OSS_UPLOAD_FAILED = 300011, false, "上传OSS接口故障", "OSS upload interface failure";
    SCAN_UPLOAD_TOO_SOON = 300021, false, "上传高精度模型间隔时间太短", "high-precision model uploaded again too soon";
    CONFIG_WRITE_FAILED = 400001, true, "配置文件写入异常", "configuration file could not be written";
    CONFIG_MISSING = 400002, true, "配置文件不存在", "configuration file missing";
    GLOBALREF_MISSING = 400010, true, "globalref_output.txt 不存在，需要重新标定", "globalref_output.txt missing: calibrate again";
    PLANE_FAILED = 400011, true, "plane.txt 生成失败", "plane.txt could not be generated";
    SIZE_COMPUTE_FAILED = 500001, false, "尺码计算错误", "shoe size computation failed";
    BAD_PARAMETER = 800000, false, "参数错误", "invalid parameter";
    BAD_SEX = 800001, false, "性别错误", "invalid sex";
}

impl ErrorCode {
    /// Wraps any number, known or not.
    #[must_use]
    pub const fn new(code: i64) -> Self {
        Self(code)
    }

    /// The number on the wire.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whether this is `0`, "no error".
    #[must_use]
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The catalogue entry, or `None` for a code the spec does not list.
    #[must_use]
    pub fn info(self) -> Option<&'static CodeInfo> {
        CATALOGUE.iter().find(|info| info.code == self)
    }

    /// The category: the code's first four digits for six-digit codes.
    #[must_use]
    pub fn category(self) -> ErrorCategory {
        ErrorCategory::of(self)
    }

    /// The spec's Chinese description, if the code is in the catalogue.
    #[must_use]
    pub fn description_cn(self) -> Option<&'static str> {
        self.info().map(|i| i.description_cn)
    }

    /// The English description, if the code is in the catalogue.
    #[must_use]
    pub fn description_en(self) -> Option<&'static str> {
        self.info().map(|i| i.description_en)
    }

    /// Whether the spec says an administrator must handle it; `false` for codes outside the catalogue.
    #[must_use]
    pub fn needs_admin(self) -> bool {
        self.info().is_some_and(|i| i.needs_admin)
    }
}

impl From<i64> for ErrorCode {
    fn from(code: i64) -> Self {
        Self(code)
    }
}

impl From<ErrorCode> for i64 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description_en() {
            Some(d) => write!(f, "{} ({d})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Self)
    }
}

/// The category of an error code: the headings of the spec's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// `0` - no error.
    None,
    /// `1` - unknown error.
    General,
    /// `1000` - hardware (硬件异常).
    Hardware,
    /// `1002` - scan and calibration (扫描标定异常).
    ScanCalibration,
    /// `6000` - Wi-Fi (wifi异常).
    Wifi,
    /// `6001` - local data (本地数据异常).
    LocalData,
    /// `7001` - USB drive and logs (u盘及日志相关异常).
    UDiskLog,
    /// `2000` - 3D model building (3D模型构建异常).
    ModelBuild,
    /// `3000` - data storage and upload (数据存储异常).
    DataStorage,
    /// `4000` - configuration files (配置文件异常).
    Config,
    /// `5000` - shoe size (尺码异常).
    Size,
    /// `8000` - parameters (参数错误).
    Parameter,
    /// A code outside every category of the spec.
    Other,
}

impl ErrorCategory {
    /// Every category heading of the spec's tables, in the spec's order.
    pub const HEADINGS: [Self; 10] = [
        Self::Hardware,
        Self::ScanCalibration,
        Self::Wifi,
        Self::LocalData,
        Self::UDiskLog,
        Self::ModelBuild,
        Self::DataStorage,
        Self::Config,
        Self::Size,
        Self::Parameter,
    ];

    /// The category of `code`.
    #[must_use]
    pub fn of(code: ErrorCode) -> Self {
        match code.0 {
            0 => Self::None,
            1 => Self::General,
            100_000..=999_999 => Self::from_heading(code.0 / 100).unwrap_or(Self::Other),
            _ => Self::Other,
        }
    }

    /// The category whose heading code (`1000`, `1002`, ...) is `heading`.
    #[must_use]
    pub fn from_heading(heading: i64) -> Option<Self> {
        Self::HEADINGS
            .into_iter()
            .find(|c| c.heading() == Some(heading))
    }

    /// The four-digit heading code of the spec's table, for the ten table categories.
    #[must_use]
    pub fn heading(self) -> Option<i64> {
        Some(match self {
            Self::Hardware => 1000,
            Self::ScanCalibration => 1002,
            Self::Wifi => 6000,
            Self::LocalData => 6001,
            Self::UDiskLog => 7001,
            Self::ModelBuild => 2000,
            Self::DataStorage => 3000,
            Self::Config => 4000,
            Self::Size => 5000,
            Self::Parameter => 8000,
            Self::None | Self::General | Self::Other => return None,
        })
    }

    /// The spec's Chinese heading.
    #[must_use]
    pub fn description_cn(self) -> &'static str {
        match self {
            Self::None => "非异常",
            Self::General => "未知异常",
            Self::Hardware => "硬件异常",
            Self::ScanCalibration => "扫描标定异常",
            Self::Wifi => "wifi异常",
            Self::LocalData => "本地数据异常",
            Self::UDiskLog => "u盘及日志相关异常",
            Self::ModelBuild => "3D模型构建异常",
            Self::DataStorage => "数据存储异常",
            Self::Config => "配置文件异常",
            Self::Size => "尺码异常",
            Self::Parameter => "参数错误",
            Self::Other => "其它",
        }
    }

    /// An English rendering of the heading.
    #[must_use]
    pub fn description_en(self) -> &'static str {
        match self {
            Self::None => "no error",
            Self::General => "unknown error",
            Self::Hardware => "hardware",
            Self::ScanCalibration => "scan and calibration",
            Self::Wifi => "Wi-Fi",
            Self::LocalData => "local data",
            Self::UDiskLog => "USB drive and logs",
            Self::ModelBuild => "3D model building",
            Self::DataStorage => "data storage",
            Self::Config => "configuration files",
            Self::Size => "shoe size",
            Self::Parameter => "parameters",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_codes_are_unique_and_in_their_category() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            assert!(
                CATALOGUE[i + 1..].iter().all(|b| b.code != a.code),
                "{} twice",
                a.code
            );
            let category = a.code.category();
            if a.code.get() > 1 {
                assert_eq!(category.heading(), Some(a.code.get() / 100), "{}", a.code);
            }
            assert_ne!(category, ErrorCategory::Other);
        }
    }

    #[test]
    fn unknown_codes_are_kept_with_no_description() {
        let code: ErrorCode = serde_json::from_str("22001").unwrap();
        assert_eq!(code.get(), 22001);
        assert_eq!(code.info(), None);
        assert!(!code.needs_admin());
        assert_eq!(code.category(), ErrorCategory::Other);
        assert_eq!(ErrorCode::new(990_001).category(), ErrorCategory::Other);
        assert_eq!(ErrorCode::new(-1).category(), ErrorCategory::Other);
        assert_eq!(serde_json::to_string(&code).unwrap(), "22001");
        assert_eq!(code.to_string(), "22001");
        assert_eq!(
            ErrorCode::WIFI_WRONG_PASSWORD.to_string(),
            "600004 (wrong password)"
        );
    }

    #[test]
    fn headings_map_back_to_their_category() {
        for c in ErrorCategory::HEADINGS {
            let heading = c.heading().unwrap();
            assert_eq!(ErrorCategory::from_heading(heading), Some(c));
        }
        assert_eq!(ErrorCategory::from_heading(1001), None);
        assert_eq!(ErrorCode::OK.category(), ErrorCategory::None);
        assert_eq!(ErrorCode::UNKNOWN.category(), ErrorCategory::General);
        assert!(ErrorCode::UNKNOWN.needs_admin());
        assert!(!ErrorCode::OK.needs_admin());
    }
}
