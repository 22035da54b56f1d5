//! The reconciler's queries: a safety net that repairs members and jobs whose states disagree.
//! Every state change writes a member and its job in one transaction, so these should find
//! nothing; they are here for the bugs nobody has found yet.
//!
//! Each repair is one guarded statement that only touches rows left alone for `settled_before`,
//! so a change in flight (written a moment ago, in a transaction the statement cannot see yet)
//! is never mistaken for a disagreement. Each starts from an index (busy or challenged members,
//! active jobs), so a pass costs what there is to look at, not the size of the members table.

use ferry_domain::{ConnectionStatus, MemberGuid};
use time::OffsetDateTime;

use crate::{Db, Result, corrupt, on_writer, to_micros};

/// What one reconciler pass repaired, by kind (member guids).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Repairs {
    /// Members marked busy with no queued or running job: now idle.
    pub busy_without_job: Vec<MemberGuid>,
    /// Members not marked busy while a job of theirs is queued or running: now busy.
    pub idle_with_job: Vec<MemberGuid>,
    /// Members CHALLENGED with no challenged job to answer: now EXPIRED (the end user starts
    /// again, as after an unanswered challenge).
    pub challenged_without_job: Vec<MemberGuid>,
    /// Challenged jobs whose member is no longer CHALLENGED: now FAILED.
    pub orphan_challenges: Vec<MemberGuid>,
}

impl Repairs {
    pub fn total(&self) -> usize {
        self.busy_without_job.len()
            + self.idle_with_job.len()
            + self.challenged_without_job.len()
            + self.orphan_challenges.len()
    }
}

impl Db {
    /// Repairs disagreements between members and their jobs that have lasted since
    /// `settled_before`; `now` stamps the repaired rows.
    pub async fn reconcile(&self, settled_before: OffsetDateTime, now: OffsetDateTime) -> Result<Repairs> {
        let (before, now) = (to_micros(settled_before), to_micros(now));
        let expired = ConnectionStatus::EXPIRED;
        let (busy, idle, challenged, orphans) = on_writer!(self, |conn| {
            let busy: Vec<String> = sqlx::query_scalar(
                "UPDATE members SET is_being_aggregated = FALSE, updated_at = $2
                 WHERE is_being_aggregated = TRUE AND updated_at < $1
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.member_guid = members.guid
                                   AND j.status IN ('QUEUED', 'RUNNING'))
                 RETURNING guid",
            )
            .bind(before)
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            let idle: Vec<String> = sqlx::query_scalar(
                "UPDATE members SET is_being_aggregated = TRUE, updated_at = $2,
                    most_recent_job_guid = (SELECT j.guid FROM jobs j WHERE j.member_guid = members.guid
                                            AND j.status IN ('QUEUED', 'RUNNING'))
                 WHERE guid IN (SELECT j.member_guid FROM jobs j
                                WHERE j.status IN ('QUEUED', 'RUNNING') AND j.updated_at < $1)
                   AND is_being_aggregated = FALSE AND updated_at < $1
                 RETURNING guid",
            )
            .bind(before)
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            let challenged: Vec<String> = sqlx::query_scalar(
                "UPDATE members SET connection_status = $3, connection_status_message = $4, updated_at = $2
                 WHERE connection_status = 'CHALLENGED' AND is_being_aggregated = FALSE AND updated_at < $1
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.member_guid = members.guid
                                   AND j.status IN ('QUEUED', 'RUNNING', 'CHALLENGED'))
                 RETURNING guid",
            )
            .bind(before)
            .bind(now)
            .bind(expired.as_str())
            .bind(expired.message())
            .fetch_all(&mut *conn)
            .await?;
            let orphans: Vec<String> = sqlx::query_scalar(
                "UPDATE jobs SET status = 'FAILED', challenges = NULL, sealed_key_id = NULL,
                    sealed_state = NULL, finished_at = $2, updated_at = $2
                 WHERE status = 'CHALLENGED' AND updated_at < $1
                   AND NOT EXISTS (SELECT 1 FROM members m WHERE m.guid = jobs.member_guid
                                   AND m.connection_status = 'CHALLENGED')
                 RETURNING member_guid",
            )
            .bind(before)
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            (busy, idle, challenged, orphans)
        });
        let guids = |v: Vec<String>| -> Result<Vec<MemberGuid>> {
            v.into_iter().map(|g| MemberGuid::parse(&g).map_err(|_| corrupt("members", &g, "guid"))).collect()
        };
        Ok(Repairs {
            busy_without_job: guids(busy)?,
            idle_with_job: guids(idle)?,
            challenged_without_job: guids(challenged)?,
            orphan_challenges: guids(orphans)?,
        })
    }
}
