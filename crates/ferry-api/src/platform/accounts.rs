//! `/users/{user}/accounts` and `/users/{user}/members/{member}/accounts`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferry_core::{AccountFilter, Service};
use ferry_domain::PageRequest;
use serde_json::json;

use super::{json, member_ref, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{Path, QueryParams, Version};

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
