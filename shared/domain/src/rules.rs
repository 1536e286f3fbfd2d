//! Pure workflow transition rules. Every function takes the current record and returns the
//! next one (or a specific rejection); none performs I/O, so each is testable and the
//! storage adapters only have to apply the result with a version precondition.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::identity::Actor;
use crate::model::{
    Approval, Claim, ClaimAction, ClaimEvent, Correction, Decision, DecisionRecord, Delivery,
    Escalation, EscalationReason, Failure, PendingResolution, PendingReview, ResolutionDetails,
    ResolutionEffect, TaskToken, Workflow, WorkflowStatus, CLAIM_LOG_LIMIT, MAX_ITERATIONS_RANGE,
};

/// A transition that is not allowed from the record's current state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    /// The workflow is approved, escalated or failed.
    #[error("workflow is {0}; no further transition is allowed")]
    Terminal(WorkflowStatus),
    /// The status does not allow this transition.
    #[error("cannot {action} while the workflow is {status}")]
    WrongStatus {
        /// What was attempted.
        action: &'static str,
        /// The current status.
        status: WorkflowStatus,
    },
    /// The iteration named by the caller is not the workflow's current one.
    #[error("{action} for iteration {requested}, but the workflow is at iteration {current}")]
    WrongIteration {
        /// What was attempted.
        action: &'static str,
        /// Iteration the caller named.
        requested: u32,
        /// Iteration of the record.
        current: u32,
    },
}

/// A time as messages print it: to the second, in UTC (no nanoseconds).
fn seconds(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Why a reviewer's submission was not applied. Each has a stable name used in the audit
/// trail, the API (409 bodies) and logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// The submission is for an older iteration.
    #[error("iteration {submitted} is stale: the workflow is at iteration {current}")]
    StaleIteration {
        /// What the reviewer sent.
        submitted: u32,
        /// The workflow's iteration.
        current: u32,
    },
    /// The submission names an iteration that does not exist yet.
    #[error("iteration {submitted} does not exist yet: the workflow is at iteration {current}")]
    UnknownIteration {
        /// What the reviewer sent.
        submitted: u32,
        /// The workflow's iteration.
        current: u32,
    },
    /// Somebody already decided this iteration.
    #[error("iteration {iteration} was already decided ({decision}) by {reviewer}")]
    AlreadyDecided {
        /// The decided iteration.
        iteration: u32,
        /// The decision that won.
        decision: &'static str,
        /// Who made it.
        reviewer: String,
    },
    /// The workflow is not waiting for a review right now (a draft is being generated).
    #[error("workflow is {status}, not waiting for a review")]
    NotAwaitingReview {
        /// The current status.
        status: WorkflowStatus,
    },
    /// The workflow has ended.
    #[error("workflow is already {status}")]
    WorkflowFinished {
        /// The terminal status.
        status: WorkflowStatus,
    },
    /// The review SLA passed before the decision arrived.
    #[error("the review for iteration {iteration} timed out at {}", seconds(.deadline))]
    ReviewTimedOut {
        /// The iteration.
        iteration: u32,
        /// When it timed out.
        deadline: DateTime<Utc>,
    },
    /// A resolution for a workflow that is not escalated.
    #[error("workflow is {status}, not escalated: only an escalated workflow can be resolved")]
    NotEscalated {
        /// The current status.
        status: WorkflowStatus,
    },
    /// Somebody resolved this escalation already.
    #[error("the escalation was already resolved ({decision}) by {by}")]
    AlreadyResolved {
        /// The resolution that won.
        decision: &'static str,
        /// Who made it.
        by: String,
    },
    /// The escalation SLA passed: the workflow ended escalated and unresolved.
    #[error("the escalation was left unresolved: its SLA ran out at {}", seconds(.deadline))]
    EscalationExpired {
        /// When it ran out.
        deadline: DateTime<Utc>,
    },
    /// `extend` would take the workflow past the largest iteration limit.
    #[error("extending by {requested} would allow {total} iterations; at most {max} are allowed in total")]
    TooManyIterations {
        /// Iterations asked for.
        requested: u32,
        /// The limit it would reach.
        total: u32,
        /// The largest limit.
        max: u32,
    },
    /// `reassign` of an escalation whose current iteration has no valid draft.
    #[error("iteration {iteration} has no valid draft to review; extend or resolve instead")]
    NoDraftToReview {
        /// The iteration.
        iteration: u32,
    },
    /// Another reviewer holds a live claim on the iteration.
    #[error("iteration {iteration} is claimed by {holder} until {}", seconds(.until))]
    ClaimedByOther {
        /// The iteration.
        iteration: u32,
        /// Who holds the claim.
        holder: String,
        /// When it lapses unless renewed.
        until: DateTime<Utc>,
    },
    /// The reviewer approved this iteration already; one reviewer counts once.
    #[error("{reviewer} already approved iteration {iteration}; another reviewer must approve it")]
    AlreadyApproved {
        /// The iteration.
        iteration: u32,
        /// Who.
        reviewer: String,
    },
    /// An approval with corrections when several approvals are required: the other approvers
    /// would have approved a version they never saw.
    #[error("this workflow needs {required} approvals of the same draft, so an approval cannot edit it; request changes instead")]
    EditNeedsSingleApproval {
        /// Approvals required.
        required: u32,
    },
}

