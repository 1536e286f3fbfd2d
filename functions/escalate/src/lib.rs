//! `Escalation`: marks the workflow escalated with its reason, stores the token of the waiting
//! `.waitForTaskToken` task (the escalation group resolves it: see `rules::resolve`) and
//! notifies operators (SNS). From the escalation SLA's timeout (`unresolved: true`) it records
//! the escalation as unresolved. Smoke workflows are resolved at once by the synthetic
//! resolver, through the same rules.
//!
//! Idempotent: the notification is written into the outbox with the escalation, in the same
//! conditional write, and sent by the attempt that wrote it; a retry after the write does not
//! write again (a retry with a new token records the new token) and leaves a notification that
//! was not sent to the outbox relay.

use hitl_app::Ports;

use hitl_domain::contracts::{EscalateInput, WorkflowOutcome};
use hitl_domain::feedback::FeedbackError;
use hitl_domain::metrics;
use hitl_domain::model::{EscalationReason, Workflow};
use hitl_domain::optimistic::mutate;
use hitl_domain::ports::MetricsSink;
use hitl_domain::ports::{Clock, Notification, NotificationKind};
use hitl_domain::{rules, smoke, HandlerError};
use tracing::info;

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
        EscalationReason::RejectedByReviewer => format!(
            "a reviewer rejected iteration {iteration} and stopped the loop{}",
            cause.map(|c| format!(": {c}")).unwrap_or_default()
        ),
    }
}

/// Handles one invocation.
pub async fn handle(ports: &Ports, input: EscalateInput) -> Result<WorkflowOutcome, HandlerError> {
    let now = ports.clock.now();
    if input.unresolved {
        return unresolved(ports, &input).await;
    }
    if let Some(token) = &input.task_token {
        if token.expose().trim().is_empty() || token.expose().len() > 2048 {
            return Err(HandlerError::field(
                "task_token",
                "must be 1..=2048 characters (pass $$.Task.Token)",
            ));
        }
    }
    let rejection = match input.reason {
        EscalationReason::RejectedByReviewer => rejection_reason(ports, &input.workflow_id).await?,
        _ => None,
    };
    let outbox = ports.notifications();
    let (workflow, enqueued) = mutate(ports.store.as_ref(), &input.workflow_id, |current| {
        let text = detail(
            input.reason,
            current.iteration,
            current.config.max_iterations,
            input.detail.as_deref().or(rejection.as_deref()),
        );
        let Some(mut next) =
            rules::escalate(current, input.reason, &text, input.task_token.clone(), now)?
        else {
            return Ok((None, None));
        };
        let awaits = next
            .escalation
            .as_ref()
            .and_then(|e| e.awaiting.as_ref())
            .is_some();
        // Smoke runs waiting for a resolution are resolved at once, without a person.
        if next.smoke.is_some() && awaits {
            return Ok((Some(next), None));
        }
        let notice = escalation_notice(ports, &next, input.reason);
        let enqueued = outbox.add(&mut next, None, notice, now);
        Ok((Some(next), enqueued))
    })
    .await?;
    let escalation = workflow.escalation.clone();
    info!(workflow_id = %workflow.id, iteration = workflow.iteration, subject_id = %workflow.subject.id,
        reason = input.reason.as_str(), "workflow escalated");
    ports
        .metrics
        .record(&metrics::escalation(input.reason.as_str()));
    if let Some(passed) = metrics::smoke_item_passed(&workflow) {
        ports.metrics.record(&metrics::with_properties(
            metrics::smoke_test_result(passed),
            &[("workflow_id", &workflow.id)],
        ));
    }
    let waits_until = escalation
        .as_ref()
        .and_then(|e| e.awaiting.as_ref())
        .map(|a| a.deadline);
    if let (Some(scenario), Some(_)) = (workflow.smoke, waits_until) {
        // Smoke runs finish without a person: the synthetic resolver resolves at once.
        let processor = ports.decisions();
        let request = smoke::resolve(scenario, &workflow);
        let key = smoke::resolution_key(&workflow);
        match processor
            .resolve(&workflow.id, &request, &key, &smoke::reviewer())
            .await
        {
            Ok(_) => {}
            Err(FeedbackError::ResumeFailed(e)) => return Err(HandlerError::ResumeFailed(e)),
            Err(other) => return Err(other.into()),
        }
    } else if let Some(notification_id) = enqueued {
        outbox.send_enqueued(&workflow, &notification_id).await?;
    }
    Ok(WorkflowOutcome::from(&workflow))
}

