//! Control API errors, named as WebDriver names them (WebDriver §6.6), in
//! WebDriver's error body: `{"value": {"error", "message", "stacktrace"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use softkey_authenticator::store::StoreError;

/// An error answer of the control API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The WebDriver error code ("invalid argument", …).
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// softkey's finer name of the error, for programs (`softkey:reason`
    /// in the body), when WebDriver's code is too coarse.
    pub reason: Option<&'static str>,
}

impl ApiError {
    /// WebDriver "invalid argument" (400).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid argument",
            message: message.into(),
            reason: None,
        }
    }

    /// WebDriver "no such authenticator" (404).
    pub fn no_such_authenticator(id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            error: "no such authenticator",
            message: format!("no virtual authenticator with id {id:?}"),
            reason: None,
        }
    }

    /// WebDriver "unsupported operation". WebDriver answers it with HTTP
    /// 500; the control API uses 400, since the request, not the
    /// simulator, is at fault (and test tools treat 5xx as crashes).
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported operation",
            message: message.into(),
            reason: None,
        }
    }

    /// WebDriver "unknown error" (500).
    pub fn unknown(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "unknown error",
            message: message.into(),
            reason: None,
        }
    }

    /// A store failure.
    pub fn store(error: StoreError) -> Self {
        Self::unknown(format!("credential store: {error}"))
    }

    /// A missing or wrong bearer token (401; not a WebDriver error).
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "unauthorized",
            message: "send the control token as 'Authorization: Bearer <token>'".into(),
            reason: None,
        }
    }

    /// WebDriver "unknown command" (404): no such endpoint.
    pub fn unknown_command() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            error: "unknown command",
            message: "no such endpoint: see /openapi.json".into(),
            reason: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "value": { "error": self.error, "message": self.message, "stacktrace": "" }
        });
        if let Some(reason) = self.reason {
            body["value"]["softkey:reason"] = json!(reason);
        }
        (self.status, axum::Json(body)).into_response()
    }
}
