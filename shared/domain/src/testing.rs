//! Test doubles of the ports, shared by the function crates' tests (feature `test-support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use crate::error::HandlerError;
use crate::model::{TaskToken, WorkflowStatus};
use crate::ports::{
    Clock, ExecutionResumer, MetricsSink, Notification, Notifier, ResumeError, TaskFate,
};
use crate::rules::Rejection;

/// A clock that stands still until moved.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl Default for FixedClock {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap(),
        )))
    }
}

impl FixedClock {
    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Records notifications; can be told to fail.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    /// What was published.
    pub sent: Mutex<Vec<Notification>>,
    /// When set, `publish` fails with `NotificationFailed`.
    pub fail: Mutex<bool>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn publish(&self, notification: &Notification) -> Result<(), HandlerError> {
        if *self.fail.lock().unwrap() {
            return Err(HandlerError::NotificationFailed("injected".into()));
        }
        self.sent.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

/// Records resumptions; answers with queued results (default `Ok`). Its "history" is what it
/// accepted: `task_fate` answers `Delivered` for a feedback key it delivered, else the
/// scripted fate (default `Unknown`).
#[derive(Debug, Default)]
pub struct RecordingResumer {
    /// (token, output) pairs delivered.
    pub delivered: Mutex<Vec<(String, Value)>>,
    /// Results to return, front first.
    pub script: Mutex<Vec<Result<(), ResumeError>>>,
    /// What `task_fate` answers for a key it never delivered.
    pub fate: Mutex<Option<TaskFate>>,
}

#[async_trait]
impl ExecutionResumer for RecordingResumer {
    async fn resume(&self, token: &TaskToken, output: &Value) -> Result<(), ResumeError> {
        let next = {
            let mut script = self.script.lock().unwrap();
            if script.is_empty() {
                Ok(())
            } else {
                script.remove(0)
            }
        };
        if next.is_ok() {
            self.delivered
                .lock()
                .unwrap()
                .push((token.expose().to_owned(), output.clone()));
        }
        next
    }

    async fn task_fate(
        &self,
        _execution_arn: &str,
        feedback_key: &str,
    ) -> Result<TaskFate, ResumeError> {
        let delivered = self
            .delivered
            .lock()
            .unwrap()
            .iter()
            .any(|(_, output)| output["feedback_key"] == feedback_key);
        Ok(if delivered {
            TaskFate::Delivered
        } else {
            self.fate.lock().unwrap().unwrap_or(TaskFate::Unknown)
        })
    }
}

/// Keeps every metric record it is given, in order.
#[derive(Debug, Default)]
pub struct RecordingMetrics {
    /// The records received.
    pub records: Mutex<Vec<Value>>,
}

impl RecordingMetrics {
    /// The metric name of each record (the first entry of its EMF directive), in order.
    pub fn names(&self) -> Vec<String> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

impl MetricsSink for RecordingMetrics {
    fn record(&self, record: &Value) {
        self.records.lock().unwrap().push(record.clone());
    }
}

/// One value of every [`Rejection`] variant, for tests that check the names against a list.
/// The `match` has no wildcard, so a new variant does not compile until it is added here.
pub fn one_rejection_of_each_kind() -> Vec<Rejection> {
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap();
    let all = vec![
        Rejection::StaleIteration {
            submitted: 1,
            current: 2,
        },
        Rejection::UnknownIteration {
            submitted: 3,
            current: 2,
        },
        Rejection::AlreadyDecided {
            iteration: 1,
            decision: "approve",
            reviewer: "rita".into(),
        },
        Rejection::NotAwaitingReview {
            status: WorkflowStatus::Generating,
        },
        Rejection::WorkflowFinished {
            status: WorkflowStatus::Approved,
        },
        Rejection::ReviewTimedOut {
            iteration: 1,
            deadline: at,
        },
        Rejection::NotEscalated {
            status: WorkflowStatus::Approved,
        },
        Rejection::AlreadyResolved {
            decision: "abandon",
            by: "lead".into(),
        },
        Rejection::EscalationExpired { deadline: at },
        Rejection::TooManyIterations {
            requested: 9,
            total: 20,
            max: 10,
        },
        Rejection::NoDraftToReview { iteration: 2 },
        Rejection::ClaimedByOther {
            iteration: 1,
            holder: "ana".into(),
            until: at,
        },
        Rejection::AlreadyApproved {
            iteration: 1,
            reviewer: "ana".into(),
        },
        Rejection::EditNeedsSingleApproval { required: 2 },
    ];
    for rejection in &all {
        match rejection {
            Rejection::StaleIteration { .. }
            | Rejection::UnknownIteration { .. }
            | Rejection::AlreadyDecided { .. }
            | Rejection::NotAwaitingReview { .. }
            | Rejection::WorkflowFinished { .. }
            | Rejection::ReviewTimedOut { .. }
            | Rejection::NotEscalated { .. }
            | Rejection::AlreadyResolved { .. }
            | Rejection::EscalationExpired { .. }
            | Rejection::TooManyIterations { .. }
            | Rejection::NoDraftToReview { .. }
            | Rejection::ClaimedByOther { .. }
            | Rejection::AlreadyApproved { .. }
            | Rejection::EditNeedsSingleApproval { .. } => {}
        }
    }
    all
}
