//! `IterationCheck`: after changes were requested, starts the next iteration, or escalates
//! when the next iteration would exceed `max_iterations` (`iteration_limit`) or the same
//! feedback was given twice in a row (`no_progress`). Its output is the execution's next
//! `$.workflow` (id, iteration, SLAs) with the verdict, so no Pass state is needed to build it.
//! Idempotent under retries.

use hitl_app::Ports;

use hitl_domain::contracts::{IterationAction, IterationCheckInput, IterationCheckOutput};
use hitl_domain::optimistic::mutate;
use hitl_domain::ports::Clock;
use hitl_domain::rules::{self, IterationVerdict};
use hitl_domain::HandlerError;
use tracing::info;

/// Handles one invocation.
pub async fn handle(
    ports: &Ports,
    input: IterationCheckInput,
) -> Result<IterationCheckOutput, HandlerError> {
    let now = ports.clock.now();
    let (workflow, verdict) = mutate(ports.store.as_ref(), &input.workflow_id, |current| {
        let (verdict, next) = rules::check_iteration(current, input.reviewed_iteration, now)?;
        Ok((next, verdict))
    })
    .await?;
    let output = match verdict {
        IterationVerdict::Continue { next } => IterationCheckOutput {
            workflow_id: workflow.id.clone(),
            action: IterationAction::Regenerate,
            next_iteration: next,
            reason: None,
            review_timeout_seconds: workflow.config.review_timeout_seconds,
            escalation_timeout_seconds: workflow.config.escalation_timeout_seconds,
        },
        IterationVerdict::Escalate { reason } => IterationCheckOutput {
            workflow_id: workflow.id.clone(),
            action: IterationAction::Escalate,
            next_iteration: workflow.iteration,
            reason: Some(reason),
            review_timeout_seconds: workflow.config.review_timeout_seconds,
            escalation_timeout_seconds: workflow.config.escalation_timeout_seconds,
        },
    };
    info!(workflow_id = %workflow.id, iteration = workflow.iteration,
        max_iterations = workflow.config.max_iterations, action = ?output.action,
        reason = output.reason.map(|r| r.as_str()).unwrap_or_default(), "iteration checked");
    Ok(output)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::model::{Decision, DecisionRecord, EscalationReason, WorkflowStatus};
    use hitl_domain::store::contract::sample_workflow;
    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::FixedClock;
    use hitl_domain::testing::MemoryStore;
    use std::sync::Arc;

    async fn setup(iteration: u32, max: u32, fingerprints: &[&str]) -> Ports {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let mut wf = sample_workflow("wf-it");
        wf.status = WorkflowStatus::Revising;
        wf.iteration = iteration;
        wf.artifact_iteration = iteration;
        wf.config.max_iterations = max;
        let first = iteration + 1 - fingerprints.len() as u32;
        wf.decisions = fingerprints
            .iter()
            .enumerate()
            .map(|(i, fp)| DecisionRecord {
                resolution: None,
                co_approvers: Vec::new(),
                claimed_at: None,
                edited: false,
                reminders_sent: 0,
                iteration: first + i as u32,
                decision: Decision::RequestChanges,
                reviewer: "r".into(),
                feedback_key: format!("k{i}"),
                fingerprint: (*fp).to_owned(),
                requested_at: wf.created_at,
                decided_at: wf.created_at,
                task_token: None,
                delivery: None,
            })
            .collect();
        store.create_workflow(&wf).await.unwrap();
        Ports::new(store, Arc::new(FixedClock::default()))
    }

    fn fixture() -> IterationCheckInput {
        serde_json::from_str(include_str!("../fixtures/iteration-check.json")).unwrap()
    }

    #[tokio::test]
    async fn continues_below_the_limit_and_is_idempotent() {
        let ports = setup(1, 10, &["a"]).await;
        let out = handle(&ports, fixture()).await.unwrap();
        assert_eq!(out.action, IterationAction::Regenerate);
        assert_eq!(out.next_iteration, 2);
        let again = handle(&ports, fixture()).await.unwrap();
        assert_eq!(again, out);
        let wf = ports.store.get_workflow("wf-it").await.unwrap().unwrap();
        assert_eq!(wf.iteration, 2);
    }

    #[tokio::test]
    async fn tenth_rejection_with_max_ten_escalates() {
        let ports = setup(10, 10, &["x"]).await;
        let out = handle(
            &ports,
            IterationCheckInput {
                workflow_id: "wf-it".into(),
                reviewed_iteration: 10,
            },
        )
        .await
        .unwrap();
        assert_eq!(out.action, IterationAction::Escalate);
        assert_eq!(out.reason, Some(EscalationReason::IterationLimit));
        assert_eq!(out.next_iteration, 10);
    }

    #[tokio::test]
    async fn same_feedback_twice_in_a_row_is_no_progress() {
        let ports = setup(2, 10, &["same", "same"]).await;
        let out = handle(
            &ports,
            IterationCheckInput {
                workflow_id: "wf-it".into(),
                reviewed_iteration: 2,
            },
        )
        .await
        .unwrap();
        assert_eq!(out.reason, Some(EscalationReason::NoProgress));
    }

    #[tokio::test]
    async fn unknown_workflow_is_named() {
        let ports = setup(1, 10, &["a"]).await;
        let err = handle(
            &ports,
            IterationCheckInput {
                workflow_id: "nope".into(),
                reviewed_iteration: 1,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.name().as_str(), "WorkflowNotFound");
    }
}
