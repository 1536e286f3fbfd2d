//! Domain types of a review workflow: the subject, its configuration, the workflow record,
//! artifacts per iteration and the feedback audit trail. No I/O here.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Default iteration limit: ten rejections escalate when the eleventh iteration would start.
pub const DEFAULT_MAX_ITERATIONS: u32 = 10;
/// Smallest and largest accepted `max_iterations`.
pub const MAX_ITERATIONS_RANGE: std::ops::RangeInclusive<u32> = 1..=50;
/// Default review SLA: 72 hours.
pub const DEFAULT_REVIEW_TIMEOUT_SECONDS: u64 = 72 * 3600;
/// Accepted review SLA range: one minute to one year (the Step Functions Standard limit).
pub const REVIEW_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 60..=31_536_000;
/// Default batch size of one start request.
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// Largest batch one start request may carry (one Map state fans out at most this many executions).
pub const MAX_BATCH_SIZE: u32 = 100;
/// Reviewer group used when the start request names none.
pub const DEFAULT_REVIEWER_GROUP: &str = "reviewers";
/// Group that resolves escalations when the start request names none (`admin` always may).
pub const DEFAULT_ESCALATION_GROUP: &str = "escalations";
/// Default escalation SLA: 7 days; then the workflow ends escalated and unresolved.
pub const DEFAULT_ESCALATION_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;
/// Accepted escalation SLA range (the review SLA's: one minute to one year).
pub const ESCALATION_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = REVIEW_TIMEOUT_RANGE;
/// Default number of distinct reviewers who must approve an iteration.
pub const DEFAULT_REQUIRED_APPROVALS: u32 = 1;
/// Accepted `required_approvals`.
pub const REQUIRED_APPROVALS_RANGE: std::ops::RangeInclusive<u32> = 1..=5;
/// Default claim lifetime: 30 minutes (renewed while the reviewer's page is open).
pub const DEFAULT_CLAIM_TTL_SECONDS: u64 = 30 * 60;
/// Accepted claim lifetime: one minute to one day.
pub const CLAIM_TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;
/// Default reminders: 24 hours and 1 hour before the review deadline.
pub const DEFAULT_REMINDERS: [u64; 2] = [24 * 3600, 3600];
/// Most reminders one review may have.
pub const MAX_REMINDERS: usize = 5;

fn default_escalation_group() -> String {
    DEFAULT_ESCALATION_GROUP.to_owned()
}

fn default_escalation_timeout() -> u64 {
    DEFAULT_ESCALATION_TIMEOUT_SECONDS
}

fn default_required_approvals() -> u32 {
    DEFAULT_REQUIRED_APPROVALS
}

fn default_claim_ttl() -> u64 {
    DEFAULT_CLAIM_TTL_SECONDS
}

fn default_reminders() -> Vec<u64> {
    DEFAULT_REMINDERS.to_vec()
}

/// The thing being reviewed; the reference case is a brand. Unknown fields are refused with
/// their name (a misspelt `categroy` must not vanish silently); free-form data goes in
/// `attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Caller-chosen identifier, unique per subject (e.g. a brand id).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Optional category, used to slice analytics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Free-form attributes handed to the agent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// Per-workflow settings, fixed at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowConfig {
    /// Iterations allowed before escalation (1..=50).
    pub max_iterations: u32,
    /// Review SLA for one iteration; the wait state times out after this.
    pub review_timeout_seconds: u64,
    /// Reviewers of this group may decide the workflow.
    pub reviewer_group: String,
    /// Members of this group (and `admin`) resolve the workflow's escalations.
    #[serde(default = "default_escalation_group")]
    pub escalation_group: String,
    /// Escalation SLA: unresolved after this long, the workflow ends escalated (`unresolved`).
    #[serde(default = "default_escalation_timeout")]
    pub escalation_timeout_seconds: u64,
    /// Distinct reviewers who must approve an iteration before it is approved (1..=5).
    #[serde(default = "default_required_approvals")]
    pub required_approvals: u32,
    /// How long a reviewer's claim on an iteration lasts unless renewed.
    #[serde(default = "default_claim_ttl")]
    pub claim_ttl_seconds: u64,
    /// Reminders to the reviewer group, in seconds before the review deadline (only those
    /// shorter than the review SLA fire).
    #[serde(default = "default_reminders")]
    pub reminders: Vec<u64>,
    /// The artifact type and the exact version the workflow is judged by, start to end
    /// (issue 28). Workflows stored before types existed read as brand metadata at the
    /// built-in version.
    #[serde(default)]
    pub artifact_type: crate::types::TypeRef,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self {
            max_iterations: DEFAULT_MAX_ITERATIONS,
            review_timeout_seconds: DEFAULT_REVIEW_TIMEOUT_SECONDS,
            reviewer_group: DEFAULT_REVIEWER_GROUP.to_owned(),
            escalation_group: default_escalation_group(),
            escalation_timeout_seconds: DEFAULT_ESCALATION_TIMEOUT_SECONDS,
            required_approvals: DEFAULT_REQUIRED_APPROVALS,
            claim_ttl_seconds: DEFAULT_CLAIM_TTL_SECONDS,
            reminders: default_reminders(),
            artifact_type: crate::types::TypeRef::default(),
        }
    }
}

