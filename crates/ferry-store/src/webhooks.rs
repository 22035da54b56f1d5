//! Webhooks: endpoints, the event outbox, deliveries and their attempts.
//!
//! Events are written by [`insert_events!`] inside the transaction of the change that caused
//! them, and only when the client has an endpoint that wants them; each matching endpoint gets
//! a delivery row in the same statement group. Delivery workers claim due deliveries with a
//! lease; a delivery waits while an earlier one of the same member to the same endpoint is
//! still pending, so each receiver sees a member's events in order.

use ferry_domain::ClientId;
use sqlx::{FromRow, QueryBuilder};
use time::OffsetDateTime;

use crate::{Db, Result, from_micros, on_reader, on_writer, to_micros};

/// An event to record with a change.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub guid: String,
    pub client_id: ClientId,
    pub member_guid: Option<String>,
    pub event_type: String,
    pub action: String,
    /// The JSON body receivers get.
    pub payload: String,
    /// The `X-CALLBACK-PAYLOAD` of the request that caused it.
    pub callback_payload: Option<String>,
    /// The id of the HTTP request that caused it, directly or through a job.
    pub request_id: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Events to record with a member update: `always`, and `on_status_change` only if the update
/// changes the member's connection status.
#[derive(Debug, Clone, Default)]
pub struct MemberEvents {
    pub always: Vec<NewEvent>,
    pub on_status_change: Vec<NewEvent>,
}

impl MemberEvents {
    pub fn is_empty(&self) -> bool {
        self.always.is_empty() && self.on_status_change.is_empty()
    }
}

/// Writes events and their deliveries on `$conn` (a connection or transaction of either
/// backend). Nothing is written for a client without an endpoint that wants the event.
macro_rules! insert_events {
    ($conn:expr, $events:expr) => {
        for e in $events {
            let like = format!("%,{},%", e.event_type);
            let written = sqlx::query(
                "INSERT INTO webhook_events (guid, client_id, member_guid, type, action, payload, callback_payload, created_at,
                    request_id)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $10
                 WHERE EXISTS (SELECT 1 FROM webhook_endpoints ep WHERE ep.client_id = $2
                    AND (ep.event_types = '' OR (',' || ep.event_types || ',') LIKE $9))",
            )
            .bind(&e.guid)
            .bind(e.client_id.as_str())
            .bind(&e.member_guid)
            .bind(&e.event_type)
            .bind(&e.action)
            .bind(&e.payload)
            .bind(&e.callback_payload)
            .bind($crate::to_micros(e.created_at))
            .bind(&like)
            .bind(&e.request_id)
            .execute(&mut *$conn)
            .await?
            .rows_affected();
            if written == 0 {
                continue; // No endpoint wants it.
            }
            sqlx::query(
                "INSERT INTO webhook_deliveries (event_guid, endpoint_guid, client_id, ordering_key, event_seq,
                    status, attempts, next_attempt_at, created_at)
                 SELECT ev.guid, ep.guid, ep.client_id, $3, ev.seq, 'PENDING', 0, $4, $4
                 FROM webhook_events ev JOIN webhook_endpoints ep ON ep.client_id = ev.client_id
                 WHERE ev.guid = $1 AND ev.client_id = $2
                    AND (ep.event_types = '' OR (',' || ep.event_types || ',') LIKE $5)",
            )
            .bind(&e.guid)
            .bind(e.client_id.as_str())
            .bind(e.member_guid.clone().unwrap_or_else(|| e.guid.clone()))
            .bind($crate::to_micros(e.created_at))
            .bind(&like)
            .execute(&mut *$conn)
            .await?;
        }
    };
}
pub(crate) use insert_events;

/// A registered endpoint (secrets sealed).
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub guid: String,
    pub client_id: String,
    pub url: String,
    pub basic_username: Option<String>,
    pub basic_password_key_id: Option<String>,
    pub basic_password_sealed: Option<String>,
    pub secret_key_id: String,
    pub secret_sealed: String,
    pub event_types: String,
    pub created_at: OffsetDateTime,
}

#[derive(FromRow)]
struct WebhookEndpointRow {
    guid: String,
    client_id: String,
    url: String,
    basic_username: Option<String>,
    basic_password_key_id: Option<String>,
    basic_password_sealed: Option<String>,
    secret_key_id: String,
    secret_sealed: String,
    event_types: String,
    created_at: i64,
}

impl From<WebhookEndpointRow> for WebhookEndpoint {
    fn from(r: WebhookEndpointRow) -> Self {
        WebhookEndpoint {
            guid: r.guid,
            client_id: r.client_id,
            url: r.url,
            basic_username: r.basic_username,
            basic_password_key_id: r.basic_password_key_id,
            basic_password_sealed: r.basic_password_sealed,
            secret_key_id: r.secret_key_id,
            secret_sealed: r.secret_sealed,
            event_types: r.event_types,
            created_at: from_micros(r.created_at),
        }
    }
}

