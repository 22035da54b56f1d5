//! The SimpleFIN connector (protocol 1.x, reading the 2.x draft's shapes too). A member holds
//! one Setup Token; the first job claims it (one POST), keeps only the access URL (sealed, as
//! the member's connector state) and forgets the token. Jobs then read `/accounts`:
//!
//! - discovery once, with `balances-only=1`;
//! - the first history in windows of at most 89 days (the servers cap a request at 90);
//! - routine syncs from the last successful one minus 7 days, with `pending=1`;
//! - never more than [`DAILY_BUDGET`] requests in 24 hours per member (the Bridge allows about
//!   24): past it, the member is DELAYED until a request leaves the window.
//!
//! Errors map onto statuses as protocols.md B5 says: a refused claim or access is DENIED, an
//! unpaid subscription IMPEDED, a connection that needs attention at the Bridge IMPEDED (or
//! DEGRADED when other connections are fine), a spent quota DELAYED, an unreachable server
//! DISCONNECTED. SimpleFIN never asks MFA (that happens at the Bridge).

mod map;
mod token;
mod wire;

#[cfg(feature = "fake")]
pub mod fake;

use std::time::Duration as StdDuration;

use ferry_connector::net::{AddressPolicy, BodyError, describe, guarded_client, read_limited};
use ferry_connector::{
    AccountData, Answer, CatalogProfile, Connector, ConnectorError, Failure, FieldSpec, HoldingData, LoginOutcome,
    LoginRequest, PullRequest, Pulled, Refusal, Result, Session, TransactionData,
};
use ferry_domain::Product;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Time};

use crate::token::{Access, TokenError};

/// The credential field that holds the setup token.
pub const SETUP_TOKEN_FIELD: &str = "setup_token";

/// Requests to `/accounts` a member may make in any 24 hours.
pub const DAILY_BUDGET: usize = 20;

/// The widest window one request asks for (servers cap at 90 days).
const WINDOW_DAYS: i64 = 89;

/// Routine syncs start this long before the last successful one (late-posting transactions).
const OVERLAP_DAYS: i64 = 7;

/// The largest response Ferry reads (a few years of a busy household is well under this).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What the member's connector state holds: the access URL and the times of recent requests.
/// Its `Debug` never shows the access URL (a bearer secret).
#[derive(Default, Clone, Serialize, Deserialize)]
struct State {
    access_url: Option<String>,
    /// Unix times of the requests to `/accounts` in the last 24 hours.
    #[serde(default)]
    calls: Vec<i64>,
    /// Whether the first history was read (routine syncs read less).
    #[serde(default)]
    backfilled: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("access_url", &self.access_url.as_ref().map(|_| "***"))
            .field("calls", &self.calls.len())
            .field("backfilled", &self.backfilled)
            .finish()
    }
}

/// What a session carries between the login and the data calls (in memory only).
#[derive(Serialize, Deserialize)]
struct SessionState {
    state: State,
    now: i64,
    last_success: Option<i64>,
}

/// The SimpleFIN connector.
pub struct SimpleFin {
    http: reqwest::Client,
    policy: AddressPolicy,
}

impl SimpleFin {
    /// A connector whose requests obey `policy` and time out after `timeout`.
    pub fn new(policy: AddressPolicy, timeout: StdDuration) -> Self {
        Self { http: guarded_client(policy, timeout, "Ferry-SimpleFIN/1"), policy }
    }
}

fn refused(failure: Failure, message: impl Into<String>) -> ConnectorError {
    ConnectorError::Refused(Refusal::new(failure, message))
}

fn unreachable_message() -> String {
    "The SimpleFIN server could not be reached. Ferry will try again later.".into()
}

/// The transport failed: the server is down or slow (DISCONNECTED), or answered more than
/// Ferry reads (FAILED).
fn transport(e: &reqwest::Error) -> ConnectorError {
    tracing::info!(error = %describe(e), "SimpleFIN request failed");
    refused(Failure::Disconnected, unreachable_message())
}

