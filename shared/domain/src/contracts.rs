//! Typed input/output contracts of every Task in the state machine, and validation of the
//! start request. The definition passes exactly these shapes (see `statemachine/`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{FieldError, HandlerError};
use crate::model::{
    Decision, EscalationReason, Subject, TaskToken, WorkflowConfig, WorkflowStatus,
    CLAIM_TTL_RANGE, DEFAULT_BATCH_SIZE, DEFAULT_CLAIM_TTL_SECONDS, DEFAULT_ESCALATION_GROUP,
    DEFAULT_ESCALATION_TIMEOUT_SECONDS, DEFAULT_REMINDERS, DEFAULT_REQUIRED_APPROVALS,
    DEFAULT_REVIEWER_GROUP, DEFAULT_REVIEW_TIMEOUT_SECONDS, ESCALATION_TIMEOUT_RANGE,
    MAX_BATCH_SIZE, MAX_ITERATIONS_RANGE, MAX_REMINDERS, REQUIRED_APPROVALS_RANGE,
    REVIEW_TIMEOUT_RANGE,
};
use crate::types::{ArtifactType, TypeRef, TypeRegistry};

/// Optional settings of a start request; defaults fill the gaps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConfig {
    /// Iteration limit (1..=50, default 10).
    #[serde(default)]
    pub max_iterations: Option<i64>,
    /// Most subjects this request may start (1..=100, default 10).
    #[serde(default)]
    pub batch_size: Option<i64>,
    /// Review SLA per iteration in seconds (60..=31536000, default 259200).
    #[serde(default)]
    pub review_timeout_seconds: Option<i64>,
    /// Reviewer group allowed to decide (default `reviewers`).
    #[serde(default)]
    pub reviewer_group: Option<String>,
    /// Group that resolves escalations (default `escalations`; `admin` always may).
    #[serde(default)]
    pub escalation_group: Option<String>,
    /// Escalation SLA in seconds (60..=31536000, default 604800 = 7 days).
    #[serde(default)]
    pub escalation_timeout_seconds: Option<i64>,
    /// Distinct reviewers who must approve an iteration (1..=5, default 1).
    #[serde(default)]
    pub required_approvals: Option<i64>,
    /// How long a reviewer's claim lasts unless renewed, in seconds (60..=86400, default 1800).
    #[serde(default)]
    pub claim_ttl_seconds: Option<i64>,
    /// Reminders to the reviewer group, in seconds before the review deadline (at most 5, each
    /// shorter than the review SLA; default `[86400, 3600]`, those shorter than the SLA; `[]`
    /// for none).
    #[serde(default)]
    pub reminders: Option<Vec<i64>>,
    /// The artifact type (default `brand-metadata`); without `version`, the type's current
    /// version. Every subject is checked against the type's subject schema.
    #[serde(default)]
    pub artifact_type: Option<TypeRequest>,
}

/// The artifact type a start request names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeRequest {
    /// The type's name.
    pub name: String,
    /// An exact version (content hash); the current one when absent.
    #[serde(default)]
    pub version: Option<String>,
}

/// The execution input: `{"action":"start_workflow","config":{...},"subjects":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// Must be `start_workflow`.
    #[serde(default)]
    pub action: Option<String>,
    /// Caller's idempotency id; the same id (and subject) always maps to the same workflow.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Smoke run: synthetic subjects and a synthetic reviewer.
    #[serde(default)]
    pub smoke: bool,
    /// Settings.
    #[serde(default)]
    pub config: StartConfig,
    /// One subject.
    #[serde(default)]
    pub subject: Option<Subject>,
    /// Several subjects.
    #[serde(default)]
    pub subjects: Vec<Subject>,
}

pub use crate::model::SmokeScenario;

/// One item of a batch: the input of a per-item execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// The start request's id.
    pub request_id: String,
    /// Position in the batch.
    pub index: usize,
    /// Name for the child execution (deterministic, so a restarted batch is idempotent).
    pub execution_name: String,
    /// What to review.
    pub subject: Subject,
    /// Settings.
    pub config: WorkflowConfig,
    /// Smoke scenario, for smoke runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<SmokeScenario>,
}

