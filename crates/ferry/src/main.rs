//! The `ferry` binary: command line, configuration, wiring and shutdown.

mod catalog;
mod config;
mod faces;
mod metrics;

use std::future::IntoFuture;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ferry_core::{Db, RandomIds, Service, SystemClock};

use crate::config::keyring_for;

/// mimalloc: the request path allocates many small buffers, and glibc malloc showed up in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ferry", version, about = "A self-hosted financial-data aggregation server that speaks MX's API")]
struct Cli {
    /// Database URL: sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "FERRY_DATABASE_URL", default_value = "sqlite://ferry.db")]
    database: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrating the database first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "FERRY_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        workers: WorkerArgs,
        /// Serve the API only; run aggregation in separate `ferry worker` processes.
        #[arg(long, env = "FERRY_NO_WORKERS")]
        no_workers: bool,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        faces: faces::FaceArgs,
        #[command(flatten)]
        metrics: metrics::MetricsArgs,
    },
    /// Run aggregation workers only (to scale out next to `serve --no-workers`).
    Worker {
        #[command(flatten)]
        workers: WorkerArgs,
        #[command(flatten)]
        metrics: metrics::MetricsArgs,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Write a consistent copy of the SQLite database (and its key file) while it serves.
    Backup {
        /// Where the copy goes (must not exist); the key file goes beside it as PATH.key.
        path: std::path::PathBuf,
    },
    /// Manage clients (tenants) and their API keys.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Configure institutions.
    Institutions {
        #[command(subcommand)]
        command: InstitutionsCommand,
    },
    /// Manage webhook endpoints and read their delivery log.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// The SimpleFIN server face: setup tokens and access URLs (see the README).
    Simplefin {
        #[command(subcommand)]
        command: faces::SimplefinCommand,
    },
    /// The OFX server face: users' OFX passwords, and what to type into OFX apps.
    Ofx {
        #[command(subcommand)]
        command: faces::OfxCommand,
    },
    /// Rotate the master key (see the README's "Rotating the master key").
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new master key (64 hex characters) for FERRY_MASTER_KEY.
    Generate,
    /// Re-seal every value still under a previous key (FERRY_MASTER_KEY_PREVIOUS) with the
    /// current one (FERRY_MASTER_KEY), and redo the duplicate fingerprints; online, resumable.
    Rotate {
        #[arg(long)]
        json: bool,
    },
    /// How many sealed values each key holds, and how many are still under old keys.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// Request limits, kept in each node's memory.
#[derive(clap::Args, Clone)]
struct LimitArgs {
    /// Failed authentications a source address may make in a minute; then 429 until the minute
    /// ends (0: no limit).
    #[arg(long, env = "FERRY_AUTH_FAILURES_PER_MINUTE", default_value_t = 20)]
    auth_failures_per_minute: u32,
    /// Requests each client may make, as COUNT/s, COUNT/min or COUNT/h (e.g. 500/s); off unless set.
    #[arg(long, env = "FERRY_RATE_LIMIT")]
    rate_limit: Option<ferry_api::limits::Rate>,
    /// Count requests against the last X-Forwarded-For address (set only behind a reverse proxy
    /// that writes it).
    #[arg(long, env = "FERRY_TRUST_FORWARDED_FOR", value_parser = clap::builder::BoolishValueParser::new())]
    trust_forwarded_for: bool,
}

impl LimitArgs {
    fn limits(&self) -> ferry_api::limits::Limits {
        ferry_api::limits::Limits {
            failed_auth_per_minute: self.auth_failures_per_minute,
            client_rate: self.rate_limit,
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }
}

#[derive(clap::Args, Clone)]
struct WorkerArgs {
    /// How many jobs this process runs at once.
    #[arg(long, env = "FERRY_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Seconds an MFA challenge waits for answers before the member becomes EXPIRED.
    #[arg(long, env = "FERRY_CHALLENGE_TTL_SECS", default_value_t = 600)]
    challenge_ttl_secs: i64,
    /// Seconds between background aggregations of each member (at least 60).
    #[arg(long, env = "FERRY_BACKGROUND_INTERVAL_SECS", default_value_t = 86_400)]
    background_interval_secs: i64,
    /// Seconds a worker holds a job before another may take it over (renewed while it runs).
    #[arg(long, env = "FERRY_JOB_LEASE_SECS", default_value_t = 60)]
    job_lease_secs: i64,
    /// Seconds after a successful aggregation in which another manual one answers 202 without
    /// a new job (institutions whose connector is throttled; the sandbox is exempt).
    #[arg(long, env = "FERRY_AGGREGATION_THROTTLE_SECS", default_value_t = 10_800)]
    aggregation_throttle_secs: i64,
    /// The URL end users and OAuth providers reach this server at (OAuth window URIs and the
    /// callback are built on it). Default: http://<listen address>.
    #[arg(long, env = "FERRY_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    webhook_policy: WebhookPolicyArgs,
    #[command(flatten)]
    connector_policy: ConnectorPolicyArgs,
    /// Seconds a process holds a webhook delivery it is sending; one whose process died is sent
    /// again after this.
    #[arg(long, env = "FERRY_WEBHOOK_LEASE_SECS", default_value_t = 30)]
    webhook_lease_secs: i64,
}

/// Which webhook addresses the server may call (others are refused, so webhooks cannot be
/// turned against the server's own network).
#[derive(clap::Args, Clone, Default)]
struct WebhookPolicyArgs {
    /// Allow webhook URLs on loopback addresses (127.0.0.0/8, ::1, localhost).
    #[arg(long, env = "FERRY_WEBHOOKS_ALLOW_LOOPBACK", value_parser = clap::builder::BoolishValueParser::new())]
    webhooks_allow_loopback: bool,
    /// Allow webhook URLs on private, link-local and unique-local networks.
    #[arg(long, env = "FERRY_WEBHOOKS_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    webhooks_allow_private: bool,
}

impl WebhookPolicyArgs {
    fn policy(&self) -> ferry_core::WebhookPolicy {
        ferry_core::WebhookPolicy {
            allow_loopback: self.webhooks_allow_loopback,
            allow_private: self.webhooks_allow_private,
        }
    }
}

/// Which addresses connectors may call. A SimpleFIN setup token is a URL the end user chose:
/// loopback and private networks are refused unless allowed here (local test servers).
#[derive(clap::Args, Clone, Default)]
struct ConnectorPolicyArgs {
    /// Allow connectors to call loopback addresses (127.0.0.0/8, ::1, localhost), over http too.
    #[arg(long, env = "FERRY_CONNECTORS_ALLOW_LOOPBACK", value_parser = clap::builder::BoolishValueParser::new())]
    connectors_allow_loopback: bool,
    /// Allow connectors to call private, link-local and unique-local networks.
    #[arg(long, env = "FERRY_CONNECTORS_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    connectors_allow_private: bool,
}

impl ConnectorPolicyArgs {
    fn policy(&self) -> ferry_connector::net::AddressPolicy {
        ferry_connector::net::AddressPolicy {
            allow_loopback: self.connectors_allow_loopback,
            allow_private: self.connectors_allow_private,
        }
    }
}

#[derive(Subcommand)]
enum InstitutionsCommand {
    /// Add or update institutions from a TOML file of `[[institution]]` tables (by `code`).
    Import {
        /// The TOML file.
        file: std::path::PathBuf,
        /// Print what was imported as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the catalog.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an imported institution (refused while members still use it).
    Remove {
        /// The institution's code.
        code: String,
    },
    /// Print a TOML catalog converted from an ofxget-style INI file (such as ofxtools' fi.cfg).
    ConvertOfxget {
        /// The INI file.
        file: std::path::PathBuf,
    },
    /// Point an institution at its OAuth 2.0 provider (authorization code with PKCE); members
    /// of it can then be created with is_oauth.
    Oauth {
        /// The institution's code.
        code: String,
        #[arg(long)]
        authorize_url: String,
        #[arg(long)]
        token_url: String,
        #[arg(long)]
        client_id: String,
        /// The app's secret at the provider (or FERRY_OAUTH_CLIENT_SECRET); sealed at rest.
        #[arg(long, env = "FERRY_OAUTH_CLIENT_SECRET")]
        client_secret: Option<String>,
        /// Space-separated scopes.
        #[arg(long, default_value = "")]
        scopes: String,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Register a webhook endpoint for a client; prints its signing secret (shown only once).
    Add {
        #[arg(long)]
        client: String,
        #[arg(long)]
        url: String,
        /// HTTP Basic username the receiver expects.
        #[arg(long)]
        username: Option<String>,
        /// HTTP Basic password (or FERRY_WEBHOOK_PASSWORD).
        #[arg(long, env = "FERRY_WEBHOOK_PASSWORD")]
        password: Option<String>,
        /// Event types to send (comma-separated: MEMBER, CONNECTION_STATUS, AGGREGATION, BALANCE,
        /// HISTORY, STATEMENT, VERIFICATION, IDENTITY); all when omitted.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        policy: WebhookPolicyArgs,
    },
    /// List a client's webhook endpoints.
    List {
        #[arg(long)]
        client: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a webhook endpoint.
    Remove {
        #[arg(long)]
        client: String,
        guid: String,
    },
    /// Show the delivery log: recent deliveries and their attempts.
    Deliveries {
        #[arg(long)]
        client: String,
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client and print its client_id and api_key (shown only this once).
    Create {
        name: String,
        /// Print {"client_id": ..., "api_key": ...}.
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Replace a client's API key and print the new one; the old key stops working.
    RotateKey {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a client's favorite institutions (by code, in order); none clears them.
    Favorites { id: String, codes: Vec<String> },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging();
    // A new key needs no database.
    if let Command::Keys { command: KeysCommand::Generate } = &cli.command {
        println!("{}", ferry_core::MasterKey::generate().to_hex());
        return Ok(());
    }
    // A file conversion needs no database.
    if let Command::Institutions { command: InstitutionsCommand::ConvertOfxget { file } } = &cli.command {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        print!("{}", catalog::convert_ofxget(&text));
        return Ok(());
    }
    // Nor does printing the OFX face's settings.
    if let Command::Ofx { command: faces::OfxCommand::Info { public_url, json } } = &cli.command {
        return faces::ofx_info(public_url, *json);
    }
    let db = Db::connect(&cli.database)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&cli.database)))?;
    db.migrate().await.context("cannot migrate the database")?;
    match cli.command {
        Command::Serve { listen, workers, no_workers, limits, faces, metrics } => {
            let options = ferry_api::Options {
                limits: limits.limits(),
                faces: faces.faces(),
                widget_frame_ancestors: faces.frame_ancestors(),
            };
            serve(db, &cli.database, listen, &workers, no_workers, options, &metrics).await
        }
        Command::Simplefin { command } => faces::simplefin(db, command).await,
        Command::Ofx { command } => faces::ofx(db, command).await,
        Command::Worker { workers, metrics } => {
            let service = service(db.clone(), &cli.database, &workers)?;
            metrics::start(&metrics, &service).await?;
            let process = process_name();
            let mut handles = spawn_workers(&service, &process, workers.workers);
            handles.push(spawn_deliverer(&service, &process));
            println!("Ferry running {} aggregation worker(s) and a webhook deliverer", handles.len() - 1);
            shutdown_signal().await;
            stop_and_release(&service, &process, handles).await;
            db.close().await;
            Ok(())
        }
        Command::Migrate => {
            println!("database is up to date ({})", db.backend());
            Ok(())
        }
        Command::Backup { path } => backup(&db, &cli.database, &path).await,
        Command::Keys { command } => keys(db, &cli.database, command).await,
        Command::Clients { command } => clients(db, command).await,
        Command::Webhooks { command } => webhooks(db, &cli.database, command).await,
        Command::Institutions { command: InstitutionsCommand::Import { file, json } } => {
            let service = catalog_service(db);
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let items =
                catalog::parse_toml(&text).with_context(|| format!("{} is not a valid catalog", file.display()))?;
            let imported = service.import_institutions(&items).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            catalog::print_imported(&imported, json);
            Ok(())
        }
        Command::Institutions { command: InstitutionsCommand::List { json } } => {
            let service = catalog_service(db);
            catalog::print_list(&service.catalog().await.map_err(|e| anyhow::anyhow!("{e}"))?, json);
            Ok(())
        }
        Command::Institutions { command: InstitutionsCommand::ConvertOfxget { .. } } => Ok(()), // Above.
        Command::Institutions { command: InstitutionsCommand::Remove { code } } => {
            let service = catalog_service(db);
            service.remove_institution(&code).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("removed {code}");
            Ok(())
        }
        Command::Institutions {
            command: InstitutionsCommand::Oauth { code, authorize_url, token_url, client_id, client_secret, scopes },
        } => {
            let service = Service::new(db, keyring_for(&cli.database)?, Arc::new(SystemClock), Arc::new(RandomIds));
            let config = ferry_core::ProviderConfig {
                authorize_url,
                token_url,
                client_id,
                client_secret: client_secret.map(ferry_domain::Secret::new),
                scopes,
            };
            service
                .configure_oauth_provider(&code, config)
                .await
                .with_context(|| format!("cannot configure {code}"))?;
            println!("{code} now connects through OAuth");
            Ok(())
        }
    }
}

/// Logs to stderr: text by default, one JSON object per line with `FERRY_LOG_FORMAT=json`
/// (fields of the enclosing spans, such as a request's `request_id`, included).
fn init_logging() {
    let filter = std::env::var("FERRY_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    if std::env::var("FERRY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
}

/// A service for catalog commands: the connectors registered (they check settings and name
/// credential fields), nothing started.
fn catalog_service(db: Db) -> Service {
    // The catalog holds no secret: a throwaway key spares reading (or creating) the real one.
    let keyring = ferry_core::Keyring::new(&ferry_core::MasterKey::generate(), &[]);
    let service = Service::new(db, keyring, Arc::new(SystemClock), Arc::new(RandomIds));
    with_connectors(service, ferry_connector::net::AddressPolicy::default())
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn service(db: Db, database_url: &str, workers: &WorkerArgs) -> Result<Service> {
    let keyring = keyring_for(database_url)?;
    let config = ferry_core::Config {
        challenge_ttl: time::Duration::seconds(workers.challenge_ttl_secs.max(1)),
        background_interval: time::Duration::seconds(workers.background_interval_secs.max(60)),
        lease: time::Duration::seconds(workers.job_lease_secs.max(1)),
        aggregation_throttle: time::Duration::seconds(workers.aggregation_throttle_secs.max(0)),
        public_url: workers.public_url.clone().unwrap_or_else(|| ferry_core::Config::default().public_url),
        webhooks: workers.webhook_policy.policy(),
        webhook_lease: time::Duration::seconds(workers.webhook_lease_secs.max(2)),
    };
    let service = Service::with_config(db, keyring, Arc::new(SystemClock), Arc::new(RandomIds), config);
    Ok(with_connectors(service, workers.connector_policy.policy()))
}

/// Registers the connectors institutions name: the binary decides which protocols it carries.
fn with_connectors(service: Service, policy: ferry_connector::net::AddressPolicy) -> Service {
    service
        .with_connector("sandbox", Arc::new(ferry_connector::Sandbox))
        .with_connector(
            "simplefin",
            Arc::new(ferry_connector_simplefin::SimpleFin::new(policy, std::time::Duration::from_secs(60))),
        )
        .with_connector(
            "ofx",
            Arc::new(ferry_connector_ofx::connector::OfxConnector::new(policy, std::time::Duration::from_secs(60))),
        )
}

/// Starts `n` worker loops. A job that fails to run stays leased and is retried by whichever
/// worker finds its lease expired; a worker that finds nothing waits for a job queued in this
/// process or for the poll interval (jobs queued by other processes).
fn spawn_workers(service: &Service, process: &str, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let service = service.clone();
            let name = format!("{process}-{i}");
            tokio::spawn(async move {
                loop {
                    match service.run_once(&name).await {
                        Ok(true) => {}
                        Ok(false) => service.wait_for_work(std::time::Duration::from_millis(500)).await,
                        Err(e) => {
                            tracing::error!(worker = %name, error = %e, "worker step failed");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

async fn serve(
    db: Db,
    database_url: &str,
    listen: String,
    workers: &WorkerArgs,
    no_workers: bool,
    options: ferry_api::Options,
    metrics: &metrics::MetricsArgs,
) -> Result<()> {
    // Bind before creating the development client, so its key is never printed for a server
    // that then fails to start.
    let listener =
        tokio::net::TcpListener::bind(listen.as_str()).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let mut workers = workers.clone();
    if workers.public_url.is_none() {
        // Reachable from this machine at least; set --public-url for anything else.
        let host = if local.ip().is_unspecified() { "127.0.0.1".to_owned() } else { local.ip().to_string() };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        workers.public_url = Some(format!("http://{host}:{}", local.port()));
    }
    let service = service(db.clone(), database_url, &workers)?;
    metrics::start(metrics, &service).await?;
    let process = process_name();
    let handles = if no_workers {
        Vec::new()
    } else {
        let mut h = spawn_workers(&service, &process, workers.workers);
        h.push(spawn_deliverer(&service, &process));
        h
    };
    if service.count_clients().await? == 0 {
        let (client, key) = service.create_client("development").await?;
        println!("Created a development client (its API key is shown only this once):");
        println!("  client_id: {}", client.id);
        println!("  api_key:   {}", key.expose());
        println!("  try: curl -u {}:{} http://{local}/users", client.id, key.expose());
    }
    println!("Ferry listening on http://{local} ({})", db.backend());
    if options.faces.simplefin {
        println!("  SimpleFIN face on: claim setup tokens from `ferry simplefin token`");
    }
    if options.faces.ofx {
        println!("  OFX face on: POST /ofx, sign on with `ferry ofx password`");
    }
    tracing::info!(%local, backend = db.backend(), "listening");
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut until_stopped = stopping.clone();
    let app = ferry_api::router_with_options(service.clone(), options.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = until_stopped.wait_for(|s| *s).await;
        })
        .into_future();
    let server = tokio::spawn(server);
    shutdown_signal().await;
    // Stop accepting; then stop the workers and hand their jobs back at once (another node
    // takes them now, not when their leases run out); then let in-flight requests finish, for
    // at most SHUTDOWN_GRACE.
    let _ = stop.send(true);
    stop_and_release(&service, &process, handles).await;
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP server stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server task failed"),
        Err(_) => tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}: stopping anyway"),
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `ferry backup PATH`: the database copied with `VACUUM INTO`, and the key file beside the
/// database (if the key comes from one) copied to `PATH.key`, so the two stay together.
async fn backup(db: &Db, database_url: &str, path: &std::path::Path) -> Result<()> {
    if path.exists() {
        anyhow::bail!("{} already exists; choose a new path", path.display());
    }
    let target = path.to_str().context("the backup path must be valid UTF-8")?;
    if !db.backup_to(target).await.context("the backup failed")? {
        println!(
            "PostgreSQL: back up with its own tools, e.g. `pg_dump --format=custom --file=ferry.dump DATABASE`, and keep FERRY_MASTER_KEY with the dump: without it no credential can be opened."
        );
        return Ok(());
    }
    println!("database copied to {}", path.display());
    match config::key_file(database_url) {
        Some(key) if std::env::var("FERRY_MASTER_KEY").map_or(true, |k| k.trim().is_empty()) && key.exists() => {
            let copy = std::path::PathBuf::from(format!("{target}.key"));
            std::fs::copy(&key, &copy).with_context(|| format!("copying the key file to {}", copy.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600))?;
            }
            println!("master key copied to {} (keep it with the copy; restore both together)", copy.display());
        }
        _ => println!(
            "the master key comes from FERRY_MASTER_KEY: keep it with this copy, or no credential can be opened"
        ),
    }
    Ok(())
}

/// `ferry keys ...`.
async fn keys(db: Db, database_url: &str, command: KeysCommand) -> Result<()> {
    let status = |service: &Service, columns: &[ferry_core::ColumnKeys], json: bool| {
        let current = service.current_key_id().to_owned();
        let old: i64 = columns.iter().map(|c| c.under_old_keys(&current)).sum();
        if json {
            let columns: Vec<serde_json::Value> = columns
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "column": c.column,
                        "by_key": c.by_key.iter().map(|(k, n)| serde_json::json!({ "key_id": k, "values": n })).collect::<Vec<_>>(),
                        "under_old_keys": c.under_old_keys(&current),
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "current_key_id": current, "under_old_keys": old, "columns": columns }));
        } else {
            println!("current key: {current}");
            for c in columns {
                let keys: Vec<String> = c.by_key.iter().map(|(k, n)| format!("{k}: {n}")).collect();
                println!("  {:<34} {}", c.column, if keys.is_empty() { "-".to_owned() } else { keys.join(", ") });
            }
            if old == 0 {
                println!("no value is under an old key: FERRY_MASTER_KEY_PREVIOUS can be dropped");
            } else {
                println!("{old} value(s) still under old keys: run `ferry keys rotate`");
            }
        }
    };
    match command {
        // Handled before the database is opened; here for completeness.
        KeysCommand::Generate => {
            println!("{}", ferry_core::MasterKey::generate().to_hex());
            Ok(())
        }
        KeysCommand::Rotate { json } => {
            let service = Service::new(db, keyring_for(database_url)?, Arc::new(SystemClock), Arc::new(RandomIds));
            let report = service
                .rotate_keys()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("rotation stopped; run it again to continue")?;
            let columns = service.key_status().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "resealed": report.resealed.iter().map(|(c, n)| (c.to_string(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
                        "total": report.total(),
                        "skipped_concurrent": report.skipped_concurrent,
                        "unknown_key": report.unknown_key,
                        "unreadable": report.unreadable,
                        "duplicates": report.duplicates,
                        "under_old_keys": columns.iter().map(|c| c.under_old_keys(service.current_key_id())).sum::<i64>(),
                    })
                );
            } else {
                for (column, n) in &report.resealed {
                    println!("re-sealed {n} value(s) of {column}");
                }
                if report.unknown_key > 0 {
                    println!(
                        "{} value(s) are under a key this process does not have: add it to FERRY_MASTER_KEY_PREVIOUS",
                        report.unknown_key
                    );
                }
                if report.unreadable > 0 {
                    println!(
                        "{} value(s) did not open under their key (see the log): left as they are",
                        report.unreadable
                    );
                }
                for m in &report.duplicates {
                    println!(
                        "member {m} duplicates another member of its user under the new key: left under the old key; delete one of the two"
                    );
                }
                status(&service, &columns, false);
            }
            Ok(())
        }
        KeysCommand::Status { json } => {
            let service = Service::new(db, keyring_for(database_url)?, Arc::new(SystemClock), Arc::new(RandomIds));
            let columns = service.key_status().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            status(&service, &columns, json);
            Ok(())
        }
    }
}

/// How long a stopping server waits for requests in flight.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// This process's part of its workers' names: the pid and a random tag (pids repeat across
/// machines and restarts).
fn process_name() -> String {
    format!("{}-{}", std::process::id(), hex::encode(rand::random::<[u8; 4]>()))
}

/// Stops the worker and deliverer tasks (a job mid-way is dropped: jobs are idempotent), then
/// hands back what they held.
async fn stop_and_release(service: &Service, process: &str, handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    match service.release_process(process).await {
        Ok((jobs, deliveries)) => tracing::info!(jobs, deliveries, "handed back running jobs and claimed deliveries"),
        Err(e) => {
            tracing::warn!(error = %e, "could not hand back jobs; they are claimed again when their leases run out")
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn clients(db: Db, command: ClientsCommand) -> Result<()> {
    // Client commands never touch credentials, so they need no master key.
    let service = Service::new(
        db,
        ferry_core::Keyring::new(&ferry_core::MasterKey::generate(), &[]),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    );
    match command {
        ClientsCommand::Create { name, json } => {
            let (client, key) = service.create_client(&name).await?;
            print_key(&client.id.to_string(), key.expose(), json);
        }
        ClientsCommand::List { json } => {
            let clients = service.list_clients().await?;
            if json {
                let list: Vec<_> =
                    clients.iter().map(|c| serde_json::json!({ "client_id": c.id.as_str(), "name": c.name })).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for c in clients {
                    println!("{}\t{}", c.id, c.name);
                }
            }
        }
        ClientsCommand::RotateKey { id, json } => {
            let key = service
                .rotate_client_key(&id)
                .await
                .with_context(|| format!("cannot rotate the key of client {id}"))?;
            print_key(&id, key.expose(), json);
        }
        ClientsCommand::Favorites { id, codes } => {
            let client = service
                .list_clients()
                .await?
                .into_iter()
                .find(|c| c.id.as_str() == id)
                .with_context(|| format!("no client {id}"))?;
            service.set_favorite_institutions(&client, &codes).await.context("cannot set favorites")?;
            println!("{} favorite institution(s) set for {id}", codes.len());
        }
    }
    Ok(())
}

/// Delivers webhooks: claims due deliveries, sends them, and waits for more.
fn spawn_deliverer(service: &Service, process: &str) -> tokio::task::JoinHandle<()> {
    let service = service.clone();
    let name = format!("{process}-deliverer");
    tokio::spawn(async move {
        loop {
            match service.deliver_once(&name).await {
                Ok(0) => service.wait_for_events(std::time::Duration::from_millis(200)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "webhook delivery step failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    })
}

async fn webhooks(db: Db, database_url: &str, command: WebhooksCommand) -> Result<()> {
    let policy = match &command {
        WebhooksCommand::Add { policy, .. } => policy.policy(),
        _ => ferry_core::WebhookPolicy::default(),
    };
    // Secrets are sealed with the server's master key.
    let config = ferry_core::Config { webhooks: policy, ..Default::default() };
    let service =
        Service::with_config(db, keyring_for(database_url)?, Arc::new(SystemClock), Arc::new(RandomIds), config);
    let client_of = |id: &str| {
        let id = id.to_owned();
        let service = service.clone();
        async move {
            service
                .list_clients()
                .await?
                .into_iter()
                .find(|c| c.id.as_str() == id)
                .with_context(|| format!("no client {id}"))
        }
    };
    match command {
        WebhooksCommand::Add { client, url, username, password, events, json, .. } => {
            let client = client_of(&client).await?;
            let (endpoint, secret) = service
                .create_webhook(&client, &url, username, password, &events)
                .await
                .context("cannot add the webhook")?;
            if json {
                let mut body = ferry_api::webhook_json(&endpoint);
                body["secret"] = serde_json::json!(secret);
                println!("{body}");
            } else {
                println!("guid:   {}", endpoint.guid);
                println!("url:    {}", endpoint.url);
                println!("secret: {secret}  (shown only this once: receivers verify Ferry-Signature with it)");
            }
        }
        WebhooksCommand::List { client, json } => {
            let client = client_of(&client).await?;
            let all = service.list_webhooks(&client).await?;
            if json {
                println!("{}", serde_json::Value::Array(all.iter().map(ferry_api::webhook_json).collect()));
            } else {
                for e in all {
                    let types = if e.event_types.is_empty() { "all".to_owned() } else { e.event_types.clone() };
                    println!("{}\t{}\t{types}", e.guid, e.url);
                }
            }
        }
        WebhooksCommand::Remove { client, guid } => {
            let client = client_of(&client).await?;
            service.delete_webhook(&client, &guid).await.with_context(|| format!("cannot remove webhook {guid}"))?;
            println!("removed {guid}");
        }
        WebhooksCommand::Deliveries { client, endpoint, limit, json } => {
            let client = client_of(&client).await?;
            let (deliveries, attempts) = service.webhook_log(&client, endpoint.as_deref(), limit).await?;
            if json {
                println!("{}", ferry_api::deliveries_json(&deliveries, &attempts));
            } else {
                for d in deliveries {
                    println!(
                        "{}\t{}.{}\t{}\t{}\tattempts={}\t{}",
                        d.event_guid,
                        d.event_type,
                        d.action,
                        d.endpoint_guid,
                        d.status,
                        d.attempts,
                        d.last_error.clone().or(d.last_status_code.map(|c| c.to_string())).unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_key(client_id: &str, api_key: &str, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "client_id": client_id, "api_key": api_key }));
    } else {
        println!("client_id: {client_id}");
        println!("api_key:   {api_key}");
    }
}
