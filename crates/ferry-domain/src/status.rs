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

impl ConnectionStatus {
    /// The message MX shows beside the status; `None` where MX leaves it empty.
    pub fn default_message(self) -> Option<&'static str> {
        use ConnectionStatus::*;
        Some(match self {
            CREATED => "Connection has been created and is waiting to be aggregated.",
            UPDATED => "Credentials were updated and the connection is waiting to be aggregated.",
            PENDING => "Waiting for the end user to complete OAuth.",
            CONNECTED => "Connected to the institution.",
            _ => return None,
        })
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
        for (i, s) in ConnectionStatus::ALL.iter().enumerate() {
            assert_eq!(s.id(), i as i64);
            assert_eq!(s.as_str().parse::<ConnectionStatus>(), Ok(*s));
        }
    }
}
