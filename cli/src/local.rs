//! The local runtime: the deployed ASL definition executed by the in-process engine, the real
//! function handlers registered under their function names, SQLite for workflow and
//! execution state (one data directory, durable across processes) and the engine's virtual
//! clock shared with the handlers.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hitl_app::{housekeeping, Ports};
use hitl_domain::deployment::{local_function_arn, FUNCTION_SUBSTITUTIONS};
use hitl_domain::feedback::ReconcileReport;
use hitl_domain::metadata::LocalGenerator;
use hitl_domain::model::TaskToken;
use hitl_domain::ports::{
    fate_from_history, Clock, ExecutionResumer, LogMetrics, MetadataAgent, NoAgentConfigured,
    Notification, Notifier, OutcomePublisher, ResumeError, Resumed, TaskFate, WaitEvent,
};
use hitl_domain::store::WorkflowStore;
use hitl_domain::HandlerError;
use hitl_sqlite::{OffloadedSqliteStore, SqliteStore};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use statemachine::DEFINITION;
use statemachine::{Engine, EngineConfig, EngineError, HandlerRegistry, TaskContext, TaskFailure};

/// The environment name of local outcomes (`metadata/local/…` keys).
pub const LOCAL_ENVIRONMENT: &str = "local";

/// Workflows one reconciliation pass looks at.
const RECONCILE_BATCH: usize = 100;

/// Name of the project's state machine in the local engine.
pub const STATE_MACHINE_NAME: &str = "hitl-review";

tokio::task_local! {
    /// Set while a handler runs inside an engine step: resumptions are then queued and
    /// delivered after the step, as Step Functions delivers them asynchronously.
    static IN_ENGINE: bool;
}

/// The engine's clock seen through the shared `Clock` port, so handlers and the engine agree
/// on (virtual) time.
pub struct EngineClock(pub Arc<dyn statemachine::Clock>);

impl Clock for EngineClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// Resumes executions in the local engine (the local `SendTaskSuccess`).
#[derive(Default)]
pub struct LocalResumer {
    engine: OnceLock<Weak<Engine>>,
    queued: Mutex<VecDeque<(String, Value)>>,
}

impl LocalResumer {
    fn engine(&self) -> Result<Arc<Engine>, ResumeError> {
        self.engine
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| ResumeError::Permanent("local engine is not running".into()))
    }

    fn pop(&self) -> Option<(String, Value)> {
        self.queued.lock().ok().and_then(|mut q| q.pop_front())
    }

    /// Whether no resumption is waiting to be delivered.
    pub fn is_idle(&self) -> bool {
        self.queued.lock().map(|q| q.is_empty()).unwrap_or(true)
    }
}

fn resume_error(err: EngineError) -> ResumeError {
    match err.name() {
        "TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist" => {
            ResumeError::TaskClosed(err.name().to_owned())
        }
        _ => ResumeError::Permanent(err.to_string()),
    }
}

#[async_trait]
impl ExecutionResumer for LocalResumer {
    async fn resume(&self, token: &TaskToken, output: &Value) -> Result<(), ResumeError> {
        self.deliver(token, output).await.map(|_| ())
    }

    async fn deliver(&self, token: &TaskToken, output: &Value) -> Result<Resumed, ResumeError> {
        if IN_ENGINE.try_with(|inside| *inside).unwrap_or(false) {
            self.queued
                .lock()
                .map_err(|_| ResumeError::Permanent("resume queue poisoned".into()))?
                .push_back((token.expose().to_owned(), output.clone()));
            return Ok(Resumed::Deferred);
        }
        let engine = self.engine()?;
        engine
            .send_task_success(token.expose(), output.clone())
            .await
            .map_err(resume_error)?;
        Ok(Resumed::Delivered)
    }

