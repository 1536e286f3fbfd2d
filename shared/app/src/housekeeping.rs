//! The housekeeping pass every deployment runs on a schedule (a minute on AWS, after every
//! engine step locally): the delivery outbox relay — every accepted decision whose delivery to
//! its execution is not confirmed is delivered, or found delivered, late or closed in the
//! execution's history — then the review and resolution reminders that are due.

use hitl_domain::feedback::ReconcileReport;
use hitl_domain::reminders::ReminderReport;
use hitl_domain::HandlerError;
use tracing::info;

use crate::Ports;

/// What one pass did.
#[derive(Debug, Default)]
pub struct HousekeepingReport {
    /// The outbox relay.
    pub deliveries: ReconcileReport,
    /// The reminders.
    pub reminders: ReminderReport,
}

/// One pass of the outbox relay over at most `limit` workflows in the outbox: decisions whose
/// delivery is pending, then notifications whose channels are due ([`NotificationOutbox`]).
/// A failing decision relay does not hold the notifications back.
///
/// [`NotificationOutbox`]: hitl_domain::notify::NotificationOutbox
pub async fn deliver_pending(ports: &Ports, limit: usize) -> Result<ReconcileReport, HandlerError> {
    let decisions = ports.decisions().reconcile(limit).await;
    // The relay's candidates: the index's first page (decisions first; notifications of a
    // workflow whose decision awaits delivery are only here) and, read on their own so that
    // failing decisions cannot crowd them out, the workflows whose notifications are due.
    let mut candidates = ports.store.list_pending_deliveries(limit).await?;
    for due in ports
        .store
        .list_due_notifications(ports.clock.now(), limit)
        .await?
    {
        if !candidates.iter().any(|c| c.id == due.id) {
            candidates.push(due);
        }
    }
    let notifications = ports.notifications().relay(&candidates).await?;
    let mut report = decisions?;
    report.notifications = notifications;
    if report != ReconcileReport::default() {
        info!(
            examined = report.examined,
            delivered = report.delivered,
            deferred = report.deferred,
            late = report.late,
            closed = report.closed,
            retry = report.retry,
            notifications_sent = report.notifications.sent,
            notifications_failed = report.notifications.failed,
            notifications_given_up = report.notifications.gave_up,
            "delivery outbox pass"
        );
    }
    Ok(report)
}

/// Sends the reminders due now, over at most `limit` workflows awaiting a person. A reminder
/// whose notification failed stays in the outbox; the relay retries it.
pub async fn send_due_reminders(
    ports: &Ports,
    limit: usize,
) -> Result<ReminderReport, HandlerError> {
    let report = ports.reminders().sweep(limit).await?;
    if !report.sent.is_empty() || report.failed > 0 {
        info!(
            examined = report.examined,
            sent = report.sent.len(),
            failed = report.failed,
            "reminder pass"
        );
    }
    Ok(report)
}

