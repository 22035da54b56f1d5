//! `ferry keys rotate`: with the real binary, on SQLite and PostgreSQL. Values sealed under an
//! old key (credentials, a paused job's state, a webhook secret) are re-sealed while a server
//! runs; duplicates are found across the rotation; afterwards the old key is dropped and
//! everything still opens.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

fn key() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry")).args(["keys", "generate"]).output().unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 64);
    key
}

fn keys_cli(db_url: &str, env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = ferry(db_url).envs(env.iter().copied()).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
}

fn member_body(password: &str) -> Value {
    mxbank_member("mxuser", password)
}

fn rotation_on(db_url: &str) {
    let dir = temp_dir();
    let (old, new) = (key(), key());
    let receiver = HookReceiver::start(Duration::ZERO);
    let old_env = [("FERRY_MASTER_KEY", old.as_str()), ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")];
    let server = Server::start_with(db_url, &dir.join("old.log"), &old_env);
    let (client, auth) = new_client(db_url, "rotation", &old_env);
    add_webhook(db_url, &client, &receiver.url, &old_env);
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    let (status, body) =
        server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member_body("password")));
    assert_eq!(status, 202, "{body}");
    let connected = body["member"]["guid"].as_str().unwrap().to_owned();
    wait_for(&server, &auth, &format!("/users/{user}/members/{connected}"), 30, |m| {
        m["connection_status"] == "CONNECTED"
    });
    // A second user's member paused on an MFA question: its job keeps a sealed state.
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let other = body["user"]["guid"].as_str().unwrap().to_owned();
    let (_, body) = server.request("POST", &format!("/users/{other}/members"), &auth, Some(&member_body("challenge")));
    let challenged = body["member"]["guid"].as_str().unwrap().to_owned();
    wait_for(&server, &auth, &format!("/users/{other}/members/{challenged}"), 30, |m| {
        m["connection_status"] == "CHALLENGED"
    });
    receiver.wait_for_distinct(1, 30);
    // A third user's member whose credentials a connector spent (SimpleFIN's setup token is
    // claimed once): an empty sealed value under the old key id, which rotation must pass over.
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let third = body["user"]["guid"].as_str().unwrap().to_owned();
    let mut spent_body = member_body("password");
    spent_body["member"]["skip_aggregation"] = json!(true);
    let (_, body) = server.request("POST", &format!("/users/{third}/members"), &auth, Some(&spent_body));
    let spent = body["member"]["guid"].as_str().unwrap().to_owned();
    drop(server);
    spend_credentials(db_url, &spent);

    // Every process restarts with the new key, the old one as previous.
    let both = [
        ("FERRY_MASTER_KEY", new.as_str()),
        ("FERRY_MASTER_KEY_PREVIOUS", old.as_str()),
        ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1"),
    ];
    let server = Server::start_with(db_url, &dir.join("both.log"), &both);
    // Before the rotation reaches it, the member is still found as a duplicate.
    let (status, body) =
        server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member_body("password")));
    assert_eq!(status, 409, "a duplicate across keys: {body}");
    assert_eq!(body["error"]["guid"], json!(connected), "{body}");
    let before = keys_cli(db_url, &both, &["keys", "status", "--json"]);
    assert!(before["under_old_keys"].as_i64().unwrap() >= 3, "{before}");
    // Online: the server keeps running.
    let report = keys_cli(db_url, &both, &["keys", "rotate", "--json"]);
    assert_eq!(report["under_old_keys"], 0, "{report}");
    assert!(report["resealed"]["members.credentials"].as_u64().unwrap() >= 2, "{report}");
    assert!(report["resealed"]["jobs.state"].as_u64().unwrap() >= 1, "{report}");
    assert!(report["resealed"]["webhook_endpoints.secret"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["duplicates"], json!([]), "{report}");
    let again = keys_cli(db_url, &both, &["keys", "rotate", "--json"]);
    assert_eq!(again["total"], 0, "idempotent: {again}");
    drop(server);

    // The old key dropped: everything opens, duplicates are still found.
    let new_only = [("FERRY_MASTER_KEY", new.as_str()), ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")];
    let status_now = keys_cli(db_url, &new_only, &["keys", "status", "--json"]);
    assert_eq!(status_now["under_old_keys"], 0, "{status_now}");
    let server = Server::start_with(db_url, &dir.join("new.log"), &new_only);
    let (status, body) =
        server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member_body("password")));
    assert_eq!(status, 409, "a duplicate after the rotation: {body}");
    let seen = receiver.ids().len();
    let (status, body) = server.request("POST", &format!("/users/{user}/members/{connected}/aggregate"), &auth, None);
    assert_eq!(status, 202, "{body}");
    let m = wait_for(&server, &auth, &format!("/users/{user}/members/{connected}"), 30, |m| {
        m["is_being_aggregated"] == false && m["connection_status"] != "CREATED"
    });
    assert_eq!(m["connection_status"], "CONNECTED", "the credentials opened: {m}");
    // The paused job's state opens: the right answer connects the member.
    let (_, body) = server.request("GET", &format!("/users/{other}/members/{challenged}/challenges"), &auth, None);
    let answers: Vec<Value> = body["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({ "guid": c["guid"], "value": "correct" }))
        .collect();
    let (status, body) = server.request(
        "PUT",
        &format!("/users/{other}/members/{challenged}/resume"),
        &auth,
        Some(&json!({ "member": { "challenges": answers } })),
    );
    assert_eq!(status, 202, "{body}");
    let m = wait_for(&server, &auth, &format!("/users/{other}/members/{challenged}"), 30, |m| {
        m["connection_status"] != "CHALLENGED" && m["is_being_aggregated"] == false
    });
    assert_eq!(m["connection_status"], "CONNECTED", "{m}");
    // The webhook secret opens: events are still signed and sent.
    receiver.wait_for_distinct(seen + 1, 30);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Empties a member's sealed credentials, as a connector that spends them does.
fn spend_credentials(db_url: &str, member: &str) {
    use sqlx::Connection;
    let sql = format!("UPDATE members SET credentials_sealed = '' WHERE guid = '{member}'");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        if db_url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
        }
    });
}

#[test]
fn key_rotation_on_sqlite() {
    let dir = temp_dir();
    rotation_on(&format!("sqlite://{}", dir.join("ferry.db").display()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn key_rotation_on_postgres() {
    let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FERRY_TEST_POSTGRES_URL is not set");
        return;
    };
    let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin).to_owned();
    let name = format!("ferry_keys_{}", rand_suffix() % 1_000_000_000);
    let psql = |sql: &str| {
        let out =
            Command::new("psql").args([format!("{base}/postgres").as_str(), "-qAtX", "-c", sql]).output().unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    };
    psql(&format!("CREATE DATABASE {name}"));
    rotation_on(&format!("{base}/{name}"));
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}