impl Rejection {
    /// Every stable name [`Rejection::name`] returns, in declaration order: the one list the
    /// API's `409` reasons, the OpenAPI enum and the page's messages are checked against.
    pub const NAMES: [&'static str; 14] = [
        "stale_iteration",
        "unknown_iteration",
        "already_decided",
        "not_awaiting_review",
        "workflow_finished",
        "review_timed_out",
        "not_escalated",
        "already_resolved",
        "escalation_expired",
        "too_many_iterations",
        "no_draft_to_review",
        "claimed_by_other",
        "already_approved",
        "edit_needs_single_approval",
    ];

    /// Stable snake_case name of the rejection.
    pub fn name(&self) -> &'static str {
        match self {
            Self::StaleIteration { .. } => "stale_iteration",
            Self::UnknownIteration { .. } => "unknown_iteration",
            Self::AlreadyDecided { .. } => "already_decided",
            Self::NotAwaitingReview { .. } => "not_awaiting_review",
            Self::WorkflowFinished { .. } => "workflow_finished",
            Self::ReviewTimedOut { .. } => "review_timed_out",
            Self::NotEscalated { .. } => "not_escalated",
            Self::AlreadyResolved { .. } => "already_resolved",
            Self::EscalationExpired { .. } => "escalation_expired",
            Self::TooManyIterations { .. } => "too_many_iterations",
            Self::NoDraftToReview { .. } => "no_draft_to_review",
            Self::ClaimedByOther { .. } => "claimed_by_other",
            Self::AlreadyApproved { .. } => "already_approved",
            Self::EditNeedsSingleApproval { .. } => "edit_needs_single_approval",
        }
    }
}

/// A reviewer's submission after field validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Iteration the reviewer looked at.
    pub iteration: u32,
    /// The decision.
    pub decision: Decision,
    /// The reviewer's name as shown (a label).
    pub reviewer: String,
    /// The reviewer's stable identity ([`crate::identity`]): what approvals and claims are
    /// matched on.
    pub reviewer_id: String,
    /// Comments (required for `request_changes`).
    pub comments: String,
    /// Field corrections.
    pub corrections: Vec<Correction>,
    /// Idempotency key.
    pub idempotency_key: String,
    /// For a resolution: what it carries beyond its action.
    pub resolution: Option<ResolutionDetails>,
}

/// The applied decision: the next record and the token that resumes the waiting execution.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedDecision {
    /// The record to write (version bumped).
    pub workflow: Workflow,
    /// Token of the `WaitForFeedback` task to resume; `None` for an approval that did not
    /// reach the quorum yet (recorded, nothing to deliver).
    pub task_token: Option<TaskToken>,
}

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

