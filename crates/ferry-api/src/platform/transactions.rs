//! Transactions by user, member and account, with MX's date window and pagination.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferry_core::{DataScope, Service};
use ferry_domain::PageRequest;
use serde_json::json;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::{json, member_ref, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{Path, QueryParams, Version};

/// `YYYY-MM-DD` (v20111101) or a unix timestamp (v20250224); both are accepted in both.
fn date_param(q: &QueryParams, name: &str) -> Result<Option<Date>, ApiError> {
    let Some(raw) = q.get(name).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(d) = Date::parse(raw, &format_description!("[year]-[month]-[day]")) {
        return Ok(Some(d));
    }
    if let Ok(ts) = raw.parse::<i64>()
        && let Ok(t) = OffsetDateTime::from_unix_timestamp(ts)
    {
        return Ok(Some(t.date()));
    }
    Err(ApiError::bad_request(format!("{name} must be a date (YYYY-MM-DD) or a unix timestamp")))
}

async fn respond(
    s: &Service,
    v: Version,
    client: &ferry_domain::Client,
    user: &str,
    of: DataScope,
    q: &QueryParams,
) -> Result<Response, ApiError> {
    let (from, to) = (date_param(q, "from_date")?, date_param(q, "to_date")?);
    let page =
        s.list_transactions(client, &user_ref(v, user)?, &of, from, to, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(json::respond(v, StatusCode::OK, json::list("transactions", &page, json::transaction)))
}

pub async fn list(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    respond(&s, v, &client, &user, DataScope::User, &q).await
}

pub async fn list_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let of = DataScope::Member(member_ref(v, &member)?);
    respond(&s, v, &client, &user, of, &q).await
}

pub async fn list_by_account(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, account)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    respond(&s, v, &client, &user, DataScope::Account(account), &q).await
}

pub async fn read(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, transaction)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = s.get_transaction(&client, &user_ref(v, &user)?, &transaction).await?;
    // MX answers `{"transaction": ...}`; its OpenAPI document (and so the official SDKs) expects
    // `transactions` and `pagination`. Both are served.
    let one = json::transaction(&t);
    let pagination = json!({ "current_page": 1, "per_page": 1, "total_entries": 1, "total_pages": 1 });
    Ok(json::respond(v, StatusCode::OK, json!({ "transaction": one, "transactions": [one], "pagination": pagination })))
}
