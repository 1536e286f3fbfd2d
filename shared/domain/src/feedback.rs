//! Feedback processing: validate a reviewer's submission, apply the rules, record it in the
//! audit trail and resume the waiting execution. One implementation for every front door
//! (direct Lambda invocation, the CLI, HTTP and SQS).
//!
//! Guarantees: the first decision for an iteration wins (version-conditional write); a
//! submission replayed with the same idempotency key returns the original result and changes
//! nothing; every rejected submission is recorded.
//!
//! Delivery is a transactional outbox: an accepted decision is written together with a
//! pending-delivery marker ([`Delivery::Pending`]) in one conditional write, delivery is
//! attempted inline, and whatever is not confirmed is delivered by
//! [`FeedbackProcessor::reconcile`] (on AWS the `reconcile-deliveries` function on a schedule;
//! locally at `hitl serve` start-up, after every engine step loop and by `hitl reconcile`).
//! When the task is already closed, the execution's own history decides what happened — never
//! the clock — and an applied decision is never taken back: if the wait had timed out, the
//! decision is kept, marked late, and the timeout escalation proceeds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tracing::{info, warn};

use crate::contracts::FeedbackTaskResult;
use crate::error::{describe_fields, FieldError};
use crate::model::{
    Artifact, Channel, Correction, Decision, DecisionRecord, Delivery, FeedbackEntry,
    FeedbackOutcome, ResolutionDetails, Workflow, MAX_ITERATIONS_RANGE, REVIEW_TIMEOUT_RANGE,
};
use crate::ports::{
    Clock, ExecutionResumer, LogMetrics, MetricsSink, ResumeError, Resumed, TaskFate,
};
use crate::rules::{self, Rejection, Submission};
use crate::store::{StoreError, WorkflowStore};
use crate::{failpoints, identity, metadata, metrics};

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
/// Attempts before giving up on a conflict storm.
const MAX_ATTEMPTS: usize = 8;

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
fn integral<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
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

/// The first object key that appears twice in the same JSON object of `body`, if any
/// (`None` too when `body` is not JSON: the parser reports that). JSON parsers differ on
/// duplicates (serde_json keeps the last), so a submission with one is refused instead of
/// having one of its values silently win.
pub fn duplicate_key(body: &[u8]) -> Option<String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    struct Walk<'a>(&'a mut Option<String>);

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) && self.0.is_none() {
                    *self.0 = Some(key);
                }
                map.next_value_seed(Walk(&mut *self.0))?;
            }
            Ok(())
        }
    }

    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = Walk(&mut found).deserialize(&mut de);
    found
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

