//! The notification outbox: a notification is written into the workflow's record in the same
//! conditional write as the change it tells of ([`enqueue`]), then sent on each channel and
//! settled per channel ([`NotificationOutbox`]).
//!
//! **Nothing lost.** The record holds the notification before anything is sent, so a crash
//! or a failed channel leaves it pending, and the relay (the scheduled housekeeping on AWS,
//! every engine step locally) sends it later. A channel that keeps failing is retried with
//! backoff ([`backoff`]) and given up after [`MAX_ATTEMPTS`], counted by the
//! `NotificationsGivenUp` metric (alarmed on AWS).
//!
//! **Nothing sent twice by two senders.** The writer of the record holds every channel for
//! [`LEASE`] (its `next_attempt_at`); the relay takes a due channel with a version-conditional
//! write first, so two relays or a relay and the writer never send the same channel at once.
//! A notification written again (a retried function) is not added twice: its id is unique per
//! workflow, kind, iteration and occasion. What no outbox can rule out is a crash after a
//! channel accepted the message and before the record says so; the relay then sends it again
//! with the same delivery id ([`NotificationRecord::delivery_id`]: the email's `Message-ID`,
//! the webhook's `X-Hitl-Delivery`, the SNS attribute `delivery_id`), which receivers
//! deduplicate by.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tracing::{info, warn};

use crate::error::HandlerError;
use crate::failpoints;
use crate::metrics;
use crate::model::{
    ChannelDelivery, ChannelStatus, Notification, NotificationKind, NotificationRecord, Workflow,
};
use crate::optimistic::mutate;
use crate::ports::{Clock, MetricsSink, Notifier};
use crate::store::WorkflowStore;

/// How long the writer of a record (or a relay that took a channel) holds it before a relay
/// may take it: longer than any channel's own retry budget.
pub const LEASE: Duration = Duration::seconds(60);
/// Attempts per channel before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// Records kept per workflow: the oldest settled ones go first (pending ones are never
/// dropped). Bounded so the record stays far under DynamoDB's 400 KB item limit.
pub const KEPT_RECORDS: usize = 64;

/// The wait after the `attempts`-th failed attempt: 30 s, doubling, at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(7);
    Duration::seconds((30_i64 << exponent).min(3600))
}

/// The record id of a notification: its kind, the iteration and what makes it unique beyond
/// them (a reminder's offset, `unresolved`), as `review_reminder/2/3600`.
pub fn record_id(kind: NotificationKind, iteration: u32, occasion: Option<&str>) -> String {
    match occasion {
        Some(extra) => format!("{}/{iteration}/{extra}", kind.as_str()),
        None => format!("{}/{iteration}", kind.as_str()),
    }
}

/// Adds `notification` to `workflow`'s outbox as `id`, pending on every one of `channels` and
/// held by the writer until `now +` [`LEASE`]. Returns `false` (and changes nothing) when a
/// record with that id is there already: the notification was written before.
pub fn enqueue(
    workflow: &mut Workflow,
    id: String,
    notification: Notification,
    channels: Vec<String>,
    now: DateTime<Utc>,
) -> bool {
    if workflow.notification(&id).is_some() {
        return false;
    }
    workflow.notifications.push(NotificationRecord {
        id,
        notification,
        created_at: now,
        channels: channels
            .into_iter()
            .map(|channel| ChannelDelivery {
                channel,
                status: ChannelStatus::Pending,
                attempts: 0,
                next_attempt_at: Some(now + LEASE),
                sent_at: None,
                last_error: None,
            })
            .collect(),
    });
    while workflow.notifications.len() > KEPT_RECORDS {
        match workflow.notifications.iter().position(|n| !n.is_pending()) {
            Some(oldest_settled) => {
                workflow.notifications.remove(oldest_settled);
            }
            None => break,
        }
    }
    true
}

