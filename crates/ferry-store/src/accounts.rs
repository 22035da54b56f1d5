//! The `accounts` table: accounts members bring in, upserted under the connector's stable ids.

use std::str::FromStr;

use ferry_domain::{Account, AccountDetails, AccountGuid, ClientId, MemberGuid, Page, PageRequest, UserGuid};
use rust_decimal::Decimal;
use sqlx::{FromRow, QueryBuilder};

use crate::{Db, Result, corrupt, from_micros, on_reader, on_writer, to_micros};

#[derive(FromRow)]
struct AccountRow {
    guid: String,
    client_id: String,
    user_guid: String,
    user_id: Option<String>,
    member_guid: String,
    member_id: Option<String>,
    institution_code: String,
    external_id: String,
    id: Option<String>,
    name: String,
    nickname: Option<String>,
    #[sqlx(rename = "type")]
    kind: String,
    subtype: Option<String>,
    account_number: Option<String>,
    routing_number: Option<String>,
    balance: Option<String>,
    available_balance: Option<String>,
    credit_limit: Option<String>,
    apr: Option<String>,
    apy: Option<String>,
    currency_code: String,
    is_closed: bool,
    organization: Option<String>,
    is_hidden: bool,
    is_manual: bool,
    is_business: bool,
    property_type: Option<String>,
    original_balance: Option<String>,
    interest_rate: Option<String>,
    loan_amount: Option<String>,
    cash_surrender_value: Option<String>,
    death_benefit: Option<i64>,
    metadata: Option<String>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) fn decimal(s: Option<String>) -> Option<Decimal> {
    s.and_then(|v| Decimal::from_str(&v).ok())
}

impl AccountRow {
    /// The row as a value; a row this build cannot read is an error, never skipped.
    fn into_account(self) -> Result<Account> {
        let key = self.guid.clone();
        self.parse_account().ok_or_else(|| corrupt("accounts", &key, "one of its columns"))
    }

