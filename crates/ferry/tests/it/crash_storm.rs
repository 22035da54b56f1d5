//! The crash storm: rounds of load on the real binary (member creation with aggregation, manual
//! aggregations, MFA answers, member and user deletion, reads, webhook deliveries to a local
//! receiver), each ended by `kill -9` at a random moment, then a restart. After the last round, once the
//! restarted server has had a lease and a margin, nothing may be stuck or lost:
//!
//! - every member is idle, in a status a job ends with, and agrees with its latest job;
//! - no job is queued or running, and every job that succeeded has its webhook event;
//! - no transaction is listed twice;
//! - every event reached the receiver (once, after deduplication by event id), nothing is
//!   left in the outbox, and the reconciler repaired nothing (it is a safety net only);
//! - no request got a 5xx.
//!
//! The kill moments and the load come from a seed, printed so a failure can be replayed:
//! `FERRY_CRASH_SEED=<seed> FERRY_CRASH_ROUNDS=<n> cargo test -p ferry --test it crash_storm`.
//! CI runs a few rounds on SQLite and, with `FERRY_TEST_POSTGRES_URL`, on PostgreSQL.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const LOGIN: &str = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1";
const PASSWORD: &str = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d";
const MASTER_KEY: &str = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";
/// Concurrent clients during a round.
const CLIENTS: usize = 4;
/// How long the restarted server gets to settle: the job and delivery leases (2 s) and a margin.
const SETTLE: Duration = Duration::from_secs(60);

