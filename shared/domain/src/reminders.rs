//! Reminders before a deadline: a sweep over the workflows awaiting review (reminding the
//! reviewer group before the review deadline) and the escalations waiting for a resolution
//! (reminding the escalation group before the escalation deadline), at the workflow's
//! `reminders` offsets.
//! On AWS the scheduled housekeeping function runs it every minute; locally the virtual clock
//! stops at every reminder's instant (`hitl advance-time`) and `hitl serve` sweeps as it runs.
//!
//! A reminder is marked on the record together with its notification in the outbox (one
//! version-conditional write, so two sweeps never both write it), then sent
//! ([`crate::notify`]): a failed channel or a crash after the write leaves it in the outbox
//! and the relay sends it later; a reminder is never sent twice by concurrent sweeps.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use tracing::{info, warn};

use crate::model::{Workflow, WorkflowStatus};
use crate::notify::NotificationOutbox;
use crate::ports::{Clock, Notification, NotificationKind};
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
    /// Reminders written whose notification failed on some channel (kept in the outbox; the
    /// relay retries them).
    pub failed: usize,
}

/// Sends due reminders.
pub struct ReminderSweeper {
    store: Arc<dyn WorkflowStore>,
    outbox: NotificationOutbox,
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
    /// Wires the sweeper: reminders go through `outbox` (review reminders to the reviewer
    /// groups' channels, resolution reminders to the escalation group's); `page_url` (the
    /// review page, e.g. the `ReviewPageUrl` parameter) makes every reminder carry a link to
    /// the workflow.
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        outbox: NotificationOutbox,
        clock: Arc<dyn Clock>,
        page_url: Option<String>,
    ) -> Self {
        Self {
            store,
            outbox,
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
            let Some((mut marked, offset, target)) = rules::mark_reminder(&workflow, now) else {
                return Ok(());
            };
            let Some(deadline) = rules::reminder_deadline(&marked) else {
                return Ok(());
            };
            let notification = match target {
                ReminderTarget::Review => self.notification(&marked, deadline, now),
                ReminderTarget::Resolution => self.resolution_notification(&marked, deadline, now),
            };
            // The reminder's mark and its notification are written together below.
            let added = self
                .outbox
                .add(&mut marked, Some(&offset.to_string()), notification, now);
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
            let sent = match &added {
                Some(id) => self.outbox.send_enqueued(&marked, id).await,
                // Written before (a fresh offset never is): the relay has it.
                None => Ok(Default::default()),
            };
            match sent {
                Ok(r) if r.failed == 0 && r.gave_up == 0 => {
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
                outcome => {
                    let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
                    warn!(workflow_id = %marked.id, about = target.as_str(), %error,
                        "reminder not sent on every channel; kept in the outbox for the relay");
                    report.failed += 1;
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
