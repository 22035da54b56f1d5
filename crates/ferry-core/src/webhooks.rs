//! Webhooks: endpoints clients register, the events of a member's life (MX's payloads, built
//! here because they are written in the transaction of the change that causes them), and their
//! delivery: signed POSTs with a 10 s timeout, retried with backoff up to 12 times over about
//! 22 hours, in order per member and endpoint, claimed with a lease so several processes can
//! deliver from one database.
//!
//! Each delivery carries `Ferry-Event-Id` (receivers deduplicate on it), `Ferry-Event-Type`,
//! `Ferry-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, and the
//! `X-Callback-Payload` of the request that caused the event, when there was one.

use std::time::Instant;

use base64::Engine;
use ferry_domain::{Client, Job, JobType, Member};
use ferry_store::{AttemptLog, AttemptOutcome, DeliveryLog, DueDelivery, MemberEvents, NewEvent, WebhookEndpoint};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::{Error, Result, Service};

/// The event types a client can subscribe to.
pub const EVENT_TYPES: &[&str] =
    &["MEMBER", "CONNECTION_STATUS", "AGGREGATION", "BALANCE", "HISTORY", "STATEMENT", "VERIFICATION", "IDENTITY"];

/// Retries after the first attempt, as MX does.
pub const MAX_RETRIES: i64 = 12;

/// The wait before retry `n` (1-based): about 22 hours in all.
fn backoff(retry: i64) -> Duration {
    const MINUTES: [i64; 12] = [1, 2, 5, 10, 20, 40, 60, 120, 180, 240, 300, 360];
    Duration::minutes(MINUTES[(retry.clamp(1, 12) - 1) as usize])
}

/// How many deliveries one worker step claims.
const CLAIM_BATCH: i64 = 32;

/// The longest `X-CALLBACK-PAYLOAD` MX accepts.
pub const CALLBACK_PAYLOAD_MAX: usize = 1024;

/// Checks an `X-CALLBACK-PAYLOAD` header: base64, at most 1,024 characters.
pub fn check_callback_payload(value: &str) -> Result<()> {
    if value.len() > CALLBACK_PAYLOAD_MAX {
        return Err(Error::bad_request(format!("X-CALLBACK-PAYLOAD is longer than {CALLBACK_PAYLOAD_MAX} characters")));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let url_safe = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    if value.is_empty() || (engine.decode(value).is_err() && url_safe.decode(value).is_err()) {
        return Err(Error::bad_request("X-CALLBACK-PAYLOAD must be a base64 string"));
    }
    Ok(())
}

/// Which webhook URLs the server may call: the address policy every outbound call shares.
pub type WebhookPolicy = ferry_connector::net::AddressPolicy;

/// The client for receivers: 10 s timeout (less when the lease is shorter, so a request never
/// outlives its claim), no redirects, addresses filtered by the policy.
pub(crate) fn webhook_client(policy: WebhookPolicy, lease: Duration) -> reqwest::Client {
    let timeout = std::time::Duration::from_secs(10)
        .min(std::time::Duration::from_millis((lease.whole_milliseconds().max(2_000) - 1_000) as u64));
    ferry_connector::net::guarded_client(policy, timeout, "Ferry-Webhooks/1")
}

/// Checks a webhook URL: http(s), a host, and (for IP literals) an address the policy allows.
pub fn check_webhook_url(url: &str, policy: WebhookPolicy) -> Result<()> {
    use ferry_connector::net::UrlRefusal;
    let parsed = url::Url::parse(url).map_err(|_| Error::bad_request("webhook.url must be an absolute http(s) URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::bad_request("webhook.url must not carry credentials; use username and password"));
    }
    policy.check_url(&parsed).map_err(|e| match e {
        UrlRefusal::Scheme => Error::bad_request("webhook.url must use http or https"),
        UrlRefusal::NoHost => Error::bad_request("webhook.url must name a host"),
        UrlRefusal::Address => Error::bad_request(
            "webhook.url points at a loopback or private address; allow it with FERRY_WEBHOOKS_ALLOW_LOOPBACK=1 or FERRY_WEBHOOKS_ALLOW_PRIVATE=1",
        ),
    })
}

fn epoch(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| json!(t.unix_timestamp()))
}

/// MX's member webhook body.
fn member_body(m: &Member) -> Value {
    json!({
        "aggregated_at": epoch(m.aggregated_at),
        "connection_status": m.connection_status.as_str(),
        "connection_status_id": m.connection_status.id(),
        "connection_status_message": m.connection_status_message,
        "created_at": epoch(Some(m.created_at)),
        "guid": m.guid.as_str(),
        "id": m.id,
        "institution_code": m.institution_code,
        "institution_guid": m.institution_guid.as_str(),
        "is_being_aggregated": m.is_being_aggregated,
        "is_oauth": m.is_oauth,
        "metadata": m.metadata,
        "name": m.name,
        "successfully_aggregated_at": epoch(m.successfully_aggregated_at),
        "updated_at": epoch(Some(m.updated_at)),
        "user_guid": m.user_guid.as_str(),
        "user_id": m.user_id,
    })
}

/// Where a job's member_data_updated webhook goes, by job type.
fn data_event_type(t: JobType) -> &'static str {
    match t {
        JobType::Aggregation => "AGGREGATION",
        JobType::Balance => "BALANCE",
        JobType::History => "HISTORY",
        JobType::Statement => "STATEMENT",
        JobType::Verification => "VERIFICATION",
        JobType::Identification => "IDENTITY",
    }
}

