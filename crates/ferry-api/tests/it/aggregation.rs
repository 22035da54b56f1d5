//! Aggregation through the job queue against the sandbox bank: every outcome, MFA, the
//! concurrency rules, and the data that comes back.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, each_backend};

/// Creates a user and an MX Bank member with `password`; returns (user, member) guids.
async fn member_with(app: &TestApp, password: &str) -> (String, String) {
    let user = app.user(None).await;
    let r = app.member(&user, password, json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    assert_eq!(r.body["member"]["is_being_aggregated"], true);
    (user, r.body["member"]["guid"].as_str().unwrap().to_owned())
}

async fn status(app: &TestApp, user: &str, member: &str) -> Value {
    let r = app.get(&format!("/users/{user}/members/{member}/status")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["member"].clone()
}

async fn all_transactions(app: &TestApp, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    for page in 1.. {
        let r = app.get(&format!("{path}{sep}records_per_page=1000&page={page}")).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let items = r.body["transactions"].as_array().unwrap();
        out.extend(items.iter().cloned());
        if page >= r.body["pagination"]["total_pages"].as_i64().unwrap() {
            break;
        }
    }
    out
}

#[tokio::test]
async fn a_member_connects_and_brings_accounts_and_transactions() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "password").await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "CREATED");
        assert_eq!(app.work().await, 1);

        let s = status(&app, &user, &member).await;
        assert_eq!(s["connection_status"], "CONNECTED", "{s}");
        assert_eq!(s["is_being_aggregated"], false);
        assert_eq!(s["is_authenticated"], true);
        assert_eq!(s["has_processed_accounts"], true);
        assert_eq!(s["has_processed_transactions"], true);
        assert!(s["aggregated_at"].is_string() && s["successfully_aggregated_at"].is_string());
        assert!(s.get("challenges").is_none());

        let accounts = app.get(&format!("/users/{user}/members/{member}/accounts")).await;
        let list = accounts.body["accounts"].as_array().unwrap();
        assert_eq!(list.len(), 6);
        let types: Vec<_> = list.iter().map(|a| a["type"].as_str().unwrap()).collect();
        for t in ["CHECKING", "SAVINGS", "CREDIT_CARD", "LOAN", "MORTGAGE", "INVESTMENT"] {
            assert!(types.contains(&t), "{types:?}");
        }
        assert!(list.iter().all(|a| a["account_number"].as_str().is_none_or(|n| n.starts_with("XXXXXX"))));
        assert_eq!(app.get(&format!("/users/{user}/accounts")).await.body["pagination"]["total_entries"], 6);
        let account = list[0]["guid"].as_str().unwrap();
        assert_eq!(app.get(&format!("/users/{user}/accounts/{account}")).await.body["account"]["guid"], account);

        let txns = all_transactions(&app, &format!("/users/{user}/transactions")).await;
        assert!(txns.len() > 100, "{} transactions", txns.len());
        assert!(txns.iter().all(|t| t["amount"].as_f64().unwrap() > 0.0));
        let pending: Vec<_> = txns.iter().filter(|t| t["status"] == "PENDING").map(|t| t["guid"].clone()).collect();
        assert!(!pending.is_empty(), "a few recent transactions are pending");
        let by_member = all_transactions(&app, &format!("/users/{user}/members/{member}/transactions")).await;
        assert_eq!(by_member.len(), txns.len());
        let by_account = all_transactions(&app, &format!("/users/{user}/accounts/{account}/transactions")).await;
        assert!(!by_account.is_empty() && by_account.len() < txns.len());
        let one = txns[0]["guid"].as_str().unwrap();
        let r = app.get(&format!("/users/{user}/transactions/{one}")).await;
        assert_eq!(r.body["transaction"]["guid"], one);
        assert_eq!(r.body["transactions"][0]["guid"], one, "the shape MX's SDKs read too");
        // Nothing is dated or posted after the aggregation ran (the test clock's 2026-01-02 03:04).
        assert!(txns.iter().all(|t| t["date"].as_str().unwrap() <= "2026-01-02"));
        assert!(txns.iter().all(|t| t["posted_at"].as_str().is_none_or(|p| p <= "2026-01-02T03:05")));
        // Every account here is aggregated, none manual, none of a user-managed member.
        assert_eq!(app.get(&format!("/users/{user}/accounts?is_manual=true")).await.body["accounts"], json!([]));
        assert_eq!(
            app.get(&format!("/users/{user}/accounts?is_manual=false")).await.body["pagination"]["total_entries"],
            6
        );
        let r = app.get(&format!("/users/{user}/members/{member}/accounts?member_is_managed_by_user=true")).await;
        assert_eq!(r.body["accounts"], json!([]));

        // Aggregating again posts the pending ones under the same guids and duplicates nothing.
        let r = app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(r.body["member"]["is_being_aggregated"], true);
        app.work().await;
        let again = all_transactions(&app, &format!("/users/{user}/transactions")).await;
        assert_eq!(again.len(), txns.len());
        for guid in &pending {
            let t = again.iter().find(|t| t["guid"] == *guid).expect("the pending transaction kept its guid");
            assert_eq!(t["status"], "POSTED");
        }
        // Once more: nothing changes at all.
        app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        app.work().await;
        assert_eq!(all_transactions(&app, &format!("/users/{user}/transactions")).await, again);
        assert_eq!(app.get(&format!("/users/{user}/accounts")).await.body["pagination"]["total_entries"], 6);
    })
    .await;
}

