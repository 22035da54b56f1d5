//! The one error type at the service boundary; each API dialect maps it to its status codes.

use ferry_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong as a whole (not one field of it); the message says why.
    #[error("{0}")]
    BadRequest(String),
    /// A field of the input is wrong. `field` names it the way the core knows it (`member.id`,
    /// `member.institution`, `member.credentials`, ...), `at` locates the problem inside it
    /// (`[2].guid`, or empty), `problem` says what is wrong. Each dialect names the field in
    /// its own words when it renders the error (Nexus's `member.external_guid` is the core's
    /// `member.id`).
    #[error("{field}{at} {problem}")]
    Invalid { field: &'static str, at: String, problem: String },
    #[error("the client id and API key do not match")]
    Unauthorized,
    /// No such object for this client. The payload names the kind of object.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An object with these attributes exists; `guid` names it when the caller may see it.
    #[error("{message}")]
    Conflict { message: String, guid: Option<String> },
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Error::NotFound(what),
            // The table's name stays inside: callers that can say more map conflicts themselves.
            StoreError::Conflict(_) => {
                Error::Conflict { message: "a conflicting record already exists".into(), guid: None }
            }
            other => Error::Store(other),
        }
    }
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(message.into())
    }

    /// `field` is wrong: `problem` (e.g. "is required").
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Error::Invalid { field, at: String::new(), problem: problem.into() }
    }

    /// Part `at` of `field` (e.g. `[2].guid`) is wrong: `problem`.
    pub fn invalid_at(field: &'static str, at: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Invalid { field, at: at.into(), problem: problem.into() }
    }

    /// True for errors that are the server's fault (logged with their cause, answered with 500).
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Internal(_) | Error::Store(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
