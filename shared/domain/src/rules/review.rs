//! Drafts and decisions: recording an artifact, requesting a review, deciding it.

use chrono::{DateTime, Duration, Utc};

use super::claim::*;
use super::escalation::*;
use super::rejection::*;
use super::transition::*;
use crate::model::{
    Approval, Decision, DecisionRecord, Delivery, EscalationReason, PendingReview, TaskToken,
    Workflow, WorkflowStatus,
};

/// [`record_artifact`] for the draft `artifact` a generator produced, also keeping who drafted
/// it and what it cost in the workflow's `drafts` (the report compares generators by them).
/// `None` when the iteration's draft is already recorded (a retried invocation).
pub fn record_draft(
    workflow: &Workflow,
    artifact: &crate::model::Artifact,
    now: DateTime<Utc>,
) -> Result<Option<Workflow>, TransitionError> {
    Ok(
        record_artifact(workflow, artifact.iteration, &artifact.hash, now)?.map(|mut next| {
            next.drafts.retain(|d| d.iteration != artifact.iteration);
            next.drafts.push(crate::model::DraftRecord {
                iteration: artifact.iteration,
                generator: artifact.generator.clone(),
                usage: artifact.usage.clone(),
            });
            next
        }),
    )
}

/// Records that the draft for `iteration` was stored. Idempotent for the same iteration.
pub fn record_artifact(
    workflow: &Workflow,
    iteration: u32,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Workflow>, TransitionError> {
    ensure_not_terminal(workflow)?;
    if iteration != workflow.iteration {
        return Err(TransitionError::WrongIteration {
            action: "store a draft",
            requested: iteration,
            current: workflow.iteration,
        });
    }
    if workflow.artifact_iteration == iteration {
        return Ok(None);
    }
    if !matches!(
        workflow.status,
        WorkflowStatus::Generating | WorkflowStatus::Revising
    ) {
        return Err(TransitionError::WrongStatus {
            action: "store a draft",
            status: workflow.status,
        });
    }
    let mut next = bumped(workflow, now);
    next.artifact_iteration = iteration;
    next.artifact_hash = Some(hash.to_owned());
    Ok(Some(next))
}

/// Stores the waiting task's token and moves the workflow to `awaiting_review`.
/// A repeated request for the same iteration (a retried task) replaces the token.
pub fn request_review(
    workflow: &Workflow,
    iteration: u32,
    token: TaskToken,
    now: DateTime<Utc>,
) -> Result<Workflow, TransitionError> {
    ensure_not_terminal(workflow)?;
    if iteration != workflow.iteration || workflow.artifact_iteration != iteration {
        return Err(TransitionError::WrongIteration {
            action: "request a review",
            requested: iteration,
            current: workflow.iteration,
        });
    }
    let allowed = match workflow.status {
        WorkflowStatus::Generating | WorkflowStatus::Revising => true,
        WorkflowStatus::AwaitingReview => workflow
            .pending_review
            .as_ref()
            .is_some_and(|p| p.iteration == iteration),
        _ => false,
    };
    if !allowed {
        return Err(TransitionError::WrongStatus {
            action: "request a review",
            status: workflow.status,
        });
    }
    let timeout = i64::try_from(workflow.config.review_timeout_seconds).unwrap_or(i64::MAX);
    let mut next = bumped(workflow, now);
    next.status = WorkflowStatus::AwaitingReview;
    // A retried request for the same iteration keeps what reviewers did meanwhile (and the
    // reminders already sent).
    let fresh = PendingReview {
        iteration,
        task_token: token,
        requested_at: now,
        deadline: now + Duration::seconds(timeout),
        approvals: Vec::new(),
        claim: None,
        first_claimed_at: None,
        reminders_passed: Vec::new(),
        reminders_sent: 0,
    };
    next.pending_review = Some(match &workflow.pending_review {
        Some(p) if p.iteration == iteration => PendingReview {
            approvals: p.approvals.clone(),
            claim: p.claim.clone(),
            first_claimed_at: p.first_claimed_at,
            reminders_passed: p.reminders_passed.clone(),
            reminders_sent: p.reminders_sent,
            ..fresh
        },
        _ => fresh,
    });
    Ok(next)
}

/// Applies a reviewer's decision: first decision for the current iteration wins.
pub fn decide(
    workflow: &Workflow,
    submission: &Submission,
    now: DateTime<Utc>,
) -> Result<AppliedDecision, Rejection> {
    if submission.decision.is_resolution() {
        return resolve(workflow, submission, now);
    }
    if workflow.status.is_terminal() {
        // A decision for a finished workflow: tell the reviewer precisely what happened.
        if let Some(record) = workflow
            .decisions
            .iter()
            .find(|d| d.iteration == submission.iteration)
        {
            return Err(Rejection::AlreadyDecided {
                iteration: record.iteration,
                decision: record.decision.as_str(),
                reviewer: record.reviewer.clone(),
            });
        }
        if let Some(escalation) = workflow.escalation.as_ref().filter(|e| {
            e.reason == EscalationReason::ReviewTimeout && e.iteration == submission.iteration
        }) {
            return Err(Rejection::ReviewTimedOut {
                iteration: submission.iteration,
                deadline: escalation.escalated_at,
            });
        }
        return Err(Rejection::WorkflowFinished {
            status: workflow.status,
        });
    }
    same_iteration(submission.iteration, workflow.iteration)?;
    // Decisions made before the last resolution belong to an earlier round: a reassigned
    // draft is decided again by the new group.
    if let Some(record) = workflow
        .decisions
        .iter()
        .rev()
        .take_while(|d| !d.decision.is_resolution())
        .find(|d| d.iteration == submission.iteration)
    {
        return Err(Rejection::AlreadyDecided {
            iteration: record.iteration,
            decision: record.decision.as_str(),
            reviewer: record.reviewer.clone(),
        });
    }
    let pending = open_review(workflow, now)?;
    if let Some(claim) = pending
        .live_claim(now)
        .filter(|c| !c.held_by(&submission.reviewer_id, &submission.reviewer))
    {
        return Err(Rejection::ClaimedByOther {
            iteration: pending.iteration,
            holder: claim.reviewer.clone(),
            until: claim.expires_at,
        });
    }
    let edited = submission
        .resolution
        .as_ref()
        .is_some_and(|r| r.final_artifact.is_some());
    let required = workflow.config.required_approvals.max(1);
    if submission.decision == Decision::Approve {
        if pending
            .approvals
            .iter()
            .any(|a| a.by(&submission.reviewer_id, &submission.reviewer))
        {
            return Err(Rejection::AlreadyApproved {
                iteration: pending.iteration,
                reviewer: submission.reviewer.clone(),
            });
        }
        if edited && required > 1 {
            return Err(Rejection::EditNeedsSingleApproval { required });
        }
        if pending.approvals.len() + 1 < required as usize {
            // Not enough distinct approvers yet: record this one; the execution keeps waiting.
            let mut next = bumped(workflow, now);
            if let Some(p) = next.pending_review.as_mut() {
                p.approvals.push(Approval {
                    reviewer: submission.reviewer.clone(),
                    reviewer_id: submission.reviewer_id.clone(),
                    feedback_key: submission.idempotency_key.clone(),
                    approved_at: now,
                });
                if p.claim
                    .as_ref()
                    .is_some_and(|c| c.held_by(&submission.reviewer_id, &submission.reviewer))
                {
                    p.claim = None;
                }
            }
            return Ok(AppliedDecision {
                workflow: next,
                task_token: None,
            });
        }
    }
    let mut next = bumped(workflow, now);
    next.status = match submission.decision {
        Decision::Approve => WorkflowStatus::Approved,
        // The definition escalates a rejection next (`rejected_by_reviewer`).
        Decision::RequestChanges | Decision::Reject => WorkflowStatus::Revising,
        // Resolutions were dispatched to `resolve` above.
        Decision::Resolve | Decision::Extend | Decision::Reassign | Decision::Abandon => {
            return Err(Rejection::NotEscalated {
                status: workflow.status,
            })
        }
    };
    let approving = submission.decision == Decision::Approve;
    if approving {
        next.completed_at = Some(now);
        if edited {
            // The reviewer's corrected version is the final artifact, stored as the next one.
            next.artifact_iteration = workflow.artifact_iteration.max(workflow.iteration) + 1;
            next.artifact_hash = submission
                .resolution
                .as_ref()
                .and_then(|r| r.final_hash.clone());
        }
    }
    next.pending_review = None;
    next.decisions.push(DecisionRecord {
        iteration: submission.iteration,
        decision: submission.decision,
        reviewer: submission.reviewer.clone(),
        feedback_key: submission.idempotency_key.clone(),
        // An edit-and-approve's corrections are applied, not feedback for the agent.
        fingerprint: if approving {
            feedback_fingerprint(&submission.comments, &[])
        } else {
            feedback_fingerprint(&submission.comments, &submission.corrections)
        },
        requested_at: pending.requested_at,
        decided_at: now,
        task_token: Some(pending.task_token.clone()),
        delivery: Some(Delivery::Pending),
        resolution: None,
        co_approvers: if approving {
            pending
                .approvals
                .iter()
                .map(|a| a.reviewer.clone())
                .collect()
        } else {
            Vec::new()
        },
        claimed_at: pending.first_claimed_at,
        edited: approving && edited,
        reminders_sent: pending.reminders_sent,
    });
    Ok(AppliedDecision {
        workflow: next,
        task_token: Some(pending.task_token.clone()),
    })
}
