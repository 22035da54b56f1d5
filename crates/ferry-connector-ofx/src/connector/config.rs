//! An OFX institution's settings, as the operator's catalog gives them (`connector_config`):
//! where its server is, who it is (ORG/FID), the protocol version, and the quirks real servers
//! need (protocols.md A2, A3, A10). Unknown keys are errors, so a typo is caught at import.

use serde::Deserialize;

use crate::SUPPORTED_VERSIONS;

/// The settings of one OFX institution.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfxConfig {
    /// The OFX server's URL (https; http only for loopback test servers the operator allowed).
    pub ofx_url: String,
    /// `FI/ORG`.
    pub org: String,
    /// `FI/FID`.
    pub fid: String,
    /// The routing number, for banks whose account information omits it.
    #[serde(default)]
    pub bank_id: Option<String>,
    /// `BROKERID`, for investment accounts.
    #[serde(default)]
    pub broker_id: Option<String>,
    /// 102, 103, 151, 160, 200, 201, 202, 203, 210, 211 or 220.
    #[serde(default = "default_version")]
    pub ofx_version: u16,
    /// `APPID` (at most 5 characters); many servers accept only Quicken's.
    #[serde(default = "default_app_id")]
    pub app_id: String,
    /// `APPVER` (at most 4 characters).
    #[serde(default = "default_app_ver")]
    pub app_ver: String,
    /// v1 servers that reject closing tags on leaves.
    #[serde(default)]
    pub unclosed_elements: bool,
    /// Servers that need a newline after each element.
    #[serde(default)]
    pub pretty: bool,
    /// The `User-Agent` the server expects.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Whether to send a `CLIENTUID` (OFX 1.0.3 and later); on unless turned off.
    #[serde(default)]
    pub client_uid: Option<bool>,
    /// Servers that reject a `NEWFILEUID` other than `NONE`.
    #[serde(default)]
    pub no_new_file_uid: bool,
    /// Ask the server's profile (PROFRQ) before the first sign-on.
    #[serde(default)]
    pub profile: bool,
}

fn default_version() -> u16 {
    220
}

fn default_app_id() -> String {
    "QWIN".into()
}

fn default_app_ver() -> String {
    "2700".into()
}

impl OfxConfig {
    /// Reads and checks settings; the message says what is wrong.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let config: OfxConfig = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let url = url::Url::parse(&config.ofx_url).map_err(|_| "`ofx_url` must be an absolute URL".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("`ofx_url` must be an http(s) URL with a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("`ofx_url` must not carry credentials".into());
        }
        if !SUPPORTED_VERSIONS.contains(&config.ofx_version) {
            return Err(format!(
                "`ofx_version` {} is not one of {}",
                config.ofx_version,
                SUPPORTED_VERSIONS.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
        let short = |name: &str, v: &str, max: usize| {
            if v.is_empty() || v.chars().count() > max || !v.chars().all(|c| c.is_ascii_graphic()) {
                Err(format!("`{name}` must be 1 to {max} printable characters"))
            } else {
                Ok(())
            }
        };
        short("org", &config.org, 32)?;
        short("fid", &config.fid, 32)?;
        short("app_id", &config.app_id, 5)?;
        short("app_ver", &config.app_ver, 4)?;
        if let Some(b) = &config.bank_id {
            short("bank_id", b, 9)?;
        }
        if let Some(b) = &config.broker_id {
            short("broker_id", b, 22)?;
        }
        Ok(config)
    }

    /// Whether requests carry a `CLIENTUID` (never below 1.0.3, where it does not exist).
    pub fn sends_client_uid(&self) -> bool {
        self.ofx_version >= 103 && self.client_uid.unwrap_or(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_checked_with_clear_messages() {
        let ok =
            OfxConfig::from_json(&json!({"ofx_url": "https://ofx.example.com", "org": "B1", "fid": "10898"})).unwrap();
        assert_eq!((ok.ofx_version, ok.app_id.as_str(), ok.app_ver.as_str()), (220, "QWIN", "2700"));
        assert!(ok.sends_client_uid());
        let err = |v: serde_json::Value| OfxConfig::from_json(&v).unwrap_err();
        assert!(err(json!({"org": "B1", "fid": "1"})).contains("ofx_url"));
        assert!(err(json!({"ofx_url": "ftp://x", "org": "B1", "fid": "1"})).contains("http"));
        assert!(err(json!({"ofx_url": "https://x", "org": "B1", "fid": "1", "ofx_version": 999})).contains("999"));
        assert!(err(json!({"ofx_url": "https://x", "org": "B1", "fid": "1", "app_id": "QUICKEN"})).contains("app_id"));
        assert!(
            err(json!({"ofx_url": "https://x", "org": "B1", "fid": "1", "unclosedelements": true}))
                .contains("unknown field")
        );
        let v1 = OfxConfig::from_json(&json!({"ofx_url": "https://x", "org": "B1", "fid": "1", "ofx_version": 102}))
            .unwrap();
        assert!(!v1.sends_client_uid());
    }
}
