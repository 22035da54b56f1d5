//! A SimpleFIN server for tests, on `127.0.0.1:0`: one-time claims, Basic-auth `/accounts`
//! with the protocol's query (`start-date` inclusive, `end-date` exclusive, `pending`,
//! repeated `account`, `balances-only`, `version=2`), the 90-day cap, a daily quota, and one
//! scenario user per status a SimpleFIN member can reach. Data is deterministic, dated around
//! the `today` it starts with.
//!
//! | user        | what `/accounts` answers                                              |
//! |-------------|-----------------------------------------------------------------------|
//! | `alice`     | three organisations: checking (with a pending transaction), a card, a euro savings account, a brokerage with holdings |
//! | `v2user`    | alice's data in the 2.x draft's shape (`connections`, `conn_id`)     |
//! | `attention` | alice's checking, and "Connection to Card B may need attention"      |
//! | `broken`    | no accounts, only "Connection to Bank A may need attention"          |
//! | `unpaid`    | 402                                                                   |
//! | `revoked`   | 403                                                                   |
//! | `quota`     | no accounts, "You must make fewer requests"                          |
//! | `flaky`     | 500                                                                   |
//! | `bad`       | 400                                                                   |
//! | `big-N`     | one account with N posted transactions (benchmarks)                   |
//!
//! Test drivers outside the process use `POST /admin/token/{user}` (answers a new setup token)
//! and `POST /admin/post-pending/{user}` (alice's pending transaction posts under a new id).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use time::{Date, Duration, Time};

/// Requests to `/accounts` one access may make before the quota error.
pub const FAKE_QUOTA: usize = 24;

#[derive(Default)]
struct World {
    today: Option<Date>,
    port: u16,
    next: u64,
    /// Unclaimed setup tokens: id → user.
    tokens: HashMap<String, String>,
    /// Claimed tokens (a second claim is refused).
    claimed: std::collections::HashSet<String>,
    /// Access credentials: username → (password, user).
    access: HashMap<String, (String, String)>,
    /// Requests to `/accounts` per access username.
    calls: HashMap<String, usize>,
    /// Users whose pending transaction has posted.
    posted: std::collections::HashSet<String>,
    /// Every query string `/accounts` received, in order.
    queries: Vec<String>,
    /// Organisations (connection ids) whose accounts a user's answers leave out, with an error.
    broken: std::collections::HashSet<(String, String)>,
}

type Shared = Arc<Mutex<World>>;

/// A running fake SimpleFIN server.
pub struct FakeSimpleFin {
    pub addr: SocketAddr,
    world: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSimpleFin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(w: &Shared) -> std::sync::MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeSimpleFin {
    /// Starts the server on `127.0.0.1:port` (0: any free port).
    pub async fn start(today: Date, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let world: Shared = Arc::new(Mutex::new(World { today: Some(today), port: addr.port(), ..Default::default() }));
        let app = Router::new()
            .route("/claim/{token}", post(claim))
            .route("/simplefin/info", get(|| async { Json(json!({"versions": ["1.0", "2.0"]})) }))
            .route("/simplefin/accounts", get(accounts))
            .route("/admin/token/{user}", post(admin_token))
            .route("/admin/post-pending/{user}", post(admin_post))
            .with_state(world.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, world, task })
    }

    /// A new one-time setup token for a scenario user.
    pub fn setup_token(&self, user: &str) -> String {
        new_token(&self.world, user)
    }

    /// Alice's pending transaction posts, under a new id (as the Bridge sometimes does).
    pub fn post_pending(&self, user: &str) {
        lock(&self.world).posted.insert(user.to_owned());
    }

    /// From now on, `user`'s accounts at connection `conn` (`CON-A`, `CON-B`, `CON-D`) are left
    /// out, with "Connection to <org> may need attention".
    pub fn break_connection(&self, user: &str, conn: &str) {
        lock(&self.world).broken.insert((user.to_owned(), conn.to_owned()));
    }

    /// How many requests `/accounts` has answered, in all.
    pub fn account_requests(&self) -> Vec<String> {
        lock(&self.world).queries.clone()
    }

    /// Whether a token was claimed.
    pub fn claimed(&self) -> usize {
        lock(&self.world).claimed.len()
    }
}

fn new_token(world: &Shared, user: &str) -> String {
    let mut w = lock(world);
    w.next += 1;
    let id = format!("{user}-{}", w.next);
    w.tokens.insert(id.clone(), user.to_owned());
    let url = format!("http://127.0.0.1:{}/claim/{id}", w.port);
    base64::engine::general_purpose::STANDARD.encode(url)
}

async fn admin_token(State(world): State<Shared>, Path(user): Path<String>) -> String {
    new_token(&world, &user)
}

async fn admin_post(State(world): State<Shared>, Path(user): Path<String>) -> StatusCode {
    lock(&world).posted.insert(user);
    StatusCode::NO_CONTENT
}

