//! The Connect widget, served by Ferry (docs/connect-widget.md): the page a widget URL opens,
//! its assets (embedded in the binary), and its own JSON API under `/connect/api/`, which
//! authenticates with the widget session alone and reaches only that session's user.
//!
//! A request goes here by its path (`/connect/...`), before any API dialect.

mod api;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferry_core::{Error, Service, WidgetSession};
use serde_json::{Value, json};

use crate::extract::Path;
use crate::oauth::escape;

const SCRIPT: &str = include_str!("assets/widget.js");
const STYLE: &str = include_str!("assets/widget.css");
const STRINGS_EN: &str = include_str!("strings/en.json");
const STRINGS_ES: &str = include_str!("strings/es.json");
const STRINGS_FR_CA: &str = include_str!("strings/fr-CA.json");

/// Whether `path` belongs to the widget.
pub fn is_widget_path(path: &str) -> bool {
    path.starts_with("/connect/")
}

/// Checks a CSP `frame-ancestors` source list (`--widget-frame-ancestors`): space-separated
/// sources, no directive separators or quotes other than keywords'. `*` (or nothing) is any
/// page: `None`.
pub fn widget_frame_ancestors(value: &str) -> Result<Option<String>, String> {
    let sources: Vec<&str> = value.split_ascii_whitespace().collect();
    if sources.is_empty() || sources == ["*"] {
        return Ok(None);
    }
    for s in &sources {
        let keyword = matches!(*s, "'self'" | "'none'");
        let plain = s.bytes().all(|b| b.is_ascii_graphic() && !b"';,\\\"".contains(&b));
        if !keyword && !plain {
            return Err(format!(
                "`{s}` is not a frame-ancestors source (a scheme, a host such as https://app.example.com, 'self' or 'none')"
            ));
        }
    }
    if sources.contains(&"'none'") && sources.len() > 1 {
        return Err("'none' cannot be combined with other sources".into());
    }
    Ok(Some(sources.join(" ")))
}

/// What the widget's handlers share.
#[derive(Clone)]
pub(crate) struct WidgetState {
    pub(crate) service: Service,
    /// The CSP `frame-ancestors` source list; `None` lets any page embed the widget.
    frame_ancestors: Option<Arc<str>>,
    pub(crate) submissions: api::Submissions,
}

pub(crate) fn router(service: Service, frame_ancestors: Option<String>) -> Router {
    let state = WidgetState {
        service,
        frame_ancestors: frame_ancestors.map(Arc::from),
        submissions: api::Submissions::default(),
    };
    // The page and its assets go gzipped to browsers that accept it (a third of the bytes).
    let pages = Router::new()
        .route("/connect/assets/widget.js", get(script))
        .route("/connect/assets/widget.css", get(style))
        .route("/connect/{token}", get(page).head(peek))
        .layer(tower_http::compression::CompressionLayer::new());
    Router::new()
        .merge(pages)
        .merge(api::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            api::error_response(StatusCode::INTERNAL_SERVER_ERROR, "the server hit an unexpected condition", None)
        }))
        .layer(axum::middleware::from_fn(crate::limits::failed_auth))
}

async fn not_found() -> Response {
    api::error_response(StatusCode::NOT_FOUND, "not found", None)
}

/// A short, stable tag of an asset's content, for cache busting.
fn version_of(text: &str) -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        STYLE.hash(&mut h);
        format!("{:x}", h.finish())
    })
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    r
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn strings(locale: &str) -> &'static Value {
    static PARSED: OnceLock<[Value; 3]> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        [STRINGS_EN, STRINGS_ES, STRINGS_FR_CA].map(|s| serde_json::from_str(s).unwrap_or_else(|_| json!({})))
    });
    match locale {
        "es" => &all[1],
        "fr-CA" => &all[2],
        _ => &all[0],
    }
}

