//! An OFX bank for tests, on `127.0.0.1:0`, built on this crate's own request parser and
//! response writer. It answers in the version it was asked (v1 with unclosed leaves), checks
//! ORG/FID (`FAKEBANK`/`9999`), and has one scenario user per status an OFX member can reach:
//!
//! | USERID      | USERPASS  | answer                                                            |
//! |-------------|-----------|-------------------------------------------------------------------|
//! | `alice`     | `s3cret`  | 0: checking `1000001` (BANKID 123456789) and Visa `4111222233334444` |
//! | (any)       | (wrong)   | 15500                                                             |
//! | `locked`    | any       | 15502                                                             |
//! | `mfa`       | `s3cret`  | 3000, then MFA1 "first pet" (answer `rex`) and MFA101 (automatic) |
//! | `automfa`   | `s3cret`  | 3000, then only MFA101, which the client answers by itself        |
//! | `token`     | `s3cret`  | 15512, then AUTHTOKEN `424242`                                    |
//! | `newclient` | `s3cret`  | 15510 until its CLIENTUID is approved ([`FakeOfxBank::approve`])  |
//! | `pinchange` | `s3cret`  | 15000                                                             |
//! | `investor`  | `s3cret`  | 0: a brokerage account with positions and a SECLIST, and checking |
//! | `closed`    | `s3cret`  | 0, but every statement 2004                                       |
//!
//! ORG `FAKEV1` is the same bank behind a server that speaks only OFX 1.x (2021 to 2.x). A
//! PROFRQ with the anonymous sign-on gets a profile (CLIENTUIDREQ). A wrong Content-Type is
//! HTTP 415; a body that is not OFX, HTTP 400.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use rust_decimal::Decimal;
use time::{Date, Duration, UtcOffset};

use crate::{
    AccountInfo, AccountInfoList, AccountRef, AccountType, Balance, InvBalance, InvTransaction, InvTransactionList,
    InvestmentStatement, Item, MfaChallenge, OfxDate, Position, Request, Response, SecId, Security, SecurityKind,
    Severity, SignonResponse, Statement, StatementTransaction, Status, Style, TransactionList, TrnRs, TrnType,
    parse_request, write,
};

/// What the bank saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub version: u16,
    pub user_id: String,
    pub client_uid: Option<String>,
    pub app_id: String,
    pub app_ver: String,
    /// The statement requests' DTSTART, as dates.
    pub starts: Vec<Option<Date>>,
}

#[derive(Default)]
struct Bank {
    today: Option<Date>,
    approved: Vec<String>,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<Bank>>;

/// A running fake OFX bank.
pub struct FakeOfxBank {
    pub addr: SocketAddr,
    bank: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOfxBank {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(b: &Shared) -> std::sync::MutexGuard<'_, Bank> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeOfxBank {
    pub async fn start(today: Date, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let bank: Shared = Arc::new(Mutex::new(Bank { today: Some(today), ..Default::default() }));
        let app = Router::new().route("/", post(ofx)).route("/ofx", post(ofx)).with_state(bank.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, bank, task })
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("http://{}/ofx", self.addr)
    }

    /// Approves every CLIENTUID the bank has seen (the user did, at the bank).
    pub fn approve(&self) {
        let mut b = lock(&self.bank);
        let seen: Vec<String> = b.seen.iter().filter_map(|s| s.client_uid.clone()).collect();
        b.approved.extend(seen);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.bank).seen.clone()
    }
}

fn status(code: u32, message: Option<&str>) -> Status {
    Status {
        code,
        severity: if code == 0 { Severity::Info } else { Severity::Error },
        message: message.map(Into::into),
    }
}

