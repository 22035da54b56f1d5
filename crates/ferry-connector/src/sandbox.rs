//! The sandbox bank behind `mxbank`: MX Bank's test credentials, every connection status a user
//! can hit, MFA of every kind, and deterministic, realistic data per member. See the README for
//! the table of test credentials.

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, Time, Weekday};

use crate::{
    AccountData, AccountNumberData, AccountOwnerData, Answer, Challenge, ChallengeOption, Connector, ConnectorError,
    Failure, HoldingData, LoginOutcome, LoginRequest, Result, Session, StatementData, StatementDocument,
    TransactionData,
};

/// The usernames MX Bank accepts (`test_atrium` is Atrium's legacy one).
const USERNAMES: &[&str] = &["mxuser", "test_atrium"];

/// A 16×16 PNG (a green check on white), the image of the IMAGE_DATA challenge.
const CHALLENGE_PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAP0lEQVR42mP4TyJgGNWAGyh1K5GgAagaiwa4EB7V6Bow9WAKMuCRxmoEAy4jsarG7mmIUlxeYiDoS6I0UDOmAc6MyM/XC0JlAAAAAElFTkSuQmCC";

/// Passwords that end the login with a failure, and the failure.
const FAILING_PASSWORDS: &[(&str, Failure)] = &[
    ("BAD_REQUEST", Failure::Failed),
    ("FAILED", Failure::Failed),
    ("UNAUTHORIZED", Failure::Denied),
    ("INVALID", Failure::Denied),
    ("DENIED", Failure::Denied),
    ("LOCKED", Failure::Locked),
    ("IMPEDED", Failure::Impeded),
    ("DEGRADED", Failure::Degraded),
    ("DELAYED", Failure::Delayed),
    ("DISCONNECTED", Failure::Disconnected),
    ("DISCONTINUED", Failure::Discontinued),
    ("CLOSED", Failure::Closed),
    ("IMPAIRED", Failure::Impaired),
];

/// The sandbox connector. Stateless: the challenge round travels in the challenge `state`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    fn text_challenge(round: u8) -> LoginOutcome {
        let (guid, label) = match round {
            1 => ("CRD-1b2a7f6e-0000-4000-8000-000000000001", "What city were you born in? (Answer: correct)"),
            _ => ("CRD-1b2a7f6e-0000-4000-8000-000000000002", "What was the name of your first pet? (Answer: correct)"),
        };
        LoginOutcome::Challenged {
            challenges: vec![Challenge {
                guid: guid.into(),
                label: label.into(),
                field_name: format!("question_{round}"),
                kind: "TEXT".into(),
                image_data: None,
                options: Vec::new(),
            }],
            state: format!("text:{round}"),
        }
    }

    fn options_challenge() -> LoginOutcome {
        let option = |n: u8, label: &str, value: &str| ChallengeOption {
            guid: format!("CRD-1b2a7f6e-0000-4000-8000-0000000001{n:02}"),
            label: label.into(),
            value: value.into(),
        };
        LoginOutcome::Challenged {
            challenges: vec![Challenge {
                guid: "CRD-1b2a7f6e-0000-4000-8000-000000000003".into(),
                label: "Where should we send your one-time code? (Choose: correct)".into(),
                field_name: "delivery_method".into(),
                kind: "OPTIONS".into(),
                image_data: None,
                options: vec![
                    option(1, "Text message to (***) ***-1234", "wrong-sms"),
                    option(2, "Email to m***@example.com", "wrong-email"),
                    option(3, "correct", "correct"),
                ],
            }],
            state: "options".into(),
        }
    }

    fn image_challenge() -> LoginOutcome {
        LoginOutcome::Challenged {
            challenges: vec![Challenge {
                guid: "CRD-1b2a7f6e-0000-4000-8000-000000000004".into(),
                label: "Enter the text shown in the image. (Answer: correct)".into(),
                field_name: "image_text".into(),
                kind: "IMAGE_DATA".into(),
                image_data: Some(CHALLENGE_PNG.into()),
                options: Vec::new(),
            }],
            state: "image".into(),
        }
    }

    /// On a member's first aggregation the last two days' transactions are still pending;
    /// on the next one they have posted, under the same ids.
    /// The session remembers the moment of the login: nothing is dated after it.
    fn connected(request: &LoginRequest) -> LoginOutcome {
        let clock = SessionClock {
            now: request.now,
            pending_from: match request.last_success {
                None => Some(request.now.date() - time::Duration::days(2)),
                Some(_) => None,
            },
        };
        LoginOutcome::Connected(Session {
            member_key: request.member_key.clone(),
            state: clock.encode(),
            state_store: request.state_store.clone(),
        })
    }
}

