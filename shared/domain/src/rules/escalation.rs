//! Escalation: the iteration check, escalating, resolving and leaving a resolution
//! unresolved.

use chrono::{DateTime, Duration, Utc};

use super::delivery::*;
use super::rejection::*;
use super::transition::*;
use crate::model::{
    Decision, DecisionRecord, Delivery, Escalation, EscalationReason, PendingResolution,
    ResolutionEffect, TaskToken, Workflow, WorkflowStatus, MAX_ITERATIONS_RANGE,
};

/// What the iteration check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterationVerdict {
    /// Regenerate as iteration `next`.
    Continue {
        /// The new iteration number.
        next: u32,
    },
    /// Stop and escalate.
    Escalate {
        /// Why.
        reason: EscalationReason,
    },
}

/// Applies a resolution of the escalation group to an escalated workflow that waits for one.
/// The first resolution wins; the rules:
/// - `resolve`: the workflow ends `resolved` with the person's final artifact (stored as the
///   next iteration's artifact, authored by them).
/// - `extend`: `max_iterations` grows by the granted number (at most 50 in total) and the
///   workflow continues with the next iteration (`revising`); the guidance goes to the agent.
/// - `reassign`: the current draft goes to another reviewer group (optionally with a new
///   review SLA) and waits for its review again; decisions before the reassignment no longer
///   count for that iteration.
/// - `abandon`: the workflow ends `abandoned`.
pub fn resolve(
    workflow: &Workflow,
    submission: &Submission,
    now: DateTime<Utc>,
) -> Result<AppliedDecision, Rejection> {
    let escalation = match (&workflow.status, &workflow.escalation) {
        (WorkflowStatus::Escalated, Some(e)) => e,
        (status, _) => {
            return Err(match last_resolution(workflow) {
                Some(r) if workflow.escalation.is_some() => Rejection::AlreadyResolved {
                    decision: r.decision.as_str(),
                    by: r.reviewer.clone(),
                },
                _ => Rejection::NotEscalated { status: *status },
            })
        }
    };
    let Some(awaiting) = &escalation.awaiting else {
        if escalation.unresolved_at.is_some() {
            return Err(Rejection::EscalationExpired {
                deadline: escalation.unresolved_at.unwrap_or(now),
            });
        }
        return Err(Rejection::NotEscalated {
            status: workflow.status,
        });
    };
    same_iteration(submission.iteration, workflow.iteration)?;
    if now > awaiting.deadline {
        return Err(Rejection::EscalationExpired {
            deadline: awaiting.deadline,
        });
    }
    let details = submission.resolution.clone().unwrap_or_default();
    let mut next = bumped(workflow, now);
    let mut next_iteration = workflow.iteration;
    match submission.decision {
        Decision::Resolve => {
            next.status = WorkflowStatus::Resolved;
            next.completed_at = Some(now);
            if details.final_artifact.is_some() {
                next.artifact_iteration = workflow.artifact_iteration.max(workflow.iteration) + 1;
                next.artifact_hash = details.final_hash.clone();
            }
        }
        Decision::Abandon => {
            next.status = WorkflowStatus::Abandoned;
            next.completed_at = Some(now);
        }
        Decision::Extend => {
            let requested = details.extra_iterations.unwrap_or(1);
            let total = workflow.config.max_iterations.saturating_add(requested);
            let max = *MAX_ITERATIONS_RANGE.end();
            // The next iteration must fit too (an escalation before the limit was reached
            // leaves room already).
            if total > max {
                return Err(Rejection::TooManyIterations {
                    requested,
                    total,
                    max,
                });
            }
            next.config.max_iterations = total.max(workflow.iteration + 1);
            next_iteration = workflow.iteration + 1;
            next.iteration = next_iteration;
            next.status = WorkflowStatus::Revising;
            next.completed_at = None;
        }
        Decision::Reassign => {
            if workflow.artifact_iteration != workflow.iteration {
                return Err(Rejection::NoDraftToReview {
                    iteration: workflow.iteration,
                });
            }
            if let Some(group) = &details.reviewer_group {
                next.config.reviewer_group = group.clone();
            }
            if let Some(timeout) = details.review_timeout_seconds {
                next.config.review_timeout_seconds = timeout;
            }
            next.status = WorkflowStatus::Revising;
            next.completed_at = None;
        }
        Decision::Approve | Decision::RequestChanges | Decision::Reject => {
            return Err(Rejection::NotAwaitingReview {
                status: workflow.status,
            })
        }
    }
    if let Some(e) = next.escalation.as_mut() {
        e.awaiting = None;
    }
    next.decisions.push(DecisionRecord {
        iteration: workflow.iteration,
        decision: submission.decision,
        reviewer: submission.reviewer.clone(),
        feedback_key: submission.idempotency_key.clone(),
        fingerprint: feedback_fingerprint(&submission.comments, &submission.corrections),
        requested_at: awaiting.requested_at,
        decided_at: now,
        task_token: Some(awaiting.task_token.clone()),
        delivery: Some(Delivery::Pending),
        resolution: Some(ResolutionEffect {
            next_iteration,
            review_timeout_seconds: next.config.review_timeout_seconds,
        }),
        co_approvers: Vec::new(),
        claimed_at: None,
        edited: false,
        reminders_sent: 0,
    });
    Ok(AppliedDecision {
        workflow: next,
        task_token: Some(awaiting.task_token.clone()),
    })
}

