//! `GenerateMetadata` and `MetadataRegeneration`: asks the agent for a draft (the first one,
//! or a new one from the previous draft and all feedback so far), validates it against the
//! metadata schema, stores it per iteration and reports whether it changed.

use hitl_app::Ports;

use hitl_domain::contracts::{GenerateInput, GenerateOutput};
use hitl_domain::model::{Artifact, FeedbackOutcome};
use hitl_domain::optimistic::mutate;
use hitl_domain::ports::MetricsSink;
use hitl_domain::ports::{Clock, GenerationRequest};
use hitl_domain::rules;
use hitl_domain::store::StoreError;
use hitl_domain::HandlerError;
use hitl_domain::{metadata, metrics};
use tracing::{info, warn};

/// Handles one invocation. Idempotent: a retry after the draft was stored returns the stored
/// draft's hash without calling the agent again.
pub async fn handle(ports: &Ports, input: GenerateInput) -> Result<GenerateOutput, HandlerError> {
    let workflow = ports
        .store
        .get_workflow(&input.workflow_id)
        .await?
        .ok_or_else(|| HandlerError::WorkflowNotFound(input.workflow_id.clone()))?;
    if workflow.iteration != input.iteration {
        return Err(rules::TransitionError::WrongIteration {
            action: "generate a draft",
            requested: input.iteration,
            current: workflow.iteration,
        }
        .into());
    }
    let artifact_type = ports
        .types
        .get(&workflow.config.artifact_type)
        .map_err(|e| HandlerError::field("artifact_type", e.to_string()))?;
    let previous = match input.iteration {
        1 => None,
        i => ports.store.get_artifact(&workflow.id, i - 1).await?,
    };
    let artifact =
        match ports
            .store
            .get_artifact(&workflow.id, input.iteration)
            .await?
        {
            Some(stored) => stored,
            None => {
                let feedback = ports
                    .store
                    .list_feedback(&workflow.id)
                    .await?
                    .into_iter()
                    .filter(|f| matches!(f.outcome, FeedbackOutcome::Applied { .. }))
                    .collect();
                let request = GenerationRequest {
                    workflow_id: workflow.id.clone(),
                    subject: workflow.subject.clone(),
                    iteration: input.iteration,
                    previous: previous.clone(),
                    feedback,
                    artifact_type: (*artifact_type).clone(),
                };
                let (draft, usage) = ports.agent.generate_metered(&request).await.inspect_err(
                    |e| {
                        warn!(workflow_id = %workflow.id, iteration = input.iteration, error = %e,
                    error_type = e.name().as_str(), "agent invocation failed");
                        ports
                            .metrics
                            .record(&metrics::agent_invocation_error(e.name().as_str()));
                    },
                )?;
                let problems = artifact_type.validate_artifact(&draft.content);
                if !problems.is_empty() {
                    ports
                        .metrics
                        .record(&metrics::agent_invocation_error("ArtifactInvalid"));
                    return Err(HandlerError::ArtifactInvalid(problems));
                }
                let artifact = Artifact {
                    iteration: input.iteration,
                    hash: metadata::content_hash(&draft.content),
                    content: draft.content,
                    generator: draft.generator,
                    created_at: ports.clock.now(),
                    usage,
                };
                match ports.store.put_artifact(&workflow.id, &artifact).await {
                    Ok(()) => artifact,
                    // A concurrent attempt stored a different draft first: use that one.
                    Err(StoreError::Duplicate(_)) => ports
                        .store
                        .get_artifact(&workflow.id, input.iteration)
                        .await?
                        .ok_or_else(|| HandlerError::Conflict(workflow.id.clone()))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
    let now = ports.clock.now();
    mutate(ports.store.as_ref(), &workflow.id, |current| {
        Ok((rules::record_draft(current, &artifact, now)?, ()))
    })
    .await?;
    let no_progress = previous.is_some_and(|p| p.hash == artifact.hash);
    info!(workflow_id = %workflow.id, iteration = input.iteration, subject_id = %workflow.subject.id,
        generator = %artifact.generator, no_progress, "draft stored");
    Ok(GenerateOutput {
        workflow_id: workflow.id,
        iteration: input.iteration,
        artifact_hash: artifact.hash,
        no_progress,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use async_trait::async_trait;
    use hitl_domain::metadata::LocalGenerator;
    use hitl_domain::model::{TaskToken, WorkflowStatus};
    use hitl_domain::ports::GeneratedDraft;
    use hitl_domain::ports::MetadataAgent;
    use hitl_domain::store::contract::sample_workflow;
    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::FixedClock;
    use hitl_domain::testing::MemoryStore;
    use std::sync::Arc;
    use std::sync::Mutex;

    struct Scripted(Mutex<Vec<Result<serde_json::Value, HandlerError>>>);
    #[async_trait]
    impl MetadataAgent for Scripted {
        async fn generate(&self, _: &GenerationRequest) -> Result<GeneratedDraft, HandlerError> {
            let next = self.0.lock().unwrap().remove(0)?;
            Ok(GeneratedDraft {
                content: next,
                generator: "scripted".into(),
            })
        }
    }

    async fn setup(agent: Arc<dyn MetadataAgent>) -> (Ports, String) {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let wf = sample_workflow("wf-gen");
        store.create_workflow(&wf).await.unwrap();
        let ports = Ports::new(store, Arc::new(FixedClock::default())).with_agent(agent);
        (ports, wf.id)
    }

    fn fixture() -> GenerateInput {
        serde_json::from_str(include_str!("../fixtures/generate.json")).unwrap()
    }

    #[tokio::test]
    async fn first_draft_is_valid_stored_and_idempotent() {
        let (ports, id) = setup(Arc::new(LocalGenerator)).await;
        let out = handle(&ports, fixture()).await.unwrap();
        assert!(!out.no_progress);
        let stored = ports.store.get_artifact(&id, 1).await.unwrap().unwrap();
        assert!(metadata::validate(&stored.content).is_empty());
        assert_eq!(stored.hash, out.artifact_hash);
        let again = handle(&ports, fixture()).await.unwrap();
        assert_eq!(again, out);
        let wf = ports.store.get_workflow(&id).await.unwrap().unwrap();
        assert_eq!(wf.artifact_iteration, 1);
        assert_eq!(wf.version, 2, "the retry must not write again");
    }

    /// A generator that knows what its draft cost (a model behind an API).
    struct Metered;
    #[async_trait]
    impl MetadataAgent for Metered {
        async fn generate(
            &self,
            request: &GenerationRequest,
        ) -> Result<GeneratedDraft, HandlerError> {
            let draft = LocalGenerator.generate(request).await?;
            Ok(GeneratedDraft {
                generator: "openai:scripted-1".into(),
                ..draft
            })
        }

        async fn generate_metered(
            &self,
            request: &GenerationRequest,
        ) -> Result<(GeneratedDraft, Option<hitl_domain::model::Usage>), HandlerError> {
            let usage = hitl_domain::model::Usage {
                model: "scripted-1".into(),
                input_tokens: 321,
                output_tokens: 54,
                latency_ms: 812,
            };
            Ok((self.generate(request).await?, Some(usage)))
        }
    }

    /// Issue 29: what a draft cost is kept with the draft and on the workflow record (what the
    /// report compares generators by), once, even when the invocation is retried.
    #[tokio::test]
    async fn a_drafts_cost_is_kept_with_the_draft_and_on_the_workflow() {
        let (ports, id) = setup(Arc::new(Metered)).await;
        handle(&ports, fixture()).await.unwrap();
        handle(&ports, fixture()).await.unwrap();
        let stored = ports.store.get_artifact(&id, 1).await.unwrap().unwrap();
        let usage = stored.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (321, 54));
        let wf = ports.store.get_workflow(&id).await.unwrap().unwrap();
        assert_eq!(wf.drafts.len(), 1, "{:?}", wf.drafts);
        assert_eq!(wf.drafts[0].iteration, 1);
        assert_eq!(wf.drafts[0].generator, "openai:scripted-1");
        assert_eq!(wf.drafts[0].usage.as_ref().unwrap().latency_ms, 812);
    }

    #[tokio::test]
    async fn invalid_draft_is_rejected_with_field_names_and_not_stored() {
        let agent = Scripted(Mutex::new(vec![Ok(
            serde_json::json!({"name": "x", "tone": "grumpy"}),
        )]));
        let (ports, id) = setup(Arc::new(agent)).await;
        let err = handle(&ports, fixture()).await.unwrap_err();
        assert_eq!(err.name().as_str(), "ArtifactInvalid");
        let text = err.to_string();
        assert!(text.contains("tone") && text.contains("keywords"), "{text}");
        assert!(ports.store.get_artifact(&id, 1).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn identical_regeneration_reports_no_progress() {
        let draft = serde_json::json!({"name": "Acme", "tagline": "t", "description": "A long enough description.",
            "category": "food", "tone": "bold", "target_audience": "all", "keywords": ["a","b","c"],
            "colors": {"primary": "#112233"}});
        let agent = Scripted(Mutex::new(vec![Ok(draft.clone()), Ok(draft)]));
        let (ports, id) = setup(Arc::new(agent)).await;
        handle(&ports, fixture()).await.unwrap();
        // Move the workflow to iteration 2 through the rules, as the loop would.
        let now = ports.clock.now();
        mutate(ports.store.as_ref(), &id, |wf| {
            let mut waiting = rules::request_review(wf, 1, TaskToken::new("t"), now).unwrap();
            waiting.status = WorkflowStatus::Revising;
            waiting.pending_review = None;
            waiting.iteration = 2;
            Ok((Some(waiting), ()))
        })
        .await
        .unwrap();
        let out = handle(
            &ports,
            GenerateInput {
                workflow_id: id,
                iteration: 2,
            },
        )
        .await
        .unwrap();
        assert!(out.no_progress);
    }

    #[tokio::test]
    async fn agent_errors_keep_their_names() {
        let agent = Scripted(Mutex::new(vec![Err(HandlerError::AgentThrottled(
            "slow down".into(),
        ))]));
        let (ports, _) = setup(Arc::new(agent)).await;
        let err = handle(&ports, fixture()).await.unwrap_err();
        assert_eq!(err.name().as_str(), "AgentThrottled");
    }

    #[tokio::test]
    async fn wrong_iteration_is_an_invalid_transition() {
        let (ports, id) = setup(Arc::new(LocalGenerator)).await;
        let err = handle(
            &ports,
            GenerateInput {
                workflow_id: id,
                iteration: 4,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.name().as_str(), "InvalidTransition");
    }
}
