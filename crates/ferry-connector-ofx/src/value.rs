//! OFX leaf values: dates (`YYYYMMDD[HHMM[SS[.XXX]]][[±H[.MM]][:TZ]]`), amounts (always
//! `Decimal`, never floats) and `Y`/`N` flags.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::ParseError;

/// An OFX date. A date without a time stays a plain [`Date`], so a `DTPOSTED` of `20240105`
/// is the 5th wherever it is read, instead of shifting a day when moved between time zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfxDate {
    /// `YYYYMMDD` only.
    Date(Date),
    /// A date with a time; a missing zone is read as UTC, as other OFX clients do.
    DateTime(OffsetDateTime),
}

impl OfxDate {
    /// Parses the OFX date syntax; ISO dates such as `2024-01-05` are refused.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse_date(text.trim()).map_err(|reason| ParseError::invalid("date", text, reason))
    }

    /// The calendar date as written.
    pub fn date(&self) -> Date {
        match self {
            OfxDate::Date(d) => *d,
            OfxDate::DateTime(dt) => dt.date(),
        }
    }

    /// The instant, taking a plain date as midnight UTC.
    pub fn to_utc(&self) -> OffsetDateTime {
        match self {
            OfxDate::Date(d) => d.midnight().assume_utc(),
            // Saturates: a value built in Rust (not parsed) may lie past year 9999 in UTC.
            OfxDate::DateTime(dt) => dt.checked_to_offset(UtcOffset::UTC).unwrap_or(if dt.year() > 0 {
                Date::MAX.with_time(Time::MIDNIGHT).assume_utc()
            } else {
                Date::MIN.with_time(Time::MIDNIGHT).assume_utc()
            }),
        }
    }
}

impl From<OffsetDateTime> for OfxDate {
    fn from(value: OffsetDateTime) -> Self {
        OfxDate::DateTime(value)
    }
}

impl From<Date> for OfxDate {
    fn from(value: Date) -> Self {
        OfxDate::Date(value)
    }
}

/// Formats as `YYYYMMDD` for a plain date, and as `YYYYMMDDHHMMSS.XXX[+0:UTC]` in UTC for a
/// date-time (what servers accept most widely; sub-millisecond precision is dropped).
impl fmt::Display for OfxDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfxDate::Date(d) => write!(f, "{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()),
            OfxDate::DateTime(_) => {
                let u = self.to_utc();
                write!(
                    f,
                    "{:04}{:02}{:02}{:02}{:02}{:02}.{:03}[+0:UTC]",
                    u.year(),
                    u8::from(u.month()),
                    u.day(),
                    u.hour(),
                    u.minute(),
                    u.second(),
                    u.millisecond()
                )
            }
        }
    }
}

fn digits(text: &str, what: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} is not a number"));
    }
    text.parse().map_err(|_| format!("{what} out of range"))
}

fn parse_date(text: &str) -> Result<OfxDate, String> {
    let (stamp, zone) = match text.find('[') {
        Some(open) => {
            let inner = text[open + 1..].strip_suffix(']').ok_or("unterminated time zone")?;
            (&text[..open], Some(inner))
        }
        None => (text, None),
    };
    let (main, fraction) = match stamp.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (stamp, None),
    };
    if !main.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&main.len()) {
        return Err("expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS".into());
    }
    let year = digits(&main[0..4], "year")? as i32;
    let month = Month::try_from(digits(&main[4..6], "month")? as u8).map_err(|_| "month out of range")?;
    let date = Date::from_calendar_date(year, month, digits(&main[6..8], "day")? as u8)
        .map_err(|e| format!("invalid date: {e}"))?;
    if main.len() == 8 {
        if fraction.is_some() {
            return Err("fraction without a time".into());
        }
        return Ok(OfxDate::Date(date));
    }
    let hour = digits(&main[8..10], "hour")? as u8;
    let minute = digits(&main[10..12], "minute")? as u8;
    let second = if main.len() == 14 { digits(&main[12..14], "second")? as u8 } else { 0 };
    let nanos = match fraction {
        None => 0,
        Some(f) if f.len() <= 9 => {
            let value = digits(f, "fraction")?;
            value * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return Err("fraction too long".into()),
    };
    let time = Time::from_hms_nano(hour, minute, second, nanos).map_err(|e| format!("invalid time: {e}"))?;
    let offset = match zone {
        None => UtcOffset::UTC,
        Some(zone) => parse_zone(zone)?,
    };
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    // Every instant Ferry keeps must also exist in UTC (9999-12-31 at -12:00 does not).
    if at.checked_to_offset(UtcOffset::UTC).is_none() {
        return Err("the instant is out of range".into());
    }
    Ok(OfxDate::DateTime(at))
}