fn credential<'a>(request: &'a LoginRequest, name: &str) -> &'a str {
    request.credentials.get(name).map(|s| s.expose()).unwrap_or_default()
}

fn failure_for(value: &str) -> Option<Failure> {
    FAILING_PASSWORDS.iter().find(|(p, _)| *p == value).map(|(_, f)| *f)
}

#[async_trait::async_trait]
impl Connector for Sandbox {
    async fn login(&self, request: &LoginRequest) -> Result<LoginOutcome> {
        // MX Bank (OAuth): the sandbox provider's access tokens.
        if let Some(token) = &request.oauth_access_token {
            return Ok(if token.expose().starts_with("sbx-at-") {
                Self::connected(request)
            } else {
                LoginOutcome::Failed(Failure::Denied)
            });
        }
        let username = credential(request, "LOGIN").trim().to_lowercase();
        if !USERNAMES.contains(&username.as_str()) {
            return Ok(LoginOutcome::Failed(Failure::Denied));
        }
        let password = credential(request, "PASSWORD");
        if let Some(f) = failure_for(password) {
            return Ok(LoginOutcome::Failed(f));
        }
        Ok(match password {
            // Takes its time, so tests can stop a worker in the middle of a job.
            "slow" => {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                Self::connected(request)
            }
            "challenge" => Self::text_challenge(1),
            "options" => Self::options_challenge(),
            "image" => Self::image_challenge(),
            _ => Self::connected(request),
        })
    }

    async fn answer(&self, request: &LoginRequest, state: &str, answers: &[Answer]) -> Result<LoginOutcome> {
        let expected = match state {
            "text:1" => "CRD-1b2a7f6e-0000-4000-8000-000000000001",
            "text:2" => "CRD-1b2a7f6e-0000-4000-8000-000000000002",
            "options" => "CRD-1b2a7f6e-0000-4000-8000-000000000003",
            "image" => "CRD-1b2a7f6e-0000-4000-8000-000000000004",
            other => return Err(ConnectorError::Other(format!("unknown challenge state `{other}`"))),
        };
        let Some(answer) = answers.iter().find(|a| a.guid == expected) else {
            return Err(ConnectorError::BadAnswers(format!("an answer to challenge {expected} is required")));
        };
        let value = answer.value.expose().trim();
        // A failing password given as the answer simulates that failure, as on MX Bank.
        if let Some(f) = failure_for(value) {
            return Ok(LoginOutcome::Failed(f));
        }
        Ok(match (state, value) {
            (_, "correct") => Self::connected(request),
            ("text:1", "challenge") => Self::text_challenge(2),
            _ => LoginOutcome::Failed(Failure::Rejected),
        })
    }

    async fn accounts(&self, session: &Session) -> Result<Vec<AccountData>> {
        Ok(sandbox_accounts(&session.member_key).into_iter().map(|a| a.data).collect())
    }

