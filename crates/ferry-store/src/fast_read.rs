//! Point reads on SQLite without a thread hop. sqlx runs every SQLite statement on its
//! connection's worker thread: two cross-thread hand-offs per statement, which cost more than
//! a primary-key lookup itself and kept authenticated reads at ~45% of a trivial endpoint's
//! throughput (BENCHMARKS.md, issue 12). These read-only `rusqlite` connections run a few hot,
//! microsecond statements (a user by guid, before every user-scoped request) on the calling
//! thread instead. Same file, same WAL snapshot rules as the sqlx readers; everything else
//! (writes, scans, PostgreSQL) stays on sqlx.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Result, StoreError};

const CONNECTIONS: usize = 4;

pub(crate) struct FastReaders {
    conns: Box<[Mutex<Connection>]>,
    next: AtomicUsize,
}

impl std::fmt::Debug for FastReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastReaders").field("connections", &self.conns.len()).finish()
    }
}

impl FastReaders {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conns = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let c = Connection::open_with_flags(path, flags).map_err(fail)?;
            // Short: these run on the async runtime's threads. A reader waits only while a
            // checkpoint restarts the WAL, which does not happen under `wal_autocheckpoint = 0`
            // with passive checkpoints.
            c.busy_timeout(std::time::Duration::from_millis(500)).map_err(fail)?;
            c.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -16384;").map_err(fail)?;
            conns.push(Mutex::new(c));
        }
        Ok(Self { conns: conns.into(), next: AtomicUsize::new(0) })
    }

    /// A free connection if there is one, else the next in turn.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.conns[(start + i) % n].try_lock() {
                return guard;
            }
        }
        self.conns[start % n].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The one row `sql` finds with `params`, mapped by `map`; `None` when there is none.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(sql).map_err(fail)?;
        statement.query_row(params, map).optional().map_err(fail)
    }
}

fn fail(e: rusqlite::Error) -> StoreError {
    StoreError::FastRead(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ferry_domain::{ClientId, User, UserGuid};

    use crate::Db;

    /// A user read on the calling thread is the user sqlx reads, field for field; another
    /// client's guid finds nothing.
    #[tokio::test]
    async fn the_fast_read_of_a_user_is_the_sqlx_read() {
        let dir = std::env::temp_dir().join(format!("ferry-fast-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.join("f.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        let client = ClientId::parse("CLT-00000000-0000-4000-8000-000000000001").unwrap();
        let record = crate::ClientRecord {
            client: ferry_domain::Client {
                id: client.clone(),
                name: "c".into(),
                created_at: time::OffsetDateTime::now_utc(),
            },
            api_key_hash: "hash".into(),
        };
        db.insert_client(&record).await.unwrap();
        let now = time::OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000).unwrap();
        let user = User {
            guid: UserGuid::parse("USR-00000000-0000-4000-8000-000000000002").unwrap(),
            client_id: client.clone(),
            id: Some("partner-7".into()),
            email: Some("a@example.com".into()),
            is_disabled: true,
            metadata: Some("{\"k\":1}".into()),
            created_at: now,
            updated_at: now,
        };
        db.insert_user(&user).await.unwrap();
        let fast = db.get_user(&client, &user.guid).await.unwrap().unwrap();
        let slow = db.get_user_by_id(&client, "partner-7").await.unwrap().unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast, user);
        let other = ClientId::parse("CLT-00000000-0000-4000-8000-000000000009").unwrap();
        assert!(db.get_user(&other, &user.guid).await.unwrap().is_none());
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
