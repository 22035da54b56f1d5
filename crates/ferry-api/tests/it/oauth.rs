//! OAuth members end to end, with an HTTP client standing in for the end user's browser: the
//! window URI, the sandbox bank's Authorize and Deny buttons, the callback, the tokens.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, each_backend};

const OAUTH_BANK: &str = "mx_bank_oauth";

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn oauth_member(app: &TestApp, user: &str, extra: Value) -> Value {
    let mut member = json!({ "institution_code": OAUTH_BANK, "is_oauth": true });
    for (k, v) in extra.as_object().unwrap() {
        member[k] = v.clone();
    }
    let r = app.post(&format!("/users/{user}/members"), json!({ "member": member })).await;
    assert!(r.status.is_success(), "{r:?}");
    r.body["member"].clone()
}

/// The hidden fields of the sandbox bank's authorization form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|chunk| {
            let name = chunk.split("name=\"").nth(1).unwrap().split('"').next().unwrap();
            let value = chunk.split("value=\"").nth(1).unwrap().split('"').next().unwrap();
            (name.to_owned(), value.replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'"))
        })
        .collect()
}

/// Follows a window URI to the bank's page and presses `decision`; returns the last response
/// (the callback's page, or its redirect for apps).
pub(crate) async fn press(app: &TestApp, window_uri: &str, decision: &str) -> reqwest::Response {
    let b = browser();
    let r = b.get(window_uri).send().await.unwrap();
    assert_eq!(r.status(), 302, "window URI");
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(&format!("{}/oauth/sandbox/authorize?", app.public_url)), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("state="));
    let page = b.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(">Authorize</button>") && html.contains(">Deny</button>"), "{html}");
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), decision.into()));
    let r = b.post(format!("{}/oauth/sandbox/authorize", app.public_url)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/oauth/callback?", app.public_url)), "{callback}");
    b.get(&callback).send().await.unwrap()
}

async fn member_status(app: &TestApp, user: &str, member: &str) -> Value {
    app.get(&format!("/users/{user}/members/{member}/status")).await.body["member"].clone()
}

#[tokio::test]
async fn authorize_connects_the_member_and_aggregates() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let m = oauth_member(&app, &user, json!({})).await;
        let member = m["guid"].as_str().unwrap().to_owned();
        assert_eq!(m["connection_status"], "PENDING");
        let uri = m["oauth_window_uri"].as_str().unwrap().to_owned();
        assert!(uri.starts_with(&format!("{}/oauth/start/", app.public_url)), "{uri}");
        // Nothing runs before OAuth completes; aggregating a PENDING member is refused.
        assert_eq!(app.work().await, 0);
        assert_eq!(
            app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await.status,
            StatusCode::BAD_REQUEST
        );

        let done = press(&app, &uri, "authorize").await;
        assert_eq!(done.status(), 200);
        let html = done.text().await.unwrap();
        assert!(html.contains("mx/client/oauthComplete") && html.contains("\"status\":\"success\""), "{html}");
        assert!(html.contains(&member));
        let s = member_status(&app, &user, &member).await;
        assert_eq!(s["connection_status"], "CONNECTED", "{s}");
        assert_eq!(s["is_being_aggregated"], true);
        assert_eq!(app.work().await, 1);
        let s = member_status(&app, &user, &member).await;
        assert_eq!(s["connection_status"], "CONNECTED");
        assert_eq!(s["is_being_aggregated"], false);
        let accounts = app.get(&format!("/users/{user}/members/{member}/accounts")).await;
        assert_eq!(accounts.body["accounts"].as_array().unwrap().len(), 6);

        // The window URI worked once.
        let again = browser().get(&uri).send().await.unwrap();
        assert_eq!(again.status(), 410);
        assert!(again.text().await.unwrap().contains("expired or was already used"));

        // Two hours on, the access token has expired: the next job refreshes it first.
        app.clock.advance(time::Duration::hours(2));
        let r = app.post(&format!("/users/{user}/members/{member}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert_eq!(app.work().await, 1);
        assert_eq!(member_status(&app, &user, &member).await["connection_status"], "CONNECTED");

        // The tokens are sealed: nothing of them is in the member's JSON.
        let body = app.get(&format!("/users/{user}/members/{member}")).await.body.to_string();
        assert!(!body.contains("sbx-at-") && !body.contains("sbx-rt-"));
    })
    .await;
}

