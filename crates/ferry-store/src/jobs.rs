//! The `jobs` table: the queue of aggregation work. Workers claim jobs with a lease; a partial
//! unique index keeps one active job per member.
//!
//! Every change of a job that the member shows is written in one transaction with the member
//! (and the webhook events they cause): queuing a job marks its member busy, a claim starts
//! the member's progress over, and a job's end writes the member's final state and events. A
//! process killed between any two statements leaves either the state before or the state
//! after, never a member busy without a job or a job ended without its events.

use ferry_domain::{ClientId, ConnectionStatus, Job, JobGuid, JobStatus, JobType, Member, MemberGuid};
use sqlx::FromRow;

use crate::progress::write_progress_with_events;
use crate::webhooks::MemberEvents;
use crate::{Db, Result, corrupt, from_micros, on_reader, on_unique, on_writer, to_micros};

#[derive(FromRow)]
struct JobRow {
    guid: String,
    client_id: String,
    member_guid: String,
    job_type: String,
    status: String,
    is_background: bool,
    attempts: i64,
    challenges: Option<String>,
    challenged_at: Option<i64>,
    outcome: Option<String>,
    error_message: Option<String>,
    transactions_created: i64,
    transactions_updated: i64,
    callback_payload: Option<String>,
    request_id: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    updated_at: i64,
}

impl JobRow {
    fn into_job(self) -> Result<Job> {
        let bad = |what: &str| corrupt("jobs", &self.guid, what);
        Ok(Job {
            guid: JobGuid::parse(&self.guid).map_err(|_| bad("guid"))?,
            client_id: ClientId::parse(&self.client_id).map_err(|_| bad("client_id"))?,
            member_guid: MemberGuid::parse(&self.member_guid).map_err(|_| bad("member_guid"))?,
            job_type: self.job_type.parse::<JobType>().map_err(|_| bad("job_type"))?,
            status: self.status.parse::<JobStatus>().map_err(|_| bad("status"))?,
            is_background: self.is_background,
            attempts: self.attempts,
            challenges: match &self.challenges {
                Some(c) => serde_json::from_str(c).map_err(|_| bad("challenges"))?,
                None => Vec::new(),
            },
            challenged_at: self.challenged_at.map(from_micros),
            outcome: match &self.outcome {
                Some(o) => Some(o.parse::<ConnectionStatus>().map_err(|_| bad("outcome"))?),
                None => None,
            },
            error_message: self.error_message,
            transactions_created: self.transactions_created,
            transactions_updated: self.transactions_updated,
            callback_payload: self.callback_payload,
            request_id: self.request_id,
            created_at: from_micros(self.created_at),
            started_at: self.started_at.map(from_micros),
            finished_at: self.finished_at.map(from_micros),
            updated_at: from_micros(self.updated_at),
        })
    }
}

macro_rules! columns {
    () => {
        "guid, client_id, member_guid, job_type, status, is_background, attempts, challenges,
         challenged_at, outcome, error_message, transactions_created, transactions_updated,
         callback_payload, request_id, created_at, started_at, finished_at, updated_at"
    };
}

/// A job's sealed continuation: the connector's state and the user's answers.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedState {
    pub key_id: String,
    pub sealed: String,
}

impl std::fmt::Debug for SealedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedState").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

fn challenges_json(job: &Job) -> Option<String> {
    if job.challenges.is_empty() { None } else { serde_json::to_string(&job.challenges).ok() }
}

/// The statement that queues `$job`, with `$suffix` (an `ON CONFLICT` clause or "") after it.
macro_rules! insert_job_row {
    ($suffix:expr, $job:expr) => {{
        let job: &ferry_domain::Job = $job;
        sqlx::query(concat!(
            "INSERT INTO jobs (guid, client_id, member_guid, job_type, status, is_background, attempts,
                callback_payload, created_at, updated_at, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8, $9)",
            $suffix
        ))
        .bind(job.guid.as_str())
        .bind(job.client_id.as_str())
        .bind(job.member_guid.as_str())
        .bind(job.job_type.as_str())
        .bind(job.status.as_str())
        .bind(job.is_background)
        .bind(&job.callback_payload)
        .bind($crate::to_micros(job.created_at))
        .bind(&job.request_id)
    }};
}

