//! `TestApp`: a router over a fresh database per backend, two clients, and typed helpers.

use std::future::{Future, IntoFuture};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use ferry_connector::{AccountData, Answer, Connector, LoginOutcome, LoginRequest, Sandbox, Session, TransactionData};
use ferry_core::{Db, FixedIds, Keyring, ManualClock, MasterKey, Service};
use ferry_domain::Client;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const MXBANK: &str = "mxbank";
pub const LOGIN: &str = "CRD-9f61fb4c-912c-bd1e-b175-ccc7f0275cc1";
pub const PASSWORD: &str = "CRD-e3d7ea81-aac7-05e9-fbdd-4b493c6e474d";

/// The name of a connector that behaves as the sandbox but, like a real institution's, is
/// subject to the aggregation throttle.
pub const THROTTLED_CONNECTOR: &str = "throttled-sandbox";

pub struct Throttled;

#[async_trait::async_trait]
impl Connector for Throttled {
    async fn login(&self, r: &LoginRequest) -> ferry_connector::Result<LoginOutcome> {
        Sandbox.login(r).await
    }
    async fn answer(&self, r: &LoginRequest, state: &str, a: &[Answer]) -> ferry_connector::Result<LoginOutcome> {
        Sandbox.answer(r, state, a).await
    }
    async fn accounts(&self, s: &Session) -> ferry_connector::Result<Vec<AccountData>> {
        Sandbox.accounts(s).await
    }
    async fn transactions(
        &self,
        s: &Session,
        account: &str,
        from: time::Date,
        to: time::Date,
    ) -> ferry_connector::Result<Vec<TransactionData>> {
        Sandbox.transactions(s, account, from, to).await
    }
}

pub struct TestApp {
    pub router: Router,
    pub service: Service,
    pub client: Client,
    pub auth: String,
    pub other_auth: String,
    /// The client's credentials as Atrium sends them: (MX-Client-ID, MX-API-Key).
    pub atrium: (String, String),
    pub other_atrium: (String, String),
    /// The SQLite file, when the backend is SQLite.
    pub sqlite_path: Option<std::path::PathBuf>,
    /// The database's URL, for tests that reach past the store (to break it on purpose).
    pub database_url: String,
    pub clock: Arc<ManualClock>,
    /// Where the app's real listener answers (OAuth pages, the sandbox provider).
    pub public_url: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

fn basic(id: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{key}")))
}

impl TestApp {
    async fn new(db: Db, sqlite_path: Option<std::path::PathBuf>, database_url: String) -> TestApp {
        db.migrate().await.expect("migrate");
        let clock = Arc::new(ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC)));
        let keyring = Keyring::new(&MasterKey::generate(), &[]);
        // A real listener too: the OAuth callback calls the sandbox provider's token endpoint
        // over HTTP, as it would a real institution's.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let public_url = format!("http://{}", listener.local_addr().expect("local addr"));
        let config = ferry_core::Config {
            public_url: public_url.clone(),
            webhooks: ferry_core::WebhookPolicy { allow_loopback: true, allow_private: false },
            ..Default::default()
        };
        let service = Service::with_config(db, keyring, clock.clone(), Arc::new(FixedIds::default()), config)
            .with_connector("sandbox", Arc::new(Sandbox))
            .with_connector(THROTTLED_CONNECTOR, Arc::new(Throttled))
            .with_connector(
                "simplefin",
                Arc::new(ferry_connector_simplefin::SimpleFin::new(
                    ferry_connector::net::AddressPolicy { allow_loopback: true, allow_private: false },
                    std::time::Duration::from_secs(10),
                )),
            )
            .with_connector(
                "ofx",
                Arc::new(ferry_connector_ofx::connector::OfxConnector::new(
                    ferry_connector::net::AddressPolicy { allow_loopback: true, allow_private: false },
                    std::time::Duration::from_secs(10),
                )),
            );
        tokio::spawn(
            axum::serve(
                listener,
                ferry_api::router(service.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .into_future(),
        );
        let (client, key) = service.create_client("test").await.expect("client");
        let (other, other_key) = service.create_client("other").await.expect("other client");
        TestApp {
            router: ferry_api::router(service.clone()),
            auth: basic(client.id.as_str(), key.expose()),
            other_auth: basic(other.id.as_str(), other_key.expose()),
            atrium: (client.id.to_string(), key.expose().to_owned()),
            other_atrium: (other.id.to_string(), other_key.expose().to_owned()),
            service,
            client,
            sqlite_path,
            database_url,
            clock,
            public_url,
        }
    }

    /// Runs queued jobs until none is left.
    pub async fn work(&self) -> usize {
        self.service.run_until_idle().await.expect("jobs run")
    }

    /// Sends a request with the given raw body and headers.
    pub async fn raw(&self, method: Method, path: &str, body: Body, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = self.router.clone().oneshot(req.body(body).expect("request")).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply { status, headers, body }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("authorization", self.auth.as_str())];
        all.extend_from_slice(headers);
        let body = match body {
            Some(v) => {
                all.push(("content-type", "application/json"));
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.raw(method, path, body, &all).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[]).await
    }

    pub async fn get_v2025(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[("accept-version", "v20250224")]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None, &[]).await
    }

    /// Creates a user and returns its guid.
    pub async fn user(&self, id: Option<&str>) -> String {
        let r = self.post("/users", json!({ "user": { "id": id, "email": "someone@example.com" } })).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r.body["user"]["guid"].as_str().expect("guid").to_owned()
    }

    /// Creates an MX Bank member with `mxuser` and `password`; returns the reply.
    pub async fn member(&self, user: &str, password: &str, extra: Value) -> Reply {
        let mut member = json!({
            "institution_code": MXBANK,
            "credentials": [{ "guid": LOGIN, "value": "mxuser" }, { "guid": PASSWORD, "value": password }],
        });
        if let (Some(m), Some(e)) = (member.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                m.insert(k.clone(), v.clone());
            }
        }
        self.post(&format!("/users/{user}/members"), json!({ "member": member })).await
    }
}

/// Runs `test` against a fresh database on every configured backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = std::env::temp_dir().join(format!("ferry-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("ferry.db");
    let url = format!("sqlite://{}", path.display());
    let db = Db::connect(&url).await.expect("sqlite");
    let app = TestApp::new(db.clone(), Some(path), url).await;
    let outcome = tokio::spawn(test(app)).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }

    if let Ok(admin) = std::env::var("FERRY_TEST_POSTGRES_URL") {
        let name = format!("ferry_test_{}", uuid::Uuid::new_v4().simple());
        let url = ferry_store::create_postgres_database(&admin, &name).await.expect("create test database");
        let db = Db::connect(&url).await.expect("postgres");
        let app = TestApp::new(db.clone(), None, url.clone()).await;
        let outcome = tokio::spawn(test(app)).await;
        db.close().await;
        let _ = ferry_store::drop_postgres_database(&admin, &name).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A webhook receiver on 127.0.0.1: records every request; answers 500 while `failing` > 0
/// (counting down), else 204.
pub struct Receiver {
    pub url: String,
    pub received: Arc<std::sync::Mutex<Vec<Received>>>,
    pub failing: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let received: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let failing = Arc::new(AtomicUsize::new(0));
        let (r, f) = (received.clone(), failing.clone());
        let app = Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (r, f) = (r.clone(), f.clone());
                async move {
                    r.lock().unwrap().push(Received { headers, body });
                    if f.load(Ordering::SeqCst) > 0 {
                        f.fetch_sub(1, Ordering::SeqCst);
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(axum::serve(listener, app).into_future());
        Receiver { url, received, failing }
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
