//! Storing what a job brings in: accounts, then each account's transactions, and the premium
//! records (account numbers, owners, holdings, statements), upserted under the connector's
//! stable ids, so a job that runs twice changes nothing the second time.

use std::collections::HashMap;

use ferry_connector::{Connector, ConnectorError, PullRequest, Pulled, Refusal, Session, TransactionData};
use ferry_domain::{Account, AccountGuid, Job, JobType, Member, Transaction, TransactionGuid};
use ferry_domain::{Record, RecordData, RecordKind};
use ferry_store::NewRecord;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::{Error, Service};

/// How far back an aggregation reads transactions, and how far ahead (post-dated ones).
const HISTORY_DAYS: i64 = 90;
/// How far back `extend_history` reads: 24 months.
const EXTENDED_HISTORY_DAYS: i64 = 730;
/// A pending transaction the institution stopped reporting is removed once it is this old.
const STALE_PENDING_DAYS: i64 = 14;
const FUTURE_DAYS: i64 = 5;

/// What a job brought in, for its webhook.
#[derive(Debug, Default)]
pub(crate) struct PullSummary {
    /// Guids of the accounts the job's records cover (verify, identify).
    pub(crate) accounts: Vec<String>,
    /// Statements new to Ferry.
    pub(crate) records_created: u64,
    /// Part of the connection needs attention: the member ends in this status.
    pub(crate) partial: Option<Refusal>,
}

/// Why pulling data stopped: the institution's answer (which the member's status reflects), or
/// our own fault (the database, a bug), which must never be blamed on the institution.
#[derive(Debug)]
pub(crate) enum PullError {
    Institution(ConnectorError),
    Ours(Error),
}

impl From<ConnectorError> for PullError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::Internal(m) => PullError::Ours(Error::Internal(m)),
            e => PullError::Institution(e),
        }
    }
}

impl From<Error> for PullError {
    fn from(e: Error) -> Self {
        PullError::Ours(e)
    }
}

impl From<ferry_store::StoreError> for PullError {
    fn from(e: ferry_store::StoreError) -> Self {
        PullError::Ours(e.into())
    }
}

type PullResult<T> = std::result::Result<T, PullError>;

