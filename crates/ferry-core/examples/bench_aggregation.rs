//! Aggregation throughput: N sandbox members aggregated end to end through the job queue by
//! in-process workers, beside a raw batched insert of the same transaction rows (as new rows of
//! the same accounts, 500 per statement) into the same database in the same run. Prints numbers; asserts nothing.
//!
//!   cargo run --release -p ferry-core --example bench_aggregation -- [MEMBERS] [DATABASE_URL]
//!
//! Without a URL it uses a fresh SQLite file; with `postgres://.../postgres` it creates and
//! drops a fresh database beside the one named.

mod common;

/// The allocator `ferry` itself runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use ferry_core::UserRef;
use ferry_domain::{NewMember, NewUser, PageRequest, Secret, SubmittedCredential};

const LOGIN: &str = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1";
const PASSWORD: &str = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d";
const WORKERS: usize = 4;

#[tokio::main]
async fn main() -> Result<(), common::BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let members: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let bench = common::Bench::start("bench", args.get(2)).await?;
    let (db, service, client) = (bench.db.clone(), bench.service.clone(), bench.client.clone());

    // Members are created (and their jobs queued) before the clock starts.
    let mut users = Vec::new();
    for i in 0..members {
        if i % 10 == 0 {
            users.push(service.create_user(&client, NewUser::default()).await?);
        }
        let user = users.last().ok_or("no user")?;
        let new = NewMember {
            skip_webhook: false,
            institution: "mxbank".into(),
            credentials: vec![
                SubmittedCredential { guid: LOGIN.into(), value: Secret::new("mxuser") },
                SubmittedCredential { guid: PASSWORD.into(), value: Secret::new(format!("bench-{i}")) },
            ],
            ..Default::default()
        };
        service.create_member(&client, &UserRef::Guid(user.guid.clone()), new).await?;
    }

    let started = Instant::now();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| {
            let service = service.clone();
            tokio::spawn(async move {
                let name = format!("bench-{w}");
                while service.run_once(&name).await.unwrap_or(false) {}
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let aggregate_secs = started.elapsed().as_secs_f64();

    // Every transaction the run stored, read back to be inserted raw.
    let mut rows = Vec::new();
    let window = (time::macros::date!(2000 - 01 - 01), time::macros::date!(2100 - 01 - 01));
    for u in &users {
        let mut page = 1;
        loop {
            let p = service
                .db()
                .list_transactions(
                    &client.id,
                    &u.guid,
                    &ferry_store::TransactionScope::User,
                    window.0,
                    window.1,
                    PageRequest::new(Some(page), Some(1000), 1000),
                )
                .await?;
            let n = p.items.len();
            rows.extend(p.items);
            if n < 1000 {
                break;
            }
            page += 1;
        }
    }
    let transactions = rows.len();
    // The same rows again, as new rows of the same members and accounts (fresh guids and
    // external ids), so both inserts meet the same tables and indexes at the same scale.
    for (i, t) in rows.iter_mut().enumerate() {
        t.guid = ferry_domain::TransactionGuid::parse(&format!("TRN-raw-{i}"))?;
        t.external_id.push_str("#raw");
    }
    let started = Instant::now();
    service.db().upsert_transactions(&rows).await?;
    let raw_secs = started.elapsed().as_secs_f64();

    let aggregated_rate = transactions as f64 / aggregate_secs;
    let raw_rate = transactions as f64 / raw_secs;
    println!("backend: {}, members: {members}, transactions: {transactions}, workers: {WORKERS}", db.backend());
    println!(
        "aggregation: {aggregate_secs:.2} s, {:.0} members/s, {aggregated_rate:.0} transactions/s",
        members as f64 / aggregate_secs
    );
    println!("raw batched insert of the same rows: {raw_secs:.2} s, {raw_rate:.0} rows/s");
    println!("aggregation / raw: {:.0}%", 100.0 * aggregated_rate / raw_rate);

    bench.finish().await?;
    Ok(())
}
