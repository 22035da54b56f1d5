//! The SimpleFIN server face (protocol 1.x): `POST /simplefin/claim/{token}` trades a setup
//! token for an access URL once; `GET /simplefin/info` and `GET /simplefin/accounts` (HTTP
//! Basic with the access URL's credentials) serve the user's accounts from all their members.
//!
//! Published clients index keys directly, so every object carries every key the protocol
//! defines, `null` where Ferry has no value. Amounts and balances are the stored decimals as
//! strings; times are epoch seconds.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use ferry_core::{FaceAccount, FaceQuery, FaceView, Service, face_time};
use ferry_domain::{RecordData, Transaction};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::limits::AuthFailure;

pub(crate) fn router(service: Service) -> Router {
    Router::new()
        .route("/simplefin/claim/{token}", post(claim))
        .route("/simplefin/info", get(info))
        .route("/simplefin/accounts", get(accounts))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "no such SimpleFIN endpoint") })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            text(StatusCode::INTERNAL_SERVER_ERROR, "the server hit an unexpected condition")
        }))
        .layer(axum::middleware::from_fn(crate::limits::failed_auth))
        .with_state(service)
}

fn text(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.to_owned()).into_response()
}

/// A 403 that counts against the caller's address, as any refused credential does.
fn forbidden(body: &str) -> Response {
    let mut r = text(StatusCode::FORBIDDEN, body);
    r.extensions_mut().insert(AuthFailure);
    r
}

/// The client's request rate is spent (`FERRY_RATE_LIMIT`).
fn too_many(e: &crate::ApiError) -> Response {
    let mut r = text(StatusCode::TOO_MANY_REQUESTS, &e.message);
    if let Some(wait) = e.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, wait.into());
    }
    r
}

fn internal(e: &ferry_core::Error) -> Response {
    tracing::error!(error = %e, "SimpleFIN request failed");
    text(StatusCode::INTERNAL_SERVER_ERROR, "the server hit an unexpected condition")
}

/// `POST /simplefin/claim/{token}`: the access URL, as text, once. Any `Authorization` header
/// (clients send an empty Basic one) is ignored: the token is the credential.
async fn claim(State(s): State<Service>, Path(token): Path<String>) -> Response {
    match s.claim_simplefin_token(&token).await {
        Ok(Some(access_url)) => text(StatusCode::OK, &access_url),
        // Exactly `Forbidden`: Actual Budget reads the body of any answer as the access URL
        // unless it is that word (the advice that a used token may be compromised is in the
        // README, where the person who issued it reads it).
        Ok(None) => forbidden("Forbidden"),
        Err(e) => internal(&e),
    }
}

/// `GET /simplefin/info`: the protocol versions served.
async fn info() -> Response {
    axum::Json(json!({ "versions": ["1.0"] })).into_response()
}

/// The access URL's credentials from a Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// The query of `/accounts`, or the 400 it deserves.
fn parse_query(raw: Option<&str>) -> Result<FaceQuery, Response> {
    let mut q = FaceQuery::default();
    let epoch = |name: &str, v: &str| -> Result<OffsetDateTime, Response> {
        v.trim()
            .parse::<i64>()
            .ok()
            .and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok())
            .ok_or_else(|| text(StatusCode::BAD_REQUEST, &format!("{name} must be a time in epoch seconds")))
    };
    let flag = |v: &str| !matches!(v.trim(), "" | "0" | "false");
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "start-date" => q.start = Some(epoch("start-date", &v)?),
            "end-date" => q.end = Some(epoch("end-date", &v)?),
            "pending" => q.pending = flag(&v),
            "balances-only" => q.balances_only = flag(&v),
            "account" => q.accounts.push(v.into_owned()),
            // `version` and anything newer: the answer is version 1.
            _ => {}
        }
    }
    if let (Some(s), Some(e)) = (q.start, q.end)
        && s > e
    {
        return Err(text(StatusCode::BAD_REQUEST, "start-date must not be after end-date"));
    }
    Ok(q)
}

/// `GET /simplefin/accounts`: the Account Set.
async fn accounts(
    State(s): State<Service>,
    limiter: Option<axum::Extension<crate::limits::Limiter>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some((username, secret)) = basic(&headers) else {
        return text(StatusCode::FORBIDDEN, "authenticate with the access URL's credentials (HTTP Basic)");
    };
    let (client, user) = match s.simplefin_user(&username, &secret).await {
        Ok(Some(who)) => who,
        Ok(None) => return forbidden("these credentials are unknown or were revoked: claim a new setup token"),
        Err(e) => return internal(&e),
    };
    if let Some(axum::Extension(l)) = limiter
        && let Err(e) = l.admit(client.as_str())
    {
        return too_many(&e);
    }
    let q = match parse_query(raw.as_deref()) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let view = match s.face_view(&client, &user, &q).await {
        Ok(v) => v,
        Err(e) => return internal(&e),
    };
    axum::Json(account_set(&view, &s.public_url(), q.balances_only)).into_response()
}

