//! The `WorkflowStore` port. Its adapters live outside the domain (`hitl-aws`: DynamoDB,
//! `hitl-sqlite`: SQLite); both pass the same contract suite ([`contract`]).
//!
//! Every state change is conditional: [`WorkflowStore::update_workflow`] requires the version
//! the caller read, creation requires absence, and feedback entries are unique per
//! (workflow, idempotency key). A failed precondition is [`StoreError::Conflict`] (or
//! [`StoreError::Duplicate`] for an idempotency key already used).

pub mod report_source;

#[cfg(any(test, feature = "test-support"))]
pub mod contract;

use async_trait::async_trait;
use thiserror::Error;

use crate::model::{Artifact, FeedbackEntry, Workflow, WorkflowStatus};

pub use report_source::{collect_report_records, CollectProgress, ReportRecords};

/// Store failures, kept distinguishable: a precondition failure is never a plain string.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A conditional write failed: somebody else changed the record first.
    #[error("conflicting concurrent write on workflow {0}")]
    Conflict(String),
    /// The record exists already (creation) or the idempotency key is taken.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The workflow does not exist.
    #[error("workflow {0} not found")]
    NotFound(String),
    /// The backend throttled the request.
    #[error("throttled: {0}")]
    Throttled(String),
    /// A stored item could not be decoded.
    #[error("corrupt item {key}: {message}")]
    Corrupt {
        /// Which item.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Any other backend failure.
    #[error("backend error: {0}")]
    Backend(String),
}

/// Result of an idempotent creation.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// The record was written.
    Created,
    /// A record with this id already existed; it is returned unchanged.
    Existing(Box<Workflow>),
}

/// One page of a status listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Items, newest update first.
    pub items: Vec<T>,
    /// Opaque cursor for the next page.
    pub next_cursor: Option<String>,
}

/// A workflow and, if present, the feedback entry stored under one idempotency key: what the
/// feedback processor needs, fetched in one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackContext {
    /// The workflow, if it exists.
    pub workflow: Option<Workflow>,
    /// The entry already recorded under the key, if any.
    pub existing_entry: Option<FeedbackEntry>,
}

/// Persistence of workflow records, artifacts and the feedback audit trail.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Creates a workflow unless one with the same id exists (then returns it).
    async fn create_workflow(&self, workflow: &Workflow) -> Result<CreateOutcome, StoreError>;

    /// Reads a workflow.
    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError>;

    /// Replaces a workflow if its stored version equals `expected_version`.
    /// `workflow.version` must be `expected_version + 1`.
    async fn update_workflow(
        &self,
        workflow: &Workflow,
        expected_version: u64,
    ) -> Result<(), StoreError>;

    /// Stores an artifact unless one exists for the iteration; an identical existing one is
    /// accepted (idempotent), a different one is [`StoreError::Duplicate`].
    async fn put_artifact(&self, workflow_id: &str, artifact: &Artifact) -> Result<(), StoreError>;

    /// Reads one artifact.
    async fn get_artifact(
        &self,
        workflow_id: &str,
        iteration: u32,
    ) -> Result<Option<Artifact>, StoreError>;

    /// All artifacts of a workflow, oldest first.
    async fn list_artifacts(&self, workflow_id: &str) -> Result<Vec<Artifact>, StoreError>;

    /// Reads the workflow and the feedback entry under `idempotency_key` in one round trip.
    async fn load_feedback_context(
        &self,
        workflow_id: &str,
        idempotency_key: &str,
    ) -> Result<FeedbackContext, StoreError>;

    /// Records a feedback entry, atomically with the workflow update when the decision was
    /// applied (`update` = the next record and the version it was derived from).
    /// Fails with `Duplicate` if the key is taken and `Conflict` if the version moved.
    async fn record_feedback(
        &self,
        entry: &FeedbackEntry,
        update: Option<(&Workflow, u64)>,
    ) -> Result<(), StoreError>;

    /// Replaces a recorded entry (used to mark an applied decision undeliverable).
    async fn replace_feedback(&self, entry: &FeedbackEntry) -> Result<(), StoreError>;

    /// How many audit-trail entries of a workflow have a key starting with `key_prefix`
    /// (`""`: all of them), counting at most `limit` (the answer is `min(count, limit)`).
    async fn count_feedback(
        &self,
        workflow_id: &str,
        key_prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError>;

    /// The feedback audit trail of a workflow, oldest first.
    async fn list_feedback(&self, workflow_id: &str) -> Result<Vec<FeedbackEntry>, StoreError>;

    /// Workflows holding work for the outbox relay ([`Workflow::in_outbox`]: a decision whose
    /// delivery to the execution is not confirmed yet, or a notification a channel has not
    /// sent), in [`Workflow::outbox_key`] order: decisions first (oldest update first), then
    /// notifications by when they are due.
    ///
    /// [`Workflow::in_outbox`]: crate::model::Workflow::in_outbox
    /// [`Workflow::outbox_key`]: crate::model::Workflow::outbox_key
    async fn list_pending_deliveries(&self, limit: usize) -> Result<Vec<Workflow>, StoreError>;

    /// Workflows that wait only on notifications, with one due by `now` (outbox keys from
    /// [`OUTBOX_NOTIFICATIONS`] to [`Workflow::due_notifications_bound`]), most overdue first:
    /// the notification relay's own page, which pending decisions cannot crowd out.
    ///
    /// [`OUTBOX_NOTIFICATIONS`]: crate::model::OUTBOX_NOTIFICATIONS
    /// [`Workflow::due_notifications_bound`]: crate::model::Workflow::due_notifications_bound
    async fn list_due_notifications(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError>;

    /// Workflows in a status, most recently updated first.
    async fn list_by_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Workflow>, StoreError>;
}
