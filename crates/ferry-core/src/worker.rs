//! The worker loop: claim a job with a lease, log in through the institution's connector,
//! and end the job. A job's claim, its pause for MFA and its end are each one transaction with
//! the member's state and the webhook events they cause, and every write of a running job is
//! guarded by its lease, so a worker that lost its job (it stalled past the lease and another
//! took over) changes nothing.
//!
//! Our own faults (the database, a bug) never become the institution's: the member's status is
//! left alone and the job is retried when its lease runs out, up to [`MAX_ATTEMPTS`] claims.

use std::sync::atomic::Ordering;

use std::future::Future;

use ferry_connector::{Answer, ConnectorError, LoginOutcome, LoginRequest, Refusal};
use ferry_domain::{ConnectionStatus, Job, JobGuid, JobStatus, Member, Secret};
use ferry_store::{JobChange, JobGuard, NewEvent};
use time::{Duration, OffsetDateTime};

use crate::institutions::InstitutionRef;
use crate::jobs::Continuation;
use crate::pull::PullError;
use crate::{Error, Result, Service};

/// How often a worker expires challenges and looks for members due a background aggregation.
const HOUSEKEEPING_EVERY: Duration = Duration::seconds(5);

/// How often the reconciler looks for members and jobs that disagree.
const RECONCILE_EVERY: Duration = Duration::seconds(60);

/// How many consecutive DENIED outcomes make a member PREVENTED.
const DENIALS_BEFORE_PREVENTED: usize = 3;

/// How many times a job may be claimed. A job whose worker kept failing on our side (or kept
/// dying) is ended after this many claims, its member's status left as it was.
pub const MAX_ATTEMPTS: i64 = 5;

/// The error text a job ended by our own fault shows: nothing internal.
const INTERNAL_JOB_ERROR: &str = "Ferry could not complete this job; it will be tried again with the next aggregation.";

