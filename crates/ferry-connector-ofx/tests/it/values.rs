//! Dates and amounts: the formats of protocols.md A9 and the separators real servers send.

use ferry_connector_ofx::*;

use crate::{day, dec, utc};

#[test]
fn dates_in_every_documented_form() {
    let cases = [
        ("20240105120000.000[-5:EST]", utc(2024, 1, 5, 17, 0, 0)),
        ("20240105120000[-5:EST]", utc(2024, 1, 5, 17, 0, 0)),
        ("20240105120000[+5.30:IST]", utc(2024, 1, 5, 6, 30, 0)),
        ("20240105120000[-:EST]", utc(2024, 1, 5, 17, 0, 0)),
        ("20240105120000[-:PDT]", utc(2024, 1, 5, 19, 0, 0)),
        ("20240105120000[0:GMT]", utc(2024, 1, 5, 12, 0, 0)),
        ("20240105120000[+0:UTC]", utc(2024, 1, 5, 12, 0, 0)),
        ("20240105120000[-0500:EST]", utc(2024, 1, 5, 17, 0, 0)),
        ("20240105120000[EST]", utc(2024, 1, 5, 17, 0, 0)),
        ("20240105120000[-5]", utc(2024, 1, 5, 17, 0, 0)),
        ("202401051200", utc(2024, 1, 5, 12, 0, 0)),
        ("20240105120000", utc(2024, 1, 5, 12, 0, 0)),
        ("20240105", day(2024, 1, 5)),
        ("20240105[-5:EST]", day(2024, 1, 5)),
        (" 20240229 ", day(2024, 2, 29)),
    ];
    for (text, expected) in cases {
        assert_eq!(OfxDate::parse(text).unwrap(), expected, "{text}");
    }
    let ms = OfxDate::parse("20240105120000.250").unwrap();
    assert_eq!(ms.to_utc().millisecond(), 250);
}

#[test]
fn malformed_dates_are_refused() {
    for text in [
        "2024-01-05",
        "",
        "2024010",
        "20241305",
        "20230229",
        "2024010512",
        "20240105250000",
        "20240105120000[-5:EST",
        "20240105120000[:XYZ]",
        "20240105120000[+99:X]",
        "20240105.5",
        "2024010512000O",
        "20240105120000.1234567890",
        // Four bytes of zone that are not four characters (found by the mutation property).
        "20240105120000[\u{fffd}4:EST]",
        "20240105120000[-\u{e9}12]",
    ] {
        assert!(OfxDate::parse(text).is_err(), "{text:?} should be refused");
    }
}

#[test]
fn dates_format_for_requests() {
    assert_eq!(utc(2024, 1, 5, 17, 0, 0).to_string(), "20240105170000.000[+0:UTC]");
    assert_eq!(day(2024, 1, 5).to_string(), "20240105");
    let est = OfxDate::parse("20240105120000.125[-5:EST]").unwrap();
    assert_eq!(est.to_string(), "20240105170000.125[+0:UTC]");
    assert_eq!(OfxDate::parse(&est.to_string()).unwrap(), est);
    assert_eq!(est.date(), time::macros::date!(2024 - 01 - 05));
}

#[test]
fn amounts_with_signs_separators_and_spaces() {
    let cases = [
        ("12.34", "12.34"),
        ("-12.34", "-12.34"),
        ("+12.34", "12.34"),
        ("1,234.56", "1234.56"),
        ("-1,234,567.89", "-1234567.89"),
        ("12,50", "12.50"),
        ("1.234,56", "1234.56"),
        ("1.234.567", "1234567"),
        (" 42 ", "42"),
        ("1 234,56", "1234.56"),
        (".5", "0.5"),
        ("-.5", "-0.5"),
        ("0", "0"),
        ("7.", "7"),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_amount(text).unwrap(), dec(expected), "{text}");
    }
}

#[test]
fn garbage_amounts_are_refused() {
    for text in ["", "abc", "12.3.4,5", "1e5", "--5", "$5", ",", ".", "+", "12,34,5.6.7", "5-", "1.2,3"] {
        assert!(parse_amount(text).is_err(), "{text:?} should be refused");
    }
}

#[test]
fn instants_that_do_not_exist_in_utc_are_refused() {
    // The last second of 9999 twelve hours west of UTC is in the year 10000 in UTC.
    assert!(OfxDate::parse("99991231235959[-12:X]").is_err());
    let last = OfxDate::parse("99991231235959[+0:UTC]").unwrap();
    assert_eq!(last.to_string(), "99991231235959.000[+0:UTC]");
}
