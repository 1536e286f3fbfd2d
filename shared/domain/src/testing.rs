//! Test doubles of the ports, shared by the function crates' tests (feature `test-support`):
//! an in-process [`MemoryStore`], a clock, a resumer, a notifier and a metrics sink, and
//! ready-made records such as [`awaiting_review`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use crate::error::HandlerError;
use crate::model::{Artifact, FeedbackEntry, TaskToken, Workflow, WorkflowStatus};
use crate::ports::{
    Clock, ExecutionResumer, MetricsSink, Notification, Notifier, ResumeError, TaskFate,
};
use crate::rules::{self, Rejection};
use crate::store::{CreateOutcome, FeedbackContext, Page, StoreError, WorkflowStore};

/// The [`WorkflowStore`] in process memory, with the conditional-write semantics of the
/// DynamoDB and SQLite adapters: an update needs the stored version (else `Conflict`, or
/// `NotFound` for a missing record), creation needs absence, an idempotency key is taken once
/// (`Duplicate`), and a feedback entry and its workflow update are written together or not at
/// all. One lock around the whole state makes every call atomic. It passes the same
/// [`contract`](crate::store::contract) suite as the adapters.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Tables>);

#[derive(Debug, Default)]
struct Tables {
    workflows: HashMap<String, Workflow>,
    /// workflow id → iteration → artifact.
    artifacts: HashMap<String, BTreeMap<u32, Artifact>>,
    /// (workflow id, idempotency key) → entry.
    feedback: HashMap<(String, String), FeedbackEntry>,
}

impl MemoryStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panicking test thread must not hide the store from the others.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// As the SQLite adapter: the caller derives the next record from the one it read.
fn check_next_version(workflow: &Workflow, expected_version: u64) -> Result<(), StoreError> {
    if workflow.version == expected_version + 1 {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "workflow {} version {} must be expected version {} + 1",
            workflow.id, workflow.version, expected_version
        )))
    }
}

impl Tables {
    /// The version check of a conditional update, without writing.
    fn check_update(&self, workflow: &Workflow, expected_version: u64) -> Result<(), StoreError> {
        match self.workflows.get(&workflow.id) {
            None => Err(StoreError::NotFound(workflow.id.clone())),
            Some(stored) if stored.version != expected_version => {
                Err(StoreError::Conflict(workflow.id.clone()))
            }
            Some(_) => Ok(()),
        }
    }
}

/// The listing order's key of a workflow, as a cursor: `updated_at|id`.
fn cursor_of(workflow: &Workflow) -> String {
    format!(
        "{}|{}",
        workflow
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        workflow.id
    )
}

#[async_trait]
impl WorkflowStore for MemoryStore {
    async fn create_workflow(&self, workflow: &Workflow) -> Result<CreateOutcome, StoreError> {
        let mut tables = self.tables();
        if let Some(existing) = tables.workflows.get(&workflow.id) {
            return Ok(CreateOutcome::Existing(Box::new(existing.clone())));
        }
        tables
            .workflows
            .insert(workflow.id.clone(), workflow.clone());
        Ok(CreateOutcome::Created)
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        Ok(self.tables().workflows.get(id).cloned())
    }

    async fn update_workflow(
        &self,
        workflow: &Workflow,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        check_next_version(workflow, expected_version)?;
        let mut tables = self.tables();
        tables.check_update(workflow, expected_version)?;
        tables
            .workflows
            .insert(workflow.id.clone(), workflow.clone());
        Ok(())
    }

    async fn put_artifact(&self, workflow_id: &str, artifact: &Artifact) -> Result<(), StoreError> {
        let mut tables = self.tables();
        let artifacts = tables.artifacts.entry(workflow_id.to_owned()).or_default();
        match artifacts.get(&artifact.iteration) {
            Some(stored) if stored.hash == artifact.hash => Ok(()),
            Some(_) => Err(StoreError::Duplicate(format!(
                "artifact {workflow_id}#{}",
                artifact.iteration
            ))),
            None => {
                artifacts.insert(artifact.iteration, artifact.clone());
                Ok(())
            }
        }
    }

    async fn get_artifact(
        &self,
        workflow_id: &str,
        iteration: u32,
    ) -> Result<Option<Artifact>, StoreError> {
        Ok(self
            .tables()
            .artifacts
            .get(workflow_id)
            .and_then(|a| a.get(&iteration))
            .cloned())
    }

