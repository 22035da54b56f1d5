//! The Atrium dialect, and one member seen through all three dialects.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{LOGIN, PASSWORD, Reply, TestApp, each_backend};

const ATRIUM: &str = "application/vnd.mx.atrium.v1+json";
const NEXUS: &str = "application/vnd.mx.nexus.v1+json";

async fn atrium(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Reply {
    let (id, key) = &app.atrium;
    let mut headers = vec![("mx-client-id", id.as_str()), ("mx-api-key", key.as_str()), ("accept", ATRIUM)];
    let body = match body {
        Some(b) => {
            headers.push(("content-type", "application/json"));
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    app.raw(method, path, body, &headers).await
}

fn member_body(password: &str) -> Value {
    json!({ "member": { "institution_code": "mxbank", "identifier": "atrium-1", "credentials": [
        { "guid": LOGIN, "value": "test_atrium" }, { "guid": PASSWORD, "value": password } ] } })
}

#[tokio::test]
async fn atrium_drives_a_member_end_to_end() {
    each_backend(|app| async move {
        let r = atrium(
            &app,
            Method::POST,
            "/users",
            Some(json!({ "user": { "identifier": "partner-7", "metadata": "m" } })),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.headers["content-type"], ATRIUM);
        let user = r.body["user"]["guid"].as_str().unwrap().to_owned();
        assert_eq!(r.body["user"]["identifier"], "partner-7");
        assert!(r.body["user"].get("id").is_none());

        let creds = atrium(&app, Method::GET, "/institutions/mxbank/credentials", None).await;
        assert_eq!(creds.body["credentials"].as_array().unwrap().len(), 2, "{creds:?}");
        let r = atrium(&app, Method::POST, &format!("/users/{user}/members"), Some(member_body("challenge"))).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let m = r.body["member"].clone();
        let member = m["guid"].as_str().unwrap().to_owned();
        assert_eq!(m["identifier"], "atrium-1");
        assert_eq!(m["status"], "REQUESTED", "{m}");
        app.work().await;
        let s = atrium(&app, Method::GET, &format!("/users/{user}/members/{member}/status"), None).await;
        assert_eq!(s.body["member"]["connection_status"], "CHALLENGED", "{s:?}");
        assert_eq!(s.body["member"]["status"], "CHALLENGED");
        let ch = atrium(&app, Method::GET, &format!("/users/{user}/members/{member}/challenges"), None).await;
        let guid = ch.body["challenges"][0]["guid"].as_str().unwrap().to_owned();
        let r = atrium(
            &app,
            Method::PUT,
            &format!("/users/{user}/members/{member}/resume"),
            Some(json!({ "member": { "challenges": [{ "guid": guid, "value": "correct" }] } })),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        app.work().await;
        let s = atrium(&app, Method::GET, &format!("/users/{user}/members/{member}/status"), None).await;
        assert_eq!(s.body["member"]["connection_status"], "CONNECTED");
        assert_eq!(s.body["member"]["status"], "COMPLETED");

        let accounts = atrium(&app, Method::GET, &format!("/users/{user}/members/{member}/accounts"), None).await;
        assert_eq!(accounts.headers["content-type"], ATRIUM);
        assert_eq!(accounts.body["accounts"].as_array().unwrap().len(), 6);
        let t = atrium(&app, Method::GET, &format!("/users/{user}/transactions?records_per_page=5"), None).await;
        assert!(t.body["pagination"]["total_entries"].as_i64().unwrap() > 100);
        // Atrium's action paths.
        assert_eq!(
            atrium(&app, Method::POST, &format!("/users/{user}/members/{member}/balance"), None).await.status,
            StatusCode::ACCEPTED
        );
        app.work().await;
        let h = atrium(&app, Method::GET, &format!("/users/{user}/holdings"), None).await;
        assert_eq!(h.body["holdings"].as_array().unwrap().len(), 4, "{h:?}");
        assert!(h.body["holdings"][0]["shares"].is_f64());

        // A duplicate is a 409 naming the member; delete is 204.
        let dup = atrium(&app, Method::POST, &format!("/users/{user}/members"), Some(member_body("challenge"))).await;
        assert_eq!(dup.status, StatusCode::CONFLICT, "{dup:?}");
        assert_eq!(dup.body["error"]["guid"], member.as_str());
        assert_eq!(dup.headers["content-type"], ATRIUM);
        let r = atrium(&app, Method::DELETE, &format!("/users/{user}/members/{member}"), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    })
    .await;
}

#[tokio::test]
async fn atrium_bad_input() {
    each_backend(|app| async move {
        let (id, key) = app.atrium.clone();
        let r = app.raw(Method::GET, "/users", Body::empty(), &[("mx-client-id", &id)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        assert_eq!(r.headers["content-type"], ATRIUM);
        let r = app.raw(Method::GET, "/users", Body::empty(), &[("mx-client-id", &id), ("mx-api-key", "wrong")]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app
            .raw(
                Method::GET,
                "/users",
                Body::empty(),
                &[("mx-client-id", &id), ("mx-api-key", &key), ("accept", "text/html")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE, "{r:?}");
        let r = atrium(&app, Method::POST, "/users/USR-nope/members", Some(member_body("password"))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        let user = app.user(None).await;
        let r = atrium(
            &app,
            Method::POST,
            &format!("/users/{user}/members"),
            Some(json!({ "member": { "credentials": "x" } })),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("member.credentials"));
        // Another client's key does not reach this client's user.
        let (oid, okey) = app.other_atrium.clone();
        let r = app
            .raw(
                Method::GET,
                &format!("/users/{user}"),
                Body::empty(),
                &[("mx-client-id", &oid), ("mx-api-key", &okey)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = atrium(&app, Method::GET, "/nowhere", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.headers["content-type"], ATRIUM);
        // The core's field errors in Atrium's words: `identifier`, not `id`.
        let r = atrium(&app, Method::POST, "/users", Some(json!({ "user": { "identifier": "USR-mine" } }))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert_eq!(r.headers["content-type"], ATRIUM);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("user.identifier must not start with `USR-`"), "{r:?}");
        // The same through the Platform API names `id`.
        let r = app.post("/users", json!({ "user": { "id": "USR-mine" } })).await;
        assert!(r.body["error"]["message"].as_str().unwrap().starts_with("user.id must not start with"), "{r:?}");
    })
    .await;
}

/// A member created through each dialect reads the same through the other two.
#[tokio::test]
async fn one_member_three_faces() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let token = app.post(&format!("/users/{user}/api_token"), json!({})).await.body["api_token"]["token"].as_str().unwrap().to_owned();
        let r = app.raw(Method::POST, "/sessions", Body::empty(), &[("md-api-token", &token), ("accept", NEXUS)]).await;
        let session = r.body["session"]["token"].as_str().unwrap().to_owned();
        let nexus_get = |path: String| {
            let session = session.clone();
            let app = &app;
            async move { app.raw(Method::GET, &path, Body::empty(), &[("md-session-token", &session), ("accept", NEXUS)]).await }
        };
        let creds = |p: &str| json!([{ "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": p }]);

        // Through each dialect...
        let via_platform = app.post(&format!("/users/{user}/members"), json!({ "member": { "institution_code": "mxbank", "id": "p-1", "credentials": creds("one") } })).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let via_atrium = atrium(&app, Method::POST, &format!("/users/{user}/members"), Some(json!({ "member": { "institution_code": "mxbank", "identifier": "a-1", "credentials": creds("two") } }))).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let r = app.raw(Method::POST, "/members", Body::from(json!({ "member": { "institution_guid": "INS-1572a04c-912b-59bf-5841-332c7dfafaef", "external_guid": "n-1", "credentials": creds("three") } }).to_string()),
            &[("md-session-token", &session), ("accept", NEXUS), ("content-type", NEXUS)]).await;
        let via_nexus = r.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;

        // ... each reads the same through the others.
        for (guid, partner_id) in [(&via_platform, "p-1"), (&via_atrium, "a-1"), (&via_nexus, "n-1")] {
            let p = app.get(&format!("/users/{user}/members/{guid}")).await.body["member"].clone();
            let a = atrium(&app, Method::GET, &format!("/users/{user}/members/{guid}"), None).await.body["member"].clone();
            let n = nexus_get(format!("/members/{guid}")).await.body["member"].clone();
            assert_eq!(p["id"], partner_id);
            assert_eq!(a["identifier"], partner_id);
            assert_eq!(n["external_guid"], partner_id);
            for field in ["connection_status", "is_being_aggregated", "aggregated_at", "successfully_aggregated_at", "name", "user_guid"] {
                assert_eq!(p[field], a[field], "{field} of {guid} (platform vs atrium)");
                assert_eq!(p[field], n[field], "{field} of {guid} (platform vs nexus)");
            }
            assert_eq!(p["connection_status"], "CONNECTED");
        }
        let listed = nexus_get("/members".into()).await.body["members"].as_array().unwrap().len();
        assert_eq!(listed, 3);
        assert_eq!(atrium(&app, Method::GET, &format!("/users/{user}/members"), None).await.body["members"].as_array().unwrap().len(), 3);
    })
    .await;
}
