//! `MarkApproved` and `RecordFailure`: confirms an approval at the end of the execution, and
//! — as the state machine's catch-all — records an unrecoverable failure (status `failed`,
//! error, cause) on the workflow before the execution fails.

use hitl_app::Ports;

use hitl_domain::contracts::{FinalizeInput, WorkflowOutcome};
use hitl_domain::metrics;
use hitl_domain::model::WorkflowStatus;
use hitl_domain::optimistic::mutate;
use hitl_domain::ports::Clock;
use hitl_domain::ports::MetricsSink;
use hitl_domain::rules;
use hitl_domain::HandlerError;
use serde_json::Value;
use tracing::{error, info};

/// Finds the workflow id in the state at the time of a failure, if one was created.
fn workflow_id_in(state: &Value) -> Option<String> {
    state
        .pointer("/workflow/workflow_id")
        .or_else(|| state.get("workflow_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Reports whether a finished smoke workflow ended as its scenario expects.
fn emit_smoke_result(ports: &Ports, workflow: &hitl_domain::model::Workflow) {
    if let Some(passed) = metrics::smoke_item_passed(workflow) {
        ports.metrics.record(&metrics::with_properties(
            metrics::smoke_test_result(passed),
            &[("workflow_id", &workflow.id)],
        ));
    }
}

/// Handles one invocation.
pub async fn handle(ports: &Ports, input: FinalizeInput) -> Result<WorkflowOutcome, HandlerError> {
    match input {
        FinalizeInput::Approved { workflow_id } => {
            let workflow = ports
                .store
                .get_workflow(&workflow_id)
                .await?
                .ok_or_else(|| HandlerError::WorkflowNotFound(workflow_id.clone()))?;
            rules::confirm_approval(&workflow)?;
            if workflow.smoke.is_none() {
                ports
                    .metrics
                    .record(&metrics::iterations_to_approval(workflow.iteration));
            }
            emit_smoke_result(ports, &workflow);
            info!(workflow_id = %workflow.id, iteration = workflow.iteration,
                subject_id = %workflow.subject.id, iterations_to_approval = workflow.iteration,
                "workflow approved");
            Ok(WorkflowOutcome::from(&workflow))
        }
        FinalizeInput::Failed { state, error } => {
            let Some(workflow_id) = workflow_id_in(&state) else {
                error!(error = %error.error, cause = %error.cause,
                    "execution failed before a workflow record existed");
                return Ok(WorkflowOutcome {
                    workflow_id: String::new(),
                    status: WorkflowStatus::Failed,
                    iteration: 0,
                });
            };
            let now = ports.clock.now();
            let (workflow, ()) = mutate(ports.store.as_ref(), &workflow_id, |current| {
                Ok((rules::fail(current, &error.error, &error.cause, now), ()))
            })
            .await?;
            error!(workflow_id = %workflow.id, iteration = workflow.iteration,
                error = %error.error, cause = %error.cause, "workflow failed");
            emit_smoke_result(ports, &workflow);
            Ok(WorkflowOutcome::from(&workflow))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::model::WorkflowStatus;
    use hitl_domain::store::contract::sample_workflow;
    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::FixedClock;
    use hitl_domain::testing::MemoryStore;
    use std::sync::Arc;

    async fn setup(status: WorkflowStatus) -> Ports {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let mut wf = sample_workflow("wf-fin");
        wf.status = status;
        store.create_workflow(&wf).await.unwrap();
        Ports::new(store, Arc::new(FixedClock::default()))
    }

    #[tokio::test]
    async fn failure_is_recorded_with_error_and_cause() {
        let ports = setup(WorkflowStatus::Generating).await;
        let input: FinalizeInput =
            serde_json::from_str(include_str!("../fixtures/record-failure.json")).unwrap();
        let out = handle(&ports, input).await.unwrap();
        assert_eq!(out.status, WorkflowStatus::Failed);
        let wf = ports.store.get_workflow("wf-fin").await.unwrap().unwrap();
        let failure = wf.failure.unwrap();
        assert_eq!(failure.error, "AgentInvocationFailed");
        assert!(failure.cause.contains("model access"));
    }

    #[tokio::test]
    async fn failure_before_a_workflow_exists_is_logged_not_an_error() {
        let ports = setup(WorkflowStatus::Generating).await;
        let input: FinalizeInput = serde_json::from_value(serde_json::json!({
            "outcome": "failed", "state": {"subject": {}},
            "error": {"Error": "InvalidInput", "Cause": "bad"}
        }))
        .unwrap();
        let out = handle(&ports, input).await.unwrap();
        assert_eq!(out.workflow_id, "");
    }

    #[tokio::test]
    async fn a_terminal_workflow_keeps_its_status() {
        let ports = setup(WorkflowStatus::Escalated).await;
        let input: FinalizeInput =
            serde_json::from_str(include_str!("../fixtures/record-failure.json")).unwrap();
        let out = handle(&ports, input).await.unwrap();
        assert_eq!(out.status, WorkflowStatus::Escalated);
    }

    #[tokio::test]
    async fn approval_is_confirmed_only_when_approved() {
        let ports = setup(WorkflowStatus::Revising).await;
        let input = FinalizeInput::Approved {
            workflow_id: "wf-fin".into(),
        };
        let err = handle(&ports, input.clone()).await.unwrap_err();
        assert_eq!(err.name().as_str(), "InvalidTransition");
        let ports = setup(WorkflowStatus::Approved).await;
        assert_eq!(
            handle(&ports, input).await.unwrap().status,
            WorkflowStatus::Approved
        );
    }
}
