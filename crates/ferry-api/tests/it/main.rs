//! HTTP tests of the Platform API through `Router::oneshot`. Every test runs on SQLite and, when
//! `FERRY_TEST_POSTGRES_URL` names a server (CI always sets it), on PostgreSQL too.

#![allow(clippy::unwrap_used)]

mod support;

mod aggregation;
mod concurrency;
mod dialects;
mod errors;
mod faces;
mod institutions;
mod isolation;
mod limits;
mod member_data;
mod members;
mod nexus;
mod oauth;
mod ofx;
mod reliability;
mod secrets;
mod simplefin;
mod users;
mod webhooks;
mod widget;
