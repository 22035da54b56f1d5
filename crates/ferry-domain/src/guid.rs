//! GUID newtypes. MX identifiers are prefixed strings (`USR-…`, `MBR-…`); a value that does not
//! carry its type's prefix is not a GUID of that type, which is also how v20250224 paths tell a
//! GUID from a partner-defined `id`.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} guid")]
pub struct GuidError {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! guid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Accepts `PREFIX` followed by 1–64 characters of `[A-Za-z0-9-]`.
            pub fn parse(value: &str) -> Result<Self, GuidError> {
                if Self::looks_like(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(GuidError { kind: $kind, value: value.to_owned() })
                }
            }

            /// True when `value` has this type's prefix and shape.
            pub fn looks_like(value: &str) -> bool {
                match value.strip_prefix($prefix) {
                    Some(rest) => {
                        !rest.is_empty()
                            && rest.len() <= 64
                            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    }
                    None => false,
                }
            }

            /// Builds a fresh GUID from a random UUID (formatted the way MX formats its own).
            pub fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(format!("{}{}", $prefix, uuid.hyphenated()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = GuidError;
            fn from_str(value: &str) -> Result<Self, GuidError> {
                Self::parse(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

guid_type!(
    /// A user of a client's app.
    UserGuid, "USR-", "user"
);
guid_type!(
    /// A member: one user's connection to one institution.
    MemberGuid, "MBR-", "member"
);
guid_type!(
    /// An institution of the catalog.
    InstitutionGuid, "INS-", "institution"
);
guid_type!(
    /// A credential field of an institution (also used for MFA challenges, as MX does).
    CredentialGuid, "CRD-", "credential"
);
guid_type!(
    /// An aggregation job.
    JobGuid, "JOB-", "job"
);
guid_type!(
    /// An account a member brought in.
    AccountGuid, "ACT-", "account"
);
guid_type!(
    /// A transaction of an account.
    TransactionGuid, "TRN-", "transaction"
);
guid_type!(
    /// A client (tenant): the `client_id` half of HTTP Basic auth.
    ClientId, "CLT-", "client"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_its_own_prefix() {
        assert!(UserGuid::parse("USR-123e4567-e89b-12d3-a456-426614174000").is_ok());
        assert!(UserGuid::parse("MBR-123").is_err());
        assert!(UserGuid::parse("USR-").is_err());
        assert!(UserGuid::parse("USR-a b").is_err());
        assert!(UserGuid::parse("partner-id").is_err());
    }
}
