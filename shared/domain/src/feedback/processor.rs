//! The feedback processor: authorise, apply the rules, record in the audit trail, deliver
//! to the waiting execution (the outbox's inline attempt).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::keys::*;
use super::request::*;
use super::validate::*;
use crate::contracts::FeedbackTaskResult;
use crate::error::FieldError;
use crate::model::{
    Artifact, Decision, DecisionRecord, Delivery, FeedbackEntry, FeedbackOutcome, Workflow,
};
use crate::ports::{
    Clock, ExecutionResumer, LogMetrics, MetricsSink, ResumeError, Resumed, TaskFate,
};
use crate::rules::{self, Rejection};
use crate::store::{StoreError, WorkflowStore};
use crate::types::TypeRegistry;
use crate::{failpoints, metadata, metrics};

/// Attempts before giving up on a conflict storm.
pub(super) const MAX_ATTEMPTS: usize = 8;

/// The person-authored final artifact recorded in `entry` — of a `resolve`, or of an approval
/// with corrections (edit and approve) — stored as the iteration after the decided one, if the
/// entry is one.
pub fn person_artifact(workflow: &Workflow, entry: &FeedbackEntry) -> Option<Artifact> {
    if !matches!(entry.decision, Decision::Resolve | Decision::Approve)
        || !matches!(entry.outcome, FeedbackOutcome::Applied { .. })
    {
        return None;
    }
    let content = entry.resolution.as_ref()?.final_artifact.clone()?;
    Some(Artifact {
        iteration: workflow.artifact_iteration,
        hash: metadata::content_hash(&content),
        content,
        generator: format!("person:{}", entry.reviewer),
        created_at: entry.received_at,
        usage: None,
    })
}

/// The correction a schema error of the corrected draft is blamed on: the one at that path,
/// else one beside it (`specs[3].value` for `specs[3].name: is required`, an item appended
/// without its other fields).
fn blame(corrections: &[crate::model::Correction], field: &str) -> Option<usize> {
    let parent = field.rfind(['.', '[']).map_or("", |at| &field[..at]);
    corrections
        .iter()
        .position(|c| c.field == field)
        .or_else(|| {
            corrections.iter().position(|c| {
                !parent.is_empty()
                    && (c.field.starts_with(&format!("{parent}."))
                        || c.field.starts_with(&format!("{parent}[")))
            })
        })
}

/// The error of the corrected draft as the correction's own (`corrections[i].value`), naming
/// the path when it is another one.
fn blamed(i: usize, correction: &crate::model::Correction, e: FieldError) -> FieldError {
    let message = if e.field == correction.field {
        e.message
    } else {
        format!("{}: {}", e.field, e.message)
    };
    FieldError::new(format!("corrections[{i}].value"), message)
}

/// Most rejected submissions recorded in one workflow's audit trail; beyond it a rejection is
/// answered and logged but not stored, so nobody can grow a workflow's partition without bound.
pub const MAX_RECORDED_REJECTIONS: usize = 200;
/// Most audit-trail entries of one submitter in one workflow (their applied decisions count
/// too): past it their rejections are answered, not stored.
pub const MAX_RECORDED_REJECTIONS_PER_PRINCIPAL: usize = 20;

pub(super) fn receipt(entry: &FeedbackEntry, replayed: bool) -> FeedbackReceipt {
    FeedbackReceipt {
        workflow_id: entry.workflow_id.clone(),
        iteration: entry.iteration,
        decision: entry.decision,
        idempotency_key: client_key(&entry.idempotency_key).to_owned(),
        outcome: entry.outcome.clone(),
        replayed,
        received_at: entry.received_at,
    }
}

/// The output the waiting task completes with: the same for the inline attempt, a replay and
/// the reconciler, so any of them delivering it is the same delivery.
pub(super) fn task_result(workflow_id: &str, decision: &DecisionRecord) -> serde_json::Value {
    serde_json::to_value(FeedbackTaskResult {
        workflow_id: workflow_id.to_owned(),
        iteration: decision.iteration,
        decision: decision.decision,
        feedback_key: decision.feedback_key.clone(),
        next_iteration: decision.resolution.as_ref().map(|r| r.next_iteration),
        review_timeout_seconds: decision
            .resolution
            .as_ref()
            .map(|r| r.review_timeout_seconds),
    })
    .unwrap_or_default()
}

/// How one delivery attempt ended.
#[derive(Debug)]
pub(super) enum DeliveryAttempt {
    /// Handed to an asynchronous queue (the local engine's); whoever delivers it confirms it.
    Deferred,
    /// Settled as delivered or closed.
    Settled(Delivery),
    /// The wait had timed out: settled as late; the audit entry as rewritten
    /// (`review_timed_out`), when there was one.
    Late(Option<Box<FeedbackEntry>>),
}

