//! Reading what members brought in: accounts, transactions, account numbers, owners, holdings
//! and statements, always through their user.

use ferry_domain::{
    Account, AccountGuid, Client, Page, PageRequest, Record, RecordKind, Transaction, TransactionGuid, UserGuid,
};
use ferry_store::{RecordScope, TransactionScope};
use time::{Date, Duration};

use crate::{Error, MemberRef, Result, Service, UserRef};

/// MX's default window for transaction listings: 120 days back, 5 days ahead.
const DEFAULT_DAYS_BACK: i64 = 120;
const DEFAULT_DAYS_AHEAD: i64 = 5;

/// The filters of the account listings.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountFilter {
    pub is_manual: Option<bool>,
    pub member_is_managed_by_user: Option<bool>,
}

/// Whose transactions or records to list.
#[derive(Debug, Clone)]
pub enum DataScope {
    User,
    Member(MemberRef),
    Account(String),
}

impl Service {
    /// A user's accounts (or one member's), filtered by `is_manual` and
    /// `member_is_managed_by_user` when given. Every member Ferry aggregates is managed by the
    /// client, not the user, so `member_is_managed_by_user=true` matches nothing.
    pub async fn list_accounts(
        &self,
        client: &Client,
        user: &UserRef,
        member: Option<&MemberRef>,
        filter: AccountFilter,
        page: PageRequest,
    ) -> Result<Page<Account>> {
        let u = self.get_user(client, user).await?;
        let member_guid = match member {
            Some(m) => Some(self.get_member(client, &UserRef::Guid(u.guid.clone()), m).await?.guid),
            None => None,
        };
        if filter.member_is_managed_by_user == Some(true) {
            return Ok(Page { items: Vec::new(), request: page, total_entries: 0 });
        }
        Ok(self.db().list_accounts(&client.id, &u.guid, member_guid.as_ref(), filter.is_manual, page).await?)
    }

    pub async fn get_account(&self, client: &Client, user: &UserRef, account: &str) -> Result<Account> {
        let u = self.get_user(client, user).await?;
        let guid = AccountGuid::parse(account).map_err(|_| Error::NotFound("account"))?;
        self.db().get_account(&client.id, &u.guid, &guid).await?.ok_or(Error::NotFound("account"))
    }

    /// Transactions dated within `from..=to` (defaults: 120 days back, 5 days ahead).
    pub async fn list_transactions(
        &self,
        client: &Client,
        user: &UserRef,
        of: &DataScope,
        from: Option<Date>,
        to: Option<Date>,
        page: PageRequest,
    ) -> Result<Page<Transaction>> {
        // Guids need no lookup first: the listing statement checks that the user is the
        // client's and the member or account the user's. Partner ids are resolved first.
        let user_guid = match user {
            UserRef::Guid(g) => g.clone(),
            other => self.get_user(client, other).await?.guid,
        };
        let as_user = UserRef::Guid(user_guid.clone());
        let scope = match of {
            DataScope::User => TransactionScope::User,
            DataScope::Member(MemberRef::Guid(g)) => TransactionScope::Member(g.clone()),
            DataScope::Member(m) => TransactionScope::Member(self.get_member(client, &as_user, m).await?.guid),
            DataScope::Account(a) => {
                TransactionScope::Account(AccountGuid::parse(a).map_err(|_| Error::NotFound("account"))?)
            }
        };
        let today = self.now().date();
        let from = from.unwrap_or(today - Duration::days(DEFAULT_DAYS_BACK));
        let to = to.unwrap_or(today + Duration::days(DEFAULT_DAYS_AHEAD));
        if from > to {
            return Err(Error::bad_request("from_date must not be after to_date"));
        }
        Ok(self.db().list_transactions(&client.id, &user_guid, &scope, from, to, page).await?)
    }

    /// Resolves a scope through client-scoped reads (a member or account of another user or
    /// client is not found).
    async fn record_scope(&self, client: &Client, user: &UserGuid, of: &DataScope) -> Result<RecordScope> {
        let u = UserRef::Guid(user.clone());
        Ok(match of {
            DataScope::User => RecordScope::User,
            DataScope::Member(m) => RecordScope::Member(self.get_member(client, &u, m).await?.guid),
            DataScope::Account(a) => RecordScope::Account(self.get_account(client, &u, a).await?.guid),
        })
    }

    /// Account numbers, owners, holdings or statements of a user, member or account.
    pub async fn list_records(
        &self,
        client: &Client,
        user: &UserRef,
        kind: RecordKind,
        of: &DataScope,
        page: PageRequest,
    ) -> Result<Page<Record>> {
        let u = self.get_user(client, user).await?;
        let scope = self.record_scope(client, &u.guid, of).await?;
        Ok(self.db().list_records(&client.id, &u.guid, kind, &scope, page).await?)
    }

    /// One record; with `member`, it must be that member's (statements are read by member).
    pub async fn get_record(
        &self,
        client: &Client,
        user: &UserRef,
        member: Option<&MemberRef>,
        kind: RecordKind,
        guid: &str,
    ) -> Result<Record> {
        let u = self.get_user(client, user).await?;
        let not_found = Error::NotFound(kind.noun());
        if !kind.is_guid(guid) {
            return Err(not_found);
        }
        let record = self.db().get_record(&client.id, &u.guid, kind, guid).await?.ok_or(not_found)?;
        if let Some(m) = member {
            let m = self.get_member(client, &UserRef::Guid(u.guid.clone()), m).await?;
            if m.guid != record.member_guid {
                return Err(Error::NotFound(kind.noun()));
            }
        }
        Ok(record)
    }

    /// A statement's document (PDF bytes), read through its member.
    pub async fn statement_pdf(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        guid: &str,
    ) -> Result<Vec<u8>> {
        let record = self.get_record(client, user, Some(member), RecordKind::Statement, guid).await?;
        self.db().record_content(&client.id, &record.user_guid, &record.guid).await?.ok_or(Error::NotFound("statement"))
    }

    pub async fn get_transaction(&self, client: &Client, user: &UserRef, transaction: &str) -> Result<Transaction> {
        let u = self.get_user(client, user).await?;
        let guid = TransactionGuid::parse(transaction).map_err(|_| Error::NotFound("transaction"))?;
        self.db().get_transaction(&client.id, &u.guid, &guid).await?.ok_or(Error::NotFound("transaction"))
    }
}
