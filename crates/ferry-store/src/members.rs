//! The `members` table. Credentials arrive here already sealed by the core; the duplicate guard
//! is the unique index over (user, institution, credentials fingerprint).

use ferry_domain::{
    ClientId, ConnectionStatus, CredentialGuid, InstitutionGuid, Job, JobGuid, Member, MemberGuid, Page, PageRequest,
    UseCase, UserGuid,
};
use sqlx::{FromRow, QueryBuilder};

use crate::jobs::{insert_job_row, mark_busy};
use crate::webhooks::{NewEvent, insert_events};
use crate::{Db, Result, corrupt, from_micros, join_list, on_reader, on_unique, on_writer, parse_list, to_micros};

/// Credentials as stored: AEAD ciphertext, the id of the key that sealed it, and the keyed
/// fingerprint that detects duplicates.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    pub key_id: String,
    pub sealed: String,
    pub fingerprint: String,
}

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCredentials").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// What a member update changes; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug)]
pub struct MemberChanges<'a> {
    pub id: Option<Option<&'a str>>,
    pub metadata: Option<Option<&'a str>>,
    pub background_aggregation_is_disabled: Option<bool>,
    pub use_cases: Option<&'a [UseCase]>,
    pub callback_payload: Option<&'a str>,
    pub credentials: Option<CredentialChange<'a>>,
    pub updated_at: time::OffsetDateTime,
}

/// New credentials, and the status they put the member in.
#[derive(Debug)]
pub struct CredentialChange<'a> {
    pub sealed: &'a SealedCredentials,
    pub guids: &'a [CredentialGuid],
    pub status: ConnectionStatus,
    pub message: Option<&'a str>,
}

/// What [`Db::update_member`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberUpdate {
    /// The member is gone (or another client's).
    Gone,
    /// The update applied; `job_started` when the restart job was queued.
    Applied { job_started: bool },
}

/// The filters of `GET /users/{user}/members`.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub use_case: Option<UseCase>,
}

#[derive(FromRow)]
struct MemberRow {
    guid: String,
    client_id: String,
    user_guid: String,
    user_id: Option<String>,
    id: Option<String>,
    institution_guid: String,
    institution_code: String,
    name: String,
    metadata: Option<String>,
    connection_status: String,
    connection_status_message: Option<String>,
    is_oauth: bool,
    oauth_window_uri: Option<String>,
    is_being_aggregated: bool,
    is_authenticated: bool,
    has_processed_accounts: bool,
    has_processed_transactions: bool,
    has_processed_account_numbers: bool,
    aggregated_at: Option<i64>,
    successfully_aggregated_at: Option<i64>,
    background_aggregation_is_disabled: bool,
    needs_updated_credentials: bool,
    use_cases: String,
    products: String,
    most_recent_job_guid: Option<String>,
    most_recent_job_detail_code: Option<i64>,
    client_redirect_url: Option<String>,
    enable_app2app: Option<bool>,
    referral_source: Option<String>,
    ui_message_webview_url_scheme: Option<String>,
    callback_payload: Option<String>,
    credential_guids: String,
    created_at: i64,
    updated_at: i64,
}

