//! Embedded migrations: `migrations/sqlite/` and `migrations/postgres/` hold files of the same
//! names; each runs once, in order, inside a transaction, recorded in `ferry_migrations`.

use sqlx::Connection;

use crate::{Db, Result, StoreError};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        }
    };
}

pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_init"),
    migration!(2, "0002_sandbox_institutions"),
    migration!(3, "0003_aggregation"),
    migration!(4, "0004_narrow_transaction_indexes"),
    migration!(5, "0005_transaction_day_counts"),
    migration!(6, "0006_transaction_order_indexes"),
    migration!(7, "0007_member_records"),
    migration!(8, "0008_oauth"),
    migration!(9, "0009_webhooks"),
    migration!(10, "0010_nexus_sessions"),
    migration!(11, "0011_reconciler_indexes"),
    migration!(12, "0012_connectors"),
    migration!(13, "0013_request_ids"),
    migration!(14, "0014_faces"),
    migration!(15, "0015_widget"),
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS ferry_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

pub(crate) async fn run(db: &Db) -> Result<()> {
    match db {
        Db::Sqlite(s) => {
            let mut conn = s.writer.lock().await;
            sqlx::raw_sql(CREATE_TABLE).execute(&mut *conn).await?;
            for m in MIGRATIONS {
                // BEGIN IMMEDIATE takes the write lock up front, so two processes starting at
                // once apply each migration once.
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let done: Option<i64> = sqlx::query_scalar("SELECT version FROM ferry_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await?;
                if done.is_none() {
                    apply_sqlite(&mut tx, m).await.map_err(|source| StoreError::Migration {
                        version: m.version,
                        name: m.name,
                        source,
                    })?;
                    tracing::info!(version = m.version, name = m.name, "applied migration");
                }
                tx.commit().await?;
            }
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            // PostgreSQL-specific: an advisory lock serializes nodes that start together.
            sqlx::query("SELECT pg_advisory_lock(7265636)").execute(&mut *conn).await?;
            let result = async {
                sqlx::raw_sql(CREATE_TABLE).execute(&mut *conn).await?;
                for m in MIGRATIONS {
                    let mut tx = conn.begin().await?;
                    let done: Option<i64> =
                        sqlx::query_scalar("SELECT version FROM ferry_migrations WHERE version = $1")
                            .bind(m.version)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if done.is_none() {
                        let applied = async {
                            sqlx::raw_sql(m.postgres).execute(&mut *tx).await?;
                            record(&mut tx, m).await
                        }
                        .await;
                        applied.map_err(|source| StoreError::Migration { version: m.version, name: m.name, source })?;
                        tracing::info!(version = m.version, name = m.name, "applied migration");
                    }
                    tx.commit().await?;
                }
                Ok::<_, StoreError>(())
            }
            .await;
            sqlx::query("SELECT pg_advisory_unlock(7265636)").execute(&mut *conn).await?;
            result?;
        }
    }
    Ok(())
}

async fn apply_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    m: &Migration,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::raw_sql(m.sqlite).execute(&mut **tx).await?;
    sqlx::query(RECORD).bind(m.version).bind(m.name).bind(now_micros()).execute(&mut **tx).await?;
    Ok(())
}

async fn record(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, m: &Migration) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(RECORD).bind(m.version).bind(m.name).bind(now_micros()).execute(&mut **tx).await?;
    Ok(())
}

const RECORD: &str = "INSERT INTO ferry_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

/// Bookkeeping only: when a migration ran is not domain time, so the wall clock is right here.
fn now_micros() -> i64 {
    crate::to_micros(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn names(dir: &str) -> BTreeSet<String> {
        let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_dir(path)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn both_backends_have_the_same_migration_files() {
        let sqlite = names("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("postgres"));
        let embedded: BTreeSet<String> = super::MIGRATIONS.iter().map(|m| format!("{}.sql", m.name)).collect();
        assert_eq!(sqlite, embedded, "every migration file is embedded");
    }
}