pub(super) fn new_entry(
    feedback: &ValidFeedback,
    reviewer: &Reviewer,
    now: DateTime<Utc>,
    outcome: FeedbackOutcome,
) -> FeedbackEntry {
    let s = &feedback.submission;
    FeedbackEntry {
        workflow_id: feedback.workflow_id.clone(),
        idempotency_key: s.idempotency_key.clone(),
        request_fingerprint: feedback.fingerprint.clone(),
        iteration: s.iteration,
        decision: s.decision,
        reviewer: s.reviewer.clone(),
        comments: s.comments.clone(),
        corrections: s.corrections.clone(),
        resolution: s.resolution.clone(),
        channel: reviewer.channel.as_str().to_owned(),
        received_at: now,
        outcome,
    }
}

pub(super) fn rejected(rejection: &Rejection) -> FeedbackOutcome {
    FeedbackOutcome::Rejected {
        reason: rejection.name().to_owned(),
        message: rejection.to_string(),
    }
}

/// The feedback processor, generic over its ports.
pub struct FeedbackProcessor {
    pub(super) store: Arc<dyn WorkflowStore>,
    pub(super) resumer: Arc<dyn ExecutionResumer>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) metrics: Arc<dyn MetricsSink>,
    /// The artifact types submissions are checked against (each workflow by its version).
    pub(super) types: Arc<TypeRegistry>,
}