impl Service {
    fn event(&self, m: &Member, event_type: &str, action: &str, payload: Value, callback: Option<String>) -> NewEvent {
        NewEvent {
            guid: format!("EVT-{}", self.uuid()),
            client_id: m.client_id.clone(),
            member_guid: Some(m.guid.to_string()),
            event_type: event_type.into(),
            action: action.into(),
            payload: payload.to_string(),
            callback_payload: callback,
            request_id: crate::context::request_id(),
            created_at: self.now(),
        }
    }

    /// MEMBER created/updated/deleted.
    pub(crate) fn member_event(&self, m: &Member, action: &str, callback: Option<String>) -> NewEvent {
        let payload = json!({ "action": action, "member": member_body(m), "type": "MEMBER" });
        self.event(m, "MEMBER", action, payload, callback)
    }

    /// What a change of `m`'s connection status announces: MEMBER updated, and CONNECTION_STATUS
    /// CHANGED when the new status needs the end user.
    pub(crate) fn status_events(&self, m: &Member, callback: Option<String>) -> MemberEvents {
        let mut on_status_change = vec![self.member_event(m, "updated", callback)];
        if m.connection_status.needs_user() {
            let payload = json!({
                "action": "CHANGED",
                "connection_status": m.connection_status.as_str(),
                "connection_status_id": m.connection_status.id(),
                "connection_status_message": m.connection_status_message,
                "member_guid": m.guid.as_str(),
                "type": "CONNECTION_STATUS",
                "user_guid": m.user_guid.as_str(),
            });
            on_status_change.push(self.event(m, "CONNECTION_STATUS", "CHANGED", payload, None));
        }
        MemberEvents { always: Vec::new(), on_status_change }
    }

    /// The member_data_updated webhook of a job that succeeded.
    pub(crate) fn data_event(&self, m: &Member, job: &Job, accounts: &[String], records_created: u64) -> NewEvent {
        let now = self.now();
        let completed_on = now.date().to_string();
        let event_type = data_event_type(job.job_type);
        let mut payload = json!({
            "action": "member_data_updated",
            "completed_at": now.unix_timestamp(),
            "completed_on": completed_on,
            "member_guid": m.guid.as_str(),
            "type": event_type,
            "user_guid": m.user_guid.as_str(),
        });
        match job.job_type {
            JobType::Aggregation | JobType::History => {
                payload["is_background"] = json!(job.is_background);
                payload["job_guid"] = json!(job.guid.as_str());
                payload["transactions_created_count"] = json!(job.transactions_created);
                payload["transactions_updated_count"] = json!(job.transactions_updated);
                payload["user_id"] = json!(m.user_id);
            }
            JobType::Statement => payload["statements_created_count"] = json!(records_created),
            JobType::Verification | JobType::Identification => {
                payload["accounts"] = json!(accounts);
                payload["job_guid"] = json!(job.guid.as_str());
                payload["user_id"] = json!(m.user_id);
            }
            JobType::Balance => {}
        }
        self.event(m, event_type, "member_data_updated", payload, job.callback_payload.clone())
    }