pub(super) fn last_resolution(workflow: &Workflow) -> Option<&DecisionRecord> {
    workflow
        .decisions
        .iter()
        .rev()
        .find(|d| d.decision.is_resolution())
}

/// The escalation SLA ran out: the workflow stays escalated for good (`unresolved`). A
/// resolution recorded but never delivered (the wait timed out first) is kept and marked late,
/// and its effect is undone: the execution never got it. `None` when already recorded.
pub fn mark_unresolved(workflow: &Workflow, now: DateTime<Utc>) -> Option<Workflow> {
    if workflow
        .escalation
        .as_ref()
        .is_some_and(|e| e.unresolved_at.is_some())
    {
        return None;
    }
    let late = last_resolution(workflow)
        .filter(|r| !r.delivery.as_ref().is_some_and(Delivery::is_delivered))
        .filter(|r| {
            workflow
                .escalation
                .as_ref()
                .is_some_and(|e| r.decided_at >= e.escalated_at)
        })
        // Nothing happened since the resolution that only its delivery could cause (a new
        // draft or review request means the execution had it).
        .filter(|_| match workflow.status {
            WorkflowStatus::Resolved | WorkflowStatus::Abandoned => true,
            WorkflowStatus::Revising => {
                workflow.pending_review.is_none()
                    && workflow
                        .escalation
                        .as_ref()
                        .is_some_and(|e| workflow.artifact_iteration <= e.iteration)
            }
            _ => false,
        })
        .map(|r| r.feedback_key.clone());
    if workflow.status != WorkflowStatus::Escalated && late.is_none() {
        return None;
    }
    let mut next = bumped(workflow, now);
    if let Some(key) = late {
        if let Some(r) = next.decisions.iter_mut().find(|d| d.feedback_key == key) {
            r.delivery = Some(Delivery::Late { at: now });
        }
        if let Some(e) = &workflow.escalation {
            // Undo the resolution's effect on the record: back to the escalated iteration.
            next.iteration = e.iteration;
            next.artifact_iteration = workflow.artifact_iteration.min(e.iteration);
        }
    }
    next.status = WorkflowStatus::Escalated;
    next.pending_review = None;
    next.completed_at = Some(now);
    if let Some(e) = next.escalation.as_mut() {
        e.awaiting = None;
        e.unresolved_at = Some(now);
    }
    Some(next)
}

