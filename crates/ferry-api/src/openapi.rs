//! `GET /openapi.json`: Ferry's OpenAPI document, built by `openapi/build.py` from MX's document
//! (the operations the router serves) and `openapi/overlay.yaml` (Ferry's own), committed, and
//! embedded here. The tests below hold it to the router, both ways.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The document, as built.
pub const DOCUMENT: &str = include_str!("../openapi/ferry.json");

/// Served without authentication.
pub async fn document() -> Response {
    let mut r = DOCUMENT.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::DOCUMENT;

    /// The files whose `.route("...")` calls make the Platform router.
    const ROUTER_SOURCES: &[&str] =
        &[include_str!("platform/mod.rs"), include_str!("oauth.rs"), include_str!("admin.rs"), include_str!("lib.rs")];
    const METHODS: &[Method] = &[Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH];

    fn norm(path: &str) -> String {
        let mut out = String::new();
        let mut in_param = false;
        for c in path.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                c if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    }

    fn concrete(path: &str) -> String {
        norm(path).replace("{}", "x")
    }

    fn router_paths() -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for source in ROUTER_SOURCES {
            for piece in source.split(".route(").skip(1) {
                let literal = piece.trim_start().strip_prefix('"').and_then(|rest| rest.split('"').next());
                if let Some(path) = literal.filter(|p| p.starts_with('/')) {
                    out.insert(path.to_owned());
                }
            }
        }
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), norm(path)));
            }
        }
        out
    }

    async fn app() -> axum::Router {
        let db = ferry_store::Db::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        let keyring = ferry_core::Keyring::new(&ferry_core::MasterKey::generate(), &[]);
        let service =
            ferry_core::Service::new(db, keyring, Arc::new(ferry_core::SystemClock), Arc::new(ferry_core::RandomIds));
        crate::router(service)
    }

    /// Whether the router has a route for `method` on `path`: anything but its 405 and its
    /// "no route" 404.
    async fn routed(app: &axum::Router, method: &Method, path: &str) -> bool {
        let req = Request::builder().method(method.clone()).uri(path).body(Body::empty()).unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        !(status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND && text.contains("no route for")))
    }

    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let app = app().await;
        let documented = documented();
        assert!(documented.len() >= 60, "{}", documented.len());
        for (method, path) in &documented {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            assert!(routed(&app, &m, &concrete(path)).await, "{method} {path} is documented but not routed");
        }
    }

    #[tokio::test]
    async fn every_route_is_documented() {
        let app = app().await;
        let documented = documented();
        let paths = router_paths();
        assert!(paths.contains("/users/{user}/members/{member}/{action}"), "the scan finds the routes: {paths:?}");
        for path in paths.iter().filter(|p| !p.ends_with("/{action}")) {
            for method in METHODS {
                if routed(&app, method, &concrete(path)).await {
                    assert!(
                        documented.contains(&(method.to_string(), norm(path))),
                        "{method} {path} is routed but not in the document"
                    );
                }
            }
        }
        // The action route: exactly its actions are documented.
        let actions: BTreeSet<String> = crate::platform::members::ACTIONS.iter().map(|(a, _)| a.to_string()).collect();
        let documented_actions: BTreeSet<String> = documented
            .iter()
            .filter(|(m, p)| m == "POST" && p.starts_with("/users/{}/members/{}/") && p.matches('/').count() == 5)
            .map(|(_, p)| p.rsplit('/').next().unwrap().to_owned())
            .filter(|a| !a.contains('{'))
            .collect();
        assert_eq!(actions, documented_actions);
    }

    #[tokio::test]
    async fn the_document_is_served_without_authentication() {
        let app = app().await;
        let req = Request::builder().uri("/openapi.json").body(Body::empty()).unwrap();
        let r = app.oneshot(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["openapi"], "3.0.0");
        assert!(doc["paths"]["/users/{user_guid}/members"]["post"]["operationId"] == "createMember");
        assert!(doc["paths"]["/admin/webhooks"]["post"].is_object());
    }
}
