//! Plaintext credentials never reach the database or a response.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::each_backend;

const CANARY: &str = "canary-Pa55word-4f1d9c";

#[tokio::test]
async fn the_canary_password_is_nowhere_in_the_database_file_or_responses() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let r = app.member(&user, CANARY, json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let guid = r.body["member"]["guid"].as_str().unwrap().to_owned();
        let mut seen = r.body.to_string();
        for path in ["", "/status", "/credentials"] {
            seen.push_str(&app.get(&format!("/users/{user}/members/{guid}{path}")).await.body.to_string());
        }
        seen.push_str(&app.get(&format!("/users/{user}/members")).await.body.to_string());
        assert!(!seen.contains(CANARY));
        let dup = app.member(&user, CANARY, json!({})).await;
        assert!(!dup.body.to_string().contains(CANARY));

        if let Some(path) = &app.sqlite_path {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                bytes.extend(std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default());
            }
            assert!(bytes.len() > 4096, "read the database");
            assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "canary found in the SQLite files");
        }
    })
    .await;
}
