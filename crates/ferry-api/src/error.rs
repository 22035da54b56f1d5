//! `ApiError`: the MX-style JSON error body, `{"error": {"message": ...}}`, and the one mapping
//! from service errors to status codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_core::Error;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The existing object's guid, on a duplicate.
    pub guid: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), guid: None }
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
            Error::Unauthorized => ApiError::new(StatusCode::UNAUTHORIZED, "the client id and API key do not match"),
            Error::NotFound(what) => ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found")),
            Error::Conflict { message, guid } => ApiError { status: StatusCode::CONFLICT, message, guid },
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
        let mut error = json!({ "message": self.message, "status": self.status.as_u16() });
        let mut body = json!({});
        if let Some(guid) = self.guid {
            error["guid"] = json!(guid);
            // The Connect widget reads the existing member's guid at the top level.
            body["guid"] = json!(guid);
        }
        body["error"] = error;
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ferry\""));
        }
        response
    }
}
