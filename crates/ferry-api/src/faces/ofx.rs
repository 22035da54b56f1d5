//! The OFX Direct Connect server face: `POST /ofx`, OFX 1.0.2/1.0.3 (SGML) and 2.x (XML),
//! answered in the version asked, through the same reader and writer as the OFX connector.
//!
//! A user signs on with their OFX login (`ferry ofx password`) and reads every account of
//! every member: checking, savings and other deposit accounts as bank accounts (BANKID the
//! routing number when known), cards as credit-card accounts, investment accounts with their
//! positions. ACCTIDs are the account guids in 22 characters (OFX's limit); FITIDs are the
//! transaction guids, so they are stable across downloads.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use ferry_connector_ofx::{
    AccountInfo, AccountInfoList, AccountRef, AccountType, Address, Balance, InvBalance, InvTransaction,
    InvTransactionList, InvestmentStatement, Item, MessageSet, OfxDate, PasswordRules, Position, Profile, Request,
    Response, SecId, Security, SecurityKind, Severity, SignonInfo, SignonResponse, Statement, StatementTransaction,
    Status, Style, TransactionList, TrnRs, TrnType, parse_request, write,
};
use ferry_core::{FaceAccount, FaceQuery, OfxSignon, Service, face_time};
use ferry_domain::{Account, AccountGuid, ClientId, RecordData, Transaction, UserGuid};
use rust_decimal::Decimal;
use time::OffsetDateTime;

use crate::limits::AuthFailure;

/// The ORG and FID Ferry answers with (clients may send any; `ferry ofx info` prints these).
pub const ORG: &str = "Ferry";
pub const FID: &str = "1";

pub(crate) fn router(service: Service) -> Router {
    Router::new()
        .route("/ofx", post(ofx))
        .route("/ofx/", post(ofx))
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "OFX is served at POST /ofx") })
        .method_not_allowed_fallback(|| async { plain(StatusCode::METHOD_NOT_ALLOWED, "OFX requests are POSTed") })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the server hit an unexpected condition")
        }))
        .layer(axum::middleware::from_fn(crate::limits::failed_auth))
        .with_state(service)
}

fn plain(status: StatusCode, body: &str) -> HttpResponse {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.to_owned()).into_response()
}

fn status(code: u32, message: &str) -> Status {
    Status { code, severity: if code == 0 { Severity::Info } else { Severity::Error }, message: Some(message.into()) }
}

/// An account's OFX ACCTID: its guid's 128 bits in base 62, exactly 22 letters and digits
/// (OFX allows 22 characters; nothing a command line or a spreadsheet would mangle).
pub fn acct_id(guid: &AccountGuid) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let uuid = guid.as_str().split_once('-').and_then(|(_, rest)| uuid::Uuid::parse_str(rest).ok());
    let Some(uuid) = uuid else {
        // Not a uuid guid (never made by Ferry): its last 22 characters.
        let s = guid.as_str();
        return s[s.len().saturating_sub(22)..].to_owned();
    };
    let mut n = uuid.as_u128();
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// Transaction requests one OFX file may carry (clients send a handful).
const MAX_ITEMS: usize = 64;

async fn ofx(
    State(s): State<Service>,
    limiter: Option<axum::Extension<crate::limits::Limiter>>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResponse {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.trim().to_ascii_lowercase().starts_with("application/x-ofx") {
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send OFX requests as Content-Type: application/x-ofx");
    }
    let request = match parse_request(&body) {
        Ok(r) => r,
        Err(_) => {
            // Not the error's text: it may quote the body, and the body holds a password.
            tracing::info!("unreadable OFX request");
            return plain(StatusCode::BAD_REQUEST, "the body is not an OFX request");
        }
    };
    if request.items.len() > MAX_ITEMS {
        return plain(StatusCode::BAD_REQUEST, "too many transaction requests in one file");
    }
    let limiter = limiter.map(|axum::Extension(l)| l);
    match answer(&s, &request, limiter.as_ref()).await {
        Ok(Answer::Busy) => {
            let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "too many sign-ons at once; retry shortly");
            r.headers_mut().insert(header::RETRY_AFTER, 1.into());
            r
        }
        Ok(Answer::TooMany(e)) => {
            let mut r = plain(StatusCode::TOO_MANY_REQUESTS, &e.message);
            if let Some(wait) = e.retry_after {
                r.headers_mut().insert(header::RETRY_AFTER, wait.into());
            }
            r
        }
        Ok(Answer::Ofx(response, refused)) => {
            let style = Style { closed_leaves: response.header.is_v2(), pretty: true };
            let mut r =
                ([(header::CONTENT_TYPE, "application/x-ofx")], write(&response.to_ofx(), style)).into_response();
            if refused {
                r.extensions_mut().insert(AuthFailure);
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "OFX request failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the server hit an unexpected condition")
        }
    }
}

