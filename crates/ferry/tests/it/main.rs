//! The real binary: `ferry serve` on 127.0.0.1:0 over a socket, the CLI's contract, and a
//! search of the database files and logs for a canary password.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CANARY: &str = "smoke-canary-9b7e2d-Pw";

fn ferry(db_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.env_remove("FERRY_MASTER_KEY").env("FERRY_DATABASE_URL", db_url);
    c
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-smoke-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

struct Server {
    child: Child,
    addr: String,
    stdout_lines: Vec<String>,
}

impl Server {
    fn start(db_url: &str, log_path: &Path) -> Server {
        Self::start_with(db_url, log_path, &[])
    }

    fn start_with(db_url: &str, log_path: &Path, env: &[(&str, &str)]) -> Server {
        let log = std::fs::File::create(log_path).unwrap();
        let mut command = ferry(db_url);
        command.envs(env.iter().copied());
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("FERRY_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let mut line = String::new();
            assert!(Instant::now() < deadline, "server did not start");
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("server exited: {lines:?}");
            }
            if let Some(rest) = line.trim().strip_prefix("Ferry listening on http://") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            lines.push(line.trim().to_owned());
        };
        Server { child, addr, stdout_lines: lines }
    }

    /// One HTTP/1.1 request over a fresh connection.
    fn request(&self, method: &str, path: &str, auth: &str, body: Option<&Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {auth}\r\nAccept: application/vnd.mx.api.v1+json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status: u16 = response.split_whitespace().nth(1).unwrap().parse().unwrap();
        let payload = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        (status, serde_json::from_str(payload).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn serve_the_cli_and_no_plaintext_anywhere() {
    let dir = temp_dir();
    let db_path = dir.join("ferry.db");
    let db_url = format!("sqlite://{}", db_path.display());

    let migrate = ferry(&db_url).arg("migrate").output().unwrap();
    assert!(migrate.status.success(), "{migrate:?}");

    let log_path = dir.join("server.log");
    let server = Server::start(&db_url, &log_path);
    // First start with no clients prints a development client once.
    let printed = server.stdout_lines.join("\n");
    assert!(printed.contains("client_id: CLT-"), "{printed}");
    assert!(printed.contains("api_key:"), "{printed}");

    // The key file is beside the database, readable by its owner only.
    let key_file = dir.join("ferry.db.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let created = ferry(&db_url).args(["clients", "create", "smoke", "--json"]).output().unwrap();
    assert!(created.status.success(), "{created:?}");
    let creds: Value = serde_json::from_slice(&created.stdout).unwrap();
    let (id, key) = (creds["client_id"].as_str().unwrap().to_owned(), creds["api_key"].as_str().unwrap().to_owned());
    let auth = b64(&format!("{id}:{key}"));

    let listed = ferry(&db_url).args(["clients", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));

    let (status, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": { "id": "smoke-user" } })));
    assert_eq!(status, 200, "{body}");
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    let member_body = json!({ "member": { "institution_code": "mxbank", "credentials": [
        { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
        { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": CANARY } ] } });
    let (status, body) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member_body));
    assert_eq!(status, 202, "{body}");
    let (status, _) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member_body));
    assert_eq!(status, 409);
    let (status, _) = server.request("GET", "/health", "", None);
    assert_eq!(status, 200);

    // Rotating the key locks the old one out (after the auth cache's few seconds at most).
    let rotated = ferry(&db_url).args(["clients", "rotate-key", &id, "--json"]).output().unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    let new_key: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    let new_auth = b64(&format!("{id}:{}", new_key["api_key"].as_str().unwrap()));
    assert_eq!(server.request("GET", "/users", &new_auth, None).0, 200);

    drop(server);
    let mut haystack = std::fs::read(&log_path).unwrap();
    assert!(haystack.len() > 100, "the server logged at trace level");
    for suffix in ["", "-wal", "-shm"] {
        haystack.extend(std::fs::read(format!("{}{suffix}", db_path.display())).unwrap_or_default());
    }
    assert!(!haystack.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "canary found in the logs or database");
    assert!(key_file.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_database_urls_fail_clearly() {
    let out = ferry("mysql://x").arg("migrate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

/// A child process that is killed when dropped, even when a test panics.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls the member's status until `done` says so, for at most `secs` seconds.
fn wait_for(server: &Server, auth: &str, path: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (status, body) = server.request("GET", path, auth, None);
        assert_eq!(status, 200, "{body}");
        if done(&body["member"]) {
            return body["member"].clone();
        }
        assert!(Instant::now() < deadline, "gave up waiting: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_job_survives_kill_9_of_its_worker() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let env = [("FERRY_JOB_LEASE_SECS", "2"), ("FERRY_WORKERS", "1")];
    let server = Server::start_with(&db_url, &dir.join("first.log"), &env);
    let created = ferry(&db_url).args(["clients", "create", "crash", "--json"]).output().unwrap();
    let creds: Value = serde_json::from_slice(&created.stdout).unwrap();
    let auth = b64(&format!("{}:{}", creds["client_id"].as_str().unwrap(), creds["api_key"].as_str().unwrap()));
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    let member_body = json!({ "member": { "institution_code": "mxbank", "credentials": [
        { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
        { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": "slow" } ] } });
    let (status, body) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member_body));
    assert_eq!(status, 202, "{body}");
    let member = body["member"]["guid"].as_str().unwrap().to_owned();
    let status_path = format!("/users/{user}/members/{member}/status");
    // The worker has claimed the job (the sandbox's `slow` login takes 3 s) ...
    wait_for(&server, &auth, &status_path, 10, |m| m["aggregated_at"].is_string());
    // ... and dies with it.
    drop(server);

    let server = Server::start_with(&db_url, &dir.join("second.log"), &env);
    let m = wait_for(&server, &auth, &status_path, 30, |m| {
        m["connection_status"] == "CONNECTED" && m["is_being_aggregated"] == false
    });
    assert_eq!(m["has_processed_transactions"], true);
    let count = |server: &Server| {
        let (_, body) = server.request("GET", &format!("/users/{user}/transactions?records_per_page=10"), &auth, None);
        body["pagination"]["total_entries"].as_i64().unwrap()
    };
    let first = count(&server);
    assert!(first > 100, "{first}");
    // Running the job again changes nothing.
    let (status, _) =
        server.request("POST", &format!("/users/{user}/members/{member}/aggregate"), &auth, Some(&json!({})));
    assert_eq!(status, 202);
    std::thread::sleep(Duration::from_millis(200));
    wait_for(&server, &auth, &status_path, 30, |m| m["is_being_aggregated"] == false);
    assert_eq!(count(&server), first);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two `ferry worker` processes share one PostgreSQL queue: every job runs, and none is
/// claimed twice (each is attempted exactly once). Needs FERRY_TEST_POSTGRES_URL and psql.
#[test]
fn two_workers_share_a_postgres_queue_without_running_a_job_twice() {
    let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FERRY_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("ferry_workers_{}", rand_suffix() % 1_000_000_000);
    let psql = |db: &str, sql: &str| {
        let url = format!("{}/{db}", admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin));
        let out = Command::new("psql").args([url.as_str(), "-qAtX", "-c", sql]).output().expect("psql");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    psql("postgres", &format!("CREATE DATABASE {name}"));
    let db_url = format!("{}/{name}", admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin));
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let env = [("FERRY_MASTER_KEY", key), ("FERRY_WORKERS", "3")];
    let dir = temp_dir();
    let server =
        Server::start_with(&db_url, &dir.join("api.log"), &[("FERRY_MASTER_KEY", key), ("FERRY_NO_WORKERS", "true")]);
    let _workers: Vec<Killed> = (0..2)
        .map(|i| {
            ferry(&db_url)
                .arg("worker")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("worker-{i}.log"))).unwrap())
                .spawn()
                .map(Killed)
                .unwrap()
        })
        .collect();

    let created =
        ferry(&db_url).args(["clients", "create", "queue", "--json"]).env("FERRY_MASTER_KEY", key).output().unwrap();
    let creds: Value = serde_json::from_slice(&created.stdout).unwrap();
    let auth = b64(&format!("{}:{}", creds["client_id"].as_str().unwrap(), creds["api_key"].as_str().unwrap()));
    let members: Vec<(String, String)> = (0..24)
        .map(|i| {
            let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
            let user = body["user"]["guid"].as_str().unwrap().to_owned();
            let password = if i % 3 == 0 { "slow".to_owned() } else { format!("pw-{i}") };
            let body = json!({ "member": { "institution_code": "mxbank", "credentials": [
                { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
                { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": password } ] } });
            let (status, body) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&body));
            assert_eq!(status, 202, "{body}");
            (user, body["member"]["guid"].as_str().unwrap().to_owned())
        })
        .collect();
    for (user, m) in &members {
        wait_for(&server, &auth, &format!("/users/{user}/members/{m}/status"), 60, |s| {
            s["connection_status"] == "CONNECTED" && s["is_being_aggregated"] == false
        });
    }
    assert_eq!(psql(&name, "SELECT COUNT(*) FROM jobs WHERE status = 'SUCCEEDED'"), "24");
    assert_eq!(psql(&name, "SELECT MAX(attempts) FROM jobs"), "1", "no job was claimed twice");
    drop(_workers);
    drop(server);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A webhook receiver on 127.0.0.1 for the binary's tests: one thread per connection, records
/// (event id, body) of each request, holds the first request `hold_first` before answering 204.
struct HookReceiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    first_arrived: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HookReceiver {
    fn start(hold_first: Duration) -> HookReceiver {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
        let first_arrived = std::sync::Arc::new(AtomicBool::new(false));
        let (g, f) = (got.clone(), first_arrived.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (g, f) = (g.clone(), f.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut headers = Vec::new();
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            headers.push(line.trim().to_owned());
                        }
                        let header = |name: &str| {
                            headers.iter().find_map(|h| {
                                let (k, v) = h.split_once(':')?;
                                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                            })
                        };
                        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                        let mut body = vec![0u8; len];
                        reader.read_exact(&mut body).unwrap();
                        let id = header("ferry-event-id").unwrap_or_default();
                        g.lock().unwrap().push((id, String::from_utf8_lossy(&body).into_owned()));
                        if !f.swap(true, Ordering::SeqCst) {
                            std::thread::sleep(hold_first);
                        }
                        if stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        HookReceiver { url, got, first_arrived }
    }

    fn ids(&self) -> Vec<String> {
        self.got.lock().unwrap().iter().map(|(id, _)| id.clone()).collect()
    }

    fn wait_for_distinct(&self, n: usize, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mut ids = self.ids();
            ids.sort();
            ids.dedup();
            if ids.len() >= n {
                return ids;
            }
            assert!(Instant::now() < deadline, "only {} of {n} events arrived: {:?}", ids.len(), self.ids());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn add_webhook(db_url: &str, client: &str, url: &str, env: &[(&str, &str)]) -> Value {
    let out = ferry(db_url)
        .envs(env.iter().copied())
        .args(["webhooks", "add", "--client", client, "--url", url, "--json"])
        .env("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn kill_9_in_the_middle_of_a_delivery_loses_nothing() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let receiver = HookReceiver::start(Duration::from_secs(4));
    let env = [("FERRY_WEBHOOK_LEASE_SECS", "2"), ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")];
    let server = Server::start_with(&db_url, &dir.join("first.log"), &env);
    let created = ferry(&db_url).args(["clients", "create", "hooks", "--json"]).output().unwrap();
    let creds: Value = serde_json::from_slice(&created.stdout).unwrap();
    let client = creds["client_id"].as_str().unwrap();
    let auth = b64(&format!("{client}:{}", creds["api_key"].as_str().unwrap()));
    // Without the loopback switch, the CLI refuses the receiver's address.
    let refused = ferry(&db_url)
        .args(["webhooks", "add", "--client", client, "--url", &receiver.url])
        .env_remove("FERRY_WEBHOOKS_ALLOW_LOOPBACK")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let hook = add_webhook(&db_url, client, &receiver.url, &[]);
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    for _ in 0..5 {
        let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
        let user = body["user"]["guid"].as_str().unwrap().to_owned();
        let member = json!({ "member": { "institution_code": "mxbank", "skip_aggregation": true, "credentials": [
            { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
            { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": "password" } ] } });
        let (status, _) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member));
        assert_eq!(status, 200);
    }
    // The first delivery is in flight (the receiver holds it): kill -9.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !receiver.first_arrived.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "no delivery started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);

    let server = Server::start_with(&db_url, &dir.join("second.log"), &env);
    let ids = receiver.wait_for_distinct(5, 30);
    assert_eq!(ids.len(), 5);
    // The delivery cut off by the kill is sent again once its lease has run out.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = ferry(&db_url).args(["webhooks", "deliveries", "--client", client, "--json"]).output().unwrap();
        let log: Value = serde_json::from_slice(&log.stdout).unwrap();
        let deliveries = log["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 5);
        if deliveries.iter().all(|d| d["status"] == "DELIVERED") {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let all = receiver.ids();
    let first = &all[0];
    assert!(all.iter().filter(|id| *id == first).count() >= 2, "the interrupted event came again, same id: {all:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two `ferry worker` processes deliver from one PostgreSQL database: every event arrives,
/// none twice, and each member's events in order.
#[test]
fn two_processes_deliver_from_one_postgres_database_without_duplicates() {
    let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FERRY_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("ferry_hooks_{}", rand_suffix() % 1_000_000_000);
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin.clone());
    let psql = |db: &str, sql: &str| {
        let out = Command::new("psql").args([format!("{base}/{db}").as_str(), "-qAtX", "-c", sql]).output().unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    psql("postgres", &format!("CREATE DATABASE {name}"));
    let db_url = format!("{base}/{name}");
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let dir = temp_dir();
    let receiver = HookReceiver::start(Duration::ZERO);
    let server =
        Server::start_with(&db_url, &dir.join("api.log"), &[("FERRY_MASTER_KEY", key), ("FERRY_NO_WORKERS", "true")]);
    let created =
        ferry(&db_url).args(["clients", "create", "hooks", "--json"]).env("FERRY_MASTER_KEY", key).output().unwrap();
    let creds: Value = serde_json::from_slice(&created.stdout).unwrap();
    let client = creds["client_id"].as_str().unwrap();
    let auth = b64(&format!("{client}:{}", creds["api_key"].as_str().unwrap()));
    add_webhook(&db_url, client, &receiver.url, &[("FERRY_MASTER_KEY", key)]);
    let _workers: Vec<Killed> = (0..2)
        .map(|i| {
            ferry(&db_url)
                .arg("worker")
                .envs([("FERRY_MASTER_KEY", key), ("FERRY_WORKERS", "2"), ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("worker-{i}.log"))).unwrap())
                .spawn()
                .map(Killed)
                .unwrap()
        })
        .collect();
    let members = 12;
    for i in 0..members {
        let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
        let user = body["user"]["guid"].as_str().unwrap().to_owned();
        let member = json!({ "member": { "institution_code": "mxbank", "credentials": [
            { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
            { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": format!("pw-{i}") } ] } });
        let (status, _) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&member));
        assert_eq!(status, 202);
    }
    // Per member: MEMBER created, MEMBER updated (CONNECTED), AGGREGATION member_data_updated.
    receiver.wait_for_distinct(members * 3, 90);
    std::thread::sleep(Duration::from_millis(500));
    let got = receiver.got.lock().unwrap().clone();
    let mut ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "an event was delivered twice");
    let mut order: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (_, body) in &got {
        let b: Value = serde_json::from_str(body).unwrap();
        let member = b["member"]["guid"].as_str().or(b["member_guid"].as_str()).unwrap().to_owned();
        order.entry(member).or_default().push(format!(
            "{}.{}",
            b["type"].as_str().unwrap(),
            b["action"].as_str().unwrap()
        ));
    }
    for (member, kinds) in order {
        assert_eq!(kinds, ["MEMBER.created", "MEMBER.updated", "AGGREGATION.member_data_updated"], "{member}");
    }
    drop(_workers);
    drop(server);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(&dir);
}