impl MemberRow {
    fn into_member(self) -> Result<Member> {
        let bad = |what: &str| corrupt("members", &self.guid, what);
        Ok(Member {
            guid: MemberGuid::parse(&self.guid).map_err(|_| bad("guid"))?,
            client_id: ClientId::parse(&self.client_id).map_err(|_| bad("client_id"))?,
            user_guid: UserGuid::parse(&self.user_guid).map_err(|_| bad("user_guid"))?,
            user_id: self.user_id,
            id: self.id,
            institution_guid: InstitutionGuid::parse(&self.institution_guid).map_err(|_| bad("institution_guid"))?,
            institution_code: self.institution_code,
            name: self.name,
            metadata: self.metadata,
            connection_status: self.connection_status.parse().map_err(|_| bad("connection_status"))?,
            connection_status_message: self.connection_status_message,
            is_oauth: self.is_oauth,
            oauth_window_uri: self.oauth_window_uri,
            is_being_aggregated: self.is_being_aggregated,
            is_authenticated: self.is_authenticated,
            has_processed_accounts: self.has_processed_accounts,
            has_processed_transactions: self.has_processed_transactions,
            has_processed_account_numbers: self.has_processed_account_numbers,
            aggregated_at: self.aggregated_at.map(from_micros),
            successfully_aggregated_at: self.successfully_aggregated_at.map(from_micros),
            background_aggregation_is_disabled: self.background_aggregation_is_disabled,
            needs_updated_credentials: self.needs_updated_credentials,
            use_cases: parse_list(&self.use_cases).map_err(|_| bad("use_cases"))?,
            products: parse_list(&self.products).map_err(|_| bad("products"))?,
            most_recent_job_guid: match &self.most_recent_job_guid {
                Some(g) => Some(JobGuid::parse(g).map_err(|_| bad("most_recent_job_guid"))?),
                None => None,
            },
            most_recent_job_detail_code: self.most_recent_job_detail_code,
            client_redirect_url: self.client_redirect_url,
            enable_app2app: self.enable_app2app,
            referral_source: self.referral_source,
            ui_message_webview_url_scheme: self.ui_message_webview_url_scheme,
            callback_payload: self.callback_payload,
            credential_guids: parse_list(&self.credential_guids).map_err(|_| bad("credential_guids"))?,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

macro_rules! select_members {
    () => {
        "SELECT m.guid, m.client_id, m.user_guid, u.id AS user_id, m.id, m.institution_guid,
            i.code AS institution_code, m.name, m.metadata, m.connection_status,
            m.connection_status_message, m.is_oauth, m.oauth_window_uri, m.is_being_aggregated,
            m.is_authenticated, m.has_processed_accounts, m.has_processed_transactions,
            m.has_processed_account_numbers, m.aggregated_at, m.successfully_aggregated_at,
            m.background_aggregation_is_disabled, m.needs_updated_credentials, m.use_cases,
            m.products, m.most_recent_job_guid, m.most_recent_job_detail_code,
            m.client_redirect_url, m.enable_app2app, m.referral_source,
            m.ui_message_webview_url_scheme, m.callback_payload, m.credential_guids,
            m.created_at, m.updated_at
         FROM members m
         JOIN users u ON u.guid = m.user_guid
         JOIN institutions i ON i.guid = m.institution_guid"
    };
}

pub(crate) fn credential_guids(m: &Member) -> String {
    join_list(m.credential_guids.iter().map(|g| g.as_str()))
}

impl Db {
    pub async fn get_member(&self, client: &ClientId, user: &UserGuid, guid: &MemberGuid) -> Result<Option<Member>> {
        let row: Option<MemberRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            select_members!(),
            " WHERE m.guid = $1 AND m.user_guid = $2 AND m.client_id = $3"
        ))
        .bind(guid.as_str())
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(MemberRow::into_member).transpose()
    }

    /// A member by its partner id, within one user of one client.
    pub async fn get_member_by_id(&self, client: &ClientId, user: &UserGuid, id: &str) -> Result<Option<Member>> {
        let row: Option<MemberRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            select_members!(),
            " WHERE m.id = $1 AND m.user_guid = $2 AND m.client_id = $3"
        ))
        .bind(id)
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(MemberRow::into_member).transpose()
    }