/// The escalation group's notice: the subject, why, and until when it waits for a resolution
/// (with the command and, when the page's URL is known, the link).
fn escalation_notice(ports: &Ports, workflow: &Workflow, reason: EscalationReason) -> Notification {
    let escalation = workflow.escalation.as_ref();
    let waits_until = escalation
        .and_then(|e| e.awaiting.as_ref())
        .map(|a| a.deadline);
    // Named first: the subject, then why it was escalated.
    let message = format!(
        "{} was escalated: {}",
        workflow.subject.name,
        escalation.map(|e| e.detail.as_str()).unwrap_or_default()
    );
    // Where to resolve it: the review page at this workflow, when its URL is known.
    let link = ports.settings.review_link(&workflow.id);
    let on_page = link
        .as_deref()
        .map(|l| format!(" Resolve it: {l}"))
        .unwrap_or_default();
    Notification::to_escalation_group(
        NotificationKind::Escalated,
        workflow,
        match waits_until {
            Some(deadline) => format!(
                "{message}. Resolve, extend, reassign or abandon it by {} (in {}; hitl resolve {}).{on_page}",
                deadline.format("%Y-%m-%d %H:%M UTC"),
                hitl_domain::reminders::time_left(deadline, ports.clock.now()),
                workflow.id
            ),
            None => format!("{message}{on_page}"),
        },
    )
    .because(Some(reason.as_str().to_owned()))
    .linking(link)
}

/// What the reviewer who rejected the current iteration wrote (from the audit trail).
async fn rejection_reason(
    ports: &Ports,
    workflow_id: &str,
) -> Result<Option<String>, HandlerError> {
    let Some(workflow) = ports.store.get_workflow(workflow_id).await? else {
        return Ok(None);
    };
    let Some(rejection) = workflow
        .decisions
        .iter()
        .rev()
        .find(|d| d.decision == hitl_domain::model::Decision::Reject)
    else {
        return Ok(None);
    };
    let context = ports
        .store
        .load_feedback_context(workflow_id, &rejection.feedback_key)
        .await?;
    Ok(context.existing_entry.map(|e| e.comments))
}