async fn ofx(State(bank): State<Shared>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.starts_with("application/x-ofx") {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let Ok(request) = parse_request(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let version = request.header.version;
    let today = {
        let mut b = lock(&bank);
        b.seen.push(Seen {
            version,
            user_id: request.signon.user_id.clone(),
            client_uid: request.signon.client_uid.clone(),
            app_id: request.signon.app_id.clone(),
            app_ver: request.signon.app_ver.clone(),
            starts: request
                .items
                .iter()
                .filter_map(|i| match &i.item {
                    Item::BankStatement(r) => Some(r.dtstart.as_ref().map(OfxDate::date)),
                    Item::CreditCardStatement(r) => Some(r.dtstart.as_ref().map(OfxDate::date)),
                    Item::InvestmentStatement(r) => Some(r.dtstart.as_ref().map(OfxDate::date)),
                    _ => None,
                })
                .collect(),
        });
        b.today.unwrap_or(Date::MIN)
    };
    let approved = lock(&bank).approved.clone();
    let response = answer(&request, today, &approved);
    let style = Style { closed_leaves: response.header.is_v2(), pretty: true };
    ([("content-type", "application/x-ofx")], write(&response.to_ofx(), style)).into_response()
}

fn signon_status(r: &Request, approved: &[String]) -> Result<(), (u32, Option<&'static str>)> {
    let s = &r.signon;
    if !matches!(s.org.as_str(), "FAKEBANK" | "FAKEV1") || s.fid != "9999" {
        return Err((13504, None));
    }
    if s.org == "FAKEV1" && r.header.version >= 200 {
        return Err((2021, Some("Unsupported OFX version")));
    }
    if s.user_id.starts_with("anonymous") && r.items.iter().all(|i| matches!(i.item, Item::Profile { .. })) {
        return Ok(());
    }
    let user = s.user_id.as_str();
    if user == "locked" {
        return Err((15502, Some("Too many failed attempts")));
    }
    if s.user_pass != "s3cret"
        || !["alice", "mfa", "automfa", "token", "newclient", "pinchange", "investor", "closed"].contains(&user)
    {
        return Err((15500, Some("Invalid user ID or password")));
    }
    match user {
        "mfa" => {
            let answer = |id: &str| s.mfa_answers.iter().find(|(k, _)| k == id).map(|(_, v)| v.as_str());
            match (answer("MFA1"), answer("MFA101")) {
                (None, _) if r.items.iter().any(|i| matches!(i.item, Item::MfaChallenge { .. })) => Ok(()),
                (None, _) => Err((3000, Some("Additional authentication required"))),
                (Some(a), Some(_)) if a.eq_ignore_ascii_case("rex") => Ok(()),
                _ => Err((3001, Some("Incorrect answers"))),
            }
        }
        "automfa" => {
            let asked = r.items.iter().any(|i| matches!(i.item, Item::MfaChallenge { .. }));
            if asked || s.mfa_answers.iter().any(|(k, _)| k == "MFA101") {
                Ok(())
            } else {
                Err((3000, Some("Additional authentication required")))
            }
        }
        "token" => match s.auth_token.as_deref() {
            None => Err((15512, Some("Enter the code we sent you"))),
            Some("424242") => Ok(()),
            Some(_) => Err((15513, None)),
        },
        "newclient" => match &s.client_uid {
            Some(uid) if approved.contains(uid) => Ok(()),
            _ => Err((15510, Some("Approve Ferry at online banking with code 123456"))),
        },
        "pinchange" => Err((15000, Some("You must change your password"))),
        _ => Ok(()),
    }
}

fn answer(r: &Request, today: Date, approved: &[String]) -> Response {
    let now = OfxDate::DateTime(today.midnight().assume_utc() + Duration::hours(12));
    let mut signon = SignonResponse::ok(now);
    if let Err((code, message)) = signon_status(r, approved) {
        signon.status = status(code, message);
        return Response::new(r.header.version, signon);
    }
    let user = r.signon.user_id.clone();
    let mut response = Response::new(r.header.version, signon);
    let accounts = accounts_of(&user);
    for item in &r.items {
        let trnuid = item.trnuid.clone();
        match &item.item {
            Item::MfaChallenge { .. } => {
                let question =
                    MfaChallenge { phrase_id: "MFA1".into(), label: Some("What was your first pet's name?".into()) };
                let automatic = MfaChallenge { phrase_id: "MFA101".into(), label: None };
                response.signon.mfa_challenges =
                    if user == "automfa" { vec![automatic] } else { vec![question, automatic] };
                response.signon.mfa_trnuid = Some(trnuid);
            }
            Item::AccountInfo { .. } => {
                let list = AccountInfoList { dtacctup: Some(now), accounts: accounts.clone() };
                response.account_info = Some(TrnRs { trnuid, status: Status::ok(), body: Some(list) });
            }
            Item::BankStatement(q) => {
                let known = accounts.iter().any(|a| a.account.acct_id() == q.acct_id);
                response.bank_statements.push(statement_trn(
                    &user,
                    trnuid,
                    known,
                    &q.acct_id,
                    q.dtstart.as_ref(),
                    today,
                    false,
                ));
            }
            Item::CreditCardStatement(q) => {
                let known = accounts.iter().any(|a| a.account.acct_id() == q.acct_id);
                response.card_statements.push(statement_trn(
                    &user,
                    trnuid,
                    known,
                    &q.acct_id,
                    q.dtstart.as_ref(),
                    today,
                    true,
                ));
            }
            Item::InvestmentStatement(q) => {
                let known = accounts.iter().any(|a| a.account.acct_id() == q.acct_id);
                if !known {
                    response.investment_statements.push(TrnRs { trnuid, status: status(2003, None), body: None });
                    continue;
                }
                let (statement, securities) = brokerage(&q.acct_id, today, &q.broker_id);
                response.investment_statements.push(TrnRs { trnuid, status: Status::ok(), body: Some(statement) });
                response.securities = securities;
            }
            Item::Profile { .. } => {
                let info = crate::SignonInfo {
                    realm: Some("DEFAULT".into()),
                    client_uid_required: true,
                    mfa_challenge_supported: true,
                    ..Default::default()
                };
                let profile = crate::Profile {
                    dtprofup: Some(now),
                    fi_name: Some("Fake Bank".into()),
                    signon_infos: vec![info],
                    message_sets: Vec::new(),
                    address: None,
                };
                response.profile = Some(TrnRs { trnuid, status: Status::ok(), body: Some(profile) });
            }
        }
    }
    response
}

fn accounts_of(user: &str) -> Vec<AccountInfo> {
    let info = |account, desc: &str| AccountInfo {
        account,
        desc: Some(desc.into()),
        phone: None,
        svc_status: Some(crate::SvcStatus::Active),
        supports_download: true,
    };
    let checking = info(
        AccountRef::Bank {
            bank_id: "123456789".into(),
            branch_id: None,
            acct_id: "1000001".into(),
            acct_type: AccountType::Checking,
        },
        "Everyday Checking",
    );
    match user {
        "investor" => vec![
            checking,
            info(
                AccountRef::Investment { broker_id: "fakebroker.example".into(), acct_id: "INV-1".into() },
                "Brokerage",
            ),
        ],
        _ => vec![checking, info(AccountRef::CreditCard { acct_id: "4111222233334444".into() }, "Rewards Visa")],
    }
}

fn txn(trntype: TrnType, posted: OfxDate, amount: Decimal, fitid: &str, name: &str) -> StatementTransaction {
    StatementTransaction {
        trntype,
        dtposted: posted,
        dtuser: None,
        dtavail: None,
        amount,
        fitid: fitid.into(),
        correct_fitid: None,
        correct_action: None,
        checknum: None,
        refnum: None,
        sic: None,
        name: Some(name.into()),
        payee_name: None,
        memo: None,
        currency: None,
    }
}

fn statement_trn(
    user: &str,
    trnuid: String,
    known: bool,
    acct: &str,
    dtstart: Option<&OfxDate>,
    today: Date,
    card: bool,
) -> TrnRs<Statement> {
    if !known {
        return TrnRs { trnuid, status: status(2003, Some("Account not found")), body: None };
    }
    if user == "closed" {
        return TrnRs { trnuid, status: status(2004, Some("Account closed")), body: None };
    }
    let est = UtcOffset::from_hms(-5, 0, 0).unwrap_or(UtcOffset::UTC);
    let day = |n: i64| today - Duration::days(n);
    let all = if card {
        vec![txn(TrnType::Debit, OfxDate::Date(day(5)), Decimal::new(-1999, 2), "C-1", "STREAMING SERVICE")]
    } else {
        vec![
            txn(TrnType::Debit, OfxDate::Date(day(3)), Decimal::new(-3343, 2), "F-1", "Joe's Diner & Bar"),
            txn(
                TrnType::DirectDep,
                OfxDate::DateTime(day(40).midnight().assume_offset(est) + Duration::hours(12)),
                Decimal::new(250_000, 2),
                "F-2",
                "PAYROLL ACME CORP",
            ),
            txn(TrnType::Fee, OfxDate::Date(day(200)), Decimal::new(-500, 2), "F-3", "MONTHLY FEE"),
        ]
    };
    let start = dtstart.map(OfxDate::date);
    let transactions = all.into_iter().filter(|t| start.is_none_or(|s| t.dtposted.date() >= s)).collect();
    let asof = Some(OfxDate::DateTime(today.midnight().assume_utc()));
    let (ledger, avail) = if card {
        (Decimal::new(-43_210, 2), Decimal::new(456_790, 2))
    } else {
        (Decimal::new(123_456, 2), Decimal::new(120_000, 2))
    };
    let account = if card {
        AccountRef::CreditCard { acct_id: acct.into() }
    } else {
        AccountRef::Bank {
            bank_id: "123456789".into(),
            branch_id: None,
            acct_id: acct.into(),
            acct_type: AccountType::Checking,
        }
    };
    let statement = Statement {
        currency: "USD".into(),
        account,
        transactions: Some(TransactionList { dtstart: dtstart.cloned(), dtend: asof, transactions }),
        ledger_balance: Some(Balance { amount: ledger, dtasof: asof }),
        available_balance: Some(Balance { amount: avail, dtasof: asof }),
    };
    TrnRs { trnuid, status: Status::ok(), body: Some(statement) }
}

fn brokerage(acct: &str, today: Date, broker: &str) -> (InvestmentStatement, Vec<Security>) {
    let vti = SecId { unique_id: "922908769".into(), unique_id_type: "CUSIP".into() };
    let asof = OfxDate::DateTime(today.midnight().assume_utc());
    let statement = InvestmentStatement {
        dtasof: Some(asof),
        currency: "USD".into(),
        account: AccountRef::Investment { broker_id: broker.into(), acct_id: acct.into() },
        transactions: Some(InvTransactionList {
            dtstart: None,
            dtend: Some(asof),
            transactions: vec![InvTransaction {
                kind: "BUYSTOCK".into(),
                fitid: "I-1".into(),
                dttrade: Some(OfxDate::Date(today - Duration::days(7))),
                dtsettle: Some(OfxDate::Date(today - Duration::days(5))),
                memo: None,
                secid: Some(vti.clone()),
                subtype: Some("BUY".into()),
                units: Some(Decimal::new(10, 0)),
                unit_price: Some(Decimal::new(25_000, 2)),
                total: Some(Decimal::new(-250_000, 2)),
                subacct: Some("CASH".into()),
                bank_transaction: None,
            }],
        }),
        positions: vec![Position {
            kind: SecurityKind::Stock,
            secid: vti.clone(),
            held_in_acct: "CASH".into(),
            postype: "LONG".into(),
            units: Decimal::new(105, 1),
            unit_price: Decimal::new(25_000, 2),
            mkt_val: Decimal::new(262_500, 2),
            dtpriceasof: Some(asof),
        }],
        balance: Some(InvBalance {
            availcash: Decimal::new(50_000, 2),
            marginbalance: Decimal::ZERO,
            shortbalance: Decimal::ZERO,
        }),
    };
    let security = Security {
        kind: SecurityKind::Stock,
        secid: vti,
        name: "Vanguard Total Stock Market ETF".into(),
        ticker: Some("VTI".into()),
        unit_price: Some(Decimal::new(25_000, 2)),
        dtasof: Some(asof),
    };
    (statement, vec![security])
}