async fn claim(State(world): State<Shared>, Path(token): Path<String>) -> Response {
    let mut w = lock(&world);
    let Some(user) = w.tokens.remove(&token) else {
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    };
    w.claimed.insert(token.clone());
    w.next += 1;
    let username = format!("u{}", w.next);
    let password = format!("s3cr3t-{}-{token}", w.next);
    w.access.insert(username.clone(), (password.clone(), user));
    format!("http://{username}:{password}@127.0.0.1:{}/simplefin", w.port).into_response()
}

/// The query's pairs, repeated keys kept.
fn pairs(q: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_deref().unwrap_or_default().as_bytes()).into_owned().collect()
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b = v.strip_prefix("Basic ")?;
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

async fn accounts(State(world): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let (user, today, posted, calls, broken) = {
        let mut w = lock(&world);
        let Some((username, password)) = basic(&headers) else {
            return (StatusCode::FORBIDDEN, "Forbidden").into_response();
        };
        let Some((expected, user)) = w.access.get(&username).cloned() else {
            return (StatusCode::FORBIDDEN, "Forbidden").into_response();
        };
        if expected != password {
            return (StatusCode::FORBIDDEN, "Forbidden").into_response();
        }
        w.queries.push(q.clone().unwrap_or_default());
        let calls = w.calls.entry(username).or_default();
        *calls += 1;
        let calls = *calls;
        let broken: Vec<String> = w.broken.iter().filter(|(u, _)| *u == user).map(|(_, c)| c.clone()).collect();
        (user.clone(), w.today.unwrap_or(Date::MIN), w.posted.contains(&user), calls, broken)
    };
    match user.as_str() {
        "unpaid" => return (StatusCode::PAYMENT_REQUIRED, "Payment required").into_response(),
        "revoked" => return (StatusCode::FORBIDDEN, "Forbidden").into_response(),
        "flaky" => return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "bad" => return (StatusCode::BAD_REQUEST, "Bad request").into_response(),
        _ => {}
    }
    if calls > FAKE_QUOTA || user == "quota" {
        return Json(json!({"errors": ["You must make fewer requests. Please try again later."], "accounts": []}))
            .into_response();
    }
    let query = pairs(&q);
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let end = get("end-date").and_then(|v| v.parse::<i64>().ok()).unwrap_or(epoch(today + Duration::DAY));
    let mut start = get("start-date").and_then(|v| v.parse::<i64>().ok()).unwrap_or(end - 86_400);
    let mut errors: Vec<String> = Vec::new();
    if end - start > 90 * 86_400 {
        start = end - 90 * 86_400;
        errors.push("Requested date range exceeds limit of 90 days and was capped".into());
    }
    let pending = get("pending").as_deref() == Some("1");
    let balances_only = get("balances-only").as_deref() == Some("1");
    let wanted: Vec<String> = query.iter().filter(|(k, _)| k == "account").map(|(_, v)| v.clone()).collect();
    let v2 = get("version").as_deref() == Some("2") || user == "v2user";

    let mut all = data(&user, today, posted);
    for conn in &broken {
        all.retain(|a| a.conn != conn.as_str());
        let org = ORGS.iter().find(|(id, ..)| id == conn).map_or("?", |o| o.1);
        errors.push(format!("Connection to {org} may need attention"));
    }
    match user.as_str() {
        "attention" => {
            all.retain(|a| a.id == "A-CHK");
            errors.push("Connection to Card B may need attention".into());
        }
        "broken" => {
            all.clear();
            errors.push("Connection to Bank A may need attention".into());
        }
        _ => {}
    }
    let accounts: Vec<Value> = all
        .iter()
        .filter(|a| wanted.is_empty() || wanted.contains(&a.id.to_owned()))
        .map(|a| a.json(start, end, pending, balances_only, v2, today))
        .collect();
    if v2 {
        let errlist: Vec<Value> = errors.iter().map(|m| json!({"code": "gen.api", "message": m})).collect();
        let connections: Vec<Value> = ORGS
            .iter()
            .map(|(id, name, domain)| json!({"conn_id": id, "name": name, "org_id": id, "org_name": name, "org_url": format!("https://{domain}"), "sfin_url": "https://bridge.example"}))
            .collect();
        Json(json!({"errlist": errlist, "connections": connections, "accounts": accounts})).into_response()
    } else {
        Json(json!({"errors": errors, "accounts": accounts})).into_response()
    }
}

fn epoch(d: Date) -> i64 {
    d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()
}

const ORGS: &[(&str, &str, &str)] = &[
    ("CON-A", "Bank A", "bank-a.example"),
    ("CON-B", "Card B", "card-b.example"),
    ("CON-D", "Broker D", "broker-d.example"),
];

/// A transaction of the fake: id, days before today it posted (`None`: pending), amount,
/// description, payee.
type FakeTransaction = (String, Option<i64>, String, String, Option<String>);

