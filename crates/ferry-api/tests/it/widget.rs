//! The Connect widget's server half on both databases: widget URLs (Platform and Atrium), their
//! options and refusals, one use within 10 minutes, the page and its headers, and the widget's
//! own API: session auth, isolation, members with credentials, MFA, duplicates, verification
//! mode, masked account numbers, the callback payload, and the submission limit.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use ferry_core::{Clock, MemberRef, UserRef};
use ferry_domain::{JobType, MemberGuid, UserGuid};
use serde_json::{Value, json};

use crate::support::{LOGIN, MXBANK, PASSWORD, Reply, TestApp, each_backend};

const MXBANK_GUID: &str = "INS-1572a04c-912b-59bf-5841-332c7dfafaef";

/// Asks for a widget URL; answers the reply.
async fn widget_url(app: &TestApp, user: &str, options: Value, headers: &[(&str, &str)]) -> Reply {
    app.call(Method::POST, &format!("/users/{user}/widget_urls"), Some(json!({ "widget_url": options })), headers).await
}

/// The path of a widget URL (the app's public URL removed).
fn path_of(url: &str, app: &TestApp) -> String {
    url.strip_prefix(&app.public_url).unwrap_or_else(|| panic!("{url} is not on {}", app.public_url)).to_owned()
}

