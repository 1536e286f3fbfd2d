//! The read model of a workflow: what the API answers, the review page shows and `hitl status`
//! / `hitl aws status` print (`--json`). These are explicit view structs built field by field
//! from the domain types: `PendingReview` and `DecisionRecord` carry Step Functions task
//! tokens, so domain records are never serialised into a response.

use chrono::{DateTime, Utc};
use hitl_domain::feedback::FeedbackReceipt;
use hitl_domain::model::{
    Artifact, Correction, Decision, FeedbackEntry, FeedbackOutcome, Workflow, WorkflowStatus,
};
use hitl_domain::types::TypeRegistry;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The subject, as shown to reviewers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectView {
    /// Caller-chosen id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Category, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Free-form attributes.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// One entry of the review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// Workflow id.
    pub workflow_id: String,
    /// What is reviewed.
    pub subject: SubjectView,
    /// Iteration waiting for a decision.
    pub iteration: u32,
    /// Iteration limit.
    pub max_iterations: u32,
    /// Group allowed to decide.
    pub reviewer_group: String,
    /// When the review was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    /// When the review times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// Distinct approvals the iteration needs.
    pub required_approvals: u32,
    /// Who approved the iteration so far (fewer than `required_approvals`).
    pub approved_by: Vec<String>,
    /// Who is working on it (a live claim), if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<hitl_domain::model::Claim>,
    /// Last change of the workflow.
    pub updated_at: DateTime<Utc>,
    /// The artifact type's name (issue 28), for filtering and display.
    pub artifact_type: String,
}

/// A page of the review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewPage {
    /// Who is asking (the signed-in reviewer's name).
    pub viewer: String,
    /// Workflows the caller may decide, newest first.
    pub items: Vec<ReviewItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An escalated workflow waiting for a resolution, as the escalation queue lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationItem {
    /// Workflow id.
    pub workflow_id: String,
    /// What is reviewed.
    pub subject: SubjectView,
    /// The escalated iteration (the `iteration` of a resolution).
    pub iteration: u32,
    /// Iteration limit.
    pub max_iterations: u32,
    /// Group that resolves it.
    pub escalation_group: String,
    /// Why it was escalated.
    pub reason: String,
    /// When.
    pub escalated_at: DateTime<Utc>,
    /// The end of the escalation SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_by: Option<DateTime<Utc>>,
    /// Last change of the workflow.
    pub updated_at: DateTime<Utc>,
}

/// A page of the escalation queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationPage {
    /// Escalations the caller may resolve, newest first.
    pub items: Vec<EscalationItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A stored draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactView {
    /// Iteration that produced it.
    pub iteration: u32,
    /// The metadata.
    pub content: Value,
    /// SHA-256 of the canonical JSON.
    pub hash: String,
    /// Who produced it.
    pub generator: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// How a field changed between two drafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New in the current draft.
    Added,
    /// Gone from the current draft.
    Removed,
    /// Different value.
    Changed,
}

/// One changed field: a dotted path with item indices (`specs[1].value`); array items are
/// matched by content, so an inserted item is one addition, not a change of every later item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `colors.primary`.
    pub field: String,
    /// What happened.
    pub change: ChangeKind,
    /// Value in the previous draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Value in the current draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One feedback submission of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackView {
    /// Iteration decided.
    pub iteration: u32,
    /// The decision.
    pub decision: Decision,
    /// Who.
    pub reviewer: String,
    /// Comments.
    pub comments: String,
    /// Field corrections.
    pub corrections: Vec<Correction>,
    /// `api`, `sqs`, `cli`, …
    pub channel: String,
    /// When received.
    pub received_at: DateTime<Utc>,
    /// `applied` or `rejected`.
    pub outcome: String,
    /// Rejection reason, if rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Rejection message, if rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The workflow's status right after an applied submission (`awaiting_review` for an
    /// approval short of the quorum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WorkflowStatus>,
    /// What a resolution carried beyond its action (iterations granted, the group reassigned
    /// to, the final version), when the submission is a resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<hitl_domain::model::ResolutionDetails>,
}