impl FeedbackProcessor {
    /// Wires the processor. Its metrics go to [`LogMetrics`] (debug logs) until
    /// [`with_metrics`](Self::with_metrics) names another sink.
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        resumer: Arc<dyn ExecutionResumer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            resumer,
            clock,
            metrics: Arc::new(LogMetrics),
            types: Arc::new(TypeRegistry::builtin()),
        }
    }

    /// Checks submissions against `types` (a process that added its own types; the
    /// built-in types otherwise).
    pub fn with_types(mut self, types: Arc<TypeRegistry>) -> Self {
        self.types = types;
        self
    }

    /// Sends the processor's metrics (decisions, unauthorised attempts, unrecorded
    /// rejections) to `sink`; the Lambda functions pass the EMF writer.
    pub fn with_metrics(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = sink;
        self
    }

    /// Validates and processes one submission.
    pub async fn submit(
        &self,
        workflow_id: &str,
        request: &FeedbackRequest,
        idempotency_key: &str,
        reviewer: &Reviewer,
    ) -> Result<FeedbackReceipt, FeedbackError> {
        let feedback = validate(workflow_id, request, idempotency_key, reviewer)
            .map_err(FeedbackError::Invalid)?;
        self.process(&feedback, reviewer).await
    }

    /// Processes a validated submission.
    pub async fn process(
        &self,
        feedback: &ValidFeedback,
        reviewer: &Reviewer,
    ) -> Result<FeedbackReceipt, FeedbackError> {
        let key = &feedback.submission.idempotency_key;
        for _ in 0..MAX_ATTEMPTS {
            let context = self
                .store
                .load_feedback_context(&feedback.workflow_id, key)
                .await?;
            let Some(workflow) = context.workflow else {
                return Err(FeedbackError::NotFound(feedback.workflow_id.clone()));
            };
            // Authorise before anything else is answered (a replay included). A non-member's
            // attempt is logged and counted, never written to the workflow's partition.
            let group = if feedback.submission.decision.is_resolution() {
                &workflow.config.escalation_group
            } else {
                &workflow.config.reviewer_group
            };
            if !reviewer.may_act_for(group) {
                warn!(workflow_id = %workflow.id, reviewer = %reviewer.name,
                    channel = %reviewer.channel, "decision refused: not in the reviewer group");
                self.metrics
                    .record(&metrics::unauthorized_attempt(reviewer.channel.as_str()));
                return Err(FeedbackError::Forbidden {
                    reviewer: reviewer.name.clone(),
                    group: group.clone(),
                });
            }
            if let Some(existing) = context.existing_entry {
                return self.replay(existing, Some(&workflow), feedback).await;
            }
            let artifact_type = self
                .types
                .get(&workflow.config.artifact_type)
                .map_err(|e| {
                    FeedbackError::Invalid(vec![FieldError::new("type", e.to_string())])
                })?;
            let subject = serde_json::to_value(&workflow.subject).unwrap_or_default();
            let errors = check_by_type(&artifact_type, &subject, &feedback.submission);
            if !errors.is_empty() {
                return Err(FeedbackError::Invalid(errors));
            }
            if feedback.submission.decision == Decision::RequestChanges {
                self.check_corrected_draft(&workflow, &artifact_type, &feedback.submission)
                    .await?;
            }
            let now = self.clock.now();
            let completed;
            let feedback = match self.complete_resolution(&workflow, feedback).await? {
                Some(with_final) => {
                    completed = with_final;
                    &completed
                }
                None => feedback,
            };
            match rules::decide(&workflow, &feedback.submission, now) {
                Ok(applied) => {
                    let entry = new_entry(
                        feedback,
                        reviewer,
                        now,
                        FeedbackOutcome::Applied {
                            status: applied.workflow.status,
                        },
                    );
                    match self
                        .store
                        .record_feedback(&entry, Some((&applied.workflow, workflow.version)))
                        .await
                    {
                        Ok(()) => failpoints::crash_point(failpoints::AFTER_RECORD),
                        Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    info!(
                        workflow_id = %entry.workflow_id,
                        iteration = entry.iteration,
                        feedback_type = entry.decision.as_str(),
                        reviewer = %entry.reviewer,
                        channel = %entry.channel,
                        "feedback applied"
                    );
                    if workflow.smoke.is_none() {
                        for record in
                            metrics::decision_applied(&workflow, &applied, entry.decision, now)
                        {
                            self.metrics.record(&record);
                        }
                    }
                    if let Some(artifact) = person_artifact(&applied.workflow, &entry) {
                        // The audit entry holds the artifact already; the publish step writes
                        // it again if this write is lost.
                        if let Err(e) = self.store.put_artifact(&entry.workflow_id, &artifact).await
                        {
                            warn!(workflow_id = %entry.workflow_id, error = %e,
                                "the resolved artifact is recorded but not stored yet; publishing stores it");
                        }
                    }
                    // An approval short of the quorum has nothing to deliver.
                    let (Some(token), Some(decision)) = (
                        applied.task_token.as_ref(),
                        applied.workflow.pending_delivery().cloned(),
                    ) else {
                        return Ok(receipt(&entry, false));
                    };
                    return match self.deliver(&applied.workflow, &decision, token).await? {
                        DeliveryAttempt::Late(Some(late)) => Ok(receipt(&late, false)),
                        _ => Ok(receipt(&entry, false)),
                    };
                }
                Err(rejection) => {
                    let entry = new_entry(feedback, reviewer, now, rejected(&rejection));
                    if !self.may_record_rejection(&entry).await? {
                        warn!(workflow_id = %entry.workflow_id, reviewer = %entry.reviewer,
                            rejection = rejection.name(), "rejection answered but not recorded: the trail's cap is reached");
                        self.metrics
                            .record(&metrics::rejection_not_recorded(rejection.name()));
                        return Ok(receipt(&entry, false));
                    }
                    match self.store.record_feedback(&entry, None).await {
                        Ok(()) => {}
                        Err(StoreError::Duplicate(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    info!(
                        workflow_id = %entry.workflow_id,
                        iteration = entry.iteration,
                        feedback_type = entry.decision.as_str(),
                        reviewer = %entry.reviewer,
                        rejection = rejection.name(),
                        "feedback rejected"
                    );
                    return Ok(receipt(&entry, false));
                }
            }
        }
        Err(FeedbackError::Store(StoreError::Conflict(
            feedback.workflow_id.clone(),
        )))
    }

    /// Whether one more rejection of this submitter may be stored in the workflow's trail
    /// (at most [`MAX_RECORDED_REJECTIONS`] per workflow and
    /// [`MAX_RECORDED_REJECTIONS_PER_PRINCIPAL`] per submitter).
    /// Validates and applies a resolution of an escalated workflow (see
    /// [`rules::resolve`]): the same processor, audit trail and delivery as a review decision.
    pub async fn resolve(
        &self,
        workflow_id: &str,
        request: &ResolutionRequest,
        idempotency_key: &str,
        reviewer: &Reviewer,
    ) -> Result<FeedbackReceipt, FeedbackError> {
        let resolution = validate_resolution(workflow_id, request, idempotency_key, reviewer)
            .map_err(FeedbackError::Invalid)?;
        self.process(&resolution, reviewer).await
    }

    /// A `resolve` given as corrections, or an approval with corrections (edit and approve):
    /// the final artifact is the newest draft with them applied, checked against the schema
    /// (field errors name the correction that broke it). `None` when there is nothing to
    /// complete.
    pub(super) async fn complete_resolution(
        &self,
        workflow: &Workflow,
        feedback: &ValidFeedback,
    ) -> Result<Option<ValidFeedback>, FeedbackError> {
        let s = &feedback.submission;
        let needs_draft = matches!(s.decision, Decision::Resolve | Decision::Approve)
            && s.resolution
                .as_ref()
                .is_some_and(|r| r.final_artifact.is_none());
        if !needs_draft {
            return Ok(None);
        }
        let draft = self
            .store
            .get_artifact(&workflow.id, workflow.artifact_iteration)
            .await?
            .ok_or_else(|| {
                FeedbackError::Invalid(vec![FieldError::new(
                    "corrections",
                    if s.decision == Decision::Approve {
                        "the workflow has no draft to correct yet; approve without corrections or wait for the draft"
                    } else {
                        "the workflow has no draft to correct; give the full artifact as `final`"
                    },
                )])
            })?;
        let artifact_type = self
            .types
            .get(&workflow.config.artifact_type)
            .map_err(|e| FeedbackError::Invalid(vec![FieldError::new("type", e.to_string())]))?;
        let subject = serde_json::to_value(&workflow.subject).unwrap_or_default();
        let mut content = draft.content;
        for correction in &s.corrections {
            artifact_type.apply_correction(&mut content, &correction.field, &correction.value);
        }
        let errors: Vec<FieldError> = artifact_type
            .validate_final(&content, &subject)
            .into_iter()
            .map(|e| {
                // An approval names the correction (the reviewer never wrote a `final`).
                let correction = (s.decision == Decision::Approve)
                    .then(|| blame(&s.corrections, &e.field))
                    .flatten();
                match correction {
                    Some(i) => blamed(i, &s.corrections[i], e),
                    None => FieldError::new(format!("final.{}", e.field), e.message),
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(FeedbackError::Invalid(errors));
        }
        let mut completed = feedback.clone();
        if let Some(r) = completed.submission.resolution.as_mut() {
            r.final_hash = Some(metadata::content_hash(&content));
            r.final_artifact = Some(content);
        }
        Ok(Some(completed))
    }

    /// Requested changes: the current draft with the corrections applied must still pass the
    /// type's schema (an array item appended without its required fields would otherwise fail
    /// the next draft). Nothing to check without a draft.
    async fn check_corrected_draft(
        &self,
        workflow: &Workflow,
        artifact_type: &crate::types::ArtifactType,
        submission: &crate::rules::Submission,
    ) -> Result<(), FeedbackError> {
        if submission.corrections.is_empty() {
            return Ok(());
        }
        let Some(draft) = self
            .store
            .get_artifact(&workflow.id, workflow.artifact_iteration)
            .await?
        else {
            return Ok(());
        };
        let mut content = draft.content;
        for c in &submission.corrections {
            artifact_type.apply_correction(&mut content, &c.field, &c.value);
        }
        let errors: Vec<FieldError> = artifact_type
            .validate_artifact(&content)
            .into_iter()
            .filter_map(|e| {
                blame(&submission.corrections, &e.field)
                    .map(|i| blamed(i, &submission.corrections[i], e))
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(FeedbackError::Invalid(errors))
        }
    }

    pub(super) async fn may_record_rejection(
        &self,
        entry: &FeedbackEntry,
    ) -> Result<bool, FeedbackError> {
        let all = self
            .store
            .count_feedback(&entry.workflow_id, "", MAX_RECORDED_REJECTIONS)
            .await?;
        if all >= MAX_RECORDED_REJECTIONS {
            return Ok(false);
        }
        let mine = self
            .store
            .count_feedback(
                &entry.workflow_id,
                key_scope(&entry.idempotency_key),
                MAX_RECORDED_REJECTIONS_PER_PRINCIPAL,
            )
            .await?;
        Ok(mine < MAX_RECORDED_REJECTIONS_PER_PRINCIPAL)
    }

    /// Delivers one outbox entry and settles it.
    pub(super) async fn deliver(
        &self,
        workflow: &Workflow,
        decision: &DecisionRecord,
        token: &crate::model::TaskToken,
    ) -> Result<DeliveryAttempt, FeedbackError> {
        let output = task_result(&workflow.id, decision);
        match self.resumer.deliver(token, &output).await {
            Ok(Resumed::Delivered) => {
                failpoints::crash_point(failpoints::AFTER_RESUME);
                self.settle_as(
                    workflow,
                    decision,
                    Delivery::Delivered {
                        at: self.clock.now(),
                    },
                )
                .await
            }
            // Queued by the local engine: confirmed when its queue is delivered.
            Ok(Resumed::Deferred) => Ok(DeliveryAttempt::Deferred),
            Err(ResumeError::TaskClosed(detail)) => self.closed(workflow, decision, detail).await,
            // The marker stays pending: a retry with the same key or the reconciler delivers it.
            Err(ResumeError::Transient(e) | ResumeError::Permanent(e)) => {
                Err(FeedbackError::ResumeFailed(e))
            }
        }
    }

    /// The task was already closed: ask the execution's history whether this decision closed
    /// it (a concurrent replay, the reconciler) or the wait timed out. Never revokes.
    pub(super) async fn closed(
        &self,
        workflow: &Workflow,
        decision: &DecisionRecord,
        detail: String,
    ) -> Result<DeliveryAttempt, FeedbackError> {
        let fate = match &workflow.execution_arn {
            Some(arn) => self
                .resumer
                .task_fate(arn, &decision.feedback_key)
                .await
                .map_err(|e| FeedbackError::ResumeFailed(format!("{e:?}")))?,
            None => TaskFate::Unknown,
        };
        let now = self.clock.now();
        match fate {
            TaskFate::Delivered => {
                info!(workflow_id = %workflow.id, iteration = decision.iteration,
                    "decision already delivered (a replay or the reconciler was first)");
                self.settle_as(workflow, decision, Delivery::Delivered { at: now })
                    .await
            }
            TaskFate::Unknown => {
                warn!(workflow_id = %workflow.id, iteration = decision.iteration, %detail,
                    "task closed and its history does not say by whom; decision kept");
                self.settle_as(workflow, decision, Delivery::Closed { at: now, detail })
                    .await
            }
            TaskFate::TimedOut => {
                warn!(workflow_id = %workflow.id, iteration = decision.iteration,
                    "the review wait timed out before the decision arrived; kept and marked late");
                self.settle(workflow, decision, Delivery::Late { at: now })
                    .await?;
                let context = self
                    .store
                    .load_feedback_context(&workflow.id, &decision.feedback_key)
                    .await?;
                let Some(mut entry) = context.existing_entry else {
                    return Ok(DeliveryAttempt::Late(None));
                };
                entry.outcome = FeedbackOutcome::Rejected {
                    reason: "review_timed_out".into(),
                    message: format!(
                        "the review for iteration {} had already timed out when the decision arrived; it is kept as late and the workflow escalates",
                        entry.iteration
                    ),
                };
                self.store.replace_feedback(&entry).await?;
                Ok(DeliveryAttempt::Late(Some(Box::new(entry))))
            }
        }
    }

    /// [`Self::settle`], reporting what was settled.
    pub(super) async fn settle_as(
        &self,
        workflow: &Workflow,
        decision: &DecisionRecord,
        outcome: Delivery,
    ) -> Result<DeliveryAttempt, FeedbackError> {
        self.settle(workflow, decision, outcome.clone()).await?;
        Ok(DeliveryAttempt::Settled(outcome))
    }

    /// Writes the delivery outcome of `decision` (conditional on the version; re-read and
    /// re-applied on a conflict; nothing written when someone settled it first).
    pub(super) async fn settle(
        &self,
        workflow: &Workflow,
        decision: &DecisionRecord,
        outcome: Delivery,
    ) -> Result<(), FeedbackError> {
        let mut current = workflow.clone();
        for _ in 0..MAX_ATTEMPTS {
            let Some(next) = rules::settle_delivery(
                &current,
                &decision.feedback_key,
                outcome.clone(),
                self.clock.now(),
            ) else {
                return Ok(());
            };
            match self.store.update_workflow(&next, current.version).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => match self.store.get_workflow(&current.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(FeedbackError::Store(StoreError::Conflict(
            workflow.id.clone(),
        )))
    }

    pub(super) async fn replay(
        &self,
        existing: FeedbackEntry,
        workflow: Option<&Workflow>,
        feedback: &ValidFeedback,
    ) -> Result<FeedbackReceipt, FeedbackError> {
        if existing.request_fingerprint != feedback.fingerprint {
            return Err(FeedbackError::KeyReused(existing.idempotency_key));
        }
        // An applied decision whose delivery is still pending (the first attempt failed, or the
        // process stopped before it): this replay delivers it, like the reconciler would.
        if let (FeedbackOutcome::Applied { .. }, Some(workflow)) = (&existing.outcome, workflow) {
            let pending = workflow
                .pending_delivery()
                .filter(|d| d.feedback_key == existing.idempotency_key)
                .cloned();
            if let Some((decision, token)) =
                pending.and_then(|d| d.task_token.clone().map(|t| (d, t)))
            {
                if let DeliveryAttempt::Late(Some(late)) =
                    self.deliver(workflow, &decision, &token).await?
                {
                    return Ok(receipt(&late, true));
                }
            }
        }
        Ok(receipt(&existing, true))
    }
}
