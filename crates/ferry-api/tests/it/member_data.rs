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
    assert_eq!(r.body["pagination"]["total_entries"].as_u64().unwrap() as usize, r.body[key].as_array().unwrap().len());
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
