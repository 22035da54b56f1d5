//! The premium actions and what they bring in: verify (account numbers), identify (account
//! owners), fetch_statements (statements and their PDFs), holdings from aggregation; and the
//! data users change: account and transaction updates, manual accounts.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, each_backend};

/// A user with a connected MX Bank member (first aggregation done).
async fn connected(app: &TestApp) -> (String, String) {
    let user = app.user(None).await;
    let r = app.member(&user, "password", json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let member = r.body["member"]["guid"].as_str().unwrap().to_owned();
    app.work().await;
    (user, member)
}

async fn list(app: &TestApp, path: &str, key: &str) -> Vec<Value> {
    let r = app.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {r:?}");
    assert!(r.body["pagination"]["total_entries"].as_u64().unwrap() as usize >= r.body[key].as_array().unwrap().len());
    r.body[key].as_array().unwrap().clone()
}

#[tokio::test]
async fn verify_identify_and_statements_bring_their_data() {
    each_backend(|app| async move {
        let (user, member) = connected(&app).await;
        let base = format!("/users/{user}/members/{member}");
        assert!(list(&app, &format!("{base}/account_numbers"), "account_numbers").await.is_empty());

        // verify answers 200 (MX's one exception), then the numbers are there, full.
        let r = app.post(&format!("{base}/verify"), json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["is_being_aggregated"], true);
        assert_eq!(app.work().await, 1);
        let numbers = list(&app, &format!("{base}/account_numbers"), "account_numbers").await;
        assert_eq!(numbers.len(), 2, "checking and savings");
        for n in &numbers {
            assert!(n["guid"].as_str().unwrap().starts_with("ACN-"));
            assert_eq!(n["account_number"].as_str().unwrap().len(), 10, "full, not masked: {n}");
            assert_eq!(n["routing_number"], "091000019");
            assert_eq!(n["passed_validation"], true);
            assert_eq!(n["member_guid"], member.as_str());
        }
        let account = numbers[0]["account_guid"].as_str().unwrap();
        let by_account =
            list(&app, &format!("/users/{user}/accounts/{account}/account_numbers"), "account_numbers").await;
        assert_eq!(by_account.len(), 1);
        assert_eq!(by_account[0]["guid"], numbers[0]["guid"]);
        let masked =
            app.get(&format!("/users/{user}/accounts/{account}")).await.body["account"]["account_number"].clone();
        assert!(masked.as_str().unwrap().ends_with(&numbers[0]["account_number"].as_str().unwrap()[6..]));
        let s = app.get(&format!("{base}/status")).await.body["member"].clone();
        assert_eq!(s["has_processed_account_numbers"], true, "{s}");
        assert_eq!(s["has_processed_transactions"], true, "a verify leaves the transactions' flag alone: {s}");

        // Verifying again keeps the same guids.
        assert_eq!(app.post(&format!("{base}/verify"), json!({})).await.status, StatusCode::OK);
        app.work().await;
        assert_eq!(list(&app, &format!("{base}/account_numbers"), "account_numbers").await, numbers);

        // identify: owners of every account, two on the joint checking account.
        assert_eq!(app.post(&format!("{base}/identify"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        let owners = list(&app, &format!("{base}/account_owners"), "account_owners").await;
        assert_eq!(owners.len(), 7);
        assert!(owners.iter().all(|o| o["guid"].as_str().unwrap().starts_with("ACO-") && o["owner_name"].is_string()));

        // fetch_statements: three months of three accounts, each a real PDF.
        assert_eq!(app.post(&format!("{base}/fetch_statements"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        let statements = list(&app, &format!("{base}/statements?records_per_page=25"), "statements").await;
        assert_eq!(statements.len(), 9);
        let st = &statements[0];
        let guid = st["guid"].as_str().unwrap();
        assert!(guid.starts_with("STA-"));
        assert_eq!(st["content_hash"].as_str().unwrap().len(), 64);
        let one = app.get(&format!("{base}/statements/{guid}")).await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(&one.body["statement"], st);
        let pdf = app.get(&format!("{base}/statements/{guid}.pdf")).await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert_eq!(pdf.headers["content-type"], "application/vnd.mx.api.v1+pdf");
        assert!(pdf.body.as_str().unwrap().starts_with("%PDF-"));
        // The SDKs ask for the PDF with its own media type.
        let r = app
            .call(
                Method::GET,
                &format!("{base}/statements/{guid}.pdf"),
                None,
                &[("accept", "application/vnd.mx.api.v1+pdf")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // A statement read through another member of the same user is not found.
        let other =
            app.member(&user, "other-password", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let r = app.get(&format!("/users/{user}/members/{other}/statements/{guid}.pdf")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        assert_eq!(app.get(&format!("{base}/statements/STA-nope.pdf")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.get(&format!("{base}/statements/{}", numbers[0]["guid"].as_str().unwrap())).await.status,
            StatusCode::NOT_FOUND
        );
        // Fetching again makes no new statements.
        app.post(&format!("{base}/fetch_statements"), json!({})).await;
        app.work().await;
        assert_eq!(list(&app, &format!("{base}/statements?records_per_page=25"), "statements").await, statements);

        // Another client sees none of it.
        let r = app
            .raw(
                Method::GET,
                &format!("{base}/statements/{guid}.pdf"),
                axum::body::Body::empty(),
                &[("authorization", app.other_auth.as_str())],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn aggregation_brings_holdings() {
    each_backend(|app| async move {
        let (user, member) = connected(&app).await;
        let holdings = list(&app, &format!("/users/{user}/investment_holdings"), "investment_holdings").await;
        assert_eq!(holdings.len(), 4);
        let h = &holdings[0];
        assert!(h["guid"].as_str().unwrap().starts_with("HOL-"));
        assert!(h["quantity"].is_string(), "MX sends quantity as a string: {h}");
        assert!(h["market_value"].as_f64().unwrap() > 0.0);
        let account = h["account_guid"].as_str().unwrap();
        let a = app.get(&format!("/users/{user}/accounts/{account}")).await;
        assert_eq!(a.body["account"]["type"], "INVESTMENT");
        let total: f64 = holdings.iter().map(|h| h["market_value"].as_f64().unwrap()).sum();
        assert!((total - a.body["account"]["balance"].as_f64().unwrap()).abs() < 1.0);
        assert_eq!(
            list(&app, &format!("/users/{user}/members/{member}/investment_holdings"), "investment_holdings").await,
            holdings
        );
        assert_eq!(
            list(&app, &format!("/users/{user}/accounts/{account}/investment_holdings"), "investment_holdings")
                .await
                .len(),
            4
        );
        let guid = h["guid"].as_str().unwrap();
        let one = app.get(&format!("/users/{user}/investment_holdings/{guid}")).await;
        assert_eq!(&one.body["investment_holding"], h);
        // The next day's aggregation moves prices but keeps the positions' guids.
        app.clock.advance(time::Duration::days(1));
        app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        app.work().await;
        let again = list(&app, &format!("/users/{user}/investment_holdings"), "investment_holdings").await;
        let guids = |l: &[Value]| l.iter().map(|h| h["guid"].clone()).collect::<Vec<_>>();
        assert_eq!(guids(&again), guids(&holdings));
        assert_eq!(
            app.get(&format!("/users/{user}/investment_holdings/HOL-unknown")).await.status,
            StatusCode::NOT_FOUND
        );
    })
    .await;
}

#[tokio::test]
async fn manual_accounts_are_created_updated_and_deleted() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let r = app
            .post(
                &format!("/users/{user}/accounts"),
                json!({ "account": { "name": "House", "account_type": "PROPERTY", "property_type": "REAL_ESTATE",
                    "balance": 450000.25, "original_balance": 380000, "is_business": false, "metadata": "m" } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let a = r.body["account"].clone();
        assert_eq!(a["is_manual"], true);
        assert_eq!(a["type"], "PROPERTY");
        assert_eq!(a["property_type"], "REAL_ESTATE");
        assert_eq!(a["balance"], 450000.25);
        assert_eq!(a["original_balance"], 380000.0);
        let guid = a["guid"].as_str().unwrap().to_owned();
        let member = a["member_guid"].as_str().unwrap().to_owned();

        // The Manual Institution member holds it, never aggregates, and is one per user.
        let m = app.get(&format!("/users/{user}/members/{member}")).await.body["member"].clone();
        assert_eq!(m["is_manual"], true, "{m}");
        let r = app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        let second = app
            .post(
                &format!("/users/{user}/accounts"),
                json!({ "account": { "name": "Car", "account_type": "PROPERTY" } }),
            )
            .await;
        assert_eq!(second.body["account"]["member_guid"], member.as_str());
        assert_eq!(
            app.get(&format!("/users/{user}/accounts?is_manual=true")).await.body["pagination"]["total_entries"],
            2
        );
        assert_eq!(app.work().await, 0, "no job for manual accounts");

        // Every field of a manual account can be updated.
        let r = app
            .put(
                &format!("/users/{user}/members/{member}/accounts/{guid}"),
                json!({ "account": { "name": "Home", "balance": 460000, "is_hidden": true } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["account"]["name"], "Home");
        assert_eq!(r.body["account"]["balance"], 460000.0);
        assert_eq!(r.body["account"]["is_hidden"], true);
        assert_eq!(r.body["account"]["property_type"], "REAL_ESTATE", "untouched fields stay");
        assert_eq!(
            app.get(&format!("/users/{user}/members/{member}/accounts/{guid}")).await.body["account"]["name"],
            "Home"
        );

        // Bad input is a 400 naming the field.
        for (body, field) in [
            (json!({ "account": { "account_type": "PROPERTY" } }), "account.name"),
            (json!({ "account": { "name": "x" } }), "account.account_type"),
            (json!({ "account": { "name": "x", "account_type": "BOAT" } }), "account.account_type"),
            (
                json!({ "account": { "name": "x", "account_type": "PROPERTY", "property_type": "YACHT" } }),
                "account.property_type",
            ),
            (
                json!({ "account": { "name": "x", "account_type": "CASH", "currency_code": "dollars" } }),
                "account.currency_code",
            ),
            (json!({ "account": { "name": "x", "account_type": "CASH", "balance": "lots" } }), "account.balance"),
            (json!({}), "account"),
        ] {
            let r = app.post(&format!("/users/{user}/accounts"), body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
            assert!(r.body["error"]["message"].as_str().unwrap().contains(field), "{field}: {r:?}");
        }

        // Deleted: 204, then gone.
        let r = app.delete(&format!("/users/{user}/accounts/{guid}")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        assert_eq!(app.get(&format!("/users/{user}/accounts/{guid}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&format!("/users/{user}/accounts/{guid}")).await.status, StatusCode::NOT_FOUND);
        // The manual institution cannot be used to create members directly.
        let r = app
            .post(
                &format!("/users/{user}/members"),
                json!({ "member": { "institution_code": "manual_institution", "credentials": [] } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn aggregated_accounts_take_only_user_fields_and_are_not_deleted_alone() {
    each_backend(|app| async move {
        let (user, member) = connected(&app).await;
        let accounts = list(&app, &format!("/users/{user}/members/{member}/accounts"), "accounts").await;
        let a = accounts[0]["guid"].as_str().unwrap();
        let path = format!("/users/{user}/members/{member}/accounts/{a}");
        let r = app
            .put(&path, json!({ "account": { "is_hidden": true, "is_business": true, "metadata": "{\"k\":1}" } }))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["account"]["is_hidden"], true);
        assert_eq!(r.body["account"]["is_business"], true);
        let r = app.put(&path, json!({ "account": { "balance": 1.0 } })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("account.balance"));
        let r = app.delete(&format!("/users/{user}/accounts/{a}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        // The user's choices survive the next aggregation.
        app.clock.advance(time::Duration::days(1));
        app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        app.work().await;
        assert_eq!(app.get(&path).await.body["account"]["is_hidden"], true);
        // Another member's path does not reach the account.
        let other = app.member(&user, "second", json!({ "skip_aggregation": true })).await.body["member"]["guid"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app.get(&format!("/users/{user}/members/{other}/accounts/{a}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn transaction_edits_survive_reaggregation() {
    each_backend(|app| async move {
        let (user, member) = connected(&app).await;
        let txns = list(&app, &format!("/users/{user}/transactions?records_per_page=5"), "transactions").await;
        assert!(!txns.is_empty());
        let t = &txns[0];
        let (guid, account) = (t["guid"].as_str().unwrap(), t["account_guid"].as_str().unwrap());
        let r = app
            .put(
                &format!("/users/{user}/transactions/{guid}"),
                json!({ "transaction": { "description": "Lunch with Sam", "memo": "team" } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["transaction"]["description"], "Lunch with Sam");
        assert_eq!(r.body["transaction"]["memo"], "team");
        assert_eq!(r.body["transaction"]["original_description"], t["original_description"]);

        app.clock.advance(time::Duration::days(1));
        app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        app.work().await;
        let again = app.get(&format!("/users/{user}/transactions/{guid}")).await;
        assert_eq!(again.body["transaction"]["description"], "Lunch with Sam");
        let listed =
            list(&app, &format!("/users/{user}/accounts/{account}/transactions?records_per_page=1000"), "transactions")
                .await;
        assert!(listed.iter().any(|x| x["guid"] == guid && x["description"] == "Lunch with Sam"));

        // Through the member and account too; another account's path does not reach it.
        let by_account = format!("/users/{user}/members/{member}/accounts/{account}/transactions/{guid}");
        let r = app.put(&by_account, json!({ "transaction": { "description": "Lunch" } })).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(app.get(&by_account).await.body["transaction"]["description"], "Lunch");
        let other_account = list(&app, &format!("/users/{user}/members/{member}/accounts"), "accounts")
            .await
            .into_iter()
            .map(|a| a["guid"].as_str().unwrap().to_owned())
            .find(|a| a != account)
            .unwrap();
        let r = app.get(&format!("/users/{user}/members/{member}/accounts/{other_account}/transactions/{guid}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        let l = list(
            &app,
            &format!("/users/{user}/members/{member}/accounts/{account}/transactions?records_per_page=1000"),
            "transactions",
        )
        .await;
        assert!(l.iter().all(|x| x["account_guid"] == account));

        for body in [
            json!({ "transaction": {} }),
            json!({ "transaction": { "category_guid": "CAT-1" } }),
            json!({ "transaction": { "description": 5 } }),
        ] {
            let r = app.put(&format!("/users/{user}/transactions/{guid}"), body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        }
        let r = app
            .put(&format!("/users/{user}/transactions/TRN-nope"), json!({ "transaction": { "description": "x" } }))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn premium_actions_need_the_institution_to_support_them_and_throttle_applies_to_real_banks() {
    each_backend(|app| async move {
        // A copy of MX Bank served by a connector that is throttled, as real institutions are,
        // and that offers no premium products.
        let db = app.service.db();
        let mut bank = db.get_institution_by_code("mxbank").await.unwrap().unwrap();
        let mut fields = db.list_institution_credentials(&bank.guid).await.unwrap();
        bank.guid = ferry_domain::InstitutionGuid::parse("INS-7e57ba2c-0000-4000-8000-000000000001").unwrap();
        bank.code = "throttled_bank".into();
        bank.connector = crate::support::THROTTLED_CONNECTOR.into();
        bank.supported_products = vec![ferry_domain::Product::Transactions];
        for (n, f) in fields.iter_mut().enumerate() {
            f.guid = ferry_domain::CredentialGuid::parse(&format!("CRD-7e57ba2c-0000-4000-8000-00000000000{n}")).unwrap();
        }
        db.upsert_institution(&bank, &fields).await.unwrap();
        let user = app.user(None).await;
        let creds: Vec<Value> = fields.iter().map(|f| json!({ "guid": f.guid.as_str(), "value": if f.field_name == "LOGIN" { "mxuser" } else { "password" } })).collect();
        let r = app.post(&format!("/users/{user}/members"), json!({ "member": { "institution_code": "throttled_bank", "credentials": creds } })).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let member = r.body["member"]["guid"].as_str().unwrap().to_owned();
        assert_eq!(app.work().await, 1);
        let base = format!("/users/{user}/members/{member}");
        for action in ["verify", "identify", "fetch_statements", "extend_history"] {
            let r = app.post(&format!("{base}/{action}"), json!({})).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{action}: {r:?}");
        }
        // Within the throttle window: 202, no new job.
        let job = app.get(&base).await.body["member"]["most_recent_job_guid"].clone();
        let r = app.post(&format!("{base}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(r.body["member"]["is_being_aggregated"], false);
        assert_eq!(app.work().await, 0);
        assert_eq!(app.get(&base).await.body["member"]["most_recent_job_guid"], job);
        // check_balance is not throttled; after the window, aggregation runs again.
        assert_eq!(app.post(&format!("{base}/check_balance"), json!({})).await.status, StatusCode::ACCEPTED);
        assert_eq!(app.work().await, 1);
        app.clock.advance(time::Duration::hours(4));
        let r = app.post(&format!("{base}/aggregate"), json!({})).await;
        assert_eq!(r.body["member"]["is_being_aggregated"], true, "{r:?}");
        assert_eq!(app.work().await, 1);
        // MX Bank (the sandbox) is exempt: back-to-back aggregations each run.
        let (user2, member2) = connected(&app).await;
        let r = app.post(&format!("/users/{user2}/members/{member2}/aggregate"), json!({})).await;
        assert_eq!(r.body["member"]["is_being_aggregated"], true);
        assert_eq!(app.work().await, 1);
    })
    .await;
}