    fn parse_account(self) -> Option<Account> {
        Some(Account {
            guid: AccountGuid::parse(&self.guid).ok()?,
            client_id: ClientId::parse(&self.client_id).ok()?,
            user_guid: UserGuid::parse(&self.user_guid).ok()?,
            user_id: self.user_id,
            member_guid: MemberGuid::parse(&self.member_guid).ok()?,
            member_id: self.member_id,
            institution_code: self.institution_code,
            external_id: self.external_id,
            id: self.id,
            name: self.name,
            nickname: self.nickname,
            kind: self.kind,
            subtype: self.subtype,
            account_number: self.account_number,
            routing_number: self.routing_number,
            balance: decimal(self.balance),
            available_balance: decimal(self.available_balance),
            credit_limit: decimal(self.credit_limit),
            apr: decimal(self.apr),
            apy: decimal(self.apy),
            currency_code: self.currency_code,
            is_closed: self.is_closed,
            organization: self.organization,
            is_hidden: self.is_hidden,
            is_manual: self.is_manual,
            is_business: self.is_business,
            details: AccountDetails {
                property_type: self.property_type,
                original_balance: decimal(self.original_balance),
                interest_rate: decimal(self.interest_rate),
                loan_amount: decimal(self.loan_amount),
                cash_surrender_value: decimal(self.cash_surrender_value),
                death_benefit: self.death_benefit,
            },
            metadata: self.metadata,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

macro_rules! select_accounts {
    () => {
        "SELECT a.guid, a.client_id, a.user_guid, u.id AS user_id, a.member_guid, m.id AS member_id,
            i.code AS institution_code, a.external_id, a.id, a.name, a.nickname, a.type, a.subtype,
            a.account_number, a.routing_number, a.balance, a.available_balance, a.credit_limit,
            a.apr, a.apy, a.currency_code, a.is_closed, a.is_hidden, a.is_manual, a.is_business,
            a.property_type, a.original_balance, a.interest_rate, a.loan_amount,
            a.cash_surrender_value, a.death_benefit, a.metadata, a.organization, a.created_at, a.updated_at
         FROM accounts a
         JOIN users u ON u.guid = a.user_guid
         JOIN members m ON m.guid = a.member_guid
         JOIN institutions i ON i.guid = m.institution_guid"
    };
}

fn text(d: Option<Decimal>) -> Option<String> {
    d.map(|v| v.to_string())
}

impl Db {
    /// Inserts new accounts and refreshes known ones (matched by member and external id; the
    /// guid of a known account never changes). Rows whose data did not change are not touched.
    pub async fn upsert_accounts(&self, rows: &[Account]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        on_writer!(self, |conn| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO accounts (guid, client_id, user_guid, member_guid, external_id, name, type,
                    subtype, account_number, routing_number, balance, available_balance, credit_limit,
                    apr, apy, currency_code, is_closed, organization, created_at, updated_at) ",
            );
            qb.push_values(rows, |mut b, a| {
                b.push_bind(a.guid.as_str().to_owned())
                    .push_bind(a.client_id.as_str().to_owned())
                    .push_bind(a.user_guid.as_str().to_owned())
                    .push_bind(a.member_guid.as_str().to_owned())
                    .push_bind(a.external_id.clone())
                    .push_bind(a.name.clone())
                    .push_bind(a.kind.clone())
                    .push_bind(a.subtype.clone())
                    .push_bind(a.account_number.clone())
                    .push_bind(a.routing_number.clone())
                    .push_bind(text(a.balance))
                    .push_bind(text(a.available_balance))
                    .push_bind(text(a.credit_limit))
                    .push_bind(text(a.apr))
                    .push_bind(text(a.apy))
                    .push_bind(a.currency_code.clone())
                    .push_bind(a.is_closed)
                    .push_bind(a.organization.clone())
                    .push_bind(to_micros(a.created_at))
                    .push_bind(to_micros(a.updated_at));
            });
            qb.push(
                " ON CONFLICT (member_guid, external_id) DO UPDATE SET name = excluded.name, type = excluded.type,
                    subtype = excluded.subtype, account_number = excluded.account_number,
                    routing_number = excluded.routing_number, balance = excluded.balance,
                    available_balance = excluded.available_balance, credit_limit = excluded.credit_limit,
                    apr = excluded.apr, apy = excluded.apy, currency_code = excluded.currency_code,
                    is_closed = excluded.is_closed, organization = excluded.organization,
                    updated_at = excluded.updated_at
                 WHERE accounts.name IS DISTINCT FROM excluded.name
                    OR accounts.type IS DISTINCT FROM excluded.type
                    OR accounts.subtype IS DISTINCT FROM excluded.subtype
                    OR accounts.account_number IS DISTINCT FROM excluded.account_number
                    OR accounts.routing_number IS DISTINCT FROM excluded.routing_number
                    OR accounts.balance IS DISTINCT FROM excluded.balance
                    OR accounts.available_balance IS DISTINCT FROM excluded.available_balance
                    OR accounts.credit_limit IS DISTINCT FROM excluded.credit_limit
                    OR accounts.apr IS DISTINCT FROM excluded.apr
                    OR accounts.apy IS DISTINCT FROM excluded.apy
                    OR accounts.currency_code IS DISTINCT FROM excluded.currency_code
                    OR accounts.is_closed IS DISTINCT FROM excluded.is_closed
                    OR accounts.organization IS DISTINCT FROM excluded.organization",
            );
            qb.build().execute(&mut *conn).await?;
        });
        Ok(())
    }

    /// Inserts an account with every field (manual accounts).
    pub async fn insert_account(&self, a: &Account) -> Result<()> {
        on_writer!(self, |conn| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO accounts (guid, client_id, user_guid, member_guid, external_id, id, name, nickname,
                    type, subtype, account_number, routing_number, balance, available_balance, credit_limit,
                    apr, apy, currency_code, is_closed, is_hidden, is_manual, is_business, property_type,
                    original_balance, interest_rate, loan_amount, cash_surrender_value, death_benefit,
                    metadata, created_at, updated_at) ",
            );
            qb.push_values(std::iter::once(a), |mut b, a| {
                b.push_bind(a.guid.as_str().to_owned())
                    .push_bind(a.client_id.as_str().to_owned())
                    .push_bind(a.user_guid.as_str().to_owned())
                    .push_bind(a.member_guid.as_str().to_owned())
                    .push_bind(a.external_id.clone())
                    .push_bind(a.id.clone())
                    .push_bind(a.name.clone())
                    .push_bind(a.nickname.clone())
                    .push_bind(a.kind.clone())
                    .push_bind(a.subtype.clone())
                    .push_bind(a.account_number.clone())
                    .push_bind(a.routing_number.clone())
                    .push_bind(text(a.balance))
                    .push_bind(text(a.available_balance))
                    .push_bind(text(a.credit_limit))
                    .push_bind(text(a.apr))
                    .push_bind(text(a.apy))
                    .push_bind(a.currency_code.clone())
                    .push_bind(a.is_closed)
                    .push_bind(a.is_hidden)
                    .push_bind(a.is_manual)
                    .push_bind(a.is_business)
                    .push_bind(a.details.property_type.clone())
                    .push_bind(text(a.details.original_balance))
                    .push_bind(text(a.details.interest_rate))
                    .push_bind(text(a.details.loan_amount))
                    .push_bind(text(a.details.cash_surrender_value))
                    .push_bind(a.details.death_benefit)
                    .push_bind(a.metadata.clone())
                    .push_bind(to_micros(a.created_at))
                    .push_bind(to_micros(a.updated_at));
            });
            qb.build().execute(&mut *conn).await?;
        });
        Ok(())
    }

