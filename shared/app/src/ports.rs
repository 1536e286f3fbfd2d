//! [`Ports`]: every port a use case may need, in one value that each kind of process wires
//! once — the Lambda functions in `hitl_aws::lambda`, the local runtime in `hitl::local`, tests
//! with the fakes of `hitl_domain::testing`. A port a process does not wire answers with a
//! configuration error that names it ([`Unwired`]), so a function that is given fewer
//! permissions (least privilege) cannot reach a service by accident.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use hitl_domain::claims::ClaimService;
use hitl_domain::feedback::FeedbackProcessor;
use hitl_domain::model::TaskToken;
use hitl_domain::notify::NotificationOutbox;
use hitl_domain::ports::{
    AgentReadiness, Clock, ExecutionResumer, GeneratedDraft, GenerationRequest, MetadataAgent,
    MetricsSink, NoMetrics, Notification, Notifier, OutcomePublisher, ResumeError,
};
use hitl_domain::reminders::ReminderSweeper;
use hitl_domain::store::WorkflowStore;
use hitl_domain::types::TypeRegistry;
use hitl_domain::HandlerError;
use serde_json::Value;

/// A port beyond the store, the clock and the metrics sink, which every process has. A Lambda
/// function lists the ones it uses; its wiring builds exactly those (and its IAM policy grants
/// exactly what they call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// Resumes waiting executions (`SendTaskSuccess`, `GetExecutionHistory`).
    Resumer,
    /// Notifies reviewers (review requests and reminders).
    ReviewNotifier,
    /// Notifies the escalation group (escalations and resolution reminders).
    EscalationNotifier,
    /// Drafts artifacts.
    Agent,
    /// Checks that the configured agent can be invoked.
    AgentReadiness,
    /// Publishes finished workflows (and knows the deployment's environment name).
    Publisher,
}

impl Port {
    /// What the port is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Port::Resumer => "the execution resumer",
            Port::ReviewNotifier => "the review notifier",
            Port::EscalationNotifier => "the escalation notifier",
            Port::Agent => "the drafting agent",
            Port::AgentReadiness => "the agent readiness check",
            Port::Publisher => "the outcome publisher",
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Settings of a deployment that use cases read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The deployment environment (`dev`, `prod`, `local`, …), part of an outcome's key.
    pub environment: String,
    /// The review page, for links in notifications.
    pub page_url: Option<String>,
    /// Generators' prices per million tokens, by generator name: what the analytics price
    /// drafts at (`HITL_PRICES` on AWS, `hitl serve --price` locally).
    pub prices: std::collections::BTreeMap<String, hitl_domain::analytics::Price>,
}

impl Settings {
    /// The link to workflow `workflow_id` on the review page, when the page's URL is known.
    pub fn review_link(&self, workflow_id: &str) -> Option<String> {
        self.page_url
            .as_deref()
            .map(|url| hitl_domain::reminders::review_link(url, workflow_id))
    }
}

/// The ports of one process.
#[derive(Clone)]
pub struct Ports {
    /// Workflow store.
    pub store: Arc<dyn WorkflowStore>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Where business metrics go (the EMF writer on Lambda, a log or nothing locally).
    pub metrics: Arc<dyn MetricsSink>,
    /// Resumes waiting executions.
    pub resumer: Arc<dyn ExecutionResumer>,
    /// Review requests and reminders to reviewers.
    pub review_notifier: Arc<dyn Notifier>,
    /// Escalations and resolution reminders to the escalation group.
    pub escalation_notifier: Arc<dyn Notifier>,
    /// Drafts artifacts.
    pub agent: Arc<dyn MetadataAgent>,
    /// Checks the agent before a workflow starts.
    pub readiness: Arc<dyn AgentReadiness>,
    /// Publishes finished workflows.
    pub publisher: Arc<dyn OutcomePublisher>,
    /// Deployment settings.
    pub settings: Settings,
    /// The artifact types this process knows (the built-in ones unless
    /// [`with_types`](Self::with_types) adds others); each workflow is judged by the exact
    /// version it started with.
    pub types: Arc<TypeRegistry>,
}

