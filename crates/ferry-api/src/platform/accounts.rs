//! `/users/{user}/accounts` and `/users/{user}/members/{member}/accounts`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_core::{AccountFilter, AccountInput, Service};
use ferry_domain::PageRequest;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::{json, member_ref, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{JsonBody, Path, QueryParams, Version};

/// `{"account": {...}}` of MX's AccountCreateRequest and AccountUpdateRequest.
#[derive(Deserialize, Default)]
pub struct AccountBody {
    account: Option<AccountFields>,
}

#[derive(Deserialize, Default)]
struct AccountFields {
    name: Option<String>,
    nickname: Option<String>,
    account_type: Option<String>,
    account_subtype: Option<String>,
    balance: Option<f64>,
    available_balance: Option<f64>,
    credit_limit: Option<f64>,
    apr: Option<f64>,
    apy: Option<f64>,
    original_balance: Option<f64>,
    interest_rate: Option<f64>,
    loan_amount: Option<f64>,
    cash_surrender_value: Option<f64>,
    death_benefit: Option<i64>,
    currency_code: Option<String>,
    is_business: Option<bool>,
    is_closed: Option<bool>,
    is_hidden: Option<bool>,
    metadata: Option<String>,
    property_type: Option<String>,
    /// Webhooks of account changes are not sent yet; accepted for compatibility.
    #[allow(dead_code)]
    skip_webhook: Option<bool>,
}

/// A JSON number as money: at most 8 decimal places, with the binary noise of floats removed.
fn decimal(field: &str, v: Option<f64>) -> Result<Option<Decimal>, ApiError> {
    match v {
        None => Ok(None),
        Some(f) => Decimal::from_f64_retain(f)
            .map(|d| Some(d.round_dp(8).normalize()))
            .ok_or_else(|| ApiError::bad_request(format!("account.{field} is out of range"))),
    }
}

fn input(body: AccountBody) -> Result<AccountInput, ApiError> {
    let a = body.account.ok_or_else(|| ApiError::bad_request("account is required"))?;
    Ok(AccountInput {
        balance: decimal("balance", a.balance)?,
        available_balance: decimal("available_balance", a.available_balance)?,
        credit_limit: decimal("credit_limit", a.credit_limit)?,
        apr: decimal("apr", a.apr)?,
        apy: decimal("apy", a.apy)?,
        original_balance: decimal("original_balance", a.original_balance)?,
        interest_rate: decimal("interest_rate", a.interest_rate)?,
        loan_amount: decimal("loan_amount", a.loan_amount)?,
        cash_surrender_value: decimal("cash_surrender_value", a.cash_surrender_value)?,
        name: a.name,
        nickname: a.nickname,
        account_type: a.account_type,
        account_subtype: a.account_subtype,
        death_benefit: a.death_benefit,
        currency_code: a.currency_code,
        is_business: a.is_business,
        is_closed: a.is_closed,
        is_hidden: a.is_hidden,
        metadata: a.metadata,
        property_type: a.property_type,
    })
}

/// `POST /users/{u}/accounts`: a manual account (200, as MX answers).
pub async fn create(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<AccountBody>,
) -> Result<Response, ApiError> {
    let a = s.create_manual_account(&client, &user_ref(v, &user)?, input(body)?).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "account": json::account(&a) })))
}

/// `DELETE /users/{u}/accounts/{a}`: manual accounts only (204).
pub async fn delete(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, account)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.delete_account(&client, &user_ref(v, &user)?, &account).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /users/{u}/members/{m}/accounts/{a}`.
pub async fn read_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, account)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let a = s.get_member_account(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, &account).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "account": json::account(&a) })))
}

/// `PUT /users/{u}/members/{m}/accounts/{a}`.
pub async fn update_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, account)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<AccountBody>,
) -> Result<Response, ApiError> {
    let input = input(body)?;
    let a = s.update_account(&client, &user_ref(v, &user)?, &member_ref(v, &member)?, &account, input).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "account": json::account(&a) })))
}

fn filter(q: &QueryParams) -> Result<AccountFilter, ApiError> {
    Ok(AccountFilter {
        is_manual: q.bool("is_manual")?,
        member_is_managed_by_user: q.bool("member_is_managed_by_user")?,
    })
}

pub async fn list(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let page =
        s.list_accounts(&client, &user_ref(v, &user)?, None, filter(&q)?, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(json::respond(v, StatusCode::OK, json::list("accounts", &page, json::account)))
}

pub async fn list_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let member = member_ref(v, &member)?;
    let page = s
        .list_accounts(&client, &user_ref(v, &user)?, Some(&member), filter(&q)?, q.page(PageRequest::MAX_PER_PAGE)?)
        .await?;
    Ok(json::respond(v, StatusCode::OK, json::list("accounts", &page, json::account)))
}

pub async fn read(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, account)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let a = s.get_account(&client, &user_ref(v, &user)?, &account).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "account": json::account(&a) })))
}