/// A small deterministic generator (xorshift64*): the storm needs reproducible choices, not
/// cryptographic ones.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn crash_storm_on_sqlite() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    storm(&db_url, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crash_storm_on_postgres() {
    let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FERRY_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("ferry_storm_{}", rand_suffix() % 1_000_000_000);
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin.clone());
    query(&admin, &format!("CREATE DATABASE {name}"));
    let dir = temp_dir();
    storm(&format!("{base}/{name}"), &dir);
    query(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the load saw, shared by its threads.
#[derive(Default)]
struct Seen {
    /// Requests answered with a 5xx: (request, status, body).
    server_errors: Vec<String>,
    requests: usize,
}

fn storm(db_url: &str, dir: &Path) {
    let seed = env_u64("FERRY_CRASH_SEED").unwrap_or_else(|| rand_suffix() as u64);
    let rounds = env_u64("FERRY_CRASH_ROUNDS").unwrap_or(3);
    let replay = format!("FERRY_CRASH_SEED={seed} FERRY_CRASH_ROUNDS={rounds} (database {db_url})");
    eprintln!("crash storm: {replay}");
    let env = [
        ("FERRY_MASTER_KEY", MASTER_KEY),
        ("FERRY_JOB_LEASE_SECS", "2"),
        ("FERRY_WEBHOOK_LEASE_SECS", "2"),
        ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1"),
    ];
    let migrate = ferry(db_url).envs(env).arg("migrate").output().unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    let (client, auth) = new_client(db_url, "storm", &env);
    let receiver = HookReceiver::start(Duration::ZERO);
    add_webhook(db_url, &client, &receiver.url, &env);

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut rng = Rng::new(seed);
    for round in 0..rounds {
        let server = Server::start_with(db_url, &dir.join(format!("round-{round}.log")), &env);
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (addr, auth, stop, seen) = (server.addr.clone(), auth.clone(), stop.clone(), seen.clone());
                let rng = Rng::new(seed ^ ((round << 8) | t as u64).wrapping_add(1));
                std::thread::spawn(move || load(&addr, &auth, rng, &stop, &seen))
            })
            .collect();
        let kill_after = Duration::from_millis(300 + rng.below(2200));
        std::thread::sleep(kill_after);
        // kill -9 (std's `kill` sends SIGKILL), at a moment the seed chose.
        drop(server);
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        eprintln!("crash storm: round {round} killed after {kill_after:?}");
    }

    // The last restart: no load, only recovery.
    let server = Server::start_with(db_url, &dir.join("recovery.log"), &env);
    let deadline = Instant::now() + SETTLE;
    loop {
        let busy = scalar(
            db_url,
            "SELECT COUNT(*) FROM members WHERE is_being_aggregated = TRUE
                OR connection_status IN ('CREATED', 'UPDATED', 'RESUMED')",
        );
        let active = scalar(db_url, "SELECT COUNT(*) FROM jobs WHERE status IN ('QUEUED', 'RUNNING')");
        let outbox = scalar(db_url, "SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'DELIVERED'");
        if busy == 0 && active == 0 && outbox == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled after {SETTLE:?}: {busy} members busy or in a transitional status, {active} jobs \
             active, {outbox} deliveries not delivered; replay with {replay}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let seen = seen.lock().unwrap();
    assert!(seen.server_errors.is_empty(), "5xx answers: {:?}; replay with {replay}", seen.server_errors);
    let members = scalar(db_url, "SELECT COUNT(*) FROM members");
    let jobs = scalar(db_url, "SELECT COUNT(*) FROM jobs");
    assert!(members > 0 && jobs > 0, "the load did nothing ({} requests); replay with {replay}", seen.requests);

    // Members agree with their jobs.
    let disagree = scalar(
        db_url,
        "SELECT COUNT(*) FROM members m JOIN jobs j ON j.guid = m.most_recent_job_guid
         WHERE (j.status IN ('SUCCEEDED', 'FAILED') AND j.outcome IS NOT NULL AND j.outcome <> m.connection_status)
            OR (j.status = 'CHALLENGED' AND m.connection_status <> 'CHALLENGED')",
    );
    assert_eq!(disagree, 0, "members that disagree with their latest job; replay with {replay}");
    let stray = scalar(
        db_url,
        "SELECT COUNT(*) FROM members m WHERE m.connection_status = 'CHALLENGED'
            AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.member_guid = m.guid AND j.status = 'CHALLENGED')",
    );
    assert_eq!(stray, 0, "CHALLENGED members without a challenge; replay with {replay}");

    // Every job that succeeded wrote its member_data_updated event.
    let missing = scalar(
        db_url,
        "SELECT COUNT(*) FROM jobs j WHERE j.status = 'SUCCEEDED' AND NOT EXISTS
            (SELECT 1 FROM webhook_events e WHERE e.member_guid = j.member_guid
                AND e.action = 'member_data_updated' AND e.payload LIKE '%' || j.guid || '%')",
    );
    assert_eq!(missing, 0, "succeeded jobs without their event; replay with {replay}");

    // No transaction twice, in the database or as a client lists them.
    let twice = scalar(
        db_url,
        "SELECT COUNT(*) FROM (SELECT member_guid, external_id FROM transactions
            GROUP BY member_guid, external_id HAVING COUNT(*) > 1) d",
    );
    assert_eq!(twice, 0, "transactions stored twice; replay with {replay}");
    for user in strings(db_url, "SELECT DISTINCT user_guid FROM members") {
        let mut guids = HashSet::new();
        let mut page = 1;
        loop {
            let path = format!("/users/{user}/transactions?records_per_page=1000&page={page}");
            let (status, body) = server.request("GET", &path, &auth, None);
            assert_eq!(status, 200, "{body}");
            for t in body["transactions"].as_array().unwrap() {
                let guid = t["guid"].as_str().unwrap().to_owned();
                assert!(guids.insert(guid.clone()), "transaction {guid} listed twice; replay with {replay}");
            }
            if page >= body["pagination"]["total_pages"].as_i64().unwrap_or(1) {
                assert_eq!(guids.len() as i64, body["pagination"]["total_entries"].as_i64().unwrap());
                break;
            }
            page += 1;
        }
    }

    // Every event reached the receiver; none it got is unknown.
    let events: HashSet<String> = strings(db_url, "SELECT guid FROM webhook_events").into_iter().collect();
    let received: HashSet<String> = receiver.ids().into_iter().collect();
    let lost: Vec<_> = events.difference(&received).collect();
    let unknown: Vec<_> = received.difference(&events).collect();
    assert!(lost.is_empty(), "{} events never delivered: {lost:?}; replay with {replay}", lost.len());
    assert!(unknown.is_empty(), "deliveries of unknown events: {unknown:?}; replay with {replay}");

    // The reconciler is a safety net: the writes themselves left nothing to repair.
    drop(server);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !log.contains("reconciler repaired"),
                "{}: the reconciler had to repair; replay with {replay}",
                path.display()
            );
        }
    }
    eprintln!(
        "crash storm: {rounds} rounds, {} requests, {members} members, {jobs} jobs, {} events, {} deliveries received",
        seen.requests,
        events.len(),
        receiver.ids().len()
    );
}

