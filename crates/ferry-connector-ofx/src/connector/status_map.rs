//! OFX status codes as member connection statuses (protocols.md A7), each with a message that
//! tells the end user what to do. The server's own MESSAGE is added when it has one: it is
//! often the only explanation a bank gives (a CLIENTUID approval code, say).

use ferry_connector::{Failure, Refusal};

use crate::Status;

/// What a sign-on status means: `None` for success (0), otherwise the refusal.
pub(crate) fn signon(status: &Status) -> Option<Refusal> {
    let (failure, text) = match status.code {
        0 => return None,
        15500 => (
            Failure::Denied,
            "The bank refused the user ID or password. Many banks need a separate Direct Connect (Quicken) \
             enrollment and password: check with your bank, then update your credentials.",
        ),
        15501 => (Failure::Delayed, "The bank says the account is in use. Ferry will try again later."),
        15502 => (
            Failure::Locked,
            "The bank has locked this login after too many attempts. Contact your bank to unlock it, then update \
             your credentials.",
        ),
        15000 | 15507 => (
            Failure::Impeded,
            "The bank requires a new password. Change it at your bank, then update your credentials here.",
        ),
        15510 => (
            Failure::Impeded,
            "Authorize this client at your bank: it asks you to approve new software (often with a code it sends \
             you) before it answers. Approve it, then aggregate again.",
        ),
        15511 => (Failure::Impeded, "The bank's security check failed. Contact your bank."),
        15508 => (Failure::Impeded, "The bank says this login may not use Direct Connect. Contact your bank."),
        3001 | 15513 => (Failure::Rejected, "The answers were not accepted. Try again."),
        13504 | 15505 | 15506 => (
            Failure::Failed,
            "The bank rejected Ferry's request (the institution's settings may be wrong). The operator should \
             check its ORG and FID.",
        ),
        2021 => (Failure::Failed, "The bank does not support this OFX version."),
        2000 => (Failure::Failed, "The bank reported a general error. Ferry will try again later."),
        _ => (Failure::Failed, "The bank refused the request."),
    };
    Some(Refusal::new(failure, with_server_message(text, status)))
}

/// What a statement's status means for its account: `Ok(None)` for data, `Ok(Some(closed))`
/// for an account to leave out (closed when 2004), `Err` for a refusal of the whole member.
pub(crate) fn statement(status: &Status) -> Result<Option<bool>, Refusal> {
    match status.code {
        0 => Ok(None),
        // Warnings of investment parts the server does not support: the rest is good.
        12250..=12254 => Ok(None),
        2003 => Ok(Some(false)),
        2004 => Ok(Some(true)),
        2005 => Err(Refusal::new(
            Failure::Impeded,
            with_server_message(
                "The bank says this login may not download one of its accounts. Contact your bank.",
                status,
            ),
        )),
        _ => match signon(status) {
            Some(r) => Err(r),
            None => Ok(None),
        },
    }
}

fn with_server_message(text: &str, status: &Status) -> String {
    match status.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => {
            let m: String = m.chars().filter(|c| !c.is_control()).take(200).collect();
            format!("{text} (The bank says: {m})")
        }
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn status(code: u32) -> Status {
        Status { code, severity: if code == 0 { Severity::Info } else { Severity::Error }, message: None }
    }

    #[test]
    fn every_row_of_the_status_table() {
        let rows: &[(u32, Option<Failure>)] = &[
            (0, None),
            (15500, Some(Failure::Denied)),
            (15501, Some(Failure::Delayed)),
            (15502, Some(Failure::Locked)),
            (15000, Some(Failure::Impeded)),
            (15507, Some(Failure::Impeded)),
            (15510, Some(Failure::Impeded)),
            (15511, Some(Failure::Impeded)),
            (15508, Some(Failure::Impeded)),
            (15513, Some(Failure::Rejected)),
            (3001, Some(Failure::Rejected)),
            (13504, Some(Failure::Failed)),
            (15505, Some(Failure::Failed)),
            (15506, Some(Failure::Failed)),
            (2000, Some(Failure::Failed)),
            (2021, Some(Failure::Failed)),
            (99999, Some(Failure::Failed)),
        ];
        for (code, want) in rows {
            assert_eq!(signon(&status(*code)).map(|r| r.failure), *want, "{code}");
        }
        // 3000 and 15512 are challenges, handled before this table; 15510 asks to authorize.
        assert!(signon(&status(15510)).is_some_and(|r| r.message.contains("Authorize this client at your bank")));
        let told = Status { code: 15510, severity: Severity::Error, message: Some("Use code 123456".into()) };
        assert!(signon(&told).is_some_and(|r| r.message.contains("Use code 123456")));
    }

    #[test]
    fn statement_statuses() {
        assert_eq!(statement(&status(0)), Ok(None));
        assert_eq!(statement(&status(12251)), Ok(None));
        assert_eq!(statement(&status(2003)), Ok(Some(false)));
        assert_eq!(statement(&status(2004)), Ok(Some(true)));
        assert_eq!(statement(&status(2005)).map_err(|r| r.failure), Err(Failure::Impeded));
        assert_eq!(statement(&status(15500)).map_err(|r| r.failure), Err(Failure::Denied));
    }
}