    async fn list_artifacts(&self, workflow_id: &str) -> Result<Vec<Artifact>, StoreError> {
        Ok(self
            .tables()
            .artifacts
            .get(workflow_id)
            .map(|a| a.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn load_feedback_context(
        &self,
        workflow_id: &str,
        idempotency_key: &str,
    ) -> Result<FeedbackContext, StoreError> {
        let tables = self.tables();
        Ok(FeedbackContext {
            workflow: tables.workflows.get(workflow_id).cloned(),
            existing_entry: tables
                .feedback
                .get(&(workflow_id.to_owned(), idempotency_key.to_owned()))
                .cloned(),
        })
    }

    async fn record_feedback(
        &self,
        entry: &FeedbackEntry,
        update: Option<(&Workflow, u64)>,
    ) -> Result<(), StoreError> {
        if let Some((workflow, expected)) = update {
            check_next_version(workflow, expected)?;
        }
        let mut tables = self.tables();
        let key = (entry.workflow_id.clone(), entry.idempotency_key.clone());
        // Every condition is checked before anything is written: all or nothing.
        if tables.feedback.contains_key(&key) {
            return Err(StoreError::Duplicate(entry.idempotency_key.clone()));
        }
        if let Some((workflow, expected)) = update {
            tables.check_update(workflow, expected)?;
            tables
                .workflows
                .insert(workflow.id.clone(), workflow.clone());
        }
        tables.feedback.insert(key, entry.clone());
        Ok(())
    }

    async fn replace_feedback(&self, entry: &FeedbackEntry) -> Result<(), StoreError> {
        let mut tables = self.tables();
        let key = (entry.workflow_id.clone(), entry.idempotency_key.clone());
        match tables.feedback.get_mut(&key) {
            Some(stored) => {
                *stored = entry.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound(format!(
                "{}#{}",
                entry.workflow_id, entry.idempotency_key
            ))),
        }
    }

    async fn count_feedback(
        &self,
        workflow_id: &str,
        key_prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError> {
        Ok(self
            .tables()
            .feedback
            .keys()
            .filter(|(id, key)| id == workflow_id && key.starts_with(key_prefix))
            .take(limit)
            .count())
    }

    async fn list_feedback(&self, workflow_id: &str) -> Result<Vec<FeedbackEntry>, StoreError> {
        let mut entries: Vec<FeedbackEntry> = self
            .tables()
            .feedback
            .values()
            .filter(|e| e.workflow_id == workflow_id)
            .cloned()
            .collect();
        entries.sort_by(|a, b| {
            (a.received_at, &a.idempotency_key).cmp(&(b.received_at, &b.idempotency_key))
        });
        Ok(entries)
    }

    async fn list_pending_deliveries(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        let mut pending: Vec<(String, Workflow)> = self
            .tables()
            .workflows
            .values()
            .filter_map(|w| w.outbox_key().map(|key| (key, w.clone())))
            .collect();
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        pending.truncate(limit);
        Ok(pending.into_iter().map(|(_, w)| w).collect())
    }

    async fn list_due_notifications(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        let bound = Workflow::due_notifications_bound(now);
        let mut due: Vec<(String, Workflow)> = self
            .tables()
            .workflows
            .values()
            .filter_map(|w| w.outbox_key().map(|key| (key, w.clone())))
            .filter(|(key, _)| key.starts_with(crate::model::OUTBOX_NOTIFICATIONS) && *key <= bound)
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0));
        due.truncate(limit);
        Ok(due.into_iter().map(|(_, w)| w).collect())
    }

    async fn list_by_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Workflow>, StoreError> {
        let mut listed: Vec<Workflow> = self
            .tables()
            .workflows
            .values()
            .filter(|w| w.status == status)
            .cloned()
            .collect();
        // Newest first; the cursor (fixed-width timestamp, then id) sorts the same way.
        listed.sort_by_key(|w| std::cmp::Reverse(cursor_of(w)));
        if let Some(after) = cursor {
            if !after.contains('|') {
                return Err(StoreError::Backend(format!("malformed cursor {after:?}")));
            }
            listed.retain(|w| cursor_of(w).as_str() < after);
        }
        let more = listed.len() > limit;
        listed.truncate(limit);
        let next_cursor = listed.last().filter(|_| more).map(cursor_of);
        Ok(Page {
            items: listed,
            next_cursor,
        })
    }
}

/// A workflow (`sample_workflow(workflow_id)`, version 1) whose iteration 1 is drafted and
/// waiting for review with `token`, as `rules::record_artifact` then `rules::request_review`
/// leave it at `now`: the starting point of most feedback, claim and reminder tests.
pub fn awaiting_review(workflow_id: &str, token: &str, now: DateTime<Utc>) -> Workflow {
    let fresh = crate::store::contract::sample_workflow(workflow_id);
    let mut drafted = rules::record_artifact(&fresh, 1, "h", now)
        .expect("a fresh workflow accepts its first draft")
        .expect("the first draft changes the record");
    drafted.version = 1;
    let mut waiting = rules::request_review(&drafted, 1, TaskToken::new(token), now)
        .expect("a drafted iteration can be put up for review");
    waiting.version = 1;
    waiting
}

/// A clock that stands still until moved.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl Default for FixedClock {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap(),
        )))
    }
}