/// An applied decision, without its task token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    /// Iteration decided.
    pub iteration: u32,
    /// The decision.
    pub decision: Decision,
    /// Who decided.
    pub reviewer: String,
    /// When.
    pub decided_at: DateTime<Utc>,
    /// For an approval that completed a quorum: the earlier approvers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_approvers: Vec<String>,
    /// An approval with corrections: the final version is the reviewer's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
}

/// Why the workflow was escalated: the domain's task-token-free summary, as it is.
pub type EscalationView = hitl_domain::model::EscalationSummary;

/// Why the workflow failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureView {
    /// Error name.
    pub error: String,
    /// When.
    pub failed_at: DateTime<Utc>,
}

/// Everything a reviewer needs to decide one workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowView {
    /// Who is asking (the signed-in reviewer's name: a claim held by them is theirs).
    pub viewer: String,
    /// Whether the viewer may decide (and claim) the workflow's reviews: a member of its
    /// reviewer group or an admin. Its escalation group may look without deciding.
    pub viewer_may_decide: bool,
    /// Whether the viewer may resolve the workflow's escalations: a member of its escalation
    /// group or an admin.
    pub viewer_may_resolve: bool,
    /// Workflow id.
    pub workflow_id: String,
    /// What is reviewed.
    pub subject: SubjectView,
    /// Lifecycle status.
    pub status: WorkflowStatus,
    /// Current iteration.
    pub iteration: u32,
    /// Iteration limit.
    pub max_iterations: u32,
    /// Group allowed to decide.
    pub reviewer_group: String,
    /// The review waiting for a decision, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<hitl_domain::model::ReviewSummary>,
    /// Deadline of the waiting review (same as `review.deadline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The newest draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactView>,
    /// Iteration the changes are measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_iteration: Option<u32>,
    /// Field-level changes since the previous draft.
    pub changes: Vec<FieldChange>,
    /// The audit trail, oldest first.
    pub feedback: Vec<FeedbackView>,
    /// Entries in the whole audit trail; `feedback` holds the newest
    /// [`FEEDBACK_PAGE_SIZE`] of them (older pages: `GET /workflows/{id}/feedback?page=2…`).
    pub feedback_total: usize,
    /// Applied decisions, oldest first.
    pub decisions: Vec<DecisionView>,
    /// Claims taken and released (renewals and lapses are not entries), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_log: Vec<hitl_domain::model::ClaimEvent>,
    /// Set when escalated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationView>,
    /// Group that resolves the workflow's escalations.
    pub escalation_group: String,
    /// Every draft, oldest first, while an escalation waits for a resolution (the resolver
    /// reviews them all); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drafts: Vec<ArtifactView>,
    /// Set when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureView>,
    /// Fields a reviewer may correct.
    pub correctable_fields: Vec<String>,
    /// The artifact type and the exact version the workflow is judged by (issue 28): ask
    /// `GET /types/{name}?version=` for its schemas and hints.
    pub artifact_type: hitl_domain::types::TypeRef,
    /// How to correct each correctable field, by path, from the type's hints and schema: its
    /// label, widget, allowed values and longest length.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub correction_forms: std::collections::BTreeMap<String, CorrectionForm>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// How one correctable field is corrected on a form (from the type's hints and schema).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrectionForm {
    /// The hint's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The hint's widget (`text`, `long_text`, `colour`, `list`, `enum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<hitl_domain::types::Widget>,
    /// The schema's `enum` at that path, as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// The schema's `maxLength` at that path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
}