impl Service {
    /// Claims and runs one job. False when there was nothing to do. Every few seconds it also
    /// expires stale challenges and queues due background aggregations, and every minute (and
    /// on the first call) runs the reconciler and deletes ended widget URLs and sessions.
    pub async fn run_once(&self, worker: &str) -> Result<bool> {
        let now = self.now();
        if due(&self.inner.housekeeping_at, now, HOUSEKEEPING_EVERY) {
            self.expire_challenges().await?;
            self.schedule_background().await?;
        }
        if due(&self.inner.reconciled_at, now, RECONCILE_EVERY) {
            self.reconcile().await?;
            // Widget URLs and sessions that ended are of no more use.
            self.db().purge_widget(now).await?;
        }
        let now = self.now();
        let Some(job) = self.db().claim_job(worker, now, now + self.inner.config.lease).await? else {
            return Ok(false);
        };
        if job.attempts > MAX_ATTEMPTS {
            let job_type = job.job_type;
            self.give_up(job, worker).await?;
            crate::metrics::job_ran(job_type, "given_up");
            return Ok(true);
        }
        let started = std::time::Instant::now();
        // The job's log lines name it, its member and the request that queued it; the events it
        // writes carry that request's id.
        let span = tracing::info_span!(
            "job",
            job = %job.guid,
            member = %job.member_guid,
            job_type = job.job_type.as_str(),
            request_id = job.request_id.as_deref().unwrap_or("-"),
        );
        let run = crate::context::with_request_id(job.request_id.clone(), self.run_job(job.clone(), worker));
        let result = tracing::Instrument::instrument(
            async {
                tracing::debug!(attempt = job.attempts, "job started");
                let result = run.await;
                tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "job ran");
                result
            },
            span,
        )
        .await;
        crate::metrics::job_duration(job.job_type, started.elapsed().as_secs_f64());
        if let Err(e) = result {
            crate::metrics::job_ran(job.job_type, "error");
            // Our fault, not the institution's: the member keeps its status, and the job stays
            // RUNNING under this worker's lease, to be claimed again when the lease runs out.
            tracing::error!(
                job = %job.guid, member = %job.member_guid, attempt = job.attempts, error = %e,
                "job stopped by an internal error; it is retried when its lease runs out"
            );
        }
        Ok(true)
    }

    /// Hands back what a stopping process holds (its workers are named `<prefix>-...`): its
    /// running jobs become claimable at once, its claimed deliveries too. Call it after the
    /// process's workers and deliverer have stopped.
    pub async fn release_process(&self, prefix: &str) -> Result<(u64, u64)> {
        Ok(self.db().release_leases(prefix, self.now()).await?)
    }

    /// Runs jobs until none is left (tests drive the queue with this, never with sleeps).
    pub async fn run_until_idle(&self) -> Result<usize> {
        let mut n = 0;
        while self.run_once("test-worker").await? {
            n += 1;
        }
        Ok(n)
    }

    /// Waits until a job may be waiting: one was queued in this process, or `poll` passed.
    pub async fn wait_for_work(&self, poll: std::time::Duration) {
        let _ = tokio::time::timeout(poll, self.inner.work.notified()).await;
    }

    /// The safety net: repairs members and jobs whose states disagree for longer than a lease
    /// (a member busy without a job, a job its member does not show, a challenge nobody can
    /// answer), logs each and counts them. Returns how many were repaired; it should be none.
    pub async fn reconcile(&self) -> Result<usize> {
        let now = self.now();
        let repairs = self.db().reconcile(now - self.inner.config.lease, now).await?;
        let n = repairs.total();
        if n > 0 {
            for (kind, guids) in [
                ("busy without an active job: now idle", &repairs.busy_without_job),
                ("idle with an active job: now busy", &repairs.idle_with_job),
                ("challenged without a challenge: now EXPIRED", &repairs.challenged_without_job),
                ("challenge whose member moved on: job ended", &repairs.orphan_challenges),
            ] {
                for g in guids {
                    tracing::warn!(member = %g, "reconciler repaired a member {kind}");
                }
            }
            self.inner.repairs.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }

    /// How many repairs the reconciler has made in this process.
    pub fn reconciler_repairs(&self) -> u64 {
        self.inner.repairs.load(Ordering::Relaxed)
    }

    async fn run_job(&self, mut job: Job, worker: &str) -> Result<()> {
        // The claim has marked the member busy and started its progress over.
        let Some(mut member) = self.db().get_member_for_job(&job.member_guid).await? else {
            return Ok(()); // The member was deleted; its jobs went with it.
        };
        let entry = self.catalog_entry(&InstitutionRef::Guid(member.institution_guid.clone())).await?;
        let (institution, fields) = (&entry.0, entry.1.as_slice());
        let connector = self.inner.connectors.0.get(&institution.connector).cloned().ok_or_else(|| {
            Error::Internal(format!("no connector `{}` for institution {}", institution.connector, institution.code))
        })?;
        let now = self.now();

        let (stored, oauth_access_token) = if member.is_oauth {
            match self.oauth_access_token(&member).await? {
                Some(token) => (Vec::new(), Some(token)),
                // No usable token: the user must go through OAuth again.
                None => return self.fail(job, member, ConnectionStatus::DENIED, None, worker).await,
            }
        } else {
            (self.open_credentials(&member).await?, None)
        };
        let credentials = stored
            .into_iter()
            .filter_map(|(guid, value)| fields.iter().find(|f| f.guid == guid).map(|f| (f.field_name.clone(), value)))
            .collect();
        let (connector_state, retry_at) = self.open_connector_state(&member.guid).await?;
        let request = LoginRequest {
            member_key: member.guid.to_string(),
            credentials,
            now,
            last_success: member.successfully_aggregated_at,
            oauth_access_token,
            config: institution.connector_config.clone(),
            state: connector_state,
            state_store: self.state_handle(&member, &job, worker),
        };
        let continuation = match self.db().job_sealed_state(&job.guid).await? {
            Some(s) => Some(self.open_job_state(&job, &s)?),
            None => None,
        };
        let outcome = match &continuation {
            Some(c) => {
                let answers: Vec<Answer> =
                    c.answers.iter().map(|(g, v)| Answer { guid: g.clone(), value: Secret::new(v.clone()) }).collect();
                self.leased(&job.guid, worker, connector.answer(&request, &c.state, &answers)).await?
            }
            None => self.leased(&job.guid, worker, connector.login(&request)).await?,
        };
        match outcome {
            Ok(LoginOutcome::Connected(session)) => {
                member.is_authenticated = true;
                self.set_status(&mut member, ConnectionStatus::CONNECTED, self.now());
                let events = self.status_events(&member, job.callback_payload.clone());
                let lease = Some((&job.guid, worker));
                if !self.db().update_member_progress_with(&member, &events, lease).await? {
                    return Ok(()); // Lost the lease: another worker has the job now.
                }
                self.events_written();
                match self.pull_data(connector.as_ref(), &session, &mut member, &mut job, worker).await {
                    Ok(summary) => {
                        let done = self.now();
                        // Only jobs that aggregate transactions count as an aggregation.
                        if job.job_type.pulls_transactions() {
                            member.successfully_aggregated_at = Some(done);
                        }
                        member.is_being_aggregated = false;
                        member.needs_updated_credentials = false;
                        member.updated_at = done;
                        job.status = JobStatus::Succeeded;
                        job.outcome = Some(ConnectionStatus::CONNECTED);
                        // The institution answered: a quota wait that was set is over.
                        if retry_at.is_some() && !self.set_retry_at(&member.guid, &job.guid, worker, None).await? {
                            return Ok(()); // Lost the lease: another worker has the job now.
                        }
                        if let Some(r) = &summary.partial {
                            // The data is in, but part of the connection needs the user.
                            self.set_status(&mut member, r.failure.status(), done);
                            member.connection_status_message = Some(r.message.clone());
                            job.outcome = Some(r.failure.status());
                            job.error_message = Some(r.message.clone());
                        }
                        let data = self.data_event(&member, &job, &summary.accounts, summary.records_created);
                        self.finish(job, member, worker, done, vec![data]).await
                    }
                    Err(PullError::Institution(ConnectorError::Failure(f))) => {
                        self.fail(job, member, f.status(), None, worker).await
                    }
                    Err(PullError::Institution(ConnectorError::Refused(r))) => {
                        self.refuse(job, member, r, worker).await
                    }
                    Err(PullError::Institution(e)) => self.connector_error(job, member, e, worker).await,
                    // The member (or its user) was deleted under the job: nothing to finish.
                    Err(PullError::Ours(Error::Store(ferry_store::StoreError::MissingParent(_)))) => Ok(()),
                    Err(PullError::Ours(e)) => Err(e),
                }
            }
            Ok(LoginOutcome::Challenged { challenges, state }) => {
                let at = self.now();
                let sealed = self.seal_job_state(&job, &Continuation { state, answers: Vec::new() });
                job.status = JobStatus::Challenged;
                job.challenges = challenges;
                job.challenged_at = Some(at);
                job.updated_at = at;
                member.is_being_aggregated = false;
                self.set_status(&mut member, ConnectionStatus::CHALLENGED, at);
                let events = self.status_events(&member, job.callback_payload.clone());
                let change = JobChange {
                    job: &job,
                    guard: JobGuard::Lease(worker),
                    sealed: Some(Some(&sealed)),
                    member: Some((&member, &events)),
                };
                // False: lost the lease, another worker has the job now.
                if self.db().change_job(&change).await? {
                    self.events_written();
                    crate::metrics::job_ran(job.job_type, "challenged");
                }
                Ok(())
            }
            Ok(LoginOutcome::Failed(f)) => {
                let status = self.escalate(&mut member, f.status()).await?;
                self.fail(job, member, status, None, worker).await
            }
            Err(ConnectorError::Failure(f)) => self.fail(job, member, f.status(), None, worker).await,
            Err(ConnectorError::Refused(r)) => self.refuse(job, member, r, worker).await,
            Err(ConnectorError::Internal(m)) => Err(Error::Internal(m)),
            Err(ConnectorError::BadAnswers(m)) => {
                self.fail(job, member, ConnectionStatus::REJECTED, Some(m), worker).await
            }
            Err(e) => self.connector_error(job, member, e, worker).await,
        }
    }

    /// DENIED after as many DENIED (or PREVENTED) outcomes in a row becomes PREVENTED: stored
    /// bad credentials are not tried again in the background (they would lock the user out).
    async fn escalate(&self, member: &mut Member, status: ConnectionStatus) -> Result<ConnectionStatus> {
        if status != ConnectionStatus::DENIED {
            return Ok(status);
        }
        let previous = self.db().recent_job_outcomes(&member.guid, (DENIALS_BEFORE_PREVENTED - 1) as i64).await?;
        if previous.len() == DENIALS_BEFORE_PREVENTED - 1
            && previous.iter().all(|o| matches!(o, Some(ConnectionStatus::DENIED | ConnectionStatus::PREVENTED)))
        {
            member.needs_updated_credentials = true;
            return Ok(ConnectionStatus::PREVENTED);
        }
        Ok(status)
    }

    /// The institution refused with a message for the end user: the member takes the status
    /// and the message, and a quota's refill time keeps jobs from calling it before then.
    async fn refuse(&self, mut job: Job, mut member: Member, r: Refusal, worker: &str) -> Result<()> {
        if let Some(at) = r.retry_at
            && !self.set_retry_at(&member.guid, &job.guid, worker, Some(at)).await?
        {
            return Ok(()); // Lost the lease: another worker has the job now.
        }
        let status = self.escalate(&mut member, r.failure.status()).await?;
        let now = self.now();
        job.status = JobStatus::Failed;
        job.outcome = Some(status);
        job.error_message = Some(r.message.clone());
        member.is_being_aggregated = false;
        self.set_status(&mut member, status, now);
        if status == r.failure.status() {
            member.connection_status_message = Some(r.message);
        }
        self.finish(job, member, worker, now, Vec::new()).await
    }

    /// Runs a connector call while renewing the job's lease every third of it, so a slow
    /// institution does not let another worker take the job over. Stops the call (and says so)
    /// when the lease is lost.
    pub(crate) async fn leased<T>(&self, job: &JobGuid, worker: &str, call: impl Future<Output = T>) -> Result<T> {
        let lease = self.inner.config.lease;
        let every = std::time::Duration::from_millis((lease.whole_milliseconds() / 3).max(100) as u64);
        // The heartbeat is a future of its own, polled beside the call: a renewal waiting for
        // the database never stops the call (which may hold the connection it waits for).
        let heartbeat = async {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                match self.db().renew_lease(job, worker, self.now() + lease).await {
                    Ok(true) => {}
                    Ok(false) => return Error::Internal("the job's lease was lost".into()),
                    Err(e) => return Error::from(e),
                }
            }
        };
        tokio::pin!(call);
        tokio::pin!(heartbeat);
        tokio::select! {
            out = &mut call => Ok(out),
            e = &mut heartbeat => Err(e),
        }
    }

    /// The connector could not finish (a protocol error, something it does not support): the
    /// member is FAILED. Its text goes to the log, not to the job clients read.
    async fn connector_error(&self, job: Job, member: Member, e: ConnectorError, worker: &str) -> Result<()> {
        tracing::warn!(job = %job.guid, member = %member.guid, error = %e, "the connector failed");
        self.fail(job, member, ConnectionStatus::FAILED, None, worker).await
    }

    async fn fail(
        &self,
        mut job: Job,
        mut member: Member,
        status: ConnectionStatus,
        error: Option<String>,
        worker: &str,
    ) -> Result<()> {
        let now = self.now();
        job.status = JobStatus::Failed;
        job.outcome = Some(status);
        job.error_message = error;
        member.is_being_aggregated = false;
        self.set_status(&mut member, status, now);
        self.finish(job, member, worker, now, Vec::new()).await
    }

    /// Ends a job: its final state, the member's, and the job's webhooks (`data`, and the
    /// status events if the member's status changed) in one transaction, while this worker
    /// still holds the job.
    async fn finish(
        &self,
        mut job: Job,
        member: Member,
        worker: &str,
        now: OffsetDateTime,
        data: Vec<NewEvent>,
    ) -> Result<()> {
        job.finished_at = Some(now);
        job.updated_at = now;
        job.challenges = Vec::new();
        let mut events = self.status_events(&member, job.callback_payload.clone());
        events.always = data;
        let change = JobChange {
            job: &job,
            guard: JobGuard::Lease(worker),
            sealed: Some(None),
            member: Some((&member, &events)),
        };
        if self.db().change_job(&change).await? {
            self.events_written();
            let outcome = if job.status == JobStatus::Succeeded { "succeeded" } else { "failed" };
            crate::metrics::job_ran(job.job_type, outcome);
        }
        Ok(())
    }

    /// Ends a job claimed too many times: it kept failing on our side (or its workers kept
    /// dying). The member goes idle with its status as it was; the next aggregation tries again.
    async fn give_up(&self, mut job: Job, worker: &str) -> Result<()> {
        tracing::error!(job = %job.guid, member = %job.member_guid, attempts = job.attempts, "job given up");
        let now = self.now();
        job.status = JobStatus::Failed;
        job.error_message = Some(INTERNAL_JOB_ERROR.into());
        job.finished_at = Some(now);
        job.updated_at = now;
        job.challenges = Vec::new();
        let member = self.db().get_member_for_job(&job.member_guid).await?.map(|mut m| {
            m.is_being_aggregated = false;
            m.updated_at = now;
            m
        });
        let events = ferry_store::MemberEvents::default();
        let change = JobChange {
            job: &job,
            guard: JobGuard::Lease(worker),
            sealed: Some(None),
            member: member.as_ref().map(|m| (m, &events)),
        };
        self.db().change_job(&change).await?;
        Ok(())
    }
}

/// Whether a periodic task last run at `*last` is due again at `now`; if so, records `now`.
fn due(last: &std::sync::Mutex<Option<OffsetDateTime>>, now: OffsetDateTime, every: Duration) -> bool {
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    let due = last.is_none_or(|t| now - t >= every);
    if due {
        *last = Some(now);
    }
    due
}
