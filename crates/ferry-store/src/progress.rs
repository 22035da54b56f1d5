//! Member progress: the fields aggregation moves (status, message, flags and times, the
//! latest job; not the OAuth window URI, which has a write of its own), written alone or inside the transaction of a job's change, with the webhook
//! events the change causes.

use ferry_domain::{JobGuid, Member};

use crate::webhooks::MemberEvents;
use crate::{Db, Result, on_writer};

/// Writes the fields aggregation moves (status, message, flags and times, the latest job) on
/// `$exec`, a connection or transaction of either backend; evaluates to the rows written. With
/// `$lease` = `Some((job, owner))`, only while worker `owner` still holds `job`.
macro_rules! write_progress {
    ($exec:expr, $m:expr, $lease:expr) => {{
        let m: &ferry_domain::Member = $m;
        let lease: Option<(&ferry_domain::JobGuid, &str)> = $lease;
        sqlx::query(
            "UPDATE members SET connection_status = $1, connection_status_message = $2,
                is_being_aggregated = $3, is_authenticated = $4, has_processed_accounts = $5,
                has_processed_transactions = $6, has_processed_account_numbers = $7,
                aggregated_at = $8, successfully_aggregated_at = $9, most_recent_job_guid = $10,
                most_recent_job_detail_code = $11, needs_updated_credentials = $12, updated_at = $13
             WHERE guid = $14
                AND ($15 IS NULL OR EXISTS (SELECT 1 FROM jobs j
                    WHERE j.guid = $15 AND j.lease_owner = $16 AND j.status = 'RUNNING'))",
        )
        .bind(m.connection_status.as_str())
        .bind(&m.connection_status_message)
        .bind(m.is_being_aggregated)
        .bind(m.is_authenticated)
        .bind(m.has_processed_accounts)
        .bind(m.has_processed_transactions)
        .bind(m.has_processed_account_numbers)
        .bind(m.aggregated_at.map($crate::to_micros))
        .bind(m.successfully_aggregated_at.map($crate::to_micros))
        .bind(m.most_recent_job_guid.as_ref().map(|g| g.as_str()))
        .bind(m.most_recent_job_detail_code)
        .bind(m.needs_updated_credentials)
        .bind($crate::to_micros(m.updated_at))
        .bind(m.guid.as_str())
        .bind(lease.map(|(j, _)| j.as_str()))
        .bind(lease.map(|(_, o)| o))
        .execute(&mut *$exec)
        .await?
        .rows_affected()
    }};
}

/// [`write_progress!`] and the events it causes, on a transaction `$tx`: `always`, and
/// `on_status_change` when the write changes the member's connection status. Evaluates to the
/// rows written.
macro_rules! write_progress_with_events {
    ($tx:expr, $m:expr, $events:expr, $lease:expr) => {{
        let m: &ferry_domain::Member = $m;
        let events: &$crate::webhooks::MemberEvents = $events;
        let before: Option<String> = if events.on_status_change.is_empty() {
            None
        } else {
            // A no-op update locks the row (on PostgreSQL) before reading it, so a concurrent
            // status write cannot slip between this read and the write below.
            sqlx::query_scalar(
                "UPDATE members SET connection_status = connection_status WHERE guid = $1 RETURNING connection_status",
            )
            .bind(m.guid.as_str())
            .fetch_optional(&mut *$tx)
            .await?
        };
        let n = $crate::progress::write_progress!($tx, m, $lease);
        if n == 1 {
            $crate::webhooks::insert_events!($tx, &events.always);
            if before.is_some_and(|b| b != m.connection_status.as_str()) {
                $crate::webhooks::insert_events!($tx, &events.on_status_change);
            }
        }
        n
    }};
}
pub(crate) use {write_progress, write_progress_with_events};

impl Db {
    /// Writes the fields aggregation moves (status, message, flags and times, the latest job),
    /// recording `events` in the same transaction
    /// (`on_status_change` only if the member's connection status changes). With `lease` =
    /// `Some((job, owner))`, the write applies only while worker `owner` holds `job`, so a
    /// worker that lost its job cannot move the member.
    pub async fn update_member_progress_with(
        &self,
        m: &Member,
        events: &MemberEvents,
        lease: Option<(&JobGuid, &str)>,
    ) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            if events.is_empty() {
                write_progress!(conn, m, lease)
            } else {
                use sqlx::Connection;
                let mut tx = conn.begin().await?;
                let n = write_progress_with_events!(tx, m, events, lease);
                tx.commit().await?;
                n
            }
        });
        Ok(n == 1)
    }
}

impl Db {
    /// Records (or clears) the member's current OAuth window URI, and nothing else.
    pub async fn set_oauth_window_uri(
        &self,
        member: &ferry_domain::MemberGuid,
        uri: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "UPDATE members SET oauth_window_uri = $1, updated_at = $2 WHERE guid = $3"
        )
        .bind(uri)
        .bind(crate::to_micros(now))
        .bind(member.as_str())
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