impl FixedClock {
    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Records notifications; can be told to fail.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    /// Its channel's name (`recording` unless [`RecordingNotifier::named`]).
    pub name: Option<String>,
    /// What was published.
    pub sent: Mutex<Vec<Notification>>,
    /// The delivery ids of what was sent, in order.
    pub ids: Mutex<Vec<String>>,
    /// When set, `publish` fails with `NotificationFailed`.
    pub fail: Mutex<bool>,
}

impl RecordingNotifier {
    /// A recorder whose channel is called `name`.
    pub fn named(name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            ..Self::default()
        }
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn channel(&self) -> &str {
        self.name.as_deref().unwrap_or("recording")
    }

    async fn send(
        &self,
        notification: &Notification,
        delivery_id: &str,
    ) -> Result<(), HandlerError> {
        if *self.fail.lock().unwrap() {
            return Err(HandlerError::NotificationFailed("injected".into()));
        }
        self.sent.lock().unwrap().push(notification.clone());
        self.ids.lock().unwrap().push(delivery_id.to_owned());
        Ok(())
    }
}

/// Records resumptions; answers with queued results (default `Ok`). Its "history" is what it
/// accepted: `task_fate` answers `Delivered` for a feedback key it delivered, else the
/// scripted fate (default `Unknown`).
#[derive(Debug, Default)]
pub struct RecordingResumer {
    /// (token, output) pairs delivered.
    pub delivered: Mutex<Vec<(String, Value)>>,
    /// Results to return, front first.
    pub script: Mutex<Vec<Result<(), ResumeError>>>,
    /// What `task_fate` answers for a key it never delivered.
    pub fate: Mutex<Option<TaskFate>>,
}

impl RecordingResumer {
    /// Queues the results of the next resumptions, in order (then `Ok` again).
    pub fn answer(&self, results: impl IntoIterator<Item = Result<(), ResumeError>>) {
        self.script.lock().unwrap().extend(results);
    }
}

#[async_trait]
impl ExecutionResumer for RecordingResumer {
    async fn resume(&self, token: &TaskToken, output: &Value) -> Result<(), ResumeError> {
        let next = {
            let mut script = self.script.lock().unwrap();
            if script.is_empty() {
                Ok(())
            } else {
                script.remove(0)
            }
        };
        if next.is_ok() {
            self.delivered
                .lock()
                .unwrap()
                .push((token.expose().to_owned(), output.clone()));
        }
        next
    }

    async fn task_fate(
        &self,
        _execution_arn: &str,
        feedback_key: &str,
    ) -> Result<TaskFate, ResumeError> {
        let delivered = self
            .delivered
            .lock()
            .unwrap()
            .iter()
            .any(|(_, output)| output["feedback_key"] == feedback_key);
        Ok(if delivered {
            TaskFate::Delivered
        } else {
            self.fate.lock().unwrap().unwrap_or(TaskFate::Unknown)
        })
    }
}

/// Keeps every metric record it is given, in order.
#[derive(Debug, Default)]
pub struct RecordingMetrics {
    /// The records received.
    pub records: Mutex<Vec<Value>>,
}

