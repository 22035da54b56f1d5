//! The server faces' own tables: SimpleFIN setup tokens and access (`simplefin_tokens`,
//! `simplefin_access`) and OFX sign-ons (`ofx_logins`). Secrets are stored only as hashes.

use ferry_domain::{ClientId, UserGuid};
use sqlx::FromRow;
use time::OffsetDateTime;

use crate::{Db, Result, corrupt, from_micros, on_reader, on_unique, on_writer, to_micros};

/// An access URL's row, as its owner sees it (never the secret's hash).
#[derive(Debug, Clone, PartialEq)]
pub struct SimplefinAccess {
    pub guid: String,
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    /// The user's partner id, if any.
    pub user_id: Option<String>,
    pub username: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// What a claim writes: the access row for the token.
pub struct NewSimplefinAccess<'a> {
    pub guid: &'a str,
    pub username: &'a str,
    pub secret_hash: &'a str,
}

/// An access's credentials, for checking a request.
#[derive(Debug, Clone)]
pub struct SimplefinCredentials {
    pub guid: String,
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    pub secret_hash: String,
    pub revoked: bool,
    pub last_used_at: Option<OffsetDateTime>,
}

/// An OFX sign-on.
#[derive(Debug, Clone)]
pub struct OfxLogin {
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    pub login: String,
    pub password_hash: String,
    /// Wrong passwords since the last right one.
    pub failures: i64,
    pub locked_until: Option<OffsetDateTime>,
}

#[derive(FromRow)]
struct AccessRow {
    guid: String,
    client_id: String,
    user_guid: String,
    user_id: Option<String>,
    username: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl AccessRow {
    fn into_access(self) -> Result<SimplefinAccess> {
        let bad = |what| corrupt("simplefin_access", &self.guid, what);
        Ok(SimplefinAccess {
            client_id: ClientId::parse(&self.client_id).map_err(|_| bad("client_id"))?,
            user_guid: UserGuid::parse(&self.user_guid).map_err(|_| bad("user_guid"))?,
            user_id: self.user_id,
            username: self.username,
            created_at: from_micros(self.created_at),
            last_used_at: self.last_used_at.map(from_micros),
            revoked_at: self.revoked_at.map(from_micros),
            guid: self.guid,
        })
    }
}

#[derive(FromRow)]
struct CredentialsRow {
    guid: String,
    client_id: String,
    user_guid: String,
    secret_hash: String,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

#[derive(FromRow)]
struct LoginRow {
    client_id: String,
    user_guid: String,
    login: String,
    password_hash: String,
    failures: i64,
    locked_until: Option<i64>,
}

impl Db {
    pub async fn insert_simplefin_token(
        &self,
        token_hash: &str,
        client: &ClientId,
        user: &UserGuid,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO simplefin_tokens (token_hash, client_id, user_guid, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(token_hash)
        .bind(client.as_str())
        .bind(user.as_str())
        .bind(to_micros(now))
        .bind(to_micros(expires_at))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(on_unique("simplefin_tokens")))?;
        Ok(())
    }

    /// Claims a setup token (once, before it expires) and creates its access in the same
    /// transaction: a crash leaves either an unclaimed token or a claimed one with its access.
    /// `None` for an unknown, claimed or expired token.
    pub async fn claim_simplefin_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        access: &NewSimplefinAccess<'_>,
    ) -> Result<Option<(ClientId, UserGuid)>> {
        let now = to_micros(now);
        let owner: Option<(String, String)> = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let owner: Option<(String, String)> = sqlx::query_as(
                "UPDATE simplefin_tokens SET claimed_at = $1
                 WHERE token_hash = $2 AND claimed_at IS NULL AND expires_at > $1
                 RETURNING client_id, user_guid",
            )
            .bind(now)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((client, user)) = &owner {
                sqlx::query(
                    "INSERT INTO simplefin_access (guid, client_id, user_guid, username, secret_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(access.guid)
                .bind(client)
                .bind(user)
                .bind(access.username)
                .bind(access.secret_hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(on_unique("simplefin_access"))?;
            }
            tx.commit().await?;
            owner
        });
        owner
            .map(|(c, u)| {
                let bad = |what| corrupt("simplefin_tokens", token_hash, what);
                Ok((
                    ClientId::parse(&c).map_err(|_| bad("client_id"))?,
                    UserGuid::parse(&u).map_err(|_| bad("user_guid"))?,
                ))
            })
            .transpose()
    }

    /// The credentials behind an access URL's username.
    pub async fn simplefin_credentials(&self, username: &str) -> Result<Option<SimplefinCredentials>> {
        let row: Option<CredentialsRow> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT guid, client_id, user_guid, secret_hash, revoked_at, last_used_at
             FROM simplefin_access WHERE username = $1"
        )
        .bind(username)
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(|r| {
            let bad = |what| corrupt("simplefin_access", &r.guid, what);
            Ok(SimplefinCredentials {
                client_id: ClientId::parse(&r.client_id).map_err(|_| bad("client_id"))?,
                user_guid: UserGuid::parse(&r.user_guid).map_err(|_| bad("user_guid"))?,
                secret_hash: r.secret_hash,
                revoked: r.revoked_at.is_some(),
                last_used_at: r.last_used_at.map(from_micros),
                guid: r.guid,
            })
        })
        .transpose()
    }

