//! Request limits over a real listener: failed authentication per source address (every
//! dialect counts, each answers 429 in its own shape), and the optional per-client rate.

use std::net::IpAddr;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{TestApp, each_backend};

const NEXUS: &str = "application/vnd.mx.nexus.v1+json";

/// An HTTP client whose connections come from `from` (any 127.0.0.0/8 address reaches the
/// listener on 127.0.0.1).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(from.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn get(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = client.get(format!("{}{path}", app.public_url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let headers = r.headers().clone();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn an_address_that_fails_to_authenticate_20_times_in_a_minute_gets_429s_and_others_do_not() {
    each_backend(|app| async move {
        let attacker = client_from("127.0.0.1");
        // Asking without credentials first (clients without preemptive auth do) is not a failure.
        for _ in 0..30 {
            let (status, _, _) = get(&attacker, &app, "/users", &[]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        // Asking without credentials first (clients without preemptive auth do) is not a failure.
        for _ in 0..30 {
            let (status, _, _) = get(&attacker, &app, "/users", &[]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let wrong = format!("Basic {}", base64_of(&format!("{}:not-the-key", app.client.id)));
        // Failures in every dialect count: Basic, Atrium keys, Nexus sessions, OAuth states.
        for i in 0..20 {
            let (status, _, body) = match i % 4 {
                0 => get(&attacker, &app, "/users", &[("authorization", &wrong)]).await,
                1 => {
                    get(&attacker, &app, "/users", &[("mx-api-key", "nope"), ("mx-client-id", app.client.id.as_str())])
                        .await
                }
                2 => get(&attacker, &app, "/members", &[("md-session-token", "guessed"), ("accept", NEXUS)]).await,
                _ => get(&attacker, &app, "/oauth/start/guessed-state", &[]).await,
            };
            let expected = if i % 4 == 3 { StatusCode::GONE } else { StatusCode::UNAUTHORIZED };
            assert_eq!(status, expected, "attempt {i}: {body}");
        }
        // The 21st: refused before it is checked, with the right key too.
        let right = app.auth.clone();
        for headers in [vec![("authorization", wrong.as_str())], vec![("authorization", right.as_str())]] {
            let (status, h, body) = get(&attacker, &app, "/users", &headers).await;
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            assert_eq!(body["error"]["status"], 429, "{body}");
            assert!(body["error"]["message"].as_str().unwrap().contains("too many failed authentication"), "{body}");
        }
        // Each dialect answers in its own shape.
        let (status, h, body) =
            get(&attacker, &app, "/members", &[("md-session-token", "guessed"), ("accept", NEXUS)]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["code"], 4290, "{body}");
        assert!(h.contains_key("retry-after"));
        let (status, h, _) =
            get(&attacker, &app, "/users", &[("mx-api-key", "x"), ("mx-client-id", app.client.id.as_str())]).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(h["content-type"], "application/vnd.mx.atrium.v1+json");
        // Another address is not blocked, and has its own count.
        let neighbour = client_from("127.0.0.2");
        let (status, _, body) = get(&neighbour, &app, "/users", &[("authorization", &right)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _, _) = get(&neighbour, &app, "/users", &[("authorization", &wrong)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the neighbour has its own count");
    })
    .await;
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_other_clients_do_not() {
    each_backend(|app| async move {
        let limits = ferry_api::limits::Limits { client_rate: Some("3/min".parse().unwrap()), ..Default::default() };
        let router = ferry_api::router_with(app.service.clone(), limits);
        let call = |auth: String| {
            let router = router.clone();
            async move {
                let req = axum::http::Request::builder()
                    .method(Method::GET)
                    .uri("/users")
                    .header("authorization", auth)
                    .body(Body::empty())
                    .unwrap();
                router.oneshot(req).await.unwrap()
            }
        };
        for _ in 0..3 {
            assert_eq!(call(app.auth.clone()).await.status(), StatusCode::OK);
        }
        let r = call(app.auth.clone()).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=20).contains(&wait), "one request's worth of refill: {wait}");
        assert_eq!(call(app.other_auth.clone()).await.status(), StatusCode::OK, "another client has its own budget");
        // A wrong key does not spend the client's budget (nor is it admitted).
        let wrong = format!("Basic {}", base64_of(&format!("{}:wrong", app.client.id)));
        assert_eq!(call(wrong).await.status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
