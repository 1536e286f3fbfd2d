//! `PublishOutcome` / `PublishResolution` / `PublishEscalation`: the end of every finished
//! workflow. An approved or resolved workflow's envelope (the final artifact with its
//! provenance, `hitl_domain::outcome`) is stored at `metadata/<env>/<subject id>/<workflow
//! id>.json`, then one `Workflow Finished` event is emitted; an escalated (unresolved) or
//! abandoned workflow emits the event only. Idempotent: a retried task
//! builds the same bytes from the record and the store skips an identical object; the event
//! carries the workflow id and outcome as a stable key for consumers that deduplicate
//! (EventBridge delivers at least once anyway). A failure is `PublishFailed` (retried by the
//! definition, then recorded as the workflow's failure).

use hitl_app::Ports;

use hitl_domain::feedback::person_artifact;
use hitl_domain::model::{Artifact, Decision, Workflow, WorkflowStatus};
use hitl_domain::outcome::{envelope, envelope_bytes, envelope_key, finished_event};
use hitl_domain::HandlerError;
use serde::{Deserialize, Serialize};
use tracing::info;

/// Task input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    /// The finished workflow.
    pub workflow_id: String,
}

/// Task output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishOutput {
    /// The workflow.
    pub workflow_id: String,
    /// `approved`, `resolved`, `escalated` or `abandoned`.
    pub outcome: String,
    /// Where the envelope is (approved and resolved workflows).
    pub location: Option<String>,
}

/// A person-authored final artifact — of a resolution, or of an edit-and-approve — from the
/// audit entry of that decision, stored now (the decider's own write of it was lost).
async fn person_artifact_from_trail(
    ports: &Ports,
    workflow: &Workflow,
) -> Result<Option<Artifact>, HandlerError> {
    let authoring = match workflow.status {
        WorkflowStatus::Resolved => workflow
            .decisions
            .iter()
            .rev()
            .find(|d| d.decision == Decision::Resolve),
        WorkflowStatus::Approved => workflow
            .decisions
            .iter()
            .rev()
            .find(|d| d.decision == Decision::Approve && d.edited),
        _ => None,
    };
    let Some(resolution) = authoring else {
        return Ok(None);
    };
    let context = ports
        .store
        .load_feedback_context(&workflow.id, &resolution.feedback_key)
        .await?;
    let Some(artifact) = context
        .existing_entry
        .as_ref()
        .and_then(|entry| person_artifact(workflow, entry))
    else {
        return Ok(None);
    };
    ports.store.put_artifact(&workflow.id, &artifact).await?;
    info!(workflow_id = %workflow.id, iteration = artifact.iteration,
        "stored the resolved artifact from the audit trail");
    Ok(Some(artifact))
}

