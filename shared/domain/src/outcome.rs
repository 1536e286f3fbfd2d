//! The outcome of a finished workflow as the systems that use it see it: a versioned JSON
//! envelope (stored at `metadata/<env>/<subject id>/<workflow id>.json` in S3, locally under
//! `exports/`) and a `Workflow Finished` event (EventBridge, locally the notification log).
//! Both are built here from the record alone, so a retried publication produces the very same
//! bytes. The shapes are published as JSON Schemas in `docs/schemas/`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::HandlerError;
use crate::model::{Artifact, Decision, Subject, Workflow, WorkflowStatus};
use crate::types::TypeRef;

/// Version of the envelope's shape; a breaking change bumps the major part. 1.3 added
/// `artifact_type` (issue 28) to the envelope and the event.
pub const ENVELOPE_SCHEMA_VERSION: &str = "1.3";
/// `source` of the events.
pub const EVENT_SOURCE: &str = "hitl.orchestrator";
/// `detail-type` of the events.
pub const EVENT_DETAIL_TYPE: &str = "Workflow Finished";

/// The final artifact of a workflow and its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEnvelope {
    /// [`ENVELOPE_SCHEMA_VERSION`].
    pub schema_version: String,
    /// Workflow id.
    pub workflow_id: String,
    /// The start request it came from.
    pub request_id: String,
    /// What was reviewed.
    pub subject: Subject,
    /// `approved` (escalated workflows have no envelope).
    pub outcome: String,
    /// The artifact's type and the exact version it was judged by (1.3).
    pub artifact_type: TypeRef,
    /// The approved artifact.
    pub artifact: Value,
    /// The iteration that produced it.
    pub artifact_iteration: u32,
    /// SHA-256 of the artifact's RFC 8785 canonical JSON (as stored with the draft).
    pub artifact_hash: String,
    /// Who produced the artifact (agent id or `local-generator`).
    pub generator: String,
    /// The reviewer whose approval made it final.
    pub approved_by: String,
    /// In a workflow that needs several approvals: the reviewers who approved the final
    /// iteration before `approved_by`, in order (1.2; absent when one approval was enough).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_approvers: Vec<String>,
    /// Iterations the loop took.
    pub iterations: u32,
    /// When the workflow started.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub completed_at: DateTime<Utc>,
    /// SHA-256 over the RFC 8785 canonical JSON of every other field (keys sorted, compact): two
    /// publications of one outcome carry the same hash.
    pub content_hash: String,
}

/// The detail of a `Workflow Finished` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedEvent {
    /// [`ENVELOPE_SCHEMA_VERSION`].
    pub schema_version: String,
    /// Workflow id (with `outcome`, a stable key for consumers that deduplicate).
    pub workflow_id: String,
    /// The start request.
    pub request_id: String,
    /// The subject's id.
    pub subject_id: String,
    /// `approved` or `escalated`.
    pub outcome: String,
    /// The artifact's type and version (1.3), so consumers can route by type.
    pub artifact_type: TypeRef,
    /// Why it was escalated (`iteration_limit`, `no_progress`, `review_timeout`,
    /// `invalid_draft`); absent for approvals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Iterations the loop took.
    pub iterations: u32,
    /// When it finished.
    pub completed_at: DateTime<Utc>,
    /// Where the envelope is (`s3://bucket/key` or a local path); approvals only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The envelope's `content_hash`; approvals only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
}

/// Where the envelope of `workflow` goes inside the outcomes bucket.
pub fn envelope_key(environment: &str, workflow: &Workflow) -> String {
    format!(
        "metadata/{environment}/{}/{}.json",
        workflow.subject.id, workflow.id
    )
}

fn canonical_hash(value: &Value) -> String {
    hex::encode(Sha256::digest(crate::metadata::canonical_json(value)))
}

