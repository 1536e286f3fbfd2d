//! Ports to the outside world. AWS adapters live in [`crate::aws`]; local adapters in the CLI.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HandlerError;
use crate::model::{Artifact, FeedbackEntry, Subject, TaskToken};
pub use crate::model::{Notification, NotificationKind};

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

/// Where business metrics go: the records are built by [`crate::metrics`] (pure), a sink
/// delivers them. On Lambda the sink is `hitl_aws::metrics::EmfStdout` (one EMF line per
/// record on stdout, where CloudWatch Logs extracts it); locally [`LogMetrics`] or
/// [`NoMetrics`]. A sink never fails its caller: metrics must not fail a handler.
pub trait MetricsSink: Send + Sync {
    /// Delivers one EMF record.
    fn record(&self, record: &Value);
}

impl<T: MetricsSink + ?Sized> MetricsSink for Arc<T> {
    fn record(&self, record: &Value) {
        (**self).record(record);
    }
}

/// Discards every record.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl MetricsSink for NoMetrics {
    fn record(&self, _record: &Value) {}
}

/// Logs every record through `tracing` at debug level (the local processes: the CLI's
/// stdout belongs to the user).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMetrics;

impl MetricsSink for LogMetrics {
    fn record(&self, record: &Value) {
        tracing::debug!(target: "hitl::metrics", %record, "metric");
    }
}

/// Email addresses per group, from `reviewers=rita@example.com,sam@example.com;escalations=olga@example.com`;
/// a malformed entry or address is refused naming it.
pub fn parse_email_recipients(
    text: &str,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, String> {
    let mut groups = std::collections::BTreeMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (group, addresses) = entry
            .split_once('=')
            .ok_or_else(|| format!("{entry:?} is not group=address[,address]"))?;
        let group = group.trim();
        if group.is_empty() {
            return Err(format!("{entry:?} names no group"));
        }
        let list: Vec<String> = addresses
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if list.is_empty() {
            return Err(format!("group {group} has no address"));
        }
        for address in &list {
            // `rita@example.com`, or `Rita Jones <rita@example.com>` (a display name).
            let bare = match address.rsplit_once('<') {
                Some((name, rest)) if rest.ends_with('>') && !name.contains('>') => {
                    &rest[..rest.len() - 1]
                }
                _ => address.as_str(),
            };
            let plausible = bare.len() <= 254
                && !address.chars().any(char::is_control)
                && !bare
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
                && bare.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.contains('@')
                });
            if !plausible {
                return Err(format!(
                    "{address:?} (group {group}) is not an email address"
                ));
            }
        }
        groups.insert(group.to_owned(), list);
    }
    if groups.is_empty() {
        return Err("no group=address entry".into());
    }
    Ok(groups)
}

/// The delivery id of a notification published outside the outbox: a hash of its content,
/// so the same notification published again carries the same id (32 hex characters).
pub fn content_delivery_id(notification: &Notification) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_vec(notification).unwrap_or_default();
    hex::encode(Sha256::digest(&text))[..32].to_owned()
}

/// Several channels behind one port: each is a channel of its own in the notification outbox
/// ([`Notifier::channels`]), so a channel that failed is retried alone and the others do not
/// send twice. Sending on the fan-out itself tries every channel and reports the failures
/// together.
pub struct Fanout(Vec<std::sync::Arc<dyn Notifier>>);

impl Fanout {
    /// Over `channels`.
    pub fn new(channels: Vec<std::sync::Arc<dyn Notifier>>) -> Self {
        Self(channels)
    }
}

#[async_trait]
impl Notifier for Fanout {
    fn channel(&self) -> &str {
        "fanout"
    }

    fn channels(&self) -> Vec<String> {
        self.0.iter().flat_map(|c| c.channels()).collect()
    }

    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        let mut failures = Vec::new();
        for channel in &self.0 {
            if let Err(e) = channel.send(notification, delivery_id).await {
                failures.push(e.to_string());
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::NotificationFailed(failures.join("; ")))
        }
    }

    async fn publish_on(
        &self,
        channel: &str,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        match self
            .0
            .iter()
            .find(|c| c.channels().iter().any(|name| name == channel))
        {
            Some(part) => part.publish_on(channel, notification, delivery_id).await,
            None => Err(not_configured(channel)),
        }
    }
}

fn not_configured(channel: &str) -> HandlerError {
    HandlerError::NotificationFailed(format!("channel {channel} is not configured here"))
}

/// Sends notifications on one channel (SNS, email, a webhook, Slack, the local log) or several
/// ([`Fanout`]). A channel implements [`Notifier::channel`] and [`Notifier::send`]; the
/// notification outbox calls [`Notifier::publish_on`].
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The channel's name in the notification outbox (`sns`, `email`, `webhook`, `slack`,
    /// `log`).
    fn channel(&self) -> &str;

    /// Every channel behind this notifier, by name (a fan-out names each of its parts).
    fn channels(&self) -> Vec<String> {
        vec![self.channel().to_owned()]
    }

    /// Sends one notification with `delivery_id` (the same on every attempt: receivers
    /// deduplicate by it; channels that can carry it do).
    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError>;

    /// Sends outside the outbox, with the notification's [`content_delivery_id`].
    async fn publish(&self, notification: &Notification) -> Result<(), HandlerError> {
        self.send(notification, &content_delivery_id(notification))
            .await
    }

    /// Sends on the channel named `channel` only (what the notification outbox does).
    async fn publish_on(
        &self,
        channel: &str,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        if channel == self.channel() {
            self.send(notification, delivery_id).await
        } else {
            Err(not_configured(channel))
        }
    }
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