/// The statement that marks `$job`'s member busy with it.
macro_rules! mark_busy {
    ($job:expr) => {{
        let job: &ferry_domain::Job = $job;
        sqlx::query(
            "UPDATE members SET is_being_aggregated = TRUE, most_recent_job_guid = $1, updated_at = $2
             WHERE guid = $3",
        )
        .bind(job.guid.as_str())
        .bind($crate::to_micros(job.created_at))
        .bind(job.member_guid.as_str())
    }};
}
pub(crate) use {insert_job_row, mark_busy};

/// What must still hold of a job for a change to apply; otherwise nothing is written.
#[derive(Debug, Clone, Copy)]
pub enum JobGuard<'a> {
    /// The worker named here still holds the job's lease (and the job is RUNNING).
    Lease(&'a str),
    /// The job is still in this status (challenges answered or expired by anyone).
    Status(JobStatus),
}

/// A change of a job and what it does to its member, written in one transaction.
#[derive(Debug)]
pub struct JobChange<'a> {
    /// The job as the change leaves it.
    pub job: &'a Job,
    pub guard: JobGuard<'a>,
    /// Replaces the sealed continuation (`Some(None)` clears it); `None` leaves it.
    pub sealed: Option<Option<&'a SealedState>>,
    /// The member's progress as the change leaves it, and the events the change causes.
    pub member: Option<(&'a Member, &'a MemberEvents)>,
}

