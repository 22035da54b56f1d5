//! Helpers for the binary's tests: the real `ferry` process on 127.0.0.1:0, requests over
//! plain sockets, a webhook receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn ferry(db_url: &str) -> Command {
    // FERRY_TEST_BIN runs the tests against another build (an older one, to show a test catches
    // what it is meant to catch).
    let bin = std::env::var("FERRY_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ferry").to_owned());
    let mut c = Command::new(bin);
    c.env_remove("FERRY_MASTER_KEY").env("FERRY_DATABASE_URL", db_url);
    c
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-smoke-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stdout_lines: Vec<String>,
}

impl Server {
    pub fn start(db_url: &str, log_path: &Path) -> Server {
        Self::start_with(db_url, log_path, &[])
    }

    pub fn start_with(db_url: &str, log_path: &Path, env: &[(&str, &str)]) -> Server {
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
    pub fn request(&self, method: &str, path: &str, auth: &str, body: Option<&Value>) -> (u16, Value) {
        self.try_request(method, path, auth, body).unwrap()
    }

    /// One HTTP/1.1 request over a fresh connection; an error when the server is gone.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        request_at(&self.addr, method, path, auth, body)
    }
}

/// One HTTP/1.1 request to `addr` over a fresh connection.
pub fn request_at(
    addr: &str,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nAccept: application/vnd.mx.api.v1+json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status: u16 = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no status line"))?;
    let payload = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok((status, serde_json::from_str(payload).unwrap_or(Value::Null)))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn b64(s: &str) -> String {
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

/// A child process that is killed when dropped, even when a test panics.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls the member's status until `done` says so, for at most `secs` seconds.
pub fn wait_for(server: &Server, auth: &str, path: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
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

/// A webhook receiver on 127.0.0.1 for the binary's tests: one thread per connection, records
/// (event id, body) of each request, holds the first request `hold_first` before answering 204.
pub struct HookReceiver {
    pub url: String,
    pub got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    pub first_arrived: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HookReceiver {
    pub fn start(hold_first: Duration) -> HookReceiver {
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

    pub fn ids(&self) -> Vec<String> {
        self.got.lock().unwrap().iter().map(|(id, _)| id.clone()).collect()
    }

    pub fn wait_for_distinct(&self, n: usize, secs: u64) -> Vec<String> {
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

pub fn add_webhook(db_url: &str, client: &str, url: &str, env: &[(&str, &str)]) -> Value {
    let out = ferry(db_url)
        .envs(env.iter().copied())
        .args(["webhooks", "add", "--client", client, "--url", url, "--json"])
        .env("FERRY_WEBHOOKS_ALLOW_LOOPBACK", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Creates a client with the CLI (with `env`, e.g. the master key); returns its id and the
/// value of an `Authorization: Basic` header for it.
pub fn new_client(db_url: &str, name: &str, env: &[(&str, &str)]) -> (String, String) {
    let out = ferry(db_url).envs(env.iter().copied()).args(["clients", "create", name, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let creds: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = creds["client_id"].as_str().unwrap().to_owned();
    let auth = b64(&format!("{id}:{}", creds["api_key"].as_str().unwrap()));
    (id, auth)
}

/// The body of `POST /users/{user}/members` for MX Bank with these credentials.
pub fn mxbank_member(login: &str, password: &str) -> Value {
    serde_json::json!({ "member": { "institution_code": "mxbank", "credentials": [
        { "guid": "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1", "value": login },
        { "guid": "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d", "value": password } ] } })
}
