//! Client requests: typed [`Signon`] and [`Item`]s, built into a tree with [`Request::to_ofx`]
//! and read back with [`parse_request`] (for a future OFX server and for round-trip tests).

use std::fmt;

use crate::account::{AccountRef, AccountType};
use crate::error::ParseError;
use crate::field::{Agg, flag, opt, opt_date, req, req_child, req_date};
use crate::header::Header;
use crate::tree::{Element, Ofx};
use crate::value::OfxDate;

/// The signon (`SONRQ`). Its `Debug` output hides the password, the MFA answers and the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Signon {
    /// `DTCLIENT`.
    pub dtclient: OfxDate,
    /// `USERID` (at most 32 characters).
    pub user_id: String,
    /// `USERPASS` (at most 171 characters).
    pub user_pass: String,
    /// `LANGUAGE`, usually `ENG`.
    pub language: String,
    /// `FI/ORG`; with `fid`, the FI block is left out when both are empty.
    pub org: String,
    /// `FI/FID`.
    pub fid: String,
    /// `APPID`, such as `QWIN`.
    pub app_id: String,
    /// `APPVER`, such as `2700`.
    pub app_ver: String,
    /// `CLIENTUID`, one stable UUID per user and institution; never sent below version 103.
    pub client_uid: Option<String>,
    /// `AUTHTOKEN`.
    pub auth_token: Option<String>,
    /// `MFACHALLENGEA` answers as (`MFAPHRASEID`, `MFAPHRASEA`).
    pub mfa_answers: Vec<(String, String)>,
}

impl fmt::Debug for Signon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answer_ids: Vec<&str> = self.mfa_answers.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Signon")
            .field("dtclient", &self.dtclient)
            .field("user_id", &self.user_id)
            .field("user_pass", &"<redacted>")
            .field("language", &self.language)
            .field("org", &self.org)
            .field("fid", &self.fid)
            .field("app_id", &self.app_id)
            .field("app_ver", &self.app_ver)
            .field("client_uid", &self.client_uid)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>"))
            .field("mfa_answer_ids", &answer_ids)
            .finish()
    }
}

/// A bank statement request (`STMTRQ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankStatementRequest {
    /// `BANKID`.
    pub bank_id: String,
    /// `BRANCHID`.
    pub branch_id: Option<String>,
    /// `ACCTID`.
    pub acct_id: String,
    /// `ACCTTYPE`.
    pub acct_type: AccountType,
    /// `INCTRAN/DTSTART`; without it the server sends all it has.
    pub dtstart: Option<OfxDate>,
    /// `INCTRAN/DTEND`.
    pub dtend: Option<OfxDate>,
}

/// A credit-card statement request (`CCSTMTRQ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardStatementRequest {
    /// `ACCTID`.
    pub acct_id: String,
    /// `INCTRAN/DTSTART`.
    pub dtstart: Option<OfxDate>,
    /// `INCTRAN/DTEND`.
    pub dtend: Option<OfxDate>,
}

/// An investment statement request (`INVSTMTRQ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvestmentStatementRequest {
    /// `BROKERID`.
    pub broker_id: String,
    /// `ACCTID`.
    pub acct_id: String,
    /// `INCTRAN/DTSTART`.
    pub dtstart: Option<OfxDate>,
    /// `INCTRAN/DTEND`.
    pub dtend: Option<OfxDate>,
    /// `INCPOS/INCLUDE`.
    pub include_positions: bool,
    /// `INCBAL`.
    pub include_balance: bool,
}

/// One transaction request of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `PROFRQ` with `CLIENTROUTING=MSGSET`.
    Profile {
        /// `DTPROFUP`: the date of the profile the client has (an old date asks for it all).
        dtprofup: OfxDate,
    },
    /// `ACCTINFORQ`.
    AccountInfo {
        /// `DTACCTUP`; `19900101` returns every account.
        dtacctup: OfxDate,
    },
    /// `MFACHALLENGERQ`.
    MfaChallenge {
        /// `DTCLIENT`.
        dtclient: OfxDate,
    },
    /// `STMTRQ`.
    BankStatement(BankStatementRequest),
    /// `CCSTMTRQ`.
    CreditCardStatement(CardStatementRequest),
    /// `INVSTMTRQ`.
    InvestmentStatement(InvestmentStatementRequest),
}

impl Item {
    /// An account-information request for every account (`DTACCTUP` 19900101).
    pub fn account_info() -> Self {
        Item::AccountInfo { dtacctup: OfxDate::Date(time::macros::date!(1990 - 01 - 01)) }
    }

    /// The position of this item's message set in the file, as the specification orders them.
    fn message_set_rank(&self) -> u8 {
        match self {
            Item::MfaChallenge { .. } => 0,
            Item::AccountInfo { .. } => 1,
            Item::BankStatement(_) => 2,
            Item::CreditCardStatement(_) => 3,
            Item::InvestmentStatement(_) => 4,
            Item::Profile { .. } => 5,
        }
    }
}

/// One item with its `TRNUID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestItem {
    /// `TRNUID`, unique per transaction.
    pub trnuid: String,
    /// The request.
    pub item: Item,
}