/// Lifecycle of a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// The first draft is being generated.
    Generating,
    /// A draft is waiting for a reviewer's decision.
    AwaitingReview,
    /// Changes were requested; the next draft is being prepared.
    Revising,
    /// A reviewer approved the current draft. Terminal.
    Approved,
    /// Handed to a person (limit reached, no progress, review timed out, rejected): waits for
    /// a resolution by the escalation group; terminal for everything else, and for good once
    /// the escalation SLA passed unresolved.
    Escalated,
    /// An unrecoverable error ended the workflow. Terminal.
    Failed,
    /// A person resolved the escalation with a final artifact. Terminal.
    Resolved,
    /// A person abandoned the workflow after its escalation. Terminal.
    Abandoned,
}

impl WorkflowStatus {
    /// All statuses, in lifecycle order.
    pub const ALL: [WorkflowStatus; 8] = [
        Self::Generating,
        Self::AwaitingReview,
        Self::Revising,
        Self::Approved,
        Self::Escalated,
        Self::Failed,
        Self::Resolved,
        Self::Abandoned,
    ];

    /// Whether no further transition is allowed.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Approved | Self::Escalated | Self::Failed | Self::Resolved | Self::Abandoned
        )
    }

    /// The stable snake_case name used in storage, APIs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generating => "generating",
            Self::AwaitingReview => "awaiting_review",
            Self::Revising => "revising",
            Self::Approved => "approved",
            Self::Escalated => "escalated",
            Self::Failed => "failed",
            Self::Resolved => "resolved",
            Self::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WorkflowStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status {s:?}; expected one of {}",
                    Self::ALL.map(|s| s.as_str()).join(", ")
                )
            })
    }
}

/// A Step Functions task token. Its `Debug` and `Display` never show the value, so it
/// cannot leak into logs by accident; only storage adapters and the resumer read it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    /// Wraps a token received from the state machine.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The raw token, for the SendTaskSuccess call and storage only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

/// The review currently waiting for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingReview {
    /// The iteration under review.
    pub iteration: u32,
    /// Token of the waiting `WaitForFeedback` task.
    pub task_token: TaskToken,
    /// When the review was requested.
    pub requested_at: DateTime<Utc>,
    /// When the wait state times out.
    pub deadline: DateTime<Utc>,
    /// Approvals recorded so far for this iteration, while fewer than `required_approvals`
    /// distinct reviewers have approved (nothing is delivered for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// The reviewer working on this iteration, if any: another reviewer's decision is refused
    /// (`claimed_by_other`) until the claim expires or is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    /// When this iteration was first claimed (kept after a release, for time-to-claim figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_claimed_at: Option<DateTime<Utc>>,
    /// Reminder offsets (seconds before the deadline) whose time has passed: sent, or skipped
    /// for a more urgent one that was due at the same time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders_passed: Vec<u64>,
    /// Reminders actually sent for this iteration.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders_sent: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl PendingReview {
    /// The claim, if it is still live at `now`.
    pub fn live_claim(&self, now: DateTime<Utc>) -> Option<&Claim> {
        self.claim.as_ref().filter(|c| now < c.expires_at)
    }
}

