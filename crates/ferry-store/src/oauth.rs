//! OAuth: providers per institution, the states of issued window URIs, the sandbox provider's
//! authorization codes, and members' sealed tokens.

use ferry_domain::{ClientId, InstitutionGuid, Job, Member, MemberGuid};

use crate::jobs::{insert_job_row, mark_busy};
use crate::progress::write_progress_with_events;
use crate::webhooks::MemberEvents;
use sqlx::FromRow;
use time::OffsetDateTime;

use crate::{Db, Result, corrupt, from_micros, on_reader, on_writer, to_micros};

/// An institution's OAuth provider.
#[derive(Debug, Clone, FromRow)]
pub struct OAuthProvider {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret_key_id: Option<String>,
    pub client_secret_sealed: Option<String>,
    pub scopes: String,
}

/// One issued window URI.
#[derive(Debug, Clone)]
pub struct OAuthState {
    pub state: String,
    pub member_guid: MemberGuid,
    pub client_id: ClientId,
    pub verifier_key_id: String,
    pub verifier_sealed: String,
    pub client_redirect_url: Option<String>,
    pub referral_source: Option<String>,
    pub ui_message_webview_url_scheme: Option<String>,
    pub enable_app2app: Option<bool>,
    pub skip_aggregation: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub opened_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
}

#[derive(FromRow)]
struct StateRow {
    state: String,
    member_guid: String,
    client_id: String,
    verifier_key_id: String,
    verifier_sealed: String,
    client_redirect_url: Option<String>,
    referral_source: Option<String>,
    ui_message_webview_url_scheme: Option<String>,
    enable_app2app: Option<bool>,
    skip_aggregation: bool,
    created_at: i64,
    expires_at: i64,
    opened_at: Option<i64>,
    completed_at: Option<i64>,
}

impl StateRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_state(self) -> Result<OAuthState> {
        let key = self.member_guid.clone();
        self.parse_state().ok_or_else(|| corrupt("oauth_states", &key, "one of its columns"))
    }

    fn parse_state(self) -> Option<OAuthState> {
        Some(OAuthState {
            state: self.state,
            member_guid: MemberGuid::parse(&self.member_guid).ok()?,
            client_id: ClientId::parse(&self.client_id).ok()?,
            verifier_key_id: self.verifier_key_id,
            verifier_sealed: self.verifier_sealed,
            client_redirect_url: self.client_redirect_url,
            referral_source: self.referral_source,
            ui_message_webview_url_scheme: self.ui_message_webview_url_scheme,
            enable_app2app: self.enable_app2app,
            skip_aggregation: self.skip_aggregation,
            created_at: from_micros(self.created_at),
            expires_at: from_micros(self.expires_at),
            opened_at: self.opened_at.map(from_micros),
            completed_at: self.completed_at.map(from_micros),
        })
    }
}

/// A code the sandbox provider handed out.
#[derive(Debug, Clone)]
pub struct SandboxCode {
    pub code: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

#[derive(FromRow)]
struct SandboxCodeRow {
    code: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<SandboxCodeRow> for SandboxCode {
    fn from(r: SandboxCodeRow) -> Self {
        SandboxCode {
            code: r.code,
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            code_challenge: r.code_challenge,
            expires_at: from_micros(r.expires_at),
            used_at: r.used_at.map(from_micros),
        }
    }
}

impl Db {
    pub async fn get_oauth_provider(&self, institution: &InstitutionGuid) -> Result<Option<OAuthProvider>> {
        Ok(on_reader!(self, |conn| sqlx::query_as(
            "SELECT authorize_url, token_url, client_id, client_secret_key_id, client_secret_sealed, scopes
             FROM institution_oauth WHERE institution_guid = $1"
        )
        .bind(institution.as_str())
        .fetch_optional(&mut *conn)
        .await)?)
    }