#[tokio::test]
async fn every_failing_password_reaches_its_status() {
    each_backend(|app| async move {
        let cases = [
            ("UNAUTHORIZED", "DENIED"),
            ("INVALID", "DENIED"),
            ("BAD_REQUEST", "FAILED"),
            ("LOCKED", "LOCKED"),
            ("IMPEDED", "IMPEDED"),
            ("DEGRADED", "DEGRADED"),
            ("DELAYED", "DELAYED"),
            ("DISCONNECTED", "DISCONNECTED"),
            ("DISCONTINUED", "DISCONTINUED"),
            ("CLOSED", "CLOSED"),
            ("IMPAIRED", "IMPAIRED"),
        ];
        for (password, expected) in cases {
            let (user, member) = member_with(&app, password).await;
            app.work().await;
            let s = status(&app, &user, &member).await;
            assert_eq!(s["connection_status"], expected, "{password}: {s}");
            assert_eq!(s["is_being_aggregated"], false);
            let m = app.get(&format!("/users/{user}/members/{member}")).await.body["member"].clone();
            assert!(m["connection_status_message"].is_string());
            assert_eq!(app.get(&format!("/users/{user}/accounts")).await.body["accounts"], json!([]));
        }
    })
    .await;
}

#[tokio::test]
async fn three_denials_prevent_further_attempts() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "UNAUTHORIZED").await;
        let path = format!("/users/{user}/members/{member}");
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "DENIED");
        assert_eq!(app.post(&format!("{path}/aggregate"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "DENIED");
        assert_eq!(app.post(&format!("{path}/aggregate"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "PREVENTED");
        assert_eq!(app.get(&path).await.body["member"]["needs_updated_credentials"], true);
        let r = app.post(&format!("{path}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "Ferry stops trying: {r:?}");
        // New credentials clear it and start a job.
        let r = app
            .put(
                &path,
                json!({ "member": { "credentials": [{ "guid": crate::support::PASSWORD, "value": "password" }] } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["needs_updated_credentials"], false);
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "CONNECTED");
    })
    .await;
}

async fn answer(app: &TestApp, user: &str, member: &str, guid: &str, value: &str) -> crate::support::Reply {
    app.put(
        &format!("/users/{user}/members/{member}/resume"),
        json!({ "member": { "challenges": [{ "guid": guid, "value": value }] } }),
    )
    .await
}

/// Asks for the challenges of a CHALLENGED member; returns the first.
async fn challenge(app: &TestApp, user: &str, member: &str) -> Value {
    let s = status(app, user, member).await;
    assert_eq!(s["connection_status"], "CHALLENGED", "{s}");
    assert_eq!(s["is_being_aggregated"], false);
    assert_eq!(s["challenges"].as_array().map(Vec::len), Some(1), "{s}");
    let r = app.get(&format!("/users/{user}/members/{member}/challenges")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body["challenges"][0].clone()
}

#[tokio::test]
async fn text_mfa_with_a_follow_up_question() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "challenge").await;
        app.work().await;
        let first = challenge(&app, &user, &member).await;
        assert_eq!(first["type"], "TEXT");
        assert!(first["label"].is_string());

        let r = answer(&app, &user, &member, "CRD-not-a-challenge", "correct").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        let r = app.put(&format!("/users/{user}/members/{member}/resume"), json!({ "member": {} })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        let r = answer(&app, &user, &member, first["guid"].as_str().unwrap(), "challenge").await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(r.body["member"]["connection_status"], "RESUMED");
        app.work().await;
        let second = challenge(&app, &user, &member).await;
        assert_ne!(second["guid"], first["guid"], "a follow-up question");

        answer(&app, &user, &member, second["guid"].as_str().unwrap(), "correct").await;
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "CONNECTED");
        assert_eq!(app.get(&format!("/users/{user}/members/{member}/challenges")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/users/{user}/accounts")).await.body["pagination"]["total_entries"], 6);
    })
    .await;
}

#[tokio::test]
async fn options_and_image_mfa_and_a_wrong_answer() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "options").await;
        app.work().await;
        let c = challenge(&app, &user, &member).await;
        assert_eq!(c["type"], "OPTIONS");
        let correct =
            c["options"].as_array().unwrap().iter().find(|o| o["value"] == "correct").unwrap()["value"].clone();
        answer(&app, &user, &member, c["guid"].as_str().unwrap(), correct.as_str().unwrap()).await;
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "CONNECTED");

        let (user, member) = member_with(&app, "image").await;
        app.work().await;
        let c = challenge(&app, &user, &member).await;
        assert_eq!(c["type"], "IMAGE_DATA");
        assert!(c["image_data"].as_str().unwrap().starts_with("data:image/png;base64,iVBORw0KGgo"));
        answer(&app, &user, &member, c["guid"].as_str().unwrap(), "wrong").await;
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "REJECTED");
    })
    .await;
}