fn bumped(workflow: &Workflow, now: DateTime<Utc>) -> Workflow {
    let mut next = workflow.clone();
    next.version = workflow.version + 1;
    next.updated_at = now;
    next
}

fn ensure_not_terminal(workflow: &Workflow) -> Result<(), TransitionError> {
    if workflow.status.is_terminal() {
        Err(TransitionError::Terminal(workflow.status))
    } else {
        Ok(())
    }
}

/// Fingerprint of feedback content: lower-cased, whitespace-collapsed comments plus sorted
/// corrections. Two submissions with the same fingerprint ask for the same thing.
pub fn feedback_fingerprint(comments: &str, corrections: &[Correction]) -> String {
    let normalised: String = comments
        .split_whitespace()
        .map(|word| {
            word.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut fields: Vec<String> = corrections
        .iter()
        .map(|c| format!("{}={}", c.field.trim(), c.value.trim()))
        .collect();
    fields.sort();
    let mut hasher = Sha256::new();
    hasher.update(normalised.as_bytes());
    hasher.update([0]);
    hasher.update(fields.join("\n").as_bytes());
    hex::encode(hasher.finalize())
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

/// What a reminder is about: the review in progress, or the escalation waiting for a
/// resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderTarget {
    /// The reviewer group's review of the current draft.
    Review,
    /// The escalation group's resolution.
    Resolution,
}

impl ReminderTarget {
    /// `review` or `resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Resolution => "resolution",
        }
    }
}

/// The wait a reminder is for: its target, deadline, SLA and the offsets already passed.
fn reminded_wait(workflow: &Workflow) -> Option<(ReminderTarget, DateTime<Utc>, u64, &[u64])> {
    match (
        &workflow.status,
        &workflow.pending_review,
        &workflow.escalation,
    ) {
        (WorkflowStatus::AwaitingReview, Some(p), _) if p.iteration == workflow.iteration => {
            Some((
                ReminderTarget::Review,
                p.deadline,
                workflow.config.review_timeout_seconds,
                &p.reminders_passed,
            ))
        }
        (WorkflowStatus::Escalated, _, Some(e)) => e.awaiting.as_ref().map(|a| {
            (
                ReminderTarget::Resolution,
                a.deadline,
                workflow.config.escalation_timeout_seconds,
                a.reminders_passed.as_slice(),
            )
        }),
        _ => None,
    }
}

/// The configured offsets that fire at all for a wait of `sla` seconds (a longer one would be
/// due before the wait began), largest first.
fn reminder_offsets(workflow: &Workflow, sla: u64) -> Vec<u64> {
    let mut offsets: Vec<u64> = workflow
        .config
        .reminders
        .iter()
        .copied()
        .filter(|o| *o > 0 && *o < sla)
        .collect();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    offsets
}

fn reminder_time(deadline: DateTime<Utc>, offset: u64) -> DateTime<Utc> {
    deadline - Duration::seconds(i64::try_from(offset).unwrap_or(i64::MAX / 2))
}

fn with_reminders(next: &mut Workflow, change: impl FnOnce(&mut Vec<u64>, &mut u32)) {
    match next.status {
        WorkflowStatus::AwaitingReview => {
            if let Some(p) = next.pending_review.as_mut() {
                change(&mut p.reminders_passed, &mut p.reminders_sent);
            }
        }
        _ => {
            if let Some(a) = next.escalation.as_mut().and_then(|e| e.awaiting.as_mut()) {
                change(&mut a.reminders_passed, &mut a.reminders_sent);
            }
        }
    }
}

