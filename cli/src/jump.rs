//! Moving the local virtual clock forward (`hitl advance-time`) as a discrete-event
//! simulation: the clock stops at every instant something is due on the way — the next engine
//! timer (a review or escalation timeout, a Wait state, a retry's back-off) and the next review
//! or resolution reminder — so each fires at its own virtual time and in order, and what it
//! causes (an escalation, a new review request and its reminders) is due from then on.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use hitl_domain::reminders::SentReminder;
use serde_json::Value;

use crate::local::Runtime;

/// What one jump of the clock did.
#[derive(Debug, Default)]
pub struct ClockJump {
    /// The clock after the jump.
    pub now: Option<DateTime<Utc>>,
    /// Instants the clock stopped at on the way (the end of the jump included).
    pub stops: usize,
    /// Reminders sent, in the order sent (each at its own instant).
    pub reminders: Vec<SentReminder>,
    /// The notification log entries written during the jump, in the order written: review
    /// requests, reminders, escalations, finished workflows (each with its virtual `at`).
    pub notifications: Vec<Value>,
    /// What the engine ran at each stop (`Debug` of its reports).
    pub engine_reports: Vec<String>,
}

/// What is due next after `after` and when: an engine timer or a reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// A parked execution's timer.
    Timer(DateTime<Utc>),
    /// A review or resolution reminder.
    Reminder(DateTime<Utc>),
}

impl Due {
    /// When it is due.
    pub fn at(self) -> DateTime<Utc> {
        match self {
            Self::Timer(at) | Self::Reminder(at) => at,
        }
    }
}

/// The earliest engine timer or reminder due after `after` (`None`: nothing waits for time).
///
/// An engine timer's instant is kept in whole milliseconds (rounded down) while the deadline
/// it stands for may lie up to a millisecond later, so the stop is one millisecond after it:
/// at the stored instant itself the timer might not have expired yet.
pub async fn next_due(runtime: &Runtime, after: DateTime<Utc>) -> Result<Option<Due>> {
    let millisecond = Duration::milliseconds(1);
    let timer = runtime
        .engine
        .next_timer_after(after - millisecond)?
        .map(|at| Due::Timer(at + millisecond));
    let reminder = runtime.next_reminder_after(after).await?.map(Due::Reminder);
    Ok([timer, reminder]
        .into_iter()
        .flatten()
        .filter(|due| due.at() > after)
        .min_by_key(|due| due.at()))
}

/// Moves the clock forward by `by`, stopping at every instant something is due on the way.
///
/// At each stop the engine runs what became due, queued resumptions are delivered and the
/// reminders due are sent; then the next instant is looked up afresh, since what fired may
/// have set new timers or deadlines. An instant that passed (on the wall clock under the
/// virtual one) while a stop was being handled is handled at once rather than skipped, and
/// no instant is handled twice, so the jump always ends.
pub async fn advance_clock(runtime: &Runtime, by: Duration) -> Result<ClockJump> {
    let log_start = log_len(&runtime.notifications);
    let target = runtime.clock.now() + by;
    let mut jump = ClockJump::default();
    // Everything already due (runnable executions, passed timers and reminders) fires first.
    let mut handled_until = runtime.clock.now();
    step(runtime, Duration::zero(), &mut jump).await?;
    loop {
        let now = runtime.clock.now();
        let stop = match next_due(runtime, handled_until).await? {
            Some(due) if due.at() <= target => due.at(),
            _ if now < target => target,
            _ => break,
        };
        let lead = ceil_millis(stop - now).max(Duration::zero());
        handled_until = now + lead;
        step(runtime, lead, &mut jump).await?;
        if handled_until >= target && stop >= target {
            break;
        }
    }
    jump.now = Some(runtime.clock.now());
    jump.notifications = log_since(&runtime.notifications, log_start);
    Ok(jump)
}

/// One stop: the clock moves by `lead`, the engine runs what is due, resumptions are
/// delivered, due reminders are sent.
async fn step(runtime: &Runtime, lead: Duration, jump: &mut ClockJump) -> Result<()> {
    let report = runtime.engine.advance_time(lead).await?;
    jump.engine_reports.push(format!("{report:?}"));
    jump.stops += 1;
    runtime.settle().await?;
    jump.reminders
        .extend(runtime.send_reminders(None).await?.sent);
    Ok(())
}

/// `d` rounded up to whole milliseconds (the clock moves in milliseconds; rounding down would
/// stop just short of the instant).
fn ceil_millis(d: Duration) -> Duration {
    let ms = d.num_milliseconds();
    let whole = Duration::milliseconds(ms);
    if d > whole {
        Duration::milliseconds(ms + 1)
    } else {
        whole
    }
}

fn log_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The notification log's entries appended after byte `start` (unreadable lines skipped).
fn log_since(path: &Path, start: u64) -> Vec<Value> {
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|mut file| {
        file.seek(SeekFrom::Start(start))?;
        file.read_to_string(&mut text)
    });
    if read.is_err() {
        return Vec::new();
    }
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_are_rounded_up_to_the_millisecond() {
        assert_eq!(
            ceil_millis(Duration::microseconds(1500)),
            Duration::milliseconds(2)
        );
        assert_eq!(
            ceil_millis(Duration::milliseconds(7)),
            Duration::milliseconds(7)
        );
        assert_eq!(ceil_millis(Duration::zero()), Duration::zero());
    }
}
