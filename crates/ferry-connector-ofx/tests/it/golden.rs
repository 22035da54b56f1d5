//! Hand-written golden files reproducing real-world quirks, with the values expected from each.

use ferry_connector_ofx::*;

use crate::{day, dec, golden, utc};

#[test]
fn v102_sgml_bank_statement_with_cp1252_raw_ampersand_and_est_dates() {
    let r = parse_response(&golden("bank_v102_sgml.ofx")).unwrap();
    assert_eq!(r.header.version, 102);
    assert!(r.header.present);
    assert_eq!(r.signon.status, Status { code: 0, severity: Severity::Info, message: None });
    assert_eq!(r.signon.dtserver, Some(utc(2024, 1, 6, 13, 30, 0)));
    assert_eq!(r.signon.fi_org.as_deref(), Some("HARBORBANK"));
    assert_eq!(r.signon.fi_fid.as_deref(), Some("4321"));
    assert_eq!(r.bank_statements.len(), 1);
    let trn = &r.bank_statements[0];
    assert_eq!(trn.trnuid, "7a1c-0001");
    assert!(trn.status.is_success());
    let stmt = trn.body.as_ref().unwrap();
    assert_eq!(stmt.currency, "USD");
    assert_eq!(
        stmt.account,
        AccountRef::Bank {
            bank_id: "021000089".into(),
            branch_id: None,
            acct_id: "000123456789".into(),
            acct_type: AccountType::Checking,
        }
    );
    let list = stmt.transactions.as_ref().unwrap();
    assert_eq!(list.dtstart, Some(day(2024, 1, 1)));
    assert_eq!(list.dtend, Some(utc(2024, 1, 6, 17, 0, 0)));
    let t = &list.transactions;
    assert_eq!(t.len(), 4);

    assert_eq!(t[0].trntype, TrnType::Debit);
    assert_eq!(t[0].dtposted, utc(2024, 1, 5, 17, 0, 0));
    assert_eq!(t[0].dtuser, Some(day(2024, 1, 4)));
    assert_eq!(t[0].amount, dec("-42.17"));
    assert_eq!(t[0].fitid, "HB20240105-0001");
    assert_eq!(t[0].name.as_deref(), Some("Joe's Diner & Bar"));
    assert_eq!(t[0].memo.as_deref(), Some("Table for two & tip"));

    // A date-only DTPOSTED stays a plain date; the cp1252 byte 0xC9 is É.
    assert_eq!(t[1].trntype, TrnType::Pos);
    assert_eq!(t[1].dtposted, day(2024, 1, 5));
    assert_eq!(t[1].amount, dec("-3.75"));
    assert_eq!(t[1].name.as_deref(), Some("CAFÉ ROYAL"));
    assert_eq!(t[1].memo.as_deref(), Some("Barista's choice"));

    assert_eq!(t[2].trntype, TrnType::Check);
    assert_eq!(t[2].amount, dec("-1250.00"));
    assert_eq!(t[2].checknum.as_deref(), Some("1042"));

    assert_eq!(t[3].trntype, TrnType::DirectDep);
    assert_eq!(t[3].dtposted, utc(2024, 1, 2, 14, 0, 0));
    assert_eq!(t[3].amount, dec("2500.00"));
    assert_eq!(t[3].correct_fitid.as_deref(), Some("HB20240102-0000"));
    assert_eq!(t[3].correct_action, Some(CorrectAction::Replace));
    // An empty unclosed <MEMO> directly before </STMTTRN> reads as absent.
    assert_eq!(t[3].memo, None);

    let ledger = stmt.ledger_balance.as_ref().unwrap();
    assert_eq!(ledger.amount, dec("3204.08"));
    assert_eq!(ledger.dtasof, Some(utc(2024, 1, 6, 13, 30, 0)));
    assert_eq!(stmt.available_balance.as_ref().unwrap().amount, dec("3150.00"));
}