    /// Configures (or replaces) an institution's provider.
    pub async fn set_oauth_provider(&self, institution: &InstitutionGuid, p: &OAuthProvider) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO institution_oauth (institution_guid, authorize_url, token_url, client_id,
                client_secret_key_id, client_secret_sealed, scopes)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (institution_guid) DO UPDATE SET authorize_url = excluded.authorize_url,
                token_url = excluded.token_url, client_id = excluded.client_id,
                client_secret_key_id = excluded.client_secret_key_id,
                client_secret_sealed = excluded.client_secret_sealed, scopes = excluded.scopes"
        )
        .bind(institution.as_str())
        .bind(&p.authorize_url)
        .bind(&p.token_url)
        .bind(&p.client_id)
        .bind(&p.client_secret_key_id)
        .bind(&p.client_secret_sealed)
        .bind(&p.scopes)
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn insert_oauth_state(&self, s: &OAuthState) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO oauth_states (state, member_guid, client_id, verifier_key_id, verifier_sealed,
                client_redirect_url, referral_source, ui_message_webview_url_scheme, enable_app2app,
                skip_aggregation, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )
        .bind(&s.state)
        .bind(s.member_guid.as_str())
        .bind(s.client_id.as_str())
        .bind(&s.verifier_key_id)
        .bind(&s.verifier_sealed)
        .bind(&s.client_redirect_url)
        .bind(&s.referral_source)
        .bind(&s.ui_message_webview_url_scheme)
        .bind(s.enable_app2app)
        .bind(s.skip_aggregation)
        .bind(to_micros(s.created_at))
        .bind(to_micros(s.expires_at))
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn get_oauth_state(&self, state: &str) -> Result<Option<OAuthState>> {
        let row: Option<StateRow> = on_writer!(self, |conn| sqlx::query_as(
            "SELECT state, member_guid, client_id, verifier_key_id, verifier_sealed, client_redirect_url,
                referral_source, ui_message_webview_url_scheme, enable_app2app, skip_aggregation,
                created_at, expires_at, opened_at, completed_at
             FROM oauth_states WHERE state = $1"
        )
        .bind(state)
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(StateRow::into_state).transpose()
    }

    /// Marks a window URI followed; false when it already was (each works once) or expired.
    pub async fn open_oauth_state(&self, state: &str, now: OffsetDateTime) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            sqlx::query(
                "UPDATE oauth_states SET opened_at = $1
                 WHERE state = $2 AND opened_at IS NULL AND expires_at > $1",
            )
            .bind(to_micros(now))
            .bind(state)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Marks a state's callback done; false when it already was (a replayed callback).
    pub async fn complete_oauth_state(&self, state: &str, now: OffsetDateTime) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            sqlx::query(
                "UPDATE oauth_states SET completed_at = $1
                 WHERE state = $2 AND opened_at IS NOT NULL AND completed_at IS NULL AND expires_at > $1",
            )
            .bind(to_micros(now))
            .bind(state)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn insert_sandbox_code(&self, c: &SandboxCode) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO sandbox_oauth_codes (code, client_id, redirect_uri, code_challenge, expires_at)
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(&c.code)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(to_micros(c.expires_at))
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Takes a sandbox code: returns it and marks it used, once; `None` for an unknown, used
    /// or expired code.
    pub async fn take_sandbox_code(&self, code: &str, now: OffsetDateTime) -> Result<Option<SandboxCode>> {
        let now = to_micros(now);
        let n = on_writer!(self, |conn| {
            sqlx::query(
                "UPDATE sandbox_oauth_codes SET used_at = $1 WHERE code = $2 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(code)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if n != 1 {
            return Ok(None);
        }
        let row: Option<SandboxCodeRow> = on_writer!(self, |conn| sqlx::query_as(
            "SELECT code, client_id, redirect_uri, code_challenge, expires_at, used_at FROM sandbox_oauth_codes
             WHERE code = $1"
        )
        .bind(code)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.map(SandboxCode::from))
    }

    /// Stores a member's sealed OAuth tokens where credentials go.
    pub async fn set_member_tokens(&self, member: &MemberGuid, key_id: &str, sealed: &str) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "UPDATE members SET credentials_key_id = $1, credentials_sealed = $2 WHERE guid = $3"
        )
        .bind(key_id)
        .bind(sealed)
        .bind(member.as_str())
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The end of an OAuth flow, in one transaction: the member's sealed tokens, its new
    /// status and the events it causes, its window URI cleared, and (with `job`) its first
    /// aggregation queued unless another job is active. True when `job` was queued.
    pub async fn connect_oauth_member(
        &self,
        m: &Member,
        events: &MemberEvents,
        tokens: (&str, &str),
        job: Option<&Job>,
    ) -> Result<bool> {
        crate::retry_deadlock(|| self.connect_oauth_member_once(m, events, tokens, job)).await
    }

    /// One attempt of [`Db::connect_oauth_member`].
    async fn connect_oauth_member_once(
        &self,
        m: &Member,
        events: &MemberEvents,
        tokens: (&str, &str),
        job: Option<&Job>,
    ) -> Result<bool> {
        let queued = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            // The job before the member, as in every transaction that writes both.
            let queued = match job {
                Some(job) => {
                    insert_job_row!(" ON CONFLICT DO NOTHING", job).execute(&mut *tx).await?.rows_affected() == 1
                }
                None => false,
            };
            sqlx::query(
                "UPDATE members SET credentials_key_id = $1, credentials_sealed = $2, oauth_window_uri = NULL
                 WHERE guid = $3",
            )
            .bind(tokens.0)
            .bind(tokens.1)
            .bind(m.guid.as_str())
            .execute(&mut *tx)
            .await?;
            write_progress_with_events!(tx, m, events, None);
            if let (Some(job), true) = (job, queued) {
                mark_busy!(job).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            queued
        });
        Ok(queued)
    }
}
