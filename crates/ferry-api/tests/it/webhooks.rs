//! Webhooks with a real receiver on 127.0.0.1: the events of a member's life, MX's payloads,
//! the callback payload, signatures, retries in order, the delivery log.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Receiver, TestApp, each_backend};

async fn register(app: &TestApp, url: &str, types: Value) -> (String, String) {
    let r = app.post("/admin/webhooks", json!({ "webhook": { "url": url, "event_types": types } })).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let w = &r.body["webhook"];
    (w["guid"].as_str().unwrap().to_owned(), w["secret"].as_str().unwrap().to_owned())
}

fn kinds(received: &[crate::support::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            let b = r.json();
            format!("{}.{}", b["type"].as_str().unwrap(), b["action"].as_str().unwrap())
        })
        .collect()
}

fn verify(secret: &str, r: &crate::support::Received) -> bool {
    let sig = r.header("ferry-signature").unwrap();
    let (t, v1) = sig.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    ferry_core::sign(secret, t, &r.body) == v1
}

#[tokio::test]
async fn a_members_life_arrives_signed_and_in_order() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        let (endpoint, secret) = register(&app, &receiver.url, json!([])).await;
        assert!(secret.starts_with("whsec_"));
        // The secret is shown once: the listing has none.
        let listed = app.get("/admin/webhooks").await;
        assert_eq!(listed.body["webhooks"][0]["guid"], endpoint.as_str());
        assert!(!listed.body.to_string().contains(&secret));

        let user = app.user(None).await;
        let r = app.member(&user, "password", json!({})).await;
        let member = r.body["member"]["guid"].as_str().unwrap().to_owned();
        // `app.member` sends no callback payload; aggregate with one.
        app.work().await;
        let r = app
            .call(
                axum::http::Method::POST,
                &format!("/users/{user}/members/{member}/aggregate"),
                Some(json!({})),
                &[("x-callback-payload", "Y2ItNDI=")],
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        app.work().await;
        let r = app.post(&format!("/users/{user}/members/{member}/verify"), json!({})).await;
        assert_eq!(r.status, StatusCode::OK);
        app.work().await;
        assert_eq!(app.delete(&format!("/users/{user}/members/{member}")).await.status, StatusCode::NO_CONTENT);
        assert!(app.service.deliver_until_idle().await.unwrap() >= 5);

        let got = receiver.all();
        assert_eq!(
            kinds(&got),
            vec![
                "MEMBER.created",
                "MEMBER.updated",
                "AGGREGATION.member_data_updated",
                "AGGREGATION.member_data_updated",
                "VERIFICATION.member_data_updated",
                "MEMBER.deleted",
            ]
        );
        let created = got[0].json();
        assert_eq!(created["member"]["guid"], member.as_str());
        assert_eq!(created["member"]["connection_status"], "CREATED");
        assert!(created["member"]["created_at"].is_i64(), "MX sends epoch integers: {created}");
        assert_eq!(got[1].json()["member"]["connection_status"], "CONNECTED");
        let first = got[2].json();
        assert!(first["transactions_created_count"].as_i64().unwrap() > 100, "{first}");
        assert_eq!(first["is_background"], false);
        assert!(first["job_guid"].as_str().unwrap().starts_with("JOB-"));
        let second = got[3].json();
        assert_eq!(second["transactions_created_count"], 0, "the same data again creates nothing");
        assert_eq!(got[3].header("x-callback-payload"), Some("Y2ItNDI="), "the aggregate request's payload comes back");
        assert_eq!(got[2].header("x-callback-payload"), None);
        let verification = got[4].json();
        assert_eq!(verification["accounts"].as_array().unwrap().len(), 2);
        // Every delivery: a unique event id, a signature that verifies with the secret only.
        let mut ids: Vec<&str> = got.iter().map(|r| r.header("ferry-event-id").unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), got.len());
        assert!(got.iter().all(|r| verify(&secret, r)));
        assert!(!verify("whsec_wrong", &got[0]));

        // The log shows each delivery, delivered on the first attempt.
        let log = app.get("/admin/webhooks/deliveries").await;
        let deliveries = log.body["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), got.len());
        assert!(deliveries.iter().all(|d| d["status"] == "DELIVERED" && d["attempts"] == 1), "{log:?}");
        assert_eq!(deliveries[0]["attempt_log"][0]["status_code"], 204);
    })
    .await;
}

