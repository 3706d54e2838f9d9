//! `equipment/store/*`: the store the station is bound to, its brand, and the store lookup used to bind it.

use serde::{Deserialize, Serialize};

use super::types::{ErrorInfo, OutcomeStatus};

/// `equipment/store/brandresult` data: brand and store of the station, with the artwork the pad shows.
///
/// Also pushed after `equipment/info/update`. The logo fields are paths on the station's HTTP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandInfo {
    /// `status` - success or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed (600104 when the brand is unknown and the network is down).
    pub error: ErrorInfo,
    /// `logo` - brand logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// `sourceLogo` - scene logo.
    #[serde(
        rename = "sourceLogo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_logo: Option<String>,
    /// `bigLogo` - home-page logo.
    #[serde(rename = "bigLogo", default, skip_serializing_if = "Option::is_none")]
    pub big_logo: Option<String>,
    /// `smallLogo` - small logo.
    #[serde(rename = "smallLogo", default, skip_serializing_if = "Option::is_none")]
    pub small_logo: Option<String>,
    /// `reportTitle` - report title.
    #[serde(
        rename = "reportTitle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub report_title: Option<String>,
    /// `reportSubTitle` - report subtitle.
    #[serde(
        rename = "reportSubTitle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub report_sub_title: Option<String>,
    /// `footerContent` - page footer.
    #[serde(
        rename = "footerContent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub footer_content: Option<String>,
    /// `storeName` - the store.
    #[serde(rename = "storeName")]
    pub store_name: String,
    /// `brandName` - the brand.
    #[serde(rename = "brandName")]
    pub brand_name: String,
}

/// `equipment/store/list` data: search the brand's stores in a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreListQuery {
    /// `province` - province.
    pub province: String,
    /// `city` - city.
    pub city: String,
    /// `region` - district.
    pub region: String,
    /// `page` - page number (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// `pageSize` - stores per page.
    #[serde(rename = "pageSize", default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// `environment` - which back-end environment to ask (the spec gives only the value `1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<i64>,
}

/// `equipment/store/listresult` data: one page of stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreList {
    /// `status` - success or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed (600104 when the network is down).
    pub error: ErrorInfo,
    /// `count` - number of stores in all pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `pageSize` - stores per page.
    #[serde(rename = "pageSize", default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// `page` - this page's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// `list` - the stores of this page.
    #[serde(default)]
    pub list: Vec<Store>,
}

/// A store: its name and number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    /// `name` - store name.
    pub name: String,
    /// `number` - store number.
    pub number: String,
}

/// `equipment/store/get` data: look a store up by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreGet {
    /// `number` - store number.
    pub number: String,
    /// `environment` - which back-end environment to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<i64>,
}

/// `equipment/store/getresult` data: the store looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// `status` - success or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed.
    pub error: ErrorInfo,
    /// `name` - store name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `number` - store number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// `equipment/store/bind` data: bind the station to a store. Answered by `equipment/store/result`, then the
/// station fetches and checks its license and pushes its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreBind {
    /// `storeId` - store number.
    #[serde(rename = "storeId")]
    pub store_id: String,
    /// `storeName` - store name.
    #[serde(rename = "storeName")]
    pub store_name: String,
}
