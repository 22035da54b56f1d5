//! OAuth members: OAuth 2.0 authorization code with PKCE and `state`, against the provider an
//! institution names (`institution_oauth`). The sandbox bank's own provider is
//! `sandbox_oauth.rs`.
//!
//! A window URI (`{public}/oauth/start/{state}`) works once and for ten minutes: following it
//! redirects to the provider's authorization page; the provider redirects back to
//! `{public}/oauth/callback`, where Ferry exchanges the code (with the PKCE verifier) for tokens,
//! seals them where credentials go, and queues the member's aggregation. Tokens are refreshed
//! before a job uses them once they are about to expire.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_domain::{Client, ConnectionStatus, Member, Secret};
use ferry_store::{OAuthProvider, OAuthState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::institutions::InstitutionRef;
use crate::{Error, MemberRef, Result, Service, UserRef};

/// How long a window URI (and the flow it starts) stays valid.
const WINDOW_TTL: Duration = Duration::minutes(10);
/// Tokens this close to expiry are refreshed before use.
const REFRESH_MARGIN: Duration = Duration::minutes(1);

/// The options of a window URI (`GET .../oauth_window_uri`, member creation).
#[derive(Debug, Clone, Default)]
pub struct WindowOptions {
    pub client_redirect_url: Option<String>,
    pub referral_source: Option<String>,
    pub ui_message_webview_url_scheme: Option<String>,
    pub enable_app2app: Option<bool>,
    pub skip_aggregation: bool,
}

/// Why an OAuth page cannot go on: shown to the end user as a page, never as JSON.
#[derive(Debug, Clone)]
pub struct OAuthPageError {
    pub status: u16,
    pub message: String,
}

impl OAuthPageError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        OAuthPageError { status, message: message.into() }
    }
}

impl From<Error> for OAuthPageError {
    fn from(e: Error) -> Self {
        if e.is_internal() {
            tracing::error!(error = %e, "oauth flow failed");
            OAuthPageError::new(500, "Something went wrong on our side. Close this window and try again.")
        } else {
            OAuthPageError::new(400, e.to_string())
        }
    }
}

/// How the flow ended, for the page or redirect that closes it.
#[derive(Debug, Clone)]
pub struct OAuthDone {
    pub member_guid: String,
    pub user_guid: String,
    /// `success`, or `error` with a reason (MX's `error_reason`: DENIED, PROVIDER_ERROR, ...).
    pub status: &'static str,
    pub error_reason: Option<&'static str>,
    /// For `referral_source=APP`: where to send the end user (query already appended).
    pub app_redirect: Option<String>,
}

/// Tokens as the provider's token endpoint answers (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default = "bearer")]
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

/// A member's tokens as sealed in the store.
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access_token: String,
    refresh_token: Option<String>,
    /// Unix seconds; `None` when the provider gave no lifetime.
    expires_at: Option<i64>,
}

pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Whether `s` can be one of our random tokens (a state, a code): anything else names nothing,
/// and is never sent to the database (PostgreSQL refuses NUL in text).
pub(crate) fn token_like(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.contains('\0')
}

pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Appends query parameters to a URL that may already have some.
pub(crate) fn with_query(base: &str, params: &[(&str, &str)]) -> Result<String> {
    let mut url = url::Url::parse(base).map_err(|_| Error::bad_request(format!("`{base}` is not an absolute URL")))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

impl Service {
    /// Ferry's public base URL (where other apps reach it), without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.inner.config.public_url.trim_end_matches('/')
    }

    pub(crate) fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.public_url())
    }

    /// A provider URL as configured: absolute, or a path on Ferry's public URL.
    fn provider_url(&self, configured: &str) -> String {
        if configured.starts_with('/') { format!("{}{configured}", self.public_url()) } else { configured.to_owned() }
    }

    async fn provider_of(&self, m: &Member) -> Result<OAuthProvider> {
        let entry = self.catalog_entry(&InstitutionRef::Guid(m.institution_guid.clone())).await?;
        self.db().get_oauth_provider(&entry.0.guid).await?.ok_or_else(|| {
            Error::bad_request(format!("institution `{}` has no OAuth provider configured", entry.0.code))
        })
    }

    /// Issues a fresh window URI for an OAuth member and records it on the member.
    pub(crate) async fn issue_window(&self, m: &mut Member, opts: &WindowOptions) -> Result<String> {
        self.provider_of(m).await?;
        let state = random_token();
        let verifier = random_token();
        let (key_id, sealed) = self.inner.keyring.seal(format!("oauth-state:{state}").as_bytes(), verifier.as_bytes());
        let now = self.now();
        let app = opts.referral_source.as_deref() == Some("APP");
        self.db()
            .insert_oauth_state(&OAuthState {
                state: state.clone(),
                member_guid: m.guid.clone(),
                client_id: m.client_id.clone(),
                verifier_key_id: key_id,
                verifier_sealed: sealed,
                // MX honours the redirect and the scheme only for apps.
                client_redirect_url: if app { opts.client_redirect_url.clone() } else { None },
                referral_source: opts.referral_source.clone(),
                ui_message_webview_url_scheme: if app { opts.ui_message_webview_url_scheme.clone() } else { None },
                enable_app2app: opts.enable_app2app,
                skip_aggregation: opts.skip_aggregation,
                created_at: now,
                expires_at: now + WINDOW_TTL,
                opened_at: None,
                completed_at: None,
            })
            .await?;
        let uri = format!("{}/oauth/start/{state}", self.public_url());
        m.oauth_window_uri = Some(uri.clone());
        m.updated_at = now;
        self.db().set_oauth_window_uri(&m.guid, Some(&uri), now).await?;
        Ok(uri)
    }

    /// `GET .../members/{m}/oauth_window_uri`: a fresh one-time URI.
    pub async fn oauth_window_uri(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        opts: WindowOptions,
    ) -> Result<Member> {
        crate::validate::opt_text("client_redirect_url", opts.client_redirect_url.as_deref(), 2048)?;
        crate::validate::opt_text("ui_message_webview_url_scheme", opts.ui_message_webview_url_scheme.as_deref(), 255)?;
        if let Some(r) = &opts.referral_source
            && r != "APP"
            && r != "BROWSER"
        {
            return Err(Error::bad_request("referral_source must be APP or BROWSER"));
        }
        if let Some(u) = &opts.client_redirect_url {
            with_query(u, &[]).map_err(|_| Error::bad_request("client_redirect_url must be an absolute URL"))?;
        }
        let mut m = self.get_member(client, user, member).await?;
        if !m.is_oauth {
            return Err(Error::bad_request("the member does not connect through OAuth (is_oauth is false)"));
        }
        self.issue_window(&mut m, &opts).await?;
        Ok(m)
    }

    /// Follows a window URI: marks it used and answers the provider's authorization URL.
    pub async fn oauth_start(&self, state: &str) -> std::result::Result<String, OAuthPageError> {
        let expired = || {
            OAuthPageError::new(410, "This link has expired or was already used. Go back to the app and start again.")
        };
        if !token_like(state) {
            return Err(expired());
        }
        let s = self.db().get_oauth_state(state).await.map_err(Error::from)?.ok_or_else(expired)?;
        if !self.db().open_oauth_state(state, self.now()).await.map_err(Error::from)? {
            return Err(expired());
        }
        let m = self
            .db()
            .get_member_for_job(&s.member_guid)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| OAuthPageError::new(404, "This connection no longer exists."))?;
        let provider = self.provider_of(&m).await?;
        let verifier = self.open_verifier(&s)?;
        let url = with_query(
            &self.provider_url(&provider.authorize_url),
            &[
                ("response_type", "code"),
                ("client_id", &provider.client_id),
                ("redirect_uri", &self.callback_url()),
                ("state", state),
                ("code_challenge", &s256(&verifier)),
                ("code_challenge_method", "S256"),
                ("scope", &provider.scopes),
            ],
        )?;
        Ok(url)
    }

    fn open_verifier(&self, s: &OAuthState) -> std::result::Result<String, OAuthPageError> {
        let plain = self
            .inner
            .keyring
            .open(&s.verifier_key_id, &s.verifier_sealed, format!("oauth-state:{}", s.state).as_bytes())
            .map_err(|e| Error::Internal(format!("oauth state: {e}")))?;
        Ok(String::from_utf8(plain).map_err(|_| Error::Internal("oauth state: malformed verifier".into()))?)
    }

    /// The provider's redirect back: exchanges the code, stores the tokens and queues the
    /// aggregation; or records a denial. A reused or expired state changes nothing.
    pub async fn oauth_callback(
        &self,
        state: Option<&str>,
        code: Option<&str>,
        error: Option<&str>,
    ) -> std::result::Result<OAuthDone, OAuthPageError> {
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OAuthPageError::new(400, "The institution's answer has no state parameter."))?;
        let invalid = || {
            OAuthPageError::new(
                400,
                "This sign-in has expired or was already completed. Go back to the app and start again.",
            )
        };
        if !token_like(state) {
            return Err(invalid());
        }
        let s = self.db().get_oauth_state(state).await.map_err(Error::from)?.ok_or_else(invalid)?;
        if !self.db().complete_oauth_state(state, self.now()).await.map_err(Error::from)? {
            return Err(invalid());
        }
        let mut m = self
            .db()
            .get_member_for_job(&s.member_guid)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| OAuthPageError::new(404, "This connection no longer exists."))?;
        let done = |status: &'static str, reason: Option<&'static str>, m: &Member| -> OAuthDone {
            OAuthDone {
                member_guid: m.guid.to_string(),
                user_guid: m.user_guid.to_string(),
                status,
                error_reason: reason,
                app_redirect: app_redirect(&s, m, status, reason),
            }
        };
        if let Some(e) = error {
            if e == "access_denied" {
                m.connection_status = ConnectionStatus::DENIED;
                m.connection_status_message = Some("The user denied access at the institution.".into());
                m.updated_at = self.now();
                let events = self.status_events(&m, m.callback_payload.clone());
                self.db().update_member_progress_with(&m, &events, None).await.map_err(Error::from)?;
                self.events_written();
                return Ok(done("error", Some("DENIED"), &m));
            }
            tracing::warn!(member = %m.guid, error = e, "the oauth provider answered with an error");
            return Ok(done("error", Some("PROVIDER_ERROR"), &m));
        }
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthPageError::new(400, "The institution's answer has no authorization code."))?;
        let provider = self.provider_of(&m).await?;
        let verifier = self.open_verifier(&s)?;
        let tokens = match self
            .token_request(
                &provider,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.callback_url()),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(member = %m.guid, error = %e, "oauth code exchange failed");
                return Ok(done("error", Some("PROVIDER_ERROR"), &m));
            }
        };
        let now = self.now();
        m.connection_status = ConnectionStatus::CONNECTED;
        m.connection_status_message = ConnectionStatus::CONNECTED.message().map(str::to_owned);
        m.oauth_window_uri = None;
        m.updated_at = now;
        let events = self.status_events(&m, m.callback_payload.clone());
        // The tokens, the member's new status, its events and its first aggregation go in
        // together (the state was consumed before the exchange, so a replayed callback cannot
        // exchange twice; a kill -9 in between leaves a PENDING member to start over).
        // A member that asked only for verification (the widget's verification mode) starts with
        // a verification; every other one with an aggregation.
        let first = crate::members::first_job_for(&m.products);
        let job = (!s.skip_aggregation)
            .then(|| self.new_job(&m, first, false, m.callback_payload.clone()))
            .filter(|_| Self::check_can_aggregate(&m).is_ok());
        let (key_id, sealed) = self.seal_tokens(&m, &tokens);
        let queued =
            self.db().connect_oauth_member(&m, &events, (&key_id, &sealed), job.as_ref()).await.map_err(Error::from)?;
        self.events_written();
        if let Some(job) = job.filter(|_| queued) {
            m.is_being_aggregated = true;
            m.most_recent_job_guid = Some(job.guid);
            self.inner.work.notify_one();
        }
        Ok(done("success", None, &m))
    }

    async fn store_tokens(&self, m: &Member, t: &TokenResponse) -> Result<()> {
        let (key_id, sealed) = self.seal_tokens(m, t);
        self.db().set_member_tokens(&m.guid, &key_id, &sealed).await?;
        Ok(())
    }

    /// A member's tokens sealed like credentials, bound to the member: (key id, ciphertext).
    fn seal_tokens(&self, m: &Member, t: &TokenResponse) -> (String, String) {
        let stored = StoredTokens {
            access_token: t.access_token.clone(),
            refresh_token: t.refresh_token.clone(),
            expires_at: t.expires_in.map(|s| (self.now() + Duration::seconds(s)).unix_timestamp()),
        };
        let plain = serde_json::to_vec(&stored).unwrap_or_default();
        self.inner.keyring.seal(format!("oauth:{}", m.guid).as_bytes(), &plain)
    }

    /// POSTs a form to the provider's token endpoint (RFC 6749 §4.1.3, §6).
    async fn token_request(&self, provider: &OAuthProvider, params: &[(&str, &str)]) -> Result<TokenResponse> {
        let mut form: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        form.push(("client_id", provider.client_id.clone()));
        if let (Some(k), Some(s)) = (&provider.client_secret_key_id, &provider.client_secret_sealed) {
            let secret = self
                .inner
                .keyring
                .open(k, s, b"oauth-client-secret")
                .map_err(|e| Error::Internal(format!("oauth client secret: {e}")))?;
            form.push(("client_secret", String::from_utf8_lossy(&secret).into_owned()));
        }
        let url = self.provider_url(&provider.token_url);
        let body = form.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let response = self
            .inner
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| Error::Internal(format!("token endpoint {url}: {e}")))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| Error::Internal(format!("token endpoint {url}: {e}")))?;
        if !status.is_success() {
            return Err(Error::bad_request(format!(
                "the token endpoint answered {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|_| Error::bad_request("the token endpoint's answer is not a token response"))
    }

    /// The access token of an OAuth member, refreshed first when it is about to expire.
    pub(crate) async fn oauth_access_token(&self, m: &Member) -> Result<Option<Secret>> {
        let Some(sealed) = self.db().get_member_credentials(&m.guid).await? else { return Ok(None) };
        if sealed.sealed.is_empty() {
            return Ok(None);
        }
        let plain = self
            .inner
            .keyring
            .open(&sealed.key_id, &sealed.sealed, format!("oauth:{}", m.guid).as_bytes())
            .map_err(|e| Error::Internal(format!("member {}: {e}", m.guid)))?;
        let tokens: StoredTokens = serde_json::from_slice(&plain)
            .map_err(|_| Error::Internal(format!("member {}: sealed tokens are malformed", m.guid)))?;
        let expiring = tokens.expires_at.is_some_and(|t| t <= (self.now() + REFRESH_MARGIN).unix_timestamp());
        if !expiring {
            return Ok(Some(Secret::new(tokens.access_token)));
        }
        let Some(refresh) = tokens.refresh_token.clone() else {
            return Ok(None); // Expired for good: the user must go through OAuth again.
        };
        let provider = self.provider_of(m).await?;
        match self.token_request(&provider, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await {
            Ok(mut fresh) => {
                // Providers may omit the refresh token when it does not rotate.
                fresh.refresh_token = fresh.refresh_token.or(Some(refresh));
                self.store_tokens(m, &fresh).await?;
                Ok(Some(Secret::new(fresh.access_token)))
            }
            // The provider refused the refresh token (revoked, expired): the user must go
            // through OAuth again.
            Err(e @ Error::BadRequest(_)) => {
                tracing::warn!(member = %m.guid, error = %e, "oauth token refresh refused");
                Ok(None)
            }
            // Not reaching the provider, or a secret we cannot open, is no reason to tell the
            // user to reconnect: the job is retried.
            Err(e) => Err(e),
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// For apps: the client's redirect URL (or `<scheme>://`) with the outcome as query parameters.
fn app_redirect(s: &OAuthState, m: &Member, status: &str, reason: Option<&str>) -> Option<String> {
    if s.referral_source.as_deref() != Some("APP") {
        return None;
    }
    let base = match (&s.client_redirect_url, &s.ui_message_webview_url_scheme) {
        (Some(u), _) => u.clone(),
        (None, Some(scheme)) => format!("{scheme}://oauth_complete"),
        (None, None) => return None,
    };
    let mut params = vec![("status", status), ("member_guid", m.guid.as_str())];
    if let Some(r) = reason {
        params.push(("error_reason", r));
    }
    with_query(&base, &params).ok()
}

/// An institution's OAuth provider as an operator configures it.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: String,
}

impl Service {
    /// Points an institution at an OAuth provider (and marks it as supporting OAuth): real
    /// providers need configuration, not code.
    pub async fn configure_oauth_provider(&self, code: &str, p: ProviderConfig) -> Result<()> {
        for (field, url) in [("authorize_url", &p.authorize_url), ("token_url", &p.token_url)] {
            let ok = url.starts_with('/') || url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            if !ok {
                return Err(Error::bad_request(format!("{field} must be an http(s) URL or a path on the public URL")));
            }
        }
        crate::validate::text("client_id", &p.client_id, 255)?;
        if p.client_id.trim().is_empty() {
            return Err(Error::bad_request("client_id must not be empty"));
        }
        let mut institution = self.db().get_institution_by_code(code).await?.ok_or(Error::NotFound("institution"))?;
        let (client_secret_key_id, client_secret_sealed) = match &p.client_secret {
            Some(s) => {
                let (k, v) = self.inner.keyring.seal(b"oauth-client-secret", s.expose().as_bytes());
                (Some(k), Some(v))
            }
            None => (None, None),
        };
        self.db()
            .set_oauth_provider(
                &institution.guid,
                &OAuthProvider {
                    authorize_url: p.authorize_url,
                    token_url: p.token_url,
                    client_id: p.client_id,
                    client_secret_key_id,
                    client_secret_sealed,
                    scopes: p.scopes,
                },
            )
            .await?;
        if !institution.supports_oauth {
            institution.supports_oauth = true;
            let fields = self.db().list_institution_credentials(&institution.guid).await?;
            self.db().upsert_institution(&institution, &fields).await?;
        }
        Ok(())
    }
}
