//! SimpleFIN members end to end: a setup token claimed against the fake SimpleFIN server on
//! loopback, the accounts, balances, holdings and transactions it serves, the routine sync,
//! pending transactions that post under a new id, and every status a SimpleFIN server can
//! cause, on both databases.

use axum::http::StatusCode;
use ferry_connector_simplefin::fake::FakeSimpleFin;
use ferry_core::Clock;
use serde_json::{Value, json};

use crate::support::{TestApp, each_backend};

const TOKEN_FIELD: &str = "CRD-5e3f1a2b-7c4d-4e8f-9a0b-746f6b656e31";

async fn fake(app: &TestApp) -> FakeSimpleFin {
    FakeSimpleFin::start(app.clock.now().date(), 0).await.unwrap()
}

/// Creates a SimpleFIN member with `token` for `user`; returns its guid.
async fn simplefin_member(app: &TestApp, user: &str, token: &str) -> String {
    let body =
        json!({"member": {"institution_code": "simplefin", "credentials": [{"guid": TOKEN_FIELD, "value": token}]}});
    let r = app.post(&format!("/users/{user}/members"), body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    r.body["member"]["guid"].as_str().unwrap().to_owned()
}

async fn member(app: &TestApp, user: &str, member: &str) -> Value {
    let r = app.get(&format!("/users/{user}/members/{member}")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["member"].clone()
}

/// The member's accounts as stored (with what the API does not show).
async fn stored_accounts(app: &TestApp, user: &str, member: &str) -> Vec<ferry_domain::Account> {
    let page = ferry_domain::PageRequest::new(None, Some(100), 1000);
    let (user, member) = (user.parse().unwrap(), member.parse().unwrap());
    app.service.db().list_accounts(&app.client.id, &user, Some(&member), None, page).await.unwrap().items
}

async fn list(app: &TestApp, path: &str, key: &str) -> Vec<Value> {
    let r = app.get(&format!("{path}?records_per_page=1000")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body[key].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_setup_token_connects_every_account_with_exact_money_and_pending_transactions() {
    each_backend(|app| async move {
        let bank = fake(&app).await;
        let user = app.user(None).await;
        let guid = simplefin_member(&app, &user, &bank.setup_token("alice")).await;
        assert_eq!(app.work().await, 1);
        let m = member(&app, &user, &guid).await;
        assert_eq!(m["connection_status"], "CONNECTED", "{m}");

        // Discovery with balances only, then history in windows of at most 89 days.
        let queries = bank.account_requests();
        assert_eq!(queries[0], "balances-only=1", "{queries:?}");
        assert!(queries.len() >= 2, "{queries:?}");
        for q in &queries[1..] {
            let pairs: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            let (start, end): (i64, i64) = (pairs["start-date"].parse().unwrap(), pairs["end-date"].parse().unwrap());
            assert!(end - start <= 89 * 86_400, "{q}");
            assert_eq!(pairs["pending"], "1");
        }

        let accounts = list(&app, &format!("/users/{user}/members/{guid}/accounts"), "accounts").await;
        assert_eq!(accounts.len(), 4, "{accounts:?}");
        let by_name = |n: &str| accounts.iter().find(|a| a["name"] == n).unwrap_or_else(|| panic!("{n}")).clone();
        assert_eq!(by_name("Everyday Checking")["balance"], json!(1234.56));
        assert_eq!(by_name("Everyday Checking")["available_balance"], json!(1200.0));
        assert_eq!(by_name("Everyday Checking")["type"], "CHECKING");
        assert_eq!(by_name("Visa Signature Card")["type"], "CREDIT_CARD");
        assert_eq!(by_name("Visa Signature Card")["balance"], json!(432.1), "what is owed, positive as MX has it");
        assert_eq!(by_name("Euro Savings")["currency_code"], "EUR");
        assert_eq!(by_name("Euro Savings")["type"], "SAVINGS");
        assert_eq!(by_name("Brokerage")["type"], "INVESTMENT");

        // Each account keeps its organisation, and money is stored exactly as served.
        let db = app.service.db();
        let stored = stored_accounts(&app, &user, &guid).await;
        let orgs: std::collections::BTreeSet<String> = stored.iter().filter_map(|a| a.organization.clone()).collect();
        assert_eq!(orgs.into_iter().collect::<Vec<_>>(), ["Bank A", "Broker D", "Card B"]);
        let euro = stored.iter().find(|a| a.name == "Euro Savings").unwrap();
        assert_eq!(euro.balance.unwrap().to_string(), "1000.01");

        let txns = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
        let descriptions: Vec<&str> = txns.iter().map(|t| t["description"].as_str().unwrap()).collect();
        assert_eq!(txns.len(), 6, "{descriptions:?}");
        let gas: Vec<&Value> = txns.iter().filter(|t| t["original_description"] == "GAS STATION 42").collect();
        assert_eq!(gas.len(), 1);
        assert_eq!(gas[0]["status"], "PENDING");
        assert_eq!(gas[0]["description"], "Gas Station", "the cleaned payee is the description");
        let coffee = txns.iter().find(|t| t["description"] == "Coffee Shop").unwrap();
        assert_eq!((coffee["amount"].clone(), coffee["type"].clone()), (json!(33.43), json!("DEBIT")));
        let cent = txns.iter().find(|t| t["original_description"] == "INTEREST").unwrap();
        assert_eq!(
            (cent["amount"].clone(), cent["type"].clone(), cent["currency_code"].clone()),
            (json!(0.01), json!("CREDIT"), json!("EUR"))
        );
        assert!(txns.iter().any(|t| t["original_description"] == "HARDWARE STORE"), "80 days back: the older window");

        let holdings =
            list(&app, &format!("/users/{user}/members/{guid}/investment_holdings"), "investment_holdings").await;
        assert_eq!(holdings.len(), 1, "{holdings:?}");
        assert_eq!(holdings[0]["symbol"], "VTI");
        assert_eq!(holdings[0]["quantity"], "10.5");

        // The token is spent: only the sealed access URL is kept.
        let sealed = db.get_member_credentials(&guid.parse().unwrap()).await.unwrap().unwrap();
        assert!(sealed.sealed.is_empty(), "the setup token is forgotten once claimed");
        let state = db.connector_state(&guid.parse().unwrap()).await.unwrap().unwrap();
        let (_, sealed_state) = state.sealed.unwrap();
        assert!(!sealed_state.contains("s3cr3t") && !sealed_state.contains("127.0.0.1"), "sealed, not plain");

        // A day later the pending transaction posts under a new id: one routine request from
        // the last sync minus 7 days, and no duplicate.
        bank.post_pending("alice");
        app.clock.advance(time::Duration::days(1));
        let r = app.post(&format!("/users/{user}/members/{guid}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(app.work().await, 1);
        assert_eq!(member(&app, &user, &guid).await["connection_status"], "CONNECTED");
        let queries = bank.account_requests();
        let last = queries.last().unwrap();
        let pairs: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(last.as_bytes()).into_owned().collect();
        let end: i64 = pairs["end-date"].parse().unwrap();
        let start: i64 = pairs["start-date"].parse().unwrap();
        assert!(end - start <= 14 * 86_400, "a routine sync reads a short window: {last}");
        let txns = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
        let gas: Vec<&Value> = txns.iter().filter(|t| t["original_description"] == "GAS STATION 42").collect();
        assert_eq!(gas.len(), 1, "pending → posted under a new id makes no duplicate: {gas:?}");
        assert_eq!(gas[0]["status"], "POSTED");
        assert_eq!(txns.len(), 6);
    })
    .await;
}

#[tokio::test]
async fn a_claimed_token_used_again_by_another_user_is_denied_with_a_message() {
    each_backend(|app| async move {
        let bank = fake(&app).await;
        let token = bank.setup_token("alice");
        let first = app.user(None).await;
        let a = simplefin_member(&app, &first, &token).await;
        let second = app.user(None).await;
        let b = simplefin_member(&app, &second, &token).await;
        assert_eq!(app.work().await, 2);
        assert_eq!(member(&app, &first, &a).await["connection_status"], "CONNECTED");
        let m = member(&app, &second, &b).await;
        assert_eq!(m["connection_status"], "DENIED", "{m}");
        let message = m["connection_status_message"].as_str().unwrap();
        assert!(message.contains("already claimed") && message.contains("compromised"), "{message}");
        assert_eq!(bank.claimed(), 1);
    })
    .await;
}

#[tokio::test]
async fn every_simplefin_outcome_maps_to_its_status() {
    each_backend(|app| async move {
        let bank = fake(&app).await;
        let user = app.user(None).await;
        let cases = [
            ("v2user", "CONNECTED", ""),
            ("revoked", "DENIED", "revoked"),
            ("unpaid", "IMPEDED", "payment"),
            ("broken", "IMPEDED", "may need attention"),
            ("attention", "DEGRADED", "Card B may need attention"),
            ("quota", "DELAYED", "a few updates a day"),
            ("flaky", "DISCONNECTED", "could not be reached"),
            ("bad", "FAILED", "HTTP 400"),
        ];
        let mut members = Vec::new();
        for (scenario, ..) in cases {
            members.push(simplefin_member(&app, &user, &bank.setup_token(scenario)).await);
        }
        app.work().await;
        for ((scenario, status, words), guid) in cases.iter().zip(&members) {
            let m = member(&app, &user, guid).await;
            assert_eq!(m["connection_status"], *status, "{scenario}: {m}");
            let message = m["connection_status_message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{scenario}: {message}");
        }
        // The v2 shape names organisations through its connections.
        let v2 = &members[0];
        let stored = stored_accounts(&app, &user, v2).await;
        assert!(stored.iter().any(|a| a.organization.as_deref() == Some("Card B")));
        // A degraded member still has the accounts that answered.
        let degraded = &members[4];
        assert_eq!(list(&app, &format!("/users/{user}/members/{degraded}/accounts"), "accounts").await.len(), 1);

        // A spent quota: no job calls SimpleFIN again before it refills.
        let delayed = &members[5];
        let before = bank.account_requests().len();
        let r = app.post(&format!("/users/{user}/members/{delayed}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(app.work().await, 0, "no job while the quota is spent");
        assert_eq!(bank.account_requests().len(), before);
        app.clock.advance(time::Duration::hours(7));
        let r = app.post(&format!("/users/{user}/members/{delayed}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(app.work().await, 1, "after the refill a job runs");
    })
    .await;
}

#[tokio::test]
async fn accounts_of_a_connection_that_needs_attention_keep_their_pending_transactions() {
    each_backend(|app| async move {
        let bank = fake(&app).await;
        let user = app.user(None).await;
        let guid = simplefin_member(&app, &user, &bank.setup_token("alice")).await;
        app.work().await;
        let pending = |txns: &[Value]| txns.iter().filter(|t| t["status"] == "PENDING").count();
        let txns = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
        assert_eq!(pending(&txns), 1);

        // Bank A (the checking account with the pending transaction) needs attention at the
        // Bridge: its accounts are left out of the answer, which says nothing about them.
        bank.break_connection("alice", "CON-A");
        app.clock.advance(time::Duration::hours(4));
        app.post(&format!("/users/{user}/members/{guid}/aggregate"), json!({})).await;
        assert_eq!(app.work().await, 1);
        let m = member(&app, &user, &guid).await;
        assert_eq!(m["connection_status"], "DEGRADED", "{m}");
        assert!(m["connection_status_message"].as_str().unwrap().contains("Bank A may need attention"), "{m}");
        let txns = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
        assert_eq!(pending(&txns), 1, "the unreported account's pending transaction stays");
        assert_eq!(txns.len(), 6);
    })
    .await;
}
