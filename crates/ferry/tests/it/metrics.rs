//! `--metrics-listen`: every metric moves when its event happens, with the real binary.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// The samples of a Prometheus text exposition: (name, labels) → value.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let body = rest.strip_suffix('}').unwrap();
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").unwrap();
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (n.to_owned(), labels)
            }
            None => (series.to_owned(), BTreeMap::new()),
        };
        out.push((name, labels, value.parse().unwrap()));
    }
    out
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
}

fn scrape(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{answer}");
    answer.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

/// Scrapes until `ok` holds, for at most 15 seconds.
fn until(addr: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = scrape(addr);
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never showed:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_move_when_their_events_happen() {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let receiver = HookReceiver::start(Duration::ZERO);
    let env = [
        ("FERRY_METRICS_LISTEN", "127.0.0.1:0"),
        ("FERRY_METRICS_REFRESH_SECS", "1"),
        ("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1"),
    ];
    let server = Server::start_with(&db_url, &dir.join("server.log"), &env);
    let metrics = server
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("Metrics on http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("the metrics address is printed")
        .to_owned();
    assert_ne!(metrics, server.addr, "metrics have a listener of their own");

    // At rest: the gauges are there, nothing has been counted.
    let text = until(&metrics, "the members gauge", |t| {
        value(t, "ferry_members", &[("connection_status", "CONNECTED")]).is_some()
    });
    assert_eq!(value(&text, "ferry_members", &[("connection_status", "CONNECTED")]), Some(0.0));
    assert_eq!(value(&text, "ferry_jobs_queued", &[]), Some(0.0));
    assert!(value(&text, "ferry_db_connections", &[("pool", "reader"), ("state", "open")]).unwrap() >= 1.0);
    assert!(value(&text, "ferry_jobs_total", &[]).is_none(), "{text}");

    let (client, auth) = new_client(&db_url, "metrics", &[]);
    add_webhook(&db_url, &client, &receiver.url, &[]);

    // Requests, by route template (never the raw path) and status.
    let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
    let user = body["user"]["guid"].as_str().unwrap().to_owned();
    server.request("GET", &format!("/users/{user}"), &auth, None);
    server.request("GET", &format!("/users/{user}"), "d3Jvbmc6a2V5", None);
    let text = scrape(&metrics);
    let requests = |route: &str, status: &str| {
        value(&text, "ferry_http_requests_total", &[("dialect", "platform"), ("route", route), ("status", status)])
    };
    assert_eq!(requests("POST /users", "200"), Some(1.0), "{text}");
    assert_eq!(requests("GET /users/{user}", "200"), Some(1.0), "{text}");
    assert_eq!(requests("GET /users/{user}", "401"), Some(1.0), "{text}");
    assert!(!text.contains(&user), "no raw path, no guid in a label");
    assert_eq!(
        value(&text, "ferry_http_request_duration_seconds_count", &[("route", "GET /users/{user}")]),
        Some(2.0),
        "{text}"
    );

    // A member that connects, and one whose login is wrong: jobs, deliveries, members.
    for login in ["mxuser", "nobody"] {
        let member = mxbank_member(login, "password");
        // A user each: the same login twice for one user would be a duplicate.
        let (_, body) = server.request("POST", "/users", &auth, Some(&json!({ "user": {} })));
        let owner = body["user"]["guid"].as_str().unwrap().to_owned();
        let (status, body) = server.request("POST", &format!("/users/{owner}/members"), &auth, Some(&member));
        assert_eq!(status, 202, "{body}");
    }
    let text = until(&metrics, "both jobs, their deliveries and the members", |t| {
        value(t, "ferry_jobs_total", &[("type", "AGGREGATION"), ("outcome", "succeeded")]) == Some(1.0)
            && value(t, "ferry_jobs_total", &[("type", "AGGREGATION"), ("outcome", "failed")]) == Some(1.0)
            && value(t, "ferry_members", &[("connection_status", "CONNECTED")]) == Some(1.0)
            && value(t, "ferry_members", &[("connection_status", "DENIED")]) == Some(1.0)
            && value(t, "ferry_webhook_deliveries_total", &[("outcome", "delivered")]).is_some_and(|n| n >= 2.0)
    });
    assert_eq!(value(&text, "ferry_job_duration_seconds_count", &[("type", "AGGREGATION")]), Some(2.0), "{text}");
    let delivered = value(&text, "ferry_webhook_deliveries_total", &[("outcome", "delivered")]).unwrap();
    assert_eq!(value(&text, "ferry_webhook_delivery_lag_seconds_count", &[]), Some(delivered), "{text}");
    assert_eq!(value(&text, "ferry_jobs_queued", &[]), Some(0.0));
    assert!(text.contains("# HELP ferry_jobs_total"), "described");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
