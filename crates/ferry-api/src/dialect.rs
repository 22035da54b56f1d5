//! What the dialect layers share: recognizing a request's dialect, checking its Accept header,
//! answering with the dialect's media type, and the JSON 404/405 of its router.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_core::Service;
use serde_json::Value;

use crate::ApiError;

/// Whether the request carries one of `names` as a header, or names a media type containing
/// `media` in its Accept or Content-Type.
pub fn speaks(headers: &HeaderMap, names: &[&str], media: &str) -> bool {
    let mentions =
        |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(media));
    names.iter().any(|n| headers.contains_key(*n)) || mentions(header::ACCEPT) || mentions(header::CONTENT_TYPE)
}

/// The request's Accept header when it names none of `media_types` (nor a JSON or wildcard
/// type): the 406 it deserves.
pub fn unacceptable(headers: &HeaderMap, media_types: &[&str]) -> Option<String> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())?;
    let ok = accept.trim().is_empty()
        || accept.split(',').any(|r| {
            let m = r.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            matches!(m.as_str(), "*/*" | "application/*" | "application/json") || media_types.contains(&m.as_str())
        });
    (!ok).then(|| {
        format!("cannot answer with `{}`; use {}", accept.chars().take(80).collect::<String>(), media_types[0])
    })
}

/// A JSON answer labelled with `media_type`.
pub fn respond(media_type: &'static str, status: StatusCode, body: Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    r
}

/// A dialect router's JSON 404 for unknown paths and 405 for unknown methods, and its panics
/// caught as 500s inside the router, so the dialect's own layer shapes them too.
pub fn with_fallbacks(router: Router<Service>) -> Router<Service> {
    router
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .fallback(|req: Request| async move {
            ApiError::new(StatusCode::NOT_FOUND, format!("no route for {} {}", req.method(), req.uri().path()))
        })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on {}", req.method(), req.uri().path()),
            )
        })
        .layer(axum::middleware::from_fn(crate::limits::failed_auth))
}

/// The answer to a panic: a 500 that says nothing of its cause.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("the server hit an unexpected condition").into_response()
}
