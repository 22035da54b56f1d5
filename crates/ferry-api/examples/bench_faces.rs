//! The server faces on a user with 100,000 transactions (five years over a checking account,
//! a card and a savings account; 1% pending), through the whole HTTP application in process
//! (`Router::oneshot`: routing, authentication, the database, rendering; no sockets). Prints
//! the median and worst time and the answer's size per scenario; asserts nothing.
//!
//!   cargo run --release -p ferry-api --example bench_faces -- [TRANSACTIONS] [postgres://ADMIN_URL]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request};
use base64::Engine;
use ferry_connector_ofx::{BankStatementRequest, Item, OfxDate, Signon, Style, write};
use ferry_core::{Db, Keyring, MasterKey, RandomIds, Service, SystemClock, UserRef};
use ferry_domain::{
    Account, AccountGuid, NewMember, NewUser, Secret, SubmittedCredential, Transaction, TransactionGuid,
};
use http_body_util::BodyExt;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error>;
const RUNS: usize = 7;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let (url, pg) = match args.get(2) {
        Some(admin) if admin.starts_with("postgres") => {
            let name = format!("ferry_bench_faces_{}", std::process::id());
            (ferry_store::create_postgres_database(admin, &name).await?, Some((admin.clone(), name)))
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("ferry-bench-faces-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            (format!("sqlite://{}/bench.db", dir.display()), None)
        }
    };
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let public_url = "http://127.0.0.1:8080".to_owned();
    let config = ferry_core::Config { public_url: public_url.clone(), ..Default::default() };
    let service = Service::with_config(
        db.clone(),
        Keyring::new(&MasterKey::generate(), &[]),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        config,
    )
    .with_connector("sandbox", Arc::new(ferry_connector::Sandbox));
    let (client, _) = service.create_client("bench").await?;
    let user = service.create_user(&client, NewUser { id: Some("bench".into()), ..Default::default() }).await?;
    let new = NewMember {
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
    let kinds = ["CHECKING", "CREDIT_CARD", "SAVINGS"];
    let accounts: Vec<Account> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| Account {
            guid: AccountGuid::from_uuid(uuid::Uuid::from_u128(i as u128 + 1)),
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
            kind: (*kind).into(),
            subtype: None,
            account_number: Some("XXXXXX1234".into()),
            routing_number: Some("091000019".into()),
            balance: Some(rust_decimal::Decimal::new(123_456, 2)),
            available_balance: Some(rust_decimal::Decimal::new(120_000, 2)),
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
    db.upsert_accounts(&accounts).await?;
    let days = 5 * 365;
    let start = now.date() - Duration::days(days);
    let loaded = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..total {
        // 60% checking, 30% card, 10% savings.
        let account = &accounts[match i % 10 {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        }];
        let date = start + Duration::days((i as i64 * days) / total as i64);
        let noon = date.midnight().assume_utc() + Duration::hours(12);
        let pending = i >= total - total / 100;
        batch.push(Transaction {
            guid: TransactionGuid::from_uuid(uuid::Uuid::from_u128(1_000 + i as u128)),
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
            is_pending: pending,
            date,
            transacted_at: Some(noon - Duration::hours(2)),
            posted_at: (!pending).then_some(noon),
            description: Some(format!("Merchant {}", i % 997)),
            original_description: Some(format!("POS PURCHASE MERCHANT {} #{}", i % 997, i % 31)),
            category: Some("Shopping".into()),
            top_level_category: Some("Shopping".into()),
            memo: None,
            check_number_string: None,
            merchant_category_code: Some(5812),
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
            db.upsert_transactions(&batch).await?;
            batch.clear();
        }
    }
    db.upsert_transactions(&batch).await?;
    println!("backend: {}, loaded {total} transactions in {:.1} s", db.backend(), loaded.elapsed().as_secs_f64());
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    db.analyze().await?;

    let options = ferry_api::Options {
        faces: ferry_api::faces::Faces { simplefin: true, ofx: true },
        limits: ferry_api::limits::Limits { failed_auth_per_minute: 0, ..Default::default() },
        ..Default::default()
    };
    let router = ferry_api::router_with_options(service.clone(), options);
    let send = |req: Request<Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(req).await.expect("infallible");
            let status = response.status();
            let body = response.into_body().collect().await.expect("body").to_bytes();
            (status, body)
        }
    };

    // SimpleFIN: claim a token for an access URL.
    let token = service.issue_simplefin_token(&client, &UserRef::Id("bench".into())).await?;
    let claim = token.claim_url.strip_prefix(&public_url).unwrap_or_default().to_owned();
    let (_, access) = send(Request::builder().method(Method::POST).uri(claim).body(Body::empty())?).await;
    let access = url::Url::parse(std::str::from_utf8(&access)?)?;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            access.username(),
            access.password().unwrap_or_default()
        ))
    );
    service.set_ofx_password(&client, &UserRef::Id("bench".into()), "bench password").await?;

    println!();
    println!("| face | request | median ms | worst ms | answer |");
    println!("|---|---|---|---|---|");
    let month_ago = (now - Duration::days(30)).unix_timestamp();
    let sfin = [
        ("everything (no query, as simplefin4py asks)", String::new()),
        ("everything with pending=1", "?pending=1".to_owned()),
        ("the last 30 days, pending=1 (a routine sync)", format!("?start-date={month_ago}&pending=1")),
        ("balances-only=1 (discovery)", "?balances-only=1".to_owned()),
    ];
    for (name, query) in sfin {
        let uri = format!("/simplefin/accounts{query}");
        let basic = basic.clone();
        measure("SimpleFIN", name, || {
            let req = Request::builder().uri(uri.clone()).header("authorization", basic.clone()).body(Body::empty());
            let send = &send;
            async move { send(req.expect("request")).await }
        })
        .await;
    }

    // The same read without HTTP or rendering: what the database and the core cost.
    let everything = ferry_core::FaceQuery::default();
    let (client_id, user_guid) = (client.id.clone(), user.guid.clone());
    measure("(core)", "Service::face_view, everything (no HTTP, no JSON)", || {
        let (service, client_id, user_guid, q) = (&service, &client_id, &user_guid, &everything);
        async move {
            let view = service.face_view(client_id, user_guid, q).await.expect("view");
            let n: usize = view.accounts.iter().map(|a| a.transactions.len()).sum();
            (axum::http::StatusCode::OK, bytes::Bytes::from(vec![0u8; n]))
        }
    })
    .await;

    let checking = ferry_api::faces::ofx::acct_id(&accounts[0].guid);
    let ofx_body = |items: Vec<Item>| {
        let signon = Signon {
            dtclient: OfxDate::DateTime(now),
            user_id: "bench".into(),
            user_pass: "bench password".into(),
            language: "ENG".into(),
            org: "Ferry".into(),
            fid: "1".into(),
            app_id: "QWIN".into(),
            app_ver: "2700".into(),
            client_uid: None,
            auth_token: None,
            mfa_answers: Vec::new(),
        };
        let mut n = 0;
        let request = ferry_connector_ofx::Request::new(102, signon, items, || {
            n += 1;
            format!("T{n}")
        });
        write(&request.to_ofx(), Style { closed_leaves: false, pretty: false })
    };
    let statement = |dtstart: Option<OfxDate>| {
        Item::BankStatement(BankStatementRequest {
            bank_id: "091000019".into(),
            branch_id: None,
            acct_id: checking.clone(),
            acct_type: ferry_connector_ofx::AccountType::Checking,
            dtstart,
            dtend: None,
        })
    };
    let ofx = [
        ("account info (the sign-on's Argon2 check included)", ofx_body(vec![Item::account_info()])),
        ("checking statement, all five years (60% of the transactions)", ofx_body(vec![statement(None)])),
        (
            "checking statement, the last 30 days",
            ofx_body(vec![statement(Some(OfxDate::DateTime(now - Duration::days(30))))]),
        ),
    ];
    for (name, body) in ofx {
        measure("OFX 1.0.2", name, || {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/ofx")
                .header("content-type", "application/x-ofx")
                .body(Body::from(body.clone()));
            let send = &send;
            async move { send(req.expect("request")).await }
        })
        .await;
    }

    db.close().await;
    if let Some((admin, name)) = pg {
        ferry_store::drop_postgres_database(&admin, &name).await?;
    }
    Ok(())
}

/// Runs a request `RUNS` times (after one warm-up) and prints a table row.
async fn measure<F, Fut>(face: &str, name: &str, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (axum::http::StatusCode, bytes::Bytes)>,
{
    let (status, body) = call().await;
    assert!(status.is_success(), "{name}: {status}");
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let _ = call().await;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let size = body.len() as f64;
    let size = if size > 1e6 { format!("{:.1} MB", size / 1e6) } else { format!("{:.0} KB", size / 1e3) };
    println!("| {face} | {name} | {:.0} | {:.0} | {size} |", times[RUNS / 2], times[RUNS - 1]);
}
