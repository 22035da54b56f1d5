//! Build → write → parse → equal, for requests and responses in v102 (unclosed leaves), v103
//! and v220, in every style.

use ferry_connector_ofx::*;

use crate::{day, dec, utc};

/// Every layout the writer offers.
pub const STYLES: [Style; 4] = [
    Style { closed_leaves: false, pretty: false },
    Style { closed_leaves: false, pretty: true },
    Style { closed_leaves: true, pretty: false },
    Style { closed_leaves: true, pretty: true },
];

pub fn signon() -> Signon {
    Signon {
        dtclient: utc(2024, 1, 5, 17, 0, 0),
        user_id: "alice".into(),
        user_pass: "s3cret&<pass>".into(),
        language: "ENG".into(),
        org: "FAKEBANK".into(),
        fid: "9999".into(),
        app_id: "QWIN".into(),
        app_ver: "2700".into(),
        client_uid: Some("6f1c2b9e-2a7c-4f0e-9a7d-3b1e5c0d8f42".into()),
        auth_token: None,
        mfa_answers: vec![("MFA13".into(), "Rex".into())],
    }
}

fn counter() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("trn-{n:04}")
    }
}

fn all_items() -> Vec<Item> {
    vec![
        Item::Profile { dtprofup: day(1990, 1, 1) },
        Item::InvestmentStatement(InvestmentStatementRequest {
            broker_id: "broker.example.com".into(),
            acct_id: "ZX-998877".into(),
            dtstart: Some(day(2024, 1, 1)),
            dtend: None,
            include_positions: true,
            include_balance: true,
        }),
        Item::CreditCardStatement(CardStatementRequest {
            acct_id: "4111222233334444".into(),
            dtstart: Some(utc(2024, 1, 1, 0, 0, 0)),
            dtend: Some(utc(2024, 2, 1, 0, 0, 0)),
        }),
        Item::BankStatement(BankStatementRequest {
            bank_id: "123456789".into(),
            branch_id: None,
            acct_id: "1000001".into(),
            acct_type: AccountType::Checking,
            dtstart: Some(day(2024, 1, 1)),
            dtend: None,
        }),
        Item::account_info(),
        Item::MfaChallenge { dtclient: utc(2024, 1, 5, 17, 0, 0) },
    ]
}

#[test]
fn requests_round_trip_in_every_version_and_style() {
    for version in [102, 103, 220] {
        let request = Request::new(version, signon(), all_items(), counter());
        let ranks: Vec<&str> = request
            .items
            .iter()
            .map(|i| match i.item {
                Item::MfaChallenge { .. } => "mfa",
                Item::AccountInfo { .. } => "signup",
                Item::BankStatement(_) => "bank",
                Item::CreditCardStatement(_) => "card",
                Item::InvestmentStatement(_) => "inv",
                Item::Profile { .. } => "prof",
            })
            .collect();
        assert_eq!(ranks, ["mfa", "signup", "bank", "card", "inv", "prof"]);
        for style in STYLES {
            let bytes = write(&request.to_ofx(), style);
            let back = parse_request(&bytes).unwrap();
            assert_eq!(back.header.version, version);
            let mut expected = request.clone();
            if version < 103 {
                expected.signon.client_uid = None;
            }
            assert_eq!(back.signon, expected.signon, "{version} {style:?}");
            assert_eq!(back.items, expected.items, "{version} {style:?}");
        }
    }
}

#[test]
fn request_layout_matches_the_specification() {
    let request = Request::new(102, signon(), vec![Item::account_info()], counter());
    let text = String::from_utf8(write(&request.to_ofx(), Style::default())).unwrap();
    assert!(text.starts_with("OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n"));
    assert!(text.contains(
        "<OFX><SIGNONMSGSRQV1><SONRQ><DTCLIENT>20240105170000.000[+0:UTC]<USERID>alice<USERPASS>s3cret&amp;&lt;pass&gt;<LANGUAGE>ENG<FI><ORG>FAKEBANK<FID>9999</FI><APPID>QWIN<APPVER>2700<MFACHALLENGEA>"
    ), "{text}");
    assert!(!text.contains("CLIENTUID"), "no CLIENTUID below 103");
    assert!(
        text.contains("<SIGNUPMSGSRQV1><ACCTINFOTRNRQ><TRNUID>trn-0001<ACCTINFORQ><DTACCTUP>19900101</ACCTINFORQ>")
    );
    let v103 = Request::new(103, signon(), vec![], counter());
    let text = String::from_utf8(write(&v103.to_ofx(), Style::default())).unwrap();
    assert!(text.contains("<CLIENTUID>6f1c2b9e-2a7c-4f0e-9a7d-3b1e5c0d8f42"));
}

#[test]
fn passwords_never_appear_in_debug_output() {
    let mut s = signon();
    s.auth_token = Some("tok-SECRET".into());
    let request = Request::new(220, s, all_items(), counter());
    let debug = format!("{request:?} {:#?}", request.signon);
    for secret in ["s3cret", "Rex", "tok-SECRET"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("alice") && debug.contains("MFA13"));
}