#[tokio::test]
async fn a_failing_receiver_gets_everything_in_order_later() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        register(&app, &receiver.url, json!(["MEMBER", "CONNECTION_STATUS"])).await;
        receiver.failing.store(3, std::sync::atomic::Ordering::SeqCst);
        let user = app.user(None).await;
        let member =
            app.member(&user, "challenge", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;
        // created, updated (CHALLENGED), CONNECTION_STATUS CHANGED: the first fails three
        // times, and the others wait behind it.
        for _ in 0..3 {
            assert_eq!(app.service.deliver_until_idle().await.unwrap(), 1);
            app.clock.advance(time::Duration::minutes(10));
        }
        app.service.deliver_until_idle().await.unwrap();
        let got = receiver.all();
        assert_eq!(
            kinds(&got),
            vec![
                "MEMBER.created",
                "MEMBER.created",
                "MEMBER.created",
                "MEMBER.created",
                "MEMBER.updated",
                "CONNECTION_STATUS.CHANGED"
            ]
        );
        let ids: Vec<&str> = got.iter().take(4).map(|r| r.header("ferry-event-id").unwrap()).collect();
        assert!(ids.iter().all(|i| *i == ids[0]), "retries carry the same event id");
        let status = got[5].json();
        assert_eq!(status["connection_status"], "CHALLENGED");
        assert_eq!(status["connection_status_id"], 3);
        assert_eq!(status["member_guid"], member.as_str());
        let log = app.get("/admin/webhooks/deliveries").await;
        let first = log.body["deliveries"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(first["attempts"], 4);
        assert_eq!(first["attempt_log"].as_array().unwrap().len(), 4);
        // Only the subscribed types came: no AGGREGATION event was ever queued.
        assert!(!log.body.to_string().contains("AGGREGATION"));
    })
    .await;
}

#[tokio::test]
async fn a_receiver_down_for_good_is_given_up_after_twelve_retries() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        register(&app, &receiver.url, json!(["MEMBER"])).await;
        receiver.failing.store(1000, std::sync::atomic::Ordering::SeqCst);
        let user = app.user(None).await;
        app.member(&user, "password", json!({ "skip_aggregation": true })).await;
        for _ in 0..20 {
            app.service.deliver_until_idle().await.unwrap();
            app.clock.advance(time::Duration::hours(6));
        }
        assert_eq!(receiver.all().len(), 13, "the first attempt and 12 retries");
        let log = app.get("/admin/webhooks/deliveries").await;
        assert_eq!(log.body["deliveries"][0]["status"], "FAILED");
        // The next event of that member is not held back by the one given up on.
        receiver.failing.store(0, std::sync::atomic::Ordering::SeqCst);
        let user2 = app.user(None).await;
        app.member(&user2, "password", json!({ "skip_aggregation": true })).await;
        app.service.deliver_until_idle().await.unwrap();
        assert_eq!(receiver.all().len(), 14);
    })
    .await;
}

#[tokio::test]
async fn skip_webhook_types_and_bad_endpoints() {
    each_backend(|app| async move {
        let receiver = Receiver::start().await;
        let (endpoint, _) = register(&app, &receiver.url, json!(["member"])).await;
        let user = app.user(None).await;
        let r = app
            .call(
                axum::http::Method::POST,
                &format!("/users/{user}/members"),
                Some(json!({ "member": { "institution_code": "mxbank", "skip_aggregation": true, "credentials": [
                    { "guid": crate::support::LOGIN, "value": "mxuser" }, { "guid": crate::support::PASSWORD, "value": "p" }] } })),
                &[("mx-skip-webhook", "true")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(app.service.deliver_until_idle().await.unwrap(), 0, "MX-Skip-Webhook: no MEMBER created");

        for body in [
            json!({ "webhook": { "url": "ftp://example.com/x" } }),
            json!({ "webhook": { "url": "not a url" } }),
            json!({ "webhook": { "url": "http://10.0.0.5/hook" } }),
            json!({ "webhook": { "url": "http://169.254.169.254/latest" } }),
            json!({ "webhook": { "url": "https://example.com/hook", "event_types": ["NOPE"] } }),
            json!({ "webhook": { "url": "https://user:pw@example.com/hook" } }),
            json!({ "webhook": {} }),
        ] {
            let r = app.post("/admin/webhooks", body.clone()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {r:?}");
        }
        // Another client neither sees nor removes it.
        let r = app
            .raw(axum::http::Method::DELETE, &format!("/admin/webhooks/{endpoint}"), axum::body::Body::empty(), &[("authorization", app.other_auth.as_str())])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app.raw(axum::http::Method::GET, "/admin/webhooks", axum::body::Body::empty(), &[("authorization", app.other_auth.as_str())]).await;
        assert_eq!(r.body["webhooks"], json!([]));
        assert_eq!(app.delete(&format!("/admin/webhooks/{endpoint}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get("/admin/webhooks").await.body["webhooks"], json!([]));
    })
    .await;
}