impl SimpleFin {
    /// Claims a setup token: the access URL, or the refusal the member's status shows.
    async fn claim(&self, token: &str) -> Result<String> {
        let url = token::claim_url(token, self.policy).map_err(|e| refused(Failure::Denied, e.message()))?;
        let response =
            self.http.post(url).header(reqwest::header::CONTENT_LENGTH, "0").send().await.map_err(|e| transport(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(refused(
                Failure::Denied,
                "This setup token was already claimed, or it is not valid. If you did not use it yourself, it may \
                 be compromised: disable it at your SimpleFIN server and create a new one.",
            ));
        }
        if status.is_server_error() {
            return Err(refused(Failure::Disconnected, unreachable_message()));
        }
        if !status.is_success() {
            return Err(refused(
                Failure::Failed,
                format!("The SimpleFIN server refused the setup token (HTTP {}).", status.as_u16()),
            ));
        }
        let body = read_limited(response, 64 * 1024).await.map_err(|e| match e {
            BodyError::TooLarge => {
                refused(Failure::Failed, "The SimpleFIN server's answer to the claim is not an access URL.")
            }
            BodyError::Transport(_) => refused(Failure::Disconnected, unreachable_message()),
        })?;
        let text = String::from_utf8(body).unwrap_or_default();
        match token::access(&text, self.policy) {
            Ok(_) => Ok(text.trim().to_owned()),
            Err(TokenError::Malformed) => {
                Err(refused(Failure::Failed, "The SimpleFIN server's answer to the claim is not an access URL."))
            }
            Err(e) => Err(refused(Failure::Failed, e.message())),
        }
    }

    /// One request to `/accounts`, counted against the member's budget (and saved first, so
    /// a crash cannot forget it). `Err` is the refusal the member's status shows.
    async fn fetch(
        &self,
        session: &Session,
        st: &mut State,
        now: OffsetDateTime,
        query: &[(&str, String)],
    ) -> Result<wire::AccountSet> {
        let access_text = st.access_url.clone().ok_or_else(|| refused(Failure::Impaired, needs_token()))?;
        let access: Access =
            token::access(&access_text, self.policy).map_err(|e| refused(Failure::Denied, e.message()))?;
        let day_ago = (now - Duration::DAY).unix_timestamp();
        st.calls.retain(|t| *t > day_ago);
        if st.calls.len() >= DAILY_BUDGET {
            let refill =
                OffsetDateTime::from_unix_timestamp(st.calls.iter().min().copied().unwrap_or(day_ago) + 86_400)
                    .unwrap_or(now + Duration::HOUR);
            return Err(quota(refill.max(now + Duration::MINUTE)));
        }
        st.calls.push(now.unix_timestamp());
        session.state_store.save(&to_json(st), false).await?;

        let url = access.base.join("accounts").map_err(|_| refused(Failure::Failed, "The access URL is malformed."))?;
        let response = self
            .http
            .get(url)
            .basic_auth(&access.username, Some(&access.password))
            .query(query)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => {}
            403 | 401 => {
                return Err(refused(
                    Failure::Denied,
                    "SimpleFIN no longer accepts Ferry's access: it was revoked or has expired. Create a new setup \
                     token and update this connection with it.",
                ));
            }
            402 => {
                return Err(refused(
                    Failure::Impeded,
                    "Your SimpleFIN subscription needs attention (payment required). Renew it at your SimpleFIN \
                     server; Ferry will connect again afterwards.",
                ));
            }
            429 => return Err(quota(now + Duration::hours(6))),
            500..=599 => return Err(refused(Failure::Disconnected, unreachable_message())),
            code => {
                return Err(refused(
                    Failure::Failed,
                    format!("The SimpleFIN server refused the request (HTTP {code})."),
                ));
            }
        }
        let body = read_limited(response, MAX_BODY).await.map_err(|e| match e {
            BodyError::TooLarge => refused(Failure::Failed, "The SimpleFIN server sent more data than Ferry reads."),
            BodyError::Transport(_) => refused(Failure::Disconnected, unreachable_message()),
        })?;
        let set: wire::AccountSet = serde_json::from_slice(&body)
            .map_err(|_| refused(Failure::Failed, "The SimpleFIN server sent an answer Ferry cannot read."))?;
        if set.accounts.is_empty()
            && let Some(r) = map::refusal_of_errors(&set, now)
        {
            return Err(ConnectorError::Refused(r));
        }
        Ok(set)
    }
}

fn needs_token() -> String {
    "Paste a SimpleFIN setup token to connect.".into()
}