fn correction_forms(
    artifact_type: &hitl_domain::types::ArtifactType,
) -> std::collections::BTreeMap<String, CorrectionForm> {
    artifact_type
        .hints
        .correctable
        .iter()
        .map(|path| {
            let hint = artifact_type
                .hints
                .fields
                .get(path)
                .or_else(|| artifact_type.hint(path));
            let schema =
                hitl_domain::types::schema_at_pattern(&artifact_type.artifact_schema, path).ok();
            let options = schema
                .and_then(|s| s.get("enum"))
                .and_then(Value::as_array)
                .map(|values| {
                    values
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let form = CorrectionForm {
                label: hint.and_then(|h| h.label.clone()),
                widget: hint.and_then(|h| h.widget),
                options,
                max_length: schema
                    .and_then(|s| s.get("maxLength"))
                    .and_then(Value::as_u64),
            };
            (path.clone(), form)
        })
        .collect()
}

/// The 200 answer to a submission. A replay with the same key returns the same body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackAccepted {
    /// Workflow id.
    pub workflow_id: String,
    /// Iteration decided.
    pub iteration: u32,
    /// The decision.
    pub decision: Decision,
    /// The key it was submitted under.
    pub idempotency_key: String,
    /// Always `applied`.
    pub outcome: String,
    /// Workflow status right after the decision.
    pub status: WorkflowStatus,
    /// When the submission was first received.
    pub received_at: DateTime<Utc>,
}

impl FeedbackAccepted {
    /// From an applied receipt.
    pub fn new(receipt: &FeedbackReceipt, status: WorkflowStatus) -> Self {
        Self {
            workflow_id: receipt.workflow_id.clone(),
            iteration: receipt.iteration,
            decision: receipt.decision,
            idempotency_key: receipt.idempotency_key.clone(),
            outcome: "applied".into(),
            status,
            received_at: receipt.received_at,
        }
    }
}

fn subject(workflow: &Workflow) -> SubjectView {
    SubjectView {
        id: workflow.subject.id.clone(),
        name: workflow.subject.name.clone(),
        category: workflow.subject.category.clone(),
        attributes: workflow.subject.attributes.clone(),
    }
}

/// Queue entry of a workflow.
/// The escalation queue's entry for an escalated workflow.
pub fn escalation_item(workflow: &Workflow, _now: DateTime<Utc>) -> EscalationItem {
    let escalation = workflow.escalation.as_ref();
    EscalationItem {
        workflow_id: workflow.id.clone(),
        subject: subject(workflow),
        iteration: escalation.map_or(workflow.iteration, |e| e.iteration),
        max_iterations: workflow.config.max_iterations,
        escalation_group: workflow.config.escalation_group.clone(),
        reason: escalation.map_or(String::new(), |e| e.reason.as_str().to_owned()),
        escalated_at: escalation.map_or(workflow.updated_at, |e| e.escalated_at),
        resolve_by: escalation
            .and_then(|e| e.awaiting.as_ref())
            .map(|a| a.deadline),
        updated_at: workflow.updated_at,
    }
}

pub fn review_item(workflow: &Workflow, now: DateTime<Utc>) -> ReviewItem {
    let review = workflow.review_summary(now);
    ReviewItem {
        workflow_id: workflow.id.clone(),
        subject: subject(workflow),
        iteration: workflow.iteration,
        max_iterations: workflow.config.max_iterations,
        reviewer_group: workflow.config.reviewer_group.clone(),
        requested_at: review.as_ref().map(|r| r.requested_at),
        deadline: review.as_ref().map(|r| r.deadline),
        required_approvals: workflow.config.required_approvals,
        approved_by: review
            .as_ref()
            .map(|r| r.approved_by.clone())
            .unwrap_or_default(),
        claim: review.as_ref().and_then(|r| r.claim.clone()),
        updated_at: workflow.updated_at,
        artifact_type: workflow.config.artifact_type.name.clone(),
    }
}

fn artifact(a: &Artifact) -> ArtifactView {
    ArtifactView {
        iteration: a.iteration,
        content: a.content.clone(),
        hash: a.hash.clone(),
        generator: a.generator.clone(),
        created_at: a.created_at,
    }
}

fn feedback(entry: &FeedbackEntry) -> FeedbackView {
    let (outcome, reason, message, status) = match &entry.outcome {
        FeedbackOutcome::Applied { status } => ("applied", None, None, Some(*status)),
        FeedbackOutcome::Rejected { reason, message } => (
            "rejected",
            Some(reason.clone()),
            Some(message.clone()),
            None,
        ),
    };
    FeedbackView {
        iteration: entry.iteration,
        decision: entry.decision,
        reviewer: entry.reviewer.clone(),
        comments: entry.comments.clone(),
        corrections: entry.corrections.clone(),
        channel: entry.channel.clone(),
        received_at: entry.received_at,
        outcome: outcome.into(),
        reason,
        message,
        status,
        resolution: entry.resolution.clone(),
    }
}

/// The full view of a workflow with its drafts (oldest first) and audit trail.
/// Audit-trail entries per page: bounds every response (an entry is at most about 56 KB: 4,000
/// characters of comments and 20 corrections of 500), so a page stays well under 1 MB.
pub const FEEDBACK_PAGE_SIZE: usize = 10;

/// One page of a workflow's audit trail, oldest first within the page; page 1 is the newest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackPage {
    /// The entries.
    pub items: Vec<FeedbackView>,
    /// This page (1 = newest).
    pub page: usize,
    /// Pages in all (0 when the trail is empty).
    pub pages: usize,
    /// Entries in all.
    pub total: usize,
}