/// JSON safe inside a `<script type="application/json">` element: `<`, `>` and `&` only occur
/// inside JSON strings, where their `\u` escapes mean the same.
fn script_json(v: &Value) -> String {
    v.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// The headers of every page of the widget.
fn page_headers(r: &mut Response, frame_ancestors: Option<&str>) {
    let mut csp = String::from(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'none'; base-uri 'none'",
    );
    if let Some(f) = frame_ancestors {
        csp.push_str("; frame-ancestors ");
        csp.push_str(f);
    }
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The locale of a page: the widget URL's, else the browser's `Accept-Language`, else English.
fn page_locale(w: &WidgetSession, headers: &HeaderMap) -> &'static str {
    if let Some(l) = w.options.locale.as_deref().and_then(ferry_core::widget_locale) {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(ferry_core::widget_locale)
        .unwrap_or("en")
}

/// `HEAD /connect/{token}`: link checkers and previews get an answer without using the URL up.
async fn peek() -> Response {
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /connect/{token}`: uses the widget URL and answers the page with a new session.
async fn page(State(st): State<WidgetState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (session_token, w) = match st.service.open_widget(&token).await {
        Ok(opened) => opened,
        Err(Error::Unauthorized) => {
            let locale = headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(ferry_core::widget_locale)
                .unwrap_or("en");
            let mut r = message_page(StatusCode::GONE, locale, "link_expired_title", "link_expired_text", &st);
            // Guessing widget URLs counts as failed authentication.
            r.extensions_mut().insert(crate::limits::AuthFailure);
            return r;
        }
        Err(e) => {
            tracing::error!(error = %e, "widget page failed");
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "en",
                "server_error_title",
                "server_error_text",
                &st,
            );
        }
    };
    let locale = page_locale(&w, &headers);
    let texts = strings(locale);
    let o = &w.options;
    let config = json!({
        "api": "api",
        "session_token": session_token,
        "user_guid": w.user.guid.as_str(),
        "session_guid": w.session_guid,
        "locale": locale,
        "strings": texts,
        "mode": o.mode,
        "follow_up": o.follow_up,
        "include_transactions": o.include_transactions,
        "current_institution_guid": o.current_institution_guid,
        "current_member_guid": o.current_member_guid,
        "disable_institution_search": o.disable_institution_search,
        "update_credentials": o.update_credentials,
        "color_scheme": o.color_scheme,
        "is_mobile_webview": o.is_mobile_webview,
        "ui_message_webview_url_scheme": o.ui_message_webview_url_scheme,
        "oauth_referral_source": o.oauth_referral_source,
        "client_redirect_url": o.client_redirect_url,
        "enable_app2app": o.enable_app2app,
    });
    let title = texts.get("title").and_then(Value::as_str).unwrap_or("Connect your account");
    let noscript = texts.get("noscript").and_then(Value::as_str).unwrap_or("This page needs JavaScript.");
    let v = version_of(SCRIPT);
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\" class=\"scheme-{scheme}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"assets/widget.css?v={v}\">\
         <script type=\"application/json\" id=\"ferry-widget-config\">{config}</script>\
         <script src=\"assets/widget.js?v={v}\" defer></script></head>\
         <body><main id=\"app\"><noscript><p>{noscript}</p></noscript></main></body></html>\n",
        lang = escape(locale),
        scheme = escape(&o.color_scheme),
        title = escape(title),
        config = script_json(&config),
        noscript = escape(noscript),
    );
    let mut r = (StatusCode::OK, html).into_response();
    page_headers(&mut r, st.frame_ancestors.as_deref());
    r
}

/// A page with a heading and a sentence, in the widget's look (no script).
fn message_page(status: StatusCode, locale: &str, title_key: &str, text_key: &str, st: &WidgetState) -> Response {
    let texts = strings(locale);
    let get = |k: &str, fallback: &'static str| texts.get(k).and_then(Value::as_str).unwrap_or(fallback).to_owned();
    let title = get(title_key, "This link has expired");
    let text = get(text_key, "Widget links work once and for 10 minutes. Close this window and start again.");
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\" class=\"scheme-browser\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"assets/widget.css?v={v}\"></head>\
         <body><main id=\"app\"><section class=\"screen message\"><h1>{title}</h1><p>{text}</p></section></main></body></html>\n",
        lang = escape(locale),
        title = escape(&title),
        text = escape(&text),
        v = version_of(SCRIPT),
    );
    let mut r = (status, html).into_response();
    page_headers(&mut r, st.frame_ancestors.as_deref());
    r
}
