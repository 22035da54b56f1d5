//! Aggregation jobs: starting them under MX's concurrency rules, and running them. A worker
//! claims a job with a lease, talks to the institution's connector, and stores what comes back
//! under the connector's stable ids, so a job that runs twice (a worker died mid-job and its
//! lease ran out) changes nothing the second time.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_connector::{Answer, Connector, ConnectorError, LoginOutcome, LoginRequest, Session};
use ferry_domain::{
    Account, AccountGuid, Challenge, Client, ConnectionStatus, Job, JobGuid, JobStatus, JobType, Member, Product,
    Secret, SubmittedCredential, Transaction, TransactionGuid,
};
use ferry_domain::{Record, RecordData, RecordKind};
use ferry_store::{NewRecord, SealedState, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::institutions::InstitutionRef;
use crate::members::MemberRef;
use crate::{Error, Result, Service, UserRef};

/// How far back an aggregation reads transactions, and how far ahead (post-dated ones).
const HISTORY_DAYS: i64 = 90;
/// How far back `extend_history` reads: 24 months.
const EXTENDED_HISTORY_DAYS: i64 = 730;
/// A pending transaction the institution stopped reporting is removed once it is this old.
const STALE_PENDING_DAYS: i64 = 14;
const FUTURE_DAYS: i64 = 5;

/// How often a worker expires challenges and looks for members due a background aggregation.
const HOUSEKEEPING_EVERY: Duration = Duration::seconds(5);

/// How many consecutive DENIED outcomes make a member PREVENTED.
const DENIALS_BEFORE_PREVENTED: usize = 3;

/// The connector name of the institution that holds a user's manual accounts: it has no
/// connector, and its member never aggregates.
pub const MANUAL_CONNECTOR: &str = "manual";

/// The connectors by name (the `connector` column of an institution).
pub struct Connectors(pub(crate) HashMap<String, Arc<dyn Connector>>);

impl Default for Connectors {
    fn default() -> Self {
        let mut map: HashMap<String, Arc<dyn Connector>> = HashMap::new();
        map.insert("sandbox".into(), Arc::new(ferry_connector::Sandbox));
        Connectors(map)
    }
}

/// What asking for a job did.
#[derive(Debug)]
pub enum JobStart {
    /// A new job was queued.
    Started(Job),
    /// A job of the same type is already active: nothing new (MX answers 202).
    AlreadyActive(Job),
}

/// What a job brought in, for its webhook.
#[derive(Debug, Default)]
struct PullSummary {
    /// Guids of the accounts the job's records cover (verify, identify).
    accounts: Vec<String>,
    /// Statements new to Ferry.
    records_created: u64,
}

/// A job's sealed continuation after MFA: the connector's state and the user's answers.
#[derive(Serialize, Deserialize)]
struct Continuation {
    state: String,
    answers: Vec<(String, String)>,
}

fn status_message(status: ConnectionStatus) -> Option<String> {
    use ConnectionStatus::*;
    let text = match status {
        CONNECTED => "Connected to the institution.",
        CHALLENGED => "The institution asked a security question; answer it to continue.",
        RESUMED => "The answers were sent to the institution.",
        DENIED => "The credentials were not accepted by the institution.",
        PREVENTED => "The credentials were refused several times; update them to try again.",
        REJECTED => "The answer to the security question was not accepted.",
        LOCKED => "The institution has locked this account; contact the institution.",
        IMPEDED => "The institution needs the user to act on its website before connecting.",
        DEGRADED => "The institution is having trouble; Ferry will try again later.",
        DELAYED => "Connecting is taking longer than usual; check back later.",
        DISCONNECTED => "The connection has been failing for some time.",
        DISCONTINUED => "Connections to this institution are no longer supported.",
        CLOSED => "The connection was closed at the institution.",
        FAILED => "The institution returned an error; try again later.",
        EXPIRED => "The security question was not answered in time.",
        IMPAIRED => "The credentials are incomplete; re-enter them.",
        other => return other.default_message().map(str::to_owned),
    };
    Some(text.to_owned())
}

impl Service {
    /// Queues a job for `member` unless one is active: the same type → `AlreadyActive`, another
    /// type → a 409 conflict. The database's one-active-job index settles races.
    pub(crate) async fn start_job(
        &self,
        member: &mut Member,
        job_type: JobType,
        is_background: bool,
        callback_payload: Option<String>,
    ) -> Result<JobStart> {
        if member.is_oauth && member.connection_status == ConnectionStatus::PENDING {
            return Err(Error::bad_request("the member has not completed OAuth yet"));
        }
        if member.connection_status == ConnectionStatus::PREVENTED || member.needs_updated_credentials {
            return Err(Error::bad_request(
                "the member's credentials were refused repeatedly; update them before aggregating",
            ));
        }
        let now = self.now();
        let job = Job {
            guid: JobGuid::from_uuid(self.uuid()),
            client_id: member.client_id.clone(),
            member_guid: member.guid.clone(),
            job_type,
            status: JobStatus::Queued,
            is_background,
            attempts: 0,
            challenges: Vec::new(),
            challenged_at: None,
            outcome: None,
            error_message: None,
            transactions_created: 0,
            transactions_updated: 0,
            callback_payload,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        };
        match self.db().insert_job(&job).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                let active = self.db().active_job(&member.guid).await?;
                return match active {
                    Some(a) if a.job_type == job_type => Ok(JobStart::AlreadyActive(a)),
                    Some(a) => Err(Error::Conflict {
                        message: format!(
                            "a {} job is already running on this member",
                            a.job_type.as_str().to_lowercase()
                        ),
                        guid: None,
                    }),
                    // The active job finished in between: try once more.
                    None => Box::pin(self.start_job(member, job_type, is_background, job.callback_payload)).await,
                };
            }
            Err(e) => return Err(e.into()),
        }
        member.is_being_aggregated = true;
        member.most_recent_job_guid = Some(job.guid.to_string());
        member.updated_at = now;
        self.db().update_member_progress(member).await?;
        self.inner.work.notify_one();
        Ok(JobStart::Started(job))
    }

    /// `POST .../aggregate`: the member, and whether a new job started.
    pub async fn aggregate_member(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        callback_payload: Option<String>,
    ) -> Result<Member> {
        self.member_action(client, user, member, JobType::Aggregation, callback_payload).await
    }

    /// Starts a job of `job_type` on a member as its owner asked.
    pub async fn member_action(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        job_type: JobType,
        callback_payload: Option<String>,
    ) -> Result<Member> {
        if let Some(p) = &callback_payload {
            crate::members::check_callback_payload(p)?;
        }
        let mut m = self.get_member(client, user, member).await?;
        let entry = self.catalog_entry(&InstitutionRef::Guid(m.institution_guid.clone())).await?;
        let institution = &entry.0;
        if institution.connector == MANUAL_CONNECTOR {
            return Err(Error::bad_request("the member holds manual accounts, which never aggregate"));
        }
        let required = match job_type {
            JobType::History => Some((Product::TransactionHistory, "extended transaction history")),
            JobType::Verification => Some((Product::AccountVerification, "account verification")),
            JobType::Identification => Some((Product::IdentityVerification, "identity verification")),
            JobType::Statement => Some((Product::Statements, "statements")),
            JobType::Aggregation | JobType::Balance => None,
        };
        if let Some((product, what)) = required
            && !institution.supports(product)
        {
            return Err(Error::bad_request(format!("institution `{}` does not support {what}", institution.code)));
        }
        if job_type == JobType::Aggregation && self.is_throttled(&m, &institution.connector) {
            // MX's minimum interval: 202 with the member as it is, and no new job.
            return Ok(m);
        }
        match self.start_job(&mut m, job_type, false, callback_payload).await? {
            JobStart::Started(_) => Ok(m),
            JobStart::AlreadyActive(_) => Ok(self.get_member(client, user, &MemberRef::Guid(m.guid.clone())).await?),
        }
    }

    /// Whether a manual aggregation of `m` falls within the throttle window of its last
    /// successful one, at an institution whose connector is throttled.
    fn is_throttled(&self, m: &Member, connector: &str) -> bool {
        let exempt = self.inner.connectors.0.get(connector).is_none_or(|c| c.is_throttle_exempt());
        !exempt
            && m.connection_status == ConnectionStatus::CONNECTED
            && m.successfully_aggregated_at.is_some_and(|t| self.now() - t < self.inner.config.aggregation_throttle)
    }

    /// The challenges a CHALLENGED member must answer; `None` when it is not challenged.
    pub async fn member_challenges(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
    ) -> Result<Option<Vec<Challenge>>> {
        let m = self.get_member(client, user, member).await?;
        self.challenges_of(&m).await
    }

    /// The challenges of a member already read; `None` when it is not challenged.
    pub async fn challenges_of(&self, m: &Member) -> Result<Option<Vec<Challenge>>> {
        if m.connection_status != ConnectionStatus::CHALLENGED {
            return Ok(None);
        }
        Ok(self.db().active_job(&m.guid).await?.filter(|j| j.status == JobStatus::Challenged).map(|j| j.challenges))
    }

    /// `PUT .../resume`: answers the member's challenges and queues the job again.
    pub async fn resume_member(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        answers: Vec<SubmittedCredential>,
    ) -> Result<Member> {
        let mut m = self.get_member(client, user, member).await?;
        let job = match self.db().active_job(&m.guid).await? {
            Some(j) if j.status == JobStatus::Challenged => j,
            _ => return Err(Error::bad_request("the member is not waiting for challenge answers")),
        };
        if answers.is_empty() {
            return Err(Error::bad_request("member.challenges is required: one {guid, value} per challenge"));
        }
        for (i, a) in answers.iter().enumerate() {
            if !job.challenges.iter().any(|c| c.guid == a.guid) {
                return Err(Error::bad_request(format!(
                    "member.challenges[{i}].guid `{}` is not one of the member's challenges",
                    a.guid.chars().take(80).collect::<String>()
                )));
            }
        }
        if let Some(missing) = job.challenges.iter().find(|c| !answers.iter().any(|a| a.guid == c.guid)) {
            return Err(Error::bad_request(format!(
                "member.challenges has no answer for challenge `{}`",
                missing.guid
            )));
        }
        let sealed = self
            .db()
            .job_sealed_state(&job.guid)
            .await?
            .ok_or_else(|| Error::Internal(format!("job {} lost its continuation", job.guid)))?;
        let state = self.open_job_state(&job, &sealed)?;
        let continuation = Continuation {
            state: state.state,
            answers: answers.into_iter().map(|a| (a.guid, a.value.expose().to_owned())).collect(),
        };
        let resealed = self.seal_job_state(&job, &continuation);
        let now = self.now();
        let mut queued = job.clone();
        queued.status = JobStatus::Queued;
        queued.challenges = Vec::new();
        queued.challenged_at = None;
        queued.updated_at = now;
        if !self.db().update_job(&queued, None, Some(Some(&resealed))).await? {
            return Err(Error::NotFound("job"));
        }
        m.connection_status = ConnectionStatus::RESUMED;
        m.connection_status_message = status_message(ConnectionStatus::RESUMED);
        m.is_being_aggregated = true;
        m.updated_at = now;
        let events = self.status_events(&m, job.callback_payload.clone());
        self.db().update_member_progress_with(&m, &events).await?;
        self.events_written();
        self.inner.work.notify_one();
        Ok(m)
    }

    fn seal_job_state(&self, job: &Job, c: &Continuation) -> SealedState {
        let plain = serde_json::to_vec(c).unwrap_or_default();
        let (key_id, sealed) = self.inner.keyring.seal(job.guid.as_str().as_bytes(), &plain);
        SealedState { key_id, sealed }
    }

    fn open_job_state(&self, job: &Job, s: &SealedState) -> Result<Continuation> {
        let plain = self
            .inner
            .keyring
            .open(&s.key_id, &s.sealed, job.guid.as_str().as_bytes())
            .map_err(|e| Error::Internal(format!("job {}: {e}", job.guid)))?;
        serde_json::from_slice(&plain).map_err(|_| Error::Internal(format!("job {}: malformed continuation", job.guid)))
    }

    /// Ends the member's challenged job, if any, without an outcome for the member.
    pub(crate) async fn abandon_challenge(&self, m: &Member) -> Result<()> {
        if let Some(mut job) = self.db().active_job(&m.guid).await?.filter(|j| j.status == JobStatus::Challenged) {
            let now = self.now();
            job.status = JobStatus::Failed;
            job.outcome = Some(ConnectionStatus::UPDATED.as_str().into());
            job.challenges = Vec::new();
            job.finished_at = Some(now);
            job.updated_at = now;
            self.db().update_job(&job, None, Some(None)).await?;
        }
        Ok(())
    }

    /// Marks challenges older than the configured time EXPIRED. Returns how many.
    pub async fn expire_challenges(&self) -> Result<usize> {
        let now = self.now();
        let stale = self.db().stale_challenged_jobs(now - self.inner.config.challenge_ttl).await?;
        for mut job in stale.iter().cloned() {
            job.status = JobStatus::Failed;
            job.outcome = Some(ConnectionStatus::EXPIRED.as_str().into());
            job.finished_at = Some(now);
            job.updated_at = now;
            if self.db().update_job(&job, None, Some(None)).await?
                && let Some(mut m) = self.db().get_member_for_job(&job.member_guid).await?
                && m.connection_status == ConnectionStatus::CHALLENGED
            {
                self.set_status(&mut m, ConnectionStatus::EXPIRED, now);
                m.is_being_aggregated = false;
                let events = self.status_events(&m, job.callback_payload.clone());
                self.db().update_member_progress_with(&m, &events).await?;
                self.events_written();
            }
        }
        Ok(stale.len())
    }

    fn set_status(&self, m: &mut Member, status: ConnectionStatus, now: OffsetDateTime) {
        m.connection_status = status;
        m.connection_status_message = status_message(status);
        m.updated_at = now;
    }

    /// Queues background aggregations for members due one: last aggregated longer ago than
    /// the configured interval, user enabled, background aggregation not disabled, no active
    /// job, and not in a status that needs the end user. Returns how many were queued.
    pub async fn schedule_background(&self) -> Result<usize> {
        let now = self.now();
        let due = self.db().members_due_for_background(now - self.inner.config.background_interval, 100).await?;
        let mut queued = 0;
        for guid in due {
            let Some(mut m) = self.db().get_member_for_job(&guid).await? else { continue };
            match self.start_job(&mut m, JobType::Aggregation, true, None).await {
                Ok(JobStart::Started(_)) => queued += 1,
                // Raced with an action or a status change: the next round looks again.
                Ok(JobStart::AlreadyActive(_)) | Err(Error::Conflict { .. } | Error::BadRequest(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(queued)
    }

    /// Claims and runs one job. False when there was nothing to do. Every few seconds it also
    /// expires stale challenges and queues due background aggregations.
    pub async fn run_once(&self, worker: &str) -> Result<bool> {
        let now = self.now();
        let housekeeping = {
            let mut last = self.inner.housekeeping_at.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| now - t >= HOUSEKEEPING_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if housekeeping {
            self.expire_challenges().await?;
            self.schedule_background().await?;
        }
        let now = self.now();
        let Some(job) = self.db().claim_job(worker, now, now + self.inner.config.lease).await? else {
            return Ok(false);
        };
        if let Err(e) = self.run_job(job.clone(), worker).await {
            // The job stays RUNNING under this worker's lease and is retried when it runs out.
            tracing::error!(job = %job.guid, error = %e, "job failed");
        }
        Ok(true)
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

    async fn run_job(&self, mut job: Job, worker: &str) -> Result<()> {
        let Some(mut member) = self.db().get_member_for_job(&job.member_guid).await? else {
            return Ok(()); // The member was deleted; its jobs went with it.
        };
        let entry = self.catalog_entry(&InstitutionRef::Guid(member.institution_guid.clone())).await?;
        let (institution, fields) = (&entry.0, entry.1.as_slice());
        let connector = self.inner.connectors.0.get(&institution.connector).cloned().ok_or_else(|| {
            Error::Internal(format!("no connector `{}` for institution {}", institution.connector, institution.code))
        })?;
        let now = self.now();

        // The member shows the job from its start; the flags of what this job processes start
        // over (a verify leaves `has_processed_transactions` alone).
        member.is_being_aggregated = true;
        member.is_authenticated = false;
        member.has_processed_accounts = false;
        if matches!(job.job_type, JobType::Aggregation | JobType::History) {
            member.has_processed_transactions = false;
        }
        if job.job_type == JobType::Verification {
            member.has_processed_account_numbers = false;
        }
        member.aggregated_at = job.started_at.or(Some(now));
        member.most_recent_job_guid = Some(job.guid.to_string());
        member.updated_at = now;
        self.db().update_member_progress(&member).await?;

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
            .filter_map(|(guid, value)| {
                fields.iter().find(|f| f.guid.as_str() == guid).map(|f| (f.field_name.clone(), value))
            })
            .collect();
        let request = LoginRequest {
            member_key: member.guid.to_string(),
            credentials,
            now,
            last_success: member.successfully_aggregated_at,
            oauth_access_token,
        };
        let continuation = match self.db().job_sealed_state(&job.guid).await? {
            Some(s) => Some(self.open_job_state(&job, &s)?),
            None => None,
        };
        let outcome = match &continuation {
            Some(c) => {
                let answers: Vec<Answer> =
                    c.answers.iter().map(|(g, v)| Answer { guid: g.clone(), value: Secret::new(v.clone()) }).collect();
                connector.answer(&request, &c.state, &answers).await
            }
            None => connector.login(&request).await,
        };
        match outcome {
            Ok(LoginOutcome::Connected(session)) => {
                member.is_authenticated = true;
                self.set_status(&mut member, ConnectionStatus::CONNECTED, self.now());
                let events = self.status_events(&member, job.callback_payload.clone());
                self.db().update_member_progress_with(&member, &events).await?;
                self.events_written();
                match self.pull_data(connector.as_ref(), &session, &mut member, &mut job, worker).await {
                    Ok(summary) => {
                        let done = self.now();
                        // Only jobs that aggregate transactions count as an aggregation.
                        if matches!(job.job_type, JobType::Aggregation | JobType::History) {
                            member.successfully_aggregated_at = Some(done);
                        }
                        member.is_being_aggregated = false;
                        member.needs_updated_credentials = false;
                        member.updated_at = done;
                        job.status = JobStatus::Succeeded;
                        job.outcome = Some(ConnectionStatus::CONNECTED.as_str().into());
                        let data = self.data_event(&member, &job, &summary.accounts, summary.records_created);
                        self.finish(job, member, worker, done, vec![data]).await
                    }
                    Err(ConnectorError::Failure(f)) => self.fail(job, member, f.status(), None, worker).await,
                    Err(e) => self.fail(job, member, ConnectionStatus::FAILED, Some(e.to_string()), worker).await,
                }
            }
            Ok(LoginOutcome::Challenged { challenges, state }) => {
                let at = self.now();
                let sealed = self.seal_job_state(&job, &Continuation { state, answers: Vec::new() });
                job.status = JobStatus::Challenged;
                job.challenges = challenges;
                job.challenged_at = Some(at);
                job.updated_at = at;
                if !self.db().update_job(&job, Some(worker), Some(Some(&sealed))).await? {
                    return Ok(()); // Lost the lease: another worker has the job now.
                }
                member.is_being_aggregated = false;
                self.set_status(&mut member, ConnectionStatus::CHALLENGED, at);
                let events = self.status_events(&member, job.callback_payload.clone());
                self.db().update_member_progress_with(&member, &events).await?;
                self.events_written();
                Ok(())
            }
            Ok(LoginOutcome::Failed(f)) => {
                let mut status = f.status();
                if status == ConnectionStatus::DENIED {
                    let previous =
                        self.db().recent_job_outcomes(&member.guid, (DENIALS_BEFORE_PREVENTED - 1) as i64).await?;
                    if previous.len() == DENIALS_BEFORE_PREVENTED - 1
                        && previous.iter().all(|o| matches!(o.as_deref(), Some("DENIED") | Some("PREVENTED")))
                    {
                        status = ConnectionStatus::PREVENTED;
                        member.needs_updated_credentials = true;
                    }
                }
                self.fail(job, member, status, None, worker).await
            }
            Err(ConnectorError::Failure(f)) => self.fail(job, member, f.status(), None, worker).await,
            Err(ConnectorError::BadAnswers(m)) => {
                self.fail(job, member, ConnectionStatus::REJECTED, Some(m), worker).await
            }
            Err(e @ (ConnectorError::Other(_) | ConnectorError::Unsupported(_))) => {
                self.fail(job, member, ConnectionStatus::FAILED, Some(e.to_string()), worker).await
            }
        }
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
        job.outcome = Some(status.as_str().into());
        job.error_message = error;
        member.is_being_aggregated = false;
        self.set_status(&mut member, status, now);
        self.finish(job, member, worker, now, Vec::new()).await
    }

    /// Ends a job; the member's update carries the job's webhooks (`data`, and the status
    /// events if its status changed) in the same transaction.
    async fn finish(
        &self,
        mut job: Job,
        member: Member,
        worker: &str,
        now: OffsetDateTime,
        data: Vec<ferry_store::NewEvent>,
    ) -> Result<()> {
        job.finished_at = Some(now);
        job.updated_at = now;
        job.challenges = Vec::new();
        if self.db().update_job(&job, Some(worker), Some(None)).await? {
            let mut events = self.status_events(&member, job.callback_payload.clone());
            events.always = data;
            self.db().update_member_progress_with(&member, &events).await?;
            self.events_written();
        }
        Ok(())
    }

    /// Accounts, then each account's transactions, upserted under the connector's ids.
    async fn pull_data(
        &self,
        connector: &dyn Connector,
        session: &Session,
        member: &mut Member,
        job: &mut Job,
        worker: &str,
    ) -> std::result::Result<PullSummary, ConnectorError> {
        let store = |e: StoreError| ConnectorError::Other(Error::from(e).to_string());
        let now = self.now();
        let accounts = connector.accounts(session).await?;
        let known: HashMap<String, AccountGuid> =
            self.db().account_guids_by_external_id(&member.guid).await.map_err(store)?.into_iter().collect();
        let rows: Vec<Account> = accounts
            .iter()
            .map(|a| Account {
                guid: known.get(&a.id).cloned().unwrap_or_else(|| AccountGuid::from_uuid(self.uuid())),
                client_id: member.client_id.clone(),
                user_guid: member.user_guid.clone(),
                user_id: None,
                member_guid: member.guid.clone(),
                member_id: None,
                institution_code: member.institution_code.clone(),
                external_id: a.id.clone(),
                id: None,
                name: a.name.clone(),
                nickname: None,
                kind: a.kind.clone(),
                subtype: a.subtype.clone(),
                account_number: a.account_number.as_deref().map(mask),
                routing_number: a.routing_number.clone(),
                balance: a.balance,
                available_balance: a.available_balance,
                credit_limit: a.credit_limit,
                apr: a.apr,
                apy: a.apy,
                currency_code: a.currency_code.clone(),
                is_closed: a.is_closed,
                is_hidden: false,
                is_manual: false,
                is_business: false,
                details: Default::default(),
                metadata: None,
                created_at: now,
                updated_at: now,
            })
            .collect();
        self.db().upsert_accounts(&rows).await.map_err(store)?;
        let guids: HashMap<String, AccountGuid> =
            self.db().account_guids_by_external_id(&member.guid).await.map_err(store)?.into_iter().collect();
        member.has_processed_accounts = true;
        // The accounts a set of records covers (the VERIFICATION and IDENTITY webhooks list them).
        let covered = |data: &[(RecordData, Option<Vec<u8>>)]| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for (d, _) in data {
                if let Some(g) = guids.get(d.account_id())
                    && !out.contains(&g.to_string())
                {
                    out.push(g.to_string());
                }
            }
            out
        };
        let mut summary = PullSummary::default();
        match job.job_type {
            JobType::Balance => {} // Balances only.
            JobType::Verification => {
                let numbers = connector.account_numbers(session).await?;
                let data: Vec<_> = numbers.into_iter().map(|d| (RecordData::AccountNumber(d), None)).collect();
                summary.accounts = covered(&data);
                self.store_records(member, &guids, RecordKind::AccountNumber, data, true).await?;
                member.has_processed_account_numbers = true;
            }
            JobType::Identification => {
                let owners = connector.account_owners(session).await?;
                let data: Vec<_> = owners.into_iter().map(|d| (RecordData::AccountOwner(d), None)).collect();
                summary.accounts = covered(&data);
                self.store_records(member, &guids, RecordKind::AccountOwner, data, true).await?;
            }
            JobType::Statement => {
                let statements = connector.statements(session).await?;
                let data = statements.into_iter().map(|s| (RecordData::Statement(s.data), Some(s.pdf))).collect();
                // Statements are history: one the institution stops listing is kept.
                summary.records_created =
                    self.store_records(member, &guids, RecordKind::Statement, data, false).await?;
            }
            JobType::Aggregation | JobType::History => {
                self.pull_transactions(connector, session, member, job, worker, &accounts, &guids).await?;
                if job.job_type == JobType::Aggregation && accounts.iter().any(|a| a.kind == "INVESTMENT") {
                    match connector.holdings(session).await {
                        Ok(holdings) => {
                            let data = holdings.into_iter().map(|d| (RecordData::Holding(d), None)).collect();
                            self.store_records(member, &guids, RecordKind::Holding, data, true).await?;
                        }
                        Err(ConnectorError::Unsupported(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(summary)
    }

    /// Stores records the connector reported for the member's accounts (records of accounts it
    /// did not list are dropped). Returns how many are new.
    async fn store_records(
        &self,
        member: &Member,
        accounts: &HashMap<String, AccountGuid>,
        kind: RecordKind,
        data: Vec<(RecordData, Option<Vec<u8>>)>,
        replace: bool,
    ) -> std::result::Result<u64, ConnectorError> {
        let now = self.now();
        let records: Vec<(Record, Option<Vec<u8>>)> = data
            .into_iter()
            .filter_map(|(data, content)| {
                let account_guid = accounts.get(data.account_id())?.clone();
                let record = Record {
                    guid: format!("{}{}", kind.prefix(), self.uuid()),
                    client_id: member.client_id.clone(),
                    user_guid: member.user_guid.clone(),
                    member_guid: member.guid.clone(),
                    account_guid,
                    content_hash: content.as_deref().map(|c| hex::encode(Sha256::digest(c))),
                    data,
                    created_at: now,
                    updated_at: now,
                };
                Some((record, content))
            })
            .collect();
        let rows: Vec<NewRecord<'_>> =
            records.iter().map(|(record, content)| NewRecord { record, content: content.as_deref() }).collect();
        self.db()
            .store_records(&member.guid, kind, &rows, replace)
            .await
            .map_err(|e| ConnectorError::Other(Error::from(e).to_string()))
    }

    /// Transactions of every account in the job's window, upserted under the connector's ids;
    /// stale pending ones removed.
    #[allow(clippy::too_many_arguments)]
    async fn pull_transactions(
        &self,
        connector: &dyn Connector,
        session: &Session,
        member: &mut Member,
        job: &mut Job,
        worker: &str,
        accounts: &[ferry_connector::AccountData],
        guids: &HashMap<String, AccountGuid>,
    ) -> std::result::Result<(), ConnectorError> {
        let store = |e: StoreError| ConnectorError::Other(Error::from(e).to_string());
        let now = self.now();
        let known_txns: HashMap<String, TransactionGuid> =
            self.db().transaction_guids_by_external_id(&member.guid).await.map_err(store)?.into_iter().collect();
        let days_back = if job.job_type == JobType::History { EXTENDED_HISTORY_DAYS } else { HISTORY_DAYS };
        let (from, to) = (now.date() - Duration::days(days_back), now.date() + Duration::days(FUTURE_DAYS));
        let mut created = 0i64;
        let mut rows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut renewed = now;
        for a in accounts {
            let Some(account_guid) = guids.get(&a.id) else { continue };
            for t in connector.transactions(session, &a.id, from, to).await? {
                if !seen.insert(t.id.clone()) {
                    continue; // A connector listing one id twice must not make two rows.
                }
                let guid = match known_txns.get(&t.id) {
                    Some(g) => g.clone(),
                    None => {
                        created += 1;
                        TransactionGuid::from_uuid(self.uuid())
                    }
                };
                rows.push(Transaction {
                    guid,
                    client_id: member.client_id.clone(),
                    user_guid: member.user_guid.clone(),
                    user_id: None,
                    member_guid: member.guid.clone(),
                    account_guid: account_guid.clone(),
                    account_id: None,
                    external_id: t.id,
                    id: None,
                    amount: t.amount,
                    is_debit: t.is_debit,
                    is_pending: t.is_pending,
                    date: t.date,
                    transacted_at: Some(t.transacted_at),
                    posted_at: t.posted_at,
                    description: Some(t.description),
                    original_description: Some(t.original_description),
                    category: Some(t.category),
                    top_level_category: Some(t.top_level_category),
                    memo: t.memo,
                    check_number_string: t.check_number,
                    merchant_category_code: t.merchant_category_code,
                    is_bill_pay: t.is_bill_pay,
                    is_direct_deposit: t.is_direct_deposit,
                    is_fee: t.is_fee,
                    is_payroll: t.is_payroll,
                    is_subscription: t.is_subscription,
                    is_manual: false,
                    currency_code: t.currency_code,
                    metadata: None,
                    created_at: now,
                    updated_at: now,
                });
            }
            // Renew the lease once a third of it has gone, not per account.
            let lease = self.inner.config.lease;
            if self.now() - renewed > lease / 3 {
                renewed = self.now();
                if !self.db().renew_lease(&job.guid, worker, renewed + lease).await.map_err(store)? {
                    return Err(ConnectorError::Other("the job's lease was lost".into()));
                }
            }
        }
        let changed = self.db().upsert_transactions(&rows).await.map_err(store)? as i64;
        // Pending transactions the institution no longer reports (a voided authorization, say)
        // go once they are two weeks old; posted ones are history and stay.
        let stale: Vec<TransactionGuid> = self
            .db()
            .pending_transactions_before(&member.guid, now.date() - Duration::days(STALE_PENDING_DAYS))
            .await
            .map_err(store)?
            .into_iter()
            .filter(|(external_id, _)| !seen.contains(external_id))
            .map(|(_, guid)| guid)
            .collect();
        self.db().delete_transactions(&stale).await.map_err(store)?;
        job.transactions_created = created;
        job.transactions_updated = (changed - created).max(0);
        member.has_processed_transactions = true;
        Ok(())
    }
}

/// Keeps the last four digits of an account number.
fn mask(number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("XXXXXX{tail}")
}

impl Service {
    /// A job of one of `user`'s members, with that member (the Nexus `GET /jobs/{guid}`).
    pub async fn get_job(&self, client: &Client, user: &UserRef, guid: &str) -> Result<(Job, Member)> {
        let u = self.get_user(client, user).await?;
        let guid = JobGuid::parse(guid).map_err(|_| Error::NotFound("job"))?;
        let job = self.db().get_job(&guid).await?.filter(|j| j.client_id == client.id).ok_or(Error::NotFound("job"))?;
        let member =
            self.db().get_member(&client.id, &u.guid, &job.member_guid).await?.ok_or(Error::NotFound("job"))?;
        Ok((job, member))
    }
}
