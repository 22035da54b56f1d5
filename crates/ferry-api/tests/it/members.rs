//! `/users/{user}/members`.

use axum::http::{Method, StatusCode};
use expect_test::expect;
use serde_json::json;

use crate::support::{LOGIN, MXBANK, PASSWORD, each_backend};

#[tokio::test]
async fn create_read_list_update_delete() {
    each_backend(|app| async move {
        let user = app.user(Some("u-1")).await;
        let r = app.member(&user, "password", json!({ "id": "m-1", "metadata": "meta", "use_cases": ["PFM"] })).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        expect![[r#"{"member":{"aggregated_at":null,"background_aggregation_is_disabled":false,"connection_status":"CREATED","connection_status_message":"Connection has been created and is waiting to be aggregated.","guid":"MBR-00000000-0000-0000-0000-000000000004","id":"m-1","institution_code":"mxbank","institution_guid":"INS-1572a04c-912b-59bf-5841-332c7dfafaef","is_being_aggregated":true,"is_managed_by_user":false,"is_manual":false,"is_oauth":false,"metadata":"meta","most_recent_job_detail_code":null,"most_recent_job_detail_text":null,"most_recent_job_guid":null,"name":"MX Bank","needs_updated_credentials":false,"oauth_window_uri":null,"successfully_aggregated_at":null,"use_cases":["PFM"],"user_guid":"USR-00000000-0000-0000-0000-000000000003","user_id":"u-1"}}"#]]
            .assert_eq(&r.body.to_string());
        let member = r.body["member"]["guid"].as_str().unwrap().to_owned();
        let base = format!("/users/{user}/members/{member}");

        assert_eq!(app.get(&base).await.body["member"]["guid"], member.as_str());
        let r = app.get(&format!("/users/{user}/members")).await;
        assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
        assert_eq!(app.get(&format!("/users/{user}/members?use_case=MONEY_MOVEMENT")).await.body["members"], json!([]));
        assert_eq!(app.get(&format!("/users/{user}/members?use_case=BOGUS")).await.status, StatusCode::BAD_REQUEST);

        let r = app.get(&format!("{base}/status")).await;
        expect![[r#"{"member":{"aggregated_at":null,"connection_status":"CREATED","guid":"MBR-00000000-0000-0000-0000-000000000004","has_processed_account_numbers":false,"has_processed_accounts":false,"has_processed_transactions":false,"is_authenticated":false,"is_being_aggregated":true,"successfully_aggregated_at":null}}"#]]
            .assert_eq(&r.body.to_string());
        let r = app.get(&format!("{base}/credentials")).await;
        assert_eq!(r.status, StatusCode::OK);
        let creds = r.body["credentials"].as_array().unwrap();
        assert_eq!(creds.len(), 2);
        assert!(creds.iter().all(|c| c.get("value").is_none()), "values are never returned");
        let r = app.get(&format!("{base}/challenges")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);

        let r = app.put(&base, json!({ "member": { "metadata": "new", "background_aggregation_is_disabled": true } })).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["metadata"], "new");
        assert_eq!(r.body["member"]["background_aggregation_is_disabled"], true);
        assert_eq!(r.body["member"]["connection_status"], "CREATED", "no new credentials, no new status");
        assert_eq!(app.put(&base, json!({ "member": {} })).await.status, StatusCode::BAD_REQUEST);
        assert_eq!(app.put(&base, json!({})).await.status, StatusCode::BAD_REQUEST);

        let r = app.put(&base, json!({ "member": { "credentials": [{ "guid": PASSWORD, "value": "changed" }] } })).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["connection_status"], "UPDATED");

        // v20250224 finds members by partner id.
        let r = app.get_v2025("/users/u-1/members/m-1").await;
        assert_eq!(r.body["member"]["guid"], member.as_str());

        assert_eq!(app.delete(&base).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&base).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&base).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn skip_aggregation_answers_200_and_every_body_field_is_accepted() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let body = json!({
            "member": {
                "institution_code": MXBANK,
                "credentials": [{ "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": "pw" }],
                "skip_aggregation": true,
                "background_aggregation_is_disabled": true,
                "use_cases": ["MONEY_MOVEMENT", "PFM"],
                "is_oauth": false,
                "metadata": "m",
                "id": "abc"
            },
            "data_request": { "products": ["transactions", "account_verification"] },
            "client_redirect_url": "https://app.example.com/back",
            "enable_app2app": false,
            "referral_source": "APP",
            "ui_message_webview_url_scheme": "myapp"
        });
        let r = app
            .call(
                Method::POST,
                &format!("/users/{user}/members"),
                Some(body),
                &[("x-callback-payload", "eyJhIjoxfQ==")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["use_cases"], json!(["MONEY_MOVEMENT", "PFM"]));
        assert_eq!(r.body["member"]["background_aggregation_is_disabled"], true);
    })
    .await;
}

#[tokio::test]
async fn duplicates_are_refused_with_the_existing_guid() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let first = app.member(&user, "secret", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let r = app.member(&user, "secret", json!({})).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.body["error"]["guid"], first.as_str());
        assert_eq!(r.body["guid"], first.as_str());
        // The username compares without case or surrounding spaces.
        let r = app
            .post(
                &format!("/users/{user}/members"),
                json!({ "member": { "institution_code": MXBANK, "credentials": [
                    { "guid": LOGIN, "value": " MXUser " }, { "guid": PASSWORD, "value": "secret" }] } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        // Another password is another member; updating it onto the first one's is a duplicate.
        let second = app.member(&user, "other", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let r = app
            .put(
                &format!("/users/{user}/members/{second}"),
                json!({ "member": { "credentials": [{ "guid": PASSWORD, "value": "secret" }] } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
        assert_eq!(r.body["error"]["guid"], first.as_str());
        // Another user may hold the same credentials.
        let someone = app.user(None).await;
        assert_eq!(app.member(&someone, "secret", json!({})).await.status, StatusCode::ACCEPTED);
        // A partner id is unique too.
        app.member(&user, "x1", json!({ "id": "same" })).await;
        let r = app.member(&user, "x2", json!({ "id": "same" })).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
    })
    .await;
}

#[tokio::test]
async fn oauth_members_are_pending_and_one_per_institution() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let path = format!("/users/{user}/members");
        let r = app.post(&path, json!({ "member": { "institution_code": "mx_bank_oauth", "is_oauth": true } })).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["connection_status"], "PENDING");
        assert_eq!(r.body["member"]["is_oauth"], true);
        let first = r.body["member"]["guid"].clone();
        let r = app
            .post(
                &path,
                json!({ "member": { "institution_code": "mx_bank_oauth", "is_oauth": true, "credentials": [] } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.body["error"]["guid"], first);
        let r = app.post(&path, json!({ "member": { "institution_code": MXBANK, "is_oauth": true } })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "mxbank has no OAuth");
        let r = app.post(&path, json!({ "member": { "institution_code": "mx_bank_oauth", "credentials": [] } })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "mx_bank_oauth is OAuth only");
    })
    .await;
}

#[tokio::test]
async fn bad_credentials_and_fields_are_400s_that_say_why() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let path = format!("/users/{user}/members");
        let cases = [
            (json!({ "member": { "institution_code": MXBANK, "credentials": [{ "guid": LOGIN, "value": "mxuser" }] } }), "PASSWORD"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [{ "guid": "CRD-unknown", "value": "x" }] } }), "CRD-unknown"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [{ "guid": LOGIN, "value": "a" }, { "guid": LOGIN, "value": "b" }] } }), "more than once"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [{ "guid": LOGIN, "value": "" }, { "guid": PASSWORD, "value": "p" }] } }), "LOGIN"),
            (json!({ "member": { "institution_code": MXBANK } }), "member.credentials"),
            (json!({ "member": { "credentials": [] } }), "institution_code"),
            (json!({}), "member is required"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": "nope" } }), "member.credentials"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [], "use_cases": ["X"] } }), "member.use_cases[0]"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [], "skip_aggregation": "yes" } }), "member.skip_aggregation"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [] }, "data_request": {} }), "data_request.products"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [] }, "data_request": { "products": ["rewards"] } }), "rewards"),
            (json!({ "member": { "institution_code": MXBANK, "credentials": [] }, "referral_source": "TV" }), "referral_source"),
        ];
        for (body, needle) in cases {
            let r = app.post(&path, body.clone()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} -> {r:?}");
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(needle), "{body}: `{message}` should mention `{needle}`");
        }
        let r = app.post(&path, json!({ "member": { "institution_code": "nope", "credentials": [] } })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert_eq!(app.service.db().count_members(&app.client.id).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn callback_payload_must_be_short_base64() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let path = format!("/users/{user}/members");
        let body = json!({ "member": { "institution_code": MXBANK, "skip_aggregation": true,
            "credentials": [{ "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": "p" }] } });
        let long = "A".repeat(1028);
        for bad in ["not base64!", long.as_str()] {
            let r = app.call(Method::POST, &path, Some(body.clone()), &[("x-callback-payload", bad)]).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
            assert!(r.body["error"]["message"].as_str().unwrap().contains("X-CALLBACK-PAYLOAD"));
        }
        let ok = "QUJD".repeat(256);
        let r = app.call(Method::POST, &path, Some(body), &[("x-callback-payload", &ok)]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        // Kept for the webhooks, and replaced by the payload of a later update.
        let guid = r.body["member"]["guid"].as_str().unwrap().to_owned();
        let (u, m) = (ferry_core::UserRef::guid_or_id(&user), ferry_core::MemberRef::guid_or_id(&guid));
        assert_eq!(
            app.service.get_member(&app.client, &u, &m).await.unwrap().callback_payload.as_deref(),
            Some(ok.as_str())
        );
        let r = app
            .call(
                Method::PUT,
                &format!("{path}/{guid}"),
                Some(json!({ "member": { "metadata": "x" } })),
                &[("x-callback-payload", "eHl6")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            app.service.get_member(&app.client, &u, &m).await.unwrap().callback_payload.as_deref(),
            Some("eHl6")
        );
    })
    .await;
}