    /// Registers an endpoint; answers it with its signing secret, which is never shown again.
    pub async fn create_webhook(
        &self,
        client: &Client,
        url: &str,
        username: Option<String>,
        password: Option<String>,
        event_types: &[String],
    ) -> Result<(WebhookEndpoint, String)> {
        crate::validate::text("webhook.url", url, 2048)?;
        check_webhook_url(url, self.inner.config.webhooks)?;
        crate::validate::opt_text("webhook.username", username.as_deref(), 255)?;
        crate::validate::opt_text("webhook.password", password.as_deref(), 255)?;
        if password.is_some() && username.is_none() {
            return Err(Error::bad_request("webhook.password needs webhook.username"));
        }
        let mut types: Vec<String> = Vec::new();
        for t in event_types {
            let t = t.trim().to_ascii_uppercase();
            if !EVENT_TYPES.contains(&t.as_str()) {
                return Err(Error::bad_request(format!(
                    "webhook.event_types: unknown type `{}`, expected some of: {}",
                    t.chars().take(40).collect::<String>(),
                    EVENT_TYPES.join(", ")
                )));
            }
            if !types.contains(&t) {
                types.push(t);
            }
        }
        let guid = format!("WHK-{}", self.uuid());
        let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
        let (secret_key_id, secret_sealed) =
            self.inner.keyring.seal(format!("webhook:{guid}").as_bytes(), secret.as_bytes());
        let (basic_password_key_id, basic_password_sealed) = match &password {
            Some(p) => {
                let (k, s) = self.inner.keyring.seal(format!("webhook-basic:{guid}").as_bytes(), p.as_bytes());
                (Some(k), Some(s))
            }
            None => (None, None),
        };
        let endpoint = WebhookEndpoint {
            guid,
            client_id: client.id.to_string(),
            url: url.to_owned(),
            basic_username: username,
            basic_password_key_id,
            basic_password_sealed,
            secret_key_id,
            secret_sealed,
            event_types: types.join(","),
            created_at: self.now(),
        };
        self.db().insert_webhook_endpoint(&endpoint).await?;
        Ok((endpoint, secret))
    }

    pub async fn list_webhooks(&self, client: &Client) -> Result<Vec<WebhookEndpoint>> {
        Ok(self.db().list_webhook_endpoints(&client.id).await?)
    }

    pub async fn delete_webhook(&self, client: &Client, guid: &str) -> Result<()> {
        if self.db().delete_webhook_endpoint(&client.id, guid).await? {
            Ok(())
        } else {
            Err(Error::NotFound("webhook"))
        }
    }

    /// The delivery log: the newest deliveries and attempts of a client's endpoints.
    pub async fn webhook_log(
        &self,
        client: &Client,
        endpoint: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<DeliveryLog>, Vec<AttemptLog>)> {
        let limit = limit.clamp(1, 1000);
        Ok((
            self.db().list_deliveries(&client.id, endpoint, limit).await?,
            self.db().list_attempts(&client.id, endpoint, limit).await?,
        ))
    }

    /// Claims due deliveries and sends them. Returns how many were attempted.
    pub async fn deliver_once(&self, worker: &str) -> Result<usize> {
        let now = self.now();
        let token = format!("{worker}-{}", hex::encode(rand::random::<[u8; 6]>()));
        let due = self.db().claim_deliveries(&token, now, now + self.inner.config.webhook_lease, CLAIM_BATCH).await?;
        let n = due.len();
        let sends = due.iter().map(|d| {
            let span = tracing::info_span!(
                "delivery",
                event = %d.event_guid,
                endpoint = %d.endpoint_guid,
                request_id = d.request_id.as_deref().unwrap_or("-"),
            );
            tracing::Instrument::instrument(self.deliver(d, &token), span)
        });
        for r in futures::future::join_all(sends).await {
            r?;
        }
        Ok(n)
    }

    /// Waits until events may be waiting: some were written in this process, or `poll` passed.
    pub async fn wait_for_events(&self, poll: std::time::Duration) {
        let _ = tokio::time::timeout(poll, self.inner.outbox.notified()).await;
    }

    /// Tells the in-process deliverer that events may have been written.
    pub(crate) fn events_written(&self) {
        self.inner.outbox.notify_one();
    }

