//! The server faces over HTTP, on both databases: SimpleFIN (setup token → claim once →
//! accounts, windows, pending, filters, errors, revocation, expiry, isolation) and OFX
//! (sign-on, lockout, account info, bank/card/investment statements in v1 and v2, exact
//! amounts, isolation), and both faces off by default.

use std::str::FromStr;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use ferry_api::faces::Faces;
use ferry_connector_ofx::{
    AccountRef, BankStatementRequest, CardStatementRequest, InvestmentStatementRequest, Item, OfxDate, Response,
    Signon, Style, parse_response, write,
};
use ferry_core::{Clock, UserRef};
use ferry_domain::{Transaction, UserGuid};
use http_body_util::BodyExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{LOGIN, MXBANK, PASSWORD, TestApp, each_backend};

fn faces_router(app: &TestApp) -> Router {
    let options = ferry_api::Options { faces: Faces { simplefin: true, ofx: true }, ..Default::default() };
    ferry_api::router_with_options(app.service.clone(), options)
}

/// Sends a request; answers the status, content type and body text.
async fn send(
    router: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let ct = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8_lossy(&bytes).into_owned())
}

/// A user with a connected MX Bank member; answers the user's guid.
async fn connected_user(app: &TestApp, id: &str) -> String {
    let user = app.user(Some(id)).await;
    let r = app.member(&user, "password", json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    app.work().await;
    user
}

/// Every transaction of a user, as stored, newest first.
async fn stored_transactions(app: &TestApp, user: &str) -> Vec<Transaction> {
    let user = UserGuid::parse(user).unwrap();
    let far = time::macros::date!(1900 - 01 - 01);
    let end = time::macros::date!(9999 - 12 - 31);
    let scope = ferry_store::TransactionScope::User;
    app.service.db().export_transactions(&user, &scope, far, end, None, 100_000).await.unwrap()
}

async fn stored_accounts(app: &TestApp, user: &str) -> Vec<ferry_domain::Account> {
    let page = ferry_domain::PageRequest::new(None, Some(1000), 1000);
    let user = UserGuid::parse(user).unwrap();
    app.service.db().list_accounts(&app.client.id, &user, None, None, page).await.unwrap().items
}

fn signed(t: &Transaction) -> Decimal {
    if t.is_debit { -t.amount } else { t.amount }
}

/// Claims a setup token through the face; answers (username, secret) of the access URL.
async fn claim(app: &TestApp, face: &Router, setup_token: &str) -> (StatusCode, Option<(String, String)>) {
    let claim_url = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(setup_token).unwrap()).unwrap();
    let path = claim_url.strip_prefix(&app.public_url).expect("the claim URL is on the public URL").to_owned();
    let (status, _, body) = send(face, Method::POST, &path, &[("authorization", "Basic Og==")], Vec::new()).await;
    if status != StatusCode::OK {
        return (status, None);
    }
    let access = url::Url::parse(&body).expect("the access URL is a URL");
    assert_eq!(access.path(), "/simplefin");
    assert_eq!(
        format!("{}://{}", access.scheme(), access.host_str().unwrap()),
        app.public_url.rsplit_once(':').unwrap().0
    );
    (status, Some((access.username().to_owned(), access.password().unwrap().to_owned())))
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

async fn sfin_get(face: &Router, creds: &(String, String), query: &str) -> (StatusCode, Value) {
    let auth = basic(&creds.0, &creds.1);
    let (status, _, body) =
        send(face, Method::GET, &format!("/simplefin/accounts{query}"), &[("authorization", &auth)], Vec::new()).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

#[tokio::test]
async fn simplefin_face_serves_a_users_accounts_once_claimed() {
    each_backend(|app| async move {
        let face = faces_router(&app);
        let user = connected_user(&app, "alice").await;
        // An exact amount to carry through: more digits than money usually has.
        let mut txns = stored_transactions(&app, &user).await;
        let mut odd = txns.iter().find(|t| !t.is_pending && t.is_debit).unwrap().clone();
        odd.amount = Decimal::from_str("12345678.901234").unwrap();
        // And a whole amount, which SimpleFIN writes with cents (clients read cents).
        let mut whole = txns.iter().find(|t| !t.is_pending && t.is_debit && t.guid != odd.guid).unwrap().clone();
        whole.amount = Decimal::from_str("100").unwrap();
        app.service.db().upsert_transactions(&[odd.clone(), whole.clone()]).await.unwrap();
        txns = stored_transactions(&app, &user).await;

        // The token from the API; claimed once (the empty Basic header is ignored).
        let r = app.post(&format!("/users/{user}/simplefin_token"), json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let token = r.body["simplefin_token"]["setup_token"].as_str().unwrap().to_owned();
        let (status, creds) = claim(&app, &face, &token).await;
        assert_eq!(status, StatusCode::OK);
        let creds = creds.unwrap();
        assert_eq!(claim(&app, &face, &token).await.0, StatusCode::FORBIDDEN, "a token is claimed once");

        let (status, info) = {
            let (s, _, b) = send(&face, Method::GET, "/simplefin/info", &[], Vec::new()).await;
            (s, serde_json::from_str::<Value>(&b).unwrap())
        };
        assert_eq!(status, StatusCode::OK);
        assert_eq!(info["versions"], json!(["1.0"]));

        // Everything, pending excluded: every account with every key.
        let (status, set) = sfin_get(&face, &creds, "").await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(set["errors"], json!([]));
        let accounts = stored_accounts(&app, &user).await;
        let listed = set["accounts"].as_array().unwrap();
        assert_eq!(listed.len(), accounts.len());
        for a in &accounts {
            let s = listed.iter().find(|s| s["id"] == a.guid.as_str()).expect("every account is listed");
            for key in ["domain", "name", "sfin-url", "url", "id"] {
                assert!(s["org"].get(key).is_some(), "org.{key}");
            }
            assert_eq!(s["org"]["name"], "MX Bank");
            assert_eq!(s["org"]["sfin-url"], format!("{}/simplefin", app.public_url));
            for key in ["available-balance", "balance-date", "transactions", "holdings", "currency", "name"] {
                assert!(s.get(key).is_some(), "{key}");
            }
            let balance = a.balance.unwrap();
            let expected = if a.is_liability() { -balance } else { balance };
            assert_eq!(Decimal::from_str(s["balance"].as_str().unwrap()).unwrap(), expected, "{}", a.kind);
            let mine: Vec<&Transaction> = txns.iter().filter(|t| t.account_guid == a.guid && !t.is_pending).collect();
            let served = s["transactions"].as_array().unwrap();
            assert_eq!(served.len(), mine.len(), "{}", a.kind);
            for t in mine {
                let st = served.iter().find(|st| st["id"] == t.guid.as_str()).expect("every posted transaction");
                assert_eq!(Decimal::from_str(st["amount"].as_str().unwrap()).unwrap(), signed(t));
                assert!(st["amount"].as_str().unwrap().split_once('.').is_some_and(|(_, f)| f.len() >= 2));
                assert_eq!(st["posted"], ferry_core::face_time(t).unix_timestamp());
                assert_eq!(st["pending"], false);
                for key in ["payee", "memo", "transacted_at", "description"] {
                    assert!(st.get(key).is_some(), "{key}");
                }
            }
            if a.kind == "INVESTMENT" {
                let h = &s["holdings"][0];
                for key in [
                    "id",
                    "created",
                    "currency",
                    "cost-basis",
                    "description",
                    "market-value",
                    "purchase-price",
                    "shares",
                    "symbol",
                ] {
                    assert!(h.get(key).is_some(), "holding {key}");
                }
            }
        }
        let served_odd = listed
            .iter()
            .flat_map(|a| a["transactions"].as_array().unwrap())
            .find(|t| t["id"] == odd.guid.as_str())
            .unwrap();
        assert_eq!(served_odd["amount"], "-12345678.901234", "amounts round-trip exactly");
        let served_whole = listed
            .iter()
            .flat_map(|a| a["transactions"].as_array().unwrap())
            .find(|t| t["id"] == whole.guid.as_str())
            .unwrap();
        assert_eq!(served_whole["amount"], "-100.00");

        // Pending ones on request, posted 0.
        let pending: Vec<&Transaction> = txns.iter().filter(|t| t.is_pending).collect();
        assert!(!pending.is_empty(), "the sandbox has pending transactions");
        let (_, with_pending) = sfin_get(&face, &creds, "?pending=1").await;
        let all: Vec<&Value> = with_pending["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["transactions"].as_array().unwrap())
            .collect();
        for p in &pending {
            let st = all.iter().find(|st| st["id"] == p.guid.as_str()).expect("pending included");
            assert_eq!(st["posted"], 0);
            assert_eq!(st["pending"], true);
        }

        // A window: start inclusive, end exclusive.
        let posted: Vec<i64> =
            txns.iter().filter(|t| !t.is_pending).map(|t| ferry_core::face_time(t).unix_timestamp()).collect();
        let mut times = posted.clone();
        times.sort();
        times.dedup();
        let (start, end) = (times[times.len() / 3], times[2 * times.len() / 3]);
        let (_, window) = sfin_get(&face, &creds, &format!("?start-date={start}&end-date={end}")).await;
        let got: Vec<i64> = window["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["transactions"].as_array().unwrap())
            .map(|t| t["posted"].as_i64().unwrap())
            .collect();
        let expected = posted.iter().filter(|p| **p >= start && **p < end).count();
        assert_eq!(got.len(), expected);
        assert!(got.iter().all(|p| *p >= start && *p < end));
        assert!(!got.contains(&end) && got.contains(&start));

        // One account; balances only.
        let checking = accounts.iter().find(|a| a.kind == "CHECKING").unwrap();
        let (_, one) = sfin_get(&face, &creds, &format!("?account={}", checking.guid)).await;
        assert_eq!(one["accounts"].as_array().unwrap().len(), 1);
        assert_eq!(one["accounts"][0]["id"], checking.guid.as_str());
        let (_, balances) = sfin_get(&face, &creds, "?balances-only=1").await;
        assert_eq!(balances["accounts"].as_array().unwrap().len(), accounts.len());
        assert!(balances["accounts"].as_array().unwrap().iter().all(|a| a["transactions"] == json!([])));

        // Bad queries are 400s; bad credentials 403s.
        assert_eq!(sfin_get(&face, &creds, "?start-date=yesterday").await.0, StatusCode::BAD_REQUEST);
        assert_eq!(sfin_get(&face, &creds, "?start-date=20&end-date=10").await.0, StatusCode::BAD_REQUEST);
        assert_eq!(sfin_get(&face, &(creds.0.clone(), "wrong".into()), "").await.0, StatusCode::FORBIDDEN);
        assert_eq!(sfin_get(&face, &("nobody".into(), creds.1.clone()), "").await.0, StatusCode::FORBIDDEN);
        let (status, _, _) = send(&face, Method::GET, "/simplefin/accounts", &[], Vec::new()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // A member that needs the user shows in `errors`, in the words clients look for.
        let denied = json!({"member": {"institution_code": MXBANK, "credentials": [
            {"guid": LOGIN, "value": "somebody-else"}, {"guid": PASSWORD, "value": "password"}]}});
        assert_eq!(app.post(&format!("/users/{user}/members"), denied).await.status, StatusCode::ACCEPTED);
        app.work().await;
        let (_, set) = sfin_get(&face, &creds, "?balances-only=1").await;
        assert_eq!(set["errors"], json!(["Connection to MX Bank may need attention"]));

        // Revoked: 403 from then on; listed as revoked.
        let list = app.service.list_simplefin_access(&app.client, None).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].username, creds.0);
        assert!(list[0].last_used_at.is_some() && list[0].revoked_at.is_none());
        app.service.revoke_simplefin_access(&app.client, &list[0].guid).await.unwrap();
        assert_eq!(sfin_get(&face, &creds, "").await.0, StatusCode::FORBIDDEN);
        assert!(app.service.list_simplefin_access(&app.client, None).await.unwrap()[0].revoked_at.is_some());
        assert!(app.service.revoke_simplefin_access(&app.client, "SFA-nope").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn simplefin_tokens_expire_and_access_never_crosses_users_or_clients() {
    each_backend(|app| async move {
        let face = faces_router(&app);
        let alice = connected_user(&app, "alice").await;
        let bob = connected_user(&app, "bob").await;

        // Expired: a day and a bit later, the token is refused.
        let old = app.service.issue_simplefin_token(&app.client, &UserRef::Id("alice".into())).await.unwrap();
        app.clock.advance(time::Duration::hours(25));
        assert_eq!(claim(&app, &face, &old.setup_token).await.0, StatusCode::FORBIDDEN);
        let (status, _, _) = send(&face, Method::POST, "/simplefin/claim/unknown", &[], Vec::new()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let a = app.service.issue_simplefin_token(&app.client, &UserRef::Id("alice".into())).await.unwrap();
        let b = app.service.issue_simplefin_token(&app.client, &UserRef::Id("bob".into())).await.unwrap();
        let (_, a) = claim(&app, &face, &a.setup_token).await;
        let (_, b) = claim(&app, &face, &b.setup_token).await;
        let (a, b) = (a.unwrap(), b.unwrap());
        let ids = |v: &Value| -> Vec<String> {
            v["accounts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
        };
        let (_, a_set) = sfin_get(&face, &a, "").await;
        let (_, b_set) = sfin_get(&face, &b, "").await;
        let alice_accounts: Vec<String> =
            stored_accounts(&app, &alice).await.iter().map(|a| a.guid.to_string()).collect();
        let bob_accounts: Vec<String> = stored_accounts(&app, &bob).await.iter().map(|a| a.guid.to_string()).collect();
        assert_eq!(ids(&a_set).len(), alice_accounts.len());
        assert!(ids(&a_set).iter().all(|id| alice_accounts.contains(id)));
        assert!(ids(&b_set).iter().all(|id| bob_accounts.contains(id) && !alice_accounts.contains(id)));
        // Asking for another user's account by id finds nothing.
        let (_, cross) = sfin_get(&face, &a, &format!("?account={}", bob_accounts[0])).await;
        assert_eq!(cross["accounts"], json!([]));
        // One user's secret does not open another's username.
        assert_eq!(sfin_get(&face, &(a.0.clone(), b.1.clone()), "").await.0, StatusCode::FORBIDDEN);

        // Another client cannot issue tokens for, list or revoke this client's users.
        let other = ferry_domain::Client {
            id: ferry_domain::ClientId::from_uuid(uuid::Uuid::new_v4()),
            name: "x".into(),
            created_at: app.clock.now(),
        };
        assert!(app.service.issue_simplefin_token(&other, &UserRef::Id("alice".into())).await.is_err());
        assert!(app.service.list_simplefin_access(&other, None).await.unwrap().is_empty());
        let guid = app.service.list_simplefin_access(&app.client, None).await.unwrap()[0].guid.clone();
        assert!(app.service.revoke_simplefin_access(&other, &guid).await.is_err());
        let r = app
            .raw(
                Method::POST,
                &format!("/users/{alice}/simplefin_token"),
                Body::empty(),
                &[("authorization", &app.other_auth)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn faces_are_off_unless_enabled() {
    each_backend(|app| async move {
        let plain = app.router.clone();
        for (method, path) in
            [(Method::GET, "/simplefin/accounts"), (Method::POST, "/simplefin/claim/x"), (Method::POST, "/ofx")]
        {
            let (status, _, _) = send(&plain, method, path, &[("content-type", "application/x-ofx")], Vec::new()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let only_sfin = ferry_api::router_with_options(
            app.service.clone(),
            ferry_api::Options { faces: Faces { simplefin: true, ofx: false }, ..Default::default() },
        );
        let (status, _, _) =
            send(&only_sfin, Method::POST, "/ofx", &[("content-type", "application/x-ofx")], Vec::new()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = send(&only_sfin, Method::GET, "/simplefin/info", &[], Vec::new()).await;
        assert_eq!(status, StatusCode::OK);
    })
    .await;
}

// --- OFX -----------------------------------------------------------------------------------

fn signon(user: &str, pass: &str) -> Signon {
    Signon {
        dtclient: OfxDate::Date(time::macros::date!(2026 - 01 - 02)),
        user_id: user.into(),
        user_pass: pass.into(),
        language: "ENG".into(),
        org: "Ferry".into(),
        fid: "1".into(),
        app_id: "QWIN".into(),
        app_ver: "2700".into(),
        client_uid: None,
        auth_token: None,
        mfa_answers: Vec::new(),
    }
}

async fn ofx(face: &Router, version: u16, user: &str, pass: &str, items: Vec<Item>) -> Response {
    let mut n = 0;
    let request = ferry_connector_ofx::Request::new(version, signon(user, pass), items, || {
        n += 1;
        format!("T{n}")
    });
    let body = write(&request.to_ofx(), Style { closed_leaves: version >= 200, pretty: false });
    let (status, ct, text) =
        send(face, Method::POST, "/ofx", &[("content-type", "application/x-ofx")], body.into()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(ct, "application/x-ofx");
    if version >= 200 {
        assert!(text.contains("<?OFX OFXHEADER=\"200\" VERSION=\"220\""), "answered in the version asked: {text}");
    } else {
        assert!(text.starts_with("OFXHEADER:100") && text.contains(&format!("VERSION:{version}")), "{text}");
    }
    parse_response(text.as_bytes()).expect("Ferry's answer parses")
}

#[tokio::test]
async fn ofx_face_serves_account_info_and_statements_in_v1_and_v2() {
    each_backend(|app| async move {
        let face = faces_router(&app);
        let user = connected_user(&app, "alice").await;
        let _bob = connected_user(&app, "bob").await;
        let login =
            app.service.set_ofx_password(&app.client, &UserRef::Id("alice".into()), "correct horse").await.unwrap();
        assert_eq!(login, "alice", "the partner id is the OFX user ID");
        assert_eq!(
            app.service.ofx_login_of(&app.client, &UserRef::Id("alice".into())).await.unwrap().as_deref(),
            Some("alice")
        );
        let mut txns = stored_transactions(&app, &user).await;
        let mut odd = txns.iter().find(|t| !t.is_pending && t.is_debit).unwrap().clone();
        odd.amount = Decimal::from_str("0.001").unwrap();
        app.service.db().upsert_transactions(std::slice::from_ref(&odd)).await.unwrap();
        txns = stored_transactions(&app, &user).await;
        let accounts = stored_accounts(&app, &user).await;

        for version in [102, 103, 220] {
            let r = ofx(&face, version, "alice", "correct horse", vec![Item::account_info()]).await;
            assert_eq!(r.signon.status.code, 0);
            assert_eq!(r.signon.fi_org.as_deref(), Some("Ferry"));
            let listed = r.accounts();
            let expected = accounts.iter().filter(|a| !matches!(a.kind.as_str(), "PROPERTY" | "INSURANCE")).count();
            assert_eq!(listed.len(), expected, "v{version}");
            let acct = |kind: &str| {
                let a = accounts.iter().find(|a| a.kind == kind).unwrap();
                (a.clone(), ferry_api::faces::ofx::acct_id(&a.guid))
            };
            let (checking, checking_id) = acct("CHECKING");
            let (card, card_id) = acct("CREDIT_CARD");
            let (invest, invest_id) = acct("INVESTMENT");
            let bank_id = listed
                .iter()
                .find_map(|i| match &i.account {
                    AccountRef::Bank { acct_id, bank_id, .. } if *acct_id == checking_id => Some(bank_id.clone()),
                    _ => None,
                })
                .expect("checking is a bank account");
            assert_eq!(Some(bank_id.as_str()), checking.routing_number.as_deref().or(Some("000000000")));
            // One member, one BANKID: loans without a routing number take their bank's.
            let bank_ids: std::collections::BTreeSet<&str> = listed
                .iter()
                .filter_map(|i| match &i.account {
                    AccountRef::Bank { bank_id, .. } => Some(bank_id.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(bank_ids.len(), 1, "{bank_ids:?}");
            assert!(
                listed.iter().any(|i| matches!(&i.account, AccountRef::CreditCard { acct_id } if *acct_id == card_id))
            );
            assert!(
                listed
                    .iter()
                    .any(|i| matches!(&i.account, AccountRef::Investment { acct_id, .. } if *acct_id == invest_id))
            );

            let items = vec![
                Item::BankStatement(BankStatementRequest {
                    bank_id: bank_id.clone(),
                    branch_id: None,
                    acct_id: checking_id.clone(),
                    acct_type: ferry_connector_ofx::AccountType::Checking,
                    dtstart: Some(OfxDate::Date(time::macros::date!(2000 - 01 - 01))),
                    dtend: None,
                }),
                Item::CreditCardStatement(CardStatementRequest {
                    acct_id: card_id.clone(),
                    dtstart: None,
                    dtend: None,
                }),
                Item::InvestmentStatement(InvestmentStatementRequest {
                    broker_id: "mx.com".into(),
                    acct_id: invest_id.clone(),
                    dtstart: None,
                    dtend: None,
                    include_positions: true,
                    include_balance: true,
                }),
            ];
            let r = ofx(&face, version, "alice", "correct horse", items).await;
            let bank = r.bank_statements[0].body.as_ref().expect("a bank statement");
            let posted: Vec<&Transaction> =
                txns.iter().filter(|t| t.account_guid == checking.guid && !t.is_pending).collect();
            let list = &bank.transactions.as_ref().unwrap().transactions;
            assert_eq!(list.len(), posted.len());
            for t in posted {
                let st = list.iter().find(|st| st.fitid == t.guid.as_str()).expect("FITID is the guid");
                assert_eq!(st.amount, signed(t));
                assert_eq!(st.dtposted.to_utc(), ferry_core::face_time(t));
                assert_eq!(
                    st.name.as_deref(),
                    t.description.as_deref().map(|d| d.chars().take(32).collect::<String>()).as_deref()
                );
            }
            if checking.guid == odd.account_guid {
                assert!(list.iter().any(|st| st.fitid == odd.guid.as_str() && st.amount.to_string() == "-0.001"));
            }
            assert_eq!(bank.ledger_balance.as_ref().unwrap().amount, checking.balance.unwrap());
            let card_statement = r.card_statements[0].body.as_ref().expect("a card statement");
            assert_eq!(
                card_statement.ledger_balance.as_ref().unwrap().amount,
                -card.balance.unwrap(),
                "owed is negative"
            );
            let inv = r.investment_statements[0].body.as_ref().expect("an investment statement");
            assert!(!inv.positions.is_empty());
            assert_eq!(r.securities.len(), inv.positions.len());
            assert!(inv.positions.iter().all(|p| r.security(&p.secid).is_some()));
            let _ = invest;

            // A window: only transactions posted within [DTSTART, DTEND).
            let times: Vec<_> = list.iter().map(|st| st.dtposted.to_utc()).collect();
            let (from, to) = (times[times.len() / 4], times[3 * times.len() / 4]);
            let r = ofx(
                &face,
                version,
                "alice",
                "correct horse",
                vec![Item::BankStatement(BankStatementRequest {
                    bank_id: bank_id.clone(),
                    branch_id: None,
                    acct_id: checking_id.clone(),
                    acct_type: ferry_connector_ofx::AccountType::Checking,
                    dtstart: Some(OfxDate::DateTime(from)),
                    dtend: Some(OfxDate::DateTime(to)),
                })],
            )
            .await;
            let windowed = &r.bank_statements[0].body.as_ref().unwrap().transactions.as_ref().unwrap().transactions;
            assert_eq!(windowed.len(), times.iter().filter(|t| **t >= from && **t < to).count());

            // Someone else's account, or a card asked as a bank account: 2003.
            let bob_accounts = stored_accounts(&app, &_bob).await;
            let r = ofx(
                &face,
                version,
                "alice",
                "correct horse",
                vec![
                    Item::CreditCardStatement(CardStatementRequest {
                        acct_id: ferry_api::faces::ofx::acct_id(
                            &bob_accounts.iter().find(|a| a.kind == "CREDIT_CARD").unwrap().guid,
                        ),
                        dtstart: None,
                        dtend: None,
                    }),
                    Item::BankStatement(BankStatementRequest {
                        bank_id: "000000000".into(),
                        branch_id: None,
                        acct_id: card_id.clone(),
                        acct_type: ferry_connector_ofx::AccountType::Checking,
                        dtstart: None,
                        dtend: None,
                    }),
                ],
            )
            .await;
            assert_eq!(r.card_statements[0].status.code, 2003);
            assert!(r.card_statements[0].body.is_none());
            assert_eq!(r.bank_statements[0].status.code, 2003);
        }

        // Profiles are public (anonymous sign-on), and name this server's URL.
        let r = ofx(
            &face,
            102,
            "anonymous00000000000000000000000",
            "anonymous00000000000000000000000",
            vec![Item::Profile { dtprofup: OfxDate::Date(time::macros::date!(1990 - 01 - 01)) }],
        )
        .await;
        assert_eq!(r.signon.status.code, 0);
        let profile = r.profile.unwrap().body.unwrap();
        assert!(profile.address.is_some(), "a server's profile carries its address");
        assert!(profile.message_sets.iter().all(|m| m.realm.as_deref() == Some("FERRY")));
        assert!(
            profile
                .message_sets
                .iter()
                .any(|m| m.name == "BANKMSGSET" && m.url.as_deref() == Some(&*format!("{}/ofx", app.public_url)))
        );
        // ... but an anonymous sign-on reads nothing else.
        let r = ofx(&face, 102, "anonymous00000000000000000000000", "x", vec![Item::account_info()]).await;
        assert_eq!(r.signon.status.code, 15500);
        assert!(r.account_info.is_none());
    })
    .await;
}

#[tokio::test]
async fn ofx_sign_on_refuses_wrong_passwords_and_locks_after_five() {
    each_backend(|app| async move {
        let face = faces_router(&app);
        let user = app.user(None).await;
        // A user without a partner id gets a short login of its own.
        let login = app
            .service
            .set_ofx_password(&app.client, &UserRef::Guid(user.parse().unwrap()), "first password")
            .await
            .unwrap();
        assert!(login.starts_with("ferry-") && login.len() <= 32, "{login}");
        assert!(
            app.service.set_ofx_password(&app.client, &UserRef::Guid(user.parse().unwrap()), "short").await.is_err()
        );
        // Changing the password keeps the login.
        let again = app
            .service
            .set_ofx_password(&app.client, &UserRef::Guid(user.parse().unwrap()), "right password")
            .await
            .unwrap();
        assert_eq!(again, login);

        let ok = ofx(&face, 102, &login, "right password", vec![Item::account_info()]).await;
        assert_eq!(ok.signon.status.code, 0);
        assert!(ok.accounts().is_empty());
        let r = ofx(&face, 220, "nobody", "right password", vec![Item::account_info()]).await;
        assert_eq!(r.signon.status.code, 15500, "unknown user");
        assert!(r.account_info.is_none());
        for i in 0..4 {
            let r = ofx(&face, 102, &login, "first password", vec![Item::account_info()]).await;
            assert_eq!(r.signon.status.code, 15500, "wrong password {i}");
        }
        // A right one in between starts the count over.
        assert_eq!(ofx(&face, 102, &login, "right password", vec![Item::account_info()]).await.signon.status.code, 0);
        for _ in 0..4 {
            assert_eq!(
                ofx(&face, 102, &login, "nope nope", vec![Item::account_info()]).await.signon.status.code,
                15500
            );
        }
        let fifth = ofx(&face, 102, &login, "nope nope", vec![Item::account_info()]).await;
        assert_eq!(fifth.signon.status.code, 15502, "the fifth wrong password in a row locks");
        let locked = ofx(&face, 220, &login, "right password", vec![Item::account_info()]).await;
        assert_eq!(locked.signon.status.code, 15502, "locked even with the right password");
        // The lock ends by itself, or with a new password.
        app.clock.advance(ferry_core::OFX_LOCK_FOR + time::Duration::seconds(1));
        // After the lock, the count starts over: one mistake is not another lock.
        assert_eq!(ofx(&face, 102, &login, "nope nope", vec![Item::account_info()]).await.signon.status.code, 15500);
        assert_eq!(ofx(&face, 102, &login, "right password", vec![Item::account_info()]).await.signon.status.code, 0);
        // Guesses sent at once cannot outrun the lock: each is counted before it is checked.
        let guesses = (0..10).map(|_| ofx(&face, 102, &login, "parallel guess", vec![Item::account_info()]));
        let codes: Vec<u32> = futures::future::join_all(guesses).await.iter().map(|r| r.signon.status.code).collect();
        assert_eq!(codes.iter().filter(|c| **c == 15500).count(), 4, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == 15502).count(), 6, "{codes:?}");
        app.clock.advance(ferry_core::OFX_LOCK_FOR + time::Duration::seconds(1));
        assert_eq!(ofx(&face, 102, &login, "right password", vec![Item::account_info()]).await.signon.status.code, 0);
        for _ in 0..5 {
            ofx(&face, 102, &login, "nope nope", vec![Item::account_info()]).await;
        }
        app.service
            .set_ofx_password(&app.client, &UserRef::Guid(user.parse().unwrap()), "brand new one")
            .await
            .unwrap();
        assert_eq!(ofx(&face, 102, &login, "brand new one", vec![Item::account_info()]).await.signon.status.code, 0);

        // Not OFX: 415 for another media type, 400 for a body that is not OFX.
        let (status, _, _) =
            send(&face, Method::POST, "/ofx", &[("content-type", "application/json")], b"{}".to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, _, body) =
            send(&face, Method::POST, "/ofx", &[("content-type", "application/x-ofx")], b"<html>hi</html>".to_vec())
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _, _) = send(&face, Method::GET, "/ofx", &[], Vec::new()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    })
    .await;
}

#[tokio::test]
async fn refused_face_credentials_count_against_the_address() {
    each_backend(|app| async move {
        let limits = ferry_api::limits::Limits { failed_auth_per_minute: 3, ..Default::default() };
        let options = ferry_api::Options { limits, faces: Faces { simplefin: true, ofx: true }, ..Default::default() };
        let face = ferry_api::router_with_options(app.service.clone(), options);
        let user = app.user(Some("carol")).await;
        let _ = user;
        app.service.set_ofx_password(&app.client, &UserRef::Id("carol".into()), "right password").await.unwrap();
        let token = app.service.issue_simplefin_token(&app.client, &UserRef::Id("carol".into())).await.unwrap();
        let (_, creds) = claim(&app, &face, &token.setup_token).await;
        let creds = creds.unwrap();
        let from = |ip: &str, mut req: Request<Body>| {
            let addr: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
            req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
            let face = face.clone();
            async move { face.oneshot(req).await.unwrap().status() }
        };
        let accounts = |auth: String| {
            Request::builder().uri("/simplefin/accounts").header("authorization", auth).body(Body::empty()).unwrap()
        };
        let mut n = 0;
        let wrong_ofx = {
            let request = ferry_connector_ofx::Request::new(
                102,
                signon("carol", "wrong password"),
                vec![Item::account_info()],
                || {
                    n += 1;
                    format!("T{n}")
                },
            );
            write(&request.to_ofx(), Style { closed_leaves: false, pretty: false })
        };
        let ofx_req = |body: Vec<u8>| {
            Request::builder()
                .method(Method::POST)
                .uri("/ofx")
                .header("content-type", "application/x-ofx")
                .body(Body::from(body))
                .unwrap()
        };
        let attacker = "192.0.2.7";
        assert_eq!(from(attacker, accounts(basic(&creds.0, "wrong"))).await, StatusCode::FORBIDDEN);
        let claim_req =
            Request::builder().method(Method::POST).uri("/simplefin/claim/guessed").body(Body::empty()).unwrap();
        assert_eq!(from(attacker, claim_req).await, StatusCode::FORBIDDEN);
        assert_eq!(from(attacker, ofx_req(wrong_ofx.clone())).await, StatusCode::OK, "15500 in the body");
        // Three refusals: the right credentials are refused too, for the rest of the minute.
        assert_eq!(from(attacker, accounts(basic(&creds.0, &creds.1))).await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(from(attacker, ofx_req(wrong_ofx)).await, StatusCode::TOO_MANY_REQUESTS);
        // Another address is not.
        assert_eq!(from("192.0.2.8", accounts(basic(&creds.0, &creds.1))).await, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_long_history_is_read_whole_across_pages() {
    each_backend(|app| async move {
        let user = connected_user(&app, "dana").await;
        // 4,500 more transactions on one day and the next (many share a date, so the pages'
        // boundaries fall inside a date and the guid decides), more than two export pages.
        let base = stored_transactions(&app, &user).await.into_iter().find(|t| !t.is_pending).unwrap();
        let extra: Vec<Transaction> = (0..4500u128)
            .map(|i| {
                let mut t = base.clone();
                t.guid = ferry_domain::TransactionGuid::from_uuid(uuid::Uuid::from_u128(0xfeed_0000 + i));
                t.external_id = format!("bulk-{i}");
                t.date = base.date + time::Duration::days((i % 2) as i64);
                t
            })
            .collect();
        app.service.db().upsert_transactions(&extra).await.unwrap();
        let stored = stored_transactions(&app, &user).await;
        let q = ferry_core::FaceQuery { pending: true, ..Default::default() };
        let view = app.service.face_view(&app.client.id, &UserGuid::parse(&user).unwrap(), &q).await.unwrap();
        let mut seen: Vec<String> =
            view.accounts.iter().flat_map(|a| a.transactions.iter().map(|t| t.guid.to_string())).collect();
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "no transaction twice");
        assert_eq!(n, stored.len(), "every transaction once");
    })
    .await;
}
