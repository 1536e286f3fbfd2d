//! Why a transition or a submission is refused: [`TransitionError`] and [`Rejection`] with
//! its stable names.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::model::WorkflowStatus;

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
pub(super) fn seconds(at: &DateTime<Utc>) -> String {
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