#[tokio::test]
async fn deny_expiry_and_replays() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let m = oauth_member(&app, &user, json!({})).await;
        let member = m["guid"].as_str().unwrap().to_owned();
        let done = press(&app, m["oauth_window_uri"].as_str().unwrap(), "deny").await;
        assert_eq!(done.status(), 200);
        let html = done.text().await.unwrap();
        assert!(html.contains("\"error_reason\":\"DENIED\""), "{html}");
        assert_eq!(member_status(&app, &user, &member).await["connection_status"], "DENIED");
        assert_eq!(app.work().await, 0);

        // A fresh URI for the same member; one left for eleven minutes has expired.
        let fresh = app.get(&format!("/users/{user}/members/{member}/oauth_window_uri")).await;
        assert_eq!(fresh.status, StatusCode::OK, "{fresh:?}");
        assert_eq!(fresh.body["member"]["guid"], member.as_str());
        let uri = fresh.body["member"]["oauth_window_uri"].as_str().unwrap().to_owned();
        assert_ne!(uri, m["oauth_window_uri"].as_str().unwrap());
        app.clock.advance(time::Duration::minutes(11));
        assert_eq!(browser().get(&uri).send().await.unwrap().status(), 410);

        // A callback with an unknown state, or replayed, is an error page; the member is unchanged.
        let r = browser().get(format!("{}/oauth/callback?state=forged&code=x", app.public_url)).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let uri = app.get(&format!("/users/{user}/members/{member}/oauth_window_uri")).await.body["member"]["oauth_window_uri"]
            .as_str()
            .unwrap()
            .to_owned();
        let b = browser();
        let authorize = b.get(&uri).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
        let html = b.get(&authorize).send().await.unwrap().text().await.unwrap();
        let mut form = hidden_fields(&html);
        form.push(("decision".into(), "authorize".into()));
        let r = b.post(format!("{}/oauth/sandbox/authorize", app.public_url)).form(&form).send().await.unwrap();
        let callback = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(b.get(&callback).send().await.unwrap().status(), 200);
        assert_eq!(member_status(&app, &user, &member).await["connection_status"], "CONNECTED");
        let replay = b.get(&callback).send().await.unwrap();
        assert_eq!(replay.status(), 400);

        // The sandbox token endpoint refuses a code twice, and a wrong verifier.
        let code = callback.split("code=").nth(1).unwrap().split('&').next().unwrap();
        let r = b
            .post(format!("{}/oauth/sandbox/token", app.public_url))
            .form(&[("grant_type", "authorization_code"), ("code", code), ("client_id", "ferry-sandbox"), ("code_verifier", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    })
    .await;
}

