//! `/institutions`.

use axum::http::StatusCode;
use expect_test::expect;

use crate::support::{LOGIN, PASSWORD, each_backend};

#[tokio::test]
async fn lists_searches_and_reads_the_catalog() {
    each_backend(|app| async move {
        let r = app.get("/institutions").await;
        assert_eq!(r.status, StatusCode::OK);
        let codes: Vec<_> = r.body["institutions"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["mxbank", "mx_bank_oauth"]);

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
        assert_eq!(app.get("/institutions/favorites").await.body["pagination"]["total_entries"], 2);
        app.service.set_favorite_institutions(&app.client, &["mx_bank_oauth".to_owned()]).await.unwrap();
        let r = app.get("/institutions/favorites").await;
        assert_eq!(r.body["pagination"]["total_entries"], 1);
        assert_eq!(r.body["institutions"][0]["code"], "mx_bank_oauth");
    })
    .await;
}