/// One reviewer's approval that did not reach the quorum yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved (the name shown).
    pub reviewer: String,
    /// The approver's stable identity ([`crate::identity`]); empty in records kept before
    /// identities were recorded (matched by name then).
    #[serde(default)]
    pub reviewer_id: String,
    /// Idempotency key of the audit entry.
    pub feedback_key: String,
    /// When.
    pub approved_at: DateTime<Utc>,
}

/// A reviewer's exclusive hold on the iteration under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Who holds it (the name shown).
    pub reviewer: String,
    /// The holder's stable identity ([`crate::identity`]); empty in records kept before
    /// identities were recorded (matched by name then).
    #[serde(default)]
    pub reviewer_id: String,
    /// When it was taken (a renewal keeps it).
    pub claimed_at: DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Approval {
    /// Whether this approval is the reviewer's `(id, name)`.
    pub fn by(&self, id: &str, name: &str) -> bool {
        crate::identity::same_reviewer(&self.reviewer_id, &self.reviewer, id, name)
    }
}

impl Claim {
    /// Whether the reviewer `(id, name)` holds this claim.
    pub fn held_by(&self, id: &str, name: &str) -> bool {
        crate::identity::same_reviewer(&self.reviewer_id, &self.reviewer, id, name)
    }
}

/// One entry of a workflow's claim log: a claim taken or released (renewals and lapses are
/// not entries: a renewal changes nothing but the expiry, a lapse is the expiry passing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimEvent {
    /// The iteration claimed.
    pub iteration: u32,
    /// Claimed or released.
    pub action: ClaimAction,
    /// Who held (or took) the claim.
    pub reviewer: String,
    /// Who released someone else's claim (an admin); absent when the holder acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What happened to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimAction {
    /// A reviewer took the claim.
    Claimed,
    /// The claim was given up (by its holder or an admin).
    Released,
}

/// Entries a workflow's claim log keeps (the newest), so a claim/release loop cannot grow the
/// record without bound.
pub const CLAIM_LOG_LIMIT: usize = 50;

/// What may be shown about a review in progress (everything but the task token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewSummary {
    /// The iteration under review.
    pub iteration: u32,
    /// When the review was requested.
    pub requested_at: DateTime<Utc>,
    /// End of the review SLA.
    pub deadline: DateTime<Utc>,
    /// Distinct approvals needed.
    pub required_approvals: u32,
    /// Who approved so far (fewer than `required_approvals`).
    pub approved_by: Vec<String>,
    /// The live claim, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

impl Workflow {
    /// A new workflow for `subject`: iteration 1, its first draft being generated, version 1.
    pub fn new(
        id: String,
        request_id: String,
        subject: Subject,
        config: WorkflowConfig,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            request_id,
            subject,
            config,
            status: WorkflowStatus::Generating,
            iteration: 1,
            artifact_iteration: 0,
            artifact_hash: None,
            pending_review: None,
            decisions: vec![],
            claim_log: Vec::new(),
            drafts: Vec::new(),
            escalation: None,
            failure: None,
            execution_arn: None,
            smoke: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
            notifications: Vec::new(),
        }
    }

    /// The review in progress as it may be shown, with claims that expired by `now` left out.
    pub fn review_summary(&self, now: DateTime<Utc>) -> Option<ReviewSummary> {
        let pending = self.pending_review.as_ref()?;
        Some(ReviewSummary {
            iteration: pending.iteration,
            requested_at: pending.requested_at,
            deadline: pending.deadline,
            required_approvals: self.config.required_approvals,
            approved_by: pending
                .approvals
                .iter()
                .map(|a| a.reviewer.clone())
                .collect(),
            claim: pending.live_claim(now).cloned(),
        })
    }
}

/// A person's decision: a reviewer's on a draft, or (the resolutions) the escalation group's on
/// an escalated workflow. Both kinds go through the same processor, audit trail and delivery
/// outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Accept the current draft.
    Approve,
    /// Ask the agent for another draft.
    RequestChanges,
    /// Stop the loop outright (with a reason): the workflow escalates
    /// (`rejected_by_reviewer`).
    Reject,
    /// Resolution: a person supplies the final artifact.
    Resolve,
    /// Resolution: grant more iterations; the same execution regenerates.
    Extend,
    /// Resolution: hand the current draft to another reviewer group.
    Reassign,
    /// Resolution: stop the workflow for good.
    Abandon,
}

