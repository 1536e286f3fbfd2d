//! The end of a run: settling a decision's delivery, confirming an approval, recording a
//! failure.

use chrono::{DateTime, Utc};

use super::rejection::*;
use super::transition::*;
use crate::model::{Delivery, Failure, Workflow, WorkflowStatus};

/// The error name a failed publication ends with (`ErrorName::PublishFailed`; spelt here so
/// the rules do not depend on the error module, which depends on them).
pub const UNPUBLISHED_ERROR: &str = "PublishFailed";

/// Records an unrecoverable failure. A workflow that already ended keeps its terminal status
/// (returns `None`); the failure is still visible in the execution history. The one
/// exception: an approved or escalated workflow whose outcome could not be published
/// (`PublishFailed` after the retries) is recorded failed with the cause, never left looking
/// finished while no downstream system heard of it.
pub fn fail(workflow: &Workflow, error: &str, cause: &str, now: DateTime<Utc>) -> Option<Workflow> {
    let unpublished = error == UNPUBLISHED_ERROR && workflow.status != WorkflowStatus::Failed;
    if workflow.status.is_terminal() && !unpublished {
        return None;
    }
    let mut next = bumped(workflow, now);
    next.status = WorkflowStatus::Failed;
    next.pending_review = None;
    next.completed_at = Some(now);
    next.failure = Some(Failure {
        error: error.to_owned(),
        cause: cause.to_owned(),
        failed_at: now,
    });
    Some(next)
}

/// Confirms an approval at the end of the execution. Idempotent.
pub fn confirm_approval(workflow: &Workflow) -> Result<(), TransitionError> {
    if workflow.status == WorkflowStatus::Approved {
        Ok(())
    } else {
        Err(TransitionError::WrongStatus {
            action: "confirm approval",
            status: workflow.status,
        })
    }
}

/// Settles the outbox entry of the decision stored under `feedback_key`: a pending delivery
/// becomes `outcome`. Returns `None` when there is nothing to change (already settled, or no
/// such decision), so a repeated or concurrent settlement writes nothing. Allowed in every
/// status: delivery is bookkeeping of what the execution has, not a transition.
pub fn settle_delivery(
    workflow: &Workflow,
    feedback_key: &str,
    outcome: Delivery,
    now: DateTime<Utc>,
) -> Option<Workflow> {
    let position = workflow
        .decisions
        .iter()
        .position(|d| d.feedback_key == feedback_key && d.delivery == Some(Delivery::Pending))?;
    let mut next = bumped(workflow, now);
    next.decisions[position].delivery = Some(outcome);
    Some(next)
}

/// Whether the decision on the current iteration never reached the execution (pending, late,
/// closed, or a record from before the outbox): then a review timeout is what the execution
/// actually saw, and it may escalate a workflow the record already shows as decided.
pub(super) fn undelivered_current_decision(workflow: &Workflow) -> bool {
    // Review decisions of the current round only (after the last resolution): a resolution's
    // own wait (the escalation) ends by `mark_unresolved`.
    workflow
        .decisions
        .iter()
        .rev()
        .take_while(|d| !d.decision.is_resolution())
        .any(|d| {
            d.iteration == workflow.iteration
                && !d.delivery.as_ref().is_some_and(Delivery::is_delivered)
        })
}