/// A delivery a worker has claimed, with what it needs to send it.
#[derive(Debug, Clone, FromRow)]
pub struct DueDelivery {
    pub event_guid: String,
    pub endpoint_guid: String,
    pub attempts: i64,
    #[sqlx(rename = "type")]
    pub event_type: String,
    pub action: String,
    pub payload: String,
    pub callback_payload: Option<String>,
    pub url: String,
    pub basic_username: Option<String>,
    pub basic_password_key_id: Option<String>,
    pub basic_password_sealed: Option<String>,
    pub secret_key_id: String,
    pub secret_sealed: String,
    /// When the event was written (microseconds since the epoch).
    pub event_created_at: i64,
    /// The id of the request that caused the event.
    pub request_id: Option<String>,
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub at: OffsetDateTime,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub micros: i64,
    /// DELIVERED, PENDING (retry at `next_attempt_at`) or FAILED (no retries left).
    pub status: &'static str,
    pub next_attempt_at: OffsetDateTime,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub event_guid: String,
    pub endpoint_guid: String,
    pub event_type: String,
    pub action: String,
    pub member_guid: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(FromRow)]
struct DeliveryLogRow {
    event_guid: String,
    endpoint_guid: String,
    #[sqlx(rename = "type")]
    event_type: String,
    action: String,
    member_guid: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    delivered_at: Option<i64>,
    created_at: i64,
}

impl From<DeliveryLogRow> for DeliveryLog {
    fn from(r: DeliveryLogRow) -> Self {
        DeliveryLog {
            event_guid: r.event_guid,
            endpoint_guid: r.endpoint_guid,
            event_type: r.event_type,
            action: r.action,
            member_guid: r.member_guid,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: from_micros(r.next_attempt_at),
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            delivered_at: r.delivered_at.map(from_micros),
            created_at: from_micros(r.created_at),
        }
    }
}

/// One attempt as the log shows it.
#[derive(Debug, Clone)]
pub struct AttemptLog {
    pub event_guid: String,
    pub endpoint_guid: String,
    pub attempt: i64,
    pub at: OffsetDateTime,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub micros: i64,
}

#[derive(FromRow)]
struct AttemptLogRow {
    event_guid: String,
    endpoint_guid: String,
    attempt: i64,
    at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    micros: i64,
}

impl From<AttemptLogRow> for AttemptLog {
    fn from(r: AttemptLogRow) -> Self {
        AttemptLog {
            event_guid: r.event_guid,
            endpoint_guid: r.endpoint_guid,
            attempt: r.attempt,
            at: from_micros(r.at),
            status_code: r.status_code,
            error: r.error,
            micros: r.micros,
        }
    }
}