    async fn transactions(
        &self,
        session: &Session,
        account_id: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<TransactionData>> {
        let accounts = sandbox_accounts(&session.member_key);
        let Some(account) = accounts.iter().find(|a| a.data.id == account_id) else {
            return Ok(Vec::new());
        };
        let clock = SessionClock::decode(&session.state)?;
        let to = to.min(clock.now.date());
        let mut out = Vec::new();
        let mut day = from;
        while day <= to {
            for event in events_on(&session.member_key, account, day) {
                out.push(event.into_transaction(account, &clock));
            }
            match day.next_day() {
                Some(d) => day = d,
                None => break,
            }
        }
        Ok(out)
    }

    async fn account_numbers(&self, session: &Session) -> Result<Vec<AccountNumberData>> {
        // Deposit accounts are what verification is for.
        Ok(sandbox_accounts(&session.member_key)
            .into_iter()
            .filter(|a| matches!(a.data.kind.as_str(), "CHECKING" | "SAVINGS"))
            .filter_map(|a| {
                let routing = a.data.routing_number.clone();
                Some(AccountNumberData {
                    passed_validation: routing.as_deref().is_some_and(routing_checksum_ok),
                    account_id: a.data.id,
                    account_number: a.data.account_number?,
                    routing_number: routing,
                    institution_number: None,
                    transit_number: None,
                })
            })
            .collect())
    }

    async fn account_owners(&self, session: &Session) -> Result<Vec<AccountOwnerData>> {
        let accounts = sandbox_accounts(&session.member_key);
        let seed = hash(&["owners", &session.member_key]);
        const FIRST: [&str; 6] = ["Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley"];
        const LAST: [&str; 6] = ["Rivera", "Chen", "Okafor", "Lindqvist", "Haddad", "Novak"];
        let first = FIRST[(seed % 6) as usize];
        let last = LAST[((seed >> 8) % 6) as usize];
        let partner = FIRST[((seed % 6 + 1 + (seed >> 16) % 5) % 6) as usize];
        let owner = |account: &AccountData, n: u8, first: &str| AccountOwnerData {
            id: format!("{}-owner-{n}", account.id),
            account_id: account.id.clone(),
            owner_name: format!("{first} {last}"),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            address: Some(format!("{} N Thanksgiving Way", 3000 + seed % 900)),
            city: Some("Lehi".into()),
            state: Some("UT".into()),
            postal_code: Some("84043".into()),
            country: Some("US".into()),
            email: Some(format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase())),
            phone: Some(format!("801-555-{:04}", seed % 10_000)),
        };
        let mut out = Vec::new();
        for a in &accounts {
            out.push(owner(&a.data, 1, first));
            // The checking account is joint.
            if a.data.kind == "CHECKING" {
                out.push(owner(&a.data, 2, partner));
            }
        }
        Ok(out)
    }

    async fn holdings(&self, session: &Session) -> Result<Vec<HoldingData>> {
        let clock = SessionClock::decode(&session.state)?;
        Ok(sandbox_accounts(&session.member_key)
            .iter()
            .filter(|a| a.data.kind == "INVESTMENT")
            .flat_map(|a| holdings_of(a, clock.now.date()))
            .collect())
    }

    async fn statements(&self, session: &Session) -> Result<Vec<StatementDocument>> {
        let clock = SessionClock::decode(&session.state)?;
        let posted = SessionClock { now: clock.now, pending_from: None };
        let mut out = Vec::new();
        for account in sandbox_accounts(&session.member_key) {
            if !matches!(account.data.kind.as_str(), "CHECKING" | "SAVINGS" | "CREDIT_CARD") {
                continue;
            }
            // The last three complete months.
            let mut end =
                clock.now.date().replace_day(1).unwrap_or(clock.now.date()).previous_day().unwrap_or(clock.now.date());
            for _ in 0..3 {
                let start = end.replace_day(1).unwrap_or(end);
                out.push(statement_of(&session.member_key, &account, start, end, &posted));
                end = start.previous_day().unwrap_or(start);
            }
        }
        Ok(out)
    }

    fn is_throttle_exempt(&self) -> bool {
        true
    }
}

/// The ABA routing number checksum.
fn routing_checksum_ok(routing: &str) -> bool {
    let digits: Vec<u32> = routing.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 9 || routing.len() != 9 {
        return false;
    }
    let weights = [3, 7, 1, 3, 7, 1, 3, 7, 1];
    digits.iter().zip(weights).map(|(d, w)| d * w).sum::<u32>() % 10 == 0
}