    async fn task_fate(
        &self,
        execution_arn: &str,
        feedback_key: &str,
    ) -> Result<TaskFate, ResumeError> {
        use statemachine::HistoryEventType as T;
        let engine = self.engine()?;
        let events = engine
            .get_execution_history(execution_arn)
            .map_err(|e| ResumeError::Permanent(e.to_string()))?;
        let outputs: Vec<(T, String)> = events
            .iter()
            .map(|e| {
                let output = e
                    .details
                    .output
                    .as_ref()
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                (e.event_type, output)
            })
            .collect();
        Ok(fate_from_history(
            outputs.iter().filter_map(|(kind, output)| match kind {
                T::TaskSucceeded => Some(WaitEvent::TaskSucceeded(output)),
                T::TaskTimedOut => Some(WaitEvent::TaskTimedOut),
                T::ExecutionSucceeded
                | T::ExecutionFailed
                | T::ExecutionTimedOut
                | T::ExecutionAborted => Some(WaitEvent::ExecutionEnded),
                _ => None,
            }),
            feedback_key,
        ))
    }
}

/// Creates `dir` (and missing parents) readable by this user only (0700); an existing
/// directory is left as it is.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    hitl_api::files::create_owner_only_dir(dir)
}

/// Creates a new directory readable by this user only; fails if anything is at `dir`.
fn private_new_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating private directory {}", dir.display()))
}

/// Creates `path` empty and readable by this user only (0600) unless it exists, so the
/// databases (and SQLite's -wal/-shm files, which take the database's mode) and the
/// notification log are never world-readable, not even for a moment.
fn private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .with_context(|| format!("creating {}", path.display()))
}