/// Page `page` (1-based, newest first) of `trail` (oldest first).
pub fn feedback_page(trail: &[FeedbackEntry], page: usize) -> FeedbackPage {
    let total = trail.len();
    let pages = total.div_ceil(FEEDBACK_PAGE_SIZE);
    let end = total.saturating_sub((page.max(1) - 1) * FEEDBACK_PAGE_SIZE);
    let start = end.saturating_sub(FEEDBACK_PAGE_SIZE);
    FeedbackPage {
        items: trail[start..end].iter().map(feedback).collect(),
        page,
        pages,
        total,
    }
}

/// Who looks at a workflow view: their name, and which groups they may act for.
pub trait Viewer {
    /// The name shown as the viewer.
    fn name(&self) -> &str;
    /// Whether they may act for `group` (decide for a reviewer group, resolve for an
    /// escalation group).
    fn may_review(&self, group: &str) -> bool;
}

/// The view of `workflow` for `viewer`, who is allowed to see it (its reviewer or escalation
/// group, or an admin): what they may do with it is part of the view.
pub fn workflow_view(
    workflow: &Workflow,
    artifacts: &[Artifact],
    trail: &[FeedbackEntry],
    now: DateTime<Utc>,
    viewer: &dyn Viewer,
    types: &TypeRegistry,
) -> WorkflowView {
    let current = artifacts.last();
    let previous = current.and_then(|c| artifacts.iter().rev().find(|a| a.iteration < c.iteration));
    let changes = match (previous, current) {
        (Some(p), Some(c)) => diff(&p.content, &c.content),
        _ => Vec::new(),
    };
    let review = workflow.review_summary(now);
    // The exact type version the workflow is judged by (an added type too); a process that
    // does not know it (another deployment's record) falls back to the built-in type of that
    // name, else offers no corrections.
    let artifact_type = types.get(&workflow.config.artifact_type).ok().or_else(|| {
        hitl_domain::types::builtin(&workflow.config.artifact_type.name).map(std::sync::Arc::new)
    });
    WorkflowView {
        viewer: viewer.name().to_owned(),
        viewer_may_decide: viewer.may_review(&workflow.config.reviewer_group),
        viewer_may_resolve: viewer.may_review(&workflow.config.escalation_group),
        workflow_id: workflow.id.clone(),
        subject: subject(workflow),
        status: workflow.status,
        iteration: workflow.iteration,
        max_iterations: workflow.config.max_iterations,
        reviewer_group: workflow.config.reviewer_group.clone(),
        deadline: review.as_ref().map(|r| r.deadline),
        review,
        artifact: current.map(artifact),
        previous_iteration: previous.map(|p| p.iteration),
        changes,
        feedback: feedback_page(trail, 1).items,
        feedback_total: trail.len(),
        decisions: workflow
            .decisions
            .iter()
            .map(|d| DecisionView {
                iteration: d.iteration,
                decision: d.decision,
                reviewer: d.reviewer.clone(),
                decided_at: d.decided_at,
                co_approvers: d.co_approvers.clone(),
                edited: d.edited,
            })
            .collect(),
        claim_log: workflow.claim_log.clone(),
        escalation: workflow.escalation.as_ref().map(|e| e.summary()),
        escalation_group: workflow.config.escalation_group.clone(),
        drafts: if workflow
            .escalation
            .as_ref()
            .is_some_and(|e| e.awaiting.is_some())
            && workflow.status == WorkflowStatus::Escalated
        {
            artifacts.iter().map(artifact).collect()
        } else {
            Vec::new()
        },
        failure: workflow.failure.as_ref().map(|f| FailureView {
            error: f.error.clone(),
            failed_at: f.failed_at,
        }),
        correctable_fields: artifact_type
            .as_ref()
            .map(|t| t.hints.correctable.clone())
            .unwrap_or_default(),
        correction_forms: artifact_type
            .as_deref()
            .map(correction_forms)
            .unwrap_or_default(),
        artifact_type: workflow.config.artifact_type.clone(),
        created_at: workflow.created_at,
        updated_at: workflow.updated_at,
        completed_at: workflow.completed_at,
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

/// Field-level differences from `before` to `after`, sorted by path: objects are walked
/// key by key and arrays item by item (`bullets[2]`, `specs[0].value`), every leaf that
/// differs is one change. Array items are aligned by content first (a longest common
/// subsequence), so inserting or removing one item reports that item alone; unmatched items
/// between two matches are paired in order as changed items, and what is left over is added
/// (at its index in `after`) or removed (at its index in `before`).
pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_at("", before, after, &mut out);
    // By path, whatever the key order of the documents; indices compare as numbers
    // (`bullets[2]` before `bullets[10]`).
    out.sort_by_cached_key(|c| path_order(&c.field));
    out
}

/// A sort key for a path: its keys as text, its indices as numbers.
fn path_order(path: &str) -> Vec<(String, usize)> {
    hitl_domain::types::parse_path(path)
        .map(|segments| {
            segments
                .into_iter()
                .map(|s| match s {
                    hitl_domain::types::Segment::Key(k) => (k, 0),
                    hitl_domain::types::Segment::Index(i) => {
                        (String::new(), i.map_or(0, |i| i + 1))
                    }
                })
                .collect()
        })
        .unwrap_or_else(|_| vec![(path.to_owned(), 0)])
}

fn diff_at(path: &str, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a))
            if path.is_empty() || !b.is_empty() || !a.is_empty() =>
        {
            for (key, old) in b {
                let child = join(path, key);
                match a.get(key) {
                    Some(new) => diff_at(&child, old, new, out),
                    None => leaves(&child, old, ChangeKind::Removed, out),
                }
            }
            for (key, new) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
                leaves(&join(path, key), new, ChangeKind::Added, out);
            }
        }
        (Value::Array(b), Value::Array(a)) if !b.is_empty() || !a.is_empty() => {
            diff_items(path, b, a, out);
        }
        (b, a) if b == a => {}
        (b, a) => out.push(FieldChange {
            field: path.to_owned(),
            change: ChangeKind::Changed,
            before: Some(b.clone()),
            after: Some(a.clone()),
        }),
    }
}