/// The reminder to send at `now`, and the record with it marked: for the review in progress
/// (to the reviewer group) or the escalation waiting for a resolution (to the escalation
/// group), the most urgent of the workflow's `reminders` offsets whose time has come and that
/// have not passed yet. The others due at the same time are marked passed too, so after an
/// outage people get one reminder, not a burst. `None` when nothing is due or the deadline has
/// passed.
pub fn mark_reminder(
    workflow: &Workflow,
    now: DateTime<Utc>,
) -> Option<(Workflow, u64, ReminderTarget)> {
    let (target, deadline, sla, passed) = reminded_wait(workflow)?;
    if now >= deadline {
        return None;
    }
    let due: Vec<u64> = reminder_offsets(workflow, sla)
        .into_iter()
        .filter(|o| !passed.contains(o))
        .filter(|o| reminder_time(deadline, *o) <= now)
        .collect();
    let send = *due.iter().min()?;
    let mut next = bumped(workflow, now);
    with_reminders(&mut next, |passed, sent| {
        passed.extend(due);
        *sent += 1;
    });
    Some((next, send, target))
}

/// The deadline of the wait (review or resolution) a reminder is for.
pub fn reminder_deadline(workflow: &Workflow) -> Option<DateTime<Utc>> {
    reminded_wait(workflow).map(|(_, deadline, _, _)| deadline)
}

/// Takes back a reminder marked by [`mark_reminder`] whose notification could not be sent,
/// so the next sweep sends it. `None` when there is nothing to take back.
pub fn unmark_reminder(workflow: &Workflow, offset: u64, now: DateTime<Utc>) -> Option<Workflow> {
    let (_, _, _, passed) = reminded_wait(workflow)?;
    if !passed.contains(&offset) {
        return None;
    }
    let mut next = bumped(workflow, now);
    with_reminders(&mut next, |passed, sent| {
        passed.retain(|o| *o != offset);
        *sent = sent.saturating_sub(1);
    });
    Some(next)
}

/// When the next reminder of the workflow's open wait (review or resolution) is due; the local
/// engine advances its virtual clock through these instants so every reminder fires in order.
pub fn next_reminder_at(workflow: &Workflow) -> Option<DateTime<Utc>> {
    let (_, deadline, sla, passed) = reminded_wait(workflow)?;
    reminder_offsets(workflow, sla)
        .into_iter()
        .filter(|o| !passed.contains(o))
        .map(|o| reminder_time(deadline, o))
        .filter(|at| *at < deadline)
        .min()
}

/// The review a claim or release acts on, or why there is none (as [`Rejection`]s, with
/// their stable names).
fn claimable(
    workflow: &Workflow,
    iteration: Option<u32>,
    now: DateTime<Utc>,
) -> Result<&PendingReview, Rejection> {
    if workflow.status.is_terminal() {
        return Err(Rejection::WorkflowFinished {
            status: workflow.status,
        });
    }
    if let Some(iteration) = iteration {
        same_iteration(iteration, workflow.iteration)?;
    }
    open_review(workflow, now)
}

/// The review of the current iteration, still within its deadline at `now` — what a decision
/// or a claim acts on — or why there is none.
fn open_review(workflow: &Workflow, now: DateTime<Utc>) -> Result<&PendingReview, Rejection> {
    let pending = match (&workflow.status, &workflow.pending_review) {
        (WorkflowStatus::AwaitingReview, Some(p)) if p.iteration == workflow.iteration => p,
        _ => {
            return Err(Rejection::NotAwaitingReview {
                status: workflow.status,
            })
        }
    };
    if now > pending.deadline {
        return Err(Rejection::ReviewTimedOut {
            iteration: pending.iteration,
            deadline: pending.deadline,
        });
    }
    Ok(pending)
}