struct FakeAccount {
    id: &'static str,
    conn: &'static str,
    name: &'static str,
    currency: &'static str,
    balance: &'static str,
    available: Option<&'static str>,
    transactions: Vec<FakeTransaction>,
    holdings: Vec<Value>,
}

impl FakeAccount {
    fn json(&self, start: i64, end: i64, pending: bool, balances_only: bool, v2: bool, today: Date) -> Value {
        let (_, org, domain) = ORGS.iter().find(|(id, ..)| *id == self.conn).copied().unwrap_or(ORGS[0]);
        let mut a = json!({
            "id": self.id, "name": self.name, "currency": self.currency, "balance": self.balance,
            "available-balance": self.available, "balance-date": epoch(today) + 3600,
        });
        if v2 {
            a["conn_id"] = json!(self.conn);
        } else {
            a["org"] = json!({"domain": domain, "name": org, "sfin-url": "https://bridge.example/simplefin", "url": format!("https://{domain}")});
        }
        if balances_only {
            return a;
        }
        let txns: Vec<Value> = self
            .transactions
            .iter()
            .filter_map(|(id, days, amount, description, payee)| {
                let at = match days {
                    Some(d) => epoch(today - Duration::days(*d)) + 43_200,
                    None if pending => epoch(today) + 1800,
                    None => return None,
                };
                if at < start || at >= end {
                    return None;
                }
                let posted = if days.is_some() { at } else { 0 };
                let mut t = json!({"id": id, "posted": posted, "amount": amount, "description": description, "transacted_at": at});
                if days.is_none() {
                    t["pending"] = json!(true);
                }
                if let Some(p) = payee {
                    t["payee"] = json!(p);
                }
                Some(t)
            })
            .collect();
        a["transactions"] = json!(txns);
        if !self.holdings.is_empty() {
            a["holdings"] = json!(self.holdings);
        }
        a
    }
}

fn t(
    id: &str,
    days: Option<i64>,
    amount: &str,
    description: &str,
    payee: Option<&str>,
) -> (String, Option<i64>, String, String, Option<String>) {
    (id.into(), days, amount.into(), description.into(), payee.map(str::to_owned))
}

fn data(user: &str, today: Date, posted: bool) -> Vec<FakeAccount> {
    if let Some(n) = user.strip_prefix("big-").and_then(|n| n.parse::<usize>().ok()) {
        let transactions = (0..n.min(1_000_000))
            .map(|i| {
                let cents = 100 + (i * 7919) % 100_000;
                let amount = format!("{}{}.{:02}", if i % 5 == 0 { "" } else { "-" }, cents / 100, cents % 100);
                (format!("BIG-{i}"), Some((i % 85) as i64 + 1), amount, format!("Merchant {}", i % 97), None)
            })
            .collect();
        return vec![FakeAccount {
            id: "BIG",
            conn: "CON-A",
            name: "Busy Checking",
            currency: "USD",
            balance: "98765.43",
            available: None,
            transactions,
            holdings: Vec::new(),
        }];
    }
    let _ = today;
    let pending = if posted {
        t("T3P", Some(0), "-12.00", "GAS STATION 42", Some("Gas Station"))
    } else {
        t("T3", None, "-12.00", "GAS STATION 42", Some("Gas Station"))
    };
    vec![
        FakeAccount {
            id: "A-CHK",
            conn: "CON-A",
            name: "Everyday Checking",
            currency: "USD",
            balance: "1234.56",
            available: Some("1200.00"),
            transactions: vec![
                t("T1", Some(3), "-33.43", "COFFEE SHOP #123 SEATTLE", Some("Coffee Shop")),
                t("T2", Some(40), "2500.00", "PAYROLL ACME CORP", None),
                pending,
                t("T4", Some(80), "-75.10", "HARDWARE STORE", None),
            ],
            holdings: Vec::new(),
        },
        FakeAccount {
            id: "B-VISA",
            conn: "CON-B",
            name: "Visa Signature Card",
            currency: "USD",
            balance: "-432.10",
            available: Some("4567.90"),
            transactions: vec![t("V1", Some(5), "-19.99", "STREAMING SERVICE", Some("Streaming Co"))],
            holdings: Vec::new(),
        },
        FakeAccount {
            id: "C-EUR",
            conn: "CON-A",
            name: "Euro Savings",
            currency: "EUR",
            balance: "1000.01",
            available: None,
            transactions: vec![t("E1", Some(10), "0.01", "INTEREST", None)],
            holdings: Vec::new(),
        },
        FakeAccount {
            id: "D-BRK",
            conn: "CON-D",
            name: "Brokerage",
            currency: "USD",
            balance: "10500.00",
            available: None,
            transactions: Vec::new(),
            holdings: vec![json!({
                "id": "H1", "created": 1_700_000_000, "currency": "USD", "symbol": "VTI",
                "description": "Vanguard Total Stock Market ETF", "shares": "10.5",
                "purchase_price": "190.4761", "cost_basis": "2000.00", "market_value": "2625.00"
            })],
        },
    ]
}
