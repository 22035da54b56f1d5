//! The sandbox bank's OAuth 2.0 provider (MX Bank (OAuth)): its authorization page's checks and
//! decisions, and its token endpoint, with single-use codes bound to a PKCE challenge. A real
//! institution's provider is configuration (`institution_oauth`), not code.

use ferry_store::SandboxCode;
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::oauth::{OAuthPageError, TokenResponse, random_token, s256, with_query};
use crate::{Error, Service};

/// How long a sandbox authorization code stays valid.
const CODE_TTL: Duration = Duration::minutes(1);
/// The lifetime of sandbox access tokens.
const SANDBOX_TOKEN_SECONDS: i64 = 3600;
/// The client id the sandbox provider knows.
pub const SANDBOX_CLIENT_ID: &str = "ferry-sandbox";

/// An RFC 6749 error answer of the sandbox token endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct TokenError {
    pub error: &'static str,
    pub error_description: String,
}

fn token_error(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError { error, error_description: description.into() }
}

/// The parameters of an authorization request to the sandbox provider.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: Option<String>,
}

/// A form posted to the sandbox token endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

impl Service {
    /// Checks an authorization request to the sandbox provider.
    pub fn sandbox_check_authorize(&self, p: &AuthorizeParams) -> std::result::Result<(), OAuthPageError> {
        let bad = |m: &str| Err(OAuthPageError::new(400, m));
        if p.response_type.as_deref() != Some("code") {
            return bad("response_type must be `code`.");
        }
        if p.client_id.as_deref() != Some(SANDBOX_CLIENT_ID) {
            return bad("Unknown client_id.");
        }
        if p.redirect_uri.as_deref() != Some(self.callback_url().as_str()) {
            return bad("redirect_uri is not registered for this client.");
        }
        if p.state.as_deref().is_none_or(str::is_empty) {
            return bad("state is required.");
        }
        if p.code_challenge_method.as_deref() != Some("S256")
            || p.code_challenge.as_deref().is_none_or(|c| c.len() < 43)
        {
            return bad("PKCE is required: code_challenge with code_challenge_method=S256.");
        }
        Ok(())
    }

    /// The end user pressed Authorize or Deny on the sandbox bank's page: where to send them.
    pub async fn sandbox_decide(
        &self,
        p: &AuthorizeParams,
        approve: bool,
    ) -> std::result::Result<String, OAuthPageError> {
        self.sandbox_check_authorize(p)?;
        let (redirect, state) = (p.redirect_uri.clone().unwrap_or_default(), p.state.clone().unwrap_or_default());
        if !approve {
            return Ok(with_query(&redirect, &[("error", "access_denied"), ("state", &state)])?);
        }
        let code = random_token();
        self.db()
            .insert_sandbox_code(&SandboxCode {
                code: code.clone(),
                client_id: SANDBOX_CLIENT_ID.into(),
                redirect_uri: redirect.clone(),
                code_challenge: p.code_challenge.clone().unwrap_or_default(),
                expires_at: self.now() + CODE_TTL,
                used_at: None,
            })
            .await
            .map_err(Error::from)?;
        Ok(with_query(&redirect, &[("code", &code), ("state", &state)])?)
    }

    /// The sandbox provider's token endpoint.
    pub async fn sandbox_token(&self, r: &TokenRequest) -> std::result::Result<TokenResponse, TokenError> {
        if r.client_id.as_deref() != Some(SANDBOX_CLIENT_ID) {
            return Err(token_error("invalid_client", "unknown client_id"));
        }
        let issue = || TokenResponse {
            access_token: format!("sbx-at-{}", random_token()),
            token_type: "Bearer".into(),
            expires_in: Some(SANDBOX_TOKEN_SECONDS),
            refresh_token: Some(format!("sbx-rt-{}", random_token())),
            scope: Some("accounts transactions".into()),
        };
        match r.grant_type.as_deref() {
            Some("authorization_code") => {
                let code = r.code.as_deref().ok_or_else(|| token_error("invalid_request", "code is required"))?;
                if !crate::oauth::token_like(code) {
                    return Err(token_error("invalid_grant", "the code is unknown, expired or already used"));
                }
                let verifier = r
                    .code_verifier
                    .as_deref()
                    .ok_or_else(|| token_error("invalid_request", "code_verifier is required"))?;
                let stored = self
                    .db()
                    .take_sandbox_code(code, self.now())
                    .await
                    .map_err(|_| token_error("server_error", "the code could not be read"))?
                    .ok_or_else(|| token_error("invalid_grant", "the code is unknown, expired or already used"))?;
                if r.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
                    return Err(token_error("invalid_grant", "redirect_uri does not match the authorization request"));
                }
                if s256(verifier) != stored.code_challenge {
                    return Err(token_error("invalid_grant", "code_verifier does not match the code_challenge"));
                }
                Ok(issue())
            }
            Some("refresh_token") => match r.refresh_token.as_deref() {
                Some(t) if t.starts_with("sbx-rt-") => Ok(issue()),
                _ => Err(token_error("invalid_grant", "unknown refresh_token")),
            },
            _ => Err(token_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")),
        }
    }
}