/// Which group's notifier a kind goes to.
fn for_escalation_group(kind: NotificationKind) -> bool {
    matches!(
        kind,
        NotificationKind::Escalated | NotificationKind::ResolutionReminder
    )
}

/// What sending did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotificationReport {
    /// Channel deliveries that succeeded.
    pub sent: usize,
    /// Channel deliveries that failed and wait for their next attempt.
    pub failed: usize,
    /// Channel deliveries given up after [`MAX_ATTEMPTS`].
    pub gave_up: usize,
}

impl NotificationReport {
    /// Adds another report's figures to these.
    pub fn add(&mut self, other: &Self) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.gave_up += other.gave_up;
    }
}

/// One channel's attempt, to be settled on the record.
struct Attempt {
    record: String,
    channel: String,
    result: Result<(), String>,
}

/// Sends what the outbox holds, per channel, and settles each channel on the record.
pub struct NotificationOutbox {
    store: Arc<dyn WorkflowStore>,
    clock: Arc<dyn Clock>,
    review: Arc<dyn Notifier>,
    escalation: Arc<dyn Notifier>,
    metrics: Arc<dyn MetricsSink>,
}

impl NotificationOutbox {
    /// Over the store, the clock, the reviewer groups' and the escalation group's notifiers.
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        clock: Arc<dyn Clock>,
        review: Arc<dyn Notifier>,
        escalation: Arc<dyn Notifier>,
        metrics: Arc<dyn MetricsSink>,
    ) -> Self {
        Self {
            store,
            clock,
            review,
            escalation,
            metrics,
        }
    }

    /// The channels a notification of `kind` is written for.
    pub fn channels_for(&self, kind: NotificationKind) -> Vec<String> {
        self.notifier(kind).channels()
    }

    /// [`enqueue`]s `notification` into `workflow` under the id of its kind, iteration and
    /// `occasion` ([`record_id`]), pending on every channel of its group. Returns the id when
    /// this call added it (the caller then sends it with [`Self::send_enqueued`]), `None` when
    /// it was written before.
    pub fn add(
        &self,
        workflow: &mut Workflow,
        occasion: Option<&str>,
        notification: Notification,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let id = record_id(notification.kind, notification.iteration, occasion);
        let channels = self.channels_for(notification.kind);
        enqueue(workflow, id.clone(), notification, channels, now).then_some(id)
    }

    fn notifier(&self, kind: NotificationKind) -> &Arc<dyn Notifier> {
        if for_escalation_group(kind) {
            &self.escalation
        } else {
            &self.review
        }
    }

    /// Sends the record `id` of `workflow` on its pending channels, as the writer that just
    /// enqueued it (and so holds it), and settles them. A failure is recorded for the relay,
    /// not returned: the change the notification tells of is done.
    pub async fn send_enqueued(
        &self,
        workflow: &Workflow,
        id: &str,
    ) -> Result<NotificationReport, HandlerError> {
        let Some(record) = workflow.notification(id) else {
            return Ok(NotificationReport::default());
        };
        failpoints::crash_point(failpoints::NOTIFY_AFTER_ENQUEUE);
        let channels: Vec<String> = record
            .channels
            .iter()
            .filter(|c| c.status == ChannelStatus::Pending)
            .map(|c| c.channel.clone())
            .collect();
        let attempts = self.attempt(record, &channels).await;
        self.settle(&workflow.id, attempts).await
    }

    /// One pass of the relay over the workflows of `candidates` (those in the outbox): every
    /// channel whose time has come is taken, sent and settled.
    pub async fn relay(&self, candidates: &[Workflow]) -> Result<NotificationReport, HandlerError> {
        let mut report = NotificationReport::default();
        for workflow in candidates {
            let now = self.clock.now();
            let due = |c: &ChannelDelivery| {
                c.status == ChannelStatus::Pending && c.next_attempt_at.is_none_or(|t| t <= now)
            };
            if !workflow
                .notifications
                .iter()
                .any(|n| n.channels.iter().any(due))
            {
                continue;
            }
            // Take the due channels: a version-conditional write, so another relay (or the
            // writer's retry) that read the same record takes nothing.
            let (taken, claimed) = mutate(self.store.as_ref(), &workflow.id, |current| {
                let mut next = current.clone();
                let mut claimed: Vec<(String, Vec<String>)> = Vec::new();
                for record in &mut next.notifications {
                    let mut channels = Vec::new();
                    for channel in &mut record.channels {
                        if due(channel) {
                            channel.next_attempt_at = Some(now + LEASE);
                            channels.push(channel.channel.clone());
                        }
                    }
                    if !channels.is_empty() {
                        claimed.push((record.id.clone(), channels));
                    }
                }
                if claimed.is_empty() {
                    return Ok((None, claimed));
                }
                next.version = current.version + 1;
                Ok((Some(next), claimed))
            })
            .await?;
            let mut attempts = Vec::new();
            for (id, channels) in claimed {
                if let Some(record) = taken.notification(&id) {
                    failpoints::crash_point(failpoints::NOTIFY_RELAY_BEFORE_SEND);
                    attempts.extend(self.attempt(record, &channels).await);
                }
            }
            report.add(&self.settle(&workflow.id, attempts).await?);
        }
        Ok(report)
    }

    async fn attempt(&self, record: &NotificationRecord, channels: &[String]) -> Vec<Attempt> {
        let notifier = self.notifier(record.notification.kind);
        let delivery_id = record.delivery_id();
        let mut attempts = Vec::new();
        for channel in channels {
            let result = notifier
                .publish_on(channel, &record.notification, &delivery_id)
                .await
                .map_err(|e| e.to_string());
            failpoints::crash_point(failpoints::NOTIFY_AFTER_SEND);
            attempts.push(Attempt {
                record: record.id.clone(),
                channel: channel.clone(),
                result,
            });
        }
        attempts
    }

    /// Writes the attempts' results on the record (re-read on a conflict).
    async fn settle(
        &self,
        workflow_id: &str,
        attempts: Vec<Attempt>,
    ) -> Result<NotificationReport, HandlerError> {
        if attempts.is_empty() {
            return Ok(NotificationReport::default());
        }
        let now = self.clock.now();
        let (_, report) = mutate(self.store.as_ref(), workflow_id, |current| {
            let mut next = current.clone();
            let mut report = NotificationReport::default();
            for attempt in &attempts {
                let Some(channel) = next
                    .notifications
                    .iter_mut()
                    .find(|n| n.id == attempt.record)
                    .and_then(|n| n.channels.iter_mut().find(|c| c.channel == attempt.channel))
                else {
                    continue;
                };
                if channel.status != ChannelStatus::Pending {
                    continue;
                }
                channel.attempts += 1;
                match &attempt.result {
                    Ok(()) => {
                        channel.status = ChannelStatus::Sent;
                        channel.sent_at = Some(now);
                        channel.next_attempt_at = None;
                        report.sent += 1;
                    }
                    Err(why) => {
                        channel.last_error = Some(why.chars().take(500).collect());
                        if channel.attempts >= MAX_ATTEMPTS {
                            channel.status = ChannelStatus::GaveUp;
                            channel.next_attempt_at = None;
                            report.gave_up += 1;
                        } else {
                            channel.next_attempt_at = Some(now + backoff(channel.attempts));
                            report.failed += 1;
                        }
                    }
                }
            }
            if report == NotificationReport::default() {
                return Ok((None, report));
            }
            next.version = current.version + 1;
            Ok((Some(next), report))
        })
        .await?;
        for attempt in &attempts {
            match &attempt.result {
                Ok(()) => info!(%workflow_id, notification = %attempt.record,
                    channel = %attempt.channel, "notification sent"),
                Err(why) => warn!(%workflow_id, notification = %attempt.record,
                    channel = %attempt.channel, error = %why,
                    "notification not sent; kept in the outbox for a later attempt"),
            }
        }
        for _ in 0..report.gave_up {
            self.metrics.record(&metrics::notification_given_up());
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::WorkflowStatus;
    use crate::ports::NoMetrics;
    use crate::store::contract::sample_workflow;
    use crate::testing::{FixedClock, MemoryStore, RecordingNotifier};

    fn notification(workflow: &Workflow) -> Notification {
        Notification::to_reviewers(
            NotificationKind::ReviewRequested,
            workflow,
            "Draft 1 is ready".into(),
        )
    }

    struct Setup {
        store: Arc<dyn WorkflowStore>,
        clock: Arc<FixedClock>,
        sns: Arc<RecordingNotifier>,
        email: Arc<RecordingNotifier>,
        outbox: NotificationOutbox,
    }

    /// GIVEN a workflow whose review request is in the outbox for two channels.
    async fn setup() -> (Setup, Workflow) {
        let store: Arc<dyn WorkflowStore> = Arc::new(MemoryStore::default());
        let clock = Arc::new(FixedClock::default());
        let sns = Arc::new(RecordingNotifier::named("sns"));
        let email = Arc::new(RecordingNotifier::named("email"));
        let review: Arc<dyn Notifier> = Arc::new(crate::ports::Fanout::new(vec![
            sns.clone() as Arc<dyn Notifier>,
            email.clone(),
        ]));
        let outbox = NotificationOutbox::new(
            store.clone(),
            clock.clone(),
            review,
            Arc::new(RecordingNotifier::named("escalations")),
            Arc::new(NoMetrics),
        );
        let mut wf = sample_workflow("wf-outbox");
        wf.status = WorkflowStatus::AwaitingReview;
        store.create_workflow(&wf).await.unwrap();
        let note = notification(&wf);
        let channels = outbox.channels_for(NotificationKind::ReviewRequested);
        assert_eq!(channels, ["sns", "email"]);
        let (written, _) = mutate(store.as_ref(), &wf.id, |current| {
            let mut next = current.clone();
            next.version += 1;
            let added = enqueue(
                &mut next,
                record_id(NotificationKind::ReviewRequested, 1, None),
                note.clone(),
                channels.clone(),
                clock.now(),
            );
            Ok((added.then_some(next), ()))
        })
        .await
        .unwrap();
        (
            Setup {
                store,
                clock,
                sns,
                email,
                outbox,
            },
            written,
        )
    }

    async fn stored(s: &Setup) -> Workflow {
        s.store.get_workflow("wf-outbox").await.unwrap().unwrap()
    }

    const ID: &str = "review_requested/1";

    #[tokio::test]
    async fn the_writer_sends_each_channel_once_and_the_record_leaves_the_outbox() {
        let (s, written) = setup().await;
        assert!(written.in_outbox());
        let report = s.outbox.send_enqueued(&written, ID).await.unwrap();
        assert_eq!(report.sent, 2);
        let wf = stored(&s).await;
        assert!(!wf.in_outbox());
        let record = wf.notification(ID).unwrap();
        assert!(record
            .channels
            .iter()
            .all(|c| c.status == ChannelStatus::Sent && c.attempts == 1));
        // The relay finds nothing to do.
        s.clock.advance(Duration::hours(1));
        let again = s.outbox.relay(&[wf]).await.unwrap();
        assert_eq!(again, NotificationReport::default());
        assert_eq!(s.sns.sent.lock().unwrap().len(), 1);
        assert_eq!(s.email.sent.lock().unwrap().len(), 1);
        assert_eq!(
            s.sns.ids.lock().unwrap().as_slice(),
            ["wf-outbox/review_requested/1"]
        );
    }

    #[tokio::test]
    async fn a_failed_channel_is_retried_alone_with_backoff_and_the_other_is_not_sent_twice() {
        let (s, written) = setup().await;
        *s.email.fail.lock().unwrap() = true;
        let report = s.outbox.send_enqueued(&written, ID).await.unwrap();
        assert_eq!((report.sent, report.failed), (1, 1));
        let wf = stored(&s).await;
        assert!(wf.in_outbox());
        let email = &wf.notification(ID).unwrap().channels[1];
        assert_eq!(
            email.last_error.as_deref(),
            Some("notification failed: injected")
        );
        assert_eq!(email.next_attempt_at, Some(s.clock.now() + backoff(1)));
        // Not yet due: the relay leaves it.
        s.clock.advance(Duration::seconds(10));
        assert_eq!(
            s.outbox.relay(&[stored(&s).await]).await.unwrap(),
            NotificationReport::default()
        );
        *s.email.fail.lock().unwrap() = false;
        s.clock.advance(Duration::seconds(30));
        let report = s.outbox.relay(&[stored(&s).await]).await.unwrap();
        assert_eq!(report.sent, 1);
        assert!(!stored(&s).await.in_outbox());
        assert_eq!(s.sns.sent.lock().unwrap().len(), 1, "sns sent once");
        assert_eq!(s.email.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_channel_that_keeps_failing_is_given_up_after_the_last_attempt() {
        let (s, written) = setup().await;
        *s.email.fail.lock().unwrap() = true;
        s.outbox.send_enqueued(&written, ID).await.unwrap();
        let mut gave_up = 0;
        for _ in 1..MAX_ATTEMPTS {
            s.clock.advance(Duration::hours(2));
            gave_up += s.outbox.relay(&[stored(&s).await]).await.unwrap().gave_up;
        }
        assert_eq!(gave_up, 1);
        let wf = stored(&s).await;
        let email = &wf.notification(ID).unwrap().channels[1];
        assert_eq!(
            (email.status, email.attempts),
            (ChannelStatus::GaveUp, MAX_ATTEMPTS)
        );
        assert!(!wf.in_outbox(), "given up: out of the relay's index");
    }

    #[tokio::test]
    async fn a_record_nobody_sent_is_sent_by_the_relay_after_the_lease_and_by_one_relay_only() {
        let (s, written) = setup().await;
        // The writer crashed after its write: nothing sent. Within the lease nobody takes it.
        assert_eq!(
            s.outbox
                .relay(std::slice::from_ref(&written))
                .await
                .unwrap(),
            NotificationReport::default()
        );
        s.clock.advance(LEASE);
        // Two relays handed the same (stale) record: the second takes what the store holds
        // now, where the first has sent and settled both channels, so it sends nothing.
        let first = s
            .outbox
            .relay(std::slice::from_ref(&written))
            .await
            .unwrap();
        let second = s.outbox.relay(&[written]).await.unwrap();
        assert_eq!((first.sent, second.sent), (2, 0));
        assert_eq!(s.sns.sent.lock().unwrap().len(), 1);
        assert_eq!(s.email.sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_same_notification_is_not_written_twice_and_old_settled_records_are_dropped() {
        let mut wf = sample_workflow("wf-keep");
        let note = notification(&wf);
        let now = wf.created_at;
        assert!(enqueue(
            &mut wf,
            "a".into(),
            note.clone(),
            vec!["sns".into()],
            now
        ));
        assert!(!enqueue(
            &mut wf,
            "a".into(),
            note.clone(),
            vec!["sns".into()],
            now
        ));
        assert_eq!(wf.notifications.len(), 1);
        for record in &mut wf.notifications {
            record.channels[0].status = ChannelStatus::Sent;
        }
        for i in 0..KEPT_RECORDS {
            enqueue(
                &mut wf,
                format!("n{i}"),
                note.clone(),
                vec!["sns".into()],
                now,
            );
        }
        assert_eq!(wf.notifications.len(), KEPT_RECORDS);
        assert!(
            wf.notification("a").is_none(),
            "the oldest settled one went"
        );
        assert!(wf.notification("n0").is_some(), "pending ones are kept");
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