#[tokio::test]
async fn an_unanswered_challenge_expires() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "challenge").await;
        app.work().await;
        challenge(&app, &user, &member).await;
        app.clock.advance(time::Duration::minutes(9));
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "CHALLENGED");
        app.clock.advance(time::Duration::minutes(2));
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "EXPIRED");
        let r = answer(&app, &user, &member, "CRD-1b2a7f6e-0000-4000-8000-000000000001", "correct").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "too late: {r:?}");
        // Aggregating again asks again.
        assert_eq!(
            app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await.status,
            StatusCode::ACCEPTED
        );
        app.work().await;
        challenge(&app, &user, &member).await;
    })
    .await;
}

#[tokio::test]
async fn one_job_at_a_time() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "password").await;
        let path = format!("/users/{user}/members/{member}");
        let job = app.get_v2025(&path).await.body["member"]["most_recent_job_guid"].clone();
        assert!(job.as_str().is_some_and(|j| j.starts_with("JOB-")), "{job}");
        // The same type while one is queued: 202 and no new job.
        let r = app.post(&format!("{path}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert_eq!(app.get_v2025(&path).await.body["member"]["most_recent_job_guid"], job);
        assert_eq!(app.work().await, 1);
        // v20111101 types the job guid boolean: it serves null there.
        assert_eq!(app.get(&path).await.body["member"]["most_recent_job_guid"], json!(null));
        assert_eq!(app.post(&format!("{path}/bogus_action"), json!({})).await.status, StatusCode::NOT_FOUND);
        // OAuth members cannot aggregate before they finish OAuth.
        let r = app
            .post(
                &format!("/users/{user}/members"),
                json!({ "member": { "institution_code": "mx_bank_oauth", "is_oauth": true } }),
            )
            .await;
        let oauth = r.body["member"]["guid"].as_str().unwrap().to_owned();
        assert_eq!(
            app.post(&format!("/users/{user}/members/{oauth}/aggregate"), json!({})).await.status,
            StatusCode::BAD_REQUEST
        );
    })
    .await;
}