/// Parses `±H[.MM][:NAME]`, `:NAME`, `-:NAME` or `NAME`. A numeric offset wins over the name;
/// the name is used only when no digits are given (some brokers send `[-:EST]`).
fn parse_zone(zone: &str) -> Result<UtcOffset, String> {
    let (offset, name) = match zone.split_once(':') {
        Some((o, n)) => (o.trim(), Some(n.trim())),
        None if zone.trim().starts_with(|c: char| c.is_ascii_alphabetic()) => ("", Some(zone.trim())),
        None => (zone.trim(), None),
    };
    let (negative, number) = match offset.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, offset.strip_prefix('+').unwrap_or(offset)),
    };
    if number.is_empty() {
        return name
            .and_then(zone_offset_minutes)
            .map(minutes_offset)
            .unwrap_or_else(|| Err(format!("unknown time zone {zone:?}")));
    }
    let (hours, minutes) = match number.split_once('.') {
        Some((h, m)) => (digits(h, "zone hours")?, digits(m, "zone minutes")?),
        // Some servers write `-0500`; four digits are read as HHMM.
        // (ASCII only: the halves are byte slices, and a mutated file may put anything there.)
        None if number.len() == 4 && number.is_ascii() => {
            (digits(&number[..2], "zone hours")?, digits(&number[2..], "zone minutes")?)
        }
        None => (digits(number, "zone hours")?, 0),
    };
    if hours > 23 || minutes > 59 {
        return Err("zone offset out of range".into());
    }
    let total = (hours * 60 + minutes) as i32;
    minutes_offset(if negative { -total } else { total })
}

fn minutes_offset(minutes: i32) -> Result<UtcOffset, String> {
    UtcOffset::from_whole_seconds(minutes * 60).map_err(|e| format!("zone offset: {e}"))
}

/// Standard offsets of the zone names seen in OFX files, used only when no number is given.
fn zone_offset_minutes(name: &str) -> Option<i32> {
    let minutes = match name.to_ascii_uppercase().as_str() {
        "GMT" | "UTC" | "UT" | "Z" | "WET" => 0,
        "BST" | "CET" | "WEST" => 60,
        "CEST" | "EET" => 120,
        "EEST" | "MSK" => 180,
        "IST" => return Some(330),
        "JST" | "KST" => 540,
        "AEST" => 600,
        "AEDT" => 660,
        "NZST" => 720,
        "NZDT" => 780,
        "AST" => -240,
        "EDT" => -240,
        "EST" => -300,
        "CST" => -360,
        "CDT" => -300,
        "MST" => -420,
        "MDT" => -360,
        "PST" => -480,
        "PDT" => -420,
        "AKST" => -540,
        "AKDT" => -480,
        "HST" => -600,
        _ => return None,
    };
    Some(minutes)
}

/// Parses an OFX amount into a [`Decimal`].
///
/// Accepted: a leading `+`, spaces anywhere, and both separator conventions. With both `,` and
/// `.` present the last one is the decimal separator. A single `,` alone is a decimal separator
/// (the OFX specification allows it and non-US servers use it: `12,50`); several `,` alone are
/// thousands separators (`1,234,567`), and likewise several `.` alone.
pub fn parse_amount(text: &str) -> Result<Decimal, ParseError> {
    let invalid = |reason: &str| ParseError::invalid("amount", text, reason);
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\u{A0}').collect();
    let (negative, body) = match compact.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, compact.strip_prefix('+').unwrap_or(&compact)),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.') {
        return Err(invalid("not a number"));
    }
    if !body.chars().any(|c| c.is_ascii_digit()) {
        return Err(invalid("no digits"));
    }
    let commas = body.matches(',').count();
    let dots = body.matches('.').count();
    let decimal_sep = match (commas, dots) {
        (0, 0) => None,
        (_, 0) if commas == 1 => Some(','),
        (0, _) if dots == 1 => Some('.'),
        (_, 0) | (0, _) => None,
        _ => body.rfind([',', '.']).and_then(|i| body[i..].chars().next()),
    };
    let (int_part, frac_part) = match decimal_sep.and_then(|sep| body.rfind(sep)) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    if frac_part.contains([',', '.']) {
        return Err(invalid("separator after the decimal separator"));
    }
    let groups: Vec<&str> = int_part.split([',', '.']).collect();
    if groups.len() > 1 {
        // Thousands separators must be of one kind and group digits by three.
        let one_kind = !(int_part.contains(',') && int_part.contains('.'));
        let first_ok = (1..=3).contains(&groups[0].len());
        if !one_kind || !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(invalid("misplaced thousands separator"));
        }
    }
    let mut normal = String::with_capacity(body.len() + 2);
    if negative {
        normal.push('-');
    }
    let digits: String = groups.concat();
    normal.push_str(if digits.is_empty() { "0" } else { &digits });
    if !frac_part.is_empty() {
        normal.push('.');
        normal.push_str(frac_part);
    }
    Decimal::from_str(&normal).map_err(|e| invalid(&e.to_string()))
}

/// Parses an OFX `Y`/`N` flag.
pub fn parse_bool(text: &str) -> Result<bool, ParseError> {
    match text.trim() {
        "Y" | "y" => Ok(true),
        "N" | "n" => Ok(false),
        other => Err(ParseError::invalid("flag", other, "expected Y or N")),
    }
}

/// Writes an OFX flag.
pub fn format_bool(value: bool) -> &'static str {
    if value { "Y" } else { "N" }
}
