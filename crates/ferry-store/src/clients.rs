//! The `clients` table: tenants and the SHA-256 hashes of their API keys.

use ferry_domain::{Client, ClientId};
use sqlx::FromRow;

use crate::{Db, Result, corrupt, from_micros, on_reader, on_unique, on_writer, to_micros};

/// A client with the hash of its current API key.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub client: Client,
    pub api_key_hash: String,
}

#[derive(FromRow)]
struct ClientRow {
    id: String,
    name: String,
    api_key_hash: String,
    created_at: i64,
}

impl ClientRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_record(self) -> Result<ClientRecord> {
        let key = self.id.clone();
        self.parse_record().ok_or_else(|| corrupt("clients", &key, "one of its columns"))
    }

    fn parse_record(self) -> Option<ClientRecord> {
        Some(ClientRecord {
            client: Client {
                id: ClientId::parse(&self.id).ok()?,
                name: self.name,
                created_at: from_micros(self.created_at),
            },
            api_key_hash: self.api_key_hash,
        })
    }
}

impl Db {
    pub async fn insert_client(&self, record: &ClientRecord) -> Result<()> {
        let c = &record.client;
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO clients (id, name, api_key_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
        )
        .bind(c.id.as_str())
        .bind(&c.name)
        .bind(&record.api_key_hash)
        .bind(to_micros(c.created_at))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(on_unique("clients"))?;
        Ok(())
    }

    pub async fn get_client(&self, id: &ClientId) -> Result<Option<ClientRecord>> {
        let row: Option<ClientRow> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT id, name, api_key_hash, created_at FROM clients WHERE id = $1"
        )
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(ClientRow::into_record).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let rows: Vec<ClientRow> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT id, name, api_key_hash, created_at FROM clients ORDER BY created_at, id"
        )
        .fetch_all(&mut *conn)
        .await)?;
        rows.into_iter().map(|r| r.into_record().map(|r| r.client)).collect()
    }

    pub async fn count_clients(&self) -> Result<i64> {
        Ok(on_reader!(self, |conn| sqlx::query_scalar("SELECT COUNT(*) FROM clients").fetch_one(&mut *conn).await)?)
    }

    /// Replaces the key hash; false when the client does not exist.
    pub async fn set_client_key(&self, id: &ClientId, api_key_hash: &str, now: time::OffsetDateTime) -> Result<bool> {
        let done = on_writer!(self, |conn| sqlx::query(
            "UPDATE clients SET api_key_hash = $1, updated_at = $2 WHERE id = $3"
        )
        .bind(api_key_hash)
        .bind(to_micros(now))
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
