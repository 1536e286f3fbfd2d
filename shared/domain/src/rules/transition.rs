//! What every transition shares: a reviewer's submission and its applied result, the
//! feedback fingerprint, the next version of a record, the terminal and same-iteration checks.

use crate::model::{Correction, Decision, ResolutionDetails, TaskToken};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::rejection::*;
use crate::model::Workflow;

pub(super) fn bumped(workflow: &Workflow, now: DateTime<Utc>) -> Workflow {
    let mut next = workflow.clone();
    next.version = workflow.version + 1;
    next.updated_at = now;
    next
}

pub(super) fn ensure_not_terminal(workflow: &Workflow) -> Result<(), TransitionError> {
    if workflow.status.is_terminal() {
        Err(TransitionError::Terminal(workflow.status))
    } else {
        Ok(())
    }
}

/// The submission must name the workflow's current iteration.
pub(super) fn same_iteration(submitted: u32, current: u32) -> Result<(), Rejection> {
    if submitted < current {
        return Err(Rejection::StaleIteration { submitted, current });
    }
    if submitted > current {
        return Err(Rejection::UnknownIteration { submitted, current });
    }
    Ok(())
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
