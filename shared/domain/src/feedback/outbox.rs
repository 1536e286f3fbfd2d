//! The outbox relay: confirming deferred deliveries and delivering what is still pending.

use serde::Serialize;
use tracing::{info, warn};

use super::processor::*;
use super::request::*;
use crate::failpoints;
use crate::model::Delivery;
use crate::notify::NotificationReport;
use crate::ports::Clock;

/// What one [`FeedbackProcessor::reconcile`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Workflows with a pending delivery that were looked at.
    pub examined: usize,
    /// Decisions the execution now has (delivered now, or found delivered in its history).
    pub delivered: usize,
    /// Decisions handed to the local engine's queue (confirmed when the queue is delivered).
    pub deferred: usize,
    /// Decisions that arrived after the wait timed out: kept, marked late.
    pub late: usize,
    /// Tasks found closed whose fate the history could not tell.
    pub closed: usize,
    /// Deliveries that failed transiently and stay pending for the next pass.
    pub retry: usize,
    /// The notifications the same pass sent from the outbox ([`crate::notify`]).
    pub notifications: NotificationReport,
}

impl ReconcileReport {
    /// Adds another pass's figures to these.
    pub fn add(&mut self, other: &Self) {
        self.examined += other.examined;
        self.delivered += other.delivered;
        self.deferred += other.deferred;
        self.late += other.late;
        self.closed += other.closed;
        self.retry += other.retry;
        self.notifications.add(&other.notifications);
    }
}

/// The outbox relay: confirming deferred deliveries and delivering what is still pending.
impl FeedbackProcessor {
    /// Records that the execution accepted the decision stored under `feedback_key` (used by
    /// whoever delivered a deferred resumption, such as the local engine's queue).
    pub async fn confirm_delivered(
        &self,
        workflow_id: &str,
        feedback_key: &str,
    ) -> Result<(), FeedbackError> {
        let Some(workflow) = self.store.get_workflow(workflow_id).await? else {
            return Ok(());
        };
        let Some(decision) = workflow
            .decisions
            .iter()
            .find(|d| d.feedback_key == feedback_key)
            .cloned()
        else {
            return Ok(());
        };
        self.settle(
            &workflow,
            &decision,
            Delivery::Delivered {
                at: self.clock.now(),
            },
        )
        .await
    }

    /// Delivers every decision still marked pending (at most `limit` workflows): the outbox
    /// relay. Idempotent and safe to run concurrently with inline deliveries and with other
    /// passes: a decision delivered twice is the same task output, and the second delivery
    /// finds the task closed by it in the execution's history.
    pub async fn reconcile(&self, limit: usize) -> Result<ReconcileReport, FeedbackError> {
        let mut report = ReconcileReport::default();
        for workflow in self.store.list_pending_deliveries(limit).await? {
            let Some(decision) = workflow.pending_delivery().cloned() else {
                continue;
            };
            report.examined += 1;
            failpoints::crash_point(failpoints::RECONCILE_BEFORE_DELIVER);
            let Some(token) = decision.task_token.clone() else {
                self.settle(
                    &workflow,
                    &decision,
                    Delivery::Closed {
                        at: self.clock.now(),
                        detail: "no task token on the decision".into(),
                    },
                )
                .await?;
                report.closed += 1;
                continue;
            };
            match self.deliver(&workflow, &decision, &token).await {
                Ok(DeliveryAttempt::Settled(Delivery::Delivered { .. })) => report.delivered += 1,
                Ok(DeliveryAttempt::Settled(_)) => report.closed += 1,
                Ok(DeliveryAttempt::Late(_)) => report.late += 1,
                Ok(DeliveryAttempt::Deferred) => report.deferred += 1,
                Err(FeedbackError::ResumeFailed(e)) => {
                    warn!(workflow_id = %workflow.id, error = %e, "delivery failed; stays pending");
                    report.retry += 1;
                }
                Err(e) => return Err(e),
            }
        }
        if report.examined > 0 {
            info!(?report, "delivery reconciliation");
        }
        Ok(report)
    }
}