/// Handles one invocation.
pub async fn handle(ports: &Ports, input: PublishInput) -> Result<PublishOutput, HandlerError> {
    let workflow = ports
        .store
        .get_workflow(&input.workflow_id)
        .await?
        .ok_or_else(|| HandlerError::WorkflowNotFound(input.workflow_id.clone()))?;
    let stored = match workflow.status {
        WorkflowStatus::Approved | WorkflowStatus::Resolved => {
            let last = match ports
                .store
                .get_artifact(&workflow.id, workflow.artifact_iteration)
                .await?
            {
                Some(artifact) => artifact,
                None => person_artifact_from_trail(ports, &workflow)
                    .await?
                    .ok_or_else(|| {
                        HandlerError::field(
                            "workflow_id",
                            format!(
                                "{} workflow {} has no final artifact",
                                workflow.status, workflow.id
                            ),
                        )
                    })?,
            };
            let env = envelope(&workflow, &last)?;
            let key = envelope_key(&ports.settings.environment, &workflow);
            let location = ports
                .publisher
                .store_envelope(&key, &envelope_bytes(&env), &env.content_hash)
                .await?;
            Some((env, location))
        }
        _ => None,
    };
    let event = finished_event(&workflow, stored.as_ref().map(|(e, l)| (e, l.as_str())))?;
    let detail = serde_json::to_value(&event)
        .map_err(|e| HandlerError::PublishFailed(format!("encoding the event: {e}")))?;
    ports.publisher.emit_finished(&detail).await?;
    info!(workflow_id = %workflow.id, outcome = %event.outcome, location = ?event.location,
        "outcome published");
    Ok(PublishOutput {
        workflow_id: workflow.id,
        outcome: event.outcome,
        location: event.location,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use async_trait::async_trait;
    use hitl_domain::model::{Artifact, EscalationReason, TaskToken};
    use hitl_domain::ports::OutcomePublisher;
    use hitl_domain::rules;
    use hitl_domain::store::contract::sample_workflow;
    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::MemoryStore;
    use serde_json::{json, Value};
    use std::sync::Arc;
    use std::sync::Mutex;

    /// An in-process bucket: key → (bytes, hash), writes counted; events recorded.
    #[derive(Default)]
    struct MemoryPublisher {
        objects: Mutex<std::collections::BTreeMap<String, (Vec<u8>, String)>>,
        writes: Mutex<usize>,
        events: Mutex<Vec<Value>>,
        fail: Mutex<bool>,
    }

    #[async_trait]
    impl OutcomePublisher for MemoryPublisher {
        async fn store_envelope(
            &self,
            key: &str,
            body: &[u8],
            hash: &str,
        ) -> Result<String, HandlerError> {
            if *self.fail.lock().unwrap() {
                return Err(HandlerError::PublishFailed("bucket unreachable".into()));
            }
            let mut objects = self.objects.lock().unwrap();
            if objects.get(key).is_none_or(|(_, h)| h != hash) {
                objects.insert(key.to_owned(), (body.to_vec(), hash.to_owned()));
                *self.writes.lock().unwrap() += 1;
            }
            Ok(format!("s3://outcomes/{key}"))
        }
        async fn emit_finished(&self, detail: &Value) -> Result<(), HandlerError> {
            self.events.lock().unwrap().push(detail.clone());
            Ok(())
        }
    }

    async fn setup(approve: bool) -> (Ports, Arc<MemoryPublisher>) {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let now = chrono::Utc::now();
        let wf = sample_workflow("wf-pub");
        let mut wf = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
        wf.version = 1;
        let mut wf = rules::request_review(&wf, 1, TaskToken::new("t"), now).unwrap();
        wf.version = 1;
        store.create_workflow(&wf).await.unwrap();
        store
            .put_artifact(
                "wf-pub",
                &Artifact {
                    iteration: 1,
                    content: json!({"name": "Acme", "tagline": "Good mornings"}),
                    hash: "h1".into(),
                    generator: "local-generator".into(),
                    created_at: now,
                    usage: None,
                },
            )
            .await
            .unwrap();
        let next = if approve {
            let submission = rules::Submission {
                resolution: None,
                iteration: 1,
                decision: hitl_domain::model::Decision::Approve,
                reviewer: "rita".into(),
                reviewer_id: "name:rita".into(),
                comments: String::new(),
                corrections: vec![],
                idempotency_key: "k".into(),
            };
            rules::decide(&wf, &submission, now).unwrap().workflow
        } else {
            rules::escalate(&wf, EscalationReason::ReviewTimeout, "late", None, now)
                .unwrap()
                .unwrap()
        };
        store.update_workflow(&next, wf.version).await.unwrap();
        let publisher = Arc::new(MemoryPublisher::default());
        (
            Ports::new(store, Arc::new(hitl_domain::testing::FixedClock::default()))
                .with_publisher(publisher.clone(), "dev"),
            publisher,
        )
    }

    #[tokio::test]
    async fn an_approval_stores_one_envelope_and_emits_one_event_per_attempt() {
        let (ports, publisher) = setup(true).await;
        let input: PublishInput =
            serde_json::from_str(include_str!("../fixtures/publish.json")).unwrap();
        let first = handle(&ports, input.clone()).await.unwrap();
        // A retried task (the definition retries on PublishFailed) writes nothing new.
        let again = handle(&ports, input).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(
            first.location.as_deref(),
            Some("s3://outcomes/metadata/dev/brand-wf-pub/wf-pub.json")
        );
        assert_eq!(*publisher.writes.lock().unwrap(), 1, "one object version");
        let (bytes, _) = publisher
            .objects
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap();
        let env: Value = serde_json::from_slice(&bytes).unwrap();
        // The stored bytes have their keys sorted (the struct's field order is not).
        let text = String::from_utf8(bytes.clone()).unwrap();
        let top: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \"") && !l.starts_with("   "))
            .filter_map(|l| l.trim_start().split('"').nth(1))
            .collect();
        let mut sorted = top.clone();
        sorted.sort_unstable();
        assert_eq!(top, sorted);
        assert!(top.len() >= 13, "{top:?}");
        assert_eq!(
            env["content_hash"],
            {
                let mut rest = env.clone();
                rest.as_object_mut().unwrap().remove("content_hash");
                hitl_domain::metadata::content_hash(&rest)
            }
            .as_str(),
            "a consumer recomputes content_hash over the other fields"
        );
        assert_eq!(env["schema_version"], "1.3");
        assert_eq!(env["approved_by"], "rita");
        assert!(
            env.get("co_approvers").is_none(),
            "one approval: no co_approvers"
        );
        assert_eq!(env["artifact"]["tagline"], "Good mornings");
        let events = publisher.events.lock().unwrap();
        assert_eq!(events[0]["outcome"], "approved");
        assert_eq!(
            events[0]["location"],
            first.location.clone().unwrap().as_str()
        );
        assert_eq!(events[0]["content_hash"], env["content_hash"]);
    }

    #[tokio::test]
    async fn an_escalation_emits_the_event_with_its_reason_and_no_envelope() {
        let (ports, publisher) = setup(false).await;
        let out = handle(
            &ports,
            PublishInput {
                workflow_id: "wf-pub".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!((out.outcome.as_str(), out.location), ("escalated", None));
        assert!(publisher.objects.lock().unwrap().is_empty());
        assert_eq!(
            publisher.events.lock().unwrap()[0]["reason"],
            "review_timeout"
        );
    }

    #[tokio::test]
    async fn a_failed_store_is_publish_failed_and_emits_nothing() {
        let (ports, publisher) = setup(true).await;
        *publisher.fail.lock().unwrap() = true;
        let err = handle(
            &ports,
            PublishInput {
                workflow_id: "wf-pub".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.name().as_str(), "PublishFailed");
        assert!(publisher.events.lock().unwrap().is_empty());
    }

    /// An edit-and-approve whose own write of the reviewer's version was lost: publishing
    /// stores it from the audit entry and publishes it, not the agent's draft.
    #[tokio::test]
    async fn an_edited_approval_publishes_the_reviewers_version_from_the_trail() {
        let (ports, publisher) = setup(false).await;
        let store = &ports.store;
        let mut wf = sample_workflow("wf-edit");
        let now = chrono::Utc::now();
        wf = rules::record_artifact(&wf, 1, "h1", now).unwrap().unwrap();
        wf = rules::request_review(&wf, 1, TaskToken::new("t"), now).unwrap();
        store.create_workflow(&wf).await.unwrap();
        let edited = json!({"name": "Acme", "tagline": "Brewed by hand"});
        let submission = rules::Submission {
            resolution: Some(hitl_domain::model::ResolutionDetails {
                final_artifact: Some(edited.clone()),
                final_hash: Some(hitl_domain::metadata::content_hash(&edited)),
                ..Default::default()
            }),
            iteration: 1,
            decision: hitl_domain::model::Decision::Approve,
            reviewer: "rita".into(),
            reviewer_id: "name:rita".into(),
            comments: String::new(),
            corrections: vec![hitl_domain::model::Correction {
                field: "tagline".into(),
                value: "Brewed by hand".into(),
            }],
            idempotency_key: "edit".into(),
        };
        let next = rules::decide(&wf, &submission, now).unwrap().workflow;
        let entry = hitl_domain::model::FeedbackEntry {
            workflow_id: "wf-edit".into(),
            idempotency_key: "edit".into(),
            request_fingerprint: "f".into(),
            iteration: 1,
            decision: hitl_domain::model::Decision::Approve,
            reviewer: "rita".into(),
            comments: String::new(),
            corrections: submission.corrections.clone(),
            resolution: submission.resolution.clone(),
            channel: "api".into(),
            received_at: now,
            outcome: hitl_domain::model::FeedbackOutcome::Applied {
                status: WorkflowStatus::Approved,
            },
        };
        store
            .record_feedback(&entry, Some((&next, wf.version)))
            .await
            .unwrap();
        let out = handle(
            &ports,
            PublishInput {
                workflow_id: "wf-edit".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(out.outcome, "approved");
        let stored = store.get_artifact("wf-edit", 2).await.unwrap().unwrap();
        assert_eq!(stored.generator, "person:rita");
        let objects = publisher.objects.lock().unwrap();
        let (bytes, _) = objects.values().next().cloned().unwrap();
        let env: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(env["artifact"]["tagline"], "Brewed by hand");
        assert_eq!(env["generator"], "person:rita");
    }
}