pub fn sample_response(version: u16) -> Response {
    let mut signon = SignonResponse::ok(utc(2024, 1, 6, 13, 30, 0));
    signon.fi_org = Some("FAKEBANK".into());
    signon.fi_fid = Some("9999".into());
    signon.mfa_challenges = vec![MfaChallenge { phrase_id: "MFA1".into(), label: Some("City of birth?".into()) }];
    signon.mfa_trnuid = Some("m-1".into());
    let mut r = Response::new(version, signon);
    let txn = StatementTransaction {
        trntype: TrnType::Debit,
        dtposted: day(2024, 1, 5),
        dtuser: Some(utc(2024, 1, 4, 12, 0, 0)),
        dtavail: None,
        amount: dec("-42.17"),
        fitid: "F1".into(),
        correct_fitid: None,
        correct_action: None,
        checknum: Some("100".into()),
        refnum: None,
        sic: Some("5812".into()),
        name: Some("Joe's Diner & Bar".into()),
        payee_name: None,
        memo: Some("CAFÉ <tip>".into()),
        currency: Some(Currency { symbol: "CAD".into(), rate: Some(dec("0.74")), original: false }),
    };
    let statement = Statement {
        currency: "USD".into(),
        account: AccountRef::Bank {
            bank_id: "123456789".into(),
            branch_id: Some("1".into()),
            acct_id: "1000001".into(),
            acct_type: AccountType::Checking,
        },
        transactions: Some(TransactionList {
            dtstart: Some(day(2024, 1, 1)),
            dtend: Some(day(2024, 1, 6)),
            transactions: vec![
                txn.clone(),
                StatementTransaction { fitid: "F2".into(), trntype: TrnType::Unknown("WEIRD".into()), ..txn.clone() },
            ],
        }),
        ledger_balance: Some(Balance { amount: dec("100.00"), dtasof: Some(utc(2024, 1, 6, 0, 0, 0)) }),
        available_balance: Some(Balance { amount: dec("90"), dtasof: None }),
    };
    r.bank_statements = vec![
        TrnRs { trnuid: "b-1".into(), status: Status::ok(), body: Some(statement.clone()) },
        TrnRs {
            trnuid: "b-2".into(),
            status: Status { code: 2003, severity: Severity::Error, message: Some("Account not found".into()) },
            body: None,
        },
    ];
    let card = Statement { account: AccountRef::CreditCard { acct_id: "4111".into() }, ..statement };
    r.card_statements = vec![TrnRs { trnuid: "c-1".into(), status: Status::ok(), body: Some(card) }];
    r.account_info = Some(TrnRs {
        trnuid: "a-1".into(),
        status: Status::ok(),
        body: Some(AccountInfoList {
            dtacctup: Some(day(2024, 1, 6)),
            accounts: vec![
                AccountInfo {
                    account: AccountRef::CreditCard { acct_id: "4111".into() },
                    desc: Some("Visa".into()),
                    phone: None,
                    svc_status: Some(SvcStatus::Active),
                    supports_download: false,
                },
                AccountInfo {
                    account: AccountRef::Investment { broker_id: "b.example".into(), acct_id: "Z1".into() },
                    desc: None,
                    phone: Some("555".into()),
                    svc_status: Some(SvcStatus::Available),
                    supports_download: true,
                },
            ],
        }),
    });
    r.profile = Some(TrnRs {
        trnuid: "p-1".into(),
        status: Status::ok(),
        body: Some(Profile {
            dtprofup: Some(day(2023, 12, 1)),
            fi_name: Some("Fake Bank".into()),
            signon_infos: vec![SignonInfo {
                realm: Some("DEFAULT".into()),
                client_uid_required: true,
                mfa_challenge_supported: true,
                mfa_challenge_first: false,
                auth_token_first: true,
                chgpin_first: false,
                rules: Some(PasswordRules {
                    min: 8,
                    max: 32,
                    char_type: "ALPHAORNUMERIC".into(),
                    case_sensitive: true,
                    special: false,
                    spaces: false,
                    pin_change: true,
                }),
            }],
            // A server's whole message sets (with their realm) and a plain one.
            message_sets: vec![
                MessageSet {
                    name: "BANKMSGSET".into(),
                    version: Some("1".into()),
                    url: Some("https://x.example/ofx".into()),
                    realm: Some("DEFAULT".into()),
                },
                MessageSet {
                    name: "INVSTMTMSGSET".into(),
                    version: Some("1".into()),
                    url: Some("https://x.example/ofx".into()),
                    realm: Some("DEFAULT".into()),
                },
                MessageSet {
                    name: "CREDITCARDMSGSET".into(),
                    version: Some("1".into()),
                    url: Some("https://x.example/ofx".into()),
                    realm: None,
                },
            ],
            address: Some(Address {
                addr1: "1 Main St".into(),
                city: "Springfield".into(),
                state: "IL".into(),
                postal_code: "62701".into(),
                country: "USA".into(),
            }),
        }),
    });
    r
}

#[test]
fn responses_round_trip_in_every_version_and_style() {
    for version in [102, 103, 220] {
        let response = sample_response(version);
        for style in STYLES {
            let bytes = write(&response.to_ofx(), style);
            let mut back = parse_response(&bytes).unwrap();
            assert_eq!(back.header.version, version);
            back.header = response.header.clone();
            assert_eq!(back, response, "{version} {style:?}");
        }
    }
}
