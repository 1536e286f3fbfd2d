//! The API's error responses. Every error body is JSON; none carries a credential, a task
//! token or a backend error text (those go to the log, scrubbed, where useful).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hitl_domain::error::FieldError;
use serde::Serialize;
use serde_json::json;

use crate::identity::AuthError;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u64 = 2;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: field-level validation errors.
    Invalid(Vec<FieldError>),
    /// 401: no or unknown credentials.
    Unauthenticated(AuthError),
    /// 403: authenticated, but not a reviewer of this workflow.
    Forbidden(String),
    /// 404: no such workflow.
    NotFound(String),
    /// 409: the submission conflicts with the workflow's state; `reason` says how.
    Conflict {
        /// One of [`crate::routes::CONFLICT_REASONS`].
        reason: String,
        /// A sentence for the reviewer.
        message: String,
    },
    /// 413: body over [`crate::routes::MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// 415: body is not `application/json`.
    UnsupportedMediaType,
    /// 429: this caller submitted too many decisions lately; retry after the seconds given.
    TooManyRequests(u64),
    /// 503: retry later (same idempotency key for submissions).
    Unavailable(String),
    /// 500: something is broken on our side.
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// Shorthand for a single-field 400.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Self::Invalid(errors) => json!({ "errors": errors }),
            Self::Conflict { reason, message } => json!({ "reason": reason, "message": message }),
            Self::Unauthenticated(e) => json!(ErrorBody {
                error: "unauthenticated",
                message: &e.to_string()
            }),
            Self::Forbidden(m) => json!(ErrorBody {
                error: "forbidden",
                message: m
            }),
            Self::NotFound(m) => json!(ErrorBody {
                error: "not_found",
                message: m
            }),
            Self::PayloadTooLarge => json!(ErrorBody {
                error: "payload_too_large",
                message: &format!(
                    "request body is larger than {} bytes",
                    crate::routes::MAX_BODY_BYTES
                )
            }),
            Self::UnsupportedMediaType => json!(ErrorBody {
                error: "unsupported_media_type",
                message: "send the body as Content-Type: application/json"
            }),
            Self::TooManyRequests(seconds) => json!(ErrorBody {
                error: "too_many_requests",
                message: &format!(
                    "too many submissions from this caller; retry after {seconds} s with the same Idempotency-Key"
                )
            }),
            Self::Unavailable(m) => json!(ErrorBody {
                error: "unavailable",
                message: m
            }),
            Self::Internal => json!(ErrorBody {
                error: "internal",
                message: "internal error; it has been logged"
            }),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            Self::TooManyRequests(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            _ => {}
        }
        response
    }
}

/// Replaces every run of 64 or more token-like characters with `<redacted>`, so error texts
/// that might quote a Step Functions task token or a bearer token can be logged.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 64 {
            out.push_str("<redacted>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=' | '.' | ':') {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_redacts_long_token_like_runs_only() {
        let token = "AAAA".repeat(40);
        let text = format!("InvalidToken: '{token}' is invalid (workflow wf-1)");
        assert_eq!(
            scrub(&text),
            "InvalidToken: '<redacted>' is invalid (workflow wf-1)"
        );
    }
}
