//! Securities: `SECID`, the kind of security, and the `SECLIST` that names them. Positions and
//! investment transactions carry only a `SECID`; names and tickers are joined from here.

use rust_decimal::Decimal;

use crate::error::ParseError;
use crate::field::{Agg, opt, opt_amount, opt_date, req, req_child};
use crate::tree::Element;
use crate::value::OfxDate;

/// A `SECID`: usually a CUSIP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecId {
    /// `UNIQUEID`.
    pub unique_id: String,
    /// `UNIQUEIDTYPE`, such as `CUSIP` or `ISIN`.
    pub unique_id_type: String,
}

impl SecId {
    /// Reads a `SECID`.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        Ok(SecId { unique_id: req(el, "UNIQUEID")?.to_owned(), unique_id_type: req(el, "UNIQUEIDTYPE")?.to_owned() })
    }

    /// Writes the `SECID` element.
    pub fn to_element(&self) -> Element {
        Agg::new().leaf("UNIQUEID", &self.unique_id).leaf("UNIQUEIDTYPE", &self.unique_id_type).build("SECID")
    }
}

/// The kind of a security or position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityKind {
    /// Stocks (`POSSTOCK`, `STOCKINFO`).
    Stock,
    /// Mutual funds (`POSMF`, `MFINFO`).
    MutualFund,
    /// Bonds (`POSDEBT`, `DEBTINFO`).
    Debt,
    /// Options (`POSOPT`, `OPTINFO`).
    Option,
    /// Anything else (`POSOTHER`, `OTHERINFO`).
    Other,
}

const KINDS: [(SecurityKind, &str, &str); 5] = [
    (SecurityKind::Stock, "POSSTOCK", "STOCKINFO"),
    (SecurityKind::MutualFund, "POSMF", "MFINFO"),
    (SecurityKind::Debt, "POSDEBT", "DEBTINFO"),
    (SecurityKind::Option, "POSOPT", "OPTINFO"),
    (SecurityKind::Other, "POSOTHER", "OTHERINFO"),
];

impl SecurityKind {
    /// The kind of a `POS…` element name.
    pub fn from_position_tag(name: &str) -> Option<Self> {
        KINDS.iter().find(|k| k.1 == name).map(|k| k.0)
    }

    /// The kind of a `…INFO` element name.
    pub fn from_info_tag(name: &str) -> Option<Self> {
        KINDS.iter().find(|k| k.2 == name).map(|k| k.0)
    }

    /// The `POS…` element name.
    pub fn position_tag(self) -> &'static str {
        KINDS.iter().find(|k| k.0 == self).map(|k| k.1).unwrap_or("POSOTHER")
    }

    /// The `…INFO` element name.
    pub fn info_tag(self) -> &'static str {
        KINDS.iter().find(|k| k.0 == self).map(|k| k.2).unwrap_or("OTHERINFO")
    }
}

/// One security of a `SECLIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// Which `…INFO` aggregate it came in.
    pub kind: SecurityKind,
    /// `SECINFO/SECID`.
    pub secid: SecId,
    /// `SECINFO/SECNAME`.
    pub name: String,
    /// `SECINFO/TICKER`.
    pub ticker: Option<String>,
    /// `SECINFO/UNITPRICE`.
    pub unit_price: Option<Decimal>,
    /// `SECINFO/DTASOF`.
    pub dtasof: Option<OfxDate>,
}

impl Security {
    /// Reads every security of a `SECLIST`; unknown `…INFO` kinds are skipped.
    pub fn list_from_element(el: &Element) -> Result<Vec<Self>, ParseError> {
        let mut out = Vec::new();
        for info in el.all_children() {
            let Some(kind) = SecurityKind::from_info_tag(&info.name) else { continue };
            let sec = req_child(info, "SECINFO")?;
            out.push(Security {
                kind,
                secid: SecId::from_element(req_child(sec, "SECID")?)?,
                name: req(sec, "SECNAME")?.to_owned(),
                ticker: opt(sec, "TICKER"),
                unit_price: opt_amount(sec, "UNITPRICE")?,
                dtasof: opt_date(sec, "DTASOF")?,
            });
        }
        Ok(out)
    }

    /// Writes a `SECLIST` element for `securities`.
    pub fn list_to_element(securities: &[Security]) -> Element {
        let infos = securities.iter().map(|s| {
            let secinfo = Agg::new()
                .child(s.secid.to_element())
                .leaf("SECNAME", &s.name)
                .opt("TICKER", s.ticker.as_ref())
                .opt("UNITPRICE", s.unit_price)
                .opt("DTASOF", s.dtasof)
                .build("SECINFO");
            Agg::new().child(secinfo).build(s.kind.info_tag())
        });
        Agg::new().children(infos).build("SECLIST")
    }
}
