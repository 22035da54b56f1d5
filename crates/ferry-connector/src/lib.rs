//! The connector interface: how an aggregation job talks to an institution. A connector
//! authenticates with credentials (or raises MFA challenges and continues with the answers),
//! then lists accounts, transactions, account numbers, owners, holdings and statements. It
//! returns data and typed outcomes; it never touches the database: the core stores what it
//! returns under the connector's stable ids, and keeps (sealed) the per-member state a real
//! protocol needs between jobs (an access URL, a client id), which the connector hands back
//! through [`StateHandle`].

pub mod net;
pub mod pdf;
mod sandbox;

use std::collections::HashMap;
use std::sync::Arc;

pub use ferry_domain::{AccountNumberData, AccountOwnerData, Challenge, ChallengeOption, HoldingData, StatementData};
use ferry_domain::{ConnectionStatus, Product, Secret};
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
    /// The institution's settings for its connector (the catalog's `connector_config`, checked
    /// by [`Connector::check_config`] when it was imported).
    pub config: serde_json::Value,
    /// What the connector saved for this member in an earlier job (opened from its seal).
    pub state: Option<Secret>,
    /// Where the connector saves new state, at once, before it goes on.
    pub state_store: StateHandle,
}

/// Where a connector keeps what must outlive a job. The core seals it like credentials and
/// writes it in its own transaction, guarded by the job's lease.
#[async_trait::async_trait]
pub trait MemberState: Send + Sync {
    /// Saves `state` (replacing the last). With `spend_credentials`, the member's stored
    /// credentials are forgotten in the same write: a one-time secret (a SimpleFIN setup
    /// token) has been exchanged for this state and must not be kept.
    async fn save(&self, state: &str, spend_credentials: bool) -> Result<()>;
}

/// A connector's handle on its member's state.
#[derive(Clone)]
pub struct StateHandle(pub Arc<dyn MemberState>);

impl StateHandle {
    /// A handle that keeps nothing (tools and tests that run a connector without a database).
    pub fn discard() -> Self {
        struct Discard;
        #[async_trait::async_trait]
        impl MemberState for Discard {
            async fn save(&self, _: &str, _: bool) -> Result<()> {
                Ok(())
            }
        }
        Self(Arc::new(Discard))
    }

    pub async fn save(&self, state: &str, spend_credentials: bool) -> Result<()> {
        self.0.save(state, spend_credentials).await
    }
}

impl std::fmt::Debug for StateHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateHandle")
    }
}

/// A live, authenticated connection. `state` is opaque to the core and given back on every
/// call (it may hold what the connector needs to sign on again, so `Debug` never shows it);
/// `state_store` is the login request's, so data calls can save the member's state too.
#[derive(Clone)]
pub struct Session {
    pub member_key: String,
    pub state: String,
    pub state_store: StateHandle,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("member_key", &self.member_key).field("state", &"***").finish()
    }
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

/// A credential field the institutions of a connector ask the end user for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The name the connector finds the value under in [`LoginRequest::credentials`].
    pub field_name: String,
    pub label: String,
    /// `TEXT` or `PASSWORD` (masked, never shown back).
    pub kind: &'static str,
}

/// What an institution served by a connector asks for and offers, given its settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogProfile {
    pub fields: Vec<FieldSpec>,
    pub products: Vec<Product>,
    /// What the end user should know before connecting, when the operator wrote nothing.
    pub default_instructions: Option<String>,
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
    /// The organisation that holds the account, when a connector reaches several through one
    /// member (SimpleFIN).
    pub organization: Option<String>,
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

/// A refusal the end user should read: the status, a message that says what to do, and (for a
/// quota) when trying again makes sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub failure: Failure,
    pub message: String,
    /// No job should call the institution before this (its quota refills then).
    pub retry_at: Option<OffsetDateTime>,
}

impl Refusal {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self { failure, message: message.into(), retry_at: None }
    }
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
    /// A typed failure with a message for the end user.
    #[error("{:?}: {}", .0.failure, .0.message)]
    Refused(Refusal),
    /// Anything else (network, protocol): the job fails and may be retried.
    #[error("{0}")]
    Other(String),
    /// Ferry's own fault (saving the member's state failed): never the institution's.
    #[error("{0}")]
    Internal(String),
}

/// What one pull asks of the institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Transactions dated within `from..=to`; `None` for balances only.
    pub transactions: Option<(Date, Date)>,
    /// Whether positions of investment accounts are wanted.
    pub holdings: bool,
}

/// What a pull brought in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pulled {
    pub accounts: Vec<AccountData>,
    pub transactions: Vec<TransactionData>,
    /// `None` when holdings were not asked for or the institution has none to give.
    pub holdings: Option<Vec<HoldingData>>,
    /// The first day from which `transactions` holds everything the institution still
    /// reports, pending ones included: a pending transaction Ferry holds, dated on or after
    /// it and not reported again, was posted (maybe under a new id) or voided.
    pub complete_since: Option<Date>,
    /// The data is good but part of the connection needs attention (one organisation of
    /// several refused): the member ends in this status with this message.
    pub partial: Option<Refusal>,
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// An institution's protocol. Implementations are stateless between calls: everything they
/// need to continue comes back to them in `Session::state` or the challenge `state`.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// Checks an institution's `connector_config` when the operator imports it; the message
    /// says what is wrong.
    fn check_config(&self, config: &serde_json::Value) -> std::result::Result<(), String> {
        match config {
            serde_json::Value::Object(m) if m.is_empty() => Ok(()),
            serde_json::Value::Null => Ok(()),
            _ => Err("this connector takes no settings".into()),
        }
    }

    /// The credential fields and products of an institution with these settings (the catalog
    /// import writes them).
    fn catalog_profile(&self, _config: &serde_json::Value) -> CatalogProfile {
        CatalogProfile::default()
    }

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

    /// Accounts, and the transactions and holdings the request asks for, in as few calls as
    /// the protocol allows. The default asks `accounts`, then each account's `transactions`,
    /// then `holdings` when an investment account is among them.
    async fn pull(&self, session: &Session, request: &PullRequest) -> Result<Pulled> {
        let accounts = self.accounts(session).await?;
        let mut transactions = Vec::new();
        if let Some((from, to)) = request.transactions {
            for a in &accounts {
                transactions.extend(self.transactions(session, &a.id, from, to).await?);
            }
        }
        let holdings = if request.holdings && accounts.iter().any(|a| a.kind == "INVESTMENT") {
            match self.holdings(session).await {
                Ok(h) => Some(h),
                Err(ConnectorError::Unsupported(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(Pulled { accounts, transactions, holdings, complete_since: None, partial: None })
    }

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
