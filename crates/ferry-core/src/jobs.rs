//! Jobs as the API sees them: starting one under MX's rules (one active job per member, the
//! aggregation throttle, what the institution supports), MFA challenges and their answers,
//! expiry of unanswered challenges, and background scheduling. Running a job is
//! `worker.rs`; storing what it brings in is `pull.rs`.
//!
//! Every change here that a member shows is one transaction with the member (see
//! `ferry_store::JobChange`): a process killed between two statements leaves the state before
//! or the state after.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_connector::Connector;
use ferry_domain::{
    Challenge, Client, ConnectionStatus, Job, JobGuid, JobStatus, JobType, Member, Product, SubmittedCredential,
};
use ferry_store::{JobChange, JobGuard, SealedState, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::institutions::InstitutionRef;
use crate::institutions::MANUAL_CONNECTOR;
use crate::webhooks::check_callback_payload;
use crate::{Error, MemberRef, Result, Service, UserRef};

/// The connectors by name (the `connector` column of an institution). Empty until the binary
/// (or a test) registers them with [`Service::with_connector`].
#[derive(Default)]
pub struct Connectors(pub(crate) HashMap<String, Arc<dyn Connector>>);

/// What asking for a job did.
#[derive(Debug)]
pub enum JobStart {
    /// A new job was queued.
    Started(Job),
    /// A job of the same type is already active: nothing new (MX answers 202).
    AlreadyActive(Job),
}

/// A job's sealed continuation after MFA: the connector's state and the user's answers.
#[derive(Serialize, Deserialize)]
pub(crate) struct Continuation {
    pub(crate) state: String,
    pub(crate) answers: Vec<(String, String)>,
}

impl Service {
    /// A new queued job for `member` (not yet written).
    pub(crate) fn new_job(
        &self,
        member: &Member,
        job_type: JobType,
        is_background: bool,
        callback_payload: Option<String>,
    ) -> Job {
        let now = self.now();
        Job {
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
            request_id: crate::context::request_id(),
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        }
    }

    /// Refuses a job on a member that cannot aggregate until its user acts.
    pub(crate) fn check_can_aggregate(member: &Member) -> Result<()> {
        if member.is_oauth && member.connection_status == ConnectionStatus::PENDING {
            return Err(Error::bad_request("the member has not completed OAuth yet"));
        }
        if member.connection_status == ConnectionStatus::PREVENTED || member.needs_updated_credentials {
            return Err(Error::bad_request(
                "the member's credentials were refused repeatedly; update them before aggregating",
            ));
        }
        Ok(())
    }

    /// Queues a job for `member` unless one is active: the same type → `AlreadyActive`, another
    /// type → a 409 conflict. The job and the member's busy flag are written together; the
    /// database's one-active-job index settles races.
    pub(crate) async fn start_job(
        &self,
        member: &mut Member,
        job_type: JobType,
        is_background: bool,
        callback_payload: Option<String>,
    ) -> Result<JobStart> {
        Self::check_can_aggregate(member)?;
        let job = self.new_job(member, job_type, is_background, callback_payload);
        match self.db().insert_job(&job, None).await {
            Ok(()) => {}
            // The member was deleted meanwhile.
            Err(StoreError::MissingParent(_)) => return Err(Error::NotFound("member")),
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
        member.most_recent_job_guid = Some(job.guid.clone());
        member.updated_at = job.created_at;
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
            check_callback_payload(p)?;
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
        if self.db().connector_state(&m.guid).await?.and_then(|s| s.retry_at).is_some_and(|t| t > self.now()) {
            // The institution's quota is spent until then: a job now would only spend more (or
            // be refused); the member keeps its DELAYED status and message.
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
            return Err(Error::invalid("member.challenges", "is required: one {guid, value} per challenge"));
        }
        for (i, a) in answers.iter().enumerate() {
            if !job.challenges.iter().any(|c| c.guid == a.guid) {
                return Err(Error::invalid_at(
                    "member.challenges",
                    format!("[{i}].guid"),
                    format!("`{}` is not one of the member's challenges", a.guid.chars().take(80).collect::<String>()),
                ));
            }
        }
        if let Some(missing) = job.challenges.iter().find(|c| !answers.iter().any(|a| a.guid == c.guid)) {
            return Err(Error::invalid("member.challenges", format!("has no answer for challenge `{}`", missing.guid)));
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
        m.connection_status = ConnectionStatus::RESUMED;
        m.connection_status_message = ConnectionStatus::RESUMED.message().map(str::to_owned);
        m.is_being_aggregated = true;
        m.updated_at = now;
        let events = self.status_events(&m, job.callback_payload.clone());
        // The answers, the queued job and the member's RESUMED status go in together; answers
        // sent twice at once: only the first finds the job still CHALLENGED.
        let change = JobChange {
            job: &queued,
            guard: JobGuard::Status(JobStatus::Challenged),
            sealed: Some(Some(&resealed)),
            member: Some((&m, &events)),
        };
        if !self.db().change_job(&change).await? {
            return Err(Error::bad_request("the member is not waiting for challenge answers"));
        }
        self.events_written();
        self.inner.work.notify_one();
        Ok(m)
    }

    pub(crate) fn seal_job_state(&self, job: &Job, c: &Continuation) -> SealedState {
        let plain = serde_json::to_vec(c).unwrap_or_default();
        let (key_id, sealed) = self.inner.keyring.seal(job.guid.as_str().as_bytes(), &plain);
        SealedState { key_id, sealed }
    }

    pub(crate) fn open_job_state(&self, job: &Job, s: &SealedState) -> Result<Continuation> {
        let plain = self
            .inner
            .keyring
            .open(&s.key_id, &s.sealed, job.guid.as_str().as_bytes())
            .map_err(|e| Error::Internal(format!("job {}: {e}", job.guid)))?;
        serde_json::from_slice(&plain).map_err(|_| Error::Internal(format!("job {}: malformed continuation", job.guid)))
    }

    /// Marks challenges older than the configured time EXPIRED: the job ends, and its member
    /// (if still CHALLENGED) becomes EXPIRED with its events, in one transaction. Returns how
    /// many.
    pub async fn expire_challenges(&self) -> Result<usize> {
        let now = self.now();
        let stale = self.db().stale_challenged_jobs(now - self.inner.config.challenge_ttl).await?;
        let mut expired = 0;
        for mut job in stale {
            job.status = JobStatus::Failed;
            job.outcome = Some(ConnectionStatus::EXPIRED);
            job.challenges = Vec::new();
            job.finished_at = Some(now);
            job.updated_at = now;
            let member = self
                .db()
                .get_member_for_job(&job.member_guid)
                .await?
                .filter(|m| m.connection_status == ConnectionStatus::CHALLENGED)
                .map(|mut m| {
                    self.set_status(&mut m, ConnectionStatus::EXPIRED, now);
                    m.is_being_aggregated = false;
                    let events = self.status_events(&m, job.callback_payload.clone());
                    (m, events)
                });
            let change = JobChange {
                job: &job,
                guard: JobGuard::Status(JobStatus::Challenged),
                sealed: Some(None),
                member: member.as_ref().map(|(m, e)| (m, e)),
            };
            if self.db().change_job(&change).await? {
                expired += 1;
                if member.is_some() {
                    self.events_written();
                }
            }
        }
        Ok(expired)
    }

    pub(crate) fn set_status(&self, m: &mut Member, status: ConnectionStatus, now: OffsetDateTime) {
        m.connection_status = status;
        m.connection_status_message = status.message().map(str::to_owned);
        m.updated_at = now;
    }

    /// Queues background aggregations for members due one: last aggregated longer ago than
    /// the configured interval, user enabled, background aggregation not disabled, no active
    /// job, and not in a status that needs the end user. Returns how many were queued.
    pub async fn schedule_background(&self) -> Result<usize> {
        let now = self.now();
        let due = self.db().members_due_for_background(now - self.inner.config.background_interval, now, 100).await?;
        let mut queued = 0;
        for guid in due {
            let Some(mut m) = self.db().get_member_for_job(&guid).await? else { continue };
            match self.start_job(&mut m, JobType::Aggregation, true, None).await {
                Ok(JobStart::Started(_)) => queued += 1,
                // Raced with an action, a status change or a deletion: the next round looks again.
                Ok(JobStart::AlreadyActive(_))
                | Err(Error::Conflict { .. } | Error::BadRequest(_) | Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(queued)
    }
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
