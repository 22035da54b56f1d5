//! What users change: manual accounts (created under the user's Manual Institution member,
//! which never aggregates), account updates, and transaction edits that survive
//! re-aggregation.

use std::str::FromStr;

use ferry_domain::{
    Account, AccountDetails, AccountGuid, AccountType, Client, ConnectionStatus, Member, MemberGuid, PropertyType,
    Transaction, TransactionGuid, User,
};
use ferry_store::{SealedCredentials, StoreError};
use rust_decimal::Decimal;

use crate::institutions::InstitutionRef;
use crate::validate::{self, METADATA_MAX};
use crate::{Error, MemberRef, Result, Service, UserRef};

/// The code of the hidden institution that holds manual accounts.
pub const MANUAL_INSTITUTION_CODE: &str = "manual_institution";
/// The fingerprint of manual members: the duplicate guard then allows one per user.
const MANUAL_FINGERPRINT: &str = "manual";

/// Account fields as a request gives them; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub account_type: Option<String>,
    pub account_subtype: Option<String>,
    pub balance: Option<Decimal>,
    pub available_balance: Option<Decimal>,
    pub credit_limit: Option<Decimal>,
    pub apr: Option<Decimal>,
    pub apy: Option<Decimal>,
    pub original_balance: Option<Decimal>,
    pub interest_rate: Option<Decimal>,
    pub loan_amount: Option<Decimal>,
    pub cash_surrender_value: Option<Decimal>,
    pub death_benefit: Option<i64>,
    pub currency_code: Option<String>,
    pub is_business: Option<bool>,
    pub is_closed: Option<bool>,
    pub is_hidden: Option<bool>,
    pub metadata: Option<String>,
    pub property_type: Option<String>,
}

impl AccountInput {
    /// The fields an aggregated account takes from its institution, which the user may not set.
    fn institution_fields(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        let mut note = |present: bool, name: &'static str| {
            if present {
                set.push(name);
            }
        };
        note(self.name.is_some(), "name");
        note(self.nickname.is_some(), "nickname");
        note(self.account_type.is_some(), "account_type");
        note(self.account_subtype.is_some(), "account_subtype");
        note(self.balance.is_some(), "balance");
        note(self.available_balance.is_some(), "available_balance");
        note(self.credit_limit.is_some(), "credit_limit");
        note(self.apr.is_some(), "apr");
        note(self.apy.is_some(), "apy");
        note(self.original_balance.is_some(), "original_balance");
        note(self.interest_rate.is_some(), "interest_rate");
        note(self.loan_amount.is_some(), "loan_amount");
        note(self.cash_surrender_value.is_some(), "cash_surrender_value");
        note(self.death_benefit.is_some(), "death_benefit");
        note(self.currency_code.is_some(), "currency_code");
        note(self.is_closed.is_some(), "is_closed");
        note(self.property_type.is_some(), "property_type");
        set
    }

    fn validate(&self) -> Result<()> {
        validate::opt_text("account.name", self.name.as_deref(), 255)?;
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(Error::bad_request("account.name must not be empty"));
        }
        validate::opt_text("account.nickname", self.nickname.as_deref(), 255)?;
        validate::opt_text("account.account_subtype", self.account_subtype.as_deref(), 64)?;
        validate::opt_text("account.metadata", self.metadata.as_deref(), METADATA_MAX)?;
        if let Some(t) = &self.account_type {
            AccountType::from_str(t).map_err(|e| Error::bad_request(format!("account.account_type: {e}")))?;
        }
        if let Some(p) = &self.property_type {
            PropertyType::from_str(p).map_err(|e| Error::bad_request(format!("account.property_type: {e}")))?;
        }
        if let Some(c) = &self.currency_code
            && !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(Error::bad_request("account.currency_code must be an ISO 4217 code such as USD"));
        }
        Ok(())
    }

    /// Applies the given fields to `a`.
    fn apply(self, a: &mut Account) {
        fn set<T>(target: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *target = v;
            }
        }
        fn set_opt<T>(target: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *target = value;
            }
        }
        set(&mut a.name, self.name);
        set_opt(&mut a.nickname, self.nickname);
        set(&mut a.kind, self.account_type);
        set_opt(&mut a.subtype, self.account_subtype);
        set_opt(&mut a.balance, self.balance);
        set_opt(&mut a.available_balance, self.available_balance);
        set_opt(&mut a.credit_limit, self.credit_limit);
        set_opt(&mut a.apr, self.apr);
        set_opt(&mut a.apy, self.apy);
        set_opt(&mut a.details.original_balance, self.original_balance);
        set_opt(&mut a.details.interest_rate, self.interest_rate);
        set_opt(&mut a.details.loan_amount, self.loan_amount);
        set_opt(&mut a.details.cash_surrender_value, self.cash_surrender_value);
        set_opt(&mut a.details.death_benefit, self.death_benefit);
        set_opt(&mut a.details.property_type, self.property_type);
        set(&mut a.currency_code, self.currency_code);
        set(&mut a.is_business, self.is_business);
        set(&mut a.is_closed, self.is_closed);
        set(&mut a.is_hidden, self.is_hidden);
        set_opt(&mut a.metadata, self.metadata);
    }
}

