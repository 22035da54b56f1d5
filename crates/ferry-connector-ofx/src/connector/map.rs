//! From OFX statements to the connector's data: accounts (bank, card, investment) under their
//! ACCTID, transactions under their FITID (or, for servers whose FITIDs are missing, a hash of
//! date, amount and name), positions joined with the SECLIST as holdings.

use ferry_connector::{AccountData, HoldingData, TransactionData};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use crate::{
    AccountInfo, AccountRef, AccountType, CorrectAction, InvestmentStatement, OfxDate, Response, SecurityKind,
    Statement, StatementTransaction, TrnType,
};

/// The account id Ferry keeps: the ACCTID, prefixed by kind so a card and a bank account with
/// the same number stay two accounts.
pub(crate) fn account_id(a: &AccountRef) -> String {
    match a {
        AccountRef::Bank { acct_id, .. } => format!("bank:{acct_id}"),
        AccountRef::CreditCard { acct_id } => format!("card:{acct_id}"),
        AccountRef::Investment { acct_id, .. } => format!("inv:{acct_id}"),
    }
}

fn last4(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// An account as discovered, before its statement's balances.
pub(crate) fn account(info: &AccountInfo, currency: &str) -> AccountData {
    let (kind, subtype, routing, label) = match &info.account {
        AccountRef::Bank { acct_type, bank_id, .. } => {
            let (kind, subtype, label) = match acct_type {
                AccountType::Checking => ("CHECKING", None, "Checking"),
                AccountType::Savings => ("SAVINGS", None, "Savings"),
                AccountType::MoneyMarket => ("SAVINGS", Some("MONEY_MARKET"), "Money Market"),
                AccountType::CreditLine => ("LINE_OF_CREDIT", None, "Line of Credit"),
                AccountType::Cd => ("SAVINGS", Some("CERTIFICATE_OF_DEPOSIT"), "Certificate of Deposit"),
                _ => ("CHECKING", None, "Account"),
            };
            (kind, subtype, Some(bank_id.clone()), label)
        }
        AccountRef::CreditCard { .. } => ("CREDIT_CARD", None, None, "Credit Card"),
        AccountRef::Investment { .. } => ("INVESTMENT", None, None, "Investment"),
    };
    let number = info.account.acct_id();
    let name = info
        .desc
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("{label} ending {}", last4(number)));
    AccountData {
        id: account_id(&info.account),
        name,
        kind: kind.into(),
        subtype: subtype.map(str::to_owned),
        account_number: Some(number.to_owned()),
        routing_number: routing.filter(|r| !r.is_empty()),
        balance: None,
        available_balance: None,
        credit_limit: None,
        apr: None,
        apy: None,
        currency_code: currency.to_owned(),
        is_closed: false,
        organization: None,
    }
}

/// Balances of a bank or card statement. A card's ledger balance is what is owed, positive in
/// MX's terms whatever sign the bank writes (protocols.md A9.6: it varies by bank).
pub(crate) fn apply_balances(a: &mut AccountData, s: &Statement) {
    let card = matches!(s.account, AccountRef::CreditCard { .. });
    let fix = |d: Decimal| if card { d.abs() } else { d };
    a.balance = s.ledger_balance.as_ref().map(|b| fix(b.amount));
    a.available_balance = s.available_balance.as_ref().map(|b| b.amount);
    if !s.currency.trim().is_empty() {
        a.currency_code = s.currency.trim().to_ascii_uppercase();
    }
}

fn at(d: &OfxDate) -> OffsetDateTime {
    match d {
        // A date without a time is noon UTC for the instant, and stays its own day as `date`.
        OfxDate::Date(day) => day.with_time(time::macros::time!(12:00)).assume_utc(),
        OfxDate::DateTime(t) => *t,
    }
}

/// The transactions of a statement, with the corrections it carries applied (a REPLACE or
/// DELETE removes the transaction it names from the same download).
pub(crate) fn transactions(s: &Statement, account: &str, currency: &str) -> Vec<TransactionData> {
    let list = s.transactions.as_ref().map(|l| l.transactions.as_slice()).unwrap_or_default();
    let corrected: std::collections::HashSet<&str> =
        list.iter().filter(|t| t.correct_action.is_some()).filter_map(|t| t.correct_fitid.as_deref()).collect();
    list.iter()
        .filter(|t| !corrected.contains(t.fitid.as_str()))
        .filter(|t| !matches!(t.correct_action, Some(CorrectAction::Delete)))
        .map(|t| transaction(t, account, currency))
        .collect()
}

/// A stable id for a transaction: its FITID, or a hash of what identifies it when the server
/// sends none.
fn fitid(t: &StatementTransaction) -> String {
    if !t.fitid.trim().is_empty() {
        return t.fitid.trim().to_owned();
    }
    // SHA-256, not std's hasher, whose output may change between Rust releases (and with it
    // every such id, duplicating the transactions).
    use sha2::Digest;
    let key = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        t.dtposted.date(),
        t.amount,
        t.name.as_deref().unwrap_or_default(),
        t.memo.as_deref().unwrap_or_default()
    );
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("h{}", digest.iter().take(10).map(|b| format!("{b:02x}")).collect::<String>())
}

