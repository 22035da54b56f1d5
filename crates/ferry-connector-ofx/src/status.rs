//! `STATUS` aggregates and the meaning of the codes a client meets (protocols.md A7). Mapping a
//! code to a member's connection status is the caller's business; this file only reads them.

use crate::error::ParseError;
use crate::tree::Element;

/// How serious a status is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `INFO`: the request succeeded (possibly with a note).
    Info,
    /// `WARN`: it succeeded in part.
    Warn,
    /// `ERROR`: it failed.
    Error,
}

impl Severity {
    /// The OFX spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        }
    }
}

/// A `STATUS{CODE, SEVERITY, MESSAGE?}` aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The numeric code; 0 is success.
    pub code: u32,
    /// The server's severity.
    pub severity: Severity,
    /// Free text from the server, often the only explanation a user gets.
    pub message: Option<String>,
}

impl Status {
    /// Success: code 0, `INFO`.
    pub fn ok() -> Self {
        Status { code: 0, severity: Severity::Info, message: None }
    }

    /// True for code 0.
    pub fn is_success(&self) -> bool {
        self.code == 0
    }

    /// Reads a `STATUS` element. A missing `SEVERITY` is inferred from the code (0 is `INFO`,
    /// anything else `ERROR`) because the code is what decides; an unknown one is refused.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        let code_text = el.text("CODE").ok_or_else(|| ParseError::Missing("STATUS/CODE".into()))?;
        let code = code_text
            .trim()
            .parse::<u32>()
            .map_err(|_| ParseError::invalid("STATUS/CODE", code_text, "not a status code"))?;
        let severity = match el.text("SEVERITY").map(str::trim) {
            Some("INFO") => Severity::Info,
            Some("WARN") => Severity::Warn,
            Some("ERROR") => Severity::Error,
            Some(other) => return Err(ParseError::invalid("STATUS/SEVERITY", other, "expected INFO, WARN or ERROR")),
            None if code == 0 => Severity::Info,
            None => Severity::Error,
        };
        Ok(Status { code, severity, message: el.text("MESSAGE").map(str::to_owned) })
    }

    /// Writes the `STATUS` element.
    pub fn to_element(&self) -> Element {
        let mut children =
            vec![Element::leaf("CODE", self.code.to_string()), Element::leaf("SEVERITY", self.severity.as_str())];
        if let Some(m) = &self.message {
            children.push(Element::leaf("MESSAGE", m.clone()));
        }
        Element::aggregate("STATUS", children)
    }

    /// The meaning of this status's code; see [`describe`].
    pub fn describe(&self) -> &'static str {
        describe(self.code)
    }
}

/// Every status code listed in protocols.md A7, with its meaning.
pub const KNOWN_CODES: &[(u32, &str)] = &[
    (0, "success"),
    (2000, "general error"),
    (2003, "account not found"),
    (2004, "account closed"),
    (2005, "account not authorized"),
    (2019, "duplicate request (TRNUID already used)"),
    (2020, "invalid date"),
    (2021, "unsupported OFX version"),
    (2027, "invalid date range"),
    (3000, "multi-factor authentication challenge required"),
    (3001, "multi-factor authentication answers incorrect"),
    (12250, "investment transaction download not supported"),
    (12251, "investment position download not supported"),
    (12252, "positions for date requested not supported"),
    (12253, "investment open order download not supported"),
    (12254, "investment balances download not supported"),
    (13504, "invalid FI block (ORG/FID)"),
    (15000, "must change user password"),
    (15500, "signon invalid: wrong user or password, or not enrolled in Direct Connect"),
    (15501, "customer account already in use"),
    (15502, "USERPASS lockout"),
    (15505, "country system not supported"),
    (15506, "empty signon not supported"),
    (15507, "signon invalid without supporting PIN change request"),
    (15508, "user not authorized"),
    (15510, "CLIENTUID not registered (approve the new client at the institution)"),
    (15511, "multi-factor authentication error, contact the institution"),
    (15512, "AUTHTOKEN required"),
    (15513, "AUTHTOKEN invalid"),
];

/// The meaning of a status code, or `"unknown status code"`.
pub fn describe(code: u32) -> &'static str {
    KNOWN_CODES.iter().find(|(c, _)| *c == code).map(|(_, text)| *text).unwrap_or("unknown status code")
}
