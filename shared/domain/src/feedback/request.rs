//! What a submission is as it arrives (decision or resolution), who submitted it, and what
//! the processor answers: the request types, the submitter, the receipt and the errors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::{describe_fields, FieldError};
use crate::identity;
use crate::model::{Channel, Correction, Decision, FeedbackOutcome};
use crate::rules::Submission;
use crate::store::StoreError;

/// Longest accepted comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// Most corrections in one submission.
pub const MAX_CORRECTIONS: usize = 20;
/// Longest correction value, in characters.
pub const MAX_CORRECTION_CHARS: usize = 500;
/// Iterations a decision can name: a workflow never has more than the largest
/// `max_iterations` (see [`crate::model::MAX_ITERATIONS_RANGE`]).
pub const ITERATION_RANGE: std::ops::RangeInclusive<i64> =
    1..=(*crate::model::MAX_ITERATIONS_RANGE.end() as i64);

/// A submission as it arrives from any channel, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// Iteration the reviewer looked at. Any JSON number with an integral value is accepted
    /// (`1` and `1.0` alike); [`validate`] checks the range.
    #[serde(default, deserialize_with = "integral")]
    pub iteration: Option<i64>,
    /// `approve` or `request_changes`.
    #[serde(default)]
    pub decision: Option<String>,
    /// Comments; required when requesting changes.
    #[serde(default)]
    pub comments: Option<String>,
    /// Field corrections.
    #[serde(default)]
    pub corrections: Vec<Correction>,
}

/// Reads an optional integral JSON number: `1` and `1.0` are the same number in JSON.
/// Integral values beyond `i64` saturate, so validation reports them as out of range.
pub(super) fn integral<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<serde_json::Number>::deserialize(deserializer)?;
    value
        .map(|n| integral_number(&n))
        .transpose()
        .map_err(|message| serde::de::Error::custom(format!("iteration {message}")))
}

/// The integral value of a JSON number, saturating at the `i64` bounds; an error for a
/// fractional value.
pub fn integral_number(n: &serde_json::Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.as_u64().is_some() {
        return Ok(i64::MAX);
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 => {
            // `as` saturates at the bounds, which is the documented behaviour here.
            #[allow(clippy::cast_possible_truncation)]
            Ok(f as i64)
        }
        _ => Err(format!("must be an integer, got {n}")),
    }
}

/// An iteration as the API reads it from a JSON number: integral (`1.0` is 1) and within
/// [`ITERATION_RANGE`], else the message that says so, with the number as it was sent.
pub fn iteration_from_number(n: &serde_json::Number) -> Result<i64, String> {
    match integral_number(n) {
        // Saturated values (beyond i64) are outside the range too.
        Ok(i) if ITERATION_RANGE.contains(&i) => Ok(i),
        _ => Err(iteration_range_error(n)),
    }
}

/// The one wording of an out-of-range (or non-integer) iteration, naming what was sent.
pub fn iteration_range_error(got: impl std::fmt::Display) -> String {
    format!(
        "must be an integer from {} to {}, got {got}",
        ITERATION_RANGE.start(),
        ITERATION_RANGE.end()
    )
}

/// Who submitted it and through which channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    /// The name recorded in the audit trail and shown: a label, never what approvals, claims
    /// or idempotency scopes are matched on (that is [`Reviewer::identity`]).
    pub name: String,
    /// The stable identity a verified credential gave (`oidc:<issuer>|<sub>`, or
    /// `name:<folded>` for a local reviewer token); `None` for a name the front door declares
    /// (CLI, SQS, Lambda, synthetic), which is checked and folded into `name:<folded>` (see
    /// [`crate::identity`]).
    pub id: Option<String>,
    /// Groups; `None` means the channel already authorised the caller (e.g. a trusted queue).
    pub groups: Option<Vec<String>>,
    /// The front door the submission came through (part of the idempotency scope).
    pub channel: Channel,
}

/// The group whose members may act on every workflow (decide, resolve, claim, release anyone's
/// claim).
pub const ADMIN_GROUP: &str = "admin";

impl Reviewer {
    /// Whether the reviewer may act for `group`: its members and admins; `None` groups mean the
    /// channel authorised the caller already.
    pub fn may_act_for(&self, group: &str) -> bool {
        self.groups
            .as_ref()
            .is_none_or(|groups| groups.iter().any(|g| g == group || g == ADMIN_GROUP))
    }

    /// A submitter whose name the front door declares (CLI, SQS, Lambda, synthetic): its
    /// identity is the name, normalised.
    pub fn declared(
        name: impl Into<String>,
        groups: Option<Vec<String>>,
        channel: Channel,
    ) -> Self {
        Self {
            name: name.into(),
            id: None,
            groups,
            channel,
        }
    }