/// Output of batch planning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOutput {
    /// Request id used for every item.
    pub request_id: String,
    /// The items to fan out.
    pub items: Vec<ItemInput>,
}

/// Input of the init function: plan a batch, or create one workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum InitInput {
    /// Validate the start request and expand it into items.
    PlanBatch {
        /// The raw execution input (validated here, so errors name fields).
        request: Value,
        /// Name of the execution, the default request id.
        execution_name: String,
    },
    /// Create (idempotently) the workflow for one item.
    Init {
        /// The item.
        item: Box<ItemInput>,
        /// Execution that drives it.
        execution_arn: String,
    },
}

/// Output of `init`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRef {
    /// The workflow id.
    pub workflow_id: String,
    /// The current iteration.
    pub iteration: u32,
    /// Review SLA, for `TimeoutSecondsPath`.
    pub review_timeout_seconds: u64,
    /// Escalation SLA, for the escalation wait's `TimeoutSecondsPath`.
    #[serde(default = "default_escalation_timeout")]
    pub escalation_timeout_seconds: u64,
}

fn default_escalation_timeout() -> u64 {
    DEFAULT_ESCALATION_TIMEOUT_SECONDS
}

/// Input of generation (first draft and regeneration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateInput {
    /// Workflow.
    pub workflow_id: String,
    /// Iteration to produce.
    pub iteration: u32,
}

/// Output of generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateOutput {
    /// Workflow.
    pub workflow_id: String,
    /// Iteration produced.
    pub iteration: u32,
    /// Hash of the stored artifact.
    pub artifact_hash: String,
    /// True when the draft is identical to the previous one (the loop does not converge).
    pub no_progress: bool,
}

/// Input of the review request (the `.waitForTaskToken` task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRequestInput {
    /// Workflow.
    pub workflow_id: String,
    /// Iteration to review.
    pub iteration: u32,
    /// The task token (stored, never returned).
    pub task_token: String,
    /// Execution waiting.
    #[serde(default)]
    pub execution_arn: Option<String>,
}

/// Output of the review request (ignored by Step Functions; useful in tests and logs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRequestOutput {
    /// Workflow.
    pub workflow_id: String,
    /// Iteration waiting.
    pub iteration: u32,
    /// Deadline of the review.
    pub deadline: chrono::DateTime<chrono::Utc>,
}

/// What the waiting task receives when a reviewer decides (the SendTaskSuccess output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackTaskResult {
    /// Workflow.
    pub workflow_id: String,
    /// Iteration decided.
    pub iteration: u32,
    /// The decision.
    pub decision: Decision,
    /// Key of the audit entry.
    pub feedback_key: String,
    /// Resolutions: the iteration the workflow continues with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_iteration: Option<u32>,
    /// Resolutions: the review SLA from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_timeout_seconds: Option<u64>,
}

/// Input of the iteration check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationCheckInput {
    /// Workflow.
    pub workflow_id: String,
    /// The iteration that was just rejected.
    pub reviewed_iteration: u32,
}

/// What the iteration check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IterationAction {
    /// Produce the next draft.
    Regenerate,
    /// Hand to a person.
    Escalate,
}

/// Output of the iteration check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationCheckOutput {
    /// Workflow.
    pub workflow_id: String,
    /// What to do.
    pub action: IterationAction,
    /// The iteration to produce (when regenerating) or the current one.
    pub next_iteration: u32,
    /// Escalation reason (when escalating), else null.
    pub reason: Option<EscalationReason>,
    /// Review SLA (the definition rebuilds `$.workflow` from this output).
    #[serde(default)]
    pub review_timeout_seconds: u64,
    /// Escalation SLA (likewise).
    #[serde(default)]
    pub escalation_timeout_seconds: u64,
}

