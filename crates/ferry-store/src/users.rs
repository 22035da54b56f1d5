//! The `users` table. Every query is scoped to one client.

use ferry_domain::{ClientId, Page, PageRequest, User, UserGuid};
use sqlx::{FromRow, QueryBuilder};

use crate::{Db, Result, SqliteDb, from_micros, on_reader, on_unique, on_writer, to_micros};

/// The filters of `GET /users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub id: Option<String>,
    pub email: Option<String>,
    pub is_disabled: Option<bool>,
}

#[derive(FromRow)]
struct UserRow {
    guid: String,
    client_id: String,
    id: Option<String>,
    email: Option<String>,
    is_disabled: bool,
    metadata: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn into_user(self) -> Option<User> {
        Some(User {
            guid: UserGuid::parse(&self.guid).ok()?,
            client_id: ClientId::parse(&self.client_id).ok()?,
            id: self.id,
            email: self.email,
            is_disabled: self.is_disabled,
            metadata: self.metadata,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

macro_rules! columns {
    () => {
        "guid, client_id, id, email, is_disabled, metadata, created_at, updated_at"
    };
}

/// Appends the WHERE clause of a user listing (expanded per backend by the callers).
macro_rules! push_user_filter {
    ($qb:expr, $client:expr, $f:expr) => {{
        $qb.push(" WHERE client_id = ").push_bind($client.as_str().to_owned());
        if let Some(id) = &$f.id {
            $qb.push(" AND id = ").push_bind(id.clone());
        }
        if let Some(email) = &$f.email {
            $qb.push(" AND email = ").push_bind(email.clone());
        }
        if let Some(d) = $f.is_disabled {
            $qb.push(" AND is_disabled = ").push_bind(d);
        }
    }};
}

impl Db {
    pub async fn insert_user(&self, u: &User) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO users (guid, client_id, id, email, is_disabled, metadata, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(u.guid.as_str())
        .bind(u.client_id.as_str())
        .bind(&u.id)
        .bind(&u.email)
        .bind(u.is_disabled)
        .bind(&u.metadata)
        .bind(to_micros(u.created_at))
        .bind(to_micros(u.updated_at))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(on_unique("users"))?;
        Ok(())
    }

    pub async fn get_user(&self, client: &ClientId, guid: &UserGuid) -> Result<Option<User>> {
        if let Db::Sqlite(SqliteDb { fast: Some(fast), .. }) = self {
            let sql = concat!("SELECT ", columns!(), " FROM users WHERE guid = ?1 AND client_id = ?2");
            let row = fast.row(sql, (guid.as_str(), client.as_str()), |r| {
                Ok(UserRow {
                    guid: r.get(0)?,
                    client_id: r.get(1)?,
                    id: r.get(2)?,
                    email: r.get(3)?,
                    is_disabled: r.get(4)?,
                    metadata: r.get(5)?,
                    created_at: r.get(6)?,
                    updated_at: r.get(7)?,
                })
            });
            match row {
                Ok(row) => return Ok(row.and_then(UserRow::into_user)),
                // Busy past the short timeout these connections wait on the runtime's threads:
                // the sqlx readers below wait longer, off them.
                Err(e) => tracing::debug!(error = %e, "fast read failed; reading through sqlx"),
            }
        }
        let row: Option<UserRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE guid = $1 AND client_id = $2"
        ))
        .bind(guid.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.and_then(UserRow::into_user))
    }

    pub async fn get_user_by_id(&self, client: &ClientId, id: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE id = $1 AND client_id = $2"
        ))
        .bind(id)
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.and_then(UserRow::into_user))
    }

    /// Writes every mutable field of `u`; false when the user is gone.
    pub async fn update_user(&self, u: &User) -> Result<bool> {
        let done = on_writer!(self, |conn| {
            sqlx::query(
                "UPDATE users SET id = $1, email = $2, is_disabled = $3, metadata = $4, updated_at = $5
             WHERE guid = $6 AND client_id = $7",
            )
            .bind(&u.id)
            .bind(&u.email)
            .bind(u.is_disabled)
            .bind(&u.metadata)
            .bind(to_micros(u.updated_at))
            .bind(u.guid.as_str())
            .bind(u.client_id.as_str())
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(on_unique("users"))?;
        Ok(done == 1)
    }

    /// Deletes the user and, through the foreign keys, everything that hangs off it.
    pub async fn delete_user(&self, client: &ClientId, guid: &UserGuid) -> Result<bool> {
        crate::retry_deadlock(|| self.delete_user_once(client, guid)).await
    }

    /// One attempt of [`Db::delete_user`].
    async fn delete_user_once(&self, client: &ClientId, guid: &UserGuid) -> Result<bool> {
        let done = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            // The members' jobs before the members (the cascade would take them after): the one
            // lock order of every transaction that writes both, so a worker's claim or a job's
            // end cannot deadlock with the deletion on PostgreSQL.
            sqlx::query(
                "DELETE FROM jobs WHERE client_id = $2
                    AND member_guid IN (SELECT guid FROM members WHERE user_guid = $1 AND client_id = $2)",
            )
            .bind(guid.as_str())
            .bind(client.as_str())
            .execute(&mut *tx)
            .await?;
            let n = sqlx::query("DELETE FROM users WHERE guid = $1 AND client_id = $2")
                .bind(guid.as_str())
                .bind(client.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            n
        });
        Ok(done == 1)
    }

    pub async fn list_users(&self, client: &ClientId, filter: &UserFilter, page: PageRequest) -> Result<Page<User>> {
        let (total, rows): (i64, Vec<UserRow>) = on_reader!(self, |conn| {
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM users");
            push_user_filter!(count, client, filter);
            let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut select = QueryBuilder::new(concat!("SELECT ", columns!(), " FROM users"));
            push_user_filter!(select, client, filter);
            select.push(" ORDER BY created_at, guid LIMIT ").push_bind(page.limit());
            select.push(" OFFSET ").push_bind(page.offset());
            let rows = select.build_query_as().fetch_all(&mut *conn).await?;
            (total, rows)
        });
        Ok(Page {
            items: rows.into_iter().filter_map(UserRow::into_user).collect(),
            request: page,
            total_entries: total,
        })
    }
}