    /// The stable identity approvals, claims and idempotency scopes are matched on, with the
    /// label to show; a declared name that is not a valid name is refused with the reason.
    pub fn identity(&self) -> Result<(String, String), identity::NameError> {
        match &self.id {
            Some(id) => {
                let label = self.name.trim();
                if label.is_empty() || id.trim().is_empty() {
                    return Err(identity::NameError::Empty);
                }
                if label.chars().count() > identity::MAX_NAME_CHARS * 2 {
                    return Err(identity::NameError::TooLong);
                }
                Ok((id.clone(), label.to_owned()))
            }
            None => {
                let canonical = identity::check_name(&self.name)?;
                Ok((identity::declared_id(&canonical), canonical))
            }
        }
    }

    /// Whether the reviewer is in [`ADMIN_GROUP`].
    pub fn is_admin(&self) -> bool {
        self.groups
            .as_ref()
            .is_some_and(|groups| groups.iter().any(|g| g == ADMIN_GROUP))
    }
}

/// A request after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidFeedback {
    /// Workflow id.
    pub workflow_id: String,
    /// The rules' view.
    pub submission: Submission,
    /// Hash of the request body, to detect a reused key.
    pub fingerprint: String,
}

/// Result returned to the submitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackReceipt {
    /// Workflow id.
    pub workflow_id: String,
    /// Iteration decided.
    pub iteration: u32,
    /// Decision submitted.
    pub decision: Decision,
    /// The key.
    pub idempotency_key: String,
    /// Applied or rejected (with reason).
    pub outcome: FeedbackOutcome,
    /// True when this is a replay of an earlier submission with the same key.
    pub replayed: bool,
    /// When it was first received.
    pub received_at: DateTime<Utc>,
}

/// Failures that are not a recorded rejection.
#[derive(Debug, Error)]
pub enum FeedbackError {
    /// Field validation failed; nothing was recorded.
    #[error("invalid feedback: {}", describe_fields(.0))]
    Invalid(Vec<FieldError>),
    /// No such workflow.
    #[error("workflow {0} not found")]
    NotFound(String),
    /// The reviewer is not in the workflow's reviewer group (recorded as rejected).
    #[error("{reviewer} is not in reviewer group {group}")]
    Forbidden {
        /// Who tried.
        reviewer: String,
        /// The group required.
        group: String,
    },
    /// The key was used before for a different request.
    #[error("idempotency key {0:?} was already used for a different request")]
    KeyReused(String),
    /// The decision is recorded but resuming the execution failed transiently; retry with
    /// the same key.
    #[error("decision recorded but resuming the execution failed: {0}")]
    ResumeFailed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A resolution of an escalated workflow as it arrives from any channel, before validation:
/// `{"action":"resolve","final":{…}}` or `{"action":"resolve","corrections":[…]}`,
/// `{"action":"extend","iterations":2,"guidance":"…"}`,
/// `{"action":"reassign","reviewer_group":"brand-leads","review_timeout_seconds":86400}`,
/// `{"action":"abandon","reason":"…"}`, each with the escalated `iteration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolutionRequest {
    /// The escalated iteration (the workflow's current one).
    #[serde(default, deserialize_with = "integral")]
    pub iteration: Option<i64>,
    /// `resolve`, `extend`, `reassign` or `abandon`.
    #[serde(default)]
    pub action: Option<String>,
    /// `resolve`: the full final artifact.
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_artifact: Option<serde_json::Value>,
    /// `resolve`: corrections to the newest draft (instead of `final`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<Correction>,
    /// `extend`: iterations to grant (the total stays within 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<i64>,
    /// `extend`: guidance for the agent's next draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<String>,
    /// `reassign`: the reviewer group that reviews the draft now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer_group: Option<String>,
    /// `reassign`: a new review SLA in seconds (default: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_timeout_seconds: Option<i64>,
    /// `abandon` (required) and `resolve` (optional): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The resolution actions, as named in requests.
pub const RESOLUTION_ACTIONS: [&str; 4] = ["resolve", "extend", "reassign", "abandon"];

impl From<FeedbackError> for crate::error::HandlerError {
    fn from(err: FeedbackError) -> Self {
        use crate::error::HandlerError;
        match err {
            FeedbackError::Invalid(fields) => HandlerError::InvalidInput(fields),
            FeedbackError::NotFound(id) => HandlerError::WorkflowNotFound(id),
            FeedbackError::KeyReused(key) => HandlerError::field(
                "idempotency_key",
                format!("{key:?} was already used for a different request"),
            ),
            FeedbackError::Forbidden { reviewer, group } => HandlerError::field(
                "reviewer",
                format!("{reviewer} is not in reviewer group {group}"),
            ),
            FeedbackError::ResumeFailed(e) => HandlerError::ResumeFailed(e),
            FeedbackError::Store(e) => e.into(),
        }
    }
}