#[test]
fn v220_xml_card_statement_with_entities_and_original_currency() {
    let r = parse_response(&golden("card_v220_xml.ofx")).unwrap();
    assert_eq!(r.header.version, 220);
    assert_eq!(r.signon.dtserver, Some(OfxDate::parse("20240210101500.123").unwrap()));
    assert_eq!(r.card_statements.len(), 1);
    assert_eq!(r.card_statements[0].trnuid, "cc-77");
    let stmt = r.card_statements[0].body.as_ref().unwrap();
    assert_eq!(stmt.account, AccountRef::CreditCard { acct_id: "4000111122223333".into() });
    let list = stmt.transactions.as_ref().unwrap();
    // 00:00 at +5:30 is 18:30 the day before in UTC.
    assert_eq!(list.dtstart, Some(utc(2023, 12, 31, 18, 30, 0)));
    assert_eq!(list.dtend, Some(day(2024, 2, 10)));
    let t = &list.transactions;
    assert_eq!(t[0].name.as_deref(), Some("CAFÉ M&M"));
    assert_eq!(t[0].memo.as_deref(), Some("Lunch <team>"));
    assert_eq!(t[0].amount, dec("-18.40"));
    assert_eq!(t[0].currency, Some(Currency { symbol: "EUR".into(), rate: Some(dec("1.0850")), original: true }));
    // `[-:EST]` takes its offset from the zone name.
    assert_eq!(t[1].dtposted, utc(2024, 2, 9, 17, 0, 0));
    assert_eq!(t[1].name, None);
    assert_eq!(t[1].payee_name.as_deref(), Some("Payment \u{2014} thank you"));
    assert_eq!(t[1].sic.as_deref(), Some("6011"));
    assert_eq!(stmt.ledger_balance.as_ref().unwrap().amount, dec("-1234.56"));
    assert_eq!(stmt.available_balance, None);
}

#[test]
fn acctinfo_with_checking_card_investment_and_pending_savings() {
    let r = parse_response(&golden("acctinfo_v103.ofx")).unwrap();
    assert_eq!(r.header.version, 103);
    let info = r.account_info.as_ref().unwrap();
    assert_eq!(info.trnuid, "discover-1");
    assert_eq!(info.body.as_ref().unwrap().dtacctup, Some(utc(2024, 3, 1, 12, 0, 0)));
    let a = r.accounts();
    assert_eq!(a.len(), 4);
    assert_eq!(
        a[0],
        AccountInfo {
            account: AccountRef::Bank {
                bank_id: "123456789".into(),
                branch_id: Some("007".into()),
                acct_id: "1000001".into(),
                acct_type: AccountType::Checking,
            },
            desc: Some("Everyday Checking".into()),
            phone: None,
            svc_status: Some(SvcStatus::Active),
            supports_download: true,
        }
    );
    assert_eq!(a[1].account, AccountRef::CreditCard { acct_id: "4111222233334444".into() });
    assert_eq!(a[1].phone.as_deref(), Some("800-555-0100"));
    assert!(a[1].is_downloadable());
    assert_eq!(
        a[2].account,
        AccountRef::Investment { broker_id: "broker.example.com".into(), acct_id: "ZX-998877".into() }
    );
    assert!(a[2].is_downloadable());
    assert_eq!(a[3].svc_status, Some(SvcStatus::Pending));
    assert!(!a[3].supports_download);
    assert!(!a[3].is_downloadable());
}

#[test]
fn signon_15500_has_only_sonrs() {
    let r = parse_response(&golden("signon_15500_v102.ofx")).unwrap();
    assert_eq!(r.signon.status.code, 15500);
    assert_eq!(r.signon.status.severity, Severity::Error);
    assert_eq!(r.signon.status.message.as_deref(), Some("Invalid user ID or password"));
    assert!(r.signon.status.describe().contains("wrong user or password"));
    assert!(r.account_info.is_none());
    assert!(r.bank_statements.is_empty());
}

#[test]
fn signon_3000_carries_mfa_challenges() {
    let r = parse_response(&golden("signon_3000_mfa_v220.ofx")).unwrap();
    assert_eq!(r.signon.status.code, 3000);
    assert_eq!(r.signon.mfa_trnuid.as_deref(), Some("mfa-1"));
    assert_eq!(
        r.signon.mfa_challenges,
        vec![
            MfaChallenge { phrase_id: "MFA13".into(), label: Some("What was the name of your first pet?".into()) },
            MfaChallenge { phrase_id: "MFA107".into(), label: None },
        ]
    );
}