impl Db {
    /// Queues a job and marks its member busy with it, in one transaction; with `member`, that
    /// member's progress and its events are written in the same transaction (the OAuth
    /// callback connects a member and queues its aggregation at once).
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) when the member already has an
    /// active job: then nothing is written.
    pub async fn insert_job(&self, job: &Job, member: Option<(&Member, &MemberEvents)>) -> Result<()> {
        crate::retry_deadlock(|| self.insert_job_once(job, member)).await
    }

    /// One attempt of [`Db::insert_job`].
    async fn insert_job_once(&self, job: &Job, member: Option<(&Member, &MemberEvents)>) -> Result<()> {
        on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            // The job before the member, as in every transaction that writes both.
            insert_job_row!("", job).execute(&mut *tx).await.map_err(on_unique("jobs"))?;
            if let Some((m, events)) = member {
                write_progress_with_events!(tx, m, events, None);
            }
            mark_busy!(job).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Applies `change` to its job if its guard holds, and then, in the same transaction, the
    /// member's progress and events. False (and nothing written) when the guard failed: the
    /// worker lost its lease, or the job moved on.
    pub async fn change_job(&self, change: &JobChange<'_>) -> Result<bool> {
        crate::retry_deadlock(|| self.change_job_once(change)).await
    }

    /// One attempt of [`Db::change_job`].
    async fn change_job_once(&self, change: &JobChange<'_>) -> Result<bool> {
        let job = change.job;
        let (set_sealed, key_id, state) = match change.sealed {
            None => (false, None, None),
            Some(None) => (true, None, None),
            Some(Some(s)) => (true, Some(s.key_id.as_str()), Some(s.sealed.as_str())),
        };
        let (owner, from_status) = match change.guard {
            JobGuard::Lease(owner) => (Some(owner), Some(JobStatus::Running)),
            JobGuard::Status(s) => (None, Some(s)),
        };
        let applied = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let n = sqlx::query(
                "UPDATE jobs SET status = $1, challenges = $2, challenged_at = $3, outcome = $4,
                    error_message = $5, transactions_created = $6, transactions_updated = $7,
                    finished_at = $8, updated_at = $9,
                    attempts = CASE WHEN $1 = 'QUEUED' THEN 0 ELSE attempts END,
                    lease_owner = CASE WHEN $1 = 'RUNNING' THEN lease_owner ELSE NULL END,
                    sealed_key_id = CASE WHEN $10 THEN $11 ELSE sealed_key_id END,
                    sealed_state = CASE WHEN $10 THEN $12 ELSE sealed_state END
                 WHERE guid = $13 AND ($14 IS NULL OR lease_owner = $14) AND status = $15",
            )
            .bind(job.status.as_str())
            .bind(challenges_json(job))
            .bind(job.challenged_at.map(to_micros))
            .bind(job.outcome.map(|o| o.as_str()))
            .bind(&job.error_message)
            .bind(job.transactions_created)
            .bind(job.transactions_updated)
            .bind(job.finished_at.map(to_micros))
            .bind(to_micros(job.updated_at))
            .bind(set_sealed)
            .bind(key_id)
            .bind(state)
            .bind(job.guid.as_str())
            .bind(owner)
            .bind(from_status.map(|s| s.as_str()))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                false // Dropping the transaction rolls it back.
            } else {
                if let Some((m, events)) = change.member {
                    write_progress_with_events!(tx, m, events, None);
                }
                tx.commit().await?;
                true
            }
        });
        Ok(applied)
    }

    /// The member's active job (queued, running or challenged), if any.
    pub async fn active_job(&self, member: &MemberGuid) -> Result<Option<Job>> {
        let row: Option<JobRow> = on_writer!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM jobs WHERE member_guid = $1 AND status IN ('QUEUED', 'RUNNING', 'CHALLENGED')"
        ))
        .bind(member.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(JobRow::into_job).transpose()
    }

    pub async fn get_job(&self, guid: &JobGuid) -> Result<Option<Job>> {
        let row: Option<JobRow> =
            on_reader!(self, |conn| sqlx::query_as(concat!("SELECT ", columns!(), " FROM jobs WHERE guid = $1"))
                .bind(guid.as_str())
                .fetch_optional(&mut *conn)
                .await)?;
        row.map(JobRow::into_job).transpose()
    }

    /// The outcomes of the member's most recent finished jobs, newest first.
    pub async fn recent_job_outcomes(&self, member: &MemberGuid, limit: i64) -> Result<Vec<Option<ConnectionStatus>>> {
        let rows: Vec<(Option<String>,)> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT outcome FROM jobs WHERE member_guid = $1 AND status IN ('SUCCEEDED', 'FAILED')
             ORDER BY finished_at DESC, created_at DESC LIMIT $2"
        )
        .bind(member.as_str())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await)?;
        rows.into_iter()
            .map(|(o,)| match o {
                Some(o) => o.parse().map(Some).map_err(|_| corrupt("jobs", member.as_str(), "outcome")),
                None => Ok(None),
            })
            .collect()
    }

    /// Claims the oldest queued job, or a running one whose worker's lease ran out, for
    /// `owner` until `lease_until`, and starts its member's progress over in the same
    /// transaction: busy, not yet authenticated, the flags of what this job processes cleared
    /// (a verify leaves `has_processed_transactions` alone).
    pub async fn claim_job(
        &self,
        owner: &str,
        now: time::OffsetDateTime,
        lease_until: time::OffsetDateTime,
    ) -> Result<Option<Job>> {
        crate::retry_deadlock(|| self.claim_job_once(owner, now, lease_until)).await
    }

    /// One attempt of [`Db::claim_job`].
    async fn claim_job_once(
        &self,
        owner: &str,
        now: time::OffsetDateTime,
        lease_until: time::OffsetDateTime,
    ) -> Result<Option<Job>> {
        // PostgreSQL-specific: SKIP LOCKED lets several nodes claim from one queue without
        // waiting on each other; SQLite has one writer, which serializes claims already.
        let pick = match self {
            Db::Sqlite(_) => {
                "SELECT guid FROM jobs
                 WHERE status = 'QUEUED' OR (status = 'RUNNING' AND lease_expires_at < $3)
                 ORDER BY created_at LIMIT 1"
            }
            Db::Postgres(_) => {
                "SELECT guid FROM jobs
                 WHERE status = 'QUEUED' OR (status = 'RUNNING' AND lease_expires_at < $3)
                 ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
            }
        };
        let sql = format!(
            "UPDATE jobs SET status = 'RUNNING', lease_owner = $1, lease_expires_at = $2,
                attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3
             WHERE guid = ({pick}) RETURNING {}",
            columns!()
        );
        let job = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let row: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(owner)
                .bind(to_micros(lease_until))
                .bind(to_micros(now))
                .fetch_optional(&mut *tx)
                .await?;
            match row.map(JobRow::into_job).transpose()? {
                None => None,
                Some(job) => {
                    sqlx::query(
                        "UPDATE members SET is_being_aggregated = TRUE, is_authenticated = FALSE,
                            has_processed_accounts = FALSE,
                            has_processed_transactions = CASE WHEN $1 THEN FALSE ELSE has_processed_transactions END,
                            has_processed_account_numbers =
                                CASE WHEN $2 THEN FALSE ELSE has_processed_account_numbers END,
                            aggregated_at = $3, most_recent_job_guid = $4, updated_at = $5
                         WHERE guid = $6",
                    )
                    .bind(job.job_type.pulls_transactions())
                    .bind(job.job_type.pulls_account_numbers())
                    .bind(to_micros(job.started_at.unwrap_or(now)))
                    .bind(job.guid.as_str())
                    .bind(to_micros(now))
                    .bind(job.member_guid.as_str())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Some(job)
                }
            }
        });
        Ok(job)
    }

    /// Extends the lease of a job this worker holds; false when it lost the job.
    pub async fn renew_lease(&self, guid: &JobGuid, owner: &str, until: time::OffsetDateTime) -> Result<bool> {
        let n = on_writer!(self, |conn| sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE guid = $2 AND lease_owner = $3 AND status = 'RUNNING'"
        )
        .bind(to_micros(until))
        .bind(guid.as_str())
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Hands back at once what a stopping process holds: its running jobs (their leases end
    /// now, so any worker claims them) and its claimed webhook deliveries. `owner_prefix` is
    /// the process's part of its workers' names. Returns (jobs, deliveries) handed back.
    pub async fn release_leases(&self, owner_prefix: &str, now: time::OffsetDateTime) -> Result<(u64, u64)> {
        let pattern = format!("{}-%", owner_prefix.replace(['%', '_', '\\'], ""));
        let expired = to_micros(now) - 1;
        let jobs = on_writer!(self, |conn| sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE status = 'RUNNING' AND lease_owner LIKE $2"
        )
        .bind(expired)
        .bind(&pattern)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        let deliveries = on_writer!(self, |conn| sqlx::query(
            "UPDATE webhook_deliveries SET lease_owner = NULL, lease_expires_at = NULL
             WHERE status = 'PENDING' AND lease_owner LIKE $1"
        )
        .bind(&pattern)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok((jobs, deliveries))
    }

    /// The sealed continuation of a job.
    pub async fn job_sealed_state(&self, guid: &JobGuid) -> Result<Option<SealedState>> {
        let row: Option<(Option<String>, Option<String>)> =
            on_writer!(self, |conn| sqlx::query_as("SELECT sealed_key_id, sealed_state FROM jobs WHERE guid = $1")
                .bind(guid.as_str())
                .fetch_optional(&mut *conn)
                .await)?;
        Ok(row.and_then(|(k, s)| Some(SealedState { key_id: k?, sealed: s? })))
    }

    /// Challenged jobs whose challenge was raised before `before`.
    pub async fn stale_challenged_jobs(&self, before: time::OffsetDateTime) -> Result<Vec<Job>> {
        let rows: Vec<JobRow> = on_writer!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM jobs WHERE status = 'CHALLENGED' AND challenged_at < $1 ORDER BY challenged_at LIMIT 100"
        ))
        .bind(to_micros(before))
        .fetch_all(&mut *conn)
        .await)?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    /// How many jobs wait in the queue (queued, or running on an expired lease).
    pub async fn count_runnable_jobs(&self, now: time::OffsetDateTime) -> Result<i64> {
        Ok(on_reader!(self, |conn| sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED' OR (status = 'RUNNING' AND lease_expires_at < $1)"
        )
        .bind(to_micros(now))
        .fetch_one(&mut *conn)
        .await)?)
    }
}
