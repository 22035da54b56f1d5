//! `/institutions`.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use expect_test::expect;
use ferry_core::InstitutionImport;
use serde_json::json;

use crate::support::{LOGIN, PASSWORD, each_backend};

#[tokio::test]
async fn lists_searches_and_reads_the_catalog() {
    each_backend(|app| async move {
        let r = app.get("/institutions").await;
        assert_eq!(r.status, StatusCode::OK);
        let codes: Vec<_> = r.body["institutions"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["mxbank", "mx_bank_oauth", "simplefin"]);

        let r = app.get("/institutions?name=oauth").await;
        assert_eq!(r.body["institutions"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["institutions"][0]["code"], "mx_bank_oauth");
        assert_eq!(app.get("/institutions?name=MX%20bank").await.body["pagination"]["total_entries"], 2);
        assert_eq!(app.get("/institutions?name=nowhere").await.body["pagination"]["total_entries"], 0);
        assert_eq!(app.get("/institutions?name=%25").await.body["pagination"]["total_entries"], 0, "LIKE wildcards are literal");
        assert_eq!(app.get("/institutions?supports_account_verification=true").await.body["pagination"]["total_entries"], 2);
        assert_eq!(app.get("/institutions?iso_country_code=CA").await.body["pagination"]["total_entries"], 0);
        assert_eq!(app.get("/institutions?records_per_page=101").await.body["pagination"]["per_page"], 25);
        assert_eq!(app.get("/institutions?records_per_page=1&page=2").await.body["institutions"][0]["code"], "mx_bank_oauth");
        let r = app.get_v2025("/institutions?supported_products=account_verification&supported_products=history").await;
        assert_eq!(r.body["pagination"]["total_entries"], 2, "{r:?}");
        assert_eq!(app.get_v2025("/institutions?supported_products=bogus").await.status, StatusCode::BAD_REQUEST);

        let r = app.get("/institutions/mxbank").await;
        expect![[r#"{"institution":{"code":"mxbank","forgot_password_url":"https://www.mx.com/forgot_password","forgot_username_url":"https://www.mx.com/forgot_username","instructional_text":"Ferry's sandbox bank. Use the username <b>mxuser</b>; the password chooses the outcome.","instructional_text_steps":["Enter the username mxuser.","Enter any password, or a test password from the README for another outcome."],"is_disabled_by_client":false,"iso_country_code":"US","medium_logo_url":"https://content.moneydesktop.com/storage/MD_Assets/Ipad%20Logos/100x100/INS-1572a04c-912b-59bf-5841-332c7dfafaef_100x100.png","name":"MX Bank","small_logo_url":"https://content.moneydesktop.com/storage/MD_Assets/Ipad%20Logos/50x50/INS-1572a04c-912b-59bf-5841-332c7dfafaef_50x50.png","supports_account_identification":true,"supports_account_statement":true,"supports_account_verification":true,"supports_oauth":false,"supports_tax_document":true,"supports_transaction_history":true,"trouble_signing_in_url":"https://www.mx.com/trouble_signing_in","url":"https://www.mx.com"}}"#]]
            .assert_eq(&r.body.to_string());
        let r = app.get_v2025("/institutions/mx_bank_oauth").await;
        assert_eq!(r.body["institution"]["guid"], "INS-68e96dd6-eabd-42d3-9f05-416897f0746c");
        assert_eq!(r.body["institution"]["supports_oauth"], true);
        assert!(r.body["institution"]["supported_products"].as_array().unwrap().contains(&"transactions".into()));
        assert_eq!(app.get("/institutions/nope").await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn credentials_by_code_and_v2025_guid() {
    each_backend(|app| async move {
        let r = app.get("/institutions/mxbank/credentials").await;
        assert_eq!(r.status, StatusCode::OK);
        let creds = r.body["credentials"].as_array().unwrap();
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0]["guid"], LOGIN);
        assert_eq!(creds[0]["field_name"], "LOGIN");
        assert_eq!(creds[1]["guid"], PASSWORD);
        assert_eq!(creds[1]["field_name"], "PASSWORD");
        let r = app.get_v2025("/institutions/INS-1572a04c-912b-59bf-5841-332c7dfafaef/credentials").await;
        assert_eq!(r.body["credentials"].as_array().unwrap().len(), 2);
        assert_eq!(app.get("/institutions/nope/credentials").await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn favorites_default_to_the_catalog_and_follow_the_client_choice() {
    each_backend(|app| async move {
        assert_eq!(app.get("/institutions/favorites").await.body["pagination"]["total_entries"], 3);
        app.service.set_favorite_institutions(&app.client, &["mx_bank_oauth".to_owned()]).await.unwrap();
        let r = app.get("/institutions/favorites").await;
        assert_eq!(r.body["pagination"]["total_entries"], 1);
        assert_eq!(r.body["institutions"][0]["code"], "mx_bank_oauth");
    })
    .await;
}

#[tokio::test]
async fn simplefin_ships_with_one_password_field_for_the_setup_token() {
    each_backend(|app| async move {
        let r = app.get("/institutions/simplefin").await;
        assert_eq!(r.body["institution"]["name"], "SimpleFIN Bridge");
        assert_eq!(r.body["institution"]["supports_account_verification"], false);
        let r = app.get("/institutions/simplefin/credentials").await;
        let creds = r.body["credentials"].as_array().unwrap();
        assert_eq!(creds.len(), 1, "{r:?}");
        assert_eq!(creds[0]["label"], "SimpleFIN Setup Token");
        assert_eq!(creds[0]["field_type"], "PASSWORD");
    })
    .await;
}

fn import(code: &str, name: &str, connector: &str) -> InstitutionImport {
    InstitutionImport {
        code: code.into(),
        name: name.into(),
        connector: connector.into(),
        url: Some("https://sfin.example.org".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn imported_institutions_are_found_in_every_dialect_and_can_be_removed() {
    each_backend(|app| async move {
        let done = app.service.import_institutions(&[import("home_sfin", "Home SimpleFIN Server", "simplefin")]).await.unwrap();
        assert!(done[0].created);
        // Again: an update in place, same guid.
        let mut renamed = import("home_sfin", "Household SimpleFIN Server", "simplefin");
        renamed.instructions = Some("Paste a token from your own server.".into());
        let again = app.service.import_institutions(&[renamed]).await.unwrap();
        assert_eq!((again[0].guid.clone(), again[0].created), (done[0].guid.clone(), false));

        let r = app.get("/institutions?name=household").await;
        assert_eq!(r.body["institutions"][0]["code"], "home_sfin", "{r:?}");
        assert_eq!(r.body["institutions"][0]["instructional_text"], "Paste a token from your own server.");
        let r = app.get_v2025("/institutions?name=household").await;
        assert_eq!(r.body["institutions"][0]["guid"], done[0].guid.as_str(), "{r:?}");
        let r = app.get("/institutions/home_sfin/credentials").await;
        assert_eq!(r.body["credentials"][0]["field_name"], "setup_token", "{r:?}");
        let (id, key) = app.atrium.clone();
        let atrium = "application/vnd.mx.atrium.v1+json";
        let r = app
            .raw(Method::GET, "/institutions?name=household", Body::empty(), &[("mx-client-id", &id), ("mx-api-key", &key), ("accept", atrium)])
            .await;
        assert_eq!(r.body["institutions"][0]["code"], "home_sfin", "{r:?}");
        let user = app.user(None).await;
        let session = crate::nexus::session_for(&app, &user).await;
        let r = crate::nexus::nexus(&app, &session, Method::GET, "/institutions?name=household", None).await;
        assert!(r.body.to_string().contains("home_sfin"), "{r:?}");

        // Bad input says what is wrong.
        let err = |i: InstitutionImport| {
            let service = app.service.clone();
            async move { service.import_institutions(&[i]).await.unwrap_err().to_string() }
        };
        assert!(err(import("mxbank", "X", "simplefin")).await.contains("built into Ferry"));
        assert!(err(import("Bad Code", "X", "simplefin")).await.contains("a-z"));
        assert!(err(import("x", "X", "fints")).await.contains("unknown connector `fints`"));
        assert!(err(import("x", "X", "sandbox")).await.contains("cannot be imported"));
        let mut bad_url = import("x", "X", "simplefin");
        bad_url.url = Some("javascript:alert(1)".into());
        assert!(err(bad_url).await.contains("`url`"));
        let mut settings = import("x", "X", "simplefin");
        settings.config.insert("ofx_url".into(), json!("https://x"));
        assert!(err(settings).await.contains("takes no settings"));

        // Removal: refused while a member uses it, then done.
        let body = json!({"member": {"institution_code": "home_sfin", "credentials": [{"guid": r_cred(&app).await, "value": "token"}]}});
        let m = app.post(&format!("/users/{user}/members"), body).await;
        assert_eq!(m.status, StatusCode::ACCEPTED, "{m:?}");
        let e = app.service.remove_institution("home_sfin").await.unwrap_err().to_string();
        assert!(e.contains("1 member"), "{e}");
        let member = m.body["member"]["guid"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/users/{user}/members/{member}")).await.status, StatusCode::NO_CONTENT);
        app.service.remove_institution("home_sfin").await.unwrap();
        assert_eq!(app.get("/institutions/home_sfin").await.status, StatusCode::NOT_FOUND);
        assert!(app.service.remove_institution("simplefin").await.unwrap_err().to_string().contains("built into"));
    })
    .await;
}

async fn r_cred(app: &crate::support::TestApp) -> String {
    app.get("/institutions/home_sfin/credentials").await.body["credentials"][0]["guid"].as_str().unwrap().to_owned()
}
