//! The member connection status: MX's names and numeric ids (mx-behavior.md §2).

use std::fmt;
use std::str::FromStr;

macro_rules! statuses {
    ($($variant:ident = $id:literal),* $(,)?) => {
        /// Where a member stands with its institution.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ConnectionStatus { $($variant),* }

        impl ConnectionStatus {
            pub const ALL: &'static [ConnectionStatus] = &[$(ConnectionStatus::$variant),*];

            /// MX's numeric id (webhooks' `connection_status_id`, Nexus, the widget).
            pub fn id(self) -> i64 {
                match self { $(ConnectionStatus::$variant => $id),* }
            }

            /// MX's wire name, e.g. `CONNECTED`.
            pub fn as_str(self) -> &'static str {
                match self { $(ConnectionStatus::$variant => stringify!($variant)),* }
            }
        }

        impl FromStr for ConnectionStatus {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($variant) => Ok(ConnectionStatus::$variant),)*
                    other => Err(format!("unknown connection status `{other}`")),
                }
            }
        }
    };
}

statuses! {
    CREATED = 0, PREVENTED = 1, DENIED = 2, CHALLENGED = 3, REJECTED = 4, LOCKED = 5,
    CONNECTED = 6, IMPEDED = 7, RECONNECTED = 8, DEGRADED = 9, DISCONNECTED = 10,
    DISCONTINUED = 11, CLOSED = 12, DELAYED = 13, FAILED = 14, UPDATED = 15, DISABLED = 16,
    IMPORTED = 17, RESUMED = 18, EXPIRED = 19, IMPAIRED = 20, PENDING = 21,
}

/// The connection-status state machine: what each status means for the end user, for jobs and
/// for background aggregation, and the message shown beside it. Every rule about statuses lives
/// here, so webhooks, the scheduler and the API cannot disagree.
impl ConnectionStatus {
    /// The message shown beside the status; `None` where there is nothing to say.
    pub fn message(self) -> Option<&'static str> {
        use ConnectionStatus::*;
        Some(match self {
            CREATED => "Connection has been created and is waiting to be aggregated.",
            UPDATED => "Credentials were updated and the connection is waiting to be aggregated.",
            PENDING => "Waiting for the end user to complete OAuth.",
            CONNECTED => "Connected to the institution.",
            CHALLENGED => "The institution asked a security question; answer it to continue.",
            RESUMED => "The answers were sent to the institution.",
            DENIED => "The credentials were not accepted by the institution.",
            PREVENTED => "The credentials were refused several times; update them to try again.",
            REJECTED => "The answer to the security question was not accepted.",
            LOCKED => "The institution has locked this account; contact the institution.",
            IMPEDED => "The institution needs the user to act on its website before connecting.",
            DEGRADED => "The institution is having trouble; Ferry will try again later.",
            DELAYED => "Connecting is taking longer than usual; check back later.",
            DISCONNECTED => "The connection has been failing for some time.",
            DISCONTINUED => "Connections to this institution are no longer supported.",
            CLOSED => "The connection was closed at the institution.",
            FAILED => "The institution returned an error; try again later.",
            EXPIRED => "The security question was not answered in time.",
            IMPAIRED => "The credentials are incomplete; re-enter them.",
            RECONNECTED | DISABLED | IMPORTED => return None,
        })
    }

    /// The status needs the end user to act (answer MFA, fix credentials, go to the bank):
    /// entering it sends a CONNECTION_STATUS webhook.
    pub fn needs_user(self) -> bool {
        use ConnectionStatus::*;
        matches!(self, CHALLENGED | DENIED | EXPIRED | IMPAIRED | IMPEDED | LOCKED | PREVENTED | REJECTED)
    }

    /// Background aggregation may run on a member in this status: not one that waits for the
    /// end user, and not one that will never change by aggregating again.
    pub fn allows_background(self) -> bool {
        use ConnectionStatus::*;
        !self.needs_user() && !matches!(self, PENDING | CLOSED | DISCONTINUED | DISABLED)
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        assert_eq!(ConnectionStatus::ALL.len(), 22);
        assert_eq!(ConnectionStatus::ALL.iter().filter(|s| s.needs_user()).count(), 8);
        assert_eq!(ConnectionStatus::ALL.iter().filter(|s| !s.allows_background()).count(), 12);
        for (i, s) in ConnectionStatus::ALL.iter().enumerate() {
            assert_eq!(s.id(), i as i64);
            assert_eq!(s.as_str().parse::<ConnectionStatus>(), Ok(*s));
        }
    }
}
