//! OFX members end to end: an institution imported into the catalog, pointed at the fake OFX
//! bank on loopback, with one member per status an OFX bank can cause (MFA answered through
//! the usual resume flow), in v2 and v1 OFX, on both databases.

use axum::http::StatusCode;
use ferry_connector_ofx::fake::FakeOfxBank;
use ferry_core::{Clock, InstitutionImport};
use serde_json::{Value, json};

use crate::support::{TestApp, each_backend};

/// Imports `code` pointing at `bank` in OFX `version`.
async fn import(app: &TestApp, bank: &FakeOfxBank, code: &str, version: u16) {
    let mut config = serde_json::Map::new();
    config.insert("ofx_url".into(), json!(bank.url()));
    config.insert("org".into(), json!("FAKEBANK"));
    config.insert("fid".into(), json!("9999"));
    config.insert("ofx_version".into(), json!(version));
    config.insert("broker_id".into(), json!("fakebroker.example"));
    let item = InstitutionImport {
        code: code.into(),
        name: format!("Fake Bank v{version}"),
        connector: "ofx".into(),
        url: Some("https://fakebank.example".into()),
        config,
        ..Default::default()
    };
    app.service.import_institutions(&[item]).await.unwrap();
}

async fn ofx_member(app: &TestApp, user: &str, code: &str, login: &str, password: &str) -> String {
    let r = app.get(&format!("/institutions/{code}/credentials")).await;
    let fields = r.body["credentials"].as_array().unwrap().clone();
    let creds: Vec<Value> = fields
        .iter()
        .map(|f| json!({"guid": f["guid"], "value": if f["field_name"] == "LOGIN" { login } else { password }}))
        .collect();
    let r = app
        .post(&format!("/users/{user}/members"), json!({"member": {"institution_code": code, "credentials": creds}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    r.body["member"]["guid"].as_str().unwrap().to_owned()
}

async fn member(app: &TestApp, user: &str, member: &str) -> Value {
    let r = app.get(&format!("/users/{user}/members/{member}")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["member"].clone()
}

async fn list(app: &TestApp, path: &str, key: &str) -> Vec<Value> {
    let r = app.get(&format!("{path}?records_per_page=1000")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body[key].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_imported_ofx_bank_connects_checking_and_card_with_their_transactions() {
    each_backend(|app| async move {
        let bank = FakeOfxBank::start(app.clock.now().date(), 0).await.unwrap();
        for (code, version) in [("fake_v2", 220u16), ("fake_v1", 102)] {
            import(&app, &bank, code, version).await;
            let user = app.user(None).await;
            let guid = ofx_member(&app, &user, code, "alice", "s3cret").await;
            assert_eq!(app.work().await, 1);
            let m = member(&app, &user, &guid).await;
            assert_eq!(m["connection_status"], "CONNECTED", "{code}: {m}");

            let accounts = list(&app, &format!("/users/{user}/members/{guid}/accounts"), "accounts").await;
            assert_eq!(accounts.len(), 2, "{accounts:?}");
            let checking = accounts.iter().find(|a| a["type"] == "CHECKING").unwrap();
            assert_eq!(checking["name"], "Everyday Checking");
            assert_eq!(checking["balance"], json!(1234.56));
            assert_eq!(checking["available_balance"], json!(1200.0));
            assert_eq!(checking["account_number"], "XXXXXX0001", "the number is masked");
            let card = accounts.iter().find(|a| a["type"] == "CREDIT_CARD").unwrap();
            assert_eq!(card["balance"], json!(432.1), "what is owed, positive");

            let txns = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
            let names: Vec<&str> = txns.iter().map(|t| t["description"].as_str().unwrap()).collect();
            assert!(names.contains(&"Joe's Diner & Bar"), "entities decoded: {names:?}");
            assert!(names.contains(&"STREAMING SERVICE"), "{names:?}");
            assert!(!names.contains(&"MONTHLY FEE"), "200 days back is outside the 90-day window: {names:?}");
            let diner = txns.iter().find(|t| t["description"] == "Joe's Diner & Bar").unwrap();
            let three_days_ago = (app.clock.now().date() - time::Duration::days(3)).to_string();
            assert_eq!(diner["date"], three_days_ago, "a date-only DTPOSTED keeps its day");
            assert_eq!((diner["amount"].clone(), diner["type"].clone()), (json!(33.43), json!("DEBIT")));
            let payroll = txns.iter().find(|t| t["description"] == "PAYROLL ACME CORP").unwrap();
            assert_eq!(payroll["type"], "CREDIT");

            // Running again changes nothing (FITIDs are the stable ids).
            app.clock.advance(time::Duration::hours(4));
            let r = app.post(&format!("/users/{user}/members/{guid}/aggregate"), json!({})).await;
            assert_eq!(r.status, StatusCode::ACCEPTED);
            assert_eq!(app.work().await, 1);
            let again = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
            assert_eq!(again.len(), txns.len());
        }
        // One CLIENTUID per member, never sent below 1.0.3; Quicken's APPID by default.
        let seen = bank.seen();
        assert!(seen.iter().filter(|s| s.version == 220).all(|s| s.client_uid.is_some()));
        assert!(seen.iter().filter(|s| s.version == 102).all(|s| s.client_uid.is_none()));
        assert!(seen.iter().all(|s| s.app_id == "QWIN" && s.app_ver == "2700"));
    })
    .await;
}

#[tokio::test]
async fn every_ofx_outcome_maps_to_its_status_and_mfa_resumes() {
    each_backend(|app| async move {
        let bank = FakeOfxBank::start(app.clock.now().date(), 0).await.unwrap();
        import(&app, &bank, "fake_bank", 220).await;
        let user = app.user(None).await;
        let cases = [
            ("alice", "wrong", "DENIED", "Direct Connect"),
            ("nobody", "s3cret", "DENIED", "Direct Connect"),
            ("locked", "s3cret", "LOCKED", "locked"),
            ("pinchange", "s3cret", "IMPEDED", "new password"),
            ("newclient", "s3cret", "IMPEDED", "Authorize this client at your bank"),
            ("closed", "s3cret", "CLOSED", "closed"),
            ("mfa", "s3cret", "CHALLENGED", ""),
            ("token", "s3cret", "CHALLENGED", ""),
            ("automfa", "s3cret", "CONNECTED", ""),
        ];
        let mut members = Vec::new();
        for (login, password, ..) in cases {
            members.push(ofx_member(&app, &user, "fake_bank", login, password).await);
        }
        app.work().await;
        for ((login, _, status, words), guid) in cases.iter().zip(&members) {
            let m = member(&app, &user, guid).await;
            assert_eq!(m["connection_status"], *status, "{login}: {m}");
            let message = m["connection_status_message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{login}: {message}");
        }
        let newclient = &members[4];
        let m = member(&app, &user, newclient).await;
        assert!(m["connection_status_message"].as_str().unwrap().contains("code 123456"), "the bank's own words: {m}");

        // AUTHTOKEN: a one-time code asked as a text challenge.
        let token = &members[7];
        let r = app.get(&format!("/users/{user}/members/{token}/challenges")).await;
        let guid = r.body["challenges"][0]["guid"].clone();
        let code = json!({"member": {"challenges": [{"guid": guid, "value": "424242"}]}});
        assert_eq!(app.put(&format!("/users/{user}/members/{token}/resume"), code).await.status, StatusCode::ACCEPTED);
        app.work().await;
        assert_eq!(member(&app, &user, token).await["connection_status"], "CONNECTED");

        // MFA: the bank's question, answered through the usual resume flow.
        let mfa = &members[6];
        let r = app.get(&format!("/users/{user}/members/{mfa}/challenges")).await;
        let challenges = r.body["challenges"].as_array().unwrap().clone();
        assert_eq!(challenges.len(), 1, "the automatic MFA101 is answered by Ferry: {r:?}");
        assert_eq!(challenges[0]["label"], "What was your first pet's name?");
        let wrong = json!({"member": {"challenges": [{"guid": challenges[0]["guid"], "value": "fido"}]}});
        assert_eq!(app.put(&format!("/users/{user}/members/{mfa}/resume"), wrong).await.status, StatusCode::ACCEPTED);
        app.work().await;
        assert_eq!(member(&app, &user, mfa).await["connection_status"], "REJECTED");
        app.clock.advance(time::Duration::hours(4));
        let r = app.post(&format!("/users/{user}/members/{mfa}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        app.work().await;
        let r = app.get(&format!("/users/{user}/members/{mfa}/challenges")).await;
        let guid = r.body["challenges"][0]["guid"].clone();
        let right = json!({"member": {"challenges": [{"guid": guid, "value": "Rex"}]}});
        assert_eq!(app.put(&format!("/users/{user}/members/{mfa}/resume"), right).await.status, StatusCode::ACCEPTED);
        app.work().await;
        assert_eq!(member(&app, &user, mfa).await["connection_status"], "CONNECTED");
        assert_eq!(list(&app, &format!("/users/{user}/members/{mfa}/accounts"), "accounts").await.len(), 2);

        // 15510: once the user approves the client at the bank, the same CLIENTUID works.
        bank.approve();
        app.clock.advance(time::Duration::hours(4));
        assert_eq!(
            app.post(&format!("/users/{user}/members/{newclient}/aggregate"), json!({})).await.status,
            StatusCode::ACCEPTED
        );
        app.work().await;
        assert_eq!(member(&app, &user, newclient).await["connection_status"], "CONNECTED");
    })
    .await;
}

#[tokio::test]
async fn investment_accounts_bring_positions_as_holdings() {
    each_backend(|app| async move {
        let bank = FakeOfxBank::start(app.clock.now().date(), 0).await.unwrap();
        import(&app, &bank, "fake_broker", 220).await;
        let user = app.user(None).await;
        let guid = ofx_member(&app, &user, "fake_broker", "investor", "s3cret").await;
        app.work().await;
        assert_eq!(member(&app, &user, &guid).await["connection_status"], "CONNECTED");
        let accounts = list(&app, &format!("/users/{user}/members/{guid}/accounts"), "accounts").await;
        let brokerage = accounts.iter().find(|a| a["type"] == "INVESTMENT").unwrap();
        assert_eq!(brokerage["balance"], json!(3125.0), "positions plus cash");
        let holdings =
            list(&app, &format!("/users/{user}/members/{guid}/investment_holdings"), "investment_holdings").await;
        assert_eq!(holdings.len(), 1, "{holdings:?}");
        assert_eq!(holdings[0]["symbol"], "VTI");
        assert_eq!(holdings[0]["quantity"], "10.5");
        let txns = list(&app, &format!("/users/{user}/members/{guid}/transactions"), "transactions").await;
        assert!(txns.iter().any(|t| t["description"].as_str().unwrap_or_default().contains("Vanguard")), "{txns:?}");
    })
    .await;
}

#[tokio::test]
async fn a_server_that_refuses_the_version_is_asked_in_an_older_one_and_profiles_are_read_once() {
    each_backend(|app| async move {
        let bank = FakeOfxBank::start(app.clock.now().date(), 0).await.unwrap();
        let mut config = serde_json::Map::new();
        config.insert("ofx_url".into(), json!(bank.url()));
        config.insert("org".into(), json!("FAKEV1"));
        config.insert("fid".into(), json!("9999"));
        config.insert("profile".into(), json!(true));
        let item = InstitutionImport {
            code: "fake_v1_only".into(),
            name: "Fake Bank (OFX 1.x only)".into(),
            connector: "ofx".into(),
            config,
            ..Default::default()
        };
        app.service.import_institutions(&[item]).await.unwrap();
        let user = app.user(None).await;
        let guid = ofx_member(&app, &user, "fake_v1_only", "alice", "s3cret").await;
        app.work().await;
        assert_eq!(member(&app, &user, &guid).await["connection_status"], "CONNECTED");
        let seen = bank.seen();
        assert!(seen[0].user_id.starts_with("anonymous"), "the profile first: {seen:?}");
        let versions: Vec<u16> = seen.iter().filter(|s| s.user_id == "alice").map(|s| s.version).collect();
        assert_eq!(versions, [220, 103, 103], "refused in 2.2, then 1.0.3 for sign-on and statements");

        app.clock.advance(time::Duration::hours(4));
        app.post(&format!("/users/{user}/members/{guid}/aggregate"), json!({})).await;
        app.work().await;
        let seen = bank.seen();
        assert_eq!(seen.iter().filter(|s| s.user_id.starts_with("anonymous")).count(), 1, "the profile is read once");
        assert!(seen.iter().rev().take(2).all(|s| s.version == 103), "the fallback is remembered: {seen:?}");
    })
    .await;
}
