//! Webhook delivery: events per second delivered to a local receiver that answers 204, and the
//! delay from the change (a member created) to the receiver getting its MEMBER created webhook.
//! Prints numbers; asserts nothing.
//!
//!   cargo run --release -p ferry-core --example bench_webhooks -- [EVENTS] [DATABASE_URL]
//!
//! Throughput: EVENTS members are created first (each writes one event), then one deliverer
//! (as `ferry serve` runs) drains them; then four. Delay: with one deliverer running, members are
//! created at 200 per second and each event's arrival is timed against its creation.

mod common;

/// The allocator `ferry` itself runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_core::{Service, UserRef, WebhookPolicy};
use ferry_domain::{Client, NewMember, NewUser, Secret, SubmittedCredential};

const LOGIN: &str = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1";
const PASSWORD: &str = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d";

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receiver() -> Result<(String, Arrivals), common::BoxError> {
    let arrivals: Arrivals = Arc::default();
    let a = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let a = a.clone();
            async move {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if let Some(m) = v["member"]["guid"].as_str() {
                    a.lock().unwrap_or_else(|e| e.into_inner()).insert(m.to_owned(), Instant::now());
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrivals))
}

async fn create_member(
    service: &Service,
    client: &Client,
    user: &UserRef,
    i: usize,
) -> Result<String, common::BoxError> {
    let new = NewMember {
        institution: "mxbank".into(),
        credentials: vec![
            SubmittedCredential { guid: LOGIN.into(), value: Secret::new("mxuser") },
            SubmittedCredential { guid: PASSWORD.into(), value: Secret::new(format!("hook-{i}")) },
        ],
        skip_aggregation: true,
        skip_webhook: false,
        id: None,
        metadata: None,
        is_oauth: false,
        background_aggregation_is_disabled: false,
        use_cases: Vec::new(),
        products: Vec::new(),
        client_redirect_url: None,
        enable_app2app: None,
        referral_source: None,
        ui_message_webview_url_scheme: None,
        callback_payload: None,
    };
    Ok(service.create_member(client, user, new).await?.member.guid.to_string())
}

fn deliverers(service: &Service, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(async move {
                let name = format!("bench-{i}");
                loop {
                    match service.deliver_once(&name).await {
                        Ok(0) => service.wait_for_events(Duration::from_millis(200)).await,
                        Ok(_) => {}
                        Err(e) => eprintln!("deliver: {e}"),
                    }
                }
            })
        })
        .collect()
}

async fn wait_all(arrivals: &Arrivals, guids: &[String], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let done = {
            let a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
            guids.iter().all(|g| a.contains_key(g))
        };
        if done {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), common::BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let config = ferry_core::Config {
        webhooks: WebhookPolicy { allow_loopback: true, allow_private: false },
        ..Default::default()
    };
    let bench = common::Bench::start_with("hooks", args.get(2), config).await?;
    let (service, client) = (bench.service.clone(), bench.client.clone());
    let (url, arrivals) = receiver().await?;
    service.create_webhook(&client, &url, None, None, &["MEMBER".to_owned()]).await?;
    let user = UserRef::Guid(service.create_user(&client, NewUser::default()).await?.guid);
    println!("backend: {}", bench.db.backend());

    for workers in [1, 4] {
        let mut guids = Vec::with_capacity(events);
        for i in 0..events {
            guids.push(create_member(&service, &client, &user, workers * 1_000_000 + i).await?);
        }
        let started = Instant::now();
        let handles = deliverers(&service, workers);
        let complete = wait_all(&arrivals, &guids, Duration::from_secs(300)).await;
        let secs = started.elapsed().as_secs_f64();
        for h in handles {
            h.abort();
        }
        println!(
            "throughput, {workers} deliverer(s): {events} events in {secs:.2} s = {:.0} events/s{}",
            events as f64 / secs,
            if complete { "" } else { " (INCOMPLETE)" }
        );
    }

    // Delay under a steady 200 changes per second.
    let handles = deliverers(&service, 1);
    let n = 2000.min(events);
    let mut created: Vec<(String, Instant)> = Vec::with_capacity(n);
    let pace = Duration::from_millis(5);
    let start = Instant::now();
    for i in 0..n {
        let due = start + pace * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let before = Instant::now();
        let g = create_member(&service, &client, &user, 9_000_000 + i).await?;
        created.push((g, before));
    }
    let guids: Vec<String> = created.iter().map(|(g, _)| g.clone()).collect();
    wait_all(&arrivals, &guids, Duration::from_secs(120)).await;
    for h in handles {
        h.abort();
    }
    let mut delays: Vec<f64> = {
        let a = arrivals.lock().unwrap_or_else(|e| e.into_inner());
        created.iter().filter_map(|(g, t)| a.get(g).map(|arr| arr.duration_since(*t).as_secs_f64() * 1000.0)).collect()
    };
    delays.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| delays[((delays.len() as f64 * p) as usize).min(delays.len() - 1)];
    println!(
        "delay from change to delivery at 200 changes/s ({} events): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        delays.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    bench.finish().await?;
    Ok(())
}