/// The local outcome publisher: envelopes under `<data dir>/exports/<subject id>/<workflow
/// id>.json` (the bucket key without its `metadata/<env>/` prefix), `Workflow Finished` events
/// appended to the notification log.
pub struct FilePublisher {
    /// `<data dir>/exports`.
    pub exports: PathBuf,
    /// The notification log.
    pub notifications: PathBuf,
    /// The (virtual) clock, for the time an event was emitted.
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl OutcomePublisher for FilePublisher {
    async fn store_envelope(
        &self,
        key: &str,
        body: &[u8],
        _content_hash: &str,
    ) -> Result<String, HandlerError> {
        let relative = key.splitn(3, '/').nth(2).unwrap_or(key);
        let path = self.exports.join(relative);
        let io =
            |e: std::io::Error| HandlerError::PublishFailed(format!("{}: {e}", path.display()));
        if std::fs::read(&path).is_ok_and(|existing| existing == body) {
            return Ok(path.display().to_string());
        }
        if let Some(dir) = path.parent() {
            private_dir(dir).map_err(io)?;
        }
        hitl_api::files::write_owner_only(&path, body).map_err(io)?;
        Ok(path.display().to_string())
    }

    async fn emit_finished(&self, detail: &Value) -> Result<(), HandlerError> {
        let line = serde_json::json!({
            "kind": "workflow_finished",
            "source": hitl_domain::outcome::EVENT_SOURCE,
            "detail_type": hitl_domain::outcome::EVENT_DETAIL_TYPE,
            "detail": detail,
            "at": self.clock.now(),
        });
        hitl_api::files::append_owner_only(&self.notifications, &line.to_string())
            .map_err(|e| HandlerError::PublishFailed(e.to_string()))
    }
}

/// Appends notifications to `notifications.jsonl` in the data directory.
pub struct FileNotifier {
    path: PathBuf,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl Notifier for FileNotifier {
    fn channel(&self) -> &str {
        "log"
    }

    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        self.append(notification, Some(delivery_id))
    }
}

impl FileNotifier {
    fn append(
        &self,
        notification: &Notification,
        delivery_id: Option<&str>,
    ) -> Result<(), HandlerError> {
        // The log line is the notification with the (virtual) time it was sent and, from the
        // outbox, its delivery id.
        let mut value = serde_json::to_value(notification)
            .map_err(|e| HandlerError::NotificationFailed(e.to_string()))?;
        value["at"] = serde_json::json!(self.clock.now());
        if let Some(id) = delivery_id {
            value["delivery_id"] = serde_json::json!(id);
        }
        let line = value.to_string();
        hitl_api::files::append_owner_only(&self.path, &line)
            .map_err(|e| HandlerError::NotificationFailed(e.to_string()))?;
        tracing::info!(workflow_id = %notification.workflow_id, kind = ?notification.kind, "notification");
        Ok(())
    }
}

/// The review page's URL (ending in `/`), the same variable as on AWS: review requests and
/// escalations link to the workflow there (`hitl serve`'s reminders link to the page it
/// serves without it).
pub const REVIEW_PAGE_URL: &str = "HITL_REVIEW_PAGE_URL";

/// Each group's Slack incoming webhook (`reviewers=https://hooks.slack.com/services/…;escalations=…`):
/// notifications are posted there with an "Open review" button. The URLs are credentials.
pub const SLACK_WEBHOOKS: &str = "HITL_SLACK_WEBHOOKS";

/// Where a webhook sends notifications (issue 30): one URL for every group, or one per group
/// (`reviewers=https://…;escalations=https://…`; a group not named gets none). With it,
/// [`WEBHOOK_SECRET`] is required.
pub const WEBHOOK_URL: &str = "HITL_WEBHOOK_URL";
/// The webhook's signing secret (at least 16 bytes). An environment variable, never a flag,
/// so it stays out of shell history and process listings.
pub const WEBHOOK_SECRET: &str = "HITL_WEBHOOK_SECRET";

/// The SMTP server email notifications go through (`smtp://host:port`,
/// `smtp://user@host:587?tls=required`, `smtps://host:465`); with it, [`EMAIL_FROM`] and
/// [`EMAIL_TO`] are required.
pub const SMTP_URL: &str = "HITL_SMTP_URL";
/// The SMTP password of the URL's user (never in the URL, never a flag).
pub const SMTP_PASSWORD: &str = "HITL_SMTP_PASSWORD";
/// The sender of email notifications (`HITL <hitl@example.com>`).
pub const EMAIL_FROM: &str = "HITL_EMAIL_FROM";
/// Who gets email, per group: `reviewers=rita@example.com,sam@example.com;escalations=olga@example.com`.
pub const EMAIL_TO: &str = "HITL_EMAIL_TO";

/// The notification log, plus a signed webhook when [`WEBHOOK_URL`] is set and email when
/// [`SMTP_URL`] is set.
fn with_channels(file: FileNotifier) -> Result<Arc<dyn Notifier>> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut channels: Vec<Arc<dyn Notifier>> = vec![Arc::new(file)];
    if let Some(url) = set(WEBHOOK_URL) {
        let secret = set(WEBHOOK_SECRET).ok_or_else(|| {
            anyhow::anyhow!("{WEBHOOK_URL} is set but {WEBHOOK_SECRET} is not: webhooks are signed")
        })?;
        // Timestamps from the wall clock: receivers compare them with theirs.
        channels.push(Arc::new(hitl_channels::WebhookNotifier::new(
            &url,
            secret.as_bytes(),
        )?));
    }
    if let Some(url) = set(SMTP_URL) {
        let from = set(EMAIL_FROM)
            .ok_or_else(|| anyhow::anyhow!("{SMTP_URL} is set but {EMAIL_FROM} is not"))?;
        let to = set(EMAIL_TO)
            .ok_or_else(|| anyhow::anyhow!("{SMTP_URL} is set but {EMAIL_TO} is not"))?;
        let to = hitl_channels::Recipients::parse(&to)
            .map_err(|e| anyhow::anyhow!("{EMAIL_TO}: {e}"))?;
        channels.push(Arc::new(hitl_channels::EmailNotifier::new(
            &url,
            set(SMTP_PASSWORD),
            &from,
            to,
        )?));
    }
    if let Some(hooks) = set(SLACK_WEBHOOKS) {
        let hooks = hitl_channels::SlackWebhooks::parse(&hooks)
            .map_err(|e| anyhow::anyhow!("{SLACK_WEBHOOKS}: {e}"))?;
        channels.push(Arc::new(hitl_channels::SlackNotifier::new(hooks)?));
    }
    Ok(if channels.len() == 1 {
        channels.remove(0)
    } else {
        Arc::new(hitl_channels::Fanout::new(channels))
    })
}

