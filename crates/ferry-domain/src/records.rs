//! What the premium jobs bring in beside accounts and transactions: account numbers (verify),
//! account owners (identify), investment holdings (aggregation of investment accounts) and
//! statements (fetch_statements). Each is a record of one account, stored under the connector's
//! stable id, with its data kept as JSON of the types below.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::enums::wire_enum;
use crate::{AccountGuid, ClientId, MemberGuid, UserGuid};

wire_enum!(
    /// The kinds of member records, with the guid prefix MX gives each.
    RecordKind {
        AccountNumber => "ACCOUNT_NUMBER",
        AccountOwner => "ACCOUNT_OWNER",
        Holding => "HOLDING",
        Statement => "STATEMENT",
    }
);

impl RecordKind {
    pub fn prefix(self) -> &'static str {
        match self {
            RecordKind::AccountNumber => "ACN-",
            RecordKind::AccountOwner => "ACO-",
            RecordKind::Holding => "HOL-",
            RecordKind::Statement => "STA-",
        }
    }

    /// The singular noun of error messages ("account number not found").
    pub fn noun(self) -> &'static str {
        match self {
            RecordKind::AccountNumber => "account number",
            RecordKind::AccountOwner => "account owner",
            RecordKind::Holding => "investment holding",
            RecordKind::Statement => "statement",
        }
    }

    /// Whether `guid` has this kind's prefix and a plausible body (the only check a path
    /// segment needs before it reaches the database).
    pub fn is_guid(self, guid: &str) -> bool {
        guid.strip_prefix(self.prefix()).is_some_and(|rest| {
            !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    }
}

/// The full account and routing numbers of one account (verify).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountNumberData {
    pub account_id: String,
    pub account_number: String,
    pub routing_number: Option<String>,
    /// Canadian institutions: 3-digit institution number and 5-digit transit number.
    pub institution_number: Option<String>,
    pub transit_number: Option<String>,
    /// Whether the numbers passed the institution's checks (a routing checksum, say).
    pub passed_validation: bool,
}

/// One holder of an account, as the institution knows them (identify).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOwnerData {
    pub id: String,
    pub account_id: String,
    pub owner_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One position of an investment account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingData {
    pub id: String,
    pub account_id: String,
    pub symbol: Option<String>,
    pub description: String,
    /// MX's holding types: EQUITY, ETF, MUTUAL_FUND, BOND, MONEY_MARKET, CASH, ...
    pub holding_type: String,
    pub quantity: Decimal,
    pub current_price: Option<Decimal>,
    pub current_price_as_of: Option<Date>,
    pub market_value: Option<Decimal>,
    pub cost_basis: Option<Decimal>,
    pub purchase_price: Option<Decimal>,
    pub currency_code: String,
}

/// One periodic statement of an account; the document itself travels beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementData {
    pub id: String,
    pub account_id: String,
    pub period_start: Date,
    pub period_end: Date,
}

/// A record's data, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    AccountNumber(AccountNumberData),
    AccountOwner(AccountOwnerData),
    Holding(HoldingData),
    Statement(StatementData),
}

impl RecordData {
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordData::AccountNumber(_) => RecordKind::AccountNumber,
            RecordData::AccountOwner(_) => RecordKind::AccountOwner,
            RecordData::Holding(_) => RecordKind::Holding,
            RecordData::Statement(_) => RecordKind::Statement,
        }
    }

    /// The connector's stable id of the record (an account has one set of numbers, so the
    /// account's id serves).
    pub fn external_id(&self) -> &str {
        match self {
            RecordData::AccountNumber(d) => &d.account_id,
            RecordData::AccountOwner(d) => &d.id,
            RecordData::Holding(d) => &d.id,
            RecordData::Statement(d) => &d.id,
        }
    }

    /// The connector's id of the account the record belongs to.
    pub fn account_id(&self) -> &str {
        match self {
            RecordData::AccountNumber(d) => &d.account_id,
            RecordData::AccountOwner(d) => &d.account_id,
            RecordData::Holding(d) => &d.account_id,
            RecordData::Statement(d) => &d.account_id,
        }
    }

    pub fn to_json(&self) -> String {
        let v = match self {
            RecordData::AccountNumber(d) => serde_json::to_string(d),
            RecordData::AccountOwner(d) => serde_json::to_string(d),
            RecordData::Holding(d) => serde_json::to_string(d),
            RecordData::Statement(d) => serde_json::to_string(d),
        };
        v.unwrap_or_default()
    }

    pub fn from_json(kind: RecordKind, json: &str) -> Option<Self> {
        Some(match kind {
            RecordKind::AccountNumber => RecordData::AccountNumber(serde_json::from_str(json).ok()?),
            RecordKind::AccountOwner => RecordData::AccountOwner(serde_json::from_str(json).ok()?),
            RecordKind::Holding => RecordData::Holding(serde_json::from_str(json).ok()?),
            RecordKind::Statement => RecordData::Statement(serde_json::from_str(json).ok()?),
        })
    }
}

/// A stored record of a member's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub guid: String,
    pub client_id: ClientId,
    pub user_guid: UserGuid,
    pub member_guid: MemberGuid,
    pub account_guid: AccountGuid,
    pub data: RecordData,
    /// Statements: the SHA-256 of the document, hex.
    pub content_hash: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_through_json() {
        let d = RecordData::Holding(HoldingData {
            id: "h1".into(),
            account_id: "a1".into(),
            symbol: Some("VTI".into()),
            description: "Vanguard Total Stock Market ETF".into(),
            holding_type: "ETF".into(),
            quantity: Decimal::new(12_5000, 4),
            current_price: Some(Decimal::new(28_012, 2)),
            current_price_as_of: Some(time::macros::date!(2026 - 03 - 01)),
            market_value: None,
            cost_basis: None,
            purchase_price: None,
            currency_code: "USD".into(),
        });
        assert_eq!(RecordData::from_json(RecordKind::Holding, &d.to_json()), Some(d.clone()));
        assert_eq!(RecordData::from_json(RecordKind::Statement, &d.to_json()), None);
        assert!(RecordKind::Statement.is_guid("STA-123e4567-e89b"));
        assert!(!RecordKind::Statement.is_guid("HOL-123"));
        assert!(!RecordKind::Statement.is_guid("STA-a/b"));
    }
}
