//! Interop harness driven by `compat/ofx_interop.py`.
//!
//! * `ofx_interop requests DIR` writes the requests Ferry's builder produces (signon plus
//!   account info, bank, card and investment statements) in v102 and v220.
//! * `ofx_interop summary FILE...` parses responses with `parse_response` and prints one JSON
//!   object per line (accounts, transactions, balances, statuses), dates in UTC, so another
//!   implementation's view of the same files can be compared field by field.

use std::fmt::Write as _;

use ferry_connector_ofx::{
    AccountRef, AccountType, BankStatementRequest, CardStatementRequest, InvestmentStatementRequest, Item, OfxDate,
    Request, Signon, Style, parse_response, write,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("requests") => write_requests(args.get(1).ok_or("usage: requests DIR")?),
        Some("summary") => {
            for file in &args[1..] {
                summarize(file)?;
            }
            Ok(())
        }
        _ => Err("usage: ofx_interop requests DIR | summary FILE...".into()),
    }
}

fn date(text: &str) -> Result<OfxDate, Box<dyn std::error::Error>> {
    Ok(OfxDate::parse(text)?)
}

fn write_requests(dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let signon = Signon {
        dtclient: date("20240105170000.000[+0:UTC]")?,
        user_id: "alice".into(),
        user_pass: "s3cret".into(),
        language: "ENG".into(),
        org: "FAKEBANK".into(),
        fid: "9999".into(),
        app_id: "QWIN".into(),
        app_ver: "2700".into(),
        client_uid: Some("6f1c2b9e-2a7c-4f0e-9a7d-3b1e5c0d8f42".into()),
        auth_token: None,
        mfa_answers: Vec::new(),
    };
    let start = Some(date("20240101")?);
    let end = Some(date("20240201000000.000[+0:UTC]")?);
    let items = [
        ("acctinfo", Item::account_info()),
        (
            "bank",
            Item::BankStatement(BankStatementRequest {
                bank_id: "123456789".into(),
                branch_id: None,
                acct_id: "1000001".into(),
                acct_type: AccountType::Checking,
                dtstart: start,
                dtend: end,
            }),
        ),
        (
            "cc",
            Item::CreditCardStatement(CardStatementRequest {
                acct_id: "4111222233334444".into(),
                dtstart: start,
                dtend: end,
            }),
        ),
        (
            "inv",
            Item::InvestmentStatement(InvestmentStatementRequest {
                broker_id: "broker.example.com".into(),
                acct_id: "ZX-998877".into(),
                dtstart: start,
                dtend: None,
                include_positions: true,
                include_balance: true,
            }),
        ),
    ];
    for version in [102u16, 220] {
        for (name, item) in &items {
            let mut n = 0;
            let request = Request::new(version, signon.clone(), vec![item.clone()], || {
                n += 1;
                format!("{name}-{n}")
            });
            // v1 requests go out the way strict SGML servers want them: unclosed, one line.
            let style = Style { closed_leaves: false, pretty: version >= 200 };
            let path = format!("{dir}/{name}_v{version}.ofx");
            std::fs::write(&path, write(&request.to_ofx(), style))?;
            println!("{path}");
        }
    }
    Ok(())
}

/// A JSON string literal.
fn js(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn opt_js(text: Option<&str>) -> String {
    text.map_or_else(|| "null".into(), js)
}

/// A date in UTC: `YYYY-MM-DD` for a plain date, `YYYY-MM-DDTHH:MM:SS.mmmZ` otherwise.
fn utc(d: Option<&OfxDate>) -> String {
    match d {
        None => "null".into(),
        Some(OfxDate::Date(d)) => js(&format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())),
        Some(dt) => {
            let u = dt.to_utc();
            js(&format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                u.year(),
                u8::from(u.month()),
                u.day(),
                u.hour(),
                u.minute(),
                u.second(),
                u.millisecond()
            ))
        }
    }
}

fn summarize(file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let response = parse_response(&std::fs::read(file)?)?;
    let f = js(file);
    let s = &response.signon;
    println!(
        "{{\"file\":{f},\"type\":\"signon\",\"version\":{},\"code\":{},\"severity\":{},\"dtserver\":{}}}",
        response.header.version,
        s.status.code,
        js(s.status.severity.as_str()),
        utc(s.dtserver.as_ref())
    );
    for a in response.accounts() {
        let (kind, extra) = match &a.account {
            AccountRef::Bank { bank_id, acct_type, .. } => {
                ("bank", format!(",\"bank_id\":{},\"acct_type\":{}", js(bank_id), js(acct_type.as_str())))
            }
            AccountRef::CreditCard { .. } => ("cc", String::new()),
            AccountRef::Investment { broker_id, .. } => ("inv", format!(",\"broker_id\":{}", js(broker_id))),
        };
        println!(
            "{{\"file\":{f},\"type\":\"account\",\"kind\":\"{kind}\",\"acct\":{}{extra},\"desc\":{},\"downloadable\":{}}}",
            js(a.account.acct_id()),
            opt_js(a.desc.as_deref()),
            a.is_downloadable()
        );
    }
    let statements =
        response.bank_statements.iter().map(|t| ("bank", t)).chain(response.card_statements.iter().map(|t| ("cc", t)));
    for (kind, trn) in statements {
        println!(
            "{{\"file\":{f},\"type\":\"status\",\"kind\":\"{kind}\",\"trnuid\":{},\"code\":{}}}",
            js(&trn.trnuid),
            trn.status.code
        );
        let Some(stmt) = &trn.body else { continue };
        let acct = js(stmt.account.acct_id());
        for t in stmt.transactions.iter().flat_map(|l| &l.transactions) {
            println!(
                "{{\"file\":{f},\"type\":\"txn\",\"acct\":{acct},\"fitid\":{},\"trntype\":{},\"amount\":\"{}\",\"dtposted\":{},\"name\":{},\"memo\":{}}}",
                js(&t.fitid),
                js(t.trntype.as_str()),
                t.amount,
                utc(Some(&t.dtposted)),
                opt_js(t.name.as_deref()),
                opt_js(t.memo.as_deref())
            );
        }
        for (which, bal) in [("ledger", &stmt.ledger_balance), ("avail", &stmt.available_balance)] {
            if let Some(b) = bal {
                println!(
                    "{{\"file\":{f},\"type\":\"balance\",\"acct\":{acct},\"which\":\"{which}\",\"amount\":\"{}\",\"dtasof\":{}}}",
                    b.amount,
                    utc(b.dtasof.as_ref())
                );
            }
        }
    }
    Ok(())
}