/// Aligns two non-empty lists by content (LCS over equal items) and reports the rest.
fn diff_items(path: &str, before: &[Value], after: &[Value], out: &mut Vec<FieldChange>) {
    // lcs[i][j]: the longest common subsequence of before[i..] and after[j..]. Lists of a
    // review artifact are short (a type's maxItems); quadratic is fine.
    let (n, m) = (before.len(), after.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if before[i] == after[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let (mut gone, mut came): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    let flush = |gone: &mut Vec<usize>, came: &mut Vec<usize>, out: &mut Vec<FieldChange>| {
        let paired = gone.len().min(came.len());
        for (&b, &a) in gone.iter().zip(came.iter()) {
            diff_at(&format!("{path}[{a}]"), &before[b], &after[a], out);
        }
        for &b in &gone[paired..] {
            leaves(
                &format!("{path}[{b}]"),
                &before[b],
                ChangeKind::Removed,
                out,
            );
        }
        for &a in &came[paired..] {
            leaves(&format!("{path}[{a}]"), &after[a], ChangeKind::Added, out);
        }
        gone.clear();
        came.clear();
    };
    while i < n || j < m {
        if i < n && j < m && before[i] == after[j] {
            flush(&mut gone, &mut came, out);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            came.push(j);
            j += 1;
        } else {
            gone.push(i);
            i += 1;
        }
    }
    flush(&mut gone, &mut came, out);
}

/// Every leaf of `value` under `path` as one added or removed change.
fn leaves(path: &str, value: &Value, change: ChangeKind, out: &mut Vec<FieldChange>) {
    let mut all = Vec::new();
    flatten(path, value, &mut all);
    out.extend(all.into_iter().map(|(field, v)| FieldChange {
        field,
        change,
        before: (change == ChangeKind::Removed).then(|| v.clone()),
        after: (change == ChangeKind::Added).then_some(v),
    }));
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(changes: &[FieldChange]) -> Vec<(&str, ChangeKind)> {
        changes
            .iter()
            .map(|c| (c.field.as_str(), c.change))
            .collect()
    }

    #[test]
    fn diff_walks_objects_and_array_items() {
        let before =
            json!({"tagline": "a", "colors": {"primary": "#000000"}, "keywords": ["x"], "gone": 1});
        let after = json!({"tagline": "b", "colors": {"primary": "#000000", "secondary": "#FFFFFF"}, "keywords": ["x", "y"]});
        let changes = diff(&before, &after);
        assert_eq!(
            summary(&changes),
            [
                ("colors.secondary", ChangeKind::Added),
                ("gone", ChangeKind::Removed),
                ("keywords[1]", ChangeKind::Added),
                ("tagline", ChangeKind::Changed),
            ]
        );
        assert_eq!(changes[3].before, Some(json!("a")));
        assert_eq!(changes[3].after, Some(json!("b")));
        assert_eq!(changes[2].after, Some(json!("y")));
        assert_eq!(changes[2].before, None);
        assert!(diff(&after, &after).is_empty());
    }

    #[test]
    fn an_inserted_or_removed_item_is_one_change_not_a_shift_of_every_later_item() {
        let before = json!({"bullets": ["a", "b", "c"]});
        let inserted = json!({"bullets": ["new", "a", "b", "c"]});
        assert_eq!(
            summary(&diff(&before, &inserted)),
            [("bullets[0]", ChangeKind::Added)]
        );
        let removed = json!({"bullets": ["a", "c"]});
        let changes = diff(&before, &removed);
        assert_eq!(summary(&changes), [("bullets[1]", ChangeKind::Removed)]);
        assert_eq!(changes[0].before, Some(json!("b")));
        // An item edited in place is a changed item; one of an object list names its key.
        let specs_before =
            json!({"specs": [{"name": "Weight", "value": "1 kg"}, {"name": "Size", "value": "M"}]});
        let specs_after = json!({"specs": [{"name": "Weight", "value": "2 kg"}, {"name": "Size", "value": "M"}, {"name": "Colour", "value": "red"}]});
        let changes = diff(&specs_before, &specs_after);
        assert_eq!(
            summary(&changes),
            [
                ("specs[0].value", ChangeKind::Changed),
                ("specs[2].name", ChangeKind::Added),
                ("specs[2].value", ChangeKind::Added),
            ]
        );
        assert_eq!(changes[0].before, Some(json!("1 kg")));
        assert_eq!(changes[0].after, Some(json!("2 kg")));
        // A list emptied loses its items; an object filled gains its fields.
        assert_eq!(
            summary(&diff(
                &json!({"k": ["a"], "o": {}}),
                &json!({"k": [], "o": {"p": 1}})
            )),
            [("k[0]", ChangeKind::Removed), ("o.p", ChangeKind::Added)]
        );
    }
}