#[tokio::test]
async fn apps_are_sent_back_to_their_redirect_url() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let m = oauth_member(
            &app,
            &user,
            json!({ "referral_source": "APP", "client_redirect_url": "https://app.example.com/done?x=1", "skip_aggregation": true }),
        )
        .await;
        let member = m["guid"].as_str().unwrap().to_owned();
        let done = press(&app, m["oauth_window_uri"].as_str().unwrap(), "authorize").await;
        assert_eq!(done.status(), 302);
        let to = done.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("https://app.example.com/done?x=1&status=success&member_guid="), "{to}");
        assert!(to.ends_with(&member));
        let s = member_status(&app, &user, &member).await;
        assert_eq!(s["connection_status"], "CONNECTED");
        assert_eq!(s["is_being_aggregated"], false, "skip_aggregation: no job");
        assert_eq!(app.work().await, 0);

        // A scheme instead of a URL.
        let r = app
            .get(&format!(
                "/users/{user}/members/{member}/oauth_window_uri?referral_source=APP&ui_message_webview_url_scheme=myapp"
            ))
            .await;
        let done = press(&app, r.body["member"]["oauth_window_uri"].as_str().unwrap(), "deny").await;
        let to = done.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("myapp://oauth_complete?status=error&member_guid="), "{to}");
        assert!(to.contains("error_reason=DENIED"));

        // Bad input.
        let r = app.post(&format!("/users/{user}/members"), json!({ "member": { "institution_code": "mxbank", "is_oauth": true } })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        let plain = app.member(&user, "password", json!({ "skip_aggregation": true })).await.body["member"]["guid"].as_str().unwrap().to_owned();
        let r = app.get(&format!("/users/{user}/members/{plain}/oauth_window_uri")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        let r = app.get(&format!("/users/{user}/members/{member}/oauth_window_uri?referral_source=TV")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        let r = app.get(&format!("/users/{user}/members/{member}/oauth_window_uri?referral_source=APP&client_redirect_url=not-a-url")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn a_real_provider_is_configuration_not_code() {
    each_backend(|app| async move {
        let config = ferry_core::ProviderConfig {
            authorize_url: "https://bank.example.com/oauth/authorize".into(),
            token_url: "https://bank.example.com/oauth/token".into(),
            client_id: "app-123".into(),
            client_secret: Some(ferry_domain::Secret::new("s3cret")),
            scopes: "accounts:read".into(),
        };
        app.service.configure_oauth_provider("mxbank", config.clone()).await.unwrap();
        let bad = ferry_core::ProviderConfig { token_url: "ftp://x".into(), ..config };
        assert!(app.service.configure_oauth_provider("mxbank", bad).await.is_err());
        let r = app.get("/institutions/mxbank").await;
        assert_eq!(r.body["institution"]["supports_oauth"], true, "{r:?}");
        let user = app.user(None).await;
        let m = oauth_member(&app, &user, json!({})).await;
        assert_eq!(m["institution_code"], OAUTH_BANK);
        let r = app
            .post(
                &format!("/users/{user}/members"),
                json!({ "member": { "institution_code": "mxbank", "is_oauth": true } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let uri = r.body["member"]["oauth_window_uri"].as_str().unwrap();
        let to = browser().get(uri).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
        let url = url::Url::parse(&to).unwrap();
        assert_eq!(url.host_str(), Some("bank.example.com"));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "app-123");
        assert_eq!(q["redirect_uri"], format!("{}/oauth/callback", app.public_url));
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["scope"], "accounts:read");
        assert!(q["state"].len() >= 43);
    })
    .await;
}

#[tokio::test]
async fn states_and_codes_that_cannot_be_ours_are_refused_without_asking_the_database() {
    each_backend(|app| async move {
        // Schemathesis found this on PostgreSQL, which refuses NUL in text: a 500 before.
        for path in
            ["/oauth/callback?state=%00H&code=x", "/oauth/callback?state=%00&error=access_denied", "/oauth/start/a%00b"]
        {
            let r = app.raw(Method::GET, path, Body::empty(), &[]).await;
            assert!(r.status.is_client_error(), "{path}: {r:?}");
        }
        let long = format!("/oauth/start/{}", "a".repeat(300));
        assert!(app.raw(Method::GET, &long, Body::empty(), &[]).await.status.is_client_error());
        let r = app
            .raw(
                Method::POST,
                "/oauth/sandbox/token",
                Body::from(
                    "grant_type=authorization_code&client_id=ferry-sandbox&code=%00x&code_verifier=v&redirect_uri=x",
                ),
                &[("content-type", "application/x-www-form-urlencoded")],
            )
            .await;
        assert!(r.status.is_client_error(), "{r:?}");
    })
    .await;
}