/// The whole pass: the relay over at most `delivery_limit` workflows, then the reminders over
/// at most `reminder_limit`. A failing relay does not hold the reminders back: both run, and
/// the relay's error is returned after the reminders were sent.
pub async fn pass(
    ports: &Ports,
    delivery_limit: usize,
    reminder_limit: usize,
) -> Result<HousekeepingReport, HandlerError> {
    let deliveries = deliver_pending(ports, delivery_limit).await;
    let reminders = send_due_reminders(ports, reminder_limit).await?;
    Ok(HousekeepingReport {
        deliveries: deliveries?,
        reminders,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    use chrono::Duration;
    use hitl_domain::feedback::Reviewer;
    use hitl_domain::model::{Channel, Delivery, WorkflowStatus};
    use hitl_domain::ports::ResumeError;
    use hitl_domain::testing::{FixedClock, RecordingNotifier, RecordingResumer};

    /// GIVEN one approval recorded while Step Functions was throttled and another workflow
    /// whose review reminder is due, WHEN one pass runs, THEN the approval reaches its
    /// execution and the reminder goes out, each once (a second pass does nothing).
    #[tokio::test]
    async fn one_pass_delivers_what_is_pending_and_sends_what_is_due() {
        let clock = Arc::new(FixedClock::default());
        let resumer = Arc::new(RecordingResumer::default());
        let notifier = Arc::new(RecordingNotifier::default());
        let ports = Ports::new(
            Arc::new(hitl_domain::testing::MemoryStore::default()),
            clock.clone(),
        )
        .with_resumer(resumer.clone())
        .with_review_notifier(notifier.clone())
        .with_escalation_notifier(Arc::new(RecordingNotifier::default()));
        let start = hitl_domain::ports::Clock::now(clock.as_ref());
        for id in ["wf-pending", "wf-remind"] {
            let wf = hitl_domain::testing::awaiting_review(id, "tok", start);
            ports.store.create_workflow(&wf).await.unwrap();
        }
        resumer.answer([Err(ResumeError::Transient("ThrottlingException".into()))]);
        let approve = crate::testing::approval(1);
        let reviewer = Reviewer::declared("rita", None, Channel::Cli);
        assert!(ports
            .decisions()
            .submit("wf-pending", &approve, "k-1", &reviewer)
            .await
            .is_err());
        // 48 h on: 24 h before the 72 h deadline, the first reminder of both is due; the
        // approved one no longer awaits review.
        clock.advance(Duration::hours(48));

        let first = pass(&ports, 100, 100).await.unwrap();
        let second = pass(&ports, 100, 100).await.unwrap();

        assert_eq!(
            (first.deliveries.examined, first.deliveries.delivered),
            (1, 1)
        );
        assert_eq!(first.reminders.sent.len(), 1);
        assert_eq!(second.deliveries, ReconcileReport::default());
        assert!(second.reminders.sent.is_empty());
        assert_eq!(resumer.delivered.lock().unwrap().len(), 1);
        let sent = notifier.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].workflow_id, "wf-remind");
        let wf = ports
            .store
            .get_workflow("wf-pending")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(wf.status, WorkflowStatus::Approved);
        assert!(matches!(
            wf.decisions[0].delivery,
            Some(Delivery::Delivered { .. })
        ));
    }

    /// GIVEN a pass that reads one workflow at a time, a decision whose delivery keeps failing
    /// (Step Functions throttled) and another workflow whose review request waits in the
    /// notification outbox, WHEN a pass runs after the request's hold, THEN the request is
    /// sent: the relay reads due notifications on their own, so decisions cannot crowd them out.
    #[tokio::test]
    async fn failing_decisions_do_not_hide_a_due_notification() {
        let clock = Arc::new(FixedClock::default());
        let resumer = Arc::new(RecordingResumer::default());
        let notifier = Arc::new(RecordingNotifier::default());
        let ports = Ports::new(
            Arc::new(hitl_domain::testing::MemoryStore::default()),
            clock.clone(),
        )
        .with_resumer(resumer.clone())
        .with_review_notifier(notifier.clone())
        .with_escalation_notifier(Arc::new(RecordingNotifier::default()));
        let start = hitl_domain::ports::Clock::now(clock.as_ref());
        for id in ["wf-decided", "wf-notify"] {
            let wf = hitl_domain::testing::awaiting_review(id, "tok", start);
            ports.store.create_workflow(&wf).await.unwrap();
        }
        resumer.answer((0..3).map(|_| Err(ResumeError::Transient("ThrottlingException".into()))));
        let reviewer = Reviewer::declared("rita", None, Channel::Cli);
        assert!(ports
            .decisions()
            .submit("wf-decided", &crate::testing::approval(1), "k-1", &reviewer)
            .await
            .is_err());
        // The review request of wf-notify, written but not sent (its writer crashed).
        let wf = ports
            .store
            .get_workflow("wf-notify")
            .await
            .unwrap()
            .unwrap();
        let mut next = wf.clone();
        next.version += 1;
        let note = hitl_domain::ports::Notification::to_reviewers(
            hitl_domain::model::NotificationKind::ReviewRequested,
            &wf,
            "Draft 1 is ready".into(),
        );
        assert!(ports
            .notifications()
            .add(&mut next, None, note, start)
            .is_some());
        ports
            .store
            .update_workflow(&next, wf.version)
            .await
            .unwrap();
        clock.advance(Duration::minutes(2));

        let report = deliver_pending(&ports, 1).await.unwrap();

        assert_eq!((report.examined, report.retry), (1, 1), "{report:?}");
        assert_eq!(report.notifications.sent, 1, "{report:?}");
        let sent = notifier.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].workflow_id, "wf-notify");
    }
}
