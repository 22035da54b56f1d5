//! `/users`.

use axum::http::StatusCode;
use expect_test::expect;
use serde_json::json;

use crate::support::each_backend;

#[tokio::test]
async fn create_read_update_list_delete() {
    each_backend(|app| async move {
        let r = app.post("/users", json!({ "user": { "id": "partner-1", "email": "a@example.com", "metadata": "{\"x\":1}" } })).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-type"], "application/vnd.mx.api.v1+json");
        expect![[r#"{"user":{"email":"a@example.com","guid":"USR-00000000-0000-0000-0000-000000000003","id":"partner-1","is_disabled":false,"metadata":"{\"x\":1}"}}"#]]
            .assert_eq(&r.body.to_string());
        let guid = r.body["user"]["guid"].as_str().unwrap().to_owned();

        let r = app.get(&format!("/users/{guid}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["user"]["id"], "partner-1");

        let r = app.put(&format!("/users/{guid}"), json!({ "user": { "is_disabled": true, "email": null } })).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["user"]["is_disabled"], true);
        assert_eq!(r.body["user"]["email"], json!(null));
        assert_eq!(r.body["user"]["metadata"], "{\"x\":1}", "fields left out stay");

        app.user(Some("partner-2")).await;
        app.user(None).await;
        let r = app.get("/users").await;
        assert_eq!(r.body["users"].as_array().unwrap().len(), 3);
        expect![[r#"{"current_page":1,"per_page":25,"total_entries":3,"total_pages":1}"#]]
            .assert_eq(&r.body["pagination"].to_string());
        assert_eq!(app.get("/users?id=partner-2").await.body["users"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/users?is_disabled=true").await.body["users"][0]["guid"], guid.as_str());
        assert_eq!(app.get("/users?email=someone%40example.com").await.body["users"].as_array().unwrap().len(), 2);
        let r = app.get("/users?records_per_page=2&page=2").await;
        assert_eq!(r.body["users"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["pagination"]["total_pages"], 2);
        assert_eq!(app.get("/users?records_per_page=1001").await.body["pagination"]["per_page"], 25);

        let r = app.delete(&format!("/users/{guid}")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(r.body, json!(null));
        assert_eq!(app.get(&format!("/users/{guid}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&format!("/users/{guid}")).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn partner_id_is_unique_per_client() {
    each_backend(|app| async move {
        let first = app.user(Some("dup")).await;
        let r = app.post("/users", json!({ "user": { "id": "dup" } })).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.body["error"]["guid"], first.as_str());
        let other = app.user(Some("other")).await;
        let r = app.put(&format!("/users/{other}"), json!({ "user": { "id": "dup" } })).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
        // Another client may use the same id.
        let r = app
            .raw(
                axum::http::Method::POST,
                "/users",
                axum::body::Body::from(json!({ "user": { "id": "dup" } }).to_string()),
                &[("authorization", &app.other_auth)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn v20250224_takes_guid_or_partner_id() {
    each_backend(|app| async move {
        let guid = app.user(Some("alice")).await;
        let r = app.get_v2025("/users/alice").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.body["user"]["guid"], guid.as_str());
        assert_eq!(app.get_v2025(&format!("/users/{guid}")).await.status, StatusCode::OK);
        // v20111101 paths take guids only.
        assert_eq!(app.get("/users/alice").await.status, StatusCode::NOT_FOUND);
        // v20250224 declares email a non-nullable string.
        let bare = app.post("/users", json!({ "user": {} })).await.body["user"]["guid"].as_str().unwrap().to_owned();
        assert_eq!(app.get_v2025(&format!("/users/{bare}")).await.body["user"]["email"], "");
        // An id may not pose as a guid.
        let r = app.post("/users", json!({ "user": { "id": "USR-fake" } })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_removes_its_members() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let m = app.member(&user, "password", json!({})).await;
        assert_eq!(m.status, StatusCode::ACCEPTED);
        assert_eq!(app.service.db().count_members(&app.client.id).await.unwrap(), 1);
        assert_eq!(app.delete(&format!("/users/{user}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.service.db().count_members(&app.client.id).await.unwrap(), 0);
    })
    .await;
}