    pub async fn touch_simplefin_access(&self, guid: &str, now: OffsetDateTime) -> Result<()> {
        on_writer!(self, |conn| sqlx::query("UPDATE simplefin_access SET last_used_at = $1 WHERE guid = $2")
            .bind(to_micros(now))
            .bind(guid)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// A client's access URLs (one user's, when given), oldest first.
    pub async fn list_simplefin_access(
        &self,
        client: &ClientId,
        user: Option<&UserGuid>,
    ) -> Result<Vec<SimplefinAccess>> {
        let rows: Vec<AccessRow> = on_reader!(self, |conn| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT s.guid, s.client_id, s.user_guid, u.id AS user_id, s.username, s.created_at,
                        s.last_used_at, s.revoked_at
                 FROM simplefin_access s JOIN users u ON u.guid = s.user_guid WHERE s.client_id = ",
            );
            qb.push_bind(client.as_str().to_owned());
            if let Some(u) = user {
                qb.push(" AND s.user_guid = ").push_bind(u.as_str().to_owned());
            }
            qb.push(" ORDER BY s.created_at, s.guid");
            qb.build_query_as().fetch_all(&mut *conn).await?
        });
        rows.into_iter().map(AccessRow::into_access).collect()
    }

    /// Revokes an access URL of the client; `false` when there is none by that guid.
    /// Revoking twice keeps the first time.
    pub async fn revoke_simplefin_access(&self, client: &ClientId, guid: &str, now: OffsetDateTime) -> Result<bool> {
        let n = on_writer!(self, |conn| sqlx::query(
            "UPDATE simplefin_access SET revoked_at = COALESCE(revoked_at, $1) WHERE guid = $2 AND client_id = $3"
        )
        .bind(to_micros(now))
        .bind(guid)
        .bind(client.as_str())
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Sets a user's OFX sign-on (a new password clears the failures and any lock). A login
    /// another user holds is a [`StoreError::Conflict`].
    pub async fn set_ofx_login(
        &self,
        client: &ClientId,
        user: &UserGuid,
        login: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let now = to_micros(now);
        on_writer!(self, |conn| sqlx::query(
            "INSERT INTO ofx_logins (user_guid, client_id, login, password_hash, failures, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 0, $5, $5)
             ON CONFLICT (user_guid) DO UPDATE SET login = excluded.login,
                password_hash = excluded.password_hash, failures = 0, locked_until = NULL,
                updated_at = excluded.updated_at"
        )
        .bind(user.as_str())
        .bind(client.as_str())
        .bind(login)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(on_unique("ofx_logins")))?;
        Ok(())
    }

    /// The sign-on of an OFX USERID.
    pub async fn ofx_login(&self, login: &str) -> Result<Option<OfxLogin>> {
        let row: Option<LoginRow> = on_reader!(self, |conn| {
            sqlx::query_as(
            "SELECT client_id, user_guid, login, password_hash, failures, locked_until FROM ofx_logins WHERE login = $1"
        )
        .bind(login)
        .fetch_optional(&mut *conn)
        .await
        })?;
        row.map(into_login).transpose()
    }

    /// A user's OFX sign-on, if one was set.
    pub async fn ofx_login_of_user(&self, client: &ClientId, user: &UserGuid) -> Result<Option<OfxLogin>> {
        let row: Option<LoginRow> = on_reader!(self, |conn| sqlx::query_as(
            "SELECT client_id, user_guid, login, password_hash, failures, locked_until FROM ofx_logins
             WHERE user_guid = $1 AND client_id = $2"
        )
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(into_login).transpose()
    }

    /// Reserves one sign-on attempt before its password is checked, so attempts made at
    /// once cannot outrun the lockout: the attempt counts as a failure now (a right password
    /// then clears it), and the `lock_after`th in a row locks the sign-on until
    /// `locked_until`. A lock that has run out starts the count over. `None` when the login
    /// is unknown or locked (it says which).
    pub async fn reserve_ofx_attempt(
        &self,
        login: &str,
        now: OffsetDateTime,
        lock_after: i64,
        locked_until: OffsetDateTime,
    ) -> Result<std::result::Result<OfxLogin, bool>> {
        let row: Option<LoginRow> = on_writer!(self, |conn| sqlx::query_as(
            "UPDATE ofx_logins SET
                failures = CASE WHEN locked_until IS NULL THEN failures + 1 ELSE 1 END,
                locked_until = CASE WHEN (CASE WHEN locked_until IS NULL THEN failures + 1 ELSE 1 END) >= $3
                    THEN $4 ELSE NULL END
             WHERE login = $1 AND (locked_until IS NULL OR locked_until <= $2)
             RETURNING client_id, user_guid, login, password_hash, failures, locked_until"
        )
        .bind(login)
        .bind(to_micros(now))
        .bind(lock_after)
        .bind(to_micros(locked_until))
        .fetch_optional(&mut *conn)
        .await)?;
        match row {
            Some(r) => Ok(Ok(into_login(r)?)),
            None => Ok(Err(self.ofx_login(login).await?.is_some())),
        }
    }

    /// A right password: the count of wrong ones starts over, and a lock its own attempt set
    /// is lifted.
    pub async fn clear_ofx_failures(&self, user: &UserGuid) -> Result<()> {
        on_writer!(self, |conn| sqlx::query(
            "UPDATE ofx_logins SET failures = 0, locked_until = NULL WHERE user_guid = $1"
        )
        .bind(user.as_str())
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}

fn into_login(r: LoginRow) -> Result<OfxLogin> {
    let bad = |what| corrupt("ofx_logins", &r.login, what);
    Ok(OfxLogin {
        client_id: ClientId::parse(&r.client_id).map_err(|_| bad("client_id"))?,
        user_guid: UserGuid::parse(&r.user_guid).map_err(|_| bad("user_guid"))?,
        failures: r.failures,
        locked_until: r.locked_until.map(from_micros),
        password_hash: r.password_hash,
        login: r.login,
    })
}