fn valid_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// Validates a request; lists every bad field.
pub fn validate(
    workflow_id: &str,
    request: &FeedbackRequest,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let mut errors = Vec::new();
    let iteration = check_common(
        &mut errors,
        workflow_id,
        request.iteration,
        idempotency_key,
        reviewer,
    );
    let decision = match request.decision.as_deref() {
        Some("approve") => Some(Decision::Approve),
        Some("request_changes") => Some(Decision::RequestChanges),
        Some("reject") => Some(Decision::Reject),
        Some(other) => {
            errors.push(FieldError::new(
                "decision",
                format!("must be \"approve\", \"request_changes\" or \"reject\", got {other:?}"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new("decision", "is required"));
            None
        }
    };
    let comments = request.comments.clone().unwrap_or_default();
    if comments.chars().count() > MAX_COMMENT_CHARS {
        errors.push(FieldError::new(
            "comments",
            format!("must be at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    if decision == Some(Decision::Reject) && metadata::is_blank(&comments) {
        errors.push(FieldError::new(
            "comments",
            "is required when rejecting: say why the loop stops",
        ));
    }
    if decision == Some(Decision::Reject) && !request.corrections.is_empty() {
        errors.push(FieldError::new(
            "corrections",
            "a rejection stops the loop; corrections need request_changes",
        ));
    }
    if decision == Some(Decision::RequestChanges)
        && metadata::is_blank(&comments)
        && request.corrections.is_empty()
    {
        errors.push(FieldError::new(
            "comments",
            "is required when requesting changes (say what to change, or give corrections)",
        ));
    }
    check_corrections(&mut errors, &request.corrections);
    // An approval with corrections is an edit-and-approve: the corrected draft is final (the
    // processor applies them to the draft and checks the result against the schema).
    let resolution = (decision == Some(Decision::Approve) && !request.corrections.is_empty())
        .then(ResolutionDetails::default);
    match (errors.is_empty(), decision) {
        (true, Some(decision)) => Ok(accepted(
            workflow_id,
            request,
            idempotency_key,
            reviewer,
            Submission {
                iteration,
                decision,
                reviewer: String::new(),
                reviewer_id: String::new(),
                comments,
                corrections: request.corrections.clone(),
                idempotency_key: String::new(),
                resolution,
            },
        )),
        _ => Err(errors),
    }
}

/// The checks every submission shares (path, key, submitter, iteration); the iteration as a
/// number (0 when invalid, with the error recorded).
fn check_common(
    errors: &mut Vec<FieldError>,
    workflow_id: &str,
    iteration: Option<i64>,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> u32 {
    if workflow_id.is_empty() || workflow_id.len() > 64 {
        errors.push(FieldError::new("workflow_id", "must be 1..=64 characters"));
    }
    if !valid_key(idempotency_key) {
        errors.push(FieldError::new(
            "idempotency_key",
            "must be 1..=128 characters of letters, digits, '-', '_', ':' or '.'",
        ));
    }
    if let Err(why) = reviewer.identity() {
        errors.push(FieldError::new("reviewer", why.to_string()));
    }
    match iteration {
        None => {
            errors.push(FieldError::new("iteration", "is required"));
            0
        }
        Some(i) if ITERATION_RANGE.contains(&i) => u32::try_from(i).unwrap_or(0),
        Some(i) => {
            errors.push(FieldError::new("iteration", iteration_range_error(i)));
            0
        }
    }
}

/// A valid submission: its fingerprint (hash of the path and the body, to detect a reused
/// key) and its key scoped to the submitter.
fn accepted<T: Serialize>(
    workflow_id: &str,
    request: &T,
    idempotency_key: &str,
    reviewer: &Reviewer,
    mut submission: Submission,
) -> ValidFeedback {
    let body = serde_json::to_vec(request).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(workflow_id.as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    // Validation has checked the identity; a failure here cannot happen and leaves the
    // submission's identity empty, which the rules never match.
    let (id, label) = reviewer.identity().unwrap_or_default();
    submission.idempotency_key = scoped_key(reviewer.channel, &id, idempotency_key);
    submission.reviewer = label;
    submission.reviewer_id = id;
    ValidFeedback {
        workflow_id: workflow_id.to_owned(),
        fingerprint: hex::encode(hasher.finalize()),
        submission,
    }
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

/// Validates a resolution request; lists every bad field. The final artifact of a `resolve`
/// by corrections is checked against the draft when the request is processed.
pub fn validate_resolution(
    workflow_id: &str,
    request: &ResolutionRequest,
    idempotency_key: &str,
    reviewer: &Reviewer,
) -> Result<ValidFeedback, Vec<FieldError>> {
    let mut errors = Vec::new();
    let iteration = check_common(
        &mut errors,
        workflow_id,
        request.iteration,
        idempotency_key,
        reviewer,
    );
    let decision = match request.action.as_deref() {
        Some("resolve") => Some(Decision::Resolve),
        Some("extend") => Some(Decision::Extend),
        Some("reassign") => Some(Decision::Reassign),
        Some("abandon") => Some(Decision::Abandon),
        Some(other) => {
            errors.push(FieldError::new(
                "action",
                format!(
                    "must be one of {}, got {other:?}",
                    RESOLUTION_ACTIONS.map(|a| format!("\"{a}\"")).join(", ")
                ),
            ));
            None
        }
        None => {
            errors.push(FieldError::new("action", "is required"));
            None
        }
    };
    // Fields that belong to another action are refused, so a misplaced one is not ignored.
    let only = |errors: &mut Vec<FieldError>, present: bool, field: &str, action: Decision| {
        if present && decision.is_some() && decision != Some(action) {
            errors.push(FieldError::new(
                field,
                format!("only applies to action \"{}\"", action.as_str()),
            ));
        }
    };
    only(
        &mut errors,
        request.final_artifact.is_some(),
        "final",
        Decision::Resolve,
    );
    only(
        &mut errors,
        !request.corrections.is_empty(),
        "corrections",
        Decision::Resolve,
    );
    only(
        &mut errors,
        request.iterations.is_some(),
        "iterations",
        Decision::Extend,
    );
    only(
        &mut errors,
        request.guidance.is_some(),
        "guidance",
        Decision::Extend,
    );
    only(
        &mut errors,
        request.reviewer_group.is_some(),
        "reviewer_group",
        Decision::Reassign,
    );
    only(
        &mut errors,
        request.review_timeout_seconds.is_some(),
        "review_timeout_seconds",
        Decision::Reassign,
    );
    if request.reason.is_some() && matches!(decision, Some(Decision::Extend | Decision::Reassign)) {
        errors.push(FieldError::new(
            "reason",
            "only applies to actions \"abandon\" and \"resolve\" (extend takes `guidance`)",
        ));
    }
    let text = |errors: &mut Vec<FieldError>, field: &str, value: &Option<String>| {
        let value = value.clone().unwrap_or_default();
        if value.chars().count() > MAX_COMMENT_CHARS {
            errors.push(FieldError::new(
                field,
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        value
    };
    let mut details = ResolutionDetails::default();
    let comments = match decision {
        Some(Decision::Resolve) => {
            match (&request.final_artifact, request.corrections.is_empty()) {
                (Some(_), false) => errors.push(FieldError::new(
                    "final",
                    "give either the full artifact (`final`) or `corrections` to the newest draft, not both",
                )),
                (None, true) => errors.push(FieldError::new(
                    "final",
                    "is required for \"resolve\": the full artifact, or `corrections` to the newest draft",
                )),
                (Some(content), true) => {
                    if content.is_object() {
                        for e in metadata::validate(content) {
                            errors.push(FieldError::new(format!("final.{}", e.field), e.message));
                        }
                    } else {
                        errors.push(FieldError::new("final", "must be a JSON object"));
                    }
                }
                (None, false) => {}
            }
            check_corrections(&mut errors, &request.corrections);
            details.final_artifact = request.final_artifact.clone();
            details.final_hash = request.final_artifact.as_ref().map(metadata::content_hash);
            text(&mut errors, "reason", &request.reason)
        }
        Some(Decision::Extend) => {
            let max = i64::from(*MAX_ITERATIONS_RANGE.end()) - 1;
            match request.iterations {
                Some(n) if (1..=max).contains(&n) => {
                    details.extra_iterations = u32::try_from(n).ok();
                }
                Some(n) => errors.push(FieldError::new(
                    "iterations",
                    format!("must be an integer from 1 to {max}, got {n}"),
                )),
                None => errors.push(FieldError::new("iterations", "is required for \"extend\"")),
            }
            text(&mut errors, "guidance", &request.guidance)
        }
        Some(Decision::Reassign) => {
            match &request.reviewer_group {
                Some(group) if crate::contracts::valid_id(group) => {
                    details.reviewer_group = Some(group.clone());
                }
                Some(_) => errors.push(FieldError::new(
                    "reviewer_group",
                    "must be 1..=64 characters of letters, digits, '-' or '_'",
                )),
                None => errors.push(FieldError::new(
                    "reviewer_group",
                    "is required for \"reassign\"",
                )),
            }
            if let Some(t) = request.review_timeout_seconds {
                let range = i64::try_from(*REVIEW_TIMEOUT_RANGE.start()).unwrap_or(60)
                    ..=i64::try_from(*REVIEW_TIMEOUT_RANGE.end()).unwrap_or(31_536_000);
                if range.contains(&t) {
                    details.review_timeout_seconds = u64::try_from(t).ok();
                } else {
                    errors.push(FieldError::new(
                        "review_timeout_seconds",
                        format!(
                            "must be an integer from {} to {}, got {t}",
                            range.start(),
                            range.end()
                        ),
                    ));
                }
            }
            String::new()
        }
        Some(Decision::Abandon) => {
            let reason = text(&mut errors, "reason", &request.reason);
            if metadata::is_blank(&reason) {
                errors.push(FieldError::new(
                    "reason",
                    "is required for \"abandon\": say why the workflow stops",
                ));
            }
            reason
        }
        _ => String::new(),
    };
    match (errors.is_empty(), decision) {
        (true, Some(decision)) => Ok(accepted(
            workflow_id,
            request,
            idempotency_key,
            reviewer,
            Submission {
                iteration,
                decision,
                reviewer: String::new(),
                reviewer_id: String::new(),
                comments,
                corrections: request.corrections.clone(),
                idempotency_key: String::new(),
                resolution: Some(details),
            },
        )),
        _ => Err(errors),
    }
}

fn check_corrections(errors: &mut Vec<FieldError>, corrections: &[Correction]) {
    if corrections.len() > MAX_CORRECTIONS {
        errors.push(FieldError::new(
            "corrections",
            format!("at most {MAX_CORRECTIONS} corrections"),
        ));
    }
    for (i, correction) in corrections.iter().enumerate() {
        if correction.value.chars().count() > MAX_CORRECTION_CHARS {
            errors.push(FieldError::new(
                format!("corrections[{i}].value"),
                format!("must be at most {MAX_CORRECTION_CHARS} characters"),
            ));
            continue;
        }
        match metadata::check_correction(correction) {
            Ok(()) => {}
            Err(metadata::CorrectionProblem::Field(message)) => {
                errors.push(FieldError::new(format!("corrections[{i}].field"), message));
            }
            Err(metadata::CorrectionProblem::Value(message)) => {
                errors.push(FieldError::new(format!("corrections[{i}].value"), message));
            }
        }
    }
}

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
    })
}

/// Separates the submitter's scope from the key the client chose (`~` is not allowed in
/// client keys, so the split is unambiguous).
const SCOPE_SEPARATOR: char = '~';

/// The stored key of a submission: the client's key inside its submitter's scope (a hash of
/// channel and the reviewer's stable identity, see [`Reviewer::identity`]), so one principal's
/// key never replays or pre-empts another's, and one principal's keys stay one scope whatever
/// display name their credential carries today.
pub fn scoped_key(channel: Channel, reviewer_id: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(channel.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(reviewer_id.as_bytes());
    let scope = hex::encode(hasher.finalize());
    format!("{}{SCOPE_SEPARATOR}{key}", &scope[..16])
}

/// The scope prefix (with its separator) of a scoped key: what all keys of one submitter
/// share.
pub fn key_scope(scoped: &str) -> &str {
    scoped.find(SCOPE_SEPARATOR).map_or("", |i| &scoped[..=i])
}

/// The key the client chose, from a stored (scoped) key; an unscoped key (recorded before
/// keys were scoped) is returned as it is.
pub fn client_key(scoped: &str) -> &str {
    scoped
        .split_once(SCOPE_SEPARATOR)
        .map_or(scoped, |(_, key)| key)
}

/// Most rejected submissions recorded in one workflow's audit trail; beyond it a rejection is
/// answered and logged but not stored, so nobody can grow a workflow's partition without bound.
pub const MAX_RECORDED_REJECTIONS: usize = 200;
/// Most audit-trail entries of one submitter in one workflow (their applied decisions count
/// too): past it their rejections are answered, not stored.
pub const MAX_RECORDED_REJECTIONS_PER_PRINCIPAL: usize = 20;

fn receipt(entry: &FeedbackEntry, replayed: bool) -> FeedbackReceipt {
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
fn task_result(workflow_id: &str, decision: &DecisionRecord) -> serde_json::Value {
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
enum DeliveryAttempt {
    /// Handed to an asynchronous queue (the local engine's); whoever delivers it confirms it.
    Deferred,
    /// Settled as delivered or closed.
    Settled(Delivery),
    /// The wait had timed out: settled as late; the audit entry as rewritten
    /// (`review_timed_out`), when there was one.
    Late(Option<Box<FeedbackEntry>>),
}

/// What one [`FeedbackProcessor::reconcile`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Workflows with a pending delivery that were looked at.
    pub examined: usize,
    /// Decisions the execution now has (delivered now, or found delivered in its history).
    pub delivered: usize,
    /// Decisions handed to the local engine's queue (confirmed when the queue is delivered).
    pub deferred: usize,
    /// Decisions that arrived after the wait timed out: kept, marked late.
    pub late: usize,
    /// Tasks found closed whose fate the history could not tell.
    pub closed: usize,
    /// Deliveries that failed transiently and stay pending for the next pass.
    pub retry: usize,
}

impl ReconcileReport {
    /// Adds another pass's figures to these.
    pub fn add(&mut self, other: &Self) {
        self.examined += other.examined;
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.late += other.late;
        self.closed += other.closed;
        self.retry += other.retry;
    }
}

fn new_entry(
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

fn rejected(rejection: &Rejection) -> FeedbackOutcome {
    FeedbackOutcome::Rejected {
        reason: rejection.name().to_owned(),
        message: rejection.to_string(),
    }
}

/// The feedback processor, generic over its ports.
pub struct FeedbackProcessor<S, R, C> {
    store: S,
    resumer: R,
    clock: C,
    metrics: Arc<dyn MetricsSink>,
}

impl<S, R, C> FeedbackProcessor<S, R, C>
where
    S: std::ops::Deref + Send + Sync,
    S::Target: WorkflowStore,
    R: std::ops::Deref + Send + Sync,
    R::Target: ExecutionResumer,
    C: Clock,
{
    /// Wires the processor. Its metrics go to [`LogMetrics`] (debug logs) until
    /// [`with_metrics`](Self::with_metrics) names another sink.
    pub fn new(store: S, resumer: R, clock: C) -> Self {
        Self {
            store,
            resumer,
            clock,
            metrics: Arc::new(LogMetrics),
        }
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
    async fn complete_resolution(
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
        let mut content = draft.content;
        for correction in &s.corrections {
            metadata::apply_correction(&mut content, correction);
        }
        let errors: Vec<FieldError> = metadata::validate(&content)
            .into_iter()
            .map(|e| {
                // An approval names the correction (the reviewer never wrote a `final`).
                let correction = (s.decision == Decision::Approve)
                    .then(|| s.corrections.iter().position(|c| c.field == e.field))
                    .flatten();
                match correction {
                    Some(i) => FieldError::new(format!("corrections[{i}].value"), e.message),
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

    async fn may_record_rejection(&self, entry: &FeedbackEntry) -> Result<bool, FeedbackError> {
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
    async fn deliver(
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
    async fn closed(
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
    async fn settle_as(
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
    async fn settle(
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

    async fn replay(
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

/// The outbox relay: confirming deferred deliveries and delivering what is still pending.
impl<S, R, C> FeedbackProcessor<S, R, C>
where
    S: std::ops::Deref + Send + Sync,
    S::Target: WorkflowStore,
    R: std::ops::Deref + Send + Sync,
    R::Target: ExecutionResumer,
    C: Clock,
{
    /// Records that the execution accepted the decision stored under `feedback_key` (used by
    /// whoever delivered a deferred resumption, such as the local engine's queue).
    pub async fn confirm_delivered(
        &self,
        workflow_id: &str,
        feedback_key: &str,
    ) -> Result<(), FeedbackError> {
        let Some(workflow) = self.store.get_workflow(workflow_id).await? else {
            return Ok(());
        };
        let Some(decision) = workflow
            .decisions
            .iter()
            .find(|d| d.feedback_key == feedback_key)
            .cloned()
        else {
            return Ok(());
        };
        self.settle(
            &workflow,
            &decision,
            Delivery::Delivered {
                at: self.clock.now(),
            },
        )
        .await
    }

    /// Delivers every decision still marked pending (at most `limit` workflows): the outbox
    /// relay. Idempotent and safe to run concurrently with inline deliveries and with other
    /// passes: a decision delivered twice is the same task output, and the second delivery
    /// finds the task closed by it in the execution's history.
    pub async fn reconcile(&self, limit: usize) -> Result<ReconcileReport, FeedbackError> {
        let mut report = ReconcileReport::default();
        for workflow in self.store.list_pending_deliveries(limit).await? {
            let Some(decision) = workflow.pending_delivery().cloned() else {
                continue;
            };
            report.examined += 1;
            failpoints::crash_point(failpoints::RECONCILE_BEFORE_DELIVER);
            let Some(token) = decision.task_token.clone() else {
                self.settle(
                    &workflow,
                    &decision,
                    Delivery::Closed {
                        at: self.clock.now(),
                        detail: "no task token on the decision".into(),
                    },
                )
                .await?;
                report.closed += 1;
                continue;
            };
            match self.deliver(&workflow, &decision, &token).await {
                Ok(DeliveryAttempt::Settled(Delivery::Delivered { .. })) => report.delivered += 1,
                Ok(DeliveryAttempt::Settled(_)) => report.closed += 1,
                Ok(DeliveryAttempt::Late(_)) => report.late += 1,
                Ok(DeliveryAttempt::Deferred) => report.deferred += 1,
                Err(FeedbackError::ResumeFailed(e)) => {
                    warn!(workflow_id = %workflow.id, error = %e, "delivery failed; stays pending");
                    report.retry += 1;
                }
                Err(e) => return Err(e),
            }
        }
        if report.examined > 0 {
            info!(?report, "delivery reconciliation");
        }
        Ok(report)
    }
}

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