/// A whole request file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Header, for the version.
    pub header: Header,
    /// `SONRQ`.
    pub signon: Signon,
    /// The transaction requests, in message-set order.
    pub items: Vec<RequestItem>,
}

impl Request {
    /// A request of `version`, each item given a `TRNUID` from `next_trnuid` (inject a counter
    /// or a seeded generator so tests stay deterministic). Items are put in message-set order:
    /// signon (MFA), signup, bank, credit card, investment, profile.
    pub fn new(version: u16, signon: Signon, items: Vec<Item>, mut next_trnuid: impl FnMut() -> String) -> Self {
        let mut items: Vec<RequestItem> =
            items.into_iter().map(|item| RequestItem { trnuid: next_trnuid(), item }).collect();
        items.sort_by_key(|i| i.item.message_set_rank());
        Request { header: Header::new(version), signon, items }
    }

    /// Builds the tree; write it with [`crate::write`].
    pub fn to_ofx(&self) -> Ofx {
        let version = self.header.version;
        let mut sets: Vec<(u8, Vec<Element>)> = Vec::new();
        for item in &self.items {
            let rank = item.item.message_set_rank();
            let element = trnrq(item);
            match sets.last_mut() {
                Some((r, els)) if *r == rank => els.push(element),
                _ => sets.push((rank, vec![element])),
            }
        }
        let mut signon_set = vec![signon_element(&self.signon, version)];
        let mut others = Vec::new();
        for (rank, els) in sets {
            if rank == 0 {
                signon_set.extend(els);
            } else {
                others.push(Element::aggregate(SET_NAMES[usize::from(rank)], els));
            }
        }
        let mut children = vec![Element::aggregate("SIGNONMSGSRQV1", signon_set)];
        children.extend(others);
        Ofx { header: self.header.clone(), root: Element::aggregate("OFX", children) }
    }
}

/// Message-set names by rank; rank 0 (signon) is written separately, first.
const SET_NAMES: [&str; 6] =
    ["SIGNONMSGSRQV1", "SIGNUPMSGSRQV1", "BANKMSGSRQV1", "CREDITCARDMSGSRQV1", "INVSTMTMSGSRQV1", "PROFMSGSRQV1"];

fn signon_element(s: &Signon, version: u16) -> Element {
    let fi = (!s.org.is_empty() || !s.fid.is_empty())
        .then(|| Agg::new().leaf("ORG", &s.org).opt("FID", (!s.fid.is_empty()).then_some(&s.fid)).build("FI"));
    let answers = s
        .mfa_answers
        .iter()
        .map(|(id, answer)| Agg::new().leaf("MFAPHRASEID", id).leaf("MFAPHRASEA", answer).build("MFACHALLENGEA"));
    Agg::new()
        .leaf("DTCLIENT", s.dtclient)
        .leaf("USERID", &s.user_id)
        .leaf("USERPASS", &s.user_pass)
        .leaf("LANGUAGE", &s.language)
        .opt_child(fi)
        .leaf("APPID", &s.app_id)
        .leaf("APPVER", &s.app_ver)
        .opt("CLIENTUID", s.client_uid.as_ref().filter(|_| version >= 103))
        .opt("AUTHTOKEN", s.auth_token.as_ref())
        .children(answers)
        .build("SONRQ")
}

fn inctran(dtstart: Option<OfxDate>, dtend: Option<OfxDate>) -> Element {
    Agg::new().opt("DTSTART", dtstart).opt("DTEND", dtend).flag("INCLUDE", true).build("INCTRAN")
}

fn trnrq(ri: &RequestItem) -> Element {
    let (name, rq) = match &ri.item {
        Item::Profile { dtprofup } => {
            ("PROFTRNRQ", Agg::new().leaf("CLIENTROUTING", "MSGSET").leaf("DTPROFUP", dtprofup).build("PROFRQ"))
        }
        Item::AccountInfo { dtacctup } => ("ACCTINFOTRNRQ", Agg::new().leaf("DTACCTUP", dtacctup).build("ACCTINFORQ")),
        Item::MfaChallenge { dtclient } => {
            ("MFACHALLENGETRNRQ", Agg::new().leaf("DTCLIENT", dtclient).build("MFACHALLENGERQ"))
        }
        Item::BankStatement(b) => {
            let account = AccountRef::Bank {
                bank_id: b.bank_id.clone(),
                branch_id: b.branch_id.clone(),
                acct_id: b.acct_id.clone(),
                acct_type: b.acct_type.clone(),
            };
            let rq = Agg::new().child(account.to_element()).child(inctran(b.dtstart, b.dtend)).build("STMTRQ");
            ("STMTTRNRQ", rq)
        }
        Item::CreditCardStatement(c) => {
            let account = AccountRef::CreditCard { acct_id: c.acct_id.clone() };
            let rq = Agg::new().child(account.to_element()).child(inctran(c.dtstart, c.dtend)).build("CCSTMTRQ");
            ("CCSTMTTRNRQ", rq)
        }
        Item::InvestmentStatement(i) => {
            let account = AccountRef::Investment { broker_id: i.broker_id.clone(), acct_id: i.acct_id.clone() };
            let rq = Agg::new()
                .child(account.to_element())
                .child(inctran(i.dtstart, i.dtend))
                .flag("INCOO", false)
                .child(Agg::new().flag("INCLUDE", i.include_positions).build("INCPOS"))
                .flag("INCBAL", i.include_balance)
                .build("INVSTMTRQ");
            ("INVSTMTTRNRQ", rq)
        }
    };
    Agg::new().leaf("TRNUID", &ri.trnuid).child(rq).build(name)
}