/// The escalation SLA ran out: the workflow ends escalated and unresolved; operators hear.
async fn unresolved(ports: &Ports, input: &EscalateInput) -> Result<WorkflowOutcome, HandlerError> {
    let now = ports.clock.now();
    let outbox = ports.notifications();
    let (workflow, enqueued) = mutate(ports.store.as_ref(), &input.workflow_id, |current| {
        let Some(mut next) = rules::mark_unresolved(current, now) else {
            return Ok((None, None));
        };
        let notice = Notification::to_escalation_group(
            NotificationKind::Escalated,
            &next,
            format!(
                "Nobody resolved the escalation of {} within its SLA ({} h); the workflow ended escalated (unresolved).",
                next.subject.name,
                next.config.escalation_timeout_seconds / 3600
            ),
        )
        .because(Some("unresolved".to_owned()));
        let enqueued = outbox.add(&mut next, Some("unresolved"), notice, now);
        Ok((Some(next), enqueued))
    })
    .await?;
    info!(workflow_id = %workflow.id, iteration = workflow.iteration,
        "escalation left unresolved: its SLA ran out");
    ports.metrics.record(&metrics::escalation("unresolved"));
    if let Some(notification_id) = enqueued {
        outbox.send_enqueued(&workflow, &notification_id).await?;
    }
    Ok(WorkflowOutcome::from(&workflow))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::model::WorkflowStatus;
    use hitl_domain::store::contract::sample_workflow;
    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::MemoryStore;
    use hitl_domain::testing::{FixedClock, RecordingNotifier};
    use std::sync::Arc;

    async fn setup(status: WorkflowStatus) -> (Ports, Arc<RecordingNotifier>) {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let mut wf = sample_workflow("wf-esc");
        wf.status = status;
        store.create_workflow(&wf).await.unwrap();
        let notifier = Arc::new(RecordingNotifier::default());
        (
            Ports::new(store, Arc::new(FixedClock::default()))
                .with_escalation_notifier(notifier.clone())
                .with_resumer(Arc::new(hitl_domain::testing::RecordingResumer::default())),
            notifier,
        )
    }

    fn fixture() -> EscalateInput {
        serde_json::from_str(include_str!("../fixtures/escalate.json")).unwrap()
    }

    #[tokio::test]
    async fn escalates_with_reason_and_notifies_once_even_when_retried() {
        let (ports, notifier) = setup(WorkflowStatus::AwaitingReview).await;
        let out = handle(&ports, fixture()).await.unwrap();
        assert_eq!(out.status, WorkflowStatus::Escalated);
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        let esc = wf.escalation.unwrap();
        assert_eq!(esc.reason, EscalationReason::ReviewTimeout);
        assert!(esc.detail.contains("review SLA"));
        assert!(wf.pending_review.is_none());
        let version = wf.version;
        handle(&ports, fixture()).await.unwrap();
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        assert_eq!(wf.version, version, "a retry must not write again");
        assert_eq!(notifier.sent.lock().unwrap().len(), 1, "nor send again");
        let record = wf.notification("escalated/1").unwrap();
        assert!(!record.is_pending(), "sent and settled in the outbox");
        assert_eq!(
            notifier.sent.lock().unwrap()[0].reason.as_deref(),
            Some("review_timeout")
        );
    }

    /// Issue 30: an escalation waiting for a resolution says by when both ways and links to
    /// the workflow on the review page when the deployment knows the page's URL.
    #[tokio::test]
    async fn the_escalation_links_to_the_page_and_says_how_long_is_left() {
        let (ports, notifier) = setup(WorkflowStatus::AwaitingReview).await;
        let ports = ports.with_page_url(Some("https://review.example.com/".into()));
        handle(&ports, waiting("tok-1")).await.unwrap();
        let sent = notifier.sent.lock().unwrap()[0].clone();
        assert_eq!(
            sent.link.as_deref(),
            Some("https://review.example.com/#/workflows/wf-esc")
        );
        assert!(
            sent.message.starts_with("Acme Coffee was escalated: "),
            "{}",
            sent.message
        );
        assert!(
            sent.message.contains(" (in 168 h; hitl resolve wf-esc)."),
            "{}",
            sent.message
        );
        assert!(
            sent.message
                .ends_with("Resolve it: https://review.example.com/#/workflows/wf-esc"),
            "{}",
            sent.message
        );
    }

    #[tokio::test]
    async fn an_approved_workflow_cannot_be_escalated() {
        let (ports, notifier) = setup(WorkflowStatus::Approved).await;
        let err = handle(&ports, fixture()).await.unwrap_err();
        assert_eq!(err.name().as_str(), "InvalidTransition");
        assert!(notifier.sent.lock().unwrap().is_empty());
    }

    fn waiting(token: &str) -> EscalateInput {
        let mut input = fixture();
        input.task_token = Some(hitl_domain::model::TaskToken::new(token));
        input
    }

    #[tokio::test]
    async fn an_escalation_with_a_token_waits_for_a_resolution_until_its_sla() {
        let (ports, notifier) = setup(WorkflowStatus::AwaitingReview).await;
        handle(&ports, waiting("tok-1")).await.unwrap();
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        let awaiting = wf.escalation.as_ref().unwrap().awaiting.clone().unwrap();
        assert_eq!(awaiting.task_token.expose(), "tok-1");
        assert_eq!(
            (awaiting.deadline - awaiting.requested_at).num_seconds(),
            i64::try_from(wf.config.escalation_timeout_seconds).unwrap()
        );
        let sent = notifier.sent.lock().unwrap().clone();
        assert_eq!(sent[0].reviewer_group, "escalations");
        assert!(
            sent[0].message.contains("hitl resolve wf-esc"),
            "{}",
            sent[0].message
        );
        assert!(!sent[0].message.contains("tok-1"));
        // A retried task carries a new token: the record follows it; the same token writes
        // nothing.
        handle(&ports, waiting("tok-2")).await.unwrap();
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        let esc = wf.escalation.clone().unwrap();
        assert_eq!(esc.awaiting.unwrap().task_token.expose(), "tok-2");
        let version = wf.version;
        handle(&ports, waiting("tok-2")).await.unwrap();
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        assert_eq!(wf.version, version);

        // The SLA ran out: unresolved, for good.
        let mut expired = fixture();
        expired.unresolved = true;
        let out = handle(&ports, expired.clone()).await.unwrap();
        assert_eq!(out.status, WorkflowStatus::Escalated);
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        let esc = wf.escalation.unwrap();
        assert!(esc.awaiting.is_none() && esc.unresolved_at.is_some());
        assert_eq!(
            notifier
                .sent
                .lock()
                .unwrap()
                .last()
                .unwrap()
                .reason
                .as_deref(),
            Some("unresolved")
        );
        let version = wf.version;
        handle(&ports, expired).await.unwrap();
        let wf = ports.store.get_workflow("wf-esc").await.unwrap().unwrap();
        assert_eq!(wf.version, version, "recorded once");
    }
}
