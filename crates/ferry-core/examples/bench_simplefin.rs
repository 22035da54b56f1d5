//! End-to-end ingest of a SimpleFIN account set: one member whose fake SimpleFIN server holds
//! N posted transactions (default 10,000) in one account, from the setup token to the stored
//! rows, through the job queue (claim, discovery, backfill windows, JSON parsing, decimals,
//! upserts), then a routine sync of the same member. Prints numbers; asserts nothing.
//!
//!   cargo run --release -p ferry-core --example bench_simplefin -- [N] [DATABASE_URL]
//!
//! Without a URL it uses a fresh SQLite file; with `postgres://.../postgres` it creates and
//! drops a fresh database beside the one named.

#[allow(dead_code)] // This benchmark builds its own service over the shared database.
mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;

use ferry_connector_simplefin::fake::FakeSimpleFin;
use ferry_core::{Keyring, MasterKey, RandomIds, Service, SystemClock, UserRef};
use ferry_domain::{NewMember, NewUser, Secret, SubmittedCredential};

const TOKEN_FIELD: &str = "CRD-5e3f1a2b-7c4d-4e8f-9a0b-746f6b656e31";

#[tokio::main]
async fn main() -> Result<(), common::BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let bench = common::Bench::start("simplefin", args.get(2)).await?;
    let policy = ferry_connector::net::AddressPolicy { allow_loopback: true, allow_private: false };
    let service = Service::with_config(
        bench.db.clone(),
        Keyring::new(&MasterKey::generate(), &[]),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        ferry_core::Config { aggregation_throttle: time::Duration::ZERO, ..Default::default() },
    )
    .with_connector(
        "simplefin",
        Arc::new(ferry_connector_simplefin::SimpleFin::new(policy, std::time::Duration::from_secs(120))),
    );
    let (client, _) = service.create_client("bench-simplefin").await?;
    let fake = FakeSimpleFin::start(time::OffsetDateTime::now_utc().date(), 0).await?;
    let user = service.create_user(&client, NewUser::default()).await?;
    let user_ref = UserRef::Guid(user.guid.clone());
    let new = NewMember {
        institution: "simplefin".into(),
        credentials: vec![SubmittedCredential {
            guid: TOKEN_FIELD.into(),
            value: Secret::new(fake.setup_token(&format!("big-{n}"))),
        }],
        ..Default::default()
    };
    let created = service.create_member(&client, &user_ref, new).await?;
    let member = created.member.guid.clone();

    let started = Instant::now();
    service.run_until_idle().await?;
    let first = started.elapsed().as_secs_f64();
    let stored = service.db().transaction_guids_by_external_id(&member).await?.len();
    let requests = fake.account_requests().len();

    let member_ref = ferry_core::MemberRef::Guid(member.clone());
    service.aggregate_member(&client, &user_ref, &member_ref, None).await?;
    let started = Instant::now();
    service.run_until_idle().await?;
    let routine = started.elapsed().as_secs_f64();

    println!("backend: {}", bench.db.backend());
    println!(
        "first aggregation: {stored} transactions in {:.0} ms ({:.0} transactions/s), {requests} requests to /accounts",
        first * 1000.0,
        stored as f64 / first
    );
    println!(
        "routine sync (last sync - 7 days, {} requests in all): {:.0} ms",
        fake.account_requests().len(),
        routine * 1000.0
    );
    bench.finish().await
}
