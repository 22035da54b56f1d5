//! Nexus API tokens and sessions, stored as SHA-256 hashes of the tokens.

use ferry_domain::{ClientId, UserGuid};
use time::OffsetDateTime;

use crate::{Db, Result, on_writer, to_micros};

impl Db {
    pub async fn insert_api_token(
        &self,
        hash: &str,
        client: &ClientId,
        user: &UserGuid,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO api_tokens (token_hash, client_id, user_guid, expires_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(hash)
        .bind(client.as_str())
        .bind(user.as_str())
        .bind(to_micros(expires_at))
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Uses an API token (once, before it expires) to open a session; answers the session's
    /// client and user, or `None` for an unknown, used or expired token.
    pub async fn open_session(
        &self,
        api_token_hash: &str,
        session_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<(String, String)>> {
        let now = to_micros(now);
        Ok(on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let owner: Option<(String, String)> = sqlx::query_as(
                "UPDATE api_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
                 RETURNING client_id, user_guid",
            )
            .bind(now)
            .bind(api_token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((client, user)) = &owner {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, client_id, user_guid, expires_at, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(session_hash)
                .bind(client)
                .bind(user)
                .bind(to_micros(expires_at))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            owner
        }))
    }

    /// Renews a live session to `expires_at` and answers its client and user; `None` when the
    /// session is unknown or has expired.
    pub async fn touch_session(
        &self,
        session_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<(String, String)>> {
        Ok(on_writer!(self, |conn| sqlx::query_as(
            "UPDATE sessions SET expires_at = $1 WHERE token_hash = $2 AND expires_at > $3
             RETURNING client_id, user_guid"
        )
        .bind(to_micros(expires_at))
        .bind(session_hash)
        .bind(to_micros(now))
        .fetch_optional(&mut *conn)
        .await)?)
    }
}