/// The positions of an investment account: its balance spread over four funds at prices that
/// move a little from day to day.
fn holdings_of(account: &SandboxAccount, today: Date) -> Vec<HoldingData> {
    const FUNDS: [(&str, &str, &str, i64, u32); 4] = [
        ("VTI", "Vanguard Total Stock Market ETF", "ETF", 28_000, 55),
        ("VXUS", "Vanguard Total International Stock ETF", "ETF", 6_300, 20),
        ("BND", "Vanguard Total Bond Market ETF", "ETF", 7_300, 20),
        ("SWVXX", "Schwab Value Advantage Money Fund", "MONEY_MARKET", 100, 5),
    ];
    let total = account.data.balance.unwrap_or_default();
    FUNDS
        .iter()
        .map(|&(symbol, description, kind, cents, weight)| {
            let day_seed = hash(&[&account.data.id, symbol, &today.to_string()]);
            // Money funds hold $1.00; the others drift within ±2%.
            let price = if kind == "MONEY_MARKET" {
                money(cents)
            } else {
                money(cents + cents * (pick(day_seed, 0, 400) - 200) / 10_000)
            };
            let value = total * Decimal::from(weight) / Decimal::from(100);
            let quantity = (value / price).round_dp(4);
            let cost = money(cents * 85 / 100);
            HoldingData {
                id: format!("{}-{}", account.data.id, symbol.to_lowercase()),
                account_id: account.data.id.clone(),
                symbol: Some(symbol.into()),
                description: description.into(),
                holding_type: kind.into(),
                quantity,
                current_price: Some(price),
                current_price_as_of: Some(today),
                market_value: Some((quantity * price).round_dp(2)),
                cost_basis: Some((quantity * cost).round_dp(2)),
                purchase_price: Some(cost),
                currency_code: "USD".into(),
            }
        })
        .collect()
}

/// One month's statement of an account, with every transaction of the period.
fn statement_of(
    member_key: &str,
    account: &SandboxAccount,
    start: Date,
    end: Date,
    clock: &SessionClock,
) -> StatementDocument {
    let number = account.data.account_number.as_deref().unwrap_or_default();
    let last4 = &number[number.len().saturating_sub(4)..];
    let mut lines = vec![
        format!("{} ending in {last4}", account.data.name),
        format!("Statement period: {start} to {end}"),
        String::new(),
        format!("{:<12}{:<52}{:>14}", "Date", "Description", "Amount"),
    ];
    let (mut credits, mut debits) = (Decimal::ZERO, Decimal::ZERO);
    let mut day = start;
    while day <= end {
        for event in events_on(member_key, account, day) {
            let t = event.into_transaction(account, clock);
            if t.is_debit {
                debits += t.amount;
            } else {
                credits += t.amount;
            }
            let sign = if t.is_debit { "-" } else { "" };
            lines.push(format!("{:<12}{:<52}{:>14}", t.date.to_string(), t.description, format!("{sign}{}", t.amount)));
        }
        match day.next_day() {
            Some(d) => day = d,
            None => break,
        }
    }
    lines.push(String::new());
    lines.push(format!("Total credits: {credits}"));
    lines.push(format!("Total debits: {debits}"));
    let title = format!("MX Bank statement, {} {}", end.month(), end.year());
    StatementDocument {
        data: StatementData {
            id: format!("{}-statement-{}", account.data.id, &end.to_string()[..7]),
            account_id: account.data.id.clone(),
            period_start: start,
            period_end: end,
        },
        pdf: crate::pdf::text_document(&title, &lines),
    }
}

/// What a sandbox session knows: when it logged in, and from which day transactions are still
/// pending (on a member's first aggregation only).
struct SessionClock {
    now: OffsetDateTime,
    pending_from: Option<Date>,
}

impl SessionClock {
    fn encode(&self) -> String {
        match self.pending_from {
            Some(d) => format!("{} {d}", self.now.unix_timestamp()),
            None => self.now.unix_timestamp().to_string(),
        }
    }

    fn decode(state: &str) -> Result<Self> {
        let bad = || ConnectorError::Other("malformed sandbox session".into());
        let mut parts = state.split(' ');
        let now = parts
            .next()
            .and_then(|t| t.parse().ok())
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .ok_or_else(bad)?;
        let pending_from = match parts.next() {
            Some(d) => {
                Some(Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| bad())?)
            }
            None => None,
        };
        Ok(SessionClock { now, pending_from })
    }
}

struct SandboxAccount {
    data: AccountData,
    seed: u64,
}

