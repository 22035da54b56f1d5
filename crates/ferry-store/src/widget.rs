//! Connect widget URLs and sessions, stored as SHA-256 hashes of their tokens.

use ferry_domain::{ClientId, UserGuid};
use time::OffsetDateTime;

use crate::{Db, Result, on_writer, to_micros};

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

    /// Renews a live widget session to `expires_at` and answers it; `None` when the session is
    /// unknown or has expired.
    pub async fn touch_widget_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<WidgetSessionRow>> {
        Ok(on_writer!(self, |conn| sqlx::query_as(
            "UPDATE widget_sessions SET expires_at = $1 WHERE token_hash = $2 AND expires_at > $3
             RETURNING session_guid, client_id, user_guid, options, callback_payload"
        )
        .bind(to_micros(expires_at))
        .bind(session_hash)
        .bind(to_micros(now))
        .fetch_optional(&mut *conn)
        .await)?)
    }
}