/// What a request comes to.
enum Answer {
    /// The OFX response, and whether it refused the sign-on's credentials.
    Ofx(Response, bool),
    /// Too many password checks at once.
    Busy,
    /// The client's request rate is spent.
    TooMany(crate::ApiError),
}

async fn answer(s: &Service, r: &Request, limiter: Option<&crate::limits::Limiter>) -> ferry_core::Result<Answer> {
    let now = s.clock_now();
    let mut signon = SignonResponse::ok(OfxDate::DateTime(now));
    signon.fi_org = Some(ORG.into());
    signon.fi_fid = Some(FID.into());
    let version = r.header.version;
    // A profile is public: clients ask for it before they know a password.
    let profile_only = !r.items.is_empty() && r.items.iter().all(|i| matches!(i.item, Item::Profile { .. }));
    let who = if profile_only && r.signon.user_id.to_ascii_lowercase().starts_with("anonymous") {
        None
    } else {
        match s.ofx_signon(r.signon.user_id.trim(), &r.signon.user_pass).await? {
            OfxSignon::User(c, u) => {
                if let Some(Err(e)) = limiter.map(|l| l.admit(c.as_str())) {
                    return Ok(Answer::TooMany(e));
                }
                Some((c, u))
            }
            OfxSignon::Invalid => {
                signon.status = status(15500, "Invalid user ID or password");
                return Ok(Answer::Ofx(Response::new(version, signon), true));
            }
            OfxSignon::Locked => {
                signon.status = status(15502, "Too many failed sign-on attempts; try again later");
                return Ok(Answer::Ofx(Response::new(version, signon), false));
            }
            OfxSignon::Busy => return Ok(Answer::Busy),
        }
    };
    let mut response = Response::new(version, signon);
    let asked_for_data = r.items.iter().any(|i| !matches!(i.item, Item::Profile { .. } | Item::MfaChallenge { .. }));
    let mut accounts = match (&who, asked_for_data) {
        (Some((c, u)), true) => {
            s.face_view(c, u, &FaceQuery { balances_only: true, ..Default::default() }).await?.accounts
        }
        _ => Vec::new(),
    };
    share_routing_numbers(&mut accounts);
    for item in &r.items {
        let trnuid = item.trnuid.clone();
        match &item.item {
            Item::Profile { .. } => {
                response.profile = Some(TrnRs { trnuid, status: Status::ok(), body: Some(profile(s, now)) });
            }
            // Ferry never challenges: the sign-on's password is all it asks.
            Item::MfaChallenge { .. } => {}
            Item::AccountInfo { .. } => {
                let list = AccountInfoList {
                    dtacctup: Some(OfxDate::DateTime(now)),
                    accounts: accounts.iter().filter_map(|a| info(a)).collect(),
                };
                response.account_info = Some(TrnRs { trnuid, status: Status::ok(), body: Some(list) });
            }
            Item::BankStatement(q) => {
                let found = find(&accounts, &q.acct_id, |k| matches!(k, Kind::Bank(_)));
                let trn = statement(s, &who, found, trnuid, q.dtstart.as_ref(), q.dtend.as_ref(), now).await?;
                response.bank_statements.push(trn);
            }
            Item::CreditCardStatement(q) => {
                let found = find(&accounts, &q.acct_id, |k| matches!(k, Kind::Card));
                let trn = statement(s, &who, found, trnuid, q.dtstart.as_ref(), q.dtend.as_ref(), now).await?;
                response.card_statements.push(trn);
            }
            Item::InvestmentStatement(q) => {
                let found = find(&accounts, &q.acct_id, |k| matches!(k, Kind::Investment));
                let (trn, securities) =
                    investment(s, &who, found, trnuid, q.dtstart.as_ref(), q.dtend.as_ref(), now).await?;
                response.investment_statements.push(trn);
                for sec in securities {
                    if !response.securities.iter().any(|known| known.secid == sec.secid) {
                        response.securities.push(sec);
                    }
                }
            }
        }
    }
    Ok(Answer::Ofx(response, false))
}