impl Decision {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::RequestChanges => "request_changes",
            Self::Reject => "reject",
            Self::Resolve => "resolve",
            Self::Extend => "extend",
            Self::Reassign => "reassign",
            Self::Abandon => "abandon",
        }
    }

    /// Whether this resolves an escalation (rather than deciding a draft).
    pub fn is_resolution(self) -> bool {
        matches!(
            self,
            Self::Resolve | Self::Extend | Self::Reassign | Self::Abandon
        )
    }
}

/// A structured correction of one artifact field (`field` is a dotted path such as `tagline`
/// or `colors.primary`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Correction {
    /// Dotted path of the corrected field.
    pub field: String,
    /// The value the reviewer wants.
    pub value: String,
}

/// A summary of one applied decision, kept on the workflow record (bounded by `max_iterations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The iteration decided.
    pub iteration: u32,
    /// What was decided.
    pub decision: Decision,
    /// Who decided.
    pub reviewer: String,
    /// Idempotency key of the feedback entry holding the full text.
    pub feedback_key: String,
    /// Normalised fingerprint of comments and corrections, used to detect repeated feedback.
    pub fingerprint: String,
    /// When the review was requested (for turnaround figures).
    pub requested_at: DateTime<Utc>,
    /// When the decision was applied.
    pub decided_at: DateTime<Utc>,
    /// Token of the task this decision resumes; kept so a replayed submission can re-deliver
    /// a decision whose first delivery failed. Never leaves the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<TaskToken>,
    /// The transactional outbox: written as [`Delivery::Pending`] in the same conditional write
    /// as the decision, settled once the execution has it (or is known to have ended without
    /// it). `None` on records written before the outbox existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// For a resolution: where the execution goes on (what the waiting escalation task
    /// completes with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolutionEffect>,
    /// For an approval that completed a quorum: the earlier approvers of the iteration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_approvers: Vec<String>,
    /// When the iteration was first claimed, if it was (time-to-claim figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
    /// For an approval with corrections (edit and approve): the final version is the
    /// reviewer's, stored as the next artifact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    /// Reminders sent for the iteration before this decision.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders_sent: u32,
}

/// What a resolution tells the execution (the same for the inline delivery, a replay and the
/// reconciler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionEffect {
    /// The iteration the workflow continues with (`extend`: the next one; `reassign`: the
    /// current one).
    pub next_iteration: u32,
    /// The review SLA from now on.
    pub review_timeout_seconds: u64,
}

/// What a resolution (or an edit-and-approve) carries beyond its action, as recorded in the
/// audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionDetails {
    /// `extend`: iterations granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_iterations: Option<u32>,
    /// `reassign`: the new reviewer group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer_group: Option<String>,
    /// `reassign`: the new review SLA (default: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_timeout_seconds: Option<u64>,
    /// `resolve` (and an approval with corrections): the final artifact (the full document,
    /// or the last draft with the corrections applied), validated against the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_artifact: Option<Value>,
    /// `resolve`: the content hash of `final_artifact`, computed where it is built so the
    /// rules stay free of the artifact schema. Derivable, so never stored.
    #[serde(skip)]
    pub final_hash: Option<String>,
}

/// Where an applied decision stands with the execution it resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Delivery {
    /// Recorded, not yet confirmed by the execution: the inline attempt or the reconciler
    /// delivers it.
    Pending,
    /// The execution accepted it (`SendTaskSuccess` succeeded, or its history shows this
    /// decision completed the wait).
    Delivered {
        /// When it was confirmed.
        at: DateTime<Utc>,
    },
    /// The wait timed out before the decision arrived: the decision is kept and marked late,
    /// and the workflow escalates with `review_timeout`.
    Late {
        /// When it was found late.
        at: DateTime<Utc>,
    },
    /// The task was closed and its fate could not be read (no history access): the decision
    /// is kept; a timeout escalation still proceeds.
    Closed {
        /// When.
        at: DateTime<Utc>,
        /// What the service said.
        detail: String,
    },
}

impl Delivery {
    /// Whether the execution is known to have it.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered { .. })
    }
}

