//! `/users`: create, read, update, delete, list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferry_core::{Service, UserFilter};
use ferry_domain::{NewUser, PageRequest, UserPatch};
use serde::Deserialize;
use serde_json::json;

use super::{json, user_ref};
use crate::ApiError;
use crate::auth::Auth;
use crate::extract::{JsonBody, Path, QueryParams, Version};

#[derive(Deserialize, Default)]
pub struct UserBody {
    #[serde(default)]
    user: Option<UserFields>,
}

#[derive(Deserialize, Default)]
struct UserFields {
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default)]
    is_disabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    metadata: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from a field left out (`None`).
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub async fn create(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Response, ApiError> {
    let f = body.user.unwrap_or_default();
    let new = NewUser {
        id: f.id.flatten(),
        email: f.email.flatten(),
        is_disabled: f.is_disabled.unwrap_or(false),
        metadata: f.metadata.flatten(),
    };
    let user = s.create_user(&client, new).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "user": json::user(v, &user) })))
}

pub async fn read(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
) -> Result<Response, ApiError> {
    let user = s.get_user(&client, &user_ref(v, &user)?).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "user": json::user(v, &user) })))
}

pub async fn update(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Response, ApiError> {
    let f = body.user.unwrap_or_default();
    let patch = UserPatch { id: f.id, email: f.email, is_disabled: f.is_disabled, metadata: f.metadata };
    let user = s.update_user(&client, &user_ref(v, &user)?, patch).await?;
    Ok(json::respond(v, StatusCode::OK, json!({ "user": json::user(v, &user) })))
}

pub async fn delete(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.delete_user(&client, &user_ref(v, &user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let filter = UserFilter {
        id: q.get("id").map(str::to_owned),
        email: q.get("email").map(str::to_owned),
        is_disabled: q.bool("is_disabled")?,
    };
    let page = s.list_users(&client, &filter, q.page(PageRequest::MAX_PER_PAGE)?).await?;
    Ok(json::respond(v, StatusCode::OK, json::list("users", &page, |u| json::user(v, u))))
}

/// `POST /users/{user}/api_token`: a one-time token (10 minutes) that opens a Nexus session for
/// the user (`POST /sessions` with `MD-API-TOKEN`).
pub async fn api_token(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
) -> Result<Response, ApiError> {
    let token = s.create_api_token(&client, &user_ref(v, &user)?).await?;
    Ok(json::respond(v, StatusCode::OK, serde_json::json!({ "api_token": { "token": token } })))
}

/// `POST /users/{user}/simplefin_token`: a one-time SimpleFIN setup token for the user (valid
/// 24 hours), to paste into a SimpleFIN client; claiming it needs the server's SimpleFIN face
/// (`ferry serve --simplefin`).
pub async fn simplefin_token(
    State(s): State<Service>,
    v: Version,
    Auth(client): Auth,
    Path(user): Path<String>,
) -> Result<Response, ApiError> {
    let token = s.issue_simplefin_token(&client, &user_ref(v, &user)?).await?;
    let expires_at = json::timestamp(Some(token.expires_at));
    Ok(json::respond(
        v,
        StatusCode::OK,
        json!({ "simplefin_token": { "setup_token": token.setup_token, "expires_at": expires_at } }),
    ))
}
