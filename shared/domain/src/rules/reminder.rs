//! Reminders before a review or an escalation runs out.

use chrono::{DateTime, Duration, Utc};

use super::transition::*;
use crate::model::{Workflow, WorkflowStatus};

/// What a reminder is about: the review in progress, or the escalation waiting for a
/// resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderTarget {
    /// The reviewer group's review of the current draft.
    Review,
    /// The escalation group's resolution.
    Resolution,
}

impl ReminderTarget {
    /// `review` or `resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Resolution => "resolution",
        }
    }
}

/// The wait a reminder is for: its target, deadline, SLA and the offsets already passed.
pub(super) fn reminded_wait(
    workflow: &Workflow,
) -> Option<(ReminderTarget, DateTime<Utc>, u64, &[u64])> {
    match (
        &workflow.status,
        &workflow.pending_review,
        &workflow.escalation,
    ) {
        (WorkflowStatus::AwaitingReview, Some(p), _) if p.iteration == workflow.iteration => {
            Some((
                ReminderTarget::Review,
                p.deadline,
                workflow.config.review_timeout_seconds,
                &p.reminders_passed,
            ))
        }
        (WorkflowStatus::Escalated, _, Some(e)) => e.awaiting.as_ref().map(|a| {
            (
                ReminderTarget::Resolution,
                a.deadline,
                workflow.config.escalation_timeout_seconds,
                a.reminders_passed.as_slice(),
            )
        }),
        _ => None,
    }
}

/// The configured offsets that fire at all for a wait of `sla` seconds (a longer one would be
/// due before the wait began), largest first.
pub(super) fn reminder_offsets(workflow: &Workflow, sla: u64) -> Vec<u64> {
    let mut offsets: Vec<u64> = workflow
        .config
        .reminders
        .iter()
        .copied()
        .filter(|o| *o > 0 && *o < sla)
        .collect();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    offsets
}

pub(super) fn reminder_time(deadline: DateTime<Utc>, offset: u64) -> DateTime<Utc> {
    deadline - Duration::seconds(i64::try_from(offset).unwrap_or(i64::MAX / 2))
}

pub(super) fn with_reminders(next: &mut Workflow, change: impl FnOnce(&mut Vec<u64>, &mut u32)) {
    match next.status {
        WorkflowStatus::AwaitingReview => {
            if let Some(p) = next.pending_review.as_mut() {
                change(&mut p.reminders_passed, &mut p.reminders_sent);
            }
        }
        _ => {
            if let Some(a) = next.escalation.as_mut().and_then(|e| e.awaiting.as_mut()) {
                change(&mut a.reminders_passed, &mut a.reminders_sent);
            }
        }
    }
}

/// The reminder to send at `now`, and the record with it marked: for the review in progress
/// (to the reviewer group) or the escalation waiting for a resolution (to the escalation
/// group), the most urgent of the workflow's `reminders` offsets whose time has come and that
/// have not passed yet. The others due at the same time are marked passed too, so after an
/// outage people get one reminder, not a burst. `None` when nothing is due or the deadline has
/// passed.
pub fn mark_reminder(
    workflow: &Workflow,
    now: DateTime<Utc>,
) -> Option<(Workflow, u64, ReminderTarget)> {
    let (target, deadline, sla, passed) = reminded_wait(workflow)?;
    if now >= deadline {
        return None;
    }
    let due: Vec<u64> = reminder_offsets(workflow, sla)
        .into_iter()
        .filter(|o| !passed.contains(o))
        .filter(|o| reminder_time(deadline, *o) <= now)
        .collect();
    let send = *due.iter().min()?;
    let mut next = bumped(workflow, now);
    with_reminders(&mut next, |passed, sent| {
        passed.extend(due);
        *sent += 1;
    });
    Some((next, send, target))
}

/// The deadline of the wait (review or resolution) a reminder is for.
pub fn reminder_deadline(workflow: &Workflow) -> Option<DateTime<Utc>> {
    reminded_wait(workflow).map(|(_, deadline, _, _)| deadline)
}

/// When the next reminder of the workflow's open wait (review or resolution) is due; the local
/// engine advances its virtual clock through these instants so every reminder fires in order.
pub fn next_reminder_at(workflow: &Workflow) -> Option<DateTime<Utc>> {
    let (_, deadline, sla, passed) = reminded_wait(workflow)?;
    reminder_offsets(workflow, sla)
        .into_iter()
        .filter(|o| !passed.contains(o))
        .map(|o| reminder_time(deadline, o))
        .filter(|at| *at < deadline)
        .min()
}