/// After a `request_changes` decision on `reviewed_iteration`: either start the next iteration
/// or escalate. Idempotent: calling it again after the increment returns the same verdict and
/// no new record.
pub fn check_iteration(
    workflow: &Workflow,
    reviewed_iteration: u32,
    now: DateTime<Utc>,
) -> Result<(IterationVerdict, Option<Workflow>), TransitionError> {
    if workflow.status == WorkflowStatus::Revising
        && workflow.iteration == reviewed_iteration + 1
        && workflow.artifact_iteration <= reviewed_iteration
    {
        // Already advanced by an earlier attempt of this task.
        return Ok((
            IterationVerdict::Continue {
                next: workflow.iteration,
            },
            None,
        ));
    }
    ensure_not_terminal(workflow)?;
    if workflow.status != WorkflowStatus::Revising {
        return Err(TransitionError::WrongStatus {
            action: "check the iteration",
            status: workflow.status,
        });
    }
    if workflow.iteration != reviewed_iteration {
        return Err(TransitionError::WrongIteration {
            action: "check the iteration",
            requested: reviewed_iteration,
            current: workflow.iteration,
        });
    }
    let next_iteration = workflow.iteration + 1;
    if next_iteration > workflow.config.max_iterations {
        return Ok((
            IterationVerdict::Escalate {
                reason: EscalationReason::IterationLimit,
            },
            None,
        ));
    }
    let mut changes = workflow
        .decisions
        .iter()
        .rev()
        .filter(|d| d.decision == Decision::RequestChanges);
    if let (Some(last), Some(before)) = (changes.next(), changes.next()) {
        if last.fingerprint == before.fingerprint && last.iteration == before.iteration + 1 {
            return Ok((
                IterationVerdict::Escalate {
                    reason: EscalationReason::NoProgress,
                },
                None,
            ));
        }
    }
    let mut next = bumped(workflow, now);
    next.iteration = next_iteration;
    Ok((
        IterationVerdict::Continue {
            next: next_iteration,
        },
        Some(next),
    ))
}

/// Hands the workflow to a person. Idempotent when already escalated.
pub fn escalate(
    workflow: &Workflow,
    reason: EscalationReason,
    detail: &str,
    token: Option<TaskToken>,
    now: DateTime<Utc>,
) -> Result<Option<Workflow>, TransitionError> {
    if workflow.status == WorkflowStatus::Escalated {
        // A retried escalation task carries a new token: the newest one is the waiting task.
        let Some(token) = token else { return Ok(None) };
        let Some(escalation) = &workflow.escalation else {
            return Ok(None);
        };
        if escalation.unresolved_at.is_some()
            || escalation
                .awaiting
                .as_ref()
                .is_some_and(|a| a.task_token == token)
        {
            return Ok(None);
        }
        if escalation.awaiting.is_none()
            && last_resolution(workflow).is_some_and(|r| r.decided_at >= escalation.escalated_at)
        {
            // Resolved already; the resolution's delivery settles the task.
            return Ok(None);
        }
        let mut next = bumped(workflow, now);
        if let Some(e) = next.escalation.as_mut() {
            e.awaiting = Some(pending_resolution(workflow, token, now));
        }
        return Ok(Some(next));
    }
    // "Decision recorded, wait timed out": the execution never got the decision, so its
    // timeout stands. Keep the decision, mark it late, escalate.
    let late_decision = reason == EscalationReason::ReviewTimeout
        && workflow.status != WorkflowStatus::Failed
        && undelivered_current_decision(workflow);
    if !late_decision {
        ensure_not_terminal(workflow)?;
    }
    let mut next = bumped(workflow, now);
    if late_decision {
        for d in next
            .decisions
            .iter_mut()
            .filter(|d| d.iteration == workflow.iteration)
        {
            if !d.delivery.as_ref().is_some_and(Delivery::is_delivered) {
                d.delivery = Some(Delivery::Late { at: now });
            }
        }
    }
    next.status = WorkflowStatus::Escalated;
    next.pending_review = None;
    next.completed_at = Some(now);
    next.escalation = Some(Escalation {
        reason,
        detail: detail.to_owned(),
        iteration: workflow.iteration,
        escalated_at: now,
        awaiting: token.map(|t| pending_resolution(workflow, t, now)),
        unresolved_at: None,
    });
    Ok(Some(next))
}

pub(super) fn pending_resolution(
    workflow: &Workflow,
    token: TaskToken,
    now: DateTime<Utc>,
) -> PendingResolution {
    let timeout = i64::try_from(workflow.config.escalation_timeout_seconds).unwrap_or(i64::MAX);
    // A new token for the same waiting escalation (a retried task) keeps its reminders.
    let (reminders_passed, reminders_sent) = workflow
        .escalation
        .as_ref()
        .and_then(|e| e.awaiting.as_ref())
        .map_or((Vec::new(), 0), |a| {
            (a.reminders_passed.clone(), a.reminders_sent)
        });
    PendingResolution {
        task_token: token,
        requested_at: now,
        deadline: now + Duration::seconds(timeout),
        reminders_passed,
        reminders_sent,
    }
}
