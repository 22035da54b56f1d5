//! Reading: one user with 1,000,000 transactions (five years, one account each of six), then
//! 100-row pages of date-range queries (random 30-day windows, random page) through the
//! Service, as the API runs them. Prints p50/p99; asserts nothing.
//!
//!   cargo run --release -p ferry-core --example bench_reading -- [TRANSACTIONS] [DATABASE_URL]

mod common;

/// The allocator `ferry` itself runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use ferry_core::{DataScope, MemberRef, UserRef};
use ferry_domain::{
    Account, AccountGuid, NewMember, NewUser, PageRequest, Secret, SubmittedCredential, Transaction, TransactionGuid,
};
use time::{Duration, OffsetDateTime};

const QUERIES: usize = 2000;
/// Queries run before measuring, to warm the page cache.
const WARMUP: usize = 200;

#[tokio::main]
async fn main() -> Result<(), common::BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let bench = common::Bench::start("bench_read", args.get(2)).await?;
    let (db, service, client) = (bench.db.clone(), bench.service.clone(), bench.client.clone());
    let user = service.create_user(&client, NewUser::default()).await?;
    let new = NewMember {
        skip_webhook: false,
        institution: "mxbank".into(),
        credentials: vec![
            SubmittedCredential {
                guid: "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1".into(),
                value: Secret::new("mxuser"),
            },
            SubmittedCredential { guid: "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d".into(), value: Secret::new("p") },
        ],
        skip_aggregation: true,
        ..Default::default()
    };
    let member = service.create_member(&client, &UserRef::Guid(user.guid.clone()), new).await?.member;
    let now = OffsetDateTime::now_utc();
    let accounts: Vec<Account> = (0..6)
        .map(|i| Account {
            guid: AccountGuid::from_uuid(uuid_like(i)),
            client_id: client.id.clone(),
            user_guid: user.guid.clone(),
            user_id: None,
            member_guid: member.guid.clone(),
            member_id: None,
            institution_code: "mxbank".into(),
            external_id: format!("acct-{i}"),
            id: None,
            name: format!("Account {i}"),
            nickname: None,
            kind: "CHECKING".into(),
            subtype: None,
            account_number: None,
            routing_number: None,
            balance: None,
            available_balance: None,
            credit_limit: None,
            apr: None,
            apy: None,
            currency_code: "USD".into(),
            is_closed: false,
            organization: None,
            is_hidden: false,
            is_manual: false,
            is_business: false,
            details: Default::default(),
            metadata: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    service.db().upsert_accounts(&accounts).await?;

    let days = 5 * 365;
    let start = now.date() - Duration::days(days);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..total {
        let account = &accounts[i % accounts.len()];
        batch.push(Transaction {
            guid: TransactionGuid::from_uuid(uuid_like(1_000 + i as u128)),
            client_id: client.id.clone(),
            user_guid: user.guid.clone(),
            user_id: None,
            member_guid: member.guid.clone(),
            account_guid: account.guid.clone(),
            account_id: None,
            external_id: format!("t{i}"),
            id: None,
            amount: rust_decimal::Decimal::new((i % 50_000) as i64 + 100, 2),
            is_debit: i % 7 != 0,
            is_pending: false,
            date: start + Duration::days((i as i64 * days) / total as i64),
            transacted_at: Some(now),
            posted_at: Some(now),
            description: Some(format!("Merchant {}", i % 997)),
            original_description: None,
            category: Some("Shopping".into()),
            top_level_category: Some("Shopping".into()),
            memo: None,
            check_number_string: None,
            merchant_category_code: None,
            is_bill_pay: false,
            is_direct_deposit: false,
            is_fee: false,
            is_payroll: false,
            is_subscription: false,
            is_manual: false,
            currency_code: "USD".into(),
            metadata: None,
            created_at: now,
            updated_at: now,
        });
        if batch.len() == 10_000 {
            service.db().upsert_transactions(&batch).await?;
            batch.clear();
        }
    }
    service.db().upsert_transactions(&batch).await?;
    println!("backend: {}, loaded {total} transactions in {:.1} s", db.backend(), started.elapsed().as_secs_f64());

    let user_ref = UserRef::Guid(user.guid.clone());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut scopes = vec![DataScope::User, DataScope::Member(MemberRef::Guid(member.guid.clone()))];
    scopes.push(DataScope::Account(accounts[0].guid.to_string()));
    // Let the background checkpointer fold the load's WAL into the database first: the bench
    // measures steady-state reads, not reads racing the bulk load's aftermath.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    // What autovacuum would do shortly after such a load (`--no-analyze` measures without it).
    if !args.iter().any(|a| a == "--no-analyze") {
        let t = Instant::now();
        db.analyze().await?;
        println!("analyze after the load: {:.1} s", t.elapsed().as_secs_f64());
    }
    let mut latencies = Vec::with_capacity(QUERIES);
    for q in 0..QUERIES + WARMUP {
        let from = start + Duration::days((next() % (days as u64 - 30)) as i64);
        let to = from + Duration::days(30);
        let page = PageRequest::new(Some((next() % 5) as i64 + 1), Some(100), 1000);
        let scope = &scopes[q % scopes.len()];
        let t = Instant::now();
        let result = service.list_transactions(&client, &user_ref, scope, Some(from), Some(to), page).await?;
        if q >= WARMUP {
            latencies.push(t.elapsed());
        }
        assert!(!result.items.is_empty());
    }
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{QUERIES} pages of 100 from 30-day windows (user, member and account scopes): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );

    bench.finish().await?;
    Ok(())
}

fn uuid_like(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}
