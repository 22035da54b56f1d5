//! Property tests, bounded to a few seconds: no input panics, trees and values round-trip.

use ferry_connector_ofx::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::golden;
use crate::roundtrip::STYLES;

const GOLDEN: [&str; 10] = [
    "bank_v102_sgml.ofx",
    "card_v220_xml.ofx",
    "acctinfo_v103.ofx",
    "signon_15500_v102.ofx",
    "signon_3000_mfa_v220.ofx",
    "oneline_header_v102.ofx",
    "missing_compression_v160.ofx",
    "invstmt_v220.ofx",
    "profile_v102.ofx",
    "html_error.html",
];

/// Runs every entry point; whatever parses must also survive write → parse unchanged.
fn run_all(bytes: &[u8]) {
    let _ = parse_response(bytes);
    let _ = parse_request(bytes);
    if let Ok(ofx) = parse(bytes) {
        let written = write(&ofx, Style { closed_leaves: true, pretty: false });
        assert_eq!(parse(&written).map(|o| o.root), Ok(ofx.root));
    }
}

/// Fragments that steer random documents into the reader's interesting corners.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<OFX>".to_string()),
        Just("</OFX>".to_string()),
        Just("<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0".to_string()),
        Just("</STATUS>".to_string()),
        Just("<STMTTRN>".to_string()),
        Just("</STMTTRN>".to_string()),
        Just("<TRNAMT>".to_string()),
        Just("<DTPOSTED>".to_string()),
        Just("&amp;".to_string()),
        Just("&#x".to_string()),
        Just("&".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("</".to_string()),
        Just("/>".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<![CDATA[".to_string()),
        Just("]]>".to_string()),
        Just("<?".to_string()),
        Just("[-5:EST]".to_string()),
        "[0-9A-Z.,+ -]{0,8}",
        "\\PC{0,4}",
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, u8),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Flip(i, b) => {
            let i = i % bytes.len();
            bytes[i] = b;
        }
        Mutation::Delete(i, n) => {
            let i = i % bytes.len();
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Insert(i, b) => {
            let i = i % (bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Duplicate(i, n) => {
            let i = i % bytes.len();
            let end = (i + n).min(bytes.len());
            let copy: Vec<u8> = bytes[i..end].to_vec();
            bytes.splice(i..i, copy);
        }
    }
}

/// Trees the reader can tell apart: aggregates are never empty, and leaf names differ from
/// aggregate names (without a DTD, `<A><A>x</A>` is ambiguous in SGML).
fn tree() -> impl Strategy<Value = Element> {
    let text = "[a-zA-Z0-9 &<>;'\"#éÉ€東]{0,12}".prop_map(|t| t.trim().to_string());
    let leaf = (0u8..6, text).prop_map(|(n, t)| Element::leaf(format!("L{n}"), t));
    leaf.prop_recursive(5, 64, 6, |inner| {
        (0u8..4, prop::collection::vec(inner, 1..6)).prop_map(|(n, c)| Element::aggregate(format!("AGG{n}"), c))
    })
}

fn offset_date() -> impl Strategy<Value = OfxDate> {
    (1900i32..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60, 0u16..1000, -720i32..=840).prop_map(
        |(y, mo, d, h, mi, s, ms, off)| {
            let date = time::Date::from_calendar_date(y, time::Month::try_from(mo).unwrap(), d).unwrap();
            let t = time::Time::from_hms_milli(h, mi, s, ms).unwrap();
            let offset = time::UtcOffset::from_whole_seconds(off * 60).unwrap();
            OfxDate::DateTime(date.with_time(t).assume_offset(offset))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run_all(&bytes);
    }

    #[test]
    fn tag_soup_never_panics(parts in prop::collection::vec(fragment(), 0..64), v2 in any::<bool>()) {
        let header = if v2 {
            "<?xml version=\"1.0\"?><?OFX OFXHEADER=\"200\" VERSION=\"220\"?>"
        } else {
            "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n\r\n"
        };
        let doc = format!("{header}<OFX>{}", parts.concat());
        run_all(doc.as_bytes());
    }

    #[test]
    fn mutated_golden_files_never_panic(file in 0..GOLDEN.len(), muts in prop::collection::vec(mutation(), 1..8)) {
        let mut bytes = golden(GOLDEN[file]);
        for m in &muts {
            apply(&mut bytes, m);
        }
        run_all(&bytes);
    }

    #[test]
    fn amounts_round_trip(mantissa in any::<i64>(), scale in 0u32..8) {
        let value = Decimal::new(mantissa, scale);
        prop_assert_eq!(parse_amount(&value.to_string()).unwrap(), value);
        // The same amount with thousands separators.
        let text = value.abs().to_string();
        let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if value.is_sign_negative() && !value.is_zero() { "-" } else { "+" };
        let formatted = match frac { Some(f) => format!("{sign}{grouped}.{f}"), None => format!("{sign}{grouped}") };
        // A lone comma is read as a decimal separator, so only test grouping when it is unambiguous.
        if frac.is_some() || grouped.matches(',').count() != 1 {
            prop_assert_eq!(parse_amount(&formatted).unwrap(), value, "{}", formatted);
        }
    }

    #[test]
    fn dates_round_trip(date in offset_date()) {
        prop_assert_eq!(OfxDate::parse(&date.to_string()).unwrap(), date);
        let OfxDate::DateTime(dt) = date else { unreachable!() };
        // The same instant written in its own zone with an OFX offset.
        let off = dt.offset().whole_minutes();
        let (sign, abs) = if off < 0 { ('-', -off) } else { ('+', off) };
        let text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}.{:03}[{sign}{}.{:02}:XYZ]",
            dt.year(), u8::from(dt.month()), dt.day(), dt.hour(), dt.minute(), dt.second(), dt.millisecond(),
            abs / 60, abs % 60
        );
        prop_assert_eq!(OfxDate::parse(&text).unwrap(), date, "{}", text);
        let plain = OfxDate::Date(dt.date());
        prop_assert_eq!(OfxDate::parse(&plain.to_string()).unwrap(), plain);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_trees_round_trip_in_every_style(children in prop::collection::vec(tree(), 1..6), version in prop::sample::select(vec![102u16, 103, 160, 200, 211, 220])) {
        let ofx = Ofx { header: Header::new(version), root: Element::aggregate("OFX", children) };
        for style in STYLES {
            let bytes = write(&ofx, style);
            let back = parse(&bytes).unwrap();
            prop_assert_eq!(&back.root, &ofx.root, "{:?}", style);
            prop_assert_eq!(back.header.version, version);
        }
    }

    #[test]
    fn generated_responses_survive_mutation(version in prop::sample::select(vec![102u16, 220]), muts in prop::collection::vec(mutation(), 1..6)) {
        let mut bytes = write(&crate::roundtrip::sample_response(version).to_ofx(), Style::default());
        for m in &muts {
            apply(&mut bytes, m);
        }
        run_all(&bytes);
    }
}
