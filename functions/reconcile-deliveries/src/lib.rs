//! The scheduled housekeeping on AWS, run by an EventBridge Scheduler schedule every minute:
//! the outbox relay — delivers every accepted decision whose delivery to its execution is not
//! confirmed (the sparse `GSI2` index of pending deliveries) through the same
//! [`housekeeping::pass`] the local runtime uses — and the review reminders (over the
//! awaiting-review index). A pass that leaves transient
//! delivery failures behind returns `ResumeFailed`, so Lambda retries the invocation and,
//! after its retries, sends it to the dead-letter queue (both alarmed); the decisions stay
//! pending and the next pass picks them up again. The same pass relays the notification
//! outbox (`hitl_domain::notify`): a notification a channel has not sent is sent when its
//! backoff has passed, and given up (the `NotificationsGivenUp` alarm) after its last attempt.

use hitl_app::{housekeeping, Ports};

use hitl_domain::feedback::ReconcileReport;
use hitl_domain::HandlerError;
use serde::Deserialize;

/// Default and largest number of workflows one pass looks at.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;

/// The schedule's payload. Unknown fields are ignored (a scheduler may add its own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ReconcileInput {
    /// Workflows to look at in this pass (1..=1000, default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Handles one invocation: one reconciliation pass.
pub async fn handle(ports: &Ports, input: ReconcileInput) -> Result<ReconcileReport, HandlerError> {
    let limit = match input.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(HandlerError::field(
                "limit",
                format!("must be 1..={MAX_LIMIT}, got {n}"),
            ))
        }
    };
    let report = housekeeping::pass(ports, limit, MAX_LIMIT)
        .await?
        .deliveries;
    if report.retry > 0 {
        return Err(HandlerError::ResumeFailed(format!(
            "{} of {} pending deliveries failed transiently; they stay pending for the next pass",
            report.retry, report.examined
        )));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hitl_domain::feedback::{FeedbackRequest, Reviewer};
    use hitl_domain::model::{Delivery, WorkflowStatus};
    use hitl_domain::ports::Clock;
    use hitl_domain::ports::ResumeError;

    use hitl_domain::store::WorkflowStore;
    use hitl_domain::testing::{awaiting_review, MemoryStore};
    use hitl_domain::testing::{FixedClock, RecordingNotifier, RecordingResumer};
    use std::sync::Arc;

    /// GIVEN an approval recorded while Step Functions was throttled (the decision is pending)
    async fn pending_approval() -> (Ports, Arc<RecordingResumer>) {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let clock = Arc::new(FixedClock::default());
        let mut wf = awaiting_review("wf-rc", "tok-rc", clock.now());
        wf.execution_arn =
            Some("arn:aws:states:eu-west-1:1:execution:hitl-review-dev:wf-rc".into());
        store.create_workflow(&wf).await.unwrap();
        let resumer = Arc::new(RecordingResumer::default());
        resumer.answer([Err(ResumeError::Transient("ThrottlingException".into()))]);
        let ports = Ports::new(store, clock)
            .with_resumer(resumer.clone())
            .with_review_notifier(Arc::new(RecordingNotifier::default()))
            .with_escalation_notifier(Arc::new(RecordingNotifier::default()))
            .with_page_url(None);
        let processor = ports.decisions();
        let request = FeedbackRequest {
            iteration: Some(1),
            decision: Some("approve".into()),
            comments: None,
            corrections: vec![],
        };
        let reviewer = Reviewer::declared("rita", None, hitl_domain::model::Channel::Api);
        assert!(processor
            .submit("wf-rc", &request, "k-rc", &reviewer)
            .await
            .is_err());
        (ports, resumer)
    }

    #[tokio::test]
    async fn a_pending_decision_is_delivered_once_and_settled() {
        let (ports, resumer) = pending_approval().await;
        let input: ReconcileInput =
            serde_json::from_str(include_str!("../fixtures/schedule.json")).unwrap();
        // WHEN the schedule runs twice
        let first = handle(&ports, input.clone()).await.unwrap();
        let second = handle(&ports, input).await.unwrap();
        // THEN the decision reached the execution exactly once and is settled
        assert_eq!((first.examined, first.delivered), (1, 1));
        assert_eq!(second, ReconcileReport::default());
        assert_eq!(resumer.delivered.lock().unwrap().len(), 1);
        let wf = ports.store.get_workflow("wf-rc").await.unwrap().unwrap();
        assert_eq!(wf.status, WorkflowStatus::Approved);
        assert!(matches!(
            wf.decisions[0].delivery,
            Some(Delivery::Delivered { .. })
        ));
    }

    #[tokio::test]
    async fn a_transient_failure_fails_the_invocation_and_keeps_the_decision_pending() {
        let (ports, resumer) = pending_approval().await;
        resumer.answer([Err(ResumeError::Transient("ThrottlingException".into()))]);
        let err = handle(&ports, ReconcileInput::default()).await.unwrap_err();
        assert_eq!(err.name().as_str(), "ResumeFailed");
        let wf = ports.store.get_workflow("wf-rc").await.unwrap().unwrap();
        assert!(wf.pending_delivery().is_some());
        // The next pass delivers it.
        assert_eq!(
            handle(&ports, ReconcileInput::default())
                .await
                .unwrap()
                .delivered,
            1
        );
    }

    #[tokio::test]
    async fn a_bad_limit_is_refused_with_the_field_named() {
        let (ports, _) = pending_approval().await;
        let err = handle(&ports, ReconcileInput { limit: Some(0) })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid input: limit: must be 1..=1000, got 0"
        );
    }

    /// GIVEN a review requested 72 h before its deadline with the default reminders (24 h and
    /// 1 h before), WHEN the schedule runs as time passes, THEN each reminder is sent once, with
    /// a link to the workflow on the review page; a failed notification is retried by the next
    /// pass, not lost and not doubled.
    #[tokio::test]
    async fn reminders_are_sent_once_each_and_a_failed_one_is_retried() {
        use chrono::Duration;
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let clock = Arc::new(FixedClock::default());
        let wf = awaiting_review("wf-rem", "tok", clock.now());
        store.create_workflow(&wf).await.unwrap();
        let notifier = Arc::new(RecordingNotifier::default());
        let ports = Ports::new(store, clock.clone())
            .with_resumer(Arc::new(RecordingResumer::default()))
            .with_review_notifier(notifier.clone())
            .with_escalation_notifier(Arc::new(RecordingNotifier::default()))
            .with_page_url(Some("https://review.example.com/".into()));
        let sent = || notifier.sent.lock().unwrap().len();
        handle(&ports, ReconcileInput::default()).await.unwrap();
        assert_eq!(sent(), 0, "nothing due right after the request");
        // 24 h before the deadline, but SNS fails: kept in the outbox, retried by a later pass
        // once its backoff has passed.
        clock.advance(Duration::hours(48));
        *notifier.fail.lock().unwrap() = true;
        handle(&ports, ReconcileInput::default()).await.unwrap();
        assert_eq!(sent(), 0);
        *notifier.fail.lock().unwrap() = false;
        handle(&ports, ReconcileInput::default()).await.unwrap();
        assert_eq!(sent(), 0, "not before its backoff");
        clock.advance(hitl_domain::notify::backoff(1));
        let report = handle(&ports, ReconcileInput::default()).await.unwrap();
        assert_eq!(report.notifications.sent, 1);
        handle(&ports, ReconcileInput::default()).await.unwrap();
        assert_eq!(sent(), 1, "sent once when SNS is back");
        let first = notifier.sent.lock().unwrap()[0].clone();
        assert_eq!(
            first.link.as_deref(),
            Some("https://review.example.com/#/workflows/wf-rem")
        );
        assert!(first.message.contains("in 24 h"), "{}", first.message);
        // 1 h before the deadline: the second reminder; then nothing more.
        clock.advance(Duration::hours(23));
        handle(&ports, ReconcileInput::default()).await.unwrap();
        clock.advance(Duration::minutes(30));
        handle(&ports, ReconcileInput::default()).await.unwrap();
        assert_eq!(sent(), 2);
        let wf = ports.store.get_workflow("wf-rem").await.unwrap().unwrap();
        assert_eq!(wf.pending_review.unwrap().reminders_sent, 2);
    }
}
