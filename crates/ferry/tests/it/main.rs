//! The real binary: `ferry serve` on 127.0.0.1:0 over a socket, the CLI's contract, a search
//! of the database files and logs for a canary password, kill -9 of workers and deliverers, and
//! the crash storm.

#![allow(clippy::unwrap_used)]

mod connectors;
mod crash_storm;
mod keys;
mod metrics;
mod support;
mod two_nodes;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::*;

const CANARY: &str = "smoke-canary-9b7e2d-Pw";

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

#[test]
fn a_job_survives_kill_9_of_its_worker() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let env = [("FERRY_JOB_LEASE_SECS", "2"), ("FERRY_WORKERS", "1")];
    let server = Server::start_with(&db_url, &dir.join("first.log"), &env);
    let (_, auth) = new_client(&db_url, "crash", &[]);
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

    let (_, auth) = new_client(&db_url, "queue", &[("FERRY_MASTER_KEY", key)]);
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

#[test]
fn kill_9_in_the_middle_of_a_delivery_loses_nothing() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let receiver = HookReceiver::start(Duration::from_secs(4));
    let env = [("FERRY_WEBHOOK_LEASE_SECS", "2"), ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")];
    let server = Server::start_with(&db_url, &dir.join("first.log"), &env);
    let (client, auth) = new_client(&db_url, "hooks", &[]);
    let client = client.as_str();
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
    let (client, auth) = new_client(&db_url, "hooks", &[("FERRY_MASTER_KEY", key)]);
    let client = client.as_str();
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

/// SIGTERM to a node with a job running: it stops accepting, hands the job back at once (not
/// after the 60 s lease), and exits 0; another node takes the job within a second, and the
/// member connects. Needs FERRY_TEST_POSTGRES_URL and psql.
#[test]
fn sigterm_hands_running_jobs_to_another_node_at_once() {
    let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FERRY_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("ferry_sigterm_{}", rand_suffix() % 1_000_000_000);
    let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin).to_owned();
    let psql = |db: &str, sql: &str| {
        let out =
            Command::new("psql").args([format!("{base}/{db}").as_str(), "-qAtX", "-c", sql]).output().expect("psql");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    psql("postgres", &format!("CREATE DATABASE {name}"));
    let db_url = format!("{base}/{name}");
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let dir = temp_dir();
    let mut node_a = Server::start_with(&db_url, &dir.join("a.log"), &[("FERRY_MASTER_KEY", key)]);
    let (_, auth) = new_client(&db_url, "term", &[("FERRY_MASTER_KEY", key)]);
    let (_, body) = node_a.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    // `slow`: a 3-second login, so the job is running when the signal comes.
    let body = json!({ "member": { "institution_code": "mxbank", "credentials": [
        { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
        { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": "slow" } ] } });
    let (status, body) = node_a.request("POST", &format!("/users/{user}/members"), &auth, Some(&body));
    assert_eq!(status, 202, "{body}");
    let member = body["member"]["guid"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let owner_a = loop {
        let owner = psql(&name, "SELECT COALESCE(lease_owner, '') FROM jobs WHERE status = 'RUNNING'");
        if !owner.is_empty() {
            break owner;
        }
        assert!(Instant::now() < deadline, "node A never claimed the job");
        std::thread::sleep(Duration::from_millis(20));
    };

    // Node B: workers only, on the same database.
    let node_b = Killed(
        ferry(&db_url)
            .arg("worker")
            .env("FERRY_MASTER_KEY", key)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("b.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));

    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &node_a.child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let exit = loop {
        if let Some(status) = node_a.child.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(15), "node A did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "node A exits 0: {exit:?}");
    let stopped = signalled.elapsed();
    let taken = loop {
        let owner = psql(&name, "SELECT COALESCE(lease_owner, '') FROM jobs");
        if !owner.is_empty() && owner != owner_a {
            break signalled.elapsed();
        }
        assert!(signalled.elapsed() < stopped + Duration::from_secs(5), "node B never took the job (owner {owner})");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(taken < stopped + Duration::from_secs(1), "taken {taken:?} after the signal; A stopped after {stopped:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = psql(
            &name,
            &format!("SELECT connection_status || ' ' || is_being_aggregated FROM members WHERE guid = '{member}'"),
        );
        if s == "CONNECTED false" {
            break;
        }
        assert!(Instant::now() < deadline, "the member never connected: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("a.log")).unwrap();
    assert!(log.contains("handed back running jobs"), "{log}");
    drop(node_b);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ferry backup PATH` while the server runs: the copy and its key restore together, and the
/// restored server opens the member's credentials (it aggregates with them).
#[test]
fn a_backup_restores_with_its_key_and_opens_the_credentials() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let server = Server::start(&db_url, &dir.join("server.log"));
    let (_, auth) = new_client(&db_url, "backup", &[]);
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    let body = json!({ "member": { "institution_code": "mxbank", "credentials": [
        { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": "mxuser" },
        { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": "password" } ] } });
    let (status, body) = server.request("POST", &format!("/users/{user}/members"), &auth, Some(&body));
    assert_eq!(status, 202, "{body}");
    let member = body["member"]["guid"].as_str().unwrap().to_owned();
    let path = format!("/users/{user}/members/{member}");
    let first = wait_for(&server, &auth, &path, 30, |m| {
        m["connection_status"] == "CONNECTED" && m["is_being_aggregated"] == false
    });

    let copy = dir.join("copy").join("backup.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let out = ferry(&db_url).arg("backup").arg(&copy).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let key_copy = dir.join("copy").join("backup.db.key");
    assert_eq!(std::fs::read(&key_copy).unwrap(), std::fs::read(dir.join("ferry.db.key")).unwrap());
    let again = ferry(&db_url).arg("backup").arg(&copy).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"), "{again:?}");
    drop(server);

    // Restore: the copy and its key, somewhere else; the member aggregates with its credentials.
    let restored_url = format!("sqlite://{}", copy.display());
    let restored = Server::start(&restored_url, &dir.join("restored.log"));
    let (status, _) = restored.request("POST", &format!("{path}/aggregate"), &auth, Some(&json!({})));
    assert_eq!(status, 202);
    let after = wait_for(&restored, &auth, &path, 30, |m| {
        m["is_being_aggregated"] == false && m["successfully_aggregated_at"] != first["successfully_aggregated_at"]
    });
    assert_eq!(after["connection_status"], "CONNECTED", "{after}");
}

/// `FERRY_LOG_FORMAT=json`: one JSON object per line, each request's with its request id.
/// The request id reaches the job the request queued (its log lines name the job and member)
/// and the webhook deliveries of the events it causes, through the database.
#[test]
fn the_request_id_follows_a_member_into_its_job_and_its_webhooks() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let log = dir.join("server.log");
    let receiver = HookReceiver::start(Duration::ZERO);
    let env = [("FERRY_LOG_FORMAT", "json"), ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")];
    let server = Server::start_with(&db_url, &log, &env);
    let (client, auth) = new_client(&db_url, "ids", &[]);
    add_webhook(&db_url, &client, &receiver.url, &[]);
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    let body = mxbank_member("mxuser", "password").to_string();
    let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "POST /users/{user}/members HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nX-Request-Id: member-run-42\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let member_guid: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let member_guid = member_guid["member"]["guid"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let job_line = lines.iter().any(|l| {
            l["span"]["name"] == "job"
                && l["span"]["request_id"] == "member-run-42"
                && l["span"]["member"] == member_guid.as_str()
                && l["span"]["job"].as_str().is_some_and(|j| j.starts_with("JOB-"))
        });
        let delivery_line =
            lines.iter().any(|l| l["span"]["name"] == "delivery" && l["span"]["request_id"] == "member-run-42");
        if job_line && delivery_line {
            break;
        }
        assert!(Instant::now() < deadline, "job line {job_line}, delivery line {delivery_line}:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!std::fs::read_to_string(&log).unwrap().contains("\"password\""), "no credential in the log");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_logs_carry_the_request_id() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let log = dir.join("server.log");
    let server = Server::start_with(&db_url, &log, &[("FERRY_LOG_FORMAT", "json")]);
    let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
    use std::io::{Read, Write};
    write!(stream, "GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-77\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.to_ascii_lowercase().contains("x-request-id: trace-77"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<Value> =
            text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect(l)).collect();
        if lines.iter().any(|l| l["span"]["request_id"] == "trace-77" && l["fields"]["route"] == "/health") {
            break;
        }
        assert!(Instant::now() < deadline, "no JSON line with the request id: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
