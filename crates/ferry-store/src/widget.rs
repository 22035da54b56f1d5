//! Connect widget URLs and sessions, stored as SHA-256 hashes of their tokens.

use ferry_domain::{ClientId, UserGuid};
use time::OffsetDateTime;

use crate::{Db, Result, on_reader, on_writer, to_micros};

/// A widget session as the store holds it: who it acts for and what the app asked for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WidgetSessionRow {
    pub session_guid: String,
    pub client_id: String,
    pub user_guid: String,
    /// The widget URL's options, as JSON.
    pub options: String,
    pub callback_payload: Option<String>,
}

impl Db {
    pub async fn insert_widget_url(
        &self,
        hash: &str,
        client: &ClientId,
        user: &UserGuid,
        options: &str,
        callback_payload: Option<&str>,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO widget_urls (token_hash, client_id, user_guid, options, callback_payload, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(hash)
        .bind(client.as_str())
        .bind(user.as_str())
        .bind(options)
        .bind(callback_payload)
        .bind(to_micros(expires_at))
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Uses a widget URL (once, before it expires) and opens a session with its owner and
    /// options, in one transaction; `None` for an unknown, used or expired URL.
    pub async fn open_widget_session(
        &self,
        url_hash: &str,
        session_hash: &str,
        session_guid: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<WidgetSessionRow>> {
        let now = to_micros(now);
        Ok(on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let used: Option<(String, String, String, Option<String>)> = sqlx::query_as(
                "UPDATE widget_urls SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
                 RETURNING client_id, user_guid, options, callback_payload",
            )
            .bind(now)
            .bind(url_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let row = match used {
                Some((client_id, user_guid, options, callback_payload)) => {
                    sqlx::query(
                        "INSERT INTO widget_sessions
                           (token_hash, session_guid, client_id, user_guid, options, callback_payload, expires_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(session_hash)
                    .bind(session_guid)
                    .bind(&client_id)
                    .bind(&user_guid)
                    .bind(&options)
                    .bind(&callback_payload)
                    .bind(to_micros(expires_at))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    Some(WidgetSessionRow {
                        session_guid: session_guid.to_owned(),
                        client_id,
                        user_guid,
                        options,
                        callback_payload,
                    })
                }
                None => None,
            };
            tx.commit().await?;
            row
        }))
    }

    /// A live widget session (not expired, and opened after `opened_after`), renewed to
    /// `expires_at` when it would end before `renew_before`: most calls (the page polls every
    /// second) only read. `None` when the session is unknown or over.
    pub async fn touch_widget_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
        opened_after: OffsetDateTime,
        renew_before: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<WidgetSessionRow>> {
        let (now, opened_after) = (to_micros(now), to_micros(opened_after));
        let found: Option<(String, String, String, String, Option<String>, i64)> = on_reader!(self, |conn| {
            sqlx::query_as(
                "SELECT session_guid, client_id, user_guid, options, callback_payload, expires_at
                 FROM widget_sessions WHERE token_hash = $1 AND expires_at > $2 AND created_at > $3",
            )
            .bind(session_hash)
            .bind(now)
            .bind(opened_after)
            .fetch_optional(&mut *conn)
            .await
        })?;
        let Some((session_guid, client_id, user_guid, options, callback_payload, ends)) = found else {
            return Ok(None);
        };
        if ends < to_micros(renew_before) {
            on_writer!(self, |conn| sqlx::query(
                "UPDATE widget_sessions SET expires_at = $1 WHERE token_hash = $2 AND expires_at > $3"
            )
            .bind(to_micros(expires_at))
            .bind(session_hash)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        }
        Ok(Some(WidgetSessionRow { session_guid, client_id, user_guid, options, callback_payload }))
    }

    /// Deletes widget URLs and sessions that ended before `before`; answers how many.
    pub async fn purge_widget(&self, before: OffsetDateTime) -> Result<u64> {
        let before = to_micros(before);
        let urls = on_writer!(self, |conn| sqlx::query("DELETE FROM widget_urls WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        let sessions = on_writer!(self, |conn| sqlx::query("DELETE FROM widget_sessions WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(urls + sessions)
    }
}