    /// Writes the fields a user may change. Aggregation rewrites the institution's fields of
    /// aggregated accounts, so callers only change those on manual accounts.
    pub async fn update_account(&self, a: &Account) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            sqlx::query(
                "UPDATE accounts SET name = $1, nickname = $2, type = $3, subtype = $4, balance = $5,
                available_balance = $6, credit_limit = $7, apr = $8, apy = $9, currency_code = $10,
                is_closed = $11, is_hidden = $12, is_business = $13, property_type = $14,
                original_balance = $15, interest_rate = $16, loan_amount = $17,
                cash_surrender_value = $18, death_benefit = $19, metadata = $20, updated_at = $21
             WHERE guid = $22 AND client_id = $23",
            )
            .bind(a.name.clone())
            .bind(a.nickname.clone())
            .bind(a.kind.clone())
            .bind(a.subtype.clone())
            .bind(text(a.balance))
            .bind(text(a.available_balance))
            .bind(text(a.credit_limit))
            .bind(text(a.apr))
            .bind(text(a.apy))
            .bind(a.currency_code.clone())
            .bind(a.is_closed)
            .bind(a.is_hidden)
            .bind(a.is_business)
            .bind(a.details.property_type.clone())
            .bind(text(a.details.original_balance))
            .bind(text(a.details.interest_rate))
            .bind(text(a.details.loan_amount))
            .bind(text(a.details.cash_surrender_value))
            .bind(a.details.death_benefit)
            .bind(a.metadata.clone())
            .bind(to_micros(a.updated_at))
            .bind(a.guid.as_str())
            .bind(a.client_id.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Deletes an account (its transactions and records go with it).
    pub async fn delete_account(&self, client: &ClientId, guid: &AccountGuid) -> Result<bool> {
        let n = on_writer!(self, |conn| {
            sqlx::query("DELETE FROM accounts WHERE guid = $1 AND client_id = $2")
                .bind(guid.as_str())
                .bind(client.as_str())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// The guids of a member's accounts by external id.
    pub async fn account_guids_by_external_id(&self, member: &MemberGuid) -> Result<Vec<(String, AccountGuid)>> {
        let rows: Vec<(String, String)> =
            on_writer!(self, |conn| sqlx::query_as("SELECT external_id, guid FROM accounts WHERE member_guid = $1")
                .bind(member.as_str())
                .fetch_all(&mut *conn)
                .await)?;
        rows.into_iter()
            .map(|(e, g)| match AccountGuid::parse(&g) {
                Ok(g) => Ok((e, g)),
                Err(_) => Err(corrupt("accounts", &g, "guid")),
            })
            .collect()
    }

    /// A user's accounts, or one member's; `is_manual` filters when given.
    pub async fn list_accounts(
        &self,
        client: &ClientId,
        user: &UserGuid,
        member: Option<&MemberGuid>,
        is_manual: Option<bool>,
        page: PageRequest,
    ) -> Result<Page<Account>> {
        let member = member.map(|m| m.as_str().to_owned());
        let (total, rows): (i64, Vec<AccountRow>) = on_reader!(self, |conn| {
            // The same filter for the count and the page.
            macro_rules! push_where {
                ($qb:expr) => {{
                    $qb.push(" WHERE a.user_guid = ").push_bind(user.as_str().to_owned());
                    $qb.push(" AND a.client_id = ").push_bind(client.as_str().to_owned());
                    if let Some(m) = &member {
                        $qb.push(" AND a.member_guid = ").push_bind(m.clone());
                    }
                    if let Some(b) = is_manual {
                        $qb.push(" AND a.is_manual = ").push_bind(b);
                    }
                }};
            }
            let mut count = QueryBuilder::new("SELECT COUNT(*) FROM accounts a");
            push_where!(count);
            let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut select = QueryBuilder::new(select_accounts!());
            push_where!(select);
            select.push(" ORDER BY a.created_at, a.guid LIMIT ").push_bind(page.limit());
            select.push(" OFFSET ").push_bind(page.offset());
            (total, select.build_query_as().fetch_all(&mut *conn).await?)
        });
        Ok(Page {
            items: rows.into_iter().map(AccountRow::into_account).collect::<Result<_>>()?,
            request: page,
            total_entries: total,
        })
    }

    pub async fn get_account(&self, client: &ClientId, user: &UserGuid, guid: &AccountGuid) -> Result<Option<Account>> {
        let row: Option<AccountRow> = on_reader!(self, |conn| sqlx::query_as(concat!(
            select_accounts!(),
            " WHERE a.guid = $1 AND a.user_guid = $2 AND a.client_id = $3"
        ))
        .bind(guid.as_str())
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await)?;
        row.map(AccountRow::into_account).transpose()
    }
}
