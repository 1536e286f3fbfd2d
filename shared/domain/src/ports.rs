//! Ports to the outside world. AWS adapters live in [`crate::aws`]; local adapters in the CLI.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HandlerError;
use crate::model::{Artifact, FeedbackEntry, Subject, TaskToken};

/// Source of the current time (virtual locally, the system clock on AWS).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A draft waits for a reviewer.
    ReviewRequested,
    /// A workflow was escalated to a person.
    Escalated,
}

/// A message for reviewers or operators. Never contains a task token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// Workflow id.
    pub workflow_id: String,
    /// Subject name, for the subject line.
    pub subject_name: String,
    /// Iteration concerned.
    pub iteration: u32,
    /// Reviewer group that may act.
    pub reviewer_group: String,
    /// Escalation reason, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A readable sentence.
    pub message: String,
}

/// Publishes notifications (SNS on AWS).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Publishes one notification.
    async fn publish(&self, notification: &Notification) -> Result<(), HandlerError>;
}

/// Why resuming an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// The task is gone: it timed out, was already completed, or the token is unknown
    /// (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`).
    #[error("the waiting task no longer accepts a result: {0}")]
    TaskClosed(String),
    /// Throttling or a service fault; retrying may succeed.
    #[error("transient failure resuming the execution: {0}")]
    Transient(String),
    /// Anything else.
    #[error("resuming the execution failed: {0}")]
    Permanent(String),
}

/// Resumes a waiting execution (SendTaskSuccess on AWS).
#[async_trait]
pub trait ExecutionResumer: Send + Sync {
    /// Completes the waiting task with `output`.
    async fn resume(&self, token: &TaskToken, output: &Value) -> Result<(), ResumeError>;
}

/// What the agent is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// Workflow id (also the agent session id, so the agent keeps context per workflow).
    pub workflow_id: String,
    /// The subject.
    pub subject: Subject,
    /// Iteration being produced.
    pub iteration: u32,
    /// The previous draft, when regenerating.
    pub previous: Option<Artifact>,
    /// All applied feedback so far, oldest first.
    pub feedback: Vec<FeedbackEntry>,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedDraft {
    /// The metadata JSON.
    pub content: Value,
    /// Who produced it.
    pub generator: String,
}

/// Drafts metadata (Bedrock agent on AWS, a deterministic generator locally).
#[async_trait]
pub trait MetadataAgent: Send + Sync {
    /// Produces one draft.
    async fn generate(&self, request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError>;
}

/// Checks that the configured agent can be invoked.
#[async_trait]
pub trait AgentReadiness: Send + Sync {
    /// Ok when ready (alias PREPARED); `AgentNotReady` otherwise.
    async fn ensure_ready(&self) -> Result<(), HandlerError>;
}

/// Readiness check for deployments without an agent: always ready.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAgentConfigured;

#[async_trait]
impl AgentReadiness for NoAgentConfigured {
    async fn ensure_ready(&self) -> Result<(), HandlerError> {
        Ok(())
    }
}
