//! What key rotation needs from the store: every sealed column, the rows whose values are
//! under another key than the current one (in batches, by primary key), and a guarded rewrite
//! of one value (only if it is still the value that was read, so a concurrent write by a
//! running server wins).

use sqlx::AssertSqlSafe;

use crate::{Db, Result, on_reader, on_unique, on_writer};

/// A sealed column: its table, the row's key, the key-id column and the ciphertext column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    /// A name for reports: `members.credentials`, `webhook_endpoints.secret`, ...
    pub name: &'static str,
    pub table: &'static str,
    pub row_key: &'static str,
    pub key_id: &'static str,
    pub sealed: &'static str,
}

/// Every sealed column but the members' credentials, which carry a fingerprint too (see
/// [`Db::members_to_rotate`]).
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        name: "jobs.state",
        table: "jobs",
        row_key: "guid",
        key_id: "sealed_key_id",
        sealed: "sealed_state",
    },
    SealedColumn {
        name: "member_connector_states.state",
        table: "member_connector_states",
        row_key: "member_guid",
        key_id: "key_id",
        sealed: "sealed",
    },
    SealedColumn {
        name: "webhook_endpoints.secret",
        table: "webhook_endpoints",
        row_key: "guid",
        key_id: "secret_key_id",
        sealed: "secret_sealed",
    },
    SealedColumn {
        name: "webhook_endpoints.basic_password",
        table: "webhook_endpoints",
        row_key: "guid",
        key_id: "basic_password_key_id",
        sealed: "basic_password_sealed",
    },
    SealedColumn {
        name: "institution_oauth.client_secret",
        table: "institution_oauth",
        row_key: "institution_guid",
        key_id: "client_secret_key_id",
        sealed: "client_secret_sealed",
    },
    SealedColumn {
        name: "oauth_states.verifier",
        table: "oauth_states",
        row_key: "state",
        key_id: "verifier_key_id",
        sealed: "verifier_sealed",
    },
];

/// The members' credentials (or OAuth tokens), with their duplicate fingerprint.
pub const MEMBER_CREDENTIALS: SealedColumn = SealedColumn {
    name: "members.credentials",
    table: "members",
    row_key: "guid",
    key_id: "credentials_key_id",
    sealed: "credentials_sealed",
};

/// One sealed value to rotate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedRow {
    pub row_key: String,
    pub key_id: String,
    pub sealed: String,
}

/// A member whose credentials are under another key. The fingerprint of a member with
/// credentials is always made with the key that sealed them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberToRotate {
    pub guid: String,
    pub user_guid: String,
    pub institution_guid: String,
    pub is_oauth: bool,
    pub key_id: String,
    pub sealed: String,
}

impl Db {
    /// Up to `limit` values of `column` under another key than `current`, after `after` (by
    /// row key), in row-key order.
    pub async fn sealed_to_rotate(
        &self,
        column: &SealedColumn,
        current: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<SealedRow>> {
        let sql = format!(
            "SELECT {k} AS row_key, {id} AS key_id, {s} AS sealed FROM {t}
             WHERE {id} IS NOT NULL AND {id} <> '' AND {id} <> $1 AND {s} IS NOT NULL AND {s} <> '' AND {k} > $2
             ORDER BY {k} LIMIT $3",
            k = column.row_key,
            id = column.key_id,
            s = column.sealed,
            t = column.table
        );
        Ok(on_reader!(self, |conn| sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(current)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await)?)
    }

    /// Replaces one value if it is still `old`; false when it changed (or its row went).
    pub async fn reseal(
        &self,
        column: &SealedColumn,
        row_key: &str,
        old: &str,
        key_id: &str,
        sealed: &str,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE {t} SET {id} = $1, {s} = $2 WHERE {k} = $3 AND {s} = $4",
            t = column.table,
            id = column.key_id,
            s = column.sealed,
            k = column.row_key
        );
        let n = on_writer!(self, |conn| sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(key_id)
            .bind(sealed)
            .bind(row_key)
            .bind(old)
            .execute(&mut *conn)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// How many values of `column` each key holds.
    pub async fn count_by_key(&self, column: &SealedColumn) -> Result<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT {id}, COUNT(*) FROM {t} WHERE {id} IS NOT NULL AND {id} <> '' AND {s} IS NOT NULL AND {s} <> ''
             GROUP BY {id} ORDER BY {id}",
            id = column.key_id,
            s = column.sealed,
            t = column.table
        );
        Ok(on_reader!(self, |conn| sqlx::query_as(AssertSqlSafe(sql.clone())).fetch_all(&mut *conn).await)?)
    }

    /// Up to `limit` members whose credentials are under another key than `current`, after
    /// `after`, by guid.
    pub async fn members_to_rotate(&self, current: &str, after: &str, limit: i64) -> Result<Vec<MemberToRotate>> {
        Ok(on_reader!(self, |conn| sqlx::query_as(
            "SELECT guid, user_guid, institution_guid, is_oauth, credentials_key_id AS key_id,
                credentials_sealed AS sealed FROM members
             WHERE credentials_key_id IS NOT NULL AND credentials_key_id <> '' AND credentials_key_id <> $1
                AND credentials_sealed IS NOT NULL AND credentials_sealed <> '' AND guid > $2
             ORDER BY guid LIMIT $3"
        )
        .bind(current)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await)?)
    }

    /// Replaces a member's sealed credentials and, when given, its fingerprint, if the sealed
    /// value is still `old`. A fingerprint that another member of the user already has under
    /// the new key is a conflict.
    pub async fn reseal_member(
        &self,
        guid: &str,
        old: &str,
        key_id: &str,
        sealed: &str,
        fingerprint: Option<&str>,
    ) -> Result<bool> {
        let n = on_writer!(self, |conn| sqlx::query(
            "UPDATE members SET credentials_key_id = $1, credentials_sealed = $2,
                credentials_fingerprint = COALESCE($3, credentials_fingerprint)
             WHERE guid = $4 AND credentials_sealed = $5"
        )
        .bind(key_id)
        .bind(sealed)
        .bind(fingerprint)
        .bind(guid)
        .bind(old)
        .execute(&mut *conn)
        .await
        .map_err(on_unique("members"))?
        .rows_affected());
        Ok(n == 1)
    }
}
