//! Two `serve` nodes (API and workers each) on one PostgreSQL database, under load from
//! several clients at once; one node is killed with -9 in the middle. Nothing acknowledged is
//! lost: every member answered 202 exists once, connects, and has its webhook events.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

#[test]
fn killing_one_of_two_nodes_under_load_loses_nothing_acknowledged() {
    let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FERRY_TEST_POSTGRES_URL is not set");
        return;
    };
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin.clone());
    let name = format!("ferry_nodes_{}", rand_suffix() % 1_000_000_000);
    let psql = |sql: &str| {
        let out =
            Command::new("psql").args([format!("{base}/postgres").as_str(), "-qAtX", "-c", sql]).output().unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    };
    psql(&format!("CREATE DATABASE {name}"));
    let db_url = format!("{base}/{name}");
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let dir = temp_dir();
    let receiver = HookReceiver::start(Duration::ZERO);
    // Short leases: the killed node's jobs and deliveries are taken over within seconds.
    let env = [
        ("FERRY_MASTER_KEY", key),
        ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1"),
        ("FERRY_JOB_LEASE_SECS", "2"),
        ("FERRY_WEBHOOK_LEASE_SECS", "2"),
        ("FERRY_WORKERS", "2"),
    ];
    let doomed = Server::start_with(&db_url, &dir.join("a.log"), &env);
    let survivor = Server::start_with(&db_url, &dir.join("b.log"), &env);
    let (client, auth) = new_client(&db_url, "nodes", &[("FERRY_MASTER_KEY", key)]);
    add_webhook(&db_url, &client, &receiver.url, &[("FERRY_MASTER_KEY", key)]);

    // Four clients, each alternating between the nodes: a user, then its member (202 = acknowledged).
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addrs = [doomed.addr.clone(), survivor.addr.clone()];
    let drivers: Vec<_> = (0..4)
        .map(|t| {
            let (acknowledged, stop, addrs, auth) = (acknowledged.clone(), stop.clone(), addrs.clone(), auth.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let addr = &addrs[i % 2];
                    i += 1;
                    let Ok((200, body)) = request_at(addr, "POST", "/users", &auth, Some(&json!({ "user": {} })))
                    else {
                        continue; // the node is gone: nothing was acknowledged
                    };
                    let user = body["user"]["guid"].as_str().unwrap().to_owned();
                    let member = mxbank_member("mxuser", "password");
                    if let Ok((202, body)) =
                        request_at(addr, "POST", &format!("/users/{user}/members"), &auth, Some(&member))
                    {
                        let guid = body["member"]["guid"].as_str().unwrap().to_owned();
                        acknowledged.lock().unwrap().push((user, guid));
                    }
                }
            })
        })
        .collect();
    // Load for a while, then kill -9 one node in the middle of it; more load on the other.
    std::thread::sleep(Duration::from_millis(1500));
    let before = acknowledged.lock().unwrap().len();
    let mut doomed = doomed;
    doomed.child.kill().unwrap(); // SIGKILL
    let _ = doomed.child.wait();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for d in drivers {
        d.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        before >= 4 && acknowledged.len() > before,
        "load on both sides of the kill: {before} then {}",
        acknowledged.len()
    );

    // Every acknowledged member: exactly one member for its user, CONNECTED, with its events.
    let deadline = Instant::now() + Duration::from_secs(120);
    for (user, member) in &acknowledged {
        loop {
            let (status, body) = survivor.request("GET", &format!("/users/{user}/members"), &auth, None);
            assert_eq!(status, 200, "{body}");
            let members = body["members"].as_array().unwrap();
            assert_eq!(members.len(), 1, "user {user} has exactly its member: {body}");
            assert_eq!(members[0]["guid"], json!(member));
            let m = &members[0];
            if m["connection_status"] == "CONNECTED" && m["is_being_aggregated"] == false {
                break;
            }
            assert!(Instant::now() < deadline, "member {member} never connected: {m}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let wanted: BTreeSet<&str> = ["MEMBER.created", "AGGREGATION.member_data_updated"].into();
    loop {
        let got = receiver.got.lock().unwrap().clone();
        let mut kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, body) in &got {
            let b: Value = serde_json::from_str(body).unwrap();
            if let Some(m) = b["member"]["guid"].as_str().or(b["member_guid"].as_str()) {
                kinds.entry(m.to_owned()).or_default().insert(format!(
                    "{}.{}",
                    b["type"].as_str().unwrap(),
                    b["action"].as_str().unwrap()
                ));
            }
        }
        let missing: Vec<&String> = acknowledged
            .iter()
            .map(|(_, m)| m)
            .filter(|m| kinds.get(*m).is_none_or(|k| !wanted.iter().all(|w| k.contains(*w))))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} members lack events: {missing:?}",
            missing.len(),
            acknowledged.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "{} members acknowledged ({before} before the kill), all connected with their events",
        acknowledged.len()
    );
    drop(survivor);
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    let _ = std::fs::remove_dir_all(&dir);
}