/// Adapts a typed handler (`I -> Result<O, HandlerError>`) to the engine's `TaskHandler`.
struct Typed<F, I, O, Fut>(F, std::marker::PhantomData<fn(I) -> (O, Fut)>);

#[async_trait]
impl<I, O, F, Fut> statemachine::TaskHandler for Typed<F, I, O, Fut>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send + 'static,
{
    async fn invoke(&self, input: Value, _ctx: TaskContext) -> Result<Value, TaskFailure> {
        let typed: I = serde_json::from_value(input).map_err(|e| TaskFailure {
            error: hitl_domain::ErrorName::InvalidInput.as_str().to_owned(),
            cause: format!("input does not match the task contract: {e}"),
        })?;
        let output = IN_ENGINE
            .scope(true, (self.0)(typed))
            .await
            .map_err(|e| TaskFailure {
                error: e.name().as_str().to_owned(),
                cause: e.to_string(),
            })?;
        serde_json::to_value(output).map_err(|e| TaskFailure {
            error: "States.Runtime".into(),
            cause: e.to_string(),
        })
    }
}

fn typed<I, O, F, Fut>(f: F) -> Arc<dyn statemachine::TaskHandler>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send + 'static,
{
    Arc::new(Typed(f, std::marker::PhantomData))
}

