//! The MX Platform API, v20111101 (the default) and v20250224 (`Accept-Version`). Both share
//! paths; the version decides how path identifiers are read (v20250224 takes a guid or a
//! partner id) and which JSON shapes are served.

pub(crate) mod accounts;
pub(crate) mod institutions;
pub(crate) mod json;
pub(crate) mod members;
pub(crate) mod records;
pub(crate) mod transactions;
mod users;
pub(crate) mod widgets;

use axum::Router;
use axum::routing::{get, post, put};
use ferry_core::{MemberRef, Service, UserRef};

use crate::ApiError;
use crate::extract::Version;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/users", get(users::list).post(users::create))
        .route("/users/{user}", get(users::read).put(users::update).delete(users::delete))
        .route("/users/{user}/api_token", post(users::api_token))
        .route("/users/{user}/simplefin_token", post(users::simplefin_token))
        .route("/users/{user}/widget_urls", post(widgets::create))
        .route("/users/{user}/members", get(members::list).post(members::create))
        .route("/users/{user}/members/{member}", get(members::read).put(members::update).delete(members::delete))
        .route("/users/{user}/members/{member}/status", get(members::status))
        .route("/users/{user}/members/{member}/credentials", get(members::credentials))
        .route("/users/{user}/members/{member}/challenges", get(members::challenges))
        .route("/users/{user}/members/{member}/resume", put(members::resume))
        .route("/users/{user}/members/{member}/oauth_window_uri", get(members::oauth_window_uri))
        .route("/users/{user}/members/{member}/{action}", post(members::action))
        .route("/users/{user}/members/{member}/accounts", get(accounts::list_by_member))
        .route("/users/{user}/members/{member}/account_numbers", get(records::account_numbers_by_member))
        .route("/users/{user}/members/{member}/account_owners", get(records::account_owners_by_member))
        .route("/users/{user}/members/{member}/investment_holdings", get(records::holdings_by_member))
        .route("/users/{user}/members/{member}/statements", get(records::statements_by_member))
        .route("/users/{user}/members/{member}/statements/{statement}", get(records::statement))
        .route("/users/{user}/investment_holdings", get(records::holdings))
        .route("/users/{user}/investment_holdings/{holding}", get(records::holding))
        .route("/users/{user}/accounts/{account}/account_numbers", get(records::account_numbers_by_account))
        .route("/users/{user}/accounts/{account}/investment_holdings", get(records::holdings_by_account))
        .route("/users/{user}/members/{member}/transactions", get(transactions::list_by_member))
        .route(
            "/users/{user}/members/{member}/accounts/{account}",
            get(accounts::read_by_member).put(accounts::update_by_member),
        )
        .route(
            "/users/{user}/members/{member}/accounts/{account}/transactions",
            get(transactions::list_by_member_account),
        )
        .route(
            "/users/{user}/members/{member}/accounts/{account}/transactions/{transaction}",
            get(transactions::read_by_account).put(transactions::update_by_account),
        )
        .route("/users/{user}/accounts", get(accounts::list).post(accounts::create))
        .route("/users/{user}/accounts/{account}", get(accounts::read).delete(accounts::delete))
        .route("/users/{user}/accounts/{account}/transactions", get(transactions::list_by_account))
        .route("/users/{user}/transactions", get(transactions::list))
        .route("/users/{user}/transactions/{transaction}", get(transactions::read).put(transactions::update))
        .route("/institutions", get(institutions::list))
        .route("/institutions/favorites", get(institutions::favorites))
        .route("/institutions/{institution}", get(institutions::read))
        .route("/institutions/{institution}/credentials", get(institutions::credentials))
}

/// Reads a `{user}` path segment as the version allows.
fn user_ref(v: Version, s: &str) -> Result<UserRef, ApiError> {
    match v {
        Version::V20111101 => Ok(UserRef::guid_only(s)?),
        Version::V20250224 => Ok(UserRef::guid_or_id(s)),
    }
}

/// Reads a `{member}` path segment as the version allows.
fn member_ref(v: Version, s: &str) -> Result<MemberRef, ApiError> {
    match v {
        Version::V20111101 => Ok(MemberRef::guid_only(s)?),
        Version::V20250224 => Ok(MemberRef::guid_or_id(s)),
    }
}