/// Parses a request file, as a server would.
pub fn parse_request(bytes: &[u8]) -> Result<Request, ParseError> {
    let ofx = crate::parse(bytes)?;
    let root = &ofx.root;
    let signon_set = req_child(root, "SIGNONMSGSRQV1")?;
    let signon = parse_signon(req_child(signon_set, "SONRQ")?)?;
    let mut items = Vec::new();
    for set in root.all_children() {
        for trn in set.all_children() {
            let Some(item) = parse_item(trn)? else { continue };
            items.push(RequestItem { trnuid: trn.text("TRNUID").unwrap_or_default().to_owned(), item });
        }
    }
    Ok(Request { header: ofx.header, signon, items })
}

fn parse_signon(el: &Element) -> Result<Signon, ParseError> {
    let fi = el.child("FI");
    let mfa_answers = el
        .children("MFACHALLENGEA")
        .map(|a| Ok((req(a, "MFAPHRASEID")?.to_owned(), req(a, "MFAPHRASEA")?.to_owned())))
        .collect::<Result<_, ParseError>>()?;
    Ok(Signon {
        dtclient: req_date(el, "DTCLIENT")?,
        user_id: req(el, "USERID")?.to_owned(),
        user_pass: req(el, "USERPASS")?.to_owned(),
        language: opt(el, "LANGUAGE").unwrap_or_else(|| "ENG".into()),
        org: fi.and_then(|f| opt(f, "ORG")).unwrap_or_default(),
        fid: fi.and_then(|f| opt(f, "FID")).unwrap_or_default(),
        app_id: opt(el, "APPID").unwrap_or_default(),
        app_ver: opt(el, "APPVER").unwrap_or_default(),
        client_uid: opt(el, "CLIENTUID"),
        auth_token: opt(el, "AUTHTOKEN"),
        mfa_answers,
    })
}

/// Reads one `…TRNRQ`; other elements (and request kinds this crate does not model) give `None`.
fn parse_item(trn: &Element) -> Result<Option<Item>, ParseError> {
    let inctran = |rq: &Element| -> Result<(Option<OfxDate>, Option<OfxDate>), ParseError> {
        match rq.child("INCTRAN") {
            Some(i) => Ok((opt_date(i, "DTSTART")?, opt_date(i, "DTEND")?)),
            None => Ok((None, None)),
        }
    };
    let item = match trn.name.as_str() {
        "PROFTRNRQ" => Item::Profile { dtprofup: req_date(req_child(trn, "PROFRQ")?, "DTPROFUP")? },
        "ACCTINFOTRNRQ" => Item::AccountInfo { dtacctup: req_date(req_child(trn, "ACCTINFORQ")?, "DTACCTUP")? },
        "MFACHALLENGETRNRQ" => {
            Item::MfaChallenge { dtclient: req_date(req_child(trn, "MFACHALLENGERQ")?, "DTCLIENT")? }
        }
        "STMTTRNRQ" => {
            let rq = req_child(trn, "STMTRQ")?;
            let (dtstart, dtend) = inctran(rq)?;
            match AccountRef::from_element(req_child(rq, "BANKACCTFROM")?)? {
                AccountRef::Bank { bank_id, branch_id, acct_id, acct_type } => {
                    Item::BankStatement(BankStatementRequest { bank_id, branch_id, acct_id, acct_type, dtstart, dtend })
                }
                _ => return Err(ParseError::Missing("STMTRQ/BANKACCTFROM".into())),
            }
        }
        "CCSTMTTRNRQ" => {
            let rq = req_child(trn, "CCSTMTRQ")?;
            let (dtstart, dtend) = inctran(rq)?;
            let acct_id = req(req_child(rq, "CCACCTFROM")?, "ACCTID")?.to_owned();
            Item::CreditCardStatement(CardStatementRequest { acct_id, dtstart, dtend })
        }
        "INVSTMTTRNRQ" => {
            let rq = req_child(trn, "INVSTMTRQ")?;
            let (dtstart, dtend) = inctran(rq)?;
            let from = req_child(rq, "INVACCTFROM")?;
            Item::InvestmentStatement(InvestmentStatementRequest {
                broker_id: req(from, "BROKERID")?.to_owned(),
                acct_id: req(from, "ACCTID")?.to_owned(),
                dtstart,
                dtend,
                include_positions: match rq.child("INCPOS") {
                    Some(p) => flag(p, "INCLUDE", true)?,
                    None => false,
                },
                include_balance: flag(rq, "INCBAL", false)?,
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(item))
}