    /// Delivers until nothing is due (tests drive deliveries with this, never with sleeps).
    pub async fn deliver_until_idle(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.deliver_once("test-deliverer").await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    async fn deliver(&self, d: &DueDelivery, token: &str) -> Result<()> {
        let open = |k: &str, s: &str, ctx: String| -> Result<String> {
            let plain =
                self.inner.keyring.open(k, s, ctx.as_bytes()).map_err(|e| Error::Internal(format!("webhook: {e}")))?;
            Ok(String::from_utf8_lossy(&plain).into_owned())
        };
        let secret = open(&d.secret_key_id, &d.secret_sealed, format!("webhook:{}", d.endpoint_guid))?;
        let at = self.now();
        let timestamp = at.unix_timestamp().to_string();
        let signature = sign(&secret, &timestamp, &d.payload);
        let mut request = self
            .inner
            .webhook_http
            .post(&d.url)
            .header("content-type", "application/json")
            .header("ferry-event-id", &d.event_guid)
            .header("ferry-event-type", format!("{}.{}", d.event_type, d.action))
            .header("ferry-signature", format!("t={timestamp},v1={signature}"))
            .body(d.payload.clone());
        if let Some(p) = &d.callback_payload {
            request = request.header("x-callback-payload", p);
        }
        if let Some(user) = &d.basic_username {
            let password = match (&d.basic_password_key_id, &d.basic_password_sealed) {
                (Some(k), Some(s)) => Some(open(k, s, format!("webhook-basic:{}", d.endpoint_guid))?),
                _ => None,
            };
            request = request.basic_auth(user, password);
        }
        // An IP literal skips the resolver: check it here too.
        let literal_refused =
            url::Url::parse(&d.url).ok().is_some_and(|u| self.inner.config.webhooks.check_url(&u).is_err());
        let started = Instant::now();
        let (status_code, error) = if literal_refused {
            (None, Some("the address is not allowed for webhooks".to_owned()))
        } else {
            match request.send().await {
                Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i64), None),
                Ok(r) => (Some(r.status().as_u16() as i64), Some(format!("the receiver answered {}", r.status()))),
                Err(e) => (None, Some(describe(&e))),
            }
        };
        let micros = started.elapsed().as_micros() as i64;
        let retry = d.attempts + 1; // the retry this failure would be
        let (status, next) = match &error {
            None => ("DELIVERED", at),
            Some(_) if retry > MAX_RETRIES => ("FAILED", at),
            Some(_) => ("PENDING", self.now() + backoff(retry)),
        };
        tracing::debug!(status, status_code, attempt = retry, micros, "webhook attempt");
        let outcome = AttemptOutcome { at, status_code, error, micros, status, next_attempt_at: next };
        if !self.db().record_attempt(d, token, &outcome).await? {
            tracing::warn!(event = %d.event_guid, "a delivery's lease ran out before its outcome was recorded");
            return Ok(());
        }
        match status {
            "DELIVERED" => {
                let lag = (self.now() - ferry_store::from_micros(d.event_created_at)).as_seconds_f64();
                crate::metrics::delivery_attempted("delivered", Some(lag));
            }
            "FAILED" => crate::metrics::delivery_attempted("failed", None),
            _ => crate::metrics::delivery_attempted("retrying", None),
        }
        Ok(())
    }
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`.
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_hmac());
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// HMAC takes keys of any length; this is never reached.
fn unreachable_hmac() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(b"k").unwrap_or_else(|_| unreachable_hmac())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out after 10 s".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            source = inner.source();
        }
        s.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_policy_refuses_the_servers_own_network() {
        let strict = WebhookPolicy::default();
        let loopback = WebhookPolicy { allow_loopback: true, allow_private: false };
        for url in ["https://hooks.example.com/x", "http://93.184.216.34/x", "https://[2606:4700::1111]/x"] {
            assert!(check_webhook_url(url, strict).is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://api.localhost/x",
            "http://[::1]/x",
            "http://10.1.2.3/x",
            "http://172.16.0.1/x",
            "http://192.168.1.1/x",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/x",
            "http://0.0.0.0/x",
            "http://[fd00::1]/x",
            "http://[fe80::1]/x",
            "http://[::ffff:10.0.0.1]/x",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            assert!(check_webhook_url(url, strict).is_err(), "{url}");
        }
        assert!(check_webhook_url("http://127.0.0.1:9000/x", loopback).is_ok());
        assert!(check_webhook_url("http://localhost/x", loopback).is_ok());
        assert!(check_webhook_url("http://10.1.2.3/x", loopback).is_err(), "loopback does not open private networks");
        assert!(
            check_webhook_url("http://10.1.2.3/x", WebhookPolicy { allow_loopback: false, allow_private: true })
                .is_ok()
        );
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let s = sign("whsec_a", "1700000000", "{\"a\":1}");
        assert_eq!(s.len(), 64);
        assert_eq!(s, sign("whsec_a", "1700000000", "{\"a\":1}"));
        assert_ne!(s, sign("whsec_b", "1700000000", "{\"a\":1}"));
        assert_ne!(s, sign("whsec_a", "1700000001", "{\"a\":1}"));
        assert_ne!(s, sign("whsec_a", "1700000000", "{\"a\":2}"));
    }

    #[test]
    fn backoff_spreads_twelve_retries_over_about_a_day() {
        let total: i64 = (1..=MAX_RETRIES).map(|n| backoff(n).whole_minutes()).sum();
        assert!((20 * 60..=25 * 60).contains(&total), "{total} minutes");
    }
}