    /// Whether any member of the client has the partner id `id`.
    pub async fn member_id_in_use(&self, client: &ClientId, id: &str) -> Result<bool> {
        let found: Option<String> = on_reader!(self, |conn| sqlx::query_scalar(
            "SELECT guid FROM members WHERE client_id = $1 AND id = $2 LIMIT 1"
        )
        .bind(client.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(found.is_some())
    }

    /// The member of `user` at `institution` whose credentials have `fingerprint`, if any.
    pub async fn find_member_by_fingerprint(
        &self,
        user: &UserGuid,
        institution: &InstitutionGuid,
        fingerprint: &str,
    ) -> Result<Option<MemberGuid>> {
        // Read through the writer: right after a refused insert, this must see the winner.
        let guid: Option<String> = on_writer!(self, |conn| {
            sqlx::query_scalar(
            "SELECT guid FROM members WHERE user_guid = $1 AND institution_guid = $2 AND credentials_fingerprint = $3"
        )
        .bind(user.as_str())
        .bind(institution.as_str())
        .bind(fingerprint)
        .fetch_optional(&mut *conn)
        .await
        })?;
        Ok(guid.and_then(|g| MemberGuid::parse(&g).ok()))
    }

    /// The sealed credentials of a member, for the core to open.
    pub async fn get_member_credentials(&self, guid: &MemberGuid) -> Result<Option<SealedCredentials>> {
        let row: Option<(Option<String>, Option<String>, String)> = on_reader!(self, |conn| {
            sqlx::query_as(
                "SELECT credentials_key_id, credentials_sealed, credentials_fingerprint FROM members WHERE guid = $1",
            )
            .bind(guid.as_str())
            .fetch_optional(&mut *conn)
            .await
        })?;
        Ok(row.and_then(|(key_id, sealed, fingerprint)| {
            Some(SealedCredentials { key_id: key_id?, sealed: sealed?, fingerprint })
        }))
    }

    /// Applies the fields a member update changes, and nothing else, in one statement: fields
    /// aggregation moves meanwhile are left alone, and the duplicate guard sees new credentials
    /// at once. New credentials, in the same transaction, supersede the member's queued,
    /// running or challenged job; with `restart`, a new job is queued in their place.
    pub async fn update_member(
        &self,
        client: &ClientId,
        guid: &MemberGuid,
        c: &MemberChanges<'_>,
        events: &[NewEvent],
        restart: Option<&Job>,
    ) -> Result<MemberUpdate> {
        crate::retry_deadlock(|| self.update_member_once(client, guid, c, events, restart)).await
    }

    /// One attempt of [`Db::update_member`].
    async fn update_member_once(
        &self,
        client: &ClientId,
        guid: &MemberGuid,
        c: &MemberChanges<'_>,
        events: &[NewEvent],
        restart: Option<&Job>,
    ) -> Result<MemberUpdate> {
        let creds = c.credentials.as_ref();
        let done = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            // Jobs before the member, as every transaction that writes both does (a claim, a
            // job's end, queuing a job): on PostgreSQL, one lock order means no deadlock.
            let mut job_started = false;
            if creds.is_some() {
                // New credentials supersede whatever the old ones started: a challenge nobody
                // needs to answer now, a queued or running job (its worker's lease-guarded
                // writes then apply to nothing).
                sqlx::query(
                    "UPDATE jobs SET status = 'FAILED', outcome = 'UPDATED', challenges = NULL,
                        sealed_key_id = NULL, sealed_state = NULL, lease_owner = NULL,
                        finished_at = $1, updated_at = $1
                     WHERE member_guid = $2 AND client_id = $3 AND status IN ('QUEUED', 'RUNNING', 'CHALLENGED')",
                )
                .bind(to_micros(c.updated_at))
                .bind(guid.as_str())
                .bind(client.as_str())
                .execute(&mut *tx)
                .await?;
                if let Some(job) = restart {
                    // A job queued meanwhile by another request is as good as this one.
                    let queued = insert_job_row!(" ON CONFLICT DO NOTHING", job).execute(&mut *tx).await?;
                    job_started = queued.rows_affected() == 1;
                }
            }
            let n = sqlx::query(
                "UPDATE members SET
                id = CASE WHEN $1 THEN $2 ELSE id END,
                metadata = CASE WHEN $3 THEN $4 ELSE metadata END,
                background_aggregation_is_disabled = COALESCE($5, background_aggregation_is_disabled),
                use_cases = COALESCE($6, use_cases),
                callback_payload = COALESCE($7, callback_payload),
                connection_status = COALESCE($8, connection_status),
                connection_status_message = CASE WHEN $9 THEN $10 ELSE connection_status_message END,
                needs_updated_credentials = CASE WHEN $9 THEN FALSE ELSE needs_updated_credentials END,
                credential_guids = COALESCE($11, credential_guids),
                credentials_key_id = COALESCE($12, credentials_key_id),
                credentials_sealed = COALESCE($13, credentials_sealed),
                credentials_fingerprint = COALESCE($14, credentials_fingerprint),
                updated_at = $15
             WHERE guid = $16 AND client_id = $17",
            )
            .bind(c.id.is_some())
            .bind(c.id.flatten())
            .bind(c.metadata.is_some())
            .bind(c.metadata.flatten())
            .bind(c.background_aggregation_is_disabled)
            .bind(c.use_cases.map(|u| join_list(u.iter().map(|u| u.as_str()))))
            .bind(c.callback_payload)
            .bind(creds.map(|x| x.status.as_str()))
            .bind(creds.is_some())
            .bind(creds.and_then(|x| x.message))
            .bind(creds.map(|x| join_list(x.guids.iter().map(|g| g.as_str()))))
            .bind(creds.map(|x| x.sealed.key_id.as_str()))
            .bind(creds.map(|x| x.sealed.sealed.as_str()))
            .bind(creds.map(|x| x.sealed.fingerprint.as_str()))
            .bind(to_micros(c.updated_at))
            .bind(guid.as_str())
            .bind(client.as_str())
            .execute(&mut *tx)
            .await
            .map_err(on_unique("members"))?
            .rows_affected();
            if n != 1 {
                MemberUpdate::Gone // Dropping the transaction rolls it back.
            } else {
                insert_events!(tx, events);
                match restart {
                    Some(job) if job_started => {
                        mark_busy!(job).execute(&mut *tx).await?;
                    }
                    _ if creds.is_some() => {
                        // Its jobs were superseded and none queued: the member is idle.
                        sqlx::query("UPDATE members SET is_being_aggregated = FALSE WHERE guid = $1")
                            .bind(guid.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                    _ => {}
                }
                tx.commit().await?;
                MemberUpdate::Applied { job_started }
            }
        });
        Ok(done)
    }

    /// Deletes the member and, through the foreign keys, everything aggregated through it.
    pub async fn delete_member(
        &self,
        client: &ClientId,
        user: &UserGuid,
        guid: &MemberGuid,
        events: &[NewEvent],
    ) -> Result<bool> {
        crate::retry_deadlock(|| self.delete_member_once(client, user, guid, events)).await
    }

    /// One attempt of [`Db::delete_member`].
    async fn delete_member_once(
        &self,
        client: &ClientId,
        user: &UserGuid,
        guid: &MemberGuid,
        events: &[NewEvent],
    ) -> Result<bool> {
        let done = on_writer!(self, |conn| {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            // Jobs before the member (the cascade would take them after it): one lock order.
            sqlx::query("DELETE FROM jobs WHERE member_guid = $1 AND client_id = $2")
                .bind(guid.as_str())
                .bind(client.as_str())
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("DELETE FROM members WHERE guid = $1 AND user_guid = $2 AND client_id = $3")
                .bind(guid.as_str())
                .bind(user.as_str())
                .bind(client.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                insert_events!(tx, events);
            }
            tx.commit().await?;
            n
        });
        Ok(done == 1)
    }

    pub async fn list_members(
        &self,
        client: &ClientId,
        user: &UserGuid,
        filter: &MemberFilter,
        page: PageRequest,
    ) -> Result<Page<Member>> {
        let use_case = filter.use_case.map(|u| format!("%{}%", u.as_str()));
        let (total, rows): (i64, Vec<MemberRow>) = on_reader!(self, |conn| {
            // The same filter for the count and the page.
            macro_rules! push_where {
                ($qb:expr) => {{
                    $qb.push(" WHERE m.user_guid = ").push_bind(user.as_str().to_owned());
                    $qb.push(" AND m.client_id = ").push_bind(client.as_str().to_owned());
                    if let Some(p) = &use_case {
                        $qb.push(" AND m.use_cases LIKE ").push_bind(p.clone());
                    }
                }};
            }
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM members m");
            push_where!(count);
            let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut select = QueryBuilder::new(select_members!());
            push_where!(select);
            select.push(" ORDER BY m.created_at, m.guid LIMIT ").push_bind(page.limit());
            select.push(" OFFSET ").push_bind(page.offset());
            (total, select.build_query_as().fetch_all(&mut *conn).await?)
        });
        Ok(Page {
            items: rows.into_iter().map(MemberRow::into_member).collect::<Result<_>>()?,
            request: page,
            total_entries: total,
        })
    }
}

impl Db {
    /// How many members a client has in all (for operators and tests).
    pub async fn count_members(&self, client: &ClientId) -> Result<i64> {
        Ok(on_reader!(self, |conn| sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE client_id = $1")
            .bind(client.as_str())
            .fetch_one(&mut *conn)
            .await)?)
    }
}

impl Db {
    /// A member by guid alone, for workers (which act for every client).
    pub async fn get_member_for_job(&self, guid: &MemberGuid) -> Result<Option<Member>> {
        let row: Option<MemberRow> =
            on_writer!(self, |conn| sqlx::query_as(concat!(select_members!(), " WHERE m.guid = $1"))
                .bind(guid.as_str())
                .fetch_optional(&mut *conn)
                .await)?;
        row.map(MemberRow::into_member).transpose()
    }
}

impl Db {
    /// Members due a background aggregation: not aggregated since `before`, user enabled,
    /// background aggregation on, credentials not in need of an update, no active job, and not
    /// in a status that waits for the end user (or will never change).
    pub async fn members_due_for_background(
        &self,
        before: time::OffsetDateTime,
        now: time::OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<MemberGuid>> {
        // The statuses come from the domain's rule (`allows_background`), spelled into the
        // SQL as literals: they are the enum's own names, never input.
        let excluded = ConnectionStatus::ALL
            .iter()
            .filter(|s| !s.allows_background())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT m.guid FROM members m JOIN users u ON u.guid = m.user_guid
             WHERE u.is_disabled = FALSE
               AND m.background_aggregation_is_disabled = FALSE
               AND m.needs_updated_credentials = FALSE
               AND m.connection_status NOT IN ({excluded})
               AND COALESCE(m.aggregated_at, m.created_at) < $1
               AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.member_guid = m.guid
                               AND j.status IN ('QUEUED', 'RUNNING', 'CHALLENGED'))
               AND NOT EXISTS (SELECT 1 FROM member_connector_states s WHERE s.member_guid = m.guid
                               AND s.retry_at > $3)
             ORDER BY COALESCE(m.aggregated_at, m.created_at) LIMIT $2"
        );
        let rows: Vec<(String,)> = on_writer!(self, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(to_micros(before))
            .bind(limit)
            .bind(to_micros(now))
            .fetch_all(&mut *conn)
            .await)?;
        rows.into_iter().map(|(g,)| MemberGuid::parse(&g).map_err(|_| corrupt("members", &g, "guid"))).collect()
    }
}