/// Why a workflow was handed to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// The next iteration would exceed `max_iterations`.
    IterationLimit,
    /// The loop stopped converging: identical draft, or the same feedback twice in a row.
    NoProgress,
    /// Nobody decided within the review SLA.
    ReviewTimeout,
    /// The regenerated draft kept failing the artifact schema after the definition's retries:
    /// a person takes over instead of the workflow failing for good.
    InvalidDraft,
    /// A reviewer stopped the loop outright (`"decision": "reject"`, with a reason).
    RejectedByReviewer,
}

/// The escalation task waiting for a resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingResolution {
    /// Token of the waiting `Escalation` task. Never leaves the backend.
    pub task_token: TaskToken,
    /// When the escalation started waiting.
    pub requested_at: DateTime<Utc>,
    /// When the escalation SLA runs out.
    pub deadline: DateTime<Utc>,
    /// Reminder offsets (seconds before the deadline) whose time has passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders_passed: Vec<u64>,
    /// Reminders actually sent to the escalation group.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders_sent: u32,
}

impl EscalationReason {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IterationLimit => "iteration_limit",
            Self::NoProgress => "no_progress",
            Self::ReviewTimeout => "review_timeout",
            Self::InvalidDraft => "invalid_draft",
            Self::RejectedByReviewer => "rejected_by_reviewer",
        }
    }
}

impl fmt::Display for EscalationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The escalation record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Why.
    pub reason: EscalationReason,
    /// A sentence for the person who picks it up.
    pub detail: String,
    /// Iteration at which it happened.
    pub iteration: u32,
    /// When.
    pub escalated_at: DateTime<Utc>,
    /// The execution waiting for a resolution (none before it waits, once resolved, and
    /// for escalations recorded before resolutions existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<PendingResolution>,
    /// Set when the escalation SLA passed without a resolution (the workflow ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresolved_at: Option<DateTime<Utc>>,
}

impl Escalation {
    /// What may be shown about the escalation (everything but the task token).
    pub fn summary(&self) -> EscalationSummary {
        EscalationSummary {
            reason: self.reason,
            detail: self.detail.clone(),
            iteration: self.iteration,
            escalated_at: self.escalated_at,
            resolve_by: self.awaiting.as_ref().map(|a| a.deadline),
            unresolved_at: self.unresolved_at,
        }
    }
}

/// An escalation as the CLI and API show it: never the task token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationSummary {
    /// Why.
    pub reason: EscalationReason,
    /// A sentence for the person who picks it up.
    pub detail: String,
    /// Iteration at which it happened.
    pub iteration: u32,
    /// When.
    pub escalated_at: DateTime<Utc>,
    /// While waiting for a resolution: the end of the escalation SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_by: Option<DateTime<Utc>>,
    /// When the SLA ran out unresolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresolved_at: Option<DateTime<Utc>>,
}

/// The failure record written by the state machine's catch-all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The error name (`States.*` or a function error type).
    pub error: String,
    /// The cause text.
    pub cause: String,
    /// When.
    pub failed_at: DateTime<Utc>,
}

/// The workflow record: one per reviewed subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Deterministic id derived from the start request and subject.
    pub id: String,
    /// The start request this workflow came from.
    pub request_id: String,
    /// What is reviewed.
    pub subject: Subject,
    /// Settings fixed at start.
    pub config: WorkflowConfig,
    /// Lifecycle status.
    pub status: WorkflowStatus,
    /// Current iteration, starting at 1.
    pub iteration: u32,
    /// Iteration of the newest stored artifact (0 before the first draft).
    pub artifact_iteration: u32,
    /// Content hash of the newest artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_hash: Option<String>,
    /// The review waiting for a decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_review: Option<PendingReview>,
    /// Applied decisions, oldest first.
    #[serde(default)]
    pub decisions: Vec<DecisionRecord>,
    /// Claims taken and released, oldest first (the newest [`CLAIM_LOG_LIMIT`]); written with
    /// the claim itself, in the same conditional write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_log: Vec<ClaimEvent>,
    /// Every draft the workflow got, by iteration: who drafted it and what it cost (what the
    /// report compares models by). Older records have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drafts: Vec<DraftRecord>,
    /// Set when escalated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Set when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Execution that drives this workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// Smoke-test scenario; such workflows are decided by the synthetic reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<SmokeScenario>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the workflow reached a terminal status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version; every write requires the version it read.
    pub version: u64,
    /// The notification outbox: every notification about this workflow, written in the same
    /// conditional write as the change it tells of, with its delivery per channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationRecord>,
}