/// How an account appears in OFX.
enum Kind {
    Bank(AccountType),
    Card,
    Investment,
}

/// Deposit and loan accounts are bank accounts; property and insurance have no OFX form.
fn kind_of(a: &Account) -> Option<Kind> {
    let subtype = a.subtype.as_deref().unwrap_or_default();
    Some(match a.kind.as_str() {
        "CREDIT_CARD" => Kind::Card,
        "INVESTMENT" => Kind::Investment,
        "SAVINGS" if subtype.contains("MONEY_MARKET") => Kind::Bank(AccountType::MoneyMarket),
        "SAVINGS" if subtype.contains("CERTIFICATE") => Kind::Bank(AccountType::Cd),
        "SAVINGS" => Kind::Bank(AccountType::Savings),
        "LINE_OF_CREDIT" | "LOAN" | "MORTGAGE" => Kind::Bank(AccountType::CreditLine),
        "PROPERTY" | "INSURANCE" => return None,
        _ => Kind::Bank(AccountType::Checking),
    })
}

/// A routing number that can be a BANKID (at most 9 letters and digits).
fn routing(a: &Account) -> Option<&str> {
    a.routing_number.as_deref().filter(|r| (1..=9).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn bank_id(a: &Account) -> String {
    routing(a).unwrap_or("000000000").to_owned()
}

/// Accounts without a routing number of their own (loans, often) take that of another account
/// of the same member: one bank, one BANKID, as clients that configure a sign-on from its
/// account list (ofxget's `--all`) expect.
fn share_routing_numbers(accounts: &mut [FaceAccount]) {
    let known: std::collections::HashMap<String, String> = accounts
        .iter()
        .filter_map(|fa| Some((fa.account.member_guid.to_string(), routing(&fa.account)?.to_owned())))
        .collect();
    for fa in accounts.iter_mut().filter(|fa| routing(&fa.account).is_none()) {
        if let Some(r) = known.get(fa.account.member_guid.as_str()) {
            fa.account.routing_number = Some(r.clone());
        }
    }
}

fn broker_id(fa: &FaceAccount) -> String {
    let host = fa.institution.as_ref().and_then(|i| i.url.as_deref()).and_then(|u| url::Url::parse(u).ok());
    let host = host.and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_owned()));
    host.filter(|h| h.len() <= 22).unwrap_or_else(|| "ferry".into())
}

fn account_ref(fa: &FaceAccount) -> Option<AccountRef> {
    let a = &fa.account;
    let acct_id = acct_id(&a.guid);
    Some(match kind_of(a)? {
        Kind::Bank(acct_type) => AccountRef::Bank { bank_id: bank_id(a), branch_id: None, acct_id, acct_type },
        Kind::Card => AccountRef::CreditCard { acct_id },
        Kind::Investment => AccountRef::Investment { broker_id: broker_id(fa), acct_id },
    })
}

fn info(fa: &FaceAccount) -> Option<AccountInfo> {
    let a = &fa.account;
    let name = a.nickname.clone().unwrap_or_else(|| a.name.clone());
    let masked = a.account_number.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
    Some(AccountInfo {
        account: account_ref(fa)?,
        desc: Some(truncate(&format!("{name}{masked}"), 80)),
        phone: None,
        svc_status: Some(ferry_connector_ofx::SvcStatus::Active),
        supports_download: true,
    })
}