/// The decision service over a process's ports.
pub type Decisions = FeedbackProcessor;
/// The claim service over a process's ports.
pub type Claims = ClaimService;
/// The reminder sweep over a process's ports.
pub type Reminders = ReminderSweeper;

impl Ports {
    /// A process with a store and a clock; metrics go nowhere and every other port is
    /// [`Unwired`] until a `with_*` call wires it.
    pub fn new(store: Arc<dyn WorkflowStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            metrics: Arc::new(NoMetrics),
            resumer: Arc::new(Unwired(Port::Resumer)),
            review_notifier: Arc::new(Unwired(Port::ReviewNotifier)),
            escalation_notifier: Arc::new(Unwired(Port::EscalationNotifier)),
            agent: Arc::new(Unwired(Port::Agent)),
            readiness: Arc::new(Unwired(Port::AgentReadiness)),
            publisher: Arc::new(Unwired(Port::Publisher)),
            settings: Settings::default(),
            types: Arc::new(TypeRegistry::builtin()),
        }
    }

    /// Judges workflows by `types` (built-in types plus those the process added).
    pub fn with_types(mut self, types: Arc<TypeRegistry>) -> Self {
        self.types = types;
        self
    }

    /// Sends business metrics to `sink`.
    pub fn with_metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = sink;
        self
    }

    /// Wires the execution resumer.
    pub fn with_resumer(mut self, resumer: Arc<dyn ExecutionResumer>) -> Self {
        self.resumer = resumer;
        self
    }

    /// Wires the reviewers' notifier.
    pub fn with_review_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.review_notifier = notifier;
        self
    }

    /// Wires the escalation group's notifier.
    pub fn with_escalation_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.escalation_notifier = notifier;
        self
    }

    /// Wires the drafting agent.
    pub fn with_agent(mut self, agent: Arc<dyn MetadataAgent>) -> Self {
        self.agent = agent;
        self
    }

    /// Wires the agent readiness check.
    pub fn with_readiness(mut self, readiness: Arc<dyn AgentReadiness>) -> Self {
        self.readiness = readiness;
        self
    }

    /// Wires the outcome publisher of the deployment `environment`.
    pub fn with_publisher(
        mut self,
        publisher: Arc<dyn OutcomePublisher>,
        environment: impl Into<String>,
    ) -> Self {
        self.publisher = publisher;
        self.settings.environment = environment.into();
        self
    }

    /// With the generators' prices the analytics price drafts at.
    pub fn with_prices(
        mut self,
        prices: std::collections::BTreeMap<String, hitl_domain::analytics::Price>,
    ) -> Self {
        self.settings.prices = prices;
        self
    }

    /// Sets the review page's URL (links in notifications).
    pub fn with_page_url(mut self, page_url: Option<String>) -> Self {
        self.settings.page_url = page_url;
        self
    }

    /// The decision service: submissions, resolutions and the delivery outbox relay, with this
    /// process's metrics.
    pub fn decisions(&self) -> Decisions {
        FeedbackProcessor::new(
            Arc::clone(&self.store),
            Arc::clone(&self.resumer),
            Arc::clone(&self.clock),
        )
        .with_metrics(Arc::clone(&self.metrics))
        .with_types(Arc::clone(&self.types))
    }

    /// The claim service.
    pub fn claims(&self) -> Claims {
        ClaimService::new(Arc::clone(&self.store), Arc::clone(&self.clock))
    }

    /// The notification outbox over both groups' notifiers.
    pub fn notifications(&self) -> NotificationOutbox {
        NotificationOutbox::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.review_notifier),
            Arc::clone(&self.escalation_notifier),
            Arc::clone(&self.metrics),
        )
    }

    /// The reminder sweep, with links to the review page when its URL is known.
    pub fn reminders(&self) -> Reminders {
        ReminderSweeper::new(
            Arc::clone(&self.store),
            self.notifications(),
            Arc::clone(&self.clock),
            self.settings.page_url.clone(),
        )
    }
}

/// A port this process did not wire: every call fails with a configuration error naming it.
#[derive(Debug, Clone, Copy)]
pub struct Unwired(pub Port);