fn hash(parts: &[&str]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A number in `lo..=hi` chosen by `seed`.
fn pick(seed: u64, lo: i64, hi: i64) -> i64 {
    lo + (seed % ((hi - lo + 1) as u64)) as i64
}

fn sandbox_accounts(member_key: &str) -> Vec<SandboxAccount> {
    let seed = hash(&["accounts", member_key]);
    let digits = |n: u64, len: usize| format!("{:0width$}", n % 10u64.pow(len as u32), width = len);
    let account = |key: &str, name: &str, kind: &str, subtype: Option<&str>| {
        let s = hash(&[member_key, key]);
        SandboxAccount {
            seed: s,
            data: AccountData {
                id: format!("sbx-{key}-{}", digits(seed, 8)),
                name: name.into(),
                kind: kind.into(),
                subtype: subtype.map(str::to_owned),
                account_number: Some(digits(s, 10)),
                routing_number: Some("091000019".into()),
                balance: None,
                available_balance: None,
                credit_limit: None,
                apr: None,
                apy: None,
                currency_code: "USD".into(),
                is_closed: false,
                organization: None,
            },
        }
    };
    let mut checking = account("checking", "MX Bank Checking", "CHECKING", Some("CHECKING"));
    checking.data.balance = Some(money(pick(checking.seed, 150_000, 900_000)));
    checking.data.available_balance = checking.data.balance;
    let mut savings = account("savings", "MX Bank Savings", "SAVINGS", Some("SAVINGS"));
    savings.data.balance = Some(money(pick(savings.seed, 500_000, 4_000_000)));
    savings.data.available_balance = savings.data.balance;
    savings.data.apy = Some(Decimal::new(425, 2));
    let mut card = account("card", "MX Bank Rewards Visa", "CREDIT_CARD", Some("CREDIT_CARD"));
    card.data.balance = Some(money(pick(card.seed, 20_000, 350_000)));
    card.data.credit_limit = Some(money(1_000_000));
    card.data.available_balance = card.data.balance.map(|b| money(1_000_000) - b);
    card.data.apr = Some(Decimal::new(2399, 2));
    card.data.routing_number = None;
    let mut auto = account("auto", "MX Bank Auto Loan", "LOAN", Some("AUTO"));
    auto.data.balance = Some(money(pick(auto.seed, 800_000, 2_400_000)));
    auto.data.apr = Some(Decimal::new(649, 2));
    auto.data.routing_number = None;
    let mut mortgage = account("mortgage", "MX Bank Home Mortgage", "MORTGAGE", None);
    mortgage.data.balance = Some(money(pick(mortgage.seed, 18_000_000, 42_000_000)));
    mortgage.data.apr = Some(Decimal::new(575, 2));
    mortgage.data.routing_number = None;
    let mut brokerage = account("brokerage", "MX Bank Brokerage", "INVESTMENT", Some("BROKERAGE"));
    brokerage.data.balance = Some(money(pick(brokerage.seed, 2_500_000, 12_000_000)));
    brokerage.data.routing_number = None;
    vec![checking, savings, card, auto, mortgage, brokerage]
}

struct Event {
    key: &'static str,
    cents: i64,
    debit: bool,
    description: &'static str,
    original: String,
    category: &'static str,
    top: &'static str,
    mcc: Option<i64>,
    payroll: bool,
    subscription: bool,
    fee: bool,
    bill_pay: bool,
    date: Date,
}

impl Event {
    fn new(
        key: &'static str,
        date: Date,
        cents: i64,
        debit: bool,
        description: &'static str,
        category: &'static str,
        top: &'static str,
    ) -> Self {
        Event {
            key,
            cents,
            debit,
            description,
            original: description.to_uppercase(),
            category,
            top,
            mcc: None,
            payroll: false,
            subscription: false,
            fee: false,
            bill_pay: false,
            date,
        }
    }

    fn into_transaction(self, account: &SandboxAccount, clock: &SessionClock) -> TransactionData {
        // Never later than the login: today's transactions happened "so far today".
        let at = |hour: u8| {
            OffsetDateTime::new_utc(self.date, Time::from_hms(hour, 0, 0).unwrap_or(Time::MIDNIGHT)).min(clock.now)
        };
        let is_pending = clock.pending_from.is_some_and(|from| self.date >= from) && !self.payroll;
        TransactionData {
            id: format!("{}-{}-{}", account.data.id, self.date, self.key),
            account_id: account.data.id.clone(),
            amount: money(self.cents),
            is_debit: self.debit,
            is_pending,
            date: self.date,
            transacted_at: at(12),
            posted_at: if is_pending { None } else { Some(at(18)) },
            description: self.description.into(),
            original_description: self.original,
            category: self.category.into(),
            top_level_category: self.top.into(),
            memo: None,
            check_number: None,
            is_bill_pay: self.bill_pay,
            is_direct_deposit: self.payroll,
            is_fee: self.fee,
            is_payroll: self.payroll,
            is_subscription: self.subscription,
            merchant_category_code: self.mcc,
            currency_code: "USD".into(),
        }
    }
}

fn is_last_day_of_month(d: Date) -> bool {
    d.next_day().is_none_or(|n| n.month() != d.month())
}

/// Everything that happens on `day` in `account`: the same inputs always give the same events.
fn events_on(member_key: &str, account: &SandboxAccount, day: Date) -> Vec<Event> {
    let day_seed = hash(&[member_key, &account.data.id, &day.to_string()]);
    let varied = |base: i64, spread: i64, salt: u64| base + pick(day_seed.rotate_left(salt as u32), 0, spread);
    let mut out = Vec::new();
    let dom = day.day();
    let julian = day.to_julian_day();
    match account.data.kind.as_str() {
        "CHECKING" => {
            // Payroll every other Friday.
            if day.weekday() == Weekday::Friday && julian % 14 < 7 {
                let mut e = Event::new(
                    "payroll",
                    day,
                    285_000 + pick(account.seed, 0, 60_000),
                    false,
                    "Acme Corp Payroll",
                    "Paycheck",
                    "Income",
                );
                e.payroll = true;
                out.push(e);
            }
            if dom == 1 {
                let mut e =
                    Event::new("rent", day, 185_000, true, "Parkside Apartments Rent", "Mortgage & Rent", "Home");
                e.bill_pay = true;
                out.push(e);
            }
            if julian % 4 == (account.seed % 4) as i32 {
                const STORES: [&str; 3] = ["Whole Foods Market", "Safeway", "Trader Joe's"];
                let store = STORES[(day_seed % 3) as usize];
                let mut e =
                    Event::new("grocery", day, varied(4_500, 11_000, 1), true, store, "Groceries", "Food & Dining");
                e.mcc = Some(5411);
                out.push(e);
            }
            if dom == 5 {
                let mut e = Event::new("netflix", day, 1_549, true, "Netflix", "Movies & DVDs", "Entertainment");
                e.subscription = true;
                e.mcc = Some(4899);
                out.push(e);
            }
            if dom == 12 {
                let mut e = Event::new("spotify", day, 1_099, true, "Spotify", "Music", "Entertainment");
                e.subscription = true;
                out.push(e);
            }
            if dom == 15 {
                out.push(Event::new(
                    "to-savings",
                    day,
                    50_000,
                    true,
                    "Transfer to MX Bank Savings",
                    "Transfer",
                    "Transfer",
                ));
            }
            if dom == 20 {
                let mut e = Event::new(
                    "utility",
                    day,
                    varied(8_000, 9_000, 2),
                    true,
                    "City Power & Light",
                    "Utilities",
                    "Bills & Utilities",
                );
                e.bill_pay = true;
                out.push(e);
            }
            if day.weekday() == Weekday::Saturday {
                out.push(Event::new("atm", day, 6_000, true, "ATM Withdrawal", "Cash & ATM", "Cash"));
            }
            // Debit-card lunches on weekdays, and a Venmo payment on Sundays.
            if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                let mut e =
                    Event::new("lunch", day, varied(900, 1_600, 7), true, "Sweetgreen", "Restaurants", "Food & Dining");
                e.mcc = Some(5812);
                out.push(e);
            }
            if day.weekday() == Weekday::Sunday {
                out.push(Event::new(
                    "venmo",
                    day,
                    varied(1_500, 6_000, 8),
                    true,
                    "Venmo Payment",
                    "Transfer",
                    "Transfer",
                ));
            }
            if is_last_day_of_month(day) {
                let mut e =
                    Event::new("fee", day, 1_200, true, "Monthly Maintenance Fee", "Service Fee", "Fees & Charges");
                e.fee = true;
                out.push(e);
            }
        }
        "SAVINGS" => {
            if dom == 15 {
                out.push(Event::new(
                    "from-checking",
                    day,
                    50_000,
                    false,
                    "Transfer from MX Bank Checking",
                    "Transfer",
                    "Transfer",
                ));
            }
            if is_last_day_of_month(day) {
                out.push(Event::new(
                    "interest",
                    day,
                    varied(800, 2_500, 3),
                    false,
                    "Interest Payment",
                    "Interest Income",
                    "Income",
                ));
            }
        }
        "CREDIT_CARD" => {
            // Everyday spending: one or two card purchases a day.
            const PLACES: [(&str, &str, &str, i64); 8] = [
                ("Blue Bottle Coffee", "Coffee Shops", "Food & Dining", 5814),
                ("Chevron", "Gas & Fuel", "Auto & Transport", 5541),
                ("Amazon", "Shopping", "Shopping", 5942),
                ("Olive Garden", "Restaurants", "Food & Dining", 5812),
                ("Target", "Shopping", "Shopping", 5310),
                ("Uber", "Ride Share", "Auto & Transport", 4121),
                ("Chipotle", "Fast Food", "Food & Dining", 5814),
                ("CVS Pharmacy", "Pharmacy", "Health & Fitness", 5912),
            ];
            const KEYS: [&str; 2] = ["purchase", "purchase-2"];
            let count = 1 + (day_seed >> 8) % 2;
            for (n, key) in KEYS.iter().enumerate().take(count as usize) {
                let (desc, cat, top, mcc) = PLACES[((day_seed >> (16 + 4 * n)) % 8) as usize];
                let mut e = Event::new(key, day, varied(500, 9_000, 4 + n as u64), true, desc, cat, top);
                e.mcc = Some(mcc);
                out.push(e);
            }
            if dom == 25 {
                out.push(Event::new(
                    "payment",
                    day,
                    varied(30_000, 40_000, 5),
                    false,
                    "Payment - Thank You",
                    "Credit Card Payment",
                    "Transfer",
                ));
            }
        }
        "LOAN" if dom == 10 => {
            let mut e =
                Event::new("payment", day, 41_250, false, "Auto Loan Payment", "Auto Payment", "Auto & Transport");
            e.bill_pay = true;
            out.push(e);
        }
        "MORTGAGE" if dom == 1 => {
            let mut e = Event::new("payment", day, 215_000, false, "Mortgage Payment", "Mortgage & Rent", "Home");
            e.bill_pay = true;
            out.push(e);
        }
        "INVESTMENT" => {
            if dom == 3 {
                out.push(Event::new("contribution", day, 50_000, false, "Automatic Investment", "Buy", "Investments"));
            }
            if dom == 28 && matches!(day.month(), Month::March | Month::June | Month::September | Month::December) {
                out.push(Event::new(
                    "dividend",
                    day,
                    varied(4_000, 12_000, 6),
                    false,
                    "Dividend - VTI",
                    "Dividend & Cap Gains",
                    "Income",
                ));
            }
        }
        _ => {}
    }
    out
}