pub(crate) fn transaction(t: &StatementTransaction, account: &str, currency: &str) -> TransactionData {
    let name = t.name.clone().or_else(|| t.payee_name.clone()).unwrap_or_default();
    let posted = at(&t.dtposted);
    let (category, top) = match t.trntype {
        TrnType::Fee | TrnType::SrvChg => ("Bank Fee", "Fees & Charges"),
        TrnType::Int | TrnType::Div => ("Interest Income", "Income"),
        TrnType::DirectDep => ("Paycheck", "Income"),
        TrnType::Atm | TrnType::Cash => ("Cash & ATM", "Transfer"),
        TrnType::Xfer => ("Transfer", "Transfer"),
        _ => ("Uncategorized", "Uncategorized"),
    };
    let description = if name.trim().is_empty() { t.memo.clone().unwrap_or_default() } else { name.clone() };
    TransactionData {
        id: format!("{account}:{}", fitid(t)),
        account_id: account.to_owned(),
        amount: t.amount.abs(),
        is_debit: t.amount.is_sign_negative(),
        is_pending: false,
        date: t.dtposted.date(),
        transacted_at: t.dtuser.as_ref().map(at).unwrap_or(posted),
        posted_at: Some(posted),
        original_description: description.clone(),
        description,
        category: category.into(),
        top_level_category: top.into(),
        memo: t.memo.clone().filter(|m| !m.trim().is_empty()),
        check_number: t.checknum.clone().filter(|c| !c.trim().is_empty()),
        is_bill_pay: matches!(t.trntype, TrnType::Payment | TrnType::RepeatPmt),
        is_direct_deposit: matches!(t.trntype, TrnType::DirectDep),
        is_fee: matches!(t.trntype, TrnType::Fee | TrnType::SrvChg),
        is_payroll: false,
        is_subscription: false,
        merchant_category_code: t.sic.as_deref().and_then(|s| s.trim().parse().ok()),
        currency_code: t
            .currency
            .as_ref()
            .map(|c| c.symbol.trim().to_ascii_uppercase())
            .filter(|c| c.len() == 3)
            .unwrap_or_else(|| currency.to_owned()),
    }
}

/// An investment statement's balance, positions (named from the SECLIST) and transactions.
pub(crate) fn investment(
    s: &InvestmentStatement,
    response: &Response,
    account: &mut AccountData,
) -> (Vec<HoldingData>, Vec<TransactionData>) {
    let currency = if s.currency.trim().is_empty() {
        account.currency_code.clone()
    } else {
        s.currency.trim().to_ascii_uppercase()
    };
    account.currency_code = currency.clone();
    // Checked: a hostile server's values must not overflow (a panic) the sum.
    let market = s.positions.iter().try_fold(Decimal::ZERO, |acc, p| acc.checked_add(p.mkt_val));
    let cash = s.balance.as_ref().map(|b| b.availcash).unwrap_or_default();
    account.balance = market.and_then(|m| m.checked_add(cash));
    account.available_balance = s.balance.as_ref().map(|b| b.availcash);
    let holdings = s
        .positions
        .iter()
        .map(|p| {
            let security = response.security(&p.secid);
            HoldingData {
                id: format!("{}:{}:{}", account.id, p.secid.unique_id_type, p.secid.unique_id),
                account_id: account.id.clone(),
                symbol: security.and_then(|s| s.ticker.clone()),
                description: security.map(|s| s.name.clone()).unwrap_or_else(|| p.secid.unique_id.clone()),
                holding_type: match p.kind {
                    SecurityKind::Stock => "EQUITY",
                    SecurityKind::MutualFund => "MUTUAL_FUND",
                    SecurityKind::Debt => "BOND",
                    SecurityKind::Option => "OPTIONS",
                    SecurityKind::Other => "UNKNOWN",
                }
                .into(),
                quantity: p.units,
                current_price: Some(p.unit_price),
                current_price_as_of: p.dtpriceasof.as_ref().map(OfxDate::date),
                market_value: Some(p.mkt_val),
                cost_basis: None,
                purchase_price: None,
                currency_code: currency.clone(),
            }
        })
        .collect();
    let mut txns = Vec::new();
    if let Some(list) = &s.transactions {
        for t in &list.transactions {
            if let Some(bank) = &t.bank_transaction {
                txns.push(transaction(bank, &account.id, &currency));
                continue;
            }
            let Some(total) = t.total else { continue };
            let when = t.dttrade.as_ref().or(t.dtsettle.as_ref());
            let Some(when) = when else { continue };
            let name =
                t.secid.as_ref().and_then(|id| response.security(id)).map(|s| s.name.clone()).unwrap_or_default();
            let description = match (t.memo.clone().filter(|m| !m.trim().is_empty()), name.is_empty()) {
                (Some(m), _) => m,
                (None, false) => format!("{} {name}", t.kind),
                (None, true) => t.kind.clone(),
            };
            txns.push(TransactionData {
                id: format!("{}:{}", account.id, t.fitid),
                account_id: account.id.clone(),
                amount: total.abs(),
                is_debit: total.is_sign_negative(),
                is_pending: false,
                date: when.date(),
                transacted_at: at(when),
                posted_at: t.dtsettle.as_ref().map(at),
                original_description: description.clone(),
                description,
                category: "Investments".into(),
                top_level_category: "Investments".into(),
                memo: t.memo.clone(),
                check_number: None,
                is_bill_pay: false,
                is_direct_deposit: false,
                is_fee: false,
                is_payroll: false,
                is_subscription: false,
                merchant_category_code: None,
                currency_code: currency.clone(),
            });
        }
    }
    (holdings, txns)
}
