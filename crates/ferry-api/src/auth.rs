//! HTTP Basic authentication of a client (`client_id:api_key`).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferry_core::Service;
use ferry_domain::Client;

use crate::ApiError;

/// The authenticated client of a request.
pub struct Auth(pub Client);

impl FromRequestParts<Service> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, Self::Rejection> {
        let unauthorized = || ApiError::from(ferry_core::Error::Unauthorized);
        // Atrium's headers carry the same client credentials.
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        if let (Some(key), Some(id)) = (header("mx-api-key"), header("mx-client-id")) {
            return admitted(parts, service.authenticate(id, key).await?);
        }
        if parts.headers.contains_key("mx-api-key") || parts.headers.contains_key("mx-client-id") {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "authentication required: both MX-API-Key and MX-Client-ID",
            ));
        }
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "authentication required: HTTP Basic with client_id:api_key",
            )
        })?;
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(unauthorized());
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| unauthorized())?;
        let decoded = String::from_utf8(decoded).map_err(|_| unauthorized())?;
        let (id, key) = decoded.split_once(':').ok_or_else(unauthorized)?;
        admitted(parts, service.authenticate(id, key).await?)
    }
}

/// The client, when its request rate allows one more request.
fn admitted(parts: &Parts, client: Client) -> Result<Auth, ApiError> {
    if let Some(limiter) = parts.extensions.get::<crate::limits::Limiter>() {
        limiter.admit(client.id.as_str())?;
    }
    Ok(Auth(client))
}
