//! Bank and credit-card statements: `STMTRS`/`CCSTMTRS`, their `BANKTRANLIST` of `STMTTRN`
//! and their balances. Investment statements reuse [`StatementTransaction`] for cash lines.

use rust_decimal::Decimal;

use crate::account::AccountRef;
use crate::error::ParseError;
use crate::field::{Agg, ofx_enum, opt, opt_amount, opt_date, req, req_amount, req_date};
use crate::tree::Element;
use crate::value::OfxDate;

ofx_enum! {
    /// `TRNTYPE` of a statement transaction.
    TrnType {
        Credit => "CREDIT",
        Debit => "DEBIT",
        Int => "INT",
        Div => "DIV",
        Fee => "FEE",
        SrvChg => "SRVCHG",
        Dep => "DEP",
        Atm => "ATM",
        Pos => "POS",
        Xfer => "XFER",
        Check => "CHECK",
        Payment => "PAYMENT",
        Cash => "CASH",
        DirectDep => "DIRECTDEP",
        DirectDebit => "DIRECTDEBIT",
        RepeatPmt => "REPEATPMT",
        Hold => "HOLD",
        Other => "OTHER",
    }
}

ofx_enum! {
    /// `CORRECTACTION`: how a transaction amends the one named by `CORRECTFITID`.
    CorrectAction {
        Replace => "REPLACE",
        Delete => "DELETE",
    }
}

/// A bank or credit-card statement (`STMTRS` or `CCSTMTRS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `CURDEF`, the default currency of amounts.
    pub currency: String,
    /// `BANKACCTFROM` or `CCACCTFROM`.
    pub account: AccountRef,
    /// `BANKTRANLIST`, absent when transactions were not requested.
    pub transactions: Option<TransactionList>,
    /// `LEDGERBAL`. The sign on cards varies by institution.
    pub ledger_balance: Option<Balance>,
    /// `AVAILBAL`.
    pub available_balance: Option<Balance>,
}

/// A `BANKTRANLIST`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransactionList {
    /// `DTSTART`.
    pub dtstart: Option<OfxDate>,
    /// `DTEND`.
    pub dtend: Option<OfxDate>,
    /// The `STMTTRN` entries, in document order.
    pub transactions: Vec<StatementTransaction>,
}

/// A `LEDGERBAL` or `AVAILBAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// `BALAMT`.
    pub amount: Decimal,
    /// `DTASOF`.
    pub dtasof: Option<OfxDate>,
}

/// A currency note on a transaction: `CURRENCY` (amounts already converted) or `ORIGCURRENCY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    /// `CURSYM`, an ISO 4217 code.
    pub symbol: String,
    /// `CURRATE`.
    pub rate: Option<Decimal>,
    /// True for `ORIGCURRENCY`.
    pub original: bool,
}

/// One `STMTTRN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTransaction {
    /// `TRNTYPE`.
    pub trntype: TrnType,
    /// `DTPOSTED`; a date without a time stays a plain date.
    pub dtposted: OfxDate,
    /// `DTUSER`.
    pub dtuser: Option<OfxDate>,
    /// `DTAVAIL`.
    pub dtavail: Option<OfxDate>,
    /// `TRNAMT`, signed from the account holder's side (negative is money out).
    pub amount: Decimal,
    /// `FITID`, the institution's id used to deduplicate.
    pub fitid: String,
    /// `CORRECTFITID`.
    pub correct_fitid: Option<String>,
    /// `CORRECTACTION`.
    pub correct_action: Option<CorrectAction>,
    /// `CHECKNUM`.
    pub checknum: Option<String>,
    /// `REFNUM`.
    pub refnum: Option<String>,
    /// `SIC`.
    pub sic: Option<String>,
    /// `NAME`, often cut at 32 characters.
    pub name: Option<String>,
    /// `PAYEE/NAME`.
    pub payee_name: Option<String>,
    /// `MEMO`.
    pub memo: Option<String>,
    /// `CURRENCY` or `ORIGCURRENCY`.
    pub currency: Option<Currency>,
}

impl Statement {
    /// Reads a `STMTRS` or `CCSTMTRS`.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        Ok(Statement {
            currency: req(el, "CURDEF")?.to_owned(),
            account: AccountRef::find_in(el)?,
            transactions: el.child("BANKTRANLIST").map(TransactionList::from_element).transpose()?,
            ledger_balance: el.child("LEDGERBAL").map(Balance::from_element).transpose()?,
            available_balance: el.child("AVAILBAL").map(Balance::from_element).transpose()?,
        })
    }

    /// Writes the statement as `name` (`STMTRS` or `CCSTMTRS`).
    pub fn to_element(&self, name: &str) -> Element {
        Agg::new()
            .leaf("CURDEF", &self.currency)
            .child(self.account.to_element())
            .opt_child(self.transactions.as_ref().map(TransactionList::to_element))
            .opt_child(self.ledger_balance.as_ref().map(|b| b.to_element("LEDGERBAL")))
            .opt_child(self.available_balance.as_ref().map(|b| b.to_element("AVAILBAL")))
            .build(name)
    }
}

