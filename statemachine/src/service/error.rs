//! AWS JSON 1.0 error responses: HTTP 400 (500 for the store) with `{"__type", "message"}` and
//! the `x-amzn-ErrorType` header, named as the Step Functions API names its exceptions so that
//! SDKs parse them into their typed variants.

use crate::engine::EngineError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error the endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status (400 for client errors, 500 for storage failures).
    pub status: StatusCode,
    /// The exception name, e.g. `ExecutionDoesNotExist`.
    pub kind: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// A 400 error named `kind`.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    /// `ValidationException`: a request field is missing or out of range.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// `InvalidArn` for `field`.
    pub fn invalid_arn(field: &str, value: &str) -> Self {
        Self::new(
            "InvalidArn",
            format!("Invalid Arn: '{field}' must be an ARN, got '{value}'"),
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let name = e.name();
        match e {
            EngineError::InvalidDefinition(problems) => Self::new(
                "InvalidDefinition",
                format!(
                    "Invalid State Machine Definition: '{}'",
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            EngineError::ClockNotVirtual => Self::validation(
                "HitlAdvanceTime needs an engine on a virtual clock (service::endpoint_engine)",
            ),
            EngineError::Store(s) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "InternalFailure",
                message: format!("the local store failed: {s}"),
            },
            EngineError::InvalidToken(m)
            | EngineError::TaskTimedOut(m)
            | EngineError::ExecutionDoesNotExist(m)
            | EngineError::StateMachineDoesNotExist(m)
            | EngineError::ExecutionAlreadyExists(m)
            | EngineError::InvalidName(m)
            | EngineError::InvalidArn(m)
            | EngineError::ExecutionNotRedrivable(m) => Self::new(name, m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "__type": self.kind, "message": self.message }).to_string();
        (
            self.status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(super::CONTENT_TYPE),
                ),
                (
                    header::HeaderName::from_static("x-amzn-errortype"),
                    HeaderValue::from_static(self.kind),
                ),
            ],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_aws_names_without_the_prefix() {
        let e = ApiError::from(EngineError::ExecutionDoesNotExist(
            "Execution Does Not Exist: 'x'".into(),
        ));
        assert_eq!(e.kind, "ExecutionDoesNotExist");
        assert_eq!(e.message, "Execution Does Not Exist: 'x'");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let store = ApiError::from(EngineError::Store(crate::StoreError::Poisoned));
        assert_eq!(store.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