/// Opens a widget URL: the page's status, headers, and its config when it is the widget.
async fn open(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> (Reply, Option<Value>) {
    let r = app.raw(Method::GET, &path_of(url, app), Body::empty(), headers).await;
    let html = r.body.as_str().unwrap_or_default().to_owned();
    let config = html.split_once("id=\"ferry-widget-config\">").and_then(|(_, rest)| rest.split_once("</script>")).map(
        |(json, _)| serde_json::from_str(json).unwrap_or_else(|e| panic!("the page's config is not JSON: {e}: {json}")),
    );
    (r, config)
}

/// A session on a fresh widget URL; answers the page's config.
async fn session(app: &TestApp, user: &str, options: Value) -> Value {
    let r = widget_url(app, user, options, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let (page, config) = open(app, r.body["widget_url"]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    config.expect("the widget page carries its config")
}

/// Calls the widget's API with a session token.
async fn api(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    let body = match body {
        Some(v) => {
            headers.push(("content-type", "application/json"));
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    app.raw(method, &format!("/connect/api/{path}"), body, &headers).await
}

fn token(config: &Value) -> String {
    config["session_token"].as_str().expect("session token").to_owned()
}

/// Creates an MX Bank member through the widget's API with `mxuser` and `password`.
async fn connect(app: &TestApp, token: &str, password: &str) -> Reply {
    let body = json!({ "institution_guid": MXBANK_GUID, "credentials": credentials(password) });
    api(app, token, Method::POST, "members", Some(body)).await
}

fn credentials(password: &str) -> Value {
    json!([{ "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": password }])
}

#[tokio::test]
async fn a_widget_url_opens_once_within_ten_minutes() {
    each_backend(|app| async move {
        let user = app.user(Some("widget-once")).await;
        let r = widget_url(&app, &user, json!({ "widget_type": "connect_widget" }), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["widget_url"]["type"], "connect_widget");
        assert_eq!(r.body["widget_url"]["user_id"], "widget-once");
        let url = r.body["widget_url"]["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("{}/connect/", app.public_url)), "{url}");

        let (page, config) = open(&app, &url, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(!csp.contains("frame-ancestors"), "any page may embed it by default: {csp}");
        assert_eq!(page.headers["cache-control"], "no-store");
        assert_eq!(page.headers["referrer-policy"], "no-referrer");
        assert!(page.headers.get("x-frame-options").is_none());
        let config = config.unwrap();
        assert_eq!(config["user_guid"], user.as_str());
        assert!(config["session_guid"].as_str().unwrap().starts_with("WSN-"));
        assert_eq!(config["mode"], "aggregation");
        assert_eq!(config["locale"], "en");
        assert_eq!(config["color_scheme"], "light");
        assert_eq!(config["is_mobile_webview"], false);
        assert_eq!(config["ui_message_webview_url_scheme"], "mx");
        assert_eq!(config["oauth_referral_source"], "BROWSER");
        assert!(config["strings"].is_object());

        // The second use, and an unknown token, get the expired-link page.
        let (again, config) = open(&app, &url, &[]).await;
        assert_eq!(again.status, StatusCode::GONE);
        assert!(config.is_none());
        assert!(again.body.as_str().unwrap().contains("<h1>"));
        let unknown = app.raw(Method::GET, "/connect/nope", Body::empty(), &[]).await;
        assert_eq!(unknown.status, StatusCode::GONE);

        // Ten minutes later, an unused URL is expired too.
        let r = widget_url(&app, &user, json!({ "widget_type": "connect_widget" }), &[]).await;
        let late = r.body["widget_url"]["url"].as_str().unwrap().to_owned();
        app.clock.advance(ferry_core::WIDGET_URL_TTL + time::Duration::seconds(1));
        let (page, _) = open(&app, &late, &[]).await;
        assert_eq!(page.status, StatusCode::GONE);

        // The assets are served beside the page.
        let js = app.raw(Method::GET, "/connect/assets/widget.js", Body::empty(), &[]).await;
        assert_eq!(js.status, StatusCode::OK);
        assert!(js.headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
        let css = app.raw(Method::GET, "/connect/assets/widget.css", Body::empty(), &[]).await;
        assert_eq!(css.status, StatusCode::OK);
        // Compressed for browsers that accept it.
        let gz = app.raw(Method::GET, "/connect/assets/widget.js", Body::empty(), &[("accept-encoding", "gzip")]).await;
        assert_eq!(gz.headers["content-encoding"], "gzip");
        assert!(js.headers.get("content-encoding").is_none());
    })
    .await;
}

#[tokio::test]
async fn widget_options_are_checked_and_travel_with_the_session() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let other_user = app.user(None).await;
        for (options, needle) in [
            (json!({}), "widget_type"),
            (json!({ "widget_type": "budgets_widget" }), "widget_type"),
            (json!({ "widget_type": "connect_widget", "mode": "sideways" }), "mode"),
            (json!({ "widget_type": "connect_widget", "color_scheme": "pink" }), "color_scheme"),
            (json!({ "widget_type": "connect_widget", "ui_message_version": 3 }), "ui_message_version"),
            (
                json!({ "widget_type": "connect_widget", "disable_institution_search": true }),
                "disable_institution_search",
            ),
            (
                json!({ "widget_type": "connect_widget", "current_institution_code": "nowhere" }),
                "current_institution_code",
            ),
            (json!({ "widget_type": "connect_widget", "ui_message_webview_url_scheme": "javascript" }), "scheme"),
            (json!({ "widget_type": "connect_widget", "client_redirect_url": "not a url" }), "client_redirect_url"),
            (json!({ "widget_type": "connect_widget", "oauth_referral_source": "FAX" }), "oauth_referral_source"),
            (json!({ "widget_type": "connect_widget", "data_request": { "products": ["gold"] } }), "products"),
        ] {
            let r = widget_url(&app, &user, options.clone(), &[]).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{options}: {r:?}");
            assert!(r.body["error"]["message"].as_str().unwrap().contains(needle), "{options}: {r:?}");
        }
        assert_eq!(
            app.post(&format!("/users/{user}/widget_urls"), json!({})).await.status,
            StatusCode::BAD_REQUEST,
            "widget_url is required"
        );
        // Another user's member cannot be opened.
        let r = app.member(&other_user, "password", json!({})).await;
        let theirs = r.body["member"]["guid"].as_str().unwrap().to_owned();
        let r = widget_url(&app, &user, json!({ "widget_type": "connect_widget", "current_member_guid": theirs }), &[])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        // Another client's user does not exist for this one.
        let r = app
            .raw(
                Method::POST,
                &format!("/users/{user}/widget_urls"),
                Body::from(json!({ "widget_url": { "widget_type": "connect_widget" } }).to_string()),
                &[("authorization", app.other_auth.as_str()), ("content-type", "application/json")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

        // Options reach the page.
        let config = session(
            &app,
            &user,
            json!({
                "widget_type": "connect_widget", "mode": "verification", "color_scheme": "dark",
                "current_institution_code": MXBANK, "disable_institution_search": true,
                "is_mobile_webview": true, "ui_message_webview_url_scheme": "myapp", "locale": "fr-CA",
                "ui_message_version": 4, "client_redirect_url": "https://app.example.com/done",
            }),
        )
        .await;
        assert_eq!(config["mode"], "verification");
        assert_eq!(config["color_scheme"], "dark");
        assert_eq!(config["current_institution_guid"], MXBANK_GUID);
        assert_eq!(config["disable_institution_search"], true);
        assert_eq!(config["is_mobile_webview"], true);
        assert_eq!(config["ui_message_webview_url_scheme"], "myapp");
        assert_eq!(config["oauth_referral_source"], "APP", "a webview defaults to APP");
        assert_eq!(config["locale"], "fr-CA");
        assert_eq!(config["client_redirect_url"], "https://app.example.com/done");
        assert_eq!(config["include_transactions"], false, "verification leaves transactions out by default");

        // The locale falls back to the request's Accept-Language, then the page's.
        let r =
            widget_url(&app, &user, json!({ "widget_type": "connect_widget" }), &[("accept-language", "es-MX")]).await;
        let (_, config) = open(&app, r.body["widget_url"]["url"].as_str().unwrap(), &[]).await;
        assert_eq!(config.unwrap()["locale"], "es");
        let r = widget_url(&app, &user, json!({ "widget_type": "connect_widget" }), &[]).await;
        let (page, config) =
            open(&app, r.body["widget_url"]["url"].as_str().unwrap(), &[("accept-language", "fr-FR,fr;q=0.9")]).await;
        assert_eq!(config.unwrap()["locale"], "fr-CA");
        assert!(page.body.as_str().unwrap().contains("<html lang=\"fr-CA\""));

        // Atrium's connect_widget_url: options flat in the body.
        let (id, key) = &app.atrium;
        let r = app
            .raw(
                Method::POST,
                &format!("/users/{user}/connect_widget_url"),
                Body::from(
                    json!({ "is_mobile_webview": false, "ui_message_version": 4, "mode": "aggregation" }).to_string(),
                ),
                &[
                    ("mx-client-id", id.as_str()),
                    ("mx-api-key", key.as_str()),
                    ("accept", "application/vnd.mx.atrium.v1+json"),
                    ("content-type", "application/json"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["user"]["guid"], user.as_str());
        let (page, _) = open(&app, r.body["user"]["connect_widget_url"].as_str().unwrap(), &[]).await;
        assert_eq!(page.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn the_widget_api_connects_a_member_for_its_session_user_only() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let r = widget_url(
            &app,
            &user,
            json!({ "widget_type": "connect_widget" }),
            &[("x-callback-payload", "ZnJvbS10aGUtd2lkZ2V0")],
        )
        .await;
        let (_, config) = open(&app, r.body["widget_url"]["url"].as_str().unwrap(), &[]).await;
        let t = token(&config.unwrap());

        // No session, or a wrong one: 401.
        let r = app.raw(Method::GET, "/connect/api/members", Body::empty(), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        assert_eq!(api(&app, "wrong", Method::GET, "members", None).await.status, StatusCode::UNAUTHORIZED);
        // An API key is not a widget session.
        let r = app.raw(Method::GET, "/connect/api/members", Body::empty(), &[("authorization", &app.auth)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);

        // Search and favorites.
        let r = api(&app, &t, Method::GET, "institutions?search=mx%20bank", None).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let found = r.body["institutions"].as_array().unwrap();
        assert!(found.iter().any(|i| i["code"] == MXBANK), "{r:?}");
        assert_eq!(r.body["favorites"], false);
        let r = api(&app, &t, Method::GET, "institutions", None).await;
        assert_eq!(r.body["favorites"], true);
        assert!(!r.body["institutions"].as_array().unwrap().is_empty(), "{r:?}");
        let r = api(&app, &t, Method::GET, &format!("institutions/{MXBANK_GUID}"), None).await;
        assert_eq!(r.status, StatusCode::OK);
        let fields = r.body["credentials"].as_array().unwrap();
        assert_eq!(fields[0]["label"], "Username");
        assert_eq!(fields[1]["field_type"], "PASSWORD");

        // A member with credentials, connected by the worker.
        let r = connect(&app, &t, "password").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert!(!r.body.to_string().contains("mxuser"), "no credential value comes back: {r:?}");
        let guid = r.body["member"]["guid"].as_str().unwrap().to_owned();
        assert_eq!(r.body["member"]["connection_status_id"], 0);
        assert_eq!(r.body["member"]["is_being_aggregated"], true);
        app.work().await;
        let r = api(&app, &t, Method::GET, &format!("members/{guid}"), None).await;
        assert_eq!(r.body["member"]["connection_status"], "CONNECTED", "{r:?}");
        assert_eq!(r.body["member"]["connection_status_id"], 6);
        assert_eq!(r.body["member"]["is_being_aggregated"], false);

        // The callback payload of the widget URL went with the member (and its webhooks).
        let m = app
            .service
            .get_member(
                &app.client,
                &UserRef::Guid(UserGuid::parse(&user).unwrap()),
                &MemberRef::Guid(MemberGuid::parse(&guid).unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(m.callback_payload.as_deref(), Some("ZnJvbS10aGUtd2lkZ2V0"));

        // Accounts with at most four digits of their numbers.
        let r = api(&app, &t, Method::GET, &format!("members/{guid}/accounts"), None).await;
        let accounts = r.body["accounts"].as_array().unwrap();
        assert!(!accounts.is_empty());
        for a in accounts {
            if let Some(m) = a["account_number_mask"].as_str() {
                assert!(m.len() <= 4, "{a}");
            }
        }
        assert!(!r.body.to_string().contains("account_number\""), "{r:?}");

        // The same credentials again: 409 naming the existing member.
        let r = connect(&app, &t, "password").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
        assert_eq!(r.body["error"]["member_guid"], guid.as_str());

        // Another user's member is not there for this session; nor is another session's.
        let other = app.user(None).await;
        let theirs =
            app.member(&other, "password", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        for (method, path) in [
            (Method::GET, format!("members/{theirs}")),
            (Method::DELETE, format!("members/{theirs}")),
            (Method::GET, format!("members/{theirs}/accounts")),
            (Method::POST, format!("members/{theirs}/aggregate")),
        ] {
            let r = api(&app, &t, method.clone(), &path, Some(json!({}))).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {r:?}");
        }
        let r = api(&app, &t, Method::GET, "members", None).await;
        let listed: Vec<&str> =
            r.body["members"].as_array().unwrap().iter().map(|m| m["guid"].as_str().unwrap()).collect();
        assert_eq!(listed, [guid.as_str()]);

        // Delete.
        let r = api(&app, &t, Method::DELETE, &format!("members/{guid}"), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        assert_eq!(api(&app, &t, Method::GET, &format!("members/{guid}"), None).await.status, StatusCode::NOT_FOUND);

        // The session lives 30 minutes past its last call; the host's ping renews it.
        app.clock.advance(ferry_core::WIDGET_SESSION_TTL - time::Duration::seconds(5));
        assert_eq!(api(&app, &t, Method::POST, "ping", None).await.status, StatusCode::NO_CONTENT);
        app.clock.advance(ferry_core::WIDGET_SESSION_TTL - time::Duration::seconds(5));
        assert_eq!(api(&app, &t, Method::GET, "members", None).await.status, StatusCode::OK);
        app.clock.advance(ferry_core::WIDGET_SESSION_TTL + time::Duration::seconds(1));
        assert_eq!(api(&app, &t, Method::GET, "members", None).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn mfa_denied_credentials_and_the_submission_limit() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let t = token(&session(&app, &user, json!({ "widget_type": "connect_widget" })).await);

        // Options MFA: the challenge reaches the widget with its options; the right one connects.
        let r = connect(&app, &t, "options").await;
        let guid = r.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;
        let r = api(&app, &t, Method::GET, &format!("members/{guid}"), None).await;
        assert_eq!(r.body["member"]["connection_status_id"], 3, "{r:?}");
        let challenge = &r.body["member"]["challenges"][0];
        assert_eq!(challenge["type"], "OPTIONS");
        let option = challenge["options"].as_array().unwrap().iter().find(|o| o["value"] == "correct").unwrap().clone();
        let r = api(
            &app,
            &t,
            Method::PUT,
            &format!("members/{guid}/resume"),
            Some(json!({ "challenges": [{ "guid": challenge["guid"], "value": option["value"] }] })),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        app.work().await;
        let r = api(&app, &t, Method::GET, &format!("members/{guid}"), None).await;
        assert_eq!(r.body["member"]["connection_status"], "CONNECTED", "{r:?}");
        assert_eq!(r.body["member"]["challenges"], json!([]));

        // An image challenge comes as a data: URI.
        let r = connect(&app, &t, "image").await;
        let image_member = r.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;
        let r = api(&app, &t, Method::GET, &format!("members/{image_member}"), None).await;
        assert!(r.body["member"]["challenges"][0]["image_data"].as_str().unwrap().starts_with("data:image/"), "{r:?}");

        // New credentials through the widget start a new job.
        let r = api(
            &app,
            &t,
            Method::PUT,
            &format!("members/{guid}"),
            Some(json!({ "credentials": credentials("another-password") })),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["connection_status"], "UPDATED");
        app.work().await;

        // At most 10 credential submissions per session in 10 minutes.
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let r = api(
                &app,
                &t,
                Method::PUT,
                &format!("members/{guid}"),
                Some(json!({ "credentials": credentials("password") })),
            )
            .await;
            statuses.push(r.status);
        }
        assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
        let r =
            api(&app, &t, Method::PUT, &format!("members/{guid}"), Some(json!({ "credentials": credentials("x") })))
                .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers.contains_key("retry-after"));
        // A new session is not held back by the old one.
        let fresh = token(&session(&app, &user, json!({ "widget_type": "connect_widget" })).await);
        let r = api(
            &app,
            &fresh,
            Method::PUT,
            &format!("members/{guid}"),
            Some(json!({ "credentials": credentials("password") })),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn verification_mode_lists_verifying_institutions_and_runs_a_verification() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let t = token(&session(&app, &user, json!({ "widget_type": "connect_widget", "mode": "verification" })).await);
        let r = api(&app, &t, Method::GET, "institutions?search=mx", None).await;
        let listed = r.body["institutions"].as_array().unwrap();
        assert!(!listed.is_empty());
        assert!(listed.iter().all(|i| i["supports_verification"] == true), "{r:?}");
        // Favorites too, filtered in the query (a page is not shortened after the fact).
        app.service.set_favorite_institutions(&app.client, &["simplefin".into(), MXBANK.into()]).await.unwrap();
        let r = api(&app, &t, Method::GET, "institutions", None).await;
        let codes: Vec<&str> =
            r.body["institutions"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert_eq!(codes, [MXBANK], "{r:?}");
        let r = connect(&app, &t, "password").await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let guid = MemberGuid::parse(r.body["member"]["guid"].as_str().unwrap()).unwrap();
        let job = app.service.db().active_job(&guid).await.unwrap().expect("a job");
        assert_eq!(job.job_type, JobType::Verification);
        app.work().await;
        let r = api(&app, &t, Method::GET, &format!("members/{guid}/accounts"), None).await;
        let accounts = r.body["accounts"].as_array().unwrap();
        assert!(accounts.iter().any(|a| a["account_number_mask"].is_string()), "{r:?}");
        // The member does not aggregate in the background (MX's default in verification mode).
        let m = app
            .service
            .get_member(&app.client, &UserRef::Guid(UserGuid::parse(&user).unwrap()), &MemberRef::Guid(guid))
            .await
            .unwrap();
        assert!(m.background_aggregation_is_disabled);
    })
    .await;
}

#[tokio::test]
async fn frame_ancestors_are_configurable() {
    assert_eq!(ferry_api::widget_frame_ancestors("*"), Ok(None));
    assert_eq!(ferry_api::widget_frame_ancestors("  "), Ok(None));
    assert_eq!(
        ferry_api::widget_frame_ancestors("https://app.example.com  'self'"),
        Ok(Some("https://app.example.com 'self'".into()))
    );
    assert!(ferry_api::widget_frame_ancestors("https://a.example; script-src *").is_err());
    assert!(ferry_api::widget_frame_ancestors("'none' https://a.example").is_err());
    each_backend(|app| async move {
        let options =
            ferry_api::Options { widget_frame_ancestors: Some("https://app.example.com".into()), ..Default::default() };
        let router = ferry_api::router_with_options(app.service.clone(), options);
        let user = app.user(None).await;
        let r = widget_url(&app, &user, json!({ "widget_type": "connect_widget" }), &[]).await;
        let path = path_of(r.body["widget_url"]["url"].as_str().unwrap(), &app);
        use tower::ServiceExt;
        let response =
            router.oneshot(axum::http::Request::builder().uri(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let csp = response.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.ends_with("; frame-ancestors https://app.example.com"), "{csp}");
    })
    .await;
}

#[tokio::test]
async fn an_oauth_member_made_in_verification_mode_starts_with_a_verification() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let t = token(&session(&app, &user, json!({ "widget_type": "connect_widget", "mode": "verification" })).await);
        let r = api(&app, &t, Method::GET, "institutions/mx_bank_oauth", None).await;
        let institution = r.body["institution"]["guid"].as_str().unwrap().to_owned();
        let r =
            api(&app, &t, Method::POST, "members", Some(json!({ "institution_guid": institution, "is_oauth": true })))
                .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["member"]["connection_status"], "PENDING");
        let guid = r.body["member"]["guid"].as_str().unwrap().to_owned();
        // The OAuth member again (the widget re-opening its screen): 409 naming it.
        let again =
            api(&app, &t, Method::POST, "members", Some(json!({ "institution_guid": institution, "is_oauth": true })))
                .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.body["error"]["member_guid"], guid.as_str());
        // A fresh window URI each time; the first one was never used.
        let r = api(&app, &t, Method::GET, &format!("members/{guid}/oauth_window_uri"), None).await;
        let uri = r.body["member"]["oauth_window_uri"].as_str().unwrap().to_owned();
        let page = crate::oauth::press(&app, &uri, "authorize").await;
        assert_eq!(page.status(), 200);
        let member = MemberGuid::parse(&guid).unwrap();
        let job = app.service.db().active_job(&member).await.unwrap().expect("a job after OAuth");
        assert_eq!(job.job_type, JobType::Verification);
        app.work().await;
        let r = api(&app, &t, Method::GET, &format!("members/{guid}"), None).await;
        assert_eq!(r.body["member"]["connection_status"], "CONNECTED", "{r:?}");
    })
    .await;
}

#[tokio::test]
async fn a_member_that_asks_only_for_verification_starts_with_one() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let mut firsts = Vec::new();
        for products in [json!(["account_verification"]), json!(["account_verification", "transactions"])] {
            let body = json!({
                "member": { "institution_code": MXBANK, "credentials": credentials(&format!("p-{products}")) },
                "data_request": { "products": products },
            });
            let r = app.post(&format!("/users/{user}/members"), body).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
            let guid = MemberGuid::parse(r.body["member"]["guid"].as_str().unwrap()).unwrap();
            firsts.push(app.service.db().active_job(&guid).await.unwrap().expect("a job").job_type);
        }
        assert_eq!(firsts, [JobType::Verification, JobType::Aggregation]);
    })
    .await;
}

#[tokio::test]
async fn products_choose_the_jobs_and_sessions_end() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        // No transactions asked for: balances first, no follow-up.
        let config = session(&app, &user, json!({ "widget_type": "connect_widget", "include_transactions": false })).await;
        assert_eq!(config["follow_up"], Value::Null);
        let t = token(&config);
        let r = connect(&app, &t, "balance-only").await;
        let guid = MemberGuid::parse(r.body["member"]["guid"].as_str().unwrap()).unwrap();
        assert_eq!(app.service.db().active_job(&guid).await.unwrap().unwrap().job_type, JobType::Balance);
        assert!(r.body["member"]["updated_at"].is_string());

        // Verification with transactions: verification first, then the widget asks for an
        // aggregation; a comma list of modes is verification.
        let config = session(
            &app,
            &user,
            json!({ "widget_type": "connect_widget", "mode": "aggregation,verification", "include_transactions": true }),
        )
        .await;
        assert_eq!(config["mode"], "verification");
        assert_eq!(config["follow_up"], "aggregate");
        // Aggregation with verification among the products: verify after.
        let config = session(
            &app,
            &user,
            json!({ "widget_type": "connect_widget", "data_request": { "products": ["transactions", "account_verification"] } }),
        )
        .await;
        assert_eq!(config["mode"], "aggregation");
        assert_eq!(config["follow_up"], "verify");

        // New credentials for a verification member verify again.
        let t = token(&session(&app, &user, json!({ "widget_type": "connect_widget", "mode": "verification" })).await);
        let r = connect(&app, &t, "DENIED").await;
        let denied = r.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;
        let r = api(&app, &t, Method::PUT, &format!("members/{denied}"), Some(json!({ "credentials": credentials("fine") })))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let m = MemberGuid::parse(&denied).unwrap();
        assert_eq!(app.service.db().active_job(&m).await.unwrap().unwrap().job_type, JobType::Verification);

        // HEAD does not use a URL up.
        let r = widget_url(&app, &user, json!({ "widget_type": "connect_widget" }), &[]).await;
        let url = r.body["widget_url"]["url"].as_str().unwrap().to_owned();
        let head = app.raw(Method::HEAD, &path_of(&url, &app), Body::empty(), &[]).await;
        assert_eq!(head.status, StatusCode::OK);
        let (page, config) = open(&app, &url, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        let t = token(&config.unwrap());

        // A busy session still ends after four hours; ended rows are purged.
        for _ in 0..8 {
            app.clock.advance(time::Duration::minutes(29));
            assert_eq!(api(&app, &t, Method::GET, "members", None).await.status, StatusCode::OK);
        }
        app.clock.advance(time::Duration::minutes(29));
        assert_eq!(api(&app, &t, Method::GET, "members", None).await.status, StatusCode::UNAUTHORIZED);
        app.clock.advance(ferry_core::WIDGET_SESSION_TTL);
        let purged = app.service.db().purge_widget(app.clock.now()).await.unwrap();
        assert!(purged >= 6, "{purged}");
        assert_eq!(app.service.db().purge_widget(app.clock.now()).await.unwrap(), 0);
    })
    .await;
}
