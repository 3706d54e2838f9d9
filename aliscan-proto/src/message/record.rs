//! The scan record: what `files/scan/status`, `files/scan/result` and `files/scan/update` carry per scan.
//!
//! Every field is optional: the spec says the upload blocks and the measurements "may be an empty object", and
//! a station fills a record in as the scan is computed and uploaded. Absent fields stay absent when encoded.

use serde::{Deserialize, Serialize};

use super::types::{string_enum, Blob, ErrorInfo, Sex, StationTime};

string_enum! {
    /// `status` of a record: where it is in its life.
    RecordStatus {
        /// `init` - waiting to be stored.
        Init = "init",
        /// `computing` - waiting for the computation.
        Computing = "computing",
        /// `uploading` - waiting for the upload.
        Uploading = "uploading",
        /// `enable` - usable.
        Enable = "enable",
        /// `deleted` - deleted: the pad removes it from its list.
        Deleted = "deleted",
        /// `reset` - the scan was reset.
        Reset = "reset",
    }
}

string_enum! {
    /// `status` of the `mini` and `scan` upload blocks.
    UploadStatus {
        /// `init` - not uploaded yet.
        Init = "init",
        /// `uploaded` - uploaded.
        Uploaded = "uploaded",
        /// `fail` - the upload failed.
        Fail = "fail",
    }
}

string_enum! {
    /// `userInfo.status`, `resultStatus` and `resultPriStatus`: whether the data was submitted to the back end.
    SubmitStatus {
        /// `init` - not submitted yet.
        Init = "init",
        /// `complete` - submitted.
        Complete = "complete",
        /// `fail` - the submission failed.
        Fail = "fail",
    }
}

/// One scan record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScanRecord {
    /// `scanId` - the scan's id, `DEVICEID-YYYYMMDD-HHmmss` (see [`ScanId`](crate::ScanId)).
    #[serde(rename = "scanId", default, skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    /// `requestId` - the id the pad gave in `equipment/scan/new`.
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `createPadId` - the pad that started the scan.
    #[serde(
        rename = "createPadId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_pad_id: Option<String>,
    /// `updatePadId` - the pad that last updated the record.
    #[serde(
        rename = "updatePadId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update_pad_id: Option<String>,
    /// `savePath` - where the station stored the scan.
    #[serde(rename = "savePath", default, skip_serializing_if = "Option::is_none")]
    pub save_path: Option<String>,
    /// `scan__qr_tag` (sic, two underscores) - the QR code's content.
    #[serde(
        rename = "scan__qr_tag",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub qr_tag: Option<String>,
    /// `foot_features` - foot features, with images and texts.
    #[serde(
        rename = "foot_features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub foot_features: Option<Vec<FootFeature>>,
    /// `advise2` - advice text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advise2: Option<String>,
    /// `advise1` - advice items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advise1: Option<Vec<String>>,
    /// `userInfo` - the customer.
    #[serde(rename = "userInfo", default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
    /// `sex` - the customer's sex, written as a string here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// `createTime` - when the record was created.
    #[serde(
        rename = "createTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<StationTime>,
    /// `upateTime` (sic) - when the record was last updated.
    #[serde(rename = "upateTime", default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<StationTime>,
    /// `mini` - the low-precision model and its upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mini: Option<UploadBlock>,
    /// `scan` - the high-precision model and its upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<UploadBlock>,
    /// `qrData` - PNG image of the QR code of the reported data's URL (base64 on the wire).
    #[serde(rename = "qrData", default, skip_serializing_if = "Option::is_none")]
    pub qr_data: Option<Blob>,
    /// `result` - the measurements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Measurements>,
    /// `resultStatus` - submission of the results to the public back end.
    #[serde(
        rename = "resultStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub result_status: Option<SubmitStatus>,
    /// `resultPriStatus` - submission of the results to the private back end.
    #[serde(
        rename = "resultPriStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub result_pri_status: Option<SubmitStatus>,
    /// `status` - where the record is in its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RecordStatus>,
    /// `error` - the record's last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// One entry of `foot_features`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FootFeature {
    /// `images` - image of the feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<String>,
    /// `text` - description of the feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `userInfo` of a record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserInfo {
    /// `telephone` - phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// `member_num` - membership number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_num: Option<String>,
    /// `name` - name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `operator` - the shop assistant (added in spec 1.0.15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// `birthday` - birthday (added in spec 1.0.15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// `status` - `init` not submitted yet, `complete` submitted to the back end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SubmitStatus>,
}