/// What [`ExecutionResumer::deliver`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// The execution accepted the output.
    Delivered,
    /// Handed on for asynchronous delivery (the local engine queues resumptions requested
    /// from inside one of its steps); whoever delivers it confirms it.
    Deferred,
}

/// What an execution's own history says became of the wait a decision was meant to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFate {
    /// A task success carrying this decision's feedback key ended the wait.
    Delivered,
    /// The wait timed out (or the execution ended) without the decision.
    TimedOut,
    /// The history could not tell (not readable here, or the wait is still open).
    Unknown,
}

/// One history event as [`fate_from_history`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEvent<'a> {
    /// A task succeeded with this output (JSON text or value rendered as text).
    TaskSucceeded(&'a str),
    /// A task timed out.
    TaskTimedOut,
    /// The execution ended (succeeded, failed, timed out or aborted).
    ExecutionEnded,
}

/// Reads the fate of the decision stored under `feedback_key` from an execution's history:
/// `Delivered` when a task succeeded with an output carrying that key (only a delivery of this
/// very decision produces one), else `TimedOut` when a wait timed out or the execution ended
/// without it, else `Unknown` (the wait is still open as far as the history goes).
pub fn fate_from_history<'a>(
    events: impl IntoIterator<Item = WaitEvent<'a>>,
    feedback_key: &str,
) -> TaskFate {
    let mut ended_without = false;
    for event in events {
        match event {
            WaitEvent::TaskSucceeded(output) => {
                let carries_key = serde_json::from_str::<Value>(output).ok().is_some_and(|v| {
                    v.get("feedback_key").and_then(Value::as_str) == Some(feedback_key)
                });
                if carries_key {
                    return TaskFate::Delivered;
                }
            }
            WaitEvent::TaskTimedOut | WaitEvent::ExecutionEnded => ended_without = true,
        }
    }
    if ended_without {
        TaskFate::TimedOut
    } else {
        TaskFate::Unknown
    }
}

/// Resumes a waiting execution (SendTaskSuccess on AWS).
#[async_trait]
pub trait ExecutionResumer: Send + Sync {
    /// Completes the waiting task with `output`.
    async fn resume(&self, token: &TaskToken, output: &Value) -> Result<(), ResumeError>;

    /// [`Self::resume`], saying whether the execution has the output now or later.
    async fn deliver(&self, token: &TaskToken, output: &Value) -> Result<Resumed, ResumeError> {
        self.resume(token, output)
            .await
            .map(|()| Resumed::Delivered)
    }

    /// Reads the execution's history to tell whether the decision stored under
    /// `feedback_key` ended its wait, or the wait timed out: the answer to "the task is
    /// closed — by whom?", decided from the execution's real state, never from the clock.
    async fn task_fate(
        &self,
        _execution_arn: &str,
        _feedback_key: &str,
    ) -> Result<TaskFate, ResumeError> {
        Ok(TaskFate::Unknown)
    }
}

/// Publishes finished workflows to the systems that use them (S3 and EventBridge on AWS; the
/// data directory and the notification log locally).
#[async_trait]
pub trait OutcomePublisher: Send + Sync {
    /// Stores an envelope under `key` (a path inside the outcomes bucket or folder) unless the
    /// very same content (`content_hash`) is already there; returns where it is.
    async fn store_envelope(
        &self,
        key: &str,
        body: &[u8],
        content_hash: &str,
    ) -> Result<String, HandlerError>;

    /// Emits one `Workflow Finished` event with `detail`.
    async fn emit_finished(&self, detail: &Value) -> Result<(), HandlerError>;
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
    /// The workflow's artifact type at the version it started with (issue 28): the schema
    /// a draft must pass. Not sent to a model as is; its generator renders what it needs.
    #[serde(skip)]
    pub artifact_type: crate::types::ArtifactType,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedDraft {
    /// The metadata JSON.
    pub content: Value,
    /// Who produced it.
    pub generator: String,
}

pub use crate::model::Usage;

/// Drafts metadata (Bedrock agent on AWS, a deterministic generator locally).
#[async_trait]
pub trait MetadataAgent: Send + Sync {
    /// Produces one draft.
    async fn generate(&self, request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError>;

    /// [`Self::generate`], with what the draft cost when the agent can tell (`None` for
    /// agents that do not report usage). Agents that meter their calls override this and
    /// make `generate` drop the usage.
    async fn generate_metered(
        &self,
        request: &GenerationRequest,
    ) -> Result<(GeneratedDraft, Option<Usage>), HandlerError> {
        self.generate(request).await.map(|draft| (draft, None))
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Unmetered;

    #[async_trait]
    impl MetadataAgent for Unmetered {
        async fn generate(&self, _: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
            Ok(GeneratedDraft {
                content: serde_json::json!({"name": "x"}),
                generator: "unmetered".into(),
            })
        }
    }

    #[tokio::test]
    async fn an_agent_that_does_not_meter_reports_no_usage() {
        let request = GenerationRequest {
            workflow_id: "wf".into(),
            subject: crate::model::Subject {
                id: "s".into(),
                name: "S".into(),
                category: None,
                attributes: serde_json::Map::new(),
            },
            iteration: 1,
            previous: None,
            feedback: vec![],
            artifact_type: Default::default(),
        };
        let (draft, usage) = Unmetered.generate_metered(&request).await.unwrap();
        assert_eq!(draft.generator, "unmetered");
        assert_eq!(usage, None);
    }

    #[test]
    fn usage_reads_records_without_counts() {
        let usage: Usage = serde_json::from_str(r#"{"model":"llama3.1"}"#).unwrap();
        assert_eq!(
            usage,
            Usage {
                model: "llama3.1".into(),
                input_tokens: 0,
                output_tokens: 0,
                latency_ms: 0
            }
        );
    }
}
