//! The `transactions` table, upserted under (member, connector id) so a pending transaction
//! that posts keeps its guid, re-aggregating the same data changes nothing, and a transaction
//! never moves between accounts.

use std::str::FromStr;

use ferry_domain::{AccountGuid, ClientId, MemberGuid, Page, PageRequest, Transaction, TransactionGuid, UserGuid};
use rust_decimal::Decimal;
use sqlx::{FromRow, QueryBuilder};
use time::Date;
use time::macros::format_description;

use crate::{Db, Result, StoreError, corrupt, from_micros, on_reader, on_writer, to_micros};

/// Which transactions a listing covers.
#[derive(Debug, Clone)]
pub enum TransactionScope {
    User,
    Member(MemberGuid),
    Account(AccountGuid),
}

/// Rows per upsert statement (30 parameters each).
const UPSERT_CHUNK: usize = 500;

#[derive(FromRow)]
struct TransactionRow {
    guid: String,
    client_id: String,
    user_guid: String,
    user_id: Option<String>,
    member_guid: String,
    account_guid: String,
    account_id: Option<String>,
    external_id: String,
    id: Option<String>,
    amount: String,
    #[sqlx(rename = "type")]
    kind: String,
    status: String,
    date: String,
    transacted_at: Option<i64>,
    posted_at: Option<i64>,
    description: Option<String>,
    original_description: Option<String>,
    category: Option<String>,
    top_level_category: Option<String>,
    memo: Option<String>,
    check_number_string: Option<String>,
    merchant_category_code: Option<i64>,
    is_bill_pay: bool,
    is_direct_deposit: bool,
    is_fee: bool,
    is_payroll: bool,
    is_subscription: bool,
    is_manual: bool,
    currency_code: String,
    metadata: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, &format_description!("[year]-[month]-[day]")).ok()
}

