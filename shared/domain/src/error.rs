//! Handler errors with stable names. The state machine matches these names in `ErrorEquals`,
//! so they live in one place ([`ErrorName`]) and the definition test checks against it.

use thiserror::Error;

use crate::rules::TransitionError;
use crate::store::StoreError;

/// Stable error names emitted by the functions (the Lambda `errorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorName {
    /// Input or configuration failed validation. Permanent.
    InvalidInput,
    /// The workflow record does not exist. Permanent.
    WorkflowNotFound,
    /// The record's state does not allow the requested transition. Permanent.
    InvalidTransition,
    /// A concurrent writer won; retrying re-reads and re-applies. Transient.
    WorkflowConflict,
    /// The store was throttled or unreachable. Transient.
    StoreUnavailable,
    /// The agent produced an artifact that fails the schema. Retried a few times.
    ArtifactInvalid,
    /// The configured agent alias is not PREPARED. Permanent for the execution.
    AgentNotReady,
    /// The agent was throttled. Transient.
    AgentThrottled,
    /// The agent call failed for a reason retrying will not fix. Permanent.
    AgentInvocationFailed,
    /// Publishing to SNS failed. Transient.
    NotificationFailed,
    /// Resuming the execution failed for a transient reason. Transient.
    ResumeFailed,
    /// Publishing the outcome (the envelope to S3, the event to EventBridge) failed. Transient;
    /// when the definition's retries run out the workflow is recorded failed with the cause.
    PublishFailed,
    /// The function's environment is misconfigured. Permanent.
    ConfigError,
}

impl ErrorName {
    /// Every name, for the definition check.
    pub const ALL: [ErrorName; 13] = [
        Self::InvalidInput,
        Self::WorkflowNotFound,
        Self::InvalidTransition,
        Self::WorkflowConflict,
        Self::StoreUnavailable,
        Self::ArtifactInvalid,
        Self::AgentNotReady,
        Self::AgentThrottled,
        Self::AgentInvocationFailed,
        Self::NotificationFailed,
        Self::ResumeFailed,
        Self::PublishFailed,
        Self::ConfigError,
    ];

    /// The string Step Functions sees.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::WorkflowNotFound => "WorkflowNotFound",
            Self::InvalidTransition => "InvalidTransition",
            Self::WorkflowConflict => "WorkflowConflict",
            Self::StoreUnavailable => "StoreUnavailable",
            Self::ArtifactInvalid => "ArtifactInvalid",
            Self::AgentNotReady => "AgentNotReady",
            Self::AgentThrottled => "AgentThrottled",
            Self::AgentInvocationFailed => "AgentInvocationFailed",
            Self::NotificationFailed => "NotificationFailed",
            Self::ResumeFailed => "ResumeFailed",
            Self::PublishFailed => "PublishFailed",
            Self::ConfigError => "ConfigError",
        }
    }

    /// Whether the state machine should retry it.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::WorkflowConflict
                | Self::StoreUnavailable
                | Self::AgentThrottled
                | Self::NotificationFailed
                | Self::ResumeFailed
                | Self::PublishFailed
                | Self::ArtifactInvalid
        )
    }
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Dotted path of the field (`config.max_iterations`).
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Formats field errors as `field: message; field: message`.
pub fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The error every handler returns.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// Validation failed; lists every bad field.
    #[error("invalid input: {}", describe_fields(.0))]
    InvalidInput(Vec<FieldError>),
    /// No such workflow.
    #[error("workflow {0} not found")]
    WorkflowNotFound(String),
    /// Transition not allowed.
    #[error(transparent)]
    InvalidTransition(#[from] TransitionError),
    /// Optimistic-concurrency conflict that survived the handler's own re-reads.
    #[error("workflow {0} was changed concurrently; retry")]
    Conflict(String),
    /// The store failed.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// The artifact fails its schema.
    #[error("artifact invalid: {}", describe_fields(.0))]
    ArtifactInvalid(Vec<FieldError>),
    /// Agent alias not ready.
    #[error("agent not ready: {0}")]
    AgentNotReady(String),
    /// Agent throttled.
    #[error("agent throttled: {0}")]
    AgentThrottled(String),
    /// Agent failed.
    #[error("agent invocation failed: {0}")]
    AgentInvocationFailed(String),
    /// SNS failed.
    #[error("notification failed: {0}")]
    NotificationFailed(String),
    /// SFN resume failed transiently.
    #[error("resuming the execution failed: {0}")]
    ResumeFailed(String),
    /// Publishing the outcome failed.
    #[error("publishing the outcome failed: {0}")]
    PublishFailed(String),
    /// Misconfiguration.
    #[error("configuration error: {0}")]
    Config(String),
}

impl HandlerError {
    /// The stable name for this error.
    pub fn name(&self) -> ErrorName {
        match self {
            Self::InvalidInput(_) => ErrorName::InvalidInput,
            Self::WorkflowNotFound(_) => ErrorName::WorkflowNotFound,
            Self::InvalidTransition(_) => ErrorName::InvalidTransition,
            Self::Conflict(_) => ErrorName::WorkflowConflict,
            Self::StoreUnavailable(_) => ErrorName::StoreUnavailable,
            Self::ArtifactInvalid(_) => ErrorName::ArtifactInvalid,
            Self::AgentNotReady(_) => ErrorName::AgentNotReady,
            Self::AgentThrottled(_) => ErrorName::AgentThrottled,
            Self::AgentInvocationFailed(_) => ErrorName::AgentInvocationFailed,
            Self::NotificationFailed(_) => ErrorName::NotificationFailed,
            Self::ResumeFailed(_) => ErrorName::ResumeFailed,
            Self::PublishFailed(_) => ErrorName::PublishFailed,
            Self::Config(_) => ErrorName::ConfigError,
        }
    }

    /// Shorthand for a single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for HandlerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(id) => Self::Conflict(id),
            StoreError::NotFound(id) => Self::WorkflowNotFound(id),
            other => Self::StoreUnavailable(other.to_string()),
        }
    }
}
