//! Reminders before a deadline: a sweep over the workflows awaiting review (reminding the
//! reviewer group before the review deadline) and the escalations waiting for a resolution
//! (reminding the escalation group before the escalation deadline), at the workflow's
//! `reminders` offsets.
//! On AWS the scheduled housekeeping function runs it every minute; locally the virtual clock
//! stops at every reminder's instant (`hitl advance-time`) and `hitl serve` sweeps as it runs.
//!
//! A reminder is marked on the record first (a version-conditional write, so two sweeps never
//! both send it) and then published; a failed publish takes the mark back so the next sweep
//! tries again. A crash between the two loses that one reminder (the next offset still fires):
//! a reminder is never sent twice by concurrent sweeps.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use tracing::{info, warn};

use crate::model::{Workflow, WorkflowStatus};
use crate::ports::{Clock, Notification, NotificationKind, Notifier};
use crate::rules::{self, ReminderTarget};
use crate::store::{StoreError, WorkflowStore};

/// Workflows read per page of the awaiting-review index.
const PAGE: usize = 100;
/// Attempts of one workflow's conditional write before it is left for the next sweep.
const ATTEMPTS: usize = 3;

/// One reminder sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentReminder {
    /// Workflow.
    pub workflow_id: String,
    /// `review` (to the reviewer group) or `resolution` (to the escalation group).
    pub about: &'static str,
    /// Iteration under review.
    pub iteration: u32,
    /// How long before the deadline it was configured to fire, in seconds.
    pub offset_seconds: u64,
    /// The review deadline.
    pub deadline: DateTime<Utc>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReminderReport {
    /// Workflows awaiting review that were looked at.
    pub examined: usize,
    /// Reminders sent.
    pub sent: Vec<SentReminder>,
    /// Reminders whose notification failed (taken back; the next sweep retries them).
    pub failed: usize,
}

/// Sends due reminders.
pub struct ReminderSweeper {
    store: Arc<dyn WorkflowStore>,
    review: Arc<dyn Notifier>,
    escalation: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    page_url: Option<String>,
}

/// "24 h" / "59 min": the time left until `deadline`, rounded to the minute (notifications
/// say the deadline both ways: "by 2026-12-10 09:00 UTC (in 72 h)").
pub fn time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = ((deadline - now).num_seconds().max(0) + 30) / 60;
    if minutes >= 120 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// The link to a workflow on the review page at `page_url` (which ends in `/`).
pub fn review_link(page_url: &str, workflow_id: &str) -> String {
    format!(
        "{}/#/workflows/{workflow_id}",
        page_url.trim_end_matches('/')
    )
}

