//! `Escalation`: marks the workflow escalated with its reason and notifies operators (SNS).
//! Idempotent: a retry after the write re-sends the notification (at-least-once) but does
//! not write again.

use std::sync::Arc;

use hitl_domain::contracts::{EscalateInput, WorkflowOutcome};
use hitl_domain::metrics;
use hitl_domain::model::EscalationReason;
use hitl_domain::optimistic::mutate;
use hitl_domain::ports::{Clock, Notification, NotificationKind, Notifier};
use hitl_domain::rules;
use hitl_domain::store::WorkflowStore;
use hitl_domain::HandlerError;
use tracing::info;

/// The function's ports.
#[derive(Clone)]
pub struct Deps {
    /// Workflow store.
    pub store: Arc<dyn WorkflowStore>,
    /// Escalation notifications.
    pub notifier: Arc<dyn Notifier>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// The error message inside a Step Functions `Cause` of a Lambda failure (a JSON document with
/// `errorMessage`), or the cause as it is.
fn cause_message(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned())
}

fn detail(reason: EscalationReason, iteration: u32, max: u32, cause: Option<&str>) -> String {
    match reason {
        EscalationReason::IterationLimit => format!(
            "{iteration} of {max} iterations were rejected; the next iteration would exceed the limit"
        ),
        EscalationReason::NoProgress => format!(
            "the loop stopped converging at iteration {iteration} (identical draft or repeated feedback)"
        ),
        EscalationReason::ReviewTimeout => {
            format!("no reviewer decided iteration {iteration} within the review SLA")
        }
        EscalationReason::InvalidDraft => format!(
            "the regenerated draft for iteration {iteration} failed the artifact schema after retries{}",
            cause.map(|c| format!(": {}", cause_message(c))).unwrap_or_default()
        ),
    }
}

/// Handles one invocation.
pub async fn handle(deps: &Deps, input: EscalateInput) -> Result<WorkflowOutcome, HandlerError> {
    let now = deps.clock.now();
    let (workflow, ()) = mutate(deps.store.as_ref(), &input.workflow_id, |current| {
        let text = detail(
            input.reason,
            current.iteration,
            current.config.max_iterations,
            input.detail.as_deref(),
        );
        Ok((rules::escalate(current, input.reason, &text, now)?, ()))
    })
    .await?;
    let escalation = workflow.escalation.clone();
    info!(workflow_id = %workflow.id, iteration = workflow.iteration, subject_id = %workflow.subject.id,
        reason = input.reason.as_str(), "workflow escalated");
    metrics::emit(&metrics::escalation(input.reason.as_str()));
    if let Some(passed) = metrics::smoke_item_passed(&workflow) {
        metrics::emit(&metrics::with_properties(
            metrics::smoke_test_result(passed),
            &[("workflow_id", &workflow.id)],
        ));
    }
    deps.notifier
        .publish(&Notification {
            kind: NotificationKind::Escalated,
            workflow_id: workflow.id.clone(),
            subject_name: workflow.subject.name.clone(),
            iteration: workflow.iteration,
            reviewer_group: workflow.config.reviewer_group.clone(),
            reason: Some(input.reason.as_str().to_owned()),
            message: escalation.map(|e| e.detail).unwrap_or_default(),
        })
        .await?;
    Ok(WorkflowOutcome {
        workflow_id: workflow.id,
        status: workflow.status.as_str().to_owned(),
        iteration: workflow.iteration,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::model::WorkflowStatus;
    use hitl_domain::store::contract::sample_workflow;
    use hitl_domain::testing::{FixedClock, RecordingNotifier};
    use hitl_sqlite::SqliteStore;

    async fn setup(status: WorkflowStatus) -> (Deps, Arc<RecordingNotifier>) {
        let store: Arc<dyn WorkflowStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let mut wf = sample_workflow("wf-esc");
        wf.status = status;
        store.create_workflow(&wf).await.unwrap();
        let notifier = Arc::new(RecordingNotifier::default());
        (
            Deps {
                store,
                notifier: notifier.clone(),
                clock: Arc::new(FixedClock::default()),
            },
            notifier,
        )
    }

    fn fixture() -> EscalateInput {
        serde_json::from_str(include_str!("../fixtures/escalate.json")).unwrap()
    }

    #[tokio::test]
    async fn escalates_with_reason_and_notifies_once_per_call() {
        let (deps, notifier) = setup(WorkflowStatus::AwaitingReview).await;
        let out = handle(&deps, fixture()).await.unwrap();
        assert_eq!(out.status, "escalated");
        let wf = deps.store.get_workflow("wf-esc").await.unwrap().unwrap();
        let esc = wf.escalation.unwrap();
        assert_eq!(esc.reason, EscalationReason::ReviewTimeout);
        assert!(esc.detail.contains("review SLA"));
        assert!(wf.pending_review.is_none());
        let version = wf.version;
        handle(&deps, fixture()).await.unwrap();
        let wf = deps.store.get_workflow("wf-esc").await.unwrap().unwrap();
        assert_eq!(wf.version, version, "a retry must not write again");
        assert_eq!(notifier.sent.lock().unwrap().len(), 2);
        assert_eq!(
            notifier.sent.lock().unwrap()[0].reason.as_deref(),
            Some("review_timeout")
        );
    }

    #[tokio::test]
    async fn an_approved_workflow_cannot_be_escalated() {
        let (deps, notifier) = setup(WorkflowStatus::Approved).await;
        let err = handle(&deps, fixture()).await.unwrap_err();
        assert_eq!(err.name().as_str(), "InvalidTransition");
        assert!(notifier.sent.lock().unwrap().is_empty());
    }
}
