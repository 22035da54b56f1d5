//! The connector interface: how an aggregation job talks to an institution. A connector
//! authenticates with credentials (or raises MFA challenges and continues with the answers),
//! then lists accounts, transactions, account numbers, owners, holdings and statements. It returns data and typed outcomes; it never touches
//! the database; the core stores what it returns under the connector's stable ids.

pub mod pdf;
mod sandbox;

use std::collections::HashMap;

pub use ferry_domain::{AccountNumberData, AccountOwnerData, Challenge, ChallengeOption, HoldingData, StatementData};
use ferry_domain::{ConnectionStatus, Secret};
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

pub use sandbox::Sandbox;

/// What a connector needs to log in: the member's credentials by field name (`LOGIN`,
/// `PASSWORD`, ...) and a stable key for the member (the sandbox seeds its data with it).
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub member_key: String,
    pub credentials: HashMap<String, Secret>,
    pub now: OffsetDateTime,
    /// When this member last aggregated successfully (connectors may sync incrementally).
    pub last_success: Option<OffsetDateTime>,
    /// OAuth members: the access token (fresh: the core refreshes it first). Their
    /// `credentials` are empty.
    pub oauth_access_token: Option<Secret>,
}

/// A live, authenticated connection. `state` is opaque to the core and given back on every call.
#[derive(Debug, Clone)]
pub struct Session {
    pub member_key: String,
    pub state: String,
}

/// The outcome of a login or of answering challenges.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Connected(Session),
    /// MFA: the job pauses until the user answers. `state` (opaque, may hold secrets: the core
    /// stores it sealed) comes back with the answers.
    Challenged {
        challenges: Vec<Challenge>,
        state: String,
    },
    /// The institution refused, or could not be reached; maps onto a connection status.
    Failed(Failure),
}

/// Why a login or a data call failed, in terms the member's connection status can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The credentials were refused.
    Denied,
    /// An MFA answer was wrong.
    Rejected,
    /// The institution blocks the login; the user must contact it.
    Locked,
    /// Logged in, but the user must act on the institution's site.
    Impeded,
    /// The institution is failing repeatedly; retry later.
    Degraded,
    /// The institution is slower than usual.
    Delayed,
    /// Failing persistently for an extended period.
    Disconnected,
    /// This institution is no longer supported.
    Discontinued,
    /// The connection was closed at the institution.
    Closed,
    /// The credentials are incomplete or need re-entry.
    Impaired,
    /// The institution answered with an error (e.g. a 400).
    Failed,
}

impl Failure {
    pub fn status(self) -> ConnectionStatus {
        match self {
            Failure::Denied => ConnectionStatus::DENIED,
            Failure::Rejected => ConnectionStatus::REJECTED,
            Failure::Locked => ConnectionStatus::LOCKED,
            Failure::Impeded => ConnectionStatus::IMPEDED,
            Failure::Degraded => ConnectionStatus::DEGRADED,
            Failure::Delayed => ConnectionStatus::DELAYED,
            Failure::Disconnected => ConnectionStatus::DISCONNECTED,
            Failure::Discontinued => ConnectionStatus::DISCONTINUED,
            Failure::Closed => ConnectionStatus::CLOSED,
            Failure::Impaired => ConnectionStatus::IMPAIRED,
            Failure::Failed => ConnectionStatus::FAILED,
        }
    }
}

/// An answer to one challenge: the challenge's guid and the typed text or chosen option value.
#[derive(Debug, Clone)]
pub struct Answer {
    pub guid: String,
    pub value: Secret,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountData {
    /// The institution's stable id for the account; the core upserts under it.
    pub id: String,
    pub name: String,
    /// MX account type: CHECKING, SAVINGS, CREDIT_CARD, LOAN, MORTGAGE, INVESTMENT, ...
    pub kind: String,
    pub subtype: Option<String>,
    /// The full number; the core masks it for account responses.
    pub account_number: Option<String>,
    pub routing_number: Option<String>,
    pub balance: Option<Decimal>,
    pub available_balance: Option<Decimal>,
    pub credit_limit: Option<Decimal>,
    pub apr: Option<Decimal>,
    pub apy: Option<Decimal>,
    pub currency_code: String,
    pub is_closed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransactionData {
    /// The institution's stable id; a pending transaction that posts keeps it.
    pub id: String,
    pub account_id: String,
    /// Always positive; `is_debit` tells the direction.
    pub amount: Decimal,
    pub is_debit: bool,
    pub is_pending: bool,
    pub date: Date,
    pub transacted_at: OffsetDateTime,
    pub posted_at: Option<OffsetDateTime>,
    pub description: String,
    pub original_description: String,
    pub category: String,
    pub top_level_category: String,
    pub memo: Option<String>,
    pub check_number: Option<String>,
    pub is_bill_pay: bool,
    pub is_direct_deposit: bool,
    pub is_fee: bool,
    pub is_payroll: bool,
    pub is_subscription: bool,
    pub merchant_category_code: Option<i64>,
    pub currency_code: String,
}

/// A statement and its document (a PDF).
#[derive(Debug, Clone, PartialEq)]
pub struct StatementDocument {
    pub data: StatementData,
    pub pdf: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The institution does not offer this kind of data through this connector.
    #[error("not supported by this institution: {0}")]
    Unsupported(&'static str),
    /// A typed failure the member's status should show.
    #[error("{0:?}")]
    Failure(Failure),
    /// The answers do not fit the challenges asked (missing or unknown guids).
    #[error("{0}")]
    BadAnswers(String),
    /// Anything else (network, protocol): the job fails and may be retried.
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// An institution's protocol. Implementations are stateless between calls: everything they
/// need to continue comes back to them in `Session::state` or the challenge `state`.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// Logs in with the member's credentials.
    async fn login(&self, request: &LoginRequest) -> Result<LoginOutcome>;

    /// Continues a login that raised challenges.
    async fn answer(&self, request: &LoginRequest, state: &str, answers: &[Answer]) -> Result<LoginOutcome>;

    async fn accounts(&self, session: &Session) -> Result<Vec<AccountData>>;

    /// Transactions of one account dated within `from..=to`.
    async fn transactions(
        &self,
        session: &Session,
        account_id: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<TransactionData>>;

    /// Full account and routing numbers (verify).
    async fn account_numbers(&self, _session: &Session) -> Result<Vec<AccountNumberData>> {
        Err(ConnectorError::Unsupported("account numbers"))
    }

    /// The holders of each account (identify).
    async fn account_owners(&self, _session: &Session) -> Result<Vec<AccountOwnerData>> {
        Err(ConnectorError::Unsupported("account owners"))
    }

    /// Positions of investment accounts.
    async fn holdings(&self, _session: &Session) -> Result<Vec<HoldingData>> {
        Err(ConnectorError::Unsupported("investment holdings"))
    }

    /// Periodic statements with their documents (fetch_statements).
    async fn statements(&self, _session: &Session) -> Result<Vec<StatementDocument>> {
        Err(ConnectorError::Unsupported("statements"))
    }

    /// Whether repeated manual aggregation may run back to back. Real institutions are
    /// throttled (MX answers 202 without a new job inside its minimum interval); test banks
    /// are exempt, as MX Bank is.
    fn is_throttle_exempt(&self) -> bool {
        false
    }
}
