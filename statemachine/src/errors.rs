//! Step Functions error names and the `{Error, Cause}` value carried by failed states.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Matches every error except `States.Runtime` and `States.DataLimitExceeded`.
pub const ALL: &str = "States.ALL";
/// Matches any error except `States.Timeout`.
pub const TASK_FAILED: &str = "States.TaskFailed";
/// A task ran longer than `TimeoutSeconds` or a callback was not answered in time.
pub const TIMEOUT: &str = "States.Timeout";
/// A callback task did not receive a heartbeat within `HeartbeatSeconds`.
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
/// An unrecoverable runtime error (bad path, invalid input); never retried or caught.
pub const RUNTIME: &str = "States.Runtime";
/// Insufficient privileges (not produced locally, accepted in definitions).
pub const PERMISSIONS: &str = "States.Permissions";
/// `ResultPath` could not be applied to the state input.
pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
/// A `.$` field in `Parameters` could not be resolved.
pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
/// A Parallel branch failed.
pub const BRANCH_FAILED: &str = "States.BranchFailed";
/// No Choice rule matched and there was no `Default`.
pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
/// An intrinsic function failed.
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// A Map state exceeded its tolerated failure threshold.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
/// A Map state's ItemReader failed.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
/// Output or input too large.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

/// A JSONata expression failed or returned nothing (JSONata states).
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
/// Every predefined `States.*` error name.
pub const PREDEFINED: &[&str] = &[
    ALL,
    TASK_FAILED,
    TIMEOUT,
    HEARTBEAT_TIMEOUT,
    RUNTIME,
    PERMISSIONS,
    RESULT_PATH_MATCH_FAILURE,
    PARAMETER_PATH_FAILURE,
    BRANCH_FAILED,
    NO_CHOICE_MATCHED,
    INTRINSIC_FAILURE,
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    ITEM_READER_FAILED,
    DATA_LIMIT_EXCEEDED,
    QUERY_EVALUATION_ERROR,
];

/// An error raised by a state: a name and a human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateError {
    /// Error name, e.g. `States.Timeout` or a handler's own name such as `WorkflowConflict`.
    pub error: String,
    /// Cause text.
    pub cause: String,
}

impl StateError {
    /// Builds an error from a name and a cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A `States.Runtime` error.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(RUNTIME, cause)
    }

    /// A `States.IntrinsicFailure` error.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(INTRINSIC_FAILURE, cause)
    }

    /// Whether retriers and catchers may handle this error (everything but `States.Runtime`
    /// and `States.DataLimitExceeded`).
    pub fn is_recoverable(&self) -> bool {
        self.error != RUNTIME && self.error != DATA_LIMIT_EXCEEDED
    }

    /// The `{"Error": ..., "Cause": ...}` object a Catch passes to its next state.
    pub fn to_output(&self) -> Value {
        json!({ "Error": self.error, "Cause": self.cause })
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

/// Whether an `ErrorEquals` entry matches `error`, with the spec's wildcard rules.
pub fn name_matches(pattern: &str, error: &str) -> bool {
    if error == RUNTIME || error == DATA_LIMIT_EXCEEDED {
        return pattern == error;
    }
    match pattern {
        ALL => true,
        TASK_FAILED => error != TIMEOUT,
        p => p == error,
    }
}

/// Whether any entry of an `ErrorEquals` list matches `error`.
pub fn list_matches(patterns: &[String], error: &str) -> bool {
    patterns.iter().any(|p| name_matches(p, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(name_matches(ALL, "Custom"));
        assert!(name_matches(ALL, TIMEOUT));
        assert!(!name_matches(ALL, RUNTIME));
        assert!(name_matches(TASK_FAILED, "Custom"));
        assert!(name_matches(TASK_FAILED, HEARTBEAT_TIMEOUT));
        assert!(!name_matches(TASK_FAILED, TIMEOUT));
        assert!(name_matches("Custom", "Custom"));
        assert!(!name_matches("Custom", "Other"));
        assert!(name_matches(RUNTIME, RUNTIME));
    }

    #[test]
    fn output_shape() {
        let e = StateError::new("E", "c");
        assert_eq!(e.to_output(), json!({"Error": "E", "Cause": "c"}));
        assert!(!StateError::runtime("x").is_recoverable());
        assert!(e.is_recoverable());
    }
}