fn find<'a>(accounts: &'a [FaceAccount], acct: &str, kind: impl Fn(&Kind) -> bool) -> Option<&'a FaceAccount> {
    accounts
        .iter()
        .find(|fa| acct_id(&fa.account.guid) == acct.trim() && kind_of(&fa.account).is_some_and(|k| kind(&k)))
}

/// At most `n` characters (OFX bounds its text fields).
fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// One account's transactions in `[dtstart, dtend)`.
async fn transactions_of(
    s: &Service,
    who: &Option<(ClientId, UserGuid)>,
    fa: &FaceAccount,
    dtstart: Option<&OfxDate>,
    dtend: Option<&OfxDate>,
) -> ferry_core::Result<Vec<Transaction>> {
    let Some((_, user)) = who else { return Ok(Vec::new()) };
    let q = FaceQuery {
        start: dtstart.map(OfxDate::to_utc),
        end: dtend.map(OfxDate::to_utc),
        accounts: vec![fa.account.guid.as_str().to_owned()],
        ..Default::default()
    };
    if let (Some(start), Some(end)) = (q.start, q.end)
        && start > end
    {
        return Ok(Vec::new());
    }
    // The account came from this user's list; only its transactions are read again.
    s.face_transactions(user, &q).await
}

fn stmttrn(t: &Transaction) -> StatementTransaction {
    let amount = if t.is_debit { -t.amount } else { t.amount };
    let trntype = if t.check_number_string.is_some() && t.is_debit {
        TrnType::Check
    } else if t.is_fee {
        TrnType::Fee
    } else if t.is_direct_deposit || t.is_payroll {
        TrnType::DirectDep
    } else if t.is_debit {
        TrnType::Debit
    } else {
        TrnType::Credit
    };
    let name = t.description.clone().or_else(|| t.original_description.clone()).unwrap_or_default();
    StatementTransaction {
        trntype,
        dtposted: OfxDate::DateTime(face_time(t)),
        dtuser: t.transacted_at.map(OfxDate::DateTime),
        dtavail: None,
        amount,
        fitid: t.guid.as_str().to_owned(),
        correct_fitid: None,
        correct_action: None,
        checknum: t.check_number_string.as_deref().map(|c| truncate(c, 12)),
        refnum: None,
        sic: t.merchant_category_code.map(|c| c.to_string()).filter(|c| c.len() <= 6),
        name: Some(truncate(if name.is_empty() { "Transaction" } else { &name }, 32)),
        payee_name: None,
        memo: t.memo.as_deref().map(|m| truncate(m, 255)),
        currency: None,
    }
}

fn currency(a: &Account) -> String {
    let c = a.currency_code.trim();
    if c.len() == 3 { c.to_ascii_uppercase() } else { "USD".into() }
}

async fn statement(
    s: &Service,
    who: &Option<(ClientId, UserGuid)>,
    found: Option<&FaceAccount>,
    trnuid: String,
    dtstart: Option<&OfxDate>,
    dtend: Option<&OfxDate>,
    now: OffsetDateTime,
) -> ferry_core::Result<TrnRs<Statement>> {
    let Some((fa, account)) = found.and_then(|fa| Some((fa, account_ref(fa)?))) else {
        return Ok(TrnRs { trnuid, status: status(2003, "Account not found"), body: None });
    };
    let a = &fa.account;
    let transactions = transactions_of(s, who, fa, dtstart, dtend).await?;
    // Oldest first, as banks list them.
    let list: Vec<StatementTransaction> =
        transactions.iter().rev().filter(|t| !t.is_pending).map(|t| stmttrn(t)).collect();
    // Owed balances (cards, loans) are negative in OFX.
    let sign = |d: Decimal| if a.is_liability() { -d } else { d };
    let asof = Some(OfxDate::DateTime(a.updated_at));
    let (start, end) = list_window(a, &transactions, dtstart, dtend, now);
    let statement = Statement {
        currency: currency(a),
        account,
        transactions: Some(TransactionList { dtstart: Some(start), dtend: Some(end), transactions: list }),
        ledger_balance: Some(Balance { amount: sign(a.balance.unwrap_or_default()), dtasof: asof }),
        available_balance: a.available_balance.map(|b| Balance {
            // A card's available balance is its available credit: positive either way.
            amount: if matches!(a.kind.as_str(), "CREDIT_CARD") { b } else { sign(b) },
            dtasof: asof,
        }),
    };
    Ok(TrnRs { trnuid, status: Status::ok(), body: Some(statement) })
}

