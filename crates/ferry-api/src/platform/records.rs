//! Account numbers, account owners, investment holdings and statements (with their PDFs).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_core::{DataScope, Service};
use ferry_domain::{PageRequest, RecordKind};
use serde_json::json;

use super::{json, member_ref, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{Path, QueryParams, Version};

/// The media type of a statement's PDF.
const PDF_MEDIA_TYPE: &str = "application/vnd.mx.api.v1+pdf";

fn list_key(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::AccountNumber => "account_numbers",
        RecordKind::AccountOwner => "account_owners",
        RecordKind::Holding => "investment_holdings",
        RecordKind::Statement => "statements",
    }
}

async fn list(
    s: &Service,
    v: Version,
    client: &ferry_domain::Client,
    user: &str,
    kind: RecordKind,
    of: DataScope,
    q: &QueryParams,
) -> Result<Response, ApiError> {
    let page = s.list_records(client, &user_ref(v, user)?, kind, &of, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(json::respond(v, StatusCode::OK, json::list(list_key(kind), &page, json::record)))
}

/// `GET /users/{u}/members/{m}/account_numbers`.
pub async fn account_numbers_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let of = DataScope::Member(member_ref(v, &member)?);
    list(&s, v, &client, &user, RecordKind::AccountNumber, of, &q).await
}

/// `GET /users/{u}/accounts/{a}/account_numbers`.
pub async fn account_numbers_by_account(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, account)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    list(&s, v, &client, &user, RecordKind::AccountNumber, DataScope::Account(account), &q).await
}

/// `GET /users/{u}/members/{m}/account_owners`.
pub async fn account_owners_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let of = DataScope::Member(member_ref(v, &member)?);
    list(&s, v, &client, &user, RecordKind::AccountOwner, of, &q).await
}

/// `GET /users/{u}/investment_holdings`.
pub async fn holdings(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    list(&s, v, &client, &user, RecordKind::Holding, DataScope::User, &q).await
}

/// `GET /users/{u}/members/{m}/investment_holdings`.
pub async fn holdings_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let of = DataScope::Member(member_ref(v, &member)?);
    list(&s, v, &client, &user, RecordKind::Holding, of, &q).await
}

/// `GET /users/{u}/accounts/{a}/investment_holdings`.
pub async fn holdings_by_account(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, account)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    list(&s, v, &client, &user, RecordKind::Holding, DataScope::Account(account), &q).await
}

/// `GET /users/{u}/investment_holdings/{h}`.
pub async fn holding(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, holding)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let r = s.get_record(&client, &user_ref(v, &user)?, None, RecordKind::Holding, &holding).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "investment_holding": json::record(&r) })))
}

/// `GET /users/{u}/members/{m}/statements`.
pub async fn statements_by_member(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member)): Path<(String, String)>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let of = DataScope::Member(member_ref(v, &member)?);
    list(&s, v, &client, &user, RecordKind::Statement, of, &q).await
}

/// `GET /users/{u}/members/{m}/statements/{s}`, and `.../{s}.pdf` for the document.
pub async fn statement(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path((user, member, statement)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (user, member) = (user_ref(v, &user)?, member_ref(v, &member)?);
    if let Some(guid) = statement.strip_suffix(".pdf") {
        let pdf = s.statement_pdf(&client, &user, &member, guid).await?;
        let mut response = (StatusCode::OK, pdf).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PDF_MEDIA_TYPE));
        return Ok(response);
    }
    let r = s.get_record(&client, &user, Some(&member), RecordKind::Statement, &statement).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "statement": json::record(&r) })))
}
