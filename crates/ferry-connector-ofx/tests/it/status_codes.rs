//! Every status code of protocols.md A7 read into a `Status`, with its meaning.

use ferry_connector_ofx::*;

#[test]
fn every_a7_code_parses_with_its_severity_and_meaning() {
    let table: &[(u32, &str, Severity, &str)] = &[
        (0, "INFO", Severity::Info, "success"),
        (15500, "ERROR", Severity::Error, "wrong user or password"),
        (15501, "ERROR", Severity::Error, "already in use"),
        (15502, "ERROR", Severity::Error, "lockout"),
        (15000, "ERROR", Severity::Error, "change user password"),
        (15507, "ERROR", Severity::Error, "PIN change"),
        (15510, "ERROR", Severity::Error, "CLIENTUID"),
        (15511, "ERROR", Severity::Error, "contact the institution"),
        (15512, "ERROR", Severity::Error, "AUTHTOKEN required"),
        (15513, "ERROR", Severity::Error, "AUTHTOKEN invalid"),
        (3000, "ERROR", Severity::Error, "challenge required"),
        (3001, "ERROR", Severity::Error, "answers incorrect"),
        (13504, "ERROR", Severity::Error, "FI block"),
        (15505, "ERROR", Severity::Error, "country"),
        (15506, "ERROR", Severity::Error, "empty signon"),
        (15508, "ERROR", Severity::Error, "not authorized"),
        (2000, "ERROR", Severity::Error, "general error"),
        (2021, "ERROR", Severity::Error, "unsupported OFX version"),
        (2003, "ERROR", Severity::Error, "account not found"),
        (2004, "ERROR", Severity::Error, "account closed"),
        (2005, "ERROR", Severity::Error, "account not authorized"),
        (2019, "ERROR", Severity::Error, "duplicate"),
        (2020, "ERROR", Severity::Error, "invalid date"),
        (2027, "ERROR", Severity::Error, "date range"),
        (12250, "WARN", Severity::Warn, "transaction download not supported"),
        (12251, "WARN", Severity::Warn, "position download"),
        (12252, "WARN", Severity::Warn, "positions for date"),
        (12253, "WARN", Severity::Warn, "open order"),
        (12254, "WARN", Severity::Warn, "balances download"),
    ];
    assert_eq!(table.len(), KNOWN_CODES.len());
    for (code, sev_text, severity, meaning) in table {
        for version in [102u16, 220] {
            let msg = format!("Message for {code}");
            let body = if version < 200 {
                format!(
                    "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>{code}<SEVERITY>{sev_text}<MESSAGE>{msg}</STATUS><DTSERVER>20240105</SONRS></SIGNONMSGSRSV1></OFX>"
                )
            } else {
                format!(
                    "<?xml version=\"1.0\"?><?OFX OFXHEADER=\"200\" VERSION=\"{version}\"?><OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>{code}</CODE><SEVERITY>{sev_text}</SEVERITY><MESSAGE>{msg}</MESSAGE></STATUS></SONRS></SIGNONMSGSRSV1></OFX>"
                )
            };
            let r = parse_response(body.as_bytes()).unwrap();
            assert_eq!(r.signon.status, Status { code: *code, severity: *severity, message: Some(msg.clone()) });
            assert!(describe(*code).contains(meaning), "{code}: {}", describe(*code));
        }
    }
    assert_eq!(describe(99999), "unknown status code");
}

#[test]
fn missing_severity_is_inferred_and_unknown_severity_refused() {
    let ok =
        parse_response(b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</STATUS></SONRS></SIGNONMSGSRSV1></OFX>").unwrap();
    assert_eq!(ok.signon.status.severity, Severity::Info);
    let err = parse_response(b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>2000</STATUS></SONRS></SIGNONMSGSRSV1></OFX>")
        .unwrap();
    assert_eq!(err.signon.status.severity, Severity::Error);
    let bad = parse_response(
        b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>FINE</STATUS></SONRS></SIGNONMSGSRSV1></OFX>",
    );
    assert!(matches!(bad, Err(ParseError::Invalid { .. })));
    let code = parse_response(b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>abc</STATUS></SONRS></SIGNONMSGSRSV1></OFX>");
    assert!(matches!(code, Err(ParseError::Invalid { .. })));
}