/// The credentials of a sandbox login, by field name (for tests).
#[cfg(test)]
fn sandbox_login(username: &str, password: &str, now: OffsetDateTime) -> LoginRequest {
    let mut credentials = std::collections::HashMap::new();
    credentials.insert("LOGIN".to_owned(), ferry_domain::Secret::new(username));
    credentials.insert("PASSWORD".to_owned(), ferry_domain::Secret::new(password));
    LoginRequest {
        member_key: "test".into(),
        credentials,
        now,
        last_success: None,
        oauth_access_token: None,
        config: serde_json::Value::Null,
        state: None,
        state_store: crate::StateHandle::discard(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-03-15 12:00 UTC)
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        // The sandbox never awaits anything, so one poll finishes it.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the sandbox awaited"),
        }
    }

    fn login(password: &str) -> LoginOutcome {
        block(Sandbox.login(&sandbox_login("mxuser", password, now()))).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn passwords_choose_the_outcome() {
        assert!(matches!(login("password"), LoginOutcome::Connected(_)));
        assert!(matches!(login("anything"), LoginOutcome::Connected(_)));
        assert!(matches!(login("UNAUTHORIZED"), LoginOutcome::Failed(Failure::Denied)));
        assert!(matches!(login("LOCKED"), LoginOutcome::Failed(Failure::Locked)));
        assert!(matches!(login("BAD_REQUEST"), LoginOutcome::Failed(Failure::Failed)));
        let LoginOutcome::Challenged { challenges, state } = login("challenge") else { panic!() };
        assert_eq!(challenges[0].kind, "TEXT");
        let request = sandbox_login("mxuser", "challenge", now());
        let answer = |v: &str| vec![Answer { guid: challenges[0].guid.clone(), value: ferry_domain::Secret::new(v) }];
        assert!(matches!(block(Sandbox.answer(&request, &state, &answer("correct"))), Ok(LoginOutcome::Connected(_))));
        assert!(matches!(
            block(Sandbox.answer(&request, &state, &answer("nope"))),
            Ok(LoginOutcome::Failed(Failure::Rejected))
        ));
        assert!(matches!(
            block(Sandbox.answer(&request, &state, &answer("challenge"))),
            Ok(LoginOutcome::Challenged { state, .. }) if state == "text:2"
        ));
        let LoginOutcome::Challenged { challenges, .. } = login("image") else { panic!() };
        assert!(challenges[0].image_data.as_deref().is_some_and(|d| d.starts_with("data:image/png;base64,")));
        let LoginOutcome::Challenged { challenges, .. } = login("options") else { panic!() };
        assert!(challenges[0].options.iter().any(|o| o.value == "correct"));
        assert!(matches!(
            block(Sandbox.login(&sandbox_login("someone", "password", now()))),
            Ok(LoginOutcome::Failed(Failure::Denied))
        ));
    }

    #[test]
    fn data_is_deterministic_and_realistic() {
        let a = sandbox_accounts("MBR-1");
        let b = sandbox_accounts("MBR-1");
        assert_eq!(a.iter().map(|x| &x.data).collect::<Vec<_>>(), b.iter().map(|x| &x.data).collect::<Vec<_>>());
        assert_eq!(a.len(), 6);
        assert_ne!(a[0].data.id, sandbox_accounts("MBR-2")[0].data.id);
        let from = now().date() - time::Duration::days(90);
        let mut count = 0;
        let mut d = from;
        while d <= now().date() {
            for acc in &a {
                count += events_on("MBR-1", acc, d).len();
            }
            d = d.next_day().unwrap_or(d);
        }
        assert!(count > 100, "{count} transactions in 90 days");
    }

    #[test]
    fn verify_identify_holdings_and_statements() {
        let LoginOutcome::Connected(session) = login("password") else { panic!() };
        let numbers = block(Sandbox.account_numbers(&session)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(numbers.len(), 2);
        assert!(numbers.iter().all(|n| n.passed_validation && n.account_number.len() == 10));
        let owners = block(Sandbox.account_owners(&session)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(owners.len(), 7, "one owner per account, two on the joint checking account");
        let holdings = block(Sandbox.holdings(&session)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(holdings.len(), 4);
        let balance = sandbox_accounts("test")
            .into_iter()
            .find(|a| a.data.kind == "INVESTMENT")
            .and_then(|a| a.data.balance)
            .unwrap_or_default();
        let total: Decimal = holdings.iter().filter_map(|h| h.market_value).sum();
        assert!((total - balance).abs() < Decimal::ONE, "holdings {total} vs balance {balance}");
        let statements = block(Sandbox.statements(&session)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(statements.len(), 9);
        assert!(statements.iter().all(|s| s.pdf.starts_with(b"%PDF-")));
        assert_eq!(statements[0].data.period_end, time::macros::date!(2026 - 02 - 28));
        assert_eq!(statements[0].pdf, block(Sandbox.statements(&session)).unwrap_or_else(|e| panic!("{e}"))[0].pdf);
        assert!(routing_checksum_ok("091000019") && !routing_checksum_ok("091000018"));
    }
}
