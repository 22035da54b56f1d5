//! The one error type of this crate: everything that can go wrong while reading OFX bytes.

use thiserror::Error;

/// Why a document could not be read as OFX.
///
/// Every variant carries enough context (a byte offset or an element path) for a log line to say
/// where the document went wrong without logging the document itself, which may hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The bytes do not start with an OFX header or an `<OFX>` element (an HTML error page, say).
    #[error("not an OFX document: {0}")]
    NotOfx(String),
    /// The header is present but malformed.
    #[error("malformed OFX header: {0}")]
    Header(String),
    /// The header names a version this crate does not speak.
    #[error("unsupported OFX version {0:?} (supported: 102, 103, 151, 160, 200-203, 210, 211, 220)")]
    UnsupportedVersion(String),
    /// The header names a character set or encoding this crate cannot decode.
    #[error("unsupported character set {0:?}")]
    Charset(String),
    /// The body is not well-formed enough to build a tree.
    #[error("syntax error at byte {offset}: {message}")]
    Syntax {
        /// Offset into the decoded body text where the problem was seen.
        offset: usize,
        /// What was wrong there.
        message: String,
    },
    /// Elements are nested deeper than [`crate::MAX_DEPTH`].
    #[error("elements nested deeper than {0} levels")]
    TooDeep(usize),
    /// A required element is absent.
    #[error("missing required element {0}")]
    Missing(String),
    /// An element is present but its value is not valid for its type.
    #[error("invalid value {value:?} in {path}: {reason}")]
    Invalid {
        /// Where the value was found.
        path: String,
        /// The offending text, cut to a short prefix.
        value: String,
        /// Why it was refused.
        reason: String,
    },
}

impl ParseError {
    /// Builds an [`ParseError::Invalid`] while cutting the echoed value, so that a huge garbage
    /// field cannot blow up a log line.
    pub fn invalid(path: &str, value: &str, reason: impl Into<String>) -> Self {
        let value: String = value.chars().take(64).collect();
        ParseError::Invalid { path: path.to_owned(), value, reason: reason.into() }
    }
}
