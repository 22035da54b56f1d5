//! Investment statements (`INVSTMTRS`): positions, investment transactions and balances.

use rust_decimal::Decimal;

use crate::account::AccountRef;
use crate::error::ParseError;
use crate::field::{Agg, opt, opt_amount, opt_date, req, req_amount, req_child};
use crate::security::{SecId, SecurityKind};
use crate::statement::StatementTransaction;
use crate::tree::Element;
use crate::value::OfxDate;

/// An `INVSTMTRS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvestmentStatement {
    /// `DTASOF`.
    pub dtasof: Option<OfxDate>,
    /// `CURDEF`.
    pub currency: String,
    /// `INVACCTFROM`.
    pub account: AccountRef,
    /// `INVTRANLIST`.
    pub transactions: Option<InvTransactionList>,
    /// `INVPOSLIST` entries.
    pub positions: Vec<Position>,
    /// `INVBAL`.
    pub balance: Option<InvBalance>,
}

/// An `INVTRANLIST`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvTransactionList {
    /// `DTSTART`.
    pub dtstart: Option<OfxDate>,
    /// `DTEND`.
    pub dtend: Option<OfxDate>,
    /// The transactions, in document order.
    pub transactions: Vec<InvTransaction>,
}

/// One investment transaction, read generically from any `BUY…`, `SELL…`, `INCOME`,
/// `REINVEST`, `INVBANKTRAN`, … aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvTransaction {
    /// The element name, such as `BUYSTOCK` or `INVBANKTRAN`.
    pub kind: String,
    /// `INVTRAN/FITID` (or the cash line's `FITID`).
    pub fitid: String,
    /// `INVTRAN/DTTRADE`.
    pub dttrade: Option<OfxDate>,
    /// `INVTRAN/DTSETTLE`.
    pub dtsettle: Option<OfxDate>,
    /// `INVTRAN/MEMO`.
    pub memo: Option<String>,
    /// `SECID`.
    pub secid: Option<SecId>,
    /// `BUYTYPE`, `SELLTYPE`, `INCOMETYPE`, `OPTBUYTYPE` or `OPTSELLTYPE`.
    pub subtype: Option<String>,
    /// `UNITS`.
    pub units: Option<Decimal>,
    /// `UNITPRICE`.
    pub unit_price: Option<Decimal>,
    /// `TOTAL`.
    pub total: Option<Decimal>,
    /// `SUBACCTSEC`, or `SUBACCTFUND` for a cash line.
    pub subacct: Option<String>,
    /// The `STMTTRN` of an `INVBANKTRAN`.
    pub bank_transaction: Option<StatementTransaction>,
}

/// A position of an `INVPOSLIST` (`POSSTOCK/INVPOS`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// From the `POS…` element name.
    pub kind: SecurityKind,
    /// `SECID`.
    pub secid: SecId,
    /// `HELDINACCT` (`CASH`, `MARGIN`, `SHORT`, `OTHER`).
    pub held_in_acct: String,
    /// `POSTYPE` (`LONG` or `SHORT`).
    pub postype: String,
    /// `UNITS`.
    pub units: Decimal,
    /// `UNITPRICE`.
    pub unit_price: Decimal,
    /// `MKTVAL`.
    pub mkt_val: Decimal,
    /// `DTPRICEASOF`.
    pub dtpriceasof: Option<OfxDate>,
}

/// An `INVBAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvBalance {
    /// `AVAILCASH`.
    pub availcash: Decimal,
    /// `MARGINBALANCE`.
    pub marginbalance: Decimal,
    /// `SHORTBALANCE`.
    pub shortbalance: Decimal,
}

const SUBTYPE_TAGS: [&str; 5] = ["BUYTYPE", "SELLTYPE", "INCOMETYPE", "OPTBUYTYPE", "OPTSELLTYPE"];

impl InvestmentStatement {
    /// Reads an `INVSTMTRS`.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        let mut positions = Vec::new();
        if let Some(list) = el.child("INVPOSLIST") {
            for pos in list.all_children() {
                if let Some(kind) = SecurityKind::from_position_tag(&pos.name) {
                    positions.push(Position::from_element(kind, req_child(pos, "INVPOS")?)?);
                }
            }
        }
        Ok(InvestmentStatement {
            dtasof: opt_date(el, "DTASOF")?,
            currency: req(el, "CURDEF")?.to_owned(),
            account: AccountRef::find_in(el)?,
            transactions: el.child("INVTRANLIST").map(InvTransactionList::from_element).transpose()?,
            positions,
            balance: el.child("INVBAL").map(InvBalance::from_element).transpose()?,
        })
    }

    /// Writes the `INVSTMTRS` element.
    pub fn to_element(&self) -> Element {
        let positions = (!self.positions.is_empty())
            .then(|| Agg::new().children(self.positions.iter().map(Position::to_element)).build("INVPOSLIST"));
        Agg::new()
            .opt("DTASOF", self.dtasof)
            .leaf("CURDEF", &self.currency)
            .child(self.account.to_element())
            .opt_child(self.transactions.as_ref().map(InvTransactionList::to_element))
            .opt_child(positions)
            .opt_child(self.balance.as_ref().map(InvBalance::to_element))
            .build("INVSTMTRS")
    }
}