/// The window a transaction list says it covers. Clients start their next download at its
/// `DTEND`, so it is no later than what Ferry knows: the account's last update (when its
/// member was last aggregated), not the time of the request. Its `DTSTART` covers the oldest
/// transaction sent.
fn list_window(
    a: &Account,
    sent: &[Transaction],
    dtstart: Option<&OfxDate>,
    dtend: Option<&OfxDate>,
    now: OffsetDateTime,
) -> (OfxDate, OfxDate) {
    let known = a.updated_at.min(now);
    let end = match dtend {
        Some(e) if e.to_utc() <= known => *e,
        _ => OfxDate::DateTime(known),
    };
    let oldest = sent.iter().map(face_time).min().unwrap_or(known).min(known);
    let start = match dtstart {
        Some(s) if s.to_utc() <= oldest => *s,
        _ => OfxDate::DateTime(oldest),
    };
    (start, end)
}

fn security_kind(holding_type: &str) -> SecurityKind {
    match holding_type {
        "EQUITY" | "ETF" | "STOCK" => SecurityKind::Stock,
        "MUTUAL_FUND" | "MONEY_MARKET" => SecurityKind::MutualFund,
        "BOND" | "FIXED_INCOME" => SecurityKind::Debt,
        "OPTIONS" | "OPTION" => SecurityKind::Option,
        _ => SecurityKind::Other,
    }
}

async fn investment(
    s: &Service,
    who: &Option<(ClientId, UserGuid)>,
    found: Option<&FaceAccount>,
    trnuid: String,
    dtstart: Option<&OfxDate>,
    dtend: Option<&OfxDate>,
    now: OffsetDateTime,
) -> ferry_core::Result<(TrnRs<InvestmentStatement>, Vec<Security>)> {
    let Some((fa, account)) = found.and_then(|fa| Some((fa, account_ref(fa)?))) else {
        return Ok((TrnRs { trnuid, status: status(2003, "Account not found"), body: None }, Vec::new()));
    };
    let a = &fa.account;
    let asof = OfxDate::DateTime(a.updated_at);
    let mut positions = Vec::new();
    let mut securities = Vec::new();
    for r in &fa.holdings {
        let RecordData::Holding(h) = &r.data else { continue };
        let unique_id = truncate(h.symbol.as_deref().filter(|s| !s.is_empty()).unwrap_or(&r.guid), 32);
        let secid = SecId { unique_id, unique_id_type: if h.symbol.is_some() { "TICKER" } else { "FERRY" }.into() };
        let kind = security_kind(&h.holding_type);
        // Checked: the institution's numbers may be extreme, and overflow must not panic.
        let price = h.current_price.or_else(|| h.market_value?.checked_div(h.quantity).map(|p| p.round_dp(4)));
        let mkt_val = h.market_value.or_else(|| price?.checked_mul(h.quantity)).unwrap_or_default();
        positions.push(Position {
            kind,
            secid: secid.clone(),
            held_in_acct: "CASH".into(),
            postype: if h.quantity.is_sign_negative() { "SHORT" } else { "LONG" }.into(),
            units: h.quantity,
            unit_price: price.unwrap_or_default(),
            mkt_val,
            dtpriceasof: h.current_price_as_of.map(|d| OfxDate::Date(d)).or(Some(asof)),
        });
        securities.push(Security {
            kind,
            secid,
            name: truncate(if h.description.is_empty() { &r.guid } else { &h.description }, 120),
            ticker: h.symbol.as_deref().map(|t| truncate(t, 32)),
            unit_price: price,
            dtasof: Some(asof),
        });
    }
    let positions_value =
        positions.iter().try_fold(Decimal::ZERO, |sum, p: &Position| sum.checked_add(p.mkt_val)).unwrap_or_default();
    let transactions = transactions_of(s, who, fa, dtstart, dtend).await?;
    let list = transactions
        .iter()
        .rev()
        .filter(|t| !t.is_pending)
        .map(|t| InvTransaction {
            kind: "INVBANKTRAN".into(),
            fitid: t.guid.as_str().to_owned(),
            dttrade: None,
            dtsettle: None,
            memo: None,
            secid: None,
            subtype: None,
            units: None,
            unit_price: None,
            total: None,
            subacct: Some("CASH".into()),
            bank_transaction: Some(stmttrn(t)),
        })
        .collect();
    let (start, end) = list_window(a, &transactions, dtstart, dtend, now);
    let statement = InvestmentStatement {
        dtasof: Some(asof),
        currency: currency(a),
        account,
        transactions: Some(InvTransactionList { dtstart: Some(start), dtend: Some(end), transactions: list }),
        positions,
        balance: Some(InvBalance {
            // The account's balance is its whole value, positions included: the cash is what
            // the positions do not account for (unless the institution said what is available).
            availcash: a
                .available_balance
                .or(a.balance.and_then(|b| b.checked_sub(positions_value)))
                .unwrap_or_default(),
            marginbalance: Decimal::ZERO,
            shortbalance: Decimal::ZERO,
        }),
    };
    Ok((TrnRs { trnuid, status: Status::ok(), body: Some(statement) }, securities))
}

