//! Ferry's HTTP face. Each API dialect is a module that owns its paths, JSON shapes, media
//! types and error bodies over the same [`ferry_core::Service`]; only this crate knows HTTP.

mod admin;
mod atrium;
mod auth;
mod dialect;
mod error;
mod extract;
pub mod faces;
pub mod limits;
mod nexus;
mod oauth;
mod openapi;
mod platform;
mod widget;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use ferry_core::Service;

pub use admin::{deliveries_json, endpoint_json as webhook_json};
pub use error::ApiError;
pub use widget::widget_frame_ancestors;

/// The largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole HTTP application: the Platform API, and the other dialects. A request that speaks
/// another dialect (by its auth headers or media type) goes to that dialect's router whole,
/// before any routing, so each dialect owns its paths, errors and media types.
pub fn router(service: Service) -> Router {
    router_with(service, limits::Limits::default())
}

/// How a server is set up: its limits, and which server faces it shows.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: limits::Limits,
    pub faces: faces::Faces,
    /// The Connect widget's CSP `frame-ancestors` sources (`--widget-frame-ancestors`); `None`
    /// lets any page embed it.
    pub widget_frame_ancestors: Option<String>,
}

/// The application with these limits.
pub fn router_with(service: Service, limits: limits::Limits) -> Router {
    router_with_options(service, Options { limits, ..Options::default() })
}

/// The application with these options.
pub fn router_with_options(service: Service, options: Options) -> Router {
    let limiter = limits::Limiter::new(options.limits);
    let common_layers =
        |r: Router, dialect: &'static str| common_layers(r, dialect).layer(axum::Extension(limiter.clone()));
    let platform = common_layers(
        dialect::with_fallbacks(
            Router::new()
                .route("/health", get(health))
                .route("/ready", get(ready))
                .route("/openapi.json", get(openapi::document))
                .merge(platform::routes())
                .merge(oauth::routes())
                .merge(admin::routes()),
        )
        .with_state(service.clone()),
        "platform",
    );
    let nexus = common_layers(nexus::router(service.clone()), "nexus");
    let simplefin = common_layers(faces::simplefin::router(service.clone()), "simplefin");
    let ofx = common_layers(faces::ofx::router(service.clone()), "ofx");
    let widget = common_layers(widget::router(service.clone(), options.widget_frame_ancestors.clone()), "widget");
    let atrium = common_layers(atrium::router(service), "atrium");
    let shown = options.faces;
    Router::new().fallback_service(tower::service_fn(move |req: Request| {
        let target = if let Some(face) = faces::face_of(shown, req.uri().path()) {
            if face == "ofx" { ofx.clone() } else { simplefin.clone() }
        } else if widget::is_widget_path(req.uri().path()) {
            widget.clone()
        } else if nexus::is_nexus(req.headers()) {
            nexus.clone()
        } else if atrium::is_atrium(req.headers()) {
            atrium.clone()
        } else {
            platform.clone()
        };
        async move {
            use tower::ServiceExt;
            target.oneshot(req).await
        }
    }))
}

/// What every dialect shares: the body limit, the request log line and metrics, and caught
/// panics (of the layers outside the dialect's own router, which catches its handlers').
fn common_layers(router: Router, dialect: &'static str) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(move |req, next| log_request(dialect, req, next)))
        .layer(middleware::from_fn(request_id))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(dialect::panic_response))
}

/// Liveness: answers without authentication or a database round trip.
async fn health() -> &'static str {
    "ok"
}

/// Readiness, for load balancers: 200 when the database answers and its schema is current,
/// 503 with the reason otherwise. No authentication, and nothing internal in the answer.
async fn ready(axum::extract::State(service): axum::extract::State<Service>) -> Response {
    use axum::response::IntoResponse;
    match service.readiness().await {
        Ok(()) => "ready".into_response(),
        Err(reason) => {
            tracing::warn!(reason, "not ready");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")).into_response()
        }
    }
}

/// Every request gets an id: the caller's `X-Request-Id` when it is sane (1 to 128 characters
/// of letters, digits and `-_.:`), else a new one. It is in the span of everything logged while
/// the request is handled, and in the response's `X-Request-Id`.
async fn request_id(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let sane =
        |s: &&str| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(sane)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = ferry_core::with_request_id(Some(id.clone()), next.run(req)).instrument(span).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// One line per request: method, route template (not the raw path, which may carry partner
/// ids), status and latency. Bodies and headers are never logged. The same, counted:
/// `ferry_http_requests_total{dialect,route,status}` and
/// `ferry_http_request_duration_seconds{dialect,route}`, by route template too.
async fn log_request(dialect: &'static str, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "<unmatched>".into());
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    tracing::debug!(%method, %route, status, micros = elapsed.as_micros() as u64, "request");
    // Only the standard methods name themselves: any token is a valid method to hyper, and
    // each distinct label would be a new series.
    let method = match method.as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m,
        _ => "OTHER",
    };
    let route = format!("{method} {route}");
    metrics::histogram!("ferry_http_request_duration_seconds", "dialect" => dialect, "route" => route.clone())
        .record(elapsed.as_secs_f64());
    metrics::counter!("ferry_http_requests_total", "dialect" => dialect, "route" => route, "status" => status_label(status))
        .increment(1);
    response
}

/// A status code as a label, without allocating for the common ones.
fn status_label(status: u16) -> metrics::SharedString {
    match status {
        200 => "200".into(),
        202 => "202".into(),
        204 => "204".into(),
        400 => "400".into(),
        401 => "401".into(),
        404 => "404".into(),
        409 => "409".into(),
        429 => "429".into(),
        500 => "500".into(),
        other => other.to_string().into(),
    }
}
