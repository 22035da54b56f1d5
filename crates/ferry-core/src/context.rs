//! The request a piece of work belongs to: the HTTP layer runs each request inside
//! [`with_request_id`]; jobs queued and events written while it runs record its id, and a job
//! runs inside its own request's id, so the events it writes (and their deliveries) carry it too.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: Option<String>;
}

/// Runs `f` as part of request `id`.
pub async fn with_request_id<F: Future>(id: Option<String>, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request being served, if any.
pub(crate) fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}
