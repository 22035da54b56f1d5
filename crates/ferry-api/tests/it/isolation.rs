//! One client never sees another client's objects: every route answers 404.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{LOGIN, PASSWORD, each_backend};

#[tokio::test]
async fn every_route_hides_other_clients_objects() {
    each_backend(|app| async move {
        let user = app.user(Some("mine")).await;
        let member = app.member(&user, "p", json!({ "id": "my-member" })).await.body["member"]["guid"]
            .as_str()
            .unwrap()
            .to_owned();
        // Data of every kind: accounts, transactions, numbers, owners, holdings, statements.
        let data_member =
            app.member(&user, "password", json!({})).await.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;
        for action in ["verify", "identify", "fetch_statements"] {
            app.post(&format!("/users/{user}/members/{data_member}/{action}"), json!({})).await;
            app.work().await;
        }
        let first = |body: &serde_json::Value, key: &str| body[key][0]["guid"].as_str().unwrap().to_owned();
        let account = first(&app.get(&format!("/users/{user}/accounts")).await.body, "accounts");
        let txn = first(&app.get(&format!("/users/{user}/transactions")).await.body, "transactions");
        let holding = first(&app.get(&format!("/users/{user}/investment_holdings")).await.body, "investment_holdings");
        let statement =
            first(&app.get(&format!("/users/{user}/members/{data_member}/statements")).await.body, "statements");
        let manual = app
            .post(&format!("/users/{user}/accounts"), json!({ "account": { "name": "Cash", "account_type": "CASH" } }))
            .await
            .body["account"]["guid"]
            .as_str()
            .unwrap()
            .to_owned();
        let dm = &data_member;
        let creds = json!({ "member": { "credentials": [{ "guid": PASSWORD, "value": "x" }] } });
        let new_member = json!({ "member": { "institution_code": "mxbank",
            "credentials": [{ "guid": LOGIN, "value": "a" }, { "guid": PASSWORD, "value": "b" }] } });
        let routes: Vec<(Method, String, Option<serde_json::Value>, bool)> = vec![
            (Method::GET, format!("/users/{user}"), None, false),
            (Method::PUT, format!("/users/{user}"), Some(json!({ "user": { "metadata": "x" } })), false),
            (Method::DELETE, format!("/users/{user}"), None, false),
            (Method::GET, format!("/users/{user}/members"), None, false),
            (Method::POST, format!("/users/{user}/members"), Some(new_member), false),
            (Method::GET, format!("/users/{user}/members/{member}"), None, false),
            (Method::PUT, format!("/users/{user}/members/{member}"), Some(creds), false),
            (Method::DELETE, format!("/users/{user}/members/{member}"), None, false),
            (Method::GET, format!("/users/{user}/members/{member}/status"), None, false),
            (Method::GET, format!("/users/{user}/members/{member}/credentials"), None, false),
            (Method::GET, format!("/users/{user}/members/{member}/challenges"), None, false),
            (Method::POST, format!("/users/{user}/members/{dm}/aggregate"), None, false),
            (Method::POST, format!("/users/{user}/members/{dm}/verify"), None, false),
            (
                Method::PUT,
                format!("/users/{user}/members/{dm}/resume"),
                Some(json!({ "member": { "challenges": [] } })),
                false,
            ),
            (Method::GET, format!("/users/{user}/members/{dm}/accounts"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/accounts/{account}"), None, false),
            (
                Method::PUT,
                format!("/users/{user}/members/{dm}/accounts/{account}"),
                Some(json!({ "account": { "is_hidden": true } })),
                false,
            ),
            (Method::GET, format!("/users/{user}/members/{dm}/accounts/{account}/transactions"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/transactions"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/account_numbers"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/account_owners"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/investment_holdings"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/statements"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/statements/{statement}"), None, false),
            (Method::GET, format!("/users/{user}/members/{dm}/statements/{statement}.pdf"), None, false),
            (Method::GET, format!("/users/{user}/accounts"), None, false),
            (
                Method::POST,
                format!("/users/{user}/accounts"),
                Some(json!({ "account": { "name": "x", "account_type": "CASH" } })),
                false,
            ),
            (Method::GET, format!("/users/{user}/accounts/{account}"), None, false),
            (Method::DELETE, format!("/users/{user}/accounts/{manual}"), None, false),
            (Method::GET, format!("/users/{user}/accounts/{account}/transactions"), None, false),
            (Method::GET, format!("/users/{user}/accounts/{account}/account_numbers"), None, false),
            (Method::GET, format!("/users/{user}/accounts/{account}/investment_holdings"), None, false),
            (Method::GET, format!("/users/{user}/transactions"), None, false),
            (Method::GET, format!("/users/{user}/transactions/{txn}"), None, false),
            (
                Method::PUT,
                format!("/users/{user}/transactions/{txn}"),
                Some(json!({ "transaction": { "description": "x" } })),
                false,
            ),
            (Method::GET, format!("/users/{user}/investment_holdings"), None, false),
            (Method::GET, format!("/users/{user}/investment_holdings/{holding}"), None, false),
            (Method::GET, "/users/mine".to_owned(), None, true),
            (Method::GET, "/users/mine/members/my-member".to_owned(), None, true),
            (Method::DELETE, "/users/mine".to_owned(), None, true),
        ];
        for (method, path, body, v2025) in routes {
            let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
            let mut headers = vec![("authorization", app.other_auth.as_str()), ("content-type", "application/json")];
            if v2025 {
                headers.push(("accept-version", "v20250224"));
            }
            let r = app.raw(method.clone(), &path, body, &headers).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path} -> {r:?}");
        }
        let r = app.raw(Method::GET, "/users", Body::empty(), &[("authorization", &app.other_auth)]).await;
        assert_eq!(r.body["users"], json!([]));
        let r = app.raw(Method::GET, "/users?id=mine", Body::empty(), &[("authorization", &app.other_auth)]).await;
        assert_eq!(r.body["users"], json!([]));
        // Everything is still there for its owner.
        assert_eq!(app.get(&format!("/users/{user}/members/{member}")).await.status, StatusCode::OK);
    })
    .await;
}