/// One client of the storm: creates users and members (some with MFA), aggregates, answers
/// challenges, deletes members and reads, until the server dies or the round stops.
fn load(addr: &str, auth: &str, mut rng: Rng, stop: &AtomicBool, seen: &Mutex<Seen>) {
    let mut user: Option<String> = None;
    let mut members: Vec<(String, String)> = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let call = |method: &str, path: &str, body: Option<Value>| -> Option<(u16, Value)> {
            let outcome = request_at(addr, method, path, auth, body.as_ref()).ok()?;
            let mut seen = seen.lock().unwrap();
            seen.requests += 1;
            if outcome.0 >= 500 {
                seen.server_errors.push(format!("{method} {path}: {} {}", outcome.0, outcome.1));
            }
            Some(outcome)
        };
        n += 1;
        let action = rng.below(100);
        let done = if user.is_none() || action < 5 {
            match call("POST", "/users", Some(json!({ "user": {} }))) {
                Some((200, body)) => {
                    user = body["user"]["guid"].as_str().map(str::to_owned);
                    Some(())
                }
                Some(_) => Some(()),
                None => None,
            }
        } else if action < 45 || members.is_empty() {
            let u = user.clone().unwrap();
            let password = match rng.below(10) {
                0..=1 => "challenge".to_owned(),
                2 => "options".to_owned(),
                3 => "LOCKED".to_owned(),
                4 => "DENIED".to_owned(),
                _ => format!("pw-{}-{n}", rng.next() % 1000),
            };
            let body = json!({ "member": { "institution_code": "mxbank", "credentials": [
                { "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": password } ] } });
            call("POST", &format!("/users/{u}/members"), Some(body)).map(|(status, body)| {
                if status == 202 {
                    members.push((u, body["member"]["guid"].as_str().unwrap_or_default().to_owned()));
                }
            })
        } else {
            let (u, m) = members[rng.below(members.len() as u64) as usize].clone();
            let base = format!("/users/{u}/members/{m}");
            match action {
                45..=59 => call("POST", &format!("{base}/aggregate"), Some(json!({}))).map(|_| ()),
                60..=79 => match call("GET", &format!("{base}/challenges"), None) {
                    Some((200, body)) => {
                        let answers: Vec<Value> = body["challenges"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|c| json!({ "guid": c["guid"], "value": "correct" }))
                            .collect();
                        let body = json!({ "member": { "challenges": answers } });
                        call("PUT", &format!("{base}/resume"), Some(body)).map(|_| ())
                    }
                    other => other.map(|_| ()),
                },
                80..=86 => {
                    members.retain(|(_, g)| *g != m);
                    call("DELETE", &base, None).map(|_| ())
                }
                // A user's deletion takes its members and their jobs with it (a cascade that
                // meets workers claiming and ending those jobs).
                87 => {
                    members.retain(|(owner, _)| *owner != u);
                    if user.as_deref() == Some(u.as_str()) {
                        user = None;
                    }
                    call("DELETE", &format!("/users/{u}"), None).map(|_| ())
                }
                _ => call("GET", &format!("/users/{u}/transactions?records_per_page=50"), None).map(|_| ()),
            }
        };
        if done.is_none() {
            return; // The server is gone.
        }
    }
}

/// A single number from the database, through a connection of the test's own.
fn scalar(db_url: &str, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    block(async {
        if db_url.starts_with("sqlite:") {
            let mut c = sqlite(db_url).await;
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
        } else {
            let mut c = postgres(db_url).await;
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
        }
    })
}

/// A column of text from the database.
fn strings(db_url: &str, sql: &str) -> Vec<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    block(async {
        if db_url.starts_with("sqlite:") {
            let mut c = sqlite(db_url).await;
            sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
        } else {
            let mut c = postgres(db_url).await;
            sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
        }
    })
}

/// A statement on a PostgreSQL server (creating and dropping the storm's database).
fn query(db_url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    block(async {
        let mut c = postgres(db_url).await;
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    })
}

async fn sqlite(db_url: &str) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    let options: sqlx::sqlite::SqliteConnectOptions = db_url.parse().unwrap();
    options.read_only(true).connect().await.unwrap()
}

async fn postgres(db_url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(db_url).await.unwrap()
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}