/// The envelope of an approved workflow, from its record and its final draft.
pub fn envelope(
    workflow: &Workflow,
    final_artifact: &Artifact,
) -> Result<OutcomeEnvelope, HandlerError> {
    let final_decision = match workflow.status {
        WorkflowStatus::Approved => Decision::Approve,
        WorkflowStatus::Resolved => Decision::Resolve,
        _ => {
            return Err(HandlerError::field(
                "workflow_id",
                format!(
                    "workflow {} is {}, not approved or resolved: it has no envelope",
                    workflow.id, workflow.status
                ),
            ))
        }
    };
    let approval = workflow
        .decisions
        .iter()
        .rev()
        .find(|d| d.decision == final_decision)
        .ok_or_else(|| {
            HandlerError::field(
                "workflow_id",
                format!(
                    "a {} workflow without its {} decision",
                    workflow.status,
                    final_decision.as_str()
                ),
            )
        })?;
    let completed_at = workflow.completed_at.unwrap_or(approval.decided_at);
    let mut envelope = OutcomeEnvelope {
        schema_version: ENVELOPE_SCHEMA_VERSION.to_owned(),
        workflow_id: workflow.id.clone(),
        request_id: workflow.request_id.clone(),
        subject: workflow.subject.clone(),
        outcome: workflow.status.as_str().to_owned(),
        artifact_type: workflow.config.artifact_type.clone(),
        artifact: final_artifact.content.clone(),
        artifact_iteration: final_artifact.iteration,
        artifact_hash: final_artifact.hash.clone(),
        generator: final_artifact.generator.clone(),
        approved_by: approval.reviewer.clone(),
        co_approvers: approval.co_approvers.clone(),
        iterations: workflow.iteration,
        created_at: workflow.created_at,
        completed_at,
        content_hash: String::new(),
    };
    let mut unhashed = serde_json::to_value(&envelope)
        .map_err(|e| HandlerError::PublishFailed(format!("encoding the envelope: {e}")))?;
    if let Some(map) = unhashed.as_object_mut() {
        map.remove("content_hash");
    }
    envelope.content_hash = canonical_hash(&unhashed);
    Ok(envelope)
}

/// The envelope's bytes as stored: pretty JSON with sorted keys and a final newline (the same
/// bytes for every publication of one outcome).
pub fn envelope_bytes(envelope: &OutcomeEnvelope) -> Vec<u8> {
    // Through the canonical form, so the keys are sorted at every level whatever the order of
    // the struct's fields or of the artifact's keys (a map keeps insertion order when
    // serde_json's `preserve_order` is on; the canonical text inserts them sorted).
    let sorted = serde_json::to_value(envelope)
        .ok()
        .and_then(|v| serde_json::from_slice::<Value>(&crate::metadata::canonical_json(&v)).ok());
    let mut bytes = match sorted {
        Some(value) => serde_json::to_vec_pretty(&value),
        None => serde_json::to_vec_pretty(envelope),
    }
    .unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The event of a finished (approved or escalated) workflow.
pub fn finished_event(
    workflow: &Workflow,
    envelope: Option<(&OutcomeEnvelope, &str)>,
) -> Result<FinishedEvent, HandlerError> {
    let outcome = match workflow.status {
        status @ (WorkflowStatus::Approved
        | WorkflowStatus::Escalated
        | WorkflowStatus::Resolved
        | WorkflowStatus::Abandoned) => status.as_str(),
        other => {
            return Err(HandlerError::field(
                "workflow_id",
                format!(
                    "workflow {} is {other}: only approved, escalated, resolved or abandoned workflows are published",
                    workflow.id
                ),
            ))
        }
    };
    Ok(FinishedEvent {
        schema_version: ENVELOPE_SCHEMA_VERSION.to_owned(),
        workflow_id: workflow.id.clone(),
        request_id: workflow.request_id.clone(),
        subject_id: workflow.subject.id.clone(),
        outcome: outcome.to_owned(),
        artifact_type: workflow.config.artifact_type.clone(),
        // Why it was escalated (also for a resolved or abandoned escalation).
        reason: workflow
            .escalation
            .as_ref()
            .filter(|_| workflow.status != WorkflowStatus::Approved)
            .map(|e| e.reason.as_str().to_owned()),
        iterations: workflow.iteration,
        completed_at: workflow.completed_at.unwrap_or(workflow.updated_at),
        location: envelope.map(|(_, location)| location.to_owned()),
        content_hash: envelope.map(|(e, _)| e.content_hash.clone()),
    })
}
