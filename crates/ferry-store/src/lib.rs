//! Ferry's database. One [`Db`] over SQLite or PostgreSQL; every query is written once in SQL
//! that both accept and sent to whichever backend is configured. Only this crate knows SQL.
//!
//! SQLite gets two pools: a single-connection writer, so writers queue in-process instead of
//! failing with `SQLITE_BUSY`, and a reader pool that WAL lets run beside it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use tokio::sync::{Mutex, MutexGuard};

mod accounts;
mod clients;
mod connector_states;
mod faces;
mod fast_read;
mod institutions;
mod jobs;
pub mod keys;
mod member_inserts;
mod members;
mod migrations;
mod oauth;
mod progress;
mod reconcile;
mod records;
mod sessions;
mod stats;
mod transactions;
mod users;
mod webhooks;
mod widget;

pub use clients::ClientRecord;
pub use connector_states::{ConnectorState, StateWrite};
pub use faces::{NewSimplefinAccess, OfxLogin, SimplefinAccess, SimplefinCredentials};
pub use institutions::InstitutionFilter;
pub use jobs::{JobChange, JobGuard, SealedState};
pub use members::{CredentialChange, MemberChanges, MemberFilter, MemberUpdate, SealedCredentials};
pub use migrations::MIGRATIONS;
pub use oauth::{OAuthProvider, OAuthState, SandboxCode};
pub use reconcile::Repairs;
pub use records::{NewRecord, RecordScope};
pub use stats::ConnectionUse;
pub use transactions::TransactionScope;
pub use users::UserFilter;
pub use webhooks::{AttemptLog, AttemptOutcome, DeliveryLog, DueDelivery, MemberEvents, NewEvent, WebhookEndpoint};
pub use widget::WidgetSessionRow;

/// Runs `$body` with `$conn` bound to a `&mut` connection that should serve a read: one of
/// SQLite's reader connections, or a pooled PostgreSQL connection. The body is expanded once
/// per backend, so every bound type is checked against both drivers; it passes the connection
/// on as `&mut *conn`.
macro_rules! on_reader {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite(s) => {
                let mut guard = s.reader().await;
                let $conn: &mut sqlx::SqliteConnection = &mut *guard;
                $body
            }
            $crate::Db::Postgres(p) => {
                let mut guard = p.acquire().await?;
                let $conn: &mut sqlx::PgConnection = &mut *guard;
                $body
            }
        }
    };
}

/// Like [`on_reader!`], for statements that write: SQLite's single writer connection.
macro_rules! on_writer {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite(s) => {
                let mut guard = s.writer.lock().await;
                let $conn: &mut sqlx::SqliteConnection = &mut *guard;
                $body
            }
            $crate::Db::Postgres(p) => {
                let mut guard = p.acquire().await?;
                let $conn: &mut sqlx::PgConnection = &mut *guard;
                $body
            }
        }
    };
}
pub(crate) use {on_reader, on_writer};

/// SQLite's connections: one writer, a few read-only readers (none for an in-memory database,
/// whose reads go to the writer), each behind a mutex. Holding connections directly instead of
/// in a pool spares a checkout and a return per statement.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    readers: Arc<[Mutex<SqliteConnection>]>,
    next_reader: Arc<AtomicUsize>,
    writer: Arc<Mutex<SqliteConnection>>,
    member_inserts: member_inserts::InsertQueue,
    checkpointer: Option<Arc<tokio::task::AbortHandle>>,
    /// Point reads on the calling thread (none for an in-memory database).
    fast: Option<Arc<fast_read::FastReaders>>,
}

impl SqliteDb {
    /// A free reader if there is one, else the next in turn.
    async fn reader(&self) -> MutexGuard<'_, SqliteConnection> {
        let n = self.readers.len();
        if n == 0 {
            return self.writer.lock().await;
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return guard;
            }
        }
        self.readers[start % n].lock().await
    }
}

