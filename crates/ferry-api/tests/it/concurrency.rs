//! The database, not a read-then-write check, refuses duplicates.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::each_backend;

#[tokio::test]
async fn fifty_identical_creations_make_one_member() {
    each_backend(|app| async move {
        let user = app.user(None).await;
        let app = std::sync::Arc::new(app);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let app = app.clone();
                let user = user.clone();
                tokio::spawn(async move { app.member(&user, "same-password", json!({})).await })
            })
            .collect();
        let mut ok = 0;
        let mut conflicts = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            match r.status {
                StatusCode::OK | StatusCode::ACCEPTED => ok += 1,
                StatusCode::CONFLICT => conflicts.push(r.body["error"]["guid"].clone()),
                other => panic!("unexpected {other}: {:?}", r.body),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(conflicts.len(), 49);
        let winner = app.get(&format!("/users/{user}/members")).await.body["members"][0]["guid"].clone();
        assert!(conflicts.iter().all(|g| *g == winner), "every conflict names the winner");
    })
    .await;
}
