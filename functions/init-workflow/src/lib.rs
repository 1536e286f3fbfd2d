//! `InitWorkflow` and `PlanBatch`: validates a start request and expands it into items, and
//! creates (idempotently) the workflow record of one item after checking the agent is ready.

use hitl_app::Ports;

use hitl_domain::contracts::{self, InitInput, ItemInput, PlanOutput, WorkflowRef};
use hitl_domain::model::Workflow;
use hitl_domain::ports::Clock;
use hitl_domain::ports::MetricsSink;
use hitl_domain::store::CreateOutcome;
use hitl_domain::HandlerError;
use serde::Serialize;
use tracing::info;

/// What the function returns, by operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum InitOutput {
    /// `plan_batch`.
    Planned(PlanOutput),
    /// `init`.
    Initialized(WorkflowRef),
}

/// Handles one invocation.
pub async fn handle(ports: &Ports, input: InitInput) -> Result<InitOutput, HandlerError> {
    match input {
        InitInput::PlanBatch {
            request,
            execution_name,
        } => {
            let plan = contracts::plan_batch_in(&ports.types, &request, &execution_name)?;
            info!(request_id = %plan.request_id, items = plan.items.len(), "batch planned");
            Ok(InitOutput::Planned(plan))
        }
        InitInput::Init {
            item,
            execution_arn,
        } => init(ports, *item, execution_arn)
            .await
            .map(InitOutput::Initialized),
    }
}

async fn init(
    ports: &Ports,
    item: ItemInput,
    execution_arn: String,
) -> Result<WorkflowRef, HandlerError> {
    contracts::check_item(&item)?;
    ports.readiness.ensure_ready().await.inspect_err(|e| {
        ports
            .metrics
            .record(&hitl_domain::metrics::agent_invocation_error(
                e.name().as_str(),
            ));
    })?;
    let now = ports.clock.now();
    let workflow = Workflow {
        execution_arn: Some(execution_arn),
        smoke: item.smoke,
        ..Workflow::new(
            contracts::workflow_id(&item.request_id, &item.subject.id),
            item.request_id.clone(),
            item.subject.clone(),
            item.config.clone(),
            now,
        )
    };
    let stored = match ports.store.create_workflow(&workflow).await? {
        CreateOutcome::Created => {
            info!(workflow_id = %workflow.id, subject_id = %workflow.subject.id,
                execution_arn = workflow.execution_arn.as_deref().unwrap_or_default(),
                "workflow created");
            workflow
        }
        CreateOutcome::Existing(existing) => {
            if existing.subject.id != item.subject.id || existing.request_id != item.request_id {
                return Err(HandlerError::field(
                    "item.subject.id",
                    format!("workflow id {} belongs to another request", existing.id),
                ));
            }
            info!(workflow_id = %existing.id, "workflow already exists; reusing it");
            *existing
        }
    };
    Ok(WorkflowRef {
        workflow_id: stored.id,
        iteration: stored.iteration,
        review_timeout_seconds: stored.config.review_timeout_seconds,
        escalation_timeout_seconds: stored.config.escalation_timeout_seconds,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::model::WorkflowStatus;
    use hitl_domain::ports::AgentReadiness;
    use hitl_domain::ports::NoAgentConfigured;
    use hitl_domain::testing::FixedClock;
    use hitl_domain::testing::MemoryStore;
    use std::sync::Arc;

    struct NotReady;
    #[async_trait::async_trait]
    impl AgentReadiness for NotReady {
        async fn ensure_ready(&self) -> Result<(), HandlerError> {
            Err(HandlerError::AgentNotReady("alias is NOT_PREPARED".into()))
        }
    }

    fn ports(readiness: Arc<dyn AgentReadiness>) -> Ports {
        Ports::new(
            Arc::new(MemoryStore::default()),
            Arc::new(FixedClock::default()),
        )
        .with_readiness(readiness)
    }

    fn fixture(name: &str) -> InitInput {
        let raw = match name {
            "plan" => include_str!("../fixtures/plan-batch.json"),
            "smoke" => include_str!("../fixtures/plan-smoke.json"),
            _ => include_str!("../fixtures/init-item.json"),
        };
        serde_json::from_str(raw).unwrap()
    }

    #[tokio::test]
    async fn smoke_request_plans_batch_size_items_with_scenarios() {
        let out = handle(&ports(Arc::new(NoAgentConfigured)), fixture("smoke"))
            .await
            .unwrap();
        let InitOutput::Planned(plan) = out else {
            panic!("expected a plan")
        };
        assert_eq!(plan.items.len(), 10);
        assert_eq!(plan.request_id, "exec-smoke-1");
        assert!(plan.items.iter().all(|i| i.config.max_iterations == 3));
        assert_eq!(plan.items[1].execution_name, "exec-smoke-1-1");
        assert!(plan.items.iter().all(|i| i.smoke.is_some()));
    }

    #[tokio::test]
    async fn invalid_config_reports_every_field_and_creates_nothing() {
        let d = ports(Arc::new(NoAgentConfigured));
        let input = InitInput::PlanBatch {
            request: serde_json::json!({"action": "start_workflow",
                "config": {"max_iterations": 0, "batch_size": 500}, "subjects": []}),
            execution_name: "e".into(),
        };
        let err = handle(&d, input).await.unwrap_err();
        let text = err.to_string();
        assert_eq!(err.name().as_str(), "InvalidInput");
        assert!(text.contains("config.max_iterations"), "{text}");
        assert!(text.contains("config.batch_size"), "{text}");
        assert!(text.contains("subjects"), "{text}");
    }

    #[tokio::test]
    async fn unknown_fields_are_rejected() {
        let input = InitInput::PlanBatch {
            request: serde_json::json!({"action": "start_workflow", "smoke": true, "confg": {}}),
            execution_name: "e".into(),
        };
        let err = handle(&ports(Arc::new(NoAgentConfigured)), input)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("confg"), "{err}");
    }

    #[tokio::test]
    async fn init_is_idempotent() {
        let d = ports(Arc::new(NoAgentConfigured));
        let first = handle(&d, fixture("item")).await.unwrap();
        let second = handle(&d, fixture("item")).await.unwrap();
        assert_eq!(first, second);
        let InitOutput::Initialized(r) = first else {
            panic!()
        };
        let page = d
            .store
            .list_by_status(WorkflowStatus::Generating, 10, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, r.workflow_id);
        assert_eq!(r.iteration, 1);
        assert_eq!(r.review_timeout_seconds, 3600);
    }

    #[tokio::test]
    async fn agent_not_prepared_fails_before_creating_anything() {
        let d = ports(Arc::new(NotReady));
        let err = handle(&d, fixture("item")).await.unwrap_err();
        assert_eq!(err.name().as_str(), "AgentNotReady");
        let page = d
            .store
            .list_by_status(WorkflowStatus::Generating, 10, None)
            .await
            .unwrap();
        assert!(page.items.is_empty());
    }
}