impl TransactionRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_transaction(self) -> Result<Transaction> {
        let key = self.guid.clone();
        self.parse_transaction().ok_or_else(|| corrupt("transactions", &key, "one of its columns"))
    }

    fn parse_transaction(self) -> Option<Transaction> {
        Some(Transaction {
            guid: TransactionGuid::parse(&self.guid).ok()?,
            client_id: ClientId::parse(&self.client_id).ok()?,
            user_guid: UserGuid::parse(&self.user_guid).ok()?,
            user_id: self.user_id,
            member_guid: MemberGuid::parse(&self.member_guid).ok()?,
            account_guid: AccountGuid::parse(&self.account_guid).ok()?,
            account_id: self.account_id,
            external_id: self.external_id,
            id: self.id,
            amount: Decimal::from_str(&self.amount).ok()?,
            is_debit: self.kind == "DEBIT",
            is_pending: self.status == "PENDING",
            date: parse_date(&self.date)?,
            transacted_at: self.transacted_at.map(from_micros),
            posted_at: self.posted_at.map(from_micros),
            description: self.description,
            original_description: self.original_description,
            category: self.category,
            top_level_category: self.top_level_category,
            memo: self.memo,
            check_number_string: self.check_number_string,
            merchant_category_code: self.merchant_category_code,
            is_bill_pay: self.is_bill_pay,
            is_direct_deposit: self.is_direct_deposit,
            is_fee: self.is_fee,
            is_payroll: self.is_payroll,
            is_subscription: self.is_subscription,
            is_manual: self.is_manual,
            currency_code: self.currency_code,
            metadata: self.metadata,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

macro_rules! transaction_columns {
    () => {
        "t.guid, t.client_id, t.user_guid, u.id AS user_id, t.member_guid, t.account_guid,
            a.id AS account_id, t.external_id, t.id, t.amount, t.type, t.status, t.date,
            t.transacted_at, t.posted_at, COALESCE(t.user_description, t.description) AS description,
            t.original_description, t.category, t.top_level_category, COALESCE(t.user_memo, t.memo) AS memo,
            t.check_number_string, t.merchant_category_code,
            t.is_bill_pay, t.is_direct_deposit, t.is_fee, t.is_payroll, t.is_subscription,
            t.is_manual, t.currency_code, t.metadata, t.created_at, t.updated_at"
    };
}

macro_rules! select_transactions {
    () => {
        concat!(
            "SELECT ",
            transaction_columns!(),
            " FROM transactions t JOIN users u ON u.guid = t.user_guid JOIN accounts a ON a.guid = t.account_guid"
        )
    };
}

/// The WHERE clause of a listing. Only the scope's own column is tested, so the date-range
/// count runs on the index alone: the caller resolved the user, member or account through a
/// client-scoped read, and each belongs to exactly one client.
/// The listing's columns, as the JSON page carries them (in `TransactionRow`'s order).
macro_rules! page_columns {
    () => {
        "s.guid, s.client_id, s.user_guid, s.user_id, s.member_guid, s.account_guid, s.account_id,
         s.external_id, s.id, s.amount, s.type, s.status, s.date, s.transacted_at, s.posted_at,
         s.description, s.original_description, s.category, s.top_level_category, s.memo,
         s.check_number_string, s.merchant_category_code, s.is_bill_pay, s.is_direct_deposit,
         s.is_fee, s.is_payroll, s.is_subscription, s.is_manual, s.currency_code, s.metadata,
         s.created_at, s.updated_at"
    };
}

/// Reads a JSON page back into rows, newest first. Booleans arrive as 0/1 from SQLite and as
/// true/false from PostgreSQL.
fn page_rows(json: &str) -> Result<Vec<TransactionRow>> {
    use serde_json::Value;
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(json) else {
        return Err(corrupt("transactions", "page", "the page's JSON"));
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let int = |v: &Value| v.as_i64();
    let flag = |v: &Value| v.as_bool().or_else(|| v.as_i64().map(|n| n != 0)).unwrap_or(false);
    let mut rows: Vec<TransactionRow> = items
        .iter()
        .map(|item| {
            let bad = || corrupt("transactions", item.get(0).and_then(Value::as_str).unwrap_or("?"), "its page row");
            let c = item.as_array().ok_or_else(bad)?;
            if c.len() != 32 {
                return Err(bad());
            }
            let row = || -> Option<TransactionRow> {
                Some(TransactionRow {
                    guid: text(&c[0])?,
                    client_id: text(&c[1])?,
                    user_guid: text(&c[2])?,
                    user_id: text(&c[3]),
                    member_guid: text(&c[4])?,
                    account_guid: text(&c[5])?,
                    account_id: text(&c[6]),
                    external_id: text(&c[7])?,
                    id: text(&c[8]),
                    amount: text(&c[9])?,
                    kind: text(&c[10])?,
                    status: text(&c[11])?,
                    date: text(&c[12])?,
                    transacted_at: int(&c[13]),
                    posted_at: int(&c[14]),
                    description: text(&c[15]),
                    original_description: text(&c[16]),
                    category: text(&c[17]),
                    top_level_category: text(&c[18]),
                    memo: text(&c[19]),
                    check_number_string: text(&c[20]),
                    merchant_category_code: int(&c[21]),
                    is_bill_pay: flag(&c[22]),
                    is_direct_deposit: flag(&c[23]),
                    is_fee: flag(&c[24]),
                    is_payroll: flag(&c[25]),
                    is_subscription: flag(&c[26]),
                    is_manual: flag(&c[27]),
                    currency_code: text(&c[28])?,
                    metadata: text(&c[29]),
                    created_at: int(&c[30])?,
                    updated_at: int(&c[31])?,
                })
            };
            row().ok_or_else(bad)
        })
        .collect::<Result<_>>()?;
    // An aggregate's input order is not a promise; restore the listing's order.
    rows.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| b.guid.cmp(&a.guid)));
    Ok(rows)
}

macro_rules! push_scope {
    ($qb:expr, $user:expr, $scope:expr, $from:expr, $to:expr) => {{
        match $scope {
            TransactionScope::User => {
                $qb.push(" WHERE t.user_guid = ").push_bind($user.as_str().to_owned());
            }
            TransactionScope::Member(m) => {
                $qb.push(" WHERE t.member_guid = ").push_bind(m.as_str().to_owned());
            }
            TransactionScope::Account(a) => {
                $qb.push(" WHERE t.account_guid = ").push_bind(a.as_str().to_owned());
            }
        }
        $qb.push(" AND t.date >= ").push_bind($from.to_string());
        $qb.push(" AND t.date <= ").push_bind($to.to_string());
    }};
}

impl Db {
    /// The guids of a member's transactions by external id.
    pub async fn transaction_guids_by_external_id(
        &self,
        member: &MemberGuid,
    ) -> Result<Vec<(String, TransactionGuid)>> {
        let rows: Vec<(String, String)> = on_writer!(self, |conn| sqlx::query_as(
            "SELECT external_id, guid FROM transactions WHERE member_guid = $1"
        )
        .bind(member.as_str())
        .fetch_all(&mut *conn)
        .await)?;
        rows.into_iter()
            .map(|(e, g)| match TransactionGuid::parse(&g) {
                Ok(g) => Ok((e, g)),
                Err(_) => Err(corrupt("transactions", &g, "guid")),
            })
            .collect()
    }

    /// Inserts new transactions and refreshes changed ones, matched by member and external id;
    /// the account and guid of a known transaction never change. Returns how many rows were
    /// inserted or changed.
    pub async fn upsert_transactions(&self, rows: &[Transaction]) -> Result<u64> {
        let mut changed = 0;
        for chunk in rows.chunks(UPSERT_CHUNK) {
            let n: u64 = on_writer!(self, |conn| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO transactions (guid, client_id, user_guid, member_guid, account_guid,
                        external_id, amount, type, status, date, transacted_at, posted_at, description,
                        original_description, category, top_level_category, memo, check_number_string,
                        merchant_category_code, is_bill_pay, is_direct_deposit, is_fee, is_payroll,
                        is_subscription, currency_code, created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, t| {
                    b.push_bind(t.guid.as_str().to_owned())
                        .push_bind(t.client_id.as_str().to_owned())
                        .push_bind(t.user_guid.as_str().to_owned())
                        .push_bind(t.member_guid.as_str().to_owned())
                        .push_bind(t.account_guid.as_str().to_owned())
                        .push_bind(t.external_id.clone())
                        .push_bind(t.amount.to_string())
                        .push_bind(if t.is_debit { "DEBIT" } else { "CREDIT" })
                        .push_bind(if t.is_pending { "PENDING" } else { "POSTED" })
                        .push_bind(t.date.to_string())
                        .push_bind(t.transacted_at.map(to_micros))
                        .push_bind(t.posted_at.map(to_micros))
                        .push_bind(t.description.clone())
                        .push_bind(t.original_description.clone())
                        .push_bind(t.category.clone())
                        .push_bind(t.top_level_category.clone())
                        .push_bind(t.memo.clone())
                        .push_bind(t.check_number_string.clone())
                        .push_bind(t.merchant_category_code)
                        .push_bind(t.is_bill_pay)
                        .push_bind(t.is_direct_deposit)
                        .push_bind(t.is_fee)
                        .push_bind(t.is_payroll)
                        .push_bind(t.is_subscription)
                        .push_bind(t.currency_code.clone())
                        .push_bind(to_micros(t.created_at))
                        .push_bind(to_micros(t.updated_at));
                });
                qb.push(
                    " ON CONFLICT (member_guid, external_id) DO UPDATE SET amount = excluded.amount,
                        type = excluded.type, status = excluded.status, date = excluded.date,
                        transacted_at = excluded.transacted_at, posted_at = excluded.posted_at,
                        description = excluded.description, original_description = excluded.original_description,
                        category = excluded.category, top_level_category = excluded.top_level_category,
                        memo = excluded.memo, check_number_string = excluded.check_number_string,
                        merchant_category_code = excluded.merchant_category_code,
                        is_bill_pay = excluded.is_bill_pay, is_direct_deposit = excluded.is_direct_deposit,
                        is_fee = excluded.is_fee, is_payroll = excluded.is_payroll,
                        is_subscription = excluded.is_subscription, currency_code = excluded.currency_code,
                        updated_at = excluded.updated_at
                     WHERE transactions.amount IS DISTINCT FROM excluded.amount
                        OR transactions.type IS DISTINCT FROM excluded.type
                        OR transactions.status IS DISTINCT FROM excluded.status
                        OR transactions.date IS DISTINCT FROM excluded.date
                        OR transactions.posted_at IS DISTINCT FROM excluded.posted_at
                        OR transactions.description IS DISTINCT FROM excluded.description
                        OR transactions.original_description IS DISTINCT FROM excluded.original_description
                        OR transactions.category IS DISTINCT FROM excluded.category
                        OR transactions.memo IS DISTINCT FROM excluded.memo",
                );
                // Both backends count inserted and updated rows here (skipped ones are not);
                // no RETURNING, which would stream a row back per transaction.
                qb.build().execute(&mut *conn).await?.rows_affected()
            });
            changed += n;
        }
        Ok(changed)
    }

    /// A member's pending transactions dated before `before`, as (external id, guid).
    pub async fn pending_transactions_before(
        &self,
        member: &MemberGuid,
        before: Date,
    ) -> Result<Vec<(String, TransactionGuid)>> {
        let rows: Vec<(String, String)> = on_writer!(self, |conn| sqlx::query_as(
            "SELECT external_id, guid FROM transactions WHERE member_guid = $1 AND status = 'PENDING' AND date < $2"
        )
        .bind(member.as_str())
        .bind(before.to_string())
        .fetch_all(&mut *conn)
        .await)?;
        rows.into_iter()
            .map(|(e, g)| match TransactionGuid::parse(&g) {
                Ok(g) => Ok((e, g)),
                Err(_) => Err(corrupt("transactions", &g, "guid")),
            })
            .collect()
    }

    /// The pending transactions of `accounts` (of the member) dated on or after `since`.
    pub async fn pending_transactions_since(
        &self,
        member: &MemberGuid,
        accounts: &[AccountGuid],
        since: Date,
    ) -> Result<Vec<(String, TransactionGuid)>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String)> = on_writer!(self, |conn| {
            let mut qb = QueryBuilder::new("SELECT external_id, guid FROM transactions WHERE member_guid = ");
            qb.push_bind(member.as_str().to_owned());
            qb.push(" AND status = 'PENDING' AND date >= ").push_bind(since.to_string());
            qb.push(" AND account_guid IN (");
            let mut sep = qb.separated(", ");
            for a in accounts {
                sep.push_bind(a.as_str().to_owned());
            }
            qb.push(")");
            qb.build_query_as().fetch_all(&mut *conn).await
        })?;
        rows.into_iter()
            .map(|(e, g)| match TransactionGuid::parse(&g) {
                Ok(g) => Ok((e, g)),
                Err(_) => Err(corrupt("transactions", &g, "guid")),
            })
            .collect()
    }

    pub async fn delete_transactions(&self, guids: &[TransactionGuid]) -> Result<u64> {
        let mut deleted = 0;
        for chunk in guids.chunks(500) {
            deleted += on_writer!(self, |conn| {
                let mut qb = QueryBuilder::new("DELETE FROM transactions WHERE guid IN (");
                let mut sep = qb.separated(", ");
                for g in chunk {
                    sep.push_bind(g.as_str().to_owned());
                }
                qb.push(")");
                qb.build().execute(&mut *conn).await?.rows_affected()
            });
        }
        Ok(deleted)
    }

    /// Transactions dated within `from..=to`, newest first, in one statement that also checks
    /// that `user` is `client`'s and the scope's member or account is that user's: `Err` with
    /// [`StoreError::NotFound`] naming the first that is not.
    pub async fn list_transactions(
        &self,
        client: &ClientId,
        user: &UserGuid,
        scope: &TransactionScope,
        from: Date,
        to: Date,
        page: PageRequest,
    ) -> Result<Page<Transaction>> {
        // The page comes back as one row holding a JSON array: with sqlx, every result row is a
        // round trip from SQLite's worker thread, and 100 of them cost more than the query.
        // The aggregate differs per backend; the columns are the listing's own.
        let page_as_json = match self {
            Db::Sqlite(_) => {
                concat!("SELECT COALESCE(json_group_array(json_array(", page_columns!(), ")), '[]') FROM (")
            }
            Db::Postgres(_) => concat!(
                "SELECT CAST(COALESCE(json_agg(json_build_array(",
                page_columns!(),
                ")), '[]'::json) AS TEXT) FROM ("
            ),
        };
        // One round trip: the total (from the per-day counts the triggers keep) and the page
        // as two scalar subqueries of one statement.
        let (user_found, scope_found, total, rows): (Option<String>, Option<String>, i64, String) =
            on_reader!(self, |conn| {
                let mut select = QueryBuilder::new("SELECT (SELECT u.guid FROM users u WHERE u.guid = ");
                select
                    .push_bind(user.as_str().to_owned())
                    .push(" AND u.client_id = ")
                    .push_bind(client.as_str().to_owned());
                match scope {
                    TransactionScope::User => {
                        select.push("), (SELECT 'user'");
                    }
                    TransactionScope::Member(m) => {
                        select
                            .push("), (SELECT m.guid FROM members m WHERE m.guid = ")
                            .push_bind(m.as_str().to_owned());
                        select.push(" AND m.user_guid = ").push_bind(user.as_str().to_owned());
                        select.push(" AND m.client_id = ").push_bind(client.as_str().to_owned());
                    }
                    TransactionScope::Account(a) => {
                        select
                            .push("), (SELECT a.guid FROM accounts a WHERE a.guid = ")
                            .push_bind(a.as_str().to_owned());
                        select.push(" AND a.user_guid = ").push_bind(user.as_str().to_owned());
                        select.push(" AND a.client_id = ").push_bind(client.as_str().to_owned());
                    }
                }
                select.push("), (SELECT CAST(COALESCE(SUM(t.n), 0) AS BIGINT) FROM transaction_day_counts t");
                push_scope!(select, user, scope, from, to);
                // The page's guids come from the index alone (skipping `OFFSET` entries there costs
                // little); only the page's own rows are then read and joined.
                select.push("), (");
                select.push(page_as_json);
                select.push(concat!(
                    "SELECT ",
                    transaction_columns!(),
                    " FROM (SELECT t.guid AS page_guid FROM transactions t"
                ));
                push_scope!(select, user, scope, from, to);
                select.push(" ORDER BY t.date DESC, t.guid DESC LIMIT ").push_bind(page.limit());
                select.push(" OFFSET ").push_bind(page.offset());
                select.push(
                    ") p JOIN transactions t ON t.guid = p.page_guid
                 JOIN users u ON u.guid = t.user_guid JOIN accounts a ON a.guid = t.account_guid) s)",
                );
                let row: (Option<String>, Option<String>, i64, String) =
                    select.build_query_as().fetch_one(&mut *conn).await?;
                row
            });
        if user_found.is_none() {
            return Err(StoreError::NotFound("user"));
        }
        if scope_found.is_none() {
            return Err(StoreError::NotFound(match scope {
                TransactionScope::Member(_) => "member",
                _ => "account",
            }));
        }
        let rows = page_rows(&rows)?;
        Ok(Page {
            items: rows.into_iter().map(TransactionRow::into_transaction).collect::<Result<_>>()?,
            request: page,
            total_entries: total,
        })
    }

    /// A page of a user's (or one of their accounts') transactions dated within `from..=to`
    /// for the server faces, newest
    /// first, after `after` (the last row of the previous page): keyset pages, so reading a
    /// long history costs the same per page. The caller resolved the user through a
    /// client-scoped read.
    pub async fn export_transactions(
        &self,
        user: &UserGuid,
        scope: &TransactionScope,
        from: Date,
        to: Date,
        after: Option<(Date, &TransactionGuid)>,
        limit: i64,
    ) -> Result<Vec<Transaction>> {
        // The filter and the order, the same for both forms below.
        macro_rules! push_export_where {
            ($select:expr) => {{
                push_scope!($select, user, scope, from, to);
                if !matches!(scope, TransactionScope::User) {
                    // The member or account must be this user's, whatever the caller checked.
                    $select.push(" AND t.user_guid = ").push_bind(user.as_str().to_owned());
                }
                if let Some((date, guid)) = after {
                    // A row value, which both databases turn into a range of the (scope, date,
                    // guid) index: each page starts where the last ended instead of skipping it.
                    $select.push(" AND (t.date, t.guid) < (").push_bind(date.to_string());
                    $select.push(", ").push_bind(guid.as_str().to_owned()).push(")");
                }
                $select.push(" ORDER BY t.date DESC, t.guid DESC LIMIT ").push_bind(limit);
            }};
        }
        // Measured on 100,000 rows (BENCHMARKS.md, issue 13): on SQLite, one JSON array per
        // page beats streaming rows from sqlx's worker thread by 2x; on PostgreSQL, plain rows
        // beat building the JSON by 2.4x.
        let rows: Vec<TransactionRow> = match self {
            Db::Sqlite(_) => {
                let json: String = on_reader!(self, |conn| {
                    let mut select = QueryBuilder::new(concat!(
                        "SELECT COALESCE(json_group_array(json_array(",
                        page_columns!(),
                        ")), '[]') FROM (SELECT ",
                        transaction_columns!(),
                        " FROM (SELECT t.guid AS page_guid FROM transactions t"
                    ));
                    push_export_where!(select);
                    select.push(
                        ") p JOIN transactions t ON t.guid = p.page_guid
                         JOIN users u ON u.guid = t.user_guid JOIN accounts a ON a.guid = t.account_guid) s",
                    );
                    let json: String = select.build_query_scalar().fetch_one(&mut *conn).await?;
                    json
                });
                page_rows(&json)?
            }
            Db::Postgres(_) => on_reader!(self, |conn| {
                let mut select = QueryBuilder::new(select_transactions!());
                push_export_where!(select);
                let rows: Vec<TransactionRow> = select.build_query_as().fetch_all(&mut *conn).await?;
                rows
            }),
        };
        rows.into_iter().map(TransactionRow::into_transaction).collect()
    }

    /// Records a user's edit of a transaction's description and memo (`None` leaves one as it
    /// is). Edits live beside the institution's values, so re-aggregation keeps them.
    pub async fn edit_transaction(
        &self,
        client: &ClientId,
        guid: &TransactionGuid,
        description: Option<&str>,
        memo: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            sqlx::query(
                "UPDATE transactions SET user_description = COALESCE($1, user_description),
                    user_memo = COALESCE($2, user_memo), updated_at = $3
                 WHERE guid = $4 AND client_id = $5",
            )
            .bind(description)
            .bind(memo)
            .bind(to_micros(now))
            .bind(guid.as_str())
            .bind(client.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn get_transaction(
        &self,
        client: &ClientId,
        user: &UserGuid,
        guid: &TransactionGuid,
    ) -> Result<Option<Transaction>> {
        let row: Option<TransactionRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            select_transactions!(),
            " WHERE t.guid = $1 AND t.user_guid = $2 AND t.client_id = $3"
        ))
        .bind(guid.as_str())
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(TransactionRow::into_transaction).transpose()
    }
}