impl ReminderSweeper {
    /// Wires the sweeper: review reminders go to `review` (the review topic), resolution
    /// reminders to `escalation` (the escalation topic); `page_url` (the review page, e.g. the
    /// `ReviewPageUrl` parameter) makes every reminder carry a link to the workflow.
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        review: Arc<dyn Notifier>,
        escalation: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        page_url: Option<String>,
    ) -> Self {
        Self {
            store,
            review,
            escalation,
            clock,
            page_url: page_url.filter(|u| !u.trim().is_empty()),
        }
    }

    /// One pass over (at most `limit` each) the workflows awaiting review and the escalated
    /// ones.
    pub async fn sweep(&self, limit: usize) -> Result<ReminderReport, StoreError> {
        let mut report = ReminderReport::default();
        for status in [WorkflowStatus::AwaitingReview, WorkflowStatus::Escalated] {
            self.sweep_status(status, limit, &mut report).await?;
        }
        Ok(report)
    }

    async fn sweep_status(
        &self,
        status: WorkflowStatus,
        limit: usize,
        report: &mut ReminderReport,
    ) -> Result<(), StoreError> {
        let mut cursor: Option<String> = None;
        let mut examined = 0;
        while examined < limit {
            let page = self
                .store
                .list_by_status(status, PAGE.min(limit - examined), cursor.as_deref())
                .await?;
            examined += page.items.len();
            for workflow in &page.items {
                report.examined += 1;
                // Smoke workflows are decided at once by the synthetic reviewer.
                if workflow.smoke.is_some() {
                    continue;
                }
                self.remind(workflow.clone(), report).await?;
            }
            cursor = page.next_cursor;
            if cursor.is_none() || page.items.is_empty() {
                break;
            }
        }
        Ok(())
    }

    async fn remind(
        &self,
        mut workflow: Workflow,
        report: &mut ReminderReport,
    ) -> Result<(), StoreError> {
        for _ in 0..ATTEMPTS {
            let now = self.clock.now();
            let Some((marked, offset, target)) = rules::mark_reminder(&workflow, now) else {
                return Ok(());
            };
            match self.store.update_workflow(&marked, workflow.version).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    match self.store.get_workflow(&workflow.id).await? {
                        Some(fresh) => workflow = fresh,
                        None => return Ok(()),
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            let Some(deadline) = rules::reminder_deadline(&marked) else {
                return Ok(());
            };
            let (notifier, notification) = match target {
                ReminderTarget::Review => (&self.review, self.notification(&marked, deadline, now)),
                ReminderTarget::Resolution => (
                    &self.escalation,
                    self.resolution_notification(&marked, deadline, now),
                ),
            };
            match notifier.publish(&notification).await {
                Ok(()) => {
                    info!(workflow_id = %marked.id, iteration = marked.iteration,
                        offset_seconds = offset, about = target.as_str(), "reminder sent");
                    report.sent.push(SentReminder {
                        workflow_id: marked.id.clone(),
                        about: target.as_str(),
                        iteration: marked.iteration,
                        offset_seconds: offset,
                        deadline,
                        sent_at: now,
                    });
                }
                Err(e) => {
                    warn!(workflow_id = %marked.id, about = target.as_str(), error = %e,
                        "reminder not sent; taken back for the next sweep");
                    report.failed += 1;
                    if let Some(back) = rules::unmark_reminder(&marked, offset, now) {
                        // Best effort: if someone changed the record meanwhile, the reminder
                        // stays marked and the next offset fires instead.
                        let _ = self.store.update_workflow(&back, marked.version).await;
                    }
                }
            }
            return Ok(());
        }
        Ok(())
    }

    fn resolution_notification(
        &self,
        workflow: &Workflow,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Notification {
        let link = self
            .page_url
            .as_deref()
            .map(|url| review_link(url, &workflow.id));
        let reason = workflow.escalation.as_ref().map(|e| e.reason.as_str());
        let mut message = format!(
            "Reminder: the escalation of {} ({}) still waits for a resolution by {}; unresolved, it ends at {} (in {}).",
            workflow.subject.name,
            reason.unwrap_or("escalated"),
            workflow.config.escalation_group,
            deadline.format("%Y-%m-%d %H:%M UTC"),
            time_left(deadline, now),
        );
        if let Some(link) = &link {
            message.push_str(&format!(" Resolve it: {link}"));
        }
        Notification::to_escalation_group(NotificationKind::ResolutionReminder, workflow, message)
            .because(reason.map(str::to_owned))
            .linking(link)
    }

    fn notification(
        &self,
        workflow: &Workflow,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Notification {
        let left = time_left(deadline, now);
        let link = self
            .page_url
            .as_deref()
            .map(|url| review_link(url, &workflow.id));
        let approvals = workflow
            .pending_review
            .as_ref()
            .map_or(0, |p| p.approvals.len());
        let mut message = format!(
            "Reminder: draft {} of {} still waits for a review by {}; the deadline is {} (in {left}).",
            workflow.iteration,
            workflow.subject.name,
            workflow.config.reviewer_group,
            deadline.format("%Y-%m-%d %H:%M UTC"),
        );
        if workflow.config.required_approvals > 1 {
            message.push_str(&format!(
                " Approvals so far: {approvals} of {}.",
                workflow.config.required_approvals
            ));
        }
        if let Some(link) = &link {
            message.push_str(&format!(" Review it: {link}"));
        }
        Notification::to_reviewers(NotificationKind::ReviewReminder, workflow, message)
            .linking(link)
    }
}
