//! The OAuth pages end users see (no API auth: they arrive from a browser or an app), and the
//! sandbox bank's OAuth 2.0 provider.
//!
//! - `GET /oauth/start/{state}`: a window URI; redirects to the institution's authorization page.
//! - `GET /oauth/callback`: the provider's redirect back; finishes the flow, then redirects an
//!   app to its `client_redirect_url` or shows a page that tells the opener (MX's
//!   `mx/client/oauthComplete` message) and says the window may be closed.
//! - `GET/POST /oauth/sandbox/authorize`: MX Bank (OAuth)'s page with Authorize and Deny.
//! - `POST /oauth/sandbox/token`: its token endpoint (RFC 6749 §4.1.3 and §6, PKCE S256).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_core::{AuthorizeParams, OAuthDone, OAuthPageError, Service, TokenRequest};
use serde_json::json;

use crate::extract::Path;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/oauth/start/{state}", get(start))
        .route("/oauth/callback", get(callback))
        .route("/oauth/sandbox/authorize", get(authorize_page).post(authorize_decision))
        .route("/oauth/sandbox/token", post(token))
}

/// Query or form pairs; a repeated key keeps its first value.
fn pairs(raw: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Text made safe for HTML (element content and quoted attributes).
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1f2933}}\
         button{{font-size:1rem;padding:.6rem 1.4rem;margin-right:.6rem;border-radius:.3rem;border:1px solid #52606d;cursor:pointer}}\
         .primary{{background:#0b69a3;color:#fff;border-color:#0b69a3}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    let mut r = (status, html).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

fn error_page(e: OAuthPageError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    page(status, "We could not finish connecting", &format!("<p>{}</p>", escape(&e.message)))
}

/// An error page for a state that does not exist (or no longer): guessing states counts as
/// failed authentication.
fn state_error_page(e: OAuthPageError) -> Response {
    let unknown = matches!(e.status, 404 | 410);
    let mut r = error_page(e);
    if unknown {
        r.extensions_mut().insert(crate::limits::AuthFailure);
    }
    r
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => error_page(OAuthPageError { status: 500, message: "The redirect address is not valid.".into() }),
    }
}

async fn start(State(s): State<Service>, Path(state): Path<String>) -> Response {
    match s.oauth_start(&state).await {
        Ok(url) => redirect(&url),
        Err(e) => state_error_page(e),
    }
}

async fn callback(State(s): State<Service>, RawQuery(q): RawQuery) -> Response {
    let q = pairs(q.unwrap_or_default().as_bytes());
    let get = |k: &str| q.get(k).map(String::as_str);
    match s.oauth_callback(get("state"), get("code"), get("error")).await {
        Ok(done) => finished(&done),
        Err(e) => state_error_page(e),
    }
}

/// The end of the flow: an app goes back to itself; a browser window tells its opener.
fn finished(done: &OAuthDone) -> Response {
    if let Some(to) = &done.app_redirect {
        return redirect(to);
    }
    let mut metadata = json!({ "member_guid": done.member_guid, "user_guid": done.user_guid, "status": done.status });
    if let Some(r) = done.error_reason {
        metadata["error_reason"] = json!(r);
    }
    let message = json!({ "mx": true, "type": "mx/client/oauthComplete", "metadata": metadata });
    // `<` is escaped so the JSON cannot close the script element.
    let script = message.to_string().replace('<', "\\u003c");
    let (title, text) = if done.status == "success" {
        ("Thank you for completing OAuth", "Your account is connected. You may close this window.")
    } else {
        ("Connection not completed", "Access was not granted. You may close this window and try again from the app.")
    };
    page(
        StatusCode::OK,
        title,
        &format!(
            "<p>{text}</p><script>(function(){{var m={script};try{{if(window.opener){{window.opener.postMessage(m,'*');}}}}catch(e){{}}}})();</script>"
        ),
    )
}

fn authorize_params(q: &HashMap<String, String>) -> AuthorizeParams {
    let get = |k: &str| q.get(k).cloned();
    AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        scope: get("scope"),
    }
}

async fn authorize_page(State(s): State<Service>, RawQuery(q): RawQuery) -> Response {
    let params = authorize_params(&pairs(q.unwrap_or_default().as_bytes()));
    if let Err(e) = s.sandbox_check_authorize(&params) {
        return error_page(e);
    }
    let hidden: String = [
        ("response_type", &params.response_type),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("state", &params.state),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("scope", &params.scope),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", escape(v))))
    .collect();
    page(
        StatusCode::OK,
        "MX Bank (OAuth)",
        &format!(
            "<p>An app is asking to read your MX Bank accounts and transactions.</p>\
             <form method=\"post\" action=\"/oauth/sandbox/authorize\">{hidden}\
             <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"authorize\">Authorize</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>\
             <p><small>Ferry's sandbox bank: no real account is involved.</small></p>"
        ),
    )
}

async fn authorize_decision(State(s): State<Service>, body: Bytes) -> Response {
    let form = pairs(&body);
    let approve = match form.get("decision").map(String::as_str) {
        Some("authorize") => true,
        Some("deny") => false,
        _ => {
            return error_page(OAuthPageError { status: 400, message: "Choose Authorize or Deny.".into() });
        }
    };
    match s.sandbox_decide(&authorize_params(&form), approve).await {
        Ok(to) => {
            // 303: the browser follows with a GET.
            let mut r = redirect(&to);
            *r.status_mut() = StatusCode::SEE_OTHER;
            r
        }
        Err(e) => error_page(e),
    }
}

async fn token(State(s): State<Service>, body: Bytes) -> Response {
    let form = pairs(&body);
    let get = |k: &str| form.get(k).cloned();
    let request = TokenRequest {
        grant_type: get("grant_type"),
        code: get("code"),
        redirect_uri: get("redirect_uri"),
        client_id: get("client_id"),
        code_verifier: get("code_verifier"),
        refresh_token: get("refresh_token"),
    };
    let mut r = match s.sandbox_token(&request).await {
        Ok(t) => (StatusCode::OK, Json(t)).into_response(),
        Err(e) => {
            let status = if e.error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            (status, Json(e)).into_response()
        }
    };
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
