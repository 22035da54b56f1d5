//! The crate's one integration-test binary: golden files, values, the tree reader, round trips,
//! status codes and property tests.

// In tests a panic is the failure report, so unwrapping is the clearest way to say "must work".
#![allow(clippy::unwrap_used)]

mod golden;
mod golden_invest;
mod props;
mod roundtrip;
mod status_codes;
mod tree;
mod values;

use std::path::PathBuf;

/// Reads a file of `tests/golden/`.
pub fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Builds a UTC instant for expectations.
pub fn utc(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> ferry_connector_ofx::OfxDate {
    let month = time::Month::try_from(mo).unwrap();
    let date = time::Date::from_calendar_date(y, month, d).unwrap();
    ferry_connector_ofx::OfxDate::DateTime(date.with_hms(h, mi, s).unwrap().assume_utc())
}

/// Builds a plain date for expectations.
pub fn day(y: i32, mo: u8, d: u8) -> ferry_connector_ofx::OfxDate {
    let month = time::Month::try_from(mo).unwrap();
    ferry_connector_ofx::OfxDate::Date(time::Date::from_calendar_date(y, month, d).unwrap())
}

/// A decimal from its text.
pub fn dec(text: &str) -> rust_decimal::Decimal {
    text.parse().unwrap()
}