#[tokio::test]
async fn transaction_windows_and_isolation() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "password").await;
        app.work().await;
        let path = format!("/users/{user}/transactions");
        let all = all_transactions(&app, &path).await;
        let today = "2026-01-02";
        let recent = app.get(&format!("{path}?from_date=2025-12-20&to_date={today}&records_per_page=1000")).await;
        let recent = recent.body["transactions"].as_array().unwrap().clone();
        assert!(!recent.is_empty() && recent.len() < all.len());
        assert!(recent.iter().all(|t| t["date"].as_str().unwrap() >= "2025-12-20"));
        // v20250224 sends unix timestamps; 1766188800 is 2025-12-20.
        let r = app
            .call(
                Method::GET,
                &format!("{path}?from_date=1766188800&to_date=1767312000&records_per_page=1000"),
                None,
                &[("accept-version", "v20250224")],
            )
            .await;
        assert_eq!(r.body["transactions"].as_array().unwrap().len(), recent.len());
        assert_eq!(app.get(&format!("{path}?from_date=yesterday")).await.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            app.get(&format!("{path}?from_date=2026-01-02&to_date=2025-01-01")).await.status,
            StatusCode::BAD_REQUEST
        );
        let page = app.get(&format!("{path}?records_per_page=10&page=2")).await;
        assert_eq!(page.body["transactions"].as_array().unwrap().len(), 10);
        assert_eq!(page.body["pagination"]["total_entries"], all.len());

        let account =
            app.get(&format!("/users/{user}/accounts")).await.body["accounts"][0]["guid"].as_str().unwrap().to_owned();
        let txn = all[0]["guid"].as_str().unwrap().to_owned();
        for p in [
            format!("/users/{user}/accounts"),
            format!("/users/{user}/accounts/{account}"),
            format!("/users/{user}/accounts/{account}/transactions"),
            format!("/users/{user}/members/{member}/accounts"),
            format!("/users/{user}/members/{member}/transactions"),
            format!("/users/{user}/transactions"),
            format!("/users/{user}/transactions/{txn}"),
        ] {
            let r = app.raw(Method::GET, &p, axum::body::Body::empty(), &[("authorization", &app.other_auth)]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
            let r = app
                .raw(
                    Method::POST,
                    &format!("/users/{user}/members/{member}/aggregate"),
                    axum::body::Body::empty(),
                    &[("authorization", &app.other_auth)],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
        // Deleting the member takes its data with it.
        assert_eq!(app.delete(&format!("/users/{user}/members/{member}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&path).await.body["transactions"], json!([]));
        assert_eq!(app.get(&format!("/users/{user}/accounts")).await.body["accounts"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn background_aggregation_every_24_hours_for_members_that_may() {
    each_backend(|app| async move {
        let (user, connected) = member_with(&app, "password").await;
        let denied = app.member(&user, "UNAUTHORIZED", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let opted_out = app.member(&user, "other", json!({ "background_aggregation_is_disabled": true })).await;
        let opted_out = opted_out.body["member"]["guid"].as_str().unwrap().to_owned();
        let (disabled_user, of_disabled) = member_with(&app, "password").await;
        app.work().await;
        app.put(&format!("/users/{disabled_user}"), json!({ "user": { "is_disabled": true } })).await;
        let before = |m: &str, u: &str| {
            let (app, m, u) = (&app, m.to_owned(), u.to_owned());
            async move { app.get_v2025(&format!("/users/{u}/members/{m}")).await.body["member"]["aggregated_at"].clone() }
        };
        let (a, b, c, d) = (before(&connected, &user).await, before(&denied, &user).await, before(&opted_out, &user).await, before(&of_disabled, &disabled_user).await);

        app.clock.advance(time::Duration::hours(23));
        assert_eq!(app.work().await, 0, "not yet due");
        app.clock.advance(time::Duration::hours(2));
        assert_eq!(app.work().await, 1, "only the connected member of the enabled user");
        assert_ne!(before(&connected, &user).await, a);
        assert_eq!(before(&denied, &user).await, b);
        assert_eq!(before(&opted_out, &user).await, c);
        assert_eq!(before(&of_disabled, &disabled_user).await, d);
        assert_eq!(status(&app, &user, &connected).await["connection_status"], "CONNECTED");
    })
    .await;
}

#[tokio::test]
async fn balance_history_and_stale_pending_transactions() {
    each_backend(|app| async move {
        let (user, member) = member_with(&app, "password").await;
        app.work().await;
        let path = format!("/users/{user}/members/{member}");
        let before = all_transactions(&app, &format!("/users/{user}/transactions?from_date=2020-01-01")).await.len();

        let r = app.post(&format!("{path}/check_balance"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        // A different job type while one is queued: 409.
        assert_eq!(app.post(&format!("{path}/aggregate"), json!({})).await.status, StatusCode::CONFLICT);
        app.work().await;
        assert_eq!(status(&app, &user, &member).await["connection_status"], "CONNECTED");

        assert_eq!(app.post(&format!("{path}/extend_history"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        let after = all_transactions(&app, &format!("/users/{user}/transactions?from_date=2020-01-01")).await;
        assert!(after.len() > before * 5, "24 months instead of 90 days: {before} → {}", after.len());
        assert!(after.iter().any(|t| t["date"].as_str().unwrap() < "2024-02-01"));

        // A pending transaction the bank stopped reporting goes once it is two weeks old.
        let account =
            app.get(&format!("/users/{user}/accounts")).await.body["accounts"][0]["guid"].as_str().unwrap().to_owned();
        let ghost = ferry_domain::Transaction {
            guid: ferry_domain::TransactionGuid::parse("TRN-ghost-1").unwrap(),
            client_id: app.client.id.clone(),
            user_guid: ferry_domain::UserGuid::parse(&user).unwrap(),
            user_id: None,
            member_guid: ferry_domain::MemberGuid::parse(&member).unwrap(),
            account_guid: ferry_domain::AccountGuid::parse(&account).unwrap(),
            account_id: None,
            external_id: "voided-authorization".into(),
            id: None,
            amount: "12.34".parse().unwrap(),
            is_debit: true,
            is_pending: true,
            date: time::macros::date!(2025 - 12 - 01),
            transacted_at: None,
            posted_at: None,
            description: Some("Hotel hold".into()),
            original_description: None,
            category: None,
            top_level_category: None,
            memo: None,
            check_number_string: None,
            merchant_category_code: None,
            is_bill_pay: false,
            is_direct_deposit: false,
            is_fee: false,
            is_payroll: false,
            is_subscription: false,
            is_manual: false,
            currency_code: "USD".into(),
            metadata: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        app.service.db().upsert_transactions(&[ghost]).await.unwrap();
        assert_eq!(app.get(&format!("/users/{user}/transactions/TRN-ghost-1")).await.status, StatusCode::OK);
        app.post(&format!("{path}/aggregate"), json!({})).await;
        app.work().await;
        assert_eq!(app.get(&format!("/users/{user}/transactions/TRN-ghost-1")).await.status, StatusCode::NOT_FOUND);
        let kept = all_transactions(&app, &format!("/users/{user}/transactions?from_date=2020-01-01")).await;
        assert_eq!(kept.len(), after.len(), "posted history stays");
    })
    .await;
}