impl RecordingMetrics {
    /// The metric name of each record (the first entry of its EMF directive), in order.
    pub fn names(&self) -> Vec<String> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

impl MetricsSink for RecordingMetrics {
    fn record(&self, record: &Value) {
        self.records.lock().unwrap().push(record.clone());
    }
}

/// One value of every [`Rejection`] variant, for tests that check the names against a list.
/// The `match` has no wildcard, so a new variant does not compile until it is added here.
pub fn one_rejection_of_each_kind() -> Vec<Rejection> {
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap();
    let all = vec![
        Rejection::StaleIteration {
            submitted: 1,
            current: 2,
        },
        Rejection::UnknownIteration {
            submitted: 3,
            current: 2,
        },
        Rejection::AlreadyDecided {
            iteration: 1,
            decision: "approve",
            reviewer: "rita".into(),
        },
        Rejection::NotAwaitingReview {
            status: WorkflowStatus::Generating,
        },
        Rejection::WorkflowFinished {
            status: WorkflowStatus::Approved,
        },
        Rejection::ReviewTimedOut {
            iteration: 1,
            deadline: at,
        },
        Rejection::NotEscalated {
            status: WorkflowStatus::Approved,
        },
        Rejection::AlreadyResolved {
            decision: "abandon",
            by: "lead".into(),
        },
        Rejection::EscalationExpired { deadline: at },
        Rejection::TooManyIterations {
            requested: 9,
            total: 20,
            max: 10,
        },
        Rejection::NoDraftToReview { iteration: 2 },
        Rejection::ClaimedByOther {
            iteration: 1,
            holder: "ana".into(),
            until: at,
        },
        Rejection::AlreadyApproved {
            iteration: 1,
            reviewer: "ana".into(),
        },
        Rejection::EditNeedsSingleApproval { required: 2 },
    ];
    for rejection in &all {
        match rejection {
            Rejection::StaleIteration { .. }
            | Rejection::UnknownIteration { .. }
            | Rejection::AlreadyDecided { .. }
            | Rejection::NotAwaitingReview { .. }
            | Rejection::WorkflowFinished { .. }
            | Rejection::ReviewTimedOut { .. }
            | Rejection::NotEscalated { .. }
            | Rejection::AlreadyResolved { .. }
            | Rejection::EscalationExpired { .. }
            | Rejection::TooManyIterations { .. }
            | Rejection::NoDraftToReview { .. }
            | Rejection::ClaimedByOther { .. }
            | Rejection::AlreadyApproved { .. }
            | Rejection::EditNeedsSingleApproval { .. } => {}
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_passes_the_store_contract() {
        crate::store::contract::run_all(Arc::new(MemoryStore::default())).await;
    }

    #[test]
    fn awaiting_review_is_iteration_one_waiting_with_its_token() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap();
        let wf = awaiting_review("wf-a", "tok-a", now);
        assert_eq!(wf.id, "wf-a");
        assert_eq!(wf.status, WorkflowStatus::AwaitingReview);
        assert_eq!((wf.iteration, wf.artifact_iteration, wf.version), (1, 1, 1));
        let pending = wf.pending_review.expect("a pending review");
        assert_eq!(pending.task_token, TaskToken::new("tok-a"));
        assert_eq!(wf.updated_at, now);
    }
}

/// A store that is down: every call fails with `Throttled`, as DynamoDB does when it
/// refuses requests; for the paths that must keep a decision retryable.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnavailableStore;

#[async_trait]
impl WorkflowStore for UnavailableStore {
    async fn create_workflow(
        &self,
        _: &crate::model::Workflow,
    ) -> Result<crate::store::CreateOutcome, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn get_workflow(&self, _: &str) -> Result<Option<crate::model::Workflow>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn update_workflow(&self, _: &crate::model::Workflow, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn put_artifact(&self, _: &str, _: &crate::model::Artifact) -> Result<(), StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn get_artifact(
        &self,
        _: &str,
        _: u32,
    ) -> Result<Option<crate::model::Artifact>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn list_artifacts(&self, _: &str) -> Result<Vec<crate::model::Artifact>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn load_feedback_context(
        &self,
        _: &str,
        _: &str,
    ) -> Result<crate::store::FeedbackContext, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn record_feedback(
        &self,
        _: &crate::model::FeedbackEntry,
        _: Option<(&crate::model::Workflow, u64)>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn replace_feedback(&self, _: &crate::model::FeedbackEntry) -> Result<(), StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn count_feedback(&self, _: &str, _: &str, _: usize) -> Result<usize, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn list_pending_deliveries(
        &self,
        _: usize,
    ) -> Result<Vec<crate::model::Workflow>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn list_due_notifications(
        &self,
        _: chrono::DateTime<chrono::Utc>,
        _: usize,
    ) -> Result<Vec<crate::model::Workflow>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn list_feedback(&self, _: &str) -> Result<Vec<crate::model::FeedbackEntry>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
    async fn list_by_status(
        &self,
        _: WorkflowStatus,
        _: usize,
        _: Option<&str>,
    ) -> Result<crate::store::Page<crate::model::Workflow>, StoreError> {
        Err(StoreError::Throttled("down".into()))
    }
}