/// A reviewer claims the iteration under review (optionally naming it, so a stale page cannot
/// claim a newer draft): exclusive until it expires (`claim_ttl_seconds`) or is released.
/// Claiming again renews the holder's own claim. A reviewer who already approved the
/// iteration cannot claim it (their approval counts already).
pub fn claim(
    workflow: &Workflow,
    reviewer: impl Into<Actor>,
    iteration: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Workflow, Rejection> {
    let actor = reviewer.into();
    let pending = claimable(workflow, iteration, now)?;
    if let Some(held) = pending
        .live_claim(now)
        .filter(|c| !c.held_by(&actor.id, &actor.name))
    {
        return Err(Rejection::ClaimedByOther {
            iteration: pending.iteration,
            holder: held.reviewer.clone(),
            until: held.expires_at,
        });
    }
    if pending
        .approvals
        .iter()
        .any(|a| a.by(&actor.id, &actor.name))
    {
        return Err(Rejection::AlreadyApproved {
            iteration: pending.iteration,
            reviewer: actor.name,
        });
    }
    let ttl = i64::try_from(workflow.config.claim_ttl_seconds).unwrap_or(i64::MAX);
    // The review SLA bounds a claim: past the deadline there is nothing left to hold.
    let expires_at = (now + Duration::seconds(ttl)).min(pending.deadline);
    let renewal = pending.live_claim(now).is_some();
    let claimed_at = pending.live_claim(now).map_or(now, |own| own.claimed_at);
    let iteration = pending.iteration;
    let mut next = bumped(workflow, now);
    if let Some(p) = next.pending_review.as_mut() {
        p.claim = Some(Claim {
            reviewer: actor.name.clone(),
            reviewer_id: actor.id.clone(),
            claimed_at,
            expires_at,
        });
        p.first_claimed_at.get_or_insert(now);
    }
    if !renewal {
        log_claim(
            &mut next,
            iteration,
            ClaimAction::Claimed,
            &actor.name,
            None,
            now,
        );
    }
    Ok(next)
}

/// Releases the claim on the iteration under review: its holder may, and an admin may release
/// anyone's. `None` when there is no live claim (nothing to write).
pub fn release(
    workflow: &Workflow,
    reviewer: impl Into<Actor>,
    is_admin: bool,
    now: DateTime<Utc>,
) -> Result<Option<Workflow>, Rejection> {
    let actor = reviewer.into();
    let pending = claimable(workflow, None, now)?;
    let Some(held) = pending.live_claim(now) else {
        return Ok(None);
    };
    let own = held.held_by(&actor.id, &actor.name);
    if !own && !is_admin {
        return Err(Rejection::ClaimedByOther {
            iteration: pending.iteration,
            holder: held.reviewer.clone(),
            until: held.expires_at,
        });
    }
    let holder = held.reviewer.clone();
    let iteration = pending.iteration;
    let mut next = bumped(workflow, now);
    if let Some(p) = next.pending_review.as_mut() {
        p.claim = None;
    }
    let by = (!own).then(|| actor.name.clone());
    log_claim(
        &mut next,
        iteration,
        ClaimAction::Released,
        &holder,
        by,
        now,
    );
    Ok(Some(next))
}

/// Appends to the claim log, keeping the newest [`CLAIM_LOG_LIMIT`] entries.
fn log_claim(
    workflow: &mut Workflow,
    iteration: u32,
    action: ClaimAction,
    reviewer: &str,
    by: Option<String>,
    at: DateTime<Utc>,
) {
    workflow.claim_log.push(ClaimEvent {
        iteration,
        action,
        reviewer: reviewer.to_owned(),
        by,
        at,
    });
    let excess = workflow.claim_log.len().saturating_sub(CLAIM_LOG_LIMIT);
    workflow.claim_log.drain(..excess);
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

/// The submission must name the workflow's current iteration.
fn same_iteration(submitted: u32, current: u32) -> Result<(), Rejection> {
    if submitted < current {
        return Err(Rejection::StaleIteration { submitted, current });
    }
    if submitted > current {
        return Err(Rejection::UnknownIteration { submitted, current });
    }
    Ok(())
}

fn last_resolution(workflow: &Workflow) -> Option<&DecisionRecord> {
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

fn pending_resolution(
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
fn undelivered_current_decision(workflow: &Workflow) -> bool {
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
