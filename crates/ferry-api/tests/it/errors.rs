//! Bad input of every kind gets a JSON error body and a 4xx, never a 500.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::each_backend;

#[tokio::test]
async fn auth_versions_and_media_types() {
    each_backend(|app| async move {
        let r = app.raw(Method::GET, "/users", Body::empty(), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body["error"]["message"].is_string());
        assert!(r.headers.contains_key("www-authenticate"));
        let bad = format!("{}x", app.auth);
        for auth in ["Basic !!!", "Bearer abc", bad.as_str(), "Basic Q0xULXg6eQ=="] {
            let r = app.raw(Method::GET, "/users", Body::empty(), &[("authorization", auth)]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
        }
        for accept in ["application/vnd.mx.api.v1+json", "application/json", "*/*", "text/html, */*;q=0.8"] {
            assert_eq!(
                app.call(Method::GET, "/users", None, &[("accept", accept)]).await.status,
                StatusCode::OK,
                "{accept}"
            );
        }
        assert_eq!(
            app.call(Method::GET, "/users", None, &[("accept", "text/html")]).await.status,
            StatusCode::NOT_ACCEPTABLE
        );
        let r = app.call(Method::GET, "/users", None, &[("accept-version", "v19990101")]).await;
        assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("v19990101"));
        assert_eq!(
            app.call(Method::GET, "/users", None, &[("accept-version", "v20111101")]).await.status,
            StatusCode::OK
        );
    })
    .await;
}

#[tokio::test]
async fn malformed_bodies_unknown_routes_and_limits() {
    each_backend(|app| async move {
        let auth = app.auth.clone();
        let h = [("authorization", auth.as_str()), ("content-type", "application/json")];
        let r = app.raw(Method::POST, "/users", Body::from("{not json"), &h).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("not valid JSON"));
        let r = app.raw(Method::POST, "/users", Body::from(r#"{"user":{"is_disabled":"yes"}}"#), &h).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body["error"]["message"].as_str().unwrap().starts_with("user.is_disabled"), "{r:?}");
        let r = app.raw(Method::POST, "/users", Body::from("[1,2]"), &h).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = app.raw(Method::POST, "/users", Body::from(r#"{"user":{"id":"a\u0000b"}}"#), &h).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "NUL never reaches PostgreSQL");
        let huge = format!(r#"{{"user":{{"metadata":"{}"}}}}"#, "x".repeat(1024 * 1024 + 10));
        let r = app.raw(Method::POST, "/users", Body::from(huge), &h).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.body["error"]["message"].is_string());

        let r = app.get("/no/such/route").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.body["error"]["message"].is_string());
        let r = app.call(Method::PATCH, "/users", None, &[]).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(r.body["error"]["message"].is_string());
        assert_eq!(app.get("/users?page=abc").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/users?is_disabled=maybe").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/users?id=%00").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.get("/users?page=99999999999999999").await.status, StatusCode::OK);
        assert_eq!(app.get("/institutions/%00").await.status, StatusCode::NOT_FOUND);
        let r = app.get_v2025("/users/%00/members").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app.post("/users", json!({ "user": { "metadata": "ok" } })).await;
        assert_eq!(r.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn review_edge_cases() {
    each_backend(|app| async move {
        // A path segment that is not UTF-8 names nothing: a JSON 404.
        let r = app.get("/users/%FF").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.body["error"]["message"].is_string(), "{r:?}");
        // Absurd page sizes fall back to 25 instead of failing.
        let r = app.get("/users?records_per_page=99999999999999999999&page=99999999999999999999").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["pagination"]["per_page"], 25);
        // A credential value of the wrong type is not echoed back.
        let user = app.user(None).await;
        let r = app
            .post(
                &format!("/users/{user}/members"),
                json!({ "member": { "institution_code": "mxbank", "credentials": [{ "guid": "CRD-x", "value": 918273 }] } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("member.credentials[0].value") && !message.contains("918273"), "{message}");
        // The Basic scheme is case-insensitive.
        let lower = app.auth.replacen("Basic", "BASIC", 1);
        assert_eq!(app.raw(Method::GET, "/users", Body::empty(), &[("authorization", &lower)]).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    each_backend(|app| async move {
        let r = app.get("/users").await;
        let id = r.headers["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 32, "a new id: {id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let mine = app
            .raw(axum::http::Method::GET, "/health", axum::body::Body::empty(), &[("x-request-id", "trace-42.a:b_c")])
            .await;
        assert_eq!(mine.headers["x-request-id"], "trace-42.a:b_c", "a sane id is kept");
        let long = "x".repeat(129);
        for bad in ["has space", "semi;colon", long.as_str()] {
            let r =
                app.raw(axum::http::Method::GET, "/health", axum::body::Body::empty(), &[("x-request-id", bad)]).await;
            assert_ne!(r.headers["x-request-id"], bad, "an odd id is replaced");
        }
    })
    .await;
}
