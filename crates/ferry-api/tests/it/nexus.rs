//! The Nexus dialect over plain HTTP: token → session → members → status → duplicate 4220 →
//! expired session 4011, with the injected clock.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{LOGIN, PASSWORD, Reply, TestApp, each_backend};

const NEXUS: &str = "application/vnd.mx.nexus.v1+json";
const MXBANK_GUID: &str = "INS-1572a04c-912b-59bf-5841-332c7dfafaef";

pub(crate) async fn session_for(app: &TestApp, user: &str) -> String {
    let r = app.post(&format!("/users/{user}/api_token"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let token = r.body["api_token"]["token"].as_str().unwrap().to_owned();
    let r = app.raw(Method::POST, "/sessions", Body::empty(), &[("md-api-token", &token), ("accept", NEXUS)]).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.headers["content-type"], NEXUS);
    // The API token works once.
    let again = app.raw(Method::POST, "/sessions", Body::empty(), &[("md-api-token", &token), ("accept", NEXUS)]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.body["error"]["code"], 4011);
    r.body["session"]["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn nexus(app: &TestApp, session: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut headers = vec![("md-session-token", session), ("accept", NEXUS)];
    let body = match body {
        Some(b) => {
            headers.push(("content-type", NEXUS));
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    app.raw(method, path, body, &headers).await
}

fn new_member(password: &str, external: Option<&str>) -> Value {
    let mut m = json!({ "institution_guid": MXBANK_GUID, "credentials": [
        { "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": password } ] });
    if let Some(e) = external {
        m["external_guid"] = json!(e);
    }
    json!({ "member": m })
}

#[tokio::test]
async fn a_nexus_session_drives_members() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let session = session_for(&app, &user).await;

        let r = nexus(&app, &session, Method::POST, "/members", Some(new_member("password", Some("ext-1")))).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let m = r.body["member"].clone();
        let guid = m["guid"].as_str().unwrap().to_owned();
        assert_eq!(m["external_guid"], "ext-1");
        assert_eq!(m["connection_status_id"], 0, "CREATED: {m}");
        assert!(m["revision"].is_i64());
        app.work().await;
        let r = nexus(&app, &session, Method::GET, &format!("/members/{guid}"), None).await;
        assert_eq!(r.body["member"]["connection_status"], "CONNECTED", "{r:?}");
        assert_eq!(r.body["member"]["connection_status_id"], 6);
        assert!(r.body["member"]["revision"].as_i64().unwrap() > m["revision"].as_i64().unwrap());
        let job = r.body["member"]["job_guid"].as_str().unwrap().to_owned();
        let r = nexus(&app, &session, Method::GET, &format!("/jobs/{job}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["job"]["status_name"], "CONNECTED");
        assert_eq!(r.body["job"]["member_guid"], guid.as_str());

        // The same member through the Platform API, and its data through Nexus.
        let p = app.get(&format!("/users/{user}/members/{guid}")).await;
        assert_eq!(p.body["member"]["id"], "ext-1");
        let accounts = nexus(&app, &session, Method::GET, "/accounts", None).await.body["accounts"].clone();
        assert_eq!(accounts.as_array().unwrap().len(), 6);
        // Accounts name their institution by the guid Nexus uses everywhere else.
        assert!(accounts.as_array().unwrap().iter().all(|a| a["institution_guid"] == MXBANK_GUID), "{accounts}");
        let one = accounts[0]["guid"].as_str().unwrap();
        let a = nexus(&app, &session, Method::GET, &format!("/accounts/{one}"), None).await;
        assert_eq!(a.body["account"]["institution_guid"], MXBANK_GUID, "{a:?}");
        let t = nexus(&app, &session, Method::GET, "/transactions?records_per_page=10", None).await;
        assert!(t.body["pagination"]["total_entries"].as_i64().unwrap_or(0) > 100, "{t:?}");
        // Institutions carry the guid Nexus members are created with, in the list and alone.
        let list = nexus(&app, &session, Method::GET, "/institutions?name=MX%20Bank", None).await;
        let found = list.body["institutions"].as_array().unwrap();
        assert!(!found.is_empty(), "{list:?}");
        assert!(found.iter().all(|i| i["guid"].as_str().is_some_and(|g| g.starts_with("INS-"))), "{list:?}");
        assert!(found.iter().any(|i| i["guid"] == MXBANK_GUID), "{list:?}");
        let one = nexus(&app, &session, Method::GET, &format!("/institutions/{MXBANK_GUID}"), None).await;
        assert_eq!(one.body["institution"]["guid"], MXBANK_GUID, "{one:?}");
        let i = nexus(&app, &session, Method::GET, &format!("/institutions/{MXBANK_GUID}/credentials"), None).await;
        assert_eq!(i.body["credentials"].as_array().map(Vec::len), Some(2), "{i:?}");

        // Duplicates: the same credentials, or the same external_guid → 422 / 4220.
        let dup = nexus(&app, &session, Method::POST, "/members", Some(new_member("password", None))).await;
        assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY, "{dup:?}");
        assert_eq!(dup.body["error"]["code"], 4220);
        let dup = nexus(&app, &session, Method::POST, "/members", Some(new_member("other", Some("ext-1")))).await;
        assert_eq!(dup.body["error"]["code"], 4220, "{dup:?}");
        // Stale credential guids.
        let stale = json!({ "member": { "institution_guid": MXBANK_GUID, "credentials": [
            { "guid": "CRD-00000000-0000-4000-8000-000000000000", "value": "x" } ] } });
        let r = nexus(&app, &session, Method::POST, "/members", Some(stale)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("no longer valid"), "{r:?}");
        assert_eq!(r.body["error"]["code"], 4000);
        // An institution code is not a guid here.
        let r = nexus(
            &app,
            &session,
            Method::POST,
            "/members",
            Some(json!({ "member": { "institution_guid": "mxbank", "credentials": [] } })),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");

        // The session slides: 20 minutes, a call, 20 more minutes, still alive; 31 idle minutes end it.
        app.clock.advance(time::Duration::minutes(20));
        assert_eq!(nexus(&app, &session, Method::GET, "/members", None).await.status, StatusCode::OK);
        app.clock.advance(time::Duration::minutes(20));
        assert_eq!(nexus(&app, &session, Method::GET, "/members", None).await.status, StatusCode::OK);
        app.clock.advance(time::Duration::minutes(31));
        let r = nexus(&app, &session, Method::GET, "/members", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body["error"]["code"], 4011);
        assert_eq!(r.headers["content-type"], NEXUS);

        // Delete answers 200 {}.
        let session = session_for(&app, &user).await;
        let r = nexus(&app, &session, Method::DELETE, &format!("/members/{guid}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body, json!({}));
    })
    .await;
}

#[tokio::test]
async fn nexus_bad_input_gets_nexus_errors() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let session = session_for(&app, &user).await;
        // No session, unknown session, an expired API token, a wrong media type, unknown routes.
        let r = app.raw(Method::GET, "/members", Body::empty(), &[("accept", NEXUS)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        assert_eq!(r.body["error"]["code"], 4011);
        let r = nexus(&app, "not-a-session", Method::GET, "/members", None).await;
        assert_eq!(r.body["error"]["code"], 4011);
        let token = app.post(&format!("/users/{user}/api_token"), json!({})).await.body["api_token"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        app.clock.advance(time::Duration::minutes(11));
        let r = app.raw(Method::POST, "/sessions", Body::empty(), &[("md-api-token", &token)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        let r = app
            .raw(Method::GET, "/members", Body::empty(), &[("md-session-token", &session), ("accept", "text/html")])
            .await;
        assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE, "{r:?}");
        assert_eq!(r.body["error"]["code"], 4060);
        let r = nexus(&app, &session, Method::GET, "/nowhere", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body["error"]["code"], 4040);
        let r =
            nexus(&app, &session, Method::POST, "/members", Some(json!({ "member": { "institution_guid": 5 } }))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert_eq!(r.body["error"]["code"], 4000);
        let r = nexus(&app, &session, Method::GET, "/members/MBR-nope", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // The core's field errors in Nexus's words: `external_guid`, not `id`.
        let mut body = new_member("password", Some("MBR-taken-shape"));
        body["member"]["skip_aggregation"] = json!(true);
        let r = nexus(&app, &session, Method::POST, "/members", Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert_eq!(r.body["error"]["code"], 4000);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("member.external_guid must not start with `MBR-`"), "{r:?}");
        // Another client's user is not reachable: the API token route is client-scoped.
        let r = app
            .raw(
                Method::POST,
                &format!("/users/{user}/api_token"),
                Body::empty(),
                &[("authorization", app.other_auth.as_str())],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // A session sees only its own user's members.
        let other_user = app.user(None).await;
        let theirs =
            app.member(&other_user, "password", json!({ "skip_aggregation": true })).await.body["member"]["guid"]
                .as_str()
                .unwrap()
                .to_owned();
        let r = nexus(&app, &session, Method::GET, &format!("/members/{theirs}"), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    })
    .await;
}