/// Input of the escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalateInput {
    /// Workflow.
    pub workflow_id: String,
    /// Why.
    pub reason: EscalationReason,
    /// What the state machine knows beyond the reason (for `invalid_draft`: the failed
    /// task's cause); `null` otherwise.
    #[serde(default)]
    pub detail: Option<String>,
    /// Token of the waiting `Escalation` task (`.waitForTaskToken`): the escalation waits
    /// for a resolution. Absent in definitions where escalation ends the execution.
    #[serde(default)]
    pub task_token: Option<TaskToken>,
    /// `true` from the escalation SLA's timeout: record the escalation as unresolved.
    #[serde(default)]
    pub unresolved: bool,
}

/// Output of escalation and finalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowOutcome {
    /// Workflow (empty when the failure happened before one existed).
    pub workflow_id: String,
    /// Final status (serialized as its snake_case name, e.g. `escalated`).
    pub status: WorkflowStatus,
    /// Iterations used.
    pub iteration: u32,
}

impl From<&crate::model::Workflow> for WorkflowOutcome {
    fn from(workflow: &crate::model::Workflow) -> Self {
        Self {
            workflow_id: workflow.id.clone(),
            status: workflow.status,
            iteration: workflow.iteration,
        }
    }
}

/// The `{Error, Cause}` object a Catch puts into the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    /// Error name.
    #[serde(rename = "Error")]
    pub error: String,
    /// Cause.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// Input of the final step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FinalizeInput {
    /// The reviewer approved: confirm and close.
    Approved {
        /// Workflow.
        workflow_id: String,
    },
    /// The catch-all: record the failure on the workflow, if one exists.
    Failed {
        /// The whole state at the time of the failure (may lack a workflow).
        state: Value,
        /// What failed.
        error: CaughtError,
    },
}

fn field_range(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<i64>,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> i64 {
    match value {
        None => default,
        Some(v) if range.contains(&v) => v,
        Some(v) => {
            errors.push(FieldError::new(
                field,
                format!(
                    "must be between {} and {}, got {v}",
                    range.start(),
                    range.end()
                ),
            ));
            default
        }
    }
}

/// A group, request or subject id: 1..=64 letters, digits, `-` or `_`.
pub fn valid_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_subject(errors: &mut Vec<FieldError>, prefix: &str, subject: &Subject) {
    if !valid_id(&subject.id) {
        errors.push(FieldError::new(
            format!("{prefix}.id"),
            "must be 1..=64 characters of letters, digits, '-' or '_'",
        ));
    }
    let name_len = subject.name.trim().chars().count();
    if !(1..=120).contains(&name_len) {
        errors.push(FieldError::new(
            format!("{prefix}.name"),
            "must be 1..=120 characters",
        ));
    }
    let size = serde_json::to_vec(&subject.attributes)
        .map(|v| v.len())
        .unwrap_or(0);
    if size > 8 * 1024 {
        errors.push(FieldError::new(
            format!("{prefix}.attributes"),
            format!("is {size} bytes; at most 8192 allowed"),
        ));
    }
}

/// Synthetic subjects for a smoke run.
pub fn smoke_subjects(count: usize) -> Vec<Subject> {
    const NAMES: [&str; 5] = [
        "Northwind Coffee",
        "Bluebird Outdoor",
        "Lumen Lighting",
        "Harbor Bakery",
        "Quartz Audio",
    ];
    const CATEGORIES: [&str; 5] = ["food", "outdoor", "home", "food", "electronics"];
    (0..count)
        .map(|i| Subject {
            id: format!("smoke-{i:03}"),
            name: format!("{} {}", NAMES[i % NAMES.len()], i + 1),
            category: Some(CATEGORIES[i % CATEGORIES.len()].to_owned()),
            attributes: serde_json::Map::new(),
        })
        .collect()
}

/// Deterministic workflow id for (request, subject).
pub fn workflow_id(request_id: &str, subject_id: &str) -> String {
    let digest = Sha256::digest(format!("{request_id}\u{0}{subject_id}").as_bytes());
    format!("wf-{}", &hex::encode(digest)[..20])
}

/// Validates a raw start request and expands it into batch items. Every invalid field is
/// reported at once; nothing is created when any is invalid. Knows the built-in types only
/// (see [`plan_batch_in`]).
pub fn plan_batch(raw: &Value, execution_name: &str) -> Result<PlanOutput, HandlerError> {
    plan_batch_in(&TypeRegistry::builtin(), raw, execution_name)
}

/// The artifact type a start request names, resolved in `types` (errors under
/// `config.artifact_type`).
fn resolve_type(
    errors: &mut Vec<FieldError>,
    types: &TypeRegistry,
    given: Option<&TypeRequest>,
) -> Option<std::sync::Arc<ArtifactType>> {
    let found = match given {
        None => types.current(crate::types::DEFAULT_TYPE),
        Some(TypeRequest {
            name,
            version: None,
        }) => types.current(name),
        Some(TypeRequest {
            name,
            version: Some(version),
        }) => types.get(&TypeRef {
            name: name.clone(),
            version: version.clone(),
        }),
    };
    match found {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(FieldError::new("config.artifact_type", e.to_string()));
            None
        }
    }
}