impl Unwired {
    fn error(self) -> HandlerError {
        HandlerError::Config(format!("{} is not wired in this process", self.0))
    }
}

#[async_trait]
impl ExecutionResumer for Unwired {
    async fn resume(&self, _token: &TaskToken, _output: &Value) -> Result<(), ResumeError> {
        Err(ResumeError::Permanent(format!(
            "{} is not wired in this process",
            self.0
        )))
    }
}

#[async_trait]
impl Notifier for Unwired {
    fn channel(&self) -> &str {
        "unwired"
    }

    async fn send(&self, _notification: &Notification, _: &str) -> Result<(), HandlerError> {
        Err(self.error())
    }
}

#[async_trait]
impl MetadataAgent for Unwired {
    async fn generate(&self, _request: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
        Err(self.error())
    }
}

#[async_trait]
impl AgentReadiness for Unwired {
    async fn ensure_ready(&self) -> Result<(), HandlerError> {
        Err(self.error())
    }
}

#[async_trait]
impl OutcomePublisher for Unwired {
    async fn store_envelope(
        &self,
        _key: &str,
        _body: &[u8],
        _content_hash: &str,
    ) -> Result<String, HandlerError> {
        Err(self.error())
    }

    async fn emit_finished(&self, _detail: &Value) -> Result<(), HandlerError> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::ports::NotificationKind;
    use hitl_domain::testing::{FixedClock, RecordingMetrics};

    fn ports() -> Ports {
        Ports::new(
            Arc::new(hitl_domain::testing::MemoryStore::default()),
            Arc::new(FixedClock::default()),
        )
    }

    fn notification() -> Notification {
        Notification {
            kind: NotificationKind::ReviewRequested,
            workflow_id: "wf-1".into(),
            subject_name: "Acme".into(),
            iteration: 1,
            reviewer_group: "reviewers".into(),
            reason: None,
            message: "review".into(),
            link: None,
        }
    }

    #[tokio::test]
    async fn a_port_the_process_did_not_wire_fails_with_a_configuration_error_naming_it() {
        let ports = ports();
        let err = ports
            .review_notifier
            .publish(&notification())
            .await
            .unwrap_err();
        assert_eq!(err.name().as_str(), "ConfigError");
        assert_eq!(
            err.to_string(),
            "configuration error: the review notifier is not wired in this process"
        );
        let err = ports
            .publisher
            .emit_finished(&Value::Null)
            .await
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("the outcome publisher is not wired"));
        let err = ports
            .resumer
            .resume(&TaskToken::new("t"), &Value::Null)
            .await
            .unwrap_err();
        assert!(matches!(err, ResumeError::Permanent(m) if m.contains("the execution resumer")));
    }

    #[tokio::test]
    async fn decisions_run_over_the_wired_resumer_and_record_to_the_wired_metrics_sink() {
        use hitl_domain::feedback::Reviewer;
        use hitl_domain::model::{Channel, WorkflowStatus};
        let sink = Arc::new(RecordingMetrics::default());
        let resumer = Arc::new(hitl_domain::testing::RecordingResumer::default());
        let ports = ports()
            .with_metrics(sink.clone())
            .with_resumer(resumer.clone());
        let now = ports.clock.now();
        let wf = hitl_domain::testing::awaiting_review("wf-1", "tok", now);
        ports.store.create_workflow(&wf).await.unwrap();
        let approve = crate::testing::approval(1);
        let reviewer = Reviewer::declared("rita", None, Channel::Cli);
        ports
            .decisions()
            .submit("wf-1", &approve, "k-1", &reviewer)
            .await
            .unwrap();
        assert_eq!(resumer.delivered.lock().unwrap().len(), 1);
        assert!(
            !sink.records.lock().unwrap().is_empty(),
            "no metric recorded"
        );
        let wf = ports.store.get_workflow("wf-1").await.unwrap().unwrap();
        assert_eq!(wf.status, WorkflowStatus::Approved);
    }

    #[test]
    fn with_publisher_sets_the_environment_of_outcome_keys() {
        let ports = ports().with_publisher(Arc::new(Unwired(Port::Publisher)), "prod");
        assert_eq!(ports.settings.environment, "prod");
    }
}