/// Outbox keys of workflows whose decision awaits delivery start with this.
pub const OUTBOX_DECISIONS: &str = "D#";
/// Outbox keys of workflows that wait only on notifications start with this.
pub const OUTBOX_NOTIFICATIONS: &str = "N#";

fn outbox_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Workflow {
    /// Whether the workflow holds work for the outbox relay: a decision whose delivery to the
    /// execution is not confirmed, or a notification still to be sent on some channel. The
    /// stores index exactly these workflows (DynamoDB's sparse `GSI2`).
    pub fn in_outbox(&self) -> bool {
        self.pending_delivery().is_some() || self.notifications.iter().any(|n| n.is_pending())
    }

    /// Where the workflow sorts in the outbox index while it is in it ([`Self::in_outbox`]):
    /// `D#<updated_at>#<id>` while a decision awaits delivery, else `N#<due>#<id>` with the
    /// time its earliest pending notification channel may be tried. The reconciler reads the
    /// index from the start a page at a time, so workflows whose notifications wait out a
    /// backoff (a channel down for hours) cannot hide a decision from it; the notification
    /// relay reads the `N#` range up to now ([`Self::due_notifications_bound`]), so decisions
    /// that keep failing cannot hide a due notification either. Timestamps are fixed-width
    /// RFC 3339 (UTC, µs), so the keys sort as text in every store; keys written before these
    /// (`<updated_at>#<id>`, starting with a digit) sort before both, so they are read first.
    pub fn outbox_key(&self) -> Option<String> {
        if self.pending_delivery().is_some() {
            return Some(format!(
                "{OUTBOX_DECISIONS}{}#{}",
                outbox_time(self.updated_at),
                self.id
            ));
        }
        let due = self
            .notifications
            .iter()
            .flat_map(|record| {
                record
                    .channels
                    .iter()
                    .filter(|c| c.status == ChannelStatus::Pending)
                    .map(|c| c.next_attempt_at.unwrap_or(record.created_at))
            })
            .min()?;
        Some(format!(
            "{OUTBOX_NOTIFICATIONS}{}#{}",
            outbox_time(due),
            self.id
        ))
    }

    /// The greatest outbox key of a workflow whose notifications are due at `now`: the relay
    /// reads keys from [`OUTBOX_NOTIFICATIONS`] up to this one.
    pub fn due_notifications_bound(now: DateTime<Utc>) -> String {
        // '~' sorts after the '#' that follows the time in every key due at `now`.
        format!("{OUTBOX_NOTIFICATIONS}{}~", outbox_time(now))
    }

    /// The outbox record `id`, if any.
    pub fn notification(&self, id: &str) -> Option<&NotificationRecord> {
        self.notifications.iter().find(|n| n.id == id)
    }

    /// The applied decision whose delivery to the execution is not confirmed yet (the outbox
    /// entry the reconciler works on), if any.
    pub fn pending_delivery(&self) -> Option<&DecisionRecord> {
        self.decisions
            .iter()
            .rev()
            .find(|d| d.delivery == Some(Delivery::Pending))
    }
}

/// One stored draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// The iteration that produced it.
    pub iteration: u32,
    /// The metadata JSON.
    pub content: Value,
    /// SHA-256 of the canonical JSON.
    pub hash: String,
    /// Who produced it (agent id or `local-generator`).
    pub generator: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// What it cost, when the generator can tell (models behind an API do; the local
    /// generator and the Bedrock agent do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One draft of a workflow as the workflow record keeps it: the iteration, who drafted it and
/// what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftRecord {
    /// The iteration it drafted.
    pub iteration: u32,
    /// Who drafted it.
    pub generator: String,
    /// What it cost, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// What producing one draft cost, as the model's server reported it: the record kept per
/// draft so reports can compare models by tokens, time and human rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// The model that answered, as its server names it.
    pub model: String,
    /// Prompt tokens, summed over every call the draft took (a repair round included).
    #[serde(default)]
    pub input_tokens: u64,
    /// Completion tokens, summed the same way.
    #[serde(default)]
    pub output_tokens: u64,
    /// Wall-clock time of the whole generation in milliseconds, retries and waits included.
    #[serde(default)]
    pub latency_ms: u64,
}