/// The Account Set of a user's view.
fn account_set(view: &FaceView, public_url: &str, balances_only: bool) -> Value {
    let sfin_url = format!("{}/simplefin", public_url.trim_end_matches('/'));
    let errors: Vec<String> =
        view.attention.iter().map(|name| format!("Connection to {name} may need attention")).collect();
    let accounts: Vec<Value> = view.accounts.iter().map(|a| account(a, &sfin_url, balances_only)).collect();
    json!({ "errors": errors, "accounts": accounts })
}

/// A decimal as SimpleFIN writes money: at least two decimal places (`1234` is `1234.00`),
/// never fewer digits than stored, so the value is exact. Clients such as Actual Budget read
/// amounts as cents by dropping the point.
fn decimal(d: Decimal) -> String {
    let mut d = d;
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

fn account(fa: &FaceAccount, sfin_url: &str, balances_only: bool) -> Value {
    let a = &fa.account;
    let institution = fa.institution.as_ref();
    let url = institution.and_then(|i| i.url.clone());
    let domain = url.as_deref().and_then(|u| url::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_owned));
    let name = a.organization.clone().or_else(|| institution.map(|i| i.name.clone()));
    let org = json!({
        "domain": domain,
        "name": name,
        "sfin-url": sfin_url,
        "url": url,
        "id": institution.map(|i| i.code.clone()),
    });
    let transactions: Vec<Value> =
        if balances_only { Vec::new() } else { fa.transactions.iter().rev().map(transaction).collect() };
    let holdings: Vec<Value> = fa
        .holdings
        .iter()
        .filter_map(|r| match &r.data {
            RecordData::Holding(h) => Some(json!({
                "id": r.guid,
                "created": r.created_at.unix_timestamp(),
                "currency": h.currency_code,
                "cost_basis": h.cost_basis.map(decimal),
                "cost-basis": h.cost_basis.map(decimal),
                "description": h.description,
                "market_value": h.market_value.map(decimal),
                "market-value": h.market_value.map(decimal),
                "purchase_price": h.purchase_price.map(decimal),
                "purchase-price": h.purchase_price.map(decimal),
                "shares": decimal(h.quantity),
                "symbol": h.symbol,
            })),
            _ => None,
        })
        .collect();
    json!({
        "org": org,
        "id": a.guid.as_str(),
        "name": a.nickname.clone().unwrap_or_else(|| a.name.clone()),
        "currency": a.currency_code,
        // The protocol requires a balance; an account whose institution reports none shows 0.
        // Owed balances are negative in SimpleFIN (Ferry keeps them positive, as MX does).
        "balance": decimal(a.balance.map(|b| if a.is_liability() { -b } else { b }).unwrap_or_default()),
        "available-balance": a.available_balance.map(decimal),
        "balance-date": a.updated_at.unix_timestamp(),
        "transactions": transactions,
        "holdings": holdings,
        "extra": {},
    })
}

/// A signed amount: Ferry keeps the magnitude and the direction apart.
fn signed_amount(t: &Transaction) -> String {
    if t.is_debit && !t.amount.is_zero() { format!("-{}", decimal(t.amount)) } else { decimal(t.amount) }
}

fn transaction(t: &Transaction) -> Value {
    json!({
        "id": t.guid.as_str(),
        "posted": if t.is_pending { 0 } else { face_time(t).unix_timestamp() },
        "amount": signed_amount(t),
        "description": t.original_description.clone().or_else(|| t.description.clone()).unwrap_or_default(),
        "payee": t.description,
        "memo": t.memo,
        "transacted_at": t.transacted_at.map(OffsetDateTime::unix_timestamp),
        "pending": t.is_pending,
        "extra": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_refuse_garbage() {
        let q =
            parse_query(Some("start-date=100&end-date=200&pending=1&account=A&account=B&balances-only=0&version=2"))
                .unwrap();
        assert_eq!(q.start.unwrap().unix_timestamp(), 100);
        assert_eq!(q.end.unwrap().unix_timestamp(), 200);
        assert!(q.pending && !q.balances_only);
        assert_eq!(q.accounts, vec!["A", "B"]);
        assert!(parse_query(None).unwrap().accounts.is_empty());
        for bad in
            ["start-date=yesterday", "end-date=1.5", "start-date=300&end-date=200", "start-date=99999999999999999"]
        {
            assert_eq!(parse_query(Some(bad)).unwrap_err().status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn basic_credentials_are_read() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic dTpwOnc=".parse().unwrap());
        assert_eq!(basic(&h), Some(("u".into(), "p:w".into())));
        h.insert(header::AUTHORIZATION, "Basic Og==".parse().unwrap());
        assert_eq!(basic(&h), Some((String::new(), String::new())));
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(basic(&h), None);
    }
}
