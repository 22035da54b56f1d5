//! Ferry's own admin routes (not MX's API), under the same HTTP Basic auth: each client
//! manages its webhook endpoints and reads their delivery log.
//!
//! - `POST /admin/webhooks` `{"webhook": {"url", "username"?, "password"?, "event_types"?}}`:
//!   200 with the endpoint and its signing `secret`, shown this once.
//! - `GET /admin/webhooks`, `DELETE /admin/webhooks/{guid}` (204).
//! - `GET /admin/webhooks/deliveries?endpoint_guid=&limit=`: deliveries and attempts, newest
//!   first.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use ferry_core::{DeliveryLog, Service, WebhookEndpoint};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{JsonBody, Path, QueryParams};

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/admin/webhooks", get(list).post(create))
        .route("/admin/webhooks/deliveries", get(deliveries))
        .route("/admin/webhooks/{guid}", delete(remove))
}

#[derive(Deserialize, Default)]
pub struct CreateBody {
    webhook: Option<WebhookFields>,
}

#[derive(Deserialize, Default)]
struct WebhookFields {
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    event_types: Option<Vec<String>>,
}

fn rfc3339(t: time::OffsetDateTime) -> Value {
    t.format(&time::format_description::well_known::Rfc3339).map_or(Value::Null, Value::String)
}

/// An endpoint as the admin routes show it: never its secret or password.
pub fn endpoint_json(e: &WebhookEndpoint) -> Value {
    json!({
        "guid": e.guid,
        "url": e.url,
        "username": e.basic_username,
        "has_password": e.basic_password_sealed.is_some(),
        "event_types": if e.event_types.is_empty() { Vec::new() } else { e.event_types.split(',').collect::<Vec<_>>() },
        "created_at": rfc3339(e.created_at),
    })
}

pub fn delivery_json(d: &DeliveryLog, attempts: Vec<Value>) -> Value {
    json!({
        "event_guid": d.event_guid,
        "endpoint_guid": d.endpoint_guid,
        "type": d.event_type,
        "action": d.action,
        "member_guid": d.member_guid,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": if d.status == "PENDING" { rfc3339(d.next_attempt_at) } else { Value::Null },
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at.map_or(Value::Null, rfc3339),
        "created_at": rfc3339(d.created_at),
        "attempt_log": attempts,
    })
}

async fn create(
    State(s): State<Service>,
    Auth(client): Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    let f = body.webhook.ok_or_else(|| ApiError::bad_request("webhook is required"))?;
    let url = f.url.ok_or_else(|| ApiError::bad_request("webhook.url is required"))?;
    let (endpoint, secret) =
        s.create_webhook(&client, &url, f.username, f.password, &f.event_types.unwrap_or_default()).await?;
    let mut body = endpoint_json(&endpoint);
    body["secret"] = json!(secret);
    Ok((StatusCode::OK, axum::Json(json!({ "webhook": body }))).into_response())
}

async fn list(State(s): State<Service>, Auth(client): Auth) -> Result<Response, ApiError> {
    let all = s.list_webhooks(&client).await?;
    Ok(axum::Json(json!({ "webhooks": all.iter().map(endpoint_json).collect::<Vec<_>>() })).into_response())
}

async fn remove(State(s): State<Service>, Auth(client): Auth, Path(guid): Path<String>) -> Result<Response, ApiError> {
    s.delete_webhook(&client, &guid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn deliveries(State(s): State<Service>, Auth(client): Auth, q: QueryParams) -> Result<Response, ApiError> {
    let limit = q.int("limit")?.unwrap_or(100);
    let endpoint = q.get("endpoint_guid").map(str::to_owned);
    let (deliveries, attempts) = s.webhook_log(&client, endpoint.as_deref(), limit).await?;
    Ok(axum::Json(deliveries_json(&deliveries, &attempts)).into_response())
}

/// `{"deliveries": [...]}`, each with its attempts.
pub fn deliveries_json(deliveries: &[DeliveryLog], attempts: &[ferry_core::AttemptLog]) -> Value {
    let body: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            let mine = attempts
                .iter()
                .filter(|a| a.event_guid == d.event_guid && a.endpoint_guid == d.endpoint_guid)
                .map(|a| {
                    json!({
                        "attempt": a.attempt,
                        "at": rfc3339(a.at),
                        "status_code": a.status_code,
                        "error": a.error,
                        "duration_ms": a.micros as f64 / 1000.0,
                    })
                })
                .collect();
            delivery_json(d, mine)
        })
        .collect();
    json!({ "deliveries": body })
}
