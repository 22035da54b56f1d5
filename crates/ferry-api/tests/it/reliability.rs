//! Our faults are not the institution's, and the reconciler's safety net: a database that fails
//! under a running job leaves the member's status alone and shows no internal text to clients;
//! states that disagree (which the one-transaction writes rule out) are repaired.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

use crate::nexus::{nexus, session_for};
use crate::support::{TestApp, each_backend};

/// Runs `statement` on the app's database from a connection of the test's own, behind the
/// store's back.
async fn behind_the_back(app: &TestApp, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if app.database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&app.database_url).await.unwrap();
        sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
        sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
    }
}

/// Words of the database's own error messages that must never reach a client.
const INTERNAL_WORDS: [&str; 5] = ["transactions_away", "no such table", "relation", "sqlx", "database"];

fn assert_no_internal_text(what: &str, body: &serde_json::Value) {
    let text = body.to_string().to_lowercase();
    for word in INTERNAL_WORDS {
        assert!(!text.contains(word), "{what} shows internal text `{word}`: {body}");
    }
}

#[tokio::test]
async fn a_database_fault_during_a_job_leaves_the_member_alone_and_is_retried() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let created = app.member(&user, "password", json!({})).await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{created:?}");
        let member = created.body["member"]["guid"].as_str().unwrap().to_owned();
        app.work().await;
        let path = format!("/users/{user}/members/{member}");
        assert_eq!(app.get(&path).await.body["member"]["connection_status"], "CONNECTED");
        let session = session_for(&app, &user).await;

        // The database loses a table under the next job.
        behind_the_back(&app, "ALTER TABLE transactions RENAME TO transactions_away").await;
        let r = app.post(&format!("{path}/aggregate"), json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        app.work().await;
        let m = app.get_v2025(&path).await.body["member"].clone();
        assert_eq!(m["connection_status"], "CONNECTED", "not FAILED: the bank did nothing wrong: {m}");
        assert_eq!(m["is_being_aggregated"], true, "the job waits to be retried: {m}");
        assert_no_internal_text("the member", &m);
        let job = m["most_recent_job_guid"].as_str().unwrap().to_owned();
        let j = nexus(&app, &session, Method::GET, &format!("/jobs/{job}"), None).await;
        assert_eq!(j.status, StatusCode::OK, "{j:?}");
        assert_eq!(j.body["job"]["error_message"], json!(null), "{j:?}");
        assert_no_internal_text("the Nexus job", &j.body);

        // The database recovers; once the lease runs out the job runs again and succeeds.
        behind_the_back(&app, "ALTER TABLE transactions_away RENAME TO transactions").await;
        app.clock.advance(time::Duration::seconds(61));
        app.work().await;
        let m = app.get_v2025(&path).await.body["member"].clone();
        assert_eq!(
            (m["connection_status"].as_str(), m["is_being_aggregated"].as_bool()),
            (Some("CONNECTED"), Some(false))
        );
        assert_eq!(m["most_recent_job_guid"], job.as_str(), "the same job, retried: {m}");
        let j = nexus(&app, &session, Method::GET, &format!("/jobs/{job}"), None).await;
        assert_eq!(j.body["job"]["status_name"], "CONNECTED", "{j:?}");

        // A fault that does not go away: the job is given up after its last attempt, the member
        // goes idle in the status it had, and the job says nothing internal.
        behind_the_back(&app, "ALTER TABLE transactions RENAME TO transactions_away").await;
        assert_eq!(app.post(&format!("{path}/aggregate"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        let job = app.get_v2025(&path).await.body["member"]["most_recent_job_guid"].as_str().unwrap().to_owned();
        for _ in 0..ferry_core::MAX_ATTEMPTS {
            app.clock.advance(time::Duration::seconds(61));
            app.work().await;
        }
        let m = app.get_v2025(&path).await.body["member"].clone();
        assert_eq!(
            (m["connection_status"].as_str(), m["is_being_aggregated"].as_bool()),
            (Some("CONNECTED"), Some(false))
        );
        let j = nexus(&app, &session, Method::GET, &format!("/jobs/{job}"), None).await;
        assert!(!j.body["job"]["finished_at"].is_null(), "{j:?}");
        assert!(j.body["job"]["error_message"].as_str().is_some_and(|e| e.contains("could not complete")), "{j:?}");
        assert_no_internal_text("the given-up job", &j.body);
        behind_the_back(&app, "ALTER TABLE transactions_away RENAME TO transactions").await;
        assert_eq!(app.service.reconcile().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn the_reconciler_repairs_disagreements_once_they_have_lasted_a_lease() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let mut members = Vec::new();
        for password in ["password", "challenge", "another-password"] {
            let r = app.member(&user, password, json!({})).await;
            members.push(r.body["member"]["guid"].as_str().unwrap().to_owned());
        }
        app.work().await;
        app.clock.advance(time::Duration::seconds(120));
        // Everything written through the service agrees: nothing to repair.
        assert_eq!(app.service.reconcile().await.unwrap(), 0);

        // Break what the one-transaction writes rule out: a member busy without a job, and one
        // whose challenge is gone.
        behind_the_back(&app, &format!("UPDATE members SET is_being_aggregated = TRUE WHERE guid = '{}'", members[0]))
            .await;
        behind_the_back(&app, &format!("DELETE FROM jobs WHERE member_guid = '{}'", members[1])).await;
        // A disagreement younger than a lease may be a change in flight: left alone.
        let before = app.service.reconciler_repairs();
        app.clock.advance(time::Duration::seconds(10));
        behind_the_back(
            &app,
            &format!("UPDATE members SET updated_at = updated_at + 120000000 WHERE guid = '{}'", members[2]),
        )
        .await;
        behind_the_back(&app, &format!("UPDATE members SET is_being_aggregated = TRUE WHERE guid = '{}'", members[2]))
            .await;
        assert_eq!(app.service.reconcile().await.unwrap(), 2);
        assert_eq!(app.service.reconciler_repairs(), before + 2);
        let status = |i: usize| {
            let path = format!("/users/{user}/members/{}/status", members[i]);
            let app = &app;
            async move { app.get(&path).await.body["member"].clone() }
        };
        let m0 = status(0).await;
        assert_eq!(
            (m0["connection_status"].as_str(), m0["is_being_aggregated"].as_bool()),
            (Some("CONNECTED"), Some(false))
        );
        let m1 = status(1).await;
        assert_eq!(m1["connection_status"], "EXPIRED", "{m1}");
        assert_eq!(status(2).await["is_being_aggregated"], true, "too recent to touch");
        app.clock.advance(time::Duration::seconds(200));
        assert_eq!(app.service.reconcile().await.unwrap(), 1);
        assert_eq!(status(2).await["is_being_aggregated"], false);
        assert_eq!(app.service.reconcile().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_row_the_server_cannot_read_is_an_error_not_a_shorter_list() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let mut members = Vec::new();
        for password in ["password", "another-password"] {
            let r = app.member(&user, password, json!({ "skip_aggregation": true })).await;
            members.push(r.body["member"]["guid"].as_str().unwrap().to_owned());
        }
        assert_eq!(app.get(&format!("/users/{user}/members")).await.body["members"].as_array().unwrap().len(), 2);
        behind_the_back(&app, &format!("UPDATE members SET connection_status = 'BOGUS' WHERE guid = '{}'", members[1]))
            .await;
        // The list does not quietly drop the row (its total would then disagree with its page).
        let r = app.get(&format!("/users/{user}/members")).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{r:?}");
        assert_no_internal_text("the error", &r.body);
        assert!(!r.body.to_string().contains("BOGUS"), "{r:?}");
        let r = app.get(&format!("/users/{user}/members/{}", members[1])).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{r:?}");
        // The other member reads as ever.
        assert_eq!(app.get(&format!("/users/{user}/members/{}", members[0])).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn new_credentials_supersede_what_the_old_ones_started() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let cred = |password: &str| {
            json!({ "member": { "credentials": [
                { "guid": crate::support::LOGIN, "value": "mxuser" },
                { "guid": crate::support::PASSWORD, "value": password } ] } })
        };
        // A job queued with the old credentials gives way to one with the new.
        let created = app.member(&user, "password", json!({})).await;
        let member = created.body["member"]["guid"].as_str().unwrap().to_owned();
        let path = format!("/users/{user}/members/{member}");
        let old_job = app.get_v2025(&path).await.body["member"]["most_recent_job_guid"].clone();
        let r = app.put(&path, cred("new-password")).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let m = app.get_v2025(&path).await.body["member"].clone();
        assert_eq!(
            (m["connection_status"].as_str(), m["is_being_aggregated"].as_bool()),
            (Some("UPDATED"), Some(true))
        );
        assert_ne!(m["most_recent_job_guid"], old_job, "{m}");
        assert_eq!(app.work().await, 1, "one job runs: the superseded one is gone");
        let m = app.get(&path).await.body["member"].clone();
        assert_eq!(
            (m["connection_status"].as_str(), m["is_being_aggregated"].as_bool()),
            (Some("CONNECTED"), Some(false))
        );

        // A challenge raised with the old credentials is abandoned even when the update skips
        // aggregation: the member can aggregate again at once.
        let created = app.member(&user, "challenge", json!({})).await;
        let member = created.body["member"]["guid"].as_str().unwrap().to_owned();
        let path = format!("/users/{user}/members/{member}");
        app.work().await;
        assert_eq!(app.get(&path).await.body["member"]["connection_status"], "CHALLENGED");
        let mut body = cred("third-password");
        body["member"]["skip_aggregation"] = json!(true);
        assert_eq!(app.put(&path, body).await.status, StatusCode::OK);
        let m = app.get(&path).await.body["member"].clone();
        assert_eq!(
            (m["connection_status"].as_str(), m["is_being_aggregated"].as_bool()),
            (Some("UPDATED"), Some(false))
        );
        assert_eq!(app.get(&format!("{path}/challenges")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.post(&format!("{path}/aggregate"), json!({})).await.status, StatusCode::ACCEPTED);
        app.work().await;
        assert_eq!(app.get(&path).await.body["member"]["connection_status"], "CONNECTED");
        app.clock.advance(time::Duration::seconds(120));
        assert_eq!(app.service.reconcile().await.unwrap(), 0, "nothing left for the safety net");
    })
    .await;
}

#[tokio::test]
async fn ready_says_whether_the_database_answers_with_a_current_schema() {
    each_backend(|app| async move {
        let r = app.raw(Method::GET, "/ready", axum::body::Body::empty(), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body, json!("ready"));

        // An older node's schema: the latest migration not applied.
        behind_the_back(&app, "CREATE TABLE applied_copy AS SELECT * FROM ferry_migrations").await;
        behind_the_back(&app, "DELETE FROM ferry_migrations WHERE version = (SELECT MAX(version) FROM ferry_migrations)").await;
        let r = app.raw(Method::GET, "/ready", axum::body::Body::empty(), &[]).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
        assert!(r.body.as_str().unwrap().contains("migrations pending"), "{r:?}");
        assert_eq!(app.raw(Method::GET, "/health", axum::body::Body::empty(), &[]).await.status, StatusCode::OK, "still alive");
        behind_the_back(
            &app,
            "INSERT INTO ferry_migrations SELECT * FROM applied_copy WHERE version NOT IN (SELECT version FROM ferry_migrations)",
        )
        .await;
        assert_eq!(app.raw(Method::GET, "/ready", axum::body::Body::empty(), &[]).await.status, StatusCode::OK);

        if !app.database_url.starts_with("sqlite:") {
            // PostgreSQL stops answering for this database: connections refused, the pool's
            // ones cut. Then it comes back.
            let admin = std::env::var("FERRY_TEST_POSTGRES_URL").unwrap();
            let name = app.database_url.rsplit('/').next().unwrap().to_owned();
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            let sql = |s: String| sqlx::raw_sql(sqlx::AssertSqlSafe(s));
            sql(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false")).execute(&mut conn).await.unwrap();
            sql(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                .execute(&mut conn)
                .await
                .unwrap();
            let r = app.raw(Method::GET, "/ready", axum::body::Body::empty(), &[]).await;
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
            assert!(r.body.as_str().unwrap().contains("does not answer"), "{r:?}");
            assert!(!r.body.to_string().contains("sqlx") && !r.body.to_string().contains("terminat"), "{r:?}");
            sql(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")).execute(&mut conn).await.unwrap();
            let r = app.raw(Method::GET, "/ready", axum::body::Body::empty(), &[]).await;
            assert_eq!(r.status, StatusCode::OK, "back: {r:?}");
        }
    })
    .await;
}
