//! A whole server response: [`parse_response`] turns bytes into a typed [`Response`], and
//! [`Response::to_ofx`] turns one back into a tree (for a future OFX server and for tests).

use crate::account::AccountInfoList;
use crate::error::ParseError;
use crate::field::{Agg, req_child};
use crate::header::Header;
use crate::invest::InvestmentStatement;
use crate::profile::Profile;
use crate::security::{SecId, Security};
use crate::signon::SignonResponse;
use crate::statement::Statement;
use crate::status::Status;
use crate::tree::{Element, Ofx};

/// The envelope of one transaction response (`…TRNRS`): its id, status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrnRs<T> {
    /// `TRNUID`, echoing the request's.
    pub trnuid: String,
    /// The transaction's own `STATUS` (2003 account not found, say).
    pub status: Status,
    /// The body, absent when the status is an error.
    pub body: Option<T>,
}

impl<T> TrnRs<T> {
    fn from_element(
        el: &Element,
        body_name: &str,
        read: impl Fn(&Element) -> Result<T, ParseError>,
    ) -> Result<Self, ParseError> {
        Ok(TrnRs {
            trnuid: el.text("TRNUID").unwrap_or_default().to_owned(),
            status: Status::from_element(req_child(el, "STATUS")?)?,
            body: el.child(body_name).map(read).transpose()?,
        })
    }

    fn to_element(&self, name: &str, write: impl Fn(&T) -> Element) -> Element {
        Agg::new()
            .leaf("TRNUID", &self.trnuid)
            .child(self.status.to_element())
            .opt_child(self.body.as_ref().map(write))
            .build(name)
    }
}

/// Everything a client reads from a server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The document header (version and character set).
    pub header: Header,
    /// `SIGNONMSGSRSV1`.
    pub signon: SignonResponse,
    /// `SIGNUPMSGSRSV1/ACCTINFOTRNRS`.
    pub account_info: Option<TrnRs<AccountInfoList>>,
    /// `BANKMSGSRSV1/STMTTRNRS`.
    pub bank_statements: Vec<TrnRs<Statement>>,
    /// `CREDITCARDMSGSRSV1/CCSTMTTRNRS`.
    pub card_statements: Vec<TrnRs<Statement>>,
    /// `INVSTMTMSGSRSV1/INVSTMTTRNRS`.
    pub investment_statements: Vec<TrnRs<InvestmentStatement>>,
    /// `SECLISTMSGSRSV1/SECLIST`.
    pub securities: Vec<Security>,
    /// `PROFMSGSRSV1/PROFTRNRS`.
    pub profile: Option<TrnRs<Profile>>,
}

/// Parses bytes and extracts the typed response. Only a missing `SONRS` (or malformed required
/// fields) is an error; absent message sets give empty fields.
pub fn parse_response(bytes: &[u8]) -> Result<Response, ParseError> {
    Response::from_ofx(&crate::parse(bytes)?)
}

impl Response {
    /// An empty response of `version` with `signon`, to be filled in by a server.
    pub fn new(version: u16, signon: SignonResponse) -> Self {
        Response {
            header: Header::new(version),
            signon,
            account_info: None,
            bank_statements: Vec::new(),
            card_statements: Vec::new(),
            investment_statements: Vec::new(),
            securities: Vec::new(),
            profile: None,
        }
    }

    /// Extracts the typed response from a parsed tree.
    pub fn from_ofx(ofx: &Ofx) -> Result<Self, ParseError> {
        let root = &ofx.root;
        let signon = SignonResponse::from_msgset(req_child(root, "SIGNONMSGSRSV1")?)?;
        let all = |path: &'static str| root.find_all(path).into_iter();
        Ok(Response {
            header: ofx.header.clone(),
            signon,
            account_info: root
                .find("SIGNUPMSGSRSV1/ACCTINFOTRNRS")
                .map(|t| TrnRs::from_element(t, "ACCTINFORS", AccountInfoList::from_element))
                .transpose()?,
            bank_statements: all("BANKMSGSRSV1/STMTTRNRS")
                .map(|t| TrnRs::from_element(t, "STMTRS", Statement::from_element))
                .collect::<Result<_, _>>()?,
            card_statements: all("CREDITCARDMSGSRSV1/CCSTMTTRNRS")
                .map(|t| TrnRs::from_element(t, "CCSTMTRS", Statement::from_element))
                .collect::<Result<_, _>>()?,
            investment_statements: all("INVSTMTMSGSRSV1/INVSTMTTRNRS")
                .map(|t| TrnRs::from_element(t, "INVSTMTRS", InvestmentStatement::from_element))
                .collect::<Result<_, _>>()?,
            securities: match root.find("SECLISTMSGSRSV1/SECLIST") {
                Some(list) => Security::list_from_element(list)?,
                None => Vec::new(),
            },
            profile: root
                .find("PROFMSGSRSV1/PROFTRNRS")
                .map(|t| TrnRs::from_element(t, "PROFRS", Profile::from_element))
                .transpose()?,
        })
    }

    /// Every account of the `ACCTINFORS`, or none.
    pub fn accounts(&self) -> &[crate::account::AccountInfo] {
        self.account_info.as_ref().and_then(|t| t.body.as_ref()).map(|b| b.accounts.as_slice()).unwrap_or_default()
    }

    /// The `SECLIST` entry for `secid`, to name a position or a trade.
    pub fn security(&self, secid: &SecId) -> Option<&Security> {
        self.securities.iter().find(|s| &s.secid == secid)
    }

    /// Builds the tree of this response, in `self.header.version`, with message sets in the
    /// specification's order. An empty `SECLIST` is left out.
    pub fn to_ofx(&self) -> Ofx {
        let mut root = Agg::new().child(self.signon.to_msgset());
        if let Some(info) = &self.account_info {
            let trnrs = info.to_element("ACCTINFOTRNRS", AccountInfoList::to_element);
            root = root.child(Agg::new().child(trnrs).build("SIGNUPMSGSRSV1"));
        }
        let set = |name: &str, items: Vec<Element>| (!items.is_empty()).then(|| Agg::new().children(items).build(name));
        let bank = self.bank_statements.iter().map(|t| t.to_element("STMTTRNRS", |s| s.to_element("STMTRS")));
        let card = self.card_statements.iter().map(|t| t.to_element("CCSTMTTRNRS", |s| s.to_element("CCSTMTRS")));
        let inv =
            self.investment_statements.iter().map(|t| t.to_element("INVSTMTTRNRS", InvestmentStatement::to_element));
        root = root
            .opt_child(set("BANKMSGSRSV1", bank.collect()))
            .opt_child(set("CREDITCARDMSGSRSV1", card.collect()))
            .opt_child(set("INVSTMTMSGSRSV1", inv.collect()));
        if !self.securities.is_empty() {
            root = root.child(Agg::new().child(Security::list_to_element(&self.securities)).build("SECLISTMSGSRSV1"));
        }
        if let Some(profile) = &self.profile {
            let trnrs = profile.to_element("PROFTRNRS", Profile::to_element);
            root = root.child(Agg::new().child(trnrs).build("PROFMSGSRSV1"));
        }
        Ofx { header: self.header.clone(), root: root.build("OFX") }
    }
}