impl TransactionList {
    /// Reads a `BANKTRANLIST`.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        Ok(TransactionList {
            dtstart: opt_date(el, "DTSTART")?,
            dtend: opt_date(el, "DTEND")?,
            transactions: el.children("STMTTRN").map(StatementTransaction::from_element).collect::<Result<_, _>>()?,
        })
    }

    /// Writes the `BANKTRANLIST` element.
    pub fn to_element(&self) -> Element {
        Agg::new()
            .opt("DTSTART", self.dtstart)
            .opt("DTEND", self.dtend)
            .children(self.transactions.iter().map(StatementTransaction::to_element))
            .build("BANKTRANLIST")
    }
}

impl Balance {
    /// Reads a `LEDGERBAL` or `AVAILBAL`.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        Ok(Balance { amount: req_amount(el, "BALAMT")?, dtasof: opt_date(el, "DTASOF")? })
    }

    /// Writes the balance as `name`.
    pub fn to_element(&self, name: &str) -> Element {
        Agg::new().leaf("BALAMT", self.amount).opt("DTASOF", self.dtasof).build(name)
    }
}

impl Currency {
    fn from_parent(el: &Element) -> Result<Option<Self>, ParseError> {
        let (cur, original) = match (el.child("CURRENCY"), el.child("ORIGCURRENCY")) {
            (Some(c), _) => (c, false),
            (None, Some(c)) => (c, true),
            (None, None) => return Ok(None),
        };
        Ok(Some(Currency { symbol: req(cur, "CURSYM")?.to_owned(), rate: opt_amount(cur, "CURRATE")?, original }))
    }

    fn to_element(&self) -> Element {
        Agg::new().opt("CURRATE", self.rate).leaf("CURSYM", &self.symbol).build(if self.original {
            "ORIGCURRENCY"
        } else {
            "CURRENCY"
        })
    }
}

impl StatementTransaction {
    /// Reads a `STMTTRN`. `TRNTYPE`, `DTPOSTED`, `TRNAMT` and `FITID` are required.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        Ok(StatementTransaction {
            trntype: TrnType::parse(req(el, "TRNTYPE")?),
            dtposted: req_date(el, "DTPOSTED")?,
            dtuser: opt_date(el, "DTUSER")?,
            dtavail: opt_date(el, "DTAVAIL")?,
            amount: req_amount(el, "TRNAMT")?,
            fitid: req(el, "FITID")?.to_owned(),
            correct_fitid: opt(el, "CORRECTFITID"),
            correct_action: el.text("CORRECTACTION").map(CorrectAction::parse),
            checknum: opt(el, "CHECKNUM"),
            refnum: opt(el, "REFNUM"),
            sic: opt(el, "SIC"),
            name: opt(el, "NAME"),
            payee_name: el.child("PAYEE").and_then(|p| opt(p, "NAME")),
            memo: opt(el, "MEMO"),
            currency: Currency::from_parent(el)?,
        })
    }

    /// Writes the `STMTTRN` element in the order the specification gives. When both `name`
    /// and `payee_name` are set both are written, although the specification allows only one.
    pub fn to_element(&self) -> Element {
        Agg::new()
            .leaf("TRNTYPE", self.trntype.as_str())
            .leaf("DTPOSTED", self.dtposted)
            .opt("DTUSER", self.dtuser)
            .opt("DTAVAIL", self.dtavail)
            .leaf("TRNAMT", self.amount)
            .leaf("FITID", &self.fitid)
            .opt("CORRECTFITID", self.correct_fitid.as_ref())
            .opt("CORRECTACTION", self.correct_action.as_ref().map(CorrectAction::as_str))
            .opt("CHECKNUM", self.checknum.as_ref())
            .opt("REFNUM", self.refnum.as_ref())
            .opt("SIC", self.sic.as_ref())
            .opt("NAME", self.name.as_ref())
            .opt_child(self.payee_name.as_ref().map(|n| Agg::new().leaf("NAME", n).build("PAYEE")))
            .opt("MEMO", self.memo.as_ref())
            .opt_child(self.currency.as_ref().map(Currency::to_element))
            .build("STMTTRN")
    }
}