/// The quota is spent until `at`.
fn quota(at: OffsetDateTime) -> ConnectorError {
    ConnectorError::Refused(Refusal {
        failure: Failure::Delayed,
        message: "SimpleFIN allows only a few updates a day and they are used up. Ferry will update this \
                  connection again when more are available."
            .into(),
        retry_at: Some(at),
    })
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn session_state(session: &Session) -> Result<SessionState> {
    serde_json::from_str(&session.state).map_err(|_| ConnectorError::Other("malformed SimpleFIN session".into()))
}

/// Midnight UTC of `d`, as the protocol's unix seconds.
fn epoch(d: Date) -> i64 {
    d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()
}

#[async_trait::async_trait]
impl Connector for SimpleFin {
    fn catalog_profile(&self, _config: &serde_json::Value) -> CatalogProfile {
        CatalogProfile {
            fields: vec![FieldSpec {
                field_name: SETUP_TOKEN_FIELD.into(),
                label: "SimpleFIN Setup Token".into(),
                kind: "PASSWORD",
            }],
            products: vec![Product::Transactions, Product::Investments],
            default_instructions: Some(
                "Create a Setup Token at your SimpleFIN server and paste it here. It works once: Ferry exchanges it \
                 for access and forgets it."
                    .into(),
            ),
        }
    }

    async fn login(&self, request: &LoginRequest) -> Result<LoginOutcome> {
        let mut st: State =
            request.state.as_ref().and_then(|s| serde_json::from_str(s.expose()).ok()).unwrap_or_default();
        let token = request.credentials.get(SETUP_TOKEN_FIELD).map(|t| t.expose().trim()).filter(|t| !t.is_empty());
        if let Some(token) = token {
            // A new token (the first, or one the user gave to repair the connection): claim it,
            // keep what it answers, forget it.
            let access_url = self.claim(token).await?;
            st = State { access_url: Some(access_url), calls: st.calls, backfilled: false };
            // The token is spent now: keeping what it bought matters more than anything else in
            // the job, so a failing write is tried again before the job gives up (a job that
            // gave up would claim the spent token again and be refused).
            let mut attempt = 0;
            loop {
                match request.state_store.save(&to_json(&st), true).await {
                    Ok(()) => break,
                    Err(e) if attempt >= 4 => return Err(e),
                    Err(_) => {
                        attempt += 1;
                        tokio::time::sleep(StdDuration::from_millis(200 * attempt)).await;
                    }
                }
            }
        }
        if st.access_url.is_none() {
            return Err(refused(Failure::Impaired, needs_token()));
        }
        let session = SessionState {
            state: st,
            now: request.now.unix_timestamp(),
            last_success: request.last_success.map(OffsetDateTime::unix_timestamp),
        };
        Ok(LoginOutcome::Connected(Session {
            member_key: request.member_key.clone(),
            state: to_json(&session),
            state_store: request.state_store.clone(),
        }))
    }

    async fn answer(&self, request: &LoginRequest, _state: &str, _answers: &[Answer]) -> Result<LoginOutcome> {
        // SimpleFIN never challenges; a stray answer just logs in again.
        self.login(request).await
    }

    async fn pull(&self, session: &Session, request: &PullRequest) -> Result<Pulled> {
        let SessionState { state: mut st, now, last_success } = session_state(session)?;
        let now = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut collected = map::Collected::default();

        let discovery = request.transactions.is_none() || !st.backfilled;
        if discovery {
            let set = self.fetch(session, &mut st, now, &[("balances-only", "1".into())]).await?;
            collected.add(set, false);
        }
        let mut complete_since = None;
        if let Some((from, to)) = request.transactions {
            let end = to + Duration::DAY; // The protocol's end-date is exclusive.
            let start = match last_success.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()) {
                Some(t) if st.backfilled => (t.date() - Duration::days(OVERLAP_DAYS)).max(from),
                _ => from,
            };
            let mut window_start = start;
            while window_start < end {
                let window_end = (window_start + Duration::days(WINDOW_DAYS)).min(end);
                let query = [
                    ("start-date", epoch(window_start).to_string()),
                    ("end-date", epoch(window_end).to_string()),
                    ("pending", "1".to_owned()),
                ];
                let set = self.fetch(session, &mut st, now, &query).await?;
                collected.add(set, true);
                window_start = window_end;
            }
            st.backfilled = true;
            complete_since = Some(start);
        }
        session.state_store.save(&to_json(&st), false).await?;
        Ok(collected.finish(request.holdings, complete_since))
    }

    async fn accounts(&self, session: &Session) -> Result<Vec<AccountData>> {
        Ok(self.pull(session, &PullRequest { transactions: None, holdings: false }).await?.accounts)
    }

    async fn transactions(
        &self,
        session: &Session,
        account_id: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<TransactionData>> {
        let pulled = self.pull(session, &PullRequest { transactions: Some((from, to)), holdings: false }).await?;
        Ok(pulled.transactions.into_iter().filter(|t| t.account_id == account_id).collect())
    }

    async fn holdings(&self, session: &Session) -> Result<Vec<HoldingData>> {
        let pulled = self.pull(session, &PullRequest { transactions: None, holdings: true }).await?;
        Ok(pulled.holdings.unwrap_or_default())
    }
}
