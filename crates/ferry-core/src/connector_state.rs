//! A member's connector state: what a real protocol must remember between jobs (a SimpleFIN
//! access URL, an OFX CLIENTUID), sealed under the master key like credentials and bound to
//! the member, saved by the connector during a job through [`ferry_connector::StateHandle`].

use ferry_connector::{ConnectorError, MemberState, StateHandle};
use ferry_domain::{Job, JobGuid, Member, MemberGuid, Secret};
use ferry_store::StateWrite;
use time::OffsetDateTime;

use crate::{Error, Result, Service};

/// The context a state is sealed under: the member's guid, so a sealed value copied to
/// another member does not open.
fn context(member: &MemberGuid) -> Vec<u8> {
    format!("connector-state:{member}").into_bytes()
}

impl Service {
    /// A member's connector state, opened (`None` when its connector never saved any), and
    /// the time before which it should not call the institution.
    pub(crate) async fn open_connector_state(
        &self,
        member: &MemberGuid,
    ) -> Result<(Option<Secret>, Option<OffsetDateTime>)> {
        let Some(stored) = self.db().connector_state(member).await? else {
            return Ok((None, None));
        };
        let retry_at = stored.retry_at;
        let state = match stored.sealed {
            Some((key_id, sealed)) => {
                let plain = self
                    .inner
                    .keyring
                    .open(&key_id, &sealed, &context(member))
                    .map_err(|e| Error::Internal(format!("member {member}: connector state: {e}")))?;
                let text = String::from_utf8(plain)
                    .map_err(|_| Error::Internal(format!("member {member}: connector state is not text")))?;
                Some(Secret::new(text))
            }
            None => None,
        };
        Ok((state, retry_at))
    }

    /// The handle a running job's connector saves its member's state through.
    pub(crate) fn state_handle(&self, member: &Member, job: &Job, worker: &str) -> StateHandle {
        StateHandle(std::sync::Arc::new(JobState {
            service: self.clone(),
            member: member.guid.clone(),
            job: job.guid.clone(),
            worker: worker.to_owned(),
        }))
    }

    /// Sets (or clears) the time before which no job of the member should call its
    /// institution, while `worker` holds `job`.
    pub(crate) async fn set_retry_at(
        &self,
        member: &MemberGuid,
        job: &JobGuid,
        worker: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> Result<bool> {
        let write = StateWrite {
            member,
            job,
            worker,
            sealed: None,
            retry_at: Some(retry_at),
            spend_credentials: false,
            now: self.now(),
        };
        Ok(self.db().write_connector_state(&write).await?)
    }
}

/// Saves state for one running job: sealed, guarded by the job's lease.
struct JobState {
    service: Service,
    member: MemberGuid,
    job: JobGuid,
    worker: String,
}

#[async_trait::async_trait]
impl MemberState for JobState {
    async fn save(&self, state: &str, spend_credentials: bool) -> ferry_connector::Result<()> {
        let (key_id, sealed) = self.service.inner.keyring.seal(&context(&self.member), state.as_bytes());
        let write = StateWrite {
            member: &self.member,
            job: &self.job,
            worker: &self.worker,
            sealed: Some((&key_id, &sealed)),
            retry_at: None,
            spend_credentials,
            now: self.service.now(),
        };
        match self.service.db().write_connector_state(&write).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ConnectorError::Internal("the job's lease was lost".into())),
            Err(e) => Err(ConnectorError::Internal(format!("saving the connector state: {e}"))),
        }
    }
}
