//! Transactions by user, member and account, with MX's date window and pagination.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferry_core::{DataScope, Service, TransactionEdit};
use ferry_domain::PageRequest;
use serde::Deserialize;
use serde_json::json;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::{json, member_ref, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{JsonBody, Path, QueryParams, Version};

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

/// `GET /users/{u}/members/{m}/accounts/{a}/transactions`.
pub async fn list_by_member_account(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, account)): Path<(String, String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let a = s.get_member_account(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, &account).await?;
    respond(&s, v, &client, &user, DataScope::Account(a.guid.into_string()), &q).await
}

/// `GET /users/{u}/members/{m}/accounts/{a}/transactions/{t}`.
pub async fn read_by_account(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, account, transaction)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let user = user_ref(v, &user)?;
    let a = s.get_member_account(&client, &user, &member_ref(v, &member)?, &account).await?;
    let t = s.get_transaction(&client, &user, &transaction).await?;
    if t.account_guid != a.guid {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "transaction not found"));
    }
    Ok(json::respond(v, StatusCode::OK, json!({ "transaction": json::transaction(&t) })))
}

/// `{"transaction": {...}}` of MX's TransactionUpdateRequest.
#[derive(Deserialize, Default)]
pub struct TransactionBody {
    transaction: Option<TransactionFields>,
}

#[derive(Deserialize, Default)]
struct TransactionFields {
    description: Option<String>,
    memo: Option<String>,
    date: Option<String>,
    category_guid: Option<String>,
}

fn edit(body: TransactionBody) -> Result<TransactionEdit, ApiError> {
    let t = body.transaction.ok_or_else(|| ApiError::bad_request("transaction is required"))?;
    Ok(TransactionEdit { description: t.description, memo: t.memo, date: t.date, category_guid: t.category_guid })
}

/// `PUT /users/{u}/transactions/{t}`: the user's description and memo.
pub async fn update(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, transaction)): Path<(String, String)>,
    JsonBody(body): JsonBody<TransactionBody>,
) -> Result<Response, ApiError> {
    let t = s.update_transaction(&client, &user_ref(v, &user)?, None, &transaction, edit(body)?).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "transaction": json::transaction(&t) })))
}

/// `PUT /users/{u}/members/{m}/accounts/{a}/transactions/{t}`.
pub async fn update_by_account(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, account, transaction)): Path<(String, String, String, String)>,
    JsonBody(body): JsonBody<TransactionBody>,
) -> Result<Response, ApiError> {
    let member = member_ref(v, &member)?;
    let t = s
        .update_transaction(&client, &user_ref(v, &user)?, Some((&member, &account)), &transaction, edit(body)?)
        .await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "transaction": json::transaction(&t) })))
}
