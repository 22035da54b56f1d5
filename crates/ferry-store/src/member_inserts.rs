//! Member inserts, batched. A member, its first job and its webhook events go in together or
//! not at all; on SQLite concurrent inserts share one transaction on the single writer (group
//! commit), on PostgreSQL each insert is its own transaction.

use ferry_domain::{Job, Member};
use sqlx::{FromRow, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use crate::members::{SealedCredentials, credential_guids};
use crate::webhooks::NewEvent;
use crate::{Db, Result, StoreError, join_list, on_unique, to_micros};

/// The most member inserts one statement carries (35 parameters each).
const MAX_BATCH: usize = 64;

/// A member waiting to be inserted, with its first job (if it aggregates at once) and the
/// events its creation causes.
#[derive(Debug)]
pub(crate) struct PendingInsert {
    pub(crate) member: Member,
    pub(crate) credentials: SealedCredentials,
    pub(crate) first_job: Option<Job>,
    pub(crate) events: Vec<NewEvent>,
}

/// Inserts a batch, the first jobs and the events of the rows that went in, in one
/// transaction. One query first finds which of the batch's clients have webhook endpoints:
/// only their rows write events, and a batch without events or jobs is a single statement.
macro_rules! insert_batch {
    ($conn:expr, $rows:expr) => {{
        use sqlx::Connection;
        let mut clients: Vec<&str> =
            $rows.iter().filter(|r| !r.events.is_empty()).map(|r| r.member.client_id.as_str()).collect();
        clients.sort_unstable();
        clients.dedup();
        let listening: Vec<String> = if clients.is_empty() {
            Vec::new()
        } else {
            let mut qb = QueryBuilder::new("SELECT DISTINCT client_id FROM webhook_endpoints WHERE client_id IN (");
            let mut sep = qb.separated(", ");
            for c in &clients {
                sep.push_bind(c.to_string());
            }
            qb.push(")");
            sqlx::QueryBuilder::build_query_scalar(&mut qb).fetch_all(&mut *$conn).await?
        };
        let has_jobs = $rows.iter().any(|r| r.first_job.is_some());
        if listening.is_empty() && !has_jobs {
            $crate::member_inserts::insert_members(&mut *$conn, $rows).await
        } else {
            let mut tx = $conn.begin().await?;
            let inserted = $crate::member_inserts::insert_members(&mut *tx, $rows).await?;
            let jobs: Vec<&ferry_domain::Job> = $rows
                .iter()
                .filter(|r| inserted.contains(&r.member.guid.as_str().to_owned()))
                .filter_map(|r| r.first_job.as_ref())
                .collect();
            if !jobs.is_empty() {
                $crate::member_inserts::insert_first_jobs(&mut *tx, &jobs).await?;
            }
            for row in $rows.iter().filter(|r| {
                listening.iter().any(|c| c == r.member.client_id.as_str())
                    && inserted.contains(&r.member.guid.as_str().to_owned())
            }) {
                $crate::webhooks::insert_events!(tx, &row.events);
            }
            tx.commit().await?;
            Ok::<Vec<String>, StoreError>(inserted)
        }
    }};
}

pub(crate) type InsertQueue = mpsc::Sender<(PendingInsert, oneshot::Sender<Result<()>>)>;

/// Starts the SQLite group-commit task: it takes every insert waiting (up to [`MAX_BATCH`]),
/// writes them with one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING guid` (and one
/// for their first jobs), and tells each caller whether its row went in. A batch costs one
/// transaction and one WAL commit instead of one per member.
pub(crate) fn start_insert_queue(writer: std::sync::Arc<tokio::sync::Mutex<sqlx::SqliteConnection>>) -> InsertQueue {
    let (tx, mut rx) = mpsc::channel::<(PendingInsert, oneshot::Sender<Result<()>>)>(1024);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let (rows, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut batch).into_iter().unzip();
            let mut conn = writer.lock().await;
            let outcome: Result<Vec<String>> = async { insert_batch!(conn, &rows) }.await;
            match outcome {
                Ok(inserted) => {
                    for (row, reply) in rows.iter().zip(replies) {
                        let outcome = if inserted.contains(&row.member.guid.as_str().to_owned()) {
                            Ok(())
                        } else {
                            Err(StoreError::Conflict("members"))
                        };
                        let _ = reply.send(outcome);
                    }
                }
                // A row the batch cannot take (its user was deleted meanwhile) fails the whole
                // transaction: retry each row alone so only that one fails.
                Err(_) if rows.len() > 1 => {
                    for (row, reply) in rows.iter().zip(replies) {
                        let one: Result<Vec<String>> = async { insert_batch!(conn, std::slice::from_ref(row)) }.await;
                        let outcome = match one {
                            Ok(inserted) if inserted.is_empty() => Err(StoreError::Conflict("members")),
                            Ok(_) => Ok(()),
                            Err(e) => Err(e),
                        };
                        let _ = reply.send(outcome);
                    }
                }
                Err(e) => {
                    let shared = std::sync::Arc::new(e);
                    for reply in replies {
                        let _ = reply.send(Err(StoreError::Shared(shared.clone())));
                    }
                }
            }
        }
    });
    tx
}