/// What happened to a feedback submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedbackOutcome {
    /// The decision was applied to the workflow.
    Applied {
        /// Status after the decision.
        status: WorkflowStatus,
    },
    /// The decision was rejected; the record is kept for the audit trail.
    Rejected {
        /// Stable rejection name (see [`crate::rules::Rejection::name`]).
        reason: String,
        /// Human-readable explanation.
        message: String,
    },
}

/// One feedback submission as recorded in the audit trail (applied or rejected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEntry {
    /// Workflow it was submitted for.
    pub workflow_id: String,
    /// Caller-supplied idempotency key; unique per workflow.
    pub idempotency_key: String,
    /// Hash of the submission body, to detect a key reused for a different request.
    pub request_fingerprint: String,
    /// Iteration the reviewer decided on.
    pub iteration: u32,
    /// The decision.
    pub decision: Decision,
    /// Reviewer identity.
    pub reviewer: String,
    /// Free-text comments.
    #[serde(default)]
    pub comments: String,
    /// Structured field corrections.
    #[serde(default)]
    pub corrections: Vec<Correction>,
    /// What a resolution carries beyond its action (none for a reviewer's decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolutionDetails>,
    /// Where it came from (`cli`, `api`, `sqs`, `lambda`, `synthetic`).
    pub channel: String,
    /// When received.
    pub received_at: DateTime<Utc>,
    /// Applied or rejected, and why.
    pub outcome: FeedbackOutcome,
}

/// The front door a submission came through. Part of every idempotency key's scope (see
/// `feedback::scoped_key`), so its names are stable: they are the bytes hashed and the
/// strings stored in the audit trail (`FeedbackEntry::channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The HTTP API (and the review page).
    Api,
    /// The feedback queue.
    Sqs,
    /// The `hitl` CLI.
    Cli,
    /// A direct Lambda invocation (`process-feedback`).
    Lambda,
    /// The synthetic reviewer of smoke workflows.
    Synthetic,
    /// Tests.
    Test,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 6] = [
        Self::Api,
        Self::Sqs,
        Self::Cli,
        Self::Lambda,
        Self::Synthetic,
        Self::Test,
    ];

    /// The stable name (what the serde form and the key scope use).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Sqs => "sqs",
            Self::Cli => "cli",
            Self::Lambda => "lambda",
            Self::Synthetic => "synthetic",
            Self::Test => "test",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the synthetic reviewer does with a smoke workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmokeScenario {
    /// Approve the first draft.
    ApproveFirst,
    /// Request changes (with a correction) until the last allowed iteration, then approve.
    ApproveAfterRevisions,
    /// Always request changes, with new comments each time: escalates at the limit.
    EscalateAtLimit,
    /// Needs two approvals (`required_approvals` 2): two synthetic reviewers approve the first
    /// draft.
    ApproveByTwo,
    /// Approve the first draft with a correction (edit and approve): the final version is the
    /// synthetic reviewer's.
    EditAndApprove,
}

impl SmokeScenario {
    /// Scenario for the n-th smoke item (round robin).
    pub fn for_index(index: usize) -> Self {
        match index % 5 {
            0 => Self::ApproveFirst,
            1 => Self::ApproveAfterRevisions,
            2 => Self::EscalateAtLimit,
            3 => Self::ApproveByTwo,
            _ => Self::EditAndApprove,
        }
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A draft waits for a reviewer.
    ReviewRequested,
    /// A workflow was escalated to a person.
    Escalated,
    /// A draft still waits for a reviewer and its deadline is near.
    ReviewReminder,
    /// An escalation still waits for a resolution and its deadline is near.
    ResolutionReminder,
}

/// A message for reviewers or operators. Never contains a task token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// Workflow id.
    pub workflow_id: String,
    /// Subject name, for the subject line.
    pub subject_name: String,
    /// Iteration concerned.
    pub iteration: u32,
    /// Reviewer group that may act.
    pub reviewer_group: String,
    /// Escalation reason, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A readable sentence.
    pub message: String,
    /// Where to act (the review page's view of the workflow), when the page's URL is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl NotificationKind {
    /// `review_requested`, `escalated`, `review_reminder` or `resolution_reminder`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReviewRequested => "review_requested",
            Self::Escalated => "escalated",
            Self::ReviewReminder => "review_reminder",
            Self::ResolutionReminder => "resolution_reminder",
        }
    }
}

