//! `inform/*`: software upgrades offered to and confirmed by the pad, and the version file of a release.

use serde::{Deserialize, Serialize};

use super::types::string_enum;

string_enum! {
    /// `source` of an upgrade.
    UpgradeSource {
        /// `ota` - a newer version found on a USB drive.
        Ota = "ota",
        /// `online` - a newer version found online.
        Online = "online",
    }
}

string_enum! {
    /// `info.type` of an upgrade: what kind of package it is.
    PackageType {
        /// `install_package` - a full installer.
        InstallPackage = "install_package",
        /// `patch` - an incremental patch.
        Patch = "patch",
    }
}

string_enum! {
    /// `info.env` of an upgrade.
    UpgradeEnv {
        /// `release` - production release.
        Release = "release",
        /// `beta` - test release.
        Beta = "beta",
    }
}

string_enum! {
    /// `info.overwrite`: whether the package installs over the current one (such upgrades are usually not
    /// offered to the pad).
    Overwrite {
        /// `y` - overwrite.
        Yes = "y",
        /// `n` - do not overwrite.
        No = "n",
    }
}

/// `inform/upgradeInform` data: an upgrade the user may accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeOffer {
    /// `id` - a UUID naming this offer; the pad echoes it in `inform/upgradeResponse`.
    pub id: String,
    /// `info` - the package.
    pub info: UpgradeInfo,
}

/// `info` of an upgrade offer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpgradeInfo {
    /// `adaptiveModel` - hardware models it fits, comma-separated (see [`UpgradeInfo::models`]).
    #[serde(
        rename = "adaptiveModel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub adaptive_model: Option<String>,
    /// `adaptiveModular` - accessories it fits.
    #[serde(
        rename = "adaptiveModular",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub adaptive_modular: Option<String>,
    /// `file` - where the download is saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `lang` - language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// `type` - full installer or patch.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub package_type: Option<PackageType>,
    /// `env` - release or beta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<UpgradeEnv>,
    /// `maxVersion` - highest version it applies to.
    #[serde(
        rename = "maxVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_version: Option<String>,
    /// `minVersion` - lowest version it applies to.
    #[serde(
        rename = "minVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_version: Option<String>,
    /// `os` - operating system (`win`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// `version` - the version offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `overwrite` - whether it installs over the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<Overwrite>,
    /// `versionCNLog` - change log in Chinese.
    #[serde(
        rename = "versionCNLog",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub version_cn_log: Option<String>,
    /// `versionLog` - change log in English.
    #[serde(
        rename = "versionLog",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub version_log: Option<String>,
}

impl UpgradeInfo {
    /// The hardware models of `adaptiveModel`, split at commas, trimmed, empty entries skipped.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.adaptive_model
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
    }
}

/// `inform/upgradeResponse` data: the user's answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeResponse {
    /// `id` - the offer's id, as received.
    pub id: String,
    /// `source` - the offer's source.
    pub source: UpgradeSource,
    /// `upgrade` - whether to upgrade.
    pub upgrade: bool,
}

/// `inform/upgrading` data: the station started the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrading {
    /// `id` - the offer's id.
    pub id: String,
    /// `source` - the offer's source.
    pub source: UpgradeSource,
}

/// The version file shipped beside a release archive (`algorithm.zip`, `front.zip`): not a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageVersion {
    /// `version` - the release's version.
    pub version: String,
    /// `changeLog` - what changed.
    #[serde(rename = "changeLog")]
    pub change_log: ChangeLog,
}

/// `changeLog` of a [`PackageVersion`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChangeLog {
    /// `cn` - in Chinese.
    pub cn: String,
    /// `en` - in English.
    pub en: String,
}
