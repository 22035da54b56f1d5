//! What a node reports about its database, for metrics: members by status, queued jobs, and
//! how many connections are in use.

use crate::{Db, Result, on_reader};

/// One pool's connections: how many are open and how many of those are in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionUse {
    /// `reader` or `writer` (SQLite), `pool` (PostgreSQL).
    pub pool: &'static str,
    pub open: u32,
    pub busy: u32,
}

impl Db {
    /// Members of every client, counted by connection status.
    pub async fn count_members_by_status(&self) -> Result<Vec<(String, i64)>> {
        Ok(on_reader!(self, |conn| sqlx::query_as(
            "SELECT connection_status, COUNT(*) FROM members GROUP BY connection_status"
        )
        .fetch_all(&mut *conn)
        .await)?)
    }

    /// Jobs waiting for a worker.
    pub async fn count_queued_jobs(&self) -> Result<i64> {
        Ok(on_reader!(self, |conn| sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED'")
            .fetch_one(&mut *conn)
            .await)?)
    }

    /// The connections of this process, now (no database round trip).
    pub fn connection_use(&self) -> Vec<ConnectionUse> {
        match self {
            Db::Sqlite(s) => {
                let readers = s.readers.iter().filter(|r| r.try_lock().is_err()).count();
                vec![
                    ConnectionUse { pool: "reader", open: s.readers.len() as u32, busy: readers as u32 },
                    ConnectionUse { pool: "writer", open: 1, busy: u32::from(s.writer.try_lock().is_err()) },
                ]
            }
            Db::Postgres(p) => {
                let open = p.size();
                vec![ConnectionUse { pool: "pool", open, busy: open.saturating_sub(p.num_idle() as u32) }]
            }
        }
    }
}