impl InvTransactionList {
    /// Reads an `INVTRANLIST`; every child other than the dates is a transaction.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        let transactions = el
            .all_children()
            .iter()
            .filter(|c| c.name != "DTSTART" && c.name != "DTEND")
            .map(InvTransaction::from_element)
            .collect::<Result<_, _>>()?;
        Ok(InvTransactionList { dtstart: opt_date(el, "DTSTART")?, dtend: opt_date(el, "DTEND")?, transactions })
    }

    /// Writes the `INVTRANLIST` element.
    pub fn to_element(&self) -> Element {
        Agg::new()
            .opt("DTSTART", self.dtstart)
            .opt("DTEND", self.dtend)
            .children(self.transactions.iter().map(InvTransaction::to_element))
            .build("INVTRANLIST")
    }
}

impl InvTransaction {
    /// Reads one investment transaction. Buys and sells keep their details in a nested
    /// `INVBUY`/`INVSELL`; everything else keeps them directly.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        if let Some(stmttrn) = el.child("STMTTRN") {
            let bank = StatementTransaction::from_element(stmttrn)?;
            return Ok(InvTransaction {
                kind: el.name.clone(),
                fitid: bank.fitid.clone(),
                dttrade: None,
                dtsettle: None,
                memo: None,
                secid: None,
                subtype: None,
                units: None,
                unit_price: None,
                total: None,
                subacct: opt(el, "SUBACCTFUND"),
                bank_transaction: Some(bank),
            });
        }
        let body = el.child("INVBUY").or_else(|| el.child("INVSELL")).unwrap_or(el);
        let invtran = req_child(body, "INVTRAN")?;
        Ok(InvTransaction {
            kind: el.name.clone(),
            fitid: req(invtran, "FITID")?.to_owned(),
            dttrade: opt_date(invtran, "DTTRADE")?,
            dtsettle: opt_date(invtran, "DTSETTLE")?,
            memo: opt(invtran, "MEMO"),
            secid: body.child("SECID").map(SecId::from_element).transpose()?,
            subtype: SUBTYPE_TAGS.iter().find_map(|t| opt(el, t).or_else(|| opt(body, t))),
            units: opt_amount(body, "UNITS")?,
            unit_price: opt_amount(body, "UNITPRICE")?,
            total: opt_amount(body, "TOTAL")?,
            subacct: opt(body, "SUBACCTSEC"),
            bank_transaction: None,
        })
    }

    /// Writes the transaction under its `kind`. The layout follows the specification for buys,
    /// sells, `INCOME`, `REINVEST` and `INVBANKTRAN`; other kinds get the same generic layout.
    pub fn to_element(&self) -> Element {
        if let Some(bank) = &self.bank_transaction {
            return Agg::new().child(bank.to_element()).opt("SUBACCTFUND", self.subacct.as_ref()).build(&self.kind);
        }
        let invtran = Agg::new()
            .leaf("FITID", &self.fitid)
            .opt("DTTRADE", self.dttrade)
            .opt("DTSETTLE", self.dtsettle)
            .opt("MEMO", self.memo.as_ref())
            .build("INVTRAN");
        let wrapper = if self.kind.starts_with("BUY") {
            Some(("INVBUY", if self.kind == "BUYOPT" { "OPTBUYTYPE" } else { "BUYTYPE" }))
        } else if self.kind.starts_with("SELL") {
            Some(("INVSELL", if self.kind == "SELLOPT" { "OPTSELLTYPE" } else { "SELLTYPE" }))
        } else {
            None
        };
        let body = Agg::new().child(invtran).opt_child(self.secid.as_ref().map(SecId::to_element));
        let body = if wrapper.is_none() { body.opt("INCOMETYPE", self.subtype.as_ref()) } else { body };
        let body = body
            .opt("UNITS", self.units)
            .opt("UNITPRICE", self.unit_price)
            .opt("TOTAL", self.total)
            .opt("SUBACCTSEC", self.subacct.as_ref());
        match wrapper {
            Some((inner, subtype_tag)) => {
                Agg::new().child(body.build(inner)).opt(subtype_tag, self.subtype.as_ref()).build(&self.kind)
            }
            None => body.build(&self.kind),
        }
    }
}

impl Position {
    fn from_element(kind: SecurityKind, el: &Element) -> Result<Self, ParseError> {
        Ok(Position {
            kind,
            secid: SecId::from_element(req_child(el, "SECID")?)?,
            held_in_acct: req(el, "HELDINACCT")?.to_owned(),
            postype: req(el, "POSTYPE")?.to_owned(),
            units: req_amount(el, "UNITS")?,
            unit_price: req_amount(el, "UNITPRICE")?,
            mkt_val: req_amount(el, "MKTVAL")?,
            dtpriceasof: opt_date(el, "DTPRICEASOF")?,
        })
    }

    fn to_element(&self) -> Element {
        let invpos = Agg::new()
            .child(self.secid.to_element())
            .leaf("HELDINACCT", &self.held_in_acct)
            .leaf("POSTYPE", &self.postype)
            .leaf("UNITS", self.units)
            .leaf("UNITPRICE", self.unit_price)
            .leaf("MKTVAL", self.mkt_val)
            .opt("DTPRICEASOF", self.dtpriceasof)
            .build("INVPOS");
        Agg::new().child(invpos).build(self.kind.position_tag())
    }
}

impl InvBalance {
    fn from_element(el: &Element) -> Result<Self, ParseError> {
        Ok(InvBalance {
            availcash: req_amount(el, "AVAILCASH")?,
            marginbalance: req_amount(el, "MARGINBALANCE")?,
            shortbalance: req_amount(el, "SHORTBALANCE")?,
        })
    }

    fn to_element(&self) -> Element {
        Agg::new()
            .leaf("AVAILCASH", self.availcash)
            .leaf("MARGINBALANCE", self.marginbalance)
            .leaf("SHORTBALANCE", self.shortbalance)
            .build("INVBAL")
    }
}