/// `mini` / `scan` of a record: one model file and its upload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UploadBlock {
    /// `status` - upload state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UploadStatus>,
    /// `path` - local path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `saveName` - file name.
    #[serde(rename = "saveName", default, skip_serializing_if = "Option::is_none")]
    pub save_name: Option<String>,
    /// `ossUrl` - URL in the cloud storage.
    #[serde(rename = "ossUrl", default, skip_serializing_if = "Option::is_none")]
    pub oss_url: Option<String>,
    /// `lastUploadTime` - last upload attempt.
    #[serde(
        rename = "lastUploadTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_upload_time: Option<StationTime>,
    /// `uploadNum` - number of upload attempts.
    #[serde(rename = "uploadNum", default, skip_serializing_if = "Option::is_none")]
    pub upload_num: Option<u32>,
    /// `error` - the last upload error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// Declares [`Measurements`]: one optional number per wire field, with its wire name kept exactly.
macro_rules! measurements {
    ($($(#[doc = $doc:literal])* $field:ident = $wire:literal,)*) => {
        /// `result` of a record: the foot measurements, all optional (the spec says `result` may be `{}`).
        ///
        /// Every value is an `f64`: the station writes whole numbers without a fraction (`0`, `245`) and others
        /// with one, and an `f64` takes both. Prefixes: `lft_`/`left_` left foot, `rlt_`/`rft_`/`right_` right
        /// foot, as the spec spells them. Lengths are in millimetres.
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        pub struct Measurements {
            $($(#[doc = $doc])*
            #[serde(rename = $wire, default, skip_serializing_if = "Option::is_none")]
            pub $field: Option<f64>,)*
        }

        impl Measurements {
            /// Every wire field name, in the spec's order.
            pub const WIRE_NAMES: &'static [&'static str] = &[$($wire,)*];

            /// Every field as `(wire name, value)`, in the spec's order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, Option<f64>)> {
                [$(($wire, self.$field),)*].into_iter()
            }

            /// The field named `wire` on the wire, for code driven by field names.
            #[must_use]
            pub fn get_mut(&mut self, wire: &str) -> Option<&mut Option<f64>> {
                match wire {
                    $($wire => Some(&mut self.$field),)*
                    _ => None,
                }
            }
        }
    };
}

measurements! {
    /// `fit_size_CN` - recommended shoe size, Chinese system.
    fit_size_cn = "fit_size_CN",
    /// `fit_size_EUR` - recommended shoe size, European system.
    fit_size_eur = "fit_size_EUR",
    /// `fit_size_UK` - recommended shoe size, UK system.
    fit_size_uk = "fit_size_UK",
    /// `fit_size_US` - recommended shoe size, US system.
    fit_size_us = "fit_size_US",
    /// `lft_zugong` - left arch type (足弓).
    lft_zugong = "lft_zugong",
    /// `rft_zugong` - right arch type.
    rft_zugong = "rft_zugong",
    /// `lft_muwaifan` - left hallux valgus (拇外翻).
    lft_muwaifan = "lft_muwaifan",
    /// `rft_muwaifan` - right hallux valgus.
    rft_muwaifan = "rft_muwaifan",
    /// `lft_zuwaifan` - left foot valgus (足外翻).
    lft_zuwaifan = "lft_zuwaifan",
    /// `rft_zuwaifan` - right foot valgus.
    rft_zuwaifan = "rft_zuwaifan",
    /// `l_r_zhixing` - leg alignment of both feet (肢型).
    l_r_zhixing = "l_r_zhixing",
    /// `zugong_descrp` - arch description code.
    zugong_descrp = "zugong_descrp",
    /// `muwaifan_descrp` - hallux valgus description code.
    muwaifan_descrp = "muwaifan_descrp",
    /// `zuwaifan_descrp` - foot valgus description code.
    zuwaifan_descrp = "zuwaifan_descrp",
    /// `zhixing_descrp` - leg alignment description code.
    zhixing_descrp = "zhixing_descrp",
    /// `lft_length` - left foot length.
    lft_length = "lft_length",
    /// `lft_width` - left foot width.
    lft_width = "lft_width",
    /// `lft_zhiwei` - left ball girth (跖围).
    lft_zhiwei = "lft_zhiwei",
    /// `lft_fuwei` - left instep girth (跗围).
    lft_fuwei = "lft_fuwei",
    /// `lft_douwei` - left heel girth (兜围).
    lft_douwei = "lft_douwei",
    /// `lft_jiaobeigaodu` - left instep height (脚背高度).
    lft_jiaobeigaodu = "lft_jiaobeigaodu",
    /// `lft_muzhipose` - left position of the big toe's outer point (拇趾外凸点部位).
    lft_muzhipose = "lft_muzhipose",
    /// `lft_xiaozhipose` - left position of the little toe's outer point (小趾外凸点部位).
    lft_xiaozhipose = "lft_xiaozhipose",
    /// `lft_diyizhizhipose` - left position of the first metatarsophalangeal joint (第一跖趾部位).
    lft_diyizhizhipose = "lft_diyizhizhipose",
    /// `lft_qianjiaozhangpose` - left position of the forefoot contact point (前掌落地点部位).
    lft_qianjiaozhangpose = "lft_qianjiaozhangpose",
    /// `lft_diwuzhizhipose` - left position of the fifth metatarsophalangeal joint (第五跖趾部位).
    lft_diwuzhizhipose = "lft_diwuzhizhipose",
    /// `lft_yaowopose` - left position of the waist (腰窝部位).
    lft_yaowopose = "lft_yaowopose",
    /// `lft_zhongxinpose` - left position of the heel centre (踵心部位).
    lft_zhongxinpose = "lft_zhongxinpose",
    /// `lft_muzhilikuan` - left big-toe inner width (拇趾里宽).
    lft_muzhilikuan = "lft_muzhilikuan",
    /// `lft_xiaozhiwaikuan` - left little-toe outer width (小趾外宽).
    lft_xiaozhiwaikuan = "lft_xiaozhiwaikuan",
    /// `lft_diyizhizhilikuan` - left first metatarsophalangeal inner width (第一跖趾里宽).
    lft_diyizhizhilikuan = "lft_diyizhizhilikuan",
    /// `lft_diwuzhizhiwaikuan` - left fifth metatarsophalangeal outer width (第五跖趾外宽).
    lft_diwuzhizhiwaikuan = "lft_diwuzhizhiwaikuan",
    /// `lft_zhizhizhikuan` - left metatarsophalangeal straight (base) width (跖趾直宽).
    lft_zhizhizhikuan = "lft_zhizhizhikuan",
    /// `lft_yaowowaikuan` - left waist outer width (腰窝外宽).
    lft_yaowowaikuan = "lft_yaowowaikuan",
    /// `lft_zhongxinquankuan` - left heel-centre full width (踵心全宽).
    lft_zhongxinquankuan = "lft_zhongxinquankuan",
    /// `lft_muzhigao` - left big-toe height (拇趾高).
    lft_muzhigao = "lft_muzhigao",
    /// `lft_zugonggao` - left arch height (足弓高度).
    lft_zugonggao = "lft_zugonggao",
    /// `lft_hougengao` - left heel height (后跟高).
    lft_hougengao = "lft_hougengao",
    /// `lft_houtudu` - left heel convexity (后凸度).
    lft_houtudu = "lft_houtudu",
    /// `lft_houtugao` - left heel convexity height (后凸高).
    lft_houtugao = "lft_houtugao",
    /// `rlt_length` - right foot length.
    rlt_length = "rlt_length",
    /// `rlt_width` - right foot width.
    rlt_width = "rlt_width",
    /// `rlt_zhiwei` - right ball girth (跖围).
    rlt_zhiwei = "rlt_zhiwei",
    /// `rlt_fuwei` - right instep girth (跗围).
    rlt_fuwei = "rlt_fuwei",
    /// `rlt_douwei` - right heel girth (兜围).
    rlt_douwei = "rlt_douwei",
    /// `rlt_jiaobeigaodu` - right instep height (脚背高度).
    rlt_jiaobeigaodu = "rlt_jiaobeigaodu",
    /// `rlt_muzhipose` - right position of the big toe's outer point (拇趾外凸点部位).
    rlt_muzhipose = "rlt_muzhipose",
    /// `rlt_xiaozhipose` - right position of the little toe's outer point (小趾外凸点部位).
    rlt_xiaozhipose = "rlt_xiaozhipose",
    /// `rlt_diyizhizhipose` - right position of the first metatarsophalangeal joint (第一跖趾部位).
    rlt_diyizhizhipose = "rlt_diyizhizhipose",
    /// `rlt_qianjiaozhangpose` - right position of the forefoot contact point (前掌落地点部位).
    rlt_qianjiaozhangpose = "rlt_qianjiaozhangpose",
    /// `rlt_diwuzhizhipose` - right position of the fifth metatarsophalangeal joint (第五跖趾部位).
    rlt_diwuzhizhipose = "rlt_diwuzhizhipose",
    /// `rlt_yaowopose` - right position of the waist (腰窝部位).
    rlt_yaowopose = "rlt_yaowopose",
    /// `rlt_zhongxinpose` - right position of the heel centre (踵心部位).
    rlt_zhongxinpose = "rlt_zhongxinpose",
    /// `rlt_muzhilikuan` - right big-toe inner width (拇趾里宽).
    rlt_muzhilikuan = "rlt_muzhilikuan",
    /// `rlt_xiaozhiwaikuan` - right little-toe outer width (小趾外宽).
    rlt_xiaozhiwaikuan = "rlt_xiaozhiwaikuan",
    /// `rlt_diyizhizhilikuan` - right first metatarsophalangeal inner width (第一跖趾里宽).
    rlt_diyizhizhilikuan = "rlt_diyizhizhilikuan",
    /// `rlt_diwuzhizhiwaikuan` - right fifth metatarsophalangeal outer width (第五跖趾外宽).
    rlt_diwuzhizhiwaikuan = "rlt_diwuzhizhiwaikuan",
    /// `rlt_zhizhizhikuan` - right metatarsophalangeal straight (base) width (跖趾直宽).
    rlt_zhizhizhikuan = "rlt_zhizhizhikuan",
    /// `rlt_yaowowaikuan` - right waist outer width (腰窝外宽).
    rlt_yaowowaikuan = "rlt_yaowowaikuan",
    /// `rlt_zhongxinquankuan` - right heel-centre full width (踵心全宽).
    rlt_zhongxinquankuan = "rlt_zhongxinquankuan",
    /// `rlt_muzhigao` - right big-toe height (拇趾高).
    rlt_muzhigao = "rlt_muzhigao",
    /// `rlt_zugonggao` - right arch height (足弓高度).
    rlt_zugonggao = "rlt_zugonggao",
    /// `rlt_hougengao` - right heel height (后跟高).
    rlt_hougengao = "rlt_hougengao",
    /// `rlt_houtudu` - right heel convexity (后凸度).
    rlt_houtudu = "rlt_houtudu",
    /// `rlt_houtugao` - right heel convexity height (后凸高).
    rlt_houtugao = "rlt_houtugao",
    /// `left_zgzhishu` - left arch index (足弓指数).
    left_zgzhishu = "left_zgzhishu",
    /// `right_zgzhishu` - right arch index.
    right_zgzhishu = "right_zgzhishu",
    /// `left_zwfdushu` - left foot valgus angle in degrees (足外翻度数).
    left_zwfdushu = "left_zwfdushu",
    /// `right_zwfdushu` - right foot valgus angle in degrees.
    right_zwfdushu = "right_zwfdushu",
    /// `left_mwfdushu` - left hallux valgus angle in degrees (拇外翻度数).
    left_mwfdushu = "left_mwfdushu",
    /// `right_mwfdushu` - right hallux valgus angle in degrees.
    right_mwfdushu = "right_mwfdushu",
    /// `left_pangshouleixing` - left foot build type, slim to wide (胖瘦类型).
    left_pangshouleixing = "left_pangshouleixing",
    /// `right_pangshouleixing` - right foot build type.
    right_pangshouleixing = "right_pangshouleixing",
    /// `left_pangshoujiao` - left foot build angle (胖瘦角).
    left_pangshoujiao = "left_pangshoujiao",
    /// `right_pangshoujiao` - right foot build angle.
    right_pangshoujiao = "right_pangshoujiao",
}