/// The server's profile: one realm, password sign-on, every message set at this URL, and
/// everything else the specification requires of a server's profile (clients such as ofxget
/// check it strictly).
fn profile(s: &Service, now: OffsetDateTime) -> Profile {
    let url = format!("{}/ofx", s.public_url());
    let sets = [
        "SIGNONMSGSET",
        "SIGNUPMSGSET",
        "BANKMSGSET",
        "CREDITCARDMSGSET",
        "INVSTMTMSGSET",
        "SECLISTMSGSET",
        "PROFMSGSET",
    ];
    let rules = PasswordRules {
        min: 8,
        max: 32,
        char_type: "ALPHAORNUMERIC".into(),
        case_sensitive: true,
        special: true,
        spaces: true,
        pin_change: false,
    };
    Profile {
        // The profile changes only with the server's version: a fixed date lets clients cache it.
        dtprofup: Some(OfxDate::Date(time::macros::date!(2026 - 01 - 01).min(now.date()))),
        fi_name: Some(ORG.into()),
        signon_infos: vec![SignonInfo { realm: Some(REALM.into()), rules: Some(rules), ..Default::default() }],
        message_sets: sets
            .iter()
            .map(|name| MessageSet {
                name: (*name).into(),
                version: Some("1".into()),
                url: Some(url.clone()),
                realm: Some(REALM.into()),
            })
            .collect(),
        address: Some(Address {
            addr1: "Self-hosted".into(),
            city: "Local".into(),
            state: "NA".into(),
            postal_code: "00000".into(),
            country: "USA".into(),
        }),
    }
}

const REALM: &str = "FERRY";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_fit_ofx_and_are_stable() {
        let g = AccountGuid::parse("ACT-123e4567-e89b-42d3-a456-426614174000").unwrap();
        let id = acct_id(&g);
        assert_eq!(id.len(), 22);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        let max = AccountGuid::parse("ACT-ffffffff-ffff-ffff-ffff-ffffffffffff").unwrap();
        assert_eq!(acct_id(&max).len(), 22);
        assert_eq!(id, acct_id(&g));
        let other = AccountGuid::parse("ACT-123e4567-e89b-42d3-a456-426614174001").unwrap();
        assert_ne!(id, acct_id(&other));
    }
}