/// Inserts `rows` in one statement, skipping any that a unique index refuses; returns the guids
/// that went in.
pub(crate) async fn insert_members<'e, E, DB>(executor: E, rows: &[PendingInsert]) -> Result<Vec<String>>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO members (guid, client_id, user_guid, id, institution_guid, name, metadata,
            connection_status, connection_status_message, is_oauth, oauth_window_uri,
            is_being_aggregated, is_authenticated, has_processed_accounts,
            has_processed_transactions, has_processed_account_numbers, aggregated_at,
            successfully_aggregated_at, background_aggregation_is_disabled,
            needs_updated_credentials, use_cases, products, most_recent_job_guid,
            most_recent_job_detail_code, client_redirect_url, enable_app2app, referral_source,
            ui_message_webview_url_scheme, callback_payload, credential_guids,
            credentials_key_id, credentials_sealed, credentials_fingerprint, created_at, updated_at) ",
    );
    qb.push_values(rows, |mut b, row| {
        let (m, c) = (&row.member, &row.credentials);
        b.push_bind(m.guid.as_str().to_owned())
            .push_bind(m.client_id.as_str().to_owned())
            .push_bind(m.user_guid.as_str().to_owned())
            .push_bind(m.id.clone())
            .push_bind(m.institution_guid.as_str().to_owned())
            .push_bind(m.name.clone())
            .push_bind(m.metadata.clone())
            .push_bind(m.connection_status.as_str().to_owned())
            .push_bind(m.connection_status_message.clone())
            .push_bind(m.is_oauth)
            .push_bind(m.oauth_window_uri.clone())
            .push_bind(m.is_being_aggregated)
            .push_bind(m.is_authenticated)
            .push_bind(m.has_processed_accounts)
            .push_bind(m.has_processed_transactions)
            .push_bind(m.has_processed_account_numbers)
            .push_bind(m.aggregated_at.map(to_micros))
            .push_bind(m.successfully_aggregated_at.map(to_micros))
            .push_bind(m.background_aggregation_is_disabled)
            .push_bind(m.needs_updated_credentials)
            .push_bind(join_list(m.use_cases.iter().map(|u| u.as_str())))
            .push_bind(join_list(m.products.iter().map(|p| p.as_str())))
            .push_bind(m.most_recent_job_guid.as_ref().map(|g| g.as_str().to_owned()))
            .push_bind(m.most_recent_job_detail_code)
            .push_bind(m.client_redirect_url.clone())
            .push_bind(m.enable_app2app)
            .push_bind(m.referral_source.clone())
            .push_bind(m.ui_message_webview_url_scheme.clone())
            .push_bind(m.callback_payload.clone())
            .push_bind(credential_guids(m))
            .push_bind(c.key_id.clone())
            .push_bind(c.sealed.clone())
            .push_bind(c.fingerprint.clone())
            .push_bind(to_micros(m.created_at))
            .push_bind(to_micros(m.updated_at));
    });
    qb.push(" ON CONFLICT DO NOTHING RETURNING guid");
    let inserted: Vec<(String,)> = qb.build_query_as().fetch_all(executor).await.map_err(on_unique("members"))?;
    Ok(inserted.into_iter().map(|(g,)| g).collect())
}

/// Inserts the first jobs of members that have just gone in, in one statement. The members
/// carry `is_being_aggregated` and `most_recent_job_guid` already.
pub(crate) async fn insert_first_jobs<'e, E, DB>(executor: E, jobs: &[&Job]) -> Result<()>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO jobs (guid, client_id, member_guid, job_type, status, is_background, attempts,
            callback_payload, created_at, updated_at, request_id) ",
    );
    qb.push_values(jobs, |mut b, job| {
        b.push_bind(job.guid.as_str().to_owned())
            .push_bind(job.client_id.as_str().to_owned())
            .push_bind(job.member_guid.as_str().to_owned())
            .push_bind(job.job_type.as_str().to_owned())
            .push_bind(job.status.as_str().to_owned())
            .push_bind(job.is_background)
            .push_bind(0i64)
            .push_bind(job.callback_payload.clone())
            .push_bind(to_micros(job.created_at))
            .push_bind(to_micros(job.updated_at))
            .push_bind(job.request_id.clone());
    });
    qb.build().execute(executor).await.map_err(on_unique("jobs"))?;
    Ok(())
}

impl Db {
    /// Inserts a member with its first job (when it aggregates at once; the member then carries
    /// `is_being_aggregated` and the job's guid) and the events of its creation, in one
    /// transaction; [`StoreError::Conflict`] when the duplicate guard or the partner-id index
    /// refuses it, [`StoreError::MissingParent`] when its user is gone.
    ///
    /// On SQLite the insert goes through the group-commit queue: concurrent inserts share one
    /// transaction and one commit on the single writer connection.
    pub async fn insert_member(
        &self,
        m: &Member,
        credentials: &SealedCredentials,
        first_job: Option<&Job>,
        events: &[NewEvent],
    ) -> Result<()> {
        let pending = PendingInsert {
            member: m.clone(),
            credentials: credentials.clone(),
            first_job: first_job.cloned(),
            events: events.to_vec(),
        };
        match self {
            Db::Sqlite(s) => {
                let (reply, answer) = oneshot::channel();
                s.member_inserts.send((pending, reply)).await.map_err(|_| StoreError::Closed)?;
                answer.await.map_err(|_| StoreError::Closed)?
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let rows = std::slice::from_ref(&pending);
                let inserted: Vec<String> = async { insert_batch!(conn, rows) }.await?;
                if inserted.is_empty() { Err(StoreError::Conflict("members")) } else { Ok(()) }
            }
        }
    }
}
