//! Aggregation's objects: jobs, MFA challenges, and the accounts and transactions members
//! bring in.

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::enums::wire_enum;
use crate::{AccountGuid, ClientId, ConnectionStatus, JobGuid, MemberGuid, TransactionGuid, UserGuid};

wire_enum!(
    /// What a job does (MX's job types; the widget's numeric ids follow the same order).
    JobType {
        Aggregation => "AGGREGATION",
        Verification => "VERIFICATION",
        Identification => "IDENTIFICATION",
        History => "HISTORY",
        Statement => "STATEMENT",
        Balance => "BALANCE",
    }
);

wire_enum!(
    /// Where a job stands. QUEUED, RUNNING and CHALLENGED are active: a member has at most one
    /// active job.
    JobStatus {
        Queued => "QUEUED",
        Running => "RUNNING",
        Challenged => "CHALLENGED",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
    }
);

impl JobStatus {
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running | JobStatus::Challenged)
    }
}

impl JobType {
    /// The job reads transactions: it counts as an aggregation, and starts the member's
    /// `has_processed_transactions` over.
    pub fn pulls_transactions(self) -> bool {
        matches!(self, JobType::Aggregation | JobType::History)
    }

    /// The job reads full account numbers (starts `has_processed_account_numbers` over).
    pub fn pulls_account_numbers(self) -> bool {
        self == JobType::Verification
    }
}

/// One MFA question as the institution asked it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    pub guid: String,
    pub label: String,
    pub field_name: String,
    /// `TEXT`, `OPTIONS`, `IMAGE_DATA`, `IMAGE_OPTIONS`, `TOKEN`.
    pub kind: String,
    pub image_data: Option<String>,
    pub options: Vec<ChallengeOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeOption {
    pub guid: String,
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub guid: JobGuid,
    pub client_id: ClientId,
    pub member_guid: MemberGuid,
    pub job_type: JobType,
    pub status: JobStatus,
    pub is_background: bool,
    pub attempts: i64,
    pub challenges: Vec<Challenge>,
    pub challenged_at: Option<OffsetDateTime>,
    /// The connection status the job ended with.
    pub outcome: Option<ConnectionStatus>,
    pub error_message: Option<String>,
    pub transactions_created: i64,
    pub transactions_updated: i64,
    pub callback_payload: Option<String>,
    /// The id of the HTTP request that queued it (none for background jobs).
    pub request_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub guid: AccountGuid,
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    pub user_id: Option<String>,
    pub member_guid: MemberGuid,
    pub member_id: Option<String>,
    pub institution_code: String,
    pub external_id: String,
    pub id: Option<String>,
    pub name: String,
    pub nickname: Option<String>,
    pub kind: String,
    pub subtype: Option<String>,
    /// Masked: only the last four digits are kept here.
    pub account_number: Option<String>,
    pub routing_number: Option<String>,
    pub balance: Option<Decimal>,
    pub available_balance: Option<Decimal>,
    pub credit_limit: Option<Decimal>,
    pub apr: Option<Decimal>,
    pub apy: Option<Decimal>,
    pub currency_code: String,
    pub is_closed: bool,
    /// The organisation holding the account, when the member reaches several (SimpleFIN).
    pub organization: Option<String>,
    pub is_hidden: bool,
    pub is_manual: bool,
    pub is_business: bool,
    pub details: AccountDetails,
    pub metadata: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Account types whose balance is what the holder owes. MX (and Ferry) keep such balances
/// positive; SimpleFIN and OFX write them negative, so each protocol edge flips them.
pub fn is_liability_kind(kind: &str) -> bool {
    matches!(kind, "CREDIT_CARD" | "LOAN" | "MORTGAGE" | "LINE_OF_CREDIT")
}

impl Account {
    /// The balance is what the holder owes (see [`is_liability_kind`]).
    pub fn is_liability(&self) -> bool {
        is_liability_kind(&self.kind)
    }
}

/// Account fields users set on manual accounts (property, insurance and loan details).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountDetails {
    pub property_type: Option<String>,
    pub original_balance: Option<Decimal>,
    pub interest_rate: Option<Decimal>,
    pub loan_amount: Option<Decimal>,
    pub cash_surrender_value: Option<Decimal>,
    pub death_benefit: Option<i64>,
}

wire_enum!(
    /// MX's account types.
    AccountType {
        Any => "ANY",
        Cash => "CASH",
        Checking => "CHECKING",
        CheckingLineOfCredit => "CHECKING_LINE_OF_CREDIT",
        CreditCard => "CREDIT_CARD",
        Loan => "LOAN",
        LineOfCredit => "LINE_OF_CREDIT",
        Savings => "SAVINGS",
        Investment => "INVESTMENT",
        Mortgage => "MORTGAGE",
        Insurance => "INSURANCE",
        Prepaid => "PREPAID",
        Property => "PROPERTY",
    }
);

wire_enum!(
    /// What a PROPERTY account holds.
    PropertyType {
        Appliances => "APPLIANCES",
        Art => "ART",
        Computer => "COMPUTER",
        Electronics => "ELECTRONICS",
        Furniture => "FURNITURE",
        Jewelry => "JEWELRY",
        Miscellaneous => "MISCELLANEOUS",
        RealEstate => "REAL_ESTATE",
        SportsEquipment => "SPORTS_EQUIPMENT",
        Vehicle => "VEHICLE",
    }
);

#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub guid: TransactionGuid,
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    pub user_id: Option<String>,
    pub member_guid: MemberGuid,
    pub account_guid: AccountGuid,
    pub account_id: Option<String>,
    pub external_id: String,
    pub id: Option<String>,
    /// Always positive; `is_debit` says which way it went.
    pub amount: Decimal,
    pub is_debit: bool,
    pub is_pending: bool,
    pub date: Date,
    pub transacted_at: Option<OffsetDateTime>,
    pub posted_at: Option<OffsetDateTime>,
    pub description: Option<String>,
    pub original_description: Option<String>,
    pub category: Option<String>,
    pub top_level_category: Option<String>,
    pub memo: Option<String>,
    pub check_number_string: Option<String>,
    pub merchant_category_code: Option<i64>,
    pub is_bill_pay: bool,
    pub is_direct_deposit: bool,
    pub is_fee: bool,
    pub is_payroll: bool,
    pub is_subscription: bool,
    pub is_manual: bool,
    pub currency_code: String,
    pub metadata: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}