#[test]
fn one_line_header_without_compression_and_a_2003_transaction_status() {
    let r = parse_response(&golden("oneline_header_v102.ofx")).unwrap();
    assert_eq!(r.header.version, 102);
    assert_eq!(r.header.charset, "1252");
    assert_eq!(r.signon.dtserver, Some(day(2024, 1, 5)));
    let trn = &r.bank_statements[0];
    assert_eq!(trn.trnuid, "1");
    assert_eq!(trn.status.code, 2003);
    assert_eq!(trn.status.message.as_deref(), Some("Account not found"));
    assert!(trn.body.is_none());
}

#[test]
fn leading_blank_lines_missing_compression_utf8_and_comma_decimals() {
    let r = parse_response(&golden("missing_compression_v160.ofx")).unwrap();
    assert_eq!(r.header.version, 160);
    assert_eq!(r.header.encoding, "UTF-8");
    let stmt = r.bank_statements[0].body.as_ref().unwrap();
    assert_eq!(stmt.currency, "EUR");
    let t = &stmt.transactions.as_ref().unwrap().transactions[0];
    assert_eq!(t.trntype, TrnType::Int);
    assert_eq!(t.amount, dec("12.50"));
    assert_eq!(t.name.as_deref(), Some("Zinsen München"));
    assert_eq!(stmt.ledger_balance.as_ref().unwrap().amount, dec("1012.50"));
}

#[test]
fn profile_flags_and_message_set_urls() {
    let r = parse_response(&golden("profile_v102.ofx")).unwrap();
    let profile = r.profile.as_ref().unwrap().body.as_ref().unwrap();
    assert!(profile.client_uid_required());
    let info = &profile.signon_infos[0];
    assert_eq!(info.realm.as_deref(), Some("DEFAULT"));
    assert!(info.mfa_challenge_supported);
    assert!(!info.mfa_challenge_first);
    assert!(!info.auth_token_first);
    assert_eq!(profile.fi_name.as_deref(), Some("Harbor Bank"));
    assert_eq!(profile.dtprofup, Some(day(2023, 12, 1)));
    let urls: Vec<(&str, Option<&str>)> =
        profile.message_sets.iter().map(|m| (m.name.as_str(), m.url.as_deref())).collect();
    assert_eq!(
        urls,
        vec![
            ("SIGNONMSGSET", Some("https://ofx.harbor.example/ofx")),
            ("BANKMSGSET", Some("https://ofx.harbor.example/bank")),
        ]
    );
}

#[test]
fn html_error_page_is_a_parse_error() {
    let bytes = golden("html_error.html");
    assert!(matches!(parse(&bytes), Err(ParseError::NotOfx(_))));
    assert!(matches!(parse_response(&bytes), Err(ParseError::NotOfx(_))));
    assert!(parse_request(&bytes).is_err());
}

#[test]
fn missing_sonrs_is_an_error() {
    let bytes = b"<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID></STMTTRNRS></BANKMSGSRSV1></OFX>";
    assert!(matches!(parse_response(bytes), Err(ParseError::Missing(_))));
}

#[test]
fn every_golden_file_survives_write_and_reparse_in_every_style() {
    for name in [
        "bank_v102_sgml.ofx",
        "card_v220_xml.ofx",
        "acctinfo_v103.ofx",
        "signon_15500_v102.ofx",
        "signon_3000_mfa_v220.ofx",
        "oneline_header_v102.ofx",
        "missing_compression_v160.ofx",
        "invstmt_v220.ofx",
        "profile_v102.ofx",
    ] {
        let ofx = parse(&golden(name)).unwrap();
        let typed = Response::from_ofx(&ofx).unwrap();
        for style in crate::roundtrip::STYLES {
            let again = parse(&write(&ofx, style)).unwrap();
            assert_eq!(again.root, ofx.root, "{name} {style:?}");
            assert_eq!(Response::from_ofx(&again).unwrap().bank_statements, typed.bank_statements, "{name}");
        }
    }
}