/// A user's edit of a transaction.
#[derive(Debug, Clone, Default)]
pub struct TransactionEdit {
    pub description: Option<String>,
    pub memo: Option<String>,
    /// Not supported yet: refused with a 400 that says so.
    pub date: Option<String>,
    pub category_guid: Option<String>,
}

impl Service {
    /// The user's Manual Institution member, created the first time it is needed.
    async fn manual_member(&self, client: &Client, user: &User) -> Result<Member> {
        let entry = self.catalog_entry(&InstitutionRef::Code(MANUAL_INSTITUTION_CODE.into())).await?;
        let institution = &entry.0;
        let by_guid = |g: MemberGuid| MemberRef::Guid(g);
        let as_user = UserRef::Guid(user.guid.clone());
        if let Some(g) = self.db().find_member_by_fingerprint(&user.guid, &institution.guid, MANUAL_FINGERPRINT).await?
        {
            return self.get_member(client, &as_user, &by_guid(g)).await;
        }
        let now = self.now();
        let member = Member {
            guid: MemberGuid::from_uuid(self.uuid()),
            client_id: client.id.clone(),
            user_guid: user.guid.clone(),
            user_id: user.id.clone(),
            id: None,
            institution_guid: institution.guid.clone(),
            institution_code: institution.code.clone(),
            name: institution.name.clone(),
            metadata: None,
            connection_status: ConnectionStatus::CONNECTED,
            connection_status_message: None,
            is_oauth: false,
            oauth_window_uri: None,
            is_being_aggregated: false,
            is_authenticated: false,
            has_processed_accounts: true,
            has_processed_transactions: true,
            has_processed_account_numbers: false,
            aggregated_at: None,
            successfully_aggregated_at: None,
            background_aggregation_is_disabled: true,
            needs_updated_credentials: false,
            use_cases: Vec::new(),
            products: Vec::new(),
            most_recent_job_guid: None,
            most_recent_job_detail_code: None,
            client_redirect_url: None,
            enable_app2app: None,
            referral_source: None,
            ui_message_webview_url_scheme: None,
            callback_payload: None,
            credential_guids: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let sealed =
            SealedCredentials { key_id: String::new(), sealed: String::new(), fingerprint: MANUAL_FINGERPRINT.into() };
        match self.db().insert_member(&member, &sealed, None, &[]).await {
            Ok(()) => Ok(member),
            // Another request created it first.
            Err(StoreError::Conflict(_)) => {
                let g = self
                    .db()
                    .find_member_by_fingerprint(&user.guid, &institution.guid, MANUAL_FINGERPRINT)
                    .await?
                    .ok_or_else(|| Error::Internal("the manual member vanished after a conflict".into()))?;
                self.get_member(client, &as_user, &by_guid(g)).await
            }
            Err(StoreError::MissingParent(_)) => Err(Error::NotFound("user")),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /users/{u}/accounts`: a manual account under the user's Manual Institution member.
    pub async fn create_manual_account(&self, client: &Client, user: &UserRef, input: AccountInput) -> Result<Account> {
        let user = self.get_user(client, user).await?;
        input.validate()?;
        if input.name.is_none() {
            return Err(Error::bad_request("account.name is required"));
        }
        if input.account_type.is_none() {
            return Err(Error::bad_request("account.account_type is required"));
        }
        let member = self.manual_member(client, &user).await?;
        let now = self.now();
        let guid = AccountGuid::from_uuid(self.uuid());
        let mut account = Account {
            client_id: client.id.clone(),
            user_guid: user.guid.clone(),
            user_id: user.id.clone(),
            member_guid: member.guid.clone(),
            member_id: None,
            institution_code: member.institution_code.clone(),
            external_id: format!("manual-{guid}"),
            guid,
            id: None,
            name: String::new(),
            nickname: None,
            kind: String::new(),
            subtype: None,
            account_number: None,
            routing_number: None,
            balance: None,
            available_balance: None,
            credit_limit: None,
            apr: None,
            apy: None,
            currency_code: "USD".into(),
            is_closed: false,
            organization: None,
            is_hidden: false,
            is_manual: true,
            is_business: false,
            details: AccountDetails::default(),
            metadata: None,
            created_at: now,
            updated_at: now,
        };
        input.apply(&mut account);
        match self.db().insert_account(&account).await {
            Ok(()) => Ok(account),
            // The user (and its manual member) went away in between.
            Err(StoreError::MissingParent(_)) => Err(Error::NotFound("user")),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT /users/{u}/members/{m}/accounts/{a}`: manual accounts take every field; aggregated
    /// ones only `is_business`, `is_hidden` and `metadata` (the rest comes from the institution).
    pub async fn update_account(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        account: &str,
        input: AccountInput,
    ) -> Result<Account> {
        let mut a = self.get_member_account(client, user, member, account).await?;
        input.validate()?;
        if !a.is_manual
            && let Some(field) = input.institution_fields().first()
        {
            return Err(Error::bad_request(format!(
                "account.{field} of an aggregated account comes from its institution; only is_business, is_hidden and metadata can be updated"
            )));
        }
        input.apply(&mut a);
        a.updated_at = self.now();
        if !self.db().update_account(&a).await? {
            return Err(Error::NotFound("account"));
        }
        Ok(a)
    }

    /// An account read through its member: one of another member is not found.
    pub async fn get_member_account(
        &self,
        client: &Client,
        user: &UserRef,
        member: &MemberRef,
        account: &str,
    ) -> Result<Account> {
        let u = self.get_user(client, user).await?;
        let as_user = UserRef::Guid(u.guid.clone());
        let m = self.get_member(client, &as_user, member).await?;
        let a = self.get_account(client, &as_user, account).await?;
        if a.member_guid != m.guid {
            return Err(Error::NotFound("account"));
        }
        Ok(a)
    }

    /// `DELETE /users/{u}/accounts/{a}`: manual accounts only; aggregated accounts go with
    /// their member.
    pub async fn delete_account(&self, client: &Client, user: &UserRef, account: &str) -> Result<()> {
        let a = self.get_account(client, user, account).await?;
        if !a.is_manual {
            return Err(Error::bad_request(
                "only manual accounts can be deleted; an aggregated account is removed with its member",
            ));
        }
        if !self.db().delete_account(&client.id, &a.guid).await? {
            return Err(Error::NotFound("account"));
        }
        Ok(())
    }

    /// `PUT /users/{u}/transactions/{t}` (and by member and account when `within` is given):
    /// the user's description and memo, which re-aggregation keeps.
    pub async fn update_transaction(
        &self,
        client: &Client,
        user: &UserRef,
        within: Option<(&MemberRef, &str)>,
        transaction: &str,
        edit: TransactionEdit,
    ) -> Result<Transaction> {
        let t = self.get_transaction(client, user, transaction).await?;
        if let Some((member, account)) = within {
            let a = self.get_member_account(client, user, member, account).await?;
            if a.guid != t.account_guid {
                return Err(Error::NotFound("transaction"));
            }
        }
        // Empty strings say nothing (generated clients send them for unset fields).
        let edit = TransactionEdit {
            date: edit.date.filter(|d| !d.trim().is_empty()),
            category_guid: edit.category_guid.filter(|c| !c.trim().is_empty()),
            ..edit
        };
        if edit.date.is_some() {
            return Err(Error::bad_request("transaction.date cannot be changed yet; description and memo can"));
        }
        if edit.category_guid.is_some() {
            return Err(Error::bad_request(
                "transaction.category_guid cannot be set: Ferry serves no categories yet; description and memo can be changed",
            ));
        }
        if edit.description.is_none() && edit.memo.is_none() {
            return Err(Error::bad_request("transaction.description or transaction.memo is required"));
        }
        validate::opt_text("transaction.description", edit.description.as_deref(), 1024)?;
        validate::opt_text("transaction.memo", edit.memo.as_deref(), 1024)?;
        let guid = TransactionGuid::parse(transaction).map_err(|_| Error::NotFound("transaction"))?;
        let now = self.now();
        if !self
            .db()
            .edit_transaction(&client.id, &guid, edit.description.as_deref(), edit.memo.as_deref(), now)
            .await?
        {
            return Err(Error::NotFound("transaction"));
        }
        self.get_transaction(client, &UserRef::Guid(t.user_guid.clone()), transaction).await
    }
}
