//! Ports over in-process fakes, for the tests of every front door and function
//! (feature `test-support`): the in-memory store, a clock that stands still, and recording
//! resumer, notifiers and metrics sink, with handles on each fake to assert on.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use hitl_domain::feedback::FeedbackRequest;
use hitl_domain::model::{FeedbackEntry, Workflow};
use hitl_domain::testing::{
    FixedClock, MemoryStore, RecordingMetrics, RecordingNotifier, RecordingResumer,
};

use crate::Ports;

/// [`Ports`] wired to fakes, and the fakes.
pub struct Fakes {
    /// The ports, every one wired to the fakes below (the store is a [`MemoryStore`]).
    pub ports: Ports,
    /// The clock.
    pub clock: Arc<FixedClock>,
    /// What the execution resumer was asked to deliver.
    pub resumer: Arc<RecordingResumer>,
    /// What reviewers were sent.
    pub review_notifier: Arc<RecordingNotifier>,
    /// What the escalation group was sent.
    pub escalation_notifier: Arc<RecordingNotifier>,
    /// The business metrics recorded.
    pub metrics: Arc<RecordingMetrics>,
}

impl Default for Fakes {
    fn default() -> Self {
        let clock = Arc::new(FixedClock::default());
        let resumer = Arc::new(RecordingResumer::default());
        let review_notifier = Arc::new(RecordingNotifier::default());
        let escalation_notifier = Arc::new(RecordingNotifier::default());
        let metrics = Arc::new(RecordingMetrics::default());
        let ports = Ports::new(Arc::new(MemoryStore::default()), clock.clone())
            .with_resumer(resumer.clone())
            .with_review_notifier(review_notifier.clone())
            .with_escalation_notifier(escalation_notifier.clone())
            .with_metrics(metrics.clone());
        Self {
            ports,
            clock,
            resumer,
            review_notifier,
            escalation_notifier,
            metrics,
        }
    }
}

impl Fakes {
    /// Stores `workflow` as a new record.
    pub async fn holding(self, workflow: &Workflow) -> Self {
        self.ports
            .store
            .create_workflow(workflow)
            .await
            .expect("a fresh in-memory store takes the workflow");
        self
    }

    /// The stored record of workflow `id`.
    pub async fn workflow(&self, id: &str) -> Workflow {
        self.ports
            .store
            .get_workflow(id)
            .await
            .expect("the in-memory store answers")
            .expect("the workflow exists")
    }

    /// The audit trail of workflow `id`.
    pub async fn trail(&self, id: &str) -> Vec<FeedbackEntry> {
        self.ports
            .store
            .list_feedback(id)
            .await
            .expect("the in-memory store answers")
    }
}

/// An approval of `iteration`, nothing else.
pub fn approval(iteration: i64) -> FeedbackRequest {
    FeedbackRequest {
        iteration: Some(iteration),
        decision: Some("approve".into()),
        comments: None,
        corrections: vec![],
    }
}
