//! From SimpleFIN's account sets to the connector's data: accounts (with their organisation,
//! an account type guessed from what the protocol gives), transactions under ids unique per
//! member, holdings, and the errors a set carries as the member's status.

use std::collections::{BTreeMap, HashSet};

use ferry_connector::{AccountData, Failure, HoldingData, Pulled, Refusal, TransactionData};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use crate::wire::{self, AccountSet};

/// Accounts, transactions and holdings gathered over the requests of one pull.
#[derive(Default)]
pub(crate) struct Collected {
    accounts: BTreeMap<String, AccountData>,
    transactions: BTreeMap<String, TransactionData>,
    holdings: BTreeMap<String, HoldingData>,
    /// Accounts with holdings (investment accounts, whatever their name says).
    invested: HashSet<String>,
    problems: Vec<String>,
}

impl Collected {
    /// Adds one account set; later sets update balances; transactions are keyed by account
    /// and id, so overlapping windows never double one.
    pub(crate) fn add(&mut self, set: AccountSet, with_transactions: bool) {
        let names = set.connection_names();
        let problems = set.problems();
        for a in &set.accounts {
            let org = a
                .org
                .as_ref()
                .and_then(|o| o.name.clone().or_else(|| o.domain.clone()))
                .or_else(|| a.conn_id.as_deref().and_then(|c| names.get(c)).map(|n| (*n).to_owned()));
            if !a.holdings.is_empty() {
                self.invested.insert(a.id.clone());
            }
            // An account without a readable balance is still an account (and its transactions
            // still count); its balance is unknown rather than zero.
            self.accounts.insert(a.id.clone(), account(a, a.balance.decimal(), org));
            for h in &a.holdings {
                if let Some(h) = holding(&a.id, currency(a.currency.as_deref()), h) {
                    self.holdings.insert(h.id.clone(), h);
                }
            }
            if with_transactions {
                for t in &a.transactions {
                    if let Some(t) = transaction(&a.id, currency(a.currency.as_deref()), t) {
                        self.transactions.insert(t.id.clone(), t);
                    }
                }
            }
        }
        self.problems.extend(problems.into_iter().map(|(_, m)| m));
    }

    pub(crate) fn finish(mut self, holdings: bool, complete_since: Option<time::Date>) -> Pulled {
        for id in &self.invested {
            if let Some(a) = self.accounts.get_mut(id) {
                a.kind = "INVESTMENT".into();
            }
        }
        self.problems.sort();
        self.problems.dedup();
        let partial = (!self.problems.is_empty()).then(|| {
            Refusal::new(
                Failure::Degraded,
                format!(
                    "Some accounts could not be updated: {} Fix the connection at your SimpleFIN server; the other accounts are up to date.",
                    self.problems.join(" ")
                ),
            )
        });
        Pulled {
            accounts: self.accounts.into_values().collect(),
            transactions: self.transactions.into_values().collect(),
            holdings: holdings.then(|| self.holdings.into_values().collect()),
            complete_since,
            partial,
        }
    }
}

/// What an account set with errors and no accounts means for the member.
pub(crate) fn refusal_of_errors(set: &AccountSet, now: OffsetDateTime) -> Option<Refusal> {
    let problems = set.problems();
    if problems.is_empty() {
        return None;
    }
    let text: Vec<String> = problems.into_iter().map(|(_, m)| m).collect();
    let joined = text.join(" ");
    let lower = joined.to_ascii_lowercase();
    let quota = ["fewer requests", "rate limit", "too many requests", "once every 24 hours", "quota", "daily limit"];
    if quota.iter().any(|q| lower.contains(q)) {
        return Some(Refusal {
            failure: Failure::Delayed,
            message: "SimpleFIN allows only a few updates a day and they are used up. Ferry will update this \
                      connection again when more are available."
                .into(),
            retry_at: Some(now + time::Duration::hours(6)),
        });
    }
    Some(Refusal::new(
        Failure::Impeded,
        format!("Your SimpleFIN server reports: {joined} Fix the connection there; Ferry will update it afterwards."),
    ))
}

/// An ISO currency code from SimpleFIN's `currency` (a code, or a URL for a custom currency,
/// which MX's fields cannot carry: `XXX`, ISO's "no currency").
pub(crate) fn currency(c: Option<&str>) -> String {
    match c.map(str::trim) {
        None | Some("") => "USD".into(),
        Some(c) if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => c.to_ascii_uppercase(),
        Some(_) => "XXX".into(),
    }
}

