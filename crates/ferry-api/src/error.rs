//! `ApiError`: the MX-style JSON error body, `{"error": {"message": ...}}`, and the one mapping
//! from service errors to status codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_core::Error;
use serde_json::json;

/// An error answer. The body it renders is the Platform API's; the dialects that shape errors
/// otherwise (Nexus's body, Atrium's and Nexus's field names) find the error itself in the
/// response's extensions and render it their own way, never by parsing this body back.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// The message in the Platform API's words.
    pub message: String,
    /// The existing object's guid, on a duplicate.
    pub guid: Option<String>,
    /// The field at fault, as the core names it, for dialects that name it otherwise.
    pub field: Option<FieldProblem>,
    /// Seconds to wait, on a 429 (its `Retry-After`).
    pub retry_after: Option<u64>,
}

/// A wrong field of the input: the core's name for it, where in it, and what is wrong.
#[derive(Debug, Clone)]
pub struct FieldProblem {
    pub field: &'static str,
    pub at: String,
    pub problem: String,
}

/// The Platform API's name for a field the core names `field`.
pub fn platform_field(field: &'static str) -> &'static str {
    match field {
        "member.institution" => "member.institution_code",
        other => other,
    }
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), guid: None, field: None, retry_after: None }
    }

    /// The message with the field named by `names` (a dialect's words for the core's fields).
    pub fn message_in(&self, names: fn(&'static str) -> &'static str) -> String {
        match &self.field {
            Some(f) => format!("{}{} {}", names(f.field), f.at, f.problem),
            None => self.message.clone(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadRequest(m) => ApiError::bad_request(m),
            Error::Invalid { field, at, problem } => {
                let mut e = ApiError::bad_request(format!("{}{at} {problem}", platform_field(field)));
                e.field = Some(FieldProblem { field, at, problem });
                e
            }
            Error::Unauthorized => ApiError::new(StatusCode::UNAUTHORIZED, "the client id and API key do not match"),
            Error::NotFound(what) => ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found")),
            Error::Conflict { message, guid } => {
                ApiError { status: StatusCode::CONFLICT, message, guid, field: None, retry_after: None }
            }
            internal => {
                // The cause goes to the log; the caller learns nothing about the internals.
                tracing::error!(error = %internal, "request failed");
                ApiError::internal("the server hit an unexpected condition; try again later")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let typed = self.clone();
        let mut error = json!({ "message": self.message, "status": self.status.as_u16() });
        let mut body = json!({});
        if let Some(guid) = self.guid {
            error["guid"] = json!(guid);
            // The Connect widget reads the existing member's guid at the top level.
            body["guid"] = json!(guid);
        }
        body["error"] = error;
        let mut response = (self.status, axum::Json(body)).into_response();
        response.extensions_mut().insert(typed);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ferry\""));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