/// [`plan_batch`] with the types of `types` (a process that added its own types).
pub fn plan_batch_in(
    types: &TypeRegistry,
    raw: &Value,
    execution_name: &str,
) -> Result<PlanOutput, HandlerError> {
    let request: StartRequest = serde_json::from_value(raw.clone()).map_err(|e| {
        HandlerError::field(
            "$",
            format!("start request does not match the contract: {e}"),
        )
    })?;
    let mut errors = Vec::new();
    if let Some(action) = &request.action {
        if action != "start_workflow" {
            errors.push(FieldError::new(
                "action",
                format!("must be \"start_workflow\", got {action:?}"),
            ));
        }
    }
    let max_iterations = field_range(
        &mut errors,
        "config.max_iterations",
        request.config.max_iterations,
        i64::from(*MAX_ITERATIONS_RANGE.start())..=i64::from(*MAX_ITERATIONS_RANGE.end()),
        i64::from(crate::model::DEFAULT_MAX_ITERATIONS),
    );
    let batch_size = field_range(
        &mut errors,
        "config.batch_size",
        request.config.batch_size,
        1..=i64::from(MAX_BATCH_SIZE),
        i64::from(DEFAULT_BATCH_SIZE),
    );
    let timeout = field_range(
        &mut errors,
        "config.review_timeout_seconds",
        request.config.review_timeout_seconds,
        i64::try_from(*REVIEW_TIMEOUT_RANGE.start()).unwrap_or(60)
            ..=i64::try_from(*REVIEW_TIMEOUT_RANGE.end()).unwrap_or(31_536_000),
        i64::try_from(DEFAULT_REVIEW_TIMEOUT_SECONDS).unwrap_or(259_200),
    );
    let reviewer_group = request
        .config
        .reviewer_group
        .clone()
        .unwrap_or_else(|| DEFAULT_REVIEWER_GROUP.to_owned());
    if !valid_id(&reviewer_group) {
        errors.push(FieldError::new(
            "config.reviewer_group",
            "must be 1..=64 characters of letters, digits, '-' or '_'",
        ));
    }
    let escalation_group = request
        .config
        .escalation_group
        .clone()
        .unwrap_or_else(|| DEFAULT_ESCALATION_GROUP.to_owned());
    if !valid_id(&escalation_group) {
        errors.push(FieldError::new(
            "config.escalation_group",
            "must be 1..=64 characters of letters, digits, '-' or '_'",
        ));
    }
    let escalation_timeout = field_range(
        &mut errors,
        "config.escalation_timeout_seconds",
        request.config.escalation_timeout_seconds,
        i64::try_from(*ESCALATION_TIMEOUT_RANGE.start()).unwrap_or(60)
            ..=i64::try_from(*ESCALATION_TIMEOUT_RANGE.end()).unwrap_or(31_536_000),
        i64::try_from(DEFAULT_ESCALATION_TIMEOUT_SECONDS).unwrap_or(604_800),
    );
    let required_approvals = field_range(
        &mut errors,
        "config.required_approvals",
        request.config.required_approvals,
        i64::from(*REQUIRED_APPROVALS_RANGE.start())..=i64::from(*REQUIRED_APPROVALS_RANGE.end()),
        i64::from(DEFAULT_REQUIRED_APPROVALS),
    );
    let claim_ttl = field_range(
        &mut errors,
        "config.claim_ttl_seconds",
        request.config.claim_ttl_seconds,
        i64::try_from(*CLAIM_TTL_RANGE.start()).unwrap_or(60)
            ..=i64::try_from(*CLAIM_TTL_RANGE.end()).unwrap_or(86_400),
        i64::try_from(DEFAULT_CLAIM_TTL_SECONDS).unwrap_or(1800),
    );
    let reminders = check_reminders(&mut errors, request.config.reminders.as_deref(), timeout);
    let request_id = request
        .request_id
        .clone()
        .unwrap_or_else(|| execution_name.to_owned());
    if !valid_id(&request_id) {
        errors.push(FieldError::new(
            "request_id",
            "must be 1..=64 characters of letters, digits, '-' or '_'",
        ));
    }
    let batch = usize::try_from(batch_size).unwrap_or(1);
    let mut subjects: Vec<Subject> = request.subject.iter().cloned().collect();
    subjects.extend(request.subjects.iter().cloned());
    if request.smoke {
        if !subjects.is_empty() {
            errors.push(FieldError::new(
                "subjects",
                "a smoke run generates its own subjects; omit subject/subjects",
            ));
        }
        subjects = smoke_subjects(batch);
    } else if subjects.is_empty() {
        errors.push(FieldError::new(
            "subjects",
            "give `subject` or a non-empty `subjects` list (or set `smoke: true`)",
        ));
    }
    if subjects.len() > batch {
        errors.push(FieldError::new(
            "subjects",
            format!(
                "{} subjects exceed config.batch_size {batch}",
                subjects.len()
            ),
        ));
    }
    let artifact_type = resolve_type(&mut errors, types, request.config.artifact_type.as_ref());
    let mut seen = std::collections::BTreeSet::new();
    for (i, subject) in subjects.iter().enumerate() {
        check_subject(&mut errors, &format!("subjects[{i}]"), subject);
        if let Some(t) = &artifact_type {
            let value = serde_json::to_value(subject).unwrap_or_default();
            for e in t.validate_subject(&value) {
                let field = format!("subjects[{i}].{}", e.field);
                if !errors.iter().any(|known| known.field == field) {
                    errors.push(FieldError::new(field, e.message));
                }
            }
        }
        if !seen.insert(subject.id.clone()) {
            errors.push(FieldError::new(
                format!("subjects[{i}].id"),
                format!("duplicate subject id {:?}", subject.id),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(HandlerError::InvalidInput(errors));
    }
    let config = WorkflowConfig {
        max_iterations: u32::try_from(max_iterations).unwrap_or(10),
        review_timeout_seconds: u64::try_from(timeout).unwrap_or(DEFAULT_REVIEW_TIMEOUT_SECONDS),
        reviewer_group,
        escalation_group,
        escalation_timeout_seconds: u64::try_from(escalation_timeout)
            .unwrap_or(DEFAULT_ESCALATION_TIMEOUT_SECONDS),
        required_approvals: u32::try_from(required_approvals).unwrap_or(DEFAULT_REQUIRED_APPROVALS),
        claim_ttl_seconds: u64::try_from(claim_ttl).unwrap_or(DEFAULT_CLAIM_TTL_SECONDS),
        reminders,
        artifact_type: artifact_type.map(|t| t.reference()).unwrap_or_default(),
    };
    let items = subjects
        .into_iter()
        .enumerate()
        .map(|(index, subject)| ItemInput {
            execution_name: format!("{}-{}", truncate(&request_id, 60), index),
            request_id: request_id.clone(),
            index,
            subject,
            smoke: request.smoke.then(|| SmokeScenario::for_index(index)),
            // The two-approval smoke scenario needs two approvals whatever the request says.
            config: if request.smoke
                && SmokeScenario::for_index(index) == SmokeScenario::ApproveByTwo
            {
                WorkflowConfig {
                    required_approvals: 2,
                    ..config.clone()
                }
            } else {
                config.clone()
            },
        })
        .collect();
    Ok(PlanOutput { request_id, items })
}

/// The reminder offsets of a start request: given ones checked (at most
/// [`MAX_REMINDERS`], each from 60 s to one second less than the review SLA, no duplicates,
/// every problem named by its index); when absent, the defaults that fit the SLA.
fn check_reminders(errors: &mut Vec<FieldError>, given: Option<&[i64]>, sla: i64) -> Vec<u64> {
    let Some(given) = given else {
        return DEFAULT_REMINDERS
            .iter()
            .copied()
            .filter(|o| i64::try_from(*o).is_ok_and(|o| o < sla))
            .collect();
    };
    if given.len() > MAX_REMINDERS {
        errors.push(FieldError::new(
            "config.reminders",
            format!("at most {MAX_REMINDERS} reminders, got {}", given.len()),
        ));
    }
    let mut out = Vec::new();
    for (i, offset) in given.iter().enumerate() {
        let field = format!("config.reminders[{i}]");
        if *offset < 60 {
            errors.push(FieldError::new(
                field,
                format!("must be at least 60 seconds before the deadline, got {offset}"),
            ));
        } else if *offset >= sla {
            errors.push(FieldError::new(
                field,
                format!(
                    "{offset} s before the deadline is not after the review request: the review SLA is {sla} s"
                ),
            ));
        } else if given[..i].contains(offset) {
            errors.push(FieldError::new(field, format!("{offset} is given twice")));
        } else {
            out.push(u64::try_from(*offset).unwrap_or_default());
        }
    }
    out
}

fn truncate(value: &str, max: usize) -> &str {
    match value.char_indices().nth(max) {
        Some((i, _)) => &value[..i],
        None => value,
    }
}

/// Validates one item's config (for `init`, which may be called directly).
pub fn check_item(item: &ItemInput) -> Result<(), HandlerError> {
    let mut errors = Vec::new();
    check_subject(&mut errors, "item.subject", &item.subject);
    if !MAX_ITERATIONS_RANGE.contains(&item.config.max_iterations) {
        errors.push(FieldError::new(
            "item.config.max_iterations",
            format!(
                "must be between 1 and 50, got {}",
                item.config.max_iterations
            ),
        ));
    }
    if !REVIEW_TIMEOUT_RANGE.contains(&item.config.review_timeout_seconds) {
        errors.push(FieldError::new(
            "item.config.review_timeout_seconds",
            "must be between 60 and 31536000",
        ));
    }
    if !ESCALATION_TIMEOUT_RANGE.contains(&item.config.escalation_timeout_seconds) {
        errors.push(FieldError::new(
            "item.config.escalation_timeout_seconds",
            "must be between 60 and 31536000",
        ));
    }
    if !REQUIRED_APPROVALS_RANGE.contains(&item.config.required_approvals) {
        errors.push(FieldError::new(
            "item.config.required_approvals",
            "must be between 1 and 5",
        ));
    }
    if !CLAIM_TTL_RANGE.contains(&item.config.claim_ttl_seconds) {
        errors.push(FieldError::new(
            "item.config.claim_ttl_seconds",
            "must be between 60 and 86400",
        ));
    }
    if !valid_id(&item.config.escalation_group) {
        errors.push(FieldError::new(
            "item.config.escalation_group",
            "invalid id",
        ));
    }
    if !valid_id(&item.request_id) {
        errors.push(FieldError::new("item.request_id", "invalid id"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(HandlerError::InvalidInput(errors))
    }
}