/// A connection to Ferry's database; cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the payload names the table.
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// A foreign key refused the write: the row it hangs off (named) is gone.
    #[error("the {0} this row belongs to does not exist")]
    MissingParent(&'static str),
    /// A read found no such object for the caller (the payload names its kind).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A row the database holds cannot be read back (a value this build does not know, a
    /// malformed guid): a bug or a hand edit, never the caller's fault.
    #[error("corrupt row in {table} ({key}): cannot read {column}")]
    Corrupt { table: &'static str, key: String, column: String },
    /// The store's background task has stopped (the server is shutting down).
    #[error("the database is closed")]
    Closed,
    /// One database error reported to every caller of a failed batch.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration { version: i64, name: &'static str, source: sqlx::Error },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// An error of the SQLite point-read connections (`fast_read`).
    #[error("sqlite: {0}")]
    FastRead(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs a transaction again (twice at most) when PostgreSQL chose it to break a deadlock
/// (SQLSTATE 40P01): it was rolled back whole, so running it again is safe. Transactions that
/// write jobs and their members take the locks in one order, so this is a safety net.
pub(crate) async fn retry_deadlock<T, F, Fut>(mut run: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    for _ in 0..2 {
        match run().await {
            Err(StoreError::Sqlx(sqlx::Error::Database(d))) if d.code().as_deref() == Some("40P01") => {
                tracing::warn!("a transaction was chosen to break a deadlock; running it again");
            }
            other => return other,
        }
    }
    run().await
}

/// Maps a unique violation to [`StoreError::Conflict`], anything else to a database error.
pub(crate) fn on_unique(table: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(table),
        Some(db) if db.is_foreign_key_violation() => StoreError::MissingParent(table),
        _ => StoreError::Sqlx(e),
    }
}

impl Db {
    /// Connects to `url`: `sqlite://PATH` (created if missing), `sqlite::memory:` or
    /// `postgres://...`. Does not migrate; call [`Db::migrate`].
    pub async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Statements are prepared once per connection; planning each execution anew cost
            // more than running it (1–2 ms against 0.3–1.5 ms for a transaction page), and the
            // generic plans of these index lookups are the same plans.
            let options = PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_generic_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("temp_store", "memory")
                // 64 MiB of page cache per connection (SQLite's default is 2 MiB, which made a
                // growing database read its index pages from the OS again and again).
                .pragma("cache_size", "-65536")
                // Checkpoints run in the background (see `start_checkpointer`), so a commit
                // never waits for one and its fsync.
                .pragma("wal_autocheckpoint", "0");
            let writer = SqliteConnection::connect_with(&options).await?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let mut readers = Vec::new();
            // A private in-memory database is seen only by the connection that made it.
            if !in_memory {
                for _ in 0..SQLITE_READERS {
                    readers.push(Mutex::new(SqliteConnection::connect_with(&options.clone().read_only(true)).await?));
                }
            }
            let writer = Arc::new(Mutex::new(writer));
            let member_inserts = member_inserts::start_insert_queue(writer.clone());
            let fast =
                if in_memory { None } else { Some(Arc::new(fast_read::FastReaders::open(options.get_filename())?)) };
            let checkpointer = if in_memory { None } else { Some(Arc::new(start_checkpointer(options).await?)) };
            Ok(Db::Sqlite(SqliteDb {
                readers: readers.into(),
                next_reader: Arc::new(AtomicUsize::new(0)),
                writer,
                member_inserts,
                checkpointer,
                fast,
            }))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        migrations::run(self).await
    }

    /// Refreshes the planner's statistics (and, on PostgreSQL, the visibility map that lets
    /// index-only scans skip the heap): what autovacuum does in time after a bulk load.
    pub async fn analyze(&self) -> Result<()> {
        match self {
            Db::Sqlite(_) => on_writer!(self, |conn| sqlx::query("ANALYZE").execute(&mut *conn).await.map(|_| ()))?,
            Db::Postgres(pool) => {
                sqlx::query("VACUUM (ANALYZE) transactions").execute(pool).await?;
                sqlx::query("VACUUM (ANALYZE) transaction_day_counts").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Whether every migration this build knows has been applied (a node started against a
    /// database another, older node migrated is not ready).
    pub async fn schema_is_current(&self) -> Result<bool> {
        let latest = crate::migrations::MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: i64 =
            on_reader!(self, |conn| sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM ferry_migrations")
                .fetch_one(&mut *conn)
                .await)?;
        Ok(applied >= latest)
    }

    /// Writes a consistent copy of a SQLite database to `path` while the server keeps serving
    /// (`VACUUM INTO` from a read connection: one snapshot, writers not blocked). `Ok(false)`
    /// on PostgreSQL, whose operator backs up with its own tools.
    pub async fn backup_to(&self, path: &str) -> Result<bool> {
        match self {
            Db::Sqlite(_) => {
                on_reader!(self, |conn| sqlx::query("VACUUM INTO $1")
                    .bind(path)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ()))?;
                Ok(true)
            }
            Db::Postgres(_) => Ok(false),
        }
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        on_reader!(self, |conn| sqlx::query("SELECT 1").execute(&mut *conn).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(s) => {
                if let Some(c) = &s.checkpointer {
                    c.abort();
                }
                // Connections close when the last clone of the Db drops; checkpoint now so the
                // WAL is folded into the database file on a clean shutdown.
                let mut writer = s.writer.lock().await;
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *writer).await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Read-only SQLite connections; WAL lets them read while the writer writes.
const SQLITE_READERS: usize = 4;

/// How often the background task checkpoints the SQLite WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoints the WAL from a connection of its own, so the fsync of a checkpoint never stalls
/// the writer. PASSIVE checkpoints never block readers or the writer; they copy what they can.
async fn start_checkpointer(options: SqliteConnectOptions) -> Result<tokio::task::AbortHandle> {
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    });
    Ok(task.abort_handle())
}

/// Epoch microseconds, the unit of every time column.
pub(crate) fn to_micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub fn from_micros(us: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Splits a comma-separated list column; a value this build cannot parse is an error.
pub(crate) fn parse_list<T: FromStr>(s: &str) -> std::result::Result<Vec<T>, T::Err> {
    s.split(',').filter(|p| !p.is_empty()).map(|p| p.parse()).collect()
}

/// The error for a row that cannot be read back: `table`, the row's key, the bad column.
pub(crate) fn corrupt(table: &'static str, key: &str, column: &str) -> StoreError {
    StoreError::Corrupt { table, key: key.chars().take(80).collect(), column: column.to_owned() }
}

pub(crate) fn join_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

/// Creates a fresh PostgreSQL database next to the one `admin_url` names and returns its URL.
/// For tests and tools that need a throwaway database.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::UnsupportedUrl(name.to_owned()));
    }
    let pool = PgPoolOptions::new().max_connections(1).connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await?;
    pool.close().await;
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |s| s + 2) => &base[..i],
        _ => base,
    };
    Ok(format!("{prefix}/{name}"))
}

/// Drops a database made by [`create_postgres_database`], closing its sessions first.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<()> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::UnsupportedUrl(name.to_owned()));
    }
    let pool = PgPoolOptions::new().max_connections(1).connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&pool).await?;
    pool.close().await;
    Ok(())
}