/// Local stand-in for the callback-capable service integrations (`sqs:sendMessage`,
/// `sns:publish`, `events:putEvents`): accepts the message and answers the way the service
/// does, so `.waitForTaskToken` tasks on them suspend until a callback arrives.
struct IntegrationEcho(&'static str);

#[async_trait]
impl statemachine::TaskHandler for IntegrationEcho {
    async fn invoke(&self, _input: Value, _ctx: TaskContext) -> Result<Value, TaskFailure> {
        let id = uuid::Uuid::new_v4().to_string();
        Ok(match self.0 {
            "Entries" => serde_json::json!({"Entries": [{"EventId": id}], "FailedEntryCount": 0}),
            key => serde_json::json!({ key: id }),
        })
    }
}

/// A function's handler over the process's ports, as the engine calls it.
fn function<I, O, F, Fut>(ports: &Ports, handler: F) -> Arc<dyn statemachine::TaskHandler>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(Ports, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send + 'static,
{
    let ports = ports.clone();
    typed(move |input| handler(ports.clone(), input))
}

/// Registers the project's function handlers under their function names, each over the same
/// ports (the Lambda functions get theirs from `hitl_aws::lambda::wire`).
pub fn registry(ports: &Ports) -> HandlerRegistry {
    HandlerRegistry::new()
        .with(
            "init-workflow",
            function(
                ports,
                |p, i| async move { init_workflow::handle(&p, i).await },
            ),
        )
        .with(
            "generate-metadata",
            function(ports, |p, i| async move {
                generate_metadata::handle(&p, i).await
            }),
        )
        .with(
            "request-review",
            function(
                ports,
                |p, i| async move { request_review::handle(&p, i).await },
            ),
        )
        .with(
            "iteration-check",
            function(
                ports,
                |p, i| async move { iteration_check::handle(&p, i).await },
            ),
        )
        .with(
            "escalate",
            function(ports, |p, i| async move { escalate::handle(&p, i).await }),
        )
        .with(
            "finalize",
            function(ports, |p, i| async move { finalize::handle(&p, i).await }),
        )
        .with(
            "publish-outcome",
            function(
                ports,
                |p, i| async move { publish_outcome::handle(&p, i).await },
            ),
        )
        .with("sqs:sendMessage", Arc::new(IntegrationEcho("MessageId")))
        .with("sns:publish", Arc::new(IntegrationEcho("MessageId")))
        .with("events:putEvents", Arc::new(IntegrationEcho("Entries")))
        .with(
            "process-feedback",
            function(ports, |p, i| async move {
                process_feedback::handle(&p, i).await
            }),
        )
}

/// `${...}` values for the project's definition in the local engine.
pub fn substitutions() -> HashMap<String, String> {
    FUNCTION_SUBSTITUTIONS
        .iter()
        .map(|(key, function)| ((*key).to_owned(), local_function_arn(function)))
        .collect()
}

/// Everything a local command needs.
pub struct Runtime {
    /// Workflow records.
    pub store: Arc<dyn WorkflowStore>,
    /// The ports every local handler and use case runs over (the same as [`registry`]'s).
    pub ports: Ports,
    /// The engine.
    pub engine: Arc<Engine>,
    /// ARN of the project's state machine.
    pub state_machine_arn: String,
    /// Handlers' view of the clock.
    pub clock: Arc<dyn Clock>,
    /// Where approved workflows' envelopes are written (`<data dir>/exports`).
    pub exports: PathBuf,
    /// The notification log (review requests, escalations, `Workflow Finished` events).
    pub notifications: PathBuf,
    resumer: Arc<LocalResumer>,
}

/// What [`Runtime::settle_report`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Resumptions queued by handlers (the synthetic reviewer, decisions the relay handed to
    /// the local engine) and delivered.
    pub queued: usize,
    /// The passes of the outbox relay, summed.
    pub relay: ReconcileReport,
}

impl Runtime {
    /// Opens (creating) the runtime in `data_dir`; `None` keeps everything in memory.
    pub fn open(data_dir: Option<&Path>) -> Result<Self> {
        Self::open_with_agent(data_dir, Arc::new(LocalGenerator))
    }

    /// [`Runtime::open`] with another drafting agent (tests use one that misbehaves).
    pub fn open_with_agent(data_dir: Option<&Path>, agent: Arc<dyn MetadataAgent>) -> Result<Self> {
        Self::open_with_store_layer(data_dir, agent, &|store| store, DEFINITION)
    }

    /// [`Runtime::open_with_agent`] with the workflow store wrapped by `layer` and another
    /// definition of the state machine (the cost bench counts every store request of the
    /// functions this way, and runs an earlier definition as its baseline).
    pub fn open_with_store_layer(
        data_dir: Option<&Path>,
        agent: Arc<dyn MetadataAgent>,
        layer: &dyn Fn(Arc<dyn WorkflowStore>) -> Arc<dyn WorkflowStore>,
        definition: &str,
    ) -> Result<Self> {
        Self::open_engine(
            data_dir,
            agent,
            layer,
            definition,
            EngineConfig::default(),
            Vec::new(),
        )
    }

    /// The runtime behind `hitl sfn-local`: the same data directory, handlers and state
    /// machine, with an engine that lets timers run in real time (a Step Functions endpoint
    /// answers StartExecution while the execution still runs, as AWS does).
    pub fn open_endpoint(
        data_dir: Option<&Path>,
        agent: Arc<dyn MetadataAgent>,
        lambdas: Vec<(String, Arc<dyn statemachine::TaskHandler>)>,
    ) -> Result<Self> {
        let config = EngineConfig {
            auto_advance_timers: false,
            ..EngineConfig::default()
        };
        Self::open_engine(data_dir, agent, &|store| store, DEFINITION, config, lambdas)
    }

    fn open_engine(
        data_dir: Option<&Path>,
        agent: Arc<dyn MetadataAgent>,
        layer: &dyn Fn(Arc<dyn WorkflowStore>) -> Arc<dyn WorkflowStore>,
        definition: &str,
        config: EngineConfig,
        lambdas: Vec<(String, Arc<dyn statemachine::TaskHandler>)>,
    ) -> Result<Self> {
        let (store, exec_store, notifications): (
            Arc<dyn WorkflowStore>,
            Arc<dyn statemachine::ExecutionStore>,
            PathBuf,
        ) = match data_dir {
            Some(dir) => {
                private_dir(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
                for file in [
                    "workflows.sqlite",
                    "executions.sqlite",
                    "notifications.jsonl",
                ] {
                    private_file(&dir.join(file))?;
                }
                (
                    Arc::new(OffloadedSqliteStore::new(SqliteStore::open(
                        &dir.join("workflows.sqlite"),
                    )?)),
                    Arc::new(statemachine::SqliteExecutionStore::open(
                        dir.join("executions.sqlite"),
                    )?),
                    dir.join("notifications.jsonl"),
                )
            }
            None => (
                Arc::new(OffloadedSqliteStore::new(SqliteStore::in_memory()?)),
                Arc::new(statemachine::MemoryExecutionStore::default()),
                {
                    // A fresh private directory (mkdir fails on anything already there, a
                    // symlink included), never a predictable shared path.
                    let dir = std::env::temp_dir().join(format!(
                        "hitl-{}-{}",
                        std::process::id(),
                        uuid::Uuid::new_v4().simple()
                    ));
                    private_new_dir(&dir)?;
                    dir.join("notifications.jsonl")
                },
            ),
        };
        let store = layer(store);
        let exports = notifications
            .parent()
            .map_or_else(|| PathBuf::from("exports"), |d| d.join("exports"));
        let engine_clock: Arc<dyn statemachine::Clock> =
            Arc::new(statemachine::VirtualClock::new(exec_store.clone())?);
        let clock: Arc<dyn Clock> = Arc::new(EngineClock(engine_clock.clone()));
        let resumer = Arc::new(LocalResumer::default());
        let types = Arc::new(crate::types::load(data_dir)?);
        let ports = Ports::new(store.clone(), clock.clone())
            .with_types(types)
            .with_page_url(
                std::env::var(REVIEW_PAGE_URL)
                    .ok()
                    .filter(|v| !v.trim().is_empty()),
            )
            .with_metrics(Arc::new(LogMetrics))
            .with_resumer(resumer.clone())
            .with_review_notifier(with_channels(FileNotifier {
                path: notifications.clone(),
                clock: clock.clone(),
            })?)
            .with_escalation_notifier(with_channels(FileNotifier {
                path: notifications.clone(),
                clock: clock.clone(),
            })?)
            .with_agent(agent)
            .with_readiness(Arc::new(NoAgentConfigured))
            .with_publisher(
                Arc::new(FilePublisher {
                    exports: exports.clone(),
                    notifications: notifications.clone(),
                    clock: clock.clone(),
                }),
                LOCAL_ENVIRONMENT,
            );
        // Functions served elsewhere (a Lambda Runtime Interface Emulator per function, for
        // `hitl sfn-local --lambda`) take the place of any handler of the same name.
        let mut handlers = registry(&ports);
        for (name, handler) in lambdas {
            handlers.insert(name, handler);
        }
        let engine = Arc::new(Engine::new(exec_store, handlers, engine_clock, config));
        let _ = resumer.engine.set(Arc::downgrade(&engine));
        let definition = statemachine::substitute(definition, &substitutions())?;
        let state_machine_arn = engine.create_state_machine(STATE_MACHINE_NAME, &definition)?;
        Ok(Self {
            store,
            ports,
            engine,
            state_machine_arn,
            clock,
            exports,
            notifications,
            resumer,
        })
    }

    /// The notifier of this runtime (the notification log).
    pub fn notifier(&self) -> Arc<dyn Notifier> {
        Arc::new(FileNotifier {
            path: self.notifications.clone(),
            clock: self.clock.clone(),
        })
    }

    /// Sends the review reminders due now (the notification log; links to a local review
    /// page when `page_url` is given).
    pub async fn send_reminders(
        &self,
        page_url: Option<String>,
    ) -> Result<hitl_domain::reminders::ReminderReport> {
        let page_url = self.ports.settings.page_url.clone().or(page_url);
        let ports = self.ports.clone().with_page_url(page_url);
        Ok(housekeeping::send_due_reminders(&ports, usize::MAX).await?)
    }

    /// When the next reminder later than `after` is due, over every workflow awaiting review
    /// or a resolution (a workflow whose reminder is overdue, e.g. because its notification
    /// failed, does not hide the others').
    pub async fn next_reminder_after(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        use hitl_domain::model::WorkflowStatus;
        let mut next = None;
        for status in [WorkflowStatus::AwaitingReview, WorkflowStatus::Escalated] {
            let mut cursor: Option<String> = None;
            loop {
                let page = self
                    .store
                    .list_by_status(status, 200, cursor.as_deref())
                    .await?;
                for wf in page.items.iter().filter(|w| w.smoke.is_none()) {
                    if let Some(at) = hitl_domain::rules::next_reminder_at(wf) {
                        if at > after {
                            next = Some(next.map_or(at, |n: DateTime<Utc>| n.min(at)));
                        }
                    }
                }
                cursor = page.next_cursor;
                if cursor.is_none() || page.items.is_empty() {
                    break;
                }
            }
        }
        Ok(next)
    }

    /// The local resumer (the `SendTaskSuccess` of the local engine).
    pub fn resumer(&self) -> Arc<LocalResumer> {
        Arc::clone(&self.resumer)
    }

    /// Delivers resumptions queued by handlers (the synthetic reviewer) until none are left,
    /// confirming each delivered decision, then relays the outbox (any decision still pending
    /// delivery, e.g. after a process died between recording and delivering it). Runs after
    /// every engine step loop of every command, so `hitl serve` start-up and `hitl reconcile`
    /// include it.
    pub async fn settle(&self) -> Result<usize> {
        Ok(self.settle_report().await?.queued)
    }

    /// [`Runtime::settle`], reporting everything it did: the queued resumptions delivered and
    /// every pass of the outbox relay, summed (what `hitl reconcile` prints, so a decision the
    /// start-up pass delivered is reported, not hidden behind a "0 delivered").
    pub async fn settle_report(&self) -> Result<Settled> {
        let mut settled = Settled::default();
        loop {
            while let Some((token, output)) = self.resumer.pop() {
                match self.engine.send_task_success(&token, output.clone()).await {
                    Ok(()) => {
                        settled.queued += 1;
                        hitl_domain::failpoints::crash_point(
                            hitl_domain::failpoints::LOCAL_AFTER_QUEUED_DELIVERY,
                        );
                        if let (Some(id), Some(key)) = (
                            output["workflow_id"].as_str(),
                            output["feedback_key"].as_str(),
                        ) {
                            self.processor().confirm_delivered(id, key).await?;
                        }
                    }
                    // Left pending: the reconciliation below reads the execution's history.
                    Err(e) => tracing::warn!(error = %e, "queued resumption not delivered"),
                }
            }
            settled.relay.add(&self.reconcile().await?);
            if self.resumer.is_idle() {
                return Ok(settled);
            }
        }
    }

    /// One pass of the delivery outbox relay (see [`housekeeping::deliver_pending`]).
    pub async fn reconcile(&self) -> Result<ReconcileReport> {
        Ok(housekeeping::deliver_pending(&self.ports, RECONCILE_BATCH).await?)
    }

    fn processor(&self) -> hitl_app::ports::Decisions {
        self.ports.decisions()
    }
}
