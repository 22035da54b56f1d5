//! Ferry's use cases. [`Service`] is the one door the HTTP dialects and the CLI go through: it
//! validates input, applies MX's rules, seals credentials and talks to the store.

mod catalog;
mod clients;
mod clock;
mod connector_state;
mod context;
mod data;
mod edits;
mod error;
mod faces;
mod institutions;
mod jobs;
mod keys;
mod members;
mod metrics;
mod oauth;
mod pull;
mod refs;
mod sandbox_oauth;
pub mod secrets;
mod sessions;
mod users;
mod validate;
mod webhooks;
mod widget;
mod worker;

use std::sync::Arc;

pub use catalog::{BUILT_IN_INSTITUTIONS, Imported, InstitutionImport};
pub use clock::{Clock, FixedIds, IdGen, ManualClock, RandomIds, SystemClock};
pub use context::with_request_id;
pub use data::{AccountFilter, DataScope};
pub use edits::{AccountInput, MANUAL_INSTITUTION_CODE, TransactionEdit};
pub use error::{Error, Result};
pub use faces::{
    FaceAccount, FaceQuery, FaceView, OFX_LOCK_AFTER, OFX_LOCK_FOR, OfxSignon, SETUP_TOKEN_TTL, SetupToken, face_time,
};
pub use ferry_store::{AttemptLog, Db, DeliveryLog, InstitutionFilter, SimplefinAccess, UserFilter, WebhookEndpoint};
pub use institutions::InstitutionRef;
pub use jobs::{Connectors, JobStart};
pub use keys::{ColumnKeys, RotationReport};
pub use members::{CreatedMember, MemberPatch};
pub use oauth::{OAuthDone, OAuthPageError, ProviderConfig, TokenResponse, WindowOptions};
pub use refs::{MemberRef, UserRef};
pub use sandbox_oauth::{AuthorizeParams, SANDBOX_CLIENT_ID, TokenError, TokenRequest};
pub use secrets::{ApiKey, Keyring, MasterKey};
pub use webhooks::{
    CALLBACK_PAYLOAD_MAX, EVENT_TYPES, MAX_RETRIES, WebhookPolicy, check_callback_payload, check_webhook_url, sign,
};
pub use widget::{
    WIDGET_LOCALES, WIDGET_SESSION_TTL, WIDGET_URL_TTL, WidgetMode, WidgetOptions, WidgetRequest, WidgetSession,
    widget_locale,
};
pub use worker::MAX_ATTEMPTS;

/// The application: database, secrets, clock and id source, shared by every request.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    auth_cache: clients::AuthCache,
    catalog: institutions::CatalogCache,
    connectors: jobs::Connectors,
    config: Config,
    /// Outbound HTTP (OAuth token endpoints).
    http: reqwest::Client,
    /// Outbound HTTP to webhook receivers, behind the address policy.
    webhook_http: reqwest::Client,
    /// Wakes in-process workers when a job is queued.
    work: tokio::sync::Notify,
    /// Wakes the in-process webhook deliverer when events may have been written.
    outbox: tokio::sync::Notify,
    /// When this process last expired challenges and scheduled background aggregation.
    housekeeping_at: std::sync::Mutex<Option<time::OffsetDateTime>>,
    /// When this process last ran the reconciler, and how many repairs it has made.
    reconciled_at: std::sync::Mutex<Option<time::OffsetDateTime>>,
    repairs: std::sync::atomic::AtomicU64,
}

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a challenge waits for answers before the member becomes EXPIRED.
    pub challenge_ttl: time::Duration,
    /// How often each member is aggregated in the background.
    pub background_interval: time::Duration,
    /// How long a claimed job belongs to its worker before another may take it over (a worker
    /// that died mid-job is noticed after this long).
    pub lease: time::Duration,
    /// A manual aggregation asked for within this long after the last successful one answers
    /// 202 without a new job (MX's minimum interval), at institutions whose connector is not
    /// exempt (the sandbox is, as MX Bank is).
    pub aggregation_throttle: time::Duration,
    /// The URL end users and OAuth providers reach Ferry at (window URIs, the OAuth callback,
    /// the sandbox provider's pages).
    pub public_url: String,
    /// Which webhook addresses may be called.
    pub webhooks: webhooks::WebhookPolicy,
    /// How long a claimed webhook delivery belongs to its process; a delivery whose process
    /// died is sent again after this. Requests time out within it (10 s at most).
    pub webhook_lease: time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            challenge_ttl: time::Duration::minutes(10),
            background_interval: time::Duration::hours(24),
            lease: time::Duration::seconds(60),
            aggregation_throttle: time::Duration::hours(3),
            public_url: "http://127.0.0.1:8080".into(),
            webhooks: webhooks::WebhookPolicy::default(),
            webhook_lease: time::Duration::seconds(30),
        }
    }
}

impl Service {
    pub fn new(db: Db, keyring: Keyring, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Self {
        Self::with_config(db, keyring, clock, ids, Config::default())
    }

    pub fn with_config(db: Db, keyring: Keyring, clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>, config: Config) -> Self {
        let webhook_http = webhooks::webhook_client(config.webhooks, config.webhook_lease);
        Self {
            inner: Arc::new(Inner {
                db,
                keyring,
                clock,
                ids,
                auth_cache: clients::AuthCache::default(),
                catalog: Default::default(),
                connectors: jobs::Connectors::default(),
                config,
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap_or_default(),
                webhook_http,
                work: tokio::sync::Notify::new(),
                outbox: tokio::sync::Notify::new(),
                housekeeping_at: std::sync::Mutex::new(None),
                reconciled_at: std::sync::Mutex::new(None),
                repairs: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Adds (or replaces) the connector institutions name as `name`. Only while the service is
    /// being built: once it has been cloned, the call changes nothing and says so.
    pub fn with_connector(mut self, name: &str, connector: Arc<dyn ferry_connector::Connector>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.connectors.0.insert(name.to_owned(), connector);
            }
            None => tracing::warn!(connector = name, "with_connector on a service already in use: ignored"),
        }
        self
    }

    /// Whether this node can serve: the database answers (within 3 s) and its schema is this
    /// build's. The reason when not, in words an operator reads (nothing internal).
    pub async fn readiness(&self) -> std::result::Result<(), &'static str> {
        let check = async {
            self.db().ping().await.map_err(|_| "the database does not answer")?;
            match self.db().schema_is_current().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the database's schema is older than this build (migrations pending)"),
                Err(_) => Err("the database does not answer"),
            }
        };
        match tokio::time::timeout(std::time::Duration::from_secs(3), check).await {
            Ok(r) => r,
            Err(_) => Err("the database does not answer"),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    fn uuid(&self) -> uuid::Uuid {
        self.inner.ids.next_uuid()
    }
}
