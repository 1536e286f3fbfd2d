//! Claims: a reviewer takes (and releases) the iteration under review.

use chrono::{DateTime, Duration, Utc};

use super::rejection::*;
use super::transition::*;
use crate::identity::Actor;
use crate::model::{
    Claim, ClaimAction, ClaimEvent, PendingReview, Workflow, WorkflowStatus, CLAIM_LOG_LIMIT,
};

/// The review a claim or release acts on, or why there is none (as [`Rejection`]s, with
/// their stable names).
pub(super) fn claimable(
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
pub(super) fn open_review(
    workflow: &Workflow,
    now: DateTime<Utc>,
) -> Result<&PendingReview, Rejection> {
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
pub(super) fn log_claim(
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
