//! The connector's own say in scheduling: it never makes more than `DAILY_BUDGET` requests to
//! `/accounts` in 24 hours for one member; past that the member is DELAYED until the oldest
//! request leaves the window, without calling the server.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_connector::{
    Connector, ConnectorError, Failure, LoginOutcome, LoginRequest, MemberState, PullRequest, StateHandle,
};
use ferry_connector_simplefin::fake::FakeSimpleFin;
use ferry_connector_simplefin::{DAILY_BUDGET, SETUP_TOKEN_FIELD, SimpleFin};
use ferry_domain::Secret;

/// A member's state kept in memory, as the core would keep it sealed.
#[derive(Default)]
struct Memory {
    state: Mutex<Option<String>>,
    spent: Mutex<bool>,
}

#[async_trait::async_trait]
impl MemberState for Memory {
    async fn save(&self, state: &str, spend_credentials: bool) -> ferry_connector::Result<()> {
        *self.state.lock().unwrap() = Some(state.to_owned());
        if spend_credentials {
            *self.spent.lock().unwrap() = true;
        }
        Ok(())
    }
}

fn request(memory: &Arc<Memory>, token: Option<&str>, now: time::OffsetDateTime) -> LoginRequest {
    let mut credentials = HashMap::new();
    if let Some(t) = token {
        credentials.insert(SETUP_TOKEN_FIELD.to_owned(), Secret::new(t));
    }
    LoginRequest {
        member_key: "m".into(),
        credentials,
        now,
        last_success: Some(now - time::Duration::hours(1)),
        oauth_access_token: None,
        config: serde_json::Value::Null,
        state: memory.state.lock().unwrap().clone().map(Secret::new),
        state_store: StateHandle(memory.clone()),
    }
}

#[tokio::test]
async fn a_member_never_spends_more_than_its_daily_budget() {
    let start = time::macros::datetime!(2026-03-02 08:00 UTC);
    let fake = FakeSimpleFin::start(start.date(), 0).await.unwrap();
    let policy = ferry_connector::net::AddressPolicy { allow_loopback: true, allow_private: false };
    let connector = SimpleFin::new(policy, std::time::Duration::from_secs(10));
    let memory = Arc::new(Memory::default());
    let token = fake.setup_token("alice");

    let mut now = start;
    let mut calls = 0;
    let refusal = loop {
        let token = if calls == 0 { Some(token.as_str()) } else { None };
        let LoginOutcome::Connected(session) = connector.login(&request(&memory, token, now)).await.unwrap() else {
            panic!("SimpleFIN never challenges");
        };
        let pull = PullRequest { transactions: Some((now.date(), now.date())), holdings: false };
        match connector.pull(&session, &pull).await {
            Ok(_) => calls = fake.account_requests().len(),
            Err(ConnectorError::Refused(r)) => break r,
            Err(e) => panic!("{e}"),
        }
        assert!(calls <= DAILY_BUDGET, "{calls} requests");
        now += time::Duration::minutes(30);
    };
    assert!(*memory.spent.lock().unwrap(), "the token was forgotten once claimed");
    assert_eq!(fake.account_requests().len(), DAILY_BUDGET, "the refusal made no request");
    assert_eq!(refusal.failure, Failure::Delayed);
    let retry = refusal.retry_at.unwrap();
    assert!(retry > now && retry <= start + time::Duration::days(1) + time::Duration::minutes(1), "{retry}");

    // Once the window has moved past the oldest request, the member is served again.
    let later = retry + time::Duration::minutes(1);
    let LoginOutcome::Connected(session) = connector.login(&request(&memory, None, later)).await.unwrap() else {
        panic!();
    };
    let pull = PullRequest { transactions: Some((later.date(), later.date())), holdings: false };
    assert!(connector.pull(&session, &pull).await.is_ok());
}
