//! Request extractors that answer bad input with the dialect's JSON error body instead of
//! axum's plain-text rejections: the API version, JSON bodies and query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The Platform API version of a request: no `Accept-Version` header means v20111101, which is
/// what every official SDK speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V20111101,
    V20250224,
}

impl Version {
    pub fn content_type(self) -> &'static str {
        match self {
            Version::V20111101 => "application/vnd.mx.api.v1+json",
            Version::V20250224 => "application/json",
        }
    }
}

/// JSON, or a statement's PDF (its route answers with that; the others answer JSON).
const ACCEPTABLE: &[&str] = &[
    "*/*",
    "application/*",
    "application/json",
    "application/vnd.mx.api.v1+json",
    "application/vnd.mx.api.v1+pdf",
    "application/pdf",
    // Atrium's media types: its router answers them with the Platform's shapes it shares.
    "application/vnd.mx.atrium.v1+json",
    "application/vnd.mx.atrium.v1+pdf",
];

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        version_of(&parts.headers)
    }
}

pub fn version_of(headers: &HeaderMap) -> Result<Version, ApiError> {
    let not_acceptable = |m: String| ApiError::new(StatusCode::NOT_ACCEPTABLE, m);
    if let Some(accept) = headers.get(header::ACCEPT) {
        let accept = accept.to_str().unwrap_or_default();
        let ok = accept.trim().is_empty()
            || accept.split(',').any(|range| {
                let media = range.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
                ACCEPTABLE.contains(&media.as_str())
            });
        if !ok {
            return Err(not_acceptable(format!(
                "cannot answer with any media type in Accept; use application/vnd.mx.api.v1+json or application/json (got `{}`)",
                accept.chars().take(100).collect::<String>()
            )));
        }
    }
    match headers.get("accept-version").map(|v| v.to_str().unwrap_or("<invalid>").trim()) {
        None | Some("") | Some("v20111101") => Ok(Version::V20111101),
        Some("v20250224") => Ok(Version::V20250224),
        Some(other) => Err(not_acceptable(format!(
            "unknown Accept-Version `{}`; supported versions are v20111101 and v20250224",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// A JSON body. Errors name the offending field: `member.is_oauth: invalid type: ...`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, format!("the request body is larger than {} bytes", crate::MAX_BODY_BYTES))
            } else {
                ApiError::new(status, "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { bytes };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("the request body is not valid JSON: {inner}"))
        } else if path.is_empty() || path == "." {
            ApiError::bad_request(format!("the request body has the wrong shape: {inner}"))
        } else if path.contains("credentials") || path.contains("challenges") {
            // serde quotes the offending value, and here it may be a password.
            ApiError::bad_request(format!("{path}: {}", plain(&without_value(strip_position(&inner.to_string())))))
        } else {
            ApiError::bad_request(format!("{path}: {}", plain(strip_position(&inner.to_string()))))
        }
    })?;
    de.end().map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// `invalid type: string "hunter2", expected a boolean` → `invalid type, expected a boolean`.
fn without_value(message: &str) -> String {
    match (message.find(':'), message.rfind(", expected")) {
        (Some(colon), Some(expected)) if colon < expected => format!("{}{}", &message[..colon], &message[expected..]),
        _ => "invalid value".to_owned(),
    }
}

/// serde names Rust types (`expected struct TransactionFields with 4 elements`); callers see
/// JSON words instead (`expected an object`).
fn plain(message: &str) -> String {
    match message.find("expected struct ") {
        Some(i) => format!("{}expected an object", &message[..i]),
        None => message.replace("a sequence", "an array").replace("a map", "an object"),
    }
}

fn strip_position(message: &str) -> &str {
    match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// The query string as name/value pairs, with typed getters that answer 400 naming the
/// parameter. `name[]` and repeated names both make lists.
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or_default();
        Ok(QueryParams(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name` or `name[]`, commas also splitting.
    pub fn list(&self, name: &str) -> Vec<String> {
        let bracketed = format!("{name}[]");
        self.0
            .iter()
            .filter(|(k, _)| k == name || *k == bracketed)
            .flat_map(|(_, v)| {
                v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>()
            })
            .collect()
    }

    /// An integer; digits beyond `i64` saturate (a page number that large is merely "too big").
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name).map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if let Ok(n) = v.parse() {
            return Ok(Some(n));
        }
        let (negative, digits) = match v.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, v.strip_prefix('+').unwrap_or(v)),
        };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Some(if negative { i64::MIN } else { i64::MAX }));
        }
        Err(ApiError::bad_request(format!("{name} must be an integer")))
    }

    /// The options of an OAuth window URI request (`client_redirect_url`, `referral_source`,
    /// `ui_message_webview_url_scheme`, `skip_aggregation` and, where the dialect has it,
    /// `enable_app2app`), the same in every dialect.
    pub fn window_options(&self, with_app2app: bool) -> Result<ferry_core::WindowOptions, ApiError> {
        let text = |k: &str| self.get(k).map(str::to_owned).filter(|v| !v.is_empty());
        Ok(ferry_core::WindowOptions {
            client_redirect_url: text("client_redirect_url"),
            referral_source: text("referral_source"),
            ui_message_webview_url_scheme: text("ui_message_webview_url_scheme"),
            enable_app2app: if with_app2app { self.bool("enable_app2app")? } else { None },
            skip_aggregation: self.bool("skip_aggregation")?.unwrap_or(false),
        })
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_request(format!("{name} must be true or false"))),
        }
    }

    /// MX's pagination parameters, with `max` records per page.
    pub fn page(&self, max: u32) -> Result<ferry_domain::PageRequest, ApiError> {
        Ok(ferry_domain::PageRequest::new(self.int("page")?, self.int("records_per_page")?, max))
    }
}

/// Reads an optional header as text; a header that is not visible ASCII is a 400.
pub fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.to_owned()))
            .map_err(|_| ApiError::bad_request(format!("the {name} header must be ASCII text"))),
    }
}

/// Path parameters. A segment axum cannot decode (invalid UTF-8 after percent-decoding) names
/// nothing that exists: 404 with the JSON error body, not axum's plain-text 400.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(_) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no object at {}", parts.uri.path().chars().take(200).collect::<String>()),
            )),
        }
    }
}