impl Service {
    /// Accounts, then each account's transactions, upserted under the connector's ids.
    pub(crate) async fn pull_data(
        &self,
        connector: &dyn Connector,
        session: &Session,
        member: &mut Member,
        job: &mut Job,
        worker: &str,
    ) -> PullResult<PullSummary> {
        let now = self.now();
        let window = match job.job_type {
            JobType::Aggregation => Some(HISTORY_DAYS),
            JobType::History => Some(EXTENDED_HISTORY_DAYS),
            _ => None,
        }
        .map(|days| (now.date() - Duration::days(days), now.date() + Duration::days(FUTURE_DAYS)));
        let pulled = match job.job_type {
            JobType::Aggregation | JobType::History | JobType::Balance => {
                let request = PullRequest { transactions: window, holdings: job.job_type == JobType::Aggregation };
                self.leased(&job.guid, worker, connector.pull(session, &request)).await??
            }
            _ => Pulled {
                accounts: self.leased(&job.guid, worker, connector.accounts(session)).await??,
                ..Default::default()
            },
        };
        let Pulled { accounts, transactions, holdings, complete_since, partial } = pulled;
        let known: HashMap<String, AccountGuid> =
            self.db().account_guids_by_external_id(&member.guid).await?.into_iter().collect();
        let rows: Vec<Account> = accounts
            .iter()
            .map(|a| Account {
                guid: known.get(&a.id).cloned().unwrap_or_else(|| AccountGuid::from_uuid(self.uuid())),
                client_id: member.client_id.clone(),
                user_guid: member.user_guid.clone(),
                user_id: None,
                member_guid: member.guid.clone(),
                member_id: None,
                institution_code: member.institution_code.clone(),
                external_id: a.id.clone(),
                id: None,
                name: a.name.clone(),
                nickname: None,
                kind: a.kind.clone(),
                subtype: a.subtype.clone(),
                account_number: a.account_number.as_deref().map(mask),
                routing_number: a.routing_number.clone(),
                balance: a.balance,
                available_balance: a.available_balance,
                credit_limit: a.credit_limit,
                apr: a.apr,
                apy: a.apy,
                currency_code: a.currency_code.clone(),
                is_closed: a.is_closed,
                organization: a.organization.clone(),
                is_hidden: false,
                is_manual: false,
                is_business: false,
                details: Default::default(),
                metadata: None,
                created_at: now,
                updated_at: now,
            })
            .collect();
        self.db().upsert_accounts(&rows).await?;
        let guids: HashMap<String, AccountGuid> =
            self.db().account_guids_by_external_id(&member.guid).await?.into_iter().collect();
        member.has_processed_accounts = true;
        // The accounts a set of records covers (the VERIFICATION and IDENTITY webhooks list them).
        let covered = |data: &[(RecordData, Option<Vec<u8>>)]| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for (d, _) in data {
                if let Some(g) = guids.get(d.account_id())
                    && !out.contains(&g.to_string())
                {
                    out.push(g.to_string());
                }
            }
            out
        };
        let mut summary = PullSummary { partial, ..Default::default() };
        match job.job_type {
            JobType::Balance => {} // Balances only.
            JobType::Verification => {
                let numbers = self.leased(&job.guid, worker, connector.account_numbers(session)).await??;
                let data: Vec<_> = numbers.into_iter().map(|d| (RecordData::AccountNumber(d), None)).collect();
                summary.accounts = covered(&data);
                self.store_records(member, &guids, RecordKind::AccountNumber, data, true).await?;
                member.has_processed_account_numbers = true;
            }
            JobType::Identification => {
                let owners = self.leased(&job.guid, worker, connector.account_owners(session)).await??;
                let data: Vec<_> = owners.into_iter().map(|d| (RecordData::AccountOwner(d), None)).collect();
                summary.accounts = covered(&data);
                self.store_records(member, &guids, RecordKind::AccountOwner, data, true).await?;
            }
            JobType::Statement => {
                let statements = self.leased(&job.guid, worker, connector.statements(session)).await??;
                let data = statements.into_iter().map(|s| (RecordData::Statement(s.data), Some(s.pdf))).collect();
                // Statements are history: one the institution stops listing is kept.
                summary.records_created =
                    self.store_records(member, &guids, RecordKind::Statement, data, false).await?;
            }
            JobType::Aggregation | JobType::History => {
                // Only the accounts this pull reported: an account left out (its organisation
                // refused, say) says nothing about its pending transactions.
                let reported: Vec<AccountGuid> = accounts.iter().filter_map(|a| guids.get(&a.id).cloned()).collect();
                let complete = complete_since.map(|since| (since, reported));
                self.store_transactions(member, job, transactions, complete, &guids).await?;
                if let Some(holdings) = holdings {
                    let data = holdings.into_iter().map(|d| (RecordData::Holding(d), None)).collect();
                    self.store_records(member, &guids, RecordKind::Holding, data, true).await?;
                }
            }
        }
        Ok(summary)
    }

    /// Stores records the connector reported for the member's accounts (records of accounts it
    /// did not list are dropped). Returns how many are new.
    async fn store_records(
        &self,
        member: &Member,
        accounts: &HashMap<String, AccountGuid>,
        kind: RecordKind,
        data: Vec<(RecordData, Option<Vec<u8>>)>,
        replace: bool,
    ) -> PullResult<u64> {
        let now = self.now();
        let records: Vec<(Record, Option<Vec<u8>>)> = data
            .into_iter()
            .filter_map(|(data, content)| {
                let account_guid = accounts.get(data.account_id())?.clone();
                let record = Record {
                    guid: format!("{}{}", kind.prefix(), self.uuid()),
                    client_id: member.client_id.clone(),
                    user_guid: member.user_guid.clone(),
                    member_guid: member.guid.clone(),
                    account_guid,
                    content_hash: content.as_deref().map(|c| hex::encode(Sha256::digest(c))),
                    data,
                    created_at: now,
                    updated_at: now,
                };
                Some((record, content))
            })
            .collect();
        let rows: Vec<NewRecord<'_>> =
            records.iter().map(|(record, content)| NewRecord { record, content: content.as_deref() }).collect();
        Ok(self.db().store_records(&member.guid, kind, &rows, replace).await?)
    }

    /// Upserts the transactions a pull brought in under the connector's ids, and removes
    /// pending ones the institution no longer reports: those dated inside the window it
    /// reported completely (posted, maybe under a new id, or voided), and any pending one
    /// older than two weeks.
    async fn store_transactions(
        &self,
        member: &mut Member,
        job: &mut Job,
        transactions: Vec<TransactionData>,
        complete: Option<(time::Date, Vec<AccountGuid>)>,
        guids: &HashMap<String, AccountGuid>,
    ) -> PullResult<()> {
        let now = self.now();
        let known_txns: HashMap<String, TransactionGuid> =
            self.db().transaction_guids_by_external_id(&member.guid).await?.into_iter().collect();
        let mut created = 0i64;
        let mut rows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in transactions {
            let Some(account_guid) = guids.get(&t.account_id) else { continue };
            if !seen.insert(t.id.clone()) {
                continue; // A connector listing one id twice must not make two rows.
            }
            let guid = match known_txns.get(&t.id) {
                Some(g) => g.clone(),
                None => {
                    created += 1;
                    TransactionGuid::from_uuid(self.uuid())
                }
            };
            rows.push(Transaction {
                guid,
                client_id: member.client_id.clone(),
                user_guid: member.user_guid.clone(),
                user_id: None,
                member_guid: member.guid.clone(),
                account_guid: account_guid.clone(),
                account_id: None,
                external_id: t.id,
                id: None,
                amount: t.amount,
                is_debit: t.is_debit,
                is_pending: t.is_pending,
                date: t.date,
                transacted_at: Some(t.transacted_at),
                posted_at: t.posted_at,
                description: Some(t.description),
                original_description: Some(t.original_description),
                category: Some(t.category),
                top_level_category: Some(t.top_level_category),
                memo: t.memo,
                check_number_string: t.check_number,
                merchant_category_code: t.merchant_category_code,
                is_bill_pay: t.is_bill_pay,
                is_direct_deposit: t.is_direct_deposit,
                is_fee: t.is_fee,
                is_payroll: t.is_payroll,
                is_subscription: t.is_subscription,
                is_manual: false,
                currency_code: t.currency_code,
                metadata: None,
                created_at: now,
                updated_at: now,
            });
        }
        let changed = self.db().upsert_transactions(&rows).await? as i64;
        // Pending transactions the institution no longer reports (a voided authorization, say)
        // go once they are two weeks old; posted ones are history and stay.
        let mut stale: Vec<(String, TransactionGuid)> = self
            .db()
            .pending_transactions_before(&member.guid, now.date() - Duration::days(STALE_PENDING_DAYS))
            .await?;
        if let Some((since, accounts)) = &complete {
            stale.extend(self.db().pending_transactions_since(&member.guid, accounts, *since).await?);
        }
        let mut stale: Vec<TransactionGuid> =
            stale.into_iter().filter(|(external_id, _)| !seen.contains(external_id)).map(|(_, guid)| guid).collect();
        stale.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        stale.dedup();
        self.db().delete_transactions(&stale).await?;
        job.transactions_created = created;
        job.transactions_updated = (changed - created).max(0);
        member.has_processed_transactions = true;
        Ok(())
    }
}

/// Keeps the last four digits of an account number.
fn mask(number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("XXXXXX{tail}")
}