/// MX's account type from what SimpleFIN says: it has no type, so the name decides (cards,
/// savings, loans), holdings make an investment account (see `finish`), and the rest is
/// checking.
fn kind_of(name: &str) -> &'static str {
    let l = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if has(&["credit card", "card", "visa", "mastercard", "amex", "discover"]) {
        "CREDIT_CARD"
    } else if has(&["mortgage"]) {
        "MORTGAGE"
    } else if has(&["loan"]) {
        "LOAN"
    } else if has(&["line of credit", "heloc"]) {
        "LINE_OF_CREDIT"
    } else if has(&["brokerage", "ira", "401k", "401(k)", "invest", "retirement", "roth"]) {
        "INVESTMENT"
    } else if has(&["saving", "money market"]) {
        "SAVINGS"
    } else {
        "CHECKING"
    }
}

fn account(a: &wire::Account, balance: Option<Decimal>, org: Option<String>) -> AccountData {
    let name = a.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "Account".into());
    let kind = kind_of(&name);
    AccountData {
        id: a.id.clone(),
        kind: kind.into(),
        name,
        subtype: None,
        account_number: None,
        routing_number: None,
        balance: if ferry_domain::is_liability_kind(kind) { balance.map(|b| -b) } else { balance },
        available_balance: a.available_balance.as_ref().and_then(wire::Money::decimal),
        credit_limit: None,
        apr: None,
        apy: None,
        currency_code: currency(a.currency.as_deref()),
        is_closed: false,
        organization: org,
    }
}

/// Transaction ids are unique per account only: Ferry's id joins the two.
fn transaction(account_id: &str, currency: String, t: &wire::Transaction) -> Option<TransactionData> {
    let amount = t.amount.decimal()?;
    let pending = t.pending.unwrap_or(t.posted == 0) || t.posted == 0;
    let posted_at = (t.posted > 0).then(|| OffsetDateTime::from_unix_timestamp(t.posted).ok()).flatten();
    let transacted_at =
        t.transacted_at.filter(|s| *s > 0).and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()).or(posted_at)?;
    let description = wire::sanitize(t.description.as_deref().unwrap_or_default());
    let payee = t.payee.as_deref().map(wire::sanitize).filter(|p| !p.is_empty());
    Some(TransactionData {
        id: format!("{account_id}:{}", t.id),
        account_id: account_id.to_owned(),
        amount: amount.abs(),
        is_debit: amount.is_sign_negative(),
        is_pending: pending,
        date: posted_at.unwrap_or(transacted_at).date(),
        transacted_at,
        posted_at,
        description: payee.clone().unwrap_or_else(|| description.clone()),
        original_description: description,
        category: "Uncategorized".into(),
        top_level_category: "Uncategorized".into(),
        memo: t.memo.as_deref().map(wire::sanitize).filter(|m| !m.is_empty()),
        check_number: None,
        is_bill_pay: false,
        is_direct_deposit: false,
        is_fee: false,
        is_payroll: false,
        is_subscription: false,
        merchant_category_code: None,
        currency_code: currency,
    })
}

fn holding(account_id: &str, account_currency: String, h: &wire::Holding) -> Option<HoldingData> {
    let quantity = h.shares.as_ref().and_then(wire::Money::decimal).unwrap_or_default();
    let market_value = h.market_value.as_ref().and_then(wire::Money::decimal);
    let current_price = match (market_value, quantity.is_zero()) {
        (Some(v), false) => v.checked_div(quantity).map(|p| p.round_dp(6)),
        _ => None,
    };
    Some(HoldingData {
        id: format!("{account_id}:{}", h.id),
        account_id: account_id.to_owned(),
        symbol: h.symbol.clone().filter(|s| !s.trim().is_empty()),
        description: h.description.clone().unwrap_or_default(),
        holding_type: if h.symbol.is_some() { "EQUITY".into() } else { "UNKNOWN".into() },
        quantity,
        current_price,
        current_price_as_of: None,
        market_value,
        cost_basis: h.cost_basis.as_ref().and_then(wire::Money::decimal),
        purchase_price: h.purchase_price.as_ref().and_then(wire::Money::decimal),
        currency_code: h.currency.as_deref().map(|c| currency(Some(c))).unwrap_or(account_currency),
    })
}
