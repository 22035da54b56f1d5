//! What a member's connector remembers between jobs (`member_connector_states`): its sealed
//! state and the time before which no job should call the institution (a spent quota).
//! Writes made during a job are guarded by its lease, and lock the job before the member, as
//! every multi-table write does.

use ferry_domain::{JobGuid, MemberGuid};
use sqlx::Connection;

use crate::{Db, Result, from_micros, on_reader, on_writer, to_micros};

/// A member's connector state as stored: sealed, with the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorState {
    pub sealed: Option<(String, String)>,
    pub retry_at: Option<time::OffsetDateTime>,
}

/// A write of a running job to its member's connector state.
#[derive(Debug, Clone, Copy)]
pub struct StateWrite<'a> {
    pub member: &'a MemberGuid,
    pub job: &'a JobGuid,
    pub worker: &'a str,
    /// `(key_id, sealed)`; `None` leaves the state as it is.
    pub sealed: Option<(&'a str, &'a str)>,
    /// `Some(t)` sets the time before which no job should call the institution; `Some(None)`
    /// clears it; `None` leaves it.
    pub retry_at: Option<Option<time::OffsetDateTime>>,
    /// Forget the member's stored credentials in the same write (a one-time secret was spent).
    pub spend_credentials: bool,
    pub now: time::OffsetDateTime,
}

impl Db {
    pub async fn connector_state(&self, member: &MemberGuid) -> Result<Option<ConnectorState>> {
        let row: Option<(Option<String>, Option<String>, Option<i64>)> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT key_id, sealed, retry_at FROM member_connector_states WHERE member_guid = $1"
        )
        .bind(member.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.map(|(k, s, r)| ConnectorState { sealed: k.zip(s), retry_at: r.map(from_micros) }))
    }

    /// Writes a running job's change to its member's connector state, in one transaction,
    /// while `worker` still holds the job. False when the lease was lost (nothing written).
    pub async fn write_connector_state(&self, w: &StateWrite<'_>) -> Result<bool> {
        let (key_id, sealed) = w.sealed.unzip();
        let retry_at = w.retry_at.map(|t| t.map(to_micros));
        on_writer!(self, |conn| {
            let mut tx = conn.begin().await?;
            // Locks the job first (the one lock order) and checks the lease.
            let held = sqlx::query(
                "UPDATE jobs SET lease_expires_at = lease_expires_at
                 WHERE guid = $1 AND lease_owner = $2 AND status = 'RUNNING'",
            )
            .bind(w.job.as_str())
            .bind(w.worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if held != 1 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO member_connector_states (member_guid, key_id, sealed, retry_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (member_guid) DO UPDATE SET
                    key_id = CASE WHEN $6 THEN excluded.key_id ELSE member_connector_states.key_id END,
                    sealed = CASE WHEN $6 THEN excluded.sealed ELSE member_connector_states.sealed END,
                    retry_at = CASE WHEN $7 THEN excluded.retry_at ELSE member_connector_states.retry_at END,
                    updated_at = excluded.updated_at",
            )
            .bind(w.member.as_str())
            .bind(key_id)
            .bind(sealed)
            .bind(retry_at.flatten())
            .bind(to_micros(w.now))
            .bind(w.sealed.is_some())
            .bind(w.retry_at.is_some())
            .execute(&mut *tx)
            .await?;
            if w.spend_credentials {
                sqlx::query("UPDATE members SET credentials_sealed = '' WHERE guid = $1")
                    .bind(w.member.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }
}