impl Notification {
    /// A notification of `kind` about `workflow` for its reviewer group.
    pub fn to_reviewers(kind: NotificationKind, workflow: &Workflow, message: String) -> Self {
        Self::to_group(kind, workflow, &workflow.config.reviewer_group, message)
    }

    /// A notification of `kind` about `workflow` for its escalation group.
    pub fn to_escalation_group(
        kind: NotificationKind,
        workflow: &Workflow,
        message: String,
    ) -> Self {
        Self::to_group(kind, workflow, &workflow.config.escalation_group, message)
    }

    fn to_group(kind: NotificationKind, workflow: &Workflow, group: &str, message: String) -> Self {
        Self {
            kind,
            workflow_id: workflow.id.clone(),
            subject_name: workflow.subject.name.clone(),
            iteration: workflow.iteration,
            reviewer_group: group.to_owned(),
            reason: None,
            message,
            link: None,
        }
    }

    /// With the escalation reason.
    pub fn because(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    /// With a link to the review page.
    pub fn linking(mut self, link: Option<String>) -> Self {
        self.link = link;
        self
    }

    /// An email subject line: what happened, the subject and the draft ("Review requested:
    /// Cedar Candles, draft 2"). Control characters of the subject's name are dropped, so a
    /// name cannot add headers.
    pub fn email_subject(&self) -> String {
        let what = match self.kind {
            NotificationKind::ReviewRequested => "Review requested",
            NotificationKind::Escalated => "Escalated",
            NotificationKind::ReviewReminder => "Review reminder",
            NotificationKind::ResolutionReminder => "Resolution reminder",
        };
        let name: String = self
            .subject_name
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        format!("{what}: {name}, draft {}", self.iteration)
    }

    /// An email's plain text: the message (the link after it unless the message has it),
    /// then the workflow, iteration, group and reason.
    pub fn email_text(&self) -> String {
        let mut text = format!("{}\n\n", self.message);
        if let Some(link) = self
            .link
            .as_ref()
            .filter(|l| !self.message.contains(l.as_str()))
        {
            text.push_str(&format!("Open it on the review page: {link}\n\n"));
        }
        text.push_str(&format!(
            "Workflow {} · iteration {} · group {}\n",
            self.workflow_id, self.iteration, self.reviewer_group
        ));
        if let Some(reason) = &self.reason {
            text.push_str(&format!("Reason: {reason}\n"));
        }
        text
    }
}

/// One notification in a workflow's outbox and its delivery on every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// Unique within the workflow per (kind, iteration, occasion): `review_requested/2`,
    /// `review_reminder/2/3600`, `escalated/3`.
    pub id: String,
    /// What is sent, fixed when the change it tells of was written (a retry sends the same).
    pub notification: Notification,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Its delivery on each channel configured when it was written.
    pub channels: Vec<ChannelDelivery>,
}

impl NotificationRecord {
    /// Whether some channel still has to send it.
    pub fn is_pending(&self) -> bool {
        self.channels
            .iter()
            .any(|c| c.status == ChannelStatus::Pending)
    }

    /// The id receivers deduplicate by: the workflow and the record's id
    /// (`wf-…/review_requested/2`), the same on every channel and every attempt.
    pub fn delivery_id(&self) -> String {
        format!("{}/{}", self.notification.workflow_id, self.id)
    }
}

/// Where one channel stands with one notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDelivery {
    /// The channel's name (`sns`, `email`, `webhook`, `log`).
    pub channel: String,
    /// Pending, sent or given up.
    pub status: ChannelStatus,
    /// Attempts that failed or were taken (a claimed attempt counts when it settles).
    pub attempts: u32,
    /// When a sender may take it next: the writer of the record holds it until then, and a
    /// failed attempt pushes it back (backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The state of one channel's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Not sent yet (new, or failed and waiting for its next attempt).
    Pending,
    /// The channel accepted it.
    Sent,
    /// Every attempt failed (alarmed on AWS); kept for operators.
    GaveUp,
}

impl ChannelStatus {
    /// `pending`, `sent` or `gave_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::GaveUp => "gave_up",
        }
    }
}