impl Db {
    pub async fn insert_webhook_endpoint(&self, e: &WebhookEndpoint) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO webhook_endpoints (guid, client_id, url, basic_username, basic_password_key_id,
                basic_password_sealed, secret_key_id, secret_sealed, event_types, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )
        .bind(&e.guid)
        .bind(&e.client_id)
        .bind(&e.url)
        .bind(&e.basic_username)
        .bind(&e.basic_password_key_id)
        .bind(&e.basic_password_sealed)
        .bind(&e.secret_key_id)
        .bind(&e.secret_sealed)
        .bind(&e.event_types)
        .bind(to_micros(e.created_at))
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn list_webhook_endpoints(&self, client: &ClientId) -> Result<Vec<WebhookEndpoint>> {
        let rows: Vec<WebhookEndpointRow> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT guid, client_id, url, basic_username, basic_password_key_id, basic_password_sealed,
                secret_key_id, secret_sealed, event_types, created_at
             FROM webhook_endpoints WHERE client_id = $1 ORDER BY created_at, guid"
        )
        .bind(client.as_str())
        .fetch_all(&mut *conn)
        .await)?;
        Ok(rows.into_iter().map(WebhookEndpoint::from).collect())
    }

    /// Removes an endpoint with its pending deliveries; false when the client has no such one.
    pub async fn delete_webhook_endpoint(&self, client: &ClientId, guid: &str) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            sqlx::query("DELETE FROM webhook_endpoints WHERE guid = $1 AND client_id = $2")
                .bind(guid)
                .bind(client.as_str())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Claims up to `limit` due deliveries for `lease_token` until `lease_until`: the earliest
    /// pending delivery of each (endpoint, member) whose time has come and whose lease (if any)
    /// has run out.
    pub async fn claim_deliveries(
        &self,
        lease_token: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<DueDelivery>> {
        let skip_locked = match self {
            Db::Sqlite(_) => "",
            // Several processes claim from one database: each skips rows another is claiming.
            Db::Postgres(_) => " FOR UPDATE OF d SKIP LOCKED",
        };
        let claim = format!(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_at = $2
             WHERE (event_guid, endpoint_guid) IN (
                SELECT d.event_guid, d.endpoint_guid FROM webhook_deliveries d
                WHERE d.status = 'PENDING' AND d.next_attempt_at <= $3
                    AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $3)
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                        WHERE p.endpoint_guid = d.endpoint_guid AND p.ordering_key = d.ordering_key
                            AND p.status = 'PENDING' AND p.event_seq < d.event_seq)
                ORDER BY d.event_seq LIMIT $4{skip_locked})"
        );
        let (now, until) = (to_micros(now), to_micros(lease_until));
        on_writer!(self, |conn| {
            sqlx::query(sqlx::AssertSqlSafe(claim.clone()))
                .bind(lease_token)
                .bind(until)
                .bind(now)
                .bind(limit)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(on_writer!(self, |conn| sqlx::query_as(
            "SELECT d.event_guid, d.endpoint_guid, d.attempts, e.type, e.action, e.payload, e.callback_payload,
                ep.url, ep.basic_username, ep.basic_password_key_id, ep.basic_password_sealed,
                ep.secret_key_id, ep.secret_sealed, e.created_at AS event_created_at, e.request_id
             FROM webhook_deliveries d
             JOIN webhook_events e ON e.guid = d.event_guid
             JOIN webhook_endpoints ep ON ep.guid = d.endpoint_guid
             WHERE d.lease_owner = $1 AND d.status = 'PENDING' AND d.lease_expires_at = $2
             ORDER BY d.event_seq"
        )
        .bind(lease_token)
        .bind(until)
        .fetch_all(&mut *conn)
        .await)?)
    }

    /// Records an attempt of a claimed delivery (only while `lease_token` still holds it).
    pub async fn record_attempt(&self, d: &DueDelivery, lease_token: &str, o: &AttemptOutcome) -> Result<bool> {
        let delivered_at = (o.status == "DELIVERED").then(|| to_micros(o.at));
        let n = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let n = sqlx::query(
                "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2,
                    last_status_code = $3, last_error = $4, delivered_at = $5, lease_owner = NULL,
                    lease_expires_at = NULL
                 WHERE event_guid = $6 AND endpoint_guid = $7 AND lease_owner = $8 AND status = 'PENDING'",
            )
            .bind(o.status)
            .bind(to_micros(o.next_attempt_at))
            .bind(o.status_code)
            .bind(&o.error)
            .bind(delivered_at)
            .bind(&d.event_guid)
            .bind(&d.endpoint_guid)
            .bind(lease_token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query(
                    "INSERT INTO webhook_attempts (event_guid, endpoint_guid, attempt, at, status_code, error, micros)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&d.event_guid)
                .bind(&d.endpoint_guid)
                .bind(d.attempts + 1)
                .bind(to_micros(o.at))
                .bind(o.status_code)
                .bind(&o.error)
                .bind(o.micros)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    /// The newest deliveries of a client (optionally of one endpoint), newest first.
    pub async fn list_deliveries(
        &self,
        client: &ClientId,
        endpoint: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryLog>> {
        let rows: Vec<DeliveryLogRow> = on_reader!(self, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT d.event_guid, d.endpoint_guid, e.type, e.action, e.member_guid, d.status, d.attempts,
                    d.next_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at
                 FROM webhook_deliveries d JOIN webhook_events e ON e.guid = d.event_guid
                 WHERE d.client_id = ",
            );
            qb.push_bind(client.as_str().to_owned());
            if let Some(ep) = endpoint {
                qb.push(" AND d.endpoint_guid = ").push_bind(ep.to_owned());
            }
            qb.push(" ORDER BY d.event_seq DESC LIMIT ").push_bind(limit);
            qb.build_query_as().fetch_all(&mut *conn).await?
        });
        Ok(rows.into_iter().map(DeliveryLog::from).collect())
    }

    /// The attempts of a client's deliveries (optionally one endpoint's), for the log.
    pub async fn list_attempts(
        &self,
        client: &ClientId,
        endpoint: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AttemptLog>> {
        let rows: Vec<AttemptLogRow> = on_reader!(self, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT a.event_guid, a.endpoint_guid, a.attempt, a.at, a.status_code, a.error, a.micros
                 FROM webhook_attempts a JOIN webhook_deliveries d
                    ON d.event_guid = a.event_guid AND d.endpoint_guid = a.endpoint_guid
                 WHERE d.client_id = ",
            );
            qb.push_bind(client.as_str().to_owned());
            if let Some(ep) = endpoint {
                qb.push(" AND d.endpoint_guid = ").push_bind(ep.to_owned());
            }
            qb.push(" ORDER BY a.at DESC LIMIT ").push_bind(limit);
            qb.build_query_as().fetch_all(&mut *conn).await?
        });
        Ok(rows.into_iter().map(AttemptLog::from).collect())
    }

    /// Counts of deliveries by status (for benchmarks and tests).
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(on_reader!(self, |conn| sqlx::query_as(
            "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status ORDER BY status"
        )
        .fetch_all(&mut *conn)
        .await)?)
    }
}
